#!/bin/sh
# setup_install.sh - the engine end to end, on media built by mkmedia into
# temporary roots: install, reinstall (no change), plan --json, each file
# versioning rule, the corrupt same-version library replaced and restored on
# uninstall, shared files, registration failure rolling everything back,
# verify and repair, the lock, bad input. Asserts files, registry, messages
# and exit codes.
. "$(dirname "$0")/lib.sh"
# The sample's services stay stopped here (start_services = no), so roots
# compare byte for byte without their pid files and logs; setup_services.sh
# covers starting and stopping them.
sed 's/^start_services = yes/start_services = no/' "$SRC/manifests/examples/answers.ini" >"$T/answers.ini"
ANS=$T/answers.ini
build_media || { bad "build sample media"; finish; exit 1; }
KEY=$T/keys/demo.pub
S() { "$SETUP" -q "$@"; }

# --- the sample product --------------------------------------------------
R=$(new_root sample)
snapshot "$R" "$T/empty.snap"
check "install the sample product" S install --root "$R" --media "$T/media" --unattended "$ANS" --trusted-key "$KEY"
check "a module under a directory with spaces is installed" test -f "$R/opt/Mail Suite/IM Client/im module.so"
"$REGISTER" --root "$R" query 'HKCR\im\shell\open\command' >"$T/q" 2>&1
contains "its handler mapping holds the full quoted path" "$T/q" "\"$R/opt/Mail Suite/IM Client/im module.so\" %1"
"$REGISTER" --root "$R" query 'HKLM\Software\Example\Mail Suite' >"$T/q" 2>&1
contains "product registry entries expand {app}" "$T/q" "InstallDir    REG_SZ    /opt/Mail Suite"
check "verify: every file and class is fine" S verify --root "$R"
snapshot "$R" "$T/installed.snap"
S install --root "$R" --media "$T/media" --unattended "$ANS" --trusted-key "$KEY" --json >"$T/j" 2>&1
contains "reinstall of the same media keeps every file" "$T/j" '"installed":0,"replaced":0,"kept":9'
snapshot "$R" "$T/reinstalled.snap"
check "reinstall changes nothing (files, registry, state)" cmp "$T/installed.snap" "$T/reinstalled.snap"

# verify and repair
printf 'garbage' >>"$R/opt/Mail Suite/bin/mailsvc"
rm "$R/opt/Mail Suite/README.txt"
expect_fail "verify reports a corrupt and a missing file" 1 S verify --root "$R"
contains "verify names the corrupt file" "$T/check.out" "/opt/Mail Suite/bin/mailsvc: size 427 and content differ"
contains "verify names the missing file" "$T/check.out" "/opt/Mail Suite/README.txt: missing"
check "repair from the media" S repair mailsuite --root "$R" --media "$T/media" --trusted-key "$KEY"
check "verify after repair" S verify --root "$R"
snapshot "$R" "$T/repaired.snap"
check "repair brings back exactly the installed state" cmp "$T/installed.snap" "$T/repaired.snap"

check "uninstall" S uninstall mailsuite --root "$R"
snapshot "$R" "$T/after.snap"
check "uninstall leaves files, registry and state as before install" cmp "$T/empty.snap" "$T/after.snap"

