# lib.sh - shared by the end-to-end scripts: counting, temporary roots,
# building the sample media once per script, and byte-for-byte snapshots of
# a root (files, modes, links) plus its registry and installed state.
# Source it; it sets B (build dir), T (this script's temp dir, removed at
# exit) and the tools SETUP, REGISTER, MKMEDIA.
set -u
B=${B:-build}
B=$(cd "$B" && pwd)
SRC=$(cd "$(dirname "$0")/../.." && pwd)
SETUP=$B/bin/setup
REGISTER=$B/bin/register
MKMEDIA=$B/bin/mkmedia
T=$(mktemp -d "${TMPDIR:-/tmp}/setupkit-e2e-XXXXXX")
trap 'rm -rf "$T"' EXIT
PASS=0
FAIL=0
# make valgrind (SK_VALGRIND set): the tools run under tests/valgrind.sh,
# which records each run it found errors in; finish counts those here, so
# a run that was expected to fail still fails the script.
# SETUP_BIN and REGISTER_BIN are the executables themselves (to copy one
# somewhere, or to look at a root without valgrind: see snapshot), and
# "$VG" the prefix that runs such a copy the way $SETUP runs (empty
# normally).
VG_FAILED0=0
SETUP_BIN=$SETUP
REGISTER_BIN=$REGISTER
VG=""
if [ -n "${SK_VALGRIND:-}" ]; then
	VG="sh $SRC/tests/valgrind.sh"
	SETUP=$(sh "$SRC/tests/valgrind.sh" --wrap "$T/valgrind" "$SETUP")
	REGISTER=$(sh "$SRC/tests/valgrind.sh" --wrap "$T/valgrind" "$REGISTER")
	MKMEDIA=$(sh "$SRC/tests/valgrind.sh" --wrap "$T/valgrind" "$MKMEDIA")
	SK_VALGRIND_FAILED=${SK_VALGRIND_FAILED:-$T/valgrind.failed}
	export SK_VALGRIND_FAILED
	touch "$SK_VALGRIND_FAILED"
	VG_FAILED0=$(wc -l <"$SK_VALGRIND_FAILED")
fi

# crash_points N: the crash points k (1..N) a sweep tries, one per line.
# Every point normally; under valgrind, where each run costs seconds (make
# check and make asan try every point), ${VG_CRASH_POINTS:-5} spread evenly
# from 1 to N: the first, the last (the one closest to done) and some in
# between, which still fall on both sides of the commit.
crash_points() {
	if [ -n "${SK_VALGRIND:-}" ]; then
		awk -v n="$1" -v p="${VG_CRASH_POINTS:-5}" 'BEGIN {
			if (n <= p || p < 2) { for (k = 1; k <= n; k++) print k; exit }
			for (i = 0; i < p; i++) { k = 1 + int(i * (n - 1) / (p - 1) + 0.5); if (k != last) print k; last = k }
		}'
	else
		seq 1 "$1"
	fi
}
ok()   { PASS=$((PASS + 1)); echo "ok   $*"; }
bad()  { FAIL=$((FAIL + 1)); echo "FAIL $*"; }
check() { # description command... : passes when the command succeeds
	d=$1; shift
	if "$@" >"$T/check.out" 2>&1; then ok "$d"; else bad "$d"; sed 's/^/     | /' "$T/check.out" | tail -20; fi
}
expect_fail() { # description exit-code command... : passes on that exit code
	d=$1; want=$2; shift 2
	"$@" >"$T/check.out" 2>&1
	got=$?
	if [ "$got" -eq "$want" ]; then ok "$d"; else bad "$d (exit $got, want $want)"; sed 's/^/     | /' "$T/check.out" | tail -20; fi
}
contains() { # description file text
	if grep -qF -- "$3" "$2"; then ok "$1"; else bad "$1: '$3' not in output"; sed 's/^/     | /' "$2" | tail -20; fi
}
not_contains() { # description file text
	if grep -qF -- "$3" "$2"; then bad "$1: '$3' is in the output"; sed 's/^/     | /' "$2" | tail -20; else ok "$1"; fi
}
# in_order description file text...: each text on a later line than the previous one
in_order() {
	d=$1 f=$2; shift 2
	last=0
	for s in "$@"; do
		n=$(grep -nF -- "$s" "$f" | head -1 | cut -d: -f1)
		if [ -z "$n" ] || [ "$n" -le "$last" ]; then
			bad "$d: '$s' missing or out of order"; sed 's/^/     | /' "$f" | tail -25; return
		fi
		last=$n
	done
	ok "$d"
}
# newest_log ROOT OP: the log of the newest run of OP in ROOT
newest_log() { ls "$1"/var/lib/setupkit/log/*-"$2"-*.log | tail -1; }
# PRAGMA integrity_check on the state database of every root the script
# made (anywhere under $T), run by finish: no test may leave one damaged.
check_state_dbs() {
	if ! command -v sqlite3 >/dev/null 2>&1; then
		bad "integrity_check: the sqlite3 CLI is missing (scripts/deps.sh test installs it)"
		return
	fi
	find "$T" -path '*/var/lib/setupkit/state.db' -type f 2>/dev/null | while IFS= read -r db; do
		r=$(sqlite3 "$db" 'PRAGMA integrity_check' 2>&1)
		echo "$db: $r"
	done >"$T/integrity.out"
	n=$(wc -l <"$T/integrity.out")
	if grep -v ': ok$' "$T/integrity.out" >"$T/integrity.bad"; then
		bad "integrity_check of the state databases:"
		sed "s|$T|T|; s/^/     | /" "$T/integrity.bad"
	else
		ok "integrity_check: all $n state databases of this script are ok"
	fi
}
# crash_sweep OP BEFORE AFTER PREP N: for each of crash_points N, run PREP
# on a fresh root, then the shell function OP on it, killed by SIGKILL at
# crash point k (SETUPKIT_CRASH_AT), then `setup recover`; the root's
# snapshot must equal BEFORE or AFTER (snapshot files), and both must be
# seen. $T/OP.trace (SETUPKIT_FAULT_TRACE of a reference run) names the
# points in the messages. CRASH_SNAP_MAP, when set, names a filter (stdin
# to stdout) applied to each snapshot first.
crash_sweep() {
	op=$1 before=$2 after=$3 prep=$4 n=$5
	torn=0 saw_before=0 saw_after=0
	for k in $(crash_points "$n"); do
		r=$(new_root "$op-$k")
		$prep "$r" >/dev/null 2>&1
		SETUPKIT_CRASH_AT=$k $op "$r" >/dev/null 2>&1
		"$SETUP" -q recover --root "$r" >/dev/null 2>&1
		snapshot "$r" "$T/s.snap"
		if [ -n "${CRASH_SNAP_MAP:-}" ]; then
			$CRASH_SNAP_MAP <"$T/s.snap" >"$T/s2.snap" && mv "$T/s2.snap" "$T/s.snap"
		fi
		if cmp -s "$T/s.snap" "$before"; then
			saw_before=$((saw_before + 1))
		elif cmp -s "$T/s.snap" "$after"; then
			saw_after=$((saw_after + 1))
		else
			torn=$((torn + 1))
			echo "torn state after a crash at point $k of $op ($(sed -n "${k}p" "$T/$op.trace")):"
			diff "$before" "$T/s.snap" | head -10 | sed 's/^/     | /'
		fi
		rm -rf "$r"
	done
	echo "$op: $n points ($(crash_points "$n" | wc -l) tried), $saw_before rolled back, $saw_after completed, $torn torn"
	[ "$torn" -eq 0 ] && ok "$op: every crash point recovers to before or after" || bad "$op: $torn torn states"
	[ "$saw_before" -gt 0 ] && [ "$saw_after" -gt 0 ] && ok "$op: crashes were seen both before and after the commit point" \
		|| bad "$op: crash points did not cover both sides of the commit"
}
finish() {
	check_state_dbs
	if [ -n "${SK_VALGRIND:-}" ]; then
		n=$(($(wc -l <"$SK_VALGRIND_FAILED") - VG_FAILED0))
		if [ "$n" -gt 0 ]; then
			bad "valgrind reported errors in $n tool runs:"
			tail -n "$n" "$SK_VALGRIND_FAILED" | sed 's/^/     | /'
		fi
	fi
	echo "$PASS passed, $FAIL failed"
	[ "$FAIL" -eq 0 ]
}

