#!/bin/bash
# Real libvirt: Debian's libvirtd, virtlogd and journald, started directly
# (systemd is not PID 1 here) in a private mount namespace whose libvirt,
# journal and sysctl.d paths are scratch directories, with the real
# aio-server, aio-agent and aioctl on loopback. The agent starts before
# journald, as on a host where journald comes up later. Three real AIO
# failures need the real limit lowered: fs.aio-max-nr is saved, lowered for
# about a second per failure and restored on every exit path.
#   test_libvirt.sh BIN_DIR
# Exit 77 (skipped) without root or libvirt.
set -u
. "$(dirname "$0")/lib.sh"
bin=${1:?usage: test_libvirt.sh BIN_DIR}
bin=$(cd "$bin" && pwd) || exit 1 # the hook and namespaces need it absolute
[ "$(id -u)" -eq 0 ] || { echo "skipped: needs root"; exit 77; }
for p in /usr/sbin/libvirtd /usr/sbin/virtlogd /usr/bin/virsh /lib/systemd/systemd-journald \
	/usr/bin/qemu-system-x86_64; do
	[ -x "$p" ] || { echo "skipped: $p missing (deploy/install-deps.sh)"; exit 77; }
done

if [ "${AIO_IN_NS:-}" != 1 ]; then
	T=$(mktemp -d /var/tmp/aioctl-libvirt-XXXXXX)
	export T AIO_IN_NS=1
	orig=$(cat /proc/sys/fs/aio-max-nr)
	export AIO_ORIG_MAX=$orig
	# whatever happens inside, the limit comes back and no daemon is left
	restore() {
		echo "$orig" >/proc/sys/fs/aio-max-nr
		[ -f "$T/pids" ] && xargs -r kill -9 <"$T/pids" 2>/dev/null
		pkill -9 -f "guest=aiot-" 2>/dev/null
		[ -n "${AIO_TEST_KEEP:-}" ] || rm -rf "$T"
	}
	trap restore EXIT INT TERM HUP
	unshare -m --propagation private "$0" "$@"
	rc=$?
	[ "$(cat /proc/sys/fs/aio-max-nr)" = "$orig" ] || echo "restoring fs.aio-max-nr to $orig"
	exit $rc
fi

# ---------------------------------------------------------------- inside
lower() { # room for $1 events more than now
	echo $(($(cat /proc/sys/fs/aio-nr) + $1)) >/proc/sys/fs/aio-max-nr
}
restore_max() { echo "$AIO_ORIG_MAX" >/proc/sys/fs/aio-max-nr; }
trap restore_max EXIT

mkdir -p "$T"/{etc,lib,log,cache,journal,img,server,agent,sysctl}
cp -a /etc/libvirt "$T/etc/libvirt"
# QEMU as root: /dev/kvm is root's alone on this machine
printf 'user = "root"\ngroup = "root"\n' >>"$T/etc/libvirt/qemu.conf"
mount --bind "$T/etc/libvirt" /etc/libvirt
mkdir -p /run/libvirt /var/lib/libvirt /var/log/libvirt /var/cache/libvirt /var/log/journal \
	/run/systemd /run/log /etc/sysctl.d
mount -t tmpfs tmpfs /run/libvirt
mount --bind "$T/lib" /var/lib/libvirt
mount --bind "$T/log" /var/log/libvirt
mount --bind "$T/cache" /var/cache/libvirt
mount --bind "$T/journal" /var/log/journal
mount --bind "$T/sysctl" /etc/sysctl.d
mount -t tmpfs tmpfs /run/systemd
mount -t tmpfs tmpfs /run/log

for try in 1 2 3 4 5; do
	A="tcp://127.0.0.1:$(random_port)" M="tcp://127.0.0.1:$(random_port)" H="http://127.0.0.1:$(random_port)"
	"$bin/aio-server" --listen "$A" --admin-listen "$M" --http-listen "$H" \
		--state-dir "$T/server" --alert-interval 500ms >"$T/server.log" 2>&1 &
	echo $! >>"$T/pids"
	export AIOCTL_SERVER=$M AIOCTL_TOKEN_FILE=$T/server/admin.token
	wait_for 10 "$bin/aioctl" fleet status >/dev/null 2>&1 && break
