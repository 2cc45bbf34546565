#!/bin/sh
# bench_sp.sh - `setup sp apply` and `setup sp remove` of a service pack
# replacing K files (default 2,000) of a product of N files (default 20,000,
# 1-8 KiB each). Prints both times and shows that removal copies no file
# contents: the bytes the setup process wrote (write_bytes of /proc/PID/io,
# read by a wrapper as the process exits) and whether every file is its old
# inode again after the removal.
set -eu
B=${B:-build}
B=$(cd "$B" && pwd)
N=${N:-20000}
K=${K:-2000}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/setupkit-bench-sp-XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
now() { date +%s%N; }
secs() { awk -v x="$1" 'BEGIN{printf "%.3f", x/1e9}'; }

# The product: N files in 100 directories, one component; the pack: K of
# them at a higher version (an unversioned file is replaced too: the
# content differs and the pack's copy is newer by the rules).
mkdir -p "$tmp/src/base" "$tmp/src/sp" "$tmp/keys"
(cd "$tmp/keys" && "$B/bin/mkmedia" keygen k >/dev/null)
{
	printf '[setupkit]\nformat = 2\nkind = product\n\n[product]\ncode = big\nname = Big Product\n'
	printf 'version = 1.0.0.0\npublisher = Bench\ndefault_dir = /opt/big\n\n'
	printf '[component main]\ndescription = everything\npayload = main\ndefault = yes\n\n'
} >"$tmp/base.ini"
{
	printf '[setupkit]\nformat = 2\nkind = servicepack\n\n[servicepack]\nproduct = big\nlevel = 1\n'
	printf 'name = Service Pack 1\napplies_to = 1.0.0.0\nnew_version = 1.0.0.1\npayload = sp\n\n'
} >"$tmp/sp.ini"
awk -v n="$N" -v k="$K" -v dir="$tmp" 'BEGIN {
	srand(1);
	for (i = 0; i < n; i++) {
		f = sprintf("%s/src/base/f%05d", dir, i);
		sz = 1024 + int(rand() * 7168);
		s = sprintf("file %d ", i); while (length(s) < sz) s = s s; printf "%s", substr(s, 1, sz) > f; close(f);
		printf "[file f%05d]\ncomponent = main\nsource = base/f%05d\ndest = {app}/d%02d/f%05d\nversion = 1.0.0.0\n\n", i, i, i % 100, i >> (dir "/base.ini");
		if (i % int(n / k) == 0 && i / int(n / k) < k) {
			g = sprintf("%s/src/sp/f%05d", dir, i);
			printf "%s", substr("patched " s, 1, sz) > g; close(g);
			printf "[file f%05d]\ncomponent = main\nsource = sp/f%05d\ndest = {app}/d%02d/f%05d\nversion = 1.0.0.1\n\n", i, i, i % 100, i >> (dir "/sp.ini");
		}
	}
}'
"$B/bin/mkmedia" build "$tmp/base.ini" --source "$tmp/src" --out "$tmp/base" --sign "$tmp/keys/k.key" >/dev/null
"$B/bin/mkmedia" build "$tmp/sp.ini" --source "$tmp/src" --out "$tmp/sp" --sign "$tmp/keys/k.key" >/dev/null
printf '[setupkit]\nformat = 2\nkind = answers\n\n[install]\nproduct = big\naccept_license = yes\nstart_services = no\n' >"$tmp/ans.ini"
R=$tmp/root
mkdir "$R"
"$B/bin/setup" -q install --root "$R" --media "$tmp/base" --unattended "$tmp/ans.ini" --trusted-key "$tmp/keys/k.pub"
inodes() { (cd "$R/opt/big" && find . -type f -printf '%i %p\n' | LC_ALL=C sort -k2); }
inodes >"$tmp/before.ino"

# Run setup and report the bytes it wrote to storage (its own write_bytes).
run_io() { # label command...
	label=$1; shift
	t0=$(now)
	sh -c '"$@" & p=$!; io=0; while kill -0 $p 2>/dev/null; do w=$(sed -n "s/^write_bytes: //p" /proc/$p/io 2>/dev/null) && [ -n "$w" ] && io=$w; sleep 0.05; done; wait $p; rc=$?; echo "$io" >"'"$tmp"'/io"; exit $rc' sh "$@"
	T=$(( $(now) - t0 ))
	echo "$label: $(secs "$T")s, setup wrote $(cat "$tmp/io") bytes (sampled until exit)"
}
t0=$(now)
"$B/bin/setup" -q sp apply --root "$R" --media "$tmp/sp" --trusted-key "$tmp/keys/k.pub"
T=$(( $(now) - t0 ))
echo "sp apply of $K files on a product of $N: $(secs "$T")s"
"$B/bin/setup" -q status --root "$R" | grep -E 'service pack|sp backups'
t0=$(now)
"$B/bin/setup" -q sp remove big --root "$R"
T=$(( $(now) - t0 ))
echo "sp remove: $(secs "$T")s"
inodes >"$tmp/after.ino"
if cmp -s "$tmp/before.ino" "$tmp/after.ino"; then
	echo "removal copied no file contents: all $N files have their inode from before the apply"
else
	echo "FAIL: inodes differ after removal"; diff "$tmp/before.ino" "$tmp/after.ino" | head; exit 1
fi
# The bytes a removal writes (state database and log only), measured on a second round.
"$B/bin/setup" -q sp apply --root "$R" --media "$tmp/sp" --trusted-key "$tmp/keys/k.pub"
run_io "sp remove (again, with /proc/PID/io)" "$B/bin/setup" -q sp remove big --root "$R"
echo "(the $K replaced files hold $(du -cb $(sed -n 's/^source = //p' "$tmp/sp.ini" | sed "s|^|$tmp/src/|") | tail -1 | cut -f1) bytes)"
