/*
 * os_win32.c - os.h, and the directory helpers of path.h, for Windows: every
 * call converts its UTF-8 strings to UTF-16 and uses the wide (W) API.
 * Paths may use '/' or '\' (Win32 takes both); a drive ("C:") or UNC
 * ("\\server\share") prefix is never created or removed.
 * Files: fds come from _wopen (binary, not inherited); "no follow" refuses
 * a reparse point (a symlink or junction) by its attributes before the
 * open, which, unlike O_NOFOLLOW, leaves a window for a race.
 */
#include "os.h"

#include <errno.h>
#include <fcntl.h>
#include <io.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <windows.h>
#include <shellapi.h>

#include "mem.h"
#include "path.h"

wchar_t *os_wide(const char *utf8)
{
	int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, utf8, -1, NULL, 0);
	wchar_t *w;

	if (n <= 0) {
		errno = EINVAL;
		return NULL;
	}
	w = mem_array((size_t)n, sizeof(*w));
	if (!w) {
		errno = ENOMEM;
		return NULL;
	}
	MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, utf8, -1, w, n);
	return w;
}

char *os_utf8(const wchar_t *wide)
{
	int n = WideCharToMultiByte(CP_UTF8, WC_ERR_INVALID_CHARS, wide, -1, NULL, 0, NULL, NULL);
	char *s;

	if (n <= 0) {
		errno = EINVAL;
		return NULL;
	}
	s = mem_alloc((size_t)n);
	if (!s) {
		errno = ENOMEM;
		return NULL;
	}
	WideCharToMultiByte(CP_UTF8, WC_ERR_INVALID_CHARS, wide, -1, s, n, NULL, NULL);
	return s;
}

int os_win_err(struct err *e, unsigned long code, const char *fmt, ...)
{
	char what[1024], *sys = NULL;
	wchar_t *msg = NULL;
	va_list ap;
	int errnum;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (FormatMessageW(FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM |
			   FORMAT_MESSAGE_IGNORE_INSERTS, NULL, (DWORD)code, 0, (LPWSTR)&msg, 0, NULL) && msg) {
		sys = os_utf8(msg);
		LocalFree(msg);
	}
	if (sys) {   /* system messages end in ".\r\n" */
		size_t n = strlen(sys);
		while (n && (sys[n - 1] == '\n' || sys[n - 1] == '\r' || sys[n - 1] == ' ' || sys[n - 1] == '.'))
			sys[--n] = '\0';
	}
	err_set(e, ERR_CLASS_IO, "%s: %s (error %lu)", what, sys && *sys ? sys : "system error", code);
	mem_free(sys);
	switch (code) {   /* the errno a caller may test, for the common cases */
	case ERROR_FILE_NOT_FOUND:
	case ERROR_PATH_NOT_FOUND: errnum = ENOENT; break;
	case ERROR_ACCESS_DENIED: errnum = EACCES; break;
	case ERROR_ALREADY_EXISTS:
	case ERROR_FILE_EXISTS: errnum = EEXIST; break;
	case ERROR_DISK_FULL:
	case ERROR_HANDLE_DISK_FULL: errnum = ENOSPC; break;
	case ERROR_NOT_ENOUGH_MEMORY:
	case ERROR_OUTOFMEMORY: errnum = ENOMEM; break;
	case ERROR_SHARING_VIOLATION:
	case ERROR_LOCK_VIOLATION: errnum = EBUSY; break;   /* open elsewhere: os_in_use_error */
	case ERROR_DIR_NOT_EMPTY: errnum = ENOTEMPTY; break;
	case ERROR_NOT_SAME_DEVICE: errnum = EXDEV; break;
	case ERROR_DIRECTORY: errnum = ENOTDIR; break;
	default: errnum = EIO;
	}
	e->sys_errno = errnum;
	return -1;
}

