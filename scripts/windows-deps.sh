#!/bin/sh
# windows-deps.sh - the libraries for a mingw-w64 cross build (issue 11),
# built from Debian's own sources.
#
# Usage: scripts/windows-deps.sh [LIBRARY...]   (default: all of them)
#
# Installs the cross compiler and the tools with apt-get, then cross-builds,
# static only, for x86_64-w64-mingw32, each library setupkit links against,
# from Debian's source package of the same version as this machine's -dev
# package (installed, else the candidate), so the Windows build runs the code
# the Linux build runs:
#   libarchive (+ zstd, bzip2, xz: payloads are tar.zst by default and the
#               reader takes .xz, .bz2 and LZMA 7z too; zlib is Debian's
#               libz-mingw-w64-dev), sqlite3, openssl (libcrypto only).
# Sources are unpacked under build/windows/src, the libraries, headers and
# .pc files go to build/windows/deps (use it with
# PKG_CONFIG_LIBDIR=build/windows/deps/lib/pkgconfig pkg-config --static),
# build logs to build/windows/log. A stamp per library names the version it
# was built for; a second run finds them all and prints nothing.
# When packages are missing, or apt has no deb-src entries: as root, fix it
# (a deb-src twin of the Debian entries goes to
# /etc/apt/sources.list.d/setupkit-src.sources); otherwise print the exact
# commands and exit 1.
# When the archive no longer serves that version's source (a security update
# replaced it), the newest version it serves is built, and said. When it
# serves none (as for libinih 55, whose tarballs the mirror this project
# reaches answers 404 for: why setupkit parses INI itself now), the script
# stops and says where to unpack one by hand.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
W=$top/build/windows
SRC=$W/src
PREFIX=$W/deps
LOG=$W/log
HOST=x86_64-w64-mingw32
CC="$HOST-gcc"
AR="$HOST-ar"
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}   # make -j: every CPU (CI time)
NICE="nice -n 10"
CFLAGS_WIN="-O2 -g0"
SRCLIST=/etc/apt/sources.list.d/setupkit-src.sources

say() { echo "windows-deps: $*" >&2; }
die() { say "$*"; exit 1; }
is_root() { [ "$(id -u)" = 0 ]; }

# --- the host tools ---------------------------------------------------------

need_pkgs=""
add() { need_pkgs="$need_pkgs $1"; }
command -v "$CC" >/dev/null 2>&1 || add gcc-mingw-w64-x86-64
command -v "$HOST-widl" >/dev/null 2>&1 || add mingw-w64-tools
[ -f "/usr/$HOST/lib/libz.a" ] || add libz-mingw-w64-dev
command -v dpkg-source >/dev/null 2>&1 || add dpkg-dev
command -v pkg-config >/dev/null 2>&1 || add pkg-config
command -v make >/dev/null 2>&1 || add make
command -v perl >/dev/null 2>&1 || add perl       # openssl's Configure
command -v tclsh >/dev/null 2>&1 || add tcl       # sqlite3's amalgamation
command -v gcc >/dev/null 2>&1 || add gcc         # sqlite3's generators run on the host
command -v xz >/dev/null 2>&1 || add xz-utils     # Debian's source tarballs
command -v autoreconf >/dev/null 2>&1 || add autoconf   # libarchive: Debian's patches touch configure.ac
command -v automake >/dev/null 2>&1 || add automake
command -v libtoolize >/dev/null 2>&1 || add libtool
if [ -n "$need_pkgs" ]; then
	is_root || die "missing packages:$need_pkgs; install them with:  sudo apt-get install --no-install-recommends$need_pkgs"
	say "installing:$need_pkgs"
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get install -y -q --no-install-recommends $need_pkgs >/dev/null 2>&1; then
		apt-get update -q >/dev/null 2>&1 || true
		apt-get install -y -q --no-install-recommends $need_pkgs >&2 ||
			die "apt-get install failed for:$need_pkgs"
	fi
fi

# --- versions ---------------------------------------------------------------

