#!/usr/bin/env bash
# install_check.sh BUILD: `cmake --install` puts every file where a
# Debian package (DESTDIR, prefix /usr) and a local install (--prefix DIR)
# expect it, the units run the installed programs, the installed programs
# run, and `systemd-analyze verify` (when installed) finds nothing wrong
# with the units.
set -euo pipefail
build=$1
tmp=$(mktemp -d /tmp/orch-install-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail=0
die() {
	echo "FAIL: $*" >&2
	fail=1
}

DESTDIR=$tmp/dest cmake --install "$build" --prefix /usr >"$tmp/log"
for f in usr/bin/orch-manager usr/bin/orch-agent usr/bin/orchctl \
	usr/share/man/man1/orchctl.1 usr/share/man/man8/orch-manager.8 \
	usr/share/man/man8/orch-agent.8 \
	usr/share/bash-completion/completions/orchctl \
	usr/lib/systemd/system/orch-manager.service \
	usr/lib/systemd/system/orch-agent.service \
	usr/share/doc/orch/examples/orch-manager.default \
	usr/share/doc/orch/examples/orch-agent.default; do
	[ -f "$tmp/dest/$f" ] || die "cmake --install did not install /$f"
done
for p in orch-manager orch-agent orchctl; do
	[ -x "$tmp/dest/usr/bin/$p" ] || die "/usr/bin/$p is not executable"
done
grep -qx 'ExecStart=/usr/bin/orch-manager --data /var/lib/orch $ORCH_MANAGER_OPTS' \
	"$tmp/dest/usr/lib/systemd/system/orch-manager.service" ||
	die "orch-manager.service does not run /usr/bin/orch-manager"
grep -qx 'ExecStart=/usr/bin/orch-agent --state-dir /var/lib/orch-agent $ORCH_AGENT_OPTS' \
	"$tmp/dest/usr/lib/systemd/system/orch-agent.service" ||
	die "orch-agent.service does not run /usr/bin/orch-agent"
# Nothing else: no test or benchmark program.
extra=$(cd "$tmp/dest/usr/bin" && ls | grep -vxE 'orch-manager|orch-agent|orchctl' || true)
[ -z "$extra" ] || die "cmake --install also installed: $extra"

# Another prefix: the units follow it, and the programs run from there.
cmake --install "$build" --prefix "$tmp/local" >"$tmp/log"
grep -q "^ExecStart=$tmp/local/bin/orch-manager " \
	"$tmp/local/lib/systemd/system/orch-manager.service" ||
	die "with --prefix, orch-manager.service does not follow the prefix"
for p in orch-manager orch-agent orchctl; do
	v=$("$tmp/local/bin/$p" --version) || die "$p --version failed"
	[[ $v == "$p "[0-9]* ]] || die "$p --version: '$v'"
done

if command -v systemd-analyze >/dev/null; then
	out=$(systemd-analyze verify --man=no \
		"$tmp/local/lib/systemd/system/orch-manager.service" \
		"$tmp/local/lib/systemd/system/orch-agent.service" 2>&1) ||
		die "systemd-analyze verify failed: $out"
	[ -z "$out" ] || die "systemd-analyze verify warns: $out"
else
	echo "systemd-analyze is not installed: the units are not verified"
fi

[ "$fail" = 0 ] || exit 1
echo "install_check: every file installed, the units verified"
