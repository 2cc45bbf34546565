#!/bin/sh
# setup_services.sh - services and extensions end to end: start order from
# depends_on / start_after / start_before and its reverse for stopping (at
# install, `setup services`, uninstall); a service that must start before a
# running third-party service that blocks it; a service that never starts
# rolls the install back and stops what was started; a start-order cycle is
# refused by mkmedia and by setup; extensions that cancel, crash or hang
# leave the root exactly as before; the SETUPKIT_* environment; the sample.
. "$(dirname "$0")/lib.sh"
S() { "$SETUP" -q "$@"; }
W=$T/w
mkdir -p "$W/src/bin"
echo data >"$W/src/data.txt"

# ctl start|stop|status NAME [BLOCKER]: a service is "running" while
# var/run/t/NAME.up exists under the root; every real start and stop is a
# line in var/log/t/events. With BLOCKER, start fails while BLOCKER runs.
cat >"$W/src/bin/ctl" <<'SH'
#!/bin/sh
set -u
run="${SETUPKIT_ROOT%/}/var/run/t"
ev="${SETUPKIT_ROOT%/}/var/log/t/events"
case $1 in
start)
	if [ -n "${3:-}" ] && [ -f "$run/$3.up" ]; then
		echo "$2: $3 holds the lock; cannot start while it runs" >&2
		exit 1
	fi
	[ -f "$run/$2.up" ] && exit 0
	mkdir -p "$run" "${ev%/*}" && touch "$run/$2.up" && echo "start $2" >>"$ev" ;;
stop)
	[ -f "$run/$2.up" ] || exit 0
	rm -f "$run/$2.up" && echo "stop $2" >>"$ev" ;;
status)
	test -f "$run/$2.up" ;;
*)
	exit 2 ;;
esac
SH
chmod 755 "$W/src/bin/ctl"

# product CODE EXTRA-SECTIONS...: a definition with ctl and a data file.
product() {
	code=$1; shift
	{
		printf '[setupkit]\nformat = 2\nkind = product\n[product]\ncode = %s\nname = %s\nversion = 1.0\ndefault_dir = /opt/%s\n' "$code" "$code" "$code"
		printf '[component main]\npayload = main\n'
		printf '[file ctl]\ncomponent = main\nsource = bin/ctl\ndest = {app}/bin/ctl\nmode = 0755\n'
		printf '[file data]\ncomponent = main\nsource = data.txt\ndest = {app}/data.txt\n'
		for sec in "$@"; do printf '%s\n' "$sec"; done
	} >"$W/$code.ini"
	printf '[setupkit]\nformat = 2\nkind = answers\n[install]\nproduct = %s\nstart_services = yes\n' "$code" >"$W/$code-ans.ini"
}
svc() { # name component-or-external extra-keys [blocker]
	if [ "$2" = external ]; then
		printf '[service %s]\nexternal = yes\nstart = exec "$SETUPKIT_ROOT/usr/sbin/tctl" start %s\nstop = exec "$SETUPKIT_ROOT/usr/sbin/tctl" stop %s\nstatus = exec "$SETUPKIT_ROOT/usr/sbin/tctl" status %s\n%s' "$1" "$1" "$1" "$1" "$3"
	else
		printf '[service %s]\ncomponent = main\nstart = exec "$SETUPKIT_APP/bin/ctl" start %s %s\nstop = exec "$SETUPKIT_APP/bin/ctl" stop %s\nstatus = exec "$SETUPKIT_APP/bin/ctl" status %s\n%s' "$1" "$1" "${4:-}" "$1" "$1" "$3"
	fi
}
media() { "$MKMEDIA" build "$W/$1.ini" --source "$W/src" --out "$W/m-$1" >"$W/mk-$1.out" 2>&1; }
install() { r=$1 p=$2; shift 2; S install --root "$r" --media "$W/m-$p" --unattended "$W/$p-ans.ini" --allow-unsigned "$@"; }
events() { tr '\n' ' ' <"$1/var/log/t/events" 2>/dev/null | sed 's/ $//'; }
is() { # description expected actual
	if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: got '$3', want '$2'"; fi
}

# --- three services: start in dependency order, stop in reverse --------------
# Declared backwards (c, b, a) so only the solver can get the order right:
# c depends_on b; b start_after a.
product three "$(svc c main 'depends_on = b')" "$(svc b main 'start_after = a')" "$(svc a main '')"
media three || { bad "mkmedia three"; cat "$W/mk-three.out"; }
R=$(new_root three)
check "install three services" install "$R" three
is "install starts them in solved order" "start a start b start c" "$(events "$R")"
S services list --root "$R" >"$W/list" 2>&1
is "services list shows the solved order, all running" "a b c running running running" \
	"$(awk '{n = n $2 " "} {r = r $4 " "} END {print n r}' "$W/list" | sed 's/ $//')"
