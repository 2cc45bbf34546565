/*
 * reg_child_win32.c - the Windows side of reg_runner.c: the registration
 * child itself, and starting, reading, timing out and reaping children.
 *
 * The parent starts the helper (by default the running executable) with
 * CreateProcessW, suspended, puts it in a job object that kills everything
 * in it when closed, then resumes it. Arguments:
 *   helper REG_CHILD_ARG entry pipe-handle module capture-key cmdline clsid
 * The pipe handle (hex) is the only handle it inherits besides the standard
 * ones; stdin is NUL.
 *
 * Capture: the child creates HKCU\<capture-key> with one subkey per
 * predefined key (HKCR, HKLM, HKCU, HKU) and redirects each predefined key
 * there with RegOverridePredefKey, as WiX's heat does, before it loads the
 * module: whatever the module writes lands in that private tree and the
 * real registry is untouched. After a success HRESULT the child walks the
 * tree and sends it as the write log (a KEY_CREATE per key, a VALUE_SET
 * per value); the parent applies it to the real registry in one
 * transaction with captures (reg_capture.c), exactly as on POSIX. The
 * parent deletes the capture tree after every run, crashed or not.
 * Traps: during the call the module reads only what it wrote itself (an
 * empty registry otherwise); a module that reaches the registry without
 * the predefined handles (native NT paths) is not captured.
 *
 * A crash: the child's unhandled-exception filter ends it with the
 * exception code as exit status (no debugger, no error box), which the
 * parent reports like a POSIX signal. A hang: at the deadline the parent
 * terminates the job, the module's own child processes included.
 */
#include "reg_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>

#include "common/mem.h"
#include "common/os.h"

#define REG_CAPTURE_BASE L"Software\\setupkit\\capture"

static const struct {
	HKEY hkey;
	const wchar_t *sub;
	const char *name;
} predef[] = {
	{ HKEY_CLASSES_ROOT, L"HKCR", "HKEY_CLASSES_ROOT" },
	{ HKEY_LOCAL_MACHINE, L"HKLM", "HKEY_LOCAL_MACHINE" },
	{ HKEY_CURRENT_USER, L"HKCU", "HKEY_CURRENT_USER" },
	{ HKEY_USERS, L"HKU", "HKEY_USERS" },
};

/* ------------------------------------------------------------------ child */

static HANDLE child_out;

static void child_send(char type, const void *data, size_t len)
{
	unsigned char hdr[5];
	uint32_t l = (uint32_t)len;
	const unsigned char *p = data;
	DWORD n;

	hdr[0] = (unsigned char)type;
	memcpy(hdr + 1, &l, 4);
	if (!WriteFile(child_out, hdr, 5, &n, NULL) || n != 5)
		TerminateProcess(GetCurrentProcess(), 120);
	while (len) {
		DWORD chunk = len > (1u << 20) ? (1u << 20) : (DWORD)len;
		if (!WriteFile(child_out, p, chunk, &n, NULL) || n == 0)
			TerminateProcess(GetCurrentProcess(), 120);
		p += n;
		len -= n;
	}
}

static void child_fail(const struct err *e)
{
	child_send('F', e->msg, strlen(e->msg));
	TerminateProcess(GetCurrentProcess(), 0);
}

static LONG WINAPI on_crash(EXCEPTION_POINTERS *x)
{
	TerminateProcess(GetCurrentProcess(), x->ExceptionRecord->ExceptionCode);
	return EXCEPTION_EXECUTE_HANDLER;
}

/* The loader's text for code, "... (error N)". */
static void child_send_winerr(char type, DWORD code, const char *what)
{
	struct err e;

	err_clear(&e);
	os_win_err(&e, code, "%s", what);
	child_send(type, e.msg, strlen(e.msg));
}

/* Append key (at path, UTF-8, not yet normalised) and everything under it
 * to w: a KEY_CREATE per key, a VALUE_SET per value. */