void os_init(int *argc, char ***argv)
{
	int n = 0;
	wchar_t **w = CommandLineToArgvW(GetCommandLineW(), &n);
	char **a = w ? mem_array((size_t)n + 1, sizeof(char *)) : NULL;

	SetConsoleOutputCP(CP_UTF8);
	if (!a)
		return;   /* keep the CRT's (ANSI) argv */
	for (int i = 0; i < n; i++)
		if (!(a[i] = os_utf8(w[i])))
			return;
	a[n] = NULL;
	LocalFree(w);
	*argc = n;
	*argv = a;   /* lives as long as the process */
}

char *os_absolute(const char *path)
{
	wchar_t *w = os_wide(path), *full;
	DWORD n;
	char *r = NULL;

	if (!w)
		return mem_strdup(path);
	n = GetFullPathNameW(w, 0, NULL, NULL);
	full = n ? mem_array(n + 1, sizeof(wchar_t)) : NULL;
	if (full && GetFullPathNameW(w, n + 1, full, NULL) > 0)
		r = os_utf8(full);
	mem_free(full);
	mem_free(w);
	return r ? r : mem_strdup(path);
}

static int set_errno(DWORD code)
{
	struct err e;

	os_win_err(&e, code, "-");
	errno = e.sys_errno;
	return -1;
}

/* MoveFileExW(from, to, flags) with UTF-8 names: 0, or -1 with errno. */
static int move_file_ex(const char *from, const char *to, DWORD flags)
{
	wchar_t *wf = os_wide(from), *wt = os_wide(to);
	int rc;

	if (!wf || !wt)
		rc = -1;   /* errno set by os_wide */
	else if (MoveFileExW(wf, wt, flags))
		rc = 0;
	else
		rc = set_errno(GetLastError());
	mem_free(wf);
	mem_free(wt);
	return rc;
}

int os_rename(const char *from, const char *to)
{
	return move_file_ex(from, to, MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH);
}

int os_unlink(const char *path)
{
	wchar_t *w = os_wide(path);
	int rc;

	if (!w)
		rc = -1;
	else
		rc = DeleteFileW(w) ? 0 : set_errno(GetLastError());
	mem_free(w);
	return rc;
}

long os_getpid(void)
{
	return (long)GetCurrentProcessId();
}

/* msvcrt's fopen knows no 'x' (C11: create, fail if it exists): such a
 * mode is opened with _wopen(_O_CREAT | _O_EXCL) and handed to _wfdopen. */
static FILE *fopen_excl(const wchar_t *wp, const char *mode)
{
	wchar_t wm[8];
	size_t n = 0;
	int flags = _O_CREAT | _O_EXCL | _O_NOINHERIT | _O_TEXT, fd;
	FILE *f;

	for (const char *m = mode; *m && n + 1 < sizeof(wm) / sizeof(wm[0]); m++) {
		if (*m == 'x')
			continue;
		if (*m == 'b')
			flags = (flags & ~_O_TEXT) | _O_BINARY;
		wm[n++] = (wchar_t)*m;
	}
	wm[n] = L'\0';
	if (mode[0] != 'w') {
		errno = EINVAL;
		return NULL;
	}
	flags |= strchr(mode, '+') ? _O_RDWR : _O_WRONLY;
	fd = _wopen(wp, flags, _S_IREAD | _S_IWRITE);
	if (fd < 0)
		return NULL;
	f = _wfdopen(fd, wm);
	if (!f)
		_close(fd);
	return f;
}

/* %ProgramData%\setupkit: where a Windows system keeps setupkit's state. */
static const char *state_base(void)
{
	static char *base;

	if (!base) {
		wchar_t buf[MAX_PATH];
		DWORD n = GetEnvironmentVariableW(L"ProgramData", buf, MAX_PATH);
		char *pd = n && n < MAX_PATH ? os_utf8(buf) : NULL;
		base = mem_printf("%s\\setupkit", pd ? pd : "C:\\ProgramData");
		mem_free(pd);
	}
	return base ? base : "C:\\ProgramData\\setupkit";
}

