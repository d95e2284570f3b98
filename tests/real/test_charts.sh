#!/bin/bash
# Charts with little data: a server that has heard from its agents for a
# few seconds (less than an hour) renders `report trend --output html` for
# a day and for 30 days; headless Chromium screenshots every chart twice,
# as it is and without its data (polylines, dots, forecast), and the two
# must differ: a chart that draws nothing from one hour of data fails.
#   test_charts.sh BIN_DIR
set -u
. "$(dirname "$0")/lib.sh"
bin=${1:?usage: test_charts.sh BIN_DIR}
[ -x /usr/bin/chromium ] || { echo "chromium missing: deploy/install-deps.sh"; exit 1; }
w=$(mktemp -d /tmp/aioctl-charts-XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; wait; [ -n "${AIO_TEST_KEEP:-}" ] || rm -rf "$w"' EXIT
server_up() { "$bin/aioctl" fleet status >/dev/null 2>&1; }
# on fresh ports again if another process holds them
for _ in 1 2 3; do
	port=$(random_port)
	"$bin/aio-server" --listen tcp://127.0.0.1:$port --admin-listen tcp://127.0.0.1:$((port + 1)) \
		--http-listen '' --state-dir "$w/server" >"$w/server.log" 2>&1 &
	sp=$!
	export AIOCTL_SERVER=tcp://127.0.0.1:$((port + 1)) AIOCTL_TOKEN_FILE=$w/server/admin.token
	server_started $sp server_up && break
	kill $sp 2>/dev/null
	wait $sp 2>/dev/null
done
check "aio-server answers" server_up
for h in hv-a hv-b; do
	mkdir -p "$w/$h/proc/sys/fs"
	echo 30000 >"$w/$h/proc/sys/fs/aio-nr"
	echo 65536 >"$w/$h/proc/sys/fs/aio-max-nr"
	"$bin/aioctl" enroll create --host $h >"$w/$h.token" 2>/dev/null
	"$bin/aio-agent" --server tcp://127.0.0.1:$port --host-id $h --sysroot "$w/$h" \
		--interval 200ms --state-dir "$w/$h.state" --enroll-token-file "$w/$h.token" \
		>"$w/$h.log" 2>&1 &
done
# both hosts reporting, then hv-a's new value stored: a page with a change
reports() { # reports HOST AIO_NR
	"$bin/aioctl" fleet status --output json >"$w/fleet.json" 2>/dev/null &&
		jqe ".hosts[] | select(.host == \"$1\" and .aio_nr == $2)" "$w/fleet.json"
}
check "hv-a reports" wait_for 20 reports hv-a 30000
check "hv-b reports" wait_for 20 reports hv-b 30000
echo 52000 >"$w/hv-a/proc/sys/fs/aio-nr"
check "hv-a's change is stored" wait_for 20 reports hv-a 52000

shot() { # shot HTML PNG
	timeout 60 chromium --headless=new --no-sandbox --disable-gpu --hide-scrollbars \
		--disable-background-networking --disable-component-update --disable-sync \
		--no-first-run --user-data-dir="$w/chromium" --window-size=800,400 \
		--screenshot="$2" "file://$1" >>"$w/chromium.log" 2>&1
}
for since in 1d 30d; do
	page=$w/page-$since.html
	check "report trend --since $since --output html" \
		sh -c "'$bin/aioctl' report trend --since $since --output html > '$page'"
	head=$(sed -n '1,/<\/head>/p' "$page")
	rm -f "$w"/chart-*.svg
	awk -v dir="$w" '
		/<svg/ { n++; inside = 1; sub(/.*<svg/, "<svg") }
		inside {
			line = $0
			end = index(line, "</svg>")
			if (end) { line = substr(line, 1, end + 5); inside = 0 }
			print line > (dir "/chart-" n ".svg")
		}' "$page"
	n=$(ls "$w"/chart-*.svg 2>/dev/null | wc -l)
	check "$since: the fleet chart and one per host ($n)" [ "$n" -ge 3 ]
	for svg in "$w"/chart-*.svg; do
		c=$(basename "$svg" .svg)
		{ echo "$head"; echo "<body>"; cat "$svg"; echo "</body></html>"; } >"$w/$c-$since.html"
		{ echo "$head"; echo "<body>"; grep -v '<polyline\|<circle\|class="forecast"' "$svg"
		  echo "</body></html>"; } >"$w/$c-$since-empty.html"
		shot "$w/$c-$since.html" "$w/$c-$since.png"
		shot "$w/$c-$since-empty.html" "$w/$c-$since-empty.png"
		check "$since $c: a screenshot" test -s "$w/$c-$since.png"
		check "$since $c: its data draws something" \
			sh -c "! cmp -s '$w/$c-$since.png' '$w/$c-$since-empty.png'"
	done
done
# what a person would look at, kept with the test's output
cp "$w"/chart-2-1d.png "$bin/../tests/chart-host-1d.png" 2>/dev/null
lib_summary
