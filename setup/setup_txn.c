/*
 * setup_txn.c - the transaction: every change to files and registry made by
 * install, uninstall and repair, and its recovery after a crash.
 *
 * State diagram (sk_txn.state), with the function behind each transition:
 *
 *   (none) --setup_txn_begin--> open --setup_txn_mark_committed--> committed
 *     open --setup_txn_rollback / setup_txn_recover--> (none), root as before
 *     committed --setup_txn_finish / setup_txn_recover--> (none), root as after
 *
 * Invariants:
 *  (1) The journal (every op, with the path and whether an old file existed)
 *      is durable before the first change on disk (setup_txn_begin commits
 *      it with synchronous=FULL).
 *  (2) A final path T always holds a complete old or a complete new file:
 *      new content is extracted and verified as T.setupkit-new (beside T, so
 *      the switch never crosses a directory or a filesystem), the old file
 *      is kept as the hard link T.setupkit-old, then rename(T.setupkit-new,
 *      T) switches it.
 *  (3) While the state is "open", T.setupkit-old exists exactly when T has
 *      been switched (or is about to be): rollback renames it back over T.
 *      rename() between two links of one inode does nothing, so rollback
 *      also unlinks a T.setupkit-old that survives the rename.
 *  (4) Every new file and directory is synced (syncfs) before the state says
 *      committed; after it, only cleanup remains, and cleanup is idempotent.
 *      On Windows (no syncfs, no directory fsync) each T.setupkit-new is
 *      flushed before the switch, and the switch's MoveFileExW writes
 *      through, committing NTFS's journal with the links made before it
 *      (os_sync_files, os_rename in common/os.h).
 *  (5) Registry writes made under the transaction are captures with ids above
 *      sk_txn.reg_mark for the modules in sk_txn_module; rollback undoes them.
 *  (6) Recovery is the same rollback or finish, and each step of both is
 *      idempotent, so recovery can itself be interrupted and run again.
 *  (7) Before the journal, setup_txn_begin copies the whole registry to
 *      SK_REGBACKUP_DIR (newest SK_REGBACKUP_KEEP kept), so an administrator
 *      can put it back with `register restore` whatever happens next.
 *  (8) Windows: a T in use cannot be switched. Its op becomes PUT_RESTART in
 *      the journal before anything happens to it; T.setupkit-old is then a
 *      copy of T and T.setupkit-new is scheduled to replace T at the next
 *      restart, and T is not touched. Rollback removes both (the scheduled
 *      rename then finds nothing); finish keeps T.setupkit-new for the
 *      restart, and the caller records the path as pending
 *      (SETUP_PENDING_RESTART) so `setup recover` registers it after the
 *      restart (setup_cmd_recover.c). Until then no transaction may begin.
 */
#include "setup.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/fault.h"
#include "common/mem.h"
#include "common/names.h"
#include "common/os.h"
#include "common/path.h"
#include "register/reg.h"

int setup_txn_init(struct setup_txn *t, const char *op, const char *product, struct err *e)
{
	t->op = mem_strdup(op);
	t->product = mem_strdup(product);
	t->stage_dir = mem_strdup("");
	if (!t->op || !t->product || !t->stage_dir)
		return err_nomem(e, "starting the transaction");
	return 0;
}

int setup_txn_add(struct setup_txn *t, enum setup_op_kind kind, const char *path, int old_exists,
		  const char *keep, unsigned mode, struct err *e)
{
	struct setup_op *o;

	if (t->nops == t->cap) {
		int cap = t->cap ? t->cap * 2 : 64;
		struct setup_op *n = mem_realloc_array(t->ops, (size_t)cap, sizeof(*n));

		if (!n)
			return err_nomem(e, "planning the transaction");
		t->ops = n;
		t->cap = cap;
	}
	o = &t->ops[t->nops];
	memset(o, 0, sizeof(*o));
	o->kind = kind;
	o->old_exists = old_exists;
	o->mode = mode;
	o->path = mem_strdup(path);
	o->keep = keep && *keep ? mem_strdup(keep) : NULL;
	if (!o->path || (keep && *keep && !o->keep)) {
		mem_free(o->path);
		mem_free(o->keep);
		return err_nomem(e, "planning the transaction");
	}
	t->nops++;
	return 0;
}

