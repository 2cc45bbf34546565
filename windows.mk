# windows.mk - the mingw-w64 cross build (issue 11), included by the Makefile.
#
#   make windows-deps   install the cross compiler and cross-build, static,
#                       the libraries setupkit links against from Debian's
#                       sources into $(WIN_PREFIX) (scripts/windows-deps.sh)
#
#   make windows        cross-compile build/windows/bin/register.exe: the
#                       portable sources of each module (<MODULE>_SRCS) plus
#                       its Windows platform files (<MODULE>_WIN32_SRCS)
#   make check-windows  run tests/windows/check.sh under Wine
#
# Like PKG_CFLAGS, the pkg-config flags are lazy (=): they are evaluated
# when a recipe runs, after windows-deps built the libraries.

WIN_HOST   ?= x86_64-w64-mingw32
CC_WIN     ?= $(WIN_HOST)-gcc
AR_WIN     ?= $(WIN_HOST)-ar
WIN_B      := build/windows
WIN_PREFIX ?= $(WIN_B)/deps
WIN_PKGS   := sqlite3
# Only the prefix's .pc files, never the host's; --static, since the prefix
# holds static libraries only and their Libs.private are needed.
WIN_PKG_CONFIG = PKG_CONFIG_LIBDIR=$(abspath $(WIN_PREFIX))/lib/pkgconfig PKG_CONFIG_PATH= \
	PKG_CONFIG_SYSROOT_DIR= pkg-config --static
WIN_PKG_CFLAGS = $(shell $(WIN_PKG_CONFIG) --cflags $(WIN_PKGS))
WIN_PKG_LIBS   = $(shell $(WIN_PKG_CONFIG) --libs $(WIN_PKGS))
WIN_CFLAGS  := -std=c11 -D_FILE_OFFSET_BITS=64 -D_WIN32_WINNT=0x0601 -g -O2 $(WARN) -I. -Iinclude
WIN_LDFLAGS := -static
WIN_SYSLIBS := -ladvapi32 -lshell32 -lole32

win_objs = $(patsubst %.c,$(WIN_B)/obj/%.o,$(1))
WIN_REGISTER_OBJS := $(call win_objs,register/register_main.c $(REGISTER_SRCS) \
	$(REGISTER_WIN32_SRCS) $(COMMON_SRCS) $(COMMON_WIN32_SRCS))

.PHONY: windows windows-deps check-windows
windows: windows-deps
	@$(MAKE) --no-print-directory $(WIN_B)/bin/register.exe

windows-deps:
	@scripts/windows-deps.sh sqlite3

check-windows: windows
	@tests/windows/check.sh $(WIN_B)

$(WIN_B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC_WIN) $(WIN_CFLAGS) $(WIN_PKG_CFLAGS) -MMD -MP -c -o $@ $<

$(WIN_B)/bin/register.exe: $(WIN_REGISTER_OBJS)
	@mkdir -p $(dir $@)
	$(CC_WIN) $(WIN_LDFLAGS) -o $@ $^ $(WIN_PKG_LIBS) $(WIN_SYSLIBS)
