#!/bin/sh
# setup_wizard.sh - the terminal wizard driven for real in tmux (80x24, its
# own pty, so this runs without a terminal too): a full install with a
# non-default component set into a directory with spaces, going back a step,
# --save-answers replayed unattended to the same state, declining the
# license, quitting before and during the install (root equal to the empty
# snapshot afterwards), TERM=dumb and NO_COLOR (no escape sequences / no
# colour in the raw output), the unattended progress bar on a terminal, and
# `setup` without a terminal refusing quickly with exit 2.
# Each tmux server uses a private socket and is killed at exit.
. "$(dirname "$0")/lib.sh"
command -v tmux >/dev/null 2>&1 || { echo "tmux is missing: apt-get install tmux"; exit 1; }
TM="tmux -L setupkit-test-$$ -f /dev/null"
trap '$TM kill-server >/dev/null 2>&1; rm -rf "$T"' EXIT
trap 'exit 130' INT TERM
build_media || { bad "build sample media"; finish; exit 1; }
KEY=$T/keys/demo.pub
# One server for the whole script: a base session keeps it alive while the
# window of each run comes and goes.
$TM new-session -d -s base -x 80 -y 24 "exec sleep 3600" || { bad "start tmux"; finish; exit 1; }
N=0

# start ENV-ASSIGNMENTS... -- SETUP-ARGS...: run setup in a fresh 80x24 tmux
# window; its raw output goes to $T/raw.$N, its exit code to $T/rc.$N.
start() {
	N=$((N + 1))
	envs=""
	while [ "$1" != "--" ]; do envs="$envs $1"; shift; done
	shift
	args=""
	for a in "$@"; do args="$args '$a'"; done
	rm -f "$T/rc.$N" "$T/raw.$N" "$T/go.$N"
	$TM kill-session -t w >/dev/null 2>&1
	# setup starts only once pipe-pane records the window (go.N): its
	# first screen (the bold title) came out before that on a busy machine.
	printf '#!/bin/sh\ncd "%s"\ni=0\nwhile [ ! -e "%s/go.%s" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done\nexec env %s "%s" %s\n' \
		"$T" "$T" "$N" "$envs" "$SETUP" "$args" >"$T/run.$N"
	$TM new-session -d -s w -x 80 -y 24 "sh '$T/run.$N'; echo \$? >'$T/rc.$N'; exec sleep 600"
	$TM pipe-pane -o -t w "cat >>'$T/raw.$N'"
	: >"$T/go.$N"
}
screen() { $TM capture-pane -p -t w; }
keys() { $TM send-keys -t w "$@"; }
line() { $TM send-keys -t w -l "$1"; $TM send-keys -t w Enter; }
# wait_for TEXT [SECONDS]: poll the screen for TEXT; 0 when it shows.
wait_for() {
	i=0 limit=$(( ${2:-10} * 10 ))
	while [ $i -lt $limit ]; do
		screen 2>/dev/null | grep -qF -- "$1" && return 0
		sleep 0.1
		i=$((i + 1))
	done
	echo "     | waited for '$1'; the screen shows:"
	screen 2>/dev/null | sed 's/^/     | /'
	return 1
}
see() { # description text [seconds]
	if wait_for "$2" "${3:-10}"; then ok "$1"; else bad "$1"; fi
}
# exit_code [SECONDS]: wait for the setup of window N to end; print its code.
exit_code() {
	i=0 limit=$(( ${1:-15} * 10 ))
	while [ ! -s "$T/rc.$N" ] && [ $i -lt $limit ]; do sleep 0.1; i=$((i + 1)); done
	cat "$T/rc.$N" 2>/dev/null || echo none
}
exit_is() { # description code [seconds]
	got=$(exit_code "${3:-15}")
	if [ "$got" = "$2" ]; then ok "$1"; else bad "$1 (exit $got, want $2)"; screen | sed 's/^/     | /'; fi
}
W() { start "$@"; }
MEDIA_ARGS="--media $T/media --trusted-key $KEY"

