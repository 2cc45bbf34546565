#!/bin/sh
# scenario5_service_order.sh - issue 9, field scenario 5: a service that
# will not start while a third-party service is running. A stand-in UPS
# monitor (upsmond, controlled by upsmon-ctl, written into the root's
# usr/sbin: not ours, not on the media) holds the serial line /dev/ttyS0
# through the UUCP lock var/lock/LCK..ttyS0 while it runs; the sample's
# chatsvc probes that line when it starts (svcctl), so it cannot start
# while upsmon runs. The sample declares `[service upsmon] external = yes`
# and chatsvc `depends_on = mailsvc`, `start_before = upsmon`. Asserted on
# one event log (var/log/mailsuite/events.log, written by svcctl and by the
# stand-in) that shows the global order:
#  a. the block is real: chatsvc cannot start by hand, nor by setup with a
#     definition lacking `start_before` (the install rolls back);
#  b. install with upsmon running: start mailsvc, stop upsmon, start
#     chatsvc, start upsmon; all three run; (c) setup's output and log say
#     why upsmon was stopped; (d) `setup services list` shows the solved
#     order with upsmon marked external;
#  e. two simulated reboots (power loss, /run cleared and the OS starting
#     upsmon first; power loss with stale pid and lock files left and
#     upsmon started after): `setup services start` keeps the order;
#     `setup services stop` stops ours in reverse and leaves upsmon alone;
#  f. a chat start that fails for its own reason rolls back and restarts
#     upsmon; uninstall stops ours in reverse, leaves upsmon running as it
#     was, and the root is free of the product.
# Every process the script starts is killed at exit.
. "$(dirname "$0")/lib.sh"
S() { "$SETUP" -q "$@"; }
KEY=$T/keys/demo.pub
ANS=$SRC/manifests/examples/answers.ini
R=$(new_root ups)
A="$R/opt/Mail Suite"
EV=$R/var/log/mailsuite/events.log
LOCK=$R/var/lock/LCK..ttyS0
UPSPID=$R/var/run/upsmon.pid

# Processes of this script: the stand-in services of every root, found by
# their pid files and by their command lines (which name this script's
# temporary directory or the build tree's services). Each is the leader of
# its own session (setsid), so its group goes with it.
ours() { # PID: succeeds when it is a live process of this script
	[ -r "/proc/$1/cmdline" ] && tr '\000' '\n' 2>/dev/null <"/proc/$1/cmdline" |
		grep -q -F -e "$T/" -e "$B/examples/tree/bin/"
}
stand_ins() {
	for f in "$T"/roots/*/var/run/mailsuite/*.pid "$T"/roots/*/var/run/upsmon.pid; do
		[ -f "$f" ] && cat "$f" 2>/dev/null
	done
	# Those whose pid files are gone: session leaders naming a root.
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		[ "$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | cut -d' ' -f4)" = "$p" ] || continue
		tr '\000' '\n' 2>/dev/null <"/proc/$p/cmdline" | grep -q -F -e "$T/roots/" && echo "$p"
	done
}
kill_stand_ins() {
	for p in $(stand_ins | sort -u); do
		ours "$p" && { kill -9 "-$p" 2>/dev/null || kill -9 "$p" 2>/dev/null; }
	done
}
trap 'kill_stand_ins; rm -rf "$T"' EXIT
trap 'exit 130' INT TERM HUP

