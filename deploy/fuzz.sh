#!/bin/sh
# Builds the libFuzzer targets with clang, AddressSanitizer and UBSan, and
# runs each for SECONDS (default 15) from its seed corpus. Inputs that ever
# crashed are kept in tests/fuzz/regressions/TARGET/ and run first, every
# time. A crash found now is copied there and fails the run.
#   deploy/fuzz.sh [SECONDS]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
seconds=${1:-15}
dir=build-fuzz
cmake -S . -B "$dir" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DAIO_FUZZ=ON \
	-DAIO_SANITIZE=ON -DAIO_TESTS=OFF -DAIO_WERROR=ON >/dev/null
cmake --build "$dir" -j "$(nproc)"
status=0
for t in envelope logparse sysctl conf duration spool steps domain; do
	work=$(mktemp -d)
	echo "== fuzz_$t for ${seconds}s"
	if ! (cd "$work" && "$top/$dir/tests/fuzz/fuzz_$t" -max_total_time="$seconds" \
		-timeout=10 -rss_limit_mb=1024 -print_final_stats=1 "$work" \
		"$top/tests/fuzz/corpus/$t" "$top/tests/fuzz/regressions/$t" >"$work.log" 2>&1); then
		status=1
	fi
	grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==ERROR|SUMMARY)" \
		"$work.log" || tail -n 20 "$work.log"
	rm -f "$work.log"
	for crash in "$work"/crash-* "$work"/leak-* "$work"/timeout-*; do
		[ -e "$crash" ] || continue
		cp "$crash" "tests/fuzz/regressions/$t/"
		echo "fuzz_$t: $(basename "$crash") kept in tests/fuzz/regressions/$t/" >&2
		status=1
	done
	rm -rf "$work"
done
exit $status
