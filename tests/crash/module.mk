# tests/crash/: the crash and I/O-fault sweeps of issue 10. An LD_PRELOAD
# shim (syscall_fault.so) counts the mutating system calls of one `setup`
# run and kills it, or fails a call, at the k-th; the sweeps drive it.
#   make check        runs both sweeps sampled (every CRASH_STEP=7th point)
#   make check-crash  runs both at every point (CRASH_STEP=1)
# The shim is built without the sanitizers and without _FILE_OFFSET_BITS=64
# (open and open64 must stay two symbols); it is not linked with setupkit.
CRASH_SHIM := $(B)/tests/crash/syscall_fault.so
CRASH_SWEEPS := tests/crash/crash_sweep.sh tests/crash/io_fault_sweep.sh
TEST_MODULES += $(CRASH_SHIM)
E2E_TESTS += $(CRASH_SWEEPS)

$(CRASH_SHIM): tests/crash/syscall_fault.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE -g -O2 -shared -fPIC $(WARN) -o $@ $< -ldl

.PHONY: check-crash _check-crash
check-crash: deps-test
	@$(MAKE) --no-print-directory _check-crash

_check-crash: tests
	@CRASH_STEP=1 B=$(B) tests/run.sh -- $(CRASH_SWEEPS)
