#!/bin/sh
# register_modules.sh - drive `register` on the fixture modules the way an
# administrator would: each case checks the exit code, the message, and what
# the registry holds afterwards (a failure must leave it byte-for-byte as it
# was: compared with `register export` snapshots). Writes only under mktemp.
set -u
B=${B:-build}
B=$(cd "$B" && pwd)   # absolute or relative to the working directory
REG="$B/bin/register"
M="$B/modules"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/register-e2e-XXXXXX")
trap 'rm -rf "$T"' EXIT
# make valgrind: run the tool under tests/valgrind.sh (see tests/run.sh).
[ -n "${SK_VALGRIND:-}" ] && REG=$(sh "$(dirname "$0")/../valgrind.sh" --wrap "$T/valgrind" "$REG")
pass=0 fail=0
ROOT="$T/root with space"
mkdir -p "$ROOT"

ok()  { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; [ -f "$T/out" ] && sed 's/^/    /' "$T/out" | head -20; }

# expect NAME RC PATTERN register-args... : run, check rc and output pattern
expect() {
	name=$1 want=$2 pat=$3; shift 3
	"$REG" --root "$ROOT" "$@" >"$T/out" 2>&1
	rc=$?
	if [ "$rc" -ne "$want" ]; then bad "$name: exit $rc, wanted $want"; return; fi
	if [ -n "$pat" ] && ! grep -q -- "$pat" "$T/out"; then bad "$name: output lacks '$pat'"; return; fi
	ok
}
snap() { "$REG" --root "$ROOT" export HKLM "$T/$1.reg" >/dev/null 2>&1 || echo "snapshot failed" >"$T/$1.reg"; }
same() { # name snapA snapB
	if cmp -s "$T/$2.reg" "$T/$3.reg"; then ok; else bad "$1: registry changed"; diff "$T/$2.reg" "$T/$3.reg" | head -10; fi
}
has() { # name KEY PATTERN
	"$REG" --root "$ROOT" query "$2" >"$T/out" 2>&1 && grep -q -- "$3" "$T/out" && ok || bad "$1: '$2' lacks '$3'"
}
hasnt() { # name KEY
	if "$REG" --root "$ROOT" query "$2" >"$T/out" 2>&1; then bad "$1: '$2' still exists"; else ok; fi
}

# Seed: values owned by nobody, which modules overwrite or must not touch.
cat >"$T/seed.reg" <<'REG'
Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\Software\SetupkitTest\Shared]
"Owner"="orig"
"Old"=dword:00000001

[HKEY_LOCAL_MACHINE\Software\SetupkitTest\Precious]
@="keep me"
REG
expect "seed import" 0 "" import "$T/seed.reg"
snap empty

# --- command line ---
expect "-n needs -i" 1 "-n needs -i" -n "$M/good.so"
expect "no module" 1 "no module"
expect "unknown option" 1 "unknown option" --frobnicate "$M/good.so"
expect "bad timeout" 1 "timeout" --timeout 0 "$M/good.so"
expect "-s keeps the exit code" 1 "" -s -n "$M/good.so"
[ ! -s "$T/out" ] && ok || bad "-s printed something"
expect "--help lists exit codes" 0 "7  module timed out" --help
expect "--version" 0 "register (setupkit)" --version
snap after_usage
same "usage errors load nothing" empty after_usage

# --- failures leave the registry unchanged ---
expect "segfault" 6 "signal 11 (SIGSEGV" "$M/crash_segv.so"
expect "abort" 6 "signal 6 (SIGABRT" "$M/crash_abort.so"
expect "exit(0) mid-call" 6 "exit status 0) during DllRegisterServer" "$M/exit_mid.so"
start=$(date +%s)
expect "hang" 7 "within 1.0 s" --timeout 1 "$M/hang.so"
[ $(( $(date +%s) - start )) -lt 10 ] && ok || bad "hang took too long"
expect "SELFREG_E_CLASS" 5 "0x80040201 (SELFREG_E_CLASS" "$M/fail_class.so"
expect "missing library" 3 "missing library 'libskdep.so'" "$M/needs_dep.so"
grep -q "searched:.*/usr/lib" "$T/out" && ok || bad "missing library: no search dirs"
expect "missing module file" 3 "cannot load module" "$T/nope.so"
expect "missing entry point" 4 "no entry point DllInstall" -n -i "$M/fail_class.so"
snap after_failures
same "failures leave the registry unchanged" empty after_failures

