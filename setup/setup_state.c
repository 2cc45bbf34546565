/*
 * setup_state.c - the engine's tables in the state database: installed
 * products, their files (one row per product and path: the reference count
 * of a shared file is its number of rows), backups of files a product
 * replaced, directories it created, pending registrations, and the journal
 * of the transaction in progress. The only file of setup/ that speaks SQL;
 * the connection belongs to register/ (reg_store_db), so the journal and the
 * registry commit together.
 */
#include "setup.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <string.h>

#include "common/fault.h"
#include "common/mem.h"
#include "common/names.h"
#include "common/os.h"
#include "common/path.h"
#include "register/reg.h"

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS sk_product(code TEXT PRIMARY KEY, name TEXT, version TEXT,"
	" level INTEGER, install_dir TEXT, components TEXT, manifest TEXT);"
	"CREATE TABLE IF NOT EXISTS sk_file(path TEXT, product TEXT, file_id TEXT, component TEXT,"
	" size INTEGER, sha256 TEXT, mode INTEGER, version TEXT, flags INTEGER, PRIMARY KEY(path, product));"
	"CREATE TABLE IF NOT EXISTS sk_backup(product TEXT, path TEXT, backup TEXT, PRIMARY KEY(product, path));"
	"CREATE TABLE IF NOT EXISTS sk_dir(product TEXT, path TEXT, PRIMARY KEY(product, path));"
	"CREATE TABLE IF NOT EXISTS sk_pending(product TEXT, path TEXT, reason TEXT, PRIMARY KEY(product, path));"
	/* Modules a product registered without owning the file (already on
	 * disk, identical to the media's: kept). */
	"CREATE TABLE IF NOT EXISTS sk_kept_module(product TEXT, path TEXT, PRIMARY KEY(product, path));"
	"CREATE TABLE IF NOT EXISTS sk_txn(id INTEGER PRIMARY KEY, op TEXT, product TEXT, state TEXT,"
	" reg_mark INTEGER, stage_dir TEXT);"
	"CREATE TABLE IF NOT EXISTS sk_txn_op(txn INTEGER, seq INTEGER, kind INTEGER, path TEXT,"
	" old_exists INTEGER, keep TEXT, mode INTEGER, PRIMARY KEY(txn, seq));"
	"CREATE TABLE IF NOT EXISTS sk_txn_dir(txn INTEGER, seq INTEGER, path TEXT, PRIMARY KEY(txn, seq));"
	"CREATE TABLE IF NOT EXISTS sk_txn_module(txn INTEGER, module TEXT, PRIMARY KEY(txn, module));"
	/* Service packs applied, what each replaced (backup NULL: the pack
	 * added the file) and the sk_file row before it, and the modules whose
	 * captures above reg_mark belong to the pack. */
	"CREATE TABLE IF NOT EXISTS sk_sp(product TEXT, level INTEGER, name TEXT, prev_level INTEGER,"
	" prev_version TEXT, new_version TEXT, reg_mark INTEGER, PRIMARY KEY(product, level));"
	"CREATE TABLE IF NOT EXISTS sk_sp_file(product TEXT, level INTEGER, path TEXT, backup TEXT,"
	" had_rec INTEGER, file_id TEXT, component TEXT, size INTEGER, sha256 TEXT, mode INTEGER,"
	" version TEXT, flags INTEGER, PRIMARY KEY(product, level, path));"
	"CREATE TABLE IF NOT EXISTS sk_sp_module(product TEXT, level INTEGER, module TEXT,"
	" PRIMARY KEY(product, level, module));"
	"CREATE TABLE IF NOT EXISTS sk_sp_dir(product TEXT, level INTEGER, seq INTEGER, path TEXT,"
	" PRIMARY KEY(product, level, seq));";

static sqlite3 *db(struct setup_ctx *c)
{
	return reg_store_db(c->store);
}

/* With the OS error under an I/O failure ("disk I/O error: Read-only file
 * system"): SQLite's own text does not say the cause. errno is read first,
 * as the failing call left it (see reg_store.c's oserr for why). */
static int sql_err(struct setup_ctx *c, struct err *e, const char *what)
{
	int err_no = errno;
	int code = sqlite3_errcode(db(c)) & 0xff, os = sqlite3_system_errno(db(c));
	int io;

	if (!os)
		os = code == SQLITE_FULL ? ENOSPC : err_no;   /* SQLite clears the errno of ENOSPC */
	io = os && (code == SQLITE_IOERR || code == SQLITE_FULL || code == SQLITE_CANTOPEN || code == SQLITE_READONLY);
	return err_set(e, ERR_CLASS_IO, "state database %s/%s: %s: %s%s%s", c->root, "var/lib/setupkit/state.db",
		       what, sqlite3_errmsg(db(c)), io ? ": " : "", io ? strerror(os) : "");
}

/* Prepare sql and bind text/int arguments described by fmt: 's' text (NULL
 * binds NULL), 'i' int, 'l' int64. */
static sqlite3_stmt *prep(struct setup_ctx *c, struct err *e, const char *sql, const char *fmt, ...)
{
	sqlite3_stmt *st = NULL;
	va_list ap;
	int i = 1;

	if (sqlite3_prepare_v2(db(c), sql, -1, &st, NULL) != SQLITE_OK) {
		sql_err(c, e, "cannot prepare a statement");
		return NULL;
	}
	va_start(ap, fmt);
	for (const char *f = fmt; *f; f++, i++) {
		if (*f == 's') {
			const char *s = va_arg(ap, const char *);

			sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
		} else if (*f == 'i') {
			sqlite3_bind_int(st, i, va_arg(ap, int));
		} else {
			sqlite3_bind_int64(st, i, va_arg(ap, int64_t));
		}
	}
	va_end(ap);
	return st;
}

/* Run a statement with no result rows. */
static int run(struct setup_ctx *c, struct err *e, sqlite3_stmt *st, const char *what)
{
	int rc;

	if (!st)
		return -1;
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return sql_err(c, e, what);
	return 0;
}

static char *col(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return mem_strdup(t ? (const char *)t : "");
}

int setup_state_init(struct setup_ctx *c, struct err *e)
{
	if (sqlite3_exec(db(c), schema, NULL, NULL, NULL) != SQLITE_OK)
		return sql_err(c, e, "cannot create the setup tables");
	/* Installed services and their start type (setup_service.c). */
	if (sqlite3_exec(db(c), "CREATE TABLE IF NOT EXISTS sk_service(product TEXT, name TEXT, start_type INTEGER,"
			 " PRIMARY KEY(product, name));", NULL, NULL, NULL) != SQLITE_OK)
		return sql_err(c, e, "cannot create the services table");
	return 0;
}

int setup_state_begin(struct setup_ctx *c, struct err *e)
{
	return reg_store_begin(c->store, e);
}

int setup_state_commit(struct setup_ctx *c, struct err *e)
{
	fault_point("state commit");
	return reg_store_commit(c->store, e);
}

void setup_state_rollback(struct setup_ctx *c)
{
	struct err ignore;

	reg_store_rollback(c->store, &ignore);
}

void setup_product_destroy(struct setup_product *p)
{
	mem_free(p->code);
	mem_free(p->name);
	mem_free(p->version);
	mem_free(p->install_dir);
	mem_free(p->components);
	mem_free(p->manifest);
	memset(p, 0, sizeof(*p));
}

void setup_file_rec_destroy(struct setup_file_rec *f)
{
	mem_free(f->path);
	mem_free(f->product);
	mem_free(f->file_id);
	mem_free(f->component);
	mem_free(f->sha256);
	mem_free(f->version);
	memset(f, 0, sizeof(*f));
}

void setup_strv_free(char **v, int n)
{
	for (int i = 0; i < n; i++)
		mem_free(v[i]);
	mem_free(v);
}

void setup_file_recs_free(struct setup_file_rec *v, int n)
{
	for (int i = 0; i < n; i++)
		setup_file_rec_destroy(&v[i]);
	mem_free(v);
}

int setup_strv_has(char *const *v, int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return 1;
	return 0;
}

int setup_state_product(struct setup_ctx *c, const char *code, struct setup_product *p, struct err *e)
{
	sqlite3_stmt *st = prep(c, e, "SELECT code, name, version, level, install_dir, components, manifest"
				" FROM sk_product WHERE code = ?", "s", code);
	int rc;

	memset(p, 0, sizeof(*p));
	if (!st)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		p->code = col(st, 0);
		p->name = col(st, 1);
		p->version = col(st, 2);
		p->level = sqlite3_column_int(st, 3);
		p->install_dir = col(st, 4);
		p->components = col(st, 5);
		p->manifest = col(st, 6);
		sqlite3_finalize(st);
		if (!p->code || !p->name || !p->version || !p->install_dir || !p->components || !p->manifest) {
			setup_product_destroy(p);
			return err_nomem(e, "reading the installed state");
		}
		return 1;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return sql_err(c, e, "cannot read the installed products");
	return 0;
}

static int strv_query(struct setup_ctx *c, sqlite3_stmt *st, char ***out, int *n, struct err *e)
{
	char **v = NULL;
	int k = 0, rc;

	*out = NULL;
	*n = 0;
	if (!st)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		char **g = mem_realloc_array(v, (size_t)k + 1, sizeof(char *));

		if (!g || !(g[k] = col(st, 0))) {
			mem_free(g ? g : v);
			if (g)
				setup_strv_free(g, k);
			sqlite3_finalize(st);
			return err_nomem(e, "reading the installed state");
		}
		v = g;
		k++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		setup_strv_free(v, k);
		return sql_err(c, e, "cannot read the installed state");
	}
	*out = v;
	*n = k;
	return 0;
}

