/*
 * fuzz_journal.c - libFuzzer target: recovery (`setup recover`, which every
 * setup command runs first) from arbitrary journal contents.
 *
 * The input is text, one row per line, fields separated by '|'. A field
 * "\N" is SQL NULL, a whole decimal number is an integer, anything else is
 * text, so a damaged row (NULL path, text where a number belongs) is as
 * easy to write as a sound one. Lines:
 *
 *   journal rows (setup_state.c's tables), written with plain SQL:
 *     txn|op|state|reg_mark|stage_dir            sk_txn, next id
 *     txnx|id|op|state|reg_mark|stage_dir        sk_txn, explicit id
 *     op|kind|path|old_exists|keep|mode          sk_txn_op of the last txn
 *     opx|txn|seq|kind|path|old_exists|keep|mode
 *     dir|path                                   sk_txn_dir of the last txn
 *     mod|module                                 sk_txn_module of the last txn
 *     cap|module|kind|key|name|old_type|old_data|new_type|new_data
 *                                                register's reg_capture
 *   the root before recovery (confined to the root by construction):
 *     file|path|content      a file (parents made); path relative to the root
 *     mkdir|path
 *     link|path|name         a symlink to a sibling name (never '/', '..')
 *     hlink|path|existing    a hard link to a file made before
 *     reg|key|name|data      a registry value (REG_SZ), key created
 *
 * Journal paths are NOT confined: recovery must refuse what would leave the
 * root. The harness only keeps them inside its own temporary directory: a
 * path that would climb more than two levels above the root (out of T) is
 * not run at all. Layout: T/a/root is the root; T/a/sentinel/{file,dir/file,
 * empty/}, T/a/side and T/top are sentinels.
 *
 * Oracles: no crash, leak or undefined behaviour; a failed recovery says
 * why; a recovery that succeeds for every journaled transaction leaves
 * sk_txn empty and the store passes PRAGMA integrity_check; and two
 * snapshots compared after recovery:
 *  (1) outside the root: everything in T but T/a/root exactly as before
 *      (names, modes, sizes, mtimes, inodes, link counts);
 *  (2) inside the root: recovery changes only what its journal names: the
 *      state directory, each op's path P with P.setupkit-old and
 *      P.setupkit-new (whole trees), each journaled directory (itself, not
 *      its contents). Anything else, file or directory, must be as before
 *      (directories' times and link counts left out).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/err.h"
#include "register/reg.h"
#include "setup/setup.h"
#include <setupkit/reg.h>
#include "fuzz_util.h"

#define MAX_LINES   64
#define MAX_FIELDS  10
#define MAX_FIELD   512

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

struct line {
	char *f[MAX_FIELDS];
	int n;
};

/* Split one line at '|' (in place). */
static void split(char *s, struct line *l)
{
	l->n = 0;
	while (l->n < MAX_FIELDS) {
		char *bar = strchr(s, '|');

		if (strlen(s) > MAX_FIELD)
			s[MAX_FIELD] = '\0';
		l->f[l->n++] = s;
		if (!bar)
			break;
		*bar = '\0';
		s = bar + 1;
	}
}

static const char *field(const struct line *l, int i)
{
	return i < l->n ? l->f[i] : "\\N";
}

static void bind(sqlite3_stmt *st, int col, const char *v)
{
	char *end;
	long long n;

	if (strcmp(v, "\\N") == 0) {
		sqlite3_bind_null(st, col);
		return;
	}
	errno = 0;
	n = strtoll(v, &end, 10);
	if (*v && !*end && !errno && (v[0] == '-' || (v[0] >= '0' && v[0] <= '9')))
		sqlite3_bind_int64(st, col, n);
	else
		sqlite3_bind_text(st, col, v, -1, SQLITE_TRANSIENT);
}

/* Insert fields [from, from + nf) of l, after `pre` leading values already
 * bound by the caller. Errors (constraint violations) are not the target's:
 * the row is just not there. */
static void insert(sqlite3 *db, const char *sql, const struct line *l, int from, int nf,
		   const long long *pre, int npre)
{
	sqlite3_stmt *st;
	int col = 1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fuzz_fail("harness SQL '%s': %s", sql, sqlite3_errmsg(db));
	for (int i = 0; i < npre; i++)
		sqlite3_bind_int64(st, col++, pre[i]);
	for (int i = 0; i < nf; i++)
		bind(st, col++, field(l, from + i));
	sqlite3_step(st);
	sqlite3_finalize(st);
}