static int walk(HKEY k, const char *path, int is_root, struct reg_writes *w, struct err *e)
{
	wchar_t name[256 + 1];
	wchar_t *vname = NULL;
	BYTE *data = NULL;
	DWORD nsub = 0, nval = 0, maxv = 0, maxd = 0, i;
	char *norm = NULL;
	int rc = -1;
	LONG r;

	r = RegQueryInfoKeyW(k, NULL, NULL, NULL, &nsub, NULL, NULL, &nval, &maxv, &maxd, NULL, NULL);
	if (r != ERROR_SUCCESS)
		return os_win_err(e, (DWORD)r, "cannot read captured key '%s'", path);
	if (!is_root && !(norm = reg_path_normalize(path, e)))
		return -1;
	if (norm && reg_writes_add(w, REG_W_KEY_CREATE, norm, NULL, 0, NULL, 0, e) < 0)
		goto out;
	if (nval) {
		vname = mem_array(maxv + 1, sizeof(wchar_t));
		data = mem_alloc(maxd ? maxd : 1);
		if (!vname || !data) {
			err_nomem(e, "captured value");
			goto out;
		}
	}
	for (i = 0; i < nval; i++) {
		DWORD vn = maxv + 1, dn = maxd, type;
		struct reg_value v;
		r = RegEnumValueW(k, i, vname, &vn, NULL, &type, data, &dn);
		if (r == ERROR_NO_MORE_ITEMS)
			break;
		if (r != ERROR_SUCCESS) {
			os_win_err(e, (DWORD)r, "cannot read a captured value of '%s'", path);
			goto out;
		}
		vname[vn] = L'\0';
		if (reg_win_value_in(vname, type, data, dn, &v, e) < 0) {
			err_prefix(e, "captured key '%s'", path);
			goto out;
		}
		if (!norm && !(norm = reg_path_normalize(path, e))) {
			reg_value_destroy(&v);
			goto out;
		}
		rc = reg_writes_add(w, REG_W_VALUE_SET, norm, v.name, v.type, v.data, v.len, e);
		reg_value_destroy(&v);
		if (rc < 0)
			goto out;
		rc = -1;
	}
	for (i = 0; i < nsub; i++) {
		DWORD nn = sizeof(name) / sizeof(name[0]);
		HKEY sub;
		char *u, *subpath;
		r = RegEnumKeyExW(k, i, name, &nn, NULL, NULL, NULL, NULL);
		if (r == ERROR_NO_MORE_ITEMS)
			break;
		if (r != ERROR_SUCCESS) {
			os_win_err(e, (DWORD)r, "cannot list captured key '%s'", path);
			goto out;
		}
		u = os_utf8(name);
		subpath = u ? mem_printf("%s\\%s", path, u) : NULL;
		mem_free(u);
		if (!subpath) {
			err_nomem(e, "captured key path");
			goto out;
		}
		r = RegOpenKeyExW(k, name, 0, KEY_READ, &sub);
		if (r != ERROR_SUCCESS) {
			os_win_err(e, (DWORD)r, "cannot open captured key '%s'", subpath);
			mem_free(subpath);
			goto out;
		}
		rc = walk(sub, subpath, 0, w, e);
		RegCloseKey(sub);
		mem_free(subpath);
		if (rc < 0)
			goto out;
		rc = -1;
	}
	rc = 0;
out:
	mem_free(norm);
	mem_free(vname);
	mem_free(data);
	return rc;
}

typedef HRESULT (WINAPI *entry_void)(void);
typedef HRESULT (WINAPI *entry_install)(BOOL, LPCWSTR);
typedef HRESULT (WINAPI *entry_classobject)(REFCLSID, REFIID, LPVOID *);

