/*
 * setup_register.c - running a module's self-registration inside setup's
 * transaction, with the retry ladder of DESIGN.md:
 *   1. try, and retry with backoff (reg_module_run) for transient failures;
 *   2. if it still fails and the module on disk differs from the media's
 *      copy, replace it from the media (keeping the old copy as a backup,
 *      journaled like every other file) and try again;
 *   3. a needed library that is missing is named, with where it was looked
 *      for and, when the product ships it, which component provides it;
 *   4. still failing: the caller rolls back, or leaves the registration
 *      pending when the file has the `defer` flag.
 * The module is journaled before it runs, so rollback undoes its captures.
 */
#include "setup.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fault.h"
#include "common/mem.h"
#include "common/names.h"
#include "common/os.h"
#include "common/path.h"
#include "payload/payload.h"
#include "register/reg.h"

/* Add "provided by component X" hints for missing libraries the product
 * ships (reg_deps_diagnose says "missing library 'NAME'"). The check before
 * the install (setup_needed.c) catches most of these; this is the fallback
 * for what it cannot see (indirect dependencies, non-native objects). */
static void hint_providers(const struct manifest *m, struct err *e)
{
	for (int i = 0; i < m->nfiles; i++) {
		const char *base = path_basename(m->files[i].dest);
		char needle[300];
		size_t n = strlen(e->msg);

		snprintf(needle, sizeof(needle), "missing library '%s'", base);
		if (strstr(e->msg, needle) && n + 200 < sizeof(e->msg))
			snprintf(e->msg + n, sizeof(e->msg) - n,
				 "\n  '%s' is provided by component '%s' of %s: select that component", base,
				 m->files[i].component, m->product.name);
	}
}

/* Replace the module at real from the media, as an extra journaled op:
 * journaled first (invariant 1), then extracted and verified straight to
 * real.setupkit-new, then switched in. A crash anywhere in between leaves
 * only what rollback of that op removes. */
static int replace_from_media(struct setup_ctx *c, struct setup_txn *t, const struct manifest *m,
			      const char *media_dir, const struct manifest_file *f, const char *path,
			      const char *real, struct err *e)
{
	const struct manifest_component *comp = manifest_component_find(m, f->component);
	const struct manifest_payload *pl = comp ? manifest_payload_find(m, comp->payload) : NULL;
	struct payload_want want = { .name = f->entry, .size = f->size, .sha256 = f->sha256, .mode = f->mode };
	struct payload_staged_list got = { NULL, 0 };
	struct payload_limits lim = { 0, 0 };
	char *archive = NULL, *nw = NULL, *keep = NULL;
	int rc = -1;

	if (!pl)
		return err_set(e, ERR_CLASS_INTERNAL, "file '%s' has no payload on the media", f->id);
	lim.max_entries = pl->entries + 1;
	lim.max_bytes = pl->unpacked + 1;
	archive = mem_printf("%s/%s", media_dir, pl->archive);
	nw = mem_printf("%s%s", real, SK_NEW_SUFFIX);
	keep = mem_printf("/%s/%s/%lld-%d-%s", SK_BACKUP_DIR, t->product, (long long)t->id, t->nops,
			  path_basename(path));
	if (!archive || !nw || !keep) {
		err_nomem(e, "replacing a module from the media");
		goto out;
	}
	if (setup_txn_add(t, SETUP_OP_PUT, path, 1, keep, f->mode, e) ||
	    setup_journal_append_op(c, t, t->nops - 1, e))
		goto out;
	want.dest = nw;
	fault_point("ladder: extract from media");
	if (payload_extract_one(archive, NULL, &want, &lim, &got, e))
		goto out;
	/* STATE: journaled; the media's copy at real.setupkit-new */
	fault_point("ladder: switch in");
	{
		struct setup_txn one;

		memset(&one, 0, sizeof(one));
		one.id = t->id;
		one.ops = &t->ops[t->nops - 1];   /* borrowed: not destroyed */
		one.nops = 1;
		if (setup_txn_apply(c, &one, e))
			goto out;
	}
	setup_log(c, 1, "%s differed from the media's copy; replaced it from the media (old copy kept as %s)", real, keep);
	rc = 0;
out:
	if (rc && nw)
		os_unlink(nw);   /* the ladder may go on and commit: leave no T.setupkit-new */
	payload_staged_list_free(&got);
	mem_free(archive);
	mem_free(nw);
	mem_free(keep);
	return rc;
}

int setup_register_module(struct setup_ctx *c, struct setup_txn *t, const struct manifest *m,
			  const char *media_dir, const struct manifest_file *f, const char *path,
			  int *repaired, struct err *e)
{
	struct reg_run_opts ro;
	struct reg_retry retry = { c->o->reg_attempts ? c->o->reg_attempts : 3,
				   c->o->reg_backoff_ms ? c->o->reg_backoff_ms : 200 };
	char *real = setup_real(c, path);
	unsigned tries = 0;
	int rc;

	*repaired = 0;
	if (!real)
		return err_nomem(e, "registering a module");
	if (setup_txn_note_module(c, t, real, e)) {
		mem_free(real);
		return -1;
	}
	memset(&ro, 0, sizeof(ro));
	ro.module = real;
	ro.entry = REG_ENTRY_REGISTER;
	ro.root = c->root[0] ? c->root : "/";
	ro.helper = c->o->self;
	ro.timeout_ms = c->o->reg_timeout_ms;
	ro.quiet_child = 1;
	fault_point("register: before");
	rc = reg_module_run(c->store, &ro, &retry, &tries, e);
	fault_point("register: after");
	if (rc == 0) {
		setup_log(c, 1, "registered %s (%u attempt%s)", real, tries, tries == 1 ? "" : "s");
		mem_free(real);
		return 0;
	}
	setup_log(c, 1, "registration of %s failed after %u attempt%s: %s", real, tries, tries == 1 ? "" : "s", e->msg);
	if (media_dir && f->entry) {
		struct payload_hash h;
		struct err he;

		if (payload_hash_file(real, &h, &he) == 0 && strcmp(h.sha256, f->sha256) != 0) {
			setup_log(c, 1, "%s has sha256 %s but the media's copy has %s: replacing it from the media and trying again",
				  real, h.sha256, f->sha256);
			if (replace_from_media(c, t, m, media_dir, f, path, real, e)) {
				mem_free(real);
				return -1;
			}
			*repaired = 1;
			rc = reg_module_run(c->store, &ro, &retry, &tries, e);
			if (rc == 0) {
				setup_log(c, 1, "registered %s after replacing it from the media (%u attempt%s)", real, tries,
					  tries == 1 ? "" : "s");
				mem_free(real);
				return 0;
			}
			setup_log(c, 1, "registration of the media's copy of %s failed too: %s", real, e->msg);
		}
	}
	hint_providers(m, e);
	err_prefix(e, "module '%s' (file '%s' of component '%s') did not register", real, f->id, f->component);
	/* Out of memory is ours, not the module's: keep the class (exit 7). */
	if (e->cls != ERR_CLASS_NOMEM)
		e->cls = ERR_CLASS_MODULE;
	mem_free(real);
	return -1;
}
