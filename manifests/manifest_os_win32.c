/*
 * manifest_os_win32.c - the directories behind the tokens and the install
 * directory rules on Windows (see manifest_private.h; FORMAT.md section 4):
 * {sys} and {bin} are the system folder (GetSystemDirectoryW), {etc} and
 * {var} the common application data folder (%ProgramData%), and a product
 * without default_dir goes to %ProgramFiles%\CODE. An install directory
 * here is a drive path.
 */
#include "manifest_private.h"

#include <string.h>
#include <windows.h>

#include "common/mem.h"
#include "common/os.h"
#include "common/path.h"

const char manifest_dir_example[] = "C:\\Program Files\\Mail Suite";

/* A folder's UTF-8 path, '\' turned to '/' like the rest of a dest. */
static char *folder(const wchar_t *w)
{
	char *s = os_utf8(w);

	for (char *p = s; p && *p; p++)
		if (*p == '\\')
			*p = '/';
	return s;
}

static char *env_folder(const wchar_t *name, const char *fallback)
{
	wchar_t buf[MAX_PATH];
	DWORD n = GetEnvironmentVariableW(name, buf, MAX_PATH);

	return n && n < MAX_PATH ? folder(buf) : mem_strdup(fallback);
}

const char *manifest_token_dir(const char *token)
{
	static char *sys, *data;

	if (!sys) {
		wchar_t buf[MAX_PATH];
		UINT n = GetSystemDirectoryW(buf, MAX_PATH);
		sys = n && n < MAX_PATH ? folder(buf) : mem_strdup("C:/Windows/System32");
	}
	if (!data)
		data = env_folder(L"ProgramData", "C:/ProgramData");
	if (strcmp(token, "{sys}") == 0 || strcmp(token, "{bin}") == 0)
		return sys;
	if (strcmp(token, "{etc}") == 0 || strcmp(token, "{var}") == 0)
		return data;
	return NULL;
}

int manifest_dir_native(const char *dir)
{
	return ((dir[0] >= 'A' && dir[0] <= 'Z') || (dir[0] >= 'a' && dir[0] <= 'z')) && dir[1] == ':';
}

char *manifest_default_dir(const char *code)
{
	char *base = env_folder(L"ProgramFiles", "C:/Program Files");
	char *dir = base ? mem_printf("%s/%s", base, code) : NULL;

	mem_free(base);
	return dir;
}
