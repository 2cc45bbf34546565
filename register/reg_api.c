/*
 * reg_api.c - the module-facing registry API (sk_reg_*, declared in
 * <setupkit/reg.h>), on top of the store bound by reg_api_bind().
 *
 * In a registration child the bound store is an in-memory snapshot of the
 * real one with a write log, so a module reads its own writes and the real
 * database is never touched (the parent applies the log on success).
 * Handles: the four predefined roots are constants; an opened key is a heap
 * object holding its normalised path, checked by a magic number so a stale
 * or foreign handle gives SK_ERROR_INVALID_HANDLE instead of a crash.
 * Trap: these functions are called by module code and must never exit or
 * abort; every failure is a return code.
 */
#include "reg_private.h"

#include <stdint.h>
#include <string.h>

#include "common/mem.h"
#include <setupkit/reg.h>

#define SK_HKEY_MAGIC 0x534b4b59u  /* "SKKY" */

struct sk_hkey {
	uint32_t magic;
	char *path;
};

static struct reg_store *api_store;
static const char *api_module;

void reg_api_bind(struct reg_store *s, const char *module)
{
	api_store = s;
	api_module = module;
}

const char *sk_reg_module_path(void)
{
	return api_module;
}

static long code_of(const struct err *e)
{
	switch (e->cls) {
	case ERR_CLASS_NOTFOUND: return SK_ERROR_FILE_NOT_FOUND;
	case ERR_CLASS_NOMEM:    return SK_ERROR_OUTOFMEMORY;
	case ERR_CLASS_INPUT:    return SK_ERROR_INVALID_PARAMETER;
	default:                 return SK_ERROR_CANTWRITE;
	}
}

/* Full path of key (+ "\" + subkey) allocated in *out. */
static long key_path(SK_HKEY key, const char *subkey, char **out)
{
	const char *base;
	uintptr_t k = (uintptr_t)key;

	*out = NULL;
	if (!api_store)
		return SK_ERROR_BADDB;
	if (k == (uintptr_t)SK_HKEY_CLASSES_ROOT)
		base = "HKEY_CLASSES_ROOT";
	else if (k == (uintptr_t)SK_HKEY_CURRENT_USER)
		base = "HKEY_CURRENT_USER";
	else if (k == (uintptr_t)SK_HKEY_LOCAL_MACHINE)
		base = "HKEY_LOCAL_MACHINE";
	else if (k == (uintptr_t)SK_HKEY_USERS)
		base = "HKEY_USERS";
	else if (key && key->magic == SK_HKEY_MAGIC)
		base = key->path;
	else
		return SK_ERROR_INVALID_HANDLE;
	if (subkey && *subkey)
		*out = mem_printf("%s\\%s", base, subkey);
	else
		*out = mem_strdup(base);
	return *out ? SK_ERROR_SUCCESS : SK_ERROR_OUTOFMEMORY;
}

static long open_common(SK_HKEY parent, const char *subkey, SK_HKEY *out, int create,
			int *created)
{
	struct err e;
	char *p = NULL, *norm = NULL;
	struct sk_hkey *h;
	long rc;
	int ex;

	if (!out)
		return SK_ERROR_INVALID_PARAMETER;
	*out = NULL;
	rc = key_path(parent, subkey, &p);
	if (rc)
		return rc;
	err_clear(&e);
	norm = reg_path_normalize(p, &e);
	if (!norm) {
		rc = code_of(&e);
		goto out;
	}
	if (create) {
		if (reg_key_create(api_store, norm, created, &e) < 0) {
			rc = code_of(&e);
			goto out;
		}
	} else {
		ex = reg_key_exists(api_store, norm, &e);
		if (ex <= 0) {
			rc = ex == 0 ? SK_ERROR_FILE_NOT_FOUND : code_of(&e);
			goto out;
		}
	}
	h = mem_zalloc(sizeof(*h));
	if (!h) {
		rc = SK_ERROR_OUTOFMEMORY;
		goto out;
	}
	h->magic = SK_HKEY_MAGIC;
	h->path = norm;
	norm = NULL;
	*out = h;
	rc = SK_ERROR_SUCCESS;
out:
	mem_free(p);
	mem_free(norm);
	return rc;
}

long sk_reg_create_key(SK_HKEY parent, const char *subkey, SK_HKEY *out, int *created)
{
	return open_common(parent, subkey, out, 1, created);
}

long sk_reg_open_key(SK_HKEY parent, const char *subkey, SK_HKEY *out)
{
	return open_common(parent, subkey, out, 0, NULL);
}

long sk_reg_close_key(SK_HKEY key)
{
	uintptr_t k = (uintptr_t)key;

	if (k >= (uintptr_t)SK_HKEY_CLASSES_ROOT && k <= (uintptr_t)SK_HKEY_USERS)
		return SK_ERROR_SUCCESS;
	if (!key || key->magic != SK_HKEY_MAGIC)
		return SK_ERROR_INVALID_HANDLE;
	key->magic = 0;
	mem_free(key->path);
	mem_free(key);
	return SK_ERROR_SUCCESS;
}

long sk_reg_set_value(SK_HKEY key, const char *name, uint32_t type,
		      const void *data, uint32_t len)
{
	struct err e;
	char *p;
	long rc = key_path(key, NULL, &p);

	if (rc)
		return rc;
	if (len && !data) {
		mem_free(p);
		return SK_ERROR_INVALID_PARAMETER;
	}
	err_clear(&e);
	rc = reg_value_set(api_store, p, name, type, data, len, &e) < 0 ? code_of(&e) : 0;
	mem_free(p);
	return rc;
}

