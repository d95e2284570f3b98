#!/bin/bash
# Capacity-report benchmark: HOSTS hosts with DAYS days of hourly history
# backfilled through the real agent RPC (aio-sim), then the time of
# `aioctl report trend` next to `aioctl fleet status` (its baseline: the
# same hosts, no history read) in the same run, and the database's size.
#   deploy/bench-trend.sh [HOSTS] [DAYS]     (default 1000 30)
# With AIOCTL_BENCH_KEEP=DIR the server's state is kept in DIR, and a later
# run with the same DIR times the reports again without the backfill.
set -euo pipefail
hosts=${1:-1000}
days=${2:-30}
. "$(dirname "$0")/bench-lib.sh"
work=$(mktemp -d /tmp/aioctl-bench-trend-XXXXXX)
state=${AIOCTL_BENCH_KEEP:-$work/srv}
trap 'kill -9 "${SP:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT

row() { printf '%-36s %-34s %s\n' "$1" "$2" "$3"; }
best_ms() { # best of 3 whole aioctl runs
	local best=999999 t0 t
	for _ in 1 2 3; do
		t0=$(ms)
		"$bin/aioctl" --timeout 120s "$@" >/dev/null
		t=$(($(ms) - t0))
		((t < best)) && best=$t
	done
	echo "$best"
}

A=$(port)
M=$(port)
reuse=no
[ -e "$state/server.db" ] && reuse=yes
"$bin/aio-server" --state-dir "$state" --listen "tcp://127.0.0.1:$A" \
	--admin-listen "tcp://127.0.0.1:$M" --http-listen '' --log-level warning \
	>"$work/server.log" 2>&1 &
SP=$!
export AIOCTL_SERVER="tcp://127.0.0.1:$M" AIOCTL_TOKEN_FILE="$state/admin.token"
until "$bin/aioctl" fleet status >/dev/null 2>&1; do sleep 0.1; done

echo "machine: $(nproc) cores, $(uname -r); $hosts hosts, $days days of hourly samples"
row "what" "figure" "baseline (same run)"
reports=$((hosts * days * 24))
if [ "$reuse" = no ]; then
	t0=$(ms)
	# in batches of 500 hosts per behaviour: thousands of hosts backfilling
	# at once are much slower (see the README), and that is not measured
	for ((b = 0; b * 1000 < hosts; b++)); do
		n=$(((hosts - b * 1000) < 1000 ? (hosts - b * 1000) : 1000))
		for kind in growth spikes; do
			"$tbin/aio-sim" --server "tcp://127.0.0.1:$A" --admin "tcp://127.0.0.1:$M" \
				--token-file "$state/admin.token" --hosts "$(((n + 1) / 2))" \
				--prefix "$kind$b-" --label "kind=$kind" --behaviour "$kind" \
				--interval 1h --backfill-days "$days" >/dev/null 2>&1
		done
	done
	fill_ms=$(($(ms) - t0))
	row "backfill through the agent RPC" "$reports reports in $((fill_ms / 1000)) s" \
		"$((reports * 1000 / (fill_ms + 1))) reports/s"
fi
stored=$(sqlite3 "$state/server.db" 'SELECT sum(reports) FROM series')
[ "$stored" -eq "$reports" ] || { echo "stored $stored of $reports reports" >&2; exit 1; }

status_ms=$(best_ms fleet status --output json)
trend_ms=$(best_ms report trend --since "${days}d" --output json)
group_ms=$(best_ms report trend --since "${days}d" --group-by kind)
html_ms=$(best_ms report trend --since "${days}d" --output html)
row "report trend --since ${days}d (json)" "$trend_ms ms (best of 3)" "fleet status: $status_ms ms"
row "report trend --group-by kind" "$group_ms ms" "fleet status: $status_ms ms"
row "report trend --output html" "$html_ms ms" "fleet status: $status_ms ms"

kill "$SP"
wait "$SP" 2>/dev/null || true
sqlite3 "$state/server.db" 'PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null
db=$(stat -c %s "$state/server.db")
row "database size" "$((db / 1048576)) MiB" \
	"$((db / (hosts * days))) bytes per host-day (hourly samples)"
