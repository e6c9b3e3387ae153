#!/usr/bin/env bash
# Issue 8: recovery, orch against Docker Swarm, side by side in one run.
#   node lost: a service of R replicas spread over two nodes; the agent of
#     one node is killed (SIGKILL; its containers keep running, unwatched),
#     timed until R replicas run on the other node.
#       orch:  one manager (--heartbeat-ttl 5, the default) and two agents,
#              both on this machine's Docker daemon (each touches only the
#              containers labelled with its node);
#       swarm: the daemon is the manager (advertised on the run's own veth
#              address) and a second dockerd, in a network namespace made
#              for the run with its own data root, joins as a worker; the
#              image reaches it by `docker save` / `docker load`.  Its
#              dockerd is the agent that is killed.
#   container killed: then one replica's container is killed (docker kill,
#     SIGKILL), timed until R replicas run again (each orchestrator's own
#     restart: orch's restart "always" after its 1 s backoff, Swarm's
#     restart condition "any" after its 5 s default delay).
# Contestants alternate for ROUNDS rounds; medians are reported.  When a
# second Swarm node cannot be made, the section says why and Swarm's node
# figure is left out.  Writes docs/benchmarks-recovery.json and the
# recovery section of docs/benchmarks.md.  Traffic: loopback, the Docker
# socket, and the veth pair into the run's own namespace.  Needs root.
#   bench/recovery.sh [ROUNDS] [R]          (default 3 rounds, R = 10)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
ROUNDS=${1:-3}
R=${2:-10}
GRACE_S=$BENCH_GRACE_S
TTL_S=5
POLL=0.1
TIMEOUT_S=300

scripts/docker-up.sh >/dev/null
bench_build orch-manager orch-agent
bench_workdir orch-bench-recovery
tag=orchrec-$$-$RANDOM
MGR_PID=; AGENT_PID=; pid_a=; pid_b=; node_a=; node_b=
# The second Swarm node: a namespace, a veth pair, a dockerd.
netns=orchrec-$$
veth=orb$$
d2=$work/d2
D2_PID=
net=
for x in $(seq $(($$ % 200 + 20)) 250) $(seq 20 $(($$ % 200 + 19))); do
	ip -br addr 2>/dev/null | grep -q " 10\.231\.$x\." || { net=10.231.$x; break; }
done
d2_docker() { docker -H "unix://$d2/sock" "$@"; }