int setup_state_products(struct setup_ctx *c, char ***codes, int *n, struct err *e)
{
	return strv_query(c, prep(c, e, "SELECT code FROM sk_product ORDER BY code", ""), codes, n, e);
}

int setup_state_product_put(struct setup_ctx *c, const struct setup_product *p, struct err *e)
{
	return run(c, e, prep(c, e, "INSERT OR REPLACE INTO sk_product VALUES(?,?,?,?,?,?,?)", "sssisss",
			      p->code, p->name, p->version, p->level, p->install_dir, p->components, p->manifest),
		   "cannot record the product");
}

int setup_state_product_delete(struct setup_ctx *c, const char *code, struct err *e)
{
	static const char *const sql[] = {
		"DELETE FROM sk_product WHERE code = ?", "DELETE FROM sk_file WHERE product = ?",
		"DELETE FROM sk_backup WHERE product = ?", "DELETE FROM sk_dir WHERE product = ?",
		"DELETE FROM sk_pending WHERE product = ?", "DELETE FROM sk_sp WHERE product = ?",
		"DELETE FROM sk_sp_file WHERE product = ?", "DELETE FROM sk_sp_module WHERE product = ?",
		"DELETE FROM sk_sp_dir WHERE product = ?", "DELETE FROM sk_kept_module WHERE product = ?", NULL,
	};

	for (int i = 0; sql[i]; i++)
		if (run(c, e, prep(c, e, sql[i], "s", code), "cannot forget the product"))
			return -1;
	return 0;
}

