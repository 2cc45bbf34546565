#!/bin/sh
# reliability_concurrency.sh - two processes on one root (issue 10):
#   - two `setup` processes: the second waits, bounded by --lock-timeout,
#     then exits 5 naming the holder's pid; with a longer timeout it waits
#     for the first to finish and then runs. (setup_install.sh's "the lock"
#     covers a root held by a plain flock(1); here the holder is a setup in
#     the middle of its install, and its pid is checked.)
#   - `register` registering and unregistering a module in a loop while
#     `setup` installs the sample product into the same root, and while an
#     install whose second module fails rolls back: every command of both
#     completes or fails cleanly, setup verify passes, the loop's keys are
#     as its last command left them, the rolled-back install left nothing,
#     and PRAGMA integrity_check passes (lib.sh's finish checks every root).
. "$(dirname "$0")/lib.sh"
M=$B/modules
S() { "$SETUP" -q "$@"; }
LIMIT=${SK_TEST_LIMIT:-120}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# wait_for FILE [TEXT]: up to LIMIT seconds for FILE to exist (and hold TEXT)
wait_for() {
	i=0
	until [ -e "$1" ] && { [ $# -lt 2 ] || grep -qF -- "$2" "$1"; }; do
		[ $i -ge $((LIMIT * 10)) ] && return 1
		sleep 0.1
		i=$((i + 1))
	done
}
BG=""
trap 'for p in $BG; do kill "$p" 2>/dev/null; done; rm -rf "$T"' EXIT
mkdir -p "$T/keys"
(cd "$T/keys" && "$MKMEDIA" keygen demo >/dev/null)
KEY=$T/keys/demo.pub

# --- two setups on one root ------------------------------------------------------
# A product whose before-files extension reports setup's pid ($PPID: the
# shell is setup's child) and then waits for the test to let it go, so the
# install holds the root's lock as long as the test needs.
mkdir -p "$T/hold/src"
echo payload >"$T/hold/src/a.txt"
cat >"$T/hold/hold.ini" <<EOF
[setupkit]
format = 2
kind = product
[product]
code = hold
name = Lock Holder
version = 1.0
default_dir = /opt/hold
[component main]
payload = main
default = yes
[file a]
component = main
source = a.txt
dest = {app}/a.txt
[extension wait]
point = before-files
timeout = 600
command = echo \$PPID >"$T/hold/pid"; i=0; while [ ! -e "$T/hold/go" ] && [ \$i -lt 3000 ]; do sleep 0.1; i=\$((i + 1)); done
EOF
printf '[setupkit]\nformat = 2\nkind = answers\n[install]\nproduct = hold\naccept_license = yes\n' >"$T/hold/ans.ini"
"$MKMEDIA" build "$T/hold/hold.ini" --source "$T/hold/src" --out "$T/hold/media" --sign "$T/keys/demo.key" >/dev/null ||
	bad "build the lock holder's media"
R=$(new_root twosetups)
HOLD="install --root $R --media $T/hold/media --unattended $T/hold/ans.ini --trusted-key $KEY"

# shellcheck disable=SC2086
S $HOLD >"$T/a.out" 2>&1 &
A=$!
BG="$BG $A"
check "setup A is inside its install, holding the lock" wait_for "$T/hold/pid"
PID_A=$(cat "$T/hold/pid")
check "... the lock file names it" test "$(cat "$R/var/lib/setupkit/lock")" = "$PID_A"
t0=$(now_ms)
# shellcheck disable=SC2086
expect_fail "setup B on the same root waits its --lock-timeout, then exits 5" 5 S $HOLD --lock-timeout 2
ms=$(($(now_ms) - t0))
contains "... naming setup A's pid" "$T/check.out" "is locked by process $PID_A ("
contains "... and how long it waited" "$T/check.out" "waited 2 s"
check "... it waited about that long (${ms} ms)" test "$ms" -ge 1900 -a "$ms" -lt $((LIMIT * 1000))
check "... and A is still running" kill -0 "$A"

# A second B with a longer timeout waits for A, then runs (a reinstall).
# shellcheck disable=SC2086
"$SETUP" $HOLD --lock-timeout "$LIMIT" >"$T/b.out" 2>&1 &
B2=$!
BG="$BG $B2"
check "setup B2 is waiting for the lock" wait_for "$T/b.out" "waiting for the lock"
check "... still" kill -0 "$B2"
touch "$T/hold/go"
wait "$A"
rc=$?
check "setup A finishes its install once let go (exit $rc)" test "$rc" -eq 0
wait "$B2"
rc=$?
check "setup B2 then takes the lock and runs (exit $rc)" test "$rc" -eq 0
[ "$rc" -eq 0 ] || sed "s/^/     | /" "$T/b.out" | tail -20
contains "... as a reinstall that keeps A's file" "$T/b.out" "1 to keep"
check "verify after both" S verify hold --root "$R"

# --- register while setup installs ---------------------------------------------------
sed 's/^start_services = yes/start_services = no/' "$SRC/manifests/examples/answers.ini" >"$T/answers.ini"
build_media || bad "build the sample media"
R=$(new_root concurrent)
"$REGISTER" --root "$R" query HKLM >/dev/null 2>&1   # create the store

# loop OUT: register and unregister noop.so until $T/stop appears (at
# most 500 rounds); one line per command: "reg EXIT" or "unreg EXIT".
loop() {
	n=0
	while [ ! -e "$T/stop" ] && [ $n -lt 500 ]; do
		"$REGISTER" --root "$R" -s "$M/noop.so" >>"$1.log" 2>&1
		echo "reg $?"
		"$REGISTER" --root "$R" -s -u "$M/noop.so" >>"$1.log" 2>&1
		echo "unreg $?"
		n=$((n + 1))
	done >"$1"
}
rm -f "$T/stop"
loop "$T/loop1" &
L=$!
BG="$BG $L"
sleep 0.5
before=$(wc -l <"$T/loop1")
t0=$(now_ms)
timeout -k 5 "$LIMIT" "$SETUP" -q install --root "$R" --media "$T/media" --unattended "$T/answers.ini" --trusted-key "$KEY" >"$T/inst.out" 2>&1
rc=$?
during=$(($(wc -l <"$T/loop1") - before))
touch "$T/stop"
wait "$L"
check "setup installs the sample while register runs (exit $rc, $(($(now_ms) - t0)) ms)" test "$rc" -eq 0
sed 's/^/     | /' "$T/inst.out" | tail -5
check "register ran $during commands during the install" test "$during" -ge 1
check "every register command succeeded ($(wc -l <"$T/loop1") of them)" sh -c "! grep -v ' 0\$' '$T/loop1'"
grep -v ' 0$' "$T/loop1" | head -3 | sed 's/^/     | /'
check "setup verify: every file and registration of the sample is whole" S verify mailsuite --root "$R"
check "the loop's module is unregistered, as its last command left it" \
	sh -c "! \"$REGISTER\" --root '$R' query 'HKLM\\Software\\SetupkitBench\\noop.so'"
check "the store is consistent (integrity_check)" \
	test "$(sqlite3 "$R/var/lib/setupkit/state.db" 'PRAGMA integrity_check' 2>&1)" = ok

# --- register while an install rolls back ------------------------------------------------
RF=$T/rf
mkdir -p "$RF/src"
cp "$M/good.so" "$RF/src/good.so"
cp "$M/fail_class.so" "$RF/src/bad.so"
cat >"$RF/rf.ini" <<'INI'
[setupkit]
format = 2
kind = product
[product]
code = rf
name = Failing Registration
version = 1.0
default_dir = /opt/rf
[component main]
payload = main
default = yes
[file good]
component = main
source = good.so
dest = {app}/good.so
flags = selfreg
[file bad]
component = main
source = bad.so
dest = {app}/bad.so
flags = selfreg
after = good
INI
printf '[setupkit]\nformat = 2\nkind = answers\n[install]\nproduct = rf\naccept_license = yes\n' >"$RF/ans.ini"
"$MKMEDIA" build "$RF/rf.ini" --source "$RF/src" --out "$RF/media" --sign "$T/keys/demo.key" >/dev/null ||
	bad "build the failing product's media"
snapshot "$R" "$T/before-rf.snap"
rm -f "$T/stop"
loop "$T/loop2" &
L=$!
BG="$BG $L"
sleep 0.5
before=$(wc -l <"$T/loop2")
timeout -k 5 "$LIMIT" "$SETUP" -q install --root "$R" --media "$RF/media" --unattended "$RF/ans.ini" --trusted-key "$KEY" --retries 1 >"$T/rf.out" 2>&1
rc=$?
during=$(($(wc -l <"$T/loop2") - before))
touch "$T/stop"
wait "$L"
check "an install whose second module fails exits 1 while register runs (exit $rc)" test "$rc" -eq 1
contains "... and says it was rolled back" "$T/rf.out" "failed and was rolled back"
check "register ran $during commands during it" test "$during" -ge 1
check "every register command succeeded ($(wc -l <"$T/loop2") of them)" sh -c "! grep -v ' 0\$' '$T/loop2'"
snapshot "$R" "$T/after-rf.snap"
check "the rollback left files, registry and state as before (the loop's module unregistered)" \
	cmp "$T/before-rf.snap" "$T/after-rf.snap"
check "the sample is still whole" S verify mailsuite --root "$R"

finish
