#!/usr/bin/env bash
# Load (issue 7): wrk against the manager's HTTP API with a mix of reads
# and writes, for SECS seconds at CONNS connections on THREADS threads:
# 80% reads (GET /tasks/{id} of 100 tasks made first, and
# GET /tasks?status=Running, half each) and 20% durable POST /tasks of a
# small task that no node will run (the manager runs without agents; the
# scheduler records why each stays Pending, a write of its own).  Reports
# requests/s, p50/p99/p99.9, non-2xx answers and socket errors (wrk's
# default 2 s timeout counts as one), and the store's failed writes;
# exits 1 when there was any error.  Writes
# docs/benchmarks-mixedload.json and the mixedload section of
# docs/benchmarks.md.  Only loopback traffic.
#   bench/mixedload.sh [SECS] [CONNS] [THREADS]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
SECS=${1:-60}
CONNS=${2:-64}
THREADS=${3:-2}
SEED=100

scripts/deps.sh build bench
bench_build orch-manager
bench_workdir orch-bench-mixed
trap bench_teardown EXIT
bench_manager_start "$work/data" "$work/manager.log"
body='{"name":"mixed","image":"busybox:latest"}'
for _ in $(seq 1 "$SEED"); do
	curl -fsS -XPOST "http://$MGR_HTTP/tasks" -d "$body" | jq -r .id
done >"$work/ids.txt"

