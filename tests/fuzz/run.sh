#!/bin/sh
# run.sh - `make fuzz`: for each target named, replay its committed
# regression inputs, then fuzz it for FUZZ_TIME seconds from its seeds
# (generated: $FZ/corpus/T, committed: tests/fuzz/seeds/T and regress/T;
# new inputs go to $FZ/work/T, so coverage carries over between runs).
# Prints one line per target (runs, exec/s, coverage, corpus) and fails
# when any target crashed; the crashing input is saved as
# $FZ/crashes/T-crash-<sha1> - copy it to tests/fuzz/regress/T/ once fixed.
#
#   FZ=build/fuzz FUZZ_TIME=60 tests/fuzz/run.sh manifest answers ...
#
# Every target writes only below $TMPDIR; here TMPDIR is a private directory
# (in /dev/shm when there is one: recovery and the stores fsync a lot),
# removed after each target, so even a crash leaves nothing behind.
set -u
FZ=${FZ:-build/fuzz}
FUZZ_TIME=${FUZZ_TIME:-60}
base=${FUZZ_TMPDIR:-}
if [ -z "$base" ]; then
	if [ -d /dev/shm ] && [ -w /dev/shm ]; then base=/dev/shm; else base=${TMPDIR:-/tmp}; fi
fi
mkdir -p "$FZ/work" "$FZ/crashes" "$FZ/logs"

# Per-target options: inputs beyond these sizes add nothing but time.
opts() {
	case $1 in
	payload) echo "-max_len=65536 -timeout=30" ;;
	journal) echo "-max_len=4096 -timeout=30" ;;
	regfile) echo "-max_len=8192 -timeout=20" ;;
	*)       echo "-max_len=16384 -timeout=20" ;;
	esac
}

# One target (run by the pool below): --one T.
if [ "${1:-}" = "--one" ]; then
	t=$2
	bin=$FZ/bin/fuzz_$t
	log=$FZ/logs/$t.log
	tmp=$(mktemp -d "$base/setupkit-fuzz-run-XXXXXX")
	dict=""
	[ -f "tests/fuzz/dict/$t.dict" ] && dict="-dict=tests/fuzz/dict/$t.dict"
	mkdir -p "$FZ/work/$t"
	# 1. The regression inputs, each once.
	regress=$(ls tests/fuzz/regress/"$t"/* 2>/dev/null)
	if [ -n "$regress" ]; then
		# shellcheck disable=SC2086
		if ! TMPDIR=$tmp "$bin" $regress >"$log.regress" 2>&1; then
			echo "FAIL fuzz_$t: a regression input crashes again"
			tail -n 40 "$log.regress" | sed 's/^/    | /'
			rm -rf "$tmp"
			exit 1
		fi
	fi
	# 2. Fuzz from the seeds.
	seeds=""
	for d in "$FZ/corpus/$t" "tests/fuzz/seeds/$t" "tests/fuzz/regress/$t"; do
		[ -d "$d" ] && seeds="$seeds $d"
	done
	# shellcheck disable=SC2046,SC2086
	TMPDIR=$tmp "$bin" -max_total_time="$FUZZ_TIME" -print_final_stats=1 \
		-artifact_prefix="$FZ/crashes/$t-" $(opts "$t") $dict \
		"$FZ/work/$t" $seeds >"$log" 2>&1
	rc=$?
	rm -rf "$tmp"
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | sed 's/cov: //')
	ft=$(grep -o 'ft: [0-9]*' "$log" | tail -n 1 | sed 's/ft: //')
	corp=$(grep -o 'corp: [0-9]*/[0-9a-zA-Z]*' "$log" | tail -n 1 | sed 's/corp: //')
	if [ "$rc" -ne 0 ]; then
		echo "FAIL fuzz_$t: exit $rc after ${runs:-?} runs (log: $log)"
		grep -E '^(==[0-9]+==ERROR|SUMMARY|fuzz: |.*runtime error|artifact_prefix|Test unit written)' "$log" |
			head -n 12 | sed 's/^/    | /'
		exit 1
	else
		printf 'ok   fuzz_%-9s %ss: %s runs, %s exec/s, cov %s, ft %s, corpus %s\n' \
			"$t" "$FUZZ_TIME" "${runs:-?}" "${eps:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}"
	fi
	exit 0
fi

# FUZZ_JOBS targets at a time (default: the number of CPUs; each target
# is one process, so they do not compete on a machine with that many).
jobs=${FUZZ_JOBS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)}
if ! printf '%s\n' "$@" | xargs -P "$jobs" -n 1 sh "$0" --one; then
	echo "fuzz: crashes (the FAIL lines above; inputs in $FZ/crashes/)"
	exit 1
fi
echo "fuzz: no crashes"
