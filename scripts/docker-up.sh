#!/usr/bin/env bash
# Makes sure a Docker daemon answers on /var/run/docker.sock and that the
# test image orch-test/busybox:latest exists; does only what is missing, so
# running it again is harmless.
#
# No registry is reachable on the test machines, so the image is built
# locally from Debian's static busybox (one binary plus symlinks) and
# imported; nothing is ever pulled.
#   scripts/docker-up.sh
# ORCH_DOCKER_WAIT (seconds, default 60) bounds the wait for dockerd;
# ORCH_TEST_IMAGE names another image to make (for testing this script).
set -euo pipefail

IMAGE=${ORCH_TEST_IMAGE:-orch-test/busybox:latest}
LOG=/var/log/orch-dockerd.log
WAIT_S=${ORCH_DOCKER_WAIT:-60}
TOOLS=(sh sleep echo cat env true false ls httpd nc wget)

if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
else
	SUDO=
fi

# ---- packages ----
installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}
missing=()
if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
	missing+=(docker.io)
fi
# The image has no libc: only the static build runs in it.
installed busybox-static || missing+=(busybox-static)
if [ ${#missing[@]} -gt 0 ]; then
	echo "docker-up: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -qq
	$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# ---- the daemon ----
daemon_up() {
	$SUDO docker info >/dev/null 2>&1
}
# A dockerd that is still starting (or started by a parallel run of this
# script) owns its pid file: wait for it rather than start a second one.
dockerd_alive() {
	local pid
	pid=$(cat /var/run/docker.pid 2>/dev/null || true)
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}
if ! daemon_up; then
	if ! dockerd_alive; then
		echo "docker-up: starting dockerd (log: $LOG)"
		$SUDO sh -c "setsid dockerd >'$LOG' 2>&1 </dev/null &"
	fi
	for ((i = 0; i < WAIT_S; i++)); do
		daemon_up && break
		sleep 1
	done
	if ! daemon_up; then
		echo "docker-up: dockerd did not answer within ${WAIT_S}s; the end of $LOG:" >&2
		$SUDO tail -n 20 "$LOG" >&2 || true
		exit 1
	fi
fi

# ---- the image ----
if ! $SUDO docker image inspect "$IMAGE" >/dev/null 2>&1; then
	echo "docker-up: building $IMAGE from /bin/busybox"
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	mkdir -p "$tmp/bin" "$tmp/tmp"
	cp /bin/busybox "$tmp/bin/busybox"
	for t in "${TOOLS[@]}"; do
		ln -s busybox "$tmp/bin/$t"
	done
	# A CMD, so that a task without a command runs something.
	tar -C "$tmp" -c . | $SUDO docker import --change 'CMD ["sh"]' - "$IMAGE" >/dev/null
fi
echo "docker-up: dockerd answers; $IMAGE is present"
