#!/bin/bash
# The HTTP JSON API with curl, against a real aio-server and three real
# aio-agents on sysroots: every path the OpenAPI document lists, the same
# JSON as aioctl --output json, each status code (400 401 403 404 405 409
# 413 429 503) with a JSON error, bad input of every kind, and the server
# still serving after each.
#   test_api.sh BIN_DIR
set -u
. "$(dirname "$0")/lib.sh"
bin=$(cd "${1:?usage: test_api.sh BIN_DIR}" && pwd) || exit 1
T=$(mktemp -d /tmp/aioctl-api-XXXXXX)
cleanup() {
	[ -f "$T/pids" ] && xargs -r kill -CONT <"$T/pids" 2>/dev/null
	[ -f "$T/pids" ] && xargs -r kill <"$T/pids" 2>/dev/null
	mountpoint -q "$T/small" 2>/dev/null && { sleep 0.5; umount -l "$T/small"; }
	[ -n "${AIO_TEST_KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT INT TERM HUP

start_server "$bin" "$T/server" --alert-interval 1s || { echo "FAIL: no server"; exit 1; }
aioctl() { "$bin/aioctl" "$@"; }
web=http://127.0.0.1:$ph/api/v1
admin=$(cat "$T/server/admin.token")
start_agent hv-1 $((262144 - 3 * 1024)) 262144 r1
start_agent hv-2 1000 65536 r1
start_agent db-1 2000 131072 r2
agent_db_1=$agent_pid
wait_for 10 sh -c "'$bin/aioctl' fleet status -o json | jq -e '[.hosts[] | select(.aio_nr != null)] | length == 3' >/dev/null" ||
	{ echo "FAIL: the agents never reported"; exit 1; }
aioctl token create --name alice --role viewer >"$T/alice.token" 2>/dev/null
aioctl token create --name olga --role operator >"$T/olga.token" 2>/dev/null
viewer=$(cat "$T/alice.token") operator=$(cat "$T/olga.token")

# req OUT TOKEN [CURL ARGS...] URL: the status code, the body in OUT
req() {
	local out=$1 tok=$2
	shift 2
	curl -s -o "$out" -w '%{http_code}' ${tok:+-H "Authorization: Bearer $tok"} "$@"
}
# is CODE OUT: the status and a JSON error that says it
is_error() { [ "$1" = "$3" ] && jq -e --argjson c "$3" '.error.code == $c and (.error.message | length > 0)' "$2" >/dev/null; }
serving() { [ "$(req "$T/alive" "$admin" "$web/session")" = 200 ]; }

# ---------------------------------------------------------- the document
code=$(req "$T/openapi.json" "" "$web/openapi.json")
check "GET /openapi.json without a token: 200, OpenAPI 3" \
	sh -c "[ $code = 200 ] && jq -e '.openapi | startswith(\"3.\")' '$T/openapi.json' >/dev/null"
# every path it lists, called with the admin token: a JSON answer, 2xx
aioctl fleet set --max 524288 --hosts db-1 --yes >/dev/null 2>&1
wait_for 20 sh -c "'$bin/aioctl' rollout show 1 -o json | jq -e '.state == \"completed\"' >/dev/null"
calls=0 bad=""
for p in $(jq -r '.paths | keys[]' "$T/openapi.json"); do
	for m in $(jq -r --arg p "$p" '.paths[$p] | keys[]' "$T/openapi.json"); do
		url=$web$(echo "$p" | sed 's/{host}/hv-1/; s/{id}/1/')
		case "$m $p" in
		"post /rollouts") args=(-X POST -d '{"max": 1048576, "dry_run": true}') ;;
		"post /rollouts/{id}/rollback") args=(-X POST) ;;
		post*) args=(-X POST) ;; # pause/resume/abort of a completed one: 409
		*) args=() ;;
		esac
		c=$(req "$T/call.json" "$admin" "${args[@]}" "$url")
		calls=$((calls + 1))
		case "$m $p:$c" in
		"get "*:200 | "post /rollouts:200" | "post /rollouts/{id}/rollback:200") ;;
		post*:409) jq -e .error.message "$T/call.json" >/dev/null || bad="$bad $m$p:$c" ;;
		*) bad="$bad $m$p:$c" ;;
		esac
		jq -e . "$T/call.json" >/dev/null || bad="$bad $m$p:not-json"
	done
