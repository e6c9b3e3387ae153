#!/usr/bin/env bash
# The foundation's API benchmark, side by side in one run:
#   durable POST /tasks with 16 connections (every answer after its fsync),
#   GET /tasks/{id} with 16 connections,
#   GET of the same JSON from nginx (one worker, static file): the HTTP floor.
# Contestants alternate for ROUNDS rounds of SECS seconds; medians are
# reported.  Writes docs/benchmarks-api.json and the API section of
# docs/benchmarks.md.  Only loopback traffic.
#   bench/api.sh [ROUNDS] [SECS]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
ROUNDS=${1:-3}
SECS=${2:-10}
CONNS=16

scripts/deps.sh build bench
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-bench -j"$(nproc)" --target orch-manager >/dev/null

work=$(mktemp -d /tmp/orch-bench-XXXXXX)
chmod 755 "$work"   # nginx's worker runs as nobody and must read html/
mgr_pid=; ngx_pid=
cleanup() {
	[ -n "$mgr_pid" ] && kill "$mgr_pid" 2>/dev/null && wait "$mgr_pid" 2>/dev/null
	[ -n "$ngx_pid" ] && kill "$ngx_pid" 2>/dev/null && wait "$ngx_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

http=$(bench_free_port); rpc=$(bench_free_port); pub=$(bench_free_port); ngx=$(bench_free_port)

build-bench/bin/orch-manager --data "$work/data" --http "127.0.0.1:$http" \
	--rpc "tcp://127.0.0.1:$rpc" --pub "tcp://127.0.0.1:$pub" \
	2>"$work/manager.log" &
mgr_pid=$!
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$http/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

task=$(curl -fsS -XPOST "http://127.0.0.1:$http/tasks" \
	-d '{"name":"bench","image":"busybox:latest","env":{"A":"1"}}')
id=$(printf '%s' "$task" | sed 's/^{"id":"\([^"]*\)".*/\1/')
mkdir -p "$work/html" "$work/ngx"
# With no node in the cluster, the scheduler writes its explanation ("no
# Ready node ...") into the task's "error" shortly after the POST.  Wait
# (bounded) until it is there and two reads agree, so that nginx serves
# the JSON the manager will serve for the rest of the run.
stable=
for _ in $(seq 1 100); do
	curl -fsS -o "$work/cur.json" "http://127.0.0.1:$http/tasks/$id"
	if grep -q '"error":"' "$work/cur.json" && [ -f "$work/html/task.json" ] &&
		cmp -s "$work/cur.json" "$work/html/task.json"; then
		stable=1; break
	fi
	mv "$work/cur.json" "$work/html/task.json"
	sleep 0.05
done
[ -n "$stable" ] || { echo "bench: task $id has no stable JSON with the scheduler's" \
	"explanation after 5 s: $(cat "$work/html/task.json")" >&2; exit 1; }
rm -f "$work/cur.json"
cat >"$work/ngx/nginx.conf" <<EOT
worker_processes 1;
daemon off;
error_log $work/ngx/error.log;
pid $work/ngx/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$ngx;
    root $work/html;
    location / { default_type application/json; }
  }
}
EOT
nginx -c "$work/ngx/nginx.conf" -p "$work/ngx" &
ngx_pid=$!
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$ngx/task.json" >/dev/null 2>&1 && break; sleep 0.1; done
# Both must serve the same bytes, or the comparison means nothing.
cmp -s <(curl -fsS "http://127.0.0.1:$ngx/task.json") <(curl -fsS "http://127.0.0.1:$http/tasks/$id") || {
	echo "bench: nginx and orch do not serve the same task JSON" >&2; exit 1; }

cat >"$work/post.lua" <<'EOT'
wrk.method = "POST"
wrk.body = '{"name":"bench","image":"busybox:latest","env":{"A":"1"}}'
wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency, requests)
  io.write(string.format("ERRORS %d\n", summary.errors.status + summary.errors.connect +
    summary.errors.read + summary.errors.write + summary.errors.timeout))
end
EOT
cat >"$work/get.lua" <<'EOT'
done = function(summary, latency, requests)
  io.write(string.format("ERRORS %d\n", summary.errors.status + summary.errors.connect +
    summary.errors.read + summary.errors.write + summary.errors.timeout))
end
EOT

