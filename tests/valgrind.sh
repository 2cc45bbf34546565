#!/bin/sh
# valgrind.sh - run one program under valgrind memcheck the way `make
# valgrind` runs every test, and fail when valgrind reports anything.
#
#   tests/valgrind.sh PROGRAM [ARGS...]    run it; exit with its exit code,
#                                          or 99 when valgrind found errors
#   tests/valgrind.sh --wrap DIR PROGRAM   write DIR/<name of PROGRAM>, an
#                                          executable that runs PROGRAM this
#                                          way; print its path (lib.sh uses
#                                          it for $SETUP, $REGISTER, $MKMEDIA)
#
# Every process of the run is checked, not only PROGRAM: children that are
# exec'd (the registration helper and fork server, tools run by unit tests)
# are traced, and so are forked ones (valgrind follows fork: the fork
# server's per-module children). System programs (/bin, /usr/bin: the
# shell that runs extensions and services, sleep, flock) are not ours and
# run natively, and so does everything they start. Each process logs to its
# own file; after PROGRAM exits the logs are scanned: any memcheck error,
# any definite leak of a process that ended normally, or valgrind failing
# to start a child fails the run.
# Errors are counted even in a process that was killed (the crash tests'
# SIGKILL) and so never printed its ERROR SUMMARY.
#
# Environment:
#   SK_VALGRIND_FAILED  a file; one line is appended per failing run, so a
#                       test that expected PROGRAM to fail still notices
#                       (run.sh and lib.sh's finish read it)
#   SK_VALGRIND_KEEP    keep the logs of clean runs too (in $TMPDIR)
# Traps: a run that found errors exits 99 whatever PROGRAM returned, but a
# PROGRAM killed by a signal is killed by the same signal here (after the
# scan), so callers that look for a signal still see it.
set -u
SRC=$(cd "$(dirname "$0")/.." && pwd)
VG_RC=99

if [ "${1:-}" = "--wrap" ]; then
	[ $# -eq 3 ] || { echo "usage: $0 --wrap DIR PROGRAM" >&2; exit 2; }
	mkdir -p "$2" || exit 1
	w="$2/$(basename "$3")"
	printf '#!/bin/sh\nexec sh "%s/tests/valgrind.sh" "%s" "$@"\n' "$SRC" "$3" >"$w" || exit 1
	chmod 0755 "$w" || exit 1
	echo "$w"
	exit 0
fi
[ $# -ge 1 ] || { echo "usage: $0 PROGRAM [ARGS...]" >&2; exit 2; }

logs=$(mktemp -d "${TMPDIR:-/tmp}/setupkit-vg-XXXXXX") || exit 1
# A terminal's Ctrl-C (or timeout's SIGTERM) reaches this script too: it
# must outlive PROGRAM, which may catch the signal, roll back and exit 1
# (the wizard), and then pass on that exit status, not die first. A trap
# that runs a command, unlike an ignored signal, is not inherited.
trap ':' INT TERM HUP QUIT
valgrind --tool=memcheck --error-exitcode=$VG_RC \
	--leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite \
	--trace-children=yes --trace-children-skip='/bin/*,/usr/bin/*,/sbin/*,/usr/sbin/*,/usr/local/bin/*' \
	--child-silent-after-fork=no --num-callers=30 \
	--suppressions="$SRC/tests/valgrind.supp" \
	--log-file="$logs/vg.%p.log" "$@"
rc=$?

# Which logs report a problem. An error's first line is "==PID== What",
# its stack follows; leaks other than definite ones are not shown at all.
# A process killed by a signal (the crash tests' SIGKILL at a chosen point,
# a fixture's SIGSEGV) never got to free anything: its leak report says
# nothing, so only its memory errors count. valgrind says so in the log
# ("Process terminating with default action of signal"), except when the
# program kills itself with SIGKILL (SETUPKIT_CRASH_AT): it still writes
# a leak report then, and only the exit status tells. That is PROGRAM's
# own log, the one whose parent is this script.
errors='^==[0-9]+== (Invalid |Mismatched |Conditional jump|Use of uninitialised|Syscall param|Source and destination overlap|Argument .* of function|Illegal memory pool|Fishy value)'
leaks='^==[0-9]+== ([0-9,]+ (\([0-9,]+ direct, [0-9,]+ indirect\) )?bytes in [0-9,]+ blocks are definitely lost|ERROR SUMMARY: [1-9])'
bad=""
for f in "$logs"/vg.*.log; do
	[ -f "$f" ] || continue
	killed=0
	grep -q -E '^==[0-9]+== Process terminating with default action of signal' "$f" && killed=1
	[ "$rc" -gt 128 ] && grep -q -E "^==[0-9]+== Parent PID: $$\$" "$f" && killed=1
	if grep -q -E -e "$errors" -e '^valgrind: ' "$f" ||
	   { [ $killed -eq 0 ] && grep -q -E "$leaks" "$f"; }; then
		bad="$bad $f"
	fi
done
if [ -n "$bad" ]; then
	{
		echo "valgrind: errors in $* (exit $rc):"
		for f in $bad; do
			echo "---- $f"
			cat "$f"
		done
	} >&2
	[ -n "${SK_VALGRIND_FAILED:-}" ] && echo "$* (logs: $logs)" >>"$SK_VALGRIND_FAILED"
	echo "valgrind: logs kept in $logs" >&2
	rc=$VG_RC
elif [ -z "${SK_VALGRIND_KEEP:-}" ]; then
	rm -rf "$logs"
fi
if [ "$rc" -gt 128 ] && [ "$rc" -lt 160 ]; then
	sig=$(kill -l $((rc - 128)) 2>/dev/null) && { trap - "$sig" 2>/dev/null; kill -s "$sig" $$; }
fi
exit "$rc"
