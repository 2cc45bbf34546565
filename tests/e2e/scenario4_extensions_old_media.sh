#!/bin/sh
# scenario4_extensions_old_media.sh - issue 9, field scenario 4: an
# extension that cancels an event, and an old client. Variants of the sample
# product (mailsuite.ini plus [extension] sections, built in $T):
#  1. cancel: extension 'chatgate' of component chat (an extension with a
#     `component` runs only when that component is installed: the
#     per-component scope) at point after-registration exits 10. inetcomm,
#     chatcfg and immod have registered by then, the product's registry
#     entries are written, services are not started yet;
#  2. crash: a product-wide extension 'crasher' at after-registration kills
#     itself with SIGSEGV, SIGKILL or SIGABRT;
#  3. both in one definition, in either order: the first to fail stops the
#     run and the other never runs.
# Each install exits 1 (rolled back; never killed by a signal) with a message
# naming the extension and the point; the root, registry and state are
# exactly as before (classes the modules registered are gone), nothing is
# installed, no service runs, the log tells the story; then a plain install
# of the normal sample media into the same root works and its uninstall
# empties the root again. With chat deselected, chatgate does not run.
#  4. old media: manifests/examples/mailsuite-format1.ini (the sample in
#     format 1; it cannot declare start_before or external services, so
#     upsmon is left out) is built by the current mkmedia, which writes a
#     format 2 media manifest; that manifest is rewritten in format 1, as an
#     older mkmedia wrote it, and signed again. The current setup installs
#     it, with a format 1 answer file, to the same files, modes, registry
#     export and status as the format 2 sample, and uninstalls it cleanly.
. "$(dirname "$0")/lib.sh"
S() { "$SETUP" -q "$@"; }
# Crashing extensions must not leave core files in the working directory.
ulimit -c 0 2>/dev/null
build_media || { bad "build sample media"; finish; exit 1; }
KEY=$T/keys/demo.pub
CHATCFG='{9E3A7C21-5B4D-4F86-A1C3-7D2E5F9B0A31}'
MIMEOLE='{6D1C2B4E-8A3F-4C51-9E7D-2F4A6B8C0D11}'
IMMOD='{3F8B1D62-7C9E-4A25-B6D4-1E0C8A7F5B41}'
A='/opt/Mail Suite'
MARKS=$T/marks
mkdir -p "$MARKS"
is() { # description expected actual
	if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: got '$3', want '$2'"; fi
}
# Services' run and log directories: the sample services write there
# themselves, so they stay after uninstall (scripts/demo.sh says why).
strip_run() { grep -v -e ' \./var/run' -e ' \./var/log' "$1"; }
# alive ROOT: the pids recorded under ROOT/var/run/mailsuite that still run.
alive() {
	for f in "$1"/var/run/mailsuite/*.pid; do
		[ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && echo "${f##*/}"
	done
}
sed 's/^components = .*/components = core, imail, im/' "$SRC/manifests/examples/answers.ini" >"$T/nochat.ini"

# ext NAME POINT COMMAND [COMPONENT]: an [extension] section. Each command
# first leaves a mark outside the root, so the test sees which ones ran.
ext() {
	printf '\n[extension %s]\n' "$1"
	[ -n "${4:-}" ] && printf 'component = %s\n' "$4"
	printf 'point = %s\ncommand = touch "%s/%s"; %s\ntimeout = 10\n' "$2" "$MARKS" "$1" "$3"
}
GATE=$(ext chatgate after-registration 'echo "chat is not licensed on this server"; exit 10' chat)
SEGV=$(ext crasher after-registration 'kill -SEGV $$')
# variant NAME SECTIONS...: the sample with these sections added, as media.
variant() {
	name=$1; shift
	mkdir -p "$T/def-$name"
	cp "$SRC/manifests/examples/license.txt" "$T/def-$name/"
	{ cat "$SRC/manifests/examples/mailsuite.ini"; for s in "$@"; do printf '%s\n' "$s"; done; } \
		>"$T/def-$name/mailsuite.ini"
	build_media "$T/def-$name/mailsuite.ini" "$T/media-$name"
}