void setup_txn_destroy(struct setup_txn *t)
{
	for (int i = 0; i < t->nops; i++) {
		mem_free(t->ops[i].path);
		mem_free(t->ops[i].keep);
	}
	mem_free(t->ops);
	setup_strv_free(t->dirs, t->ndirs);
	setup_strv_free(t->modules, t->nmodules);
	mem_free(t->op);
	mem_free(t->product);
	mem_free(t->stage_dir);
	memset(t, 0, sizeof(*t));
}

static int cmp_str_ptr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Keep the SK_REGBACKUP_KEEP newest registry backups of dir (names start
 * with a UTC timestamp, so they sort by age) and drop the temporary file
 * of a backup that was interrupted. Best effort: a failure only costs space. */
static void prune_registry_backups(const char *dir)
{
	struct os_dir *d = os_opendir(dir);
	const char *name;
	char **names = NULL;
	size_t n = 0, cap = 0;

	if (!d)
		return;
	while ((name = os_readdir(d))) {
		size_t len = strlen(name);
		char *p;

		if (strstr(name, ".db.tmp-")) {
			os_unlink_at(os_dirfd(d), dir, name);
			continue;
		}
		if (len < 4 || strcmp(name + len - 3, ".db") != 0)
			continue;
		if (n == cap) {
			char **g = mem_realloc_array(names, cap ? cap * 2 : 16, sizeof(char *));

			if (!g)
				break;
			names = g;
			cap = cap ? cap * 2 : 16;
		}
		if (!(p = mem_strdup(name)))
			break;
		names[n++] = p;
	}
	if (n > SK_REGBACKUP_KEEP) {
		qsort(names, n, sizeof(char *), cmp_str_ptr);
		for (size_t i = 0; i + SK_REGBACKUP_KEEP < n; i++)
			os_unlink_at(os_dirfd(d), dir, names[i]);
	}
	for (size_t i = 0; i < n; i++)
		mem_free(names[i]);
	mem_free(names);
	os_closedir(d);
}

/* Copy the whole registry to the state directory's backup area before the
 * transaction can change it; `register --root R restore FILE` brings it
 * back. Named <UTC time>-<op>-<product>-<pid>.db. */
static int backup_registry(struct setup_ctx *c, const struct setup_txn *t, struct err *e)
{
	char *dir = setup_real(c, "/" SK_REGBACKUP_DIR), *file = NULL;
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	int rc = -1;

	if (!dir)
		return err_nomem(e, "backing up the registry");
	if (!reg_store_has_registry()) {
		/* Windows: the registry is the system's; this transaction's
		 * writes are undone from their captures, like on POSIX. */
		setup_log(c, 0, "no registry backup: the registry is the system's (reg save backs it up)");
		mem_free(dir);
		return 0;
	}
	if (path_mkdirs(dir, 0700, e))
		goto out;
	if (!os_gmtime(now, &tm))
		memset(&tm, 0, sizeof(tm));
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	file = mem_printf("%s/%s-%s-%s-%ld.db", dir, stamp, t->op, t->product, os_getpid());
	if (!file) {
		err_nomem(e, "backing up the registry");
		goto out;
	}
	if (reg_store_backup(c->store, file, e)) {
		err_prefix(e, "cannot back up the registry before %s; nothing was changed", t->op);
		goto out;
	}
	setup_log(c, 0, "registry backed up to '%s' (restore: register --root '%s' restore '%s')", file,
		  c->root[0] ? c->root : "/", file);
	prune_registry_backups(dir);
	rc = 0;
out:
	mem_free(dir);
	mem_free(file);
	return rc;
}

/* While a file waits for the restart that replaces it, its T.setupkit-new
 * is scheduled to land over T: no other transaction may touch T (or trust
 * T.setupkit-old) before `setup recover` has seen the restart. Refuse them
 * all, as Windows Installer refuses to start while a restart is pending;
 * recover's own registration transactions (op "recover") pass. */
static int refuse_while_restart_pending(struct setup_ctx *c, const struct setup_txn *t, struct err *e)
{
	char **paths = NULL;
	int n = 0;

	if (strcmp(t->op, "recover") == 0)
		return 0;
	if (setup_state_pending_restart(c, NULL, &paths, &n, e))
		return -1;
	if (n > 0)
		err_set(e, ERR_CLASS_LOCKED, "cannot %s %s: %d file%s wait%s for a restart to be replaced ('%s'%s); "
			"restart the computer, then run 'setup recover'", t->op, t->product, n, n == 1 ? "" : "s",
			n == 1 ? "s" : "", paths[0], n > 1 ? " and more" : "");
	setup_strv_free(paths, n);
	return n > 0 ? -1 : 0;
}