# src_of BINPKG...: "SRCPKG VERSION" of Debian's source for the first BINPKG
# that is installed, else for the first one's candidate (a binNMU like
# 1.0.8-5+b1 maps back to its source version 1.0.8-5).
src_of() {
	for p in "$@"; do
		s=$(dpkg-query -W -f='${db:Status-Status} ${source:Package} ${source:Version}\n' "$p" 2>/dev/null || true)
		case $s in installed\ *) echo "${s#installed }"; return 0 ;; esac
	done
	p=$1
	v=$(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/ { print $2 }')
	[ -n "$v" ] && [ "$v" != "(none)" ] || die "apt knows no package $p (run apt-get update?)"
	apt-cache show "$p=$v" 2>/dev/null | awk -v p="$p" -v v="$v" '
		/^Source:/ { s = $2; if ($3 != "") { sv = $3; gsub(/[()]/, "", sv) } }
		/^$/ { exit }
		END { if (s == "") s = p; if (sv == "") sv = v; print s, sv }'
}

stamp_ok() { [ -f "$PREFIX/.stamp-$1" ] && [ "$(sed -n 1p "$PREFIX/.stamp-$1")" = "$2" ]; }

# --- Debian sources ---------------------------------------------------------

have_deb_src() {
	grep -qsE '^[[:space:]]*deb-src[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list && return 0
	grep -qsiE '^Types:.*deb-src' /etc/apt/sources.list.d/*.sources
}

# A deb-src twin of every enabled Debian "deb" entry (deb822 or one-line).
write_deb_src() {
	{
		echo "# setupkit: Debian's source packages, for scripts/windows-deps.sh"
		for f in /etc/apt/sources.list.d/*.sources; do
			[ -f "$f" ] && [ "$f" != "$SRCLIST" ] || continue
			awk '
				function flush() {
					if (types ~ /(^|[ \t])deb([ \t]|$)/ && uris ~ /debian/ && enabled !~ /^[Nn]o/) {
						print ""; print "Types: deb-src"; print "URIs: " uris
						print "Suites: " suites; if (comps != "") print "Components: " comps
						if (signed != "") print "Signed-By: " signed
					}
					types = uris = suites = comps = signed = enabled = ""
				}
				/^[ \t]*#/ { next }
				/^[ \t]*$/ { flush(); next }
				{ k = tolower($1); v = $0; sub(/^[^:]*:[ \t]*/, "", v) }
				k == "types:" { types = v } k == "uris:" { uris = v } k == "suites:" { suites = v }
				k == "components:" { comps = v } k == "signed-by:" { signed = v } k == "enabled:" { enabled = v }
				END { flush() }' "$f"
		done
		for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
			[ -f "$f" ] || continue
			# one-line entries: deb [opts] URI SUITE COMPONENT...
			awk '$1 == "deb" && /debian/ {
				o = ""; i = 2
				if ($2 ~ /^\[/) { while ($i !~ /\]$/) { o = o " " $i; i++ } o = o " " $i; i++ }
				gsub(/^ \[|\]$/, "", o); gsub(/ /, "\n  ", o)
				printf "\nTypes: deb-src\nURIs: %s\nSuites: %s\n", $i, $(i+1)
				c = ""; for (j = i + 2; j <= NF; j++) c = c " " $j
				if (c != "") printf "Components:%s\n", c
				n = split(o, a, "\n"); for (j = 1; j <= n; j++) if (a[j] ~ /^ *signed-by=/) { sub(/^ *signed-by=/, "", a[j]); print "Signed-By: " a[j] }
			}' "$f"
		done
	} > "$SRCLIST.tmp"
	grep -q '^Types: deb-src' "$SRCLIST.tmp" || { rm -f "$SRCLIST.tmp"; die "no Debian deb entries found in /etc/apt to mirror as deb-src"; }
	mv "$SRCLIST.tmp" "$SRCLIST"
}

