#!/bin/sh
# check.sh - the Windows end-to-end checks (`make check-windows`): the
# cross-built register.exe registers real Windows DLLs under Wine, in a
# private prefix made for this run, and the real registry is read back with
# Wine's own reg.exe and regedit.exe. Wine's inetcomm.dll shows that a real
# DLL's registration is applied and then removed exactly; the fixtures in
# fixtures/ (cross-compiled here) cover a path with a space, DllInstall, a
# crash, a missing import, a hang, and no entry point.
# Then mkmedia.exe: keygen, build of the example product and verify, in
# paths with a space and with non-ASCII characters; the media it builds
# must equal, byte for byte, those the Linux mkmedia (build/bin/mkmedia,
# from `make`) builds from the same tree (build/examples/tree) and key.
#   usage: tests/windows/check.sh [WINBUILD]   (default: build/windows of
#          this checkout; register.exe is WINBUILD/bin/register.exe,
#          mkmedia.exe beside it)
# Installs wine64 and the mingw-w64 compiler from Debian when missing (as
# root; otherwise prints the apt-get line and fails). Writes only under its
# mktemp directory: the prefix, HOME and TMPDIR of Wine (the wineserver's
# socket directory too) are inside it, and it is removed at exit after the
# prefix's wineserver is killed. Needs no terminal, no X and no network.
# Traps, all found on Wine 8.0:
#  - a process's exit code reaches the shell as wine64's, low 8 bits only:
#    an unhandled 0xC0000005 in register.exe itself shows as 5, the code for
#    "entry point failed"; 53 means wine64 could not start the program,
#    124 that this script's timeout killed it.
#  - the current directory is on the DLL search path (as on Windows), so
#    Wine runs from an empty directory here: from the fixtures' build
#    directory, needs_dep.dll would find skdep.dll and load.
#  - regedit /e exits 0 even when the key does not exist; it then writes no
#    file. Its files are UTF-16LE with a BOM and CRLF; reg.exe and mingw
#    programs print CRLF. Wine's tasklist.exe prints nothing.
#  - Wine turns a Unix argv into the Windows command line with the locale's
#    charset: a non-ASCII argument needs a UTF-8 locale (LC_ALL=C.UTF-8).
set -u
SRC=$(cd "$(dirname "$0")/../.." && pwd)
WINBUILD=${1:-$SRC/build/windows}
T=$(mktemp -d "${TMPDIR:-/tmp}/setupkit-windows-XXXXXX")
PREFIX=$T/prefix
WINE=""
WINESERVER=""
START=$(date +%s)

