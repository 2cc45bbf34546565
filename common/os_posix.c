/*
 * os_posix.c - os.h, and the directory helpers of path.h, for POSIX.
 * Trap: path_mkdirs must not follow a symlink that media planted; callers
 * that create under untrusted names check the names with
 * path_is_clean_relative first and create staging with O_NOFOLLOW.
 */
#include "os.h"

#include <dirent.h>
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

int os_has_modes(void)
{
	return 1;
}

size_t os_path_root_len(const char *path)
{
	return path[0] == '/' ? 1 : 0;
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

char *os_in_root(const char *root, const char *path)
{
	return mem_printf("%s%s%s", root, path[0] == '/' ? "" : "/", path);
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

int os_path_name_ok(const char *name, size_t n)
{
	(void)name;
	(void)n;
	return 1;
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
	if (flags & OS_O_TRUNC)
		f |= O_TRUNC;
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

int os_lstat_at(int dfd, const char *dir, const char *name, struct stat *st)
{
	(void)dir;
	return fstatat(dfd, name, st, AT_SYMLINK_NOFOLLOW);
}

/* struct os_dir is the DIR itself: no allocation of our own. */
struct os_dir *os_opendir(const char *path)
{
	return (struct os_dir *)opendir(path);
}

const char *os_readdir(struct os_dir *d)
{
	struct dirent *de = readdir((DIR *)d);

	return de ? de->d_name : NULL;
}

int os_dirfd(struct os_dir *d)
{
	return dirfd((DIR *)d);
}

void os_closedir(struct os_dir *d)
{
	if (d)
		closedir((DIR *)d);
}

int os_mkdir(const char *path, int mode)
{
	return mkdir(path, (mode_t)mode);
}

int os_rmdir(const char *path)
{
	return rmdir(path);
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

int os_link(const char *from, const char *to)
{
	return link(from, to);
}

int os_sync_files(const char *dir, const char *const *files, size_t n, struct err *e)
{
	dev_t devs[16];
	int ndev = 0, rc = 0;
	char *prev = NULL;

	/* dir itself first, then the directory of each file: a directory
	 * already seen just before, or a filesystem already synced, is skipped. */
	for (size_t i = 0; i <= n && rc == 0; i++) {
		char *real = i == 0 ? mem_strdup(dir) : path_dirname(files[i - 1]);
		struct stat st;
		int fd, seen = 0;

		if (!real) {
			rc = err_nomem(e, "syncing");
			break;
		}
		if (prev && strcmp(prev, real) == 0) {
			mem_free(real);
			continue;
		}
		mem_free(prev);
		prev = real;
		if (stat(real, &st) != 0)
			continue;      /* removed directory: its parent is synced */
		for (int d = 0; d < ndev; d++)
			seen |= devs[d] == st.st_dev;
		if (seen || ndev == 16)
			continue;
		devs[ndev++] = st.st_dev;
		fd = open(real, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 || syncfs(fd) != 0)
			rc = err_errno(e, "cannot flush the filesystem holding '%s' to disk", real);
		if (fd >= 0)
			close(fd);
	}
	mem_free(prev);
	return rc;
}

int os_in_use_error(int errnum)
{
	(void)errnum;   /* rename() replaces a file in use: its users keep the old inode */
	return 0;
}

int os_can_replace(const char *path)
{
	(void)path;   /* rename() replaces a file whoever has it open */
	return 1;
}

int os_replace_at_restart(const char *src, const char *dst)
{
	(void)src;
	(void)dst;
	errno = ENOTSUP;
	return -1;
}

int os_same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int os_path_clean_absolute(const char *path)
{
	return path[0] == '/' && (!path[1] || path_is_clean_relative(path + 1));
}

struct tm *os_gmtime(time_t t, struct tm *out)
{
	return gmtime_r(&t, out);
}