ensure_deb_src() {
	have_deb_src && return 0
	is_root || die "apt has no deb-src entries; as root run scripts/windows-deps.sh once, or add them (like $SRCLIST: 'Types: deb-src' with your Debian URIs, Suites, Components, Signed-By) and run: sudo apt-get update"
	say "adding deb-src entries: $SRCLIST"
	write_deb_src
	apt-get update -q >/dev/null 2>&1 || { apt-get update -q >&2; die "apt-get update failed"; }
}

# fetch SRCPKG VERSION: unpack Debian's source (patches applied) into
# $SRC/SRCPKG-VERSION and print that directory. When the archive no longer
# serves this version's source (a security update replaced it), the newest
# version it does serve is used, and said. A tree put there by hand (with an
# empty .unpacked file in it) is used as it is.
fetch() {
	pkg=$1 ver=$2
	[ -f "$SRC/$pkg-$ver/.unpacked" ] && { echo "$SRC/$pkg-$ver"; return 0; }
	ensure_deb_src
	mkdir -p "$SRC/dl"
	: > "$LOG/$pkg.fetch.log"
	got=""
	for v in "$ver" $(apt-cache showsrc "$pkg" 2>/dev/null | awk '/^Version:/ { print $2 }' | sort -rV); do
		if [ "$v" != "$ver" ]; then
			[ -f "$SRC/$pkg-$v/.unpacked" ] && { got=$v; break; }
		fi
		echo "== apt-get source -d $pkg=$v" >>"$LOG/$pkg.fetch.log"
		if (cd "$SRC/dl" && apt-get source -q -d "$pkg=$v" >>"$LOG/$pkg.fetch.log" 2>&1); then
			got=$v
			break
		fi
	done
	if [ -z "$got" ]; then
		grep '^E: Failed to fetch' "$LOG/$pkg.fetch.log" | sort -u >&2
		die "cannot fetch Debian's source of $pkg $ver (nor of any version apt lists): unpack that version's source at build/windows/src/$pkg-$ver, create an empty .unpacked file in it, and run again"
	fi
	[ "$got" = "$ver" ] || say "$pkg $ver: the archive no longer serves its source; using $got's"
	dir=$SRC/$pkg-$got
	[ -f "$dir/.unpacked" ] && { echo "$dir"; return 0; }
	rm -rf "$dir"
	dpkg-source -q --no-copy -x "$SRC/dl/${pkg}_${got#*:}.dsc" "$dir" >>"$LOG/$pkg.fetch.log" 2>&1 ||
		{ tail -n 20 "$LOG/$pkg.fetch.log" >&2; die "cannot unpack the source of $pkg $got"; }
	echo "Debian's source package" > "$dir/.unpacked"
	echo "$dir"
}

# run NAME CMD...: run a build step niced, its output to the library's log.
run() {
	name=$1; shift
	echo "+ $*" >>"$LOG/$name.log"
	$NICE "$@" >>"$LOG/$name.log" 2>&1 || {
		tail -n 40 "$LOG/$name.log" >&2
		die "$name: failed: $* (the whole log: $LOG/$name.log)"
	}
}

# The .pc files name their prefix relative to themselves, so the tree can move.
relocate_pc() {
	for pc in "$@"; do
		sed -i -e "s|^prefix=.*|prefix=\${pcfiledir}/../..|" -e "s|$PREFIX|\${prefix}|g" "$pc"
	done
}

# static_cflags PC DEFINE: the prefix holds static libraries only, so the
# define that makes a header drop __declspec(dllimport) goes into Cflags
# itself, not only Cflags.private (seen only with pkg-config --static).
static_cflags() {
	sed -i -e "/^Cflags.private:/d" -e "s|^Cflags:.*|& $2|" "$1"
}

