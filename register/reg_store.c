/*
 * reg_store.c - the registry's SQLite store: hierarchical keys and typed
 * values in <root>/var/lib/setupkit/state.db.
 *
 * Schema: reg_key(lpath, path, lparent) holds every key but the four roots
 * (which always exist); lpath is the case-folded full path, path keeps the
 * case the key was created with. reg_value(lkey, lname, name, type, data).
 * A subtree is the range lpath = K or K\ <= lpath < K] (']' follows '\'),
 * which the primary key index serves directly. On Windows, where the
 * registry is the system's, reg_keys_win32.c adds reg_undo_commit(token).
 *
 * Durability: journal_mode=WAL with synchronous=FULL, so a commit is on disk
 * when reg_store_commit returns, and readers (registration children, other
 * `register` processes) never block the writer. busy_timeout lets several
 * processes queue for the write lock instead of failing.
 * Trap: the setup engine runs its own statements on the same connection
 * inside our transactions, so nothing here may COMMIT behind its back.
 */
#include "reg_private.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/mem.h"
#include "common/names.h"
#include "common/os.h"
#include "common/path.h"
#include <setupkit/reg.h>

#define REG_BUSY_TIMEOUT_MS 30000

static const char *const schema =
	"CREATE TABLE IF NOT EXISTS reg_key("
	" lpath TEXT PRIMARY KEY, path TEXT NOT NULL, lparent TEXT NOT NULL) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS reg_key_parent ON reg_key(lparent, lpath);"
	"CREATE TABLE IF NOT EXISTS reg_value("
	" lkey TEXT NOT NULL, lname TEXT NOT NULL, name TEXT NOT NULL,"
	" type INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY(lkey, lname)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS reg_capture("
	" id INTEGER PRIMARY KEY AUTOINCREMENT, module TEXT NOT NULL, kind INTEGER NOT NULL,"
	" key TEXT NOT NULL, name TEXT, old_type INTEGER, old_data BLOB,"
	" new_type INTEGER, new_data BLOB);"
	"CREATE INDEX IF NOT EXISTS reg_capture_module ON reg_capture(module, id);";

static const char *const stmt_sql[RS__COUNT] = {
	[RS_KEY_GET] = "SELECT path FROM reg_key WHERE lpath = ?1",
	[RS_KEY_INSERT] = "INSERT INTO reg_key(lpath, path, lparent) VALUES(?1, ?2, ?3)",
	[RS_KEY_CHILD_AT] = "SELECT path FROM reg_key WHERE lparent = ?1 ORDER BY lpath LIMIT 1 OFFSET ?2",
	[RS_KEY_HAS_CHILD] = "SELECT 1 FROM reg_key WHERE lparent = ?1 LIMIT 1",
	[RS_KEY_DEL_TREE] = "DELETE FROM reg_key WHERE lpath = ?1 OR (lpath >= ?1 || '\\' AND lpath < ?1 || ']')",
	[RS_KEY_DEL_ONE] = "DELETE FROM reg_key WHERE lpath = ?1",
	[RS_VAL_DEL_TREE] = "DELETE FROM reg_value WHERE lkey = ?1 OR (lkey >= ?1 || '\\' AND lkey < ?1 || ']')",
	[RS_VAL_GET] = "SELECT name, type, data FROM reg_value WHERE lkey = ?1 AND lname = ?2",
	[RS_VAL_SET] = "INSERT INTO reg_value(lkey, lname, name, type, data) VALUES(?1, ?2, ?3, ?4, ?5)"
		" ON CONFLICT(lkey, lname) DO UPDATE SET type = excluded.type, data = excluded.data",
	[RS_VAL_DEL] = "DELETE FROM reg_value WHERE lkey = ?1 AND lname = ?2",
	[RS_VAL_AT] = "SELECT name, type, data FROM reg_value WHERE lkey = ?1 ORDER BY lname LIMIT 1 OFFSET ?2",
	[RS_VAL_COUNT] = "SELECT count(*) FROM reg_value WHERE lkey = ?1",
};

static const struct {
	const char *longname, *shortname, *maps_to;
} roots[] = {
	{ "HKEY_LOCAL_MACHINE", "HKLM", NULL },
	{ "HKEY_CURRENT_USER", "HKCU", NULL },
	{ "HKEY_USERS", "HKU", NULL },
	{ "HKEY_CLASSES_ROOT", "HKCR", "HKEY_LOCAL_MACHINE\\Software\\Classes" },
};

