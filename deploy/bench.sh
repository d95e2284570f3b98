#!/bin/bash
# The benchmark: how far one aio-server goes on this machine, each row next
# to its baseline in the same run. Prints a table and writes the raw figures
# (one JSON object per line) to bench-results.jsonl.
#   deploy/bench.sh [HOSTS]        (default 10000 for the connection rows)
set -euo pipefail
big=${1:-10000}
. "$(dirname "$0")/bench-lib.sh"
out="$top/bench-results.jsonl"
work=$(mktemp -d /tmp/aioctl-bench-XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

if ! command -v prometheus-node-exporter >/dev/null; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		prometheus-node-exporter curl >/dev/null
	systemctl stop prometheus-node-exporter 2>/dev/null || true
fi
: >"$out"

row() { printf '%-34s %-40s %s\n' "$1" "$2" "$3"; }
# nng-echo's best time (ms) of N runs: CLIENTS clients, MESSAGES round trips
# in all, the echo in a process of its own as aio-server is
echo_ms() {
	local best=999999 t
	for _ in $(seq "$3"); do
		t=$("$tbin/nng-echo" --url "tcp://127.0.0.1:$(port)" --clients "$1" \
			--messages $(($2 / $1)) --size 160 |
			python3 -c 'import json,sys; print(int(1000 * json.load(sys.stdin)["seconds"]))')
		((t < best)) && best=$t
	done
	echo "$best"
}
ratio() { python3 -c "print(round($1 / $2, 2))"; }

# A server on free ports for all three listeners; it stops the benchmark at
# once, with the server's own words, if the server exits (a port taken) or
# does not answer within 30 s.
start_server() {
	local deadline=$(($(date +%s) + 30))
	A=$(port)
	M=$(port)
	H=$(port)
	[ -n "${keep_state:-}" ] || rm -rf "$work/srv"
	"$bin/aio-server" --state-dir "$work/srv" --listen "tcp://127.0.0.1:$A" \
		--admin-listen "tcp://127.0.0.1:$M" --http-listen "http://127.0.0.1:$H" \
		--log-level warning >"$work/server.log" 2>&1 &
	SP=$!
	pids+=("$SP")
	export AIOCTL_SERVER="tcp://127.0.0.1:$M" AIOCTL_TOKEN_FILE="$work/srv/admin.token"
	until "$bin/aioctl" fleet status >/dev/null 2>&1; do
		if ! kill -0 "$SP" 2>/dev/null; then
			echo "bench: aio-server exited before it answered:" >&2
			tail -n 5 "$work/server.log" >&2
			exit 1
		fi
		if [ "$(date +%s)" -ge "$deadline" ]; then
			echo "bench: aio-server did not answer on $AIOCTL_SERVER within 30 s" >&2
			exit 1
		fi
		sleep 0.1
	done
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
row "what" "figure" "baseline (same run)"

# 1+2: ingest against the transport's own ceiling
E=$("$tbin/nng-echo" --url "tcp://127.0.0.1:$(port)" --clients 100 --messages 500 --size 160)
echo "{\"row\": \"echo\", \"result\": $E}" >>"$out"
echo_rate=$(echo "$E" | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["per_s"]))')
start_server
S=$("$tbin/aio-sim" --server "tcp://127.0.0.1:$A" --admin "$AIOCTL_SERVER" \
	--token-file "$AIOCTL_TOKEN_FILE" --hosts 100 --flood --reports 500 --duration 300s 2>/dev/null)
stored=$(sqlite3 "$work/srv/server.db" "select sum(reports) from series")
echo "{\"row\": \"ingest\", \"result\": $S, \"stored\": $stored, \"server_cpu_s\": $(cpu_s $SP), \"server_hwm_mb\": $(hwm_mb $SP)}" >>"$out"
read -r rate p50 p99 sent <<<"$(echo "$S" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(int(d["reports_per_s"]), d["p50_ms"], d["p99_ms"], d["reports_ok"])')"
row "ingest, 100 agents flooding" "$rate reports/s (p50 ${p50} ms, p99 ${p99} ms)" "nng echo $echo_rate msg/s: $((100 * rate / echo_rate))%"
row "  stored exactly once" "$stored reports for $sent acknowledged" "server $(cpu_s $SP) CPU s, peak RSS $(hwm_mb $SP) MiB"
kill "$SP"; wait "$SP" 2>/dev/null || true

# 3: connections held
start_server
base_rss=$(rss_mb $SP)
"$tbin/aio-sim" --server "tcp://127.0.0.1:$A" --admin "$AIOCTL_SERVER" \
	--token-file "$AIOCTL_TOKEN_FILE" --hosts "$big" --interval 60s --duration 3600s \
	>"$work/sim.json" 2>"$work/sim.err" &
pids+=("$!")
t0=$(ms)
until grep -q "connected and enrolled" "$work/sim.err"; do sleep 0.2; done
setup_s=$(( ($(ms) - t0) / 1000 ))
sleep 5
c0=$(cpu_s $SP)
sleep 10
c1=$(cpu_s $SP)
idle_pct=$(python3 -c "print(round(100 * ($c1 - $c0) / 10, 2))")
held_rss=$(rss_mb $SP)
echo "{\"row\": \"connections\", \"hosts\": $big, \"setup_s\": $setup_s, \"server_rss_mb\": $held_rss, \"server_rss_empty_mb\": $base_rss, \"server_idle_cpu_pct\": $idle_pct}" >>"$out"
row "$big agents connected, Watch held" "server RSS $held_rss MiB, idle CPU $idle_pct%" "empty server $base_rss MiB"

# 4: push to all of them, twice (two values), the best next to nng-echo's
# 20,000 round trips at the same concurrency (a Watch answered and an Ack
# per host)
push_ms=999999
for v in 2097152 4194304; do
	t0=$(ms)
	"$bin/aioctl" fleet set --max "$v" --canary 0 --batch 100% --soak 0s --yes --output json \
		>"$work/push.json" 2>&1 || true
	t=$(( $(ms) - t0 ))
	((t < push_ms)) && push_ms=$t
done
done_n=$(python3 -c "import json; d=json.load(open('$work/push.json')); print(sum(1 for s in d['steps'] if s['state']=='done'))")
echo2_ms=$(echo_ms "$big" $((2 * big)) 2)
echo "{\"row\": \"push\", \"hosts\": $big, \"ms\": $push_ms, \"done\": $done_n, \"echo_ms\": $echo2_ms}" >>"$out"
row "push to $big (fleet set, 1 wave)" "$push_ms ms until all acked+verified ($done_n done)" "nng echo $((2 * big)) round trips: $echo2_ms ms: $(ratio "$push_ms" "$echo2_ms")x"

# 5: queries at that size
best=999999
for i in 1 2 3 4 5; do
	t0=$(ms); "$bin/aioctl" fleet status --output json >/dev/null; t=$(( $(ms) - t0 ))
	[ "$t" -lt "$best" ] && best=$t
done
live_ms=999999
for i in 1 2 3; do
	t0=$(ms)
	"$bin/aioctl" fleet status --live --timeout 5s --output json >"$work/live.json"
	t=$(( $(ms) - t0 ))
	((t < live_ms)) && live_ms=$t
done
silent=$(python3 -c "import json; print(len(json.load(open('$work/live.json'))['not_answered']))")
echo1_ms=$(echo_ms "$big" "$big" 2)
echo "{\"row\": \"queries\", \"hosts\": $big, \"status_ms\": $best, \"live_ms\": $live_ms, \"live_silent\": $silent, \"echo_ms\": $echo1_ms}" >>"$out"
row "fleet status --output json" "$best ms (best of 5, whole aioctl run)" "$big hosts"
row "fleet status --live" "$live_ms ms (best of 3), $silent silent" "nng echo $big round trips: $echo1_ms ms: $(ratio "$live_ms" "$echo1_ms")x"

# 5b: the HTTP API and the web console at that size, next to aioctl
api_best=999999
for i in 1 2 3 4 5; do
	t0=$(ms)
	curl -s -H "Authorization: Bearer $(cat "$AIOCTL_TOKEN_FILE")" \
		"http://127.0.0.1:$H/api/v1/hosts" >"$work/api.json"
	t=$(( $(ms) - t0 ))
	[ "$t" -lt "$api_best" ] && api_best=$t
done
api_n=$(python3 -c "import json; print(len(json.load(open('$work/api.json'))['hosts']))")
mods=$top/build-bench/console-node
if [ ! -d "$mods/node_modules/playwright-core" ]; then
	mkdir -p "$mods"
	cp tests/real/console/package.json tests/real/console/package-lock.json "$mods/"
	(cd "$mods" && npm ci --no-audit --no-fund --silent)
fi
cp tests/real/console/fleet-timing.mjs "$mods/"
W=$(URL="http://127.0.0.1:$H" ADMIN=$(cat "$AIOCTL_TOKEN_FILE") HOSTS=$api_n node "$mods/fleet-timing.mjs")
page_ms=$(echo "$W" | python3 -c 'import json,sys; print(json.load(sys.stdin)["best_ms"])')
echo "{\"row\": \"web\", \"hosts\": $api_n, \"api_hosts_ms\": $api_best, \"status_ms\": $best, \"fleet_page\": $W}" >>"$out"
row "GET /api/v1/hosts (curl)" "$api_best ms (best of 5), $api_n hosts" "aioctl fleet status --output json: $best ms"
row "fleet page in chromium" "$page_ms ms navigation to rendered, $api_n rows" "target 1000 ms"
kill -9 "${pids[-1]}" 2>/dev/null || true
kill "$SP"; wait "$SP" 2>/dev/null || true

# 6: agent footprint next to node_exporter reading the same two values
# with its sysctl collector
start_server
"$bin/aioctl" enroll create --host bench-agent >"$work/token" 2>/dev/null
"$bin/aio-agent" --server "tcp://127.0.0.1:$A" --host-id bench-agent --sysroot / \
	--state-dir "$work/agent" --enroll-token-file "$work/token" --interval 10s \
	--sample-interval 1s --log-level warning >"$work/agent.log" 2>&1 &
AP=$!
pids+=("$AP")
NP_PORT=$(port)
prometheus-node-exporter --web.listen-address="127.0.0.1:$NP_PORT" --collector.disable-defaults \
	--collector.sysctl --collector.sysctl.include=fs.aio-nr \
	--collector.sysctl.include=fs.aio-max-nr >"$work/ne.log" 2>&1 &
NP=$!
pids+=("$NP")
sleep 2
a0=$(cpu_s $AP); n0=$(cpu_s $NP)
for _ in $(seq 60); do curl -s "http://127.0.0.1:$NP_PORT/metrics" >/dev/null; sleep 1; done
a1=$(cpu_s $AP); n1=$(cpu_s $NP)
a_cpu=$(python3 -c "print(round(100 * ($a1 - $a0) / 60, 3))")
n_cpu=$(python3 -c "print(round(100 * ($n1 - $n0) / 60, 3))")
a_rss=$(rss_mb $AP); n_rss=$(rss_mb $NP)
echo "{\"row\": \"agent\", \"agent_rss_mb\": $a_rss, \"agent_cpu_pct\": $a_cpu, \"node_exporter_rss_mb\": $n_rss, \"node_exporter_cpu_pct\": $n_cpu}" >>"$out"
row "aio-agent, 60 s at 1 s sampling" "RSS $a_rss MiB, CPU $a_cpu%" "node_exporter (sysctl fs.aio-nr, fs.aio-max-nr, scraped 1/s): $n_rss MiB, $n_cpu%"
kill "$AP" "$NP" 2>/dev/null || true
kill "$SP"; wait "$SP" 2>/dev/null || true

# 7: catch-up after an outage: every agent's hour of spool (10 s interval)
# sent as fast as the server takes it, many reports a call (ReportBatch);
# the baseline is a tenth of the hosts sending one report a call
catchup() { # HOSTS BATCH: prints "ms stored acknowledged"
	local t0 t S
	start_server
	t0=$(ms)
	S=$("$tbin/aio-sim" --server "tcp://127.0.0.1:$A" --admin "$AIOCTL_SERVER" \
		--token-file "$AIOCTL_TOKEN_FILE" --hosts "$1" --interval 10s --backfill 1h \
		--batch "$2" --duration 600s 2>/dev/null)
	t=$(($(ms) - t0))
	echo "$t $(sqlite3 "$work/srv/server.db" 'SELECT sum(reports) FROM series') $(echo "$S" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["reports_ok"])')"
	kill "$SP"; wait "$SP" 2>/dev/null || true
}
read -r cu_ms cu_stored cu_ok <<<"$(catchup "$big" 1000)"
read -r cu1_ms cu1_stored cu1_ok <<<"$(catchup $((big / 10)) 1)"
echo "{\"row\": \"catchup\", \"hosts\": $big, \"reports\": $((big * 360)), \"ms\": $cu_ms, \"stored\": $cu_stored, \"acknowledged\": $cu_ok, \"unbatched_hosts\": $((big / 10)), \"unbatched_ms\": $cu1_ms, \"unbatched_stored\": $cu1_stored}" >>"$out"
row "catch-up: $big agents' hour of spool" "$cu_ms ms for $cu_stored stored ($cu_ok acked)" "one report a call, $((big / 10)) agents: $cu1_ms ms ($cu1_stored stored)"

# 8: capacity report over 30 days of hourly history (backfilled through the
# agent RPC), next to scanning the hourly tier it read before the daily
# one; then the same history copied to 10 times the hosts
best_of() { # N command...: the best whole run, in ms
	local n=$1 best=999999 t0 t
	shift
	for _ in $(seq "$n"); do
		t0=$(ms); "$@" >/dev/null; t=$(($(ms) - t0))
		((t < best)) && best=$t
	done
	echo "$best"
}
start_server
"$tbin/aio-sim" --server "tcp://127.0.0.1:$A" --admin "$AIOCTL_SERVER" \
	--token-file "$AIOCTL_TOKEN_FILE" --hosts "$big" --interval 1h --backfill 30d \
	--batch 1000 --behaviour growth --duration 1200s >/dev/null 2>&1
since=$(( ($(date +%s) - 30 * 86400) * 1000 ))
trend_ms=$(best_of 3 "$bin/aioctl" report trend --since 30d)
hourly_ms=$(best_of 3 sqlite3 "$work/srv/server.db" \
	"SELECT count(*), max(max), max(umax) FROM rollup_1h WHERE start_ms >= $since")
status_ms=$(best_of 3 "$bin/aioctl" fleet status --output json)
kill "$SP"; wait "$SP" 2>/dev/null || true
# ten times the hosts: each host's hosts, series and daily rows again under
# new ids and names (the hourly and finer tiers are not copied: the
# report reads the daily tier)
{
	echo "BEGIN; CREATE TEMP TABLE h AS SELECT * FROM hosts;"
	echo "CREATE TEMP TABLE d AS SELECT * FROM rollup_1d; CREATE TEMP TABLE s AS SELECT * FROM series;"
	for k in 1 2 3 4 5 6 7 8 9; do
		echo "UPDATE h SET id = id + $big, name = substr(name, 1, instr(name || '-x', '-x') - 1) || '-x$k';"
		echo "UPDATE d SET host_id = host_id + $big;"
		echo "UPDATE s SET host_id = host_id + $big; INSERT INTO hosts SELECT * FROM h;"
		echo "INSERT INTO rollup_1d SELECT * FROM d; INSERT INTO series SELECT * FROM s;"
	done
	echo "COMMIT;"
} | sqlite3 "$work/srv/server.db"
keep_state=1 start_server
n10=$(sqlite3 "$work/srv/server.db" 'SELECT count(*) FROM hosts')
trend10_ms=$(best_of 3 "$bin/aioctl" --timeout 60s report trend --since 30d)
st_json=$(best_of 3 "$bin/aioctl" fleet status --output json)
st_table=$(best_of 3 "$bin/aioctl" fleet status)
st_csv=$(best_of 3 "$bin/aioctl" fleet status --output csv)
kill "$SP"; wait "$SP" 2>/dev/null || true
echo "{\"row\": \"trend\", \"hosts\": $big, \"trend_ms\": $trend_ms, \"hourly_scan_ms\": $hourly_ms, \"status_ms\": $status_ms, \"hosts_x10\": $n10, \"trend_x10_ms\": $trend10_ms, \"status_x10_json_ms\": $st_json, \"status_x10_table_ms\": $st_table, \"status_x10_csv_ms\": $st_csv}" >>"$out"
row "report trend --since 30d, $big hosts" "$trend_ms ms (best of 3, whole aioctl run)" "sqlite3 scanning the hourly tier alone: $hourly_ms ms"
row "report trend --since 30d, $n10 hosts" "$trend10_ms ms" "fleet status: json $st_json, table $st_table, csv $st_csv ms"

# 9: a soak at 10,000 reports/s: as many agents as this machine's
# descriptor limit lets one server hold (one each), each on its own
# connection with a Watch held, reporting every N/10,000 s
hard=$(ulimit -Hn)
soak=$(( hard - 1000 < 100000 ? hard - 1000 : 100000 ))
ivl_ms=$(( soak / 10 ))
start_server
SIMERR=$work/soak.err
"$tbin/aio-sim" --server "tcp://127.0.0.1:$A" --admin "$AIOCTL_SERVER" \
	--token-file "$AIOCTL_TOKEN_FILE" --hosts "$soak" --sources 4 --interval "${ivl_ms}ms" \
	--duration 80s >"$work/soak.json" 2>"$SIMERR" &
SIM=$!
pids+=("$SIM")
until grep -q "connected and enrolled" "$SIMERR"; do
	kill -0 "$SIM" 2>/dev/null || { cat "$SIMERR" >&2; exit 1; }
	sleep 0.5
done
sleep 10
c0=$(cpu_s $SP); s0=$(cpu_s $SIM)
sleep 40
c1=$(cpu_s $SP); s1=$(cpu_s $SIM)
soak_rss=$(rss_mb $SP)
soak_anon=$(awk '/RssAnon/ {printf "%.1f", $2/1024}' "/proc/$SP/status")
# a push to all of them while they report
t0=$(ms)
"$bin/aioctl" fleet set --max 2097152 --canary 0 --batch 100% --soak 0s --yes --output json \
	>"$work/soak-push.json" 2>&1 || true
soak_push_ms=$(( $(ms) - t0 ))
soak_done=$(python3 -c "import json; d=json.load(open('$work/soak-push.json')); print(sum(1 for s in d['steps'] if s['state']=='done'))" 2>/dev/null || echo 0)
wait "$SIM" || true
soak_stored=$(sqlite3 "$work/srv/server.db" 'SELECT sum(reports) FROM series')
read -r soak_rate soak_ok soak_sent soak_p99 sim_mb <<<"$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["reports_per_s"], d["reports_ok"], d["reports_sent"], d["p99_ms"], d["sim_rss_mb"])' "$work/soak.json")"
srv_pct=$(python3 -c "print(round(100 * ($c1 - $c0) / 40, 1))")
sim_pct=$(python3 -c "print(round(100 * ($s1 - $s0) / 40, 1))")
echo "{\"row\": \"soak\", \"hosts\": $soak, \"fd_hard_limit\": $hard, \"interval_ms\": $ivl_ms, \"reports_per_s\": $soak_rate, \"acknowledged\": $soak_ok, \"sent\": $soak_sent, \"stored\": $soak_stored, \"p99_ms\": $soak_p99, \"server_rss_mb\": $soak_rss, \"server_anon_mb\": $soak_anon, \"server_cpu_pct\": $srv_pct, \"sim_cpu_pct\": $sim_pct, \"sim_rss_mb\": $sim_mb, \"push_ms\": $soak_push_ms, \"push_done\": $soak_done}" >>"$out"
row "soak: $soak agents, 1 per ${ivl_ms} ms each" "$soak_rate reports/s, $soak_stored stored for $soak_ok acked ($soak_sent sent)" "server RSS $soak_rss MiB ($soak_anon anon), CPU $srv_pct% of a core; aio-sim $sim_pct%, $sim_mb MiB"
row "  push to all $soak meanwhile" "$soak_push_ms ms until all acked+verified" "$soak_done/$soak done"
[ "$soak" -lt 100000 ] && row "  (not 100,000 agents:" "open files hard limit here $hard, no CAP_SYS_RESOURCE" "one descriptor per connection)"
kill "$SP"; wait "$SP" 2>/dev/null || true

echo "raw figures: $out"
