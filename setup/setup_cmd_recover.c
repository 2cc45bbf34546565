/*
 * setup_cmd_recover.c - `setup recover`: finish what earlier runs left.
 * Opening the root has already finished or undone an interrupted
 * transaction (setup_txn_recover). Then each product's pending work:
 *  - a file replaced at the next restart (SETUP_PENDING_RESTART, Windows):
 *    when T.setupkit-new is gone, the restart renamed it over T; when it is
 *    still there but nothing holds T any more, it is renamed now (the
 *    scheduled rename then finds nothing); when T is still in use it waits,
 *    and recover says so and exits 10. Once replaced, T must be the media's
 *    copy (its recorded sha256), and its row becomes a pending
 *    registration when the file self-registers;
 *  - a pending registration (the above, or one that failed on a file with
 *    the `defer` flag: SETUP_PENDING_DEFERRED) runs in a transaction of its
 *    own (op "recover"): a failure undoes its registry writes and leaves it
 *    pending, with the module's diagnosis.
 * Each step is durable before the next, so recover can be interrupted and
 * run again.
 */
#include "setup.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/mem.h"
#include "common/names.h"
#include "common/os.h"
#include "common/path.h"
#include "payload/payload.h"

/* 1 when rec's file has been replaced (by the restart, or now that nothing
 * holds it) and is the media's copy; 0 while it still waits for the
 * restart; -1 with e set otherwise. */
static int restart_done(struct setup_ctx *c, const char *code, const struct setup_file_rec *rec, struct err *e)
{
	char *real = setup_real(c, rec->path), *nw = real ? mem_printf("%s%s", real, SK_NEW_SUFFIX) : NULL;
	struct payload_hash h;
	int rc = -1;

	if (!nw) {
		err_nomem(e, "recovering");
		goto out;
	}
	if (path_exists(nw)) {
		if (!os_can_replace(real) || os_rename(nw, real) != 0) {
			if (!os_in_use_error(errno)) {
				err_errno(e, "cannot put the new '%s' in place", real);
				goto out;
			}
			setup_log(c, 1, "'%s' is still in use: it is replaced at the next restart", real);
			rc = 0;
			goto out;
		}
		setup_log(c, 1, "'%s' is no longer in use: replaced now, without waiting for the restart", real);
	}
	if (payload_hash_file(real, &h, e))
		goto out;
	if (strcmp(h.sha256, rec->sha256) != 0) {
		err_set(e, ERR_CLASS_IO, "'%s' was to be replaced by the media's copy at the restart, but it has sha256 "
			"%.12s..., not %.12s...; run 'setup repair %s' with the media", real, h.sha256, rec->sha256, code);
		goto out;
	}
	rc = 1;
out:
	mem_free(real);
	mem_free(nw);
	return rc;
}

/* Run rec's registration in a transaction of its own; forget the pending
 * row in the same commit. */
static int register_pending(struct setup_ctx *c, const char *code, const struct manifest *m,
			    const struct setup_file_rec *rec, struct err *e)
{
	const struct manifest_file *f = manifest_file_find(m, rec->file_id);
	struct setup_txn t;
	struct err re;
	int repaired = 0, rc = -1;

	memset(&t, 0, sizeof(t));
	if (!f)
		return err_set(e, ERR_CLASS_INTERNAL, "file '%s' ('%s') of %s is not in its installed manifest",
			       rec->file_id, rec->path, code);
	if (setup_txn_init(&t, "recover", code, e) || setup_txn_begin(c, &t, e))
		goto out;
	if (setup_register_module(c, &t, m, NULL, f, rec->path, &repaired, e))
		goto rollback;
	if (setup_state_begin(c, e))
		goto rollback;
	if (setup_state_pending_delete(c, code, rec->path, e) || setup_txn_mark_committed(c, &t, e) ||
	    setup_state_commit(c, e)) {
		setup_state_rollback(c);
		goto rollback;
	}
	if (setup_txn_finish(c, &t, e))
		goto out;
	rc = 0;
	goto out;
rollback:
	if (setup_txn_rollback(c, &t, &re))
		err_prefix(e, "undoing its registry writes failed too (%s); run 'setup recover' again. Cause", re.msg);
out:
	setup_txn_destroy(&t);
	return rc;
}

