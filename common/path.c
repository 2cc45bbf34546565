/*
 * path.c - path string helpers (the directory helpers of path.h are in
 * os_posix.c and os_win32.c).
 */
#include "path.h"

#include <string.h>

#include "mem.h"
#include "os.h"

char *path_join(const char *a, const char *b)
{
	size_t la = strlen(a);

	while (*b == '/')
		b++;
	while (la > 1 && a[la - 1] == '/')
		la--;
	if (la == 1 && a[0] == '/')
		return mem_printf("/%s", b);
	if (!*b)
		return mem_strndup(a, la);
	return mem_printf("%.*s/%s", (int)la, a, b);
}

char *path_in_root(const char *root, const char *abs)
{
	if (!root || !*root || strcmp(root, "/") == 0)
		return os_in_root("", abs);   /* POSIX: abs itself */
	return path_join(root, abs);
}

int path_is_root(const char *path)
{
	size_t rl = os_path_root_len(path);

	return (rl && path[rl] == '\0') || strcmp(path, ".") == 0;
}

/* path_is_clean_relative, where '\\' is a separator too when bs. */
static int clean_relative(const char *rel, int bs)
{
	const char *p = rel, *seg;

#define IS_SEP(ch) ((ch) == '/' || (bs && (ch) == '\\'))
	if (!rel || !*rel || IS_SEP(rel[0]))
		return 0;
	for (; *p; p++) {
		if ((*p == '\\' && !bs) || (unsigned char)*p < 0x20 || *p == 0x7f)
			return 0;
	}
	for (p = rel; *p;) {
		size_t n;

		seg = p;
		while (*p && !IS_SEP(*p))
			p++;
		n = (size_t)(p - seg);
		if (n == 0 || (n == 1 && seg[0] == '.') ||
		    (n == 2 && seg[0] == '.' && seg[1] == '.') || !os_path_name_ok(seg, n))
			return 0;
		if (IS_SEP(*p)) {
			p++;
			if (!*p)
				return 0;
		}
	}
#undef IS_SEP
	return 1;
}

int path_is_clean_relative(const char *rel)
{
	return clean_relative(rel, 0);
}

int path_is_clean_relative_win(const char *rel)
{
	return clean_relative(rel, 1);
}

const char *path_basename(const char *path)
{
	const char *s = os_path_last_sep(path);

	return s ? s + 1 : path;
}

char *path_dirname(const char *path)
{
	const char *s = os_path_last_sep(path);
	size_t rl = os_path_root_len(path);

	if (!s)
		return mem_strdup(".");
	if ((size_t)(s - path) < rl)   /* the root's own separator: "/", "C:\" */
		return mem_strndup(path, rl);
	return mem_strndup(path, (size_t)(s - path));
}