static int file_rows(struct setup_ctx *c, sqlite3_stmt *st, struct setup_file_rec **out, int *n, int max, struct err *e)
{
	struct setup_file_rec *v = NULL;
	int k = 0, rc;

	*out = NULL;
	*n = 0;
	if (!st)
		return -1;
	while ((max == 0 || k < max) && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct setup_file_rec *g = mem_realloc_array(v, (size_t)k + 1, sizeof(*v));
		struct setup_file_rec *f;

		if (!g)
			goto nomem;
		v = g;
		f = &v[k++];
		memset(f, 0, sizeof(*f));
		f->path = col(st, 0);
		f->product = col(st, 1);
		f->file_id = col(st, 2);
		f->component = col(st, 3);
		f->size = (uint64_t)sqlite3_column_int64(st, 4);
		f->sha256 = col(st, 5);
		f->mode = (unsigned)sqlite3_column_int(st, 6);
		f->version = col(st, 7);
		f->flags = (unsigned)sqlite3_column_int(st, 8);
		if (!f->path || !f->product || !f->file_id || !f->component || !f->sha256 || !f->version)
			goto nomem;
	}
	if (max && k == max)
		rc = SQLITE_DONE;
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		setup_file_recs_free(v, k);
		return sql_err(c, e, "cannot read the installed files");
	}
	*out = v;
	*n = k;
	return 0;
nomem:
	sqlite3_finalize(st);
	setup_file_recs_free(v, k);
	return err_nomem(e, "reading the installed files");
}

#define FILE_COLS "path, product, file_id, component, size, sha256, mode, version, flags"

int setup_state_files(struct setup_ctx *c, const char *product, struct setup_file_rec **out, int *n, struct err *e)
{
	return file_rows(c, prep(c, e, "SELECT " FILE_COLS " FROM sk_file WHERE product = ? ORDER BY path", "s", product),
			 out, n, 0, e);
}

int setup_state_file_any(struct setup_ctx *c, const char *path, struct setup_file_rec *out, struct err *e)
{
	struct setup_file_rec *v;
	int n;

	memset(out, 0, sizeof(*out));
	if (file_rows(c, prep(c, e, "SELECT " FILE_COLS " FROM sk_file WHERE path = ? ORDER BY product", "s", path),
		      &v, &n, 1, e))
		return -1;
	if (n == 0)
		return 0;
	*out = v[0];
	mem_free(v);
	return 1;
}

int setup_state_kept_module_put(struct setup_ctx *c, const char *product, const char *path, struct err *e)
{
	return run(c, e, prep(c, e, "INSERT OR REPLACE INTO sk_kept_module VALUES(?,?)", "ss", product, path),
		   "cannot record a kept module");
}

int setup_state_kept_modules(struct setup_ctx *c, const char *product, char ***paths, int *n, struct err *e)
{
	return strv_query(c, prep(c, e, "SELECT path FROM sk_kept_module k WHERE product = ?1 "
				  "AND NOT EXISTS (SELECT 1 FROM sk_file f WHERE f.path = k.path AND f.product <> ?1) "
				  "AND NOT EXISTS (SELECT 1 FROM sk_kept_module o WHERE o.path = k.path AND o.product <> ?1) "
				  "ORDER BY path", "s", product), paths, n, e);
}

