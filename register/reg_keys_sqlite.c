/*
 * reg_keys_sqlite.c - the registry's keys and values on POSIX: rows of the
 * SQLite store (schema in reg_store.c), inside the store's transactions.
 */
#include "reg_private.h"

#include <string.h>

#include "common/mem.h"
#include <setupkit/reg.h>

int reg_keys_begin(struct reg_store *s, struct err *e)
{
	(void)s;
	(void)e;
	return 0;   /* the rows are in the store's own SQLite transaction */
}

int reg_keys_recover(struct reg_store *s, struct err *e)
{
	(void)s;
	(void)e;
	return 0;   /* the rows rolled back with the store's own transaction */
}

int reg_store_has_registry(void)
{
	return 1;
}

int reg_keys_end(struct reg_store *s, int commit, struct err *e)
{
	(void)s;
	(void)commit;
	(void)e;
	return 0;
}

/* 1 exists (display copied into *disp if disp), 0 missing, -1 error. */
static int key_lookup(struct reg_store *s, const char *lp, char **disp, struct err *e)
{
	sqlite3_stmt *st;
	int rc;

	if (disp)
		*disp = NULL;
	if (reg_is_root(lp)) {
		if (disp) {
			const char *r = reg_root_name(lp);
			*disp = r ? mem_strdup(r) : NULL;
			if (!*disp)
				return err_nomem(e, "key path");
		}
		return 1;
	}
	st = reg_stmt(s, RS_KEY_GET, e);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, lp, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if (disp) {
			*disp = mem_strdup((const char *)sqlite3_column_text(st, 0));
			if (!*disp) {
				sqlite3_reset(st);
				return err_nomem(e, "key path");
			}
		}
		sqlite3_reset(st);
		return 1;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return reg_sqlite_err(s, e, "cannot look up key");
	return 0;
}

int reg_key_exists(struct reg_store *s, const char *path, struct err *e)
{
	char *norm, *lp;
	int rc;

	if (reg_paths(path, &norm, &lp, e) < 0)
		return -1;
	rc = key_lookup(s, lp, NULL, e);
	mem_free(norm);
	mem_free(lp);
	return rc;
}

char *reg_key_display(struct reg_store *s, const char *path, struct err *e)
{
	char *norm, *lp, *disp = NULL;
	int rc;

	if (reg_paths(path, &norm, &lp, e) < 0)
		return NULL;
	rc = key_lookup(s, lp, &disp, e);
	if (rc == 0)
		err_set(e, ERR_CLASS_NOTFOUND, "key '%s' does not exist", norm);
	mem_free(norm);
	mem_free(lp);
	return rc == 1 ? disp : NULL;
}

int reg_key_create(struct reg_store *s, const char *path, int *created, struct err *e)
{
	char *norm, *lp, *disp = NULL, *parent_disp = NULL;
	int rc = -1, found;
	size_t len;

	if (created)
		*created = 0;
	if (reg_paths(path, &norm, &lp, e) < 0)
		return -1;
	len = strlen(lp);
	/* Walk down: find the deepest existing prefix, then insert the rest. */
	size_t pos = strcspn(lp, "\\");   /* end of the root component */
	{
		char save = lp[pos];
		lp[pos] = '\0';
		if (key_lookup(s, lp, &parent_disp, e) < 0)
			goto out;
		lp[pos] = save;
	}
	while (pos < len) {
		size_t next = pos + 1 + strcspn(lp + pos + 1, "\\");
		char save = lp[next];
		lp[next] = '\0';
		found = key_lookup(s, lp, &disp, e);
		if (found < 0)
			goto out;
		if (!found) {
			sqlite3_stmt *st = reg_stmt(s, RS_KEY_INSERT, e);
			if (!st)
				goto out;
			disp = mem_printf("%s\\%.*s", parent_disp, (int)(next - pos - 1), norm + pos + 1);
			if (!disp) {
				err_nomem(e, "key path");
				goto out;
			}
			/* lp[0..next) is the child; lp[0..pos) its parent */
			sqlite3_bind_text(st, 1, lp, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(st, 2, disp, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 3, lp, (int)pos, SQLITE_TRANSIENT);
			if (sqlite3_step(st) != SQLITE_DONE) {
				sqlite3_reset(st);
				reg_sqlite_err(s, e, "cannot create key");
				goto out;
			}
			sqlite3_reset(st);
			if (created)
				*created = 1;
		}
		lp[next] = save;
		mem_free(parent_disp);
		parent_disp = disp;
		disp = NULL;
		pos = next;
	}
	if (reg_log_write(s, REG_W_KEY_CREATE, norm, NULL, 0, NULL, 0, e) < 0)
		goto out;
	rc = 0;
out:
	if (rc < 0)
		err_prefix(e, "cannot create key '%s'", norm);
	mem_free(disp);
	mem_free(parent_disp);
	mem_free(norm);
	mem_free(lp);
	return rc;
}

int reg_key_delete_tree(struct reg_store *s, const char *path, struct err *e)
{
	char *norm, *lp;
	sqlite3_stmt *st;
	int rc = -1;

	if (reg_paths(path, &norm, &lp, e) < 0)
		return -1;
	if (reg_is_root(lp)) {
		err_set(e, ERR_CLASS_INPUT, "refusing to delete the root key '%s'", norm);
		goto out;
	}
	if (!(st = reg_stmt(s, RS_VAL_DEL_TREE, e)))
		goto out;
	sqlite3_bind_text(st, 1, lp, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		sqlite3_reset(st);
		reg_sqlite_err(s, e, "cannot delete values");
		goto out;
	}
	sqlite3_reset(st);
	if (!(st = reg_stmt(s, RS_KEY_DEL_TREE, e)))
		goto out;
	sqlite3_bind_text(st, 1, lp, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		sqlite3_reset(st);
		reg_sqlite_err(s, e, "cannot delete keys");
		goto out;
	}
	sqlite3_reset(st);
	if (reg_log_write(s, REG_W_TREE_DELETE, norm, NULL, 0, NULL, 0, e) < 0)
		goto out;
	rc = 0;
out:
	mem_free(norm);
	mem_free(lp);
	return rc;
}

static int key_has_children(struct reg_store *s, const char *lp, struct err *e)
{
	sqlite3_stmt *st = reg_stmt(s, RS_KEY_HAS_CHILD, e);
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, lp, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc != SQLITE_DONE)
		return reg_sqlite_err(s, e, "cannot list subkeys");
	return 0;
}

