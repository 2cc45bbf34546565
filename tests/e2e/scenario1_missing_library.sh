#!/bin/sh
# scenario1_missing_library.sh - issue 9, field scenario 1: a configuration
# module that cannot load because a library it needs is missing. The sample's
# chatcfg.so (component chat, flags selfreg) needs libchatsvc.so.1 (DT_NEEDED,
# found beside it through DT_RUNPATH $ORIGIN), which ships in component
# chatrt; chat does not declare `requires = chatrt`. With chatrt deselected,
# setup and `setup plan` refuse before changing anything and say which library
# is missing, where they looked and which component provides it; the root,
# registry, state and services are exactly as before. When the definition
# says `requires = chatrt`, setup selects chatrt itself, chatcfg registers
# (its keys, its class activates) and its service starts.
. "$(dirname "$0")/lib.sh"
S() { "$SETUP" -q "$@"; }
build_media || { bad "build sample media"; finish; exit 1; }
KEY=$T/keys/demo.pub
CLSID='{9E3A7C21-5B4D-4F86-A1C3-7D2E5F9B0A31}'
CFG='HKLM\Software\Example\Mail Suite\Chat\Config'
# answers COMPONENTS FILE: the sample's answers with these components.
answers() {
	sed -e "s/^components = .*/components = $1/" "$SRC/manifests/examples/answers.ini" >"$2"
}
answers "core, imail, chat, im" "$T/nochatrt.ini"

# --- chatrt deselected: refused before any change ---------------------------
R=$(new_root refuse)
snapshot "$R" "$T/before.snap"
expect_fail "install with chat but not chatrt is refused as bad input: exit 3" 3 \
	S install --root "$R" --media "$T/media" --unattended "$T/nochatrt.ini" --trusted-key "$KEY"
cp "$T/check.out" "$T/refused.out"
contains "... naming the module, its file id and component" "$T/refused.out" \
	"module '/opt/Mail Suite/lib/chatcfg.so' (file 'chatcfg' of component 'chat') would not load"
contains "... naming the missing library" "$T/refused.out" "missing library 'libchatsvc.so.1'"
contains "... saying where it looked: the module's run path, \$ORIGIN expanded" "$T/refused.out" \
	"looked in: /opt/Mail Suite/lib (DT_RUNPATH \$ORIGIN)"
contains "... and the system directories" "$T/refused.out" "/usr/lib (system)"
contains "... naming the component that provides it and what to do" "$T/refused.out" \
	"'libchatsvc.so.1' is provided by component 'chatrt' (not selected; select it, or declare \`requires = chatrt\` on component 'chat')"
contains "... and that nothing was changed" "$T/refused.out" "nothing was changed"
not_contains "no file was switched in" "$T/refused.out" "files in place"
not_contains "nothing had to be rolled back" "$T/refused.out" "rolled back"
snapshot "$R" "$T/refused.snap"
check "the root, registry and state are exactly as before" cmp "$T/before.snap" "$T/refused.snap"
check "no staging directory, journal leftover or registry backup in the state directory" \
	sh -c "! ls -A '$R/var/lib/setupkit' | grep -v -e '^lock\$' -e '^log\$' -e '^state.db'"
check "no service was started (no pid or event file)" test ! -e "$R/var/run/mailsuite" -a ! -e "$R/var/log/mailsuite"
S status --root "$R" --json >"$T/status" 2>&1
contains "setup status: nothing installed" "$T/status" '"products":[]'
"$REGISTER" --root "$R" query 'HKCR\CLSID' -r >"$T/q" 2>&1
not_contains "chatcfg's class is not registered" "$T/q" "$CLSID"
contains "the run's log records the refusal" "$(ls "$R"/var/lib/setupkit/log/*-install-*.log | tail -1)" \
	"install refused: module '/opt/Mail Suite/lib/chatcfg.so'"

expect_fail "setup plan reports it the same way: exit 3" 3 \
	S plan --root "$R" --media "$T/media" --unattended "$T/nochatrt.ini" --trusted-key "$KEY"
contains "... with the library and its provider" "$T/check.out" \
	"'libchatsvc.so.1' is provided by component 'chatrt' (not selected"
