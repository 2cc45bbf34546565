#!/bin/sh
# replay.sh - part of `make check`: run every committed regression input
# (tests/fuzz/regress/T/) and every seed (tests/fuzz/seeds/T/, and the
# generated build/fuzz/corpus/T/) once through fuzz target T built with
# $(CC) and fuzz_replay_main.c ($B/fuzz-replay/replay_T). One input, one
# process: a crash or an oracle's abort fails that input only. Ends with
# "N passed, N failed" like every suite of tests/run.sh.
#
# The targets write only below $TMPDIR, here a private directory removed at
# the end (a crashing input leaves its files there, never elsewhere); in
# /dev/shm when there is one, as recovery syncs the filesystem it writes to.
set -u
B=${B:-build}
FZ=${FZ:-build/fuzz}
passed=0 failed=0
base=${TMPDIR:-/tmp}
[ -d /dev/shm ] && [ -w /dev/shm ] && base=/dev/shm
tmp=$(mktemp -d "$base/setupkit-fuzz-replay-XXXXXX")
trap 'rm -rf "$tmp"' EXIT

for t in manifest answers regfile payload journal; do
	bin=$B/fuzz-replay/replay_$t
	if [ ! -x "$bin" ]; then
		echo "FAIL $t: $bin is not built"
		failed=$((failed + 1))
		continue
	fi
	n=0
	for f in tests/fuzz/regress/"$t"/* tests/fuzz/seeds/"$t"/* "$FZ"/corpus/"$t"/*; do
		[ -f "$f" ] || continue
		n=$((n + 1))
		if TMPDIR=$tmp timeout 60 "$bin" "$f" >"$tmp/log" 2>&1; then
			passed=$((passed + 1))
		else
			failed=$((failed + 1))
			echo "FAIL $t: $f"
			tail -n 15 "$tmp/log" | sed 's/^/    | /'
		fi
	done
	echo "$t: $n inputs"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