# --- good module: two classes, activation, exact unregistration ---
expect "register good" 0 "DllRegisterServer in '$M/good.so' succeeded" "$M/good.so"
has "class 1 registered" 'HKCR\CLSID\{5E7A0001-0000-4000-8000-00000000A001}\InprocServer32' "$M/good.so"
has "class 2 registered" 'HKCR\CLSID\{5E7A0001-0000-4000-8000-00000000A002}' "Good Class Two"
has "typed values" 'HKLM\SOFTWARE\setupkittest\GOOD' "Big    REG_QWORD    0x102030405060708"
expect "verify module" 0 "activated from" verify "$M/good.so"
expect "verify clsid" 0 "DllGetClassObject succeeded" verify "{5E7A0001-0000-4000-8000-00000000A002}"
expect "verify unknown clsid" 8 "not registered" verify "{5E7A0001-0000-4000-8000-00000000FFFF}"
expect "install with cmdline" 0 "DllInstall(1)" -n "-i=hello world" "$M/good.so"
has "DllInstall got the cmdline" 'HKLM\Software\SetupkitTest\GoodInstall' "hello world"
expect "unregister good (-u -i, Windows spelling)" 0 "DllUnregisterServer" /u /i:bye "$M/good.so"
snap after_good
same "register + unregister restores exactly" empty after_good

# --- module without DllUnregisterServer overwrote a shared value ---
expect "register no_unreg" 0 "succeeded" "$M/no_unreg.so"
has "overwrote Owner" 'HKLM\Software\SetupkitTest\Shared' "no_unreg"
expect "unregister no_unreg" 0 "captured registry writes were undone" -u "$M/no_unreg.so"
snap after_no_unreg
same "no DllUnregisterServer: restored from captures" empty after_no_unreg

# --- buggy unregister deletes someone else's key ---
expect "register buggy" 0 "succeeded" "$M/buggy_unreg.so"
expect "unregister buggy" 0 "succeeded" -u "$M/buggy_unreg.so"
has "Precious survives" 'HKLM\Software\SetupkitTest\Precious' "keep me"
hasnt "Buggy removed" 'HKLM\Software\SetupkitTest\Buggy'

# --- retries: fails twice, then succeeds ---
mkdir -p "$T/flaky dir"
cp "$M/flaky.so" "$T/flaky dir/flaky.so"
expect "flaky without retries" 5 "E_FAIL" "$T/flaky dir/flaky.so"
expect "flaky with retries" 0 "succeeded" --retries 3 --backoff 10 "$T/flaky dir/flaky.so"
has "flaky attempt 3 stuck" 'HKLM\Software\SetupkitTest\Flaky' "0x3"
expect "flaky unregister" 0 "" -u "$T/flaky dir/flaky.so"
rm -f "$T/flaky dir/flaky.so.count"
cp "$M/flaky.so" "$T/flaky dir/flaky2.so"
expect "permanent failures are not retried" 3 "cannot load" --retries 5 --backoff 1000 "$M/needs_dep.so"

# --- paths with spaces; several modules continue after a failure; JSON ---
mkdir -p "$T/dir with spaces"
cp "$M/good.so" "$T/dir with spaces/good module.so"
expect "several modules, first fails" 5 "SELFREG_E_CLASS" "$M/fail_class.so" "$T/dir with spaces/good module.so"
grep -q "good module.so' succeeded" "$T/out" && ok || bad "second module not attempted"
has "space path registered" 'HKCR\CLSID\{5E7A0001-0000-4000-8000-00000000A001}\InprocServer32' "dir with spaces/good module.so"
expect "verify space path" 0 "activated" verify "$T/dir with spaces/good module.so"
expect "json" 0 '"ok":true' --json -u "$T/dir with spaces/good module.so"
expect "json failure" 6 '"exit":6' --json "$M/crash_abort.so"
snap after_all
same "everything undone" empty after_all

