#!/usr/bin/env bash
# The scheduler at scale without containers (issue 4): one orch-manager
# (Release, durable commits: synchronous=FULL, the default) and
# orch-simcluster, which plays NODES agents over the protobuf protocol
# (RegisterNode, Heartbeat about once a second, every assigned task
# reported Running at once).  Two runs, each with a fresh manager:
#   tasks     TASKS tasks submitted one by one with concurrent, pipelined
#             POST /tasks: placement follows the durable submission rate;
#   services  SERVICES services sharing TASKS replicas, created with one
#             POST /services each (Nomad's C1M shape: a few jobs of many
#             tasks): the manager creates and places every task itself,
#             so this measures the scheduler.
# Measures placements per second, Running per second, the submission
# rate, the manager's memory, and samples where the manager's time goes
# (perf, when it works).  Writes docs/benchmarks-simcluster.json and the
# simcluster section of docs/benchmarks.md.  Only loopback traffic.
#   bench/simcluster.sh [NODES] [TASKS]      (default 1000 100000)
#   bench/simcluster.sh --quick              (100 nodes, 10000 tasks)
# Environment: TTL (the manager's --heartbeat-ttl, default 5, its own
# default), SERVICES (default 10), PERF=0 to skip perf, TIMEOUT (s, per
# run, default 600).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--quick" ]; then NODES=100; TASKS=10000; else
	NODES=${1:-1000}; TASKS=${2:-100000}; fi
TTL=${TTL:-5}
SERVICES=${SERVICES:-10}
PERF=${PERF:-1}
TIMEOUT=${TIMEOUT:-600}

cmake -S . -B build-simcluster -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-simcluster -j"$(nproc)" --target orch-manager orch-simcluster >/dev/null

work=$(mktemp -d /tmp/orch-simcluster-XXXXXX)
mgr_pid=; perf_pid=
cleanup() {
	[ -n "$perf_pid" ] && kill "$perf_pid" 2>/dev/null && wait "$perf_pid" 2>/dev/null
	[ -n "$mgr_pid" ] && kill "$mgr_pid" 2>/dev/null && wait "$mgr_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
	shuf -i 20000-60000 -n 1; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN {printf "%.0f", (b > a) ? n * 1000 / (b - a) : 0}'; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b - a) / 1000}'; }
mb() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
ms_of() { date -u -d "$1" +%s%3N; }

# run NAME [orch-simcluster flags...]: one manager, one simulation; the
# figures go to $work/NAME.env as shell assignments prefixed NAME_.
run() {
	local name=$1; shift
	local dir="$work/$name" http rpc pub sim_rc=0 load0 load1
	mkdir -p "$dir"
	http=$(free_port); rpc=$(free_port); pub=$(free_port)
	build-simcluster/bin/orch-manager --data "$dir/data" --http "127.0.0.1:$http" \
		--rpc "tcp://127.0.0.1:$rpc" --pub "tcp://127.0.0.1:$pub" \
		--heartbeat-ttl "$TTL" 2>"$dir/manager.log" &
	mgr_pid=$!
	for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$http/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
	load0=$(cut -d' ' -f1-3 /proc/loadavg)
	# perf samples the manager for 10 s once the work is under way.
	if [ "$PERF" != 0 ] && command -v perf >/dev/null; then
		( sleep 4; exec perf record -F 499 -g -p "$mgr_pid" -o "$dir/perf.data" -- sleep 10 ) \
			>/dev/null 2>"$dir/perf.err" &
		perf_pid=$!
	fi
	build-simcluster/bin/orch-simcluster --rpc "tcp://127.0.0.1:$rpc" --http "127.0.0.1:$http" \
		--nodes "$NODES" --tasks "$TASKS" --manager-pid "$mgr_pid" --timeout "$TIMEOUT" "$@" \
		>"$dir/sim.out" || sim_rc=$?
	[ -n "$perf_pid" ] && { wait "$perf_pid" 2>/dev/null || true; perf_pid=; }
	load1=$(cut -d' ' -f1-3 /proc/loadavg)
	kill "$mgr_pid"; wait "$mgr_pid" 2>/dev/null || true; mgr_pid=
	[ "$sim_rc" = 0 ] || echo "bench: $name: orch-simcluster failed ($sim_rc); reporting what it measured" >&2

	local v commits placed t0 t_sub t_place t_run perf_top=
	v() { awk -v k="$1" '$1==k {print $2}' "$dir/sim.out"; }
	commits=$(sed -n 's/.*closed after \([0-9]*\) writes ([0-9]* failed) in \([0-9]*\) commits.*/\1 \2/p' "$dir/manager.log" | tail -1)
	grep ' placed on node ' "$dir/manager.log" | cut -d' ' -f1 >"$dir/placed.ts" || true
	placed=$(wc -l <"$dir/placed.ts")
	t0=$(v submit_start_ms); t_sub=$(v submit_end_ms); t_run=$(v last_running_ms)
	t_place=$t0
	[ "$placed" -gt 0 ] && t_place=$(ms_of "$(tail -1 "$dir/placed.ts")")
	if [ -f "$dir/perf.data" ]; then
		perf_top=$(perf report -i "$dir/perf.data" --no-children --sort dso,symbol --percent-limit 2 \
			--stdio 2>/dev/null | grep -E '^ +[0-9.]+%' | head -10 |
			awk '{pct=$1; $1=""; sub(/^ +/, ""); gsub(/\[\.\] |\[k\] /, ""); gsub(/ - -$/, ""); printf "%s %s; ", pct, $0}' || true)
	fi
	{
		echo "${name}_submitted=$(v submitted)"
		echo "${name}_submit_errors=$(v submit_errors)"
		echo "${name}_placed=$placed"
		echo "${name}_running=$(v running)"
		echo "${name}_report_errors=$(v report_errors)"
		echo "${name}_beats=$(v beats)"
		echo "${name}_beat_errors=$(v beat_errors)"
		echo "${name}_lost=$(grep -c ' lost' "$dir/manager.log" || true)"
		echo "${name}_writes=${commits% *}"
		echo "${name}_commits=${commits#* }"
		echo "${name}_submit_s=$(secs "$t0" "$t_sub")"
		echo "${name}_place_s=$(secs "$t0" "$t_place")"
		echo "${name}_run_s=$(secs "$t0" "$t_run")"
		echo "${name}_submit_rate=$(rate "$(v submitted)" "$t0" "$t_sub")"
		echo "${name}_place_rate=$(rate "$placed" "$t0" "$t_place")"
		echo "${name}_run_rate=$(rate "$(v running)" "$t0" "$t_run")"
		echo "${name}_rss_mb=$(mb "$(v manager_rss_kb)")"
		echo "${name}_hwm_mb=$(mb "$(v manager_hwm_kb)")"
		echo "${name}_per_sec='$(cut -c1-19 "$dir/placed.ts" | uniq -c | awk '{printf "%s%d", (NR>1?", ":""), $1}')'"
		echo "${name}_load='$load0 -> $load1'"
		echo "${name}_perf='$(printf '%s' "$perf_top" | tr -d "'")'"
	} >"$work/$name.env"
}