TM=""
cleanup() {
	[ -n "$TM" ] && $TM kill-server >/dev/null 2>&1
	if [ -n "$WINESERVER" ] && [ -d "$PREFIX" ]; then
		WINEPREFIX=$PREFIX "$WINESERVER" -k >/dev/null 2>&1
		# -k sends SIGKILL; give the prefix's processes a moment to go.
		sleep 1
	fi
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

PASS=0
FAIL=0
# printf, not echo: dash's echo would read the \ of registry paths as escapes.
say() { printf '%s\n' "$*"; }
ok()  { PASS=$((PASS + 1)); say "ok   $*"; }
bad() { FAIL=$((FAIL + 1)); say "FAIL $*"; }
show() { sed 's/^/     | /' "$1" | tail -"${2:-20}"; }
finish() {
	echo "($(($(date +%s) - START)) s in all)"
	echo "$PASS passed, $FAIL failed"
	[ "$FAIL" -eq 0 ] || exit 1
	exit 0
}

# --- tools: wine64 and the cross compiler, from Debian when missing ---

# need_package PACKAGE: install PACKAGE with apt-get (root only), running
# apt-get update and trying once more when the first install fails.
need_package() {
	line="apt-get install -y --no-install-recommends $1"
	if [ "$(id -u)" -ne 0 ]; then
		say "check.sh: the Debian package $1 is missing; as root run:" >&2
		say "  $line" >&2
		exit 1
	fi
	echo "check.sh: installing $1: $line"
	if ! DEBIAN_FRONTEND=noninteractive $line >"$T/apt.log" 2>&1; then
		if ! { apt-get update && DEBIAN_FRONTEND=noninteractive $line; } >>"$T/apt.log" 2>&1; then
			echo "check.sh: cannot install $1:" >&2
			tail -20 "$T/apt.log" >&2
			exit 1
		fi
	fi
}
find_wine() {
	WINE=$(command -v wine64 2>/dev/null) || WINE=""
	[ -z "$WINE" ] && [ -x /usr/lib/wine/wine64 ] && WINE=/usr/lib/wine/wine64
	WINESERVER=$(command -v wineserver 2>/dev/null) || WINESERVER=""
	for s in /usr/lib/wine/wineserver64 /usr/lib/wine/wineserver; do
		[ -z "$WINESERVER" ] && [ -x "$s" ] && WINESERVER=$s
	done
	[ -n "$WINE" ] && [ -n "$WINESERVER" ]
}
find_wine || { need_package wine64; find_wine; } || { echo "check.sh: no wine64 or wineserver after installing wine64" >&2; exit 1; }
CC_WIN=x86_64-w64-mingw32-gcc
OBJDUMP_WIN=x86_64-w64-mingw32-objdump
command -v "$CC_WIN" >/dev/null 2>&1 || need_package gcc-mingw-w64-x86-64
command -v "$CC_WIN" >/dev/null 2>&1 || { echo "check.sh: no $CC_WIN after installing gcc-mingw-w64-x86-64" >&2; exit 1; }

WINBUILD=$(cd "$WINBUILD" 2>/dev/null && pwd) || WINBUILD=${1:-$SRC/build/windows}
if [ ! -f "$WINBUILD/bin/register.exe" ] || [ ! -f "$WINBUILD/bin/mkmedia.exe" ]; then
	bad "no $WINBUILD/bin/register.exe or mkmedia.exe: run make windows first"
	finish
fi
say "wine: $WINE ($("$WINE" --version 2>/dev/null)), register.exe: $WINBUILD/bin/register.exe"

# --- the fixture DLLs ---

FIX=$SRC/tests/windows/fixtures
FB=$T/fixtures
mkdir -p "$FB"
# fixture NAME [cc args...]: NAME.dll from fixtures/NAME.c
fixture() {
	n=$1; shift
	"$CC_WIN" -std=c11 -Wall -Wextra -Werror -O2 -shared -o "$FB/$n.dll" "$FIX/$n.c" "$@" >>"$FB/build.log" 2>&1
}
if fixture good -ladvapi32 && fixture crash -ladvapi32 && fixture skdep &&
	fixture needs_dep "$FB/skdep.dll" -ladvapi32 && fixture hang -ladvapi32 &&
	fixture noentry -Wl,--exclude-all-symbols &&
	"$CC_WIN" -std=c11 -Wall -Wextra -Werror -O2 -o "$FB/pslist.exe" "$FIX/pslist.c" >>"$FB/build.log" 2>&1 &&
	"$CC_WIN" -std=c11 -Wall -Wextra -Werror -O2 -municode -o "$FB/hold.exe" "$FIX/hold.c" >>"$FB/build.log" 2>&1; then
	ok "fixtures built with $CC_WIN"
else
	bad "fixtures built with $CC_WIN"
	show "$FB/build.log"
	finish
fi
# exports DLL: its export names, sorted, on one line
exports() {
	"$OBJDUMP_WIN" -p "$1" | awk '/^\[Ordinal\/Name Pointer\] Table/ { t = 1; next } t && /^\t\[/ { print $NF } t && /^$/ { t = 0 }' |
		LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//'
}
e=$(exports "$FB/good.dll")
[ "$e" = "DllCanUnloadNow DllGetClassObject DllInstall DllRegisterServer DllUnregisterServer" ] &&
	ok "good.dll exports undecorated DllRegisterServer, DllUnregisterServer, DllInstall, DllGetClassObject" ||
	bad "good.dll exports: '$e'"
e=$(exports "$FB/noentry.dll")
[ -z "$e" ] && ok "noentry.dll exports nothing" || bad "noentry.dll exports '$e'"
"$OBJDUMP_WIN" -p "$FB/needs_dep.dll" | grep -q 'DLL Name: skdep.dll' &&
	ok "needs_dep.dll imports skdep.dll" || bad "needs_dep.dll does not import skdep.dll"

# --- the prefix ---

# Everything Wine writes stays under $T: the prefix, HOME (winemenubuilder
# would write menus there; it is disabled too), TMPDIR (the wineserver's
# socket directory). No Mono/Gecko install dialog, no X, no debug channels.
mkdir -p "$T/home" "$T/tmp" "$T/cwd"
WINEPREFIX=$PREFIX
WINEDEBUG=-all
WINEDLLOVERRIDES="mscoree,mshtml=;winemenubuilder.exe=d"
HOME=$T/home
TMPDIR=$T/tmp
export WINEPREFIX WINEDEBUG WINEDLLOVERRIDES HOME TMPDIR
unset DISPLAY WAYLAND_DISPLAY XDG_CONFIG_HOME XDG_DATA_HOME XDG_CACHE_HOME
cd "$T/cwd" || exit 1

# wine PROGRAM ARGS...: run a Windows program, stdin closed, killed after
# WINE_TIMEOUT seconds (120) so no check can hang the script.
wine() { timeout "${WINE_TIMEOUT:-120}" "$WINE" "$@" </dev/null; }

t0=$(date +%s)
if wine wineboot -i >"$T/wineboot.log" 2>&1 && timeout 120 "$WINESERVER" -w && [ -f "$PREFIX/system.reg" ]; then
	ok "private prefix created by wineboot -i ($(($(date +%s) - t0)) s)"
else
	bad "private prefix created by wineboot -i"
	show "$T/wineboot.log"
	finish
fi
# From here on one persistent wineserver (killed at exit): no start-up per command.
"$WINESERVER" -p

C=$PREFIX/drive_c
DIR='C:\setupkit test'
mkdir -p "$C/setupkit test" "$C/Program Files/setupkit/bin"
# needs_dep.dll without skdep.dll: its import is missing.
cp "$FB/good.dll" "$FB/crash.dll" "$FB/needs_dep.dll" "$FB/hang.dll" "$FB/noentry.dll" "$C/setupkit test/"
# register.exe (and whatever ships beside it) where an installer puts it,
# in a path with a space, so its own child is started from one.
cp -R "$WINBUILD/bin/." "$C/Program Files/setupkit/bin/"
REGEXE='C:\Program Files\setupkit\bin\register.exe'
ROOT='C:\sk-state'

# --- helpers: the registry as Wine's own tools see it ---

# reg_text FILE: a .reg file of regedit as UTF-8, without BOM and CRs.
reg_text() {
	if [ "$(od -An -tx1 -N2 "$1" | tr -d ' \n')" = fffe ]; then tail -c +3 "$1"; else cat "$1"; fi |
		iconv -f UTF-16LE -t UTF-8 | tr -d '\r'
}
# reg_stable: a .reg text without the keys Wine itself changes behind our
# back: HKCU\Software\Wine\Temporary System Parameters is volatile, gone
# when the wineserver restarts and written again by user32 later.
reg_stable() {
	awk '/^\[/ { skip = index($0, "[HKEY_CURRENT_USER\\Software\\Wine\\Temporary System Parameters") == 1 } !skip'
}
# snap OUT KEY...: regedit /e of each KEY into OUT; a missing key is a
# line "(no key KEY)", since regedit exits 0 and writes nothing for it.
snap() {
	out=$1; shift
	: >"$out"
	for k in "$@"; do
		rm -f "$C/sk-export.reg"
		wine regedit /e 'C:\sk-export.reg' "$k" >/dev/null 2>&1
		if [ -f "$C/sk-export.reg" ]; then reg_text "$C/sk-export.reg" | reg_stable >>"$out"; else say "(no key $k)" >>"$out"; fi
	done
	rm -f "$C/sk-export.reg"
}
# same NAME A B: snapshots A and B are byte for byte equal
same() {
	if cmp -s "$2" "$3"; then ok "$1"; else bad "$1:"; diff "$2" "$3" >"$T/diff"; show "$T/diff" 30; fi
}
# query KEY: reg query KEY /s into $T/q (CRs removed); returns reg's exit code
query() {
	wine reg query "$1" /s >"$T/q.raw" 2>&1
	qrc=$?
	tr -d '\r' <"$T/q.raw" >"$T/q"
	return $qrc
}
has() { # NAME KEY TEXT: KEY exists and its listing holds TEXT
	if query "$2" && grep -qF -- "$3" "$T/q"; then ok "$1"; else bad "$1: '$2' lacks '$3'"; show "$T/q"; fi
}
hasnt() { # NAME KEY: KEY does not exist
	if query "$2"; then bad "$1: '$2' exists"; show "$T/q"; else ok "$1"; fi
}
# register NAME WANT ARGS...: run register.exe ARGS; the exit code must be
# WANT. Output (CRs removed) in $T/out, exit code in RC.
register() {
	name=$1 want=$2; shift 2
	wine "$REGEXE" "$@" >"$T/out.raw" 2>&1
	RC=$?
	tr -d '\r' <"$T/out.raw" >"$T/out"
	if [ "$RC" -eq "$want" ]; then ok "$name: exit $RC"; else bad "$name: exit $RC, want $want"; show "$T/out"; fi
}
says() { # NAME TEXT: the last register output holds TEXT
	if grep -qF -- "$2" "$T/out"; then ok "$1"; else bad "$1: '$2' not in the output"; show "$T/out"; fi
}

# --- g. the command line ---

register "register.exe --help" 0 --help
says "--help prints the usage" "usage: register"
register "register.exe --version" 0 --version
grep -q '^register (setupkit) [0-9][0-9.]*' "$T/out" && ok "--version prints a version: $(head -1 "$T/out")" ||
	{ bad "--version prints no 'register (setupkit) VERSION'"; show "$T/out"; }

# --- a. inetcomm.dll, a real DLL of Wine's, registered and removed exactly ---

# Verified with Wine 8.0's own regsvr32: these 18 classes and the mhtml
# protocol handler are what inetcomm's DllRegisterServer writes.
INETCOMM_CLSIDS='{05300401-BCBC-11D0-85E3-00C04FD85AB4} {0DF2C7EC-3435-11D0-81D0-00C04FD85AB4}
{5A580C11-E5EB-11D1-A86E-0000F8084F96} {BB847B8A-054A-11D2-A894-0000F8084F96}
{EA678830-235D-11D2-A8B6-0000F8084F96} {FD853CDB-7F86-11D0-8252-00C04FD85AB4}
{FD853CDD-7F86-11D0-8252-00C04FD85AB4} {FD853CDE-7F86-11D0-8252-00C04FD85AB4}
{FD853CDF-7F86-11D0-8252-00C04FD85AB4} {FD853CE3-7F86-11D0-8252-00C04FD85AB4}
{FD853CE6-7F86-11D0-8252-00C04FD85AB4} {FD853CE7-7F86-11D0-8252-00C04FD85AB4}
{FD853CE8-7F86-11D0-8252-00C04FD85AB4} {FD853CE9-7F86-11D0-8252-00C04FD85AB4}
{FD853CEA-7F86-11D0-8252-00C04FD85AB4} {FD853CEB-7F86-11D0-8252-00C04FD85AB4}'
INETCOMM='C:\windows\system32\inetcomm.dll'
# inetcomm_classes: the CLSIDs above whose InprocServer32 is inetcomm.dll
# now, one a line, in $T/present; the others in $T/absent.
inetcomm_classes() {
	: >"$T/present"
	: >"$T/absent"
	for c in $INETCOMM_CLSIDS; do
		if query "HKCR\\CLSID\\$c\\InprocServer32" && grep -qiF "REG_SZ    $INETCOMM" "$T/q"; then
			echo "$c" >>"$T/present"
		else
			echo "$c" >>"$T/absent"
		fi
	done
	query 'HKCR\PROTOCOLS\Handler\mhtml' && echo mhtml >>"$T/present" || echo mhtml >>"$T/absent"
}
# The keys whose exports must come back byte for byte: all of HKLM\Software
# (so a stray write anywhere, the capture key of register.exe included,
# shows), HKCR\CLSID as programs see it, and HKCU.
SNAPKEYS='HKEY_LOCAL_MACHINE\Software HKEY_CLASSES_ROOT\CLSID HKEY_CURRENT_USER'
# shellcheck disable=SC2086 # SNAPKEYS is a list of keys without spaces
snap "$T/wineboot.snap" $SNAPKEYS
inetcomm_classes
[ ! -s "$T/absent" ] && ok "wineboot registered inetcomm's 18 classes and the mhtml handler" ||
	{ bad "wineboot left these of inetcomm's classes unregistered:"; show "$T/absent"; }
wine regsvr32 /u /s inetcomm.dll >"$T/out" 2>&1
r=$?
inetcomm_classes
[ "$r" -eq 0 ] && [ ! -s "$T/present" ] && ok "Wine's regsvr32 /u /s inetcomm.dll removed them all" ||
	{ bad "Wine's regsvr32 /u inetcomm.dll (exit $r) left:"; show "$T/present"; show "$T/out"; }
# shellcheck disable=SC2086
snap "$T/before.snap" $SNAPKEYS

register "register inetcomm.dll" 0 --root "$ROOT" "$INETCOMM"
inetcomm_classes
[ ! -s "$T/absent" ] && ok "inetcomm's 18 classes and the mhtml handler are in the registry, InprocServer32 = $INETCOMM" ||
	{ bad "missing after register inetcomm.dll:"; show "$T/absent"; }
has "HKCR\\CLSID\\{FD853CDB-...} (CLSID_IMimeBody) is registered" \
	'HKCR\CLSID\{FD853CDB-7F86-11D0-8252-00C04FD85AB4}' 'CLSID_IMimeBody'
has "HKCR\\CLSID\\{05300401-...} is registered with ThreadingModel Both" \
	'HKCR\CLSID\{05300401-BCBC-11D0-85E3-00C04FD85AB4}\InprocServer32' 'ThreadingModel    REG_SZ    Both'
# shellcheck disable=SC2086
snap "$T/registered.snap" $SNAPKEYS
same "the registry after register inetcomm.dll equals the one Wine's regsvr32 made" "$T/wineboot.snap" "$T/registered.snap"
[ -f "$C/sk-state/var/lib/setupkit/state.db" ] && ok "the state database is in --root: C:\\sk-state\\var\\lib\\setupkit\\state.db" ||
	bad "no state database at C:\\sk-state\\var\\lib\\setupkit\\state.db"

register "unregister inetcomm.dll" 0 --root "$ROOT" /u "$INETCOMM"
inetcomm_classes
[ ! -s "$T/present" ] && ok "inetcomm's classes are gone after /u" || { bad "left after /u inetcomm.dll:"; show "$T/present"; }
# shellcheck disable=SC2086
snap "$T/after.snap" $SNAPKEYS
same "/u inetcomm.dll removes exactly what it wrote: HKLM\\Software, HKCR\\CLSID and HKCU as before" \
	"$T/before.snap" "$T/after.snap"

# --- b. good.dll in a path with a space; DllInstall ---

GOOD='{5E7A0001-0000-4000-8000-00000000B001}'
# A value owned by nobody, beside the keys good.dll writes: it must stay.
wine reg add 'HKLM\Software\SetupkitTest\Precious' /ve /d 'keep me' /f >"$T/out" 2>&1 &&
	ok "seeded HKLM\\Software\\SetupkitTest\\Precious" || { bad "reg add HKLM\\Software\\SetupkitTest\\Precious"; show "$T/out"; }
GOODKEYS="HKEY_LOCAL_MACHINE\\Software\\SetupkitTest HKEY_CLASSES_ROOT\\CLSID\\$GOOD"
# shellcheck disable=SC2086
snap "$T/good0.snap" $GOODKEYS

register "register '$DIR\\good.dll'" 0 --root "$ROOT" "$DIR\\good.dll"
says "the message names the module" "good.dll"
has "good's class: description" "HKCR\\CLSID\\$GOOD" 'REG_SZ    Setupkit Test Good'
has "good's InprocServer32 = its path with the space" "HKCR\\CLSID\\$GOOD\\InprocServer32" \
	"(Default)    REG_SZ    $DIR\\good.dll"
has "good's ThreadingModel = Both" "HKCR\\CLSID\\$GOOD\\InprocServer32" 'ThreadingModel    REG_SZ    Both'
has "good's REG_SZ value" 'HKLM\Software\SetupkitTest\Good' 'Name    REG_SZ    good'
has "good's REG_DWORD value" 'HKLM\Software\SetupkitTest\Good' 'Level    REG_DWORD    0x7'

register "register /i:hello /n good.dll" 0 --root "$ROOT" /i:hello /n "$DIR\\good.dll"
has "DllInstall got the command line: Install = hello" 'HKLM\Software\SetupkitTest\Good' 'Install    REG_SZ    hello'

register "unregister good.dll" 0 --root "$ROOT" /u "$DIR\\good.dll"
hasnt "good's class is gone" "HKCR\\CLSID\\$GOOD"
hasnt "HKLM\\Software\\SetupkitTest\\Good is gone" 'HKLM\Software\SetupkitTest\Good'
has "Precious survives" 'HKLM\Software\SetupkitTest\Precious' 'keep me'
# shellcheck disable=SC2086
snap "$T/good1.snap" $GOODKEYS
same "register + /i + /u of good.dll leaves HKLM\\Software\\SetupkitTest and its class as before" \
	"$T/good0.snap" "$T/good1.snap"

# --- c.-f. failures: the exit code, the message, and nothing written ---

snap "$T/fail0.snap" 'HKEY_LOCAL_MACHINE\Software\SetupkitTest'

register "crash.dll crashes" 6 --root "$ROOT" "$DIR\\crash.dll"
says "crash: the exception is named" "crashed in DllRegisterServer: exception 0xC0000005"
says "crash: the registry is unchanged" "the registry is unchanged"
hasnt "crash: its half write was not applied" 'HKLM\Software\SetupkitTest\Crash'

register "needs_dep.dll without skdep.dll" 3 --root "$ROOT" "$DIR\\needs_dep.dll"
says "needs_dep: the missing import is named" "missing library 'skdep.dll'"
hasnt "needs_dep: nothing written" 'HKLM\Software\SetupkitTest\NeedsDep'

# The prefix's own processes (pslist.exe asks the wineserver of this
# prefix, so other Wine users of the machine do not count).
PSLIST=$FB/pslist.exe
wine "$PSLIST" >"$T/ps0.raw" 2>&1 && grep -q 'services\.exe' "$T/ps0.raw" &&
	ok "pslist.exe lists the prefix's processes" || { bad "pslist.exe lists nothing"; show "$T/ps0.raw"; }
t0=$(date +%s)
register "hang.dll with --timeout 2" 7 --root "$ROOT" --timeout 2 "$DIR\\hang.dll"
t=$(($(date +%s) - t0))
[ "$t" -lt 30 ] && ok "hang: register.exe returned after $t s" || bad "hang: register.exe took $t s"
# A killed job may take a moment to go: wait up to 5 s for it.
i=0
while :; do
	wine "$PSLIST" 2>&1 | tr -d '\r' >"$T/ps"
	grep -qi -e 'register\.exe' -e 'hang' "$T/ps" || break
	i=$((i + 1))
	[ "$i" -ge 10 ] && break
	sleep 0.5
done
if grep -qi -e 'register\.exe' -e 'hang' "$T/ps"; then
	bad "hang: processes left behind:"
	show "$T/ps"
else
	ok "hang: no register.exe process is left in the prefix"
fi
# and no Linux process of this prefix still holds hang.dll
left=""
for p in /proc/[0-9]*; do
	grep -qF "WINEPREFIX=$PREFIX" "$p/environ" 2>/dev/null || continue
	tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qi -e 'register\.exe' -e 'hang\.dll' && left="$left ${p#/proc/}"
done
[ -z "$left" ] && ok "hang: ps shows no process of this prefix running register.exe" ||
	bad "hang: processes left (pid$left): $(for p in $left; do tr '\0' ' ' <"/proc/$p/cmdline" | sed 's/ *$//'; done)"
hasnt "hang: its write before hanging was not applied" 'HKLM\Software\SetupkitTest\Hang'

register "noentry.dll has no DllRegisterServer" 4 --root "$ROOT" "$DIR\\noentry.dll"
register "a DLL that does not exist" 3 --root "$ROOT" "$DIR\\nope.dll"
register "/s keeps the exit code" 4 --root "$ROOT" /s "$DIR\\noentry.dll"
[ ! -s "$T/out" ] && ok "/s prints nothing" || { bad "/s printed:"; show "$T/out"; }

snap "$T/fail1.snap" 'HKEY_LOCAL_MACHINE\Software\SetupkitTest'
same "the failures leave HKLM\\Software\\SetupkitTest unchanged" "$T/fail0.snap" "$T/fail1.snap"

# --- the sample product's modules, cross-built as DLLs from the same sources ---

# make windows builds them from manifests/examples/src (on Windows
# <setupkit/reg.h> maps sk_reg_* onto advapi32). chatcfg.dll imports
# chatsvc.dll, which ships beside it; immod goes to a folder with a space,
# under a name with a space, as the sample's definition installs it.
EX=$WINBUILD/examples/tree/modules
APP='C:\Program Files\Mail Suite'
mkdir -p "$C/Program Files/Mail Suite/lib" "$C/Program Files/Mail Suite/IM Client"
cp "$EX/inetcomm.dll" "$EX/chatsvc.dll" "$EX/chatcfg.dll" "$C/Program Files/Mail Suite/lib/"
cp "$EX/immod.dll" "$C/Program Files/Mail Suite/IM Client/im module.dll"
SAMPLE="$APP\lib\inetcomm.dll|$APP\lib\chatcfg.dll|$APP\IM Client\im module.dll"
SAMPLEKEYS='HKEY_LOCAL_MACHINE\Software HKEY_CLASSES_ROOT\CLSID'
snap "$T/sample0.snap" $SAMPLEKEYS
old_ifs=$IFS
IFS='|'
for m in $SAMPLE; do
	IFS=$old_ifs
	register "sample module $m registers" 0 --root "$ROOT" "$m"
	register "sample module $m: its classes activate (verify)" 0 --root "$ROOT" verify "$m"
	grep -q 'DllGetClassObject succeeded' "$T/out" && ok "... verify activated a class of it" || { bad "... verify activated no class"; show "$T/out"; }
done
IFS=$old_ifs
has "inetcomm.dll's class points at it" 'HKCR\CLSID\{6D1C2B4E-8A3F-4C51-9E7D-2F4A6B8C0D11}\InprocServer32' "$APP\lib\inetcomm.dll"
# Unregistered last first, as setup uninstalls: the first module created
# HKLM\Software\Example\Mail Suite, the later ones wrote under it, and
# an undo leaves a key alone while it still has someone else's subkeys.
REVERSED=$(printf '%s\n' "$SAMPLE" | tr '|' '\n' | sed -n '1!G;h;$p' | tr '\n' '|')
IFS='|'
for m in $REVERSED; do
	IFS=$old_ifs
	[ -n "$m" ] && register "sample module $m unregisters (/u)" 0 --root "$ROOT" /u "$m"
done
IFS=$old_ifs
snap "$T/sample1.snap" $SAMPLEKEYS
same "the sample's registrations are undone exactly (HKLM\\Software and HKCR\\CLSID as before)" "$T/sample0.snap" "$T/sample1.snap"
rm -rf "$C/Program Files/Mail Suite"   # setup.exe installs the product there below

# --- backup and restore do not pretend on Windows ---

register "backup is refused: the registry is not in the state database" 1 --root "$ROOT" backup 'C:\sk-backup.db'
says "backup names the reason" "system's own registry"
[ ! -e "$C/sk-backup.db" ] && ok "... and writes no file" || bad "... but wrote C:\\sk-backup.db"

# --- the state database survived all of it ---

DB=$C/sk-state/var/lib/setupkit/state.db
if ! command -v sqlite3 >/dev/null 2>&1; then
	echo "skip integrity_check of the state database: no sqlite3 CLI (scripts/deps.sh test installs it)"
elif [ -f "$DB" ]; then
	r=$(sqlite3 "$DB" 'PRAGMA integrity_check' 2>&1)
	[ "$r" = ok ] && ok "integrity_check of C:\\sk-state's state database: ok" || bad "integrity_check: $r"
fi


# --- mkmedia.exe: keys, media, verification, byte for byte as on Linux ---

MKMEDIA_LINUX=$SRC/build/bin/mkmedia
TREE=$SRC/build/examples/tree
MKEXE='C:\Program Files\setupkit\bin\mkmedia.exe'
MK='C:\setupkit test\mkmedia'
MKU="$C/setupkit test/mkmedia"
# mkmedia NAME WANT ARGS...: run mkmedia.exe ARGS in a UTF-8 locale; the
# exit code must be WANT. Output (CRs removed) in $T/out, exit code in RC.
mkmedia() {
	name=$1 want=$2; shift 2
	LC_ALL=C.UTF-8 timeout "${WINE_TIMEOUT:-120}" "$WINE" "$MKEXE" "$@" </dev/null >"$T/out.raw" 2>&1
	RC=$?
	tr -d '\r' <"$T/out.raw" >"$T/out"
	if [ "$RC" -eq "$want" ]; then ok "$name: exit $RC"; else bad "$name: exit $RC, want $want"; show "$T/out"; fi
}
# same_media NAME A B: directories A and B hold the same files, byte for byte
same_media() {
	(cd "$2" && find . -type f | LC_ALL=C sort) >"$T/ma"
	(cd "$3" && find . -type f | LC_ALL=C sort) >"$T/mb"
	d=""
	if ! cmp -s "$T/ma" "$T/mb"; then
		d="different files: $(diff "$T/ma" "$T/mb" | grep '^[<>]' | tr '\n' ' ')"
	else
		while read -r f; do
			cmp -s "$2/$f" "$3/$f" || d="$d ${f#./}"
		done <"$T/ma"
	fi
	if [ -z "$d" ]; then ok "$1 ($(wc -l <"$T/ma") files)"; else bad "$1: differ:$d"; fi
}

if [ ! -x "$MKMEDIA_LINUX" ] || [ ! -d "$TREE" ]; then
	bad "no $MKMEDIA_LINUX or $TREE: run make first"
	finish
fi
mkdir -p "$MKU/def" "$MKU/keys" "$C/sk-tree" "$C/sk tree é 日本" "$C/sk out ü"
cp "$SRC/manifests/examples/mailsuite.ini" "$SRC/manifests/examples/license.txt" "$MKU/def/"
cp -R "$TREE/." "$C/sk-tree/"
cp -R "$TREE/." "$C/sk tree é 日本/"

mkmedia "mkmedia.exe --help" 0 --help
says "mkmedia --help prints the usage" "usage: mkmedia build"
mkmedia "mkmedia.exe keygen '$MK\\keys\\demo'" 0 keygen "$MK\\keys\\demo"
[ -s "$MKU/keys/demo.key" ] && [ -s "$MKU/keys/demo.pub" ] && ok "keygen wrote demo.key and demo.pub" ||
	bad "keygen wrote no demo.key or demo.pub"
mkmedia "mkmedia.exe keygen again refuses to overwrite the key" 6 keygen "$MK\\keys\\demo"
mkmedia "mkmedia.exe build mailsuite.ini --sign" 0 build "$MK\\def\\mailsuite.ini" \
	--source 'C:\sk-tree' --out "$MK\\media" --sign "$MK\\keys\\demo.key"
mkmedia "mkmedia.exe verify --trusted-key" 0 verify "$MK\\media" --trusted-key "$MK\\keys\\demo.pub"
says "verify: the signature and the 5 archives are good" "signature good, 5 payload archives match the manifest"
mkmedia "mkmedia.exe build over existing media refuses" 2 build "$MK\\def\\mailsuite.ini" \
	--source 'C:\sk-tree' --out "$MK\\media" --sign "$MK\\keys\\demo.key"

# The same tree and key on Linux: the media must be the same bytes (tar.zst
# archives, manifest, license, Ed25519 signature).
if "$MKMEDIA_LINUX" build "$SRC/manifests/examples/mailsuite.ini" --source "$TREE" --out "$T/linux-media" \
	--sign "$MKU/keys/demo.key" >"$T/out" 2>&1; then
	ok "Linux mkmedia builds the same product with the key mkmedia.exe made"
else
	bad "Linux mkmedia build"; show "$T/out"
fi
same_media "media built by mkmedia.exe under Wine equal those of the Linux mkmedia" "$T/linux-media" "$MKU/media"
"$MKMEDIA_LINUX" verify "$MKU/media" --trusted-key "$MKU/keys/demo.pub" >"$T/out" 2>&1 &&
	ok "Linux mkmedia verifies the media mkmedia.exe built" || { bad "Linux mkmedia verify of mkmedia.exe's media"; show "$T/out"; }

# Paths with a space and non-ASCII characters, source and output.
mkmedia "mkmedia.exe build from 'C:\\sk tree é 日本' to 'C:\\sk out ü\\média'" 0 build "$MK\\def\\mailsuite.ini" \
	--source 'C:\sk tree é 日本' --out 'C:\sk out ü\média' --sign "$MK\\keys\\demo.key"
mkmedia "mkmedia.exe verify 'C:\\sk out ü\\média'" 0 verify 'C:\sk out ü\média' --trusted-key "$MK\\keys\\demo.pub"
says "verify names the non-ASCII media path" 'C:\sk out ü\média: signature good'
same_media "media built from and to non-ASCII paths equal the others" "$T/linux-media" "$C/sk out ü/média"

# A service pack, and install media with it slipstreamed in: same bytes too.
cp "$SRC/manifests/examples/sp1.ini" "$MKU/def/"
mkmedia "mkmedia.exe build sp1.ini" 0 build "$MK\\def\\sp1.ini" --source 'C:\sk-tree' --out "$MK\\sp1" \
	--sign "$MK\\keys\\demo.key"
mkmedia "mkmedia.exe slipstream --base media --sp sp1" 0 slipstream --base "$MK\\media" --sp "$MK\\sp1" \
	--out "$MK\\slip" --sign "$MK\\keys\\demo.key"
if "$MKMEDIA_LINUX" build "$SRC/manifests/examples/sp1.ini" --source "$TREE" --out "$T/linux-sp1" \
	--sign "$MKU/keys/demo.key" >"$T/out" 2>&1 &&
	"$MKMEDIA_LINUX" slipstream --base "$T/linux-media" --sp "$T/linux-sp1" --out "$T/linux-slip" \
	--sign "$MKU/keys/demo.key" >"$T/out" 2>&1; then
	same_media "service-pack media equal the Linux mkmedia's" "$T/linux-sp1" "$MKU/sp1"
	same_media "slipstreamed media equal the Linux mkmedia's" "$T/linux-slip" "$MKU/slip"
else
	bad "Linux mkmedia build sp1.ini and slipstream"; show "$T/out"
fi

# Failures: the wrong key, a damaged archive.
mkmedia "mkmedia.exe keygen other" 0 keygen "$MK\\keys\\other"
mkmedia "verify with another key fails" 4 verify "$MK\\media" --trusted-key "$MK\\keys\\other.pub"
cp -R "$MKU/media" "$MKU/damaged"
printf 'damage' >>"$MKU/damaged/core.tar.zst"
mkmedia "verify of a damaged archive fails" 4 verify "$MK\\damaged" --trusted-key "$MK\\keys\\demo.pub"
says "verify names the damaged archive" "core.tar.zst' does not match the manifest"

# --- setup.exe: the sample product for Windows, installed and removed ---

# mailsuite-windows.ini, its DLLs built by make windows from the sample's
# sources; media built here by mkmedia.exe with the key above. setup.exe
# runs without --root: files go to their real folders (C:\Program Files,
# system32), the state to C:\ProgramData\setupkit.
SETUPEXE='C:\Program Files\setupkit\bin\setup.exe'
WTREE=$WINBUILD/examples/tree
WM="$MK\\win"
mkdir -p "$MKU/win/def"
cp "$SRC/manifests/examples/mailsuite-windows.ini" "$SRC/manifests/examples/license.txt" \
	"$SRC/manifests/examples/answers-windows.ini" "$MKU/win/def/"
mkdir -p "$C/sk-wtree"
cp -R "$WTREE/." "$C/sk-wtree/"
mkmedia "mkmedia.exe build mailsuite-windows.ini" 0 build "$WM\\def\\mailsuite-windows.ini" \
	--source 'C:\sk-wtree' --out "$WM\\media" --sign "$MK\\keys\\demo.key"
# setup NAME WANT ARGS...: run setup.exe ARGS; the exit code must be WANT.
setup() {
	name=$1 want=$2; shift 2
	LC_ALL=C.UTF-8 timeout "${WINE_TIMEOUT:-120}" "$WINE" "$SETUPEXE" "$@" </dev/null >"$T/out.raw" 2>&1
	RC=$?
	tr -d '\r' <"$T/out.raw" >"$T/out"
	if [ "$RC" -eq "$want" ]; then ok "$name: exit $RC"; else bad "$name: exit $RC, want $want"; show "$T/out"; fi
}
# install NAME WANT: setup.exe install of the Windows media, unattended
install() {
	setup "$1" "$2" install --media "$WM\\media" --unattended "$WM\\def\\answers-windows.ini" \
		--trusted-key "$MK\\keys\\demo.pub"
}
APPU="$C/Program Files/Mail Suite"
SYS32="$C/windows/system32"
MIME='{6D1C2B4E-8A3F-4C51-9E7D-2F4A6B8C0D11}'
# files_snap OUT: the files under Program Files and system32, with hashes
files_snap() {
	(cd "$C" && find "Program Files" windows/system32 -type f 2>/dev/null | LC_ALL=C sort |
		while IFS= read -r f; do printf '%s %s\n' "$(sha256sum <"$f" | cut -c1-16)" "$f"; done) >"$1"
}
SETUPKEYS='HKEY_LOCAL_MACHINE\Software HKEY_CLASSES_ROOT\CLSID'
files_snap "$T/setup0.files"
snap "$T/setup0.reg" $SETUPKEYS

install "setup.exe installs the sample product unattended" 0
says "... all six files in place" "files in place: 6 installed"
[ -f "$APPU/IM Client/im module.dll" ] && [ -f "$APPU/lib/chatcfg.dll" ] && [ -f "$SYS32/exinetcomm.dll" ] &&
	ok "... in C:\\Program Files\\Mail Suite (with 'IM Client') and system32" || bad "... files missing"
has "... its registry entries are there" 'HKLM\Software\Example\Mail Suite' 'C:\Program Files\Mail Suite'
has "... exinetcomm.dll registered its classes" "HKCR\\CLSID\\$MIME\\InprocServer32" 'exinetcomm.dll'
setup "setup.exe status" 0 status
says "... lists the product" "Example Mail Suite (mailsuite) 5.5.2448.0"
setup "setup.exe verify: every file and class is fine" 0 verify
setup "setup.exe uninstall mailsuite" 0 uninstall mailsuite
files_snap "$T/setup1.files"
snap "$T/setup1.reg" $SETUPKEYS
same "... the prefix's files are as before (Program Files, system32)" "$T/setup0.files" "$T/setup1.files"
same "... and the registry too (HKLM\\Software, HKCR\\CLSID)" "$T/setup0.reg" "$T/setup1.reg"

# --- the corrupt shared library: same version, broken, in system32 ---

# A copy of exinetcomm.dll whose PE header is zeroed: the same what-string
# (5.5.2448.0), but no Windows can load it.
cp "$WTREE/modules/inetcomm.dll" "$T/corrupt.dll"
dd if=/dev/zero of="$T/corrupt.dll" bs=1 seek=32 count=32 conv=notrunc 2>/dev/null
grep -qa '@(#)setupkit-version 5.5.2448.0' "$T/corrupt.dll" && ok "the corrupt copy carries the media's version" ||
	bad "the corrupt copy lost its version"
cp "$T/corrupt.dll" "$SYS32/exinetcomm.dll"
register "... and does not load (register.exe: exit 3)" 3 --root "$ROOT" 'C:\windows\system32\exinetcomm.dll'
files_snap "$T/corrupt0.files"
snap "$T/corrupt0.reg" $SETUPKEYS
install "setup.exe installs over it" 0
says "... replacing the corrupt copy from the media" "1 replaced"
cmp -s "$WTREE/modules/inetcomm.dll" "$SYS32/exinetcomm.dll" && ok "... system32 now holds the media's copy" ||
	bad "... system32 does not hold the media's copy"
has "... and its registration succeeded" "HKCR\\CLSID\\$MIME\\InprocServer32" 'exinetcomm.dll'
setup "setup.exe verify after the repair" 0 verify
setup "setup.exe uninstall mailsuite" 0 uninstall mailsuite
cmp -s "$T/corrupt.dll" "$SYS32/exinetcomm.dll" && ok "... brings the old corrupt copy back, byte for byte" ||
	bad "... did not restore the old copy"
files_snap "$T/corrupt1.files"
snap "$T/corrupt1.reg" $SETUPKEYS
same "... the prefix's files are as before" "$T/corrupt0.files" "$T/corrupt1.files"
same "... and the registry too" "$T/corrupt0.reg" "$T/corrupt1.reg"

# --- the wizard in a Windows console ---

# setup.exe with no command on a console is the wizard. Wine gives a
# program started from a terminal (here tmux's, 80x24) a console drawn on
# that terminal; the wizard clears it and sets bold and colour through the
# console API, so the screen must show no escape sequence as text (Wine's
# console, like those before Windows 10, prints ANSI escapes as text).
# Install with a directory with spaces into a --root (drive paths under a
# root are folders ROOT\C\...), verify, uninstall: as before.
command -v tmux >/dev/null 2>&1 || need_package tmux
TM="tmux -L setupkit-wine-$$ -f /dev/null"
WROOT='C:\wizard root'
mkdir -p "$C/wizard root"
files_snap "$T/wiz0.files"
snap "$T/wiz0.reg" $SETUPKEYS
printf '#!/bin/sh\nexec env TERM=xterm LC_ALL=C.UTF-8 "%s" "%s" --root "%s" --media "%s" --trusted-key "%s"\n' \
	"$WINE" "$SETUPEXE" "$WROOT" "$WM\\media" "$MK\\keys\\demo.pub" >"$T/wizard.sh"
$TM new-session -d -s w -x 80 -y 24 "sh '$T/wizard.sh'; echo \$? >'$T/wizard.rc'; exec sleep 600"
wscreen() { $TM capture-pane -p -t w; }
wsee() { # NAME TEXT [SECONDS]: the screen shows TEXT
	i=0
	while [ $i -lt $((${3:-20} * 10)) ]; do
		wscreen 2>/dev/null | grep -qF -- "$2" && { ok "$1"; return 0; }
		sleep 0.1
		i=$((i + 1))
	done
	bad "$1: no '$2' on the screen"
	wscreen 2>/dev/null | sed 's/^/     | /'
	return 1
}
wkeys() { $TM send-keys -t w -l "$1"; $TM send-keys -t w Enter; }
wsee "the wizard starts in the console (welcome)" "step 1 of 7: Welcome"
wsee "... shows the target root and its free space" "Target:     $WROOT ("
if wscreen | grep -q '\[[0-9;]*[mHJK]'; then bad "... escape sequences show as text"; wscreen | sed 's/^/     | /'
else ok "... bold and clearing drawn by the console, no escape sequence shows as text"; fi
wkeys ""
wsee "the license" "SAMPLE LICENSE"
wkeys y
wsee "the components" "step 3 of 7: Components"
wkeys 5
wsee "... a component is switched off by its number" "5 [ ] im"
wkeys ""
wsee "the install directory" "Current choice: C:\\Program Files\\Mail Suite"
wkeys 'C:\Program Files\Wizard Mail'
wsee "... a directory with a space is taken" "Current choice: C:\\Program Files\\Wizard Mail"
wkeys ""
wsee "the summary" "Components:  core, imail, chatrt, chat"
wkeys ""
wsee "the install runs to the result" "Example Mail Suite was installed." 60
wsee "... which names the log" "Log:         $WROOT"
wkeys ""
i=0
while [ ! -s "$T/wizard.rc" ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
[ "$(cat "$T/wizard.rc" 2>/dev/null)" = 0 ] && ok "the wizard exits 0" || bad "the wizard exits $(cat "$T/wizard.rc" 2>/dev/null)"
$TM kill-server >/dev/null 2>&1
WAPP="$C/wizard root/C/Program Files/Wizard Mail"
[ -f "$WAPP/lib/chatcfg.dll" ] && [ -f "$C/wizard root/C/windows/system32/exinetcomm.dll" ] &&
	ok "... the files are under the root, in the chosen directory and system32" || bad "... files missing under the root"
[ ! -e "$WAPP/IM Client" ] && ok "... and the component switched off is not installed" || bad "... 'IM Client' was installed"
setup "setup.exe verify --root" 0 verify --root "$WROOT"
setup "setup.exe uninstall --root" 0 uninstall mailsuite --root "$WROOT"
[ -z "$(cd "$C/wizard root" && find . -path ./var -prune -o -print | grep -v '^\.$')" ] &&
	ok "... leaves nothing under the root but setupkit's state" ||
	{ bad "... left files under the root"; (cd "$C/wizard root" && find . -path ./var -prune -o -print) | sed 's/^/     | /'; }
files_snap "$T/wiz1.files"
snap "$T/wiz1.reg" $SETUPKEYS
same "... the prefix's files are as before" "$T/wiz0.files" "$T/wiz1.files"
same "... and the registry too" "$T/wiz0.reg" "$T/wiz1.reg"

# --- service packs: applied and removed exactly ---

# SP1 replaces the shared exinetcomm.dll in system32 (its registration adds
# a Features value), SP2 supersedes it and replaces chatcfg.dll (a new
# value and key); each removal, newest first, must bring the files and the
# registry back exactly as they were before that pack.
for s in sp1 sp2; do
	cp "$SRC/manifests/examples/$s-windows.ini" "$MKU/win/def/"
	mkmedia "mkmedia.exe build $s-windows.ini" 0 build "$WM\\def\\$s-windows.ini" --source 'C:\sk-wtree' \
		--out "$WM\\$s" --sign "$MK\\keys\\demo.key"
done
# sp NAME WANT MEDIA: setup.exe sp apply of MEDIA
sp() {
	setup "$1" "$2" sp apply --media "$WM\\$3" --trusted-key "$MK\\keys\\demo.pub"
}
files_snap "$T/sp0.files"
snap "$T/sp0.reg" $SETUPKEYS
install "setup.exe installs the product for the service packs" 0
files_snap "$T/spi.files"
snap "$T/spi.reg" $SETUPKEYS
sp "setup.exe sp apply SP1" 0 sp1
says "... is at SP1" "is now at SP1 (version 5.5.2448.1)"
cmp -s "$WTREE/sp1/modules/inetcomm.dll" "$SYS32/exinetcomm.dll" && ok "... system32 holds SP1's exinetcomm.dll" ||
	bad "... system32 does not hold SP1's exinetcomm.dll"
has "... whose registration wrote its Features" 'HKLM\Software\Example\inetcomm' 'sp1'
files_snap "$T/sp1.files"
snap "$T/sp1.reg" $SETUPKEYS
sp "setup.exe sp apply SP2" 0 sp2
has "... SP2's chat module registered its Features" 'HKLM\Software\Example\Mail Suite\Chat\Config' 'sp2'
has "... and SP2's registry value is there" 'HKLM\Software\Example\Mail Suite\Chat' 'MaxRooms'
setup "setup.exe status" 0 status
says "... shows SP2, removable newest first" "removable:    SP2, SP1"
setup "setup.exe verify at SP2" 0 verify
setup "setup.exe sp remove (SP2)" 0 sp remove mailsuite
says "... back to SP1" "is at SP1 (version 5.5.2448.1) again"
files_snap "$T/sp1b.files"
snap "$T/sp1b.reg" $SETUPKEYS
same "... the files are as at SP1" "$T/sp1.files" "$T/sp1b.files"
same "... and the registry too" "$T/sp1.reg" "$T/sp1b.reg"
setup "setup.exe sp remove (SP1)" 0 sp remove mailsuite
files_snap "$T/spib.files"
snap "$T/spib.reg" $SETUPKEYS
same "... the files are as installed" "$T/spi.files" "$T/spib.files"
same "... and the registry too" "$T/spi.reg" "$T/spib.reg"
setup "setup.exe uninstall after the service packs" 0 uninstall mailsuite
files_snap "$T/sp0b.files"
snap "$T/sp0b.reg" $SETUPKEYS
same "... the prefix's files are as before" "$T/sp0.files" "$T/sp0b.files"
same "... and the registry too" "$T/sp0.reg" "$T/sp0b.reg"

# --- a file a running program holds open: replaced at the next restart ---

# With the corrupt copy back in system32 and a program holding it open (no
# FILE_SHARE_DELETE), the install cannot switch the media's copy in now.
# It schedules the switch for the next restart (MoveFileEx with
# MOVEFILE_DELAY_UNTIL_REBOOT), defers the DLL's registration, and exits 10;
# `wineboot -r` is Wine's restart (it carries out PendingFileRenameOperations),
# and `setup recover` after it registers the DLL.
SM='HKLM\System\CurrentControlSet\Control\Session Manager'
# hold: hold.exe keeps system32\exinetcomm.dll open until unhold
hold() {
	: >"$T/hold.out"
	"$WINE" "$FB/hold.exe" 'C:\windows\system32\exinetcomm.dll' </dev/null >"$T/hold.out" 2>&1 &
	HOLD=$!
	for _ in 1 2 3 4 5 6 7 8 9 10; do grep -q holding "$T/hold.out" && break; sleep 1; done
	grep -q holding "$T/hold.out" && ok "a program holds system32\\exinetcomm.dll open" || bad "hold.exe did not start"
}
unhold() {
	kill "$HOLD" 2>/dev/null
	wait "$HOLD" 2>/dev/null
}
# restart: Wine's restart of the prefix: every program ends, then wineboot -r
restart() {
	"$WINESERVER" -k >/dev/null 2>&1
	sleep 1
	wine wineboot -r >"$T/wineboot.log" 2>&1 && timeout 120 "$WINESERVER" -w
	"$WINESERVER" -p
}
pending_renames() { # OUT: the pending renames, one name per line ("" when none)
	wine reg query "$SM" /v PendingFileRenameOperations 2>/dev/null | tr -d '\r' |
		awk '/PendingFileRenameOperations/ { print $3 }' | sed 's/\\0/\n/g' >"$1"
}
restart   # what a restart changes by itself is in the baseline, not in a difference
files_snap "$T/held0.files"
snap "$T/held0.reg" $SETUPKEYS
hold
rm -f "$C/fault.trace"
export SETUPKIT_FAULT_TRACE='C:\fault.trace'
install "setup.exe install while it is held: done but for a restart (exit 10)" 10
unset SETUPKIT_FAULT_TRACE
says "... names the file in use" "exinetcomm.dll' is in use by a running program: the new copy replaces it at the next restart"
says "... and says what to do" "restart the computer, then run 'setup recover'"
pending_renames "$T/renames"
grep -qi 'system32\\exinetcomm.dll.setupkit-new$' "$T/renames" && grep -qi '^!.*system32\\exinetcomm.dll$' "$T/renames" &&
	ok "... the replacement is in PendingFileRenameOperations" || { bad "... no pending rename"; show "$T/renames"; }
cmp -s "$T/corrupt.dll" "$SYS32/exinetcomm.dll" && ok "... system32 still holds the old copy until the restart" ||
	bad "... system32 changed before the restart"
[ -f "$APPU/lib/chatcfg.dll" ] && ok "... the other files are in place" || bad "... the other files are missing"
hasnt "... its registration waits for the restart" "HKCR\\CLSID\\$MIME"
setup "setup.exe status" 0 status
says "... shows what waits for the restart" 'replaced at the next restart: C:/windows/system32/exinetcomm.dll'
setup "setup.exe verify: the file waits for a restart (exit 1)" 1 verify
says "... and says so" "in use: replaced at the next restart"
setup "setup.exe uninstall before the restart is refused (exit 5)" 5 uninstall mailsuite
says "... naming the file" "1 file waits for a restart to be replaced"
setup "setup.exe recover while it is still held: still waiting (exit 10)" 10 recover
says "... says it is still in use" "is still in use: it is replaced at the next restart"
unhold
restart
cmp -s "$WTREE/modules/inetcomm.dll" "$SYS32/exinetcomm.dll" && ok "after the restart system32 holds the media's copy" ||
	bad "after the restart system32 does not hold the media's copy"
[ ! -e "$SYS32/exinetcomm.dll.setupkit-new" ] && ok "... and no exinetcomm.dll.setupkit-new is left" ||
	bad "... exinetcomm.dll.setupkit-new is still there"
pending_renames "$T/renames"
[ ! -s "$T/renames" ] && ok "... no rename is pending any more" || { bad "... renames still pending"; show "$T/renames"; }
setup "setup.exe recover after the restart" 0 recover
says "... registers the DLL" 'registered C:/windows/system32/exinetcomm.dll'
has "... its classes are registered" "HKCR\\CLSID\\$MIME\\InprocServer32" 'exinetcomm.dll'
setup "setup.exe verify after recover" 0 verify
setup "setup.exe uninstall mailsuite" 0 uninstall mailsuite
cmp -s "$T/corrupt.dll" "$SYS32/exinetcomm.dll" && ok "... brings the old copy back, byte for byte" ||
	bad "... did not restore the old copy"
files_snap "$T/held1.files"
snap "$T/held1.reg" $SETUPKEYS
same "... the prefix's files are as before" "$T/held0.files" "$T/held1.files"
same "... and the registry too" "$T/held0.reg" "$T/held1.reg"

# A crash at each step of the replacement at restart: before the copy of
# the old file (the op is journaled as replace-at-restart), before the
# scheduling, right after it. Recovery rolls the install back; removing
# exinetcomm.dll.setupkit-new cancels a scheduled rename, so the restart
# leaves the old copy in place, and the prefix is as before.
kc=$(awk '/apply: copy for restart/ { print $1; exit }' "$C/fault.trace" 2>/dev/null)
ks=$(awk '/apply: schedule for restart/ { print $1; exit }' "$C/fault.trace" 2>/dev/null)
if [ -n "$kc" ] && [ -n "$ks" ]; then
	ok "the traced install passed the copy and the scheduling (crash points $kc, $ks, $((ks + 1)))"
	for k in "$kc" "$ks" "$((ks + 1))"; do
		case $k in
		"$kc") at="before the copy of the old file" ;;
		"$ks") at="before the scheduling" ;;
		*) at="after the scheduling" ;;
		esac
		hold
		export SETUPKIT_CRASH_AT="$k"
		install "setup.exe killed $at" 137
		unset SETUPKIT_CRASH_AT
		setup "... setup.exe recover rolls the install back (the file still held)" 0 recover
		says "... says so" "rolling back the interrupted install of mailsuite"
		[ ! -e "$SYS32/exinetcomm.dll.setupkit-new" ] && [ ! -e "$SYS32/exinetcomm.dll.setupkit-old" ] &&
			ok "... no exinetcomm.dll.setupkit-new or -old is left" || bad "... leftovers in system32"
		if [ "$k" -gt "$ks" ]; then
			pending_renames "$T/renames"
			grep -qi 'exinetcomm.dll.setupkit-new$' "$T/renames" && ok "... the rename is still scheduled, without its source" ||
				{ bad "... expected a scheduled rename"; show "$T/renames"; }
		fi
		unhold
		restart
		cmp -s "$T/corrupt.dll" "$SYS32/exinetcomm.dll" && ok "... and the restart kept the old copy" ||
			bad "... the restart replaced the old copy"
		files_snap "$T/held2.files"
		snap "$T/held2.reg" $SETUPKEYS
		same "... the prefix's files are as before" "$T/held0.files" "$T/held2.files"
		same "... and the registry too" "$T/held0.reg" "$T/held2.reg"
	done