done
aioctl() { "$bin/aioctl" "$@"; }
# jq -e that fails on an empty or missing file too
aioctl enroll create --host lv >"$T/enroll" || { echo "FAIL: no server"; exit 1; }

# the guard, as the README installs it, in this namespace's copy of
# /etc/libvirt (libvirtd finds its hooks when it starts); off until its
# part: the failures below are QEMU's own. It shares the agent's state dir,
# which reports its decisions.
mkdir -p /etc/libvirt/hooks/qemu.d
guard_conf() { # POLICY
	printf 'sysroot = /\nstate-dir = %s\nguard = %s\nlimit-min = 1024\nlimit-max = %s\n' \
		"$T/agent" "$1" $((AIO_ORIG_MAX > 1048576 ? AIO_ORIG_MAX : 1048576)) >"$T/guard.conf"
}
guard_conf off
sed -e "s|@AIO_AGENT_PATH@|$bin/aio-agent|" -e "s|@AIO_HOOK_PATH@|hook|" \
	-e "s|/etc/aioctl/agent.conf|$T/guard.conf|" "$(dirname "$0")/../../deploy/libvirt-hook-qemu.in" \
	>/etc/libvirt/hooks/qemu.d/10-aioctl-guard
chmod 0755 /etc/libvirt/hooks/qemu.d/10-aioctl-guard

# the agent first: no journald yet, and no journal directory with files
"$bin/aio-agent" --server "$A" --host-id lv --sysroot / --interval 300ms \
	--attribution-interval 1s --journal-backlog 0 --state-dir "$T/agent" \
	--enroll-token-file "$T/enroll" --log-level debug >"$T/agent.log" 2>&1 &
echo $! >>"$T/pids"
check "the agent says it has no journal yet" \
	wait_for 10 grep -q "no journal to read" "$T/agent.log"

/lib/systemd/systemd-journald >"$T/journald.log" 2>&1 &
echo $! >>"$T/pids"
wait_for 10 test -S /run/systemd/journal/socket
# pid files of our own: a host's real libvirtd keeps /run/libvirtd.pid
virtlogd -d -p "$T/virtlogd.pid"
libvirtd -d -p "$T/libvirtd.pid"
wait_for 20 test -S /run/libvirt/libvirt-sock
# one pid a line: the files end without a newline
for f in "$T/virtlogd.pid" "$T/libvirtd.pid"; do echo "$(cat "$f")"; done >>"$T/pids"
virsh() { command virsh -c qemu:///system "$@"; }
accel=kvm
[ -w /dev/kvm ] || accel=qemu

# dom NAME IOTHREADS DISK...: DISK is io[:iothread]; the first disk boots,
# so its device (and an iothread's context) starts with the firmware
dom() {
	local name=$1 nio=$2 n=0 it
	shift 2
	echo "<domain type='$accel'><name>$name</name><memory unit='MiB'>64</memory>"
	echo "<vcpu>1</vcpu>"
	[ "$nio" -gt 0 ] && echo "<iothreads>$nio</iothreads>"
	echo "<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>"
	for spec in "$@"; do
		n=$((n + 1))
		it=""
		case $spec in *:*) it=" iothread='${spec#*:}'" ;; esac
		truncate -s 8M "$T/img/$name-$n.img"
		echo "<disk type='file' device='disk'><driver name='qemu' type='raw' cache='none'"
		echo " io='${spec%%:*}'$it/><source file='$T/img/$name-$n.img'/>"
		echo "<target dev='vd$(printf "\\x$(printf %x $((96 + n)))")' bus='virtio'/>"
		[ $n = 1 ] && echo "<boot order='1'/>"
		echo "</disk>"
	done
	echo "<memballoon model='none'/></devices></domain>"
}
dom aiot-ok 0 native native >"$T/aiot-ok.xml"
dom aiot-fail 0 native >"$T/aiot-fail.xml"
dom aiot-degraded 1 native:1 native >"$T/aiot-degraded.xml"
dom aiot-hotplug 0 threads >"$T/aiot-hotplug.xml"
for d in ok fail degraded hotplug; do virsh define "$T/aiot-$d.xml" >/dev/null; done