echo "bench: tasks: $NODES nodes, $TASKS tasks over POST /tasks" >&2
run tasks
echo "bench: services: $NODES nodes, $SERVICES services sharing $TASKS replicas" >&2
run services --services "$SERVICES"
# shellcheck disable=SC1090,SC1091
. "$work/tasks.env"; . "$work/services.env"

met() { awk -v a="$1" -v b="$2" -v op="$3" 'BEGIN {print ((op == "ge" ? a >= b : a < b) ? "met" : "NOT met")}'; }
hwm_max=$(awk -v a="$tasks_hwm_mb" -v b="$services_hwm_mb" 'BEGIN {print (a > b ? a : b)}')
place_met=$(met "$services_place_rate" 10000 ge)
rss_met=$(met "$hwm_max" 100 lt)
lag_place=$(awk -v a="$tasks_submit_s" -v b="$tasks_place_s" 'BEGIN {printf "%.2f", b - a}')
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
machine="$(nproc) x $cpu, $(free -g | awk '/Mem:/ {print $2}') GiB"
date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet 2>/dev/null || rev="$rev-dirty"
mkdir -p docs
json_run() {
	local n=$1
	printf '  "%s_run": {' "$n"
	local first=1 k val
	for k in submitted submit_errors placed running report_errors beats beat_errors lost writes commits \
		submit_s place_s run_s submit_rate place_rate run_rate rss_mb hwm_mb; do
		val=$(eval "printf '%s' \"\${${n}_$k}\"")
		[ -n "$val" ] || val=null
		[ $first = 1 ] || printf ', '
		printf '"%s": %s' "$k" "$val"; first=0
	done
	printf ', "placements_each_second": [%s]' "$(eval "printf '%s' \"\${${n}_per_sec}\"")"
	printf ', "load": "%s"' "$(eval "printf '%s' \"\${${n}_load}\"")"
	printf ', "perf_top": "%s"}' "$(eval "printf '%s' \"\${${n}_perf}\"" | sed 's/"/\\"/g')"
}
{
	echo "{"
	echo "  \"date\": \"$date\", \"machine\": \"$machine\", \"revision\": \"$rev\","
	echo "  \"nodes\": $NODES, \"tasks\": $TASKS, \"services\": $SERVICES, \"heartbeat_ttl_s\": $TTL,"
	json_run tasks; echo ","
	json_run services; echo
	echo "}"
} >docs/benchmarks-simcluster.json