else
	bad "the fault trace has no 'apply: copy for restart' or 'apply: schedule for restart'"
fi
setup "... and setup.exe status shows nothing installed" 0 status
says "... (no products)" "no products installed"

# --- a crash between a registry write and the COMMIT: undone at the next open ---

# Every registry write of a transaction is journaled first (an undo journal
# reg-undo-TOKEN beside state.db); a process killed before the COMMIT
# leaves the writes without capture rows, and the next open of the store
# applies the journal's inverses. The crash point is the last "registry:
# after write" of register good.dll: every write made, nothing committed.
CRASHKEYS="HKEY_LOCAL_MACHINE\\Software HKEY_CLASSES_ROOT\\CLSID\\$GOOD HKEY_CURRENT_USER"
STATE=$C/sk-state/var/lib/setupkit
journals() { ls "$STATE" 2>/dev/null | grep -c '^reg-undo-'; }
# shellcheck disable=SC2086
snap "$T/crash0.snap" $CRASHKEYS
rm -f "$C/regcrash.trace"
export SETUPKIT_FAULT_TRACE='C:\regcrash.trace'
register "traced register good.dll" 0 --root "$ROOT" "$DIR\\good.dll"
unset SETUPKIT_FAULT_TRACE
[ "$(journals)" = 0 ] && ok "... a committed transaction leaves no undo journal" ||
	{ bad "... undo journals left after a commit:"; ls "$STATE" | sed 's/^/     | /'; }
