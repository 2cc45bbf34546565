#!/bin/sh
# scenario3_corrupt_shared.sh - issue 9, field scenario 3: a shared system
# library whose self-registration fails. The root already holds
# {sys}/inetcomm.so (/usr/lib/inetcomm.so) as a corrupt copy with the SAME
# version as the sample's (what-string 5.5.2448.0, broken ELF headers: it
# cannot be loaded). Two runs on the sample product:
#  1. default rules: the planner sees the same version with content that
#     matches neither the media nor any installed state, replaces it from
#     the media before registration and keeps the old copy;
#  2. --reinstall-mode p (install only missing files, the rule that let the
#     corrupt copy survive in the field): the copy is kept, its registration
#     fails, setup notices it differs from the media, replaces it from the
#     media (keeping the old copy) and registers it.
# Each asserts the log's story line by line, the files, the registry
# (inetcomm's CLSID keys present after install, absent after uninstall) and
# that uninstall brings the old corrupt copy back byte for byte, leaving
# the root exactly as before.
. "$(dirname "$0")/lib.sh"
S() { "$SETUP" -q "$@"; }
build_media || { bad "build sample media"; finish; exit 1; }
KEY=$T/keys/demo.pub
sed 's/^start_services = yes/start_services = no/' "$SRC/manifests/examples/answers.ini" >"$T/answers.ini"
GOOD=$B/examples/tree/modules/inetcomm.so
MIME='{6D1C2B4E-8A3F-4C51-9E7D-2F4A6B8C0D11}'
SMTP='{6D1C2B4E-8A3F-4C51-9E7D-2F4A6B8C0D12}'

# The corrupt copy: the real module with its program-header fields zeroed.
# Same what-string version, cannot be loaded.
cp "$GOOD" "$T/corrupt.so"
dd if=/dev/zero of="$T/corrupt.so" bs=1 seek=32 count=32 conv=notrunc 2>/dev/null
check "the corrupt copy carries the same version (what-string 5.5.2448.0)" \
	grep -qa '@(#)setupkit-version 5.5.2448.0' "$T/corrupt.so"
check "... but differs from the media's" sh -c "! cmp -s '$GOOD' '$T/corrupt.so'"
mkdir -p "$T/scratch"
expect_fail "... and cannot be loaded (register: exit 3)" 3 "$REGISTER" --root "$T/scratch" "$T/corrupt.so"
BAD_SHA=$(sha256sum <"$T/corrupt.so" | cut -c1-64)
GOOD_SHA=$(sha256sum <"$GOOD" | cut -c1-64)