char *os_in_root(const char *root, const char *path)
{
	int drive = ((path[0] >= 'A' && path[0] <= 'Z') || (path[0] >= 'a' && path[0] <= 'z')) &&
		path[1] == ':';

	if (!root || !*root) {
		if (drive)
			return mem_strdup(path);
		return mem_printf("%s%s%s", state_base(), path[0] == '/' ? "" : "/", path);
	}
	if (drive)
		return mem_printf("%s/%c%s", root, path[0], path + 2);
	return mem_printf("%s%s%s", root, path[0] == '/' ? "" : "/", path);
}

FILE *os_fopen(const char *path, const char *mode)
{
	wchar_t *wp = os_wide(path), *wm = os_wide(mode);
	FILE *f = NULL;

	if (wp && wm)
		f = strchr(mode, 'x') ? fopen_excl(wp, mode) : _wfopen(wp, wm);
	mem_free(wp);
	mem_free(wm);
	return f;
}

void os_kill_self(void)
{
	TerminateProcess(GetCurrentProcess(), 137);
}

void os_sleep_ms(unsigned ms)
{
	Sleep(ms);
}

int os_path_is_absolute(const char *path)
{
	if (!path)
		return 0;
	if (((path[0] >= 'A' && path[0] <= 'Z') || (path[0] >= 'a' && path[0] <= 'z')) &&
	    path[1] == ':' && (path[2] == '\\' || path[2] == '/'))
		return 1;
	return (path[0] == '\\' && path[1] == '\\') || (path[0] == '/' && path[1] == '/');
}

static int name_is(const char *s, size_t n, const char *upper)
{
	size_t i;

	for (i = 0; i < n && upper[i]; i++)
		if ((s[i] >= 'a' && s[i] <= 'z' ? s[i] - 'a' + 'A' : s[i]) != upper[i])
			return 0;
	return i == n && !upper[i];
}

int os_path_name_ok(const char *name, size_t n)
{
	static const char *const devices[] = { "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$" };
	size_t base = 0;

	if (n == 0 || name[n - 1] == '.' || name[n - 1] == ' ')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (strchr("<>:\"|?*", name[i]))
			return 0;
	/* The device names are reserved whatever the extension, and with
	 * spaces before it ("NUL .txt" is NUL). */
	while (base < n && name[base] != '.')
		base++;
	while (base > 0 && name[base - 1] == ' ')
		base--;
	for (size_t i = 0; i < sizeof(devices) / sizeof(devices[0]); i++)
		if (name_is(name, base, devices[i]))
			return 0;
	if (base == 4 && (name_is(name, 3, "COM") || name_is(name, 3, "LPT")) && name[3] >= '1' && name[3] <= '9')
		return 0;
	return 1;
}

static int is_sep(char c)
{
	return c == '/' || c == '\\';
}

const char *os_path_last_sep(const char *path)
{
	const char *s = NULL;

	for (; *path; path++)
		if (is_sep(*path))
			s = path;
	return s;
}

char *os_exception_describe(unsigned long code, char *buf, size_t size)
{
	static const struct { unsigned long code; const char *name, *text; } t[] = {
		{ 0xC0000005u, "EXCEPTION_ACCESS_VIOLATION", "access violation" },
		{ 0xC000001Du, "EXCEPTION_ILLEGAL_INSTRUCTION", "illegal instruction" },
		{ 0xC0000094u, "EXCEPTION_INT_DIVIDE_BY_ZERO", "integer division by zero" },
		{ 0xC00000FDu, "EXCEPTION_STACK_OVERFLOW", "stack overflow" },
		{ 0xC0000409u, "STATUS_STACK_BUFFER_OVERRUN", "stack buffer overrun (fail fast)" },
		{ 0xC0000374u, "STATUS_HEAP_CORRUPTION", "heap corruption" },
		{ 0xC0000006u, "EXCEPTION_IN_PAGE_ERROR", "in-page I/O error" },
		{ 0xC0000096u, "EXCEPTION_PRIV_INSTRUCTION", "privileged instruction" },
		{ 0xC000008Cu, "EXCEPTION_ARRAY_BOUNDS_EXCEEDED", "array bounds exceeded" },
		{ 0xC0000025u, "EXCEPTION_NONCONTINUABLE_EXCEPTION", "noncontinuable exception" },
		{ 0xC000013Au, "STATUS_CONTROL_C_EXIT", "ended by Ctrl-C" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].code == code) {
			snprintf(buf, size, "exception 0x%08lX (%s, %s)", code, t[i].name, t[i].text);
			return buf;
		}
	snprintf(buf, size, "exception 0x%08lX", code);
	return buf;
}