/* Would this text, taken as a path below the root, climb out of T (more
 * than two levels above the root)? Lexical, like setup_real() + the kernel
 * (the harness makes no symlink that changes the depth). */
static int escapes_tmp(const char *p)
{
	long depth = 0;

	while (*p) {
		const char *seg;

		while (*p == '/')
			p++;
		seg = p;
		while (*p && *p != '/')
			p++;
		if (p - seg == 2 && seg[0] == '.' && seg[1] == '.') {
			if (--depth < -2)
				return 1;
		} else if (p - seg > 0 && !(p - seg == 1 && seg[0] == '.')) {
			depth++;
		}
	}
	return 0;
}

/* A path for the pre-state: relative, no '.', '..' or empty component, no
 * control character. */
static int confined(const char *p)
{
	const char *s = p;

	if (!*p || *p == '/')
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20)
			return 0;
	while (*p) {
		const char *seg = p;

		while (*p && *p != '/')
			p++;
		if (p == seg || (p - seg == 1 && seg[0] == '.') || (p - seg == 2 && seg[0] == '.' && seg[1] == '.'))
			return 0;
		if (*p && !*++p)
			return 0;
	}
	return 1;
}

static void mkparents(const char *root, const char *rel)
{
	char *p = fuzz_printf("%s/%s", root, rel), *slash = strrchr(p, '/');

	*slash = '\0';
	fuzz_mkdirs(p);
	free(p);
}

/* Build the root's files and the journal from the input. Returns 0, or -1
 * when the input is not run (unusable or would escape T). */
static int build(const char *root, const struct line *lines, int nlines)
{
	struct reg_store *s = NULL;
	struct setup_ctx c;
	struct err e;
	sqlite3 *db;
	long long txn = 0, seq = 0, dseq = 0;
	int rc = -1;

	/* Guard first: nothing is written for an input the harness refuses.
	 * Every field of a journal row counts, whichever column it lands in. */
	for (int i = 0; i < nlines; i++) {
		const struct line *l = &lines[i];
		const char *v = l->f[0];

		if (strcmp(v, "txn") && strcmp(v, "txnx") && strcmp(v, "op") && strcmp(v, "opx") && strcmp(v, "dir"))
			continue;
		for (int k = 1; k < l->n; k++)
			if (escapes_tmp(l->f[k]))
				return -1;
	}
	/* The files first (a file in the way of the state database is fine:
	 * then nothing runs). */
	for (int i = 0; i < nlines; i++) {
		const struct line *l = &lines[i];
		const char *verb = l->f[0];

		if ((!strcmp(verb, "file") || !strcmp(verb, "mkdir") || !strcmp(verb, "link") ||
		     !strcmp(verb, "hlink")) && l->n >= 2 && confined(l->f[1])) {
			char *p = fuzz_printf("%s/%s", root, l->f[1]);

			mkparents(root, l->f[1]);
			if (!strcmp(verb, "file")) {
				const char *content = field(l, 2);

				fuzz_file_write(p, content, strlen(content));
			} else if (!strcmp(verb, "mkdir")) {
				fuzz_mkdirs(p);
			} else if (!strcmp(verb, "link")) {
				const char *t = field(l, 2);

				if (*t && !strchr(t, '/') && strcmp(t, ".") && strcmp(t, ".."))
					symlink(t, p);
			} else if (l->n >= 3 && confined(l->f[2])) {
				char *q = fuzz_printf("%s/%s", root, l->f[2]);
				struct stat st;

				if (lstat(q, &st) == 0 && S_ISREG(st.st_mode))
					link(q, p);
				free(q);
			}
			free(p);
		}
	}

	err_clear(&e);
	if (reg_store_open(&s, root, 0, &e) != 0)
		return -1;
	memset(&c, 0, sizeof(c));
	c.store = s;
	c.root = (char *)root;
	if (setup_state_init(&c, &e) != 0)
		goto out;
	db = reg_store_db(s);
	sqlite3_exec(db, "PRAGMA synchronous=OFF; BEGIN", NULL, NULL, NULL);
	for (int i = 0; i < nlines; i++) {
		const struct line *l = &lines[i];
		const char *verb = l->f[0];

		if (!strcmp(verb, "txn")) {
			insert(db, "INSERT INTO sk_txn(op, state, reg_mark, stage_dir, product) VALUES(?,?,?,?,'fuzz')",
			       l, 1, 4, NULL, 0);
			txn = sqlite3_last_insert_rowid(db);
			seq = dseq = 0;
		} else if (!strcmp(verb, "txnx")) {
			insert(db, "INSERT INTO sk_txn(id, op, state, reg_mark, stage_dir, product) VALUES(?,?,?,?,?,'fuzz')",
			       l, 1, 5, NULL, 0);
			txn = sqlite3_last_insert_rowid(db);
			seq = dseq = 0;
		} else if (!strcmp(verb, "op")) {
			long long pre[2] = { txn, seq++ };

			insert(db, "INSERT INTO sk_txn_op VALUES(?,?,?,?,?,?,?)", l, 1, 5, pre, 2);
		} else if (!strcmp(verb, "opx")) {
			insert(db, "INSERT INTO sk_txn_op VALUES(?,?,?,?,?,?,?)", l, 1, 7, NULL, 0);
		} else if (!strcmp(verb, "dir")) {
			long long pre[2] = { txn, dseq++ };

			insert(db, "INSERT INTO sk_txn_dir VALUES(?,?,?)", l, 1, 1, pre, 2);
		} else if (!strcmp(verb, "mod")) {
			long long pre[1] = { txn };

			insert(db, "INSERT INTO sk_txn_module VALUES(?,?)", l, 1, 1, pre, 1);
		} else if (!strcmp(verb, "cap")) {
			insert(db, "INSERT INTO reg_capture(module, kind, key, name, old_type, old_data, new_type, new_data)"
			       " VALUES(?,?,?,?,?,?,?,?)", l, 1, 8, NULL, 0);
		} else if (!strcmp(verb, "reg") && l->n >= 4) {
			const char *d = l->f[3];

			err_clear(&e);
			if (reg_key_create(s, l->f[1], NULL, &e) == 0)
				reg_value_set(s, l->f[1], l->f[2], SK_REG_SZ, d, strlen(d) + 1, &e);
		}
	}
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto out;
	rc = 0;
out:
	reg_store_close(s);
	return rc;
}