int setup_state_file_refs(struct setup_ctx *c, const char *path, const char *except_product, struct err *e)
{
	sqlite3_stmt *st = prep(c, e, "SELECT count(*) FROM sk_file WHERE path = ? AND product <> ?", "ss",
				path, except_product ? except_product : "");
	int n;

	if (!st)
		return -1;
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return sql_err(c, e, "cannot count references to a file");
	}
	n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

int setup_state_file_put(struct setup_ctx *c, const struct setup_file_rec *f, struct err *e)
{
	sqlite3_stmt *st = prep(c, e, "INSERT OR REPLACE INTO sk_file VALUES(?,?,?,?,?,?,?,?,?)", "ssss",
				f->path, f->product, f->file_id, f->component);

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 5, (sqlite3_int64)f->size);
	sqlite3_bind_text(st, 6, f->sha256, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 7, (int)f->mode);
	sqlite3_bind_text(st, 8, f->version ? f->version : "", -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 9, (int)f->flags);
	return run(c, e, st, "cannot record an installed file");
}

int setup_state_file_delete(struct setup_ctx *c, const char *product, const char *path, struct err *e)
{
	return run(c, e, prep(c, e, "DELETE FROM sk_file WHERE product = ? AND path = ?", "ss", product, path),
		   "cannot forget an installed file");
}

int setup_state_backup_put(struct setup_ctx *c, const char *product, const char *path, const char *backup, struct err *e)
{
	return run(c, e, prep(c, e, "INSERT OR REPLACE INTO sk_backup VALUES(?,?,?)", "sss", product, path, backup),
		   "cannot record a backup");
}

int setup_state_backup_get(struct setup_ctx *c, const char *product, const char *path, char **backup, struct err *e)
{
	char **v;
	int n;

	*backup = NULL;
	if (strv_query(c, prep(c, e, "SELECT backup FROM sk_backup WHERE product = ? AND path = ?", "ss", product, path),
		       &v, &n, e))
		return -1;
	if (n) {
		*backup = v[0];
		v[0] = NULL;
	}
	setup_strv_free(v, n);
	return n ? 1 : 0;
}

int setup_state_backup_delete(struct setup_ctx *c, const char *product, const char *path, struct err *e)
{
	return run(c, e, prep(c, e, "DELETE FROM sk_backup WHERE product = ? AND path = ?", "ss", product, path),
		   "cannot forget a backup");
}

int setup_state_dir_put(struct setup_ctx *c, const char *product, const char *path, struct err *e)
{
	return run(c, e, prep(c, e, "INSERT OR IGNORE INTO sk_dir VALUES(?,?)", "ss", product, path),
		   "cannot record a directory");
}

int setup_state_dirs(struct setup_ctx *c, const char *product, char ***paths, int *n, struct err *e)
{
	/* Deepest first, so each can be removed after its children. */
	return strv_query(c, prep(c, e, "SELECT path FROM sk_dir WHERE product = ? ORDER BY length(path) DESC, path",
				  "s", product), paths, n, e);
}

int setup_state_dirs_hand_over(struct setup_ctx *c, const char *product, struct err *e)
{
	return run(c, e, prep(c, e, "INSERT OR IGNORE INTO sk_dir SELECT f.product, d.path FROM sk_dir d, sk_file f"
			      " WHERE d.product = ?1 AND f.product <> ?1"
			      " AND substr(f.path, 1, length(d.path) + 1) = d.path || '/'", "s", product),
		   "cannot hand directories over");
}

int setup_state_dirs_delete(struct setup_ctx *c, const char *product, struct err *e)
{
	return run(c, e, prep(c, e, "DELETE FROM sk_dir WHERE product = ?", "s", product), "cannot forget directories");
}

int setup_state_service_put(struct setup_ctx *c, const char *product, const char *name, int start_type, struct err *e)
{
	return run(c, e, prep(c, e, "INSERT OR REPLACE INTO sk_service VALUES(?,?,?)", "ssi", product, name, start_type),
		   "cannot record a service");
}

int setup_state_services_delete(struct setup_ctx *c, const char *product, struct err *e)
{
	return run(c, e, prep(c, e, "DELETE FROM sk_service WHERE product = ?", "s", product), "cannot forget the services");
}

int setup_state_service_type(struct setup_ctx *c, const char *product, const char *name, struct err *e)
{
	sqlite3_stmt *st = prep(c, e, "SELECT start_type FROM sk_service WHERE product = ? AND name = ?", "ss", product, name);
	int rc, v = 0;

	if (!st)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sql_err(c, e, "cannot read the services");
	return v;
}

