/*
 * reg_capture.c - lists of registry writes, their wire format between the
 * registration child and the parent, and applying them with capture so they
 * can be undone exactly.
 *
 * Table reg_capture holds one row per primitive change, in order (id):
 *   kind 1 VALUE:       value key\name went from old_* to new_* (type NULL
 *                       means "absent")
 *   kind 2 KEY_CREATED: key did not exist before
 *   kind 3 KEY_DELETED: key existed (with this spelling) and was deleted
 * Undo walks a module's rows backwards. Invariants:
 *  (1) reg_writes_apply and reg_capture_undo never open or close a
 *      transaction: the caller's transaction makes writes + captures atomic.
 *  (2) Undo only restores an item whose current state is still what the
 *      capture says the module left; anything changed since by someone else
 *      is left alone (a conflict), so undo never clobbers a newer write.
 *  (3) Undo deletes the rows it replayed, so running it twice is harmless.
 */
#include "reg_private.h"

#include <string.h>

#include "common/mem.h"

enum { CAP_VALUE = 1, CAP_KEY_CREATED = 2, CAP_KEY_DELETED = 3 };

void reg_writes_init(struct reg_writes *w)
{
	memset(w, 0, sizeof(*w));
}

void reg_writes_destroy(struct reg_writes *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->n; i++) {
		mem_free(w->v[i].key);
		mem_free(w->v[i].name);
		mem_free(w->v[i].data);
	}
	mem_free(w->v);
	reg_writes_init(w);
}

int reg_writes_add(struct reg_writes *w, enum reg_write_op op, const char *key,
		   const char *name, uint32_t type, const void *data, size_t len,
		   struct err *e)
{
	struct reg_write *x;

	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 16;
		struct reg_write *v = mem_realloc_array(w->v, cap, sizeof(*v));
		if (!v)
			return err_nomem(e, "write log");
		w->v = v;
		w->cap = cap;
	}
	x = &w->v[w->n];
	memset(x, 0, sizeof(*x));
	x->op = op;
	x->type = type;
	x->len = len;
	x->key = mem_strdup(key);
	x->name = name ? mem_strdup(name) : NULL;
	x->data = mem_alloc(len ? len : 1);
	if (!x->key || (name && !x->name) || !x->data) {
		mem_free(x->key);
		mem_free(x->name);
		mem_free(x->data);
		return err_nomem(e, "write log");
	}
	if (len)
		memcpy(x->data, data, len);
	w->n++;
	return 0;
}

/* ---- wire format: per write u32 op, type, keylen, namelen+1, datalen, bytes ---- */

