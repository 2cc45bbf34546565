#!/bin/sh
# setup_sp.sh - service packs end to end on the sample product: apply SP1-SP4
# in turn and remove them back to the base, each removal giving exactly the
# root, registry and state of before the apply; SP4 straight on the base
# (supersedence); refusals (older or equal level, not the most recent pack,
# version out of range); a pack whose registration fails rolls back; removal
# copies no file contents (inodes come back); kill -9 at every crash point
# of an apply and of a removal, then `setup recover`.
. "$(dirname "$0")/lib.sh"
# Services stay stopped (their pid and log files would differ between
# snapshots); one test below runs them.
sed 's/^start_services = yes/start_services = no/' "$SRC/manifests/examples/answers.ini" >"$T/answers.ini"
ANS=$T/answers.ini
build_media || { bad "build sample media"; finish; exit 1; }
KEY=$T/keys/demo.pub
for i in 1 2 3 4; do
	build_media "$SRC/manifests/examples/sp$i.ini" "$T/sp$i" || bad "build sp$i media"
done
S() { "$SETUP" -q "$@"; }
install() { S install --root "$1" --media "$T/media" --unattended "$ANS" --trusted-key "$KEY"; }
apply() { S sp apply --root "$1" --media "$T/sp$2" --trusted-key "$KEY"; }
remove() { S sp remove mailsuite --root "$1"; }
inodes() { (cd "$1" && find . -path ./var -prune -o -type f -print | LC_ALL=C sort | xargs -d '\n' stat -c '%i %n'); }

# --- apply SP1..SP4 in turn, then remove back to the base ----------------
R=$(new_root stack)
install "$R" || bad "install the base"
snapshot "$R" "$T/l0.snap"
inodes "$R" >"$T/l0.ino"
for i in 1 2 3 4; do
	check "apply SP$i" apply "$R" "$i"
	snapshot "$R" "$T/l$i.snap"
done
S status --root "$R" >"$T/st" 2>&1
contains "status shows the level" "$T/st" "service pack: SP4"
contains "status lists the removable packs" "$T/st" "removable:    SP4, SP3, SP2, SP1"
S status --root "$R" --json >"$T/st" 2>&1
contains "status --json reports the backup space" "$T/st" '"sp_backup_bytes":'
"$REGISTER" --root "$R" query 'HKLM\Software\Example\Mail Suite' >"$T/q" 2>&1
contains "SP4's registry entry is written" "$T/q" "5.5.2448.4"
expect_fail "an SP equal to the installed level is refused: exit 2" 2 apply "$R" 4
contains "... saying what is installed and what the media is" "$T/check.out" "is installed at SP4 (version 5.5.2448.4); the media"
expect_fail "an older SP is refused (no downgrade): exit 2" 2 apply "$R" 2
contains "... naming the media's pack" "$T/check.out" "holds Service Pack 2 (SP2"
expect_fail "removing SP2 under SP3 and SP4 is refused: exit 2" 2 S sp remove mailsuite 2 --root "$R"
contains "... listing what must be removed first" "$T/check.out" "remove SP4, SP3 first"
for i in 4 3 2 1; do
	check "remove SP$i" remove "$R"
	snapshot "$R" "$T/r.snap"
	check "removing SP$i gives exactly the product before SP$i (files, registry, state)" cmp "$T/l$((i - 1)).snap" "$T/r.snap"
done
inodes "$R" >"$T/r.ino"
check "removal copied no file contents: every file is its old inode again" cmp "$T/l0.ino" "$T/r.ino"
check "the backups of removed packs are deleted" sh -c "[ -z \"\$(find '$R/var/lib/setupkit/sp-backup' -type f 2>/dev/null)\" ]"
expect_fail "removing with no pack applied: exit 8" 8 remove "$R"
check "uninstall after packs come and go" S uninstall mailsuite --root "$R"
R=$(new_root spuninst)
install "$R"
apply "$R" 1
apply "$R" 2
check "SP1 and SP2 keep their backups" sh -c "[ -n \"\$(find '$R/var/lib/setupkit/sp-backup/mailsuite' -type f)\" ]"
check "uninstall with SP1 and SP2 applied" S uninstall mailsuite --root "$R"
check "... takes the packs' backup store with it" sh -c "[ ! -e '$R/var/lib/setupkit/sp-backup/mailsuite' ]"
check "... and the product's own backup store" sh -c "[ ! -e '$R/var/lib/setupkit/backup/mailsuite' ]"
"$REGISTER" --root "$R" query HKLM -r >"$T/q" 2>&1
check "... and leaves no registry value" sh -c "! grep -q 'REG_' '$T/q'"

