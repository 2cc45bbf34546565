#!/bin/sh
# bench_install.sh - a fully durable install of payload A (20,000 files of
# 1-16 KiB) and B (40 files of 4-8 MiB) by `setup install`, against, in the
# same run: `bsdtar -xf` of the same payload archive followed by `sync`, and
# `dpkg --install --refuse-unsafe-io` of a .deb holding the same tree into
# its own --instdir/--admindir (see BENCHMARKS.md). Runs alternate
# setup/bsdtar/dpkg, A then B, PAIRS times (default 5); prints per-run
# ratios, medians, peak RSS; then, after all installs, `setup uninstall` of
# each root (it renames and unlinks, copying no file contents) against
# `rm -rf` + `sync` of the matching bsdtar tree.
# Everything lives in one mktemp dir, removed on exit; trees are removed only
# after all timed runs (recently freed inodes slow the next extraction).
set -eu
B=${B:-build}
B=$(cd "$B" && pwd)
PAIRS=${PAIRS:-5}
for t in bsdtar dpkg dpkg-deb; do
	command -v "$t" >/dev/null || { echo "bench_install: $t missing (apt-get install libarchive-tools dpkg)" >&2; exit 1; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/setupkit-bench-XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
# Private copies: the numbers are for these binaries even if build/ changes.
mkdir "$tmp/bin"
cp "$B/bin/setup" "$B/bin/mkmedia" "$B/bin/bench_payload" "$tmp/bin/"
B=$tmp
now() { date +%s%N; }
secs() { awk -v x="$1" 'BEGIN{printf "%.3f", x/1e9}'; }
median() { sort -g | awk '{a[NR]=$1} END{ if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2 }'; }
timed() { # OUTVAR-prefix command... : sets T_NS and T_RSS
	# Each timed run starts with nothing dirty in the page cache: a sync
	# (or syncfs) in the run must flush only what the run itself wrote.
	sync
	t0=$(now)
	/usr/bin/time -f '%M' -o "$tmp/rss" "$@" >"$tmp/out" 2>&1 || { cat "$tmp/out" >&2; exit 1; }
	t1=$(now)
	T_NS=$((t1 - t0))
	T_RSS=$(tail -n 1 "$tmp/rss")
}

for p in A B; do
	"$B/bin/bench_payload" gentree "$tmp" "$p"
	"$B/bin/mkmedia" build "$tmp/$p.ini" --source "$tmp/src-$p" --out "$tmp/media-$p" --format tar >/dev/null
	printf '[setupkit]\nformat = 2\nkind = answers\n[install]\nproduct = bench%s\n' "$p" >"$tmp/ans-$p.ini"
	# The same tree as a .deb (uncompressed, like the tar payload).
	mkdir -p "$tmp/deb-$p/DEBIAN" "$tmp/deb-$p/opt"
	cp -al "$tmp/src-$p" "$tmp/deb-$p/opt/bench$p"
	printf 'Package: bench%s\nVersion: 1.0\nArchitecture: all\nMaintainer: bench <bench@invalid>\nDescription: benchmark payload\n' \
		"$(echo "$p" | tr AB ab)" >"$tmp/deb-$p/DEBIAN/control"
	dpkg-deb -Znone --build "$tmp/deb-$p" "$tmp/$p.deb" >/dev/null
	echo "payload $p: $(find "$tmp/src-$p" -type f | wc -l) files, $(du -sm "$tmp/media-$p" | cut -f1) MiB of media"
done
sync

for i in $(seq 1 "$PAIRS"); do
	for p in A B; do
		r="$tmp/root-$p-$i"
		mkdir -p "$r"
		timed "$B/bin/setup" -q install --root "$r" --media "$tmp/media-$p" --unattended "$tmp/ans-$p.ini" --allow-unsigned
		s_ns=$T_NS s_rss=$T_RSS
		x="$tmp/bsdtar-$p-$i"
		mkdir -p "$x"
		timed sh -c "bsdtar -xf '$tmp/media-$p/main.tar' -C '$x' && sync"
		b_ns=$T_NS b_rss=$T_RSS
		d="$tmp/dpkg-$p-$i"
		mkdir -p "$d/inst" "$d/admin/updates" "$d/admin/info"
		: >"$d/admin/status"
		: >"$d/admin/available"
		timed dpkg --instdir="$d/inst" --admindir="$d/admin" --force-not-root --force-script-chrootless \
			--refuse-unsafe-io --log=/dev/null --install "$tmp/$p.deb"
		d_ns=$T_NS d_rss=$T_RSS
		rb=$(awk -v a="$s_ns" -v b="$b_ns" 'BEGIN{printf "%.3f", a/b}')
		rd=$(awk -v a="$s_ns" -v b="$d_ns" 'BEGIN{printf "%.3f", a/b}')
		printf 'run %d %s: setup %ss (%d KiB)  bsdtar+sync %ss  dpkg %ss (%d KiB)  setup/bsdtar+sync %s  setup/dpkg %s\n' \
			"$i" "$p" "$(secs "$s_ns")" "$s_rss" "$(secs "$b_ns")" "$(secs "$d_ns")" "$d_rss" "$rb" "$rd"
		echo "$rb" >>"$tmp/rb-$p"
		echo "$rd" >>"$tmp/rd-$p"
		echo "$s_rss" >>"$tmp/rss-$p"
	done
done
# Uninstall only after every install was timed (deleting a tree right before
# a timed extraction slows it: BENCHMARKS.md's inode-reuse trap). Baseline:
# `rm -rf` of the bsdtar tree of the same run, then `sync`.
for i in $(seq 1 "$PAIRS"); do
	for p in A B; do
		timed "$B/bin/setup" -q uninstall "bench$p" --root "$tmp/root-$p-$i"
		u_ns=$T_NS
		timed sh -c "rm -rf '$tmp/bsdtar-$p-$i' && sync"
		ru=$(awk -v a="$u_ns" -v b="$T_NS" 'BEGIN{printf "%.3f", a/b}')
		printf 'uninstall %d %s: setup %ss  rm -rf+sync %ss  setup/(rm+sync) %s\n' "$i" "$p" "$(secs "$u_ns")" "$(secs "$T_NS")" "$ru"
		echo "$u_ns" >>"$tmp/un-$p"
		echo "$ru" >>"$tmp/ru-$p"
	done
done
for p in A B; do
	echo "payload $p: median setup/(bsdtar+sync) $(median <"$tmp/rb-$p"), median setup/dpkg $(median <"$tmp/rd-$p")," \
		"setup peak RSS $(sort -n "$tmp/rss-$p" | tail -n 1) KiB, median uninstall $(secs "$(median <"$tmp/un-$p")")s (setup/(rm -rf+sync) $(median <"$tmp/ru-$p"))"
done