# --- a full install: back a step, other components, a directory with spaces ---
R=$(new_root full)
snapshot "$R" "$T/empty.snap"
W TERM=xterm -- --root "$R" --media "$T/media" --trusted-key "$KEY" --save-answers "$T/saved.ini"
see "the wizard starts on a terminal with the welcome step" "step 1 of 7: Welcome"
see "welcome shows product, version and publisher" "Publisher:  Example Corp"
see "welcome shows the free space of the target" "free)"
keys Enter
see "the license step shows the license text" "SAMPLE LICENSE"
line y
see "the components step lists sizes and descriptions" "Core files, the mail store"
line b
see "b goes back to the license" "step 2 of 7: License"
line y
see "... and forward again" "step 3 of 7: Components"
line 2
wait_for "[ ] imail" >/dev/null
line 4
see "components are toggled by number" "[ ] chat "
line 1
see "a component needed by a chosen one stays, and says why" "core stays: a chosen component needs it"
line 9
see "a wrong number is explained" "is not a component number (1-5)"
keys Enter
see "the directory step offers the default" "Current choice: /opt/Mail Suite"
line "relative/dir"
see "a relative directory is refused" "must be an absolute path"
line "/opt/My Mail Suite"
see "a directory with spaces is accepted" "Current choice: /opt/My Mail Suite"
keys Enter
see "the summary shows the components" "Components:  core, chatrt, im"
see "... and the directory" "Directory:   /opt/My Mail Suite"
see "... and says nothing has changed yet" "Nothing has been changed yet"
keys Enter
see "the install ends with the result" "Example Mail Suite was installed." 20
see "the result is the last step" "step 7 of 7: Result"
see "the result names the log" "Log:         $R/var/lib/setupkit/log/"
see "... and what is pending" "Nothing is pending"
keys Enter
exit_is "the wizard exits 0" 0
check "im module is in the chosen directory" test -f "$R/opt/My Mail Suite/IM Client/im module.so"
check "chatrt's library is installed" test -f "$R/opt/My Mail Suite/lib/libchatsvc.so.1"
check "imail (switched off) is not installed" test ! -e "$R/opt/My Mail Suite/bin/mailsvc"
check "verify is clean" "$SETUP" -q verify --root "$R"
contains "the progress bar ran to 100%" "$T/raw.$N" "100%"
contains "the answer file has the components" "$T/saved.ini" "components = core, chatrt, im"
contains "... and the directory" "$T/saved.ini" "dir = /opt/My Mail Suite"
check "the answer file validates" "$SETUP" validate "$T/saved.ini"
snapshot "$R" "$T/wizard.snap"

# --- the saved answers replay the same choices unattended ---------------------
R2=$(new_root replay)
check "replay the saved answers unattended" "$SETUP" -q install --root "$R2" $MEDIA_ARGS --unattended "$T/saved.ini"
snapshot "$R2" "$T/replay.snap"
check "the replay installs exactly what the wizard did (files, registry, state)" cmp "$T/wizard.snap" "$T/replay.snap"

# --- declining the license ---------------------------------------------------------
R=$(new_root decline)
W TERM=xterm -- --root "$R" --media "$T/media" --trusted-key "$KEY"
wait_for "step 1 of 7" >/dev/null
keys Enter
wait_for "Do you accept the license" >/dev/null
line n
see "declining says so" "You declined the license"
exit_is "declining exits 1" 1
snapshot "$R" "$T/decline.snap"
check "declining installs nothing" cmp "$T/empty.snap" "$T/decline.snap"

# --- quitting before the install: q, and Ctrl-C ----------------------------------
R=$(new_root quit)
W TERM=xterm -- --root "$R" --media "$T/media" --trusted-key "$KEY"
wait_for "step 1 of 7" >/dev/null
keys Enter; line y; keys Enter
wait_for "step 4 of 7" >/dev/null
line q
see "q at the directory step quits and says nothing changed" "nothing was changed on the system"
exit_is "quitting exits 1" 1
W TERM=xterm -- --root "$R" --media "$T/media" --trusted-key "$KEY"
wait_for "step 1 of 7" >/dev/null
keys Enter; line y; keys Enter; keys Enter
wait_for "step 5 of 7: Summary" >/dev/null
keys C-c
see "Ctrl-C at the summary quits and says nothing changed" "interrupted before the install; nothing was changed"
exit_is "... exit 1" 1
snapshot "$R" "$T/quit.snap"
check "quitting before the install leaves the root as it was" cmp "$T/empty.snap" "$T/quit.snap"

# --- quitting during the install (a product with 40 modules to register) ------------
SL=$T/slow
mkdir -p "$SL/src"
cp "$B/modules/noop.so" "$SL/src/noop.so"
{
	printf '[setupkit]\nformat = 2\nkind = product\n[product]\ncode = slow\nname = Slow Product\nversion = 1.0\n'
	printf 'publisher = Test\ndefault_dir = /opt/slow\n[component main]\npayload = main\ndefault = yes\n'
	i=1
	while [ $i -le 40 ]; do
		printf '[file m%d]\ncomponent = main\nsource = noop.so\ndest = {app}/m%d.so\nflags = selfreg\n' $i $i
		i=$((i + 1))
	done
} >"$SL/slow.ini"
"$MKMEDIA" build "$SL/slow.ini" --source "$SL/src" --out "$SL/media" >/dev/null 2>&1 || bad "mkmedia slow"
R=$(new_root during)
snapshot "$R" "$T/during0.snap"
for how in q C-c; do
	W TERM=xterm -- --root "$R" --media "$SL/media" --allow-unsigned
	wait_for "step 1 of 7" >/dev/null
	keys Enter; keys Enter; keys Enter
	wait_for "step 5 of 7: Summary" >/dev/null
	keys Enter
	wait_for "registering" 20 >/dev/null
	if [ "$how" = q ]; then keys q; else keys C-c; fi
	see "$how during the install: rolled back, and the wizard says so" "the system is as it was before" 30
	keys Enter
	exit_is "... exit 1" 1
	snapshot "$R" "$T/during1.snap"
	check "... the root equals the empty snapshot" cmp "$T/during0.snap" "$T/during1.snap"