int os_has_modes(void)
{
	return 0;
}

/* Length of the prefix that is never created: "C:\", "\\server\share\". */
size_t os_path_root_len(const char *p)
{
	size_t i = 0;

	if (((p[0] >= 'A' && p[0] <= 'Z') || (p[0] >= 'a' && p[0] <= 'z')) && p[1] == ':')
		return is_sep(p[2]) ? 3 : 2;
	if (is_sep(p[0]) && is_sep(p[1])) {
		int parts = 0;
		for (i = 2; p[i] && parts < 2; i++)
			if (is_sep(p[i]))
				parts++;
		return i;
	}
	return is_sep(p[0]) ? 1 : 0;
}

static DWORD attrs(const char *path, DWORD *err)
{
	wchar_t *w = os_wide(path);
	DWORD a = INVALID_FILE_ATTRIBUTES;

	*err = ERROR_INVALID_NAME;
	if (w) {
		a = GetFileAttributesW(w);
		*err = a == INVALID_FILE_ATTRIBUTES ? GetLastError() : 0;
	}
	mem_free(w);
	return a;
}

int path_mkdirs(const char *path, mode_t mode, struct err *e)
{
	char *buf = mem_strdup(path);
	size_t i;
	int rc = -1;
	DWORD a, code;

	(void)mode;   /* Windows folders inherit their parent's ACL */
	if (!buf)
		return err_nomem(e, "creating a directory");
	for (i = os_path_root_len(buf); ; i++) {
		if ((is_sep(buf[i]) || buf[i] == '\0') && i > 0 && !is_sep(buf[i - 1])) {
			char c = buf[i];
			wchar_t *w;

			buf[i] = '\0';
			w = os_wide(buf);
			if (!w) {
				err_set(e, ERR_CLASS_INPUT, "cannot create directory '%s': not a valid UTF-8 name", buf);
				goto out;
			}
			if (!CreateDirectoryW(w, NULL) && (code = GetLastError()) != ERROR_ALREADY_EXISTS &&
			    code != ERROR_ACCESS_DENIED) {   /* a drive root answers "denied" */
				mem_free(w);
				os_win_err(e, code, "cannot create directory '%s'", buf);
				goto out;
			}
			mem_free(w);
			buf[i] = c;
		}
		if (!buf[i])
			break;
	}
	a = attrs(path, &code);
	if (a == INVALID_FILE_ATTRIBUTES) {
		os_win_err(e, code, "cannot create directory '%s'", path);
		goto out;
	}
	if (!(a & FILE_ATTRIBUTE_DIRECTORY)) {
		err_set(e, ERR_CLASS_IO, "cannot create directory '%s': a file of that name is in the way", path);
		goto out;
	}
	rc = 0;
out:
	mem_free(buf);
	return rc;
}

int path_sync_dir(const char *path, struct err *e)
{
	/* NTFS journals its metadata: a rename or create is durable once the
	 * file itself was flushed (FlushFileBuffers on a directory handle
	 * needs write access and adds nothing). */
	DWORD code;

	if (attrs(path, &code) == INVALID_FILE_ATTRIBUTES)
		return os_win_err(e, code, "cannot open directory '%s' to sync it", path);
	return 0;
}

