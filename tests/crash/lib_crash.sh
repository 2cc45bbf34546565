# lib_crash.sh - shared by crash_sweep.sh and io_fault_sweep.sh: the shim,
# the sample product's media (base, SP1, SP2), template roots at each state
# the operations start from, copied with cp -a for every point instead of
# reinstalling, each operation as one command, and snapshots that compare
# roots copied from different templates. Source it after tests/e2e/lib.sh.
#
# Points are sampled: k = 1, 1+CRASH_STEP, 1+2*CRASH_STEP, ... and always N
# (the last point, the one closest to done). CRASH_STEP=1 is every point.
STEP=${CRASH_STEP:-7}
SHIM=$B/tests/crash/syscall_fault.so
RUN=$T/roots/run
[ -f "$SHIM" ] || { bad "the shim $SHIM is built (make tests)"; finish; exit 1; }
# Under valgrind (make valgrind) thousands of runs would take hours, and the
# shim would count valgrind's own calls: the sweeps run in make check.
if [ -n "${SK_VALGRIND:-}" ]; then
	echo "skipped under valgrind"
	finish
	exit 0
fi
# The sweep runs private copies of the tools and the shim: a rebuild in the
# tree while it runs (an edit, another make) must not change them midway.
mkdir -p "$T/bin"
cp "$SETUP" "$REGISTER" "$SHIM" "$T/bin/" || { bad "copy the tools"; finish; exit 1; }
SETUP=$T/bin/setup REGISTER=$T/bin/register SHIM=$T/bin/syscall_fault.so
# The shim is built without ASan; an ASan build of the tools accepts it
# only when the runtime does not insist on coming first.
PRELOAD_ENV="LD_PRELOAD=$SHIM ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"

# The services stay stopped (start_services = no): their pid files and
# logs would differ between snapshots, and starting them costs seconds per
# point; tests/e2e/setup_services.sh and setup_sp.sh cover them.
sed 's/^start_services = yes/start_services = no/' "$SRC/manifests/examples/answers.ini" >"$T/answers.ini"
build_media || { bad "build the sample media"; finish; exit 1; }
for i in 1 2; do
	build_media "$SRC/manifests/examples/sp$i.ini" "$T/sp$i" || { bad "build SP$i media"; finish; exit 1; }
done
KEY=$T/keys/demo.pub

S() { "$SETUP" -q "$@"; }

# op_run OP ROOT [VAR=VALUE...]: run one operation on ROOT, with the shim's
# variables given (none: without the shim). Its exit code is the tool's.
# (Functions share the script's variables: the ones here start with _.)
op_run() {
	_op=$1 _r=$2
	shift 2
	set -- env ${1:+$PRELOAD_ENV} "$@" "$SETUP" -q
	case $_op in
	install)   "$@" install --root "$_r" --media "$T/media" --unattended "$T/answers.ini" --trusted-key "$KEY" ;;
	uninstall) "$@" uninstall mailsuite --root "$_r" ;;
	repair)    "$@" repair mailsuite --root "$_r" --media "$T/media" --trusted-key "$KEY" ;;
	sp-apply)  "$@" sp apply --root "$_r" --media "$T/sp2" --trusted-key "$KEY" ;;
	sp-remove) "$@" sp remove mailsuite --root "$_r" ;;
	recover)   "$@" recover --root "$_r" ;;
	*) echo "unknown operation $_op" >&2; return 9 ;;
	esac
}

# Template roots, one per state an operation starts from:
#   empty    nothing installed (the state directory initialised)
#   base     the sample product installed
#   damaged  base with one file deleted and one corrupted (repair's input)
#   sp1      base + SP1;  sp2: sp1 + SP2
tpl() { echo "$T/roots/tpl-$1"; }
make_templates() {
	mkdir -p "$(tpl empty)"
	S status --root "$(tpl empty)" >/dev/null 2>&1
	cp -a "$(tpl empty)" "$(tpl base)"
	op_run install "$(tpl base)" >/dev/null 2>&1 || { bad "install the base template"; return 1; }
	cp -a "$(tpl base)" "$(tpl damaged)"
	rm -f "$(tpl damaged)/opt/Mail Suite/README.txt"
	printf 'corrupt' >>"$(tpl damaged)/usr/lib/inetcomm.so"
	cp -a "$(tpl base)" "$(tpl sp1)"
	S sp apply --root "$(tpl sp1)" --media "$T/sp1" --trusted-key "$KEY" >/dev/null 2>&1 || { bad "apply SP1 to the sp1 template"; return 1; }
	cp -a "$(tpl sp1)" "$(tpl sp2)"
	op_run sp-apply "$(tpl sp2)" >/dev/null 2>&1 || { bad "apply SP2 to the sp2 template"; return 1; }
	return 0
}
op_template() {
	case $1 in
	install) tpl empty ;; uninstall) tpl base ;; repair) tpl damaged ;;
	sp-apply) tpl sp1 ;; sp-remove) tpl sp2 ;;
	esac
}

