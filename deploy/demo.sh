#!/bin/sh
# The main job on one machine: installs what is needed, builds, starts a
# local aio-server (embedded SQLite) and four aio-agents, and shows
# `aioctl fleet status`. Three agents read demo sysroots under demo/; the
# fourth reads this machine's real counters (read-only).
#   deploy/demo.sh          start (or restart) the demo
#   deploy/demo.sh stop     stop it
# AIOCTL_DEMO_DIR (default demo/), AIOCTL_BUILD_DIR (build/) and
# AIOCTL_DEMO_PORT (7700: agents; +1 aioctl, +2 /metrics) move it, as the
# test that runs every command below does.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
demo=${AIOCTL_DEMO_DIR:-$top/demo}
build=${AIOCTL_BUILD_DIR:-$top/build}
bin="$build/bin"
port=${AIOCTL_DEMO_PORT:-7700}
server_flags="--listen tcp://127.0.0.1:$port --admin-listen tcp://127.0.0.1:$((port + 1))
  --http-listen http://127.0.0.1:$((port + 2))"
export AIOCTL_SERVER="tcp://127.0.0.1:$((port + 1))"

stop() {
	if [ -f "$demo/pids" ]; then
		# shellcheck disable=SC2046
		kill $(cat "$demo/pids") 2>/dev/null || true
		rm -f "$demo/pids"
	fi
}

if [ "${1:-}" = stop ]; then
	stop
	echo "demo stopped"
	exit 0
fi

./deploy/install-deps.sh
# a build tree keeps the type it was made with
[ -f "$build/CMakeCache.txt" ] || cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$(nproc)"

stop
mkdir -p "$demo"
# name aio-nr aio-max-nr labels
cat >"$demo/hosts" <<'HOSTS'
hv-0041 12288 65536 rack=r1,role=compute
hv-0042 63488 65536 rack=r1,role=compute
hv-0043 3072 1048576 rack=r2,role=storage
HOSTS

: >"$demo/pids"
# shellcheck disable=SC2086
"$bin/aio-server" $server_flags --state-dir "$demo/server" >"$demo/server.log" 2>&1 &
echo $! >>"$demo/pids"
export AIOCTL_TOKEN_FILE="$demo/server/admin.token"
i=0
until "$bin/aioctl" fleet status >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -le 100 ] || { echo "demo: aio-server did not start; see $demo/server.log" >&2; exit 1; }
	sleep 0.1
done

# each agent trades a one-time token for its own host secret
token() {
	mkdir -p "$demo/tokens"
	"$bin/aioctl" enroll create --host "$1" >"$demo/tokens/$1" 2>/dev/null
	echo "$demo/tokens/$1"
}

while read -r name nr max labels; do
	root="$demo/sysroot/$name"
	# as a minimal host: /etc without a sysctl.d, libvirt's log directory
	mkdir -p "$root/proc/sys/fs" "$root/proc/sys/kernel" "$root/etc" \
		"$root/var/log/libvirt/qemu"
	echo "$nr" >"$root/proc/sys/fs/aio-nr"
	echo "$max" >"$root/proc/sys/fs/aio-max-nr"
	uname -r >"$root/proc/sys/kernel/osrelease"
	set --
	for l in $(echo "$labels" | tr ',' ' '); do set -- "$@" --label "$l"; done
	"$bin/aio-agent" --server "tcp://127.0.0.1:$port" --host-id "$name" --sysroot "$root" \
		--interval 2s \
		--state-dir "$demo/agent-$name" --enroll-token-file "$(token "$name")" "$@" \
		>"$demo/agent-$name.log" 2>&1 &
	echo $! >>"$demo/pids"
done <"$demo/hosts"
local=$(hostname -s 2>/dev/null || echo local)
"$bin/aio-agent" --server "tcp://127.0.0.1:$port" --host-id "$local" --sysroot / \
	--interval 2s --label role=this-machine \
	--state-dir "$demo/agent-local" --enroll-token-file "$(token "$local")" \
	--sysctl-file /etc/sysctl.d/zz-aioctl-demo.conf --limit-max 65536 \
	>"$demo/agent-local.log" 2>&1 &
echo $! >>"$demo/pids"

# wait (at most 15 s) until all four hosts have reported values
i=0
until [ "$("$bin/aioctl" fleet status --output csv 2>/dev/null |
	awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "online") o = i; next }
		$2 != "" && $o == "true"' | wc -l)" -ge 4 ]; do
	i=$((i + 1))
	if [ $i -gt 150 ]; then
		echo "demo: agents did not report; see $demo/*.log" >&2
		exit 1
	fi
	sleep 0.1
done
"$bin/aioctl" fleet status --sort util
[ "$port" = 7700 ] && server_hint="" ||
	server_hint="
  export AIOCTL_SERVER=$AIOCTL_SERVER"
cat <<MSG

The web console: http://127.0.0.1:$((port + 2))/ui/ (log in with the token in $demo/server/admin.token)

The demo keeps running. Try:$server_hint
  export AIOCTL_TOKEN_FILE=$demo/server/admin.token
  $bin/aioctl host show hv-0042
  $bin/aioctl fleet status --output json
  echo 65000 > $demo/sysroot/hv-0042/proc/sys/fs/aio-nr   # watch it change
  $bin/aioctl alerts        # hv-0042 is past 80% of its limit: an alert within 15 s
  $bin/aioctl history hv-0042 --since 1h --step 1m
  $bin/aioctl report trend --output html > capacity.html
  $bin/aioctl fleet set --max 2097152 --hosts 'hv-*' --dry-run
  $bin/aioctl fleet set --max 2097152 --hosts 'hv-*' --soak 2s --yes
  $bin/aioctl rollout list
  $bin/aioctl rollout rollback 1      # every host back as it was
Stop it with: deploy/demo.sh stop
MSG
