#!/bin/sh
# A real PostgreSQL for the tests: Debian's postgresql package, its own
# initdb in DIR, run as an unprivileged user (postgres when run as root),
# listening on a free loopback port and a socket in DIR.
#   pg-cluster.sh start DIR   prints the server's URL, also left in DIR/url
#   pg-cluster.sh stop DIR    stops it and removes DIR
#   pg-cluster.sh pause DIR   stops the server, keeping its data (an outage)
#   pg-cluster.sh resume DIR  starts it again on the same port
# Options for the postgres binary may follow start's DIR.
set -eu

cmd=${1:?start or stop}
dir=${2:?directory}
shift 2
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
	echo "pg-cluster: no PostgreSQL server: run deploy/install-deps.sh" >&2
	exit 1
fi

as_user() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

case "$cmd" in
start)
	rm -rf "$dir"
	mkdir -p "$dir"
	[ "$(id -u)" -ne 0 ] || chown postgres: "$dir"
	as_user "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-sync \
		>"$dir/initdb.log" 2>&1 || {
		cat "$dir/initdb.log" >&2
		exit 1
	}
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	as_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
		-o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200 $*" \
		start >/dev/null || {
		cat "$dir/server.log" >&2
		exit 1
	}
	echo "$port" >"$dir/port"
	echo "$*" >"$dir/options"
	echo "postgresql://postgres@127.0.0.1:$port" | tee "$dir/url"
	;;
pause)
	as_user "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null
	;;
resume)
	as_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
		-o "-p $(cat "$dir/port") -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200 $(cat "$dir/options")" \
		start >/dev/null
	;;
stop)
	[ -d "$dir/data" ] && as_user "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
	rm -rf "$dir"
	;;
*)
	echo "pg-cluster: start, stop, pause or resume, not $cmd" >&2
	exit 2
	;;
esac