# mark: how many lines the event log holds now.
mark() { if [ -f "$EV" ]; then wc -l <"$EV" | tr -d ' '; else echo 0; fi; }
# events description MARK event...: the lines written to the event log
# since MARK are exactly these (none: nothing was started or stopped).
events() {
	d=$1 m=$2; shift 2
	: >"$T/want.ev"
	[ $# -eq 0 ] || printf '%s\n' "$@" >"$T/want.ev"
	tail -n +"$((m + 1))" "$EV" >"$T/got.ev" 2>/dev/null
	if cmp -s "$T/want.ev" "$T/got.ev"; then ok "$d"; else
		bad "$d"; diff "$T/want.ev" "$T/got.ev" | sed 's/^/     | /'
	fi
}
SVC() { env SETUPKIT_ROOT="$R" "$A/bin/svcctl" "$@"; }
UPS() { "$R/usr/sbin/upsmon-ctl" "$@"; }     # the OS, or its administrator
holder() { tr -d ' \n' 2>/dev/null <"$LOCK"; }
# live PID: the process exists and is not a zombie (dead, not yet reaped:
# how long that takes is up to init).
live() {
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -n "$st" ] && [ "$st" != Z ]
}
running3() { # the three are running, each as itself
	check "$1: mailsvc is running" SVC status mailsvc
	check "$1: chatsvc is running" SVC status chatsvc
	check "$1: upsmon is running" UPS status
	check "$1: ... and holds the serial line (its pid is in LCK..ttyS0)" \
		test -s "$UPSPID" -a "$(holder)" = "$(cat "$UPSPID" 2>/dev/null)"
}

# --- the third party's UPS monitor, installed by the OS in usr/sbin ----------
# Not ours: it knows nothing of setupkit and finds its root from where it
# lives (ROOT/usr/sbin). For the test it also writes "start upsmon" / "stop
# upsmon" into the sample's event log, so one log shows the global order.
mkdir -p "$R/usr/sbin"
cat >"$R/usr/sbin/upsmond" <<'SH'
#!/bin/sh
# upsmond - stand-in UPS monitor daemon: holds the serial line its UPS hangs
# on (/dev/ttyS0, UUCP lock var/lock/LCK..ttyS0, HDB format) while it runs.
# SIGTERM lets the line go and ends it. A stale lock (its owner gone, or a
# zombie not yet reaped) is taken over.
root=$(CDPATH='' cd -- "$(dirname -- "$0")/../.." && pwd) || exit 1
lock="$root/var/lock/LCK..ttyS0"
mkdir -p "$root/var/lock" || exit 1
printf '%10d\n' $$ >"$lock.$$" || exit 1
if ! ln "$lock.$$" "$lock" 2>/dev/null; then
	holder=$(tr -d ' \n' 2>/dev/null <"$lock")
	state=$(sed 's/.*) //' "/proc/$holder/stat" 2>/dev/null | cut -d' ' -f1)
	if [ -n "$holder" ] && [ -n "$state" ] && [ "$state" != Z ]; then
		rm -f "$lock.$$"
		echo "upsmond: /dev/ttyS0 is in use by pid $holder" >&2
		exit 1
	fi
	rm -f "$lock"
	ln "$lock.$$" "$lock" || { rm -f "$lock.$$"; exit 1; }
fi
rm -f "$lock.$$"
echo "upsmond: monitoring the UPS on /dev/ttyS0 (pid $$)"
child=
trap 'kill "$child" 2>/dev/null; rm -f "$lock"; exit 0' TERM INT
while [ -f "$0" ]; do
	sleep 1 &
	child=$!
	wait "$child"
done
rm -f "$lock"
SH
cat >"$R/usr/sbin/upsmon-ctl" <<'SH'
#!/bin/sh
# upsmon-ctl start|stop|status - control script of the stand-in UPS monitor,
# in the LSB init script manner. start: 0 running (started or already),
# 1 failed. stop: 0 stopped (or was not running), 1 would not die.
# status: 0 running, 1 dead but the pid file remains, 3 not running.
set -u
root=$(CDPATH='' cd -- "$(dirname -- "$0")/../.." && pwd) || exit 1
pidfile="$root/var/run/upsmon.pid"
lock="$root/var/lock/LCK..ttyS0"
events="$root/var/log/mailsuite/events.log"
event() { mkdir -p "${events%/*}" && echo "$1 upsmon" >>"$events"; }
is_upsmond() {
	kill -0 "$1" 2>/dev/null && tr '\000' '\n' 2>/dev/null <"/proc/$1/cmdline" | grep -q '/usr/sbin/upsmond$'
}
running_pid() {
	pid=$(cat "$pidfile" 2>/dev/null) || return 1
	case $pid in '' | *[!0-9]*) return 1 ;; esac
	is_upsmond "$pid" && echo "$pid"
}
case ${1:-} in
start)
	if pid=$(running_pid); then echo "upsmon is already running (pid $pid)"; exit 0; fi
	mkdir -p "$root/var/run" "$root/var/log" || exit 1
	setsid nohup "$root/usr/sbin/upsmond" </dev/null >>"$root/var/log/upsmon.log" 2>&1 \
		3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
	daemon=$!
	# Ready when the daemon holds the line: its pid is in the lock.
	i=0
	while [ "$(tr -d ' \n' 2>/dev/null <"$lock")" != "$daemon" ]; do
		if ! kill -0 "$daemon" 2>/dev/null || [ $i -ge 100 ]; then
			echo "upsmon-ctl: upsmond did not start: $(tail -1 "$root/var/log/upsmon.log" 2>/dev/null)" >&2
			exit 1
		fi
		sleep 0.1
		i=$((i + 1))
	done
	echo "$daemon" >"$pidfile"
	event start
	echo "upsmon started (pid $daemon)" ;;