done
check "every path in openapi.json answers ($calls calls)${bad:+:$bad}" test -z "$bad" -a "$calls" -ge 16

# ---------------------------------------------------------- same as aioctl
req "$T/api-hosts.json" "$admin" "$web/hosts?sort=name" >/dev/null
aioctl fleet status --sort name -o json >"$T/cli-hosts.json"
same() { # FILTER: equal in both
	[ "$(jq -S "$1" "$T/api-hosts.json")" = "$(jq -S "$1" "$T/cli-hosts.json")" ]
}
check "/hosts: aioctl fleet status's hosts, keys and values" \
	same '[.hosts[] | del(.last_seen, .sampled_at, .last_seq, .aio_nr_min, .aio_nr_max)]'
check "/hosts: the same top-level members" same 'keys'
check "/hosts?select=rack=r1: the selection" \
	sh -c "curl -s -H 'Authorization: Bearer $admin' '$web/hosts?select=rack%3Dr1&sort=name' | jq -e '[.hosts[].host] == [\"hv-1\",\"hv-2\"]' >/dev/null"
check "/hosts?hosts=hv-*&sort=nr&reverse=1" \
	sh -c "curl -s -H 'Authorization: Bearer $admin' '$web/hosts?hosts=hv-*&sort=nr&reverse=1' | jq -e '[.hosts[].host] == [\"hv-2\",\"hv-1\"]' >/dev/null"
check "/hosts?live=1: asked every agent" \
	sh -c "curl -s -H 'Authorization: Bearer $admin' '$web/hosts?live=1' | jq -e '(.hosts | length) == 3 and .not_answered == []' >/dev/null"
req "$T/api-host.json" "$admin" "$web/hosts/hv-1" >/dev/null
aioctl host show hv-1 -o json >"$T/cli-host.json"
check "/hosts/hv-1: aioctl host show's keys" \
	[ "$(jq -S 'keys' "$T/api-host.json")" = "$(jq -S 'keys' "$T/cli-host.json")" ]
