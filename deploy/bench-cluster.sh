#!/bin/bash
# Past one machine, measured: ingest and a push to HOSTS agents with one
# aio-server on SQLite, one on PostgreSQL and three on one PostgreSQL, in
# one run; PostgreSQL's writes per report; how long the lead takes to move
# after kill -9. PostgreSQL is Debian's, initdb'd in a temporary directory
# with its default settings (fsync on), on loopback.
#   deploy/bench-cluster.sh [HOSTS]      (default 10000)
set -euo pipefail
big=${1:-10000}
. "$(dirname "$0")/bench-lib.sh"
work=$(mktemp -d /tmp/aioctl-bench-cluster-XXXXXX)
pg=$(mktemp -d /tmp/aioctl-bench-pg-XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	sh "$top/tests/pg/pg-cluster.sh" stop "$pg" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
row() { printf '%-34s %-44s %s\n' "$1" "$2" "$3"; }

pgurl=$(sh "$top/tests/pg/pg-cluster.sh" start "$pg" -c max_connections=300)
# a fresh database for each shape: its URL
fresh_db() {
	local name="b$(date +%s%N)"
	psql -q "$pgurl/postgres" -c "CREATE DATABASE $name" >/dev/null
	echo "$pgurl/$name"
}
psql_v() { psql -At "$1" -c "$2"; }

# start_servers N DB: N servers on DB (a path or a URL); S_A[i], S_M[i]
# their agent and admin URLs, S_P[i] their pids; the first one's admin
# token is the fleet's
start_servers() {
	local n=$1 dbarg=$2 i deadline
	S_A=() S_M=() S_P=()
	rm -rf "$work/srv"*
	for ((i = 0; i < n; i++)); do
		local a m h
		a=$(port) m=$(port) h=$(port)
		mkdir -p -m 0700 "$work/srv$i"
		[ "$i" -eq 0 ] || install -m 0600 "$work/srv0/admin.token" "$work/srv$i/admin.token"
		"$bin/aio-server" --state-dir "$work/srv$i" --db "$dbarg" --server-name "S$i" \
			--listen "tcp://127.0.0.1:$a" --admin-listen "tcp://127.0.0.1:$m" \
			--http-listen "http://127.0.0.1:$h" --log-level info >"$work/server$i.log" 2>&1 &
		S_P[i]=$!
		pids+=("${S_P[i]}")
		S_A[i]="tcp://127.0.0.1:$a"
		S_M[i]="tcp://127.0.0.1:$m"
		deadline=$(($(date +%s) + 30))
		until "$bin/aioctl" --server "${S_M[i]}" --token-file "$work/srv$i/admin.token" \
			server list >/dev/null 2>&1; do
			if ! kill -0 "${S_P[i]}" 2>/dev/null || [ "$(date +%s)" -ge "$deadline" ]; then
				echo "bench-cluster: server $i did not start:" >&2
				tail -n 5 "$work/server$i.log" >&2
				exit 1
			fi
			sleep 0.1
		done
	done
	export AIOCTL_SERVER="${S_M[0]}" AIOCTL_TOKEN_FILE="$work/srv0/admin.token"
}
stop_servers() {
	for p in "${S_P[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${S_P[@]}"; do wait "$p" 2>/dev/null || true; done
}
# stored reports, and PostgreSQL's rows written and commits, for DB
stored() {
	case "$1" in
	postgres*) psql_v "$1" "select coalesce(sum(reports), 0) from series" ;;
	*) sqlite3 "$1" "select coalesce(sum(reports), 0) from series" ;;
	esac
}
pg_writes() { # URL: rows inserted+updated, commits so far in its database
	psql -At -F ' ' "$1" -c "select tup_inserted + tup_updated, xact_commit from pg_stat_database where datname = current_database()"
}

# ingest SHAPE N DB: 100 agents flooding 500 reports each, spread over N
# servers; prints "reports/s stored sent"
ingest() {
	local n=$1 dbarg=$2 i per=$((100 / $1)) t0 t1 sent=0
	start_servers "$n" "$dbarg"
	t0=$(ms)
	for ((i = 0; i < n; i++)); do
		"$tbin/aio-sim" --server "${S_A[i]}" --admin "${S_M[i]}" \
			--token-file "$work/srv$i/admin.token" --prefix "s$i-" --hosts "$per" \
			--flood --reports 500 --duration 300s >"$work/ingest$i.json" 2>/dev/null &
		pids+=("$!")
		sims[i]=$!
	done
	for ((i = 0; i < n; i++)); do wait "${sims[i]}"; done
	t1=$(ms)
	for ((i = 0; i < n; i++)); do
		sent=$((sent + $(python3 -c "import json; print(json.load(open('$work/ingest$i.json'))['reports_ok'])")))
	done
	stop_servers
	echo "$((1000 * sent / (t1 - t0))) $(stored "$dbarg") $sent"
}