orch_down() {
	bench_stop "$pid_a"; pid_a=
	bench_stop "$pid_b"; pid_b=
	bench_stop "$MGR_PID"; MGR_PID=
	[ -z "$node_a" ] || bench_rm_labelled "orch.node=$node_a" "orch.node=$node_b"
	return 0
}
# Starts dockerd in the namespace: nsenter enters the network namespace
# only (`ip netns exec` would also remount /sys and hide the cgroups).
d2_start() {
	nsenter --net="/var/run/netns/$netns" true || return 1
	local pre=(nsenter --net="/var/run/netns/$netns")
	"${pre[@]}" dockerd --data-root "$d2/root" --exec-root "$d2/exec" --pidfile "$d2/pid" \
		-H "unix://$d2/sock" --cgroup-parent "/$tag" >>"$d2/log" 2>&1 </dev/null &
	D2_PID=$!
	bench_until 60 0.2 d2_docker info >/dev/null 2>&1
}
d2_teardown() {
	set +e
	if [ -d "$d2" ]; then
		# A dockerd that was killed left its containers running: a
		# restarted one stops them (no live-restore).
		if [ -z "$D2_PID" ] || ! kill -0 "$D2_PID" 2>/dev/null; then
			[ -e "/var/run/netns/$netns" ] && d2_start
		fi
		if [ -n "$D2_PID" ] && kill -0 "$D2_PID" 2>/dev/null; then
			d2_docker swarm leave --force >/dev/null 2>&1
			local ids
			ids=$(d2_docker ps -aq)
			[ -z "$ids" ] || d2_docker rm -f $ids >/dev/null 2>&1
			kill "$D2_PID"
			bench_until 30 0.2 eval '! kill -0 "$D2_PID" 2>/dev/null' || kill -9 "$D2_PID"
			wait "$D2_PID" 2>/dev/null
		fi
		D2_PID=
		grep -o " $d2/[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m"; done
		local c
		for c in /sys/fs/cgroup/*/"$tag"; do
			[ -d "$c" ] || continue
			rmdir "$c"/* 2>/dev/null
			rmdir "$c"
		done
	fi
	ip link del "${veth}a" 2>/dev/null
	ip netns del "$netns" 2>/dev/null
	return 0
}
cleanup() {
	set +e
	bench_swarm_leave
	orch_down
	d2_teardown
	[ -f "$d2/log" ] && cp "$d2/log" "$work/dockerd2.log"
	bench_teardown
}
trap cleanup EXIT

# ---- the second Swarm node ----
d2_why=
d2_setup() {
	[ "$(id -u)" -eq 0 ] || { d2_why="needs root (network namespace, a second dockerd)"; return 1; }
	[ -n "$net" ] || { d2_why="no free 10.231.x.0/30 for the veth pair"; return 1; }
	mkdir -p "$d2"
	ip netns add "$netns" 2>"$d2/err" || { d2_why="ip netns add: $(cat "$d2/err")"; return 1; }
	ip link add "${veth}a" type veth peer name "${veth}b" 2>"$d2/err" &&
		ip link set "${veth}b" netns "$netns" &&
		ip addr add "$net.1/30" dev "${veth}a" && ip link set "${veth}a" up &&
		ip -n "$netns" addr add "$net.2/30" dev "${veth}b" && ip -n "$netns" link set "${veth}b" up &&
		ip -n "$netns" link set lo up 2>>"$d2/err" || { d2_why="veth pair: $(cat "$d2/err")"; return 1; }
	d2_start || { d2_why="the second dockerd did not answer: $(tail -3 "$d2/log")"; return 1; }
	docker save "$IMAGE" | d2_docker load >/dev/null 2>"$d2/err" ||
		{ d2_why="docker save | docker load into the second dockerd: $(cat "$d2/err")"; return 1; }
}
swarm_node=1
d2_setup || { swarm_node=; echo "bench: no second Swarm node: $d2_why" >&2; }

: >"$work/results"
record() { echo "$*" >>"$work/results"; }

# ---- polls ----
# ids FILTERS: the IDs of the running containers matching FILTERS.
ids() {
	bench_dapi -G --data-urlencode "filters=$1" /containers/json | grep -o '"Id":"[^"]*"' | cut -d'"' -f4
}
# back FILTERS N KILLED: N containers match, none of them KILLED.
back() {
	local l
	l=$(ids "$1" | grep -vc "^${3:-none}$" || true)
	[ "$l" -ge "$2" ]
}
# Polls until `back FILTERS N KILLED`, noting (once) when DOWN_CMD first
# succeeds: sets T_DOWN and T_BACK (bench_now_us).
T_DOWN=; T_BACK=
watch_back() {
	local down_cmd=$1 filters=$2 n=$3 killed=${4:-} end=$(($(bench_now_us) + TIMEOUT_S * 1000000))
	T_DOWN=null
	while :; do
		if [ "$T_DOWN" = null ] && [ -n "$down_cmd" ] && eval "$down_cmd"; then T_DOWN=$(bench_now_us); fi
		back "$filters" "$n" "$killed" && break
		[ "$(bench_now_us)" -lt "$end" ] || return 1
		bench_nap "$POLL"
	done
	T_BACK=$(bench_now_us)
	if [ "$T_DOWN" = null ] && [ -n "$down_cmd" ] && eval "$down_cmd"; then T_DOWN=$T_BACK; fi
}
since() { if [ "$2" = null ]; then echo null; else bench_ms "$1" "$2"; fi; }
# ctr_kill WHO ROUND FILTERS: kills the container of one running replica
# (FILTERS select the service's) and times until R run again.
ctr_kill() {
	local killed t0
	killed=$(ids "$3" | head -1)
	t0=$(bench_now_us)
	docker kill "$killed" >/dev/null
	watch_back "" "$3" "$R" "$killed" || bench_die "round $2: $1 did not replace a killed container within ${TIMEOUT_S}s"
	record "ctr $1 $2 $(bench_ms "$t0" "$T_BACK")"
	echo "  $1: container killed, $R replicas back in $(bench_ms "$t0" "$T_BACK") ms" >&2
}

# ---- orch ----
orch_round() {
	local r=$1 name=$tag-$r body on_a t0 killed
	node_a=$tag-$r-a; node_b=$tag-$r-b
	bench_manager_start "$work/data-$r" "$work/manager-$r.log" --heartbeat-ttl "$TTL_S"
	bench_agent_start "$node_a" "$work/agent-a-$r.log" --cpu 8 --memory 8192 --stop-timeout "$GRACE_S"
	pid_a=$AGENT_PID
	bench_agent_start "$node_b" "$work/agent-b-$r.log" --cpu 8 --memory 8192 --stop-timeout "$GRACE_S"
	pid_b=$AGENT_PID
	body=$(bench_orch_service "$name" "$R")
	curl -fsS -XPOST "http://$MGR_HTTP/services" -d "$body" >/dev/null || bench_die "POST /services failed"
	bench_until "$TIMEOUT_S" "$POLL" back "{\"label\":[\"orch.service=$name\"]}" "$R" ||
		bench_die "round $r: orch's $R replicas did not start"
	on_a=$(ids "{\"label\":[\"orch.service=$name\",\"orch.node=$node_a\"]}" | wc -l)
	[ "$on_a" -gt 0 ] || bench_die "round $r: no replica on node $node_a to lose"
	t0=$(bench_now_us)
	kill -9 "$pid_a"; wait "$pid_a" 2>/dev/null || true; pid_a=
	watch_back "curl -fsS http://$MGR_HTTP/nodes/$node_a | grep -q '\"status\":\"Down\"'" \
		"{\"label\":[\"orch.service=$name\",\"orch.node=$node_b\"]}" "$R" ||
		bench_die "round $r: orch did not run $R replicas on $node_b within ${TIMEOUT_S}s"
	record "node orch $r $(bench_ms "$t0" "$T_BACK") $(since "$t0" "$T_DOWN") $on_a"
	echo "  orch:  node lost, $R replicas back in $(bench_ms "$t0" "$T_BACK") ms (node Down after $(since "$t0" "$T_DOWN") ms, $on_a replicas on it)" >&2
	ctr_kill orch "$r" "{\"label\":[\"orch.service=$name\",\"orch.node=$node_b\"]}"
	# The containers of the dead agent's node are nobody's now.
	docker ps -aq --filter "label=orch.node=$node_a" | xargs -r docker rm -f >/dev/null
	curl -fsS -XDELETE "http://$MGR_HTTP/services/$name" >/dev/null
	bench_until "$TIMEOUT_S" "$POLL" eval "[ \"\$(bench_ctr_count '{\"label\":[\"orch.node=$node_b\"]}' all)\" -eq 0 ]" ||
		bench_die "round $r: orch's containers left after the DELETE"
	orch_down
}

# ---- swarm ----
swarm_node_down() {
	bench_dapi "/nodes/$1" | grep -q '"State":"down"'
}
swarm_round() {
	local r=$1 id tok d2_node on_d2 t0 killed f
	bench_swarm_init "$net.1"
	tok=$(docker swarm join-token -q worker)
	d2_docker swarm join --token "$tok" --advertise-addr "$net.2" --listen-addr "$net.2:2377" "$net.1:2377" >/dev/null ||
		bench_die "round $r: the second dockerd could not join the swarm"
	d2_node=$(d2_docker info --format '{{.Swarm.NodeID}}')
	bench_until 60 "$POLL" eval "bench_dapi /nodes/$d2_node | grep -q '\"State\":\"ready\"'" ||
		bench_die "round $r: the second Swarm node is not ready"
	id=$(bench_swarm_service "$tag-$r" "$R")
	bench_until "$TIMEOUT_S" "$POLL" eval "[ \"\$(bench_swarm_running $id)\" -ge $R ]" ||
		bench_die "round $r: swarm's $R replicas did not start"
	f="{\"label\":[\"com.docker.swarm.service.id=$id\"]}"
	on_d2=$(DOCKER_SOCK=$d2/sock ids "$f" | wc -l)
	[ "$on_d2" -gt 0 ] || bench_die "round $r: no replica on the second Swarm node to lose"
	t0=$(bench_now_us)
	kill -9 "$D2_PID"; wait "$D2_PID" 2>/dev/null || true; D2_PID=
	watch_back "swarm_node_down $d2_node" "$f" "$R" ||
		bench_die "round $r: swarm did not run $R replicas on the manager within ${TIMEOUT_S}s"
	record "node swarm $r $(bench_ms "$t0" "$T_BACK") $(since "$t0" "$T_DOWN") $on_d2"
	echo "  swarm: node lost, $R replicas back in $(bench_ms "$t0" "$T_BACK") ms (node down after $(since "$t0" "$T_DOWN") ms, $on_d2 replicas on it)" >&2
	ctr_kill swarm "$r" "$f"
	docker service rm "$id" >/dev/null
	bench_until "$TIMEOUT_S" "$POLL" eval "[ \"\$(bench_ctr_count '$f' all)\" -eq 0 ]" ||
		bench_die "round $r: swarm's containers left after docker service rm"
	# The killed dockerd, restarted, stops what it left running and leaves.
	d2_start || bench_die "round $r: the second dockerd did not restart: $(tail -3 "$d2/log")"
	d2_docker swarm leave --force >/dev/null 2>&1 || true
	d2_docker ps -aq | xargs -r docker -H "unix://$d2/sock" rm -f >/dev/null
	bench_swarm_leave
}
# Without a second node, Swarm's container figure on a one-node swarm.
swarm_round_one_node() {
	local r=$1 id f
	bench_swarm_init 127.0.0.1
	id=$(bench_swarm_service "$tag-$r" "$R")
	f="{\"label\":[\"com.docker.swarm.service.id=$id\"]}"
	bench_until "$TIMEOUT_S" "$POLL" back "$f" "$R" || bench_die "round $r: swarm's $R replicas did not start"
	ctr_kill swarm "$r" "$f"
	docker service rm "$id" >/dev/null
	bench_until "$TIMEOUT_S" "$POLL" eval "[ \"\$(bench_ctr_count '$f' all)\" -eq 0 ]" || true
	bench_swarm_leave
}

load_start=$(bench_load)
echo "bench: recovery: $ROUNDS rounds, $R replicas${swarm_node:+, second Swarm node at $net.2}" >&2
for r in $(seq 1 "$ROUNDS"); do
	echo "round $r/$ROUNDS" >&2
	s=swarm_round
	[ -n "$swarm_node" ] || s=swarm_round_one_node
	if [ $((r % 2)) -eq 1 ]; then orch_round "$r"; "$s" "$r"; else "$s" "$r"; orch_round "$r"; fi
done
load_end=$(bench_load)

# ---- results ----
med() { awk -v k="$1" -v w="$2" -v c="${3:-4}" '$1 == k && $2 == w {print $c}' "$work/results" | bench_median; }
on=$(med node orch); sn=$(med node swarm); ond=$(med node orch 5); snd=$(med node swarm 5)
oc=$(med ctr orch); sc=$(med ctr swarm)
node_ratio=$(bench_calc 'printf "%.2f", a / b' "$sn" "$on")
ctr_ratio=$(bench_calc 'printf "%.2f", a / b' "$sc" "$oc")
node_met=$(bench_calc 'print (a >= 2) ? "true" : "false"' "$node_ratio" 0)
date=$(bench_date); machine=$(bench_machine); docker_desc=$(bench_docker_desc)
mkdir -p docs
jq -n --arg date "$date" --arg machine "$machine" --arg docker "$docker_desc" --arg orch "$BENCH_MEASURED" \
	--argjson rounds "$ROUNDS" --argjson r "$R" --argjson ttl "$TTL_S" --argjson grace "$GRACE_S" \
	--argjson on "$on" --argjson sn "$sn" --argjson ond "$ond" --argjson snd "$snd" --argjson oc "$oc" --argjson sc "$sc" \
	--argjson nr "$node_ratio" --argjson cr "$ctr_ratio" --argjson met "$node_met" \
	--arg why "$d2_why" --arg l0 "$load_start" --arg l1 "$load_end" \
	--argjson runs "$(awk '{print "{\"what\": \"" $1 "\", \"who\": \"" $2 "\", \"round\": " $3 ", \"ms\": " $4 \
		(NF > 4 ? ", \"down_ms\": " $5 ", \"replicas_lost\": " $6 : "") "}"}' "$work/results" | jq -s .)" \
	'{date: $date, machine: $machine, docker: $docker, orch: $orch, rounds: $rounds, replicas: $r,
	  orch_heartbeat_ttl_s: $ttl, stop_grace_s: $grace,
	  second_swarm_node: (if $why == "" then true else $why end),
	  node_lost_ms: {orch: $on, swarm: $sn, swarm_over_orch: $nr},
	  node_down_seen_ms: {orch: $ond, swarm: $snd},
	  container_killed_ms: {orch: $oc, swarm: $sc, swarm_over_orch: $cr},
	  targets: {recovery_twice_as_fast_as_swarm: $met},
	  load_average: {start: $l0, end: $l1}, runs: $runs}' >docs/benchmarks-recovery.json

if [ -n "$swarm_node" ]; then
	how="Swarm's second node: a second \`dockerd\` in a network namespace made for
the run (a veth pair, $net.1 and $net.2), with its own data and exec roots,
joined as a worker (\`docker swarm init --advertise-addr $net.1\` on this
machine's daemon, the manager); the image reaches it by \`docker save\` /
\`docker load\`. Killing its \`dockerd\` (SIGKILL; its containerd shims
keep the containers running) is the counterpart of killing an orch-agent."
	verdict="recovery at least 2x faster than Swarm: ${node_ratio}x, **$([ "$node_met" = true ] && echo met || echo "NOT met")**"
else
	how="**No second Swarm node could be made on this machine**: $d2_why. Swarm's
node-lost figure is missing; its container figure comes from a one-node swarm."
	verdict="recovery at least 2x faster than Swarm: **not measured** (no second Swarm node)"
fi
bench_section recovery "$(cat <<EOT
<!-- recovery:begin -->
## Recovery: orch against Docker Swarm (bench/recovery.sh)

$date, $machine, Docker $docker_desc, orch: $BENCH_MEASURED. $ROUNDS rounds, the
contestants alternating, medians. A service of $R replicas (the start
section's image, command and limits) spread over two nodes; one node's
agent is killed with SIGKILL and the time runs until $R replicas run on the
other node (Docker's list of running containers, polled every ${POLL} s);
then one replica's container is killed (\`docker kill\`) and the time runs
until $R run again. Raw numbers: [benchmarks-recovery.json](benchmarks-recovery.json).

orch: one manager (\`--heartbeat-ttl $TTL_S\`, the default) and two agents
(heartbeat 1 s) on this machine's Docker daemon. $how
Both use their defaults for noticing a lost node: orch's TTL of $TTL_S s,
Swarm's dispatcher heartbeat period of 5 s; and for restarting a failed
task: orch's backoff of 1 s, Swarm's restart delay of 5 s.

| | orch | swarm | swarm / orch |
|---|---|---|---|
| node lost: its replicas running elsewhere, ms | $on | $sn | **${node_ratio}x** |
| of which: until the node is seen down (orch \`Down\`, swarm \`down\`), ms | $ond | $snd | |
| container killed: replaced, ms | $oc | $sc | ${ctr_ratio}x |

Target (issue 8): $verdict.

Load average $load_start at the start, $load_end at the end, on $(nproc) cores.
<!-- recovery:end -->
EOT
)"
echo "wrote docs/benchmarks.md and docs/benchmarks-recovery.json" >&2