int setup_state_pending_put(struct setup_ctx *c, const char *product, const char *path, const char *reason, struct err *e)
{
	return run(c, e, prep(c, e, "INSERT OR REPLACE INTO sk_pending VALUES(?,?,?)", "sss", product, path, reason),
		   "cannot record a pending registration");
}

int setup_state_pending_delete(struct setup_ctx *c, const char *product, const char *path, struct err *e)
{
	return run(c, e, prep(c, e, "DELETE FROM sk_pending WHERE product = ? AND path = ?", "ss", product, path),
		   "cannot forget a pending registration");
}

int setup_state_pending(struct setup_ctx *c, const char *product, char ***paths, int *n, struct err *e)
{
	return strv_query(c, prep(c, e, "SELECT path FROM sk_pending WHERE product = ? ORDER BY path", "s", product),
			  paths, n, e);
}

int setup_state_pending_restart(struct setup_ctx *c, const char *product, char ***paths, int *n, struct err *e)
{
	return strv_query(c, prep(c, e, "SELECT path FROM sk_pending WHERE (?1 IS NULL OR product = ?1) AND reason = ?2 "
				  "ORDER BY path", "ss", product, SETUP_PENDING_RESTART), paths, n, e);
}

int64_t setup_state_reg_mark(struct setup_ctx *c, struct err *e)
{
	sqlite3_stmt *st = prep(c, e, "SELECT coalesce(max(id), 0) FROM reg_capture", "");
	int64_t v;

	if (!st)
		return -1;
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return sql_err(c, e, "cannot read the registry capture mark");
	}
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Highest capture id of one module (0 when it has none). */
static int64_t module_last_capture(struct setup_ctx *c, const char *module, struct err *e)
{
	sqlite3_stmt *st = prep(c, e, "SELECT coalesce(max(id), 0) FROM reg_capture WHERE module = ?", "s", module);
	int64_t v;

	if (!st)
		return -1;
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return sql_err(c, e, "cannot read registry captures");
	}
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

int setup_state_sort_by_capture(struct setup_ctx *c, char **modules, int n, struct err *e)
{
	int64_t *last = mem_array((size_t)n + 1, sizeof(int64_t));

	if (!last)
		return err_nomem(e, "ordering registry undo");
	for (int i = 0; i < n; i++)
		if ((last[i] = module_last_capture(c, modules[i], e)) < 0) {
			mem_free(last);
			return -1;
		}
	/* Insertion sort, newest first: n is the number of modules. */
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && last[j] > last[j - 1]; j--) {
			int64_t tl = last[j];
			char *tm = modules[j];

			last[j] = last[j - 1];
			modules[j] = modules[j - 1];
			last[j - 1] = tl;
			modules[j - 1] = tm;
		}
	mem_free(last);
	return 0;
}

/* ---- journal --------------------------------------------------------------- */

int setup_journal_write(struct setup_ctx *c, struct setup_txn *t, struct err *e)
{
	sqlite3_stmt *st;

	if (run(c, e, prep(c, e, "INSERT INTO sk_txn(op, product, state, reg_mark, stage_dir) VALUES(?,?,'open',?,?)",
			   "ssls", t->op, t->product, t->reg_mark, t->stage_dir), "cannot write the journal"))
		return -1;
	t->id = sqlite3_last_insert_rowid(db(c));
	st = prep(c, e, "INSERT INTO sk_txn_op VALUES(?,?,?,?,?,?,?)", "");
	if (!st)
		return -1;
	for (int i = 0; i < t->nops; i++) {
		const struct setup_op *o = &t->ops[i];

		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, t->id);
		sqlite3_bind_int(st, 2, i);
		sqlite3_bind_int(st, 3, (int)o->kind);
		sqlite3_bind_text(st, 4, o->path, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 5, o->old_exists);
		sqlite3_bind_text(st, 6, o->keep, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 7, (int)o->mode);
		if (sqlite3_step(st) != SQLITE_DONE) {
			sqlite3_finalize(st);
			return sql_err(c, e, "cannot write the journal");
		}
	}
	sqlite3_finalize(st);
	return 0;
}

/* Whether a path read back from the journal is one setup could have written
 * there: absolute, then a clean relative path (no '.', '..', '//', '\\' or
 * control character; on Windows a drive root, and '\\' separates too),
 * below `under` when given. Recovery renames, unlinks
 * and removes trees at these paths under the root, so a damaged journal
 * must not be able to point it outside the root (a '..') or at the root
 * itself (a staging directory "/" removed the whole root). */
static int journal_path_ok(const char *p, const char *under)
{
	size_t n = under ? strlen(under) : 0;

	if (!p || !os_path_clean_absolute(p))
		return 0;
	if (under) {
		char sep[2] = { '\0', '\0' };

		if (strncmp(p, under, n) != 0)   /* then p holds n bytes */
			return 0;
		sep[0] = p[n];   /* must be a separator */
		if (!sep[0] || os_path_last_sep(sep) != sep)
			return 0;
	}
	return 1;
}

