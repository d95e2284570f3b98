#!/bin/bash
# The Debian packages on a fresh Debian 12: deploy/build-debs.sh builds
# them, debootstrap makes a minimal bookworm root, and `apt-get install
# ./*.deb` there pulls what dpkg-shlibdeps named. Then: the files, the
# conffiles, `systemd-analyze verify` of the installed units, enabled and
# not started; the installed binaries started from their installed paths
# with the shipped configs (in a network namespace of their own, so the
# shipped ports are free) and `aioctl fleet status` against them; remove
# keeps config and state, purge takes them. Lintian's verdict is printed.
#   test_packages.sh SOURCE_DIR
# Exit 77 (skipped) without root or debootstrap. Needs Debian's mirror.
set -u
. "$(dirname "$0")/lib.sh"
src=$(cd "${1:?usage: test_packages.sh SOURCE_DIR}" && pwd) || exit 1
[ "$(id -u)" -eq 0 ] || { echo "skipped: needs root"; exit 77; }
for p in /usr/sbin/debootstrap /usr/bin/cpack /usr/bin/unshare; do
	[ -x "$p" ] || { echo "skipped: $p missing (deploy/install-deps.sh)"; exit 77; }
done
mirror=$(sed -n 's/^URIs: \(http[^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null |
	head -n 1)
