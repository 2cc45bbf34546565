/*
 * reg_runner.c - running a module's entry point in a child process, and the
 * retry ladder around it (reg_module_run).
 *
 * The parent never loads module code. It spawns the helper (by default
 * the running tool itself: see self_helper) with the hidden first argument
 * REG_CHILD_ARG, in its own process group, stdin from /dev/null, a sanitised
 * environment, and a pipe on fd 3. The child:
 *   snapshot   opens an in-memory copy of the store with a write log
 *   'L'        dlopen(RTLD_NOW) failed: dlerror text
 *   'E'        dlsym of the entry point failed
 *   'C'        about to call the entry point
 *   'R'        the entry point returned: 4-byte HRESULT
 *   'W'        (success only) the encoded write log
 *   'D'        done; then _exit(0) (no atexit handlers, no module dtors)
 * Each message is 1 type byte, 4-byte length, payload.
 *
 * State diagram of one run (parent side, reg_run):
 *   SPAWNED --read 'L'--> LOAD | --'E'--> ENTRY | --'R' hr<0--> CALL
 *   SPAWNED --'R' hr>=0, 'W', 'D', exit 0--> DONE
 *   SPAWNED --deadline passed--> killpg(SIGKILL) --> TIMEOUT
 *   SPAWNED --child died otherwise--> CRASH (signal, or exit mid-call)
 * Invariants:
 *  (1) Writes reach the parent only after the entry point returned success;
 *      reg_run itself never touches the store.
 *  (2) Every child is reaped before reg_run returns; on timeout its whole
 *      process group is killed first.
 *  (3) reg_module_run applies a run's writes (or undoes captures) in exactly
 *      one transaction, so a failure at any point leaves the store unchanged.
 */
#include "reg_private.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/mem.h"
#include <setupkit/reg.h>

#define REG_CHILD_ARG "--setupkit-reg-child"
#define REG_CHILD_FD 3
#define REG_SERVER_ARG "--setupkit-reg-server"
#define REG_SERVER_FD 4
#define REG_MSG_MAX (64u << 20)   /* largest write log a child may send */

extern char **environ;

/* ------------------------------------------------------------------ child */

static void child_send(int fd, char type, const void *data, size_t len)
{
	unsigned char hdr[5];
	uint32_t l = (uint32_t)len;
	const unsigned char *p = data;

	hdr[0] = (unsigned char)type;
	memcpy(hdr + 1, &l, 4);
	if (write(fd, hdr, 5) != 5)
		_exit(120);
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(120);
		p += n;
		len -= (size_t)n;
	}
}

static int parse_guid(const char *s, GUID *g)
{
	unsigned a, b, c, d[8];

	if (sscanf(s, "{%8x-%4x-%4x-%2x%2x-%2x%2x%2x%2x%2x%2x}", &a, &b, &c, &d[0], &d[1],
		   &d[2], &d[3], &d[4], &d[5], &d[6], &d[7]) != 11 || strlen(s) != 38)
		return -1;
	g->Data1 = a;
	g->Data2 = (uint16_t)b;
	g->Data3 = (uint16_t)c;
	for (int i = 0; i < 8; i++)
		g->Data4[i] = (uint8_t)d[i];
	return 0;
}

static const char *entry_symbol(enum reg_entry entry)
{
	switch (entry) {
	case REG_ENTRY_REGISTER: return "DllRegisterServer";
	case REG_ENTRY_UNREGISTER: return "DllUnregisterServer";
	case REG_ENTRY_INSTALL:
	case REG_ENTRY_UNINSTALL: return "DllInstall";
	case REG_ENTRY_CLASSOBJECT: return "DllGetClassObject";
	}
	return "?";
}

static const char *entry_call_name(enum reg_entry entry)
{
	switch (entry) {
	case REG_ENTRY_INSTALL: return "DllInstall(1)";
	case REG_ENTRY_UNINSTALL: return "DllInstall(0)";
	default: return entry_symbol(entry);
	}
}