static int journal_damaged(struct setup_ctx *c, struct err *e, int64_t id, const char *what, const char *value)
{
	return err_set(e, ERR_CLASS_INTERNAL, "the journal of transaction %lld in %s/%s is damaged: %s '%s' is not "
		       "one setup writes there; nothing was recovered or changed. Restore the state database "
		       "from a backup, or remove the transaction's rows from sk_txn* after checking the files",
		       (long long)id, c->root, SK_STATE_DB, what, value ? value : "(null)");
}

int setup_journal_load(struct setup_ctx *c, struct setup_txn *t, char **state, struct err *e)
{
	sqlite3_stmt *st = prep(c, e, "SELECT id, op, product, state, reg_mark, stage_dir FROM sk_txn ORDER BY id LIMIT 1", "");
	int rc;

	memset(t, 0, sizeof(*t));
	*state = NULL;
	if (!st)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sqlite3_finalize(st);
		return 0;
	}
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(st);
		return sql_err(c, e, "cannot read the journal");
	}
	t->id = sqlite3_column_int64(st, 0);
	t->op = col(st, 1);
	t->product = col(st, 2);
	*state = col(st, 3);
	t->reg_mark = sqlite3_column_int64(st, 4);
	t->stage_dir = col(st, 5);
	sqlite3_finalize(st);
	if (!t->op || !t->product || !*state || !t->stage_dir)
		return err_nomem(e, "reading the journal");
	/* A capture id: rollback undoes the captures above it (reg_mark + 1). */
	if (t->reg_mark < 0 || t->reg_mark == INT64_MAX) {
		char m[24];

		snprintf(m, sizeof(m), "%lld", (long long)t->reg_mark);
		return journal_damaged(c, e, t->id, "the registry mark", m);
	}

	st = prep(c, e, "SELECT kind, path, old_exists, keep, mode FROM sk_txn_op WHERE txn = ? ORDER BY seq", "l", t->id);
	if (!st)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *keep = (const char *)sqlite3_column_text(st, 3);
		const char *path = (const char *)sqlite3_column_text(st, 1);
		int kind = sqlite3_column_int(st, 0);
		char k[24];

		/* A PUT's keep is in the backup store, a RESTORE's is the backup:
		 * both in the state directory, and a RESTORE needs one. */
		if (kind != SETUP_OP_PUT && kind != SETUP_OP_REMOVE && kind != SETUP_OP_RESTORE &&
		    kind != SETUP_OP_PUT_RESTART) {
			snprintf(k, sizeof(k), "%d", kind);
			rc = journal_damaged(c, e, t->id, "the operation kind", k);
		} else if (!journal_path_ok(path, NULL)) {
			rc = journal_damaged(c, e, t->id, "the file", path);
		} else if (((keep && *keep) || kind == SETUP_OP_RESTORE) && !journal_path_ok(keep, "/" SK_STATE_DIR)) {
			rc = journal_damaged(c, e, t->id, "the backup", keep);
		} else {
			rc = 0;
		}
		if (rc) {
			sqlite3_finalize(st);
			return -1;
		}
		if (setup_txn_add(t, (enum setup_op_kind)kind, path, sqlite3_column_int(st, 2), keep,
				  (unsigned)sqlite3_column_int(st, 4), e)) {
			sqlite3_finalize(st);
			return -1;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return sql_err(c, e, "cannot read the journal");
	if (strv_query(c, prep(c, e, "SELECT path FROM sk_txn_dir WHERE txn = ? ORDER BY seq", "l", t->id), &t->dirs, &t->ndirs, e) ||
	    strv_query(c, prep(c, e, "SELECT module FROM sk_txn_module WHERE txn = ? ORDER BY module", "l", t->id), &t->modules, &t->nmodules, e))
		return -1;
	for (int i = 0; i < t->ndirs; i++)
		if (!journal_path_ok(t->dirs[i], NULL))
			return journal_damaged(c, e, t->id, "the directory", t->dirs[i]);
	if (*t->stage_dir && !journal_path_ok(t->stage_dir, "/" SK_STATE_DIR))
		return journal_damaged(c, e, t->id, "the staging directory", t->stage_dir);
	return 1;
}

int setup_journal_append_op(struct setup_ctx *c, struct setup_txn *t, int idx, struct err *e)
{
	const struct setup_op *o = &t->ops[idx];
	sqlite3_stmt *st = prep(c, e, "INSERT INTO sk_txn_op VALUES(?,?,?,?,?,?,?)", "liisisi",
				t->id, idx, (int)o->kind, o->path, o->old_exists, o->keep, (int)o->mode);

	return run(c, e, st, "cannot journal a file operation");
}

