/*
 * setup_cmd_uninstall.c - `setup uninstall PRODUCT`: remove the product's
 * files (a shared file only when no other product still references it),
 * put back the files it had replaced from their backups, undo every
 * registry write its modules and its own entries made (captured writes, so
 * even a module with a buggy DllUnregisterServer leaves nothing behind), and
 * forget it. One transaction: files switch out first, then the registry
 * undo, the state change and the commit mark go in ONE SQLite transaction.
 * The product's backup stores go too: the service packs' backups (no pack
 * of a product that is gone can be removed) file by file, and the store
 * directories, removed at commit once empty.
 */
#include "setup.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/fault.h"
#include "common/mem.h"
#include "common/names.h"
#include "common/os.h"
#include "common/path.h"
#include "register/reg.h"

static int add_dir(char ***dirs, int *ndirs, const char *d)
{
	char **n = mem_realloc_array(*dirs, (size_t)*ndirs + 1, sizeof(*n));

	if (!n)
		return -1;
	*dirs = n;
	if (!(n[*ndirs] = mem_strdup(d)))
		return -1;
	(*ndirs)++;
	return 0;
}

/* A REMOVE op for every file of the store directory rel (one pack level). */
static int plan_level_removal(struct setup_ctx *c, struct setup_txn *t, const char *rel, struct err *e)
{
	char *real = setup_real(c, rel);
	struct os_dir *d = real ? os_opendir(real) : NULL;
	const char *fe;
	int rc = 0;

	if (!d) {
		rc = real ? err_errno(e, "cannot read the service pack backup store '%s'", real)
			  : err_nomem(e, "planning the removal of the backup stores");
		mem_free(real);
		return rc;
	}
	while (rc == 0 && (fe = os_readdir(d))) {
		char *f;

		if (strcmp(fe, ".") == 0 || strcmp(fe, "..") == 0)
			continue;
		f = path_join(rel, fe);
		if (!f) {
			rc = err_nomem(e, "planning the removal of the backup stores");
			break;
		}
		setup_log(c, 0, "remove the service pack backup %s", f);
		rc = setup_txn_add(t, SETUP_OP_REMOVE, f, 1, NULL, 0, e);
		mem_free(f);
	}
	os_closedir(d);
	mem_free(real);
	return rc;
}

/* Plan the removal of the product's backup stores: a REMOVE op per file of
 * SK_SPBACKUP_DIR/PRODUCT/LEVEL/, and in *dirs (parents first) the store
 * directories that exist, for setup_txn_note_dir once the journal is open.
 * SK_BACKUP_DIR/PRODUCT's files are the RESTORE ops' backups, dropped at
 * finish; only its directory is added. */
static int plan_store_removal(struct setup_ctx *c, struct setup_txn *t, const char *product,
			      char ***dirs, int *ndirs, struct err *e)
{
	char *bk = mem_printf("/%s/%s", SK_BACKUP_DIR, product);
	char *sp = mem_printf("/%s/%s", SK_SPBACKUP_DIR, product);
	char *real = NULL;
	struct os_dir *d = NULL;
	const char *de;
	int rc = -1;

	if (!bk || !sp)
		goto nomem;
	if (!(real = setup_real(c, bk)))
		goto nomem;
	if (path_exists(real) && add_dir(dirs, ndirs, bk))
		goto nomem;
	mem_free(real);
	if (!(real = setup_real(c, sp)))
		goto nomem;
	d = os_opendir(real);
	if (!d) {
		rc = errno == ENOENT ? 0 : err_errno(e, "cannot read the service packs' backup store '%s'", real);
		goto out;
	}
	if (add_dir(dirs, ndirs, sp))
		goto nomem;
	while ((de = os_readdir(d))) {
		char *lvl;

		if (de[0] == '.')
			continue;
		if (!(lvl = path_join(sp, de)) || add_dir(dirs, ndirs, lvl)) {
			mem_free(lvl);
			goto nomem;
		}
		rc = plan_level_removal(c, t, lvl, e);
		mem_free(lvl);
		if (rc)
			goto out;
	}
	rc = 0;
	goto out;
nomem:
	rc = err_nomem(e, "planning the removal of the backup stores");
out:
	os_closedir(d);
	mem_free(real);
	mem_free(bk);
	mem_free(sp);
	return rc;
}