static int remove_w(const wchar_t *w, const char *shown, struct err *e)
{
	DWORD a = GetFileAttributesW(w);
	size_t n = wcslen(w);

	if (a == INVALID_FILE_ATTRIBUTES) {
		DWORD code = GetLastError();
		return code == ERROR_FILE_NOT_FOUND || code == ERROR_PATH_NOT_FOUND ? 0 :
			os_win_err(e, code, "cannot remove '%s'", shown);
	}
	if (a & FILE_ATTRIBUTE_READONLY)
		SetFileAttributesW(w, a & ~(DWORD)FILE_ATTRIBUTE_READONLY);
	if ((a & FILE_ATTRIBUTE_DIRECTORY) && !(a & FILE_ATTRIBUTE_REPARSE_POINT)) {
		WIN32_FIND_DATAW fd;
		wchar_t *pat = mem_array(n + 3, sizeof(wchar_t));
		HANDLE h;

		if (!pat)
			return err_nomem(e, "removing a directory tree");
		memcpy(pat, w, n * sizeof(wchar_t));
		memcpy(pat + n, L"\\*", 3 * sizeof(wchar_t));
		h = FindFirstFileW(pat, &fd);
		mem_free(pat);
		if (h != INVALID_HANDLE_VALUE) {
			do {
				size_t m = wcslen(fd.cFileName);
				wchar_t *child;
				int rc;
				if (wcscmp(fd.cFileName, L".") == 0 || wcscmp(fd.cFileName, L"..") == 0)
					continue;
				child = mem_array(n + m + 2, sizeof(wchar_t));
				if (!child) {
					FindClose(h);
					return err_nomem(e, "removing a directory tree");
				}
				memcpy(child, w, n * sizeof(wchar_t));
				child[n] = L'\\';
				memcpy(child + n + 1, fd.cFileName, (m + 1) * sizeof(wchar_t));
				rc = remove_w(child, shown, e);
				mem_free(child);
				if (rc < 0) {
					FindClose(h);
					return -1;
				}
			} while (FindNextFileW(h, &fd));
			FindClose(h);
		}
		if (!RemoveDirectoryW(w))
			return os_win_err(e, GetLastError(), "cannot remove the directory tree '%s'", shown);
		return 0;
	}
	if (a & FILE_ATTRIBUTE_DIRECTORY)   /* a junction: remove the link only */
		return RemoveDirectoryW(w) ? 0 : os_win_err(e, GetLastError(), "cannot remove '%s'", shown);
	return DeleteFileW(w) ? 0 : os_win_err(e, GetLastError(), "cannot remove '%s'", shown);
}

int path_remove_tree(const char *path, struct err *e)
{
	wchar_t *w = os_wide(path);
	int rc;

	if (!w)
		return err_set(e, ERR_CLASS_INPUT, "cannot remove '%s': not a valid UTF-8 name", path);
	rc = remove_w(w, path, e);
	mem_free(w);
	return rc;
}

int path_exists(const char *path)
{
	DWORD code;

	return attrs(path, &code) != INVALID_FILE_ATTRIBUTES;
}

/* ---- files ---- */

/* 1 when path names a reparse point (a symlink or a junction). */
static int is_reparse(const wchar_t *w)
{
	DWORD a = GetFileAttributesW(w);

	return a != INVALID_FILE_ATTRIBUTES && (a & FILE_ATTRIBUTE_REPARSE_POINT);
}

int os_open(const char *path, int flags, int mode)
{
	wchar_t *w = os_wide(path);
	int f = _O_BINARY | _O_NOINHERIT, fd = -1;

	if (!w)
		return -1;
	f |= (flags & OS_O_WRONLY) ? _O_WRONLY : _O_RDONLY;
	if (flags & OS_O_CREAT)
		f |= _O_CREAT;
	if (flags & OS_O_EXCL)
		f |= _O_EXCL;
	if (flags & OS_O_TRUNC)
		f |= _O_TRUNC;
	if ((flags & OS_O_NOFOLLOW) && is_reparse(w))
		errno = (flags & OS_O_CREAT) && (flags & OS_O_EXCL) ? EEXIST : ELOOP;
	else
		fd = _wopen(w, f, (mode & 0200) ? _S_IREAD | _S_IWRITE : _S_IREAD);
	mem_free(w);
	return fd;
}