# --- one invocation, many modules: the fork server, with and without --jobs ---
snap before_batch
for j in 1 2; do
	expect "batch --jobs $j: first failure's code" 6 "signal 11 (SIGSEGV" --jobs $j --timeout 1 \
		"$M/crash_segv.so" "$M/hang.so" "$M/exit_mid.so" "$M/fail_class.so" "$M/needs_dep.so" "$M/good.so"
	grep -q "hang.so' did not return from DllRegisterServer within 1.0 s" "$T/out" && ok || bad "batch $j: hang"
	grep -q "exit_mid.so' ended its process (exit status 0)" "$T/out" && ok || bad "batch $j: exit_mid"
	grep -q "SELFREG_E_CLASS" "$T/out" && ok || bad "batch $j: fail_class"
	grep -q "missing library 'libskdep.so'" "$T/out" && ok || bad "batch $j: needs_dep"
	grep -q "good.so' succeeded" "$T/out" && ok || bad "batch $j: good"
	expect "batch --jobs $j: unregister" 0 "" -u "$M/good.so"
done 2>/dev/null
expect "batch unregister of an unknown, missing module fails" 3 "cannot load" -u "$T/none.so" "$T/none2.so"
snap after_batch
same "batches leave only what succeeded, and undo it" before_batch after_batch

# --- a module built the way an author would: cc + pkg-config, nothing linked ---
if command -v pkg-config >/dev/null 2>&1 && command -v cc >/dev/null 2>&1; then
	mkdir -p "$T/pc" "$T/author dir"
	sed -e "s|@PREFIX@|$SRC|" -e "s|@VERSION@|0|" "$SRC/setupkit.pc.in" >"$T/pc/setupkit.pc"
	flags=$(PKG_CONFIG_PATH="$T/pc" pkg-config --cflags --libs setupkit)
	if cc -shared -fPIC -Wall -Wextra -Werror "$SRC/tests/fixtures/modules/good.c" $flags -o "$T/author dir/mod.so"; then
		ok
		expect "pkg-config module registers" 0 "succeeded" "$T/author dir/mod.so"
		expect "pkg-config module activates" 0 "activated" verify "$T/author dir/mod.so"
		expect "pkg-config module unregisters" 0 "succeeded" -u "$T/author dir/mod.so"
	else
		bad "module does not build with pkg-config --cflags --libs setupkit"
	fi
fi

# --- two register processes at once ---
mkdir -p "$T/c1" "$T/c2"
i=0
while [ $i -lt 15 ]; do cp "$M/noop.so" "$T/c1/a$i.so"; cp "$M/noop.so" "$T/c2/b$i.so"; i=$((i + 1)); done
"$REG" --root "$ROOT" -s "$T"/c1/*.so & p1=$!
"$REG" --root "$ROOT" -s "$T"/c2/*.so & p2=$!
wait $p1; r1=$?
wait $p2; r2=$?
[ $r1 -eq 0 ] && [ $r2 -eq 0 ] && ok || bad "concurrent registrations: exit $r1 and $r2"
"$REG" --root "$ROOT" query 'HKLM\Software\SetupkitBench' >"$T/out" 2>&1
n=$(grep -c '^HKEY_LOCAL_MACHINE\\Software\\SetupkitBench\\' "$T/out")
[ "$n" -eq 30 ] && ok || bad "concurrent registrations: $n of 30 keys"
if command -v sqlite3 >/dev/null 2>&1; then
	ic=$(sqlite3 "$ROOT/var/lib/setupkit/state.db" 'PRAGMA integrity_check')
	[ "$ic" = ok ] && ok || bad "integrity_check: $ic"
else
	echo "note: sqlite3 CLI missing, integrity_check skipped"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