# run NAME URL SCRIPT: one wrk run, appends "NAME rps p50_ms p99_ms errors"
run() {
	local out rps p50 p99 err
	out=$(wrk -t1 -c$CONNS -d"${SECS}s" --latency -s "$3" "$2")
	rps=$(printf '%s\n' "$out" | awk '/Requests\/sec/ {print $2}')
	p50=$(printf '%s\n' "$out" | awk '$1=="50%" {print $2}')
	p99=$(printf '%s\n' "$out" | awk '$1=="99%" {print $2}')
	err=$(printf '%s\n' "$out" | awk '/^ERRORS/ {print $2}')
	to_ms() { case "$1" in *us) echo "${1%us}" | awk '{print $1/1000}';; *ms) echo "${1%ms}";;
		*s) echo "${1%s}" | awk '{print $1*1000}';; esac; }
	echo "$1 $rps $(to_ms "$p50") $(to_ms "$p99") $err" >>"$work/results"
	echo "  $1: $rps req/s, p50 $(to_ms "$p50") ms, p99 $(to_ms "$p99") ms, errors $err" >&2
}

for r in $(seq 1 "$ROUNDS"); do
	echo "round $r/$ROUNDS" >&2
	run nginx_get "http://127.0.0.1:$ngx/task.json" "$work/get.lua"
	run orch_get "http://127.0.0.1:$http/tasks/$id" "$work/get.lua"
	run orch_post "http://127.0.0.1:$http/tasks" "$work/post.lua"
done

med() { awk -v n="$1" -v c="$2" '$1==n {print $c}' "$work/results" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
kill "$mgr_pid"; wait "$mgr_pid" 2>/dev/null || true; mgr_pid=
commits=$(sed -n 's/.*closed after \([0-9]*\) writes ([0-9]* failed) in \([0-9]*\) commits.*/\1 \2/p' "$work/manager.log" | tail -1)

ng=$(med nginx_get 2); og=$(med orch_get 2); op=$(med orch_post 2)
ratio=$(awk -v a="$og" -v b="$ng" 'BEGIN {printf "%.2f", a/b}')
machine=$(bench_machine)
date=$(bench_date)
mkdir -p docs
{
	echo "{"
	echo "  \"date\": \"$date\", \"machine\": \"$machine\", \"revision\": \"$(bench_revision)\","
	echo "  \"rounds\": $ROUNDS, \"seconds\": $SECS, \"connections\": $CONNS,"
	echo "  \"store_writes\": ${commits% *}, \"store_commits\": ${commits#* },"
	echo "  \"medians\": {"
	for k in nginx_get orch_get orch_post; do
		echo "    \"$k\": {\"rps\": $(med $k 2), \"p50_ms\": $(med $k 3), \"p99_ms\": $(med $k 4)}$([ $k = orch_post ] || echo ,)"
	done
	echo "  },"
	echo "  \"get_orch_over_nginx\": $ratio,"
	echo "  \"runs\": ["
	awk '{printf "%s    {\"name\": \"%s\", \"rps\": %s, \"p50_ms\": %s, \"p99_ms\": %s, \"errors\": %s}", (NR>1?",\n":""), $1, $2, $3, $4, $5} END {print ""}' "$work/results"
	echo "  ]"
	echo "}"
} >docs/benchmarks-api.json

section=$(cat <<EOT
<!-- api:begin -->
## HTTP API (bench/api.sh)

$date, $machine, wrk with 1 thread and $CONNS connections on
loopback, $ROUNDS alternating rounds of ${SECS} s, medians. Raw numbers:
[benchmarks-api.json](benchmarks-api.json).

| what | req/s | p50 ms | p99 ms | errors |
|---|---|---|---|---|
| nginx 1 worker, static file of the same JSON (the floor) | $ng | $(med nginx_get 3) | $(med nginx_get 4) | $(med nginx_get 5) |
| orch \`GET /tasks/{id}\` | $og | $(med orch_get 3) | $(med orch_get 4) | $(med orch_get 5) |
| orch durable \`POST /tasks\` (synchronous=FULL) | $op | $(med orch_post 3) | $(med orch_post 4) | $(med orch_post 5) |

GET against nginx: **${ratio}x**. The manager committed ${commits% *} writes in
${commits#* } transactions over the whole run: one fsync carried
$(awk -v w="${commits% *}" -v c="${commits#* }" 'BEGIN {printf "%.1f", w/c}') acknowledged writes on average.
<!-- api:end -->
EOT
)
bench_section api "$section"
echo "wrote docs/benchmarks.md and docs/benchmarks-api.json" >&2
