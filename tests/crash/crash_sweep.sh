#!/bin/sh
# crash_sweep.sh - kill `setup` with SIGKILL at every mutating system call
# (the LD_PRELOAD shim syscall_fault.so counts them: writes, syncs, renames,
# links, unlinks, mkdir, rmdir, chmod, truncates, opens for writing, the
# state database's included) of install, uninstall, repair, service pack
# apply and service pack remove of the sample product; then `setup recover`.
# The root (files, modes, links, leftovers, registry, installed state, the
# backup stores) must equal the snapshot from before or the one from after
# the operation exactly. Then the double crash: after a first crash, the
# recovery is itself killed at its points, and recovered again.
#
#   CRASH_STEP=k    try every k-th point: k = 1, 1+k, 1+2k, ... and N
#                   (default 7, make check; 1 is every point, make check-crash)
#   DOUBLE_STEP=d   the double crash follows every d-th first crash tried
#                   (default 1: each), killing its recovery at every
#                   CRASH_STEP-th point
#   CRASH_JOBS=j    points run in j parallel workers (default: the CPUs)
# Prints per operation "OP: N=..., points tried=..., torn=..." and a diff
# for each torn state. To reproduce one: CRASH_OPS="uninstall"
# CRASH_POINTS="256" (first crash points) REC_POINTS="51" (recovery's),
# CRASH_KEEP=DIR keeps the roots of torn states in DIR.
# Thousands of roots: on a memory filesystem when there is one (a SIGKILL
# loses nothing the page cache holds, so it tests the same thing, faster).
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
	TMPDIR=/dev/shm
	export TMPDIR
fi
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/lib_crash.sh"
START=$(date +%s)
DSTEP=${DOUBLE_STEP:-1}
JOBS=${CRASH_JOBS:-$(nproc 2>/dev/null || echo 1)}
[ "$JOBS" -ge 1 ] 2>/dev/null || JOBS=1
[ "$JOBS" -le 9 ] || JOBS=9
make_templates || { finish; exit 1; }

# keep_torn NAME: a copy of RUN for a person to look at (CRASH_KEEP).
keep_torn() {
	[ -n "${CRASH_KEEP:-}" ] || return 0
	mkdir -p "$CRASH_KEEP" && rm -rf "${CRASH_KEEP:?}/$1" && cp -a "$RUN" "$CRASH_KEEP/$1"
}

# call_at TRACE K: the K-th call of a trace, with ROOT for the root.
call_at() { sed -n "${2}p" "$1" | sed "s|$T/roots/run-[R0-9]|ROOT|g"; }

# worker ID OP TEMPLATE BEFORE AFTER POINTS: try the points of POINTS (a
# file, one a line) that fall to worker ID, each in its own root. Results
# go to $T/res.ID (one word a line), messages to $T/msg.ID.
worker() {
	id=$1 op=$2 tp=$3 before=$4 after=$5
	RUN=$T/roots/run-$id
	crashed=$T/roots/crashed-$id
	rtrace=$T/rec-$id.trace
	res=$T/res.$id
	: >"$res"
	n=0
	for k in $(awk -v j="$JOBS" -v i="$id" '(NR - 1) % j == i' "$6"); do
		fresh "$tp"
		op_run "$op" "$RUN" SK_SYSCALL_KILL_AT="$k" >/dev/null 2>&1
		[ $? -eq 137 ] || { echo notkilled >>"$res"; echo "the run ended before its crash point $k of $op"; }
		cp -a "$RUN" "$crashed.new" && rm -rf "$crashed" && mv "$crashed.new" "$crashed"
		rm -f "$rtrace"
		if ! op_run recover "$RUN" SK_SYSCALL_TRACE="$rtrace" >"$T/rec-$id.out" 2>&1; then
			echo recfail >>"$res"
			echo "setup recover failed after a crash at point $k of $op:"
			sed 's/^/     | /' "$T/rec-$id.out" | tail -5
		fi
		snap "$RUN" "$T/s-$id.snap"
		if judge "$T/s-$id.snap" "$before" "$after" "point $k of $op ($(call_at "$T/$op.trace" "$k"))"; then
			echo "$JUDGED" >>"$res"
		else
			echo torn >>"$res"
			keep_torn "$op-$k"
		fi
		n=$((n + 1))
		# The double crash, after every DSTEP-th first crash.
		[ $(((n - 1) % DSTEP)) -eq 0 ] || continue
		nr=$(wc -l <"$rtrace")
		echo "recn $nr" >>"$res"
		for k2 in ${REC_POINTS:-$(points "$nr")}; do
			fresh "$crashed"
			op_run recover "$RUN" SK_SYSCALL_KILL_AT="$k2" >/dev/null 2>&1
			[ $? -eq 137 ] || echo recnotkilled >>"$res"
			where="point $k2 of the recovery after a crash at point $k of $op"
			if ! op_run recover "$RUN" >"$T/rec-$id.out" 2>&1; then
				echo recfail >>"$res"
				echo "setup recover failed after a crash at $where:"
				sed 's/^/     | /' "$T/rec-$id.out" | tail -5
			fi
			snap "$RUN" "$T/s-$id.snap"
			if judge "$T/s-$id.snap" "$before" "$after" "$where ($(call_at "$rtrace" "$k2"))"; then
				echo "rec-ok" >>"$res"
			else
				echo "rec-torn" >>"$res"
				keep_torn "$op-$k-rec-$k2"
			fi
		done
	done >"$T/msg.$id" 2>&1
}

