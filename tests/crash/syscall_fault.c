/*
 * syscall_fault.c - an LD_PRELOAD shim that counts the mutating system calls
 * of one process and can kill it, or make a call fail, at the k-th one. It
 * is the harness of tests/crash/crash_sweep.sh and io_fault_sweep.sh (issue
 * 10: "crash at every point", "I/O faults").
 *
 * Interposed (each with the glibc names the tools and their libraries import,
 * checked with `nm -D --undefined-only` on build/bin/setup, libsqlite3 and
 * libarchive): write pwrite pwrite64 writev; fsync fdatasync syncfs; rename
 * renameat renameat2; link linkat; unlink unlinkat; mkdir mkdirat; rmdir;
 * chmod fchmod fchmodat; ftruncate ftruncate64; symlink symlinkat; and open
 * open64 openat openat64 creat creat64 __open_2 __open64_2 __openat_2
 * __openat64_2 when they create, truncate or open for writing. SQLite's
 * unix VFS calls libc through its own table (aSyscall[]), which holds the
 * addresses of these symbols as libsqlite3 resolved them: ours, so its
 * pwrite64/fdatasync/open64 are counted like any other.
 *
 * Environment:
 *   SK_SYSCALL_TRACE=FILE      append "n call path" for every counted call
 *                              (" (failed here)" after a call made to fail)
 *   SK_SYSCALL_KILL_AT=k       SIGKILL this process at the k-th counted call,
 *                              before performing it
 *   SK_SYSCALL_FAIL_AT=k       fail the k-th call of the classes in
 *   SK_SYSCALL_FAIL_CALLS=...  (comma list; default every class) with
 *   SK_SYSCALL_FAIL_ERRNO=E    ENOSPC (default), EIO or EROFS, not performing it
 *   SK_SYSCALL_FAIL_PERSIST=1  ... and every matching call after it
 * Classes: write (write pwrite* writev), fsync (fsync fdatasync syncfs),
 * rename, link, unlink, mkdir, rmdir, chmod, truncate, symlink, open.
 *
 * Traps:
 *  - Only the top process counts. The first process to load the shim records
 *    its pid in SK_SYSCALL_TOP_PID; a process exec'd from it (a service or
 *    extension command, a shell script) inherits the variable and sees a
 *    pid that is not its own; a child forked without exec (the registration
 *    fork server's children) inherits the shim's memory and is told apart by
 *    getpid() on every call. The registration child is spawned without
 *    LD_PRELOAD at all (reg_runner.c drops it).
 *  - What is not state does not count: fds 0-2, pipes, sockets and devices
 *    (fstat says so), and the run's log under var/lib/setupkit/log/ (the
 *    path of an fd comes from readlink /proc/self/fd/N, cached per fd and
 *    revalidated by st_dev/st_ino, so a reused fd number is never misjudged).
 *    The log is written through stdio, whose writes glibc makes with its
 *    internal __write, never through this shim; the path rule also keeps the
 *    log directory's mkdir and the log's open out of the count.
 *  - A call that cannot change anything is not counted: mkdir of a path
 *    that exists (EEXIST), unlink, rmdir or rename of one that does not
 *    (ENOENT), link onto a name that exists, an open without O_CREAT of a
 *    missing file. setup makes many (path_mkdirs walks every ancestor, the
 *    finish unlinks names that may be gone), and killing before one is the
 *    same point as killing before the next counted call. Nor is SQLite's
 *    wal-index (NAME-shm): shared memory in a file, rebuilt from the WAL by
 *    the first connection after a crash, never state.
 *  - The shim must not call an interposed symbol itself: it uses the real
 *    functions (dlsym RTLD_NEXT), readlink and fstat (not interposed) and
 *    raw syscall() for its own trace, and it is built without
 *    _FILE_OFFSET_BITS=64 so that open and open64 stay two symbols.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define SF_LOG_MARK "/var/lib/setupkit/log"
#define SF_FD_CACHE 1024

enum sf_class {
	SF_WRITE, SF_FSYNC, SF_RENAME, SF_LINK, SF_UNLINK, SF_MKDIR, SF_RMDIR,
	SF_CHMOD, SF_TRUNCATE, SF_SYMLINK, SF_OPEN, SF_NCLASS
};
static const char *const sf_class_names[SF_NCLASS] = {
	"write", "fsync", "rename", "link", "unlink", "mkdir", "rmdir",
	"chmod", "truncate", "symlink", "open"
};

static int sf_ready;
static pid_t sf_top;
static unsigned long sf_kill_at, sf_fail_at;
static int sf_fail_errno = ENOSPC, sf_fail_persist, sf_trace_fd = -1;
static unsigned sf_fail_mask = ~0u;
static unsigned long sf_n, sf_nfail;   /* counted calls; counted calls of the failing classes */

