/*
 * setup_extension.c - run a declared command out of process, and the
 * extension points of an operation. A command runs as /bin/sh -c CMD in a
 * new process group (so a timeout kills everything it started), stdin
 * /dev/null, stdout and stderr into one pipe of which the first
 * SETUP_CMD_OUTPUT_MAX bytes are kept for messages.
 *
 * Traps: reading stops when the shell itself has exited, not at end of file,
 * because a service's start command leaves a daemon that may hold the pipe;
 * a setup that is itself signalled (SIGINT) still reaps the child before it
 * returns. Nothing here touches the root: the commands do, and the caller's
 * transaction is what undoes the rest.
 */
#include "setup.h"
#include "setup_service.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/fault.h"
#include "common/mem.h"

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void keep_output(struct setup_cmd_result *r, size_t *len, const char *buf, ssize_t n)
{
	for (ssize_t i = 0; i < n && *len < sizeof(r->output) - 1; i++)
		r->output[(*len)++] = buf[i];
	r->output[*len] = '\0';
}

int setup_cmd_run(const char *cmd, const struct setup_cmd_env *env, unsigned timeout_ms,
		  struct setup_cmd_result *r, struct err *e)
{
	int fds[2], status = 0, eof = 0;
	pid_t pid;
	size_t len = 0;
	uint64_t deadline;
	char buf[512];

	memset(r, 0, sizeof(*r));
	if (pipe(fds) != 0)
		return err_errno(e, "cannot run '%s': pipe", cmd);
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
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
	deadline = now_ms() + timeout_ms;
	for (;;) {
		struct pollfd pfd = { fds[0], POLLIN, 0 };
		uint64_t t = now_ms();
		pid_t w;
		ssize_t n;

		w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR) {
			status = 0;
			break;
		}
		if (t >= deadline || (env->cancel && *env->cancel)) {
			kill(-pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			if (t >= deadline)
				r->timed_out = 1;
			else
				r->cancelled = 1;
			break;
		}
		/* After end of file only the exit is awaited (10 ms steps), so a
		 * command that closed its output cannot make this loop spin. */
		if (poll(&pfd, eof ? 0 : 1, eof ? 10 : (int)((deadline - t) < 50 ? deadline - t : 50)) > 0) {
			n = read(fds[0], buf, sizeof(buf));
			if (n > 0)
				keep_output(r, &len, buf, n);
			else if (n == 0)
				eof = 1;
		}
	}
	/* What is already in the pipe; no waiting for end of file. */
	for (;;) {
		ssize_t n = read(fds[0], buf, sizeof(buf));

		if (n <= 0)
			break;
		keep_output(r, &len, buf, n);
	}
	close(fds[0]);
	while (len && (r->output[len - 1] == '\n' || r->output[len - 1] == ' '))
		r->output[--len] = '\0';
	if (!r->timed_out && !r->cancelled) {
		if (WIFEXITED(status)) {
			r->exited = 1;
			r->code = WEXITSTATUS(status);
		} else if (WIFSIGNALED(status)) {
			r->signal = WTERMSIG(status);
		}
	}
	return 0;
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

void setup_cmd_describe(const struct setup_cmd_result *r, unsigned timeout_ms, char *buf, size_t len)
{
	if (r->timed_out)
		snprintf(buf, len, "did not finish within %u.%03u s and was killed", timeout_ms / 1000, timeout_ms % 1000);
	else if (r->cancelled)
		snprintf(buf, len, "was killed because setup was cancelled (a signal)");
	else if (r->signal)
		snprintf(buf, len, "was killed by signal %d, %s (%s)", r->signal, signal_name(r->signal), strsignal(r->signal));
	else
		snprintf(buf, len, "exited with status %d", r->code);
}

int setup_extensions_run(struct setup_ctx *c, const struct manifest *m, enum manifest_point point,
			 const int *selected, const char *install_dir, const char *operation,
			 int64_t txn, struct err *e)
{
	struct setup_cmd_env env;
	char *app = NULL;
	int rc = -1;

	memset(&env, 0, sizeof(env));
	app = setup_real(c, install_dir);
	if (!app)
		return err_nomem(e, "running extensions");
	env.root = c->root[0] ? c->root : "/";
	env.product = m->product.code;
	env.app = app;
	env.operation = operation;
	env.txn = txn;
	env.point = manifest_point_name(point);
	env.cancel = c->cancel;
	for (int i = 0; i < m->nextensions; i++) {
		const struct manifest_extension *x = &m->extensions[i];
		const struct manifest_component *comp = x->component ? manifest_component_find(m, x->component) : NULL;
		struct setup_cmd_result r;
		unsigned tmo = (x->timeout ? x->timeout : 60) * 1000u;
		char how[128];

		if (x->point != point || (comp && selected && !selected[comp - m->components]))
			continue;
		setup_log(c, 0, "extension %s at %s: %s", x->name, env.point, x->command);
		fault_point("extension run");
		if (setup_cmd_run(x->command, &env, tmo, &r, e)) {
			err_prefix(e, "extension '%s' at point '%s'", x->name, env.point);
			goto out;
		}
		if (r.exited && r.code == 0) {
			setup_log(c, 0, "extension %s at %s: done%s%s", x->name, env.point, r.output[0] ? "; output: " : "", r.output);
			continue;
		}
		setup_cmd_describe(&r, tmo, how, sizeof(how));
		if (r.exited && r.code == SETUP_EXT_CANCEL)
			err_set(e, ERR_CLASS_ROLLEDBACK, "extension '%s' at point '%s' cancelled the %s (exit %d)%s%s",
				x->name, env.point, operation, SETUP_EXT_CANCEL, r.output[0] ? "; its output: " : "", r.output);
		else
			err_set(e, ERR_CLASS_ROLLEDBACK, "extension '%s' at point '%s' (%s) %s%s%s; fix or remove the extension in the product definition",
				x->name, env.point, x->command, how, r.output[0] ? "; its output: " : "", r.output);
		setup_log(c, 0, "%s", e->msg);
		goto out;
	}
	rc = 0;
out:
	mem_free(app);
	return rc;
}