# build NAME "SRCPKG VERSION": fetch, then build_NAME DIR, then the stamp.
build() {
	name=$1 want=$2
	stamp_ok "$name" "$want" && return 0
	mkdir -p "$SRC" "$PREFIX/lib/pkgconfig" "$PREFIX/include" "$LOG"
	: > "$LOG/$name.log"
	set -- $want
	dir=$(fetch "$1" "$2")
	from="Debian's ${dir##*/}"
	[ -s "$dir/.unpacked" ] || from="build/windows/src/${dir##*/}, as placed there by hand"
	say "building $name from $from (log: build/windows/log/$name.log)"
	t0=$(date +%s)
	"build_$name" "$dir"
	# the build tree is scratch (each build starts it anew), and its .d
	# files must not be taken for ours by the Makefile's find build -name *.d
	rm -rf "$W/obj/$name"
	printf '%s\nbuilt from %s in %ss\n' "$want" "$from" "$(($(date +%s) - t0))" > "$PREFIX/.stamp-$name"
}

# --- the libraries ----------------------------------------------------------

# zlib: Debian's libz-mingw-w64-dev; only a .pc is written here, naming its
# libz.a (beside it is libz.dll.a, which a plain -lz would pick) and no -I
# (its header is in the cross compiler's own include directory).
write_zlib_pc() {
	v=$(dpkg-query -W -f='${Version}' libz-mingw-w64-dev 2>/dev/null || echo 0)
	v=${v%%[+-]*}
	cat > "$PREFIX/lib/pkgconfig/zlib.pc.tmp" <<EOF
# Debian's libz-mingw-w64-dev
prefix=/usr/$HOST
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: zlib
Description: zlib compression library (mingw-w64, static)
Version: $v
Libs: \${libdir}/libz.a
Cflags:
EOF
	if cmp -s "$PREFIX/lib/pkgconfig/zlib.pc.tmp" "$PREFIX/lib/pkgconfig/zlib.pc"; then
		rm -f "$PREFIX/lib/pkgconfig/zlib.pc.tmp"
	else
		mv "$PREFIX/lib/pkgconfig/zlib.pc.tmp" "$PREFIX/lib/pkgconfig/zlib.pc"
	fi
}

build_zstd() {
	d=$1
	run zstd $MAKE_J -C "$d/lib" libzstd.a CC="$CC" AR="$AR" \
		CFLAGS="$CFLAGS_WIN" ZSTD_NO_ASM=1 ZSTD_LEGACY_SUPPORT=0 ZSTD_LIB_DEPRECATED=0
	run zstd make -C "$d/lib" install-static install-includes install-pc \
		CC="$CC" AR="$AR" PREFIX="$PREFIX" LIBDIR="$PREFIX/lib" INCLUDEDIR="$PREFIX/include" \
		PKGCONFIGDIR="$PREFIX/lib/pkgconfig" ZSTD_NO_ASM=1 ZSTD_LEGACY_SUPPORT=0 ZSTD_LIB_DEPRECATED=0
	rm -f "$PREFIX/lib/libzstd.dll"* "$PREFIX/lib/libzstd.so"*
	relocate_pc "$PREFIX/lib/pkgconfig/libzstd.pc"
}

# write_pc FILE NAME DESCRIPTION VERSION LIB: a relocatable .pc for the
# static library libLIB.a in the prefix.
write_pc() {
	cat > "$PREFIX/lib/pkgconfig/$1.pc" <<EOF
prefix=\${pcfiledir}/../..
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: $2
Description: $3 (mingw-w64, static)
Version: $4
Libs: -L\${libdir} -l$5
Cflags: -I\${includedir}
EOF
}

