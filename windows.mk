# windows.mk - the mingw-w64 cross build (issue 11), included by the Makefile.
#
#   make windows-deps   install the cross compiler and cross-build, static,
#                       the libraries setupkit links against from Debian's
#                       sources into $(WIN_PREFIX) (scripts/windows-deps.sh)
#
# The variables below are for the `make windows` target to come: compile with
# $(CC_WIN) $(WIN_CFLAGS) $(WIN_PKG_CFLAGS), link with $(WIN_LDFLAGS) and
# $(WIN_PKG_LIBS). Like PKG_CFLAGS, the pkg-config ones are lazy (=): they are
# evaluated when a recipe runs, after windows-deps built the libraries.

WIN_HOST   ?= x86_64-w64-mingw32
CC_WIN     ?= $(WIN_HOST)-gcc
AR_WIN     ?= $(WIN_HOST)-ar
WIN_B      := build/windows
WIN_PREFIX ?= $(WIN_B)/deps
WIN_PKGS   := libarchive zlib sqlite3 libcrypto inih
# Only the prefix's .pc files, never the host's; --static, since the prefix
# holds static libraries only and their Libs.private are needed.
WIN_PKG_CONFIG = PKG_CONFIG_LIBDIR=$(abspath $(WIN_PREFIX))/lib/pkgconfig PKG_CONFIG_PATH= \
	PKG_CONFIG_SYSROOT_DIR= pkg-config --static
WIN_PKG_CFLAGS = $(shell $(WIN_PKG_CONFIG) --cflags $(WIN_PKGS))
WIN_PKG_LIBS   = $(shell $(WIN_PKG_CONFIG) --libs $(WIN_PKGS))
WIN_CFLAGS  := -std=c11 -D_FILE_OFFSET_BITS=64 -g -O2 $(WARN)
WIN_LDFLAGS := -static

.PHONY: windows-deps
windows-deps:
	@scripts/windows-deps.sh