stop)
	if ! pid=$(running_pid); then rm -f "$pidfile"; echo "upsmon is not running"; exit 0; fi
	kill -TERM "$pid"
	i=0
	while is_upsmond "$pid" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	if is_upsmond "$pid"; then echo "upsmon-ctl: upsmond (pid $pid) would not stop" >&2; exit 1; fi
	rm -f "$pidfile"
	event stop
	echo "upsmon stopped" ;;
status)
	if pid=$(running_pid); then echo "upsmon is running (pid $pid)"; exit 0; fi
	if [ -f "$pidfile" ]; then echo "upsmon is dead but its pid file remains"; exit 1; fi
	echo "upsmon is not running"
	exit 3 ;;
*)
	echo "usage: upsmon-ctl start|stop|status" >&2
	exit 2 ;;
esac
SH
chmod 755 "$R/usr/sbin/upsmond" "$R/usr/sbin/upsmon-ctl"

build_media || { bad "build sample media"; finish; exit 1; }
# Variants of the sample: without chatsvc's `start_before = upsmon`; and
# with a chatsvc whose start fails for a reason of its own.
variant() { # name awk-program
	mkdir -p "$T/$1"
	cp "$SRC/manifests/examples/license.txt" "$T/$1/"
	awk "$2" "$SRC/manifests/examples/mailsuite.ini" >"$T/$1/mailsuite.ini"
	build_media "$T/$1/mailsuite.ini" "$T/media-$1" || bad "build the $1 variant's media"
}
variant noorder '/^\[/ { sec = $0 } sec == "[service chatsvc]" && /^start_before = upsmon$/ { next } { print }'
check "the noorder variant has no start_before" sh -c "! grep -q '^start_before' '$T/noorder/mailsuite.ini'"
variant broken '/^\[/ { sec = $0 } sec == "[service chatsvc]" && /^start = / { $0 = "start = echo \"chatsvc: cannot read its pager configuration\" >&2; exit 1" } { print }'
check "the broken variant's chatsvc start fails" grep -q '^start = echo "chatsvc: cannot read' "$T/broken/mailsuite.ini"

snapshot "$R" "$T/before.snap"

# --- the stand-in behaves like a daemon --------------------------------------
expect_fail "upsmon-ctl status before it runs: exit 3 (LSB: not running)" 3 UPS status
contains "... saying so" "$T/check.out" "upsmon is not running"
m=$(mark)
check "the OS starts upsmon" UPS start
check "upsmon-ctl status: exit 0" UPS status
contains "... naming its pid" "$T/check.out" "upsmon is running (pid $(cat "$UPSPID" 2>/dev/null))"
check "upsmond holds /dev/ttyS0: its pid, in HDB format (ten columns), is in var/lock/LCK..ttyS0" \
	test "$(cat "$LOCK" 2>/dev/null)" = "$(printf '%10d' "$(cat "$UPSPID" 2>/dev/null)")"