/* argv: helper REG_CHILD_ARG entry handle module capture-key cmdline clsid */
static void child_main(char **argv)
{
	enum reg_entry entry = (enum reg_entry)atoi(argv[2]);
	const char *module = argv[4], *capkey = argv[5], *cmdline = argv[6], *clsid = argv[7];
	wchar_t *wmodule = os_wide(module), *wcap = os_wide(capkey), *wcmd = os_wide(cmdline);
	HKEY cap, sub[sizeof(predef) / sizeof(predef[0])];
	struct reg_writes log;
	struct err e;
	HMODULE h;
	FARPROC sym;
	HRESULT hr;
	LONG r;

	SetErrorMode(SEM_FAILCRITICALERRORS | SEM_NOGPFAULTERRORBOX | SEM_NOOPENFILEERRORBOX);
	SetUnhandledExceptionFilter(on_crash);
	child_out = (HANDLE)(uintptr_t)strtoull(argv[3], NULL, 16);
	err_clear(&e);
	reg_writes_init(&log);
	if (!wmodule || !wcap || !wcmd) {
		err_set(&e, ERR_CLASS_INPUT, "module path or command line is not valid UTF-8");
		child_fail(&e);
	}
	r = RegCreateKeyExW(HKEY_CURRENT_USER, wcap, 0, NULL, REG_OPTION_NON_VOLATILE, KEY_ALL_ACCESS,
			    NULL, &cap, NULL);
	if (r != ERROR_SUCCESS) {
		os_win_err(&e, (DWORD)r, "cannot create the capture key HKEY_CURRENT_USER\\%s", capkey);
		child_fail(&e);
	}
	for (size_t i = 0; i < sizeof(predef) / sizeof(predef[0]); i++) {
		r = RegCreateKeyExW(cap, predef[i].sub, 0, NULL, REG_OPTION_NON_VOLATILE, KEY_ALL_ACCESS,
				    NULL, &sub[i], NULL);
		if (r == ERROR_SUCCESS)
			r = RegOverridePredefKey(predef[i].hkey, sub[i]);
		if (r != ERROR_SUCCESS) {
			os_win_err(&e, (DWORD)r, "cannot redirect %s to the capture key", predef[i].name);
			child_fail(&e);
		}
	}

	h = LoadLibraryExW(wmodule, NULL, LOAD_WITH_ALTERED_SEARCH_PATH);
	if (!h) {
		child_send_winerr('L', GetLastError(), "LoadLibraryExW failed");
		TerminateProcess(GetCurrentProcess(), 0);
	}
	sym = GetProcAddress(h, reg_entry_symbol(entry));
	if (!sym) {
		child_send_winerr('E', GetLastError(), "GetProcAddress failed");
		TerminateProcess(GetCurrentProcess(), 0);
	}
	child_send('C', NULL, 0);
	switch (entry) {
	case REG_ENTRY_REGISTER:
	case REG_ENTRY_UNREGISTER:
		hr = ((entry_void)(void (*)(void))sym)();
		break;
	case REG_ENTRY_INSTALL:
	case REG_ENTRY_UNINSTALL:
		hr = ((entry_install)(void (*)(void))sym)(entry == REG_ENTRY_INSTALL, wcmd);
		break;
	case REG_ENTRY_CLASSOBJECT: {
		static const GUID iid_classfactory = { 0x00000001, 0, 0,
			{ 0xC0, 0, 0, 0, 0, 0, 0, 0x46 } };
		GUID g;
		IUnknown *obj = NULL;
		if (reg_parse_guid(clsid, &g) < 0) {
			hr = E_INVALIDARG;
			break;
		}
		hr = ((entry_classobject)(void (*)(void))sym)(&g, &iid_classfactory, (void **)&obj);
		if (SUCCEEDED(hr) && obj)
			obj->lpVtbl->Release(obj);
		else if (SUCCEEDED(hr))
			hr = E_POINTER;
		break;
	}
	default:
		hr = E_INVALIDARG;
	}
	child_send('R', &hr, sizeof(hr));
	for (size_t i = 0; i < sizeof(predef) / sizeof(predef[0]); i++)
		RegOverridePredefKey(predef[i].hkey, NULL);
	if (SUCCEEDED(hr)) {
		unsigned char *buf = NULL;
		size_t len = 0;
		for (size_t i = 0; i < sizeof(predef) / sizeof(predef[0]); i++)
			if (walk(sub[i], predef[i].name, 1, &log, &e) < 0)
				child_fail(&e);
		if (reg_writes_encode(&log, &buf, &len, &e) < 0)
			child_fail(&e);
		child_send('W', buf, len);
	}
	child_send('D', NULL, 0);
	/* No DllMain(DLL_PROCESS_DETACH), no atexit handlers: like _exit. */
	TerminateProcess(GetCurrentProcess(), 0);
}