# --- supersedence: SP4 on the base ------------------------------------------
R=$(new_root sp4)
install "$R"
check "SP4 applies directly on the base" apply "$R" 4
S status --root "$R" >"$T/st" 2>&1
contains "... and brings it to SP4" "$T/st" "service pack: SP4"
snapshot "$R" "$T/direct4.snap"
check "SP4 on the base: the files of SP1..SP4 in turn" sh -c "grep '^F' '$T/direct4.snap' >'$T/a'; grep '^F' '$T/l4.snap' >'$T/b'; cmp '$T/a' '$T/b'"
check "remove SP4 from the base" remove "$R"
snapshot "$R" "$T/r.snap"
check "... gives exactly the base" cmp "$T/l0.snap" "$T/r.snap"
R=$(new_root sp1on4)
install "$R"
apply "$R" 4
expect_fail "SP1 on SP4 is refused: exit 2" 2 apply "$R" 1

# --- a pack whose registration fails rolls back ------------------------------
mkdir -p "$T/failsrc/spf"
cp "$B/modules/fail_class.so" "$T/failsrc/spf/inetcomm.so"
cat >"$T/spf.ini" <<'EOF'
[setupkit]
format = 2
kind = servicepack

[servicepack]
product = mailsuite
level = 2
name = Broken Pack
applies_to = 5.5.2448.0 - 5.5.2448.1
new_version = 5.5.2448.2
payload = spf

[file inetcomm]
component = imail
source = spf/inetcomm.so
dest = {sys}/inetcomm.so
version = 5.5.2448.9
flags = selfreg, shared

[registry version]
component = core
key = HKLM\Software\Example\Mail Suite
value = Version
type = REG_SZ
data = broken
EOF
mkdir -p "$T/keys"
"$MKMEDIA" build "$T/spf.ini" --source "$T/failsrc" --out "$T/spf" --sign "$T/keys/demo.key" >/dev/null 2>&1 || bad "build the failing pack"
R=$(new_root fail)
install "$R"
apply "$R" 1
snapshot "$R" "$T/f0.snap"
expect_fail "a pack whose module fails to register: exit 1 (rolled back)" 1 S sp apply --root "$R" --media "$T/spf" --trusted-key "$KEY"
contains "... saying it is still at SP1" "$T/check.out" "it is still at SP1"
snapshot "$R" "$T/f1.snap"
check "... and the product is exactly as at SP1" cmp "$T/f0.snap" "$T/f1.snap"

# --- slipstream: install media at the pack's level -------------------------
unstate() { grep -v '^{"root":' "$1"; }   # status --json lists the applied packs: only that differs
for i in 1 4; do
	check "mkmedia slipstream base + SP$i" "$MKMEDIA" slipstream --base "$T/media" --sp "$T/sp$i" --out "$T/slip$i" --sign "$T/keys/demo.key"
	R=$(new_root slip$i)
	check "install from the SP$i slipstreamed media" S install --root "$R" --media "$T/slip$i" --unattended "$ANS" --trusted-key "$KEY"
	snapshot "$R" "$T/slip.snap"
	R2=$(new_root slipref$i)
	install "$R2"
	apply "$R2" "$i"
	snapshot "$R2" "$T/slipref.snap"
	unstate "$T/slip.snap" >"$T/a"
	unstate "$T/slipref.snap" >"$T/b"
	check "install from slipstreamed media == base install + SP$i (files, registry)" cmp "$T/a" "$T/b"
	S status --root "$R" >"$T/st" 2>&1
	contains "... recording the level SP$i" "$T/st" "service pack: SP$i"
done
R=$T/roots/slip1
check "SP2 applies on top of an install from SP1 slipstreamed media" apply "$R" 2
expect_fail "SP1 on SP1 slipstreamed media is refused: exit 2" 2 apply "$R" 1
expect_fail "slipstreaming SP1 into SP4 media is refused: exit 2" 2 "$MKMEDIA" slipstream --base "$T/slip4" --sp "$T/sp1" --out "$T/slipx"