/* The paths recovery may change inside the root (oracle 2), as the walk
 * spells them: root + the journal's path (setup_real() adds a '/' to a
 * relative one). */
struct allowed {
	char *trees[3 * MAX_LINES + 2];
	char *entries[MAX_LINES + 1];
	int ntrees, nentries;
};

static char *in_root(const char *root, const char *p, const char *sfx)
{
	char *full = fuzz_printf("%s%s%s%s", root, p[0] == '/' ? "" : "/", p, sfx);
	char *slash = strrchr(full, '/'), *real, *r;

	/* A symlinked directory of the root (link|...) leads elsewhere in it:
	 * name the file through its directory's real path, as the walk sees it. */
	*slash = '\0';
	real = realpath(full, NULL);
	*slash = '/';
	if (!real)
		return full;
	r = fuzz_printf("%s%s", real, slash);
	free(real);
	free(full);
	return r;
}

static void allowed_collect(struct allowed *al, const char *root, const struct line *lines, int nlines)
{
	memset(al, 0, sizeof(*al));
	al->trees[al->ntrees++] = fuzz_printf("%s/var/lib/setupkit", root);
	for (int i = 0; i < nlines; i++) {
		const struct line *l = &lines[i];
		int at = !strcmp(l->f[0], "op") ? 2 : !strcmp(l->f[0], "opx") ? 4 : -1;

		if (at > 0 && at < l->n && strcmp(l->f[at], "\\N")) {
			al->trees[al->ntrees++] = in_root(root, l->f[at], "");
			al->trees[al->ntrees++] = in_root(root, l->f[at], ".setupkit-old");
			al->trees[al->ntrees++] = in_root(root, l->f[at], ".setupkit-new");
		} else if (!strcmp(l->f[0], "dir") && l->n > 1 && strcmp(l->f[1], "\\N")) {
			al->entries[al->nentries++] = in_root(root, l->f[1], "");
		}
	}
}

static void allowed_free(struct allowed *al)
{
	for (int i = 0; i < al->ntrees; i++)
		free(al->trees[i]);
	for (int i = 0; i < al->nentries; i++)
		free(al->entries[i]);
}

