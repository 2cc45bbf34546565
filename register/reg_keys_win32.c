/*
 * reg_keys_win32.c - the registry's keys and values on Windows: the real
 * Windows registry (advapi32, wide API, the 64-bit view). The SQLite store
 * still holds everything else (captures, the setup journal).
 *
 * Strings: setupkit keeps REG_SZ, REG_EXPAND_SZ and REG_MULTI_SZ data as
 * UTF-8 (terminating NULs included, as written); the registry holds UTF-16.
 * Both directions convert here, so captures, .reg files and the POSIX code
 * see the same bytes on both systems.
 *
 * Transactions: the registry has none we can join, so while a store
 * transaction is open every write first records its inverse in s->undo
 * (a key it created: delete it; a value it replaced or deleted: its old
 * data; a tree it deleted: the whole tree). reg_store_rollback applies the
 * inverses newest first, reg_store_commit forgets them. The capture rows
 * commit in the same SQLite transaction, so after a failed apply neither
 * the registry nor the store has changed.
 *
 * Crashes: s->undo dies with the process, so each inverse also goes to an
 * undo journal, SK_REG_UNDO_PREFIX + token in the state directory beside
 * state.db: SK_REG_UNDO_MAGIC, then records of u32 length, u32 FNV-1a of the
 * payload, payload (host byte order); the first payload is the token, each
 * later one an inverse in reg_writes_encode's format. The token is also
 * inserted into table reg_undo_commit inside the transaction, so the SQLite
 * COMMIT is the journal's commit mark. Invariants:
 *  (1) A record is flushed to disk before the registry write it undoes, so
 *      a torn last record (bad length or checksum) undoes a write that
 *      never happened, and is ignored.
 *  (2) A token row exists if and only if its transaction committed.
 *  (3) A journal is deleted only once its transaction committed or its
 *      inverses were applied (a live rollback that fails is reported and
 *      its journal deleted all the same: a replay would fail alike, at
 *      every open); its token row only after the journal.
 *  (4) Only a process holding the store's write lock (BEGIN IMMEDIATE)
 *      replays or deletes a journal it did not write, so a live
 *      transaction's journal is never touched. Names carry the token so
 *      that a committed process's late delete never hits the journal of
 *      the transaction that took the lock after it.
 *  (5) Every inverse is idempotent (deleting what is not there is fine),
 *      and a replay always starts over from the newest record, so a crash
 *      during a replay is repaired by the next one.
 * States of a journal, and the function behind each transition:
 *   none --reg_keys_begin--> open --undo_add (per write)--> open
 *   open --COMMIT in reg_store_commit--> committed --reg_keys_end(1)--> none
 *   open --reg_keys_end(0)--> none (inverses applied)
 *   open or committed --crash--> dead --journal_replay (from
 *     reg_keys_recover at open, or reg_keys_begin)--> none
 * An in-memory store (no state directory) keeps s->undo alone, as before.
 *
 * Differences from the SQLite backend: a key's display name is the
 * spelling the caller used (the registry keeps the stored one; nothing
 * here depends on it), and values enumerate in the registry's own order.
 */
#include "reg_private.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <windows.h>

#include "common/fault.h"
#include "common/mem.h"
#include "common/names.h"
#include "common/os.h"
#include "common/path.h"

#define JOURNAL_TOKEN_BYTES 16
/* The largest record: one encoded write (reg_capture.c's 20-byte header,
 * key, name and data at their limits). Longer is a torn length. */
#define JOURNAL_RECORD_MAX (20u + REG_PATH_MAX + REG_NAME_MAX + 1u + REG_DATA_MAX)

static int is_string_type(uint32_t type)
{
	return type == REG_SZ || type == REG_EXPAND_SZ || type == REG_MULTI_SZ;
}

/* UTF-16 code units -> UTF-8 bytes (NULs kept); allocated. */
static int from_utf16(const wchar_t *w, size_t units, unsigned char **out, size_t *outlen)
{
	int n = units ? WideCharToMultiByte(CP_UTF8, WC_ERR_INVALID_CHARS, w, (int)units, NULL, 0,
					    NULL, NULL) : 0;

	if (units && n <= 0)
		return -1;
	*out = mem_alloc((size_t)n + 1);
	if (!*out)
		return -2;
	if (n)
		WideCharToMultiByte(CP_UTF8, WC_ERR_INVALID_CHARS, w, (int)units, (char *)*out, n, NULL, NULL);
	*outlen = (size_t)n;
	return 0;
}

int reg_win_value_in(const wchar_t *name, uint32_t type, const unsigned char *data, size_t len,
		     struct reg_value *out, struct err *e)
{
	memset(out, 0, sizeof(*out));
	out->name = os_utf8(name);
	if (!out->name)
		return err_set(e, ERR_CLASS_INPUT, "a value name is not valid UTF-16");
	out->type = type;
	if (is_string_type(type)) {
		wchar_t *w = mem_array(len / 2 + 1, sizeof(wchar_t));
		int r;
		if (!w) {
			reg_value_destroy(out);
			return err_nomem(e, "registry value");
		}
		memcpy(w, data, len / 2 * sizeof(wchar_t));
		r = from_utf16(w, len / 2, &out->data, &out->len);
		mem_free(w);
		if (r < 0) {
			char *n = mem_strdup(out->name);
			reg_value_destroy(out);
			if (r == -2) {
				mem_free(n);
				return err_nomem(e, "registry value");
			}
			err_set(e, ERR_CLASS_INPUT, "value '%s' holds text that is not valid UTF-16", n ? n : "?");
			mem_free(n);
			return -1;
		}
		return 0;
	}
	out->data = mem_alloc(len ? len : 1);
	if (!out->data) {
		reg_value_destroy(out);
		return err_nomem(e, "registry value");
	}
	if (len)
		memcpy(out->data, data, len);
	out->len = len;
	return 0;
}