check "the agent picks up the journal once journald writes it" \
	wait_for 15 grep -q "journal appeared" "$T/agent.log"

# a VM that starts: two main-loop disks are one context, counted exactly
virsh start aiot-ok >/dev/null
users_ok() {
	aioctl host show lv --output json >"$T/host.json" 2>/dev/null &&
		jqe '.users[] | select(.name == "aiot-ok" and .contexts == 1 and .events == 1024
			and .events_exact)' "$T/host.json"
}
check "virsh start: aiot-ok holds one exact 1024-event context" wait_for 15 users_ok

# 1: the start fails for want of room
lower 512
virsh start aiot-fail >"$T/fail.out" 2>&1
restore_max
check "virsh start fails with QEMU's AIO error" grep -q "Unable to use native AIO" "$T/fail.out"

# 2: room for the main loop only; the iothread's context falls back
lower 1536
virsh start aiot-degraded >/dev/null 2>&1
wait_for 10 grep -q "falling back to thread pool" /var/log/libvirt/qemu/aiot-degraded.log
restore_max
check "QEMU 7.2 falls back for the iothread" \
	grep -q "falling back to thread pool" /var/log/libvirt/qemu/aiot-degraded.log

# 3: a hotplugged native disk needs the first main-loop context
virsh start aiot-hotplug >/dev/null
truncate -s 8M "$T/img/hp.img"
lower 512
virsh attach-disk aiot-hotplug "$T/img/hp.img" vdz --driver qemu --subdriver raw \
	--cache none --io native --live >"$T/hotplug.out" 2>&1
restore_max
check "attach-disk fails with QEMU's AIO error" grep -q "blockdev-add" "$T/hotplug.out"

events_in() {
	aioctl errors --host lv --output json >"$T/errors.json" 2>/dev/null &&
		[ "$(jq '.events | length' "$T/errors.json")" = 3 ] &&
		[ "$(jq '[.events[] | select(.kind == "failed")][0].sources | length' \
			"$T/errors.json")" = 2 ]
}
check "three failures are three events" wait_for 20 events_in
check "the failed start names its VM, disk and both sources" jqe '.events[] |
	select(.kind == "failed" and .vm == "aiot-fail" and .disk == "libvirt-1-storage"
	and (.sources | index("journal:libvirtd")) and
	(.sources | index("/var/log/libvirt/qemu/aiot-fail.log")))' "$T/errors.json"
check "the fallback is degraded, named by its log" jqe '.events[] |
	select(.kind == "degraded" and .vm == "aiot-degraded")' "$T/errors.json"
check "the hotplug failure is hotplug-failed" jqe '.events[] |
	select(.kind == "hotplug-failed")' "$T/errors.json"

# room as the kernel has it now
room_right() {
	local nr max
	aioctl fleet status --output json >"$T/fleet.json" 2>/dev/null || return 1
	nr=$(cat /proc/sys/fs/aio-nr)
	max=$(cat /proc/sys/fs/aio-max-nr)
	[ -s "$T/fleet.json" ] && jq -e --argjson nr "$nr" --argjson room $(((max - nr) / 1024)) \
		'.hosts[] | select(.host == "lv" and .aio_nr == $nr and .room == $room)' \
		"$T/fleet.json" >/dev/null
}
check "fleet status shows the room in contexts" wait_for 10 room_right

for d in ok degraded hotplug; do virsh destroy "aiot-$d" >/dev/null 2>&1; done

