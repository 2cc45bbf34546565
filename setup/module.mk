# setup/: the engine and the setup tool.
SETUP_SRCS := setup/setup_ctx.c setup/setup_state.c setup/setup_txn.c setup/setup_plan.c \
	setup/setup_fileversion.c setup/setup_media.c setup/setup_register.c \
	setup/setup_cmd_install.c setup/setup_cmd_uninstall.c setup/setup_cmd_query.c \
	setup/setup_cmd_recover.c \
	setup/setup_extension.c setup/setup_service.c setup/setup_cmd_services.c \
	setup/setup_cmd_sp.c setup/setup_needed.c \
	setup/setup_wizard.c
# Running commands, the root lock and Ctrl-C (setup_proc.h), the wizard's
# terminal (setup_term.h).
SETUP_POSIX_SRCS := setup/setup_proc_posix.c setup/setup_term_posix.c
SETUP_WIN32_SRCS := setup/setup_proc_win32.c setup/setup_term_win32.c
LIB_SETUP := $(B)/libsetup.a
$(LIB_SETUP): $(call objs,$(SETUP_SRCS) $(SETUP_POSIX_SRCS))
MODULE_LIBS := $(LIB_SETUP) $(MODULE_LIBS)
TOOLS += $(B)/bin/setup
# -rdynamic: the registration child (this same executable) exports the
# registry API that modules resolve at load time.
$(B)/bin/setup: LDFLAGS += -rdynamic
$(B)/bin/setup: $(call objs,setup/setup_main.c) $(MODULE_LIBS)

UNIT_TESTS += tests/unit/test_setup_needed.c tests/unit/test_setup_alloc.c

# make bench: a durable install against bsdtar+sync and dpkg (needs bench_payload).
BENCH_SCRIPTS += tests/bench/bench_install.sh