check "... the pid file names a live upsmond" grep -q '/usr/sbin/upsmond' "/proc/$(cat "$UPSPID" 2>/dev/null)/cmdline"
events "its start is in the event log" "$m" "start upsmon"
UPS1=$(cat "$UPSPID")

# --- a. the block is real ------------------------------------------------------
# chatsvc started by hand (the build tree's copy; no product installed yet).
m=$(mark)
TREE=$B/examples/tree
expect_fail "with upsmon running, svcctl start chatsvc fails: exit 1" 1 \
	env SETUPKIT_ROOT="$R" SETUPKIT_APP="$TREE" "$TREE/bin/svcctl" start chatsvc
contains "... naming the device, who holds it and the lock file" "$T/check.out" \
	"svcctl: chatsvc cannot start: the serial line /dev/ttyS0 is in use by pid $UPS1 (lock file $LOCK)"
expect_fail "... chatsvc is not running: svcctl status exit 3" 3 \
	env SETUPKIT_ROOT="$R" SETUPKIT_APP="$TREE" "$TREE/bin/svcctl" status chatsvc
env SETUPKIT_ROOT="$R" SETUPKIT_APP="$TREE" "$TREE/bin/svcctl" stop chatsvc >/dev/null 2>&1
events "... and nothing was started" "$m"

# Setup without the constraint: chatsvc fails every attempt, the install
# rolls back, upsmon is never touched.
expect_fail "install of a definition without start_before = upsmon fails: exit 1" 1 \
	S install --root "$R" --media "$T/media-noorder" --unattended "$ANS" --trusted-key "$KEY" --retries 2
cp "$T/check.out" "$T/noorder.out"
contains "... service chatsvc did not start" "$T/noorder.out" "service 'chatsvc' did not start after 2 attempts"
contains "... with svcctl's reason" "$T/noorder.out" "the serial line /dev/ttyS0 is in use by pid $UPS1"
contains "... and its constraints (no start_before)" "$T/noorder.out" "its constraints: depends_on = mailsvc."
contains "... rolled back" "$T/noorder.out" "rolled back"
events "... mailsvc was started, then stopped by the rollback; upsmon untouched" "$m" \
	"start mailsvc" "stop mailsvc"
check "... upsmon still runs, the same process" test "$(cat "$UPSPID")" = "$UPS1" -a "$(holder)" = "$UPS1"
S status --root "$R" --json >"$T/status" 2>&1
contains "... nothing is installed" "$T/status" '"products":[]'

# --- b. install with upsmon running -------------------------------------------
m=$(mark)
"$SETUP" install --root "$R" --media "$T/media" --unattended "$ANS" --trusted-key "$KEY" >"$T/install.out" 2>&1
rc=$?
[ "$rc" -eq 0 ] && ok "install the sample while upsmon runs" || { bad "install the sample (exit $rc)"; sed 's/^/     | /' "$T/install.out" | tail -20; }
# mailsvc has no constraint against upsmon, so it starts while upsmon
# still runs; upsmon is down only for chatsvc's start.
events "events: start mailsvc, stop upsmon, start chatsvc, start upsmon" "$m" \
	"start mailsvc" "stop upsmon" "start chatsvc" "start upsmon"
running3 "after install"
check "upsmon was really restarted: a new process" test "$(cat "$UPSPID")" != "$UPS1"
contains "chatsvc's own log shows it started" "$R/var/log/mailsuite/chatsvc.log" "chatsvc 5.5.2448.0 started"

# --- c. setup says why ------------------------------------------------------------
contains "setup's output says upsmon is stopped for chatsvc" "$T/install.out" \
	"setup: service chatsvc must start before upsmon (constraint chatsvc: start_before = upsmon), which is running: stopping upsmon first"
in_order "... and the order of what it did" "$T/install.out" \
	"setup: starting service mailsvc" \
	"setup: service chatsvc must start before upsmon" \
	"setup: stopping service upsmon" \
	"setup: starting service chatsvc" \
	"setup: starting service upsmon again"
