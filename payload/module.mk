# payload/: archives (libarchive), hashes and signatures (libcrypto), media.
PAYLOAD_SRCS := payload/payload_hash.c payload/payload_read.c payload/payload_sign.c \
	payload/payload_write.c payload/payload_media.c
# No platform files of its own: its system calls go through common/os.h.
PAYLOAD_POSIX_SRCS :=
PAYLOAD_WIN32_SRCS :=
LIB_PAYLOAD := $(B)/libpayload.a
$(LIB_PAYLOAD): $(call objs,$(PAYLOAD_SRCS))
MODULE_LIBS := $(LIB_PAYLOAD) $(MODULE_LIBS)
UNIT_TESTS += tests/unit/test_payload_read.c tests/unit/test_payload_sign.c \
	tests/unit/test_payload_mkmedia.c
# Benchmark (make bench): tests/bench/bench_payload.sh drives this binary.
BENCH_BINS += $(B)/bin/bench_payload
$(B)/bin/bench_payload: $(call objs,tests/bench/bench_payload.c) $(MODULE_LIBS)
BENCH_SCRIPTS += tests/bench/bench_payload.sh
# The mkmedia tool (needs manifests/ for the definition and the manifest).
TOOLS += $(B)/bin/mkmedia
$(B)/bin/mkmedia: $(call objs,payload/mkmedia_main.c payload/mkmedia_slipstream.c) $(MODULE_LIBS)
