#!/bin/sh
# reliability_modules.sh - hostile modules (issue 10), registered by
# `register` and installed by `setup`, each within a bounded time and with
# its outcome asserted; the state database passes PRAGMA integrity_check
# (lib.sh's finish) and setup verify afterwards:
#   fork_daemon.so  forks a daemon during DllRegisterServer that keeps the
#                   registration child's stdout, stderr and result pipe
#                   open and sleeps (in the child's process group, or out
#                   of it with setsid)
#   own_sqlite.so   opens its own SQLite connection to the state database,
#                   creates a table and holds a write transaction, during
#                   the call or (forked) overlapping the parent's write
#   noisy.so        writes 8 MiB to stdout and 8 MiB to stderr
# Fixtures: tests/fixtures/modules/*.c, built into $B/modules. Every daemon
# a module starts is ended by pid at exit.
. "$(dirname "$0")/lib.sh"
M=$B/modules
S() { "$SETUP" -q "$@"; }
# Bounds: a registration takes milliseconds natively, seconds under make
# valgrind; a run that needs longer than this is a deadlock.
LIMIT=${SK_TEST_LIMIT:-120}
DAEMON_SECONDS=$((LIMIT * 3))
PIDS=$T/daemon-pids
: >"$PIDS"
trap 'while read -r p; do kill "$p" 2>/dev/null; done <"$PIDS"; rm -rf "$T"' EXIT

for f in fork_daemon own_sqlite noisy; do
	if [ ! -f "$M/$f.so" ]; then
		bad "fixture $M/$f.so is not built (add $f to REG_FIXTURES in register/module.mk, or make $M/$f.so)"
		finish
		exit 1
	fi
done

