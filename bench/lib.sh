# bench/lib.sh: what the benchmark scripts share (sourced, never run).
# Conventions: every script cds to the repository's root, keeps its
# scratch files in $work (bench_workdir), writes docs/benchmarks-NAME.json
# and the section <!-- NAME:begin --> ... <!-- NAME:end --> of
# docs/benchmarks.md (bench_section), and stops only the processes it
# started, by pid.

IMAGE=${IMAGE:-orch-test/busybox:latest}
DOCKER_SOCK=${DOCKER_SOCK:-/var/run/docker.sock}
DAPI=http://docker/v1.41

bench_die() { echo "bench: $*" >&2; exit 1; }

# A free TCP port on 127.0.0.1 (python3 when present, else a random one).
bench_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
		shuf -i 20000-60000 -n 1
}

bench_now_us() { echo "${EPOCHREALTIME/./}"; }
# bench_ms A B: B - A in milliseconds (A, B from bench_now_us).
bench_ms() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f", (b - a) / 1000}'; }

# bench_workdir PREFIX: makes $work, and a FIFO nobody writes, so that
# bench_nap sleeps without starting a process (a poll loop's sleep would
# otherwise cost a fork on the cores being measured).
bench_workdir() {
	work=$(mktemp -d "/tmp/$1-XXXXXX")
	mkfifo "$work/.never"
	exec {BENCH_NEVER}<>"$work/.never"
}
bench_nap() { read -r -t "$1" -u "$BENCH_NEVER" _ || true; }

# Median of the numbers on stdin ("null" lines skipped); null when none.
# (awk, not grep -v: grep fails on no line, and pipefail with it.)
bench_median() {
	awk '$0 != "null"' | sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "null"; else if (NR % 2) print a[(NR+1)/2];
		else printf "%.1f\n", (a[NR/2] + a[NR/2+1]) / 2}'
}
# bench_calc EXPR A B: awk's EXPR over a and b; null when either is null.
bench_calc() { awk -v a="$2" -v b="$3" "BEGIN {if (a == \"null\" || b == \"null\" || a == \"\" || b == \"\") print \"null\"; else $1}"; }

bench_machine() {
	local cpu
	cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
	echo "$(nproc) x $cpu, $(free -g | awk '/Mem:/ {print $2}') GiB"
}
bench_date() { date -u +%Y-%m-%dT%H:%M:%SZ; }
# The commit measured, "-dirty" when files other than docs/ (which the
# benchmarks themselves rewrite) differ from it.
bench_revision() {
	local rev
	rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
	git diff --quiet HEAD -- . ':(exclude)docs' 2>/dev/null || rev="$rev-dirty"
	echo "$rev"
}
bench_docker_desc() {
	echo "$(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?')" \
		"($(docker info --format '{{.Driver}}, cgroup v{{.CgroupVersion}}' 2>/dev/null || echo '?'))"
}
bench_load() { cut -d' ' -f1-3 /proc/loadavg; }

# bench_section NAME TEXT: TEXT (which starts with <!-- NAME:begin --> and
# ends with <!-- NAME:end -->) replaces that section of docs/benchmarks.md,
# or is appended when the file has none.
bench_section() {
	local f=docs/benchmarks.md tmp
	mkdir -p docs
	if [ -f "$f" ] && grep -q "<!-- $1:begin -->" "$f"; then
		tmp=$(mktemp docs/.benchmarks.XXXXXX)
		# The text goes through the environment: awk -v would expand
		# its backslashes.
		BENCH_S=$2 awk -v b="<!-- $1:begin -->" -v e="<!-- $1:end -->" \
			'$0 == b {print ENVIRON["BENCH_S"]; skip=1; next} $0 == e {skip=0; next} !skip {print}' "$f" >"$tmp"
		mv "$tmp" "$f"
	else
		[ -f "$f" ] || printf '# Benchmarks\n\nEvery figure here comes from a script under `bench/`, run on the machine named beside it, with its baseline measured in the same run.\n' >"$f"
		printf '\n%s\n' "$2" >>"$f"
	fi
}

# bench_build TARGET...: a Release build of TARGETs in build-bench; sets
# BENCH_BIN and BENCH_MEASURED.  ORCH_BENCH_BIN=DIR uses the binaries in
# DIR instead (a Release build of another tree).
bench_build() {
	if [ -n "${ORCH_BENCH_BIN:-}" ]; then
		BENCH_BIN=$ORCH_BENCH_BIN
		BENCH_MEASURED="the binaries in $BENCH_BIN"
		return
	fi
	cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build build-bench -j"$(nproc)" --target "$@" >/dev/null
	BENCH_BIN=build-bench/bin
	BENCH_MEASURED="this tree at $(bench_revision)"
}