/* setupkit's data -> the registry's (allocated). */
static int value_out(uint32_t type, const void *data, size_t len, BYTE **out, DWORD *outlen,
		     struct err *e)
{
	if (is_string_type(type) && len) {
		int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, data, (int)len, NULL, 0);
		wchar_t *w;
		if (n <= 0)
			return err_set(e, ERR_CLASS_INPUT, "string data is not valid UTF-8");
		w = mem_array((size_t)n, sizeof(wchar_t));
		if (!w)
			return err_nomem(e, "registry value");
		MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, data, (int)len, w, n);
		*out = (BYTE *)w;
		*outlen = (DWORD)((size_t)n * sizeof(wchar_t));
		return 0;
	}
	*out = mem_alloc(len ? len : 1);
	if (!*out)
		return err_nomem(e, "registry value");
	if (len)
		memcpy(*out, data, len);
	*outlen = (DWORD)len;
	return 0;
}

/* A normalised path's predefined key and the rest (UTF-16, allocated; ""
 * for a root). */
static int split(const char *norm, HKEY *root, wchar_t **sub, struct err *e)
{
	static const struct { const char *name; HKEY hkey; } roots[] = {
		{ "HKEY_LOCAL_MACHINE", HKEY_LOCAL_MACHINE },
		{ "HKEY_CURRENT_USER", HKEY_CURRENT_USER },
		{ "HKEY_USERS", HKEY_USERS },
	};
	size_t n = strcspn(norm, "\\");

	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++)
		if (strlen(roots[i].name) == n && _strnicmp(norm, roots[i].name, n) == 0) {
			*root = roots[i].hkey;
			*sub = os_wide(norm[n] ? norm + n + 1 : "");
			return *sub ? 0 : err_set(e, ERR_CLASS_INPUT, "key path '%s' is not valid UTF-8", norm);
		}
	return err_set(e, ERR_CLASS_INTERNAL, "key path '%s' has no root", norm);
}

/* Open the key at norm: 1 with *k, 0 when it does not exist, -1 error. */
static int open_key(const char *norm, REGSAM sam, HKEY *k, struct err *e)
{
	HKEY root;
	wchar_t *sub;
	LONG r;

	if (split(norm, &root, &sub, e) < 0)
		return -1;
	r = RegOpenKeyExW(root, sub, 0, sam, k);
	mem_free(sub);
	if (r == ERROR_FILE_NOT_FOUND || r == ERROR_PATH_NOT_FOUND)
		return 0;
	if (r != ERROR_SUCCESS)
		return os_win_err(e, (DWORD)r, "cannot open key '%s'", norm);
	return 1;
}

/* ---- the undo journal: writing ---- */