long sk_reg_set_string(SK_HKEY key, const char *name, const char *value)
{
	if (!value)
		return SK_ERROR_INVALID_PARAMETER;
	return sk_reg_set_value(key, name, SK_REG_SZ, value, (uint32_t)strlen(value) + 1);
}

long sk_reg_set_dword(SK_HKEY key, const char *name, uint32_t value)
{
	return sk_reg_set_value(key, name, SK_REG_DWORD, &value, sizeof(value));
}

static long copy_out(const struct reg_value *v, uint32_t *type, void *data, uint32_t *len)
{
	if (type)
		*type = v->type;
	if (data) {
		if (!len)
			return SK_ERROR_INVALID_PARAMETER;
		if (*len < v->len) {
			*len = (uint32_t)v->len;
			return SK_ERROR_MORE_DATA;
		}
		if (v->len)
			memcpy(data, v->data, v->len);
	}
	if (len)
		*len = (uint32_t)v->len;
	return SK_ERROR_SUCCESS;
}

long sk_reg_query_value(SK_HKEY key, const char *name, uint32_t *type,
			void *data, uint32_t *len)
{
	struct err e;
	struct reg_value v;
	char *p;
	long rc = key_path(key, NULL, &p);
	int got;

	if (rc)
		return rc;
	err_clear(&e);
	got = reg_value_get(api_store, p, name, &v, &e);
	mem_free(p);
	if (got < 0)
		return code_of(&e);
	if (!got)
		return SK_ERROR_FILE_NOT_FOUND;
	rc = copy_out(&v, type, data, len);
	reg_value_destroy(&v);
	return rc;
}

long sk_reg_delete_value(SK_HKEY key, const char *name)
{
	struct err e;
	char *p;
	long rc = key_path(key, NULL, &p);
	int got;

	if (rc)
		return rc;
	err_clear(&e);
	got = reg_value_delete(api_store, p, name, &e);
	mem_free(p);
	if (got < 0)
		return code_of(&e);
	return got ? SK_ERROR_SUCCESS : SK_ERROR_FILE_NOT_FOUND;
}

static long delete_common(SK_HKEY key, const char *subkey, int tree)
{
	struct err e;
	char *p;
	long rc = key_path(key, subkey, &p);
	int ex;

	if (rc)
		return rc;
	err_clear(&e);
	ex = reg_key_exists(api_store, p, &e);
	if (ex <= 0)
		rc = ex == 0 ? SK_ERROR_FILE_NOT_FOUND : code_of(&e);
	else if ((tree ? reg_key_delete_tree(api_store, p, &e) : reg_key_delete(api_store, p, &e)) < 0)
		rc = e.cls == ERR_CLASS_INPUT ? SK_ERROR_ACCESS_DENIED : code_of(&e);
	mem_free(p);
	return rc;
}

long sk_reg_delete_tree(SK_HKEY key, const char *subkey)
{
	return delete_common(key, subkey, 1);
}

long sk_reg_delete_key(SK_HKEY key, const char *subkey)
{
	if (!subkey)
		return SK_ERROR_INVALID_PARAMETER;
	return delete_common(key, subkey, 0);
}

static long copy_name(const char *src, char *name, uint32_t *name_len)
{
	size_t n = strlen(src);

	if (!name || !name_len)
		return SK_ERROR_INVALID_PARAMETER;
	if (*name_len <= n) {
		*name_len = (uint32_t)n;
		return SK_ERROR_MORE_DATA;
	}
	memcpy(name, src, n + 1);
	*name_len = (uint32_t)n;
	return SK_ERROR_SUCCESS;
}

long sk_reg_enum_key(SK_HKEY key, uint32_t index, char *name, uint32_t *name_len)
{
	struct err e;
	char *p, *sub = NULL;
	long rc = key_path(key, NULL, &p);
	int got;

	if (rc)
		return rc;
	err_clear(&e);
	got = reg_key_subkey_at(api_store, p, index, &sub, &e);
	mem_free(p);
	if (got < 0)
		return code_of(&e);
	if (!got)
		return SK_ERROR_NO_MORE_ITEMS;
	rc = copy_name(sub, name, name_len);
	mem_free(sub);
	return rc;
}

long sk_reg_enum_value(SK_HKEY key, uint32_t index, char *name, uint32_t *name_len,
		       uint32_t *type, void *data, uint32_t *len)
{
	struct err e;
	struct reg_value v;
	char *p;
	long rc = key_path(key, NULL, &p);
	int got;

	if (rc)
		return rc;
	err_clear(&e);
	got = reg_key_value_at(api_store, p, index, &v, &e);
	mem_free(p);
	if (got < 0)
		return code_of(&e);
	if (!got)
		return SK_ERROR_NO_MORE_ITEMS;
	rc = copy_name(v.name, name, name_len);
	if (rc == SK_ERROR_SUCCESS)
		rc = copy_out(&v, type, data, len);
	reg_value_destroy(&v);
	return rc;
}

/* Referenced by the child runner so a static link keeps this whole file. */
void *const reg_api_exports[] = {
	(void *)sk_reg_create_key, (void *)sk_reg_open_key, (void *)sk_reg_close_key,
	(void *)sk_reg_set_value, (void *)sk_reg_set_string, (void *)sk_reg_set_dword,
	(void *)sk_reg_query_value, (void *)sk_reg_delete_value, (void *)sk_reg_delete_tree,
	(void *)sk_reg_delete_key, (void *)sk_reg_enum_key, (void *)sk_reg_enum_value,
	(void *)sk_reg_module_path, NULL,
};
