#!/bin/sh
# reliability_mapped.sh - a running process that has a shared library
# mapped keeps working while setup replaces that library (issue 10):
# setup renames the new file over the old one and never truncates or
# rewrites the old inode in place, so the process goes on running the code
# it loaded. tests/fixtures/programs/use_library.c (compiled here) dlopens
# the sample's installed inetcomm.so and calls inetcomm_send in a loop,
# checking that the bytes it mapped do not change; SP1 then replaces the
# library, and removing SP1 puts the old one back. After each: the program
# is alive and still calling, nothing it mapped changed, its mapping is
# the original inode, that inode's bytes are intact (read through
# /proc/PID/map_files), and the path holds the file it should.
. "$(dirname "$0")/lib.sh"
S() { "$SETUP" -q "$@"; }
LIMIT=${SK_TEST_LIMIT:-120}
USER_PID=""
trap '[ -n "$USER_PID" ] && kill "$USER_PID" 2>/dev/null; rm -rf "$T"' EXIT

sed 's/^start_services = yes/start_services = no/' "$SRC/manifests/examples/answers.ini" >"$T/answers.ini"
build_media || { bad "build the sample media"; finish; exit 1; }
build_media "$SRC/manifests/examples/sp1.ini" "$T/sp1" || bad "build the SP1 media"
KEY=$T/keys/demo.pub
# A library built for make asan needs the sanitizer runtime loaded first:
# then the program is built with the sanitizers too.
SAN_FLAGS=""
grep -q __asan_init "$B/examples/tree/modules/inetcomm.so" && SAN_FLAGS="-fsanitize=address,undefined"
# shellcheck disable=SC2086
if ! ${CC:-cc} -O1 $SAN_FLAGS -o "$T/use_library" "$SRC/tests/fixtures/programs/use_library.c" -ldl 2>"$T/cc.out"; then
	bad "compile tests/fixtures/programs/use_library.c"
	sed 's/^/     | /' "$T/cc.out"
	finish
	exit 1
fi

R=$(new_root mapped)
LIB=$R/usr/lib/inetcomm.so
check "install the sample" S install --root "$R" --media "$T/media" --unattended "$T/answers.ini" --trusted-key "$KEY"
INODE0=$(stat -c %i "$LIB")
SUM0=$(sha256sum <"$LIB" | cut -c1-64)

"$T/use_library" "$LIB" inetcomm_send "$T/use.out" $((LIMIT * 3)) 2>"$T/use.err" &
USER_PID=$!
rounds() { wc -l <"$T/use.out" 2>/dev/null || echo 0; }
# wait_rounds N: until the program has done N more rounds (bounded)
wait_rounds() {
	want=$(($(rounds) + $1)) i=0
	while [ "$(rounds)" -lt "$want" ] && [ $i -lt $((LIMIT * 10)) ] && kill -0 "$USER_PID" 2>/dev/null; do
		sleep 0.1
		i=$((i + 1))
	done
	[ "$(rounds)" -ge "$want" ]
}
# mapped_inodes: the inodes the program maps the library's path from
mapped_inodes() { grep -F "$LIB" "/proc/$USER_PID/maps" | awk '{ print $5 }' | sort -u; }
# mapped_sum: SHA-256 of the file behind the program's first mapping of it
mapped_sum() {
	range=$(grep -F "$LIB" "/proc/$USER_PID/maps" | head -1 | cut -d' ' -f1)
	sha256sum <"/proc/$USER_PID/map_files/$range" | cut -c1-64
}
# still_fine WHEN: the program is alive, still calling, and saw no change
still_fine() {
	check "$1: the program still runs and calls into the library" wait_rounds 10
	check "$1: every call returned 4 and nothing it mapped changed" sh -c "! grep -v '^[0-9]* 4 same\$' '$T/use.out'"
	grep -v '^[0-9]* 4 same$' "$T/use.out" | head -3 | sed 's/^/     | /'
	check "$1: its mapping is still the original file (inode $INODE0)" test "$(mapped_inodes)" = "$INODE0"
	check "$1: whose bytes are intact" test "$(mapped_sum)" = "$SUM0"
}

check "the program maps the installed library and calls it" wait_rounds 5
check "... from the installed file's inode" test "$(mapped_inodes)" = "$INODE0"

check "apply SP1, which replaces inetcomm.so, while the program runs" \
	S sp apply --root "$R" --media "$T/sp1" --trusted-key "$KEY"
check "the path now holds SP1's file, a new inode" test "$(stat -c %i "$LIB")" != "$INODE0"
check "... with SP1's version" grep -q '5.5.2448.1' "$LIB"
still_fine "after SP1"
check "verify after SP1" S verify mailsuite --root "$R"

check "remove SP1 while the program runs" S sp remove mailsuite --root "$R"
check "the path holds the original file again, the same inode (kept, not copied)" test "$(stat -c %i "$LIB")" = "$INODE0"
check "... with the original bytes" test "$(sha256sum <"$LIB" | cut -c1-64)" = "$SUM0"
still_fine "after removing SP1"

check "a repair that finds the library fine leaves it alone" S repair mailsuite --root "$R" --media "$T/media" --trusted-key "$KEY"
still_fine "after repair"

kill "$USER_PID" 2>/dev/null
wait "$USER_PID" 2>/dev/null
USER_PID=""
check "the program reported no error" test ! -s "$T/use.err"
finish
