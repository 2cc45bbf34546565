# setupkit - one non-recursive Makefile. Each module's sources, library and
# tests are listed in its own <folder>/module.mk, included below; every rule
# lives here. Objects go to build/ (build/asan/ with SANITIZE=1).
#
#   make            build the libraries and the tools into build/
#   make check      run every test (installs missing dependencies first)
#   make demo       build and run the end-to-end demo in a temporary root
#   make asan       the whole suite under AddressSanitizer and UBSan
#   make valgrind   the whole suite under valgrind memcheck
# Tests run TEST_JOBS at a time (default: the number of CPUs).
#   make lint       cppcheck over the sources
#   make bench      benchmarks (see shared BENCHMARKS.md conventions)
#   make install    PREFIX=/usr/local DESTDIR=

PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
SANITIZE ?= 0

PKGS      := libarchive zlib sqlite3 libcrypto
# Lazy (=): evaluated when a recipe runs, after scripts/deps.sh installed them.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS)) -ldl -lpthread
CMOCKA_CFLAGS = $(shell pkg-config --cflags cmocka)
CMOCKA_LIBS   = $(shell pkg-config --libs cmocka)

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -g -O2 -fPIC $(WARN)
ifeq ($(SANITIZE),1)
B := build/asan
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
B := build
SAN :=
endif
ALL_CFLAGS = $(BASE_CFLAGS) $(SAN) -I. -Iinclude $(PKG_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(SAN) $(LDFLAGS)

objs = $(patsubst %.c,$(B)/obj/%.o,$(1))

# Each module.mk prepends its library, so at any point MODULE_LIBS lists the
# modules included so far, dependents first: right for linking.
MODULE_LIBS :=
UNIT_TESTS :=
E2E_TESTS :=
TOOLS :=
TEST_MODULES :=
BENCH_SCRIPTS :=
BENCH_BINS :=

include common/module.mk
-include manifests/module.mk
-include payload/module.mk
-include register/module.mk
-include setup/module.mk
include manifests/examples/examples.mk
include tests/module.mk
# The reliability suite (issue 10): crash and I/O-fault sweeps, fuzzing.
-include tests/crash/module.mk
-include tests/fuzz/module.mk
-include windows.mk

.PHONY: all build deps deps-test check _check demo _demo asan valgrind lint bench _bench install clean tools tests
.DEFAULT_GOAL := all
.SECONDARY:

all: deps
	@$(MAKE) --no-print-directory build

build: $(MODULE_LIBS) $(TOOLS) $(TEST_MODULES)

deps:
	@scripts/deps.sh build

deps-test:
	@scripts/deps.sh test

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/%.a:
	@mkdir -p $(dir $@)
	@rm -f $@
	$(AR) rcs $@ $^

# Tools: $(B)/bin/<name>; module.mk lists its objects and libraries.
$(B)/bin/%:
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $(filter %.o,$^) $(filter %.a,$^) $(PKG_LIBS)

# Unit tests: tests/unit/test_X.c -> $(B)/tests/test_X, linked with every library.
UNIT_BINS := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_TESTS))
$(B)/tests/%: $(B)/obj/tests/unit/%.o $(B)/obj/tests/unit/testutil.o $(MODULE_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(B)/obj/tests/unit/testutil.o $(MODULE_LIBS) $(PKG_LIBS) $(CMOCKA_LIBS)

$(B)/obj/tests/unit/%.o: tests/unit/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) -MMD -MP -c -o $@ $<

tests: $(UNIT_BINS) $(TOOLS) $(TEST_MODULES)

check: deps-test
	@$(MAKE) --no-print-directory _check

_check: tests
	@B=$(B) tests/run.sh $(notdir $(UNIT_BINS)) -- $(E2E_TESTS)

asan:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory _check SANITIZE=1

# The whole suite under valgrind memcheck (tests/valgrind.sh): unit tests
# and every process the e2e scripts start from our tools, children too. The
# e2e crash sweeps try VG_CRASH_POINTS points each there (default 5; each
# run costs seconds under valgrind), the shim's sweeps none (lib_crash.sh).
valgrind:
	@scripts/deps.sh valgrind
	@SK_VALGRIND=1 $(MAKE) --no-print-directory _check

demo: deps
	@$(MAKE) --no-print-directory _demo

_demo: build
	@B=$(B) scripts/demo.sh

bench: deps-test
	@$(MAKE) --no-print-directory _bench

_bench: build $(BENCH_BINS)
	@for s in $(BENCH_SCRIPTS); do echo "== $$s"; B=$(B) sh $$s || exit 1; done

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability,performance \
		--std=c11 --inline-suppr -I. -Iinclude -D__GNUC__ \
		common manifests payload register setup

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/include/setupkit \
		$(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/man/man5
	for t in $(TOOLS); do install -m 0755 $$t $(DESTDIR)$(PREFIX)/bin/; done
	install -m 0644 include/setupkit/*.h $(DESTDIR)$(PREFIX)/include/setupkit/
	for m in man/*.1; do [ -f "$$m" ] && install -m 0644 $$m $(DESTDIR)$(PREFIX)/share/man/man1/; done; true
	for m in man/*.5; do [ -f "$$m" ] && install -m 0644 $$m $(DESTDIR)$(PREFIX)/share/man/man5/; done; true
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(SK_VERSION)|g' setupkit.pc.in \
		> $(DESTDIR)$(PREFIX)/lib/pkgconfig/setupkit.pc
	[ -z "$(LIB_PUBLIC)" ] || install -d $(DESTDIR)$(PREFIX)/lib
	[ -z "$(LIB_PUBLIC)" ] || install -m 0644 $(LIB_PUBLIC) $(DESTDIR)$(PREFIX)/lib/

clean:
	rm -rf build

SK_VERSION := $(shell sed -n 's/^\#define SK_VERSION *"\(.*\)"/\1/p' common/names.h)

# Dependency files of our objects (not of the Windows dependencies' own
# source trees under build/windows/src).
-include $(shell find build -path build/windows/src -prune -o -name '*.d' -type f -print 2>/dev/null)