# installed_ok ROOT: inetcomm is the media's copy, registered, activates.
installed_ok() {
	r=$1
	check "inetcomm.so on disk is now the media's copy" cmp "$GOOD" "$r/usr/lib/inetcomm.so"
	set -- "$r"/var/lib/setupkit/backup/mailsuite/*-inetcomm.so
	check "the old corrupt copy is kept in the backup area, byte for byte" cmp "$T/corrupt.so" "$1"
	for c in "$MIME" "$SMTP"; do
		"$REGISTER" --root "$r" query "HKCR\\CLSID\\$c\\InprocServer32" >"$T/q" 2>&1
		contains "class $c is registered to the shared library" "$T/q" "(Default)    REG_SZ    $r/usr/lib/inetcomm.so"
		check "class $c activates (DllGetClassObject)" "$REGISTER" --root "$r" verify "$c"
	done
	"$REGISTER" --root "$r" query 'HKLM\Software\Example\inetcomm' >"$T/q" 2>&1
	contains "inetcomm recorded its version" "$T/q" "Version    REG_SZ    5.5.2448.0"
	check "setup verify: every file and class is fine" S verify --root "$r"
}
# uninstalled_ok ROOT BEFORE-SNAPSHOT
uninstalled_ok() {
	r=$1
	check "uninstall" S uninstall mailsuite --root "$r"
	check "uninstall brings the old corrupt copy back, byte for byte" cmp "$T/corrupt.so" "$r/usr/lib/inetcomm.so"
	contains "the uninstall log says so" "$(newest_log "$r" uninstall)" "restore the old copy of /usr/lib/inetcomm.so"
	"$REGISTER" --root "$r" query 'HKCR' -r >"$T/q" 2>&1
	not_contains "inetcomm's MimeOle class is gone" "$T/q" "$MIME"
	not_contains "inetcomm's SMTPTransport class is gone" "$T/q" "$SMTP"
	snapshot "$r" "$T/after.snap"
	check "the root is exactly as before the install (files, modes, registry, state)" cmp "$2" "$T/after.snap"
}

# --- 1. default rules: replaced by the planner, before registration ------------
R=$(new_root planner)
mkdir -p "$R/usr/lib"
cp "$T/corrupt.so" "$R/usr/lib/inetcomm.so"
snapshot "$R" "$T/before1.snap"
check "install over the corrupt copy" \
	S install --root "$R" --media "$T/media" --unattended "$T/answers.ini" --trusted-key "$KEY"
L=$(newest_log "$R" install)
in_order "the log: the plan replaces the copy, then it registers the first time" "$L" \
	"plan: replace /usr/lib/inetcomm.so: same version but the content differs from the media and from the installed state (a corrupt or foreign copy): replaced from the media, the old copy kept" \
	"files in place: 8 installed, 1 replaced" \
	"registered $R/usr/lib/inetcomm.so (1 attempt)" \
	"install of Example Mail Suite complete"
installed_ok "$R"
uninstalled_ok "$R" "$T/before1.snap"

# --- 2. keep what is present: registration fails, the ladder repairs -----------
R=$(new_root ladder)
mkdir -p "$R/usr/lib"
cp "$T/corrupt.so" "$R/usr/lib/inetcomm.so"
snapshot "$R" "$T/before2.snap"
check "install with --reinstall-mode p (the copy on disk is kept)" \
	sh -c "\"$SETUP\" install --root '$R' --media '$T/media' --unattended '$T/answers.ini' --trusted-key '$KEY' --reinstall-mode p >'$T/out2' 2>&1"
L=$(newest_log "$R" install)
in_order "the log tells the story: kept, failed, differs, replaced with the old copy kept, registered" "$L" \
	"plan: keep /usr/lib/inetcomm.so: reinstall mode 'p'" \
	"registration of $R/usr/lib/inetcomm.so failed after 1 attempt: cannot load module '$R/usr/lib/inetcomm.so'" \
	"$R/usr/lib/inetcomm.so has sha256 $BAD_SHA but the media's copy has $GOOD_SHA: replacing it from the media and trying again" \
	"$R/usr/lib/inetcomm.so differed from the media's copy; replaced it from the media (old copy kept as /var/lib/setupkit/backup/mailsuite/" \
	"registered $R/usr/lib/inetcomm.so after replacing it from the media (1 attempt)" \
	"registered $R/opt/Mail Suite/lib/chatcfg.so" \
	"install of Example Mail Suite complete"
contains "the user sees the repair too" "$T/out2" "registered $R/usr/lib/inetcomm.so after replacing it from the media"
not_contains "nothing was rolled back" "$T/out2" "rolled back"
S status --root "$R" --json >"$T/status" 2>&1
contains "the product is installed" "$T/status" '"code":"mailsuite"'
installed_ok "$R"
uninstalled_ok "$R" "$T/before2.snap"

# --- 3. kill -9 at every point of that install, the ladder's repair included --
ladder_prep() { mkdir -p "$1/usr/lib" && cp "$T/corrupt.so" "$1/usr/lib/inetcomm.so"; }
ladder() { "$SETUP" -q install --root "$1" --media "$T/media" --unattended "$T/answers.ini" --trusted-key "$KEY" --reinstall-mode p; }
R=$(new_root ladder-ref)
ladder_prep "$R"
snapshot "$R" "$T/ladder0.snap"
SETUPKIT_FAULT_TRACE=$T/ladder.trace ladder "$R" >/dev/null 2>&1 || bad "reference install with --reinstall-mode p"
snapshot "$R" "$T/ladder1.snap"
check "... its crash points include the replace from the media" grep -q "ladder: switch in" "$T/ladder.trace"
crash_sweep ladder "$T/ladder0.snap" "$T/ladder1.snap" ladder_prep "$(wc -l <"$T/ladder.trace")"
finish
