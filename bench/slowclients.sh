#!/usr/bin/env bash
# Slow and many clients (issue 7): the latency of normal requests on a
# fresh connection while 1,000 slow clients hold connections to the
# manager, 500 idle and 500 trickling a header byte every 200 ms
# (orch-slowclients, bench/slowclients.c), against the same requests with
# no other connection open, in the same run on the same manager.
# Each round times REQUESTS rounds of POST /tasks, GET /tasks/{id} and
# GET /tasks?status=Running on one keep-alive connection, without the
# crowd and then with it; medians over ROUNDS rounds.  The manager runs
# with hour-long header and idle timeouts, so that the crowd stays open
# while it is measured.  Writes docs/benchmarks-slowclients.json and the
# slowclients section of docs/benchmarks.md.  Only loopback traffic.
#   bench/slowclients.sh [ROUNDS] [REQUESTS]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
ROUNDS=${1:-3}
REQUESTS=${2:-2000}
IDLE=500
TRICKLE=500

scripts/deps.sh build bench
bench_build orch-manager orch-slowclients
bench_workdir orch-bench-slow
trap bench_teardown EXIT
load_start=$(bench_load)
bench_manager_start "$work/data" "$work/manager.log" --header-timeout 3600 --idle-timeout 3600
port=${MGR_HTTP##*:}

for r in $(seq 1 "$ROUNDS"); do
	for set in base crowd; do
		if [ "$set" = base ]; then n_i=0 n_t=0; else n_i=$IDLE n_t=$TRICKLE; fi
		"$BENCH_BIN/orch-slowclients" --port "$port" --rounds "$REQUESTS" \
			--idle "$n_i" --trickle "$n_t" >"$work/$set-$r.json" ||
			bench_die "orch-slowclients failed in round $r ($set)"
		echo "round $r/$ROUNDS $set: $(jq -c '{all, post, get_id, get_list}' "$work/$set-$r.json")" >&2
	done
done
load_end=$(bench_load)

# med SET FILTER: the median over the rounds of FILTER in SET's outputs.
med() { for r in $(seq 1 "$ROUNDS"); do jq -r "$2" "$work/$1-$r.json"; done | bench_median; }
ratio() { bench_calc 'printf "%.2f", a / b' "$1" "$2"; }
declare -A M
for set in base crowd; do
	for k in all post get_id get_list; do
		for q in p50_ms p99_ms; do M[$set.$k.$q]=$(med "$set" ".$k.$q"); done
	done
done
r50=$(ratio "${M[crowd.all.p50_ms]}" "${M[base.all.p50_ms]}")
r99=$(ratio "${M[crowd.all.p99_ms]}" "${M[base.all.p99_ms]}")
under=$(awk -v a="${M[crowd.all.p99_ms]}" 'BEGIN {print (a < 100) ? "true" : "false"}')
date=$(bench_date)
machine=$(bench_machine)

results=$(for set in base crowd; do for r in $(seq 1 "$ROUNDS"); do
	jq -c --arg set "$set" --argjson round "$r" '{set: $set, round: $round} + .' "$work/$set-$r.json"; done; done | jq -s .)
medians=$(for set in base crowd; do for k in all post get_id get_list; do
	jq -n --arg s "$set" --arg k "$k" --argjson p50 "${M[$set.$k.p50_ms]}" --argjson p99 "${M[$set.$k.p99_ms]}" \
		'{set: $s, kind: $k, p50_ms: $p50, p99_ms: $p99}'; done; done | jq -s .)
jq -n --arg date "$date" --arg machine "$machine" --arg rev "$(bench_revision)" --arg measured "$BENCH_MEASURED" \
	--argjson rounds "$ROUNDS" --argjson requests "$REQUESTS" --argjson idle "$IDLE" --argjson trickle "$TRICKLE" \
	--arg l0 "$load_start" --arg l1 "$load_end" --argjson medians "$medians" --argjson results "$results" \
	--argjson r50 "$r50" --argjson r99 "$r99" --argjson under "$under" \
	'{date: $date, machine: $machine, revision: $rev, measured: $measured, rounds: $rounds,
	  requests_per_kind: $requests, idle: $idle, trickle: $trickle,
	  load_average: {start: $l0, end: $l1},
	  medians: $medians, p50_crowd_over_base: $r50, p99_crowd_over_base: $r99,
	  targets: {p99_under_100ms_with_crowd: $under}, runs: $results}' >docs/benchmarks-slowclients.json

row() { echo "| $1 | ${M[base.$2.p50_ms]} | ${M[base.$2.p99_ms]} | ${M[crowd.$2.p50_ms]} | ${M[crowd.$2.p99_ms]} |"; }
section=$(cat <<EOT
<!-- slowclients:begin -->
## Slow and many clients (bench/slowclients.sh)

$date, $machine, orch: $BENCH_MEASURED. One orch-manager
(Release, \`--header-timeout 3600 --idle-timeout 3600\` so that the crowd
stays open while measured) and \`orch-slowclients\` on loopback. Each round
times $REQUESTS rounds of \`POST /tasks\`, \`GET /tasks/{id}\` and
\`GET /tasks?status=Running\` on one fresh keep-alive connection, first with
no other connection open (the baseline), then with $IDLE idle connections
and $TRICKLE trickling a header byte every 200 ms; $ROUNDS rounds, medians,
in ms. Raw numbers: [benchmarks-slowclients.json](benchmarks-slowclients.json).

| requests | p50 alone | p99 alone | p50 with 1,000 slow | p99 with 1,000 slow |
|---|---|---|---|---|
$(row "all" all)
$(row "durable \`POST /tasks\`" post)
$(row "\`GET /tasks/{id}\`" get_id)
$(row "\`GET /tasks?status=Running\`" get_list)

With the 1,000 slow connections against without: p50 **${r50}x**, p99
**${r99}x**. Target (issue 7), a normal request under 100 ms with them
open: p99 ${M[crowd.all.p99_ms]} ms, **$([ "$under" = true ] && echo met || echo NOT met)**.
Load average $load_start at the start, $load_end at the end, on
$(nproc) cores shared with other work.
Rerun: \`bench/slowclients.sh $ROUNDS $REQUESTS\`.
<!-- slowclients:end -->
EOT
)
bench_section slowclients "$section"
echo "wrote docs/benchmarks.md and docs/benchmarks-slowclients.json" >&2
