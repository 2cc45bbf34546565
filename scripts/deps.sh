#!/bin/sh
# deps.sh - make sure the build and test dependencies are installed.
#
# Usage: scripts/deps.sh [build|test|bench|valgrind|fuzz]
#   build: compiler tools and the -dev packages the libraries link against
#   test:  build + cmocka and the tools the tests drive (gcab, bsdtar, tmux)
#   bench: test + dpkg-deb baselines
#   valgrind: test + valgrind (make valgrind)
#   fuzz:  test + clang and its libFuzzer runtime (make fuzz)
# When something is missing: as root, install it with apt-get; otherwise
# print the exact apt-get command and exit 1. Prints nothing when all is there.
set -u
level=${1:-build}

need_pkgs=""
add() { need_pkgs="$need_pkgs $1"; }

have_pc() { command -v pkg-config >/dev/null 2>&1 && pkg-config --exists "$1" 2>/dev/null; }

command -v pkg-config >/dev/null 2>&1 || add pkg-config
have_pc libarchive || add libarchive-dev
have_pc zlib       || add zlib1g-dev
have_pc sqlite3    || add libsqlite3-dev
have_pc libcrypto  || add libssl-dev
command -v zstd >/dev/null 2>&1 || add zstd
command -v xz >/dev/null 2>&1 || add xz-utils
command -v gzip >/dev/null 2>&1 || add gzip
if [ "$level" != build ]; then
	have_pc cmocka || add libcmocka-dev
	command -v gcab   >/dev/null 2>&1 || add gcab
	command -v bsdtar >/dev/null 2>&1 || add libarchive-tools
	command -v tmux   >/dev/null 2>&1 || add tmux
	command -v sqlite3 >/dev/null 2>&1 || add sqlite3   # register e2e: PRAGMA integrity_check
fi
# libFuzzer: Debian 12 ships its runtime (libclang_rt.fuzzer) in
# libclang-rt-N-dev, which clang-N only recommends, so it is named here and
# checked by linking a target, the one test that does not depend on where a
# given clang keeps its runtimes.
have_libfuzzer() {
	echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }' |
		clang -fsanitize=fuzzer -x c - -o /dev/null >/dev/null 2>&1
}
if [ "$level" = fuzz ]; then
	if ! command -v clang >/dev/null 2>&1; then
		add clang
		add libclang-rt-dev
	elif ! have_libfuzzer; then
		add "libclang-rt-$(clang -dumpversion | cut -d. -f1)-dev"
	fi
fi
if [ "$level" = valgrind ]; then
	command -v valgrind >/dev/null 2>&1 || add valgrind
fi

[ -z "$need_pkgs" ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "deps: installing:$need_pkgs" >&2
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get install -y -q --no-install-recommends $need_pkgs >/dev/null 2>&1; then
		apt-get update -q >/dev/null 2>&1
		apt-get install -y -q --no-install-recommends $need_pkgs >&2 || {
			echo "deps: apt-get install failed for:$need_pkgs" >&2
			exit 1
		}
	fi
	exit 0
fi
echo "deps: missing packages:$need_pkgs" >&2
echo "deps: install them with:  sudo apt-get install$need_pkgs" >&2
exit 1