# push N DB: HOSTS agents holding a Watch, spread over N servers, then
# fleet set to all through the first; prints "ms done"
push() {
	local n=$1 dbarg=$2 i per=$((big / $1)) best=999999 t0 t v
	start_servers "$n" "$dbarg"
	for ((i = 0; i < n; i++)); do
		"$tbin/aio-sim" --server "${S_A[i]}" --admin "${S_M[i]}" \
			--token-file "$work/srv$i/admin.token" --prefix "s$i-" --hosts "$per" \
			--interval 60s --duration 3600s >"$work/sim$i.json" 2>"$work/sim$i.err" &
		pids+=("$!")
		sims[i]=$!
	done
	for ((i = 0; i < n; i++)); do
		until grep -q "connected and enrolled" "$work/sim$i.err"; do sleep 0.2; done
	done
	# every server shows every host before the push
	for ((i = 0; i < n; i++)); do
		until [ "$("$bin/aioctl" --server "${S_M[i]}" --token-file "$work/srv$i/admin.token" \
			fleet status --output json 2>/dev/null |
			python3 -c 'import json,sys; print(len(json.load(sys.stdin)["hosts"]))' 2>/dev/null)" = \
			"$((per * n))" ]; do sleep 0.5; done
	done
	for v in 2097152 4194304; do
		t0=$(ms)
		"$bin/aioctl" fleet set --max "$v" --canary 0 --batch 100% --soak 0s --yes \
			--timeout 120s --output json >"$work/push.json" 2>&1 || true
		t=$(($(ms) - t0))
		((t < best)) && best=$t
	done
	done_n=$(python3 -c "import json; d=json.load(open('$work/push.json')); print(sum(1 for s in d['steps'] if s['state']=='done'))" 2>/dev/null || echo 0)
	[ "$done_n" = "$((per * n))" ] || python3 -c "import json,collections; d=json.load(open('$work/push.json')); print(collections.Counter(s['state'] for s in d['steps']), [(s['host'], s.get('message')) for s in d['steps'] if s['state'] != 'done'][:5], d.get('state'))" >&2
	for ((i = 0; i < n; i++)); do kill "${sims[i]}" 2>/dev/null || true; done
	stop_servers
	echo "$best $done_n"
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(psql -At "$pgurl/postgres" -c 'show server_version')"
row "what" "figure" "baseline (same run)"

# ingest
read -r i1 s1 n1 <<<"$(ingest 1 "$work/ingest.db")"
u=$(fresh_db)
read -r w0 c0 <<<"$(pg_writes "$u")"
read -r i2 s2 n2 <<<"$(ingest 1 "$u")"
read -r w1 c1 <<<"$(pg_writes "$u")"
u3=$(fresh_db)
read -r i3 s3 n3 <<<"$(ingest 3 "$u3")"
row "ingest, SQLite, 1 server" "$i1 reports/s, $s1 stored for $n1 acked" "(the baseline)"
row "ingest, PostgreSQL, 1 server" "$i2 reports/s, $s2 stored for $n2 acked" "$((100 * i2 / i1))% of SQLite"
row "ingest, PostgreSQL, 3 servers" "$i3 reports/s, $s3 stored for $n3 acked" "$((100 * i3 / i1))% of SQLite (99 agents, 33 a server)"
row "  PostgreSQL per report" "$(python3 -c "print(round(($w1 - $w0) / $n2, 2))") rows written, $(python3 -c "print(round(($c1 - $c0) / $n2, 3))") commits" "group commit: many reports a transaction"

# push
read -r p1 d1 <<<"$(push 1 "$work/push.db")"
read -r p2 d2 <<<"$(push 1 "$(fresh_db)")"
read -r p3 d3 <<<"$(push 3 "$(fresh_db)")"
row "push to $big, SQLite, 1 server" "$p1 ms until all acked+verified ($d1 done)" "(the baseline)"
row "push to $big, PostgreSQL, 1 server" "$p2 ms ($d2 done)" "$(python3 -c "print(round($p2 / $p1, 2))")x SQLite"
row "push to $big, PostgreSQL, 3 servers" "$p3 ms ($d3 done), through a follower's admin" "$(python3 -c "print(round($p3 / $p1, 2))")x SQLite"

# the lead after kill -9, three times
takes=()
for run in 1 2 3; do
	start_servers 3 "$(fresh_db)"
	t0=$(ms)
	kill -9 "${S_P[0]}"
	until grep -qh "leads (rollouts taken over" "$work/server1.log" "$work/server2.log"; do
		sleep 0.01
		(($(ms) - t0 < 30000)) || break
	done
	takes+=($(($(ms) - t0)))
	unset 'S_P[0]'
	stop_servers
done
row "leader killed -9, lead taken over" "${takes[*]} ms (3 runs)" "target under 10000 ms"
