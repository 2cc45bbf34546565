/*
 * setupkit/reg_win32_impl.h - the sk_reg_* calls of <setupkit/reg.h> on
 * Windows: advapi32's wide API, strings converted from and to UTF-8 (value
 * names, key names and REG_SZ / REG_EXPAND_SZ / REG_MULTI_SZ data). Same
 * Win32 result codes. Included by reg.h; do not include it yourself.
 * Differences from POSIX: sk_reg_delete_tree(key, NULL) empties the key
 * (Windows cannot delete a key through its own handle), and enumeration
 * order is the registry's own.
 */
#ifndef SETUPKIT_PUBLIC_REG_WIN32_IMPL_H
#define SETUPKIT_PUBLIC_REG_WIN32_IMPL_H

#include <stdlib.h>

/* UTF-8 (n bytes, or -1: NUL-terminated) -> malloc'd UTF-16; *units gets
 * the UTF-16 length including what the input held. NULL on failure. */
static inline wchar_t *sk__wide(const char *s, int n, int *units)
{
	int u;
	wchar_t *w;

	if (!s)
		s = "";
	u = n == 0 ? 0 : MultiByteToWideChar(CP_UTF8, 0, s, n, NULL, 0);
	if (n != 0 && u <= 0)
		return NULL;
	w = (wchar_t *)malloc(((size_t)u + 1) * sizeof(wchar_t));
	if (!w)
		return NULL;
	if (u)
		MultiByteToWideChar(CP_UTF8, 0, s, n, w, u);
	w[u] = L'\0';
	if (units)
		*units = u;
	return w;
}

/* UTF-16 (u units) -> UTF-8 into out[*len]; *len gets the UTF-8 size.
 * out NULL: only the size. ERROR_MORE_DATA when it does not fit. */
static inline long sk__narrow(const wchar_t *w, int u, char *out, uint32_t *len)
{
	int n = u ? WideCharToMultiByte(CP_UTF8, 0, w, u, NULL, 0, NULL, NULL) : 0;
	uint32_t have = *len;

	*len = (uint32_t)n;
	if (!out)
		return ERROR_SUCCESS;
	if (have < (uint32_t)n)
		return ERROR_MORE_DATA;
	if (n)
		WideCharToMultiByte(CP_UTF8, 0, w, u, out, n, NULL, NULL);
	return ERROR_SUCCESS;
}

static inline int sk__is_text(DWORD type)
{
	return type == REG_SZ || type == REG_EXPAND_SZ || type == REG_MULTI_SZ;
}

SK_REG_API long sk_reg_create_key(SK_HKEY parent, const char *subkey, SK_HKEY *out, int *created)
{
	wchar_t *w = sk__wide(subkey, -1, NULL);
	DWORD disp = 0;
	long r;

	if (!w)
		return ERROR_OUTOFMEMORY;
	r = RegCreateKeyExW(parent, w, 0, NULL, REG_OPTION_NON_VOLATILE, KEY_ALL_ACCESS, NULL, out, &disp);
	free(w);
	if (created)
		*created = r == ERROR_SUCCESS && disp == REG_CREATED_NEW_KEY;
	return r;
}

SK_REG_API long sk_reg_open_key(SK_HKEY parent, const char *subkey, SK_HKEY *out)
{
	wchar_t *w = sk__wide(subkey, -1, NULL);
	long r;

	if (!w)
		return ERROR_OUTOFMEMORY;
	r = RegOpenKeyExW(parent, w, 0, KEY_ALL_ACCESS, out);
	free(w);
	return r;
}

SK_REG_API long sk_reg_close_key(SK_HKEY key)
{
	if (key == HKEY_CLASSES_ROOT || key == HKEY_CURRENT_USER || key == HKEY_LOCAL_MACHINE ||
	    key == HKEY_USERS)
		return ERROR_SUCCESS;
	return RegCloseKey(key);
}

SK_REG_API long sk_reg_set_value(SK_HKEY key, const char *name, uint32_t type, const void *data,
				 uint32_t len)
{
	wchar_t *wn = sk__wide(name, -1, NULL), *wd = NULL;
	int units = 0;
	long r;

	if (!wn)
		return ERROR_OUTOFMEMORY;
	if (sk__is_text(type)) {
		wd = sk__wide((const char *)data, (int)len, &units);
		if (!wd) {
			free(wn);
			return ERROR_INVALID_PARAMETER;
		}
		r = RegSetValueExW(key, wn, 0, type, (const BYTE *)wd, (DWORD)units * sizeof(wchar_t));
	} else {
		r = RegSetValueExW(key, wn, 0, type, (const BYTE *)data, len);
	}
	free(wn);
	free(wd);
	return r;
}

SK_REG_API long sk_reg_set_string(SK_HKEY key, const char *name, const char *value)
{
	return sk_reg_set_value(key, name, REG_SZ, value, (uint32_t)strlen(value) + 1);
}

