/*
 * reg_child_posix.c - the POSIX side of reg_runner.c: the registration child
 * itself (dlopen + the module API bound to an in-memory snapshot of the
 * store), the fork server, and starting, reading, timing out and reaping
 * children.
 *
 * The parent spawns the helper (by default the running tool itself: see
 * self_helper) with the hidden first argument REG_CHILD_ARG, in its own
 * process group, stdin from /dev/null, a sanitised environment, and a pipe
 * on fd 3 (the messages are described in reg_runner.c). The child snapshots
 * the store with a write log, dlopens the module (RTLD_NOW), calls the
 * entry point and sends the log only after a success HRESULT; then
 * _exit(0) (no atexit handlers, no module destructors).
 * On timeout the child's whole process group gets SIGKILL.
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

#define REG_CHILD_FD 3
#define REG_SERVER_ARG "--setupkit-reg-server"
#define REG_SERVER_FD 4

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
	sym = dlsym(h, reg_entry_symbol(entry));
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
		if (reg_parse_guid(clsid, &g) < 0) {
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

int reg_server_start(const struct reg_run_opts *o, struct reg_server **out, struct err *e)
{
	struct reg_server *srv = mem_zalloc(sizeof(*srv));

	*out = NULL;
	if (!srv)
		return err_nomem(e, "registration server");
	if (srv_start(o, srv, e) < 0) {
		mem_free(srv);
		return -1;
	}
	*out = srv;
	return 0;
}

void reg_server_stop(struct reg_server *srv)
{
	if (!srv)
		return;
	srv_stop(srv);
	mem_free(srv);
}

int reg_child_start(struct reg_server *srv, const struct reg_run_opts *o, struct reg_child **cp,
		    struct err *e)
{
	struct reg_child *c;
	int pfd[2] = { -1, -1 }, rc = -1;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	char entry_arg[16], *extra = NULL, **env = NULL, self[PATH_MAX];
	const char *helper = o->helper ? o->helper : self_helper(self, sizeof(self));
	unsigned timeout = o->timeout_ms ? o->timeout_ms : REG_DEFAULT_TIMEOUT_MS;
	pid_t pid = -1;

	*cp = NULL;
	if (!o->module || o->module[0] != '/')
		return err_set(e, ERR_CLASS_INTERNAL, "module path '%s' is not absolute",
			       o->module ? o->module : "(null)");
	snprintf(entry_arg, sizeof(entry_arg), "%d", (int)o->entry);
	char *argv[] = { "setupkit-reg-child", REG_CHILD_ARG, entry_arg, (char *)o->module,
			 (char *)(o->root ? o->root : "/"), (char *)(o->cmdline ? o->cmdline : ""),
			 (char *)(o->clsid ? o->clsid : ""), NULL };
	c = mem_zalloc(sizeof(*c));
	if (!c)
		return err_nomem(e, "registration child");
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		mem_free(c);
		return err_errno(e, "cannot create a pipe for module '%s'", o->module);
	}
	c->srv = srv;
	if (srv) {
		if (srv_spawn(srv, o, entry_arg, pfd[1], &pid, e) < 0)
			goto out;
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
	*cp = c;
	c = NULL;
	rc = 0;
out:
	mem_free(c);
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	mem_free(env);
	mem_free(extra);
	return rc;
}

/* Read the child's messages until 'D', EOF or the deadline; reap it. */
void reg_child_finish(struct reg_child *c, struct reg_child_end *end)
{
	int status = 0, timed_out = 0, reaped = 0, nomem = 0;
	struct reg_msgbuf m = { NULL, 0, 0 };
	pid_t pid = c->pid;
	long long deadline = c->deadline;
	int pfd[1] = { c->fd };

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
		int added = reg_msgbuf_add(&m, chunk, (size_t)n);
		if (added == -2) {
			nomem = timed_out = 1;   /* kill and reap it like a timeout */
			break;
		}
		if (added < 0)
			break;   /* oversized: treated as a crash */
		/* Stop reading once 'D' arrived (a grandchild may hold the pipe). */
		if (reg_msgbuf_done(&m))
			break;
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
	close(pfd[0]);
	mem_free(c);
	memset(end, 0, sizeof(*end));
	end->m = m;
	end->timed_out = timed_out;
	end->nomem = nomem;
	if (WIFSIGNALED(status))
		end->signal = WTERMSIG(status);
	else if (WIFEXITED(status)) {
		end->exited = 1;
		end->exit_status = WEXITSTATUS(status);
	}
}


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

void reg_crash_describe(const struct reg_run_result *r, char *buf, size_t size)
{
	snprintf(buf, size, "signal %d (%s, %s)", r->signal, signal_name(r->signal),
		 strsignal(r->signal));
}