int os_dir_open(const char *dir)
{
	wchar_t *w = os_wide(dir);
	HANDLE h;
	BY_HANDLE_FILE_INFORMATION info;
	int fd;

	if (!w)
		return -1;
	/* No FILE_SHARE_DELETE: nobody renames or removes it while we hold it. */
	h = CreateFileW(w, FILE_READ_ATTRIBUTES, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL, OPEN_EXISTING,
			FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT, NULL);
	mem_free(w);
	if (h == INVALID_HANDLE_VALUE)
		return set_errno(GetLastError());
	if (!GetFileInformationByHandle(h, &info)) {
		DWORD code = GetLastError();
		CloseHandle(h);
		return set_errno(code);
	}
	if (!(info.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) ||
	    (info.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT)) {
		CloseHandle(h);
		errno = (info.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT) ? ELOOP : ENOTDIR;
		return -1;
	}
	fd = _open_osfhandle((intptr_t)h, _O_RDONLY);
	if (fd < 0)
		CloseHandle(h);
	return fd;
}

int os_dir_is_private(int dfd)
{
	(void)dfd;   /* the folder was made by us and inherits its parent's ACL */
	return 1;
}

int os_open_at(int dfd, const char *dir, const char *name, int flags, int mode)
{
	char *p = path_join(dir, name);
	int fd;

	(void)dfd;   /* held open, so dir still names the same folder */
	if (!p) {
		errno = ENOMEM;
		return -1;
	}
	fd = os_open(p, flags, mode);
	mem_free(p);
	return fd;
}

int os_symlink_at(const char *target, int dfd, const char *dir, const char *name)
{
	char *p = path_join(dir, name);
	int rc;

	(void)dfd;
	if (!p) {
		errno = ENOMEM;
		return -1;
	}
	rc = os_symlink(target, p);
	mem_free(p);
	return rc;
}

int os_unlink_at(int dfd, const char *dir, const char *name)
{
	char *p = path_join(dir, name);
	int rc;

	(void)dfd;
	if (!p) {
		errno = ENOMEM;
		return -1;
	}
	rc = os_unlink(p);
	mem_free(p);
	return rc;
}

int os_lstat_at(int dfd, const char *dir, const char *name, struct stat *st)
{
	char *p = path_join(dir, name);
	int rc;

	(void)dfd;
	if (!p) {
		errno = ENOMEM;
		return -1;
	}
	rc = os_lstat(p, st);
	mem_free(p);
	return rc;
}

/* ---- reading a directory: FindFirstFileW / FindNextFileW ---- */

struct os_dir {
	HANDLE h;
	WIN32_FIND_DATAW fd;
	int have;        /* fd holds an entry not returned yet */
	char *name;      /* the last one returned, UTF-8 */
};

struct os_dir *os_opendir(const char *path)
{
	wchar_t *w = os_wide(path), *pat = NULL;
	struct os_dir *d = NULL;
	size_t n;

	if (!w)
		return NULL;
	n = wcslen(w);
	pat = mem_array(n + 3, sizeof(wchar_t));
	d = mem_alloc(sizeof(*d));
	if (!pat || !d) {
		errno = ENOMEM;
		goto fail;
	}
	memset(d, 0, sizeof(*d));
	memcpy(pat, w, n * sizeof(wchar_t));
	wcscpy(pat + n, n && (w[n - 1] == L'\\' || w[n - 1] == L'/') ? L"*" : L"\\*");
	d->h = FindFirstFileW(pat, &d->fd);
	if (d->h == INVALID_HANDLE_VALUE) {
		DWORD code = GetLastError();

		if (code != ERROR_FILE_NOT_FOUND) {   /* a missing folder: ERROR_PATH_NOT_FOUND */
			set_errno(code);
			goto fail;
		}
		/* nothing matched: an empty drive root (a folder lists "." and "..") */
		mem_free(w);
		mem_free(pat);
		return d;
	}
	d->have = 1;
	mem_free(w);
	mem_free(pat);
	return d;
fail:
	mem_free(d);
	mem_free(w);
	mem_free(pat);
	return NULL;
}