snapshot "$R" "$T/planned.snap"
check "plan changes nothing either" cmp "$T/before.snap" "$T/planned.snap"
answers "core, imail, chatrt, chat, im" "$T/all.ini"
check "plan with chatrt selected is fine" S plan --root "$R" --media "$T/media" --unattended "$T/all.ini" --trusted-key "$KEY"

# Without chat nothing needs libchatsvc: core + imail + im installs.
answers "core, imail, im" "$T/nochat.ini"
sed -i 's/^start_services = yes/start_services = no/' "$T/nochat.ini"
check "without chat the same media installs (inetcomm and immod need nothing missing)" \
	S install --root "$R" --media "$T/media" --unattended "$T/nochat.ini" --trusted-key "$KEY"
check "uninstall it" S uninstall mailsuite --root "$R"

# --- the definition says `requires = chatrt`: chatrt is selected for chat -----
mkdir -p "$T/req"
cp "$SRC/manifests/examples/license.txt" "$T/req/"
awk '/^\[/ { sec = $0 } sec == "[component chat]" && /^requires = core$/ { $0 = "requires = core, chatrt" } { print }' \
	"$SRC/manifests/examples/mailsuite.ini" >"$T/req/mailsuite.ini"
check "the variant declares requires = chatrt on chat" grep -qx 'requires = core, chatrt' "$T/req/mailsuite.ini"
build_media "$T/req/mailsuite.ini" "$T/media-req" || bad "build the variant's media"
R=$(new_root requires)
S plan --root "$R" --media "$T/media-req" --unattended "$T/nochatrt.ini" --trusted-key "$KEY" --json >"$T/plan.json" 2>&1
contains "plan selects chatrt because chat requires it" "$T/plan.json" '"components":["core","imail","chatrt","chat","im"]'
check "install with the same answers (chatrt not listed) succeeds" \
	S install --root "$R" --media "$T/media-req" --unattended "$T/nochatrt.ini" --trusted-key "$KEY"
A="$R/opt/Mail Suite"
check "libchatsvc.so.1 is installed beside chatcfg.so, as on the media" \
	cmp "$B/examples/tree/modules/libchatsvc.so.1" "$A/lib/libchatsvc.so.1"
check "chatcfg.so is installed" cmp "$B/examples/tree/modules/chatcfg.so" "$A/lib/chatcfg.so"
"$REGISTER" --root "$R" query "$CFG" >"$T/q" 2>&1
contains "chatcfg registered its configuration module path" "$T/q" "ConfigModule    REG_SZ    $A/lib/chatcfg.so"
contains "... MaxUsers from libchatsvc (so the library was really loaded)" "$T/q" "MaxUsers    REG_DWORD    0xfa"
contains "... and its version" "$T/q" "Version    REG_SZ    5.5.2448.0"
"$REGISTER" --root "$R" query "HKCR\\CLSID\\$CLSID\\InprocServer32" >"$T/q" 2>&1
contains "chatcfg's class points at the module" "$T/q" "(Default)    REG_SZ    $A/lib/chatcfg.so"
check "chatcfg's class activates (DllGetClassObject through the registry)" \
	"$REGISTER" --root "$R" verify "$CLSID"
S status --root "$R" --json >"$T/status" 2>&1
contains "setup status lists chatrt among the installed components" "$T/status" "core, imail, chatrt, chat, im"
check "chatsvc is running" env SETUPKIT_ROOT="$R" "$A/bin/svcctl" status chatsvc
check "setup verify: every file and class is fine" S verify --root "$R"
check "uninstall" S uninstall mailsuite --root "$R"
"$REGISTER" --root "$R" query 'HKLM' -r >"$T/q" 2>&1
not_contains "chatcfg's keys are gone after uninstall" "$T/q" 'Chat\Config'
check "chatsvc is stopped" sh -c "! env SETUPKIT_ROOT='$R' sh '$B/examples/tree/bin/svcctl' status chatsvc"
check "libchatsvc.so.1 and chatcfg.so are gone" test ! -e "$A/lib/libchatsvc.so.1" -a ! -e "$A/lib/chatcfg.so"
finish
