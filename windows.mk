# windows.mk - the mingw-w64 cross build (issue 11), included by the Makefile.
#
#   make windows-deps   install the cross compiler and cross-build, static,
#                       the libraries setupkit links against from Debian's
#                       sources into $(WIN_PREFIX) (scripts/windows-deps.sh)
#
#   make windows        cross-compile build/windows/bin/register.exe and
#                       mkmedia.exe: the portable sources of each module
#                       (<MODULE>_SRCS) plus its Windows platform files
#                       (<MODULE>_WIN32_SRCS)
#   make check-windows  run tests/windows/check.sh under Wine (builds the
#                       Linux mkmedia and the example tree it compares with)
#
# Like PKG_CFLAGS, the pkg-config flags are lazy (=): they are evaluated
# when a recipe runs, after windows-deps built the libraries.

WIN_HOST   ?= x86_64-w64-mingw32
CC_WIN     ?= $(WIN_HOST)-gcc
AR_WIN     ?= $(WIN_HOST)-ar
WIN_B      := build/windows
WIN_PREFIX ?= $(WIN_B)/deps
# payload/ needs libarchive (and zlib, zstd, xz, bzip2 under it) and
# libcrypto; register/ and setup/ need sqlite3.
WIN_PKGS   := libarchive zlib sqlite3 libcrypto
# Only the prefix's .pc files, never the host's; --static, since the prefix
# holds static libraries only and their Libs.private are needed.
WIN_PKG_CONFIG = PKG_CONFIG_LIBDIR=$(abspath $(WIN_PREFIX))/lib/pkgconfig PKG_CONFIG_PATH= \
	PKG_CONFIG_SYSROOT_DIR= pkg-config --static
WIN_PKG_CFLAGS = $(shell $(WIN_PKG_CONFIG) --cflags $(WIN_PKGS))
WIN_PKG_LIBS   = $(shell $(WIN_PKG_CONFIG) --libs $(WIN_PKGS))
# __USE_MINGW_ANSI_STDIO: C99 printf (%zu, %lld), as common/err.h declares.
WIN_CFLAGS  := -std=c11 -D__USE_MINGW_ANSI_STDIO=1 -D_FILE_OFFSET_BITS=64 -D_WIN32_WINNT=0x0601 -g -O2 $(WARN) -I. -Iinclude
WIN_LDFLAGS := -static
# bcrypt (libarchive), crypt32 and ws2_32 (libcrypto) are in the .pc
# files' Libs.private already; named again since static order matters.
WIN_SYSLIBS := -ladvapi32 -lshell32 -lole32 -lbcrypt -lcrypt32 -lws2_32

win_objs = $(patsubst %.c,$(WIN_B)/obj/%.o,$(1))
WIN_REGISTER_OBJS := $(call win_objs,register/register_main.c $(REGISTER_SRCS) \
	$(REGISTER_WIN32_SRCS) $(COMMON_SRCS) $(COMMON_WIN32_SRCS))
WIN_SETUP_OBJS := $(call win_objs,setup/setup_main.c $(SETUP_SRCS) $(SETUP_WIN32_SRCS) \
	$(REGISTER_SRCS) $(REGISTER_WIN32_SRCS) $(PAYLOAD_SRCS) $(PAYLOAD_WIN32_SRCS) \
	$(MANIFESTS_SRCS) $(MANIFESTS_WIN32_SRCS) $(COMMON_SRCS) $(COMMON_WIN32_SRCS))
WIN_MKMEDIA_OBJS := $(call win_objs,payload/mkmedia_main.c payload/mkmedia_slipstream.c \
	$(PAYLOAD_SRCS) $(PAYLOAD_WIN32_SRCS) $(MANIFESTS_SRCS) $(MANIFESTS_WIN32_SRCS) \
	$(COMMON_SRCS) $(COMMON_WIN32_SRCS))

# The sample product's modules as real Windows DLLs, from the same sources
# as the .so files (examples.mk): on Windows <setupkit/reg.h> maps the
# sk_reg_* calls onto advapi32, and <setupkit/winreg.h> is <windows.h>.
# Their tree, with the sample's text files, is the source of
# manifests/examples/mailsuite-windows.ini's media.
WIN_EX_TREE := $(WIN_B)/examples/tree
WIN_EX := $(WIN_EX_TREE)/modules
WIN_EX_CFLAGS := -std=c11 -O2 $(WARN) -shared -Iinclude
WIN_EX_H := $(EXAMPLES_WIN_H) include/setupkit/reg_win32.h include/setupkit/reg_win32_impl.h
WIN_EXAMPLES := $(WIN_EX)/inetcomm.dll $(WIN_EX)/chatsvc.dll $(WIN_EX)/chatcfg.dll $(WIN_EX)/immod.dll \
	$(WIN_EX_TREE)/doc/README.txt $(WIN_EX_TREE)/etc/mail.conf \
	$(WIN_EX_TREE)/sp1/modules/inetcomm.dll $(WIN_EX_TREE)/sp2/modules/chatcfg.dll

