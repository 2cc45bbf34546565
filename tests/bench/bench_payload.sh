#!/bin/sh
# bench_payload.sh - payload extraction: setupkit's stream-verify-stage
# (bench_payload extract: every entry hashed with SHA-256 and checked
# against the list, written to a flat 0700 staging dir) against
# `bsdtar -xf` of the same uncompressed tar into a fresh directory.
# Payloads A and B (see BENCHMARKS.md) are generated from a fixed seed.
# Runs alternate ours/bsdtar, A then B, PAIRS times (default 5); prints per
# pair ratios, the median ratio, and peak RSS (/usr/bin/time -f %M).
# Neither side fsyncs. Everything lives in one mktemp dir, removed on exit;
# trees are removed only after all timed runs (BENCHMARKS.md trap).
set -eu
B=${B:-build}
PAIRS=${PAIRS:-5}
drv=$B/bin/bench_payload
[ -x "$drv" ] || { echo "bench_payload: build $drv first (make bench)" >&2; exit 1; }
command -v bsdtar >/dev/null || { echo "bench_payload: bsdtar missing" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/setupkit-bench-XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

now() { date +%s%N; }
# run LABEL CMD... -> prints "ns rss_kib"
run() {
	t0=$(now)
	/usr/bin/time -f '%M' -o "$tmp/rss" "$@" >/dev/null
	t1=$(now)
	echo "$(( (t1 - t0) )) $(tail -n 1 "$tmp/rss")"
}
median() { sort -g | awk '{a[NR]=$1} END{ if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2 }'; }

for p in A B; do
	"$drv" gen "$tmp" "$p"
	echo "payload $p: $(wc -l < "$tmp/$p.list") files, tar $(du -m "$tmp/$p.tar" | cut -f1) MiB"
done
sync

for i in $(seq 1 "$PAIRS"); do
	for p in A B; do
		set -- $(run "$drv" extract "$tmp/$p.tar" "$tmp/$p.list" "$tmp/ours-$p-$i")
		ns_o=$1 rss_o=$2
		mkdir "$tmp/bsdtar-$p-$i"
		set -- $(run bsdtar -xf "$tmp/$p.tar" -C "$tmp/bsdtar-$p-$i")
		ns_b=$1 rss_b=$2
		ratio=$(awk -v a="$ns_o" -v b="$ns_b" 'BEGIN{printf "%.3f", a/b}')
		printf 'pair %d %s: setupkit %.3f s (%d KiB)  bsdtar %.3f s (%d KiB)  ratio %s\n' \
			"$i" "$p" "$(awk -v x="$ns_o" 'BEGIN{print x/1e9}')" "$rss_o" \
			"$(awk -v x="$ns_b" 'BEGIN{print x/1e9}')" "$rss_b" "$ratio"
		echo "$ratio" >> "$tmp/ratio-$p"
		echo "$rss_o" >> "$tmp/rsso-$p"
		echo "$rss_b" >> "$tmp/rssb-$p"
	done
done
# a check that both sides produced the same bytes (one file each)
for p in A B; do
	name=$(head -n 1 "$tmp/$p.list" | cut -d' ' -f3)
	cmp -s "$tmp/bsdtar-$p-1/$name" "$(ls "$tmp/ours-$p-1/"*-000000.stage)" ||
		{ echo "bench_payload: outputs differ for $p/$name" >&2; exit 1; }
done
for p in A B; do
	echo "median ratio $p (setupkit/bsdtar): $(median < "$tmp/ratio-$p")  " \
		"peak RSS setupkit $(sort -n "$tmp/rsso-$p" | tail -n1) KiB, bsdtar $(sort -n "$tmp/rssb-$p" | tail -n1) KiB"
done