static long txn_count(struct setup_ctx *c)
{
	sqlite3_stmt *st;
	long n = -1;

	if (sqlite3_prepare_v2(reg_store_db(c->store), "SELECT count(*) FROM sk_txn", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		n = (long)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct line lines[MAX_LINES];
	int nlines = 0;
	char *text, *p, *tmp, *a, *root, *q;
	const char *skip[2];
	struct fuzz_snap before, inside;
	struct fuzz_snap_opts out_opts, in_opts;
	struct allowed al;
	struct setup_opts o;
	struct setup_ctx c;
	struct err e;
	int rc;

	if (size > 16384 || memchr(data, '\0', size))
		return 0;
	text = malloc(size + 1);
	if (!text)
		fuzz_fail("out of memory");
	memcpy(text, data, size);
	text[size] = '\0';
	for (p = text; *p && nlines < MAX_LINES;) {
		char *nl = strchr(p, '\n');

		if (nl)
			*nl = '\0';
		if (*p)
			split(p, &lines[nlines++]);
		p = nl ? nl + 1 : p + strlen(p);
	}

	tmp = fuzz_tmp_make("journal");
	{
		char *real = realpath(tmp, NULL);   /* as in_root() will spell it */

		if (!real)
			fuzz_fail("realpath '%s'", tmp);
		free(tmp);
		tmp = real;
	}
	a = fuzz_printf("%s/a", tmp);
	root = fuzz_printf("%s/root", a);
	q = fuzz_printf("%s/sentinel/dir", a);
	if (fuzz_mkdirs(root) != 0 || fuzz_mkdirs(q) != 0)
		fuzz_fail("cannot set up '%s'", tmp);
	free(q);
	q = fuzz_printf("%s/sentinel/empty", a);   /* what a stray rmdir would take */
	if (fuzz_mkdirs(q) != 0)
		fuzz_fail("cannot set up '%s'", tmp);
	free(q);
	q = fuzz_printf("%s/sentinel/dir/file", a);
	fuzz_file_write(q, "sentinel\n", 9);
	free(q);
	q = fuzz_printf("%s/sentinel/file", a);
	fuzz_file_write(q, "sentinel\n", 9);
	free(q);
	q = fuzz_printf("%s/side", a);
	fuzz_file_write(q, "sentinel\n", 9);
	free(q);
	q = fuzz_printf("%s/top", tmp);
	fuzz_file_write(q, "sentinel\n", 9);
	free(q);

	if (build(root, lines, nlines) != 0)
		goto done;
	skip[0] = root;
	skip[1] = NULL;
	memset(&out_opts, 0, sizeof(out_opts));
	out_opts.skip_trees = skip;
	fuzz_snap_take(&before, tmp, &out_opts);
	allowed_collect(&al, root, lines, nlines);
	memset(&in_opts, 0, sizeof(in_opts));
	in_opts.skip_trees = (const char *const *)al.trees;
	in_opts.skip_entries = (const char *const *)al.entries;
	in_opts.loose = 1;
	fuzz_snap_take(&inside, root, &in_opts);

	memset(&o, 0, sizeof(o));
	o.root = root;
	o.quiet = 1;
	o.lock_timeout = 0;
	err_clear(&e);
	rc = setup_ctx_open(&c, &o, "recover", &e);
	if (rc != 0 && (!err_is_set(&e) || !e.msg[0]))
		fuzz_fail("recovery failed without a message");
	if (rc == 0) {
		/* One transaction per run (the lowest id); recover the rest. */
		int r = 1;

		for (int i = 0; i < MAX_LINES && r == 1; i++) {
			err_clear(&e);
			r = setup_txn_recover(&c, &e);
		}
		if (r < 0 && (!err_is_set(&e) || !e.msg[0]))
			fuzz_fail("recovery failed without a message");
		if (r == 0) {
			if (txn_count(&c) != 0)
				fuzz_fail("recovery reported nothing left to do, but sk_txn is not empty");
			err_clear(&e);
			if (reg_store_check(c.store, &e) != 0)
				fuzz_fail("integrity check after recovery: %s", e.msg);
		}
	}
	setup_ctx_close(&c);
	fuzz_snap_check(&before, tmp, &out_opts, "recovery (outside the root)");
	fuzz_snap_check(&inside, root, &in_opts, "recovery (in the root, beyond what the journal names)");
	fuzz_snap_free(&before);
	fuzz_snap_free(&inside);
	allowed_free(&al);
done:
	free(text);
	free(a);
	free(root);
	fuzz_tmp_remove(tmp);
	return 0;
}
