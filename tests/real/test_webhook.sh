#!/bin/bash
# Alerts to a JSON webhook (a chat tool's), with a receiver of the test's
# own (tests/real/webhook_receiver.py): each body carries a valid
# X-Aioctl-Signature; the first two pushes are refused and retried; the
# start and the clear each arrive once, and a server restart repeats
# neither.
#   test_webhook.sh BIN_DIR
set -u
. "$(dirname "$0")/lib.sh"
bin=$(cd "${1:?usage: test_webhook.sh BIN_DIR}" && pwd) || exit 1
here=$(cd "$(dirname "$0")" && pwd)
[ -x /usr/bin/python3 ] || { echo "FAIL: /usr/bin/python3 missing (deploy/install-deps.sh)"; exit 1; }
T=$(mktemp -d /tmp/aioctl-hook-XXXXXX)
cleanup() {
	[ -f "$T/pids" ] && xargs -r kill <"$T/pids" 2>/dev/null
	[ -n "${AIO_TEST_KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT INT TERM HUP

head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/secret"
hp=$(random_port)
/usr/bin/python3 "$here/webhook_receiver.py" "$hp" "$T/secret" "$T/bodies" 2 >"$T/hook.log" 2>&1 &
echo $! >>"$T/pids"
wait_for 10 bash -c "(exec 3<>/dev/tcp/127.0.0.1/$hp) 2>/dev/null" || { echo "FAIL: no receiver"; exit 1; }
server_start() {
	start_server "$bin" "$T/server" --alert-interval 200ms \
		--alert-webhook-url "http://127.0.0.1:$hp/hooks/aio" --alert-webhook-secret-file "$T/secret"
}
server_start || { echo "FAIL: no server"; exit 1; }
server_restart=1
mkdir -p "$T/hv1/proc/sys/fs"
room() { echo $((65536 - $1 * 1024)) >"$T/hv1/proc/sys/fs/aio-nr"; }
room 30
echo 65536 >"$T/hv1/proc/sys/fs/aio-max-nr"
"$bin/aioctl" enroll create --host hv1 >"$T/enroll" 2>/dev/null
"$bin/aio-agent" --server "tcp://127.0.0.1:$pa" --host-id hv1 --sysroot "$T/hv1" --interval 200ms \
	--state-dir "$T/agent" --enroll-token-file "$T/enroll" --label rack=r7 >"$T/agent.log" 2>&1 &
echo $! >>"$T/pids"

count() { # STATUS: AioRoom alerts of that status the receiver took
	[ -s "$T/bodies" ] || { echo 0; return; }
	jq -s "[.[].alerts[] | select(.labels.alertname == \"AioRoom\" and .status == \"$1\")] | length" \
		"$T/bodies"
}
is() { [ "$(count "$1")" = "$2" ]; } # STATUS N
room 3
check "the start arrives after two refusals" wait_for 30 is firing 1
check "the receiver refused two and took it" [ "$(grep -c '^refused' "$T/hook.log")" = 2 ]
check "every body was signed right" sh -c "! grep -q 'bad signature' '$T/hook.log'"
check "the server said so and retried" grep -q "webhook http://127.0.0.1:$hp/hooks/aio: HTTP 503; trying again" "$T/server.log"
check "with labels and annotations" jq -se '[.[].alerts[] | select(.status == "firing")][0] |
	.labels.host == "hv1" and .labels.rack == "r7" and .annotations.command == "aioctl host show hv1" and
	(.startsAt | length) > 0' "$T/bodies"
room 30
check "the clear arrives" wait_for 15 is resolved 1
kill "$server"
wait "$server" 2>/dev/null
server_start
room 3
check "after a restart the next start arrives" wait_for 15 is firing 2
check "and nothing told before came again" [ "$(count resolved)" = 1 ]
lib_summary