# Build signed sample media into $T/media (and the key pair in $T/keys).
build_media() { # [definition [outdir]]
	def=${1:-$SRC/manifests/examples/mailsuite.ini}
	out=${2:-$T/media}
	mkdir -p "$T/keys"
	[ -f "$T/keys/demo.key" ] || (cd "$T/keys" && "$MKMEDIA" keygen demo >/dev/null)
	"$MKMEDIA" build "$def" --source "$B/examples/tree" --out "$out" --sign "$T/keys/demo.key" >/dev/null
}

new_root() { # name -> prints the path of a fresh, empty root
	r="$T/roots/$1"
	rm -rf "$r"
	mkdir -p "$r"
	echo "$r"
}

# snapshot ROOT OUT: everything a user could see, with the root's own path
# replaced by ROOT so snapshots of different roots compare. It looks with
# the tools run natively, even under make valgrind: a script takes dozens
# of snapshots of five tool runs each, and `status` and `query` are checked
# under valgrind by the tests that call them as $SETUP and $REGISTER.
snapshot() {
	root=$1 out=$2
	# Opening a root creates its state directory; do it first so every
	# snapshot sees the same var/lib.
	"$SETUP_BIN" -q status --root "$root" >/dev/null 2>&1
	(
		cd "$root" || exit 1
		find . -path ./var/lib/setupkit -prune -o -print | LC_ALL=C sort | while IFS= read -r p; do
			if [ -L "$p" ]; then
				echo "L $p -> $(readlink "$p")"
			elif [ -d "$p" ]; then
				echo "D $p $(stat -c %a "$p")"
			else
				echo "F $p $(stat -c %a "$p") $(sha256sum <"$p" | cut -c1-64)"
			fi
		done
		# Leftovers of a transaction anywhere, the state directory included.
		find . \( -name '*.setupkit-new' -o -name '*.setupkit-old' -o -name 'stage-*' \) -print | sed 's/^/LEFTOVER /'
		for k in HKLM HKCU HKU; do
			"$REGISTER_BIN" --root "$root" query "$k" -r 2>/dev/null
		done
		"$SETUP_BIN" -q status --root "$root" --json 2>&1
	) | sed "s|$root|ROOT|g" >"$out"
}