char *reg_fold(const char *str)
{
	char *r = mem_strdup(str);

	for (char *p = r; p && *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return r;
}

/* ": <strerror>" of the OS error under d's last I/O failure, or "":
 * SQLite's own text ("disk I/O error") does not say the cause (a full disk,
 * a read-only filesystem), which is what the administrator needs. SQLite
 * 3.40 leaves sqlite3_system_errno() at 0 for a failed WAL write, so the
 * caller passes errno as it was right after the failing call (SQLite makes
 * no other system call after it), and a write that hit ENOSPC is
 * SQLITE_FULL with its errno cleared. */
static const char *oserr(sqlite3 *d, int err_no, char *buf, size_t n)
{
	int code = d ? sqlite3_errcode(d) & 0xff : 0;
	int os = d ? sqlite3_system_errno(d) : 0;

	if (!os)
		os = code == SQLITE_FULL ? ENOSPC : err_no;
	buf[0] = '\0';
	if (os && (code == SQLITE_IOERR || code == SQLITE_FULL || code == SQLITE_CANTOPEN || code == SQLITE_READONLY))
		snprintf(buf, n, ": %s", strerror(os));
	return buf;
}

int reg_sqlite_err(struct reg_store *s, struct err *e, const char *what)
{
	int err_no = errno;
	int code = s && s->db ? sqlite3_errcode(s->db) : SQLITE_ERROR;
	const char *msg = s && s->db ? sqlite3_errmsg(s->db) : "no database";
	char os[160];

	if (code == SQLITE_NOMEM)
		return err_nomem(e, what);
	if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
		return err_set(e, ERR_CLASS_LOCKED, "registry '%s': %s: %s (another process "
			       "held the database for too long; retry)", s ? s->path : "?", what, msg);
	return err_set(e, ERR_CLASS_IO, "registry '%s': %s: %s%s", s ? s->path : "?", what, msg,
		       oserr(s ? s->db : NULL, err_no, os, sizeof(os)));
}

sqlite3_stmt *reg_stmt(struct reg_store *s, enum reg_stmt_id id, struct err *e)
{
	sqlite3_stmt *st = s->stmt[id];

	if (!st) {
		if (sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
				       &s->stmt[id], NULL) != SQLITE_OK) {
			reg_sqlite_err(s, e, "cannot prepare statement");
			return NULL;
		}
		st = s->stmt[id];
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return st;
}

int reg_exec(struct reg_store *s, const char *sql, struct err *e)
{
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return reg_sqlite_err(s, e, sql);
	return 0;
}

static int store_setup(struct reg_store *s, unsigned flags, struct err *e)
{
	sqlite3_busy_timeout(s->db, REG_BUSY_TIMEOUT_MS);
	sqlite3_extended_result_codes(s->db, 1);
	if (!(flags & (REG_STORE_MEMORY | REG_STORE_SNAPSHOT)) && !(flags & REG_STORE_RDONLY)) {
		if (reg_exec(s, "PRAGMA journal_mode=WAL", e) < 0 ||
		    reg_exec(s, "PRAGMA synchronous=FULL", e) < 0)
			return -1;
	}
	if (reg_exec(s, "PRAGMA foreign_keys=OFF", e) < 0)
		return -1;
	if (!(flags & REG_STORE_RDONLY) && reg_exec(s, schema, e) < 0)
		return -1;
	return 0;
}

/*
 * Copy the file store at path into the in-memory database of s: one
 * sqlite3_serialize (a consistent read of the file and its WAL) into one
 * buffer, handed to the in-memory connection (no per-page copies).
 * Header bytes 18-19 say "WAL"; an in-memory image must say "rollback".
 */
static int store_snapshot(struct reg_store *s, const char *path, struct err *e)
{
	sqlite3 *src = NULL;
	unsigned char *img = NULL;
	sqlite3_int64 size = 0;
	int rc = -1;

	if (!path_exists(path))
		return 0;    /* no store yet: an empty registry */
	if (sqlite3_open_v2(path, &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		err_set(e, ERR_CLASS_IO, "cannot open registry '%s' to read: %s", path,
			src ? sqlite3_errmsg(src) : "out of memory");
		goto out;
	}
	sqlite3_busy_timeout(src, REG_BUSY_TIMEOUT_MS);
	img = sqlite3_serialize(src, "main", &size, 0);
	if (!img) {
		err_set(e, ERR_CLASS_IO, "cannot snapshot registry '%s': %s", path,
			sqlite3_errmsg(src));
		goto out;
	}
	if (size >= 100)
		img[18] = img[19] = 1;
	if (sqlite3_deserialize(s->db, "main", img, size, size, SQLITE_DESERIALIZE_FREEONCLOSE |
				SQLITE_DESERIALIZE_RESIZEABLE) != SQLITE_OK) {
		img = NULL;   /* freed by SQLite on failure too */
		reg_sqlite_err(s, e, "cannot load the registry snapshot");
		goto out;
	}
	img = NULL;
	rc = 0;
out:
	sqlite3_free(img);
	sqlite3_close(src);
	return rc;
}

int reg_store_open(struct reg_store **out, const char *root, unsigned flags, struct err *e)
{
	struct reg_store *s = mem_zalloc(sizeof(*s));
	char *file = NULL, *dir = NULL;
	int rc = -1, oflags;

	*out = NULL;
	if (!s)
		return err_nomem(e, "registry store");
	if (!root || !*root)
		root = "/";
	if (!(flags & REG_STORE_MEMORY)) {
		file = path_in_root(root, "/" SK_STATE_DB);
		dir = path_in_root(root, "/" SK_STATE_DIR);
		if (!file || !dir) {
			err_nomem(e, "registry path");
			goto out;
		}
	}
	if (flags & (REG_STORE_MEMORY | REG_STORE_SNAPSHOT)) {
		s->path = mem_strdup(":memory:");
		if (!s->path) {
			err_nomem(e, "registry path");
			goto out;
		}
		if (sqlite3_open_v2(":memory:", &s->db, SQLITE_OPEN_READWRITE |
				    SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
			reg_sqlite_err(s, e, "cannot open an in-memory registry");
			goto out;
		}
		if ((flags & REG_STORE_SNAPSHOT) && store_snapshot(s, file, e) < 0)
			goto out;
	} else {
		if (!(flags & REG_STORE_RDONLY) && path_mkdirs(dir, 0755, e) < 0)
			goto out;
		s->path = file;
		file = NULL;
		oflags = (flags & REG_STORE_RDONLY) ? SQLITE_OPEN_READONLY
			: SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
		if (sqlite3_open_v2(s->path, &s->db, oflags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
			if (!s->db) {
				err_nomem(e, "registry database");
				goto out;
			}
			err_set(e, (flags & REG_STORE_RDONLY) ? ERR_CLASS_NOTFOUND : ERR_CLASS_IO,
				"cannot open registry '%s': %s", s->path, sqlite3_errmsg(s->db));
			goto out;
		}
	}
	if (store_setup(s, flags, e) < 0)
		goto out;
	if (!(flags & (REG_STORE_MEMORY | REG_STORE_SNAPSHOT | REG_STORE_RDONLY)) &&
	    reg_keys_recover(s, e) < 0)
		goto out;
	*out = s;
	s = NULL;
	rc = 0;
out:
	reg_store_close(s);
	mem_free(file);
	mem_free(dir);
	return rc;
}

void reg_store_close(struct reg_store *s)
{
	if (!s)
		return;
	for (int i = 0; i < RS__COUNT; i++)
		sqlite3_finalize(s->stmt[i]);
	if (s->db && s->in_txn) {
		reg_keys_end(s, 0, NULL);
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	}
	sqlite3_close(s->db);
	reg_writes_destroy(&s->undo);
	mem_free(s->path);
	mem_free(s);
}

struct sqlite3 *reg_store_db(struct reg_store *s)
{
	return s->db;
}

const char *reg_store_path(const struct reg_store *s)
{
	return s->path;
}

int reg_store_begin(struct reg_store *s, struct err *e)
{
	if (s->in_txn)
		return err_set(e, ERR_CLASS_INTERNAL, "registry '%s': transaction already open", s->path);
	if (reg_exec(s, "BEGIN IMMEDIATE", e) < 0)
		return -1;
	if (reg_keys_begin(s, e) < 0) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	s->in_txn = 1;
	return 0;
}

int reg_store_commit(struct reg_store *s, struct err *e)
{
	if (reg_exec(s, "COMMIT", e) < 0) {
		/* The registry first, while we may still hold the write lock. */
		reg_keys_end(s, 0, NULL);
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		s->in_txn = 0;
		return -1;
	}
	reg_keys_end(s, 1, NULL);
	s->in_txn = 0;
	return 0;
}

int reg_store_rollback(struct reg_store *s, struct err *e)
{
	int rc = 0;

	if (s->in_txn && reg_keys_end(s, 0, e) < 0)
		rc = -1;
	if (sqlite3_get_autocommit(s->db) == 0 && reg_exec(s, "ROLLBACK", rc < 0 ? NULL : e) < 0)
		rc = -1;
	s->in_txn = 0;
	return rc;
}

int reg_store_backup(struct reg_store *s, const char *dest, struct err *e)
{
	sqlite3 *d = NULL;
	sqlite3_backup *b;
	char *tmp;

	if (!reg_store_has_registry())
		return err_set(e, ERR_CLASS_USAGE, "cannot back up the registry to '%s': here it is the "
			       "system's own registry, not the state database (use export, or reg save)", dest);
	tmp = mem_printf("%s.tmp-%ld", dest, os_getpid());
	int rc = -1, step;
	char os[160];

	if (!tmp)
		return err_nomem(e, "backup path");
	os_unlink(tmp);
	if (sqlite3_open_v2(tmp, &d, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
		err_set(e, ERR_CLASS_IO, "cannot create backup '%s': %s%s", dest,
			d ? sqlite3_errmsg(d) : "out of memory", oserr(d, errno, os, sizeof(os)));
		goto out;
	}
	/* One step of all pages runs inside one read transaction: a consistent
	 * snapshot even while other processes write (WAL readers never block). */
	b = sqlite3_backup_init(d, "main", s->db, "main");
	if (!b) {
		err_set(e, ERR_CLASS_IO, "cannot back up registry to '%s': %s%s", dest, sqlite3_errmsg(d),
			oserr(d, errno, os, sizeof(os)));
		goto out;
	}
	while ((step = sqlite3_backup_step(b, -1)) == SQLITE_BUSY || step == SQLITE_LOCKED)
		sqlite3_sleep(10);
	sqlite3_backup_finish(b);
	if (step != SQLITE_DONE) {
		err_set(e, ERR_CLASS_IO, "cannot back up registry to '%s': %s%s", dest, sqlite3_errstr(step),
			oserr(d, errno, os, sizeof(os)));
		goto out;
	}
	if (sqlite3_close(d) != SQLITE_OK) {
		err_set(e, ERR_CLASS_IO, "cannot close backup '%s'", dest);
		d = NULL;
		goto out;
	}
	d = NULL;
	if (os_rename(tmp, dest) != 0) {
		err_errno(e, "cannot rename '%s' to '%s'", tmp, dest);
		goto out;
	}
	rc = 0;
out:
	if (d)
		sqlite3_close(d);
	if (rc < 0)
		os_unlink(tmp);
	mem_free(tmp);
	return rc;
}

int reg_store_restore(struct reg_store *s, const char *src, struct err *e)
{
	char *sql = NULL;
	char *q;
	int rc = -1;

	if (!reg_store_has_registry())
		return err_set(e, ERR_CLASS_USAGE, "cannot restore the registry from '%s': here it is the "
			       "system's own registry, not the state database (use import, or reg restore)", src);
	q = sqlite3_mprintf("%Q", src);

	if (!q)
		return err_nomem(e, "restore");
	FILE *f = os_fopen(src, "rb");
	if (!f)
		return sqlite3_free(q), err_errno(e, "cannot read backup '%s'", src);
	fclose(f);
	sql = mem_printf("ATTACH %s AS bk", q);
	sqlite3_free(q);
	if (!sql)
		return err_nomem(e, "restore");
	if (reg_exec(s, sql, e) < 0)
		goto out;
	if (reg_store_begin(s, e) < 0)
		goto detach;
	if (reg_exec(s, "DELETE FROM main.reg_key; DELETE FROM main.reg_value;"
		     "DELETE FROM main.reg_capture;"
		     "INSERT INTO main.reg_key SELECT * FROM bk.reg_key;"
		     "INSERT INTO main.reg_value SELECT * FROM bk.reg_value;"
		     "INSERT INTO main.reg_capture SELECT * FROM bk.reg_capture;", e) < 0) {
		err_prefix(e, "'%s' is not a registry backup", src);
		reg_store_rollback(s, NULL);
		goto detach;
	}
	if (reg_store_commit(s, e) < 0)
		goto detach;
	rc = 0;
detach:
	sqlite3_exec(s->db, "DETACH bk", NULL, NULL, NULL);
out:
	mem_free(sql);
	return rc;
}

int reg_store_check(struct reg_store *s, struct err *e)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (sqlite3_prepare_v2(s->db, "PRAGMA integrity_check", -1, &st, NULL) != SQLITE_OK)
		return reg_sqlite_err(s, e, "integrity check");
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *r = (const char *)sqlite3_column_text(st, 0);
		if (r && strcmp(r, "ok") == 0)
			rc = 0;
		else
			err_set(e, ERR_CLASS_IO, "registry '%s' is damaged: %s", s->path, r ? r : "?");
	} else {
		reg_sqlite_err(s, e, "integrity check");
	}
	sqlite3_finalize(st);
	return rc;
}

void reg_store_set_log(struct reg_store *s, struct reg_writes *w)
{
	s->log = w;
}

/* ---- paths ---- */

char *reg_path_normalize(const char *path, struct err *e)
{
	const char *p = path, *rest;
	size_t n;
	char *out;

	if (!path)
		return err_set(e, ERR_CLASS_INPUT, "missing key path"), NULL;
	while (*p == '\\')
		p++;
	n = strcspn(p, "\\");
	rest = p + n;
	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
		if ((strlen(roots[i].longname) == n && strncasecmp(p, roots[i].longname, n) == 0) ||
		    (strlen(roots[i].shortname) == n && strncasecmp(p, roots[i].shortname, n) == 0)) {
			const char *base = roots[i].maps_to ? roots[i].maps_to : roots[i].longname;
			size_t bl = strlen(base), rl = strlen(rest), o;
			if (bl + rl >= REG_PATH_MAX) {
				err_set(e, ERR_CLASS_INPUT, "key path '%.80s...' is too long", path);
				return NULL;
			}
			out = mem_alloc(bl + rl + 2);
			if (!out)
				return err_nomem(e, "key path"), NULL;
			memcpy(out, base, bl);
			o = bl;
			/* Collapse repeated separators; drop a trailing one. */
			for (const char *q = rest; *q; q++) {
				if ((unsigned char)*q < 0x20 || *q == 0x7f) {
					mem_free(out);
					err_set(e, ERR_CLASS_INPUT, "key path '%s' contains a control character", path);
					return NULL;
				}
				if (*q == '\\' && (q[1] == '\\' || q[1] == '\0'))
					continue;
				out[o++] = *q;
			}
			out[o] = '\0';
			if (o > bl && out[bl] != '\\') {
				mem_free(out);
				break;
			}
			return out;
		}
	}
	err_set(e, ERR_CLASS_INPUT, "key path '%s' does not start with a root "
		"(HKEY_LOCAL_MACHINE, HKEY_CURRENT_USER, HKEY_USERS, HKEY_CLASSES_ROOT "
		"or HKLM, HKCU, HKU, HKCR)", path);
	return NULL;
}

int reg_is_root(const char *lpath)
{
	return strchr(lpath, '\\') == NULL;
}

int reg_paths(const char *path, char **norm, char **lp, struct err *e)
{
	*lp = NULL;
	*norm = reg_path_normalize(path, e);
	if (!*norm)
		return -1;
	*lp = reg_fold(*norm);
	if (!*lp) {
		mem_free(*norm);
		*norm = NULL;
		return err_nomem(e, "key path");
	}
	return 0;
}

int reg_log_write(struct reg_store *s, enum reg_write_op op, const char *key,
		     const char *name, uint32_t type, const void *data, size_t len, struct err *e)
{
	if (!s->log)
		return 0;
	return reg_writes_add(s->log, op, key, name, type, data, len, e);
}

const char *reg_root_name(const char *lpath)
{
	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++)
		if (strcasecmp(roots[i].longname, lpath) == 0)
			return roots[i].longname;
	return NULL;
}

void reg_value_destroy(struct reg_value *v)
{
	if (!v)
		return;
	mem_free(v->name);
	mem_free(v->data);
	v->name = NULL;
	v->data = NULL;
	v->len = 0;
}