int reg_child_dispatch(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], REG_CHILD_ARG) != 0)
		return -1;
	if (argc != 8)
		TerminateProcess(GetCurrentProcess(), 122);
	child_main(argv);
	return -1;
}

/* ----------------------------------------------------------------- parent */

struct reg_server {
	int unused;
};

int reg_server_start(const struct reg_run_opts *o, struct reg_server **srv, struct err *e)
{
	(void)o;
	*srv = NULL;
	return err_set(e, ERR_CLASS_INTERNAL, "no fork server on Windows");
}

void reg_server_stop(struct reg_server *srv)
{
	(void)srv;
}

struct reg_child {
	HANDLE proc, job, rd;
	long long deadline;
	wchar_t capkey[96];
};

static long long now_ms(void)
{
	return (long long)GetTickCount64();
}

/* Append arg to the UTF-8 command line in b, quoted the way
 * CommandLineToArgvW and the CRT read it back. */
static int quote_arg(struct reg_msgbuf *b, const char *arg)
{
	size_t slashes = 0;

	if (reg_msgbuf_add(b, (const unsigned char *)(b->n ? " \"" : "\""), b->n ? 2 : 1) < 0)
		return -1;
	for (const char *p = arg; ; p++) {
		if (*p == '\\') {
			slashes++;
			continue;
		}
		/* Backslashes are literal unless they precede a quote (or the
		 * closing quote): then double them. */
		size_t emit = (*p == '"' || *p == '\0') ? slashes * 2 : slashes;
		for (size_t i = 0; i < emit; i++)
			if (reg_msgbuf_add(b, (const unsigned char *)"\\", 1) < 0)
				return -1;
		slashes = 0;
		if (*p == '\0')
			break;
		if (*p == '"' && reg_msgbuf_add(b, (const unsigned char *)"\\", 1) < 0)
			return -1;
		if (reg_msgbuf_add(b, (const unsigned char *)p, 1) < 0)
			return -1;
	}
	return reg_msgbuf_add(b, (const unsigned char *)"\"", 1);
}

static HANDLE inheritable(HANDLE h)
{
	HANDLE dup = NULL;

	if (h && h != INVALID_HANDLE_VALUE &&
	    DuplicateHandle(GetCurrentProcess(), h, GetCurrentProcess(), &dup, 0, TRUE,
			    DUPLICATE_SAME_ACCESS))
		return dup;
	return NULL;
}

static void delete_capture(const wchar_t *capkey)
{
	RegDeleteTreeW(HKEY_CURRENT_USER, capkey);
	RegDeleteKeyW(HKEY_CURRENT_USER, capkey);
	/* The parents go when empty (they fail harmlessly otherwise). */
	RegDeleteKeyW(HKEY_CURRENT_USER, REG_CAPTURE_BASE);
	RegDeleteKeyW(HKEY_CURRENT_USER, L"Software\\setupkit");
}

int reg_child_start(struct reg_server *srv, const struct reg_run_opts *o, struct reg_child **cp,
		    struct err *e)
{
	static unsigned long serial;
	SECURITY_ATTRIBUTES sa = { sizeof(sa), NULL, TRUE };
	STARTUPINFOW si;
	PROCESS_INFORMATION pi;
	JOBOBJECT_EXTENDED_LIMIT_INFORMATION lim;
	HANDLE rd = NULL, wr = NULL, in = NULL, out = NULL, err = NULL;
	struct reg_msgbuf cmd = { NULL, 0, 0 };
	wchar_t self[32768], *wcmd = NULL, *whelper = NULL;
	char entry_arg[16], handle_arg[32], *capkey = NULL, *helper = NULL;
	unsigned timeout = o->timeout_ms ? o->timeout_ms : REG_DEFAULT_TIMEOUT_MS;
	struct reg_child *c = NULL;
	int rc = -1;