section=$(cat <<EOT
<!-- simcluster:begin -->
## The scheduler at scale, simulated nodes (bench/simcluster.sh)

$date, $machine, orch: this tree at $rev. One orch-manager (Release,
synchronous=FULL, \`--heartbeat-ttl $TTL\`) and \`orch-simcluster\` on
the same machine: $NODES simulated nodes (64 cpu, 256 GiB each) speaking
the agent protocol (RegisterNode; Heartbeat about once a second from 4
REQ sockets, saying which assignments they hold; each task first seen
Scheduled is reported Running at once by 8 reporter sockets). Tasks ask
0.01 cpu and 6 MB. Two runs, each with a fresh manager; times are from
the first submission. Raw numbers:
[benchmarks-simcluster.json](benchmarks-simcluster.json).

| run | submitted | placed | Running | placements/s | Running/s | peak RSS |
|---|---|---|---|---|---|---|
| **services**: $SERVICES \`POST /services\` sharing $TASKS replicas; the manager creates and places them | $services_submitted in $services_submit_s s | $services_placed in $services_place_s s | $services_running in $services_run_s s | **$services_place_rate** | $services_run_rate | $services_hwm_mb MB |
| **tasks**: $TASKS \`POST /tasks\`, 32 connections, 8 pipelined each | $tasks_submitted in $tasks_submit_s s ($tasks_submit_rate/s) | $tasks_placed in $tasks_place_s s | $tasks_running in $tasks_run_s s | $tasks_place_rate | $tasks_run_rate | $tasks_hwm_mb MB |

Targets (issue 4), with $NODES nodes and $TASKS tasks: placements
$services_place_rate/s against >= 10000/s: **$place_met** (the services
run: the scheduler's own rate, as Nomad's C1M measured it; in the tasks
run placement follows the durable submission rate, the last placement
$lag_place s after the last submission was answered); manager peak RSS
$hwm_max MB against < 100 MB: **$rss_met**.

Store: services run ${services_writes:-?} writes in ${services_commits:-?}
commits, tasks run ${tasks_writes:-?} writes in ${tasks_commits:-?}
commits. Heartbeats answered (failed): services $services_beats
($services_beat_errors), tasks $tasks_beats ($tasks_beat_errors). Reports
refused: $services_report_errors, $tasks_report_errors. Log lines about
lost nodes: $services_lost, $tasks_lost. Load average (start -> end):
services $services_load, tasks $tasks_load, on $(nproc) cores shared by
the manager and the simulator.

Placements in each second (from the scheduler's log): services
[$services_per_sec]; tasks [$tasks_per_sec].

Where the manager's time went (perf, 10 s from the 4th second, self
time): services: ${services_perf:-not sampled}. tasks: ${tasks_perf:-not sampled}.

How the manager gets there: the scheduler keeps the open tasks and each
node's usage in memory, fed by the store's commit listener
(docs/scheduling.md), so a pass costs what changed, not the cluster's
size; a pass writes up to 8,192 decisions whose writes share group
commits of up to 4,096 writes (each commit rewrites the index pages its
writes touched, and new tasks touch them all over); a service's new
replica is written Scheduled, on its node, by the write that creates it
(one write, not two), unless an older task waits for room, and its node
comes from a heap of the nodes that may take it (log(nodes) a pick); the
reconciler looks at one dirty service at a time, so its views of 100,000
replicas never exist at once; RPC writes (the Running reports) are
answered from their commit, so thousands share an fsync; a heartbeat
from a node that already holds its current assignments is answered
"unchanged" without reading its tasks, one that holds an older version
gets only what changed since (a delta read by id in one read
transaction), and every answer carries the stored task bytes as they
are.
<!-- simcluster:end -->
EOT
)
if [ -f docs/benchmarks.md ] && grep -q '<!-- simcluster:begin -->' docs/benchmarks.md; then
	awk -v s="$section" 'BEGIN {skip=0} /<!-- simcluster:begin -->/ {print s; skip=1; next} /<!-- simcluster:end -->/ {skip=0; next} !skip {print}' \
		docs/benchmarks.md >"$work/b.md" && cp "$work/b.md" docs/benchmarks.md
else
	[ -f docs/benchmarks.md ] || printf '# Benchmarks\n\nEvery figure here comes from a script under `bench/`, run on the machine named beside it, with its baseline measured in the same run.\n\n' >docs/benchmarks.md
	printf '\n%s\n' "$section" >>docs/benchmarks.md
fi
echo "wrote docs/benchmarks.md and docs/benchmarks-simcluster.json" >&2
echo "services: placements/s $services_place_rate ($place_met), Running/s $services_run_rate; tasks: placements/s $tasks_place_rate, submissions/s $tasks_submit_rate; peak RSS $hwm_max MB ($rss_met)" >&2