int setup_journal_set_op_kind(struct setup_ctx *c, int64_t id, int seq, enum setup_op_kind kind, struct err *e)
{
	return run(c, e, prep(c, e, "UPDATE sk_txn_op SET kind = ? WHERE txn = ? AND seq = ?", "ili", (int)kind, id, seq),
		   "cannot update the journal");
}

int setup_journal_set_state(struct setup_ctx *c, int64_t id, const char *state, struct err *e)
{
	return run(c, e, prep(c, e, "UPDATE sk_txn SET state = ? WHERE id = ?", "sl", state, id), "cannot update the journal");
}

int setup_journal_add_dir(struct setup_ctx *c, int64_t id, const char *path, struct err *e)
{
	fault_point("journal dir");
	return run(c, e, prep(c, e, "INSERT INTO sk_txn_dir VALUES(?, (SELECT count(*) FROM sk_txn_dir WHERE txn = ?), ?)",
			      "lls", id, id, path), "cannot journal a directory");
}

int setup_journal_add_module(struct setup_ctx *c, int64_t id, const char *module, struct err *e)
{
	fault_point("journal module");
	return run(c, e, prep(c, e, "INSERT OR IGNORE INTO sk_txn_module VALUES(?,?)", "ls", id, module),
		   "cannot journal a module");
}

int setup_journal_forget(struct setup_ctx *c, int64_t id, struct err *e)
{
	static const char *const sql[] = {
		"DELETE FROM sk_txn_op WHERE txn = ?", "DELETE FROM sk_txn_dir WHERE txn = ?",
		"DELETE FROM sk_txn_module WHERE txn = ?", "DELETE FROM sk_txn WHERE id = ?", NULL,
	};

	for (int i = 0; sql[i]; i++)
		if (run(c, e, prep(c, e, sql[i], "l", id), "cannot clear the journal"))
			return -1;
	return 0;
}

/* ---- service packs --------------------------------------------------------- */

void setup_sp_rec_destroy(struct setup_sp_rec *r)
{
	mem_free(r->name);
	mem_free(r->prev_version);
	mem_free(r->new_version);
	memset(r, 0, sizeof(*r));
}

void setup_sp_file_destroy(struct setup_sp_file *f)
{
	mem_free(f->backup);
	setup_file_rec_destroy(&f->rec);
	memset(f, 0, sizeof(*f));
}

int setup_state_sp_put(struct setup_ctx *c, const char *product, const struct setup_sp_rec *r, struct err *e)
{
	return run(c, e, prep(c, e, "INSERT OR REPLACE INTO sk_sp VALUES(?,?,?,?,?,?,?)", "sisissl", product, r->level,
			      r->name, r->prev_level, r->prev_version, r->new_version, r->reg_mark),
		   "cannot record the service pack");
}

int setup_state_sps(struct setup_ctx *c, const char *product, struct setup_sp_rec **out, int *n, struct err *e)
{
	sqlite3_stmt *st = prep(c, e, "SELECT level, name, prev_level, prev_version, new_version, reg_mark FROM sk_sp"
				" WHERE product = ? ORDER BY level DESC", "s", product);
	struct setup_sp_rec *v = NULL;
	int k = 0, rc;

	*out = NULL;
	*n = 0;
	if (!st)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct setup_sp_rec *g = mem_realloc_array(v, (size_t)k + 1, sizeof(*v));

		if (!g) {
			rc = SQLITE_NOMEM;
			break;
		}
		v = g;
		memset(&v[k], 0, sizeof(v[k]));
		v[k].level = sqlite3_column_int(st, 0);
		v[k].name = col(st, 1);
		v[k].prev_level = sqlite3_column_int(st, 2);
		v[k].prev_version = col(st, 3);
		v[k].new_version = col(st, 4);
		v[k].reg_mark = sqlite3_column_int64(st, 5);
		k++;
		if (!v[k - 1].name || !v[k - 1].prev_version || !v[k - 1].new_version) {
			rc = SQLITE_NOMEM;
			break;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		for (int i = 0; i < k; i++)
			setup_sp_rec_destroy(&v[i]);
		mem_free(v);
		return rc == SQLITE_NOMEM ? err_nomem(e, "reading the service packs") : sql_err(c, e, "cannot read the service packs");
	}
	*out = v;
	*n = k;
	return 0;
}