rm -f "$R/var/log/t/events"
check "setup services stop" S services stop three --root "$R"
is "... stops in reverse order" "stop c stop b stop a" "$(events "$R")"
rm -f "$R/var/log/t/events"
check "setup services start (a reboot: the auto ones)" S services start --root "$R"
is "... starts in order" "start a start b start c" "$(events "$R")"
rm -f "$R/var/log/t/events"
check "setup services restart three" S services restart three --root "$R"
is "... stops in reverse, then starts in order" "stop c stop b stop a start a start b start c" "$(events "$R")"
rm -f "$R/var/log/t/events"
check "uninstall" S uninstall three --root "$R"
is "uninstall stops them first, in reverse order" "stop c stop b stop a" "$(events "$R")"
expect_fail "services of a product that is not installed: exit 8" 8 S services list three --root "$R"
expect_fail "an unknown services action: exit 2" 2 S services frob --root "$R"

# --- start_before a running third-party service that blocks ours -------------
# blocker is not ours (external = yes); while it runs, ours cannot start.
product ahead "$(svc ours main 'start_before = blocker' blocker)" "$(svc blocker external '')"
media ahead || { bad "mkmedia ahead"; cat "$W/mk-ahead.out"; }
R=$(new_root ahead)
mkdir -p "$R/usr/sbin"
cp "$W/src/bin/ctl" "$R/usr/sbin/tctl"
chmod 755 "$R/usr/sbin/tctl"
SETUPKIT_ROOT=$R "$R/usr/sbin/tctl" start blocker
check "the third-party blocker runs before the install" test -f "$R/var/run/t/blocker.up"
rm -f "$R/var/log/t/events"
check "install a service declared to start before it" install "$R" ahead
is "setup stops the blocker, starts ours, starts the blocker again" "stop blocker start ours start blocker" "$(events "$R")"
check "both run in the end" test -f "$R/var/run/t/ours.up" -a -f "$R/var/run/t/blocker.up"
check "uninstall ahead" S uninstall ahead --root "$R"
check "the blocker still runs after uninstall" test -f "$R/var/run/t/blocker.up"

# --- a service that never starts rolls the install back ----------------------
# dud depends on fine: fine starts, dud fails every attempt, the install is
# rolled back and fine is stopped again.
product broken "$(svc fine main '')" \
	"$(printf '[service dud]\ncomponent = main\nstart = echo "dud: cannot bind port 7" >&2; exit 1\nstop = true\nstatus = false\ndepends_on = fine\n')"
media broken || { bad "mkmedia broken"; cat "$W/mk-broken.out"; }
R=$(new_root broken)
strip_run() { grep -v -e ' \./var/run' -e ' \./var/log' "$1"; }
snapshot "$R" "$W/b0.snap"
expect_fail "a service that never starts fails the install: exit 1" 1 install "$R" broken --retries 2
contains "... the message names the service" "$T/check.out" "service 'dud' did not start after 2 attempts"
contains "... its output" "$T/check.out" "dud: cannot bind port 7"
contains "... the constraint involved" "$T/check.out" "depends_on = fine"
contains "... and says it was rolled back" "$T/check.out" "rolled back"
is "the service it had started was stopped again" "start fine stop fine" "$(events "$R")"
snapshot "$R" "$W/b1.snap"
strip_run "$W/b0.snap" >"$W/b0.s"; strip_run "$W/b1.snap" >"$W/b1.s"
check "files, registry and state are as before (services' run and log dirs aside)" cmp "$W/b0.s" "$W/b1.s"

# --- a start-order cycle is refused, naming it --------------------------------
product cyc "$(svc x main 'depends_on = y')" "$(svc y main 'start_after = z')" "$(svc z main 'start_after = x')"
expect_fail "mkmedia refuses a definition with a start-order cycle: exit 3" 3 media cyc
cp "$W/mk-cyc.out" "$T/check.out"
contains "... naming the cycle" "$T/check.out" "form a cycle: "
contains "... with its services" "$T/check.out" "x"
product nocyc "$(svc x main 'depends_on = y')" "$(svc y main '')"
media nocyc || bad "mkmedia nocyc"
sed -i 's/^\[service y\]$/[service y]\nstart_after = x/' "$W/m-nocyc/setupkit-media.ini"
R=$(new_root cyc)
snapshot "$R" "$W/c0.snap"
# Exit 4: setup_media.c counts a bad manifest on media as bad media.
expect_fail "setup refuses media whose definition has a cycle: exit 4" 4 install "$R" nocyc
contains "... naming the cycle" "$T/check.out" "form a cycle: "
snapshot "$R" "$W/c1.snap"
check "... and leaves nothing behind" cmp "$W/c0.snap" "$W/c1.snap"

