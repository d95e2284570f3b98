# What the shell tests share: checks that count, waits with deadlines.
# Sourced by tests/real/test_*.sh; ends with `lib_summary` for ctest.
pass=0
fail=0

# check DESCRIPTION COMMAND...: one counted check
check() {
	local what=$1
	shift
	if "$@"; then
		pass=$((pass + 1))
		echo "ok: $what"
	else
		fail=$((fail + 1))
		echo "FAIL: $what"
	fi
}

# wait_for SECONDS COMMAND...: polls every 0.2 s until COMMAND succeeds
wait_for() {
	local deadline=$(($(date +%s) + $1))
	shift
	until "$@"; do
		[ "$(date +%s)" -ge "$deadline" ] && return 1
		sleep 0.2
	done
}

# jqe FILTER FILE: jq -e that fails on an empty or missing file too
jqe() { [ -s "$2" ] && jq -e "$1" "$2" >/dev/null; }

# A loopback port base below the kernel's ephemeral range (32768 and up
# by default): other tests' outgoing connections (test_capacity opens
# thousands) take ports from that range, and a server there may find its
# port taken. Callers that can retry when a server cannot listen do.
random_port() {
	local low
	low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
	[ "$low" -gt 21000 ] || low=32768
	echo $((20000 + RANDOM % (low - 20000 - 8)))
}

# server_started PID COMMAND...: polls until COMMAND succeeds (20 s at
# most), and gives up at once when PID, the server, has exited (its port
# was taken)
server_started() {
	local pid=$1 deadline=$(($(date +%s) + 20))
	shift
	until "$@"; do
		kill -0 "$pid" 2>/dev/null || return 1
		[ "$(date +%s)" -ge "$deadline" ] && return 1
		sleep 0.2
	done
}

# the closing line, and the exit status
lib_summary() {
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
}

# start_server BIN_DIR STATE_DIR [FLAGS...]: aio-server on fresh loopback
# ports (pa agents, pm aioctl, ph /metrics; tried again on others when one
# is taken), its pid in $server and in $T/pids, AIOCTL_SERVER and
# AIOCTL_TOKEN_FILE exported; the same ports again when $pa is set and
# $server_restart is 1. Returns non-zero if it never answered.
start_server() {
	local b=$1 state=$2 try
	shift 2
	for try in 1 2 3 4 5; do
		if [ "${server_restart:-0}" != 1 ]; then
			pa=$(random_port) pm=$(random_port) ph=$(random_port)
		fi
		"$b/aio-server" --listen "tcp://127.0.0.1:$pa" --admin-listen "tcp://127.0.0.1:$pm" \
			--http-listen "http://127.0.0.1:$ph" --state-dir "$state" "$@" \
			>>"$state.log" 2>&1 &
		server=$!
		echo $server >>"$T/pids"
		export AIOCTL_SERVER=127.0.0.1:$pm AIOCTL_TOKEN_FILE=$state/admin.token
		server_started $server "$b/aioctl" fleet status >/dev/null 2>&1 && return 0
		[ "${server_restart:-0}" = 1 ] && return 1
	done
	return 1
}

# start_agent NAME NR MAX RACK: an aio-agent on the sysroot $T/NAME (its
# fs.aio-nr and aio-max-nr as given, label rack=RACK), enrolled with a
# token of its own at the server start_server started; reports every
# 200 ms; its pid in $agent_pid and in $T/pids
start_agent() {
	mkdir -p "$T/$1/proc/sys/fs"
	echo "$2" >"$T/$1/proc/sys/fs/aio-nr"
	echo "$3" >"$T/$1/proc/sys/fs/aio-max-nr"
	"$bin/aioctl" enroll create --host "$1" >"$T/$1.token" 2>/dev/null
	"$bin/aio-agent" --server "tcp://127.0.0.1:$pa" --host-id "$1" --sysroot "$T/$1" \
		--interval 200ms --state-dir "$T/state-$1" --enroll-token-file "$T/$1.token" \
		--label "rack=$4" >"$T/agent-$1.log" 2>&1 &
	agent_pid=$!
	echo $agent_pid >>"$T/pids"
}