register "... and its unregistration" 0 --root "$ROOT" /u "$DIR\\good.dll"
k=$(awk '/registry: after write/ { k = $1 } END { print k }' "$C/regcrash.trace" 2>/dev/null)
n=$(grep -c 'registry: after write' "$C/regcrash.trace" 2>/dev/null)
if [ -n "$k" ]; then
	ok "the trace has $n 'registry: after write' points; the last is point $k"
	export SETUPKIT_CRASH_AT="$k"
	register "register good.dll killed after its last registry write, before the COMMIT" 137 --root "$ROOT" "$DIR\\good.dll"
	unset SETUPKIT_CRASH_AT
	has "... its writes are in the registry" 'HKLM\Software\SetupkitTest\Good' 'Name    REG_SZ    good'
	has "... its class too" "HKCR\\CLSID\\$GOOD\\InprocServer32" 'ThreadingModel    REG_SZ    Both'
	[ "$(journals)" = 1 ] && ok "... beside one undo journal" || { bad "... $(journals) undo journals"; ls "$STATE" | sed 's/^/     | /'; }
	# A crash in the middle of the recovery: the next open starts it over.
	export SETUPKIT_CRASH_AT=1
	register "register.exe query killed at the first write of the recovery" 137 --root "$ROOT" query 'HKLM\Software'
	unset SETUPKIT_CRASH_AT
	[ "$(journals)" = 1 ] && ok "... the undo journal is still there" || bad "... $(journals) undo journals"
	register "register.exe query opens the store and recovers" 0 --root "$ROOT" query 'HKLM\Software'
	hasnt "... good's class is gone" "HKCR\\CLSID\\$GOOD"
	hasnt "... HKLM\\Software\\SetupkitTest\\Good is gone" 'HKLM\Software\SetupkitTest\Good'
	has "... Precious survives" 'HKLM\Software\SetupkitTest\Precious' 'keep me'
	[ "$(journals)" = 0 ] && ok "... and the undo journal is gone" || bad "... $(journals) undo journals left"
	# shellcheck disable=SC2086
	snap "$T/crash1.snap" $CRASHKEYS
	same "... HKLM\\Software, good's class and HKCU are as before the crash" "$T/crash0.snap" "$T/crash1.snap"
	register "good.dll registers again after the recovery" 0 --root "$ROOT" "$DIR\\good.dll"
	register "... and unregisters" 0 --root "$ROOT" /u "$DIR\\good.dll"
	# shellcheck disable=SC2086
	snap "$T/crash2.snap" $CRASHKEYS
	same "... the registry is as before" "$T/crash0.snap" "$T/crash2.snap"
else
	bad "the fault trace of register good.dll has no 'registry: after write'"
	show "$C/regcrash.trace"
fi

finish