.PHONY: windows windows-deps check-windows
windows: windows-deps
	@$(MAKE) --no-print-directory $(WIN_B)/bin/register.exe $(WIN_B)/bin/mkmedia.exe \
		$(WIN_B)/bin/setup.exe \
		$(WIN_EXAMPLES)

windows-deps:
	@scripts/windows-deps.sh zstd bzip2 xz libarchive sqlite3 openssl

# check.sh compares mkmedia.exe's media with the Linux mkmedia's, built
# from the example tree: both come from the Linux build.
check-windows: windows deps
	@$(MAKE) --no-print-directory $(B)/bin/mkmedia examples
	@tests/windows/check.sh $(WIN_B)

$(WIN_B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC_WIN) $(WIN_CFLAGS) $(WIN_PKG_CFLAGS) -MMD -MP -c -o $@ $<

$(WIN_B)/bin/register.exe: $(WIN_REGISTER_OBJS)
	@mkdir -p $(dir $@)
	$(CC_WIN) $(WIN_LDFLAGS) -o $@ $^ $(WIN_PKG_LIBS) $(WIN_SYSLIBS)

$(WIN_B)/bin/setup.exe: $(WIN_SETUP_OBJS)
	@mkdir -p $(dir $@)
	$(CC_WIN) $(WIN_LDFLAGS) -o $@ $^ $(WIN_PKG_LIBS) $(WIN_SYSLIBS)

$(WIN_B)/bin/mkmedia.exe: $(WIN_MKMEDIA_OBJS)
	@mkdir -p $(dir $@)
	$(CC_WIN) $(WIN_LDFLAGS) -o $@ $^ $(WIN_PKG_LIBS) $(WIN_SYSLIBS)

# The service packs' modules (sp1-windows.ini, sp2-windows.ini): the
# version and features by macro, as in examples.mk.
$(WIN_EX)/inetcomm.dll: WIN_EX_DEFS := -DINETCOMM_VERSION='"5.5.2448.0"'
$(WIN_EX_TREE)/sp1/modules/inetcomm.dll: WIN_EX_DEFS := -DINETCOMM_VERSION='"5.5.2448.1"' \
	-DINETCOMM_FEATURES='"sp1"'
$(WIN_EX)/inetcomm.dll $(WIN_EX_TREE)/sp1/modules/inetcomm.dll: $(EX_INETCOMM) \
		$(EXAMPLES_SRC)/inetcomm/inetcomm.h $(WIN_EX_H)
	@mkdir -p $(dir $@)
	$(CC_WIN) $(WIN_EX_CFLAGS) $(WIN_EX_DEFS) -o $@ $< -ladvapi32

$(WIN_EX)/chatsvc.dll: $(EXAMPLES_SRC)/libchatsvc/chatsvc.c $(EXAMPLES_SRC)/libchatsvc/chatsvc.h
	@mkdir -p $(dir $@)
	$(CC_WIN) $(WIN_EX_CFLAGS) -o $@ $<

# chatcfg imports chatsvc.dll, found beside it (the DLL's own folder).
$(WIN_EX)/chatcfg.dll: WIN_EX_DEFS := -DCHATCFG_VERSION='"5.5.2448.0"'
$(WIN_EX_TREE)/sp2/modules/chatcfg.dll: WIN_EX_DEFS := -DCHATCFG_VERSION='"5.5.2448.2"' \
	-DCHATCFG_FEATURES='"sp2"'
$(WIN_EX)/chatcfg.dll $(WIN_EX_TREE)/sp2/modules/chatcfg.dll: $(EX_CHATCFG) \
		$(EXAMPLES_SRC)/libchatsvc/chatsvc.h $(WIN_EX_H) $(WIN_EX)/chatsvc.dll
	@mkdir -p $(dir $@)
	$(CC_WIN) $(WIN_EX_CFLAGS) $(WIN_EX_DEFS) -o $@ $< $(WIN_EX)/chatsvc.dll -ladvapi32

$(WIN_EX)/immod.dll: $(EX_IMMOD) $(WIN_EX_H)
	@mkdir -p $(dir $@)
	$(CC_WIN) $(WIN_EX_CFLAGS) -DIMMOD_VERSION='"5.5.2448.0"' -o $@ $< -ladvapi32

$(WIN_EX_TREE)/doc/README.txt $(WIN_EX_TREE)/etc/mail.conf: $(WIN_EX_TREE)/%: $(EXAMPLES_SRC)/%
	@mkdir -p $(dir $@)
	cp $< $@