# The log setup names at the end (two installs can share a second, so the
# log directory's newest name is not necessarily this run's).
L=$(sed -n 's/^setup: install of Example Mail Suite complete; log: //p' "$T/install.out")
check "setup names its log" test -f "$L"
in_order "the install log tells the same story" "$L" \
	"starting service mailsvc" \
	"service chatsvc must start before upsmon (constraint chatsvc: start_before = upsmon), which is running: stopping upsmon first" \
	"stopping service upsmon" \
	"starting service chatsvc" \
	"starting service upsmon again"
not_contains "... with no failed attempt" "$L" "attempt 1 of"

# --- d. setup services list ----------------------------------------------------------
S services list --root "$R" >"$T/list" 2>&1
printf '%-16s %-16s %-9s %s\n' mailsuite mailsvc auto running mailsuite chatsvc auto running \
	mailsuite upsmon external running >"$T/list.want"
if cmp -s "$T/list.want" "$T/list"; then ok "services list: mailsvc, chatsvc, upsmon (external), all running"; else
	bad "services list"; diff "$T/list.want" "$T/list" | sed 's/^/     | /'
fi
S services list mailsuite --root "$R" --json >"$T/list.json" 2>&1
contains "services list --json marks upsmon external" "$T/list.json" \
	'{"product":"mailsuite","service":"upsmon","start_type":"external","running":true}'

