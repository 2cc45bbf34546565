#!/bin/sh
# run.sh - run the unit-test binaries and end-to-end scripts given, and end
# with one line "N passed, N failed" totalling every test case.
#   B=build tests/run.sh test_a test_b -- tests/e2e/x.sh ...
# Unit binaries are cmocka programs in $B/tests; each e2e script prints its
# own "N passed, N failed" line, which is added to the total.
#
# TEST_JOBS=n (default: the number of CPUs) runs up to n tests at once;
# each prints its "ok"/"FAIL" line when it ends, so the order of those lines
# varies; the logs of failed tests and the total follow, in the order given.
# Tests are independent: each works in its own mktemp directory.
#
# With SK_VALGRIND set (make valgrind), unit binaries run under
# tests/valgrind.sh, and so do the tools the e2e scripts start (lib.sh);
# a test during which valgrind reported errors counts as failed even when
# the run it found them in was expected to fail (each test gets its own
# SK_VALGRIND_FAILED file, where valgrind.sh notes such runs).
set -u
B=${B:-build}
export B
SRC=$(cd "$(dirname "$0")/.." && pwd)

count() { # file -> sets p f from cmocka or plain summary lines
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p; s/^.*\b\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed.*/\1/p' "$1" | awk '{s+=$1} END{print s+0}')
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p; s/^.*\b[0-9][0-9]* passed, \([0-9][0-9]*\) failed.*/\1/p' "$1" | awk '{s+=$1} END{print s+0}')
}

# One test (run by the pool below): "--one N KIND NAME" runs test number N,
# writes its log to $RUN_LOGDIR/N.log and "passed failed exit seconds" to
# $RUN_LOGDIR/N.res, and prints its one-line result.
if [ "${1:-}" = "--one" ]; then
	n=$2 kind=$3 name=$4
	log=$RUN_LOGDIR/$n.log
	if [ -n "${SK_VALGRIND:-}" ]; then
		SK_VALGRIND_FAILED=$RUN_LOGDIR/$n.vg
		export SK_VALGRIND_FAILED
		: >"$SK_VALGRIND_FAILED"
	fi
	t0=$(date +%s)
	case $kind in
	unit) if [ -n "${SK_VALGRIND:-}" ]; then sh "$SRC/tests/valgrind.sh" "$B/tests/$name"; else "$B/tests/$name"; fi ;;
	e2e) sh "$name" ;;
	esac >"$log" 2>&1
	rc=$?
	secs=$(($(date +%s) - t0))
	count "$log"
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	if [ -s "${SK_VALGRIND_FAILED:-/dev/null}" ]; then
		echo "valgrind reported errors in: $(tr '\n' ';' <"$SK_VALGRIND_FAILED")" >>"$log"
		[ "$f" -eq 0 ] && f=1
		[ "$rc" -eq 0 ] && rc=99
	fi
	echo "$p $f $rc $secs" >"$RUN_LOGDIR/$n.res"
	if [ "$rc" -ne 0 ] || [ "$f" -ne 0 ]; then
		printf 'FAIL %-40s %d passed, %d failed (exit %d, %d s)\n' "$name" "$p" "$f" "$rc" "$secs"
	else
		printf 'ok   %-40s %d passed (%d s)\n' "$name" "$p" "$secs"
	fi
	exit 0
fi

RUN_LOGDIR=$(mktemp -d "${TMPDIR:-/tmp}/setupkit-run-XXXXXX")
export RUN_LOGDIR
trap 'rm -rf "$RUN_LOGDIR"' EXIT
[ -n "${SK_VALGRIND:-}" ] && export SK_VALGRIND
jobs=${TEST_JOBS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)}

# The list: "N KIND NAME" per line, N in the order given.
n=0 kind=unit
for arg in "$@"; do
	if [ "$arg" = "--" ]; then kind=e2e; continue; fi
	n=$((n + 1))
	echo "$n $kind $arg"
done >"$RUN_LOGDIR/list"

# The end-to-end scripts start first (they are the long ones); the unit
# binaries, mostly quick, fill the slots that free up.
{ grep ' e2e ' "$RUN_LOGDIR/list"; grep ' unit ' "$RUN_LOGDIR/list"; } |
	xargs -P "$jobs" -L 1 sh "$SRC/tests/run.sh" --one

passed=0 failed=0 failures=""
while read -r n kind name; do
	if [ -f "$RUN_LOGDIR/$n.res" ]; then
		read -r p f rc secs <"$RUN_LOGDIR/$n.res"
	else
		p=0 f=1 rc=1   # the pool never ran it (xargs itself failed)
	fi
	passed=$((passed + p)); failed=$((failed + f))
	if [ "$rc" -ne 0 ] || [ "$f" -ne 0 ]; then
		echo "---- $name: $p passed, $f failed (exit $rc); the end of its log:"
		[ -f "$RUN_LOGDIR/$n.log" ] && sed 's/^/    | /' "$RUN_LOGDIR/$n.log" | tail -n 60
		failures="$failures $name"
	fi
done <"$RUN_LOGDIR/list"

[ -n "$failures" ] && echo "failed:$failures"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