# bzip2: its Makefile builds tools too; the seven library files are enough.
build_bzip2() {
	d=$1
	o=$W/obj/bzip2
	rm -rf "$o"; mkdir -p "$o"
	for f in blocksort huffman crctable randtable compress decompress bzlib; do
		run bzip2 "$CC" $CFLAGS_WIN -D_FILE_OFFSET_BITS=64 -c "$d/$f.c" -o "$o/$f.o"
	done
	rm -f "$PREFIX/lib/libbz2.a"
	run bzip2 "$AR" rcs "$PREFIX/lib/libbz2.a" "$o"/*.o
	cp "$d/bzlib.h" "$PREFIX/include/"
	v=$(sed -n 's/^DISTNAME=bzip2-//p' "$d/Makefile")
	write_pc bzip2 bzip2 "bzip2 compression library" "$v" bz2
}

build_xz() {
	d=$1
	b=$W/obj/xz
	rm -rf "$b"; mkdir -p "$b"
	cd "$b"
	run xz "$d/configure" --host=$HOST --prefix="$PREFIX" --disable-shared --enable-static \
		--disable-xz --disable-xzdec --disable-lzmadec --disable-lzmainfo --disable-lzma-links \
		--disable-scripts --disable-doc --disable-nls --enable-threads=vista CFLAGS="$CFLAGS_WIN"
	run xz $MAKE_J -C src/liblzma
	run xz make -C src/liblzma install
	cd "$top"
	rm -f "$PREFIX/lib/liblzma.la"
	relocate_pc "$PREFIX/lib/pkgconfig/liblzma.pc"
	static_cflags "$PREFIX/lib/pkgconfig/liblzma.pc" -DLZMA_API_STATIC
}

# libarchive with what payload/ uses (archive_read_support_* and the
# writers in payload_write.c): tar/pax, zip, 7zip and cab; gzip (and
# MSZIP), zstd, xz/lzma, bzip2. Everything else that needs a library is off:
# no xml2/expat (xar), no openssl/nettle/mbedtls (Windows' CNG does zip's
# crypto), no lz4, lzo, b2, iconv, acl or xattr; no bsdtar/bsdcpio/bsdcat.
build_libarchive() {
	d=$1
	b=$W/obj/libarchive
	rm -rf "$b"; mkdir -p "$b"
	# as Debian's rules do (dh_autoreconf): its patches change configure.ac
	# and Makefile.am
	cd "$d"
	run libarchive autoreconf -fi
	cd "$b"
	run libarchive "$d/configure" --host=$HOST --prefix="$PREFIX" --disable-shared --enable-static \
		--disable-bsdtar --disable-bsdcpio --disable-bsdcat --disable-acl --disable-xattr \
		--without-xml2 --without-expat --without-openssl --without-nettle --without-mbedtls \
		--without-lz4 --without-lzo2 --without-libb2 --without-iconv \
		--with-zlib --with-bz2lib --with-lzma --with-zstd \
		CFLAGS="$CFLAGS_WIN" \
		CPPFLAGS="-I$PREFIX/include -DLZMA_API_STATIC" LDFLAGS="-L$PREFIX/lib"
	for f in Z BZ2 LZMA ZSTD; do
		grep -q "^#define HAVE_LIB$f 1" config.h ||
			die "libarchive: configure did not find lib$f (see $LOG/libarchive.log)"
	done
	run libarchive $MAKE_J libarchive.la
	run libarchive make install-libLTLIBRARIES install-includeHEADERS install-pkgconfigDATA
	cd "$top"
	rm -f "$PREFIX/lib/libarchive.la"
	relocate_pc "$PREFIX/lib/pkgconfig/libarchive.pc"
	# its .pc names the libraries by -l only; say where their .pc files are
	sed -i 's|^Requires.private:.*|Requires.private: zlib libzstd liblzma bzip2|' "$PREFIX/lib/pkgconfig/libarchive.pc"
	grep -q '^Requires.private:' "$PREFIX/lib/pkgconfig/libarchive.pc" ||
		echo 'Requires.private: zlib libzstd liblzma bzip2' >> "$PREFIX/lib/pkgconfig/libarchive.pc"
	static_cflags "$PREFIX/lib/pkgconfig/libarchive.pc" -DLIBARCHIVE_STATIC
}

# sqlite3: Debian's source is the full tree; its configure (on the host)
# generates the amalgamation, which is then compiled once for Windows.
build_sqlite3() {
	d=$1
	b=$W/obj/sqlite3
	rm -rf "$b"; mkdir -p "$b"
	cd "$b"
	run sqlite3 "$d/configure" --disable-shared --disable-tcl --disable-readline
	run sqlite3 $MAKE_J sqlite3.c sqlite3.h
	run sqlite3 "$CC" $CFLAGS_WIN -DSQLITE_THREADSAFE=1 -DSQLITE_ENABLE_COLUMN_METADATA \
		-DSQLITE_ENABLE_FTS5 -DSQLITE_ENABLE_RTREE -DSQLITE_ENABLE_JSON1 -DSQLITE_SECURE_DELETE \
		-DSQLITE_ENABLE_UNLOCK_NOTIFY -DSQLITE_ENABLE_DBSTAT_VTAB -c sqlite3.c -o sqlite3.o
	rm -f "$PREFIX/lib/libsqlite3.a"
	run sqlite3 "$AR" rcs "$PREFIX/lib/libsqlite3.a" sqlite3.o
	cp sqlite3.h "$d/src/sqlite3ext.h" "$PREFIX/include/" 2>/dev/null || cp sqlite3.h "$PREFIX/include/"
	v=$(sed -n 's/^#define SQLITE_VERSION *"\(.*\)"/\1/p' sqlite3.h)
	cd "$top"
	write_pc sqlite3 SQLite "SQL database engine" "$v" sqlite3
}

# openssl: libcrypto only, static, no tests, no engines or modules to load,
# and none of the algorithms and protocols setupkit does not use (it needs
# SHA-256, Ed25519 and PEM/PKCS#8 keys): half the build time.
OPENSSL_TRIM="no-legacy no-aria no-bf no-camellia no-cast no-des no-idea no-rc2 no-rc4 no-rc5 no-seed
	no-sm2 no-sm3 no-sm4 no-md2 no-md4 no-mdc2 no-rmd160 no-whirlpool no-gost no-dsa no-ec2m no-siv
	no-ocb no-scrypt no-srp no-psk no-srtp no-ssl3 no-tls1 no-dtls no-cms no-ts no-ocsp no-ct no-cmp
	no-comp no-sock"
build_openssl() {
	d=$1
	b=$W/obj/openssl
	rm -rf "$b"; mkdir -p "$b"
	cd "$b"
	run openssl perl "$d/Configure" mingw64 no-shared no-tests no-module no-engine no-dso \
		no-ui-console no-autoload-config $OPENSSL_TRIM --cross-compile-prefix=$HOST- \
		--prefix="$PREFIX" --libdir=lib --openssldir="$PREFIX/ssl" -O2 -g0
	run openssl $MAKE_J build_generated
	run openssl $MAKE_J libcrypto.a libcrypto.pc
	rm -rf "$PREFIX/include/openssl"
	mkdir -p "$PREFIX/include/openssl"
	cp "$d"/include/openssl/*.h "$PREFIX/include/openssl/"
	cp include/openssl/*.h "$PREFIX/include/openssl/"    # the generated ones
	cp libcrypto.a "$PREFIX/lib/"
	cp libcrypto.pc "$PREFIX/lib/pkgconfig/"
	cd "$top"
	relocate_pc "$PREFIX/lib/pkgconfig/libcrypto.pc"
}

# --- main -------------------------------------------------------------------

# Arguments: the libraries to build (default: all; libarchive needs zstd,
# bzip2 and xz built first).
wanted=" ${*:-zstd bzip2 xz libarchive sqlite3 openssl} "
wants() { case $wanted in *" $1 "*) return 0 ;; esac; return 1; }
MAKE_J="make -j$JOBS"
mkdir -p "$PREFIX/lib/pkgconfig"
write_zlib_pc
wants zstd       && build zstd       "$(src_of libzstd-dev libzstd1)"
wants bzip2      && build bzip2      "$(src_of libbz2-dev libbz2-1.0)"
wants xz         && build xz         "$(src_of liblzma-dev liblzma5)"
wants libarchive && build libarchive "$(src_of libarchive-dev libarchive13)"
wants sqlite3    && build sqlite3    "$(src_of libsqlite3-dev libsqlite3-0)"
# (the word after the source package marks the trimmed build: a library
# built before the trim is built again)
wants openssl    && build openssl    "$(src_of libssl-dev libssl3) trimmed"
exit 0
