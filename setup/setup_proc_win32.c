/*
 * setup_proc_win32.c - setup_proc.h for Windows: a command is
 *   %SystemRoot%\System32\cmd.exe /d /s /c "CMD"
 * started with CreateProcessW, suspended, put in a job object, resumed; the
 * lock is LockFileEx; cancelling is SetConsoleCtrlHandler.
 *
 * The command: /d skips the AutoRun commands of the registry, /s with the
 * outer quotes hands CMD to cmd.exe exactly as written (quotes inside it
 * included). It inherits only its three standard handles (the null device
 * and the write end of the output pipe, twice), through
 * PROC_THREAD_ATTRIBUTE_HANDLE_LIST, and gets setup's environment with
 * the SETUPKIT_* variables set (a sorted block, as CreateProcessW wants).
 * CREATE_NEW_PROCESS_GROUP keeps the console's Ctrl-C away from it, as the
 * POSIX process group keeps the terminal's SIGINT away: setup decides, and
 * kills the job.
 *
 * The job: while the command runs, JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE, so
 * if setup itself dies everything the command started dies with it; a
 * timeout or a cancel is TerminateJobObject. When the command ends on its
 * own the limit is lifted before the job is closed, so what it left
 * running (a service's daemon, `start /b server.exe`) survives, as on
 * POSIX. JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION: a crash ends the
 * process with its exception code, no error box; cmd.exe passes the code
 * on as its exit status, which is reported like reg_crash_describe does.
 * Traps: an exit status of 0xC0000000 or above is taken for a crash, even
 * from `exit /b -1073741819`; the output is the bytes the command wrote,
 * only CRLF made LF: cmd.exe's own text (echo) is in the console's code
 * page, not UTF-8.
 *
 * The lock: LockFileEx locks are mandatory (a locked byte cannot be read
 * by anyone else), so the lock is on one byte at SETUP_LOCK_OFFSET, far
 * past the pid text, which the waiting setup reads to name the holder.
 * Windows drops the lock when the handle closes or the process ends.
 */
#include "setup_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <io.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <wchar.h>
#include <wctype.h>
#include <windows.h>

#include "common/mem.h"
#include "common/os.h"

/* The locked byte: 1 GiB into the file, which never grows that far. */
#define SETUP_LOCK_OFFSET 0x40000000u

struct setup_proc {
	HANDLE proc, job, rd;
	int eof, killed;
	int cr;                     /* a CR that ended the last chunk, held back */
};

uint64_t setup_proc_now_ms(void)
{
	return (uint64_t)GetTickCount64();
}

/* ---- the environment block ---- */

/* Compare two "NAME=value" entries by name, case-insensitively, as the
 * environment block is sorted. A leading '=' ("=C:=C:\dir") belongs to the
 * name. */
static int env_cmp(const void *a, const void *b)
{
	const wchar_t *x = *(const wchar_t *const *)a, *y = *(const wchar_t *const *)b;
	size_t i = 0;

	for (;; i++) {
		wchar_t cx = (x[i] == L'=' && i > 0) ? 0 : x[i], cy = (y[i] == L'=' && i > 0) ? 0 : y[i];
		wchar_t ux = towupper(cx), uy = towupper(cy);

		if (ux != uy)
			return ux < uy ? -1 : 1;
		if (!cx)
			return 0;
	}
}

/* 1 when entry ("NAME=value") names the variable name (UTF-16, no '='). */
static int env_is(const wchar_t *entry, const wchar_t *name)
{
	size_t n = wcslen(name);

	return _wcsnicmp(entry, name, n) == 0 && entry[n] == L'=';
}

/* setup's environment with the SETUPKIT_* variables of env set, as a
 * sorted CREATE_UNICODE_ENVIRONMENT block; allocated, NULL with errno
 * ENOMEM when out of memory, EINVAL when a value is not valid UTF-8. */