int setup_state_sp_file_put(struct setup_ctx *c, const char *product, int level, const char *path, const char *backup,
			    const struct setup_file_rec *prev, struct err *e)
{
	sqlite3_stmt *st = prep(c, e, "INSERT OR REPLACE INTO sk_sp_file VALUES(?,?,?,?,?,?,?,?,?,?,?,?)", "sissi",
				product, level, path, backup, prev ? 1 : 0);

	if (!st)
		return -1;
	if (prev) {
		sqlite3_bind_text(st, 6, prev->file_id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 7, prev->component, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 8, (int64_t)prev->size);
		sqlite3_bind_text(st, 9, prev->sha256, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(st, 10, (int)prev->mode);
		sqlite3_bind_text(st, 11, prev->version, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(st, 12, (int)prev->flags);
	}
	return run(c, e, st, "cannot record a service pack's file");
}

int setup_state_sp_files(struct setup_ctx *c, const char *product, int level, struct setup_sp_file **out, int *n,
			 struct err *e)
{
	sqlite3_stmt *st = prep(c, e, "SELECT path, backup, had_rec, file_id, component, size, sha256, mode, version, flags"
				" FROM sk_sp_file WHERE product = ? AND level = ? ORDER BY path", "si", product, level);
	struct setup_sp_file *v = NULL;
	int k = 0, rc;

	*out = NULL;
	*n = 0;
	if (!st)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct setup_sp_file *g = mem_realloc_array(v, (size_t)k + 1, sizeof(*v));
		struct setup_sp_file *f;

		if (!g) {
			rc = SQLITE_NOMEM;
			break;
		}
		v = g;
		f = &v[k++];
		memset(f, 0, sizeof(*f));
		f->rec.path = col(st, 0);
		f->backup = sqlite3_column_type(st, 1) == SQLITE_NULL ? NULL : col(st, 1);
		f->had_rec = sqlite3_column_int(st, 2);
		f->rec.product = mem_strdup(product);
		f->rec.file_id = col(st, 3);
		f->rec.component = col(st, 4);
		f->rec.size = (uint64_t)sqlite3_column_int64(st, 5);
		f->rec.sha256 = col(st, 6);
		f->rec.mode = (unsigned)sqlite3_column_int(st, 7);
		f->rec.version = col(st, 8);
		f->rec.flags = (unsigned)sqlite3_column_int(st, 9);
		if (!f->rec.path || !f->rec.product || !f->rec.file_id || !f->rec.component || !f->rec.sha256 ||
		    !f->rec.version || (sqlite3_column_type(st, 1) != SQLITE_NULL && !f->backup)) {
			rc = SQLITE_NOMEM;
			break;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		for (int i = 0; i < k; i++)
			setup_sp_file_destroy(&v[i]);
		mem_free(v);
		return rc == SQLITE_NOMEM ? err_nomem(e, "reading a service pack's files")
			: sql_err(c, e, "cannot read a service pack's files");
	}
	*out = v;
	*n = k;
	return 0;
}

int setup_state_sp_module_put(struct setup_ctx *c, const char *product, int level, const char *module, struct err *e)
{
	return run(c, e, prep(c, e, "INSERT OR IGNORE INTO sk_sp_module VALUES(?,?,?)", "sis", product, level, module),
		   "cannot record a service pack's module");
}

int setup_state_sp_modules(struct setup_ctx *c, const char *product, int level, char ***mods, int *n, struct err *e)
{
	return strv_query(c, prep(c, e, "SELECT module FROM sk_sp_module WHERE product = ? AND level = ? ORDER BY module",
				  "si", product, level), mods, n, e);
}

int setup_state_sp_delete(struct setup_ctx *c, const char *product, int level, struct err *e)
{
	static const char *const sql[] = {
		"DELETE FROM sk_sp WHERE product = ? AND level = ?", "DELETE FROM sk_sp_file WHERE product = ? AND level = ?",
		"DELETE FROM sk_sp_module WHERE product = ? AND level = ?", "DELETE FROM sk_sp_dir WHERE product = ? AND level = ?",
		NULL,
	};

	for (int i = 0; sql[i]; i++)
		if (run(c, e, prep(c, e, sql[i], "si", product, level), "cannot forget the service pack"))
			return -1;
	return 0;
}

int setup_state_sp_dir_put(struct setup_ctx *c, const char *product, int level, int seq, const char *path, struct err *e)
{
	return run(c, e, prep(c, e, "INSERT OR REPLACE INTO sk_sp_dir VALUES(?,?,?,?)", "siis", product, level, seq, path),
		   "cannot record a service pack's directory");
}

int setup_state_sp_dirs(struct setup_ctx *c, const char *product, int level, char ***paths, int *n, struct err *e)
{
	return strv_query(c, prep(c, e, "SELECT path FROM sk_sp_dir WHERE product = ? AND level = ? ORDER BY seq",
				  "si", product, level), paths, n, e);
}

int setup_state_dir_delete(struct setup_ctx *c, const char *product, const char *path, struct err *e)
{
	return run(c, e, prep(c, e, "DELETE FROM sk_dir WHERE product = ? AND path = ?", "ss", product, path),
		   "cannot forget a directory");
}