# Files already on disk and identical to the media's (left by an earlier
# copy, not by setup) are kept, and their modules registered; uninstall
# must undo those registrations and leave the files, as they were found.
K=$(new_root kept)
S install --root "$K" --media "$T/media" --unattended "$ANS" --trusted-key "$KEY" >/dev/null 2>&1
cp -a "$K/opt" "$T/kept-opt" && cp -a "$K/usr" "$T/kept-usr"
S uninstall mailsuite --root "$K" >/dev/null 2>&1
cp -a "$T/kept-opt/." "$K/opt/" && cp -a "$T/kept-usr/." "$K/usr/"
snapshot "$K" "$T/kept0.snap"
S install --root "$K" --media "$T/media" --unattended "$ANS" --trusted-key "$KEY" --json >"$T/j" 2>&1
contains "install over identical files already on disk keeps them all" "$T/j" '"installed":0,"replaced":0,"kept":9'
"$REGISTER" --root "$K" query 'HKCR\CLSID' -r >"$T/q" 2>&1
contains "... and registers their modules" "$T/q" "$K/opt/Mail Suite/IM Client/im module.so"
check "... verify is clean" S verify --root "$K"
check "... uninstall" S uninstall mailsuite --root "$K"
snapshot "$K" "$T/kept1.snap"
check "... undoes their registrations and leaves the files as found" cmp "$T/kept0.snap" "$T/kept1.snap"
expect_fail "uninstall of a product that is not installed: exit 8" 8 S uninstall mailsuite --root "$R"
contains "... and the message names it" "$T/check.out" "product 'mailsuite' is not installed"

# --- bad input -------------------------------------------------------------
R=$(new_root bad)
snapshot "$R" "$T/bad0.snap"
printf '[setupkit]\nformat = 2\nkind = answers\n[install]\nproduct = mailsuite\ncolour = blue\n' >"$T/bad.ini"
expect_fail "an answer file with an unknown key: exit 3" 3 S install --root "$R" --media "$T/media" --unattended "$T/bad.ini" --trusted-key "$KEY"
contains "... naming file and line" "$T/check.out" "$T/bad.ini:6: unknown key 'colour' in [install]"
printf '[setupkit]\nformat = 2\nkind = answers\n[install]\nproduct = mailsuite\n' >"$T/nolic.ini"
expect_fail "the license must be accepted: exit 3" 3 S install --root "$R" --media "$T/media" --unattended "$T/nolic.ini" --trusted-key "$KEY"
contains "... and the message says how" "$T/check.out" "set accept_license = yes"
# A Windows install directory is a valid answer (answer files travel), but
# not a directory of this system: refused before anything is touched.
sed 's|^dir = .*|dir = C:\\Program Files\\Mail Suite|' "$ANS" >"$T/windir.ini"
expect_fail "an install directory of another system (C:\\...): exit 3" 3 S install --root "$R" --media "$T/media" --unattended "$T/windir.ini" --trusted-key "$KEY"
contains "... which says so" "$T/check.out" "is not a path on this system"
expect_fail "media without a trusted key is refused: exit 4" 4 S install --root "$R" --media "$T/media" --unattended "$ANS"
contains "... with what to do" "$T/check.out" "--allow-unsigned"
cp -r "$T/media" "$T/tampered"
sed -i 's/InstallDir/InstallDyr/' "$T/tampered/setupkit-media.ini"
expect_fail "a tampered manifest is refused: exit 4" 4 S install --root "$R" --media "$T/tampered" --unattended "$ANS" --trusted-key "$KEY"
cp -r "$T/media" "$T/badpayload"
printf 'x' | dd of="$T/badpayload/im.tar.zst" bs=1 seek=200 conv=notrunc 2>/dev/null
expect_fail "a damaged payload fails verification and rolls back: exit 4" 4 S install --root "$R" --media "$T/badpayload" --unattended "$ANS" --trusted-key "$KEY"
expect_fail "an unknown command: exit 2" 2 S frobnicate --root "$R"
expect_fail "no command without a terminal: exit 2" 2 sh -c "\"$SETUP\" </dev/null"
contains "... telling how to run unattended" "$T/check.out" "setup install --media DIR --unattended ANSWERS"
snapshot "$R" "$T/bad1.snap"
check "bad input leaves nothing behind" cmp "$T/bad0.snap" "$T/bad1.snap"

# --- the lock ----------------------------------------------------------------
R=$(new_root lock)
S status --root "$R" >/dev/null
flock "$R/var/lib/setupkit/lock" sleep 4 &
sleep 0.5
expect_fail "a second setup on a locked root waits, then exits 5" 5 S install --root "$R" --media "$T/media" --unattended "$ANS" --trusted-key "$KEY" --lock-timeout 1
contains "... naming the holder" "$T/check.out" "is locked by"
wait