static wchar_t *env_block(const struct setup_cmd_env *env)
{
	char txn[32];
	const char *vars[][2] = {
		{ "SETUPKIT_ROOT", env->root ? env->root : "/" },
		{ "SETUPKIT_PRODUCT", env->product ? env->product : "" },
		{ "SETUPKIT_APP", env->app ? env->app : "" },
		{ "SETUPKIT_OPERATION", env->operation ? env->operation : "" },
		{ "SETUPKIT_TXN", txn },
		{ "SETUPKIT_POINT", env->point ? env->point : "" },
	};
	enum { NVARS = sizeof(vars) / sizeof(vars[0]) };
	wchar_t *ours[NVARS] = { NULL }, *names[NVARS] = { NULL };
	wchar_t *sys = GetEnvironmentStringsW(), *block = NULL, **all = NULL;
	size_t nsys = 0, n = 0, total = 1;
	int ok = 1;

	snprintf(txn, sizeof(txn), "%lld", (long long)env->txn);
	for (size_t i = 0; i < NVARS; i++) {
		char *kv = mem_printf("%s=%s", vars[i][0], vars[i][1]);

		errno = ENOMEM;
		ours[i] = kv ? os_wide(kv) : NULL;   /* sets errno when it fails */
		if (ours[i])
			names[i] = os_wide(vars[i][0]);
		mem_free(kv);
		if (!ours[i] || !names[i]) {
			ok = 0;
			break;
		}
	}
	for (const wchar_t *s = sys; s && *s; s += wcslen(s) + 1)
		nsys++;
	if (!ok)
		goto out;
	if (!(all = mem_array(nsys + NVARS + 1, sizeof(*all)))) {
		errno = ENOMEM;
		goto out;
	}
	for (wchar_t *s = sys; s && *s; s += wcslen(s) + 1) {
		int replaced = 0;

		for (size_t i = 0; i < NVARS; i++)
			replaced |= env_is(s, names[i]);
		if (!replaced)
			all[n++] = s;
	}
	for (size_t i = 0; i < NVARS; i++)
		all[n++] = ours[i];
	qsort(all, n, sizeof(*all), env_cmp);
	for (size_t i = 0; i < n; i++)
		total += wcslen(all[i]) + 1;
	block = mem_array(total, sizeof(wchar_t));
	if (!block)
		errno = ENOMEM;
	if (block) {
		wchar_t *w = block;

		for (size_t i = 0; i < n; i++) {
			size_t len = wcslen(all[i]) + 1;

			memcpy(w, all[i], len * sizeof(wchar_t));
			w += len;
		}
		*w = L'\0';
	}
out:
	for (size_t i = 0; i < NVARS; i++) {
		mem_free(ours[i]);
		mem_free(names[i]);
	}
	mem_free(all);
	if (sys)
		FreeEnvironmentStringsW(sys);
	return block;
}

/* ---- one command ---- */

static HANDLE null_in(void)
{
	SECURITY_ATTRIBUTES sa = { sizeof(sa), NULL, TRUE };

	return CreateFileW(L"NUL", GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE, &sa, OPEN_EXISTING, 0, NULL);
}

int setup_proc_start(const char *cmd, const struct setup_cmd_env *env, struct setup_proc **pp,
		     struct err *e)
{
	SECURITY_ATTRIBUTES sa = { sizeof(sa), NULL, TRUE };
	STARTUPINFOEXW si;
	PROCESS_INFORMATION pi;
	JOBOBJECT_EXTENDED_LIMIT_INFORMATION lim;
	LPPROC_THREAD_ATTRIBUTE_LIST attrs = NULL;
	SIZE_T attrs_size = 0;
	HANDLE rd = NULL, wr = NULL, in = INVALID_HANDLE_VALUE, inherit[2];
	wchar_t shell[MAX_PATH + 16], *wcmd = NULL, *line = NULL, *envw = NULL;
	struct setup_proc *p;
	UINT n;
	int rc = -1;

