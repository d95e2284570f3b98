#!/bin/bash
# aio-server's alerts in a real Alertmanager (Debian's
# prometheus-alertmanager, started by the test on loopback with its own
# storage and no cluster): an alert that starts appears with its labels
# (alertname, host, the host's labels, severity) and annotations; it
# resolves when it clears; with Alertmanager down while an alert starts
# and clears, the clear arrives once it is back; with Alertmanager down
# and the server restarted meanwhile, the active alert arrives once, with
# the start it had.
#   test_alertmanager.sh BIN_DIR
# Exit 77 (skipped) without prometheus-alertmanager.
set -u
. "$(dirname "$0")/lib.sh"
bin=$(cd "${1:?usage: test_alertmanager.sh BIN_DIR}" && pwd) || exit 1
am=/usr/bin/prometheus-alertmanager
for p in $am /usr/bin/curl /usr/bin/jq; do
	[ -x "$p" ] || { echo "skipped: $p missing (deploy/install-deps.sh)"; exit 77; }
done
T=$(mktemp -d /tmp/aioctl-am-XXXXXX)
cleanup() {
	[ -f "$T/pids" ] && xargs -r kill <"$T/pids" 2>/dev/null
	[ -n "${AIO_TEST_KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT INT TERM HUP

printf 'route:\n  receiver: none\nreceivers:\n  - name: none\n' >"$T/am.yml"
amport=$(random_port)
AM=http://127.0.0.1:$amport
am_start() {
	"$am" --config.file="$T/am.yml" --storage.path="$T/am" --web.listen-address="127.0.0.1:$amport" \
		--cluster.listen-address= >>"$T/am.log" 2>&1 &
	am_pid=$!
	echo $am_pid >>"$T/pids"
	wait_for 20 curl -sf "$AM/-/ready" -o /dev/null || { echo "FAIL: Alertmanager did not start"; exit 1; }
}
am_stop() { kill "$am_pid"; wait "$am_pid" 2>/dev/null; }
server_start() {
	start_server "$bin" "$T/server" --alert-interval 200ms --alertmanager-url "$AM" \
		--alertmanager-resend 2s
}
am_start
server_start || { echo "FAIL: no server"; exit 1; }
server_restart=1
mkdir -p "$T/hv1/proc/sys/fs"
room() { echo $((65536 - $1 * 1024)) >"$T/hv1/proc/sys/fs/aio-nr"; } # room for $1 contexts
room 30
echo 65536 >"$T/hv1/proc/sys/fs/aio-max-nr"
"$bin/aioctl" enroll create --host hv1 >"$T/enroll" 2>/dev/null
"$bin/aio-agent" --server "tcp://127.0.0.1:$pa" --host-id hv1 --sysroot "$T/hv1" --interval 200ms \
	--state-dir "$T/agent" --enroll-token-file "$T/enroll" --label rack=r7 \
	--label topology.io/zone=z1 >"$T/agent.log" 2>&1 &
echo $! >>"$T/pids"

# the active AioRoom alerts for hv1 in Alertmanager
am_rooms() { curl -sf "$AM/api/v2/alerts?active=true" |
	jq -c '[.[] | select(.labels.alertname == "AioRoom" and .labels.host == "hv1")]'; }
am_count() { [ "$(am_rooms | jq length)" = "$1" ]; }
server_started_ms() { "$bin/aioctl" alerts -o json |
	jq -r '.alerts[] | select(.kind == "room" and .subject == "hv1" and .state == "active") | .started'; }
received() { # STATUS: alerts Alertmanager took since it started
	curl -sf "$AM/metrics" | sed -n "s/^alertmanager_alerts_received_total{status=\"$1\",version=\"v2\"} //p"
}

room 3
check "an alert that starts appears in Alertmanager" wait_for 15 am_count 1
am_rooms >"$T/room.json"
check "with alertname, host, the host's labels and severity" jq -e '.[0].labels |
	.rack == "r7" and .topology_io_zone == "z1" and .severity == "warning"' "$T/room.json"
check "and annotations: what was seen and the command to look further" jq -e '.[0].annotations |
	(.summary | test("room for 3 more")) and .command == "aioctl host show hv1" and .value == "3"' \
	"$T/room.json"
started=$(server_started_ms)
check "its startsAt is the server's start ($started)" \
	[ "$(jq -r '.[0].startsAt' "$T/room.json" | cut -c1-19)" = "$(echo "$started" | cut -c1-19)" ]

room 30
check "it resolves when it clears" wait_for 15 am_count 0
check "Alertmanager took the clear" wait_for 5 sh -c "[ \"\$(curl -sf '$AM/metrics' |
	sed -n 's/^alertmanager_alerts_received_total{status=\"resolved\",version=\"v2\"} //p')\" -ge 1 ]"

# down while an alert starts and clears: the clear arrives when it is back
am_stop
room 3
wait_for 10 sh -c "'$bin/aioctl' alerts -o json | jq -e '.alerts[] | select(.kind == \"room\" and .state == \"active\")' >/dev/null"
room 30
wait_for 10 sh -c "! '$bin/aioctl' alerts -o json | jq -e '.alerts[] | select(.kind == \"room\" and .state == \"active\")' >/dev/null"
# the failed push is logged when the notifier's next turn meets the
# closed port: waited for, not assumed done
check "the server said Alertmanager was down" \
	wait_for 10 grep -q "alertmanager $AM: .*trying again with back-off" "$T/server.log"
am_start
check "back: the start and clear it missed arrive, resolved" \
	wait_for 90 sh -c "[ \"\$(curl -sf '$AM/metrics' |
	sed -n 's/^alertmanager_alerts_received_total{status=\"resolved\",version=\"v2\"} //p')\" -ge 1 ]"
check "and nothing is active" am_count 0
check "the server said it delivered again" grep -q "alertmanager $AM: delivered again" "$T/server.log"

# down, an alert starts, the server restarts: it arrives once, with its start
am_stop
room 3
wait_for 10 sh -c "'$bin/aioctl' alerts -o json | jq -e '.alerts[] | select(.kind == \"room\" and .state == \"active\")' >/dev/null"
started=$(server_started_ms)
kill "$server"
wait "$server" 2>/dev/null
am_start
server_start
check "after both restarts the active alert arrives" wait_for 90 am_count 1
sleep_turns() { wait_for 10 sh -c "[ \"\$(curl -sf '$AM/metrics' |
	sed -n 's/^alertmanager_alerts_received_total{status=\"firing\",version=\"v2\"} //p')\" -ge 3 ]"; }
check "resent every 2 s while active" sleep_turns
check "once: one AioRoom for hv1" am_count 1
check "with the start from before the restart ($started)" \
	[ "$(am_rooms | jq -r '.[0].startsAt' | cut -c1-19)" = "$(echo "$started" | cut -c1-19)" ]
lib_summary