# --- e. simulated reboots ---------------------------------------------------------------
# power_loss: every service dies at once, as the machine loses power: each
# process group gets SIGKILL, no stop command runs (no "stop" events).
power_loss() {
	for f in "$R"/var/run/mailsuite/*.pid "$UPSPID"; do
		p=$(cat "$f" 2>/dev/null) || continue
		ours "$p" && kill -9 "-$p" 2>/dev/null
	done
	i=0
	while [ $i -lt 50 ] && any_alive; do
		sleep 0.1
		i=$((i + 1))
	done
}
any_alive() {
	for f in "$R"/var/run/mailsuite/*.pid "$UPSPID"; do
		p=$(cat "$f" 2>/dev/null) && live "$p" && return 0
	done
	return 1
}
# Reboot 1, as on a current Linux: /var/run and /var/lock live in /run, a
# tmpfs, so pid and lock files are gone after the reboot; logs stay. The
# OS brings upsmon up first (its unit knows nothing of chat), then setupkit
# starts the product's services at boot: `setup services start`.
m=$(mark)
power_loss
check "power loss: nothing runs any more" sh -c "! SETUPKIT_ROOT='$R' '$A/bin/svcctl' status mailsvc && ! SETUPKIT_ROOT='$R' '$A/bin/svcctl' status chatsvc && ! '$R/usr/sbin/upsmon-ctl' status"
events "... and no stop command ran" "$m"
rm -rf "$R/var/run" "$R/var/lock"
check "the OS starts upsmon at boot" UPS start
check "setup services start (at boot)" S services start --root "$R"
events "boot: upsmon (the OS), then mailsvc, stop upsmon, chatsvc, upsmon again" "$m" \
	"start upsmon" "start mailsvc" "stop upsmon" "start chatsvc" "start upsmon"
running3 "after reboot 1"

# Reboot 2: a system whose /var/run is on disk. Stale pid files and the
# stale lock (its owner is dead) survive; the OS starts upsmon only after
# setupkit. setup does not start upsmon (not ours); the stale lock does not
# block chatsvc; the order across the boot is still the declared one.
m=$(mark)
UPS2=$(cat "$UPSPID")
power_loss
check "power loss again: the stale lock and pid files are still there" test -f "$LOCK" -a -f "$UPSPID" -a -f "$R/var/run/mailsuite/chatsvc.pid"
expect_fail "upsmon-ctl status: exit 1 (LSB: dead, pid file left)" 1 UPS status
contains "... saying so" "$T/check.out" "upsmon is dead but its pid file remains"
check "setup services start (at boot, upsmon not up yet)" S services start --root "$R"
expect_fail "setup did not start upsmon: it is not ours (status still exit 1)" 1 UPS status
check "chatsvc runs: the stale lock of the dead upsmond did not block it" SVC status chatsvc
stale_lock() { [ "$(holder)" = "$1" ] && ! live "$1"; }
check "... the lock still names the dead upsmond" stale_lock "$UPS2"
check "the OS starts upsmon afterwards (it takes over the stale lock)" UPS start
events "boot: mailsvc, chatsvc, then upsmon" "$m" "start mailsvc" "start chatsvc" "start upsmon"
running3 "after reboot 2"
S services list --root "$R" >"$T/list" 2>&1
check "services list after the reboots: the same order, all running" cmp "$T/list.want" "$T/list"

m=$(mark)
UPS3=$(cat "$UPSPID")
check "setup services stop" S services stop --root "$R"
events "... stops chatsvc, then mailsvc; not upsmon" "$m" "stop chatsvc" "stop mailsvc"
check "... upsmon still runs, the same process" test "$(cat "$UPSPID")" = "$UPS3" -a "$(holder)" = "$UPS3"
S services list --root "$R" >"$T/list" 2>&1
printf '%-16s %-16s %-9s %s\n' mailsuite mailsvc auto stopped mailsuite chatsvc auto stopped \
	mailsuite upsmon external running >"$T/list.want2"
check "services list: ours stopped, upsmon running" cmp "$T/list.want2" "$T/list"
m=$(mark)
check "setup services start, upsmon running" S services start --root "$R"
events "... mailsvc, stop upsmon, chatsvc, upsmon again" "$m" \
	"start mailsvc" "stop upsmon" "start chatsvc" "start upsmon"
running3 "after services start"

# --- f. rollback and uninstall ----------------------------------------------------------
# A chat start that fails for a reason of its own, after upsmon was stopped
# for it: the rollback starts upsmon again. Tried on a second root that
# holds the same third-party UPS monitor.
R2=$(new_root broken)
mkdir -p "$R2/usr/sbin"
cp "$R/usr/sbin/upsmond" "$R/usr/sbin/upsmon-ctl" "$R2/usr/sbin/"
"$R2/usr/sbin/upsmon-ctl" start >/dev/null
expect_fail "install with a chatsvc that cannot start: exit 1" 1 \
	S install --root "$R2" --media "$T/media-broken" --unattended "$ANS" --trusted-key "$KEY" --retries 1
contains "... naming chatsvc and its reason" "$T/check.out" "chatsvc: cannot read its pager configuration"
contains "... rolled back" "$T/check.out" "rolled back"
events2() { tr '\n' ' ' <"$R2/var/log/mailsuite/events.log" 2>/dev/null | sed 's/ $//'; }
check "events: upsmon started by the OS, mailsvc, stop upsmon; rollback: start upsmon, stop mailsvc" \
	test "$(events2)" = "start upsmon start mailsvc stop upsmon start upsmon stop mailsvc"
check "upsmon runs again after the rollback" "$R2/usr/sbin/upsmon-ctl" status

m=$(mark)
UPS4=$(cat "$UPSPID")
check "uninstall" S uninstall mailsuite --root "$R"
events "uninstall stops chatsvc, then mailsvc; not upsmon" "$m" "stop chatsvc" "stop mailsvc"
check "upsmon still runs, the same process, holding the line" \
	test "$(cat "$UPSPID")" = "$UPS4" -a "$(holder)" = "$UPS4"
check "upsmon-ctl status: running" UPS status
check "the product's directory is gone" test ! -e "$A"
S status --root "$R" --json >"$T/status" 2>&1
contains "setup status: nothing installed" "$T/status" '"products":[]'
# The root is as before the install, but for what services write while
# they run (var/run, var/lock, var/log).
snapshot "$R" "$T/after.snap"
strip_run() { grep -v -e ' \./var/run' -e ' \./var/lock' -e ' \./var/log' "$1"; }
strip_run "$T/before.snap" >"$T/before.s"
strip_run "$T/after.snap" >"$T/after.s"
check "files, registry and state are as before the install (run, lock and log dirs aside)" cmp "$T/before.s" "$T/after.s"
finish