# rolled_back NAME WHAT [RAN] [NOT-RAN]: install media NAME into a fresh
# root with the whole sample selected and start_services = yes; it must
# fail with WHAT and leave everything as it was. RAN is the extension that
# must have run, NOT-RAN the one that must not have.
rolled_back() {
	name=$1 msg=$2 ran=${3:-} notran=${4:-}
	R=$(new_root "$name")
	snapshot "$R" "$T/$name.0.snap"
	rm -f "$MARKS"/*
	expect_fail "[$name] the install fails and is rolled back: exit 1, not a signal" 1 \
		S install --root "$R" --media "$T/media-$name" --unattended "$SRC/manifests/examples/answers.ini" --trusted-key "$KEY"
	cp "$T/check.out" "$T/$name.out"
	contains "... the message names the extension and the point" "$T/$name.out" "$msg"
	contains "... and says the system is as before" "$T/$name.out" \
		"install of Example Mail Suite failed and was rolled back; the system is as it was before. Cause: extension"
	[ -n "$ran" ] && check "... extension '$ran' ran" test -e "$MARKS/$ran"
	[ -n "$notran" ] && check "... extension '$notran' never ran: the first failure stopped the run" test ! -e "$MARKS/$notran"
	snapshot "$R" "$T/$name.1.snap"
	check "... the root, registry and state are byte for byte as before" cmp "$T/$name.0.snap" "$T/$name.1.snap"
	check "... no staging directory or journal is left in the state directory" \
		sh -c "! ls -A '$R/var/lib/setupkit' | grep -v -e '^lock\$' -e '^log\$' -e '^state.db' -e '^reg-backup\$'"
	log=$(newest_log "$R" install)
	contains "... the log: chatcfg had registered before the extension ran" "$log" "registered $R$A/lib/chatcfg.so (1 attempt)"
	contains "... inetcomm too" "$log" "registered $R/usr/lib/inetcomm.so (1 attempt)"
	contains "... the product's registry entries were written" "$log" "wrote 3 registry entries of mailsuite"
	contains "... the failure" "$log" "install failed: $msg"
	contains "... and the rollback" "$log" "transaction 1 rolled back"
	"$REGISTER" --root "$R" query HKLM -r >"$T/q" 2>&1
	for c in "$CHATCFG" "$MIMEOLE" "$IMMOD"; do
		not_contains "... class $c is unregistered" "$T/q" "$c"
	done
	not_contains "... the product's own keys are gone" "$T/q" 'Example\Mail Suite'
	expect_fail "... chatcfg's class does not activate: not found" 8 "$REGISTER" --root "$R" verify "$CHATCFG"
	S status --root "$R" --json >"$T/status" 2>&1
	contains "... setup status: nothing installed" "$T/status" '"products":[]'
	check "... no service was started: no pid file, no event" test ! -e "$R/var/run/mailsuite" -a ! -e "$R/var/log/mailsuite"
	check "... and no process runs the product's files" sh -c "! pgrep -f '$R/op[t]/'"

	# Nothing left blocks the normal sample, and its uninstall empties the root.
	check "[$name] then the normal sample installs into the same root" \
		S install --root "$R" --media "$T/media" --unattended "$SRC/manifests/examples/answers.ini" --trusted-key "$KEY"
	check "... chatcfg's class activates" "$REGISTER" --root "$R" verify "$CHATCFG"
	is "... both services run" "chatsvc.pid mailsvc.pid" "$(alive "$R" | sort | tr '\n' ' ' | sed 's/ $//')"
	check "... uninstall it" S uninstall mailsuite --root "$R"
	is "... no service runs" "" "$(alive "$R")"
	snapshot "$R" "$T/$name.2.snap"
	strip_run "$T/$name.0.snap" >"$T/a.s"; strip_run "$T/$name.2.snap" >"$T/b.s"
	check "... and the root is empty again (services' own logs aside)" cmp "$T/a.s" "$T/b.s"
}

# --- 1. an extension of component chat cancels after registration -----------
variant cancel "$GATE" || bad "build the cancel variant's media"
check "the cancel variant's media carries chatgate, scoped to chat" \
	grep -qx 'component = chat' "$T/media-cancel/setupkit-media.ini"
rolled_back cancel \
	"extension 'chatgate' at point 'after-registration' cancelled the install (exit 10); its output: chat is not licensed on this server" chatgate
# The scope: without chat, chatgate does not run and the same media installs.
R=$(new_root nochat)
rm -f "$MARKS"/*
check "with chat deselected the cancel variant installs" \
	S install --root "$R" --media "$T/media-cancel" --unattended "$T/nochat.ini" --trusted-key "$KEY"
check "... chatgate did not run" test ! -e "$MARKS/chatgate"
not_contains "... the log does not mention it" "$(newest_log "$R" install)" "chatgate"
check "... inetcomm's class activates" "$REGISTER" --root "$R" verify "$MIMEOLE"
check "... uninstall it" S uninstall mailsuite --root "$R"

# --- 2. an extension that crashes ---------------------------------------------
for sig in SEGV KILL ABRT; do
	case $sig in SEGV) n=11 ;; KILL) n=9 ;; ABRT) n=6 ;; esac
	variant "crash$sig" "$(ext crasher after-registration "kill -$sig \$\$")" || bad "build the crash$sig variant's media"
	rolled_back "crash$sig" \
		"extension 'crasher' at point 'after-registration' (touch \"$MARKS/crasher\"; kill -$sig \$\$) was killed by signal $n, SIG$sig" crasher
done

# --- 3. both in one definition: the first failure stops the run --------------
variant both "$GATE" "$SEGV" || bad "build the both variant's media"
rolled_back both "extension 'chatgate' at point 'after-registration' cancelled the install (exit 10)" chatgate crasher
variant bothrev "$SEGV" "$GATE" || bad "build the bothrev variant's media"
rolled_back bothrev "extension 'crasher' at point 'after-registration' (touch \"$MARKS/crasher\"; kill -SEGV \$\$) was killed by signal 11, SIGSEGV" \
	crasher chatgate

# --- 4. old media: the sample in format 1 --------------------------------------
F1DEF=$SRC/manifests/examples/mailsuite-format1.ini
check "the format 1 definition is valid, read as format 1" sh -c "'$SETUP' validate '$F1DEF' | grep -qF 'valid product (format 1)'"
build_media "$F1DEF" "$T/media-f1def" || bad "build media from the format 1 definition"
check "the current mkmedia writes the media manifest in format 2" grep -qx 'format = 2' "$T/media-f1def/setupkit-media.ini"
# What an older mkmedia wrote: the same manifest in format 1.
cp -R "$T/media-f1def" "$T/media-f1"
awk '
	/^(start_before|start_after|conflicts|external) = / { print "format 1 has no " $1 >"/dev/stderr"; bad = 1 }
	/^format = 2$/ { print "format = 1"; next }
	/^default_dir = / { sub(/^default_dir = /, "directory = ") }
	/^flags = / { n = split(substr($0, 9), f, /, */); for (i = 1; i <= n; i++) print f[i] " = yes"; next }
	{ print }
	END { exit bad }' "$T/media-f1def/setupkit-media.ini" >"$T/media-f1/setupkit-media.ini" ||
	bad "rewrite the media manifest in format 1"
