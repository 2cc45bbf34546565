#!/bin/sh
# scenario2_path_spaces.sh - issue 9, field scenario 2: a registration path
# containing spaces. The sample's im component installs immod.so as
# "{app}/IM Client/im module.so" under "/opt/Mail Suite"; its
# DllRegisterServer maps the im: protocol to "\"<full path>\" %1" and
# records the path as its class's InprocServer32. The root already holds
# another client's im: handler. Asserts: each registered value is exactly
# the full path (byte for byte, from `register query`); `register export`
# then `register import` into a fresh root round-trips it exactly; setup
# backs the whole registry up before each transaction changes it, and
# `register restore` of that backup brings back exactly the registry before
# the install (and, for the uninstall's backup, exactly the installed one);
# uninstall itself puts the other client's handler back.
. "$(dirname "$0")/lib.sh"
S() { "$SETUP" -q "$@"; }
build_media || { bad "build sample media"; finish; exit 1; }
KEY=$T/keys/demo.pub
sed 's/^start_services = yes/start_services = no/' "$SRC/manifests/examples/answers.ini" >"$T/answers.ini"
CLSID='{3F8B1D62-7C9E-4A25-B6D4-1E0C8A7F5B41}'
is() { # description expected actual
	if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: got '$3', want '$2'"; fi
}
# value ROOT KEY NAME: the data of a REG_SZ value, exactly as stored
# ("(Default)" for the default value).
value() {
	"$REGISTER" --root "$1" query "$2" | awk -v n="    $3    REG_SZ    " 'index($0, n) == 1 { print substr($0, length(n) + 1); exit }'
}
regdump() { # ROOT OUT: the whole registry, as a user can see it
	for k in HKLM HKCU HKU; do "$REGISTER" --root "$1" query "$k" -r 2>/dev/null; done >"$2"
}

# --- another client already owns im: ------------------------------------------
R=$(new_root spaces)
cat >"$T/old.reg" <<'REG'
Windows Registry Editor Version 5.00

[HKEY_CLASSES_ROOT\im\shell\open\command]
@="\"/opt/Old Messenger/old im.so\" %1"

[HKEY_LOCAL_MACHINE\Software\Admin Tools]
"Note"="set by the administrator"
REG
check "seed the registry with another client's im: handler" "$REGISTER" --root "$R" import "$T/old.reg"
regdump "$R" "$T/reg.before"
check "install the sample under /opt/Mail Suite" \
	S install --root "$R" --media "$T/media" --unattended "$T/answers.ini" --trusted-key "$KEY"
M="$R/opt/Mail Suite/IM Client/im module.so"
check "immod is installed at the path with spaces" cmp "$B/examples/tree/modules/immod.so" "$M"

# --- the registered values are exactly the full path ----------------------------
is "the im: handler is exactly the quoted full path, then %1" "\"$M\" %1" \
	"$(value "$R" 'HKCR\im\shell\open\command' '(Default)')"
is "InprocServer32 is exactly the full path" "$M" \
	"$(value "$R" "HKCR\\CLSID\\$CLSID\\InprocServer32" '(Default)')"
is "the product key's Module value is exactly the full path" "$M" \
	"$(value "$R" 'HKLM\Software\Example\Mail Suite\IM Client' 'Module')"
printf '"%s" %%1' "$M" >"$T/want.bytes"
value "$R" 'HKCR\im\shell\open\command' '(Default)' | tr -d '\n' >"$T/got.bytes"
check "... byte for byte (no lost or doubled quote, no trailing blank)" cmp "$T/want.bytes" "$T/got.bytes"
check "the class activates from that path (DllGetClassObject)" "$REGISTER" --root "$R" verify "$CLSID"

# --- export, import into a fresh root, export again: identical ------------------
for k in 'HKCR\im' "HKCR\\CLSID\\$CLSID" 'HKLM\Software\Example\Mail Suite\IM Client'; do
	n=$(echo "$k" | tr -c 'A-Za-z0-9\n' _)
	"$REGISTER" --root "$R" export "$k" "$T/$n.reg" >"$T/x" 2>&1 || bad "export $k"
done
cat "$T/HKCR_im.reg" >"$T/x"
contains "the export escapes the quotes and keeps the spaces" "$T/x" "@=\"\\\"$M\\\" %1\""
F=$(new_root fresh)
for f in "$T"/HKCR_*.reg "$T"/HKLM_*.reg; do
	check "import $(basename "$f") into a fresh root" "$REGISTER" --root "$F" import "$f"
done
is "imported handler is exactly the original" "\"$M\" %1" "$(value "$F" 'HKCR\im\shell\open\command' '(Default)')"
is "imported InprocServer32 is exactly the original" "$M" "$(value "$F" "HKCR\\CLSID\\$CLSID\\InprocServer32" '(Default)')"
for k in 'HKCR\im' "HKCR\\CLSID\\$CLSID" 'HKLM\Software\Example\Mail Suite\IM Client'; do
	n=$(echo "$k" | tr -c 'A-Za-z0-9\n' _)
	"$REGISTER" --root "$F" export "$k" "$T/$n.again" >"$T/x" 2>&1 || bad "re-export $k"
	check "export of $k round-trips byte for byte" cmp "$T/$n.reg" "$T/$n.again"
done

# --- the registry was backed up before the install changed it --------------------
set -- "$R"/var/lib/setupkit/reg-backup/*-install-mailsuite-*.db
check "setup backed the registry up into the state directory before installing" test -f "$1"
BK=$1
contains "the install's log names the backup and the command that restores it" \
	"$(ls "$R"/var/lib/setupkit/log/*-install-*.log | tail -1)" \
	"registry backed up to '$BK' (restore: register --root '$R' restore '$BK')"
is "the backup is private to root (mode 0700 directory)" 700 "$(stat -c %a "$R/var/lib/setupkit/reg-backup")"
regdump "$R" "$T/reg.installed"
check "the install did change the registry" sh -c "! cmp -s '$T/reg.before' '$T/reg.installed'"
cp -a "$R" "$T/restored"
check "register restore of the install's backup" "$REGISTER" --root "$T/restored" restore "$BK"
regdump "$T/restored" "$T/reg.restored"
sed "s|$T/restored|$R|g" "$T/reg.restored" >"$T/reg.restored.n"
check "... brings back exactly the registry before the install" cmp "$T/reg.before" "$T/reg.restored.n"
is "... with the other client's handler" '"/opt/Old Messenger/old im.so" %1' \
	"$(value "$T/restored" 'HKCR\im\shell\open\command' '(Default)')"

# --- uninstall: backed up first, and the old handler comes back -------------------
check "uninstall" S uninstall mailsuite --root "$R"
set -- "$R"/var/lib/setupkit/reg-backup/*-uninstall-mailsuite-*.db
check "uninstall backed the registry up first" test -f "$1"
regdump "$R" "$T/reg.after"
check "uninstall leaves the registry exactly as before the install" cmp "$T/reg.before" "$T/reg.after"
is "the other client's im: handler is back" '"/opt/Old Messenger/old im.so" %1' \
	"$(value "$R" 'HKCR\im\shell\open\command' '(Default)')"
cp -a "$R" "$T/undone"
check "register restore of the uninstall's backup" "$REGISTER" --root "$T/undone" restore "$1"
regdump "$T/undone" "$T/reg.undone"
sed "s|$T/undone|$R|g" "$T/reg.undone" >"$T/reg.undone.n"
check "... brings back exactly the installed registry" cmp "$T/reg.installed" "$T/reg.undone.n"
finish