static uint32_t fnv1a(const unsigned char *p, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static int write_all(int fd, const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n) {
		int w = write(fd, b, (unsigned)(n > (1u << 30) ? 1u << 30 : n));
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Append one record to the journal and flush it to disk (invariant 1). */
static int journal_put(struct reg_store *s, const unsigned char *payload, size_t len, struct err *e)
{
	unsigned char hdr[8];
	uint32_t n = (uint32_t)len, sum = fnv1a(payload, len);

	memcpy(hdr, &n, 4);
	memcpy(hdr + 4, &sum, 4);
	if (write_all(s->undo_fd, hdr, sizeof(hdr)) < 0 || write_all(s->undo_fd, payload, len) < 0 ||
	    os_fsync(s->undo_fd) != 0)
		return err_errno(e, "cannot write registry undo journal '%s'", s->undo_journal);
	return 0;
}

/* Record how to undo a write, while a transaction is open: in s->undo, and
 * durably in the journal. On failure the write must not be made (what
 * s->undo holds then undoes nothing). */
static int undo_add(struct reg_store *s, enum reg_write_op op, const char *key, const char *name,
		    uint32_t type, const void *data, size_t len, struct err *e)
{
	struct reg_writes one;
	unsigned char *buf;
	size_t n;
	int rc;

	if (!s->in_txn)
		return 0;
	if (reg_writes_add(&s->undo, op, key, name, type, data, len, e) < 0)
		return -1;
	if (!s->undo_journal)
		return 0;
	one.v = &s->undo.v[s->undo.n - 1];
	one.n = one.cap = 1;
	if (reg_writes_encode(&one, &buf, &n, e) < 0)
		return -1;
	rc = journal_put(s, buf, n, e);
	mem_free(buf);
	return rc;
}

static int raw_value_get(const char *norm, const char *name, struct reg_value *out, struct err *e)
{
	HKEY k;
	wchar_t *wname;
	DWORD type, len = 0;
	BYTE *data = NULL;
	LONG r;
	int rc = -1, got;

	memset(out, 0, sizeof(*out));
	got = open_key(norm, KEY_READ, &k, e);
	if (got <= 0)
		return got;
	wname = os_wide(name ? name : "");
	if (!wname) {
		RegCloseKey(k);
		return err_set(e, ERR_CLASS_INPUT, "value name '%s' is not valid UTF-8", name);
	}
	for (;;) {
		r = RegQueryValueExW(k, wname, NULL, &type, data, &len);
		if (r == ERROR_FILE_NOT_FOUND) {
			rc = 0;
			goto out;
		}
		if (r == ERROR_SUCCESS && data)
			break;
		if (r != ERROR_SUCCESS && r != ERROR_MORE_DATA) {
			os_win_err(e, (DWORD)r, "cannot read value '%s' of '%s'", name ? name : "", norm);
			goto out;
		}
		mem_free(data);
		data = mem_alloc(len ? len : 1);
		if (!data) {
			err_nomem(e, "registry value");
			goto out;
		}
	}
	rc = reg_win_value_in(wname, type, data, len, out, e) < 0 ? -1 : 1;
out:
	mem_free(data);
	mem_free(wname);
	RegCloseKey(k);
	return rc;
}

static int raw_value_set(const char *norm, const char *name, uint32_t type, const void *data,
			 size_t len, struct err *e)
{
	HKEY k;
	wchar_t *wname = os_wide(name ? name : "");
	BYTE *nd = NULL;
	DWORD nl = 0;
	LONG r;
	int got;

	if (!wname)
		return err_set(e, ERR_CLASS_INPUT, "value name '%s' is not valid UTF-8", name);
	got = open_key(norm, KEY_SET_VALUE, &k, e);
	if (got <= 0) {
		mem_free(wname);
		if (got == 0)
			err_set(e, ERR_CLASS_NOTFOUND, "cannot set value '%s': key '%s' does not exist",
				name ? name : "", norm);
		return -1;
	}
	if (value_out(type, data, len, &nd, &nl, e) < 0) {
		err_prefix(e, "value '%s' under '%s'", name ? name : "", norm);
		RegCloseKey(k);
		mem_free(wname);
		return -1;
	}
	r = RegSetValueExW(k, wname, 0, type, nd, nl);
	RegCloseKey(k);
	mem_free(wname);
	mem_free(nd);
	if (r != ERROR_SUCCESS)
		return os_win_err(e, (DWORD)r, "cannot write value '%s' of '%s'", name ? name : "", norm);
	fault_point("registry: after write");
	return 0;
}

/* 1 deleted, 0 there was none, -1 error. */
static int raw_value_delete(const char *norm, const char *name, struct err *e)
{
	HKEY k;
	wchar_t *wname = os_wide(name ? name : "");
	LONG r;
	int got;

	if (!wname)
		return err_set(e, ERR_CLASS_INPUT, "value name '%s' is not valid UTF-8", name);
	got = open_key(norm, KEY_SET_VALUE, &k, e);
	if (got <= 0) {
		mem_free(wname);
		return got;
	}
	r = RegDeleteValueW(k, wname);
	RegCloseKey(k);
	mem_free(wname);
	if (r == ERROR_FILE_NOT_FOUND)
		return 0;
	if (r != ERROR_SUCCESS)
		return os_win_err(e, (DWORD)r, "cannot delete value '%s' of '%s'", name ? name : "", norm);
	fault_point("registry: after write");
	return 1;
}

static int raw_key_delete(const char *norm, struct err *e)
{
	HKEY root;
	wchar_t *sub;
	LONG r;

	if (split(norm, &root, &sub, e) < 0)
		return -1;
	r = RegDeleteKeyExW(root, sub, 0, 0);
	mem_free(sub);
	if (r != ERROR_SUCCESS && r != ERROR_FILE_NOT_FOUND)
		return os_win_err(e, (DWORD)r, "cannot delete key '%s'", norm);
	if (r == ERROR_SUCCESS)
		fault_point("registry: after write");
	return 0;
}

/* Create one key (its parent exists): 1 created, 0 existed, -1 error. */
static int raw_key_create(const char *norm, struct err *e)
{
	HKEY root, k;
	wchar_t *sub;
	DWORD disp = 0;
	LONG r;

	if (split(norm, &root, &sub, e) < 0)
		return -1;
	r = RegCreateKeyExW(root, sub, 0, NULL, REG_OPTION_NON_VOLATILE, KEY_READ, NULL, &k, &disp);
	mem_free(sub);
	if (r != ERROR_SUCCESS)
		return os_win_err(e, (DWORD)r, "cannot create key '%s'", norm);
	RegCloseKey(k);
	if (disp != REG_CREATED_NEW_KEY)
		return 0;
	fault_point("registry: after write");
	return 1;
}

/* Apply the inverses in w newest first. Returns 0, or -1 with e set by the
 * first failure (the others are still applied). */
static int undo_apply(const struct reg_writes *w, struct err *e)
{
	int rc = 0;

	for (size_t i = w->n; i-- > 0;) {
		const struct reg_write *u = &w->v[i];
		struct err ue;
		int r = 0;
		err_clear(&ue);
		switch (u->op) {
		case REG_W_KEY_CREATE: r = raw_key_create(u->key, &ue); break;
		case REG_W_KEY_DELETE: r = raw_key_delete(u->key, &ue); break;
		case REG_W_VALUE_SET: r = raw_value_set(u->key, u->name, u->type, u->data, u->len, &ue); break;
		case REG_W_VALUE_DELETE: r = raw_value_delete(u->key, u->name, &ue); break;
		default: break;
		}
		if (r < 0 && rc == 0) {
			if (e)
				*e = ue;
			rc = -1;
		}
	}
	return rc;
}

/* Run sql with ?1 = token: 1 a row, 0 none, -1 error. */
static int token_sql(struct reg_store *s, const char *sql, const char *token, struct err *e)
{
	sqlite3_stmt *st = NULL;
	int r;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return reg_sqlite_err(s, e, sql);
	sqlite3_bind_text(st, 1, token, -1, SQLITE_STATIC);
	r = sqlite3_step(st);
	if (r != SQLITE_ROW && r != SQLITE_DONE)
		reg_sqlite_err(s, e, sql);
	sqlite3_finalize(st);
	return r == SQLITE_ROW ? 1 : r == SQLITE_DONE ? 0 : -1;
}

/* ---- the undo journal: replaying a dead one ---- */

/* Read one record of f into *out (allocated): 1, or 0 at the end of the
 * file or at a torn record (short, too long, bad checksum); -1 only when
 * out of memory. */
static int journal_get(FILE *f, size_t max, unsigned char **out, size_t *len, struct err *e)
{
	unsigned char hdr[8];
	uint32_t n, sum;

	*out = NULL;
	if (fread(hdr, 1, sizeof(hdr), f) != sizeof(hdr))
		return 0;
	memcpy(&n, hdr, 4);
	memcpy(&sum, hdr + 4, 4);
	if (n > max)
		return 0;
	*out = mem_alloc(n ? n : 1);
	if (!*out)
		return err_nomem(e, "registry undo journal");
	if (fread(*out, 1, n, f) != n || fnv1a(*out, n) != sum) {
		mem_free(*out);
		*out = NULL;
		return 0;
	}
	*len = n;
	return 1;
}

/* Read the journal at path: *token (allocated; NULL when the header is not
 * whole: it was cut short while being made, before any registry write) and
 * the inverses in w, up to the first torn record. */
static int journal_read(FILE *f, const char *path, char **token, struct reg_writes *w,
			struct err *e)
{
	char magic[sizeof(SK_REG_UNDO_MAGIC) - 1];
	unsigned char *rec = NULL;
	size_t len;
	int got;

	*token = NULL;
	if (fread(magic, 1, sizeof(magic), f) != sizeof(magic) ||
	    memcmp(magic, SK_REG_UNDO_MAGIC, sizeof(magic)) != 0)
		return 0;
	got = journal_get(f, 2 * JOURNAL_TOKEN_BYTES, &rec, &len, e);
	if (got <= 0)
		return got;
	*token = mem_strndup((const char *)rec, len);
	mem_free(rec);
	if (!*token)
		return err_nomem(e, "registry undo journal");
	while ((got = journal_get(f, JOURNAL_RECORD_MAX, &rec, &len, e)) > 0) {
		struct err de;
		err_clear(&de);
		got = reg_writes_decode(w, rec, len, &de);
		mem_free(rec);
		if (got < 0) {
			if (de.cls == ERR_CLASS_NOMEM)
				*e = de;
			else   /* the checksum held: not torn, but not ours either */
				err_set(e, ERR_CLASS_IO, "registry undo journal '%s' is damaged", path);
			return -1;
		}
	}
	return got;
}

/* Finish the transaction of the dead journal at path (the caller holds the
 * write lock, invariant 4): committed, it is deleted; otherwise its
 * inverses are applied, then it is deleted. A failure leaves it in place
 * for the next try. */
static int journal_replay(struct reg_store *s, const char *path, struct err *e)
{
	struct reg_writes w;
	char *token = NULL;
	int rc = -1, committed = 0, r;
	FILE *f = os_fopen(path, "rb");

	if (!f) {   /* ENOENT: its process committed and deleted it since we listed it */
		if (errno == ENOENT)
			return 0;
		return err_errno(e, "cannot read registry undo journal '%s'", path);
	}
	reg_writes_init(&w);
	r = journal_read(f, path, &token, &w, e);
	fclose(f);
	if (r < 0)
		goto out;
	if (token) {
		committed = token_sql(s, "SELECT 1 FROM reg_undo_commit WHERE token = ?1", token, e);
		if (committed < 0)
			goto out;
	}
	if (!committed && undo_apply(&w, e) < 0) {
		err_prefix(e, "cannot roll back the registry writes of an interrupted transaction, "
			   "journaled in '%s' (fix the cause and retry; deleting the file keeps them)", path);
		goto out;
	}
	/* STATE: the registry matches the store; the journal is not needed. */
	if (os_unlink(path) != 0 && errno != ENOENT) {
		/* Committed, it only costs space, and its process may hold it
		 * open, about to delete it; replayed, it must go (or a later
		 * replay would undo newer writes), and no transaction begins
		 * until it does (reg_keys_begin). */
		rc = committed ? 0 : err_errno(e, "cannot delete registry undo journal '%s'", path);
		goto out;
	}
	if (committed && token_sql(s, "DELETE FROM reg_undo_commit WHERE token = ?1", token, e) < 0)
		goto out;
	rc = 0;
out:
	mem_free(token);
	reg_writes_destroy(&w);
	return rc;
}

static void journal_list_free(char **paths, size_t n)
{
	for (size_t i = 0; i < n; i++)
		mem_free(paths[i]);
	mem_free(paths);
}

/* The journals in the state directory of s (allocated full paths, *n of
 * them; none for an in-memory store); free with journal_list_free. */
static int journal_list(struct reg_store *s, char ***paths, size_t *n, struct err *e)
{
	const size_t plen = strlen(SK_REG_UNDO_PREFIX);
	char *dir;
	struct os_dir *d;
	const char *name;
	size_t cap = 0;
	int rc = -1;

	*paths = NULL;
	*n = 0;
	if (!strcmp(s->path, ":memory:"))
		return 0;
	dir = path_dirname(s->path);
	if (!dir)
		return err_nomem(e, "registry undo journal");
	d = os_opendir(dir);
	if (!d) {
		err_errno(e, "cannot list the state directory '%s'", dir);
		goto out;
	}
	while ((name = os_readdir(d))) {
		if (strncmp(name, SK_REG_UNDO_PREFIX, plen) != 0)
			continue;
		if (*n == cap) {
			char **g = mem_realloc_array(*paths, cap ? cap * 2 : 4, sizeof(char *));
			if (!g)
				break;
			*paths = g;
			cap = cap ? cap * 2 : 4;
		}
		if (!((*paths)[*n] = mem_printf("%s\\%s", dir, name)))
			break;
		(*n)++;
	}
	os_closedir(d);
	if (name) {
		err_nomem(e, "registry undo journal");
		goto out;
	}
	rc = 0;
out:
	if (rc < 0) {
		journal_list_free(*paths, *n);
		*paths = NULL;
		*n = 0;
	}
	mem_free(dir);
	return rc;
}

/* Replay every dead journal (the caller holds the write lock). */
static int journals_replay(struct reg_store *s, char **paths, size_t n, struct err *e)
{
	for (size_t i = 0; i < n; i++)
		if (journal_replay(s, paths[i], e) < 0)
			return -1;
	return 0;
}

int reg_keys_recover(struct reg_store *s, struct err *e)
{
	char **paths;
	size_t n;
	int rc = -1;

	if (reg_exec(s, "CREATE TABLE IF NOT EXISTS reg_undo_commit(token TEXT PRIMARY KEY) WITHOUT ROWID", e) < 0 ||
	    journal_list(s, &paths, &n, e) < 0)
		return -1;
	if (n == 0)
		return 0;   /* the usual case: no write lock taken */
	if (reg_exec(s, "BEGIN IMMEDIATE", e) < 0)
		goto out;
	if (journals_replay(s, paths, n, e) < 0 || reg_exec(s, "COMMIT", e) < 0) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		goto out;
	}
	rc = 0;
out:
	journal_list_free(paths, n);
	return rc;
}

/* ---- the undo journal of this transaction ---- */

/* Create the journal of the transaction that just began, its header on
 * disk, and its token row in the transaction. */
static int journal_create(struct reg_store *s, struct err *e)
{
	unsigned char rnd[JOURNAL_TOKEN_BYTES];
	char token[2 * JOURNAL_TOKEN_BYTES + 1];
	char *dir = path_dirname(s->path), *path = NULL;
	int fd = -1, rc = -1;

	sqlite3_randomness(sizeof(rnd), rnd);
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(token + 2 * i, 3, "%02x", rnd[i]);
	path = dir ? mem_printf("%s\\%s%s", dir, SK_REG_UNDO_PREFIX, token) : NULL;
	if (!path) {
		err_nomem(e, "registry undo journal");
		goto out;
	}
	fd = os_open(path, OS_O_WRONLY | OS_O_CREAT | OS_O_EXCL | OS_O_NOFOLLOW, 0600);
	if (fd < 0) {
		err_errno(e, "cannot create registry undo journal '%s'", path);
		goto out;
	}
	/* STATE: an empty journal; replaying it would undo nothing. */
	s->undo_fd = fd;
	s->undo_journal = path;
	if (write_all(fd, SK_REG_UNDO_MAGIC, sizeof(SK_REG_UNDO_MAGIC) - 1) < 0) {
		err_errno(e, "cannot write registry undo journal '%s'", path);
		goto out;
	}
	if (journal_put(s, (const unsigned char *)token, strlen(token), e) < 0 ||
	    token_sql(s, "INSERT INTO reg_undo_commit(token) VALUES(?1)", token, e) < 0)
		goto out;
	rc = 0;
out:
	if (rc < 0 && fd >= 0) {
		close(fd);
		os_unlink(path);
	}
	if (rc < 0) {
		mem_free(path);
		s->undo_journal = NULL;
	}
	mem_free(dir);
	return rc;
}

int reg_keys_begin(struct reg_store *s, struct err *e)
{
	char **paths;
	size_t n;
	int rc;

	reg_writes_destroy(&s->undo);
	reg_writes_init(&s->undo);
	if (!strcmp(s->path, ":memory:"))
		return 0;
	/* A journal left by a process that died since this store was opened:
	 * replay it now, before this transaction writes over its keys. */
	if (journal_list(s, &paths, &n, e) < 0)
		return -1;
	rc = journals_replay(s, paths, n, e);
	journal_list_free(paths, n);
	return rc < 0 ? -1 : journal_create(s, e);
}

int reg_store_has_registry(void)
{
	return 0;
}

int reg_keys_end(struct reg_store *s, int commit, struct err *e)
{
	int rc = 0;

	if (!commit && undo_apply(&s->undo, e) < 0) {
		err_prefix(e, "cannot roll back the registry");
		rc = -1;
	}
	reg_writes_destroy(&s->undo);
	reg_writes_init(&s->undo);
	if (!s->undo_journal)
		return rc;
	/* STATE: committed, or the inverses are applied: the journal is not
	 * needed. Best effort: a journal left behind is deleted at the next
	 * open (committed) or replayed again (idempotent); a leftover token row
	 * is never looked at without its journal. */
	close(s->undo_fd);
	os_unlink(s->undo_journal);
	if (commit) {
		struct err ignore;
		token_sql(s, "DELETE FROM reg_undo_commit WHERE token = ?1",
			  path_basename(s->undo_journal) + strlen(SK_REG_UNDO_PREFIX), &ignore);
	}
	mem_free(s->undo_journal);
	s->undo_journal = NULL;
	return rc;
}

int reg_key_exists(struct reg_store *s, const char *path, struct err *e)
{
	char *norm, *lp;
	HKEY k;
	int rc;

	(void)s;
	if (reg_paths(path, &norm, &lp, e) < 0)
		return -1;
	rc = reg_is_root(lp) ? 1 : open_key(norm, KEY_READ, &k, e);
	if (rc == 1 && !reg_is_root(lp))
		RegCloseKey(k);
	mem_free(norm);
	mem_free(lp);
	return rc;
}

char *reg_key_display(struct reg_store *s, const char *path, struct err *e)
{
	char *norm, *lp;
	int rc;

	(void)s;
	if (reg_paths(path, &norm, &lp, e) < 0)
		return NULL;
	rc = reg_key_exists(s, norm, e);
	if (rc == 0)
		err_set(e, ERR_CLASS_NOTFOUND, "key '%s' does not exist", norm);
	mem_free(lp);
	if (rc != 1) {
		mem_free(norm);
		return NULL;
	}
	return norm;
}

/* Create one key (its parent exists), in a transaction recording first that
 * it did not exist (the record must precede the write): 1 created, 0
 * existed, -1 error. */
static int key_create(struct reg_store *s, const char *norm, struct err *e)
{
	HKEY k;
	int got;

	if (s->in_txn) {
		got = open_key(norm, KEY_READ, &k, e);
		if (got < 0)
			return -1;
		if (got)
			RegCloseKey(k);
		else if (undo_add(s, REG_W_KEY_DELETE, norm, NULL, 0, NULL, 0, e) < 0)
			return -1;
	}
	return raw_key_create(norm, e);
}

int reg_key_create(struct reg_store *s, const char *path, int *created, struct err *e)
{
	char *norm, *lp;
	int rc = -1;

	if (created)
		*created = 0;
	if (reg_paths(path, &norm, &lp, e) < 0)
		return -1;
	/* One component at a time, so the undo list names each new key. */
	for (char *p = strchr(norm, '\\'); p; p = strchr(p + 1, '\\')) {
		*p = '\0';
		int c = key_create(s, norm, e);
		*p = '\\';
		if (c < 0)
			goto out;
	}
	if (!reg_is_root(lp)) {
		int c = key_create(s, norm, e);
		if (c < 0)
			goto out;
		if (c > 0 && created)
			*created = 1;
	}
	if (reg_log_write(s, REG_W_KEY_CREATE, norm, NULL, 0, NULL, 0, e) < 0)
		goto out;
	rc = 0;
out:
	if (rc < 0)
		err_prefix(e, "cannot create key '%s'", norm);
	mem_free(norm);
	mem_free(lp);
	return rc;
}

/* Record in s->undo how to rebuild the tree at norm (k open on it), in the
 * order that, applied newest first, recreates parents before children. */
static int undo_tree(struct reg_store *s, HKEY k, const char *norm, struct err *e)
{
	wchar_t name[256 + 1], *vname = NULL;
	BYTE *data = NULL;
	DWORD nsub = 0, nval = 0, maxv = 0, maxd = 0;
	int rc = -1;
	LONG r;

	r = RegQueryInfoKeyW(k, NULL, NULL, NULL, &nsub, NULL, NULL, &nval, &maxv, &maxd, NULL, NULL);
	if (r != ERROR_SUCCESS)
		return os_win_err(e, (DWORD)r, "cannot read key '%s'", norm);
	for (DWORD i = 0; i < nsub; i++) {
		DWORD nn = sizeof(name) / sizeof(name[0]);
		HKEY sub;
		char *u, *child;
		if (RegEnumKeyExW(k, i, name, &nn, NULL, NULL, NULL, NULL) != ERROR_SUCCESS)
			break;
		u = os_utf8(name);
		child = u ? mem_printf("%s\\%s", norm, u) : NULL;
		mem_free(u);
		if (!child) {
			err_nomem(e, "key path");
			goto out;
		}
		r = RegOpenKeyExW(k, name, 0, KEY_READ, &sub);
		if (r != ERROR_SUCCESS) {
			os_win_err(e, (DWORD)r, "cannot open key '%s'", child);
			mem_free(child);
			goto out;
		}
		r = undo_tree(s, sub, child, e);
		RegCloseKey(sub);
		mem_free(child);
		if (r < 0)
			goto out;
	}
	vname = mem_array(maxv + 1, sizeof(wchar_t));
	data = mem_alloc(maxd ? maxd : 1);
	if (!vname || !data) {
		err_nomem(e, "registry value");
		goto out;
	}
	for (DWORD i = 0; i < nval; i++) {
		DWORD vn = maxv + 1, dn = maxd, type;
		struct reg_value v;
		if (RegEnumValueW(k, i, vname, &vn, NULL, &type, data, &dn) != ERROR_SUCCESS)
			break;
		vname[vn] = L'\0';
		if (reg_win_value_in(vname, type, data, dn, &v, e) < 0)
			goto out;
		r = undo_add(s, REG_W_VALUE_SET, norm, v.name, v.type, v.data, v.len, e);
		reg_value_destroy(&v);
		if (r < 0)
			goto out;
	}
	rc = undo_add(s, REG_W_KEY_CREATE, norm, NULL, 0, NULL, 0, e);
out:
	mem_free(vname);
	mem_free(data);
	return rc;
}

int reg_key_delete_tree(struct reg_store *s, const char *path, struct err *e)
{
	char *norm, *lp;
	HKEY root, k;
	wchar_t *sub = NULL;
	int rc = -1, got;
	LONG r;

	if (reg_paths(path, &norm, &lp, e) < 0)
		return -1;
	if (reg_is_root(lp)) {
		err_set(e, ERR_CLASS_INPUT, "refusing to delete the root key '%s'", norm);
		goto out;
	}
	got = open_key(norm, KEY_READ, &k, e);
	if (got < 0)
		goto out;
	if (got) {
		r = s->in_txn ? undo_tree(s, k, norm, e) : 0;
		RegCloseKey(k);
		if (r < 0 || split(norm, &root, &sub, e) < 0)
			goto out;
		r = RegDeleteTreeW(root, sub);
		if (r == ERROR_SUCCESS)
			r = RegDeleteKeyExW(root, sub, 0, 0);
		if (r != ERROR_SUCCESS && r != ERROR_FILE_NOT_FOUND) {
			os_win_err(e, (DWORD)r, "cannot delete key '%s'", norm);
			goto out;
		}
		fault_point("registry: after write");
	}
	if (reg_log_write(s, REG_W_TREE_DELETE, norm, NULL, 0, NULL, 0, e) < 0)
		goto out;
	rc = 0;
out:
	mem_free(sub);
	mem_free(norm);
	mem_free(lp);
	return rc;
}

int reg_key_delete(struct reg_store *s, const char *path, struct err *e)
{
	char *norm, *lp;
	HKEY k;
	DWORD nsub = 0;
	int rc = -1, got;

	if (reg_paths(path, &norm, &lp, e) < 0)
		return -1;
	if (reg_is_root(lp)) {
		err_set(e, ERR_CLASS_INPUT, "refusing to delete the root key '%s'", norm);
		goto out;
	}
	got = open_key(norm, KEY_READ, &k, e);
	if (got < 0)
		goto out;
	if (got) {
		LONG r = RegQueryInfoKeyW(k, NULL, NULL, NULL, &nsub, NULL, NULL, NULL, NULL, NULL,
					  NULL, NULL);
		RegCloseKey(k);
		if (r != ERROR_SUCCESS) {
			os_win_err(e, (DWORD)r, "cannot read key '%s'", norm);
			goto out;
		}
		if (nsub) {
			err_set(e, ERR_CLASS_INPUT, "cannot delete key '%s': it has subkeys", norm);
			goto out;
		}
	}
	rc = reg_key_delete_tree(s, norm, e);
	if (rc == 0 && s->log)   /* reg_key_delete_tree logged a tree delete; same effect */
		s->log->v[s->log->n - 1].op = REG_W_KEY_DELETE;
out:
	mem_free(norm);
	mem_free(lp);
	return rc;
}

int reg_key_subkey_at(struct reg_store *s, const char *path, size_t index, char **name,
		      struct err *e)
{
	char *norm, *lp;
	wchar_t buf[256 + 1];
	DWORD n = sizeof(buf) / sizeof(buf[0]);
	HKEY k;
	int rc = -1, got;
	LONG r;

	(void)s;
	*name = NULL;
	if (reg_paths(path, &norm, &lp, e) < 0)
		return -1;
	got = open_key(norm, KEY_READ, &k, e);
	if (got <= 0) {
		rc = got;
		goto out;
	}
	r = RegEnumKeyExW(k, (DWORD)index, buf, &n, NULL, NULL, NULL, NULL);
	RegCloseKey(k);
	if (r == ERROR_NO_MORE_ITEMS) {
		rc = 0;
	} else if (r != ERROR_SUCCESS) {
		os_win_err(e, (DWORD)r, "cannot list subkeys of '%s'", norm);
	} else {
		*name = os_utf8(buf);
		rc = *name ? 1 : err_nomem(e, "key name");
	}
out:
	mem_free(norm);
	mem_free(lp);
	return rc;
}

int reg_key_value_at(struct reg_store *s, const char *path, size_t index, struct reg_value *out,
		     struct err *e)
{
	char *norm, *lp;
	wchar_t *vname = NULL;
	BYTE *data = NULL;
	DWORD maxv = 0, maxd = 0, vn, dn, type;
	HKEY k;
	int rc = -1, got;
	LONG r;

	(void)s;
	memset(out, 0, sizeof(*out));
	if (reg_paths(path, &norm, &lp, e) < 0)
		return -1;
	got = open_key(norm, KEY_READ, &k, e);
	if (got <= 0) {
		rc = got;
		goto out;
	}
	r = RegQueryInfoKeyW(k, NULL, NULL, NULL, NULL, NULL, NULL, NULL, &maxv, &maxd, NULL, NULL);
	vname = mem_array(maxv + 1, sizeof(wchar_t));
	data = mem_alloc(maxd ? maxd : 1);
	if (r == ERROR_SUCCESS && (!vname || !data)) {
		RegCloseKey(k);
		err_nomem(e, "registry value");
		goto out;
	}
	vn = maxv + 1;
	dn = maxd;
	if (r == ERROR_SUCCESS)
		r = RegEnumValueW(k, (DWORD)index, vname, &vn, NULL, &type, data, &dn);
	RegCloseKey(k);
	if (r == ERROR_NO_MORE_ITEMS) {
		rc = 0;
	} else if (r != ERROR_SUCCESS) {
		os_win_err(e, (DWORD)r, "cannot list values of '%s'", norm);
	} else {
		vname[vn] = L'\0';
		rc = reg_win_value_in(vname, type, data, dn, out, e) < 0 ? -1 : 1;
	}
out:
	mem_free(vname);
	mem_free(data);
	mem_free(norm);
	mem_free(lp);
	return rc;
}

int reg_value_get(struct reg_store *s, const char *key, const char *name, struct reg_value *out,
		  struct err *e)
{
	char *norm, *lp;
	int rc;

	(void)s;
	if (reg_paths(key, &norm, &lp, e) < 0)
		return -1;
	rc = raw_value_get(norm, name, out, e);
	mem_free(norm);
	mem_free(lp);
	return rc;
}

int reg_value_set(struct reg_store *s, const char *key, const char *name, uint32_t type,
		  const void *data, size_t len, struct err *e)
{
	struct reg_value old;
	char *norm, *lp;
	int rc = -1, got;

	if (!name)
		name = "";
	if (strlen(name) > REG_NAME_MAX || len > REG_DATA_MAX)
		return err_set(e, ERR_CLASS_INPUT, "value '%.80s' under '%s': name or data too long",
			       name, key);
	if (reg_paths(key, &norm, &lp, e) < 0)
		return -1;
	if (reg_is_root(lp)) {
		err_set(e, ERR_CLASS_INPUT, "cannot set value '%s' on the root key '%s'", name, norm);
		goto out;
	}
	got = s->in_txn ? raw_value_get(norm, name, &old, e) : 0;
	if (got < 0)
		goto out;
	if (got) {
		int u = undo_add(s, REG_W_VALUE_SET, norm, name, old.type, old.data, old.len, e);
		reg_value_destroy(&old);
		if (u < 0)
			goto out;
	} else if (undo_add(s, REG_W_VALUE_DELETE, norm, name, 0, NULL, 0, e) < 0) {
		goto out;
	}
	if (raw_value_set(norm, name, type, data, len, e) < 0 ||
	    reg_log_write(s, REG_W_VALUE_SET, norm, name, type, data, len, e) < 0)
		goto out;
	rc = 0;
out:
	mem_free(norm);
	mem_free(lp);
	return rc;
}

int reg_value_delete(struct reg_store *s, const char *key, const char *name, struct err *e)
{
	struct reg_value old;
	char *norm, *lp;
	int rc = -1, got;

	if (!name)
		name = "";
	if (reg_paths(key, &norm, &lp, e) < 0)
		return -1;
	got = s->in_txn ? raw_value_get(norm, name, &old, e) : 0;
	if (got < 0)
		goto out;
	if (got) {
		int u = undo_add(s, REG_W_VALUE_SET, norm, name, old.type, old.data, old.len, e);
		reg_value_destroy(&old);
		if (u < 0)
			goto out;
	}
	rc = raw_value_delete(norm, name, e);
	if (rc >= 0 && reg_log_write(s, REG_W_VALUE_DELETE, norm, name, 0, NULL, 0, e) < 0)
		rc = -1;
out:
	mem_free(norm);
	mem_free(lp);
	return rc;
}
