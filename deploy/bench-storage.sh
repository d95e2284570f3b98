#!/bin/bash
# Storage benchmark: HOSTS hosts report every 10 s (the agent's default)
# for DAYS days, backfilled through the real agent RPC by aio-sim, once per
# behaviour, into a server with default settings; then the bytes each
# history tier holds per host-day (SQLite's dbstat), and the steady-state
# size per host under the default retention (raw 7 d, 5-minute 90 d,
# hourly 730 d). Baseline in the same run: --raw-keepalive 0 (every
# report kept raw, as before raw samples were stored on change).
#   deploy/bench-storage.sh [HOSTS] [DAYS]     (default 50 1)
set -euo pipefail
hosts=${1:-50}
days=${2:-1}
. "$(dirname "$0")/bench-lib.sh"
work=$(mktemp -d /tmp/aioctl-bench-storage-XXXXXX)
trap 'kill -9 "${SP:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT

# run BEHAVIOUR [server flags...]: prints one table row
run() {
	local behaviour=$1 label=$2
	shift 2
	local dir="$work/$behaviour$label" A M t0 t1 db
	A=$(port)
	M=$(port)
	"$bin/aio-server" --state-dir "$dir" --listen "tcp://127.0.0.1:$A" \
		--admin-listen "tcp://127.0.0.1:$M" --http-listen '' --log-level warning "$@" \
		>"$work/server.log" 2>&1 &
	SP=$!
	until "$bin/aioctl" --server "tcp://127.0.0.1:$M" --token-file "$dir/admin.token" \
		fleet status >/dev/null 2>&1; do sleep 0.1; done
	t0=$(ms)
	"$tbin/aio-sim" --server "tcp://127.0.0.1:$A" --admin "tcp://127.0.0.1:$M" \
		--token-file "$dir/admin.token" --hosts "$hosts" --behaviour "$behaviour" \
		--interval 10s --backfill-days "$days" >/dev/null 2>&1
	t1=$(ms)
	kill "$SP"
	wait "$SP" 2>/dev/null || true
	db="$dir/server.db"
	sqlite3 "$db" 'PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null
	local stored reports
	reports=$((hosts * days * 8640))
	stored=$(sqlite3 "$db" 'SELECT sum(reports) FROM series')
	[ "$stored" -eq "$reports" ] || { echo "stored $stored of $reports reports" >&2; exit 1; }
	sqlite3 -separator ' ' "$db" "SELECT
		(SELECT coalesce(sum(n), 0) FROM raw) + (SELECT sum(raw_n) FROM series),
		(SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name IN ('raw', 'samples')),
		(SELECT sum(pgsize) FROM dbstat WHERE name = 'rollup_5m'),
		(SELECT sum(pgsize) FROM dbstat WHERE name = 'rollup_1h'),
		(SELECT sum(pgsize) FROM dbstat WHERE name = 'series')" |
		while read -r rows raw m5 h1 series; do
			local hd=$((hosts * days))
			printf '%-8s %-12s %9s %9s %9s %9s %12s %14s %9s\n' "$behaviour" "$label" \
				"$((rows / hd))" "$((raw / hd))" "$((m5 / hd))" "$((h1 / hd))" \
				"$(((raw + m5 + h1) / hd))" \
				"$(((raw * 7 + m5 * 90 + h1 * 730) / hd / 1024))" \
				"$((reports * 1000 / (t1 - t0 + 1)))"
		done
}

echo "machine: $(nproc) cores, $(uname -r); $hosts hosts x $days days, a report every 10 s"
echo "bytes per host-day by tier (SQLite dbstat); steady-state KiB per host at the default retention"
printf '%-8s %-12s %9s %9s %9s %9s %12s %14s %9s\n' behaviour settings raw-rows raw 5m 1h \
	"total/day" "KiB/host@ret" "reports/s"
for b in steady growth spikes churn; do
	run "$b" default
done
for b in steady churn; do
	run "$b" keepalive=0 --raw-keepalive 0
done