int setup_cmd_uninstall(const struct setup_opts *o, const char *product, struct err *e)
{
	struct setup_ctx c;
	struct setup_product prod;
	struct setup_file_rec *files = NULL;
	struct manifest *m = NULL;
	struct setup_txn t;
	char **dirs = NULL, **modules = NULL, **store_dirs = NULL, **kept = NULL;
	int nfiles = 0, ndirs = 0, nmodules = 0, nstore_dirs = 0, nkept = 0, rc = -1, journaled = 0, found;
	struct setup_services sv;

	memset(&sv, 0, sizeof(sv));
	memset(&t, 0, sizeof(t));
	memset(&prod, 0, sizeof(prod));
	if (setup_ctx_open(&c, o, "uninstall", e))
		goto out;
	found = setup_state_product(&c, product, &prod, e);
	if (found <= 0) {
		if (found == 0)
			err_set(e, ERR_CLASS_NOTFOUND, "product '%s' is not installed on '%s'; 'setup status' lists what is",
				product, c.root[0] ? c.root : "/");
		goto out;
	}
	if (manifest_load_buffer("installed manifest", prod.manifest, strlen(prod.manifest), MANIFEST_MEDIA, &m, e) ||
	    setup_state_files(&c, product, &files, &nfiles, e) || setup_state_dirs(&c, product, &dirs, &ndirs, e) ||
	    setup_state_kept_modules(&c, product, &kept, &nkept, e))
		goto out;
	setup_log(&c, 1, "uninstall %s %s from '%s'", prod.name, prod.version, prod.install_dir);

	if (setup_txn_init(&t, "uninstall", product, e))
		goto out;
	modules = mem_array((size_t)nfiles + (size_t)nkept + 2, sizeof(char *));
	if (!modules) {
		err_nomem(e, "planning the uninstall");
		goto out;
	}
	for (int i = 0; i < nfiles; i++) {
		struct setup_file_rec *f = &files[i];
		char *real = setup_real(&c, f->path), *backup = NULL;
		int refs = setup_state_file_refs(&c, f->path, product, e), hb;

		if (!real || refs < 0) {
			mem_free(real);
			if (!err_is_set(e))
				err_nomem(e, "planning the uninstall");
			goto out;
		}
		if (refs > 0) {
			setup_log(&c, 0, "keep %s: still used by %d other product%s", f->path, refs, refs == 1 ? "" : "s");
			mem_free(real);
			continue;
		}
		if ((f->flags & MANIFEST_FILE_SELFREG) && !(modules[nmodules++] = mem_strdup(real))) {
			nmodules--;
			mem_free(real);
			err_nomem(e, "planning the uninstall");
			goto out;
		}
		hb = setup_state_backup_get(&c, product, f->path, &backup, e);
		if (hb < 0) {
			mem_free(real);
			goto out;
		}
		if (hb)
			rc = setup_txn_add(&t, SETUP_OP_RESTORE, f->path, path_exists(real), backup, 0, e);
		else if (path_exists(real))
			rc = setup_txn_add(&t, SETUP_OP_REMOVE, f->path, 1, NULL, 0, e);
		else
			rc = 0;
		setup_log(&c, 0, "%s %s", hb ? "restore the old copy of" : "remove", f->path);
		mem_free(backup);
		mem_free(real);
		if (rc)
			goto out;
		rc = -1;
	}
	/* Modules registered but not owned (kept files): their registration
	 * is undone like the others', the file stays. */
	for (int i = 0; i < nkept; i++) {
		if (!(modules[nmodules] = setup_real(&c, kept[i]))) {
			err_nomem(e, "planning the uninstall");
			goto out;
		}
		nmodules++;
		setup_log(&c, 0, "keep %s (it was there before the install), undo its registration", kept[i]);
	}
	if (plan_store_removal(&c, &t, product, &store_dirs, &nstore_dirs, e))
		goto out;
	if (setup_txn_begin(&c, &t, e))
		goto out;
	journaled = 1;
	for (int i = ndirs - 1; i >= 0; i--)   /* listed deepest first */
		if (setup_txn_note_dir(&c, &t, dirs[i], e))
			goto rollback;
	for (int i = 0; i < nstore_dirs; i++)   /* parents first */
		if (setup_txn_note_dir(&c, &t, store_dirs[i], e))
			goto rollback;
	/* The before-uninstall extensions, then the services stop (reverse
	 * start order) while their files are still in place. */
	if (setup_extensions_run(&c, m, MANIFEST_POINT_BEFORE_UNINSTALL, NULL, prod.install_dir, "uninstall", t.id, e) ||
	    setup_services_init(&sv, &c, m, prod.install_dir, "uninstall", t.id, e) ||
	    setup_services_stop_set(&sv, NULL, e))
		goto rollback;

	/* Give each module's DllUnregisterServer its say while it is still on
	 * disk; its writes are discarded, the captures decide what goes. */
	for (int i = 0; i < nmodules; i++) {
		struct reg_run_opts ro;
		struct reg_run_result rr;
		struct err ue;

		memset(&ro, 0, sizeof(ro));
		memset(&rr, 0, sizeof(rr));
		ro.module = modules[i];
		ro.entry = REG_ENTRY_UNREGISTER;
		ro.root = c.root[0] ? c.root : "/";
		ro.helper = o->self;
		ro.timeout_ms = o->reg_timeout_ms;
		ro.quiet_child = 1;
		fault_point("unregister call");
		if (reg_run(&ro, &rr, &ue) != 0)
			setup_log(&c, 1, "could not run DllUnregisterServer of %s: %s (its captured writes are undone anyway)", modules[i], ue.msg);
		else if (rr.stage != REG_STAGE_DONE && rr.stage != REG_STAGE_ENTRY)
			setup_log(&c, 1, "DllUnregisterServer of %s did not succeed (%s); its captured writes are undone anyway",
				  modules[i], rr.detail[0] ? rr.detail : "failed");
		reg_run_result_destroy(&rr);
	}
	if (setup_txn_apply(&c, &t, e))
		goto rollback;

	/* One SQLite transaction: registry back as before, product forgotten,
	 * journal committed. */
	if (setup_state_begin(&c, e))
		goto rollback;
	{
		char pm[256];
		unsigned conflicts = 0;

		/* Undo newest first: later writes may sit inside keys that
		 * earlier ones created. The product's own entries join the list. */
		snprintf(pm, sizeof(pm), "product:%s", product);
		if (!(modules[nmodules] = mem_strdup(pm))) {
			err_nomem(e, "undoing registry writes");
			goto rollback_sql;
		}
		nmodules++;
		if (setup_state_sort_by_capture(&c, modules, nmodules, e))
			goto rollback_sql;
		for (int i = 0; i < nmodules; i++)
			if (reg_capture_undo(c.store, modules[i], 0, &conflicts, e))
				goto rollback_sql;
		if (conflicts)
			setup_log(&c, 1, "%u registry value%s changed by someone else since install were left as they are",
				  conflicts, conflicts == 1 ? "" : "s");
	}
	if (setup_state_dirs_hand_over(&c, product, e) || setup_state_product_delete(&c, product, e) ||
	    setup_state_services_delete(&c, product, e) ||
	    setup_txn_mark_committed(&c, &t, e) || setup_state_commit(&c, e))
		goto rollback_sql;
	/* STATE: committed; cleanup (drop T.setupkit-old, remove empty dirs) remains. */
	setup_services_keep(&sv);
	if (setup_txn_finish(&c, &t, e)) {
		/* Past the commit there is no rolling back: say it is uninstalled. */
		err_prefix(e, "%s is uninstalled, but cleaning up after it failed; 'setup recover' finishes the cleanup. Cause",
			   prod.name);
		setup_log(&c, 1, "%s", e->msg);
		goto out;
	}
	setup_log(&c, 1, "uninstalled %s; log: %s", prod.name, c.log_file);
	rc = 0;
	goto out;
rollback_sql:
	setup_state_rollback(&c);
rollback:
	{
		struct err re;

		if (journaled && setup_txn_rollback(&c, &t, &re) != 0) {
			err_prefix(e, "uninstall failed and the rollback failed too (%s); run 'setup recover'", re.msg);
		} else {
			/* Files are back: start again what we stopped. */
			if (setup_services_undo(&sv, &re))
				setup_log(&c, 1, "rollback of services: %s", re.msg);
			err_prefix(e, "uninstall of %s failed and was rolled back; it is still installed. Cause", product);
		}
		e->cls = ERR_CLASS_ROLLEDBACK;
	}
out:
	setup_services_destroy(&sv);
	setup_file_recs_free(files, nfiles);
	setup_strv_free(dirs, ndirs);
	setup_strv_free(store_dirs, nstore_dirs);
	setup_strv_free(kept, nkept);
	setup_strv_free(modules, nmodules);
	setup_txn_destroy(&t);
	manifest_free(m);
	setup_product_destroy(&prod);
	setup_ctx_close(&c);
	return rc;
}