/* argv: helper REG_CHILD_ARG entry module root cmdline clsid */
static void child_main(char **argv)
{
	int fd = REG_CHILD_FD;
	enum reg_entry entry = (enum reg_entry)atoi(argv[2]);
	const char *module = argv[3], *root = argv[4], *cmdline = argv[5], *clsid = argv[6];
	struct reg_store *s = NULL;
	struct reg_writes log;
	struct err e;
	void *h, *sym;
	int32_t hr;

	signal(SIGPIPE, SIG_DFL);
	err_clear(&e);
	/* Keep the API objects linked in (static libraries drop unused ones). */
	if (!reg_api_exports[0] || !reg_winreg_exports[0])
		_exit(121);
	reg_writes_init(&log);
	if (reg_store_open(&s, root, REG_STORE_SNAPSHOT, &e) < 0) {
		child_send(fd, 'F', e.msg, strlen(e.msg));
		_exit(0);
	}
	reg_store_set_log(s, &log);
	reg_api_bind(s, module);

	h = dlopen(module, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *m = dlerror();
		child_send(fd, 'L', m ? m : "?", m ? strlen(m) : 1);
		_exit(0);
	}
	dlerror();
	sym = dlsym(h, entry_symbol(entry));
	if (!sym) {
		const char *m = dlerror();
		if (!m)
			m = "symbol is NULL";
		child_send(fd, 'E', m, strlen(m));
		_exit(0);
	}
	child_send(fd, 'C', NULL, 0);
	switch (entry) {
	case REG_ENTRY_REGISTER:
	case REG_ENTRY_UNREGISTER: {
		HRESULT (*f)(void);
		*(void **)&f = sym;
		hr = f();
		break;
	}
	case REG_ENTRY_INSTALL:
	case REG_ENTRY_UNINSTALL: {
		HRESULT (*f)(int, const char *);
		*(void **)&f = sym;
		hr = f(entry == REG_ENTRY_INSTALL, cmdline);
		break;
	}
	case REG_ENTRY_CLASSOBJECT: {
		static const GUID iid_classfactory = { 0x00000001, 0, 0,
			{ 0xC0, 0, 0, 0, 0, 0, 0, 0x46 } };
		HRESULT (*f)(REFCLSID, REFIID, void **);
		GUID g;
		void *obj = NULL;
		if (parse_guid(clsid, &g) < 0) {
			hr = E_INVALIDARG;
			break;
		}
		*(void **)&f = sym;
		hr = f(&g, &iid_classfactory, &obj);
		if (SUCCEEDED(hr) && obj) {
			/* IUnknown::Release is the third slot of the vtable. */
			void **vtbl = *(void ***)obj;
			uint32_t (*rel)(void *);
			*(void **)&rel = vtbl[2];
			rel(obj);
		} else if (SUCCEEDED(hr)) {
			hr = E_POINTER;
		}
		break;
	}
	default:
		hr = E_INVALIDARG;
	}
	child_send(fd, 'R', &hr, sizeof(hr));
	if (SUCCEEDED(hr)) {
		unsigned char *buf = NULL;
		size_t len = 0;
		if (reg_writes_encode(&log, &buf, &len, &e) < 0) {
			child_send(fd, 'F', e.msg, strlen(e.msg));
			_exit(0);
		}
		child_send(fd, 'W', buf, len);
	}
	child_send(fd, 'D', NULL, 0);
	_exit(0);
}

/*
 * The fork server (reg_module_run_many): exec'd once with the sanitised
 * environment, it forks one child per request so each module still runs
 * alone in a fresh process group, without paying exec + dynamic linking
 * per module. Socket on REG_SERVER_FD; a request is one SOCK_SEQPACKET
 * message "entry\0module\0root\0cmdline\0clsid\0" carrying the result
 * pipe's write end (SCM_RIGHTS); replies are struct srv_msg: 'P' started
 * (pid), 'F' fork failed (errno), 'X' exited (wait status). The server
 * never loads module code itself; it exits when the socket closes.
 */
struct srv_msg {
	char type;
	int pid;
	int value;
};

/* Send one reply. The struct has padding after `type`: zero it all, so no
 * stale stack bytes leave the process (valgrind: "points to uninitialised
 * byte(s)"; and a forked child would inherit that error count). */
static int srv_reply(int sock, char type, int pid, int value)
{
	struct srv_msg m;

	memset(&m, 0, sizeof(m));
	m.type = type;
	m.pid = pid;
	m.value = value;
	return send(sock, &m, sizeof(m), MSG_NOSIGNAL) < 0 ? -1 : 0;
}

static void server_main(void)
{
	int sock = REG_SERVER_FD, sfd;
	sigset_t chld;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	sfd = signalfd(-1, &chld, SFD_CLOEXEC);
	if (sfd < 0)
		_exit(123);
	{
		/* Warm up once what every child needs (SQLite's initialisation,
		 * lazily bound symbols); forked children inherit it. */
		struct reg_store *warm = NULL;
		struct err we;
		if (reg_store_open(&warm, NULL, REG_STORE_MEMORY, &we) == 0)
			reg_store_close(warm);
	}
	for (;;) {
		struct pollfd p[2] = { { sock, POLLIN, 0 }, { sfd, POLLIN, 0 } };
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			_exit(124);
		}
		if (p[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			int st;
			pid_t w;
			if (read(sfd, &si, sizeof(si)) < 0) { /* drained below anyway */ }
			while ((w = waitpid(-1, &st, WNOHANG)) > 0) {
				if (srv_reply(sock, 'X', (int)w, st) < 0)
					_exit(0);
			}
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			char buf[3 * 4096 + 64], cbuf[CMSG_SPACE(sizeof(int))];
			struct iovec iov = { buf, sizeof(buf) - 1 };
			struct msghdr mh;
			struct cmsghdr *cm;
			int fd = -1;
			ssize_t n;
			memset(&mh, 0, sizeof(mh));
			mh.msg_iov = &iov;
			mh.msg_iovlen = 1;
			mh.msg_control = cbuf;
			mh.msg_controllen = sizeof(cbuf);
			n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
			if (n <= 0)
				_exit(0);   /* parent went away: children keep their own fate */
			for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
				if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
					memcpy(&fd, CMSG_DATA(cm), sizeof(int));
			buf[n] = '\0';
			char *args[8] = { "setupkit-reg-child", REG_CHILD_ARG };
			size_t off = 0;
			for (int i = 2; i < 7; i++) {
				args[i] = buf + off;
				off += strnlen(buf + off, (size_t)n - off) + 1;
				if (off > (size_t)n + 1)
					off = (size_t)n;
			}
			args[7] = NULL;
			pid_t pid = fd >= 0 ? fork() : -1;
			if (pid == 0) {
				sigset_t none;
				setpgid(0, 0);
				close(sock);
				close(sfd);
				if (fd != REG_CHILD_FD) {
					dup2(fd, REG_CHILD_FD);
					close(fd);
				}
				sigemptyset(&none);
				sigprocmask(SIG_SETMASK, &none, NULL);
				child_main(args);
				_exit(0);
			}
			int fork_errno = pid > 0 ? 0 : (fd >= 0 ? errno : EBADMSG);
			if (pid > 0)
				setpgid(pid, pid);   /* no race with the parent's killpg */
			if (fd >= 0)
				close(fd);
			if (srv_reply(sock, pid > 0 ? 'P' : 'F', (int)pid, fork_errno) < 0)
				_exit(0);
		}
	}
}

