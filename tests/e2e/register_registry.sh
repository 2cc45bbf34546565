#!/bin/sh
# register_registry.sh - the reg.exe side of `register`: query, .reg export
# and import (round trip must be byte-identical), backup and restore while
# another process writes, bad input. Writes only under mktemp.
set -u
B=${B:-build}
B=$(cd "$B" && pwd)   # absolute or relative to the working directory
REG="$B/bin/register"
M="$B/modules"
T=$(mktemp -d "${TMPDIR:-/tmp}/register-reg-XXXXXX")
trap 'rm -rf "$T"' EXIT
# make valgrind: run the tool under tests/valgrind.sh (see tests/run.sh).
[ -n "${SK_VALGRIND:-}" ] && REG=$(sh "$(dirname "$0")/../valgrind.sh" --wrap "$T/valgrind" "$REG")
pass=0 fail=0
ok()  { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; [ -f "$T/out" ] && sed 's/^/    /' "$T/out" | head -20; }
expect() { # name rc pattern args...
	name=$1 want=$2 pat=$3; shift 3
	"$REG" "$@" >"$T/out" 2>&1
	rc=$?
	if [ "$rc" -ne "$want" ]; then bad "$name: exit $rc, wanted $want"; return; fi
	if [ -n "$pat" ] && ! grep -q -- "$pat" "$T/out"; then bad "$name: output lacks '$pat'"; return; fi
	ok
}

A="$T/root a"; C="$T/root c"
mkdir -p "$A" "$C"
printf 'Windows Registry Editor Version 5.00\r\n\r\n[HKEY_CURRENT_USER\\Software\\Mail Suite]\r\n@="default"\r\n"Path"=hex(2):25,00,48,00,4f,00,4d,00,45,00,25,00,00,00\r\n"Size"=dword:00001000\r\n"List"=hex(7):61,00,00,00,62,00,00,00,00,00\r\n"Q"=hex(b):01,00,00,00,00,00,00,00\r\n"Esc"="a \\"quoted\\" \\\\ back"\r\n"Empty"=hex(0):\r\n\r\n[HKEY_CURRENT_USER\\Software\\Mail Suite\\Sub Key]\r\n"x"=hex:00,ff\r\n' >"$T/in file.reg"
expect "import" 0 "" --root "$A" import "$T/in file.reg"
expect "query" 0 "Size    REG_DWORD    0x1000" --root "$A" query 'HKCU\software\MAIL SUITE'
grep -q '^HKEY_CURRENT_USER\\Software\\Mail Suite\\Sub Key$' "$T/out" && ok || bad "query lists subkeys"
expect "query -r" 0 "x    REG_BINARY    00FF" --root "$A" query 'HKCU\Software' -r
expect "query missing key" 8 "does not exist" --root "$A" query 'HKCU\Nope'
expect "query bad root" 9 "does not start with a root" --root "$A" query 'HKXX\Nope'
expect "export" 0 "" --root "$A" export 'HKCU\Software' "$T/out 1.reg"
expect "import into empty root" 0 "" --root "$C" import "$T/out 1.reg"
expect "export again" 0 "" --root "$C" export 'HKEY_CURRENT_USER\Software' "$T/out 2.reg"
cmp -s "$T/out 1.reg" "$T/out 2.reg" && ok || { bad "round trip differs"; diff "$T/out 1.reg" "$T/out 2.reg" | head; }
grep -q '"Path"=hex(2):25,00,48,00,4f,00,4d,00,45,00,25,00,00,00' "$T/out 1.reg" && ok || bad "hex(2) kept as UTF-16LE"

# Bad input: exit 9, file:line, nothing changed.
printf 'Windows Registry Editor Version 5.00\n[HKCU\\New]\n"a"=dword:zz\n' >"$T/bad.reg"
expect "bad .reg" 9 "bad.reg:3:" --root "$A" import "$T/bad.reg"
expect "bad .reg changed nothing" 8 "" --root "$A" query 'HKCU\New'
expect "import missing file" 2 "cannot open" --root "$A" import "$T/missing.reg"
expect "export usage" 1 "takes the arguments" --root "$A" export 'HKCU'

# Backup while another process registers modules; restore gives it back.
mkdir -p "$T/mods"
i=0; while [ $i -lt 30 ]; do cp "$M/noop.so" "$T/mods/m$i.so"; i=$((i + 1)); done
"$REG" --root "$A" -s "$T"/mods/*.so & w=$!
expect "backup during writes" 0 "" --root "$A" backup "$T/snap shot.db"
wait $w && ok || bad "writer failed during backup"
expect "restore into other root" 0 "" --root "$C" restore "$T/snap shot.db"
expect "restored content" 0 "Size    REG_DWORD    0x1000" --root "$C" query 'HKCU\Software\Mail Suite'
if command -v sqlite3 >/dev/null 2>&1; then
	[ "$(sqlite3 "$C/var/lib/setupkit/state.db" 'PRAGMA integrity_check')" = ok ] && ok || bad "restored db damaged"
fi
printf 'junk' >"$T/junk.db"
expect "restore junk" 2 "not a registry backup\|file is not a database" --root "$C" restore "$T/junk.db"
expect "still intact after bad restore" 0 "0x1000" --root "$C" query 'HKCU\Software\Mail Suite'

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