"$MKMEDIA" sign "$T/media-f1" --key "$T/keys/demo.key" >/dev/null || bad "sign the format 1 media"
M1=$T/media-f1/setupkit-media.ini
check "the old media's manifest is format 1" grep -qx 'format = 1' "$M1"
check "... says directory =" grep -qx 'directory = /opt/Mail Suite' "$M1"
check "... gives flags as yes/no keys" sh -c "grep -qx 'selfreg = yes' '$M1' && grep -qx 'shared = yes' '$M1' && grep -qx 'config = yes' '$M1'"
check "... and has no format 2 key" sh -c "! grep -E '^(flags|default_dir|start_before|external) = ' '$M1'"
check "setup validate reads it as format 1 media" sh -c "'$SETUP' validate '$M1' | grep -qF 'valid media (format 1)'"
check "its signature verifies" "$MKMEDIA" verify "$T/media-f1" --trusted-key "$KEY"
# What it means: the same components, files, versions and flags as the
# format 2 sample's media, upsmon (which format 1 cannot declare) aside.
"$SETUP" validate "$M1" 2>&1 | sed 1d >"$T/v1"
"$SETUP" validate "$T/media/setupkit-media.ini" 2>&1 | sed 1d | grep -vx '  service upsmon (external)' >"$T/v2"
check "... it lists the same components, files, versions and flags as the format 2 media" cmp "$T/v2" "$T/v1"
contains "... inetcomm is selfreg and shared" "$T/v1" "5.5.2448.0   selfreg shared"
# config = yes, which validate does not show: an administrator's mail.conf is kept.
R=$(new_root f1conf)
mkdir -p "$R$A/etc"
echo "administrator's settings" >"$R$A/etc/mail.conf"
S plan --root "$R" --media "$T/media-f1" --unattended "$SRC/manifests/examples/answers.ini" --trusted-key "$KEY" >"$T/plan1" 2>&1
contains "... its config = yes keeps an administrator's mail.conf" "$T/plan1" \
	"keep    $A/etc/mail.conf  (a configuration file is already present: keep it)"