	*pp = NULL;
	p = mem_zalloc(sizeof(*p));
	if (!p)
		return err_nomem(e, "running a command");
	n = GetSystemDirectoryW(shell, MAX_PATH);
	if (n == 0 || n >= MAX_PATH) {
		os_win_err(e, GetLastError(), "cannot run '%s': cannot find the system directory", cmd);
		goto out;
	}
	wcscpy(shell + n, L"\\cmd.exe");
	wcmd = os_wide(cmd);
	if (!wcmd) {
		if (errno == ENOMEM)
			err_nomem(e, "running a command");
		else
			err_set(e, ERR_CLASS_INPUT, "cannot run '%s': not valid UTF-8", cmd);
		goto out;
	}
	line = mem_array(wcslen(wcmd) + 32, sizeof(wchar_t));
	if (!line) {
		err_nomem(e, "running a command");
		goto out;
	}
	envw = env_block(env);
	if (!envw) {
		if (errno == EINVAL)
			err_set(e, ERR_CLASS_INPUT, "cannot run '%s': a SETUPKIT_* value is not valid UTF-8", cmd);
		else
			err_nomem(e, "running a command");
		goto out;
	}
	/* /s: cmd.exe drops the first and the last quote and runs the rest. */
	wcscpy(line, L"cmd.exe /d /s /c \"");
	wcscat(line, wcmd);
	wcscat(line, L"\"");
	if (!CreatePipe(&rd, &wr, &sa, 65536)) {
		os_win_err(e, GetLastError(), "cannot run '%s': pipe", cmd);
		goto out;
	}
	SetHandleInformation(rd, HANDLE_FLAG_INHERIT, 0);
	in = null_in();
	if (in == INVALID_HANDLE_VALUE) {
		os_win_err(e, GetLastError(), "cannot run '%s': cannot open NUL", cmd);
		goto out;
	}
	inherit[0] = in;
	inherit[1] = wr;
	InitializeProcThreadAttributeList(NULL, 1, 0, &attrs_size);
	attrs = mem_alloc(attrs_size);
	if (!attrs) {
		err_nomem(e, "running a command");
		goto out;
	}
	if (!InitializeProcThreadAttributeList(attrs, 1, 0, &attrs_size)) {
		mem_free(attrs);
		attrs = NULL;
		os_win_err(e, GetLastError(), "cannot run '%s': process attributes", cmd);
		goto out;
	}
	if (!UpdateProcThreadAttribute(attrs, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST, inherit, sizeof(inherit),
				       NULL, NULL)) {
		os_win_err(e, GetLastError(), "cannot run '%s': process attributes", cmd);
		goto out;
	}
	p->job = CreateJobObjectW(NULL, NULL);
	if (!p->job) {
		os_win_err(e, GetLastError(), "cannot run '%s': cannot create a job object", cmd);
		goto out;
	}
	memset(&lim, 0, sizeof(lim));
	lim.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE |
		JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION;
	SetInformationJobObject(p->job, JobObjectExtendedLimitInformation, &lim, sizeof(lim));
	memset(&si, 0, sizeof(si));
	si.StartupInfo.cb = sizeof(si);
	si.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
	si.StartupInfo.hStdInput = in;
	si.StartupInfo.hStdOutput = wr;
	si.StartupInfo.hStdError = wr;
	si.lpAttributeList = attrs;
	fflush(NULL);
	if (!CreateProcessW(shell, line, NULL, NULL, TRUE,
			    CREATE_SUSPENDED | CREATE_NEW_PROCESS_GROUP | CREATE_UNICODE_ENVIRONMENT |
			    EXTENDED_STARTUPINFO_PRESENT, envw, NULL, &si.StartupInfo, &pi)) {
		os_win_err(e, GetLastError(), "cannot run '%s'", cmd);
		goto out;
	}
	if (!AssignProcessToJobObject(p->job, pi.hProcess)) {
		DWORD code = GetLastError();

		TerminateProcess(pi.hProcess, 1);
		WaitForSingleObject(pi.hProcess, INFINITE);
		CloseHandle(pi.hThread);
		CloseHandle(pi.hProcess);
		os_win_err(e, code, "cannot run '%s': cannot put it in a job object", cmd);
		goto out;
	}
	ResumeThread(pi.hThread);
	CloseHandle(pi.hThread);
	p->proc = pi.hProcess;
	p->rd = rd;
	rd = NULL;
	*pp = p;
	p = NULL;
	rc = 0;
out:
	if (p) {
		if (p->job)
			CloseHandle(p->job);
		mem_free(p);
	}
	if (attrs) {
		DeleteProcThreadAttributeList(attrs);
		mem_free(attrs);
	}
	if (rd)
		CloseHandle(rd);
	if (wr)
		CloseHandle(wr);   /* the child holds its own copy */
	if (in != INVALID_HANDLE_VALUE)
		CloseHandle(in);
	mem_free(wcmd);
	mem_free(line);
	mem_free(envw);
	return rc;
}