SK_REG_API long sk_reg_set_dword(SK_HKEY key, const char *name, uint32_t value)
{
	return sk_reg_set_value(key, name, REG_DWORD, &value, sizeof(value));
}

/* sk_reg_query_value with the value name in UTF-16. */
static inline long sk__query(SK_HKEY key, const wchar_t *wn, uint32_t *type, void *data, uint32_t *len)
{
	DWORD t = 0, n = 0;
	BYTE *buf = NULL;
	long r = RegQueryValueExW(key, wn, NULL, &t, NULL, &n);

	if (r == ERROR_SUCCESS && (buf = (BYTE *)malloc(n ? n : 1)) == NULL)
		r = ERROR_OUTOFMEMORY;
	if (r == ERROR_SUCCESS)
		r = RegQueryValueExW(key, wn, NULL, &t, buf, &n);
	if (r == ERROR_SUCCESS) {
		if (type)
			*type = t;
		if (len && sk__is_text(t)) {
			r = sk__narrow((const wchar_t *)buf, (int)(n / sizeof(wchar_t)), (char *)data, len);
		} else if (len) {
			uint32_t have = *len;
			*len = n;
			if (data && have < n)
				r = ERROR_MORE_DATA;
			else if (data && n)
				memcpy(data, buf, n);
		}
	}
	free(buf);
	return r;
}

SK_REG_API long sk_reg_query_value(SK_HKEY key, const char *name, uint32_t *type, void *data,
				   uint32_t *len)
{
	wchar_t *wn = sk__wide(name, -1, NULL);
	long r;

	if (!wn)
		return ERROR_OUTOFMEMORY;
	r = sk__query(key, wn, type, data, len);
	free(wn);
	return r;
}

SK_REG_API long sk_reg_delete_value(SK_HKEY key, const char *name)
{
	wchar_t *wn = sk__wide(name, -1, NULL);
	long r;

	if (!wn)
		return ERROR_OUTOFMEMORY;
	r = RegDeleteValueW(key, wn);
	free(wn);
	return r;
}

SK_REG_API long sk_reg_delete_tree(SK_HKEY key, const char *subkey)
{
	wchar_t *w;
	long r;

	if (!subkey)
		return RegDeleteTreeW(key, NULL);
	w = sk__wide(subkey, -1, NULL);
	if (!w)
		return ERROR_OUTOFMEMORY;
	r = RegDeleteTreeW(key, w);
	if (r == ERROR_SUCCESS)
		r = RegDeleteKeyW(key, w);
	free(w);
	return r;
}

SK_REG_API long sk_reg_delete_key(SK_HKEY key, const char *subkey)
{
	wchar_t *w = sk__wide(subkey, -1, NULL);
	long r;

	if (!w)
		return ERROR_OUTOFMEMORY;
	r = RegDeleteKeyW(key, w);
	free(w);
	return r;
}

SK_REG_API long sk_reg_enum_key(SK_HKEY key, uint32_t index, char *name, uint32_t *name_len)
{
	wchar_t w[256];
	DWORD n = 256;
	uint32_t size = name_len ? *name_len : 0;
	long r = RegEnumKeyExW(key, index, w, &n, NULL, NULL, NULL, NULL);

	if (r != ERROR_SUCCESS)
		return r;
	r = sk__narrow(w, (int)n + 1, name, &size);   /* with its NUL */
	if (name_len)
		*name_len = size ? size - 1 : 0;
	return r;
}

SK_REG_API long sk_reg_enum_value(SK_HKEY key, uint32_t index, char *name, uint32_t *name_len,
				  uint32_t *type, void *data, uint32_t *len)
{
	wchar_t w[16384];
	DWORD n = 16384, t = 0;
	uint32_t size = name_len ? *name_len : 0;
	long r = RegEnumValueW(key, index, w, &n, NULL, &t, NULL, NULL);

	if (r != ERROR_SUCCESS)
		return r;
	r = sk__narrow(w, (int)n + 1, name, &size);
	if (name_len)
		*name_len = size ? size - 1 : 0;
	if (r != ERROR_SUCCESS)
		return r;
	if (type)
		*type = t;
	return len ? sk__query(key, w, NULL, data, len) : ERROR_SUCCESS;
}

SK_REG_API const char *sk_reg_module_path(void)
{
	static char path[4 * MAX_PATH];
	static const char here = 0;   /* an address inside this module */
	HMODULE self = NULL;
	wchar_t w[MAX_PATH];
	uint32_t n = sizeof(path) - 1;
	DWORD u;

	if (!GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS |
				GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT, (LPCWSTR)(const void *)&here, &self))
		return NULL;
	u = GetModuleFileNameW(self, w, MAX_PATH);
	if (!u || u >= MAX_PATH || sk__narrow(w, (int)u, path, &n) != ERROR_SUCCESS)
		return NULL;
	path[n] = '\0';
	return path;
}

#endif
