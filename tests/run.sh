#!/bin/sh
# run.sh - run the unit-test binaries and end-to-end scripts given, and end
# with one line "N passed, N failed" totalling every test case.
#   B=build tests/run.sh test_a test_b -- tests/e2e/x.sh ...
# Unit binaries are cmocka programs in $B/tests; each e2e script prints its
# own "N passed, N failed" line, which is added to the total.
# With SK_VALGRIND set (make valgrind), unit binaries run under
# tests/valgrind.sh, and so do the tools the e2e scripts start (lib.sh);
# a test during which valgrind reported errors counts as failed even when
# the run it found them in was expected to fail.
set -u
B=${B:-build}
export B
SRC=$(cd "$(dirname "$0")/.." && pwd)
passed=0 failed=0 failures=""
logdir=$(mktemp -d "${TMPDIR:-/tmp}/setupkit-run-XXXXXX")
trap 'rm -rf "$logdir"' EXIT
vg_lines() { if [ -n "${SK_VALGRIND:-}" ]; then wc -l <"$SK_VALGRIND_FAILED"; else echo 0; fi; }
if [ -n "${SK_VALGRIND:-}" ]; then
	SK_VALGRIND_FAILED=$logdir/valgrind.failed
	export SK_VALGRIND SK_VALGRIND_FAILED
	: >"$SK_VALGRIND_FAILED"
fi

count() { # file -> sets p f from cmocka or plain summary lines
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p; s/^.*\b\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed.*/\1/p' "$1" | awk '{s+=$1} END{print s+0}')
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p; s/^.*\b[0-9][0-9]* passed, \([0-9][0-9]*\) failed.*/\1/p' "$1" | awk '{s+=$1} END{print s+0}')
}

run_one() { # name command...
	name=$1; shift
	log="$logdir/$(echo "$name" | tr '/' '_').log"
	vg0=$(vg_lines)
	"$@" >"$log" 2>&1
	rc=$?
	count "$log"
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	if [ "$(vg_lines)" -ne "$vg0" ]; then
		echo "valgrind reported errors in: $(tail -n +$((vg0 + 1)) "$SK_VALGRIND_FAILED" | tr '\n' ';')" >>"$log"
		[ "$f" -eq 0 ] && f=1
		[ "$rc" -eq 0 ] && rc=99
	fi
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
	if [ $mode = unit ] && [ -n "${SK_VALGRIND:-}" ]; then
		run_one "$arg" sh "$SRC/tests/valgrind.sh" "$B/tests/$arg"
	elif [ $mode = unit ]; then
		run_one "$arg" "$B/tests/$arg"
	else
		run_one "$arg" sh "$arg"
	fi
done

[ -n "$failures" ] && echo "failed:$failures"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
