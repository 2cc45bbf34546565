# manifests/examples/: the source tree of the sample product "Example Mail
# Suite" (mailsuite.ini, sp1.ini .. sp4.ini). `make examples` builds
# $(EXAMPLES_TREE), holding every `source =` path those manifests name:
#   mkmedia build manifests/examples/mailsuite.ini --source $(EXAMPLES_TREE) ...
# Modules are built like test modules (no setupkit library linked: the
# sk_reg_* symbols come from the process that loads them). Versions are
# SCCS what-strings (<setupkit/version.h>) and must match the manifests.

EXAMPLES_TREE := $(B)/examples/tree
EXAMPLES_SRC  := manifests/examples/src
EXAMPLES_MOD_CFLAGS = -shared -fPIC $(BASE_CFLAGS) $(SAN) -Iinclude
EXAMPLES_PUB_H := include/setupkit/reg.h include/setupkit/version.h
EXAMPLES_WIN_H := $(EXAMPLES_PUB_H) include/setupkit/winreg.h $(EXAMPLES_SRC)/common/excom.h

EXAMPLES_FILES := \
	bin/svcctl bin/mailsvc bin/chatsvc doc/README.txt etc/mail.conf \
	modules/inetcomm.so modules/libchatsvc.so.1 modules/chatcfg.so modules/immod.so \
	sp1/modules/inetcomm.so sp1/bin/mailsvc \
	sp2/modules/chatcfg.so \
	sp3/modules/immod.so \
	sp4/modules/inetcomm.so
EXAMPLES_OUT := $(addprefix $(EXAMPLES_TREE)/,$(EXAMPLES_FILES))
TEST_MODULES += $(EXAMPLES_OUT)

.PHONY: examples
examples: $(EXAMPLES_OUT)

# ---- modules: one source each, the version (and SP extras) by macro ----
EX_INETCOMM := $(EXAMPLES_SRC)/inetcomm/inetcomm.c
$(EXAMPLES_TREE)/modules/inetcomm.so: EX_DEFS := -DINETCOMM_VERSION='"5.5.2448.0"'
$(EXAMPLES_TREE)/sp1/modules/inetcomm.so: EX_DEFS := -DINETCOMM_VERSION='"5.5.2448.1"' \
	-DINETCOMM_FEATURES='"sp1"'
$(EXAMPLES_TREE)/sp4/modules/inetcomm.so: EX_DEFS := -DINETCOMM_VERSION='"5.5.2448.4"' \
	-DINETCOMM_FEATURES='"sp4"'
$(EXAMPLES_TREE)/modules/inetcomm.so $(EXAMPLES_TREE)/sp1/modules/inetcomm.so \
$(EXAMPLES_TREE)/sp4/modules/inetcomm.so: $(EX_INETCOMM) \
		$(EXAMPLES_SRC)/inetcomm/inetcomm.h $(EXAMPLES_WIN_H)
	@mkdir -p $(dir $@)
	$(CC) $(EXAMPLES_MOD_CFLAGS) $(EX_DEFS) -o $@ $(EX_INETCOMM)

# The chat runtime: a plain library with a soname, not a module.
$(EXAMPLES_TREE)/modules/libchatsvc.so.1: $(EXAMPLES_SRC)/libchatsvc/chatsvc.c \
		$(EXAMPLES_SRC)/libchatsvc/chatsvc.h include/setupkit/version.h
	@mkdir -p $(dir $@)
	$(CC) $(EXAMPLES_MOD_CFLAGS) -Wl,-soname,libchatsvc.so.1 -o $@ $<

# chatcfg links against libchatsvc.so.1 and finds it beside itself
# ({app}/lib) through DT_RUNPATH $ORIGIN.
EX_CHATCFG := $(EXAMPLES_SRC)/chatcfg/chatcfg.c
$(EXAMPLES_TREE)/modules/chatcfg.so: EX_DEFS := -DCHATCFG_VERSION='"5.5.2448.0"'
$(EXAMPLES_TREE)/sp2/modules/chatcfg.so: EX_DEFS := -DCHATCFG_VERSION='"5.5.2448.2"' \
	-DCHATCFG_FEATURES='"sp2"'
$(EXAMPLES_TREE)/modules/chatcfg.so $(EXAMPLES_TREE)/sp2/modules/chatcfg.so: $(EX_CHATCFG) \
		$(EXAMPLES_SRC)/libchatsvc/chatsvc.h $(EXAMPLES_WIN_H) \
		$(EXAMPLES_TREE)/modules/libchatsvc.so.1
	@mkdir -p $(dir $@)
	$(CC) $(EXAMPLES_MOD_CFLAGS) $(EX_DEFS) -o $@ $(EX_CHATCFG) \
		-L$(EXAMPLES_TREE)/modules -l:libchatsvc.so.1 \
		-Wl,-rpath,'$$ORIGIN' -Wl,--enable-new-dtags

EX_IMMOD := $(EXAMPLES_SRC)/immod/immod.c
$(EXAMPLES_TREE)/modules/immod.so: EX_DEFS := -DIMMOD_VERSION='"5.5.2448.0"'
$(EXAMPLES_TREE)/sp3/modules/immod.so: EX_DEFS := -DIMMOD_VERSION='"5.5.2448.3"' \
	-DIMMOD_FEATURES='"sp3"'
$(EXAMPLES_TREE)/modules/immod.so $(EXAMPLES_TREE)/sp3/modules/immod.so: $(EX_IMMOD) \
		$(EXAMPLES_PUB_H) $(EXAMPLES_SRC)/common/excom.h
	@mkdir -p $(dir $@)
	$(CC) $(EXAMPLES_MOD_CFLAGS) $(EX_DEFS) -o $@ $(EX_IMMOD)

# ---- scripts and data ----
# The stand-in services share one template: @NAME@ and @VERSION@.
$(EXAMPLES_TREE)/bin/mailsvc: EX_SVC := mailsvc 5.5.2448.0
$(EXAMPLES_TREE)/sp1/bin/mailsvc: EX_SVC := mailsvc 5.5.2448.1
$(EXAMPLES_TREE)/bin/chatsvc: EX_SVC := chatsvc 5.5.2448.0
$(EXAMPLES_TREE)/bin/mailsvc $(EXAMPLES_TREE)/sp1/bin/mailsvc $(EXAMPLES_TREE)/bin/chatsvc: \
		$(EXAMPLES_SRC)/bin/service.in
	@mkdir -p $(dir $@)
	sed -e 's/@NAME@/$(word 1,$(EX_SVC))/g' -e 's/@VERSION@/$(word 2,$(EX_SVC))/g' \
		$< >$@.tmp
	chmod 0755 $@.tmp
	mv -f $@.tmp $@

$(EXAMPLES_TREE)/bin/svcctl: $(EXAMPLES_SRC)/bin/svcctl
	@mkdir -p $(dir $@)
	install -m 0755 $< $@

$(EXAMPLES_TREE)/doc/README.txt $(EXAMPLES_TREE)/etc/mail.conf: $(EXAMPLES_TREE)/%: \
		$(EXAMPLES_SRC)/%
	@mkdir -p $(dir $@)
	install -m 0644 $< $@