count() { cat "$T"/res.* 2>/dev/null | grep -c "^$1\$"; }

# Points that found bugs, tried whatever CRASH_STEP says (regression checks):
#   a module staged by the needed-libraries check before the transaction
#   (the staging directory was left behind); a registry backup being
#   written (its temporary file was left behind); a service pack's backup
#   store emptied by sp remove, not yet removed (it was left behind, empty).
regress_points() {
	sed "s|$T/roots/run-[R0-9]|ROOT|g" "$1" >"$T/rp.trace"
	{
		grep -n -E ' ROOT/var/lib/setupkit/stage-[0-9]+-[0-9]+-needed/' "$T/rp.trace" | head -1
		grep -n -E ' ROOT/var/lib/setupkit/reg-backup/.*\.db\.tmp-[0-9]+$' "$T/rp.trace" | tail -1
		grep -n -E '^[0-9]+ unlink ROOT/var/lib/setupkit/sp-backup/' "$T/rp.trace" | tail -1 |
			awk -F: '{ print $1 + 1 ":" }'
	} | cut -d: -f1
}

REC_N=0 REC_TRIED=0 REC_TORN=0
for op in ${CRASH_OPS:-install uninstall repair sp-apply sp-remove}; do
	tp=$(op_template "$op")
	before=$T/$op.before after=$T/$op.after
	# The reference root's path is as long as the workers' (run-0 ...):
	# the registry holds module paths under the root, and one byte more
	# can add a database page, and a write, at the end.
	RUN=$T/roots/run-R
	fresh "$tp"
	snap "$RUN" "$before"
	rm -f "$T/$op.trace"
	if ! op_run "$op" "$RUN" SK_SYSCALL_TRACE="$T/$op.trace" >"$T/ref.out" 2>&1; then
		bad "$op: the reference run succeeds"
		sed 's/^/     | /' "$T/ref.out" | tail -5
		continue
	fi
	snap "$RUN" "$after"
	N=$(wc -l <"$T/$op.trace")
	cmp -s "$before" "$after" && bad "$op: the reference run changes nothing"
	# The count must not depend on the run: a second reference run.
	fresh "$tp"
	rm -f "$T/n2.trace"
	op_run "$op" "$RUN" SK_SYSCALL_TRACE="$T/n2.trace" >/dev/null 2>&1
	N2=$(wc -l <"$T/n2.trace")
	[ "$N" -eq "$N2" ] || bad "$op: two reference runs make $N and $N2 mutating calls"

	if [ -n "${CRASH_POINTS:-}" ]; then
		printf '%s\n' $CRASH_POINTS >"$T/points"
	else
		{ points "$N"; regress_points "$T/$op.trace"; } | sort -nu >"$T/points"
	fi
	run_workers "$op" "$tp" "$before" "$after" "$T/points"
	tried=$(($(count before) + $(count after) + $(count torn)))
	torn=$(count torn)
	echo "$op: N=$N, points tried=$tried, torn=$torn ($(count before) rolled back, $(count after) completed)"
	[ "$torn" -eq 0 ] && ok "$op: every crash point tried recovers to before or after" || bad "$op: $torn torn states"
	[ "$(count notkilled)" -eq 0 ] || bad "$op: $(count notkilled) runs ended before their crash point (the count is not stable)"
	[ "$(count recfail)" -eq 0 ] || bad "$op: setup recover failed $(count recfail) times"
	if [ -z "${CRASH_POINTS:-}" ]; then
		[ "$(count before)" -gt 0 ] && [ "$(count after)" -gt 0 ] && ok "$op: crashes were seen on both sides of the commit" ||
			bad "$op: the points tried did not cover both sides of the commit"
	fi
	n=$(cat "$T"/res.* | sed -n 's/^recn //p' | sort -n | tail -1)
	[ "${n:-0}" -gt "$REC_N" ] && REC_N=$n
	REC_TRIED=$((REC_TRIED + $(count rec-ok) + $(count rec-torn)))
	REC_TORN=$((REC_TORN + $(count rec-torn)))
	[ "$(count recnotkilled)" -eq 0 ] || bad "$op: $(count recnotkilled) recoveries ended before their crash point"
	echo "$op: double crash: $(($(count rec-ok) + $(count rec-torn))) points tried, torn=$(count rec-torn)"
done
echo "recover: N=$REC_N (the longest recovery), points tried=$REC_TRIED, torn=$REC_TORN"
[ "$REC_TORN" -eq 0 ] && ok "recover: a crash at any point tried of recovery is recovered" || bad "recover: $REC_TORN torn states"
no_strays
echo "crash sweep (CRASH_STEP=$STEP DOUBLE_STEP=$DSTEP CRASH_JOBS=$JOBS): $(($(date +%s) - START)) s"
finish
