# register/: the registry store, module API, out-of-process runner, .reg
# files; the `register` tool; test modules under tests/fixtures/modules.
REGISTER_SRCS := register/reg_store.c register/reg_capture.c register/reg_hresult.c \
	register/reg_runner.c register/reg_regfile.c register/reg_deps.c
# POSIX: keys in the SQLite store, the module API the tool exports to
# modules, ELF diagnosis. Windows: the real registry, modules call advapi32.
REGISTER_POSIX_SRCS := register/reg_keys_sqlite.c register/reg_api.c register/reg_winreg.c \
	register/reg_deps_posix.c register/reg_child_posix.c
REGISTER_WIN32_SRCS := register/reg_keys_win32.c register/reg_deps_win32.c \
	register/reg_child_win32.c
LIB_REGISTER := $(B)/libregister.a
$(LIB_REGISTER): $(call objs,$(REGISTER_SRCS) $(REGISTER_POSIX_SRCS))
MODULE_LIBS := $(LIB_REGISTER) $(MODULE_LIBS)

UNIT_TESTS += tests/unit/test_reg_store.c tests/unit/test_reg_capture.c \
	tests/unit/test_reg_regfile.c tests/unit/test_reg_runner.c

TOOLS += $(B)/bin/register
$(B)/bin/register: $(call objs,register/register_main.c) $(MODULE_LIBS)
# Modules resolve sk_reg_* / Reg*A from the process that loads them.
$(B)/bin/register: LDFLAGS += -rdynamic -Wl,--as-needed
$(B)/tests/test_reg_runner: LDFLAGS += -rdynamic

# Test modules: tests/fixtures/modules/X.c -> $(B)/modules/X.so, built the
# way a module author would (no setupkit library linked in).
REG_FIXTURES := good fail_class crash_segv crash_abort exit_mid hang flaky \
	no_unreg buggy_unreg noop needs_dep fork_daemon own_sqlite noisy
REG_MODULE_CFLAGS = -std=c11 -D_GNU_SOURCE -O1 -g -fPIC -shared -Wall -Wextra -Werror -Wmissing-prototypes -Iinclude
TEST_MODULES += $(patsubst %,$(B)/modules/%.so,$(REG_FIXTURES)) $(B)/modules/dep/libskdep.so

$(B)/modules/%.so: tests/fixtures/modules/%.c include/setupkit/reg.h include/setupkit/winreg.h
	@mkdir -p $(dir $@)
	$(CC) $(REG_MODULE_CFLAGS) -o $@ $<

# needs_dep.so links against libskdep.so, which lives in a directory that
# is not searched: loading needs_dep.so fails with a missing library.
$(B)/modules/dep/libskdep.so: tests/fixtures/modules/skdep.c
	@mkdir -p $(dir $@)
	$(CC) $(REG_MODULE_CFLAGS) -Wl,-soname,libskdep.so -o $@ $<

$(B)/modules/needs_dep.so: tests/fixtures/modules/needs_dep.c $(B)/modules/dep/libskdep.so
	@mkdir -p $(dir $@)
	$(CC) $(REG_MODULE_CFLAGS) -o $@ $< -L$(B)/modules/dep -lskdep

E2E_TESTS += tests/e2e/register_modules.sh tests/e2e/register_registry.sh
BENCH_SCRIPTS += tests/bench/bench_register.sh
BENCH_BINS += $(B)/bin/bench_register_baseline
$(B)/bin/bench_register_baseline: $(call objs,tests/bench/bench_register_baseline.c)
