/*
 * setup_extension.c - run a declared command out of process, and the
 * extension points of an operation. A command runs as /bin/sh -c CMD in a
 * new process group (Windows: cmd.exe /d /s /c "CMD" in a job object; the
 * platform half is setup_proc_posix.c / setup_proc_win32.c), so a timeout
 * kills everything it started; stdin is the null device, stdout and stderr
 * go into one pipe of which the first SETUP_CMD_OUTPUT_MAX bytes are kept
 * for messages.
 *
 * Traps: reading stops when the shell itself has exited, not at end of file,
 * because a service's start command leaves a daemon that may hold the pipe;
 * a setup that is itself signalled (SIGINT) still reaps the child before it
 * returns. Nothing here touches the root: the commands do, and the caller's
 * transaction is what undoes the rest.
 */
#include "setup.h"
#include "setup_proc.h"
#include "setup_service.h"

#include <stdio.h>
#include <string.h>

#include "common/fault.h"
#include "common/mem.h"

static void keep_output(struct setup_cmd_result *r, size_t *len, const char *buf, long n)
{
	for (long i = 0; i < n && *len < sizeof(r->output) - 1; i++)
		r->output[(*len)++] = buf[i];
	r->output[*len] = '\0';
}

int setup_cmd_run(const char *cmd, const struct setup_cmd_env *env, unsigned timeout_ms,
		  struct setup_cmd_result *r, struct err *e)
{
	struct setup_proc *p;
	int eof = 0;
	size_t len = 0;
	uint64_t deadline;
	char buf[512];
	long n;

	memset(r, 0, sizeof(*r));
	if (setup_proc_start(cmd, env, &p, e))
		return -1;
	deadline = setup_proc_now_ms() + timeout_ms;
	for (;;) {
		uint64_t t = setup_proc_now_ms();

		if (setup_proc_ended(p))
			break;
		if (t >= deadline || (env->cancel && *env->cancel)) {
			setup_proc_kill(p);
			if (t >= deadline)
				r->timed_out = 1;
			else
				r->cancelled = 1;
			break;
		}
		/* After end of file only the exit is awaited (10 ms steps). */
		n = setup_proc_read(p, buf, sizeof(buf), eof ? 10 : (unsigned)((deadline - t) < 50 ? deadline - t : 50));
		if (n > 0)
			keep_output(r, &len, buf, n);
		else if (n == 0)
			eof = 1;
	}
	/* What is already in the pipe; no waiting for end of file. */
	while ((n = setup_proc_read(p, buf, sizeof(buf), 0)) > 0)
		keep_output(r, &len, buf, n);
	setup_proc_finish(p, r);   /* how it ended, unless it was killed */
	while (len && (r->output[len - 1] == '\n' || r->output[len - 1] == ' '))
		r->output[--len] = '\0';
	return 0;
}

void setup_cmd_describe(const struct setup_cmd_result *r, unsigned timeout_ms, char *buf, size_t len)
{
	if (r->timed_out)
		snprintf(buf, len, "did not finish within %u.%03u s and was killed", timeout_ms / 1000, timeout_ms % 1000);
	else if (r->cancelled)
		snprintf(buf, len, "was killed because setup was cancelled (a signal)");
	else if (r->signal || r->exception)
		setup_proc_crash_describe(r, buf, len);
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