# bench_manager_start DATA_DIR LOG [FLAG...]: an orch-manager on free
# loopback ports; sets MGR_PID, MGR_HTTP (host:port), MGR_RPC, MGR_PUB and
# waits (bounded) until it answers.
bench_manager_start() {
	local data=$1 log=$2 i
	shift 2
	MGR_HTTP=127.0.0.1:$(bench_free_port)
	MGR_RPC=tcp://127.0.0.1:$(bench_free_port)
	MGR_PUB=tcp://127.0.0.1:$(bench_free_port)
	"$BENCH_BIN/orch-manager" --data "$data" --http "$MGR_HTTP" --rpc "$MGR_RPC" --pub "$MGR_PUB" "$@" 2>"$log" &
	MGR_PID=$!
	for i in $(seq 1 100); do
		curl -fsS "http://$MGR_HTTP/healthz" >/dev/null 2>&1 && return 0
		kill -0 "$MGR_PID" 2>/dev/null || break
		sleep 0.1
	done
	bench_die "orch-manager did not answer: $(tail -5 "$log")"
}

# bench_agent_start NAME LOG [FLAG...]: an orch-agent of the manager
# started above, node NAME; sets AGENT_PID and waits (bounded) until the
# node is Ready.
bench_agent_start() {
	local name=$1 log=$2 i
	shift 2
	"$BENCH_BIN/orch-agent" --manager "$MGR_RPC" --events "$MGR_PUB" --name "$name" "$@" 2>"$log" &
	AGENT_PID=$!
	for i in $(seq 1 150); do
		curl -fsS "http://$MGR_HTTP/nodes/$name" 2>/dev/null | grep -q '"status":"Ready"' && return 0
		kill -0 "$AGENT_PID" 2>/dev/null || break
		sleep 0.1
	done
	bench_die "agent $name did not join: $(tail -5 "$log")"
}

# bench_stop PID: SIGTERM to a process this script started, and its end.
bench_stop() {
	[ -n "$1" ] || return 0
	kill "$1" 2>/dev/null && wait "$1" 2>/dev/null
	return 0
}

