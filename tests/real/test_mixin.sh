#!/bin/bash
# The mixin fits what the server exports, and a real Prometheus reads it:
# promtool check rules and promtool test rules on
# deploy/prometheus/aioctl.rules.yml (series that fire and do not fire each
# alert); every metric the rules and deploy/grafana/aioctl.json name is a
# family aio-server's /metrics has; Debian's prometheus, started on
# loopback, scrapes a real server with a real agent, loads the rules, and
# a PromQL query returns each host's room and peak as fleet status shows
# them, joined with the info metric's labels.
#   test_mixin.sh SOURCE_DIR BIN_DIR
set -u
. "$(dirname "$0")/lib.sh"
src=$(cd "${1:?usage: test_mixin.sh SOURCE_DIR BIN_DIR}" && pwd) || exit 1
bin=$(cd "${2:?usage: test_mixin.sh SOURCE_DIR BIN_DIR}" && pwd) || exit 1
for p in /usr/bin/prometheus /usr/bin/promtool /usr/bin/curl /usr/bin/jq; do
	[ -x "$p" ] || { echo "FAIL: $p missing (deploy/install-deps.sh)"; exit 1; }
done
rules=$src/deploy/prometheus/aioctl.rules.yml
dash=$src/deploy/grafana/aioctl.json
T=$(mktemp -d /tmp/aioctl-mixin-XXXXXX)
cleanup() {
	[ -f "$T/pids" ] && xargs -r kill <"$T/pids" 2>/dev/null
	[ -n "${AIO_TEST_KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT INT TERM HUP

check "promtool check rules" promtool check rules "$rules"
check "promtool test rules: each alert fires and does not" \
	promtool test rules "$src/deploy/prometheus/aioctl.rules.test.yml"
check "the dashboard is JSON with panels" jq -e '.panels | length > 5' "$dash"

start_server "$bin" "$T/server" || { echo "FAIL: no server"; exit 1; }
mkdir -p "$T/hv1/proc/sys/fs"
echo 40000 >"$T/hv1/proc/sys/fs/aio-nr"
echo 65536 >"$T/hv1/proc/sys/fs/aio-max-nr"
"$bin/aioctl" enroll create --host hv1 >"$T/enroll" 2>/dev/null
"$bin/aio-agent" --server "tcp://127.0.0.1:$pa" --host-id hv1 --sysroot "$T/hv1" --interval 500ms \
	--state-dir "$T/agent" --enroll-token-file "$T/enroll" --label rack=r7 >"$T/agent.log" 2>&1 &
echo $! >>"$T/pids"
wait_for 10 sh -c "'$bin/aioctl' fleet status -o json | jq -e '.hosts[0].aio_nr == 40000' >/dev/null"

curl -sf "http://127.0.0.1:$ph/metrics" >"$T/metrics.txt"
missing=""
for m in $(cat "$rules" "$dash" | grep -o 'aioctl_[a-z0-9_]*' | sort -u); do
	grep -q "^# TYPE $m " "$T/metrics.txt" || missing="$missing $m"
done
check "every metric the rules and the dashboard name is exported${missing:+ (not:$missing)}" \
	[ -z "$missing" ]

pp=$(random_port)
cp "$rules" "$T/aioctl.rules.yml"
cat >"$T/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - aioctl.rules.yml
scrape_configs:
  - job_name: aioctl
    static_configs:
      - targets: ['127.0.0.1:$ph']
YML
/usr/bin/prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/tsdb" \
	--web.listen-address="127.0.0.1:$pp" >"$T/prometheus.log" 2>&1 &
echo $! >>"$T/pids"
P=http://127.0.0.1:$pp
q() { curl -sf --data-urlencode "query=$1" "$P/api/v1/query"; }
up() { q 'up{job="aioctl"}' | jq -e '.data.result[0].value[1] == "1"' >/dev/null; }
check "Prometheus scrapes the server" wait_for 30 up
"$bin/aioctl" fleet status -o json >"$T/fleet.json"
room=$(jq '.hosts[0].room' "$T/fleet.json")
peak=$(jq '.hosts[0].aio_nr_max' "$T/fleet.json")
joined() {
	q 'aioctl_host_aio_room_contexts * on (host) group_left (rack) aioctl_host_info' >"$T/room.json" &&
		jq -e --arg room "$room" '.data.result[0] |
			.metric.host == "hv1" and .metric.rack == "r7" and .value[1] == $room' \
			"$T/room.json" >/dev/null
}
check "PromQL: hv1's room ($room) as fleet status shows it, with its rack from the info metric" \
	wait_for 10 joined
peak_is() { q 'aioctl_host_aio_nr_peak{host="hv1"}' | jq -e --arg p "$peak" '.data.result[0].value[1] == $p' >/dev/null; }
check "PromQL: hv1's peak ($peak) as fleet status shows it" wait_for 10 peak_is
rules_ok() {
	curl -sf "$P/api/v1/rules" | jq -e '[.data.groups[].rules[]] | length == 12 and all(.health == "ok")' >/dev/null
}
check "Prometheus loaded the 12 rules and evaluates them" wait_for 15 rules_ok
lib_summary
