#!/bin/bash
# aioctl's habits, as an operator types them, against a real aio-server
# and three real aio-agents on sysroots: short options, per-command help,
# fleet status filters and sorts, --no-headers, --watch, times as
# journalctl takes them, CSV refused where a command prints no rows, a
# client config with named contexts, host:port servers, refusals in the
# operator's words, and rollouts that lower the limit.
#   test_cli.sh BIN_DIR
set -u
. "$(dirname "$0")/lib.sh"
bin=$(cd "${1:?usage: test_cli.sh BIN_DIR}" && pwd) || exit 1
T=$(mktemp -d /tmp/aioctl-cli-XXXXXX)
cleanup() {
	[ -f "$T/pids" ] && xargs -r kill <"$T/pids" 2>/dev/null
	[ -n "${AIO_TEST_KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT INT TERM HUP

start_server "$bin" "$T/server" || { echo "FAIL: no server"; exit 1; }
aioctl() { "$bin/aioctl" "$@"; }
check "--server HOST:PORT means tcp://" aioctl fleet status --no-headers
# hv-1: room 3 contexts, limit 262144; hv-2 and db-1 nearly empty
start_agent hv-1 $((262144 - 3 * 1024)) 262144 r1
start_agent hv-2 1000 65536 r1
start_agent db-1 2000 131072 r2
wait_for 10 sh -c "'$bin/aioctl' fleet status --no-headers | wc -l | grep -qx 5" ||
	{ echo "FAIL: the agents never reported"; exit 1; }

names() { aioctl fleet status --no-headers "$@" | awk 'NF && $1 !~ /^[0-9]/ {print $1}' | tr '\n' ' '; }
check "fleet status: least room first by default ($(names))" [ "$(names)" = "hv-1 hv-2 db-1 " ]
check "--sort name" [ "$(names --sort name)" = "db-1 hv-1 hv-2 " ]
check "--sort name -r" [ "$(names --sort name -r)" = "hv-2 hv-1 db-1 " ]
check "--sort nr (most first)" [ "$(names --sort nr)" = "hv-1 db-1 hv-2 " ]
check "--sort max (most first)" [ "$(names --sort max)" = "hv-1 db-1 hv-2 " ]
check "--sort util" [ "$(names --sort util)" = "hv-1 db-1 hv-2 " ]
check "--sort seen" sh -c "'$bin/aioctl' fleet status --sort seen >/dev/null"
aioctl fleet status --sort bogus 2>"$T/err"
check "--sort bogus: exit 64, names the columns" [ $? -eq 64 ] && grep -q "room, util, nr, max, seen or name" "$T/err"
check "-l rack=r1 (--select)" [ "$(names -l rack=r1 --sort name)" = "hv-1 hv-2 " ]
check "--hosts 'hv-*,db-1' is a list of globs" [ "$(names --hosts 'hv-2,db-*' --sort name)" = "db-1 hv-2 " ]
aioctl fleet status --hosts 'nope-*' 2>"$T/err" >/dev/null
check "a selection that matches nothing says so (exit 3)" [ $? -eq 3 ] && grep -q "no host matches --hosts nope-\*" "$T/err"
check "-o csv --no-headers: rows only" sh -c "'$bin/aioctl' fleet status -o csv --no-headers | head -n 1 | grep -q '^hv-1,'"
check "-o csv: the header is the JSON keys" sh -c "'$bin/aioctl' fleet status -o csv | head -n 1 | grep -q '^host,aio_nr,aio_max_nr,room,utilization,'"
check "-o json" sh -c "'$bin/aioctl' fleet status -o json | jq -e '.hosts | length == 3' >/dev/null"

# --watch, not on a terminal: one JSON document appended per turn
aioctl fleet status -w 200ms -o json >"$T/watch.json" 2>&1 &
watcher=$!
echo $watcher >>"$T/pids"
docs() { [ "$(jq -s length "$T/watch.json" 2>/dev/null || echo 0)" -ge 3 ]; }
check "-w 200ms: a document per turn, appended" wait_for 10 docs
kill $watcher
aioctl alerts --watch=300ms >"$T/watch.txt" 2>&1 &
watcher=$!
echo $watcher >>"$T/pids"
check "alerts --watch=300ms: tables appended" wait_for 10 sh -c "[ \$(grep -c '^KIND\|^STATE\|active' '$T/watch.txt') -ge 2 ]"
kill $watcher

# help
check "aioctl help fleet status: its usage, options, examples" sh -c \
	"'$bin/aioctl' help fleet status | grep -q '^Usage: aioctl fleet status' &&
	 '$bin/aioctl' help fleet status | grep -q -- '-w, --watch' &&
	 '$bin/aioctl' help fleet status | grep -q '^Examples:'"
check "aioctl fleet status --help prints the same" \
	[ "$(aioctl fleet status --help)" = "$(aioctl help fleet status)" ]
check "aioctl -h is the whole help" sh -c "'$bin/aioctl' -h | grep -q '^Commands:'"
check "aioctl fleet lists its verbs" sh -c "'$bin/aioctl' fleet | grep -q '^  reconcile'"
check "aioctl fleet --help lists them too" sh -c "'$bin/aioctl' fleet --help | grep -q '^  drift'"
check "aioctl errors --help is the list verb's help" sh -c "'$bin/aioctl' errors --help | grep -q '^Usage: aioctl errors list'"
check "host show -o csv: nothing is an empty cell" sh -c "'$bin/aioctl' host show hv-1 -o csv | grep -q '^largest_vm_contexts,\$'"
check "aioctl help rollout lists its verbs" sh -c "'$bin/aioctl' help rollout | grep -q '^  rollback ID'"
aioctl help nope 2>/dev/null
check "aioctl help nope: exit 64" [ $? -eq 64 ]

# times
for t in 90min 1w 2h30m today yesterday "$(date -u +%Y-%m-%d)" \
	"$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)" "$(date -d '-1 hour' +%Y-%m-%dT%H:%M:%S+02:00)"; do
	check "errors --since '$t'" aioctl errors --since "$t"
done
aioctl errors --since soon 2>"$T/err"
check "--since soon: exit 64 with examples" [ $? -eq 64 ] && grep -q "examples: --since 90min" "$T/err"
aioctl errors --since 2099-01-01 2>/dev/null
check "--since in the future: exit 64" [ $? -eq 64 ]
check "history --since yesterday --until now" aioctl history hv-1 --since yesterday --until now

# CSV where there are rows, a refusal where there are none
for cmd in "fleet status" "fleet drift" "host show hv-1" "errors" "history hv-1" \
	"report trend" "rollout list" "alerts" "audit" "token list"; do
	# shellcheck disable=SC2086
	check "$cmd -o csv" aioctl $cmd -o csv
done
aioctl fleet set --max 2097152 --dry-run -o csv 2>"$T/err"
check "fleet set -o csv: refused, says why (exit 64)" [ $? -eq 64 ] && grep -q "no CSV output" "$T/err"

# lowering the limit: db-1 has 131072, hv-2 65536 (hv-1's usage refuses it)
aioctl fleet set --max 98304 --dry-run >"$T/dry.txt"
check "dry run: db-1 131072 -> 98304 live, marked" grep -q "^db-1 .*131072 -> 98304 .*LOWERS" "$T/dry.txt"
check "dry run: says it needs --allow-lower" grep -q "needs --allow-lower" "$T/dry.txt"
check "dry run: hv-2 65536 -> 98304 is not marked" sh -c "grep '^hv-2 .*65536 -> 98304' '$T/dry.txt' | grep -qv LOWERS"
aioctl fleet set --max 98304 --yes --soak 0s 2>"$T/err" >/dev/null
check "fleet set lowering without --allow-lower: refused (exit 1)" [ $? -eq 1 ] &&
	grep -q "lowers fs.aio-max-nr on 1 host (db-1: 131072 -> 98304)" "$T/err"
check "and nothing changed" [ "$(cat "$T/db-1/proc/sys/fs/aio-max-nr")" = 131072 ]
aioctl fleet set --max 98304 --allow-lower --yes --soak 0s >/dev/null 2>&1
check "with --allow-lower it runs: db-1 now 98304" [ "$(cat "$T/db-1/proc/sys/fs/aio-max-nr")" = 98304 ]

aioctl rollout show 1 -w 200ms >"$T/watch-ro.txt" 2>&1 &
watcher=$!
echo $watcher >>"$T/pids"
check "rollout show -w 200ms: shown again and again" \
	wait_for 10 sh -c "[ \$(grep -c '^Rollout 1:' '$T/watch-ro.txt') -ge 2 ]"
kill $watcher

# roles in the operator's words
aioctl token create --name alice --role viewer >"$T/alice.token" 2>/dev/null
AIOCTL_TOKEN_FILE=$T/alice.token "$bin/aioctl" fleet set --max 262144 --yes 2>"$T/err"
check "a viewer's rollout: exit 4" [ $? -eq 4 ]
check "'viewer alice may not start rollouts: needs operator'" \
	grep -q "viewer alice may not start rollouts: needs operator" "$T/err"

# a client config with contexts
mkdir -p "$T/home/.config/aioctl"
cat >"$T/home/.config/aioctl/config" <<EOF
context = local
[context local]
server = tcp://127.0.0.1:$pm
token-file = $T/server/admin.token
[context nowhere]
server = tcp://127.0.0.1:1
EOF
ctx() { env -u AIOCTL_SERVER -u AIOCTL_TOKEN_FILE HOME="$T/home" "$bin/aioctl" "$@"; }
check "the config's own context" ctx fleet status --no-headers
check "--context local" ctx --context local fleet status --no-headers
ctx --context nowhere --timeout 1s fleet status >/dev/null 2>"$T/err"
check "--context nowhere: its server (unreachable, exit 2)" [ $? -eq 2 ] && grep -q "127.0.0.1:1" "$T/err"
ctx --context nope fleet status 2>"$T/err"
check "--context nope: exit 64, says so" [ $? -eq 64 ] && grep -q "no \[context nope\]" "$T/err"
check "a flag wins over the context" ctx --context nowhere --server "127.0.0.1:$pm" \
	--token-file "$T/server/admin.token" fleet status --no-headers
printf '[context x]\nbogus = 1\n' >"$T/bad.conf"
AIOCTL_CONFIG=$T/bad.conf "$bin/aioctl" fleet status 2>"$T/err"
check "a bad config: exit 64, names the file and key" [ $? -eq 64 ] && grep -q "bad.conf: bogus" "$T/err"
lib_summary
