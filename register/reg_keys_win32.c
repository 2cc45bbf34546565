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
 * Trap: a process killed between the first registry write and the commit
 * leaves those writes without their capture rows (nothing journals the
 * registry across a crash yet).
 *
 * Differences from the SQLite backend: a key's display name is the
 * spelling the caller used (the registry keeps the stored one; nothing
 * here depends on it), and values enumerate in the registry's own order.
 */
#include "reg_private.h"

#include <string.h>
#include <windows.h>

#include "common/mem.h"
#include "common/os.h"

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

/* Record how to undo a write, while a transaction is open. */
static int undo_add(struct reg_store *s, enum reg_write_op op, const char *key, const char *name,
		    uint32_t type, const void *data, size_t len, struct err *e)
{
	if (!s->in_txn)
		return 0;
	return reg_writes_add(&s->undo, op, key, name, type, data, len, e);
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
	return disp == REG_CREATED_NEW_KEY;
}

int reg_keys_begin(struct reg_store *s, struct err *e)
{
	(void)e;
	reg_writes_destroy(&s->undo);
	reg_writes_init(&s->undo);
	return 0;
}

int reg_store_has_registry(void)
{
	return 0;
}

int reg_keys_end(struct reg_store *s, int commit, struct err *e)
{
	int rc = 0;

	for (size_t i = s->undo.n; !commit && i-- > 0;) {
		const struct reg_write *u = &s->undo.v[i];
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
			err_prefix(e ? e : &ue, "cannot roll back the registry");
			rc = -1;
		}
	}
	reg_writes_destroy(&s->undo);
	reg_writes_init(&s->undo);
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
		int c = raw_key_create(norm, e);
		if (c > 0 && undo_add(s, REG_W_KEY_DELETE, norm, NULL, 0, NULL, 0, e) < 0)
			c = -1;
		*p = '\\';
		if (c < 0)
			goto out;
	}
	if (!reg_is_root(lp)) {
		int c = raw_key_create(norm, e);
		if (c < 0)
			goto out;
		if (c > 0 && created)
			*created = 1;
		if (c > 0 && undo_add(s, REG_W_KEY_DELETE, norm, NULL, 0, NULL, 0, e) < 0)
			goto out;
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
