#!/bin/bash
# Guard benchmark: the time of one `aio-agent guard` call as libvirt makes
# it at "prepare begin" (a process, the domain XML on stdin), next to the
# baseline of starting /bin/true with the same stdin, in the same run:
# room enough (a pass, the common case), and a refusal.
#   deploy/bench-guard.sh [CALLS]     (default 500; target: under 20 ms a call)
set -euo pipefail
calls=${1:-500}
. "$(dirname "$0")/bench-lib.sh"
work=$(mktemp -d /tmp/aioctl-bench-guard-XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/root/proc/sys/fs" "$work/state"
echo 65536 >"$work/root/proc/sys/fs/aio-max-nr"
xml="$top/tests/fixtures/domains/iothreads.xml"
printf 'sysroot = %s\nstate-dir = %s\nguard = refuse\n' "$work/root" "$work/state" >"$work/agent.conf"

# mean ms per call of "$@" with the domain XML on stdin
per_call() {
	local t0 t1
	t0=$(date +%s%N)
	for ((i = 0; i < calls; i++)); do
		"$@" <"$xml" >/dev/null 2>&1 || true
	done
	t1=$(date +%s%N)
	awk -v ns=$((t1 - t0)) -v n="$calls" 'BEGIN { printf "%.2f", ns / n / 1e6 }'
}

echo 1024 >"$work/root/proc/sys/fs/aio-nr"
base=$(per_call /bin/true)
pass=$(per_call "$bin/aio-agent" guard --config "$work/agent.conf" iothreads prepare begin -)
echo 64512 >"$work/root/proc/sys/fs/aio-nr"
refuse=$(per_call "$bin/aio-agent" guard --config "$work/agent.conf" iothreads prepare begin -)
other=$(per_call "$bin/aio-agent" guard --config "$work/agent.conf" iothreads started begin -)
printf '%-44s %10s\n' "per call, mean of $calls (ms)" ""
printf '%-44s %10s\n' "baseline: /bin/true, same stdin" "$base"
printf '%-44s %10s\n' "guard, room enough (pass, reserve)" "$pass"
printf '%-44s %10s\n' "guard, too little room (refuse)" "$refuse"
printf '%-44s %10s\n' "guard, another hook operation (exit 0)" "$other"
echo "reproduce: deploy/bench-guard.sh $calls"
