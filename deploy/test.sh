#!/bin/sh
# Installs what is needed, checks formatting, builds (warnings are errors)
# and runs every test; then builds with AddressSanitizer and UBSan and runs
# every test again. Run from anywhere, as root on a fresh Debian 12.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

./deploy/install-deps.sh

echo "== clang-format"
git ls-files '*.c' '*.h' | xargs clang-format --dry-run --Werror

jobs=$(nproc)
passed=0
failed=0
for variant in release asan; do
	dir="build-ci-$variant"
	case $variant in
	release) flags="-DCMAKE_BUILD_TYPE=RelWithDebInfo" ;;
	asan) flags="-DCMAKE_BUILD_TYPE=Debug -DAIO_SANITIZE=ON" ;;
	esac
	echo "== build ($variant)"
	# shellcheck disable=SC2086
	cmake -S . -B "$dir" -DAIO_WERROR=ON $flags >/dev/null
	cmake --build "$dir" -j "$jobs"
	echo "== test ($variant)"
	log="$dir/ctest.log"
	status=0
	(cd "$dir" && ctest -j "$jobs" --output-on-failure --timeout 300) >"$log" 2>&1 || status=$?
	cat "$log"
	total=$(sed -n 's/.*tests failed out of \([0-9]*\).*/\1/p' "$log" | tail -n 1)
	bad=$(grep -c '(Failed)\|(Timeout)\|(SEGFAULT)\|Not Run' "$log" || true)
	passed=$((passed + ${total:-0} - bad))
	failed=$((failed + bad))
	[ "$status" -eq 0 ] || { echo "suites: $passed passed, $failed failed"; exit "$status"; }
done

echo "== fuzz (each target briefly; crashes found are kept as regressions)"
./deploy/fuzz.sh "${FUZZ_SECONDS:-15}"

# one line for whoever reads the end of this log
echo "suites: $passed passed, $failed failed"