	(void)srv;
	*cp = NULL;
	if (!o->module || !os_path_is_absolute(o->module))
		return err_set(e, ERR_CLASS_INTERNAL, "module path '%s' is not absolute",
			       o->module ? o->module : "(null)");
	c = mem_zalloc(sizeof(*c));
	if (!c)
		return err_nomem(e, "registration child");
	if (o->helper) {
		helper = mem_strdup(o->helper);
	} else {
		DWORD n = GetModuleFileNameW(NULL, self, sizeof(self) / sizeof(self[0]));
		helper = n && n < sizeof(self) / sizeof(self[0]) ? os_utf8(self) : NULL;
	}
	whelper = helper ? os_wide(helper) : NULL;
	if (!whelper) {
		err_set(e, ERR_CLASS_IO, "cannot name the registration helper executable");
		goto out;
	}
	swprintf(c->capkey, sizeof(c->capkey) / sizeof(c->capkey[0]), L"%ls\\%lu-%lu",
		 REG_CAPTURE_BASE, (unsigned long)GetCurrentProcessId(), ++serial);
	capkey = os_utf8(c->capkey);
	if (!capkey) {
		err_nomem(e, "capture key");
		goto out;
	}
	delete_capture(c->capkey);   /* a leftover of an earlier process with our pid */
	if (!CreatePipe(&rd, &wr, &sa, 0)) {
		os_win_err(e, GetLastError(), "cannot create a pipe for module '%s'", o->module);
		goto out;
	}
	SetHandleInformation(rd, HANDLE_FLAG_INHERIT, 0);
	snprintf(entry_arg, sizeof(entry_arg), "%d", (int)o->entry);
	snprintf(handle_arg, sizeof(handle_arg), "%llx", (unsigned long long)(uintptr_t)wr);
	const char *args[] = { helper, REG_CHILD_ARG, entry_arg, handle_arg, o->module, capkey,
			       o->cmdline ? o->cmdline : "", o->clsid ? o->clsid : "" };
	for (size_t i = 0; i < sizeof(args) / sizeof(args[0]); i++)
		if (quote_arg(&cmd, args[i]) < 0) {
			err_nomem(e, "child command line");
			goto out;
		}
	if (reg_msgbuf_add(&cmd, (const unsigned char *)"", 1) < 0 ||
	    !(wcmd = os_wide((const char *)cmd.b))) {
		err_nomem(e, "child command line");
		goto out;
	}
	in = CreateFileW(L"NUL", GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE, &sa, OPEN_EXISTING, 0, NULL);
	if (o->quiet_child) {
		out = CreateFileW(L"NUL", GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, &sa, OPEN_EXISTING, 0, NULL);
		err = inheritable(out);
	} else {
		out = inheritable(GetStdHandle(STD_OUTPUT_HANDLE));
		err = inheritable(GetStdHandle(STD_ERROR_HANDLE));
	}
	memset(&si, 0, sizeof(si));
	si.cb = sizeof(si);
	si.dwFlags = STARTF_USESTDHANDLES;
	si.hStdInput = in == INVALID_HANDLE_VALUE ? NULL : in;
	si.hStdOutput = out == INVALID_HANDLE_VALUE ? NULL : out;
	si.hStdError = err;
	c->job = CreateJobObjectW(NULL, NULL);
	if (!c->job) {
		os_win_err(e, GetLastError(), "cannot create a job object for module '%s'", o->module);
		goto out;
	}
	memset(&lim, 0, sizeof(lim));
	lim.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE |
		JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION;
	SetInformationJobObject(c->job, JobObjectExtendedLimitInformation, &lim, sizeof(lim));
	if (!CreateProcessW(whelper, wcmd, NULL, NULL, TRUE, CREATE_SUSPENDED, NULL, NULL, &si, &pi)) {
		os_win_err(e, GetLastError(), "cannot start the registration helper '%s' for module '%s'",
			   helper, o->module);
		goto out;
	}
	if (!AssignProcessToJobObject(c->job, pi.hProcess)) {
		DWORD code = GetLastError();
		TerminateProcess(pi.hProcess, 1);
		WaitForSingleObject(pi.hProcess, INFINITE);
		CloseHandle(pi.hThread);
		CloseHandle(pi.hProcess);
		os_win_err(e, code, "cannot put the registration helper for '%s' in a job", o->module);
		goto out;
	}
	ResumeThread(pi.hThread);
	CloseHandle(pi.hThread);
	c->proc = pi.hProcess;
	c->rd = rd;
	rd = NULL;
	c->deadline = now_ms() + timeout;
	*cp = c;
	c = NULL;
	rc = 0;
out:
	if (c) {
		if (c->job)
			CloseHandle(c->job);
		mem_free(c);
	}
	if (rd)
		CloseHandle(rd);
	if (wr)
		CloseHandle(wr);
	if (in && in != INVALID_HANDLE_VALUE)
		CloseHandle(in);
	if (out && out != INVALID_HANDLE_VALUE)
		CloseHandle(out);
	if (err)
		CloseHandle(err);
	mem_free(cmd.b);
	mem_free(wcmd);
	mem_free(whelper);
	mem_free(helper);
	mem_free(capkey);
	return rc;
}