for pair in "rollouts|rollout list" "rollouts/1|rollout show 1" "drift|fleet drift" "alerts|alerts" "errors|errors" "trend|report trend" "hosts/hv-1/history|history hv-1"; do
	path=${pair%|*} cmd=${pair#*|}
	req "$T/a.json" "$admin" "$web/$path" >/dev/null
	aioctl $cmd -o json >"$T/c.json" 2>/dev/null
	check "/$path has aioctl $cmd's members" \
		[ "$(jq -S 'keys' "$T/a.json")" = "$(jq -S 'keys' "$T/c.json")" ]
done

# ---------------------------------------------------------- status codes
check "401: no token, WWW-Authenticate: Bearer" sh -c \
	"curl -s -i '$web/hosts' | grep -qi '^WWW-Authenticate: Bearer' && [ \$(curl -s -o /dev/null -w '%{http_code}' '$web/hosts') = 401 ]"
c=$(req "$T/e.json" "wrong-token" "$web/hosts")
check "401: a wrong token, a JSON error" is_error "$c" "$T/e.json" 401
c=$(req "$T/e.json" "$viewer" -X POST -d '{"max": 4194304}' "$web/rollouts")
check "403: a viewer's POST /rollouts (forged: the console offers it none)" is_error "$c" "$T/e.json" 403
check "  it says the role it needs" grep -q "viewer alice may not start rollouts: needs operator" "$T/e.json"
check "  and the refusal is audited with who" \
	sh -c "'$bin/aioctl' audit -o json | jq -e '[.entries[] | select(.who == \"alice@web\" and .action == \"denied\")] | length >= 1' >/dev/null"
c=$(req "$T/e.json" "$viewer" -X POST "$web/rollouts/1/rollback")
check "403: a viewer's rollback" is_error "$c" "$T/e.json" 403
c=$(req "$T/e.json" "$viewer" "$web/hosts")
check "a viewer reads the fleet: 200" [ "$c" = 200 ]
c=$(req "$T/e.json" "$admin" "$web/hosts/no-such-host")
check "404: an unknown host" is_error "$c" "$T/e.json" 404
c=$(req "$T/e.json" "$admin" "$web/rollouts/999")
check "404: an unknown rollout" is_error "$c" "$T/e.json" 404
c=$(req "$T/e.json" "$admin" "$web/nothing/here")
check "404: an unknown path" is_error "$c" "$T/e.json" 404
c=$(curl -s -o "$T/e.json" -w '%{http_code}' -D "$T/h" -H "Authorization: Bearer $admin" -X PUT "$web/hosts")
check "405: PUT /hosts, with Allow: GET" sh -c "[ $c = 405 ] && grep -qi '^Allow: GET' '$T/h'"
c=$(req "$T/e.json" "$admin" "$web/rollouts/1/pause")
check "405: GET of an action (POST only)" is_error "$c" "$T/e.json" 405
c=$(req "$T/e.json" "$admin" -X POST "$web/rollouts/1/resume")
check "409: resuming a rollout that is not paused" is_error "$c" "$T/e.json" 409
head -c 70000 /dev/zero | tr '\0' ' ' >"$T/big.json"
c=$(req "$T/e.json" "$admin" -X POST --data-binary "@$T/big.json" "$web/rollouts")
check "413: a body past 64 KiB ($c)" is_error "$c" "$T/e.json" 413
head -c 2000000 /dev/zero | tr '\0' ' ' >"$T/huge.json"
c=$(req "$T/e.json" "$admin" -X POST --data-binary "@$T/huge.json" "$web/rollouts")
check "a body past 1 MiB is not read: nng's 400 ($c)" [ "$c" = 400 ]
check "  the server keeps serving" serving
# 429: more live queries at once than a token may hold (two), while an
# agent that does not answer holds them for the live timeout
kill -STOP "$agent_db_1"
for i in 1 2 3 4; do
	req "$T/live$i.json" "$operator" "$web/hosts?live=1" >"$T/live$i.code" &
done
wait_for 15 sh -c "[ \$(cat '$T'/live?.code 2>/dev/null | wc -w) -eq 4 ]"
kill -CONT "$agent_db_1"
n429=0
for i in 1 2 3 4; do
	[ "$(cat "$T/live$i.code")" = 429 ] && is_error 429 "$T/live$i.json" 429 && n429=$((n429 + 1))
done
check "429: live queries past a token's two at once ($n429 of 4 refused)" [ "$n429" -ge 1 ]
check "  the held ones answered, naming the silent host" \
	sh -c "cat '$T'/live?.json | jq -se '[.[] | select(.not_answered == [\"db-1\"])] | length >= 1' >/dev/null"

# ---------------------------------------------------------- bad input
c=$(req "$T/e.json" "$admin" -X POST -d '{"max": ' "$web/rollouts")
check "400: bad JSON, named" sh -c "[ $c = 400 ] && grep -q 'not a JSON object' '$T/e.json'"
c=$(req "$T/e.json" "$admin" -X POST -d '{"max": 1048576, "dry_run": true, "maxx": 1}' "$web/rollouts")
check "400: an unknown field, named" sh -c "[ $c = 400 ] && grep -q \"unknown field 'maxx'\" '$T/e.json'"
c=$(req "$T/e.json" "$admin" -X POST -d '{"max": "big"}' "$web/rollouts")
check "400: a field of the wrong type" sh -c "[ $c = 400 ] && grep -q 'max: must be a whole number' '$T/e.json'"
c=$(req "$T/e.json" "$admin" -X POST -d '[1,2]' "$web/rollouts")
check "400: a body that is not an object" is_error "$c" "$T/e.json" 400
c=$(req "$T/e.json" "$admin" "$web/hosts?sort=room&colour=red")
check "400: an unknown parameter" sh -c "[ $c = 400 ] && grep -q \"unknown parameter 'colour'\" '$T/e.json'"
c=$(req "$T/e.json" "$admin" "$web/errors?since=last-tuesday")
check "400: a bad time" is_error "$c" "$T/e.json" 400
c=$(req "$T/e.json" "$admin" "$web/hosts/hv%2F1")
check "400: an escaped / in a path segment" is_error "$c" "$T/e.json" 400
c=$(req "$T/e.json" "$admin" "$web/hosts/hv%001")
check "400: %00" is_error "$c" "$T/e.json" 400
c=$(req "$T/e.json" "$admin" "$web/hosts/hv%zz")
check "400: a bad %-escape" is_error "$c" "$T/e.json" 400
c=$(req "$T/e.json" "$admin" "$web/hosts/%68%76-1")
check "a percent-encoded host name is decoded: 200" [ "$c" = 200 ]
c=$(req "$T/e.json" "$admin" "$web/hosts/$(head -c 3000 /dev/zero | tr '\0' a)")
check "400: a path past 2048 bytes" is_error "$c" "$T/e.json" 400
c=$(req "$T/e.json" "$admin" "$web/hosts?$(for i in $(seq 20); do printf 'select=a%%3D%d&' $i; done)")
check "400: more than 16 parameters" is_error "$c" "$T/e.json" 400
c=$(req "$T/e.json" "$admin" -H "X-Junk: $(head -c 20000 /dev/zero | tr '\0' x)" "$web/hosts")
# nng answers a header block past its buffer by closing the connection
check "an oversize header is refused ($c: 4xx, or the connection closed)" \
	test "$c" = 000 -o \( "$c" -ge 400 -a "$c" -lt 500 \)
c=$(req "$T/e.json" "$(head -c 5000 /dev/zero | tr '\0' t)" "$web/hosts")
check "401: a token past the credential bound" is_error "$c" "$T/e.json" 401
c=$(req "$T/e.json" "$admin" -X DELETE "$web/rollouts/1")
check "405: DELETE of a rollout" is_error "$c" "$T/e.json" 405
c=$(req "$T/e.json" "$admin" -X GET -d 'x' "$web/hosts")
check "400: a body on GET" is_error "$c" "$T/e.json" 400
check "the server keeps serving after all of it" serving
check "  and its agents still report" \
	sh -c "'$bin/aioctl' fleet status -o json | jq -e '[.hosts[] | select(.online)] | length == 3' >/dev/null"

# ---------------------------------------------------------- changes through the API
c=$(req "$T/plan.json" "$operator" -X POST -d '{"max": 1048576, "select": ["rack=r1"], "dry_run": true}' "$web/rollouts")
check "an operator's dry run: the plan, nothing started" \
	sh -c "[ $c = 200 ] && jq -e '.state == \"planned\" and ([.steps[].host] | sort) == [\"hv-1\",\"hv-2\"]' '$T/plan.json' >/dev/null"
c=$(req "$T/ro.json" "$operator" -X POST -d '{"max": 1048576, "select": ["rack=r1"], "canary": 1, "soak": "0s"}' "$web/rollouts")
id=$(jq -r .id "$T/ro.json")
check "an operator starts it: 200, an id" [ "$c" = 200 -a "$id" -gt 1 ]
wait_for 30 sh -c "curl -s -H 'Authorization: Bearer $admin' '$web/rollouts/$id' | jq -e '.state == \"completed\"' >/dev/null"
check "it completes; both sysroots hold the value" \
	sh -c "[ \$(cat '$T/hv-1/proc/sys/fs/aio-max-nr') = 1048576 ] && [ \$(cat '$T/hv-2/proc/sys/fs/aio-max-nr') = 1048576 ]"
check "  and keep it after reboot (their sysctl file)" \
	sh -c "grep -rqs 'fs.aio-max-nr *= *1048576' '$T/hv-1/etc/sysctl.d' && grep -rqs 'fs.aio-max-nr *= *1048576' '$T/hv-2/etc/sysctl.d'"
check "the audit names olga@web" \
	sh -c "'$bin/aioctl' audit -o json | jq -e '[.entries[] | select(.who == \"olga@web\")] | length >= 1' >/dev/null"

# ---------------------------------------------------------- the listener
src=$(cd "$(dirname "$0")/../.." && pwd)
sh "$src/deploy/make-certs.sh" "$T/certs" localhost >/dev/null 2>&1
wp=$(random_port)
"$bin/aio-server" --listen "tcp://127.0.0.1:$(random_port)" --admin-listen "tcp://127.0.0.1:$(random_port)" \
	--http-listen '' --web-listen "http://0.0.0.0:$wp" --state-dir "$T/plain" >"$T/plain.log" 2>&1
check "web-listen plain http off loopback: refused at start (exit $?)" \
	grep -q "plain HTTP off loopback carries admin tokens in the clear" "$T/plain.log"
"$bin/aio-server" --listen "tcp://127.0.0.1:$(random_port)" --admin-listen "tcp://127.0.0.1:$(random_port)" \
	--http-listen '' --web-listen "https://127.0.0.1:$wp" --tls-cert "$T/certs/server.pem" \
	--tls-key "$T/certs/server.key" --state-dir "$T/tls" >"$T/tls.log" 2>&1 &
echo $! >>"$T/pids"
tls_up() { curl -s --cacert "$T/certs/ca.pem" -o /dev/null "https://localhost:$wp/api/v1/openapi.json"; }
check "web-listen https://: the API over TLS with the server's certificate" wait_for 10 tls_up
check "  and the console page" sh -c "curl -s --cacert '$T/certs/ca.pem' https://localhost:$wp/ui/ | grep -q '/ui/app.js'"
check "  plain HTTP to it gets no answer" sh -c "! curl -s -m 3 -o /dev/null http://127.0.0.1:$wp/ui/"

# 503: a database that cannot take the rollout (a full disk), then room
# again: refused with 503, nothing lost, the next one stored
if [ "$(id -u)" = 0 ] && mkdir -p "$T/small" && mount -t tmpfs -o size=4m tmpfs "$T/small"; then
	kill "$server" && wait "$server" 2>/dev/null
	cp -a "$T/server" "$T/small/state"
	sp=$server
	start_server "$bin" "$T/small/state" || echo "FAIL: no server on the small disk"
	web=http://127.0.0.1:$ph/api/v1
	dd if=/dev/zero of="$T/small/fill" bs=64k 2>/dev/null
	c=$(req "$T/e.json" "$admin" -X POST -d '{"max": 2097152, "hosts": "db-1", "soak": "0s"}' "$web/rollouts")
	c2=$(req "$T/e.json" "$admin" -X POST -d '{"max": 2097152, "hosts": "db-1"}' "$web/rollouts")
	check "503 or 429 on a full disk, with why ($c, then $c2: $(jq -r .error.message "$T/e.json"))" \
		sh -c "[ $c = 503 -o $c = 429 ] && [ $c2 = 503 -o $c2 = 429 ]"
	ran503=$([ "$c" = 503 -o "$c2" = 503 ] && echo yes || echo no)
	rm -f "$T/small/fill"
	c=$(req "$T/ro2.json" "$admin" -X POST -d '{"max": 2097152, "hosts": "db-1"}' "$web/rollouts")
	check "room again: the rollout is taken ($c)" [ "$c" = 200 ]
	check "  the earlier rollouts are all still there" \
		sh -c "curl -s -H 'Authorization: Bearer $admin' '$web/rollouts' | jq -e '[.rollouts[].id] | index($id) != null' >/dev/null"
	[ "$ran503" = yes ] && pass=$((pass + 1)) && echo "ok: 503 seen" || { fail=$((fail + 1)); echo "FAIL: no 503 on a full disk"; }
else
	echo "skip: 503 on a full disk needs root (a tmpfs of the test's)"
fi
lib_summary