# --- extensions -------------------------------------------------------------------
ext() { # name point command [timeout]
	printf '[extension %s]\npoint = %s\ncommand = %s\ntimeout = %s\n' "$1" "$2" "$3" "${4:-10}"
}
# The environment, written outside the root so it does not count.
product envp "$(ext showenv after-files "env | grep ^SETUPKIT_ | sort >\"$W/env.out\"")"
media envp || bad "mkmedia envp"
R=$(new_root envp)
check "install with an extension that records its environment" install "$R" envp
contains "SETUPKIT_ROOT" "$W/env.out" "SETUPKIT_ROOT=$R"
contains "SETUPKIT_APP is the real path of the install dir" "$W/env.out" "SETUPKIT_APP=$R/opt/envp"
contains "SETUPKIT_PRODUCT" "$W/env.out" "SETUPKIT_PRODUCT=envp"
contains "SETUPKIT_OPERATION" "$W/env.out" "SETUPKIT_OPERATION=install"
contains "SETUPKIT_POINT" "$W/env.out" "SETUPKIT_POINT=after-files"
grep -q '^SETUPKIT_TXN=[1-9]' "$W/env.out" && ok "SETUPKIT_TXN names the transaction" || bad "SETUPKIT_TXN"

for kind in cancel segv hang; do
	case $kind in
	cancel) sec=$(ext stopper after-registration 'echo "not on this machine"; exit 10') want="extension 'stopper' at point 'after-registration' cancelled the install (exit 10)" ;;
	segv)   sec=$(ext crasher after-files 'kill -SEGV $$') want="extension 'crasher' at point 'after-files'" ;;
	hang)   sec=$(ext sleeper before-files 'exec >/dev/null 2>&1; sleep 30' 1) want="did not finish within 1.000 s and was killed" ;;
	esac
	product "x$kind" "$(svc s1 main '')" "$sec"
	media "x$kind" || bad "mkmedia x$kind"
	R=$(new_root "x$kind")
	snapshot "$R" "$W/x0.snap"
	t0=$(date +%s)
	expect_fail "an extension that does '$kind': the install fails, exit 1" 1 install "$R" "x$kind"
	t1=$(date +%s)
	contains "... the message names the extension and the point" "$T/check.out" "$want"
	contains "... and says it was rolled back" "$T/check.out" "rolled back"
	case $kind in
	segv) contains "... the signal is named" "$T/check.out" "SIGSEGV" ;;
	hang) [ $((t1 - t0)) -lt 10 ] && ok "... the hung extension was killed after its timeout" || bad "hang took $((t1 - t0)) s" ;;
	esac
	snapshot "$R" "$W/x1.snap"
	check "... the root is exactly as before ($kind)" cmp "$W/x0.snap" "$W/x1.snap"
done

# before-uninstall: cancel keeps the product installed and its services running.
product xun "$(svc s1 main '')" "$(ext keepme before-uninstall 'exit 10')"
media xun || bad "mkmedia xun"
R=$(new_root xun)
check "install a product with a before-uninstall extension" install "$R" xun
expect_fail "the extension cancels the uninstall: exit 1" 1 S uninstall xun --root "$R"
contains "... naming extension and point" "$T/check.out" "extension 'keepme' at point 'before-uninstall' cancelled the uninstall"
check "... the product is still installed" S verify xun --root "$R"
check "... and its service still runs" test -f "$R/var/run/t/s1.up"

# --- the sample product: its services start and stop with it -------------------
build_media || bad "build sample media"
R=$(new_root sample)
check "install the sample with start_services = yes" S install --root "$R" --media "$T/media" \
	--unattended "$SRC/manifests/examples/answers.ini" --trusted-key "$T/keys/demo.pub"
is "mailsvc starts before chatsvc (depends_on)" "start mailsvc start chatsvc" "$(tr '\n' ' ' <"$R/var/log/mailsuite/events.log" | sed 's/ $//')"
check "chatsvc is running" env SETUPKIT_ROOT="$R" "$R/opt/Mail Suite/bin/svcctl" status chatsvc
check "uninstall the sample" S uninstall mailsuite --root "$R"
is "uninstall stopped them in reverse order" "start mailsvc start chatsvc stop chatsvc stop mailsvc" \
	"$(tr '\n' ' ' <"$R/var/log/mailsuite/events.log" | sed 's/ $//')"
finish
