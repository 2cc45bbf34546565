# manifests/: the INI formats (inih), validation, versions.
MANIFESTS_SRCS :=
LIB_MANIFESTS := $(B)/libmanifests.a
