#!/bin/sh
# setup_crash.sh - kill -9 at every crash point of an install and of an
# uninstall of the sample product, then `setup recover`; the root (files,
# modes, registry, installed state) must equal the snapshot from before or
# the one from after the operation, with no leftovers. Also: recovery is
# idempotent, and a crash inside recovery is itself recovered.
. "$(dirname "$0")/lib.sh"
# The sample's services stay stopped here (start_services = no), so roots
# compare byte for byte without their pid files and logs; setup_services.sh
# covers starting and stopping them.
sed 's/^start_services = yes/start_services = no/' "$SRC/manifests/examples/answers.ini" >"$T/answers.ini"
ANS=$T/answers.ini
build_media || { bad "build sample media"; finish; exit 1; }
KEY=$T/keys/demo.pub

install() { "$SETUP" -q install --root "$1" --media "$T/media" --unattended "$ANS" --trusted-key "$KEY"; }
uninstall() { "$SETUP" -q uninstall mailsuite --root "$1"; }

# Reference snapshots and the number of crash points of each operation.
R0=$(new_root ref)
snapshot "$R0" "$T/empty.snap"
SETUPKIT_FAULT_TRACE=$T/install.trace install "$R0" >/dev/null 2>&1 || bad "reference install"
snapshot "$R0" "$T/installed.snap"
SETUPKIT_FAULT_TRACE=$T/uninstall.trace uninstall "$R0" >/dev/null 2>&1 || bad "reference uninstall"
snapshot "$R0" "$T/uninstalled.snap"
check "uninstall leaves the root as it was before install" cmp "$T/empty.snap" "$T/uninstalled.snap"
NI=$(wc -l <"$T/install.trace")
NU=$(wc -l <"$T/uninstall.trace")
echo "crash points: install $NI, uninstall $NU"
[ "$((NI + NU))" -ge 50 ] && ok "at least 50 crash points ($((NI + NU)))" || bad "only $((NI + NU)) crash points"

nothing() { :; }
crash_sweep install "$T/empty.snap" "$T/installed.snap" nothing "$NI"
crash_sweep uninstall "$T/installed.snap" "$T/empty.snap" install "$NU"

# A crash inside recovery: crash an install in the middle, then crash the
# recovery at each of its points, then recover again.
mid=$((NI / 2))
r=$(new_root recref)
SETUPKIT_CRASH_AT=$mid install "$r" >/dev/null 2>&1
SETUPKIT_FAULT_TRACE=$T/recover.trace "$SETUP" -q recover --root "$r" >/dev/null 2>&1
NR=$(wc -l <"$T/recover.trace")
torn=0
for k in $(crash_points "$NR"); do
	r=$(new_root "rec-$k")
	SETUPKIT_CRASH_AT=$mid install "$r" >/dev/null 2>&1
	SETUPKIT_CRASH_AT=$k "$SETUP" -q recover --root "$r" >/dev/null 2>&1
	"$SETUP" -q recover --root "$r" >/dev/null 2>&1
	"$SETUP" -q recover --root "$r" >/dev/null 2>&1   # idempotent
	snapshot "$r" "$T/s.snap"
	cmp -s "$T/s.snap" "$T/empty.snap" || cmp -s "$T/s.snap" "$T/installed.snap" || torn=$((torn + 1))
	rm -rf "$r"
done
echo "recovery: $NR points ($(crash_points "$NR" | wc -l) tried), $torn torn"
[ "$NR" -gt 0 ] && [ "$torn" -eq 0 ] && ok "a crash at any point of recovery is recovered ($NR points)" || bad "recovery crash sweep: $torn torn of $NR"
finish