done
# Ctrl-C right after confirming (whatever the engine is doing then).
R=$(new_root early)
W TERM=xterm -- --root "$R" --media "$T/media" --trusted-key "$KEY"
wait_for "step 1 of 7" >/dev/null
keys Enter; line y; keys Enter; keys Enter
wait_for "step 5 of 7: Summary" >/dev/null
keys Enter C-c
if wait_for "rolled back" 20 >/dev/null || wait_for "nothing was changed" 1 >/dev/null; then
	ok "Ctrl-C right after confirming: rolled back or nothing changed"
else
	bad "Ctrl-C right after confirming"; screen | sed 's/^/     | /'
fi
# The result screen flushes keys typed before it (TCSAFLUSH): wait for it.
wait_for "Press Enter to exit" 30 >/dev/null
keys Enter
exit_is "... exit 1" 1
snapshot "$R" "$T/early.snap"
check "... the root equals the empty snapshot" cmp "$T/empty.snap" "$T/early.snap"

# --- TERM=dumb and NO_COLOR ----------------------------------------------------------
R=$(new_root dumb)
W TERM=dumb NO_COLOR=1 -- --root "$R" --media "$T/media" --trusted-key "$KEY"
see "TERM=dumb: the wizard runs" "step 1 of 7: Welcome"
keys Enter; line y; keys Enter; keys Enter
see "TERM=dumb: the summary" "step 5 of 7: Summary"
keys Enter
see "TERM=dumb: the install completes" "Example Mail Suite was installed." 20
keys Enter
exit_is "TERM=dumb: exit 0" 0
check "TERM=dumb: progress as plain lines" grep -q "^100% " "$T/raw.$N"
if grep -q "$(printf '\033')" "$T/raw.$N"; then bad "TERM=dumb: no escape sequence at all"; else ok "TERM=dumb: no escape sequence at all"; fi
check "TERM=dumb: the default components are installed" test -f "$R/opt/Mail Suite/bin/mailsvc"
R=$(new_root nocolor)
W TERM=xterm NO_COLOR= -- --root "$R" --media "$T/media" --trusted-key "$KEY"
see "NO_COLOR: the wizard runs" "step 1 of 7: Welcome"
line q
exit_is "NO_COLOR: quit exits 1" 1
if grep -q "$(printf '\033')\[[0-9;]*m" "$T/raw.$N"; then bad "NO_COLOR: no colour sequence"; else ok "NO_COLOR: no colour sequence"; fi
W TERM=xterm -- --root "$R" --media "$T/media" --trusted-key "$KEY"
see "without NO_COLOR the wizard runs too" "step 1 of 7: Welcome"
line q
exit_is "... and quits" 1
check "without NO_COLOR the title is bold" grep -q "$(printf '\033')\[1m" "$T/raw.$N"

# --- unattended: a progress bar when stderr is a terminal --------------------------------
R=$(new_root bar)
W TERM=xterm -- install --root "$R" --media "$T/media" --trusted-key "$KEY" --unattended "$SRC/manifests/examples/answers.ini"
exit_is "unattended install on a terminal: exit 0" 0 30
contains "... draws a progress bar" "$T/raw.$N" "100%"
contains "... and ends with where the log is" "$T/raw.$N" "install complete; log: $R/var/lib/setupkit/log/"
contains "the log has the progress" "$(ls "$R"/var/lib/setupkit/log/*install*.log | head -1)" "files in place"

# --- media from the directory of the setup program; no terminal -----------------------------
R=$(new_root cd)
cp "$SETUP_BIN" "$T/media/setup"
N=$((N + 1))
printf '#!/bin/sh\nexec env TERM=xterm %s "%s" --root "%s" --trusted-key "%s"\n' "$VG" "$T/media/setup" "$R" "$KEY" >"$T/run.$N"
$TM kill-session -t w >/dev/null 2>&1
$TM new-session -d -s w -x 80 -y 24 "sh '$T/run.$N'; echo \$? >'$T/rc.$N'; exec sleep 600"
see "setup on the media finds its media by itself" "Media:      $T/media"
line q
exit_is "... and quits" 1
rm -f "$T/media/setup"
expect_fail "no terminal and no answer file: exit 2" 2 timeout 10 "$SETUP" --root "$R" --media "$T/media" </dev/null
contains "... telling how to run unattended" "$T/check.out" "setup install --media DIR --unattended ANSWERS"
R=$(new_root bare)
cp "$SETUP_BIN" "$T/media/setup"
# shellcheck disable=SC2086
check "'setup --unattended FILE' (no command, no terminal) installs; media: setup's directory" \
	timeout 60 $VG "$T/media/setup" -q --root "$R" --trusted-key "$KEY" --unattended "$T/saved.ini" </dev/null
rm -f "$T/media/setup"
snapshot "$R" "$T/bare.snap"
check "... to the same state as the wizard" cmp "$T/wizard.snap" "$T/bare.snap"
expect_fail "--save-answers with a command is refused: exit 2" 2 "$SETUP" install --save-answers x $MEDIA_ARGS --unattended "$T/saved.ini" --root "$R"
$TM kill-server >/dev/null 2>&1
finish