/* Bytes waiting in the pipe; -1 when it is closed (EOF). */
static long pipe_avail(HANDLE h)
{
	DWORD avail = 0;

	if (!PeekNamedPipe(h, NULL, 0, NULL, &avail, NULL))
		return -1;
	return (long)avail;
}

void reg_child_finish(struct reg_child *c, struct reg_child_end *end)
{
	struct reg_msgbuf m = { NULL, 0, 0 };
	int timed_out = 0, nomem = 0;
	DWORD code = 0;

	for (;;) {
		long avail = pipe_avail(c->rd);
		long long left;
		if (avail < 0)
			break;
		if (avail > 0) {
			unsigned char chunk[65536];
			DWORD got = 0;
			if (!ReadFile(c->rd, chunk, avail > (long)sizeof(chunk) ? (DWORD)sizeof(chunk) :
				      (DWORD)avail, &got, NULL) || got == 0)
				break;
			int added = reg_msgbuf_add(&m, chunk, got);
			if (added == -2) {
				nomem = timed_out = 1;   /* kill it like a timeout */
				break;
			}
			if (added < 0 || reg_msgbuf_done(&m))
				break;   /* oversized (a crash), or done */
			continue;
		}
		left = c->deadline - now_ms();
		if (left <= 0) {
			timed_out = 1;
			break;
		}
		/* Nothing to read: wait a moment for it to write or end. Once
		 * it ended, take what is still in the pipe, then stop (a
		 * process it started may hold the pipe open). */
		if (WaitForSingleObject(c->proc, left < 2 ? (DWORD)left : 2) == WAIT_OBJECT_0 &&
		    pipe_avail(c->rd) <= 0)
			break;
	}
	if (!timed_out && !reg_msgbuf_done(&m)) {
		long long left = c->deadline - now_ms();
		if (WaitForSingleObject(c->proc, left > 0 ? (DWORD)left : 0) != WAIT_OBJECT_0)
			timed_out = 1;
	}
	if (timed_out)
		TerminateJobObject(c->job, 1);
	WaitForSingleObject(c->proc, INFINITE);
	GetExitCodeProcess(c->proc, &code);
	CloseHandle(c->job);   /* JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE: no leftovers */
	CloseHandle(c->proc);
	CloseHandle(c->rd);
	delete_capture(c->capkey);
	mem_free(c);
	memset(end, 0, sizeof(*end));
	end->m = m;
	end->timed_out = timed_out;
	end->nomem = nomem;
	if (!timed_out && code >= 0xC0000000u) {
		end->exception = code;
	} else {
		end->exited = 1;
		end->exit_status = (int)code;
	}
}

void reg_crash_describe(const struct reg_run_result *r, char *buf, size_t size)
{
	os_exception_describe(r->exception, buf, size);
}
