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

# a loopback port base; the caller retries when a server cannot listen
random_port() { echo $((20000 + RANDOM % 30000)); }

# the closing line, and the exit status
lib_summary() {
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
}
