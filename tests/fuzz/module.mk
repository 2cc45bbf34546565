# tests/fuzz/: libFuzzer targets for every parser of untrusted input and for
# recovery (issue 10). Included by the top Makefile after every module, so
# the modules' source lists are known here.
#
#   make fuzz           build, replay tests/fuzz/regress/, then fuzz each target
#                       for FUZZ_TIME seconds (default 60) from its seeds;
#                       fails on any crash, leak, UB or oracle abort
#   make fuzz-build     only build the targets (build/fuzz/bin/fuzz_*)
#   make fuzz FUZZ_TARGETS="journal payload" FUZZ_TIME=300
#
# The module libraries are rebuilt with clang, ASan, UBSan and libFuzzer's
# coverage into build/fuzz/ (the normal build is gcc's, in $(B)). `make
# check` also replays the regression inputs and the seeds through the same
# targets built with $(CC) and a small main() (tests/fuzz/replay.sh), so a
# fixed crash stays fixed without clang.

FUZZ_TARGETS ?= manifest answers regfile payload journal
FUZZ_TIME    ?= 60
FUZZ_CC      ?= clang
FZ           := build/fuzz

FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
# clang warns where gcc does not (-Wformat-nonliteral through -Wformat=2 in
# err.c's v*printf wrappers, string concatenation in reg_store.c's SQL
# table): those two are off; anything else clang finds is shown, and fails
# the build only in the fuzz files themselves.
FUZZ_WARN := $(filter-out -Werror,$(WARN)) -Wno-format-nonliteral -Wno-string-concatenation
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -g -O1 -fPIC $(FUZZ_WARN) \
	$(FUZZ_SAN) -fsanitize=fuzzer-no-link -I. -Iinclude $(PKG_CFLAGS)

FUZZ_LIB_NAMES := setup register payload manifests common
FUZZ_LIBS := $(patsubst %,$(FZ)/lib%.a,$(FUZZ_LIB_NAMES))
fuzz_objs = $(patsubst %.c,$(FZ)/obj/%.o,$(1))
$(FZ)/libcommon.a: $(call fuzz_objs,$(COMMON_SRCS) $(COMMON_POSIX_SRCS))
$(FZ)/libmanifests.a: $(call fuzz_objs,$(MANIFESTS_SRCS) $(MANIFESTS_POSIX_SRCS))
$(FZ)/libpayload.a: $(call fuzz_objs,$(PAYLOAD_SRCS) $(PAYLOAD_POSIX_SRCS))
$(FZ)/libregister.a: $(call fuzz_objs,$(REGISTER_SRCS) $(REGISTER_POSIX_SRCS))
$(FZ)/libsetup.a: $(call fuzz_objs,$(SETUP_SRCS) $(SETUP_POSIX_SRCS))

FUZZ_BINS := $(patsubst %,$(FZ)/bin/fuzz_%,$(FUZZ_TARGETS))
FUZZ_ALL_BINS := $(patsubst %,$(FZ)/bin/fuzz_%,manifest answers regfile payload journal)

$(FZ)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(FZ)/obj/tests/fuzz/%.o: tests/fuzz/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Werror $(CFLAGS) -MMD -MP -c -o $@ $<

$(FUZZ_LIBS): $(FZ)/lib%.a:
	@mkdir -p $(dir $@)
	@rm -f $@
	$(AR) rcs $@ $^

$(FUZZ_ALL_BINS): $(FZ)/bin/fuzz_%: $(FZ)/obj/tests/fuzz/fuzz_%.o $(FZ)/obj/tests/fuzz/fuzz_util.o $(FUZZ_LIBS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -fsanitize=fuzzer $(FUZZ_SAN) $(LDFLAGS) -o $@ $< $(FZ)/obj/tests/fuzz/fuzz_util.o \
		$(FUZZ_LIBS) $(PKG_LIBS)

# Seeds generated at build time (tests/fuzz/mkseeds.sh): the sample product
# through mkmedia, gcab's CABs, fuzz_mkseeds' hostile archives. The tool is
# built with $(CC) like the tests; the corpus is shared by both builds.
FUZZ_MKSEEDS := $(B)/fuzz-replay/fuzz_mkseeds
$(FUZZ_MKSEEDS): $(B)/obj/tests/fuzz/fuzz_mkseeds.o
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(PKG_LIBS)

FUZZ_CORPUS_STAMP := $(FZ)/corpus.stamp
$(FUZZ_CORPUS_STAMP): tests/fuzz/mkseeds.sh $(FUZZ_MKSEEDS) $(B)/bin/mkmedia $(EXAMPLES_OUT) \
		$(wildcard manifests/examples/*.ini)
	@mkdir -p $(FZ)
	@sh tests/fuzz/mkseeds.sh $(FZ)/corpus $(FUZZ_MKSEEDS) $(B)/bin/mkmedia $(EXAMPLES_TREE)
	@touch $@

.PHONY: fuzz _fuzz fuzz-build deps-fuzz
deps-fuzz:
	@scripts/deps.sh fuzz

fuzz-build: deps-fuzz
	@$(MAKE) --no-print-directory $(FUZZ_BINS)

fuzz: deps-fuzz
	@$(MAKE) --no-print-directory _fuzz

_fuzz: $(FUZZ_BINS) $(FUZZ_CORPUS_STAMP)
	@FZ=$(FZ) FUZZ_TIME=$(FUZZ_TIME) sh tests/fuzz/run.sh $(FUZZ_TARGETS)

# ---- make check: the same targets with $(CC), replaying inputs ----
FUZZ_REPLAY_BINS := $(patsubst %,$(B)/fuzz-replay/replay_%,manifest answers regfile payload journal)
$(FUZZ_REPLAY_BINS): $(B)/fuzz-replay/replay_%: $(B)/obj/tests/fuzz/fuzz_%.o $(B)/obj/tests/fuzz/fuzz_util.o \
		$(B)/obj/tests/fuzz/fuzz_replay_main.o $(MODULE_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $(filter %.o,$^) $(MODULE_LIBS) $(PKG_LIBS)

tests: $(FUZZ_REPLAY_BINS) $(FUZZ_CORPUS_STAMP)
FUZZ_REPLAY := tests/fuzz/replay.sh
E2E_TESTS += $(FUZZ_REPLAY)