# --- versioning rules ----------------------------------------------------------
V=$T/vt
mkdir -p "$V/src" "$V/root"
ver() { printf 'payload %s\n@(#)setupkit-version %s\n' "$1" "$2"; }
ver a 2.0 >"$V/src/a.so";  ver b 1.0 >"$V/src/b.so";  ver c 1.0 >"$V/src/c.so"
echo d >"$V/src/d.txt";    echo e >"$V/src/e.txt";    echo f >"$V/src/f.conf"
ver g 1.0 >"$V/src/g.so";  echo h >"$V/src/h.txt";    echo u >"$V/src/u.txt"
cat >"$V/vt.ini" <<'INI'
[setupkit]
format = 2
kind = product
[product]
code = vt
name = Versioning Test
version = 1.0
default_dir = /opt/vt
[component main]
payload = main
INI
for f in a.so b.so c.so d.txt e.txt f.conf g.so h.txt u.txt; do
	id=${f%%.*}
	v=""
	case $f in a.so) v="version = 2.0";; b.so|c.so|g.so) v="version = 1.0";; esac
	fl=""
	[ "$f" = f.conf ] && fl="flags = config"
	printf '[file %s]\ncomponent = main\nsource = %s\ndest = {app}/%s\n%s\n%s\n' "$id" "$f" "$f" "$v" "$fl" >>"$V/vt.ini"
done
"$MKMEDIA" build "$V/vt.ini" --source "$V/src" --out "$V/media" >/dev/null 2>&1 || bad "mkmedia build of the versioning product"
printf '[setupkit]\nformat = 2\nkind = answers\n[install]\nproduct = vt\n' >"$V/ans.ini"
mkdir -p "$V/root/opt/vt"
ver a 1.0 >"$V/root/opt/vt/a.so"          # lower version on disk
ver b 2.0 >"$V/root/opt/vt/b.so"          # higher version on disk
echo "c, no version" >"$V/root/opt/vt/c.so"
ver d 1.0 >"$V/root/opt/vt/d.txt"         # versioned on disk, media unversioned
echo "foreign e" >"$V/root/opt/vt/e.txt"
echo "admin's f" >"$V/root/opt/vt/f.conf"
ver corrupt 1.0 >"$V/root/opt/vt/g.so"    # same version, other content
snapshot "$V/root" "$T/vt0.snap"
S plan --root "$V/root" --media "$V/media" --unattended "$V/ans.ini" --allow-unsigned --json >"$V/plan.json" 2>/dev/null
rule() { # id action
	grep -o "{\"id\":\"$1\"[^}]*}" "$V/plan.json" | grep -q "\"action\":\"$2\"" && ok "plan: $1 -> $2 ($3)" || { bad "plan: $1 should be $2 ($3)"; grep -o "{\"id\":\"$1\"[^}]*}" "$V/plan.json"; }
}
rule a replace "a higher version replaces a lower one"
rule b keep "a lower version never replaces a higher one"
rule c replace "versioned beats unversioned"
rule d keep "an installed versioned file beats an unversioned one"
rule e replace "an unversioned file not installed by setupkit is replaced, the old copy kept"
rule f keep "a configuration file already present is kept"
rule g replace "same version, different content: the corrupt copy is replaced"
rule h install "a missing file is installed"
check "install the versioning product" S install --root "$V/root" --media "$V/media" --unattended "$V/ans.ini" --allow-unsigned
check "a.so now holds the media's version 2.0" grep -q "version 2.0" "$V/root/opt/vt/a.so"
check "b.so keeps version 2.0" grep -q "version 2.0" "$V/root/opt/vt/b.so"
check "g.so was replaced from the media" cmp "$V/src/g.so" "$V/root/opt/vt/g.so"
check "f.conf keeps the administrator's content" grep -q "admin's f" "$V/root/opt/vt/f.conf"
echo "user edit" >>"$V/root/opt/vt/u.txt"
S plan --root "$V/root" --media "$V/media" --unattended "$V/ans.ini" --allow-unsigned --json >"$V/plan.json" 2>/dev/null
rule u keep "an unversioned file modified since install is kept"
rule h keep "an unmodified file identical to the media is kept"
S plan --root "$V/root" --media "$V/media" --unattended "$V/ans.ini" --allow-unsigned --json --reinstall-mode a >"$V/plan.json" 2>/dev/null
rule h replace "reinstall mode a replaces everything"
S plan --root "$V/root" --media "$V/media" --unattended "$V/ans.ini" --allow-unsigned --json --reinstall-mode e >"$V/plan.json" 2>/dev/null
rule b keep "mode e: a lower media version still is not installed"
check "uninstall the versioning product" S uninstall vt --root "$V/root"
check "uninstall restores the old copy of the corrupt same-version g.so" sh -c "grep -q corrupt '$V/root/opt/vt/g.so'"
check "uninstall restores the foreign e.txt it had replaced" grep -q "foreign e" "$V/root/opt/vt/e.txt"
check "uninstall leaves the newer b.so it kept and never owned" grep -q "version 2.0" "$V/root/opt/vt/b.so"
check "uninstall leaves the administrator's f.conf" grep -q "admin's f" "$V/root/opt/vt/f.conf"
check "uninstall removes the files it installed" test ! -e "$V/root/opt/vt/h.txt"