int reg_key_delete(struct reg_store *s, const char *path, struct err *e)
{
	char *norm, *lp;
	int rc = -1, has;

	if (reg_paths(path, &norm, &lp, e) < 0)
		return -1;
	if (reg_is_root(lp)) {
		err_set(e, ERR_CLASS_INPUT, "refusing to delete the root key '%s'", norm);
		goto out;
	}
	has = key_has_children(s, lp, e);
	if (has < 0)
		goto out;
	if (has) {
		err_set(e, ERR_CLASS_INPUT, "cannot delete key '%s': it has subkeys", norm);
		goto out;
	}
	rc = reg_key_delete_tree(s, norm, e);
	if (rc == 0 && s->log) {
		/* reg_key_delete_tree logged a tree delete; same effect. */
		s->log->v[s->log->n - 1].op = REG_W_KEY_DELETE;
	}
out:
	mem_free(norm);
	mem_free(lp);
	return rc;
}

int reg_key_subkey_at(struct reg_store *s, const char *path, size_t index,
		      char **name, struct err *e)
{
	char *norm, *lp;
	sqlite3_stmt *st;
	int rc = -1, step;

	*name = NULL;
	if (reg_paths(path, &norm, &lp, e) < 0)
		return -1;
	if (!(st = reg_stmt(s, RS_KEY_CHILD_AT, e)))
		goto out;
	sqlite3_bind_text(st, 1, lp, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)index);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		const char *p = (const char *)sqlite3_column_text(st, 0);
		const char *slash = strrchr(p, '\\');
		*name = mem_strdup(slash ? slash + 1 : p);
		rc = *name ? 1 : err_nomem(e, "key name");
	} else if (step == SQLITE_DONE) {
		rc = 0;
	} else {
		reg_sqlite_err(s, e, "cannot list subkeys");
	}
	sqlite3_reset(st);
out:
	mem_free(norm);
	mem_free(lp);
	return rc;
}

static int value_from_row(sqlite3_stmt *st, struct reg_value *out, struct err *e)
{
	const void *d = sqlite3_column_blob(st, 2);
	size_t n = (size_t)sqlite3_column_bytes(st, 2);

	memset(out, 0, sizeof(*out));
	out->name = mem_strdup((const char *)sqlite3_column_text(st, 0));
	out->type = (uint32_t)sqlite3_column_int64(st, 1);
	out->len = n;
	out->data = mem_alloc(n ? n : 1);
	if (!out->name || !out->data) {
		reg_value_destroy(out);
		return err_nomem(e, "registry value");
	}
	if (n)
		memcpy(out->data, d, n);
	return 0;
}

