#!/bin/sh
# bench_register.sh - out-of-process registration throughput: one `register`
# invocation registers N copies (default 1000) of a small module (noop.so:
# one key, one value, through the API), each in its own child, each
# committed durably (WAL, synchronous=FULL) with its captures, against the
# baseline bench_register_baseline: spawn + dlopen + dlsym of the same
# modules with nothing else. Alternates ours/baseline PAIRS times (default
# 5), prints registrations/s, per-pair ratios and the median ratio
# (BENCHMARKS.md). Each run uses a fresh root; trees are removed at exit.
set -eu
B=${B:-build}
N=${N:-1000}
PAIRS=${PAIRS:-5}
JOBS=${JOBS:-2}   # children running ahead (this machine has 2 cores)
reg=$B/bin/register
base=$B/bin/bench_register_baseline
mod=$B/modules/noop.so
for f in "$reg" "$base" "$mod"; do
	[ -e "$f" ] || { echo "bench_register: build $f first (make bench)" >&2; exit 1; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/setupkit-bench-reg-XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
mkdir -p "$tmp/mods"
i=0
while [ $i -lt "$N" ]; do cp "$mod" "$tmp/mods/m$i.so"; i=$((i + 1)); done

now() { date +%s%N; }
median() { sort -g | awk '{a[NR]=$1} END{ if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2 }'; }

echo "register: $N modules per run, $PAIRS pairs (ours, then baseline spawn+dlopen)"
: >"$tmp/ratios"; : >"$tmp/rates"; : >"$tmp/brates"
p=1
while [ $p -le "$PAIRS" ]; do
	t0=$(now)
	"$reg" -s --jobs "$JOBS" --root "$tmp/root$p" "$tmp"/mods/*.so
	t1=$(now)
	"$base" "$tmp"/mods/*.so
	t2=$(now)
	ours=$((t1 - t0)); floor=$((t2 - t1))
	awk -v n="$N" -v o="$ours" -v b="$floor" -v p="$p" 'BEGIN{
		printf "pair %d: register %.0f reg/s (%.2f s), baseline %.0f spawn/s (%.2f s), ratio %.2f\n",
			p, n / (o / 1e9), o / 1e9, n / (b / 1e9), b / 1e9, o / b }'
	awk -v n="$N" -v o="$ours" 'BEGIN{ printf "%.1f\n", n / (o / 1e9) }' >>"$tmp/rates"
	awk -v n="$N" -v b="$floor" 'BEGIN{ printf "%.1f\n", n / (b / 1e9) }' >>"$tmp/brates"
	awk -v o="$ours" -v b="$floor" 'BEGIN{ printf "%.3f\n", o / b }' >>"$tmp/ratios"
	p=$((p + 1))
done
echo "median: register $(median <"$tmp/rates") reg/s, baseline $(median <"$tmp/brates") spawn/s, ratio $(median <"$tmp/ratios") (target >= 200 reg/s)"
keys=$("$reg" --root "$tmp/root1" query 'HKLM\Software\SetupkitBench' | grep -c '^HKEY_LOCAL_MACHINE\\Software\\SetupkitBench\\')
[ "$keys" -eq "$N" ] || { echo "bench_register: only $keys of $N modules registered" >&2; exit 1; }
