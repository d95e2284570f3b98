#!/bin/bash
# The daemons' logs in a real journal: Debian's systemd-journald, started
# directly (systemd is not PID 1 here) in a private mount namespace, and
# aio-server with its stderr on journald's stdout stream (systemd-cat) and
# JOURNAL_STREAM naming that stream, as systemd sets it for a unit. Its
# rollout and alert entries carry PRIORITY, MESSAGE_ID, AIOCTL_ROLLOUT,
# AIOCTL_HOST and AIOCTL_ALERT; with stderr redirected elsewhere the same
# variable gives plain text.
#   test_journal.sh BIN_DIR
# Exit 77 (skipped) without root or journald.
set -u
. "$(dirname "$0")/lib.sh"
bin=${1:?usage: test_journal.sh BIN_DIR}
bin=$(cd "$bin" && pwd) || exit 1 # the hook and namespaces need it absolute
[ "$(id -u)" -eq 0 ] || { echo "skipped: needs root"; exit 77; }
for p in /lib/systemd/systemd-journald /usr/bin/systemd-cat /usr/bin/journalctl /usr/bin/jq; do
	[ -x "$p" ] || { echo "skipped: $p missing (deploy/install-deps.sh)"; exit 77; }
done

if [ "${AIO_IN_NS:-}" != 1 ]; then
	T=$(mktemp -d /var/tmp/aioctl-journal-XXXXXX)
	export T AIO_IN_NS=1
	restore() {
		[ -f "$T/pids" ] && xargs -r kill -9 <"$T/pids" 2>/dev/null
		[ -n "${AIO_TEST_KEEP:-}" ] || rm -rf "$T"
	}
	trap restore EXIT INT TERM HUP
	unshare -m --propagation private "$0" "$@"
	exit $?
fi

# ---------------------------------------------------------------- inside
mkdir -p /run/systemd /run/log /var/log/journal "$T/journal" "$T/root/proc/sys/fs"
mount -t tmpfs tmpfs /run/systemd
mount -t tmpfs tmpfs /run/log
mount --bind "$T/journal" /var/log/journal
/lib/systemd/systemd-journald >"$T/journald.log" 2>&1 &
echo $! >>"$T/pids"
wait_for 10 test -S /run/systemd/journal/stdout || { echo "FAIL: journald"; exit 1; }

# room for 3 more contexts: the room alert (under 4) starts
echo $((65536 - 3 * 1024)) >"$T/root/proc/sys/fs/aio-nr"
echo 65536 >"$T/root/proc/sys/fs/aio-max-nr"
for try in 1 2 3 4 5; do
	A="tcp://127.0.0.1:$(random_port)" M="tcp://127.0.0.1:$(random_port)" H="http://127.0.0.1:$(random_port)"
	# what systemd does for StandardError=journal: the stream, and its
	# device and inode in JOURNAL_STREAM
	systemd-cat -t aio-server sh -c 'JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2) \
		exec "$0" "$@"' "$bin/aio-server" --listen "$A" --admin-listen "$M" --http-listen "$H" \
		--state-dir "$T/server" --alert-interval 200ms &
	server=$!
	echo $server >>"$T/pids"
	export AIOCTL_SERVER=$M AIOCTL_TOKEN_FILE=$T/server/admin.token
	server_started $server "$bin/aioctl" fleet status >/dev/null 2>&1 && break
done
aioctl() { "$bin/aioctl" "$@"; }
aioctl enroll create --host hv1 >"$T/enroll" || { echo "FAIL: no server"; exit 1; }
"$bin/aio-agent" --server "$A" --host-id hv1 --sysroot "$T/root" --interval 200ms \
	--state-dir "$T/agent" --enroll-token-file "$T/enroll" >"$T/agent.log" 2>&1 &
echo $! >>"$T/pids"
wait_for 10 sh -c "'$bin/aioctl' fleet status --output json | jq -e '.hosts | length == 1' >/dev/null"
aioctl fleet set --max 131072 --soak 1s --yes >"$T/set.out" 2>&1
check "fleet set --max 131072 --yes exits 0" [ $? -eq 0 ]

# journalctl --output json FIELD=VALUE: the entries of the server's stream
entries() { journalctl --no-pager --output json "$@" 2>/dev/null; }
rollout_entries() {
	entries MESSAGE_ID=f28cf9ec355140d096cdbca84c72feba >"$T/rollout.json" &&
		jq -se 'map(select(.AIOCTL_ROLLOUT == "1" and .PRIORITY == "6" and
			.SYSLOG_IDENTIFIER == "aio-server")) |
			(map(.MESSAGE) | any(test("^rollout 1: create by admin@127.0.0.1: max 131072, 1 hosts$"))) and
			(map(.MESSAGE) | any(test("^rollout 1: finish by admin@127.0.0.1: completed$")))' \
			"$T/rollout.json" >/dev/null
}
check "the rollout's creation and end are journal entries with MESSAGE_ID and AIOCTL_ROLLOUT" \
	wait_for 20 rollout_entries
alert_entry() {
	entries MESSAGE_ID=e00a035e93db4b1988ef1cc104efd378 AIOCTL_HOST=hv1 >"$T/alert.json" &&
		jq -se 'any(.[]; .AIOCTL_ALERT == "room" and .PRIORITY == "4" and
			(.MESSAGE | test("^alert: room hv1: room for 3 more")))' "$T/alert.json" >/dev/null
}
check "the room alert is a warning with AIOCTL_HOST and AIOCTL_ALERT" wait_for 20 alert_entry
check "no priority prefix reached the journal as text" \
	sh -c "! journalctl --no-pager -o cat -t aio-server | grep -q '^<[0-9]>'"

# the variable inherited, stderr redirected: plain text, as in a terminal
JOURNAL_STREAM=1:1 "$bin/aio-server" --listen "tcp://127.0.0.1:$(random_port)" \
	--admin-listen "tcp://127.0.0.1:$(random_port)" --http-listen '' --state-dir "$T/plain" \
	>"$T/plain.log" 2>&1 &
plain=$!
echo $plain >>"$T/pids"
wait_for 10 grep -qs "ready" "$T/plain.log"
check "stderr not the journal's stream: plain text lines" \
	grep -q "^[0-9:.]* aio-server\[info\]: aio-server .* ready" "$T/plain.log"
kill "$plain" 2>/dev/null

lib_summary
