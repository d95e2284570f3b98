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

# A server on free ports for all three listeners; it stops the benchmark at
# once, with the server's own words, if the server exits (a port taken) or
# does not answer within 30 s.
start_server() {
	local deadline=$(($(date +%s) + 30))
	A=$(port)
	M=$(port)
	H=$(port)
	rm -rf "$work/srv"
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

# 4: push to all of them
t0=$(ms)
"$bin/aioctl" fleet set --max 2097152 --canary 0 --batch 100% --soak 0s --yes --output json \
	>"$work/push.json" 2>&1 || true
push_ms=$(( $(ms) - t0 ))
done_n=$(python3 -c "import json; d=json.load(open('$work/push.json')); print(sum(1 for s in d['steps'] if s['state']=='done'))")
echo "{\"row\": \"push\", \"hosts\": $big, \"ms\": $push_ms, \"done\": $done_n}" >>"$out"
row "push to $big (fleet set, 1 wave)" "$push_ms ms until all acked+verified" "$done_n/$big done"

# 5: queries at that size
best=999999
for i in 1 2 3 4 5; do
	t0=$(ms); "$bin/aioctl" fleet status --output json >/dev/null; t=$(( $(ms) - t0 ))
	[ "$t" -lt "$best" ] && best=$t
done
t0=$(ms)
"$bin/aioctl" fleet status --live --timeout 5s --output json >"$work/live.json"
live_ms=$(( $(ms) - t0 ))
silent=$(python3 -c "import json; print(len(json.load(open('$work/live.json'))['not_answered']))")
echo "{\"row\": \"queries\", \"hosts\": $big, \"status_ms\": $best, \"live_ms\": $live_ms, \"live_silent\": $silent}" >>"$out"
row "fleet status --output json" "$best ms (best of 5, whole aioctl run)" "$big hosts"
row "fleet status --live" "$live_ms ms, $silent silent" "$big hosts"

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
echo "raw figures: $out"