int reg_child_dispatch(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], REG_SERVER_ARG) == 0) {
		server_main();
		_exit(0);
	}
	if (argc < 2 || strcmp(argv[1], REG_CHILD_ARG) != 0)
		return -1;
	if (argc != 7)
		_exit(122);
	child_main(argv);
	_exit(0);
}

/* ----------------------------------------------------------------- parent */

/*
 * The default helper: this executable. Its path from readlink, when that
 * path still names the very file we run (same device and inode as an open
 * of /proc/self/exe); else "/proc/self/exe" itself, which reaches the
 * running file even when it was replaced or deleted since. Execing the
 * literal "/proc/self/exe" works natively, but under valgrind (and any
 * tool that runs us through a loader) it names the loader, not us; opens
 * and readlink of it are translated, an exec is not. buf holds PATH_MAX.
 */
static const char *self_helper(char *buf, size_t size)
{
	struct stat a, b;
	ssize_t n = readlink("/proc/self/exe", buf, size - 1);
	int fd;

	if (n <= 0 || (size_t)n >= size - 1)
		return "/proc/self/exe";
	buf[n] = '\0';
	fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return "/proc/self/exe";
	if (fstat(fd, &a) != 0 || stat(buf, &b) != 0 || a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
		close(fd);
		return "/proc/self/exe";
	}
	close(fd);
	return buf;
}

void reg_run_result_destroy(struct reg_run_result *r)
{
	if (r)
		reg_writes_destroy(&r->writes);
}

static const char *const drop_env[] = { "LD_PRELOAD=", "LD_LIBRARY_PATH=", "LD_AUDIT=", NULL };

/* Build the child's environment; the strings are borrowed from environ,
 * except one allocated ASAN_OPTIONS entry returned in *extra. */
