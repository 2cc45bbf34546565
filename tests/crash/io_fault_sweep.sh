#!/bin/sh
# io_fault_sweep.sh - I/O faults at every write, fsync, rename and link of
# an install and of a service pack apply of the sample product: the shim
# (syscall_fault.so) makes the k-th call of one class fail with ENOSPC, EIO
# or EROFS, once or from then on (persistent). Each time the operation must
#   - fail: a non-zero exit, never success after a failed call (a failed
#     fsync is never taken for a durable write);
#   - say why: a message naming a file under the root and the errno's text
#     (strerror: "No space left on device", ...);
#   - leave the root exactly as before (after `setup recover`, when setup
#     says to run it): files, modes, links, registry, installed state, the
#     backup stores, no leftovers. A transaction left for recovery without
#     saying so counts as a failure.
#
#   CRASH_STEP=k   every k-th call of each class (default 7; 1: every call)
#   CRASH_JOBS=j   parallel workers (default: the CPUs)
#   FAULT_OPS, FAULT_CLASSES, FAULT_ERRNOS, FAULT_MODES narrow the sweep.
# Thousands of roots: on a memory filesystem when there is one (a SIGKILL
# loses nothing the page cache holds, so it tests the same thing, faster).
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
	TMPDIR=/dev/shm
	export TMPDIR
fi
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/lib_crash.sh"
START=$(date +%s)
JOBS=${CRASH_JOBS:-$(nproc 2>/dev/null || echo 1)}
[ "$JOBS" -ge 1 ] 2>/dev/null || JOBS=1
[ "$JOBS" -le 9 ] || JOBS=9
make_templates || { finish; exit 1; }

# The calls of a class, as the shim names them.
class_calls() {
	case $1 in
	write)  echo 'write|pwrite|pwrite64|writev' ;;
	fsync)  echo 'fsync|fdatasync|syncfs' ;;
	rename) echo 'rename|renameat|renameat2' ;;
	link)   echo 'link|linkat' ;;
	esac
}
strerror() {
	case $1 in
	ENOSPC) echo "No space left on device" ;;
	EIO)    echo "Input/output error" ;;
	EROFS)  echo "Read-only file system" ;;
	esac
}

