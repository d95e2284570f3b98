#!/bin/bash
# This tree against an earlier revision, on the same machine in the same
# run: each row alternates the two builds and keeps each one's best.
#   deploy/bench-ab.sh REV [HOSTS]      (default HOSTS 10000)
# Rows: ingest (100 agents flooding 500 reports each, reports/s) and
# `fleet status` at HOSTS hosts (JSON, table, CSV; whole aioctl runs).
set -euo pipefail
rev=${1:?usage: deploy/bench-ab.sh REV [HOSTS]}
hosts=${2:-10000}
. "$(dirname "$0")/bench-lib.sh"
work=$(mktemp -d /tmp/aioctl-bench-ab-XXXXXX)
SP=
cleanup() {
	[ -n "$SP" ] && kill -9 "$SP" 2>/dev/null || true
	git -C "$top" worktree remove --force "$work/old" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

git -C "$top" worktree add --detach "$work/old" "$rev" >/dev/null 2>&1
cmake -S "$work/old" -B "$work/old/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/old/build" -j "$(nproc)" --target aio-server aioctl >/dev/null
old="$work/old/build/bin"
new="$bin"

# start_server BIN-DIR STATE: a server from that build on fresh ports
start_server() {
	A=$(port)
	M=$(port)
	"$1/aio-server" --state-dir "$2" --listen "tcp://127.0.0.1:$A" \
		--admin-listen "tcp://127.0.0.1:$M" --http-listen '' --log-level warning \
		>"$work/server.log" 2>&1 &
	SP=$!
	export AIOCTL_SERVER="tcp://127.0.0.1:$M" AIOCTL_TOKEN_FILE="$2/admin.token"
	until "$1/aioctl" fleet status >/dev/null 2>&1; do sleep 0.1; done
}
stop_server() { kill "$SP"; wait "$SP" 2>/dev/null || true; SP=; }
row() { printf '%-30s %-22s %-22s\n' "$1" "$2" "$3"; }

echo "machine: $(nproc) cores, $(uname -r); $rev ($(git -C "$top" rev-parse --short "$rev")) against this tree"
row "what" "$rev" "this tree"

best_old=0 best_new=0
for round in 1 2 3; do
	for side in old new; do
		d=${!side}
		rm -rf "$work/ingest"
		start_server "$d" "$work/ingest"
		rate=$("$tbin/aio-sim" --server "tcp://127.0.0.1:$A" --admin "$AIOCTL_SERVER" \
			--token-file "$AIOCTL_TOKEN_FILE" --hosts 100 --flood --reports 500 \
			--duration 300s 2>/dev/null |
			python3 -c 'import json,sys; print(int(json.load(sys.stdin)["reports_per_s"]))')
		stop_server
		if [ "$side" = old ]; then ((rate > best_old)) && best_old=$rate; else ((rate > best_new)) && best_new=$rate; fi
	done
done
row "ingest, 100 agents flooding" "$best_old reports/s" "$best_new reports/s"

# one state both servers read: HOSTS hosts that reported once
start_server "$new" "$work/fleet"
"$tbin/aio-sim" --server "tcp://127.0.0.1:$A" --admin "$AIOCTL_SERVER" \
	--token-file "$AIOCTL_TOKEN_FILE" --hosts "$hosts" --interval 60s --duration 15s \
	>/dev/null 2>&1
for args in "--output json" "--output table" "--output csv"; do
	bo=999999 bn=999999
	for _ in 1 2 3 4 5 6 7; do
		t0=$(ms)
		"$old/aioctl" $args fleet status >/dev/null
		t=$(($(ms) - t0))
		((t < bo)) && bo=$t
		t0=$(ms)
		"$new/aioctl" $args fleet status >/dev/null
		t=$(($(ms) - t0))
		((t < bn)) && bn=$t
	done
	row "fleet status $args" "$bo ms (best of 7)" "$bn ms"
done
stop_server
echo "rerun: deploy/bench-ab.sh $rev $hosts"
