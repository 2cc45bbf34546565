# common/: error object, allocation wrapper, paths, on-disk names.
# <MODULE>_SRCS build on both systems; _POSIX_SRCS here, _WIN32_SRCS in
# the Windows build (windows.mk).
COMMON_SRCS := common/err.c common/fault.c common/mem.c common/path.c
COMMON_POSIX_SRCS := common/os_posix.c
COMMON_WIN32_SRCS := common/os_win32.c
LIB_COMMON := $(B)/libcommon.a
$(LIB_COMMON): $(call objs,$(COMMON_SRCS) $(COMMON_POSIX_SRCS))
MODULE_LIBS := $(LIB_COMMON) $(MODULE_LIBS)
UNIT_TESTS += tests/unit/test_common_err.c tests/unit/test_common_path.c