/* Change (reason non-NULL) or forget a pending row, durably. */
static int pending_set(struct setup_ctx *c, const char *code, const char *path, const char *reason, struct err *e)
{
	if (setup_state_begin(c, e))
		return -1;
	if (reason ? setup_state_pending_put(c, code, path, reason, e) : setup_state_pending_delete(c, code, path, e)) {
		setup_state_rollback(c);
		return -1;
	}
	return setup_state_commit(c, e);
}

/* One product's pending work. Adds to *waiting and *failed; e holds the
 * first failure. -1 only when the state cannot be read. */
static int resume_product(struct setup_ctx *c, const char *code, int *waiting, int *failed, struct err *e)
{
	struct setup_product prod;
	struct manifest *m = NULL;
	struct setup_file_rec *files = NULL;
	char **pend = NULL, **restart = NULL;
	int np = 0, nr = 0, nf = 0, rc = -1;

	memset(&prod, 0, sizeof(prod));
	if (setup_state_pending(c, code, &pend, &np, e) || setup_state_pending_restart(c, code, &restart, &nr, e))
		goto out;
	if (np == 0) {
		rc = 0;
		goto out;
	}
	if (setup_state_product(c, code, &prod, e) <= 0 ||
	    manifest_load_buffer("installed manifest", prod.manifest, strlen(prod.manifest), MANIFEST_MEDIA, &m, e) ||
	    setup_state_files(c, code, &files, &nf, e)) {
		if (!err_is_set(e))
			err_set(e, ERR_CLASS_INTERNAL, "product '%s' has pending work but no record", code);
		goto out;
	}
	for (int i = 0; i < np; i++) {
		const struct setup_file_rec *rec = NULL;
		struct err fe;
		int r;

		err_clear(&fe);
		for (int k = 0; k < nf && !rec; k++)
			if (strcmp(files[k].path, pend[i]) == 0)
				rec = &files[k];
		if (!rec) {   /* no longer the product's file: nothing to do */
			if (pending_set(c, code, pend[i], NULL, e))
				goto out;
			continue;
		}
		if (setup_strv_has(restart, nr, pend[i])) {
			r = restart_done(c, code, rec, &fe);
			if (r == 0) {
				(*waiting)++;
				continue;
			}
			/* Replaced, or not the media's copy (then repair, which
			 * a restart row would refuse, must be able to run). */
			if (pending_set(c, code, pend[i], rec->flags & MANIFEST_FILE_SELFREG ? SETUP_PENDING_DEFERRED : NULL, e))
				goto out;
			if (r < 0)
				goto failed;
			setup_log(c, 1, "'%s' is the media's copy now", pend[i]);
		}
		if (!(rec->flags & MANIFEST_FILE_SELFREG)) {
			if (pending_set(c, code, pend[i], NULL, e))
				goto out;
			continue;
		}
		if (register_pending(c, code, m, rec, &fe) == 0)
			continue;
failed:
		setup_log(c, 1, "recover: %s", fe.msg);
		if ((*failed)++ == 0)
			*e = fe;
	}
	rc = 0;
out:
	setup_file_recs_free(files, nf);
	setup_strv_free(pend, np);
	setup_strv_free(restart, nr);
	manifest_free(m);
	setup_product_destroy(&prod);
	return rc;
}

int setup_cmd_recover(const struct setup_opts *o, struct err *e)
{
	struct setup_ctx c;
	char **codes = NULL;
	int n = 0, waiting = 0, failed = 0, rc = -1;

	if (setup_ctx_open(&c, o, "recover", e) || setup_state_products(&c, &codes, &n, e))
		goto out;
	for (int i = 0; i < n; i++)
		if (resume_product(&c, codes[i], &waiting, &failed, e))
			goto out;
	if (failed) {
		if (failed > 1)
			err_prefix(e, "%d pending items could not be finished (see the log: %s); the first", failed, c.log_file);
		goto out;
	}
	if (!o->quiet)
		printf("recovery complete: no transaction is in progress on '%s'\n", c.root[0] ? c.root : "/");
	if (waiting) {
		setup_log(&c, 1, "%d file%s still in use wait%s for the restart that replaces %s; restart the computer, "
			  "then run 'setup recover' again", waiting, waiting == 1 ? "" : "s", waiting == 1 ? "s" : "",
			  waiting == 1 ? "it" : "them");
		rc = 1;
	} else {
		rc = 0;
	}
out:
	setup_strv_free(codes, n);
	setup_ctx_close(&c);
	return rc;
}
