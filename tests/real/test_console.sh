#!/bin/bash
# The web console in a real browser: Debian's chromium driven by
# playwright-core (npm, pinned in tests/real/console) against a real
# aio-server and three real aio-agents on sysroots. A token logs in; the
# fleet page lists every agent with its sysroot's values; a rollout started
# from the page completes, and every sysroot holds the value live and after
# reboot; Pause pauses; a viewer sees no buttons and a forged POST is
# refused and audited; the console logs no error. Screenshots of each page
# are kept in BUILD_DIR/console-screenshots.
#   test_console.sh BIN_DIR
set -u
. "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
bin=$(cd "${1:?usage: test_console.sh BIN_DIR}" && pwd) || exit 1
for c in chromium node npm; do
	command -v $c >/dev/null || { echo "FAIL: no $c: run deploy/install-deps.sh"; exit 1; }
done
T=$(mktemp -d /tmp/aioctl-console-XXXXXX)
cleanup() {
	[ -f "$T/pids" ] && xargs -r kill <"$T/pids" 2>/dev/null
	[ -n "${AIO_TEST_KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT INT TERM HUP

# playwright-core, as its lock file pins it, once per build tree
mods=$bin/../console-node
if ! cmp -s "$here/console/package-lock.json" "$mods/package-lock.json" 2>/dev/null ||
	[ ! -d "$mods/node_modules/playwright-core" ]; then
	rm -rf "$mods" && mkdir -p "$mods" &&
		cp "$here/console/package.json" "$here/console/package-lock.json" "$mods/" &&
		(cd "$mods" && npm ci --no-audit --no-fund --silent) ||
		{ echo "FAIL: npm ci of playwright-core (the npm registry)"; exit 1; }
fi
cp "$here/console/console.mjs" "$mods/"
out=$bin/../console-screenshots
rm -rf "$out" && mkdir -p "$out"

start_server "$bin" "$T/server" || { echo "FAIL: no server"; exit 1; }
aioctl() { "$bin/aioctl" "$@"; }
start_agent hv-1 $((262144 - 3 * 1024)) 262144 r1
start_agent hv-2 1000 65536 r1
start_agent db-1 2000 131072 r2
wait_for 10 sh -c "'$bin/aioctl' fleet status -o json | jq -e '[.hosts[] | select(.aio_nr != null)] | length == 3' >/dev/null" ||
	{ echo "FAIL: the agents never reported"; exit 1; }
aioctl token create --name alice --role viewer >"$T/alice.token" 2>/dev/null

hosts=$(for h in hv-1 hv-2 db-1; do printf '"%s": %s,' $h "$(cat "$T/$h/proc/sys/fs/aio-max-nr")"; done)
URL=http://127.0.0.1:$ph ADMIN=$(cat "$T/server/admin.token") VIEWER=$(cat "$T/alice.token") \
	OUT=$out HOSTS="{${hosts%,}}" MAX=1048576 PAUSE_MAX=2097152 HOSTS_GLOB='hv-*' PAUSE_HOSTS=db-1 FULL_HOST=hv-1 \
	timeout 180 node "$mods/console.mjs" >"$T/browser.out" 2>&1
cat "$T/browser.out"
pass=$((pass + $(grep -c '^ok:' "$T/browser.out")))
fail=$((fail + $(grep -c '^FAIL:' "$T/browser.out")))
check "the browser session ended" grep -q '^ok: the console logged no error' "$T/browser.out"

id=$(sed -n 's/^rollout: //p' "$T/browser.out")
pid=$(sed -n 's/^paused: //p' "$T/browser.out")
for h in hv-1 hv-2; do
	check "$h holds the page's value live" [ "$(cat "$T/$h/proc/sys/fs/aio-max-nr")" = 1048576 ]
	check "  and after reboot (its sysctl file)" grep -rqs 'fs.aio-max-nr *= *1048576' "$T/$h/etc/sysctl.d"
done
check "db-1 holds only the paused rollout's canary step" \
	[ "$(cat "$T/db-1/proc/sys/fs/aio-max-nr")" = 2097152 ]
state() { [ -n "$1" ] && [ "$("$bin/aioctl" rollout show "$1" -o json | jq -r .state)" = "$2" ]; }
check "aioctl sees the page's rollout ${id:-?} completed" state "$id" completed
check "aioctl sees rollout ${pid:-?} paused from the page" state "$pid" paused
check "the forged POST is in the audit: alice@web denied" \
	sh -c "'$bin/aioctl' audit -o json | jq -e '[.entries[] | select(.who == \"alice@web\" and .action == \"denied\")] | length >= 1' >/dev/null"
n=$(ls "$out"/*.png 2>/dev/null | wc -l)
check "screenshots kept ($n in $out)" [ "$n" -ge 9 ]
lib_summary