int setup_proc_ended(struct setup_proc *p)
{
	return WaitForSingleObject(p->proc, 0) == WAIT_OBJECT_0;
}

/* Bytes waiting in the pipe; -1 when it is closed (end of file). */
static long pipe_avail(HANDLE h)
{
	DWORD avail = 0;

	if (!PeekNamedPipe(h, NULL, 0, NULL, &avail, NULL))
		return -1;
	return (long)avail;
}

/* CRLF -> LF in buf[0..n), in place, so messages read as on POSIX; a CR
 * that ends the chunk is held back in p->cr until the next one shows
 * whether an LF follows (one at the very end of the output is dropped).
 * Returns the new length. */
static long crlf_to_lf(struct setup_proc *p, char *buf, long n)
{
	long j = 0;

	for (long i = 0; i < n; i++) {
		if (buf[i] == '\r' && i + 1 == n) {
			p->cr = 1;
			break;
		}
		if (!(buf[i] == '\r' && buf[i + 1] == '\n'))
			buf[j++] = buf[i];
	}
	return j;
}

long setup_proc_read(struct setup_proc *p, char *buf, size_t size, unsigned wait_ms)
{
	uint64_t deadline = setup_proc_now_ms() + wait_ms;
	DWORD got = 0;
	long avail, held = p->cr, n;

	if (p->eof || size < 2) {
		if (wait_ms)
			Sleep(wait_ms);
		return -1;
	}
	/* An anonymous pipe cannot be waited on: look every 2 ms; a command
	 * that ends stops the wait at once. */
	while ((avail = pipe_avail(p->rd)) == 0) {
		uint64_t t = setup_proc_now_ms();

		if (t >= deadline)
			return -1;
		if (WaitForSingleObject(p->proc, deadline - t < 2 ? (DWORD)(deadline - t) : 2) == WAIT_OBJECT_0 &&
		    pipe_avail(p->rd) == 0)
			return -1;
	}
	if (avail < 0 || !ReadFile(p->rd, buf + held, (DWORD)((size_t)avail < size - 1 ? (size_t)avail : size - 1),
				   &got, NULL) || got == 0) {
		p->eof = 1;
		return 0;
	}
	if (held)
		buf[0] = '\r';
	p->cr = 0;
	n = crlf_to_lf(p, buf, (long)got + held);
	return n > 0 ? n : -1;
}

void setup_proc_kill(struct setup_proc *p)
{
	TerminateJobObject(p->job, 1);
	WaitForSingleObject(p->proc, INFINITE);
	p->killed = 1;
}

void setup_proc_finish(struct setup_proc *p, struct setup_cmd_result *r)
{
	DWORD code = 0;

	if (!p->killed) {
		JOBOBJECT_EXTENDED_LIMIT_INFORMATION lim;

		/* It ended on its own: what it left running stays (a daemon). */
		memset(&lim, 0, sizeof(lim));
		SetInformationJobObject(p->job, JobObjectExtendedLimitInformation, &lim, sizeof(lim));
		WaitForSingleObject(p->proc, INFINITE);
		GetExitCodeProcess(p->proc, &code);
		if (code >= 0xC0000000u) {
			r->exception = code;
		} else {
			r->exited = 1;
			r->code = (int)code;
		}
	}
	CloseHandle(p->job);
	CloseHandle(p->proc);
	CloseHandle(p->rd);
	mem_free(p);
}

void setup_proc_crash_describe(const struct setup_cmd_result *r, char *buf, size_t len)
{
	char how[128];

	snprintf(buf, len, "crashed with %s", os_exception_describe(r->exception, how, sizeof(how)));
}

/* ---- cancelling ---- */

static volatile sig_atomic_t *cancel_flag;
static HANDLE cancel_event;   /* set with the flag; ends setup_proc_pause_ms */

