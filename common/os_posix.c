/*
 * os_posix.c - os.h, and the directory helpers of path.h, for POSIX.
 * Trap: path_mkdirs must not follow a symlink that media planted; callers
 * that create under untrusted names check the names with
 * path_is_clean_relative first and create staging with O_NOFOLLOW.
 */
#include "os.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mem.h"
#include "path.h"

void os_init(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
}

char *os_absolute(const char *p)
{
	char buf[PATH_MAX];
	char *r = realpath(p, NULL);

	if (r) {
		char *m = mem_strdup(r);
		free(r);
		return m;
	}
	if (p[0] == '/')
		return mem_strdup(p);
	if (!getcwd(buf, sizeof(buf)))
		return mem_strdup(p);
	return mem_printf("%s/%s", buf, p);
}

int os_rename(const char *from, const char *to)
{
	return rename(from, to);
}

int os_unlink(const char *path)
{
	return unlink(path);
}

long os_getpid(void)
{
	return (long)getpid();
}

FILE *os_fopen(const char *path, const char *mode)
{
	return fopen(path, mode);
}

void os_kill_self(void)
{
	kill(getpid(), SIGKILL);
}

void os_sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

const char *os_path_last_sep(const char *path)
{
	return strrchr(path, '/');
}

int os_path_is_absolute(const char *path)
{
	return path && path[0] == '/';
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

/* ---- files: the POSIX calls as they were, always O_CLOEXEC ---- */

static int posix_flags(int flags)
{
	int f = O_CLOEXEC;

	f |= (flags & OS_O_WRONLY) ? O_WRONLY : O_RDONLY;
	if (flags & OS_O_CREAT)
		f |= O_CREAT;
	if (flags & OS_O_EXCL)
		f |= O_EXCL;
	if (flags & OS_O_NOFOLLOW)
		f |= O_NOFOLLOW;
	if (flags & OS_O_NONBLOCK)
		f |= O_NONBLOCK;
	return f;
}

int os_open(const char *path, int flags, int mode)
{
	return open(path, posix_flags(flags), (mode_t)mode);
}

int os_dir_open(const char *dir)
{
	return open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

int os_dir_is_private(int dfd)
{
	struct stat st;

	if (fstat(dfd, &st) != 0)
		return -1;
	return st.st_uid == geteuid() && !(st.st_mode & 077);
}

int os_open_at(int dfd, const char *dir, const char *name, int flags, int mode)
{
	(void)dir;
	return openat(dfd, name, posix_flags(flags), (mode_t)mode);
}

int os_symlink_at(const char *target, int dfd, const char *dir, const char *name)
{
	(void)dir;
	return symlinkat(target, dfd, name);
}

int os_unlink_at(int dfd, const char *dir, const char *name)
{
	(void)dir;
	return unlinkat(dfd, name, 0);
}

int os_mkdir(const char *path, int mode)
{
	return mkdir(path, (mode_t)mode);
}

int os_stat(const char *path, struct stat *st)
{
	return stat(path, st);
}

int os_lstat(const char *path, struct stat *st)
{
	return lstat(path, st);
}

int os_symlink(const char *target, const char *path)
{
	return symlink(target, path);
}

int os_fsync(int fd)
{
	return fsync(fd);
}

int os_fchmod(int fd, int mode)
{
	return fchmod(fd, (mode_t)mode);
}
