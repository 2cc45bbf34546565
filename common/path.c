/*
 * path.c - path helpers. Trap: path_mkdirs must not follow a symlink that
 * media planted; callers that create under untrusted names check the names
 * with path_is_clean_relative first and create staging with O_NOFOLLOW.
 */
#include "path.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mem.h"

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
	if (!root || !*root)
		root = "/";
	return path_join(root, abs);
}

int path_is_clean_relative(const char *rel)
{
	const char *p = rel, *seg;

	if (!rel || !*rel || rel[0] == '/')
		return 0;
	for (; *p; p++) {
		if (*p == '\\' || (unsigned char)*p < 0x20 || *p == 0x7f)
			return 0;
	}
	for (p = rel; *p;) {
		size_t n;

		seg = p;
		while (*p && *p != '/')
			p++;
		n = (size_t)(p - seg);
		if (n == 0 || (n == 1 && seg[0] == '.') ||
		    (n == 2 && seg[0] == '.' && seg[1] == '.'))
			return 0;
		if (*p == '/') {
			p++;
			if (!*p)
				return 0;
		}
	}
	return 1;
}

const char *path_basename(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

char *path_dirname(const char *path)
{
	const char *s = strrchr(path, '/');

	if (!s)
		return mem_strdup(".");
	if (s == path)
		return mem_strdup("/");
	return mem_strndup(path, (size_t)(s - path));
}

int path_mkdirs(const char *path, mode_t mode, struct err *e)
{
	char *buf = mem_strdup(path);
	char *p;
	int rc = -1;

	if (!buf)
		return err_nomem(e, "creating a directory");
	for (p = buf + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;

			*p = '\0';
			if (mkdir(buf, mode) != 0 && errno != EEXIST) {
				err_errno(e, "cannot create directory '%s'", buf);
				goto out;
			}
			*p = c;
			if (!c)
				break;
		}
	}
	{
		struct stat st;

		if (stat(path, &st) != 0) {
			err_errno(e, "cannot create directory '%s'", path);
			goto out;
		}
		if (!S_ISDIR(st.st_mode)) {
			err_set(e, ERR_CLASS_IO, "cannot create directory '%s': a file of that name is in the way", path);
			goto out;
		}
	}
	rc = 0;
out:
	mem_free(buf);
	return rc;
}

int path_sync_dir(const char *path, struct err *e)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return err_errno(e, "cannot open directory '%s' to sync it", path);
	if (fsync(fd) != 0) {
		err_errno(e, "cannot sync directory '%s'", path);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int remove_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st; (void)f;
	if (flag == FTW_DP)
		return rmdir(p) == 0 || errno == ENOENT ? 0 : -1;
	return unlink(p) == 0 || errno == ENOENT ? 0 : -1;
}

int path_remove_tree(const char *path, struct err *e)
{
	struct stat st;

	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : err_errno(e, "cannot remove '%s'", path);
	if (!S_ISDIR(st.st_mode)) {
		if (unlink(path) != 0 && errno != ENOENT)
			return err_errno(e, "cannot remove '%s'", path);
		return 0;
	}
	if (nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
		return err_errno(e, "cannot remove the directory tree '%s'", path);
	return 0;
}

int path_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}