fresh() { # TEMPLATE [ROOT]: ROOT (default RUN) becomes a copy of TEMPLATE
	rm -rf "${2:-$RUN}"
	cp -a "$1" "${2:-$RUN}"
}

# snap ROOT OUT: what lib.sh's snapshot records (every file's type, mode,
# SHA-256 and link target; leftovers of a transaction anywhere; the
# registry; the installed state), in one find and one sha256sum instead of
# three processes per file (a sweep takes thousands), plus what snapshot
# leaves out of the state directory although a later command relies on it:
# the backup stores (a service pack's removal links its files back from
# sp-backup) and temporary files. Paths of the root and of the template it
# was copied from read ROOT. The status call comes first: like snapshot's,
# it creates the state directory, and it runs recovery (as every command
# does), so the caller checks `setup recover` itself.
snap() {
	_root=$1 _out=$2
	_st=$("$SETUP" -q status --root "$_root" --json 2>&1)
	(
		cd "$_root" || exit 1
		{
			find . -path ./var/lib/setupkit -prune -o -printf '%y\t%p\t%m\t%l\n'
			find ./var/lib/setupkit/backup ./var/lib/setupkit/sp-backup -printf '%y\t%p\t%m\t%l\n' 2>/dev/null
		} | LC_ALL=C sort -t '	' -k2,2 >"$_out.list"
		{
			find . -path ./var/lib/setupkit -prune -o -type f -print0
			find ./var/lib/setupkit/backup ./var/lib/setupkit/sp-backup -type f -print0 2>/dev/null
		} | xargs -0 -r sha256sum >"$_out.sums"
		awk -F '\t' 'FNR == NR { h = substr($0, 1, 64); sums[substr($0, 67)] = h; next }
			$1 == "l" { print "L " $2 " -> " $4; next }
			$1 == "d" { print "D " $2 " " $3; next }
			{ print "F " $2 " " $3 " " sums[$2] }' "$_out.sums" "$_out.list"
		find . \( -name '*.setupkit-new' -o -name '*.setupkit-old' -o -name 'stage-*' -o -name '.setupkit-stage-*' \
			-o -name '*.tmp-*' \) -print | LC_ALL=C sort | sed 's/^/LEFTOVER /'
		for _k in HKLM HKCU HKU; do
			"$REGISTER" --root "$_root" query "$_k" -r 2>/dev/null
		done
		echo "$_st"
	) | sed "s|$_root|ROOT|g; s|$T/roots/tpl-[a-z0-9]*|ROOT|g" >"$_out"
	rm -f "$_out.list" "$_out.sums"
}

# points N: the sampled k of 1..N, one a line.
points() {
	awk -v n="$1" -v s="$STEP" 'BEGIN { for (k = 1; k <= n; k += s) print k; if (n > 0 && (n - 1) % s) print n }'
}

# judge SNAP BEFORE AFTER WHAT: 0 when SNAP is BEFORE or AFTER; else prints
# the diff against the nearer one, names WHAT, and returns 1.
judge() {
	if cmp -s "$1" "$2"; then JUDGED=before; return 0; fi
	if cmp -s "$1" "$3"; then JUDGED=after; return 0; fi
	JUDGED=torn
	db=$(diff "$2" "$1" | grep -c '^[<>]')
	da=$(diff "$3" "$1" | grep -c '^[<>]')
	if [ "$db" -le "$da" ]; then near=$2 side=before; else near=$3 side=after; fi
	echo "TORN $4: differs from both snapshots; diff against the $side snapshot:"
	diff "$near" "$1" | head -20 | sed 's/^/     | /'
	return 1
}

# No process started by this script may survive it (a killed setup's
# registration server or service commands).
no_strays() {
	left=$(ps -eo pid=,args= | grep -F "$T" | grep -v -e grep -e "ps -eo" | head -5)
	[ -z "$left" ] && ok "no process of the sweep is left running" || { bad "processes left running:"; echo "$left" | sed 's/^/     | /'; }
}

# run_workers OP TEMPLATE BEFORE AFTER LIST: JOBS copies of the sweep's own
# `worker ID OP TEMPLATE BEFORE AFTER LIST` in parallel; each writes its
# results to $T/res.ID and its messages to $T/msg.ID, printed here.
run_workers() {
	rm -f "$T"/res.* "$T"/msg.*
	i=0
	while [ "$i" -lt "$JOBS" ]; do
		worker "$i" "$@" &
		i=$((i + 1))
	done
	wait
	cat "$T"/msg.*
}