# the guard: room for one context, a domain that needs two (the main loop
# and an iothread; QEMU 7.2 would start it degraded)
dom aiot-two 1 native native:1 >"$T/aiot-two.xml"
for i in 1 2 3 4; do dom "aiot-one$i" 0 native >"$T/aiot-one$i.xml"; done
for d in two one1 one2 one3 one4; do virsh define "$T/aiot-$d.xml" >/dev/null; done
running() { virsh domstate "$1" 2>/dev/null | grep -q running; }
guard_conf refuse
lower 1536
virsh start aiot-two >"$T/two.out" 2>&1
restore_max
check "refuse: virsh start shows the guard's line" \
	grep -q "aio-guard: domain aiot-two needs 2 AIO contexts (2048 events); this host has room for 1" \
	"$T/two.out"
# (the bracket keeps pgrep from finding its own command line)
check "refuse: QEMU never ran" sh -c "! pgrep -f 'gues[t]=aiot-two' >/dev/null"

guard_conf raise
lower 1536
lowered=$(cat /proc/sys/fs/aio-max-nr)
virsh start aiot-two >"$T/two.out" 2>&1
raised=$(cat /proc/sys/fs/aio-max-nr)
check "raise: it starts" running aiot-two
check "raise: fs.aio-max-nr raised ($lowered -> $raised), to a power of two" \
	test "$raised" -gt "$lowered" -a $((raised & (raised - 1))) = 0
check "raise: and kept for the next boot" grep -q "^fs.aio-max-nr = $raised\$" /etc/sysctl.d/zz-aioctl.conf
check "raise: no fallback in QEMU's log" \
	sh -c "! grep -q 'falling back' /var/log/libvirt/qemu/aiot-two.log"
virsh destroy aiot-two >/dev/null 2>&1
restore_max

# four starts at once, room for two: exactly two start, two are refused
# by the guard, and none fails inside QEMU
guard_conf refuse
wait_for 10 sh -c "! pgrep -f 'gues[t]=aiot-two' >/dev/null"
lower 2560
starts=""
for i in 1 2 3 4; do
	virsh start "aiot-one$i" >"$T/one$i.out" 2>&1 &
	starts="$starts $!"
done
# shellcheck disable=SC2086
wait $starts
restore_max
started=0 refused=0
for i in 1 2 3 4; do
	running "aiot-one$i" && started=$((started + 1))
	grep -q "aio-guard: domain aiot-one$i needs 1 AIO context" "$T/one$i.out" && refused=$((refused + 1))
done
check "four at once, room for two: two start ($started)" test "$started" = 2
check "and two are refused by the guard ($refused)" test "$refused" = 2
check "none fails inside QEMU" sh -c "! grep -l 'Unable to use native AIO' \
	/var/log/libvirt/qemu/aiot-one*.log 2>/dev/null | grep -q ."
for i in 1 2 3 4; do virsh destroy "aiot-one$i" >/dev/null 2>&1; done
guard_events() {
	aioctl errors --host lv --output json >"$T/guard.json" 2>/dev/null &&
		[ "$(jq '[.events[] | select(.kind == "guard-refused")] | length' "$T/guard.json")" = 3 ] &&
		jqe '.events[] | select(.kind == "guard-raised" and .vm == "aiot-two")' "$T/guard.json"
}
check "the server lists the guard's decisions: one raise, three refusals" wait_for 15 guard_events
largest_demand() {
	aioctl fleet status --output json |
		jq -e '.hosts[] | select(.host == "lv" and .largest_demand_contexts == 2)' >/dev/null
}
check "fleet status knows the largest domain that asked to start (2 contexts)" largest_demand
guard_alert() {
	aioctl alerts --output json 2>/dev/null |
		jq -e '.alerts[] | select(.kind == "guard" and .subject == "lv" and .state == "active")' >/dev/null
}
check "and alerts on the guard's decisions" wait_for 10 guard_alert

kill "$(cat "$T/libvirtd.pid")" "$(cat "$T/virtlogd.pid")" 2>/dev/null
lib_summary
