#!/bin/sh
# mkseeds.sh - build the generated seed corpora of the fuzz targets into
# OUT/<target>/ (build/fuzz/corpus): the sample product's manifests, the
# media and service-pack manifests and payload archives mkmedia makes of
# it, CAB archives from gcab when it is installed, and what fuzz_mkseeds
# writes (hostile archives, UTF-16 .reg files). The small text seeds that
# are committed (tests/fuzz/seeds/<target>/) are read from there directly.
#
#   tests/fuzz/mkseeds.sh OUT MKSEEDS_BIN MKMEDIA_BIN EXAMPLES_TREE
#
# Works in a temporary directory and moves the result into place, so an
# interrupted run never leaves a half corpus. Prints one summary line.
set -eu
out=$1 mkseeds=$2 mkmedia=$3 tree=$4
ex=manifests/examples

work=$(mktemp -d "${TMPDIR:-/tmp}/setupkit-fuzz-seeds-XXXXXX")
trap 'rm -rf "$work"' EXIT
c=$work/corpus
mkdir -p "$c/manifest" "$c/answers" "$c/regfile" "$c/payload" "$c/journal"

# Prefix a file with fuzz_payload.c's control byte (octal escape).
ctl() { # ctl OCTAL SRC DST
	{ printf "\\$1"; cat "$2"; } >"$3"
}

# ---- manifests: the sample product, its packs, media mkmedia makes ----
cp "$ex"/*.ini "$c/manifest/"
cp "$ex/answers.ini" "$c/answers/"
"$mkmedia" build "$ex/mailsuite.ini" --source "$tree" --out "$work/media" >/dev/null
cp "$work/media/setupkit-media.ini" "$c/manifest/media-mailsuite.ini"
"$mkmedia" build "$ex/mailsuite-format1.ini" --source "$tree" --out "$work/media1" --format zip >/dev/null
cp "$work/media1/setupkit-media.ini" "$c/manifest/media-format1.ini"
for sp in sp1 sp2 sp3 sp4; do
	"$mkmedia" build "$ex/$sp.ini" --source "$tree" --out "$work/$sp" >/dev/null
	cp "$work/$sp/setupkit-sp.ini" "$c/manifest/spmedia-$sp.ini"
done
"$mkmedia" slipstream --base "$work/media" --sp "$work/sp1" --out "$work/slip" >/dev/null
cp "$work/slip/setupkit-media.ini" "$c/manifest/media-slipstream-sp1.ini"

# ---- payloads: the real archives in each format, then the hostile set ----
for f in "$work"/media/*.tar.zst "$work"/media1/*.zip "$work"/sp1/*.tar.zst; do
	b=$(basename "$f")
	ctl 000 "$f" "$c/payload/media-$b-c00"
	ctl 001 "$f" "$c/payload/media-$b-c01"
done
"$mkmedia" build "$ex/mailsuite.ini" --source "$tree" --out "$work/media-gz" --format tar.gz >/dev/null
ctl 000 "$work/media-gz/core.tar.gz" "$c/payload/media-core.tar.gz-c00"
if command -v gcab >/dev/null 2>&1; then
	(cd "$tree" && gcab -c "$work/plain.cab" doc/README.txt etc/mail.conf bin/svcctl >/dev/null)
	(cd "$tree" && gcab -c -z "$work/zip.cab" doc/README.txt etc/mail.conf >/dev/null)
	ctl 000 "$work/plain.cab" "$c/payload/gcab-plain.cab-c00"
	ctl 000 "$work/zip.cab" "$c/payload/gcab-mszip.cab-c00"
	ctl 040 "$work/zip.cab" "$c/payload/gcab-mszip.cab-c20"
fi
"$mkseeds" payload "$c/payload" 2>/dev/null
"$mkseeds" regfile "$c/regfile" 2>/dev/null

rm -rf "$out.tmp"
mv "$c" "$out.tmp"
rm -rf "$out"
mv "$out.tmp" "$out"
printf 'fuzz seeds:'
for t in manifest answers regfile payload journal; do
	printf ' %s %s' "$t" "$(ls "$out/$t" | wc -l)"
done
printf '\n'
