/*
 * setup_proc_posix.c - setup_proc.h for POSIX: a command is /bin/sh -c CMD
 * forked into its own process group, the lock is flock(2), cancelling is
 * sigaction.
 *
 * Traps: the child resets SIGINT, SIGTERM, SIGHUP and SIGPIPE to their
 * defaults before exec, so a setup that catches them (to roll back) does
 * not hand that on; setpgid runs on both sides of the fork so a kill of
 * the group can never miss the child. A setup that is itself signalled
 * still reaps the child (setup_proc_kill) before it returns.
 */
#include "setup_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/mem.h"
#include "common/os.h"

struct setup_proc {
	pid_t pid;
	int fd;                     /* read end of the output pipe, O_NONBLOCK */
	int status;                 /* wait status, once it ended */
	int eof, killed;
};

uint64_t setup_proc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int setup_proc_start(const char *cmd, const struct setup_cmd_env *env, struct setup_proc **pp,
		     struct err *e)
{
	struct setup_proc *p;
	int fds[2];
	pid_t pid;

	*pp = NULL;
	p = mem_zalloc(sizeof(*p));
	if (!p)
		return err_nomem(e, "running a command");
	if (pipe(fds) != 0) {
		mem_free(p);
		return err_errno(e, "cannot run '%s': pipe", cmd);
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		mem_free(p);
		return err_errno(e, "cannot run '%s': fork", cmd);
	}
	if (pid == 0) {
		char txn[32];
		int dn = open("/dev/null", O_RDONLY);
		struct sigaction sa;

		setpgid(0, 0);
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = SIG_DFL;
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGHUP, &sa, NULL);
		sigaction(SIGPIPE, &sa, NULL);
		if (dn >= 0) {
			dup2(dn, 0);
			close(dn);
		}
		dup2(fds[1], 1);
		dup2(fds[1], 2);
		close(fds[0]);
		close(fds[1]);
		snprintf(txn, sizeof(txn), "%lld", (long long)env->txn);
		setenv("SETUPKIT_ROOT", env->root ? env->root : "/", 1);
		setenv("SETUPKIT_PRODUCT", env->product ? env->product : "", 1);
		setenv("SETUPKIT_APP", env->app ? env->app : "", 1);
		setenv("SETUPKIT_OPERATION", env->operation ? env->operation : "", 1);
		setenv("SETUPKIT_TXN", txn, 1);
		setenv("SETUPKIT_POINT", env->point ? env->point : "", 1);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid);   /* both sides, so a kill never misses the group */
	close(fds[1]);
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	p->pid = pid;
	p->fd = fds[0];
	*pp = p;
	return 0;
}

int setup_proc_ended(struct setup_proc *p)
{
	pid_t w = waitpid(p->pid, &p->status, WNOHANG);

	if (w == p->pid)
		return 1;
	if (w < 0 && errno != EINTR) {
		p->status = 0;
		return 1;
	}
	return 0;
}

long setup_proc_read(struct setup_proc *p, char *buf, size_t size, unsigned wait_ms)
{
	struct pollfd pfd = { p->fd, POLLIN, 0 };
	ssize_t n;

	/* After end of file only time passes (poll on no fds), so a command
	 * that closed its output cannot make the caller's loop spin. */
	if (wait_ms && poll(&pfd, p->eof ? 0 : 1, (int)wait_ms) <= 0)
		return -1;
	n = read(p->fd, buf, size);
	if (n == 0)
		p->eof = 1;
	return n > 0 ? (long)n : n == 0 ? 0 : -1;
}

void setup_proc_kill(struct setup_proc *p)
{
	kill(-p->pid, SIGKILL);
	while (waitpid(p->pid, &p->status, 0) < 0 && errno == EINTR)
		;
	p->killed = 1;
}