# bench_dapi [CURL ARG...]: a call to the Docker Engine API; the last
# argument is the path (e.g. /containers/json).
bench_dapi() {
	local path=${*: -1}
	curl -fsS --unix-socket "$DOCKER_SOCK" "${@:1:$#-1}" "$DAPI$path"
}
# bench_ctr_count FILTERS_JSON [all]: how many containers match (running
# ones only, unless "all").  Over the Engine API: cheaper than the CLI, so
# that a poll slows less what it watches.
bench_ctr_count() {
	local out t
	out=$(bench_dapi -G --data-urlencode "all=${2:+1}" --data-urlencode "filters=$1" /containers/json) ||
		bench_die "cannot list containers"
	t=${out//\"Id\":/}
	echo $(((${#out} - ${#t}) / 5))
}

# bench_until SECONDS INTERVAL CMD...: runs CMD every INTERVAL seconds
# until it succeeds (0) or SECONDS have passed (1).
bench_until() {
	local end=$(($(bench_now_us) + $1 * 1000000)) iv=$2
	shift 2
	until "$@"; do
		[ "$(bench_now_us)" -lt "$end" ] || return 1
		bench_nap "$iv"
	done
}

# bench_rss_kb PID [VmRSS|VmHWM]: resident memory of PID in kB.
bench_rss_kb() { awk -v k="${2:-VmRSS}:" '$1 == k {print $2}' "/proc/$1/status" 2>/dev/null || echo null; }
bench_kb_mb() { bench_calc 'printf "%.1f", a / 1024' "$1" 0; }

# ---- Docker Swarm, on the shared daemon, left on every exit ----
# bench_swarm_init ADDR: makes this daemon a one-node swarm advertised and
# listening on ADDR only (127.0.0.1 or an address of the run's own veth).
# Refuses when the daemon is in a swarm already: leaving it would break
# someone else's.
BENCH_SWARM=
bench_swarm_init() {
	local state
	state=$(docker info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null)
	[ "$state" = inactive ] || bench_die "the Docker daemon's swarm state is \"$state\", not inactive: not touching it"
	[ -n "${BENCH_GWBRIDGE_BEFORE:-}" ] ||
		BENCH_GWBRIDGE_BEFORE=$(docker network inspect docker_gwbridge >/dev/null 2>&1 && echo yes || echo no)
	BENCH_SWARM=1
	docker swarm init --advertise-addr "$1" --listen-addr "$1:${2:-2377}" >/dev/null ||
		bench_die "docker swarm init --advertise-addr $1 failed"
}
# bench_swarm_leave: leaves the swarm made above (if any) and removes the
# docker_gwbridge network that swarm made if there was none before.
bench_swarm_leave() {
	[ -n "$BENCH_SWARM" ] || return 0
	docker swarm leave --force >/dev/null 2>&1 || true
	BENCH_SWARM=
	if [ "${BENCH_GWBRIDGE_BEFORE:-}" = no ]; then docker network rm docker_gwbridge >/dev/null 2>&1 || true; fi
}
# The local image by its ID.  Swarm's executor tries to pull a tag from
# its registry before every task (and only logs the failure); an image ID
# skips that, so no task waits on (or sends) a registry lookup.
bench_image_id() { docker image inspect -f '{{.Id}}' "$IMAGE"; }
# bench_swarm_running SERVICE_ID: running tasks of the service on Ready
# nodes, as `docker service ls` counts them.
bench_swarm_running() {
	local out
	out=$(bench_dapi -G --data-urlencode status=true --data-urlencode "filters={\"id\":[\"$1\"]}" /services) ||
		bench_die "cannot list swarm services"
	out=${out#*\"RunningTasks\":}
	echo "${out%%[,\}]*}"
}

# ---- the containers every section starts: one image, command, limits, grace ----
# PID 1 ignores a signal it has no handler for: a bare `sleep 600` would
# make every graceful stop wait out the grace, and removal would measure
# the grace.  This command ends at SIGTERM.
BENCH_SH='trap "exit 0" TERM; sleep 600 & wait'
BENCH_MEM_MB=64
BENCH_CPU=0.05
BENCH_GRACE_S=10 # Docker's default stop timeout, orch-agent's default --stop-timeout

# bench_orch_service NAME N: the body of a POST /services of N replicas.
bench_orch_service() {
	jq -cn --arg n "$1" --arg i "$IMAGE" --argjson rep "$2" --argjson m "$BENCH_MEM_MB" \
		--argjson c "$BENCH_CPU" --arg sh "$BENCH_SH" \
		'{name: $n, image: $i, replicas: $rep, memory: $m, cpu: $c, command: ["sh", "-c", $sh]}'
}
# bench_swarm_service NAME N [FLAG...]: `docker service create` of N
# replicas (the image by its ID: see bench_image_id); prints the ID.
bench_swarm_service() {
	local name=$1 n=$2
	shift 2
	docker service create --detach --no-resolve-image --name "$name" --replicas "$n" \
		--limit-memory "${BENCH_MEM_MB}M" --limit-cpu "$BENCH_CPU" --stop-grace-period "${BENCH_GRACE_S}s" \
		"$@" "$(bench_image_id)" sh -c "$BENCH_SH" || bench_die "docker service create $name failed"
}
# bench_rm_labelled LABEL...: removes every container carrying one of the
# LABELs (K=V).
bench_rm_labelled() {
	local l
	for l in "$@"; do docker ps -aq --filter "label=$l" | xargs -r docker rm -f >/dev/null; done
}

# bench_teardown [LABEL...]: what every script does on exit: leaves the
# swarm it made, stops the agent and manager it started (AGENT_PID,
# MGR_PID), removes the containers carrying one of LABELs, copies the logs
# of $work to $ORCH_BENCH_KEEP when that is set, and removes $work.
bench_teardown() {
	set +e
	bench_swarm_leave
	bench_stop "${AGENT_PID:-}"
	bench_stop "${MGR_PID:-}"
	bench_rm_labelled "$@"
	if [ -n "${ORCH_BENCH_KEEP:-}" ] && mkdir -p "$ORCH_BENCH_KEEP"; then
		find "$work" -maxdepth 1 -type f \( -name '*.log' -o -name '*.out' -o -name results \) \
			-exec cp {} "$ORCH_BENCH_KEEP"/ \;
	fi
	rm -rf "$work"
}