int setup_txn_begin(struct setup_ctx *c, struct setup_txn *t, struct err *e)
{
	if (refuse_while_restart_pending(c, t, e) || backup_registry(c, t, e))
		return -1;
	t->reg_mark = setup_state_reg_mark(c, e);
	if (t->reg_mark < 0)
		return -1;
	if (setup_state_begin(c, e))
		return -1;
	if (setup_journal_write(c, t, e) || setup_state_commit(c, e)) {
		setup_state_rollback(c);
		return -1;
	}
	setup_log(c, 0, "transaction %lld (%s %s): journaled %d file operations",
		  (long long)t->id, t->op, t->product, t->nops);
	return 0;
}

int setup_txn_note_dir(struct setup_ctx *c, struct setup_txn *t, const char *path, struct err *e)
{
	char **n = mem_realloc_array(t->dirs, (size_t)t->ndirs + 1, sizeof(char *));

	if (!n)
		return err_nomem(e, "journaling a directory");
	t->dirs = n;
	if (!(t->dirs[t->ndirs] = mem_strdup(path)))
		return err_nomem(e, "journaling a directory");
	t->ndirs++;
	return setup_journal_add_dir(c, t->id, path, e);
}

int setup_txn_note_module(struct setup_ctx *c, struct setup_txn *t, const char *module, struct err *e)
{
	char **n;

	for (int i = 0; i < t->nmodules; i++)
		if (strcmp(t->modules[i], module) == 0)
			return 0;
	n = mem_realloc_array(t->modules, (size_t)t->nmodules + 1, sizeof(char *));
	if (!n)
		return err_nomem(e, "journaling a module");
	t->modules = n;
	if (!(t->modules[t->nmodules] = mem_strdup(module)))
		return err_nomem(e, "journaling a module");
	t->nmodules++;
	return setup_journal_add_module(c, t->id, module, e);
}

/* Real path of T with a suffix; allocated. */
static char *real_sfx(struct setup_ctx *c, const char *path, const char *sfx)
{
	char *r = setup_real(c, path), *s;

	if (!r)
		return NULL;
	s = mem_printf("%s%s", r, sfx);
	mem_free(r);
	return s;
}

static int cmp_path_ptr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Make every file the transaction wrote durable, and the names leading to
 * it (os_sync_files): on POSIX one syncfs per filesystem, never one fsync
 * per file (BENCHMARKS.md); on Windows, which has no syncfs, each
 * T.setupkit-new that is still there is flushed. The ops' paths are visited
 * sorted, so each directory is looked at about once, not once per file. */
static int sync_all(struct setup_ctx *c, struct setup_txn *t, struct err *e)
{
	const char **paths = mem_array((size_t)t->nops + 1, sizeof(*paths));
	char **files = mem_array((size_t)t->nops + 1, sizeof(*files));
	int n = 0, rc = -1;

	if (!paths || !files) {
		err_nomem(e, "syncing");
		goto out;
	}
	for (int i = 0; i < t->nops; i++)
		paths[i] = t->ops[i].path;
	qsort(paths, (size_t)t->nops, sizeof(*paths), cmp_path_ptr);
	for (; n < t->nops; n++)
		if (!(files[n] = real_sfx(c, paths[n], SK_NEW_SUFFIX))) {
			err_nomem(e, "syncing");
			goto out;
		}
	rc = os_sync_files(c->root[0] ? c->root : "/", (const char *const *)files, (size_t)n, e);
out:
	for (int i = 0; files && i < n; i++)
		mem_free(files[i]);
	mem_free(files);
	mem_free(paths);
	return rc;
}

/* Copy src to dst (created or truncated) and make the copy durable. The
 * mode is src's; on Windows only whether it is writable. */
static int copy_file(const char *src, const char *dst, struct err *e)
{
	char buf[65536];
	int in, out = -1, rc = -1;
	struct stat st;

	in = os_open(src, OS_O_RDONLY | OS_O_NOFOLLOW, 0);
	if (in < 0 || fstat(in, &st) != 0) {
		err_errno(e, "cannot read '%s'", src);
		goto out;
	}
	out = os_open(dst, OS_O_WRONLY | OS_O_CREAT | OS_O_TRUNC, (int)(st.st_mode & 07777));
	if (out < 0) {
		err_errno(e, "cannot create '%s'", dst);
		goto out;
	}
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));

		if (n == 0)
			break;
		if (n < 0 || write(out, buf, (size_t)n) != n) {
			err_errno(e, "cannot copy '%s' to '%s'", src, dst);
			goto out;
		}
	}
	if (os_fsync(out) != 0) {
		err_errno(e, "cannot write '%s'", dst);
		goto out;
	}
	rc = 0;