int reg_key_value_at(struct reg_store *s, const char *path, size_t index,
		     struct reg_value *out, struct err *e)
{
	char *norm, *lp;
	sqlite3_stmt *st;
	int rc = -1, step;

	memset(out, 0, sizeof(*out));
	if (reg_paths(path, &norm, &lp, e) < 0)
		return -1;
	if (!(st = reg_stmt(s, RS_VAL_AT, e)))
		goto out;
	sqlite3_bind_text(st, 1, lp, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)index);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW)
		rc = value_from_row(st, out, e) < 0 ? -1 : 1;
	else if (step == SQLITE_DONE)
		rc = 0;
	else
		reg_sqlite_err(s, e, "cannot list values");
	sqlite3_reset(st);
out:
	mem_free(norm);
	mem_free(lp);
	return rc;
}

int reg_value_get(struct reg_store *s, const char *key, const char *name,
		  struct reg_value *out, struct err *e)
{
	char *norm, *lp, *lname = NULL;
	sqlite3_stmt *st;
	int rc = -1, step;

	memset(out, 0, sizeof(*out));
	if (reg_paths(key, &norm, &lp, e) < 0)
		return -1;
	lname = reg_fold(name ? name : "");
	if (!lname) {
		err_nomem(e, "value name");
		goto out;
	}
	if (!(st = reg_stmt(s, RS_VAL_GET, e)))
		goto out;
	sqlite3_bind_text(st, 1, lp, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, lname, -1, SQLITE_STATIC);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW)
		rc = value_from_row(st, out, e) < 0 ? -1 : 1;
	else if (step == SQLITE_DONE)
		rc = 0;
	else
		reg_sqlite_err(s, e, "cannot read value");
	sqlite3_reset(st);
out:
	mem_free(norm);
	mem_free(lp);
	mem_free(lname);
	return rc;
}

int reg_value_set(struct reg_store *s, const char *key, const char *name,
		  uint32_t type, const void *data, size_t len, struct err *e)
{
	char *norm, *lp, *lname = NULL;
	sqlite3_stmt *st;
	int rc = -1, ex;

	if (!name)
		name = "";
	if (strlen(name) > REG_NAME_MAX || len > REG_DATA_MAX)
		return err_set(e, ERR_CLASS_INPUT, "value '%.80s' under '%s': name or data too long",
			       name, key);
	if (reg_paths(key, &norm, &lp, e) < 0)
		return -1;
	ex = key_lookup(s, lp, NULL, e);
	if (ex <= 0) {
		if (ex == 0)
			err_set(e, ERR_CLASS_NOTFOUND, "cannot set value '%s': key '%s' does not exist",
				name, norm);
		goto out;
	}
	if (reg_is_root(lp)) {
		err_set(e, ERR_CLASS_INPUT, "cannot set value '%s' on the root key '%s'", name, norm);
		goto out;
	}
	lname = reg_fold(name);
	if (!lname) {
		err_nomem(e, "value name");
		goto out;
	}
	if (!(st = reg_stmt(s, RS_VAL_SET, e)))
		goto out;
	sqlite3_bind_text(st, 1, lp, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, lname, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, type);
	sqlite3_bind_blob(st, 5, len ? data : "", (int)len, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		sqlite3_reset(st);
		reg_sqlite_err(s, e, "cannot write value");
		goto out;
	}
	sqlite3_reset(st);
	if (reg_log_write(s, REG_W_VALUE_SET, norm, name, type, data, len, e) < 0)
		goto out;
	rc = 0;
out:
	mem_free(norm);
	mem_free(lp);
	mem_free(lname);
	return rc;
}

int reg_value_delete(struct reg_store *s, const char *key, const char *name, struct err *e)
{
	char *norm, *lp, *lname = NULL;
	sqlite3_stmt *st;
	int rc = -1;

	if (!name)
		name = "";
	if (reg_paths(key, &norm, &lp, e) < 0)
		return -1;
	lname = reg_fold(name);
	if (!lname) {
		err_nomem(e, "value name");
		goto out;
	}
	if (!(st = reg_stmt(s, RS_VAL_DEL, e)))
		goto out;
	sqlite3_bind_text(st, 1, lp, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, lname, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		sqlite3_reset(st);
		reg_sqlite_err(s, e, "cannot delete value");
		goto out;
	}
	sqlite3_reset(st);
	rc = sqlite3_changes(s->db) > 0 ? 1 : 0;
	if (reg_log_write(s, REG_W_VALUE_DELETE, norm, name, 0, NULL, 0, e) < 0)
		rc = -1;
out:
	mem_free(norm);
	mem_free(lp);
	mem_free(lname);
	return rc;
}