# worker ID OP TEMPLATE BEFORE AFTER CASES: run the cases (lines "class
# errno mode k") that fall to worker ID. Results to $T/res.ID, messages to
# $T/msg.ID. A fault after the commit point cannot be rolled back: setup
# must then say the operation is done but its cleanup failed and that
# `setup recover` finishes it, and the root must be as after. Success
# despite a failed call is right in two places only, both SQLite's:
#  - the checkpoint when the connection closes (every call after the last
#    commit's sync of the WAL, CKPT): the commit is durable in the WAL, and
#    SQLite keeps the WAL when the checkpoint fails (checked: it is still
#    on disk), for the next open to checkpoint again;
#  - the sync of a directory after SQLite created a file in it (a WAL, a
#    journal): SQLite ignores its failure by design (not every filesystem
#    can sync a directory). setup's own syncfs of the filesystem, whose
#    failure it does not ignore, comes later (LAST_SYNCFS) and makes the
#    directory durable before the first file is switched; so a one-time
#    failure there is covered, and a persistent one must fail the operation
#    at that syncfs (checked: success is accepted only in "once" mode).
worker() {
	id=$1 op=$2 tp=$3 before=$4 after=$5
	RUN=$T/roots/run-$id
	res=$T/res.$id
	: >"$res"
	awk -v j="$JOBS" -v i="$id" '(NR - 1) % j == i' "$6" | while read -r cls en mode k; do
		call=$(sed -n "${k}p" "$T/$op.$cls" | sed "s|$T/roots/run-[R0-9]|ROOT|g")
		what="$op: $en at $mode $cls $k ($call)"
		fresh "$tp"
		persist=0
		[ "$mode" = persistent ] && persist=1
		op_run "$op" "$RUN" SK_SYSCALL_FAIL_AT="$k" SK_SYSCALL_FAIL_CALLS="$cls" SK_SYSCALL_FAIL_ERRNO="$en" \
			SK_SYSCALL_FAIL_PERSIST="$persist" >"$T/out-$id" 2>&1
		rc=$?
		echo case >>"$res"
		problems=""
		idx=${call%% *} path=${call#* * }
		wal_kept=0
		[ -s "$RUN/var/lib/setupkit/state.db-wal" ] && wal_kept=1
		said=0
		grep -q "setup recover" "$T/out-$id" && said=1 && echo said >>"$res"
		if [ "$rc" -eq 0 ] && [ "$idx" -gt "$CKPT" ]; then
			echo checkpoint >>"$res"
			[ "$wal_kept" -eq 1 ] || problems="$problems; the checkpoint failed and the WAL is gone"
		elif [ "$rc" -eq 0 ] && [ "$cls" = fsync ] && [ "$mode" = once ] && [ -d "$RUN/${path#ROOT/}" ] &&
			[ "$idx" -lt "$LAST_SYNCFS" ]; then
			echo dirsync >>"$res"
		else
			[ "$rc" -ne 0 ] || problems="$problems; it reported success (exit 0)"
			[ "$rc" -lt 128 ] || problems="$problems; it died (exit $rc)"
			grep -qF "$(strerror "$en")" "$T/out-$id" || problems="$problems; the message lacks '$(strerror "$en")'"
			grep -qF "$RUN" "$T/out-$id" || problems="$problems; the message names no file under the root"
		fi
		# Recovery: when setup says so; otherwise it must find nothing to do.
		"$SETUP" recover --root "$RUN" >"$T/rec-$id" 2>&1 || problems="$problems; setup recover failed"
		if [ "$said" -eq 0 ] && grep -q 'recovery: ' "$T/rec-$id"; then
			problems="$problems; it left a transaction for recovery without saying to run setup recover"
		fi
		snap "$RUN" "$T/s-$id.snap"
		if cmp -s "$T/s-$id.snap" "$before"; then
			echo before >>"$res"
		elif cmp -s "$T/s-$id.snap" "$after" && { [ "$said" -eq 1 ] || [ "$rc" -eq 0 ]; }; then
			echo after >>"$res"
		else
			problems="$problems; the root is not as before"
			echo torn >>"$res"
		fi
		[ -n "$problems" ] || continue
		echo bad >>"$res"
		echo "FAULT $what: exit $rc${problems}"
		sed 's/^/     | out: /' "$T/out-$id" | tail -4
		grep -q '^torn$' "$res" && ! cmp -s "$T/s-$id.snap" "$before" && ! cmp -s "$T/s-$id.snap" "$after" &&
			diff "$before" "$T/s-$id.snap" | head -10 | sed 's/^/     | /'
		if [ -n "${CRASH_KEEP:-}" ]; then
			mkdir -p "$CRASH_KEEP" && cp -a "$RUN" "$CRASH_KEEP/$op-$cls-$en-$mode-$k"
		fi
	done >"$T/msg.$id" 2>&1
}

count() { cat "$T"/res.* 2>/dev/null | grep -c "^$1\$"; }

for op in ${FAULT_OPS:-install sp-apply}; do
	tp=$(op_template "$op")
	before=$T/$op.before after=$T/$op.after
	RUN=$T/roots/run-R   # as long a path as the workers' (see crash_sweep.sh)
	fresh "$tp"
	snap "$RUN" "$before"
	rm -f "$T/$op.trace"
	if ! op_run "$op" "$RUN" SK_SYSCALL_TRACE="$T/$op.trace" >"$T/ref.out" 2>&1; then
		bad "$op: the reference run succeeds"
		continue
	fi
	snap "$RUN" "$after"
	# CKPT: the last commit's sync of the WAL; LAST_SYNCFS: setup's last
	# flush of the filesystem (see worker).
	sed "s|$RUN|ROOT|g" "$T/$op.trace" >"$T/$op.rtrace"
	l=$(grep -n -E '^[0-9]+ pwrite64? ROOT/var/lib/setupkit/state.db-wal$' "$T/$op.rtrace" | tail -1 | cut -d: -f1)
	CKPT=$(awk -v l="${l:-0}" 'NR > l && / fdatasync ROOT\/var\/lib\/setupkit\/state.db-wal$/ { print NR; exit }' "$T/$op.rtrace")
	LAST_SYNCFS=$(grep -n -E '^[0-9]+ syncfs ' "$T/$op.rtrace" | tail -1 | cut -d: -f1)
	CKPT=${CKPT:-999999} LAST_SYNCFS=${LAST_SYNCFS:-0}
	: >"$T/cases"
	counts=""
	for cls in ${FAULT_CLASSES:-write fsync rename link}; do
		grep -E "^[0-9]+ ($(class_calls "$cls")) " "$T/$op.trace" >"$T/$op.$cls"
		n=$(wc -l <"$T/$op.$cls")
		counts="$counts $cls=$n"
		for k in $(points "$n"); do
			for en in ${FAULT_ERRNOS:-ENOSPC EIO EROFS}; do
				for mode in ${FAULT_MODES:-once persistent}; do
					echo "$cls $en $mode $k" >>"$T/cases"
				done
			done
		done
	done
	run_workers "$op" "$tp" "$before" "$after" "$T/cases"
	echo "$op: calls$counts; faults tried=$(count case), bad=$(count bad); rolled back $(count before), completed $(count after) (succeeded despite the fault: $(count checkpoint) at the close's checkpoint, $(count dirsync) at SQLite's directory syncs), torn $(count torn); setup said to run recover $(count said) times"
	[ "$(count case)" -gt 0 ] && [ "$(count bad)" -eq 0 ] && ok "$op: every fault fails the operation with its cause and leaves the root as before" ||
		bad "$op: $(count bad) of $(count case) faults mishandled"
done
# After the commit there is no rolling back: a fault in the cleanup (here
# the last write of the state database before its close, which clears the
# journal) must be reported, with what is done and that `setup recover`
# finishes it; recovery then gives the root as after. Every operation.
for op in install uninstall repair sp-apply sp-remove; do
	tp=$(op_template "$op")
	RUN=$T/roots/run-R
	fresh "$tp"
	rm -f "$T/pc.trace"
	op_run "$op" "$RUN" SK_SYSCALL_TRACE="$T/pc.trace" >/dev/null 2>&1
	snap "$RUN" "$T/pc.after"
	k=$(grep -E "^[0-9]+ ($(class_calls write)) " "$T/pc.trace" | grep -n "state.db-wal\$" | tail -1 | cut -d: -f1)
	fresh "$tp"
	op_run "$op" "$RUN" SK_SYSCALL_FAIL_AT="$k" SK_SYSCALL_FAIL_CALLS=write SK_SYSCALL_FAIL_ERRNO=EIO >"$T/pc.out" 2>&1
	rc=$?
	"$SETUP" -q recover --root "$RUN" >/dev/null 2>&1
	snap "$RUN" "$T/pc.snap"
	if [ "$rc" -ne 0 ] && grep -q "cleaning up after it failed; 'setup recover' finishes" "$T/pc.out" &&
		grep -qF "$(strerror EIO)" "$T/pc.out" && cmp -s "$T/pc.snap" "$T/pc.after"; then
		ok "$op: a fault after the commit says the operation is done and 'setup recover' finishes it"
	else
		bad "$op: a fault in the cleanup after the commit (write $k, exit $rc)"
		sed 's/^/     | /' "$T/pc.out" | tail -3
	fi
done

no_strays
echo "I/O fault sweep (CRASH_STEP=$STEP CRASH_JOBS=$JOBS): $(($(date +%s) - START)) s"
finish