# --- shared files -----------------------------------------------------------------
SH=$T/sh
mkdir -p "$SH/src" "$SH/root"
ver shared 1.0 >"$SH/src/libshared.so"
echo one >"$SH/src/one.txt"
echo two >"$SH/src/two.txt"
for p in one two; do
	printf '[setupkit]\nformat = 2\nkind = product\n[product]\ncode = %s\nname = %s\nversion = 1.0\ndefault_dir = /opt/%s\n[component main]\npayload = main\n' "$p" "$p" "$p" >"$SH/$p.ini"
	printf '[file lib]\ncomponent = main\nsource = libshared.so\ndest = {sys}/libshared.so\nversion = 1.0\nflags = shared\n' >>"$SH/$p.ini"
	printf '[file own]\ncomponent = main\nsource = %s.txt\ndest = {app}/%s.txt\n' "$p" "$p" >>"$SH/$p.ini"
	"$MKMEDIA" build "$SH/$p.ini" --source "$SH/src" --out "$SH/m-$p" >/dev/null 2>&1 || bad "mkmedia $p"
	printf '[setupkit]\nformat = 2\nkind = answers\n[install]\nproduct = %s\n' "$p" >"$SH/a-$p.ini"
done
snapshot "$SH/root" "$T/sh0.snap"
check "product one installs the shared library" S install --root "$SH/root" --media "$SH/m-one" --unattended "$SH/a-one.ini" --allow-unsigned
check "product two installs it too" S install --root "$SH/root" --media "$SH/m-two" --unattended "$SH/a-two.ini" --allow-unsigned
check "uninstall one" S uninstall one --root "$SH/root"
check "the shared library stays while product two uses it" test -f "$SH/root/usr/lib/libshared.so"
check "product one's own file is gone" test ! -e "$SH/root/opt/one/one.txt"
check "uninstall two" S uninstall two --root "$SH/root"
check "the shared library goes with its last user" test ! -e "$SH/root/usr/lib/libshared.so"
snapshot "$SH/root" "$T/sh1.snap"
check "nothing is left of either product" cmp "$T/sh0.snap" "$T/sh1.snap"