sed 's/^format = 2$/format = 1/' "$SRC/manifests/examples/answers.ini" >"$T/answers1.ini"
check "the old client's answer file is format 1" grep -qx 'format = 1' "$T/answers1.ini"

R2=$(new_root f2)
R1=$(new_root f1)
snapshot "$R1" "$T/f1.0.snap"
check "the format 2 sample installs" \
	S install --root "$R2" --media "$T/media" --unattended "$SRC/manifests/examples/answers.ini" --trusted-key "$KEY"
check "the format 1 media installs with the current setup and a format 1 answer file" \
	S install --root "$R1" --media "$T/media-f1" --unattended "$T/answers1.ini" --trusted-key "$KEY"
check "... setup verify: every file and class is fine" S verify --root "$R1"
snapshot "$R2" "$T/f2.snap"
snapshot "$R1" "$T/f1.snap"
strip_run "$T/f2.snap" >"$T/a.s"; strip_run "$T/f1.snap" >"$T/b.s"
check "... same files, bytes, modes, registry and status as the format 2 sample" cmp "$T/a.s" "$T/b.s"
contains "... the state lists every component" "$T/f1.snap" '"components":"core, imail, chatrt, chat, im"'
"$REGISTER" --root "$R2" export HKLM "$T/f2.reg" && "$REGISTER" --root "$R1" export HKLM "$T/f1.reg" ||
	bad "register export"
sed "s|$R2|ROOT|g" "$T/f2.reg" >"$T/a.reg"; sed "s|$R1|ROOT|g" "$T/f1.reg" >"$T/b.reg"
check "... the same registry export" cmp "$T/a.reg" "$T/b.reg"
contains "... which holds chatcfg's class" "$T/b.reg" "$CHATCFG"
check "... chatcfg's class activates" "$REGISTER" --root "$R1" verify "$CHATCFG"
is "... its services started in the same order" "$(cat "$R2/var/log/mailsuite/events.log")" "$(cat "$R1/var/log/mailsuite/events.log")"
is "... and run" "chatsvc.pid mailsvc.pid" "$(alive "$R1" | sort | tr '\n' ' ' | sed 's/ $//')"
check "uninstall the format 1 install" S uninstall mailsuite --root "$R1"
is "... no service runs" "" "$(alive "$R1")"
snapshot "$R1" "$T/f1.2.snap"
strip_run "$T/f1.0.snap" >"$T/a.s"; strip_run "$T/f1.2.snap" >"$T/b.s"
check "... and the root is empty again (services' own logs aside)" cmp "$T/a.s" "$T/b.s"
check "uninstall the format 2 sample" S uninstall mailsuite --root "$R2"
finish