void setup_proc_finish(struct setup_proc *p, struct setup_cmd_result *r)
{
	close(p->fd);
	if (!p->killed) {
		if (WIFEXITED(p->status)) {
			r->exited = 1;
			r->code = WEXITSTATUS(p->status);
		} else if (WIFSIGNALED(p->status)) {
			r->signal = WTERMSIG(p->status);
		}
	}
	mem_free(p);
}

static const char *signal_name(int sig)
{
	static const struct { int sig; const char *name; } names[] = {
		{ SIGHUP, "SIGHUP" }, { SIGINT, "SIGINT" }, { SIGQUIT, "SIGQUIT" }, { SIGILL, "SIGILL" },
		{ SIGTRAP, "SIGTRAP" }, { SIGABRT, "SIGABRT" }, { SIGBUS, "SIGBUS" }, { SIGFPE, "SIGFPE" },
		{ SIGKILL, "SIGKILL" }, { SIGUSR1, "SIGUSR1" }, { SIGSEGV, "SIGSEGV" }, { SIGUSR2, "SIGUSR2" },
		{ SIGPIPE, "SIGPIPE" }, { SIGALRM, "SIGALRM" }, { SIGTERM, "SIGTERM" }, { SIGXCPU, "SIGXCPU" },
		{ SIGXFSZ, "SIGXFSZ" }, { SIGSYS, "SIGSYS" },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].sig == sig)
			return names[i].name;
	return "signal";
}

void setup_proc_crash_describe(const struct setup_cmd_result *r, char *buf, size_t len)
{
	snprintf(buf, len, "was killed by signal %d, %s (%s)", r->signal, signal_name(r->signal), strsignal(r->signal));
}

/* ---- cancelling ---- */

static volatile sig_atomic_t *cancel_flag;

static void on_signal(int sig)
{
	(void)sig;
	*cancel_flag = 1;
}

void setup_proc_catch_cancel(volatile sig_atomic_t *flag)
{
	struct sigaction sa;

	cancel_flag = flag;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

void setup_proc_pause_ms(unsigned ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);   /* a signal ends it early: no resuming on EINTR */
}

/* ---- the root's lock ---- */

int setup_proc_lock_open(const char *path, struct err *e)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);

	if (fd < 0)
		return err_errno(e, "cannot open the lock file '%s'", path);
	return fd;
}

int setup_proc_lock_try(int fd, const char *path, struct err *e)
{
	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		return 0;
	if (errno != EWOULDBLOCK && errno != EINTR)
		return err_errno(e, "cannot lock '%s'", path);
	return 1;
}

int setup_proc_lock_note_pid(int fd, const char *path, struct err *e)
{
	char pid[32];

	snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, strlen(pid), 0) < 0)
		return err_errno(e, "cannot write the lock file '%s'", path);
	return 0;
}

void setup_proc_lock_holder(int fd, char *buf, size_t n)
{
	char pidtxt[32] = "";
	ssize_t r = pread(fd, pidtxt, sizeof(pidtxt) - 1, 0);
	long pid = r > 0 ? strtol(pidtxt, NULL, 10) : 0;
	char path[64], cmd[256] = "";
	FILE *f;

	if (pid <= 0) {
		snprintf(buf, n, "another process");
		return;
	}
	snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
	f = fopen(path, "r");
	if (f) {
		size_t k = fread(cmd, 1, sizeof(cmd) - 1, f);

		fclose(f);
		for (size_t i = 0; i < k; i++)
			if (cmd[i] == '\0')
				cmd[i] = ' ';
		cmd[k] = '\0';
	}
	snprintf(buf, n, "process %ld%s%s%s", pid, cmd[0] ? " (" : "", cmd, cmd[0] ? ")" : "");
}

void setup_proc_lock_close(int fd)
{
	close(fd);   /* releases the flock */
}

FILE *setup_proc_fopen_private(const char *path, const char *mode)
{
	char m[16];

	snprintf(m, sizeof(m), "%se", mode);
	return os_fopen(path, m);
}