mirror=${mirror:-http://deb.debian.org/debian}

T=$(mktemp -d /var/tmp/aioctl-packages-XXXXXX)
R=$T/root
cleanup() {
	for m in "$R/proc" "$R/dev/pts" "$R/dev" "$R/sys"; do umount -l "$m" 2>/dev/null; done
	[ -n "${AIO_TEST_KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT INT TERM HUP
in_root() { chroot "$R" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 \
	DEBIAN_FRONTEND=noninteractive "$@"; }

echo "== building the packages"
"$src/deploy/build-debs.sh" >"$T/build.log" 2>&1 || { tail -20 "$T/build.log"; exit 1; }
debs=$(ls "$src"/build-deb/*.deb)
check "three packages built" [ "$(echo "$debs" | wc -l)" = 3 ]
lintian --tag-display-limit 0 $debs >"$T/lintian.txt" 2>&1
echo "lintian: $(grep -c '^E:' "$T/lintian.txt") errors, $(grep -c '^W:' "$T/lintian.txt") warnings"
sed 's/^/  /' "$T/lintian.txt" | grep -v 'root privileges'
check "lintian finds no error" sh -c "! grep -q '^E:' '$T/lintian.txt'"

echo "== a fresh Debian 12 root ($mirror)"
debootstrap --variant=minbase bookworm "$R" "$mirror" >"$T/debootstrap.log" 2>&1 ||
	{ tail -20 "$T/debootstrap.log"; exit 1; }
cp /etc/resolv.conf "$R/etc/resolv.conf" 2>/dev/null
mount -t proc proc "$R/proc"
mount --bind /dev "$R/dev"
mkdir -p "$R/tmp/debs" && cp $debs "$R/tmp/debs/"
# what a hypervisor has anyway: systemd, and man-db (systemd-analyze verify
# opens the units' Documentation= pages with it)
in_root apt-get update -qq >"$T/apt.log" 2>&1
in_root apt-get install -y -qq --no-install-recommends systemd man-db >>"$T/apt.log" 2>&1
in_root sh -c 'apt-get install -y -qq --no-install-recommends /tmp/debs/*.deb' >>"$T/apt.log" 2>&1
check "apt-get install ./*.deb into the fresh root" [ $? -eq 0 ] || tail -20 "$T/apt.log"

for f in /usr/bin/aio-agent /usr/bin/aio-server /usr/bin/aioctl \
	/lib/systemd/system/aio-agent.service /lib/systemd/system/aio-server.service \
	/etc/aioctl/agent.conf /etc/aioctl/server.conf /usr/share/aioctl/libvirt-hook-qemu \
	/usr/share/man/man1/aioctl.1.gz /usr/share/man/man8/aio-agent.8.gz \
	/usr/share/man/man8/aio-server.8.gz /usr/share/man/man5/aioctl.conf.5.gz \
	/usr/share/bash-completion/completions/aioctl /usr/share/doc/aioctl/copyright; do
	[ -e "$R$f" ] || missing="${missing:-} $f"
done
check "every file where Debian puts it${missing:+ (missing:$missing)}" [ -z "${missing:-}" ]
conffiles() { in_root dpkg-query -W -f='${Conffiles}\n' "$1" | awk '{print $1}' | grep .; }
check "the configs are conffiles" \
	[ "$(conffiles aioctl-agent)" = /etc/aioctl/agent.conf -a \
	"$(conffiles aioctl-server)" = /etc/aioctl/server.conf ]
in_root systemd-analyze verify /lib/systemd/system/aio-server.service \
	/lib/systemd/system/aio-agent.service >"$T/verify.txt" 2>&1
rc=$?
check "systemd-analyze verify of the installed units$(sed 's/^/; /' "$T/verify.txt" | tr -d '\n')" \
	[ $rc -eq 0 -a ! -s "$T/verify.txt" ]
exposure() { in_root systemd-analyze security --offline=true "/lib/systemd/system/$1" 2>/dev/null |
	sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p'; }
server_exp=$(exposure aio-server.service) agent_exp=$(exposure aio-agent.service)
check "systemd-analyze security: aio-server $server_exp (at most 1.1), aio-agent $agent_exp (at most 2.2)" \
	awk -v s="$server_exp" -v a="$agent_exp" 'BEGIN { exit !(s != "" && a != "" && s <= 1.1 && a <= 2.2) }'
check "both units enabled for the next boot" \
	test -L "$R/etc/systemd/system/multi-user.target.wants/aio-server.service" -a \
	-L "$R/etc/systemd/system/multi-user.target.wants/aio-agent.service"
check "and nothing started" sh -c "! pgrep -f '^/usr/bin/aio-(server|agent)' >/dev/null"
check "the hook runs the installed agent" grep -q '/usr/bin/aio-agent}" guard' \
	"$R/usr/share/aioctl/libvirt-hook-qemu"

echo "== the installed programs with the shipped configs"
# a network namespace with loopback only: the shipped ports are ours; the
# state directories are what StateDirectory= would make
cat >"$R/tmp/run.sh" <<'EOF'
set -u
mkdir -p -m 0700 /var/lib/aio-server /var/lib/aio-agent
/usr/bin/aio-server --config /etc/aioctl/server.conf >/tmp/server.log 2>&1 &
server=$!
for i in $(seq 100); do aioctl fleet status >/dev/null 2>&1 && break; sleep 0.1; done
aioctl enroll create --host hv-pkg >/tmp/enroll 2>/dev/null
/usr/bin/aio-agent --config /etc/aioctl/agent.conf --host-id hv-pkg \
	--enroll-token-file /tmp/enroll >/tmp/agent.log 2>&1 &
agent=$!
for i in $(seq 100); do
	aioctl fleet status 2>/dev/null | grep -q '^hv-pkg ' && break
	sleep 0.1
done
aioctl fleet status >/tmp/status.txt 2>&1
echo "rc=$?" >>/tmp/status.txt
kill "$agent" "$server" 2>/dev/null
wait
EOF
unshare -n sh -c "ip link set lo up; chroot '$R' env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	bash /tmp/run.sh"
cat "$R/tmp/status.txt"
check "aioctl fleet status shows the installed agent's host" grep -q '^hv-pkg ' "$R/tmp/status.txt"
check "and exits 0" grep -qx 'rc=0' "$R/tmp/status.txt"
check "the server made its state where the unit's StateDirectory is" \
	test -s "$R/var/lib/aio-server/server.db" -a -s "$R/var/lib/aio-server/admin.token"

echo "== remove keeps config and state, purge takes them"
in_root apt-get remove -y -qq aioctl-agent aioctl-server aioctl >>"$T/apt.log" 2>&1
check "remove: the programs are gone" test ! -e "$R/usr/bin/aio-agent" -a ! -e "$R/usr/bin/aio-server"
check "remove: the configs and state stay" test -f "$R/etc/aioctl/agent.conf" -a \
	-f "$R/etc/aioctl/server.conf" -a -d "$R/var/lib/aio-server" -a -d "$R/var/lib/aio-agent"
in_root dpkg --purge aioctl-agent aioctl-server aioctl >>"$T/apt.log" 2>&1
check "dpkg --purge exits 0" [ $? -eq 0 ]
check "purge: /etc/aioctl and the state are gone" test ! -e "$R/etc/aioctl" -a \
	! -e "$R/var/lib/aio-server" -a ! -e "$R/var/lib/aio-agent"
check "purge: no unit and no enable link left" test ! -e "$R/lib/systemd/system/aio-agent.service" -a \
	! -e "$R/etc/systemd/system/multi-user.target.wants/aio-agent.service" -a \
	! -e "$R/etc/systemd/system/multi-user.target.wants/aio-server.service"
check "dpkg knows none of them" sh -c "! chroot '$R' dpkg -l 'aioctl*' 2>/dev/null | grep -q '^[ir][ic]'"
lib_summary