/* Runs on a thread of its own that the system starts. */
static BOOL WINAPI on_ctrl(DWORD type)
{
	*cancel_flag = 1;
	if (cancel_event)
		SetEvent(cancel_event);
	/* The process ends when this returns for these: wait here, so the
	 * main thread rolls back (its exit ends this thread) until the
	 * system's grace period is over. */
	if (type == CTRL_CLOSE_EVENT || type == CTRL_LOGOFF_EVENT || type == CTRL_SHUTDOWN_EVENT)
		Sleep(INFINITE);
	return TRUE;
}

void setup_proc_catch_cancel(volatile sig_atomic_t *flag)
{
	cancel_flag = flag;
	if (!cancel_event)
		cancel_event = CreateEventW(NULL, TRUE, FALSE, NULL);
	SetConsoleCtrlHandler(on_ctrl, TRUE);
}

void setup_proc_pause_ms(unsigned ms)
{
	if (cancel_event)
		WaitForSingleObject(cancel_event, ms);
	else
		Sleep(ms);
}

/* ---- the root's lock ---- */

int setup_proc_lock_open(const char *path, struct err *e)
{
	wchar_t *w = os_wide(path);
	DWORD a;
	int fd;

	if (!w)
		return err_errno(e, "cannot open the lock file '%s'", path);
	a = GetFileAttributesW(w);
	if (a != INVALID_FILE_ATTRIBUTES && (a & FILE_ATTRIBUTE_REPARSE_POINT)) {
		mem_free(w);
		errno = ELOOP;
		return err_errno(e, "cannot open the lock file '%s'", path);
	}
	fd = _wopen(w, _O_RDWR | _O_CREAT | _O_BINARY | _O_NOINHERIT, _S_IREAD | _S_IWRITE);
	mem_free(w);
	if (fd < 0)
		return err_errno(e, "cannot open the lock file '%s'", path);
	return fd;
}

static OVERLAPPED lock_range(void)
{
	OVERLAPPED ov;

	memset(&ov, 0, sizeof(ov));
	ov.Offset = SETUP_LOCK_OFFSET;
	return ov;
}

int setup_proc_lock_try(int fd, const char *path, struct err *e)
{
	HANDLE h = (HANDLE)_get_osfhandle(fd);
	OVERLAPPED ov = lock_range();
	DWORD code;

	if (LockFileEx(h, LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ov))
		return 0;
	code = GetLastError();
	if (code == ERROR_LOCK_VIOLATION || code == ERROR_IO_PENDING)
		return 1;
	return os_win_err(e, code, "cannot lock '%s'", path);
}

int setup_proc_lock_note_pid(int fd, const char *path, struct err *e)
{
	char pid[32];
	int len = snprintf(pid, sizeof(pid), "%ld\n", os_getpid());

	if (_chsize_s(fd, 0) != 0 || _lseeki64(fd, 0, SEEK_SET) != 0 || _write(fd, pid, (unsigned)len) != len)
		return err_errno(e, "cannot write the lock file '%s'", path);
	return 0;
}

void setup_proc_lock_holder(int fd, char *buf, size_t n)
{
	char pidtxt[32] = "", *name = NULL;
	long pid = 0;
	int r;
	HANDLE h;

	if (_lseeki64(fd, 0, SEEK_SET) == 0 && (r = _read(fd, pidtxt, sizeof(pidtxt) - 1)) > 0) {
		pidtxt[r] = '\0';
		pid = strtol(pidtxt, NULL, 10);
	}
	if (pid <= 0) {
		snprintf(buf, n, "another process");
		return;
	}
	h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, (DWORD)pid);
	if (h) {
		wchar_t image[MAX_PATH * 2];
		DWORD len = sizeof(image) / sizeof(image[0]);

		if (QueryFullProcessImageNameW(h, 0, image, &len))
			name = os_utf8(image);
		CloseHandle(h);
	}
	snprintf(buf, n, "process %ld%s%s%s", pid, name ? " (" : "", name ? name : "", name ? ")" : "");
	mem_free(name);
}

void setup_proc_lock_close(int fd)
{
	OVERLAPPED ov = lock_range();

	UnlockFileEx((HANDLE)_get_osfhandle(fd), 0, 1, 0, &ov);   /* fails harmlessly when not held */
	_close(fd);
}

FILE *setup_proc_fopen_private(const char *path, const char *mode)
{
	char m[16];

	snprintf(m, sizeof(m), "%sN", mode);
	return os_fopen(path, m);
}
