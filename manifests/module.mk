# manifests/: the INI formats, validation, versions.
MANIFESTS_SRCS := manifests/manifest_ini.c manifests/manifest_load.c \
	manifests/manifest_query.c manifests/manifest_version.c manifests/manifest_write.c
# The directories behind {sys} {etc} {var} {bin}, and install directory rules.
MANIFESTS_POSIX_SRCS := manifests/manifest_os_posix.c
MANIFESTS_WIN32_SRCS := manifests/manifest_os_win32.c
LIB_MANIFESTS := $(B)/libmanifests.a
$(LIB_MANIFESTS): $(call objs,$(MANIFESTS_SRCS) $(MANIFESTS_POSIX_SRCS))
MODULE_LIBS := $(LIB_MANIFESTS) $(MODULE_LIBS)
UNIT_TESTS += tests/unit/test_manifest_version.c tests/unit/test_manifest_formats.c \
	tests/unit/test_manifest_malformed.c