const char *os_readdir(struct os_dir *d)
{
	for (;;) {
		if (!d->have && (d->h == INVALID_HANDLE_VALUE || !FindNextFileW(d->h, &d->fd)))
			return NULL;
		d->have = 0;
		mem_free(d->name);
		d->name = os_utf8(d->fd.cFileName);
		if (d->name)
			return d->name;
		if (errno == ENOMEM)
			return NULL;
		/* not valid UTF-16 (an unpaired surrogate): no name we can use */
	}
}

int os_dirfd(struct os_dir *d)
{
	(void)d;
	return -1;
}

void os_closedir(struct os_dir *d)
{
	if (!d)
		return;
	if (d->h != INVALID_HANDLE_VALUE)
		FindClose(d->h);
	mem_free(d->name);
	mem_free(d);
}

int os_mkdir(const char *path, int mode)
{
	wchar_t *w = os_wide(path);
	int rc;

	(void)mode;   /* the folder inherits its parent's ACL */
	if (!w)
		return -1;
	rc = CreateDirectoryW(w, NULL) ? 0 : set_errno(GetLastError());
	mem_free(w);
	return rc;
}

int os_stat(const char *path, struct stat *st)
{
	wchar_t *w = os_wide(path);
	int rc;

	if (!w)
		return -1;
	rc = _wstat64(w, st);   /* struct stat is struct _stat64 (_FILE_OFFSET_BITS=64) */
	mem_free(w);
	return rc;
}

/* 1 when w is a symbolic link or a junction, not any reparse point: cloud
 * placeholders and deduplicated files are reparse points that hold data. */
static int is_link(const wchar_t *w, WIN32_FIND_DATAW *fd)
{
	HANDLE h;

	if (!is_reparse(w))
		return 0;
	h = FindFirstFileW(w, fd);
	if (h == INVALID_HANDLE_VALUE)
		return 0;
	FindClose(h);
	return (fd->dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT) &&
		(fd->dwReserved0 == IO_REPARSE_TAG_SYMLINK || fd->dwReserved0 == IO_REPARSE_TAG_MOUNT_POINT);
}

int os_lstat(const char *path, struct stat *st)
{
	wchar_t *w = os_wide(path);
	WIN32_FIND_DATAW fd;
	int rc;

	if (!w)
		return -1;
	if (is_link(w, &fd)) {
		/* The link itself, not what it points to (which may be gone). */
		ULARGE_INTEGER t;

		memset(st, 0, sizeof(*st));
		st->st_mode = S_IFLNK | 0777;
		st->st_nlink = 1;
		t.LowPart = fd.ftLastWriteTime.dwLowDateTime;
		t.HighPart = fd.ftLastWriteTime.dwHighDateTime;
		if (t.QuadPart >= 116444736000000000ULL)   /* 100 ns ticks from 1601 to 1970 */
			st->st_mtime = (time_t)((t.QuadPart - 116444736000000000ULL) / 10000000ULL);
		rc = 0;
	} else {
		rc = _wstat64(w, st);
	}
	mem_free(w);
	return rc;
}

int os_rmdir(const char *path)
{
	wchar_t *w = os_wide(path);
	int rc;

	if (!w)
		return -1;
	rc = RemoveDirectoryW(w) ? 0 : set_errno(GetLastError());
	mem_free(w);
	return rc;
}

int os_symlink(const char *target, const char *path)
{
	wchar_t *wt = os_wide(target), *wp = os_wide(path);
	int rc = -1;

	/* 0x2: SYMBOLIC_LINK_FLAG_ALLOW_UNPRIVILEGED_CREATE (developer mode) */
	if (wt && wp)
		rc = CreateSymbolicLinkW(wp, wt, 0x2) ? 0 : set_errno(GetLastError());
	mem_free(wt);
	mem_free(wp);
	return rc;
}

int os_fsync(int fd)
{
	return _commit(fd);
}

int os_fchmod(int fd, int mode)
{
	(void)fd;
	(void)mode;
	return 0;
}