/* Per fd: is it state? Validated by device and inode. */
struct sf_fd {
	dev_t dev;
	ino_t ino;
	int known, state;
	char path[512];
};
static struct sf_fd sf_fds[SF_FD_CACHE];

static void *sf_real(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);

	if (!p) {
		static const char msg[] = "syscall_fault: a libc symbol is missing\n";

		syscall(SYS_write, 2, msg, sizeof(msg) - 1);
		_exit(127);
	}
	return p;
}

#define REAL(ret, name, args) \
	static ret(*real_fn) args; \
	if (!real_fn) \
		real_fn = (ret(*) args)sf_real(name)

static void sf_init(void)
{
	const char *v;

	if (sf_ready)
		return;
	sf_ready = 1;
	v = getenv("SK_SYSCALL_TOP_PID");
	if (v && *v) {
		sf_top = (pid_t)strtol(v, NULL, 10);
	} else {
		char buf[32];

		sf_top = getpid();
		snprintf(buf, sizeof(buf), "%ld", (long)sf_top);
		setenv("SK_SYSCALL_TOP_PID", buf, 1);
	}
	if (getpid() != sf_top)
		return;
	if ((v = getenv("SK_SYSCALL_KILL_AT")))
		sf_kill_at = strtoul(v, NULL, 10);
	if ((v = getenv("SK_SYSCALL_FAIL_AT")))
		sf_fail_at = strtoul(v, NULL, 10);
	if ((v = getenv("SK_SYSCALL_FAIL_PERSIST")))
		sf_fail_persist = atoi(v) != 0;
	if ((v = getenv("SK_SYSCALL_FAIL_ERRNO"))) {
		if (strcmp(v, "EIO") == 0)
			sf_fail_errno = EIO;
		else if (strcmp(v, "EROFS") == 0)
			sf_fail_errno = EROFS;
		else if (strcmp(v, "ENOSPC") == 0)
			sf_fail_errno = ENOSPC;
		else
			sf_fail_errno = atoi(v) > 0 ? atoi(v) : ENOSPC;
	}
	if ((v = getenv("SK_SYSCALL_FAIL_CALLS")) && *v) {
		char list[256], *save = NULL;

		snprintf(list, sizeof(list), "%s", v);
		sf_fail_mask = 0;
		for (char *t = strtok_r(list, ", ", &save); t; t = strtok_r(NULL, ", ", &save))
			for (int c = 0; c < SF_NCLASS; c++)
				if (strcmp(t, sf_class_names[c]) == 0)
					sf_fail_mask |= 1u << c;
	}
	if ((v = getenv("SK_SYSCALL_TRACE")) && *v)
		sf_trace_fd = (int)syscall(SYS_openat, AT_FDCWD, v, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

__attribute__((constructor)) static void sf_ctor(void)
{
	sf_init();
}

static int sf_is_top(void)
{
	sf_init();
	return getpid() == sf_top;
}

/* Not state: the run's log, and SQLite's wal-index (see the traps above). */
static int sf_not_state(const char *path)
{
	size_t n = path ? strlen(path) : 0;

	return path && (strstr(path, SF_LOG_MARK "/") != NULL || (n > 4 && strcmp(path + n - 4, "-shm") == 0));
}

/* Whether a path names something (lstat); for the no-op rules. */
static int sf_exists(int dirfd, const char *path)
{
	struct stat st;

	return path && fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Is fd state (a regular file or directory that is not the run's log)?
 * Fills path (for the trace) when it is. */
static int sf_fd_state(int fd, const char **path)
{
	static char tmp[512];
	struct stat st;
	struct sf_fd *c = fd >= 0 && fd < SF_FD_CACHE ? &sf_fds[fd] : NULL;
	char link[64];
	ssize_t n;

	*path = "?";
	if (fd <= 2)
		return 0;
	if (fstat(fd, &st) != 0)
		return 1;   /* let the call fail by itself; count it */
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
		return 0;
	if (c && c->known && c->dev == st.st_dev && c->ino == st.st_ino) {
		*path = c->path;
		return c->state;
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, tmp, sizeof(tmp) - 1);
	tmp[n > 0 ? n : 0] = '\0';
	if (c) {
		c->dev = st.st_dev;
		c->ino = st.st_ino;
		c->known = 1;
		c->state = !sf_not_state(tmp);
		memcpy(c->path, tmp, sizeof(c->path));
		*path = c->path;
		return c->state;
	}
	*path = tmp;
	return !sf_not_state(tmp);
}

/* Count one mutating call. Returns 0 to perform it, or -1 with errno set to
 * fail it. May not return (SK_SYSCALL_KILL_AT). */
static int sf_hit(enum sf_class cls, const char *call, const char *path)
{
	unsigned long n;
	int fail = 0;

	if (!sf_is_top())
		return 0;
	n = __atomic_add_fetch(&sf_n, 1, __ATOMIC_SEQ_CST);
	if (sf_fail_at && (sf_fail_mask & (1u << cls))) {
		unsigned long f = __atomic_add_fetch(&sf_nfail, 1, __ATOMIC_SEQ_CST);

		fail = f == sf_fail_at || (sf_fail_persist && f > sf_fail_at);
	}
	if (sf_trace_fd >= 0) {
		char line[1200];
		int len = snprintf(line, sizeof(line), "%lu %s %s%s\n", n, call, path ? path : "?",
				   fail ? " (failed here)" : "");

		if (len > (int)sizeof(line) - 1)
			len = (int)sizeof(line) - 1;
		syscall(SYS_write, sf_trace_fd, line, (size_t)len);
	}
	if (sf_kill_at && n == sf_kill_at)
		syscall(SYS_kill, getpid(), SIGKILL);
	if (fail) {
		errno = sf_fail_errno;
		return -1;
	}
	return 0;
}

static int sf_hit_fd(enum sf_class cls, const char *call, int fd)
{
	const char *path;

	if (!sf_is_top() || !sf_fd_state(fd, &path))
		return 0;
	return sf_hit(cls, call, path);
}

static int sf_hit_path(enum sf_class cls, const char *call, const char *path)
{
	if (!sf_is_top() || sf_not_state(path))
		return 0;
	return sf_hit(cls, call, path);
}

/* A path relative to dirfd, for the trace and the log rule. */
static const char *sf_at_path(int dirfd, const char *path, char *buf, size_t n)
{
	char link[64];
	ssize_t k;

	if (!path || path[0] == '/' || dirfd == AT_FDCWD)
		return path;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
	k = readlink(link, buf, n - 1);
	if (k <= 0)
		return path;
	buf[k] = '\0';
	snprintf(buf + k, n - (size_t)k, "/%s", path);
	return buf;
}

static int sf_open_mutates(int flags)
{
	return (flags & (O_CREAT | O_TRUNC)) || (flags & O_ACCMODE) == O_WRONLY || (flags & O_ACCMODE) == O_RDWR;
}

static int sf_open_hit(const char *call, int dirfd, const char *path, int flags)
{
	char buf[1024];

	if (!sf_open_mutates(flags) || !sf_is_top())
		return 0;
	if (!(flags & O_CREAT) && !sf_exists(dirfd, path))
		return 0;   /* ENOENT: changes nothing */
	return sf_hit_path(SF_OPEN, call, sf_at_path(dirfd, path, buf, sizeof(buf)));
}

/* ---------------------------------------------------------------- writes */

ssize_t write(int fd, const void *buf, size_t n)
{
	REAL(ssize_t, "write", (int, const void *, size_t));
	if (sf_hit_fd(SF_WRITE, "write", fd))
		return -1;
	return real_fn(fd, buf, n);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	REAL(ssize_t, "pwrite", (int, const void *, size_t, off_t));
	if (sf_hit_fd(SF_WRITE, "pwrite", fd))
		return -1;
	return real_fn(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
	REAL(ssize_t, "pwrite64", (int, const void *, size_t, off64_t));
	if (sf_hit_fd(SF_WRITE, "pwrite64", fd))
		return -1;
	return real_fn(fd, buf, n, off);
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	REAL(ssize_t, "writev", (int, const struct iovec *, int));
	if (sf_hit_fd(SF_WRITE, "writev", fd))
		return -1;
	return real_fn(fd, iov, cnt);
}

/* ---------------------------------------------------------------- syncs */

int fsync(int fd)
{
	REAL(int, "fsync", (int));
	if (sf_hit_fd(SF_FSYNC, "fsync", fd))
		return -1;
	return real_fn(fd);
}

int fdatasync(int fd)
{
	REAL(int, "fdatasync", (int));
	if (sf_hit_fd(SF_FSYNC, "fdatasync", fd))
		return -1;
	return real_fn(fd);
}

int syncfs(int fd)
{
	REAL(int, "syncfs", (int));
	if (sf_hit_fd(SF_FSYNC, "syncfs", fd))
		return -1;
	return real_fn(fd);
}

/* ---------------------------------------------------------------- names */

int rename(const char *from, const char *to)
{
	REAL(int, "rename", (const char *, const char *));
	if (!sf_exists(AT_FDCWD, from))
		return real_fn(from, to);   /* ENOENT */
	if (sf_hit_path(SF_RENAME, "rename", to))
		return -1;
	return real_fn(from, to);
}

int renameat(int fd1, const char *from, int fd2, const char *to)
{
	char buf[1024];
	REAL(int, "renameat", (int, const char *, int, const char *));
	if (!sf_exists(fd1, from))
		return real_fn(fd1, from, fd2, to);
	if (sf_is_top() && sf_hit_path(SF_RENAME, "renameat", sf_at_path(fd2, to, buf, sizeof(buf))))
		return -1;
	return real_fn(fd1, from, fd2, to);
}

int renameat2(int fd1, const char *from, int fd2, const char *to, unsigned flags)
{
	char buf[1024];
	REAL(int, "renameat2", (int, const char *, int, const char *, unsigned));
	if (!sf_exists(fd1, from))
		return real_fn(fd1, from, fd2, to, flags);
	if (sf_is_top() && sf_hit_path(SF_RENAME, "renameat2", sf_at_path(fd2, to, buf, sizeof(buf))))
		return -1;
	return real_fn(fd1, from, fd2, to, flags);
}

int link(const char *from, const char *to)
{
	REAL(int, "link", (const char *, const char *));
	if (!sf_exists(AT_FDCWD, from) || sf_exists(AT_FDCWD, to))
		return real_fn(from, to);   /* ENOENT, EEXIST */
	if (sf_hit_path(SF_LINK, "link", to))
		return -1;
	return real_fn(from, to);
}

int linkat(int fd1, const char *from, int fd2, const char *to, int flags)
{
	char buf[1024];
	REAL(int, "linkat", (int, const char *, int, const char *, int));
	if (!sf_exists(fd1, from) || sf_exists(fd2, to))
		return real_fn(fd1, from, fd2, to, flags);
	if (sf_is_top() && sf_hit_path(SF_LINK, "linkat", sf_at_path(fd2, to, buf, sizeof(buf))))
		return -1;
	return real_fn(fd1, from, fd2, to, flags);
}

int unlink(const char *path)
{
	REAL(int, "unlink", (const char *));
	if (!sf_exists(AT_FDCWD, path))
		return real_fn(path);   /* ENOENT */
	if (sf_hit_path(SF_UNLINK, "unlink", path))
		return -1;
	return real_fn(path);
}

int unlinkat(int fd, const char *path, int flags)
{
	char buf[1024];
	REAL(int, "unlinkat", (int, const char *, int));
	if (!sf_exists(fd, path))
		return real_fn(fd, path, flags);
	if (sf_is_top() && sf_hit_path((flags & AT_REMOVEDIR) ? SF_RMDIR : SF_UNLINK, "unlinkat",
				       sf_at_path(fd, path, buf, sizeof(buf))))
		return -1;
	return real_fn(fd, path, flags);
}

int mkdir(const char *path, mode_t mode)
{
	REAL(int, "mkdir", (const char *, mode_t));
	if (sf_exists(AT_FDCWD, path))
		return real_fn(path, mode);   /* EEXIST */
	if (sf_hit_path(SF_MKDIR, "mkdir", path))
		return -1;
	return real_fn(path, mode);
}

int mkdirat(int fd, const char *path, mode_t mode)
{
	char buf[1024];
	REAL(int, "mkdirat", (int, const char *, mode_t));
	if (sf_exists(fd, path))
		return real_fn(fd, path, mode);
	if (sf_is_top() && sf_hit_path(SF_MKDIR, "mkdirat", sf_at_path(fd, path, buf, sizeof(buf))))
		return -1;
	return real_fn(fd, path, mode);
}

int rmdir(const char *path)
{
	REAL(int, "rmdir", (const char *));
	if (!sf_exists(AT_FDCWD, path))
		return real_fn(path);   /* ENOENT */
	if (sf_hit_path(SF_RMDIR, "rmdir", path))
		return -1;
	return real_fn(path);
}

int symlink(const char *target, const char *path)
{
	REAL(int, "symlink", (const char *, const char *));
	if (sf_hit_path(SF_SYMLINK, "symlink", path))
		return -1;
	return real_fn(target, path);
}

int symlinkat(const char *target, int fd, const char *path)
{
	char buf[1024];
	REAL(int, "symlinkat", (const char *, int, const char *));
	if (sf_is_top() && sf_hit_path(SF_SYMLINK, "symlinkat", sf_at_path(fd, path, buf, sizeof(buf))))
		return -1;
	return real_fn(target, fd, path);
}

/* ---------------------------------------------------------------- modes */

int chmod(const char *path, mode_t mode)
{
	REAL(int, "chmod", (const char *, mode_t));
	if (sf_hit_path(SF_CHMOD, "chmod", path))
		return -1;
	return real_fn(path, mode);
}

int fchmod(int fd, mode_t mode)
{
	REAL(int, "fchmod", (int, mode_t));
	if (sf_hit_fd(SF_CHMOD, "fchmod", fd))
		return -1;
	return real_fn(fd, mode);
}

int fchmodat(int fd, const char *path, mode_t mode, int flags)
{
	char buf[1024];
	REAL(int, "fchmodat", (int, const char *, mode_t, int));
	if (sf_is_top() && sf_hit_path(SF_CHMOD, "fchmodat", sf_at_path(fd, path, buf, sizeof(buf))))
		return -1;
	return real_fn(fd, path, mode, flags);
}

int ftruncate(int fd, off_t len)
{
	REAL(int, "ftruncate", (int, off_t));
	if (sf_hit_fd(SF_TRUNCATE, "ftruncate", fd))
		return -1;
	return real_fn(fd, len);
}

int ftruncate64(int fd, off64_t len)
{
	REAL(int, "ftruncate64", (int, off64_t));
	if (sf_hit_fd(SF_TRUNCATE, "ftruncate64", fd))
		return -1;
	return real_fn(fd, len);
}

/* ---------------------------------------------------------------- opens */

static mode_t sf_mode(int flags, va_list ap)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;
	REAL(int, "open", (const char *, int, ...));
	va_start(ap, flags);
	mode = sf_mode(flags, ap);
	va_end(ap);
	if (sf_open_hit("open", AT_FDCWD, path, flags))
		return -1;
	return real_fn(path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;
	REAL(int, "open64", (const char *, int, ...));
	va_start(ap, flags);
	mode = sf_mode(flags, ap);
	va_end(ap);
	if (sf_open_hit("open64", AT_FDCWD, path, flags))
		return -1;
	return real_fn(path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;
	REAL(int, "openat", (int, const char *, int, ...));
	va_start(ap, flags);
	mode = sf_mode(flags, ap);
	va_end(ap);
	if (sf_open_hit("openat", dirfd, path, flags))
		return -1;
	return real_fn(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;
	REAL(int, "openat64", (int, const char *, int, ...));
	va_start(ap, flags);
	mode = sf_mode(flags, ap);
	va_end(ap);
	if (sf_open_hit("openat64", dirfd, path, flags))
		return -1;
	return real_fn(dirfd, path, flags, mode);
}

int creat(const char *path, mode_t mode)
{
	REAL(int, "creat", (const char *, mode_t));
	if (sf_open_hit("creat", AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC))
		return -1;
	return real_fn(path, mode);
}

int creat64(const char *path, mode_t mode)
{
	REAL(int, "creat64", (const char *, mode_t));
	if (sf_open_hit("creat64", AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC))
		return -1;
	return real_fn(path, mode);
}

/* _FORTIFY_SOURCE's checked opens (libarchive imports __open_2 and __openat_2);
 * they never take O_CREAT, which needs a mode. */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);

int __open_2(const char *path, int flags)
{
	REAL(int, "__open_2", (const char *, int));
	if (sf_open_hit("__open_2", AT_FDCWD, path, flags))
		return -1;
	return real_fn(path, flags);
}

int __open64_2(const char *path, int flags)
{
	REAL(int, "__open64_2", (const char *, int));
	if (sf_open_hit("__open64_2", AT_FDCWD, path, flags))
		return -1;
	return real_fn(path, flags);
}

int __openat_2(int dirfd, const char *path, int flags)
{
	REAL(int, "__openat_2", (int, const char *, int));
	if (sf_open_hit("__openat_2", dirfd, path, flags))
		return -1;
	return real_fn(dirfd, path, flags);
}

int __openat64_2(int dirfd, const char *path, int flags)
{
	REAL(int, "__openat64_2", (int, const char *, int));
	if (sf_open_hit("__openat64_2", dirfd, path, flags))
		return -1;
	return real_fn(dirfd, path, flags);
}
