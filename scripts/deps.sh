#!/usr/bin/env bash
# Installs the Debian 12 packages orch needs, only those missing.
#   scripts/deps.sh [build] [test] [bench] [fuzz] [valgrind]   (default: build)
set -euo pipefail

groups=("$@")
[ ${#groups[@]} -gt 0 ] || groups=(build)

pkgs=()
for g in "${groups[@]}"; do
	case "$g" in
	build) pkgs+=(gcc make cmake pkg-config libnng-dev libprotobuf-c-dev
		protobuf-c-compiler libsqlite3-dev libcurl4-openssl-dev
		libjansson-dev uuid-dev libmbedtls-dev) ;;
	# sqlite3: the shell, to look into a test's store by hand; curl:
	# tests/e2e_https.c's client; e2fsprogs: tests/e2e_disk.c's mkfs.ext4
	# for the read-only disk; groff-base and systemd: tests/docs_check.sh
	# renders the man pages, tests/install_check.sh verifies the units
	# (these three skip the part whose tool is missing).
	test) pkgs+=(sqlite3 curl e2fsprogs groff-base systemd) ;;
	bench) pkgs+=(wrk nginx-light curl jq iproute2) ;;
	fuzz) pkgs+=(clang libclang-rt-14-dev) ;;
	valgrind) pkgs+=(valgrind) ;;
	*) echo "deps.sh: unknown group '$g' (build, test, bench, fuzz, valgrind)" >&2; exit 2 ;;
	esac
done

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
else
	SUDO=
fi
echo "Installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
