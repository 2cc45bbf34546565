# common/: error object, allocation wrapper, paths, on-disk names.
COMMON_SRCS := common/err.c common/fault.c common/mem.c common/path.c
LIB_COMMON := $(B)/libcommon.a
$(LIB_COMMON): $(call objs,$(COMMON_SRCS))
MODULE_LIBS := $(LIB_COMMON) $(MODULE_LIBS)
UNIT_TESTS += tests/unit/test_common_err.c tests/unit/test_common_path.c