static void put32(unsigned char *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static uint32_t get32(const unsigned char *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

int reg_writes_encode(const struct reg_writes *w, unsigned char **buf, size_t *len,
		      struct err *e)
{
	size_t total = 0, o = 0;
	unsigned char *b;

	for (size_t i = 0; i < w->n; i++)
		total += 20 + strlen(w->v[i].key) + (w->v[i].name ? strlen(w->v[i].name) : 0) +
			w->v[i].len;
	b = mem_alloc(total ? total : 1);
	if (!b)
		return err_nomem(e, "write log");
	for (size_t i = 0; i < w->n; i++) {
		const struct reg_write *x = &w->v[i];
		size_t kl = strlen(x->key), nl = x->name ? strlen(x->name) : 0;
		put32(b + o, (uint32_t)x->op);
		put32(b + o + 4, x->type);
		put32(b + o + 8, (uint32_t)kl);
		put32(b + o + 12, x->name ? (uint32_t)nl + 1 : 0);
		put32(b + o + 16, (uint32_t)x->len);
		o += 20;
		memcpy(b + o, x->key, kl);
		o += kl;
		if (nl)
			memcpy(b + o, x->name, nl);
		o += nl;
		if (x->len)
			memcpy(b + o, x->data, x->len);
		o += x->len;
	}
	*buf = b;
	*len = total;
	return 0;
}

int reg_writes_decode(struct reg_writes *w, const unsigned char *buf, size_t len,
		      struct err *e)
{
	size_t o = 0;
	char *key = NULL, *name = NULL;

	while (o < len) {
		uint32_t op, type, kl, nl, dl;
		if (len - o < 20)
			goto bad;
		op = get32(buf + o);
		type = get32(buf + o + 4);
		kl = get32(buf + o + 8);
		nl = get32(buf + o + 12);
		dl = get32(buf + o + 16);
		o += 20;
		if (op < REG_W_KEY_CREATE || op > REG_W_KEY_DELETE || kl > REG_PATH_MAX ||
		    nl > REG_NAME_MAX + 1 || dl > REG_DATA_MAX ||
		    (size_t)kl + (nl ? nl - 1 : 0) + dl > len - o)
			goto bad;
		key = mem_strndup((const char *)buf + o, kl);
		o += kl;
		if (nl) {
			name = mem_strndup((const char *)buf + o, nl - 1);
			o += nl - 1;
		}
		if (!key || (nl && !name)) {
			mem_free(key);
			mem_free(name);
			return err_nomem(e, "write log");
		}
		if (reg_writes_add(w, (enum reg_write_op)op, key, name, type, buf + o, dl, e) < 0) {
			mem_free(key);
			mem_free(name);
			return -1;
		}
		o += dl;
		mem_free(key);
		mem_free(name);
		key = name = NULL;
	}
	return 0;
bad:
	return err_set(e, ERR_CLASS_INTERNAL, "registration child sent a malformed write list");
}

/* ---- apply with capture ---- */

struct cap_ctx {
	struct reg_store *s;
	const char *module;
	sqlite3_stmt *ins;
	struct reg_undo *undo;
};

static int cap_add(struct cap_ctx *c, int kind, const char *key, const char *name,
		   const struct reg_value *old, const struct reg_value *nv, struct err *e)
{
	sqlite3_stmt *st = c->ins;
	sqlite3_int64 id;

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	sqlite3_bind_text(st, 1, c->module, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, kind);
	sqlite3_bind_text(st, 3, key, -1, SQLITE_STATIC);
	if (name)
		sqlite3_bind_text(st, 4, name, -1, SQLITE_STATIC);
	if (old) {
		sqlite3_bind_int64(st, 5, old->type);
		sqlite3_bind_blob(st, 6, old->len ? (const void *)old->data : "", (int)old->len, SQLITE_STATIC);
	}
	if (nv) {
		sqlite3_bind_int64(st, 7, nv->type);
		sqlite3_bind_blob(st, 8, nv->len ? (const void *)nv->data : "", (int)nv->len, SQLITE_STATIC);
	}
	if (sqlite3_step(st) != SQLITE_DONE) {
		sqlite3_reset(st);
		return reg_sqlite_err(c->s, e, "cannot record captured write");
	}
	sqlite3_reset(st);
	id = sqlite3_last_insert_rowid(reg_store_db(c->s));
	if (c->undo) {
		if (!c->undo->first)
			c->undo->first = id;
		c->undo->last = id;
	}
	return 0;
}

/* Create key and each missing parent, capturing each creation. */
static int apply_key_create(struct cap_ctx *c, const char *key, struct err *e)
{
	char *copy = mem_strdup(key), *p;
	int rc = -1;

	if (!copy)
		return err_nomem(e, "key path");
	p = strchr(copy, '\\');
	while (p) {
		char *next = strchr(p + 1, '\\');
		int ex;
		if (next)
			*next = '\0';
		ex = reg_key_exists(c->s, copy, e);
		if (ex < 0)
			goto out;
		if (!ex) {
			char *disp;
			if (reg_key_create(c->s, copy, NULL, e) < 0)
				goto out;
			disp = reg_key_display(c->s, copy, e);
			if (!disp)
				goto out;
			ex = cap_add(c, CAP_KEY_CREATED, disp, NULL, NULL, NULL, e);
			mem_free(disp);
			if (ex < 0)
				goto out;
		}
		if (next)
			*next = '\\';
		p = next;
	}
	rc = 0;
out:
	mem_free(copy);
	return rc;
}

/* Delete a subtree, capturing every value and key (children first). */
static int apply_tree_delete(struct cap_ctx *c, const char *key, int only_empty, struct err *e)
{
	sqlite3 *db = reg_store_db(c->s);
	sqlite3_stmt *st = NULL;
	char *lp = reg_fold(key);
	char **keys = NULL;
	size_t nkeys = 0;
	int rc = -1, step;

	if (!lp)
		return err_nomem(e, "key path");
	if (sqlite3_prepare_v2(db, "SELECT path FROM reg_key WHERE lpath = ?1 OR "
			       "(lpath >= ?1 || '\\' AND lpath < ?1 || ']') ORDER BY lpath DESC",
			       -1, &st, NULL) != SQLITE_OK) {
		reg_sqlite_err(c->s, e, "cannot list keys");
		goto out;
	}
	sqlite3_bind_text(st, 1, lp, -1, SQLITE_STATIC);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		char **k = mem_realloc_array(keys, nkeys + 1, sizeof(*keys));
		if (!k) {
			err_nomem(e, "key list");
			goto out;
		}
		keys = k;
		keys[nkeys] = mem_strdup((const char *)sqlite3_column_text(st, 0));
		if (!keys[nkeys]) {
			err_nomem(e, "key list");
			goto out;
		}
		nkeys++;
	}
	if (step != SQLITE_DONE) {
		reg_sqlite_err(c->s, e, "cannot list keys");
		goto out;
	}
	if (only_empty && nkeys > 1) {
		err_set(e, ERR_CLASS_INPUT, "cannot delete key '%s': it has subkeys", key);
		goto out;
	}
	for (size_t i = 0; i < nkeys; i++) {
		struct reg_value v;
		int got;
		/* Always index 0: each value is deleted before the next read. */
		while ((got = reg_key_value_at(c->s, keys[i], 0, &v, e)) == 1) {
			int r = cap_add(c, CAP_VALUE, keys[i], v.name, &v, NULL, e);
			if (r == 0)
				r = reg_value_delete(c->s, keys[i], v.name, e) < 0 ? -1 : 0;
			reg_value_destroy(&v);
			if (r < 0)
				goto out;
		}
		if (got < 0)
			goto out;
		if (cap_add(c, CAP_KEY_DELETED, keys[i], NULL, NULL, NULL, e) < 0)
			goto out;
	}
	if (nkeys && reg_key_delete_tree(c->s, key, e) < 0)
		goto out;
	rc = 0;
out:
	sqlite3_finalize(st);
	for (size_t i = 0; i < nkeys; i++)
		mem_free(keys[i]);
	mem_free(keys);
	mem_free(lp);
	return rc;
}

static int apply_one(struct cap_ctx *c, const struct reg_write *w, struct err *e)
{
	struct reg_value old, nv;
	int got, rc;

	switch (w->op) {
	case REG_W_KEY_CREATE:
		return apply_key_create(c, w->key, e);
	case REG_W_VALUE_SET:
		if (apply_key_create(c, w->key, e) < 0)
			return -1;
		got = reg_value_get(c->s, w->key, w->name, &old, e);
		if (got < 0)
			return -1;
		nv.name = w->name;
		nv.type = w->type;
		nv.data = w->data;
		nv.len = w->len;
		{
			char *disp = reg_key_display(c->s, w->key, e);
			if (!disp) {
				reg_value_destroy(&old);
				return -1;
			}
			rc = cap_add(c, CAP_VALUE, disp, got ? old.name : w->name, got ? &old : NULL, &nv, e);
			mem_free(disp);
		}
		reg_value_destroy(&old);
		if (rc < 0)
			return -1;
		return reg_value_set(c->s, w->key, w->name, w->type, w->data, w->len, e);
	case REG_W_VALUE_DELETE:
		got = reg_value_get(c->s, w->key, w->name, &old, e);
		if (got <= 0)
			return got;
		{
			char *disp = reg_key_display(c->s, w->key, e);
			rc = disp ? cap_add(c, CAP_VALUE, disp, old.name, &old, NULL, e) : -1;
			mem_free(disp);
		}
		reg_value_destroy(&old);
		if (rc < 0)
			return -1;
		return reg_value_delete(c->s, w->key, w->name, e) < 0 ? -1 : 0;
	case REG_W_TREE_DELETE:
		return apply_tree_delete(c, w->key, 0, e);
	case REG_W_KEY_DELETE:
		return apply_tree_delete(c, w->key, 1, e);
	}
	return err_set(e, ERR_CLASS_INTERNAL, "unknown write operation %d", (int)w->op);
}

int reg_writes_apply(struct reg_store *s, const char *module, const struct reg_writes *w,
		     struct reg_undo *undo, struct err *e)
{
	struct reg_writes *saved = s->log;
	struct cap_ctx c = { s, module, NULL, undo };
	int rc = -1;

	if (undo)
		undo->first = undo->last = 0;
	s->log = NULL;
	if (sqlite3_prepare_v2(s->db, "INSERT INTO reg_capture(module, kind, key, name, old_type,"
			       " old_data, new_type, new_data) VALUES(?1,?2,?3,?4,?5,?6,?7,?8)",
			       -1, &c.ins, NULL) != SQLITE_OK) {
		reg_sqlite_err(s, e, "cannot prepare capture");
		goto out;
	}
	for (size_t i = 0; i < w->n; i++)
		if (apply_one(&c, &w->v[i], e) < 0) {
			err_prefix(e, "module '%s'", module);
			goto out;
		}
	rc = 0;
out:
	sqlite3_finalize(c.ins);
	s->log = saved;
	return rc;
}

/* ---- undo ---- */

static int same_value(const struct reg_value *cur, int have, sqlite3_stmt *st, int tcol)
{
	if (sqlite3_column_type(st, tcol) == SQLITE_NULL)
		return !have;
	if (!have)
		return 0;
	return cur->type == (uint32_t)sqlite3_column_int64(st, tcol) &&
	       cur->len == (size_t)sqlite3_column_bytes(st, tcol + 1) &&
	       (cur->len == 0 || memcmp(cur->data, sqlite3_column_blob(st, tcol + 1), cur->len) == 0);
}

static int undo_row(struct reg_store *s, sqlite3_stmt *st, unsigned *conflicts, struct err *e)
{
	int kind = sqlite3_column_int(st, 1);
	const char *key = (const char *)sqlite3_column_text(st, 2);
	const char *name = (const char *)sqlite3_column_text(st, 3);
	struct reg_value cur;
	int have, ex;

	switch (kind) {
	case CAP_VALUE:
		have = reg_value_get(s, key, name, &cur, e);
		if (have < 0)
			return -1;
		if (!same_value(&cur, have, st, 6)) {
			reg_value_destroy(&cur);
			(*conflicts)++;
			return 0;
		}
		reg_value_destroy(&cur);
		if (sqlite3_column_type(st, 4) == SQLITE_NULL) {
			if (have && reg_value_delete(s, key, name, e) < 0)
				return -1;
			return 0;
		}
		if (reg_key_create(s, key, NULL, e) < 0)
			return -1;
		return reg_value_set(s, key, name, (uint32_t)sqlite3_column_int64(st, 4),
				     sqlite3_column_blob(st, 5), (size_t)sqlite3_column_bytes(st, 5), e);
	case CAP_KEY_CREATED: {
		char *sub = NULL;
		struct reg_value v;
		int hs, hv;
		ex = reg_key_exists(s, key, e);
		if (ex <= 0)
			return ex;
		hs = reg_key_subkey_at(s, key, 0, &sub, e);
		mem_free(sub);
		if (hs < 0)
			return -1;
		hv = reg_key_value_at(s, key, 0, &v, e);
		reg_value_destroy(&v);
		if (hv < 0)
			return -1;
		if (hs || hv) {
			(*conflicts)++;
			return 0;
		}
		return reg_key_delete(s, key, e);
	}
	case CAP_KEY_DELETED:
		return reg_key_create(s, key, NULL, e);
	}
	return err_set(e, ERR_CLASS_INTERNAL, "unknown capture kind %d", kind);
}

int reg_capture_undo(struct reg_store *s, const char *module, int64_t since,
		     unsigned *conflicts, struct err *e)
{
	struct reg_writes *saved = s->log;
	sqlite3_stmt *st = NULL, *del = NULL;
	unsigned dummy = 0;
	int rc = -1, step;

	if (!conflicts)
		conflicts = &dummy;
	*conflicts = 0;
	s->log = NULL;
	if (sqlite3_prepare_v2(s->db, "SELECT id, kind, key, name, old_type, old_data, new_type,"
			       " new_data FROM reg_capture WHERE module = ?1 AND id >= ?2 ORDER BY id DESC",
			       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, "DELETE FROM reg_capture WHERE module = ?1 AND id >= ?2",
			       -1, &del, NULL) != SQLITE_OK) {
		reg_sqlite_err(s, e, "cannot read captured writes");
		goto out;
	}
	sqlite3_bind_text(st, 1, module, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, since);
	while ((step = sqlite3_step(st)) == SQLITE_ROW)
		if (undo_row(s, st, conflicts, e) < 0) {
			err_prefix(e, "cannot undo the registration of '%s'", module);
			goto out;
		}
	if (step != SQLITE_DONE) {
		reg_sqlite_err(s, e, "cannot read captured writes");
		goto out;
	}
	sqlite3_bind_text(del, 1, module, -1, SQLITE_STATIC);
	sqlite3_bind_int64(del, 2, since);
	if (sqlite3_step(del) != SQLITE_DONE) {
		reg_sqlite_err(s, e, "cannot forget captured writes");
		goto out;
	}
	rc = 0;
out:
	sqlite3_finalize(st);
	sqlite3_finalize(del);
	s->log = saved;
	return rc;
}

long reg_capture_count(struct reg_store *s, const char *module, struct err *e)
{
	sqlite3_stmt *st = NULL;
	long n = -1;

	if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM reg_capture WHERE module = ?1",
			       -1, &st, NULL) != SQLITE_OK) {
		reg_sqlite_err(s, e, "cannot count captured writes");
		return -1;
	}
	sqlite3_bind_text(st, 1, module, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = (long)sqlite3_column_int64(st, 0);
	else
		reg_sqlite_err(s, e, "cannot count captured writes");
	sqlite3_finalize(st);
	return n;
}