# --- services: a pack stops its restart_services that run and starts them again
R=$(new_root svc)
S install --root "$R" --media "$T/media" --unattended "$SRC/manifests/examples/answers.ini" --trusted-key "$KEY"
: >"$R/var/log/mailsuite/events.log"
check "apply SP1 with the services running" apply "$R" 1
check "... stopping mailsvc and starting it again" sh -c "grep -x 'stop mailsvc' '$R/var/log/mailsuite/events.log' && tail -n 1 '$R/var/log/mailsuite/events.log' | grep -q '^start '"
check "remove SP1 with the services running" remove "$R"
S uninstall mailsuite --root "$R" >/dev/null 2>&1

# --- kill -9 at every crash point of an apply and of a removal ---------------
R0=$(new_root ref)
install "$R0"
apply "$R0" 1
snapshot "$R0" "$T/c0.snap"
SETUPKIT_FAULT_TRACE=$T/apply.trace apply "$R0" 2 >/dev/null 2>&1 || bad "reference apply"
snapshot "$R0" "$T/c1.snap"
SETUPKIT_FAULT_TRACE=$T/remove.trace remove "$R0" >/dev/null 2>&1 || bad "reference remove"
R0=$(new_root ref4)
install "$R0"
snapshot "$R0" "$T/d0.snap"
SETUPKIT_FAULT_TRACE=$T/apply4.trace apply "$R0" 4 >/dev/null 2>&1 || bad "reference apply of SP4"
snapshot "$R0" "$T/d1.snap"
SETUPKIT_FAULT_TRACE=$T/remove4.trace remove "$R0" >/dev/null 2>&1 || bad "reference remove of SP4"
NA=$(wc -l <"$T/apply.trace")
NR=$(wc -l <"$T/remove.trace")
NA4=$(wc -l <"$T/apply4.trace")
NR4=$(wc -l <"$T/remove4.trace")
N=$((NR + NA4 + NR4))
echo "crash points: SP2 on SP1 remove $NR; SP4 on the base apply $NA4, remove $NR4"
[ "$N" -ge 50 ] && ok "at least 50 crash points ($N)" || bad "only $N crash points"
# One installed root at SP1 (and one at SP2) to copy for each point.
# (The apply of SP2 on SP1, $NA points, has no sweep of its own: SP4's covers the same code.)
P1=$(new_root proto1)
install "$P1"
apply "$P1" 1
P2=$(new_root proto2)
cp -a "$P1/." "$P2/"
apply "$P2" 2
P3=$(new_root proto3)
install "$P3"
P4=$(new_root proto4)
cp -a "$P3/." "$P4/"
apply "$P4" 4
# Each point's root is a copy of a proto. Module names and registry values
# of a copy still name the proto's path: the snapshots map those to ROOT.
from_p2() { cp -a "$P2/." "$1/"; }
from_p3() { cp -a "$P3/." "$1/"; }
from_p4() { cp -a "$P4/." "$1/"; }
map_protos() { sed "s|$P1|ROOT|g; s|$P2|ROOT|g; s|$P3|ROOT|g; s|$P4|ROOT|g"; }
CRASH_SNAP_MAP=map_protos
apply4() { apply "$1" 4; }
remove4() { remove "$1"; }
crash_sweep remove "$T/c1.snap" "$T/c0.snap" from_p2 "$NR"
crash_sweep apply4 "$T/d0.snap" "$T/d1.snap" from_p3 "$NA4"
crash_sweep remove4 "$T/d1.snap" "$T/d0.snap" from_p4 "$NR4"
# Uninstall at SP2: the packs' backup store goes in the same transaction.
U0=$T/roots/uninst-ref
mkdir -p "$U0"
from_p2 "$U0"
SETUPKIT_FAULT_TRACE=$T/uninst.trace S uninstall mailsuite --root "$U0" >/dev/null 2>&1 || bad "reference uninstall at SP2"
snapshot "$U0" "$T/u.snap"
# (Its registry captures are under proto1's module paths, so this uninstall
# of a copy leaves those values; the sweep checks crash consistency, the
# cleanup itself is checked above.)
map_protos <"$T/u.snap" >"$T/u1.snap"
uninst() { S uninstall mailsuite --root "$1"; }
crash_sweep uninst "$T/c1.snap" "$T/u1.snap" from_p2 "$(wc -l <"$T/uninst.trace")"
finish