out:
	if (out >= 0 && close(out) != 0 && rc == 0)
		rc = err_errno(e, "cannot write '%s'", dst);
	if (in >= 0)
		close(in);
	return rc;
}

/* Move src to dst (a backup store path), across filesystems if need be:
 * then copied to dst.setupkit-new and renamed, so dst is whole or absent. */
static int move_file(const char *src, const char *dst, struct err *e)
{
	char *tmp;
	int rc = -1;

	if (os_rename(src, dst) == 0)
		return 0;
	if (errno != EXDEV)
		return err_errno(e, "cannot move '%s' to '%s'", src, dst);
	tmp = mem_printf("%s%s", dst, SK_NEW_SUFFIX);
	if (!tmp)
		return err_nomem(e, "moving a backup");
	if (copy_file(src, tmp, e))
		goto out;
	if (os_rename(tmp, dst) != 0 || os_unlink(src) != 0) {
		err_errno(e, "cannot move '%s' to '%s'", src, dst);
		goto out;
	}
	rc = 0;
out:
	if (rc)
		os_unlink(tmp);
	mem_free(tmp);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Whether directory d of the target system is never made: its top. Under
 * --root on Windows a drive root ("C:/") is the folder ROOT/C, made (and
 * journaled) like any other. */
static int dir_is_top(const struct setup_ctx *c, const char *d)
{
	return !d[0] || (path_is_root(d) && (!c->root[0] || strcmp(d, "/") == 0 || strcmp(d, ".") == 0));
}

int setup_txn_make_dirs(struct setup_ctx *c, struct setup_txn *t, struct err *e)
{
	char **cand = NULL, **missing = NULL;
	const char *last = NULL;   /* the previous target's directory, in cand */
	size_t ncand = 0, cap = 0, nmissing = 0;
	int rc = -1;

	/* Every ancestor of every PUT target, sorted and unique: parents sort
	 * before their children, so they are made first. A target in the same
	 * directory as the one before adds nothing. */
	for (int i = 0; i < t->nops; i++) {
		char *d, *parent;

		if (t->ops[i].kind != SETUP_OP_PUT)
			continue;
		d = parent = path_dirname(t->ops[i].path);
		if (d && last && strcmp(d, last) == 0) {
			mem_free(d);
			continue;
		}
		while (d && !dir_is_top(c, d)) {
			if (ncand == cap) {
				char **n = mem_realloc_array(cand, cap ? cap * 2 : 64, sizeof(*cand));

				if (!n) {
					mem_free(d);
					d = NULL;
					break;
				}
				cand = n;
				cap = cap ? cap * 2 : 64;
			}
			cand[ncand++] = d;
			/* A drive root is its own dirname: the top is next. */
			d = path_is_root(d) ? mem_strdup("/") : path_dirname(d);
		}
		if (!d) {
			err_nomem(e, "creating directories");
			goto out;
		}
		last = d == parent ? NULL : parent;   /* "/" was not kept */
		mem_free(d);
	}
	if (ncand > 1)   /* cand is NULL when nothing is put: qsort wants an array */
		qsort(cand, ncand, sizeof(*cand), cmp_str);
	missing = mem_array(ncand + 1, sizeof(*missing));
	if (!missing) {
		err_nomem(e, "creating directories");
		goto out;
	}
	for (size_t i = 0; i < ncand; i++) {
		char *real;
		struct stat st;

		if (i > 0 && strcmp(cand[i], cand[i - 1]) == 0)
			continue;
		if (nmissing && strncmp(cand[i], missing[nmissing - 1], strlen(missing[nmissing - 1])) == 0 &&
		    cand[i][strlen(missing[nmissing - 1])] == '/') {
			missing[nmissing++] = cand[i];   /* under a missing one: missing too */
			continue;
		}
		real = setup_real(c, cand[i]);
		if (!real) {
			err_nomem(e, "creating directories");
			goto out;
		}
		if (os_lstat(real, &st) != 0)
			missing[nmissing++] = cand[i];
		else if (!S_ISDIR(st.st_mode)) {
			err_set(e, ERR_CLASS_IO, "cannot create the directory '%s': a file of that name is in the way; move it and run setup again", real);
			mem_free(real);
			goto out;
		}
		mem_free(real);
	}
	if (nmissing == 0) {
		rc = 0;
		goto out;
	}
	/* All of them journaled in one durable commit, then made. */
	if (setup_state_begin(c, e))
		goto out;
	for (size_t i = 0; i < nmissing; i++)
		if (setup_txn_note_dir(c, t, missing[i], e)) {
			setup_state_rollback(c);
			goto out;
		}
	if (setup_state_commit(c, e))
		goto out;
	for (size_t i = 0; i < nmissing; i++) {
		char *real = setup_real(c, missing[i]);

		if (!real) {
			err_nomem(e, "creating directories");
			goto out;
		}
		fault_point("mkdir");
		if (os_mkdir(real, 0755) != 0 && errno != EEXIST) {
			err_errno(e, "cannot create the directory '%s'", real);
			mem_free(real);
			goto out;
		}
		mem_free(real);
	}
	rc = 0;
out:
	for (size_t i = 0; i < ncand; i++)
		mem_free(cand[i]);
	mem_free(cand);
	mem_free(missing);
	return rc;
}

char *setup_txn_new_path(struct setup_ctx *c, const struct setup_op *o)
{
	return real_sfx(c, o->path, SK_NEW_SUFFIX);
}

/* Op i's T is in use by a running program (Windows), so it cannot be
 * switched now: journal the op as SETUP_OP_PUT_RESTART, durably, before
 * anything changes (invariant 1); keep a copy of the old T as
 * T.setupkit-old (a copy, not a link: a second link to a held file could
 * be neither moved to the backup store nor removed while it is held); then
 * schedule T.setupkit-new -> T for the next restart. T itself is not
 * touched: rollback removes both of ours, and without T.setupkit-new the
 * scheduled rename does nothing. */
static int put_at_restart(struct setup_ctx *c, struct setup_txn *t, int i, const char *real, const char *old,
			  const char *nw, struct err *e)
{
	struct setup_op *o = &t->ops[i];

	if (setup_state_begin(c, e))
		return -1;
	if (setup_journal_set_op_kind(c, t->id, i, SETUP_OP_PUT_RESTART, e)) {
		setup_state_rollback(c);
		return -1;
	}
	if (setup_state_commit(c, e))
		return -1;
	o->kind = SETUP_OP_PUT_RESTART;
	/* STATE: journaled; T as before, the new file at T.setupkit-new */
	fault_point("apply: copy for restart");
	if (copy_file(real, old, e))
		return err_prefix(e, "cannot keep a copy of '%s', which is in use, to replace it at the next restart", real);
	fault_point("apply: schedule for restart");
	if (os_replace_at_restart(nw, real) != 0)
		return err_errno(e, "'%s' is in use by a running program, and its replacement at the next restart cannot be "
			  "scheduled (administrator rights are needed); close the program and run setup again", real);
	/* STATE: T as before (a copy at T.setupkit-old); at the next restart T.setupkit-new -> T */
	setup_log(c, 1, "'%s' is in use by a running program: the new copy replaces it at the next restart", real);
	return 0;
}

int setup_txn_apply(struct setup_ctx *c, struct setup_txn *t, struct err *e)
{
	int rc = -1;

	/* New files were written as T.setupkit-new; make them durable before
	 * any of them becomes visible under its final name. */
	if (sync_all(c, t, e))
		return -1;
	for (int i = 0; i < t->nops; i++) {
		struct setup_op *o = &t->ops[i];
		char *real = setup_real(c, o->path);
		char *old = real_sfx(c, o->path, SK_OLD_SUFFIX);
		char *nw = real_sfx(c, o->path, SK_NEW_SUFFIX);

		if (!real || !old || !nw) {
			err_nomem(e, "switching files");
			goto next_fail;
		}
		if (c->cancel && *c->cancel) {
			err_set(e, ERR_CLASS_ROLLEDBACK, "cancelled by a signal while switching files in");
			goto next_fail;
		}
		switch (o->kind) {
		case SETUP_OP_PUT:
			/* Windows: a file a running program holds open can be
			 * neither renamed over nor deleted, nor its backup link
			 * taken back; replace it at the next restart, or refuse,
			 * before touching it (POSIX: never). */
			if (o->old_exists && !os_can_replace(real)) {
				if (t->restart_ok) {
					if (put_at_restart(c, t, i, real, old, nw, e))
						goto next_fail;
					break;
				}
				err_errno(e, "cannot put the new '%s' in place: a running program has it open; "
					  "close it and run setup again", real);
				goto next_fail;
			}
			fault_point("apply: link backup");
			if (o->old_exists && os_link(real, old) != 0 && errno != EEXIST) {
				err_errno(e, "cannot keep a backup of '%s' as '%s'", real, old);
				goto next_fail;
			}
			/* STATE: old file at T and T.setupkit-old, new at T.setupkit-new */
			fault_point("apply: rename new");
			if (os_rename(nw, real) != 0) {
				int en = errno;

				/* A loaded DLL passes os_can_replace and refuses
				 * only the rename: our link goes, then as above. */
				if (os_in_use_error(en) && t->restart_ok && o->old_exists &&
				    (os_unlink(old) == 0 || errno == ENOENT)) {
					if (put_at_restart(c, t, i, real, old, nw, e))
						goto next_fail;
					break;
				}
				errno = en;
				if (os_in_use_error(errno))
					err_errno(e, "cannot put the new '%s' in place: a running program has it "
						  "open; close it and run setup again", real);
				else
					err_errno(e, "cannot put the new '%s' in place", real);
				goto next_fail;
			}
			/* STATE: new file at T, old file at T.setupkit-old */
			break;
		case SETUP_OP_REMOVE:
			fault_point("apply: rename away");
			if (os_rename(real, old) != 0 && errno != ENOENT) {
				err_errno(e, "cannot remove '%s'", real);
				goto next_fail;
			}
			/* STATE: nothing at T, the old file at T.setupkit-old */
			break;
		case SETUP_OP_RESTORE: {
			char *bk = setup_real(c, o->keep);

			if (!bk) {
				err_nomem(e, "restoring a backup");
				goto next_fail;
			}
			if (o->old_exists && os_link(real, old) != 0 && errno != EEXIST) {
				err_errno(e, "cannot keep '%s' while restoring its backup", real);
				mem_free(bk);
				goto next_fail;
			}
			fault_point("apply: restore backup");
			os_unlink(nw);
			if (os_link(bk, nw) != 0 || os_rename(nw, real) != 0) {
				err_errno(e, "cannot restore '%s' from its backup '%s'", real, bk);
				mem_free(bk);
				goto next_fail;
			}
			/* STATE: the backup at T (and still in the store), ours at T.setupkit-old */
			mem_free(bk);
			break;
		}
		case SETUP_OP_PUT_RESTART:
			break;   /* scheduled already (apply makes these, and runs once) */
		}
		mem_free(real);
		mem_free(old);
		mem_free(nw);
		continue;
next_fail:
		mem_free(real);
		mem_free(old);
		mem_free(nw);
		return -1;
	}
	rc = sync_all(c, t, e);
	return rc;
}

int setup_txn_mark_committed(struct setup_ctx *c, struct setup_txn *t, struct err *e)
{
	return setup_journal_set_state(c, t->id, "committed", e);
}

/* Remove the transaction's directories, deepest last-created first, each
 * only when empty (another product may have put files there since). On
 * Windows a folder some process has open (its current directory, an
 * Explorer window) cannot be removed: like a non-empty one it stays, and
 * the log says so, rather than failing the rollback or the finish. */
static int remove_dirs(struct setup_ctx *c, struct setup_txn *t, struct err *e)
{
	for (int i = t->ndirs - 1; i >= 0; i--) {
		char *d = setup_real(c, t->dirs[i]);

		if (!d)
			return err_nomem(e, "removing directories");
		fault_point("remove dir");
		if (os_rmdir(d) != 0 && errno != ENOENT && errno != ENOTEMPTY && errno != EEXIST) {
			if (os_in_use_error(errno)) {
				setup_log(c, 1, "the directory '%s' is in use and was left in place: %s", d, strerror(errno));
				mem_free(d);
				continue;
			}
			err_errno(e, "cannot remove the directory '%s'", d);
			mem_free(d);
			return -1;
		}
		mem_free(d);
	}
	return 0;
}

/* Directories an install created go at rollback; those an uninstall or a
 * service pack's removal journaled (the product's, the pack's) go at commit. */
static int dirs_go_at_commit(const struct setup_txn *t)
{
	return strcmp(t->op, "uninstall") == 0 || strcmp(t->op, "sp-remove") == 0;
}

int setup_txn_finish(struct setup_ctx *c, struct setup_txn *t, struct err *e)
{
	for (int i = 0; i < t->nops; i++) {
		struct setup_op *o = &t->ops[i];
		char *old = real_sfx(c, o->path, SK_OLD_SUFFIX);
		char *nw = real_sfx(c, o->path, SK_NEW_SUFFIX);
		int rc = 0;

		if (!old || !nw) {
			mem_free(old);
			mem_free(nw);
			return err_nomem(e, "finishing the transaction");
		}
		fault_point("finish: drop backup");
		if ((o->kind == SETUP_OP_PUT || o->kind == SETUP_OP_PUT_RESTART) && o->keep && path_exists(old)) {
			char *dst = setup_real(c, o->keep), *dir = dst ? path_dirname(dst) : NULL;

			if (!dst || !dir)
				rc = err_nomem(e, "keeping a backup");
			else if (path_mkdirs(dir, 0700, e) == 0)
				rc = move_file(old, dst, e);
			else
				rc = -1;
			mem_free(dst);
			mem_free(dir);
		} else if (o->kind == SETUP_OP_RESTORE && o->keep) {
			char *bk = setup_real(c, o->keep);

			if (bk && os_unlink(bk) != 0 && errno != ENOENT)
				rc = err_errno(e, "cannot drop the restored backup '%s'", bk);
			mem_free(bk);
		}
		/* After commit a PUT's T.setupkit-new was renamed into place, and
		 * without an old file it never had a T.setupkit-old: skip the
		 * unlinks that would fail (two per new file of a fresh install).
		 * A PUT_RESTART's T.setupkit-new waits for the restart (the
		 * product's pending row says so; `setup recover` checks it). */
		if (rc == 0 && !(o->kind == SETUP_OP_PUT && !o->old_exists) && os_unlink(old) != 0 && errno != ENOENT)
			rc = err_errno(e, "cannot remove the backup '%s'", old);
		if (rc == 0 && o->kind != SETUP_OP_PUT && o->kind != SETUP_OP_PUT_RESTART && os_unlink(nw) != 0 &&
		    errno != ENOENT)
			rc = err_errno(e, "cannot remove '%s'", nw);
		mem_free(old);
		mem_free(nw);
		if (rc)
			return -1;
	}
	if (dirs_go_at_commit(t) && remove_dirs(c, t, e))
		return -1;
	if (t->stage_dir && *t->stage_dir) {
		char *s = setup_real(c, t->stage_dir);

		if (!s || path_remove_tree(s, e)) {
			mem_free(s);
			return s ? -1 : err_nomem(e, "removing staging");
		}
		mem_free(s);
	}
	fault_point("finish: forget journal");
	if (setup_journal_forget(c, t->id, e))
		return -1;
	setup_log(c, 0, "transaction %lld committed and cleaned up", (long long)t->id);
	return 0;
}

int setup_txn_rollback(struct setup_ctx *c, struct setup_txn *t, struct err *e)
{
	/* Registry first: undo the captures this transaction made. */
	fault_point("rollback: registry");
	if (t->nmodules) {
		/* Newest first: later writes may sit in keys earlier ones made. */
		if (setup_state_sort_by_capture(c, t->modules, t->nmodules, e) || setup_state_begin(c, e))
			return -1;
		for (int i = 0; i < t->nmodules; i++) {
			unsigned conflicts = 0;

			if (reg_capture_undo(c->store, t->modules[i], t->reg_mark + 1, &conflicts, e)) {
				setup_state_rollback(c);
				return -1;
			}
		}
		if (setup_state_commit(c, e))
			return -1;
	}
	for (int i = t->nops - 1; i >= 0; i--) {
		struct setup_op *o = &t->ops[i];
		char *real = setup_real(c, o->path);
		char *old = real_sfx(c, o->path, SK_OLD_SUFFIX);
		char *nw = real_sfx(c, o->path, SK_NEW_SUFFIX);
		int rc = 0;

		if (!real || !old || !nw) {
			rc = err_nomem(e, "rolling back");
		} else if (fault_point("rollback: file"), o->kind == SETUP_OP_PUT_RESTART && path_exists(nw)) {
			/* T was never touched: drop our copy of it; removing
			 * T.setupkit-new below cancels the scheduled rename. (Once
			 * the restart has renamed it, T.setupkit-old goes back
			 * over T like any PUT's, below.) */
			if (os_unlink(old) != 0 && errno != ENOENT)
				rc = err_errno(e, "cannot remove '%s'", old);
		} else if (path_exists(old)) {
			/* (3): T was switched; put the old file back. On Windows a
			 * held T refuses even its own other link: if T is still the
			 * old file, only the link goes (POSIX never gets here). */
			if (os_rename(old, real) != 0 && !(os_in_use_error(errno) && os_same_file(old, real)))
				rc = err_errno(e, "cannot put back '%s' from '%s'", real, old);
			else if (os_unlink(old) != 0 && errno != ENOENT)
				rc = err_errno(e, "cannot remove '%s'", old);
		} else if (o->kind != SETUP_OP_REMOVE && !o->old_exists && path_exists(real)) {
			/* A file that did not exist before: ours, remove it. */
			if (os_unlink(real) != 0)
				rc = err_errno(e, "cannot remove '%s'", real);
		}
		if (rc == 0 && nw && os_unlink(nw) != 0 && errno != ENOENT)
			rc = err_errno(e, "cannot remove '%s'", nw);
		mem_free(real);
		mem_free(old);
		mem_free(nw);
		if (rc)
			return -1;
	}
	if (!dirs_go_at_commit(t) && remove_dirs(c, t, e))
		return -1;
	if (t->stage_dir && *t->stage_dir) {
		char *s = setup_real(c, t->stage_dir);

		if (!s || path_remove_tree(s, e)) {
			mem_free(s);
			return s ? -1 : err_nomem(e, "removing staging");
		}
		mem_free(s);
	}
	if (sync_all(c, t, e))
		return -1;
	fault_point("rollback: forget journal");
	if (setup_journal_forget(c, t->id, e))
		return -1;
	setup_log(c, 0, "transaction %lld rolled back", (long long)t->id);
	return 0;
}

/* Remove the staging directories (SK_STAGE_PREFIX*) of the state directory.
 * A transaction's own is in its journal, and its rollback or finish removes
 * it; the one setup_needed_check stages modules in before any transaction
 * begins is in no journal, so a crash leaves it. Called by recovery, under
 * the root's lock, once no transaction is left: every one is a dead
 * process's. Best effort, and idempotent. */
static void remove_stale_staging(struct setup_ctx *c)
{
	char *dir = setup_real(c, "/" SK_STATE_DIR);
	struct os_dir *d = dir ? os_opendir(dir) : NULL;
	const char *name;

	while (d && (name = os_readdir(d))) {
		char *p;
		struct err ignored;

		if (strncmp(name, SK_STAGE_PREFIX, strlen(SK_STAGE_PREFIX)) != 0)
			continue;
		if ((p = mem_printf("%s/%s", dir, name))) {
			err_clear(&ignored);
			if (path_remove_tree(p, &ignored) == 0)
				setup_log(c, 0, "recovery: removed the staging directory '%s' of an interrupted run", p);
		}
		mem_free(p);
	}
	os_closedir(d);
	mem_free(dir);
}

int setup_txn_recover(struct setup_ctx *c, struct err *e)
{
	struct setup_txn t;
	char *state = NULL, *regbackup = setup_real(c, "/" SK_REGBACKUP_DIR);
	int rc;

	/* A registry backup interrupted by a crash left DIR/NAME.db.tmp-PID
	 * (and its -journal); setup_txn_begin takes the backup before the
	 * journal, so no journal names it: drop it here, not at the next
	 * transaction's backup. */
	if (regbackup)
		prune_registry_backups(regbackup);
	mem_free(regbackup);
	rc = setup_journal_load(c, &t, &state, e);
	if (rc <= 0) {
		setup_txn_destroy(&t);
		mem_free(state);
		if (rc == 0)
			remove_stale_staging(c);
		return rc;
	}
	if (strcmp(state, "committed") == 0) {
		setup_log(c, 1, "recovery: finishing the committed %s of %s (transaction %lld)", t.op, t.product, (long long)t.id);
		rc = setup_txn_finish(c, &t, e);
	} else {
		setup_log(c, 1, "recovery: rolling back the interrupted %s of %s (transaction %lld)", t.op, t.product, (long long)t.id);
		rc = setup_txn_rollback(c, &t, e);
	}
	setup_txn_destroy(&t);
	mem_free(state);
	if (rc)
		return err_prefix(e, "recovery of an interrupted transaction failed; run 'setup recover' again after fixing the cause");
	remove_stale_staging(c);
	return 1;
}