cat >"$work/mixed.lua" <<'EOT'
-- 20% POST /tasks, 40% GET /tasks/{id}, 40% GET /tasks?status=Running.
local threads = {}
function setup(thread) table.insert(threads, thread) end
local ids = {}
function init(args)
  for line in io.lines(args[1]) do ids[#ids + 1] = line end
  math.randomseed(os.time() + (tonumber(tostring({}):match("0x(%x+)"), 16) or 0))
  posts, gets = 0, 0
end
local post_body = '{"name":"mixed","image":"busybox:latest"}'
local post_headers = { ["Content-Type"] = "application/json" }
function request()
  local r = math.random(100)
  if r <= 20 then
    posts = posts + 1
    return wrk.format("POST", "/tasks", post_headers, post_body)
  end
  gets = gets + 1
  if r <= 60 then
    return wrk.format("GET", "/tasks/" .. ids[math.random(#ids)])
  end
  return wrk.format("GET", "/tasks?status=Running")
end
function done(summary, latency, requests)
  local p, g = 0, 0
  for _, t in ipairs(threads) do p = p + t:get("posts"); g = g + t:get("gets") end
  local e = summary.errors
  io.write(string.format("RESULT requests=%d duration_us=%d posts_sent=%d gets_sent=%d " ..
    "connect=%d read=%d write=%d timeout=%d non2xx=%d p50_us=%d p99_us=%d p999_us=%d max_us=%d\n",
    summary.requests, summary.duration, p, g, e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max))
end
EOT

load_start=$(bench_load)
wrk -t"$THREADS" -c"$CONNS" -d"${SECS}s" --latency -s "$work/mixed.lua" "http://$MGR_HTTP" -- "$work/ids.txt" \
	>"$work/wrk.out" 2>&1 || bench_die "wrk failed: $(tail -5 "$work/wrk.out")"
load_end=$(bench_load)
cat "$work/wrk.out" >&2
res=$(grep '^RESULT ' "$work/wrk.out") || bench_die "no RESULT line from wrk"
# v KEY: a value of the RESULT line.
v() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$res"; }
alive=true
kill -0 "$MGR_PID" 2>/dev/null || alive=false
tasks=$(curl -fsS "http://$MGR_HTTP/tasks" | jq length) || tasks=null
bench_stop "$MGR_PID"
MGR_PID=
wf=$(sed -n 's/.*closed after \([0-9]*\) writes (\([0-9]*\) failed) in \([0-9]*\) commits.*/\1 \2 \3/p' "$work/manager.log" | tail -1)
read -r writes failed commits <<<"${wf:-null null null}"
rps=$(awk -v n="$(v requests)" -v d="$(v duration_us)" 'BEGIN {printf "%.1f", n / d * 1e6}')
ms() { awk -v u="$1" 'BEGIN {printf "%.2f", u / 1000}'; }
p50=$(ms "$(v p50_us)") p99=$(ms "$(v p99_us)") p999=$(ms "$(v p999_us)") pmax=$(ms "$(v max_us)")
sock=$(($(v connect) + $(v read) + $(v write) + $(v timeout)))
errors=$((sock + $(v non2xx)))
warns=$(grep -c ' WARN \| ERROR ' "$work/manager.log" || true)
date=$(bench_date)
machine=$(bench_machine)

jq -n --arg date "$date" --arg machine "$machine" --arg rev "$(bench_revision)" --arg measured "$BENCH_MEASURED" \
	--argjson secs "$SECS" --argjson conns "$CONNS" --argjson threads "$THREADS" \
	--argjson requests "$(v requests)" --argjson rps "$rps" \
	--argjson posts "$(v posts_sent)" --argjson gets "$(v gets_sent)" \
	--argjson p50 "$p50" --argjson p99 "$p99" --argjson p999 "$p999" --argjson pmax "$pmax" \
	--argjson non2xx "$(v non2xx)" --argjson connect "$(v connect)" --argjson read "$(v read)" \
	--argjson write "$(v write)" --argjson timeout "$(v timeout)" --argjson errors "$errors" \
	--argjson writes "$writes" --argjson failed "$failed" --argjson commits "$commits" \
	--argjson tasks "$tasks" --argjson alive "$alive" --argjson warns "$warns" \
	--arg l0 "$load_start" --arg l1 "$load_end" \
	'{date: $date, machine: $machine, revision: $rev, measured: $measured,
	  seconds: $secs, connections: $conns, threads: $threads,
	  requests: $requests, rps: $rps, posts_sent: $posts, gets_sent: $gets,
	  latency_ms: {p50: $p50, p99: $p99, p999: $p999, max: $pmax},
	  non2xx: $non2xx, socket_errors: {connect: $connect, read: $read, write: $write, timeout: $timeout},
	  errors: $errors, manager_alive: $alive, tasks_after: $tasks, manager_warnings: $warns,
	  store: {writes: $writes, failed: $failed, commits: $commits},
	  load_average: {start: $l0, end: $l1}, targets: {zero_errors: ($errors == 0)}}' >docs/benchmarks-mixedload.json

section=$(cat <<EOT
<!-- mixedload:begin -->
## Mixed load (bench/mixedload.sh)

$date, $machine, orch: $BENCH_MEASURED. \`wrk -t$THREADS -c$CONNS -d${SECS}s --latency\`
on loopback against one orch-manager (Release, defaults, no agent): 20%
durable \`POST /tasks\` of a task no node runs (the scheduler records why
it stays Pending: a second write each), 40% \`GET /tasks/{id}\` of $SEED tasks,
40% \`GET /tasks?status=Running\`. Raw numbers:
[benchmarks-mixedload.json](benchmarks-mixedload.json).

| requests/s | p50 ms | p99 ms | p99.9 ms | max ms | non-2xx | socket errors (connect, read, write, timeout) |
|---|---|---|---|---|---|---|
| $rps | $p50 | $p99 | $p999 | $pmax | $(v non2xx) | $sock ($(v connect), $(v read), $(v write), $(v timeout)) |

$(v requests) requests, $(v posts_sent) of them POSTs sent; $tasks tasks stored at the
end. The store committed $writes writes in $commits transactions, $failed
failed; the manager logged $warns warnings or errors. Target (issue 7),
zero errors: **$([ "$errors" -eq 0 ] && echo met || echo NOT met)**. Load average $load_start at the start,
$load_end at the end, on $(nproc) cores shared with other work (wrk and
the manager share them too).
Rerun: \`bench/mixedload.sh $SECS $CONNS $THREADS\`.
<!-- mixedload:end -->
EOT
)
bench_section mixedload "$section"
echo "wrote docs/benchmarks.md and docs/benchmarks-mixedload.json" >&2
[ "$errors" -eq 0 ] || bench_die "$errors errors under load"
