#!/bin/sh
# run.sh - run the unit-test binaries and end-to-end scripts given, and end
# with one line "N passed, N failed" totalling every test case.
#   B=build tests/run.sh test_a test_b -- tests/e2e/x.sh ...
# Unit binaries are cmocka programs in $B/tests; each e2e script prints its
# own "N passed, N failed" line, which is added to the total.
set -u
B=${B:-build}
export B
passed=0 failed=0 failures=""
logdir=$(mktemp -d "${TMPDIR:-/tmp}/setupkit-run-XXXXXX")
trap 'rm -rf "$logdir"' EXIT

count() { # file -> sets p f from cmocka or plain summary lines
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p; s/^.*\b\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed.*/\1/p' "$1" | awk '{s+=$1} END{print s+0}')
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p; s/^.*\b[0-9][0-9]* passed, \([0-9][0-9]*\) failed.*/\1/p' "$1" | awk '{s+=$1} END{print s+0}')
}

run_one() { # name command...
	name=$1; shift
	log="$logdir/$(echo "$name" | tr '/' '_').log"
	"$@" >"$log" 2>&1
	rc=$?
	count "$log"
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	passed=$((passed + p)); failed=$((failed + f))
	if [ "$rc" -ne 0 ] || [ "$f" -ne 0 ]; then
		printf 'FAIL %-40s %d passed, %d failed (exit %d)\n' "$name" "$p" "$f" "$rc"
		sed 's/^/    | /' "$log" | tail -n 60
		failures="$failures $name"
	else
		printf 'ok   %-40s %d passed\n' "$name" "$p"
	fi
}

mode=unit
for arg in "$@"; do
	if [ "$arg" = "--" ]; then mode=e2e; continue; fi
	if [ $mode = unit ]; then
		run_one "$arg" "$B/tests/$arg"
	else
		run_one "$arg" sh "$arg"
	fi
done

[ -n "$failures" ] && echo "failed:$failures"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