now_ms() { echo $(($(date +%s%N) / 1000000)); }
# timed DESCRIPTION WANT-EXIT command... : runs it under `timeout`, checks the
# exit code, and that it took less than LIMIT seconds; output in $T/check.out
timed() {
	d=$1 want=$2; shift 2
	t0=$(now_ms)
	timeout -k 5 "$LIMIT" "$@" >"$T/check.out" 2>&1
	got=$?
	ms=$(($(now_ms) - t0))
	if [ "$got" -eq 124 ] || [ "$got" -eq 137 ]; then
		bad "$d: still running after $LIMIT s (killed)"
	elif [ "$got" -ne "$want" ]; then
		bad "$d (exit $got, want $want, $ms ms)"
		sed 's/^/     | /' "$T/check.out" | tail -20
	else
		ok "$d ($ms ms)"
	fi
}
# alive PID: the process exists and is not a zombie
alive() { [ -d "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
remember() { [ -s "$1" ] && { cat "$1"; echo; } >>"$PIDS"; }

# --- register ----------------------------------------------------------------
R=$(new_root register)
DB=$R/var/lib/setupkit/state.db
"$REGISTER" --root "$R" query HKLM >/dev/null 2>&1   # create the store

# The daemon keeps stdout, stderr and the result pipe: register must stop
# reading at the child's "done", not at end of file.
SK_TEST_DAEMON_SECONDS=$DAEMON_SECONDS SK_TEST_PIDFILE=$T/d1.pid \
	timed "register: a module whose registration leaves a daemon holding its output returns" 0 \
	"$REGISTER" --root "$R" "$M/fork_daemon.so"
remember "$T/d1.pid"
contains "... and says it succeeded" "$T/check.out" "DllRegisterServer in '$M/fork_daemon.so' succeeded"
check "... the daemon is still running (it is the module's, not ours to end)" alive "$(cat "$T/d1.pid")"
"$REGISTER" --root "$R" query 'HKLM\Software\SetupkitTest\ForkDaemon' >"$T/q" 2>&1
contains "... what the module wrote is registered" "$T/q" "Daemon    REG_SZ    $(cat "$T/d1.pid")"
SK_TEST_DAEMON_SETSID=1 SK_TEST_DAEMON_SECONDS=$DAEMON_SECONDS SK_TEST_PIDFILE=$T/d2.pid \
	timed "register: the same with a daemon that left the process group (setsid)" 0 \
	"$REGISTER" --root "$R" "$M/fork_daemon.so"
remember "$T/d2.pid"
timed "register -u of that module" 0 "$REGISTER" --root "$R" -u "$M/fork_daemon.so"
check "... its key is gone" sh -c "! \"$REGISTER\" --root '$R' query 'HKLM\\Software\\SetupkitTest\\ForkDaemon'"
# With several modules, register uses its fork server: a daemon forked
# from one of its children must not hold up the batch either.
SK_TEST_DAEMON_SECONDS=$DAEMON_SECONDS SK_TEST_PIDFILE=$T/d3.pid \
	timed "register: the daemon module in a batch (fork server) with two more" 0 \
	"$REGISTER" --root "$R" "$M/fork_daemon.so" "$M/good.so" "$M/noop.so"
remember "$T/d3.pid"
contains "... the module after it registered too" "$T/check.out" "DllRegisterServer in '$M/noop.so' succeeded"

# Its own connection, holding the write lock during the call.
SK_TEST_DB=$DB SK_TEST_HOLD_MS=1500 \
	timed "register: a module writing to the state database through its own connection" 0 \
	"$REGISTER" --root "$R" "$M/own_sqlite.so"
check "... its own table has its row" test "$(sqlite3 "$DB" 'SELECT count(*) FROM own_sqlite_log' 2>&1)" = 1
"$REGISTER" --root "$R" query 'HKLM\Software\SetupkitTest\OwnSqlite' >"$T/q" 2>&1
contains "... and its registration was applied" "$T/q" "Rows    REG_SZ    1"
# A forked process holds the write lock while register applies the
# registration: register waits for the lock (busy timeout), then applies.
SK_TEST_DB=$DB SK_TEST_HOLD_MS=3000 SK_TEST_HOLD_BACKGROUND=1 \
	timed "register: ... holding the write lock across the parent's own write" 0 \
	"$REGISTER" --root "$R" "$M/own_sqlite.so"
"$REGISTER" --root "$R" query 'HKLM\Software\SetupkitTest\OwnSqlite' >"$T/q" 2>&1
contains "... the registration was applied after the lock was released" "$T/q" "Rows    REG_SZ    -1"
sleep 1   # the forked writer commits and ends (it held the lock 3 s from the start)
check "... and the forked writer's row is there" test "$(sqlite3 "$DB" 'SELECT count(*) FROM own_sqlite_log' 2>&1)" = 2
check "register: the store is consistent (integrity_check)" test "$(sqlite3 "$DB" 'PRAGMA integrity_check' 2>&1)" = ok

timed "register: a module writing 8 MiB to stdout and 8 MiB to stderr (to files)" 0 \
	sh -c "\"$REGISTER\" --root '$R' '$M/noisy.so' >'$T/noisy.out' 2>'$T/noisy.err'"
check "... every byte reached stdout and stderr" test "$(wc -c <"$T/noisy.out")" -gt 8388608 -a "$(wc -c <"$T/noisy.err")" -ge 8388608
"$REGISTER" --root "$R" query 'HKLM\Software\SetupkitTest\Noisy' >"$T/q" 2>&1
contains "... and it registered" "$T/q" "Bytes    REG_SZ    8388608"
timed "register: the same through a pipe read as it comes" 0 \
	sh -c "\"$REGISTER\" --root '$R' '$M/noisy.so' 2>&1 | wc -c >'$T/noisy.count'"
check "... 16 MiB and the result line came through" test "$(cat "$T/noisy.count")" -gt 16777216
timed "register -s (silent): the noise goes nowhere" 0 "$REGISTER" --root "$R" -s "$M/noisy.so"

# --- setup ---------------------------------------------------------------------
# One small product per module, so each outcome is its own.
product() { # code module-file [extra lines]
	mkdir -p "$T/src-$1"
	cp "$M/$2" "$T/src-$1/$2"
	cat >"$T/$1.ini" <<EOF
[setupkit]
format = 2
kind = product
[product]
code = $1
name = Hostile $1
version = 1.0
default_dir = /opt/$1
[component main]
payload = main
default = yes
[file mod]
component = main
source = $2
dest = {app}/$2
flags = selfreg
EOF
	mkdir -p "$T/keys"
	[ -f "$T/keys/demo.key" ] || (cd "$T/keys" && "$MKMEDIA" keygen demo >/dev/null)
	"$MKMEDIA" build "$T/$1.ini" --source "$T/src-$1" --out "$T/media-$1" --sign "$T/keys/demo.key" >/dev/null ||
		bad "build the media of $1"
	printf '[setupkit]\nformat = 2\nkind = answers\n[install]\nproduct = %s\naccept_license = yes\nstart_services = no\n' "$1" >"$T/$1.ans"
}
product daemon fork_daemon.so
product sqlite own_sqlite.so
product noisy noisy.so
R=$(new_root setup)
DB=$R/var/lib/setupkit/state.db
# inst CODE: the words of an unattended install of product CODE into $R
inst() { INST="$SETUP -q install --root $R --media $T/media-$1 --unattended $T/$1.ans --trusted-key $T/keys/demo.pub"; }

# setup's output is a pipe here: the daemon must not hold it (setup gives
# the registration child /dev/null for stdout and stderr).
inst daemon
SK_TEST_DAEMON_SECONDS=$DAEMON_SECONDS SK_TEST_PIDFILE=$T/d4.pid \
	timed "setup: install a product whose module leaves a daemon behind, output to a pipe" 0 \
	sh -c "$INST 2>&1 | cat"
remember "$T/d4.pid"
check "... the daemon holds no file of setup's (its log, the state database)" \
	sh -c "! ls -l /proc/$(cat "$T/d4.pid")/fd | grep -F '$R/'"
check "... verify: the product and its registration are whole" S verify daemon --root "$R"
check "... no lock is left held: a second command runs at once" timeout 20 "$SETUP" -q status --root "$R" --lock-timeout 0
timed "setup: uninstall it (DllUnregisterServer, captures undone)" 0 "$SETUP" -q uninstall daemon --root "$R"

# setup holds no write transaction of its own while a module runs, so the
# module's connection gets the lock; setup's write after it waits for it.
inst sqlite
SK_TEST_DB=$DB SK_TEST_HOLD_MS=1500 \
	timed "setup: install a product whose module writes to the state database itself" 0 $INST
check "... verify" S verify sqlite --root "$R"
check "... the module's own row is in" test "$(sqlite3 "$DB" 'SELECT count(*) FROM own_sqlite_log' 2>&1)" = 1
timed "setup: uninstall it" 0 "$SETUP" -q uninstall sqlite --root "$R"
SK_TEST_DB=$DB SK_TEST_HOLD_MS=3000 SK_TEST_HOLD_BACKGROUND=1 \
	timed "setup: the same with the module's writer holding the lock across setup's commit" 0 $INST
check "... verify" S verify sqlite --root "$R"
sleep 1
check "... both of the module's rows are in" test "$(sqlite3 "$DB" 'SELECT count(*) FROM own_sqlite_log' 2>&1)" = 2
timed "setup: uninstall it" 0 "$SETUP" -q uninstall sqlite --root "$R"

inst noisy
timed "setup: install a product whose module writes 16 MiB of output" 0 $INST
check "... verify" S verify noisy --root "$R"
timed "setup: uninstall it" 0 "$SETUP" -q uninstall noisy --root "$R"
snapshot "$R" "$T/after.snap"
check "setup: nothing of the three products is left" sh -c "! grep -E 'opt/(daemon|sqlite|noisy)|SetupkitTest' '$T/after.snap'"

finish
