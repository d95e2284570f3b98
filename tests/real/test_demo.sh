#!/bin/bash
# What a new user does: deploy/demo.sh, then every command the README's
# "poke it" block and the demo's closing hints say to run, in that order,
# each checked for its effect. The demo runs in a scratch directory on its
# own ports, with the build tree it is given.
#   test_demo.sh SOURCE_DIR BUILD_DIR
set -u
. "$(dirname "$0")/lib.sh"
src=${1:?usage: test_demo.sh SOURCE_DIR BUILD_DIR}
build=${2:?usage: test_demo.sh SOURCE_DIR BUILD_DIR}
work=$(mktemp -d /tmp/aioctl-demo-XXXXXX)
export AIOCTL_DEMO_DIR=$work/demo AIOCTL_BUILD_DIR=$build
export AIOCTL_DEMO_PORT=$(random_port)
cleanup() {
	"$src/deploy/demo.sh" stop >/dev/null 2>&1
	[ -n "${AIO_TEST_KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT INT TERM HUP
cd "$work" || exit 1


check "deploy/demo.sh starts a server and four agents" \
	sh -c "'$src/deploy/demo.sh' > demo.out 2>&1"
cat demo.out
d=$AIOCTL_DEMO_DIR
b=$build/bin
check "the demo prints the fleet" grep -q "hv-0042" demo.out

# the hints, as the demo printed them: run each line as it stands
hints=$(sed -n '/^The demo keeps running. Try:/,/^Stop it with/p' demo.out | sed '1d;$d')
echo "$hints" >hints.txt
run_hint() { # run_hint N: the Nth hint line, in this shell
	local line
	line=$(sed -n "${1}p" hints.txt)
	echo "\$ $line" >&2
	eval "$line"
}
n=$(wc -l <hints.txt)
check "the demo prints its hints" [ "$n" -ge 10 ]

i=1
# export AIOCTL_SERVER (own port), export AIOCTL_TOKEN_FILE
while sed -n "${i}p" hints.txt | grep -q '^ *export '; do
	run_hint $i
	i=$((i + 1))
done
check "the token file the hint names exists" test -s "$AIOCTL_TOKEN_FILE"

# README: fleet status --sort util
check "aioctl fleet status --sort util" sh -c "'$b/aioctl' fleet status --sort util > status.txt"
check "  lists the four hosts" [ "$(grep -c 'online' status.txt)" -ge 4 ]

run_hint $i >host.txt; rc=$?
check "aioctl host show hv-0042" [ $rc -eq 0 ]
check "  shows its room" grep -q "Room: *2 more 1024-event contexts" host.txt
i=$((i + 1))

run_hint $i >fleet.json; rc=$?
check "aioctl fleet status --output json" [ $rc -eq 0 ]
check "  has hv-0042 at 63488 of 65536, room 2" \
	jqe '.hosts[] | select(.host == "hv-0042" and .aio_nr == 63488 and .room == 2)' fleet.json
i=$((i + 1))

run_hint $i
shows_65000() {
	"$b/aioctl" fleet status --output json >f2.json &&
		jqe '.hosts[] | select(.host == "hv-0042" and .aio_nr == 65000)' f2.json
}
check "echo 65000 > .../aio-nr shows within an interval" wait_for 10 shows_65000
i=$((i + 1))

alerted() {
	"$b/aioctl" alerts --output json >alerts.json &&
		jqe '.alerts[] | select(.subject == "hv-0042" and .kind == "utilization")' alerts.json &&
		jqe '.alerts[] | select(.subject == "hv-0042" and .kind == "room")' alerts.json
}
check "aioctl alerts: hv-0042's utilisation and room alerts within 15 s" wait_for 20 alerted
run_hint $i >alerts.txt
check "  the table names them" grep -q "room" alerts.txt
i=$((i + 1))

run_hint $i >history.txt; rc=$?
check "aioctl history hv-0042 --since 1h --step 1m" [ $rc -eq 0 ]
check "  has points" grep -q "points, one per 1m" history.txt
i=$((i + 1))

run_hint $i; rc=$?
check "aioctl report trend --output html > capacity.html" [ $rc -eq 0 ]
check "  a page with charts" grep -q "<svg" capacity.html
i=$((i + 1))

run_hint $i >dryrun.txt; rc=$?
check "fleet set --dry-run" [ $rc -eq 0 ]
check "  changes nothing" [ "$(cat "$d/sysroot/hv-0041/proc/sys/fs/aio-max-nr")" = 65536 ]
i=$((i + 1))

for h in hv-0041 hv-0042 hv-0043; do
	check "$h has no /etc/sysctl.d, as a minimal host" test ! -e "$d/sysroot/$h/etc/sysctl.d"
done
run_hint $i >set.txt; rc=$?
cat set.txt
check "fleet set --max 2097152 --hosts 'hv-*' --soak 2s --yes exits 0" [ $rc -eq 0 ]
for h in hv-0041 hv-0042 hv-0043; do
	r=$d/sysroot/$h
	check "$h: live 2097152" [ "$(cat "$r/proc/sys/fs/aio-max-nr")" = 2097152 ]
	check "$h: after reboot 2097152" grep -q "^fs.aio-max-nr = 2097152" \
		"$r/etc/sysctl.d/zz-aioctl.conf"
	check "$h: sysctl.d made 0755" [ "$(stat -c %a "$r/etc/sysctl.d")" = 755 ]
done
i=$((i + 1))

run_hint $i >list.txt; rc=$?
check "aioctl rollout list" [ $rc -eq 0 ]
check "  shows rollout 1 completed" grep -qE "^1 +completed" list.txt
i=$((i + 1))

run_hint $i >rollback.txt; rc=$?
cat rollback.txt
check "aioctl rollout rollback 1 exits 0 when it completes" [ $rc -eq 0 ]
for h in hv-0041 hv-0042 hv-0043; do
	r=$d/sysroot/$h
	check "$h: file removed" test ! -e "$r/etc/sysctl.d/zz-aioctl.conf"
done
check "hv-0041 live limit back" [ "$(cat "$d/sysroot/hv-0041/proc/sys/fs/aio-max-nr")" = 65536 ]
check "hv-0043 live limit back" [ "$(cat "$d/sysroot/hv-0043/proc/sys/fs/aio-max-nr")" = 1048576 ]

# the README's other commands against the same demo
check "aioctl fleet drift" "$b/aioctl" fleet drift
check "aioctl audit --since 7d names the rollout" sh -c "'$b/aioctl' audit --since 7d | grep -q rollback"
check "aioctl fleet status --live --timeout 2s" "$b/aioctl" fleet status --live --timeout 2s
check "aioctl errors" "$b/aioctl" errors
check "aioctl rollout show 1" "$b/aioctl" rollout show 1
check "aioctl server list: one server, the leader, on SQLite" sh -c \
	"'$b/aioctl' server list | grep -q 'leader' && '$b/aioctl' server list | grep -q 'on sqlite'"

# the README's web commands, on the demo's own http port
web=$(sed -n 's|^The web console: \(http://[^ ]*\)/ui/ .*|\1|p' demo.out)
check "the demo names the web console ($web)" sh -c "curl -sf '$web/ui/' | grep -q '/ui/app.js'"
TOKEN=$("$b/aioctl" token create --name ci --role viewer)
check "README: a viewer token's /api/v1/hosts?sort=util&select=rack%3Dr1" sh -c \
	"curl -s -H 'Authorization: Bearer $TOKEN' '$web/api/v1/hosts?sort=util&select=rack%3Dr1' | jq -e '[.hosts[].host] == [\"hv-0042\",\"hv-0041\"]' >/dev/null"
check "README: /api/v1/hosts/hv-0042" sh -c \
	"curl -s -H 'Authorization: Bearer $TOKEN' '$web/api/v1/hosts/hv-0042' | jq -e '.host == \"hv-0042\"' >/dev/null"
OPERATOR=$("$b/aioctl" token create --name ops --role operator)
check "README: an operator's dry run through the API" sh -c \
	"curl -s -H 'Authorization: Bearer $OPERATOR' -d '{\"max\": 2097152, \"hosts\": \"hv-*\", \"dry_run\": true}' '$web/api/v1/rollouts' | jq -e '.state == \"planned\"' >/dev/null"

check "deploy/demo.sh stop" "$src/deploy/demo.sh" stop
gone() { ! pgrep -f "$d/" >/dev/null; }
check "  nothing left running" wait_for 10 gone
lib_summary