int os_link(const char *from, const char *to)
{
	wchar_t *wf = os_wide(from), *wt = os_wide(to);
	int rc = -1;

	if (wf && wt)
		rc = CreateHardLinkW(wt, wf, NULL) ? 0 : set_errno(GetLastError());
	mem_free(wf);
	mem_free(wt);
	return rc;
}

int os_sync_files(const char *dir, const char *const *files, size_t n, struct err *e)
{
	(void)dir;   /* a folder holds names only, which NTFS's journal keeps */
	for (size_t i = 0; i < n; i++) {
		wchar_t *w = os_wide(files[i]);
		HANDLE h;
		DWORD code;

		if (!w)
			return err_set(e, ERR_CLASS_INPUT, "cannot flush '%s' to disk: not a valid UTF-8 name", files[i]);
		/* FlushFileBuffers needs write access; the caller wrote the file,
		 * so it is ours and writable (modes are not applied here). */
		h = CreateFileW(w, GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
				OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT, NULL);
		mem_free(w);
		if (h == INVALID_HANDLE_VALUE) {
			code = GetLastError();
			if (code == ERROR_FILE_NOT_FOUND || code == ERROR_PATH_NOT_FOUND)
				continue;   /* renamed into place or removed since */
			return os_win_err(e, code, "cannot open '%s' to flush it to disk", files[i]);
		}
		if (!FlushFileBuffers(h)) {
			code = GetLastError();
			CloseHandle(h);
			return os_win_err(e, code, "cannot flush '%s' to disk", files[i]);
		}
		CloseHandle(h);
	}
	return 0;
}

int os_in_use_error(int errnum)
{
	return errnum == EBUSY || errnum == EACCES;
}

int os_can_replace(const char *path)
{
	wchar_t *w = os_wide(path);
	HANDLE h;
	DWORD code;

	if (!w)
		return 1;   /* the rename will say what is wrong */
	h = CreateFileW(w, DELETE, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
			OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS, NULL);
	code = h == INVALID_HANDLE_VALUE ? GetLastError() : 0;
	mem_free(w);
	if (h != INVALID_HANDLE_VALUE)
		CloseHandle(h);
	if (code == ERROR_SHARING_VIOLATION || code == ERROR_LOCK_VIOLATION) {
		errno = EBUSY;
		return 0;
	}
	return 1;
}

/* Volume serial number and file index of path; 0 on failure. */
static int file_id(const char *path, BY_HANDLE_FILE_INFORMATION *fi)
{
	wchar_t *w = os_wide(path);
	HANDLE h;
	int ok;

	if (!w)
		return 0;
	h = CreateFileW(w, FILE_READ_ATTRIBUTES, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
			NULL, OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS, NULL);
	mem_free(w);
	if (h == INVALID_HANDLE_VALUE)
		return 0;
	ok = GetFileInformationByHandle(h, fi) != 0;
	CloseHandle(h);
	return ok;
}

int os_replace_at_restart(const char *src, const char *dst)
{
	return move_file_ex(src, dst, MOVEFILE_DELAY_UNTIL_REBOOT | MOVEFILE_REPLACE_EXISTING);
}

int os_same_file(const char *a, const char *b)
{
	BY_HANDLE_FILE_INFORMATION fa, fb;

	return file_id(a, &fa) && file_id(b, &fb) && fa.dwVolumeSerialNumber == fb.dwVolumeSerialNumber &&
		fa.nFileIndexHigh == fb.nFileIndexHigh && fa.nFileIndexLow == fb.nFileIndexLow;
}

int os_path_clean_absolute(const char *path)
{
	size_t rl = os_path_root_len(path);

	if (!rl || (rl == 1 && path[0] != '/') || (rl == 2))
		return 0;   /* no root, a bare "\\" or "C:" without a separator */
	return !path[rl] || path_is_clean_relative_win(path + rl);
}

struct tm *os_gmtime(time_t t, struct tm *out)
{
	return gmtime_s(out, &t) == 0 ? out : NULL;
}