# --- a registration that fails rolls everything back ------------------------------------
RF=$T/rf
mkdir -p "$RF/src" "$RF/root"
cp "$B/modules/fail_class.so" "$RF/src/bad.so"
cp "$B/modules/good.so" "$RF/src/good.so"
echo data >"$RF/src/data.txt"
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
[file good]
component = main
source = good.so
dest = {app}/good.so
flags = selfreg
[file data]
component = main
source = data.txt
dest = {app}/data.txt
[file bad]
component = main
source = bad.so
dest = {app}/bad.so
flags = selfreg
after = good
INI
"$MKMEDIA" build "$RF/rf.ini" --source "$RF/src" --out "$RF/media" >/dev/null 2>&1 || bad "mkmedia rf"
printf '[setupkit]\nformat = 2\nkind = answers\n[install]\nproduct = rf\n' >"$RF/a.ini"
snapshot "$RF/root" "$T/rf0.snap"
expect_fail "a module whose registration fails: the install fails, exit 1" 1 S install --root "$RF/root" --media "$RF/media" --unattended "$RF/a.ini" --allow-unsigned --retries 2
contains "... the message names the module and the HRESULT" "$T/check.out" "SELFREG_E_CLASS"
contains "... and says it was rolled back" "$T/check.out" "rolled back"
snapshot "$RF/root" "$T/rf1.snap"
check "files, registry (the good module's classes too) and state are as before" cmp "$T/rf0.snap" "$T/rf1.snap"

# --- a registration with the defer flag stays pending; setup recover retries it ---
# flaky.so fails its first two registrations and succeeds on the third; with
# one attempt per run, install leaves it pending, the first recover fails
# and keeps it pending, the second registers it.
DF=$T/df
mkdir -p "$DF/src" "$DF/root"
cp "$B/modules/flaky.so" "$DF/src/flaky.so"
cat >"$DF/df.ini" <<'INI'
[setupkit]
format = 2
kind = product
[product]
code = df
name = Deferred Registration
version = 1.0
default_dir = /opt/df
[component main]
payload = main
[file flaky]
component = main
source = flaky.so
dest = {app}/flaky.so
flags = selfreg, defer
INI
"$MKMEDIA" build "$DF/df.ini" --source "$DF/src" --out "$DF/media" >/dev/null 2>&1 || bad "mkmedia df"
printf '[setupkit]\nformat = 2\nkind = answers\n[install]\nproduct = df\n' >"$DF/a.ini"
snapshot "$DF/root" "$T/df0.snap"
expect_fail "a deferred registration that fails: installed, exit 10" 10 S install --root "$DF/root" --media "$DF/media" --unattended "$DF/a.ini" --allow-unsigned --retries 1
"$SETUP" status --root "$DF/root" >"$T/st" 2>&1
contains "... status lists it as pending" "$T/st" "pending registration: /opt/df/flaky.so"
expect_fail "... verify reports it" 1 S verify --root "$DF/root"
contains "... as a pending registration" "$T/check.out" "/opt/df/flaky.so: registration is pending; run 'setup recover'"
expect_fail "setup recover retries it; it fails again: exit 1" 1 S recover --root "$DF/root" --retries 1
contains "... naming the module" "$T/check.out" "module '$DF/root/opt/df/flaky.so' (file 'flaky' of component 'main') did not register"
"$REGISTER" --root "$DF/root" query 'HKLM\Software\SetupkitTest\Flaky' >"$T/q" 2>&1 &&
	bad "... the failed retry left its registry writes" || ok "... the failed retry left no registry writes"
check "setup recover retries it again, and it registers" S recover --root "$DF/root" --retries 1
"$REGISTER" --root "$DF/root" query 'HKLM\Software\SetupkitTest\Flaky' >"$T/q" 2>&1
contains "... its registry entries are there" "$T/q" "Attempt"
"$SETUP" status --root "$DF/root" >"$T/st" 2>&1
not_contains "... and nothing is pending" "$T/st" "pending"
check "verify after recover" S verify --root "$DF/root"
rm "$DF/root/opt/df/flaky.so.count"   # not the product's: it would keep /opt/df
check "uninstall" S uninstall df --root "$DF/root"
snapshot "$DF/root" "$T/df1.snap"
check "files, registry and state are as before (but flaky's counter)" cmp "$T/df0.snap" "$T/df1.snap"
finish
