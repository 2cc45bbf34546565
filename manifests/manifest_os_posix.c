/*
 * manifest_os_posix.c - the directories behind the tokens and the install
 * directory rules on POSIX (see manifest_private.h; FORMAT.md section 4).
 */
#include "manifest_private.h"

#include <string.h>

#include "common/mem.h"
#include "common/path.h"

const char manifest_dir_example[] = "/opt/Mail Suite";

const char *manifest_token_dir(const char *token)
{
	static const char *const dirs[][2] = {
		{ "{sys}", "/usr/lib" },
		{ "{etc}", "/etc" },
		{ "{var}", "/var/lib" },
		{ "{bin}", "/usr/bin" },
	};

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (strcmp(dirs[i][0], token) == 0)
			return dirs[i][1];
	return NULL;
}

int manifest_dir_native(const char *dir)
{
	return dir[0] == '/';
}

char *manifest_default_dir(const char *code)
{
	return mem_printf("/opt/%s", code);
}
