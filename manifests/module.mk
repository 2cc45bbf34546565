# manifests/: the INI formats (inih), validation, versions.
MANIFESTS_SRCS := manifests/manifest_ini.c manifests/manifest_load.c \
	manifests/manifest_query.c manifests/manifest_version.c manifests/manifest_write.c
LIB_MANIFESTS := $(B)/libmanifests.a
$(LIB_MANIFESTS): $(call objs,$(MANIFESTS_SRCS))
MODULE_LIBS := $(LIB_MANIFESTS) $(MODULE_LIBS)
UNIT_TESTS += tests/unit/test_manifest_version.c tests/unit/test_manifest_formats.c \
	tests/unit/test_manifest_malformed.c