static char **child_env(int keep, char **extra)
{
	size_t n = 0, o = 0;
	char **env;
	const char *asan = NULL;

	*extra = NULL;
	while (environ[n])
		n++;
	env = mem_array(n + 2, sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		int drop = 0;
		if (!keep)
			for (size_t j = 0; drop_env[j]; j++)
				if (strncmp(environ[i], drop_env[j], strlen(drop_env[j])) == 0)
					drop = 1;
		if (strncmp(environ[i], "ASAN_OPTIONS=", 13) == 0) {
			asan = environ[i] + 13;
			drop = 1;
		}
		if (!drop)
			env[o++] = environ[i];
	}
#if defined(__SANITIZE_ADDRESS__)
	/* A sanitized helper must die of a module's SIGSEGV like a plain one,
	 * not turn it into exit(1); no leak report from a process we _exit. */
	*extra = mem_printf("ASAN_OPTIONS=%s%shandle_segv=0:handle_sigbus=0:handle_sigfpe=0:"
			    "handle_sigill=0:detect_leaks=0", asan ? asan : "", asan && *asan ? ":" : "");
	if (*extra)
		env[o++] = *extra;
#else
	if (asan) {
		*extra = mem_printf("ASAN_OPTIONS=%s", asan);
		if (*extra)
			env[o++] = *extra;
	}
#endif
	env[o] = NULL;
	return env;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct msgbuf {
	unsigned char *b;
	size_t n, cap;
};

/* 0; -1 when the child sent more than REG_MSG_MAX; -2 out of memory (ours,
 * not the module's fault: never reported as its crash). */
static int buf_add(struct msgbuf *m, const unsigned char *p, size_t n)
{
	if (m->n + n > REG_MSG_MAX + 5 + 64)
		return -1;
	if (m->n + n > m->cap) {
		size_t cap = m->cap ? m->cap : 4096;
		while (cap < m->n + n)
			cap *= 2;
		unsigned char *b = mem_realloc(m->b, cap);
		if (!b)
			return -2;
		m->b = b;
		m->cap = cap;
	}
	memcpy(m->b + m->n, p, n);
	m->n += n;
	return 0;
}

static void set_detail(struct reg_run_result *r, const unsigned char *p, size_t n)
{
	if (n >= sizeof(r->detail))
		n = sizeof(r->detail) - 1;
	memcpy(r->detail, p, n);
	r->detail[n] = '\0';
}

/* Parent side of the fork server (see server_main). */
struct reg_server {
	pid_t pid;
	int sock;
	struct { pid_t pid; int status; } stash[2 * 64 + 8];  /* exits not yet asked for */
	size_t nstash;
};

/* A started child: its pid (= process group), read end of its pipe, deadline,
 * and the fork server that forked it (NULL: our own child). */
struct reg_child {
	pid_t pid;
	int fd;
	long long deadline;
	struct reg_server *srv;
};


static int srv_start(const struct reg_run_opts *o, struct reg_server *srv, struct err *e)
{
	int sv[2];
	posix_spawn_file_actions_t fa;
	char *extra = NULL, **env, self[PATH_MAX];
	const char *helper = o->helper ? o->helper : self_helper(self, sizeof(self));
	char *argv[] = { "setupkit-reg-server", REG_SERVER_ARG, NULL };
	int sp;

	memset(srv, 0, sizeof(*srv));
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return err_errno(e, "cannot create a socket for the registration server");
	env = child_env(o->keep_env, &extra);
	if (!env) {
		close(sv[0]);
		close(sv[1]);
		return err_nomem(e, "child environment");
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (o->quiet_child) {
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	}
	posix_spawn_file_actions_adddup2(&fa, sv[1], REG_SERVER_FD);
	sp = posix_spawn(&srv->pid, helper, &fa, NULL, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	mem_free(env);
	mem_free(extra);
	close(sv[1]);
	if (sp != 0) {
		close(sv[0]);
		return err_errno_n(e, sp, "cannot start the registration server '%s'", helper);
	}
	srv->sock = sv[0];
	return 0;
}

static void srv_stop(struct reg_server *srv)
{
	int st;

	close(srv->sock);
	while (waitpid(srv->pid, &st, 0) < 0 && errno == EINTR)
		;
}

/* 1: a message, 0: timeout, -1: the server is gone. timeout_ms < 0: wait. */
static int srv_recv(struct reg_server *srv, long long timeout_ms, struct srv_msg *m)
{
	for (;;) {
		struct pollfd p = { srv->sock, POLLIN, 0 };
		int pr = poll(&p, 1, timeout_ms < 0 ? -1 : (int)(timeout_ms > 1000000 ? 1000000 : timeout_ms));
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr == 0)
			return 0;
		if (pr < 0)
			return -1;
		ssize_t n = recv(srv->sock, m, sizeof(*m), 0);
		if (n < 0 && errno == EINTR)
			continue;
		return n == (ssize_t)sizeof(*m) ? 1 : -1;
	}
}

static void srv_stash(struct reg_server *srv, const struct srv_msg *m)
{
	if (srv->nstash < sizeof(srv->stash) / sizeof(srv->stash[0])) {
		srv->stash[srv->nstash].pid = m->pid;
		srv->stash[srv->nstash].status = m->value;
		srv->nstash++;
	}
}

static int srv_spawn(struct reg_server *srv, const struct reg_run_opts *o, const char *entry_arg,
		     int wfd, pid_t *pid, struct err *e)
{
	const char *parts[5] = { entry_arg, o->module, o->root ? o->root : "/",
				 o->cmdline ? o->cmdline : "", o->clsid ? o->clsid : "" };
	char buf[3 * 4096 + 64], cbuf[CMSG_SPACE(sizeof(int))];
	size_t len = 0;
	struct msghdr mh;
	struct iovec iov;
	struct cmsghdr *cm;
	struct srv_msg m;

	for (int i = 0; i < 5; i++) {
		size_t l = strlen(parts[i]) + 1;
		if (len + l > sizeof(buf))
			return err_set(e, ERR_CLASS_INPUT, "module path or command line too long");
		memcpy(buf + len, parts[i], l);
		len += l;
	}
	memset(&mh, 0, sizeof(mh));
	memset(cbuf, 0, sizeof(cbuf));
	iov.iov_base = buf;
	iov.iov_len = len;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf;
	mh.msg_controllen = sizeof(cbuf);
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &wfd, sizeof(int));
	if (sendmsg(srv->sock, &mh, MSG_NOSIGNAL) < 0)
		return err_errno(e, "registration server is gone");
	for (;;) {
		int r = srv_recv(srv, 10000, &m);
		if (r <= 0)
			return err_set(e, ERR_CLASS_IO, "registration server did not answer");
		if (m.type == 'X') {
			srv_stash(srv, &m);
			continue;
		}
		if (m.type == 'F')
			return err_errno_n(e, m.value, "registration server cannot fork for '%s'", o->module);
		*pid = (pid_t)m.pid;
		return 0;
	}
}

/* Wait for the exit of pid: 1 with *status, 0 on timeout, -1 server gone. */
static int srv_wait(struct reg_server *srv, pid_t pid, int *status, long long timeout_ms)
{
	long long end = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	struct srv_msg m;

	for (size_t i = 0; i < srv->nstash; i++)
		if (srv->stash[i].pid == pid) {
			*status = srv->stash[i].status;
			srv->stash[i] = srv->stash[--srv->nstash];
			return 1;
		}
	for (;;) {
		long long left = end < 0 ? -1 : end - now_ms();
		int r;
		if (end >= 0 && left < 0)
			left = 0;   /* one last look at what is already queued */
		r = srv_recv(srv, left, &m);
		if (r <= 0)
			return r;
		if (m.type == 'X' && m.pid == pid) {
			*status = m.value;
			return 1;
		}
		if (m.type == 'X')
			srv_stash(srv, &m);
	}
}

static int run_start(struct reg_server *srv, const struct reg_run_opts *o, struct reg_child *c,
		     struct reg_run_result *r, struct err *e)
{
	int pfd[2] = { -1, -1 }, rc = -1;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	char entry_arg[16], *extra = NULL, **env = NULL, self[PATH_MAX];
	const char *helper = o->helper ? o->helper : self_helper(self, sizeof(self));
	unsigned timeout = o->timeout_ms ? o->timeout_ms : REG_DEFAULT_TIMEOUT_MS;
	pid_t pid = -1;

	memset(r, 0, sizeof(*r));
	reg_writes_init(&r->writes);
	if (!o->module || o->module[0] != '/')
		return err_set(e, ERR_CLASS_INTERNAL, "module path '%s' is not absolute",
			       o->module ? o->module : "(null)");
	snprintf(entry_arg, sizeof(entry_arg), "%d", (int)o->entry);
	char *argv[] = { "setupkit-reg-child", REG_CHILD_ARG, entry_arg, (char *)o->module,
			 (char *)(o->root ? o->root : "/"), (char *)(o->cmdline ? o->cmdline : ""),
			 (char *)(o->clsid ? o->clsid : ""), NULL };
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return err_errno(e, "cannot create a pipe for module '%s'", o->module);
	c->srv = srv;
	if (srv) {
		if (srv_spawn(srv, o, entry_arg, pfd[1], &pid, e) < 0) {
			r->stage = REG_STAGE_SPAWN;
			goto out;
		}
		goto started;
	}
	env = child_env(o->keep_env, &extra);
	if (!env) {
		err_nomem(e, "child environment");
		goto out;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (o->quiet_child) {
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	}
	posix_spawn_file_actions_adddup2(&fa, pfd[1], REG_CHILD_FD);
	posix_spawnattr_setpgroup(&at, 0);
	{
		sigset_t def;
		sigemptyset(&def);
		sigaddset(&def, SIGPIPE);
		sigaddset(&def, SIGCHLD);
		posix_spawnattr_setsigdefault(&at, &def);
		sigset_t none;
		sigemptyset(&none);
		posix_spawnattr_setsigmask(&at, &none);
		posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF |
					 POSIX_SPAWN_SETSIGMASK);
	}
	int sp = posix_spawn(&pid, helper, &fa, &at, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (sp != 0) {
		r->stage = REG_STAGE_SPAWN;
		r->permanent = 1;
		err_errno_n(e, sp, "cannot start the registration helper '%s' for module '%s'",
			    helper, o->module);
		goto out;
	}
started:
	close(pfd[1]);
	pfd[1] = -1;
	c->pid = pid;
	c->fd = pfd[0];
	pfd[0] = -1;
	c->deadline = now_ms() + timeout;
	rc = 0;
out:
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	mem_free(env);
	mem_free(extra);
	return rc;
}

/* Read the child's messages until 'D', EOF or the deadline; reap it. */
static int run_finish(const struct reg_run_opts *o, struct reg_child *c, struct reg_run_result *r,
		      struct err *e)
{
	int rc = -1, status = 0, timed_out = 0, reaped = 0, nomem = 0;
	struct msgbuf m = { NULL, 0, 0 };
	int got_call = 0, got_result = 0, got_done = 0, got_writes = 0;
	pid_t pid = c->pid;
	long long deadline = c->deadline;
	int pfd[2] = { c->fd, -1 };

	c->fd = -1;
	for (;;) {
		struct pollfd p = { pfd[0], POLLIN, 0 };
		long long left = deadline - now_ms();
		unsigned char chunk[65536];
		ssize_t n;
		/* Past the deadline, still take what is already there: with
		 * --jobs a child may have finished while we waited for another. */
		int pr = poll(&p, 1, left <= 0 ? 0 : (int)(left > 1000000 ? 1000000 : left));
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr == 0) {
			if (left <= 0) {
				timed_out = 1;
				break;
			}
			continue;
		}
		n = read(pfd[0], chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		int added = buf_add(&m, chunk, (size_t)n);
		if (added == -2) {
			nomem = timed_out = 1;   /* kill and reap it like a timeout */
			break;
		}
		if (added < 0)
			break;   /* oversized: treated as a crash below */
		/* Stop reading once 'D' arrived (a grandchild may hold the pipe). */
		if (m.n >= 5 && m.b[m.n - 5] == 'D' && m.b[m.n - 4] == 0 && m.b[m.n - 1] == 0) {
			size_t off = 0;
			int done = 0;
			while (off + 5 <= m.n) {
				uint32_t l;
				memcpy(&l, m.b + off + 1, 4);
				if (off + 5 + l > m.n)
					break;
				if (m.b[off] == 'D')
					done = 1;
				off += 5 + l;
			}
			if (done && off == m.n)
				break;
		}
	}
	if (timed_out) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
	}
	/* Reap. After 'D' the child runs only our own _exit(0): wait for it.
	 * Otherwise poll until the deadline (a module may have closed fd 3
	 * and gone on running). */
	int sent_done = m.n >= 5 && m.b[m.n - 5] == 'D';
	while (c->srv && !reaped) {
		int got = srv_wait(c->srv, pid, &status, timed_out || sent_done ? -1 :
				   deadline - now_ms());
		if (got == 1) {
			reaped = 1;
		} else if (got < 0) {
			kill(-pid, SIGKILL);
			status = 0;
			reaped = 1;
		} else {
			timed_out = 1;
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
		}
	}
	while (!reaped) {
		pid_t w = waitpid(pid, &status, timed_out || sent_done ? 0 : WNOHANG);
		if (w == pid) {
			reaped = 1;
			break;
		}
		if (w < 0 && errno != EINTR) {
			reaped = 1;
			status = 0;
			break;
		}
		if (w == 0) {
			if (now_ms() >= deadline) {
				timed_out = 1;
				kill(-pid, SIGKILL);
				kill(pid, SIGKILL);
			} else {
				struct timespec ts = { 0, 1000000 };
				nanosleep(&ts, NULL);
			}
		}
	}
	if (timed_out)
		kill(-pid, SIGKILL);   /* leftovers of the group */
	if (nomem) {
		err_nomem(e, "reading what the registration child sent");
		goto out;
	}

	/* Parse the messages. */
	for (size_t off = 0; off + 5 <= m.n;) {
		uint32_t l;
		unsigned char t = m.b[off];
		memcpy(&l, m.b + off + 1, 4);
		if (off + 5 + l > m.n)
			break;
		const unsigned char *pl = m.b + off + 5;
		switch (t) {
		case 'L':
			r->stage = REG_STAGE_LOAD;
			r->permanent = 1;
			set_detail(r, pl, l);
			break;
		case 'E':
			r->stage = REG_STAGE_ENTRY;
			r->permanent = 1;
			set_detail(r, pl, l);
			break;
		case 'F':
			r->stage = REG_STAGE_SPAWN;
			set_detail(r, pl, l);
			break;
		case 'C':
			got_call = 1;
			break;
		case 'R':
			if (l == 4) {
				memcpy(&r->hr, pl, 4);
				got_result = 1;
			}
			break;
		case 'W': {
			struct err de;
			err_clear(&de);
			if (reg_writes_decode(&r->writes, pl, l, &de) == 0)
				got_writes = 1;
			else if (de.cls == ERR_CLASS_NOMEM)
				nomem = 1;
			else
				set_detail(r, (const unsigned char *)de.msg, strlen(de.msg));
			break;
		}
		case 'D':
			got_done = 1;
			break;
		}
		off += 5 + l;
	}
	if (nomem) {
		reg_writes_destroy(&r->writes);
		err_nomem(e, "decoding the registry writes of a registration child");
		goto out;
	}
	if (r->stage == REG_STAGE_LOAD || r->stage == REG_STAGE_ENTRY) {
		rc = 0;
		goto out;
	}
	if (r->stage == REG_STAGE_SPAWN) {
		err_set(e, ERR_CLASS_IO, "registration helper for '%s' failed: %s", o->module, r->detail);
		goto out;
	}
	if (timed_out) {
		r->stage = REG_STAGE_TIMEOUT;
	} else if (got_result && FAILED(r->hr)) {
		r->stage = REG_STAGE_CALL;
	} else if (got_result && got_done && got_writes && WIFEXITED(status) &&
		   WEXITSTATUS(status) == 0) {
		r->stage = REG_STAGE_DONE;
	} else {
		r->stage = REG_STAGE_CRASH;
		if (WIFSIGNALED(status))
			r->signal = WTERMSIG(status);
		else if (WIFEXITED(status))
			r->exit_status = WEXITSTATUS(status);
		if (!got_call)
			snprintf(r->detail, sizeof(r->detail), "while loading the module "
				 "(in a constructor)");
	}
	if (r->stage != REG_STAGE_DONE)
		reg_writes_destroy(&r->writes);
	rc = 0;
out:
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	mem_free(m.b);
	return rc;
}

int reg_run(const struct reg_run_opts *o, struct reg_run_result *r, struct err *e)
{
	struct reg_child c;

	if (run_start(NULL, o, &c, r, e) < 0)
		return -1;
	return run_finish(o, &c, r, e);
}


/* ----------------------------------------------------------- retry ladder */

static const char *signal_name(int sig)
{
	static const struct { int sig; const char *name; } t[] = {
		{ SIGSEGV, "SIGSEGV" }, { SIGABRT, "SIGABRT" }, { SIGBUS, "SIGBUS" },
		{ SIGFPE, "SIGFPE" }, { SIGILL, "SIGILL" }, { SIGKILL, "SIGKILL" },
		{ SIGTERM, "SIGTERM" }, { SIGTRAP, "SIGTRAP" }, { SIGSYS, "SIGSYS" },
		{ SIGPIPE, "SIGPIPE" }, { SIGINT, "SIGINT" }, { SIGHUP, "SIGHUP" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].sig == sig)
			return t[i].name;
	return "signal";
}

static int explain(const struct reg_run_opts *o, const struct reg_run_result *r,
		   unsigned tries, struct err *e)
{
	const char *ep = entry_call_name(o->entry);
	char hrs[128], again[48] = "";
	int code = REG_EXIT_OLE;

	if (tries > 1)
		snprintf(again, sizeof(again), " (after %u attempts)", tries);
	switch (r->stage) {
	case REG_STAGE_LOAD: {
		struct err de;
		int bad = 0;
		char *diag;
		err_clear(&de);
		diag = reg_deps_diagnose(o->module, o->keep_env, &bad, &de);
		err_set(e, ERR_CLASS_MODULE, "cannot load module '%s': %s%s%s%s", o->module,
			r->detail, diag && *diag ? "\n" : "", diag ? diag : "",
			bad ? "\n  the file is not a loadable shared object for this machine" : "");
		mem_free(diag);
		code = REG_EXIT_LOAD;
		break;
	}
	case REG_STAGE_ENTRY:
		err_set(e, ERR_CLASS_MODULE, "module '%s' was loaded, but it has no entry point "
			"%s (%s)", o->module, entry_symbol(o->entry), r->detail);
		code = REG_EXIT_ENTRY;
		break;
	case REG_STAGE_CALL:
		err_set(e, ERR_CLASS_MODULE, "%s in '%s' failed with %s%s; the registry is unchanged",
			ep, o->module, reg_hresult_describe(r->hr, hrs, sizeof(hrs)), again);
		code = REG_EXIT_CALL;
		break;
	case REG_STAGE_CRASH:
		if (r->signal)
			err_set(e, ERR_CLASS_MODULE, "module '%s' crashed in %s%s%s: signal %d (%s, %s)%s; "
				"the registry is unchanged", o->module, ep, *r->detail ? " " : "",
				r->detail, r->signal, signal_name(r->signal), strsignal(r->signal), again);
		else
			err_set(e, ERR_CLASS_MODULE, "module '%s' ended its process (exit status %d) "
				"during %s%s%s without returning%s; the registry is unchanged",
				o->module, r->exit_status, ep, *r->detail ? " " : "", r->detail, again);
		code = REG_EXIT_CRASH;
		break;
	case REG_STAGE_TIMEOUT:
		err_set(e, ERR_CLASS_MODULE, "module '%s' did not return from %s within %.1f s; its "
			"process group was killed%s; the registry is unchanged (raise --timeout if it "
			"is just slow)", o->module, ep,
			(o->timeout_ms ? o->timeout_ms : REG_DEFAULT_TIMEOUT_MS) / 1000.0, again);
		code = REG_EXIT_TIMEOUT;
		break;
	default:
		break;
	}
	return code;
}

/* In one store transaction: apply the writes w, or, when w is NULL, undo
 * what the module's earlier registration captured. */
static int in_txn(struct reg_store *s, const struct reg_run_opts *o,
		  const struct reg_writes *w, unsigned *conflicts, struct err *e)
{
	if (reg_store_begin(s, e) < 0)
		return -1;
	if ((w ? reg_writes_apply(s, o->module, w, NULL, e)
	       : reg_capture_undo(s, o->module, 0, conflicts, e)) < 0 ||
	    reg_store_commit(s, e) < 0) {
		reg_store_rollback(s, NULL);
		return -1;
	}
	return 0;
}

/* reg_module_run, with the first attempt's result already in *first
 * (ownership of its writes moves here) when first is not NULL. */
static int module_run(struct reg_store *s, const struct reg_run_opts *o,
		      const struct reg_retry *retry, unsigned *tries, struct err *e,
		      struct reg_run_result *first)
{
	struct reg_run_result r;
	unsigned attempts = retry && retry->attempts ? retry->attempts : 1;
	unsigned delay = retry ? retry->backoff_ms : 0, n = 0, conflicts = 0;
	int removing = o->entry == REG_ENTRY_UNREGISTER || o->entry == REG_ENTRY_UNINSTALL;
	int code = REG_EXIT_OLE;
	long caps = 0;

	memset(&r, 0, sizeof(r));
	if (first) {
		r = *first;
		memset(first, 0, sizeof(*first));
	}
	for (;;) {
		n++;
		if (!(first && n == 1) && reg_run(o, &r, e) < 0) {
			reg_run_result_destroy(&r);
			if (tries)
				*tries = n;
			return REG_EXIT_OLE;
		}
		if (r.stage == REG_STAGE_DONE || r.permanent || n >= attempts)
			break;
		reg_run_result_destroy(&r);
		if (delay) {
			struct timespec ts = { delay / 1000, (long)(delay % 1000) * 1000000L };
			nanosleep(&ts, NULL);
			delay *= 2;
		}
	}
	if (tries)
		*tries = n;
	if (removing && !o->discard_writes) {
		caps = reg_capture_count(s, o->module, e);
		if (caps < 0) {
			code = REG_EXIT_OLE;
			goto out;
		}
	}
	if (r.stage != REG_STAGE_DONE) {
		code = explain(o, &r, n, e);
		/* Nothing of the module left to run, but we know what it wrote:
		 * undo it (like regsvr32 /u would have wanted). */
		if (removing && caps > 0 && (r.stage == REG_STAGE_ENTRY ||
					     (r.stage == REG_STAGE_LOAD && access(o->module, F_OK) != 0))) {
			struct err ue;
			err_clear(&ue);
			if (in_txn(s, o, NULL, &conflicts, &ue) < 0) {
				*e = ue;
				code = REG_EXIT_OLE;
				goto out;
			}
			err_clear(e);
			err_set(e, ERR_CLASS_MODULE, "module '%s': %s unavailable; its %ld captured "
				"registry writes were undone instead", o->module,
				entry_symbol(o->entry), caps);
			err_set_status(e, ERR_WARN);
			code = REG_EXIT_OK;
		}
		goto out;
	}
	if (o->discard_writes || o->entry == REG_ENTRY_CLASSOBJECT) {
		code = REG_EXIT_OK;
		goto out;
	}
	if (removing && caps > 0) {
		/* The captures are authoritative: a buggy DllUnregisterServer
		 * cannot delete more, or less, than the registration wrote. */
		if (in_txn(s, o, NULL, &conflicts, e) < 0)
			goto out;
		if (conflicts) {
			err_set(e, ERR_CLASS_MODULE, "module '%s': %u registry entries changed by "
				"someone else since registration were left as they are",
				o->module, conflicts);
			err_set_status(e, ERR_WARN);
		}
	} else if (in_txn(s, o, &r.writes, NULL, e) < 0) {
		goto out;
	}
	code = REG_EXIT_OK;
out:
	reg_run_result_destroy(&r);
	return code;
}

int reg_module_run(struct reg_store *s, const struct reg_run_opts *o,
		   const struct reg_retry *retry, unsigned *tries, struct err *e)
{
	return module_run(s, o, retry, tries, e, NULL);
}

#define REG_JOBS_MAX 64

int reg_module_run_many(struct reg_store *s, const struct reg_run_opts *opts, size_t n,
			const struct reg_retry *retry, unsigned jobs,
			void (*done)(void *ctx, size_t i, int code, unsigned tries,
				     const struct err *e),
			void *ctx)
{
	struct reg_child child[REG_JOBS_MAX];
	struct reg_run_result *res;
	struct err *serr;
	int started[REG_JOBS_MAX];
	size_t next = 0;
	int first_fail = 0;

	if (jobs < 1)
		jobs = 1;
	if (jobs > REG_JOBS_MAX)
		jobs = REG_JOBS_MAX;
	res = mem_array(jobs, sizeof(*res));
	serr = mem_array(jobs, sizeof(*serr));
	if (!res || !serr) {
		mem_free(res);
		mem_free(serr);
		jobs = 1;   /* no memory for a window: plain sequential runs */
		for (size_t i = 0; i < n; i++) {
			struct err e;
			unsigned tries = 0;
			int code;
			err_clear(&e);
			code = reg_module_run(s, &opts[i], retry, &tries, &e);
			if (code && !first_fail)
				first_fail = code;
			if (done)
				done(ctx, i, code, tries, &e);
		}
		return first_fail;
	}
	/* One exec for the whole batch: children are forked by the server. */
	struct reg_server srv_obj, *srv = NULL;
	if (n > 1) {
		struct err se;
		err_clear(&se);
		if (srv_start(&opts[0], &srv_obj, &se) == 0)
			srv = &srv_obj;   /* else: one exec per module, as reg_run does */
	}
	for (size_t i = 0; i < n; i++) {
		size_t k = i % jobs;
		struct err e;
		unsigned tries = 1;
		int code;
		/* Keep up to `jobs` children running ahead of the one we wait for. */
		while (next < n && next < i + jobs) {
			size_t j = next % jobs;
			err_clear(&serr[j]);
			started[j] = run_start(srv, &opts[next], &child[j], &res[j], &serr[j]) == 0;
			next++;
		}
		err_clear(&e);
		if (!started[k]) {
			e = serr[k];
			code = REG_EXIT_OLE;
			reg_run_result_destroy(&res[k]);
		} else if (run_finish(&opts[i], &child[k], &res[k], &e) < 0) {
			code = REG_EXIT_OLE;
			reg_run_result_destroy(&res[k]);
		} else {
			code = module_run(s, &opts[i], retry, &tries, &e, &res[k]);
		}
		if (code && !first_fail)
			first_fail = code;
		if (done)
			done(ctx, i, code, tries, &e);
	}
	if (srv)
		srv_stop(srv);
	mem_free(res);
	mem_free(serr);
	return first_fail;
}
