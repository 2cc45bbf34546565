/*
 * setup_service.c - services: the command backend, the start order, and
 * starting and stopping a set of services in that order.
 *
 * Order: an edge a -> b means "a starts before b": b depends_on a, b
 * start_after a, a start_before b. External services take part, so a
 * product can be ordered against a service it does not manage. Kahn's
 * algorithm, ties broken by declaration order, so the order is stable.
 * Stopping uses the reverse order.
 *
 * The blocker rule: when s must start before x (any of the three edges) and
 * x is already running, the engine stops x, starts s, then starts x again.
 * Every start and stop is recorded in struct setup_services; undo replays
 * them backwards (stop what was started, start what was stopped), which
 * for the blocker gives: stop x, stop s, start x.
 *
 * Trap: the record lives in memory. A crash between a start and the commit
 * leaves the service running; recovery does not stop it yet (see the note
 * in docs/services.md).
 */
#include "setup.h"
#include "setup_proc.h"
#include "setup_service.h"

#include <stdio.h>
#include <string.h>

#include "common/fault.h"
#include "common/mem.h"

#define SVC_CMD_TIMEOUT_MS    60000u
#define SVC_STATUS_TIMEOUT_MS 10000u

/* ---- the command backend ---- */

static int cmd_do(const struct manifest_service *s, const struct setup_cmd_env *env, const char *what,
		  const char *cmd, unsigned tmo, struct err *e)
{
	struct setup_cmd_result r;
	struct setup_cmd_env en = *env;
	char how[128];

	if (!cmd || !*cmd)
		return err_set(e, ERR_CLASS_INPUT, "service '%s' has no %s command", s->name, what);
	en.point = "service";
	if (setup_cmd_run(cmd, &en, tmo, &r, e))
		return -1;
	if (r.exited && r.code == 0)
		return 0;
	setup_cmd_describe(&r, tmo, how, sizeof(how));
	return err_set(e, ERR_CLASS_ROLLEDBACK, "%s command of service '%s' (%s) %s%s%s", what, s->name, cmd, how,
		       r.output[0] ? "; its output: " : "", r.output);
}

static int cmd_start(const struct manifest_service *s, const struct setup_cmd_env *env, struct err *e)
{
	return cmd_do(s, env, "start", s->start, SVC_CMD_TIMEOUT_MS, e);
}

static int cmd_stop(const struct manifest_service *s, const struct setup_cmd_env *env, struct err *e)
{
	return cmd_do(s, env, "stop", s->stop, SVC_CMD_TIMEOUT_MS, e);
}

static int cmd_status(const struct manifest_service *s, const struct setup_cmd_env *env, struct err *e)
{
	struct setup_cmd_result r;
	struct setup_cmd_env en = *env;

	if (!s->status || !*s->status)
		return 0;   /* cannot tell: treated as not running */
	en.point = "service";
	if (setup_cmd_run(s->status, &en, SVC_STATUS_TIMEOUT_MS, &r, e))
		return -1;
	return r.exited && r.code == 0;
}

const struct setup_service_backend setup_service_cmd_backend = { "command", cmd_start, cmd_stop, cmd_status };

/* ---- the set of one operation ---- */

int setup_services_init(struct setup_services *sv, struct setup_ctx *c, const struct manifest *m,
			const char *install_dir, const char *operation, int64_t txn, struct err *e)
{
	memset(sv, 0, sizeof(*sv));
	sv->c = c;
	sv->m = m;
	sv->be = &setup_service_cmd_backend;
	sv->attempts = c->o && c->o->reg_attempts ? c->o->reg_attempts : 3;
	sv->backoff_ms = c->o ? c->o->reg_backoff_ms : 200;
	sv->root = mem_strdup(c->root[0] ? c->root : "/");
	sv->app = setup_real(c, install_dir);
	if (!sv->root || !sv->app) {
		setup_services_destroy(sv);
		return err_nomem(e, "preparing services");
	}
	sv->env.root = sv->root;
	sv->env.product = m->product.code;
	sv->env.app = sv->app;
	sv->env.operation = operation;
	sv->env.txn = txn;
	sv->env.point = "service";
	sv->env.cancel = c->cancel;
	return 0;
}

void setup_services_destroy(struct setup_services *sv)
{
	mem_free(sv->root);
	mem_free(sv->app);
	mem_free(sv->txn_s);
	mem_free(sv->done);
	memset(sv, 0, sizeof(*sv));
}

void setup_services_keep(struct setup_services *sv)
{
	mem_free(sv->done);
	sv->done = NULL;
	sv->ndone = 0;
}

static int note(struct setup_services *sv, const struct manifest_service *s, int started, struct err *e)
{
	struct setup_svc_change *n = mem_realloc_array(sv->done, (size_t)sv->ndone + 1, sizeof(*n));

	if (!n)
		return err_nomem(e, "recording a service change");
	sv->done = n;
	n[sv->ndone].s = s;
	n[sv->ndone].started = started;
	sv->ndone++;
	return 0;
}

static int svc_index(const struct manifest *m, const char *name)
{
	for (int i = 0; i < m->nservices; i++)
		if (strcmp(m->services[i].name, name) == 0)
			return i;
	return -1;
}

/* 1 when a must start before b. */
static int before(const struct manifest_service *a, const struct manifest_service *b)
{
	return manifest_list_has(&b->depends_on, a->name) || manifest_list_has(&b->start_after, a->name) ||
	       manifest_list_has(&a->start_before, b->name);
}

/* The constraint that puts a before b, as the definition spells it. */
static void before_why(const struct manifest_service *a, const struct manifest_service *b, char *buf, size_t n)
{
	if (manifest_list_has(&a->start_before, b->name))
		snprintf(buf, n, "%s: start_before = %s", a->name, b->name);
	else if (manifest_list_has(&b->start_after, a->name))
		snprintf(buf, n, "%s: start_after = %s", b->name, a->name);
	else
		snprintf(buf, n, "%s: depends_on = %s", b->name, a->name);
}

int setup_services_order(const struct manifest *m, int **order, struct err *e)
{
	int n = m->nservices, k = 0;
	int *out = mem_array((size_t)n + 1, sizeof(int)), *done = mem_array((size_t)n + 1, sizeof(int));

	*order = NULL;
	if (!out || !done) {
		mem_free(out);
		mem_free(done);
		return err_nomem(e, "ordering services");
	}
	while (k < n) {
		int pick = -1;

		for (int i = 0; i < n && pick < 0; i++) {
			int ready = !done[i];

			for (int j = 0; j < n && ready; j++)
				if (j != i && !done[j] && before(&m->services[j], &m->services[i]))
					ready = 0;
			if (ready)
				pick = i;
		}
		if (pick < 0) {
			char names[512];
			size_t u = 0;

			names[0] = '\0';
			for (int i = 0; i < n; i++)
				if (!done[i] && u < sizeof(names))
					u += (size_t)snprintf(names + u, sizeof(names) - u, "%s%s", u ? ", " : "", m->services[i].name);
			mem_free(out);
			mem_free(done);
			return err_set(e, ERR_CLASS_INPUT, "%s: service start-order constraints form a cycle among %s; break one of these dependencies",
				       m->path ? m->path : "definition", names);
		}
		done[pick] = 1;
		out[k++] = pick;
	}
	mem_free(done);
	*order = out;
	return 0;
}

/* The constraints of s, for messages. */
static void constraints(const struct manifest_service *s, char *buf, size_t len)
{
	const struct { const char *what; const struct manifest_list *l; } parts[] = {
		{ "depends_on", &s->depends_on }, { "start_before", &s->start_before },
		{ "start_after", &s->start_after }, { "conflicts", &s->conflicts },
	};
	size_t u = 0;

	buf[0] = '\0';
	for (size_t p = 0; p < sizeof(parts) / sizeof(parts[0]); p++) {
		if (!parts[p].l->n || u >= len)
			continue;
		u += (size_t)snprintf(buf + u, len - u, "%s%s = ", u ? "; " : "", parts[p].what);
		for (int i = 0; i < parts[p].l->n && u < len; i++)
			u += (size_t)snprintf(buf + u, len - u, "%s%s", i ? ", " : "", parts[p].l->items[i]);
	}
	if (!u)
		snprintf(buf, len, "none");
}

static int svc_running(struct setup_services *sv, const struct manifest_service *s, struct err *e)
{
	int r = sv->be->status(s, &sv->env, e);

	if (r < 0)
		err_prefix(e, "cannot query service '%s'", s->name);
	return r;
}

static int svc_stop(struct setup_services *sv, const struct manifest_service *s, struct err *e)
{
	setup_log(sv->c, 1, "stopping service %s", s->name);
	fault_point("service stop");
	if (sv->be->stop(s, &sv->env, e))
		return err_prefix(e, "cannot stop service '%s'", s->name);
	return note(sv, s, 0, e);
}

/* Start s with retries; recorded. */
static int svc_start(struct setup_services *sv, const struct manifest_service *s, const char *why, struct err *e)
{
	struct err last;
	char cons[512];

	err_clear(&last);
	for (unsigned a = 1; a <= sv->attempts; a++) {
		int r;

		if (a > 1)
			setup_proc_pause_ms(sv->backoff_ms * (a - 1));   /* a cancel cuts it short */
		setup_log(sv->c, 1, "starting service %s%s%s", s->name, why ? " " : "", why ? why : "");
		fault_point("service start");
		if (sv->be->start(s, &sv->env, &last) == 0) {
			r = svc_running(sv, s, &last);
			if (r == 1)
				return note(sv, s, 1, e);
			if (r == 0)
				err_set(&last, ERR_CLASS_ROLLEDBACK, "its start command succeeded but its status command (%s) says it is not running",
					s->status ? s->status : "none");
			/* Half started: stop whatever it left before the next try. */
			sv->be->stop(s, &sv->env, &(struct err){ 0 });
		}
		setup_log(sv->c, 0, "service %s: attempt %u of %u failed: %s", s->name, a, sv->attempts, last.msg);
	}
	constraints(s, cons, sizeof(cons));
	return err_set(e, ERR_CLASS_ROLLEDBACK,
		       "service '%s' did not start after %u attempt%s: %s; its constraints: %s. Check the service's own log, fix it, and run setup again",
		       s->name, sv->attempts, sv->attempts == 1 ? "" : "s", last.msg, cons);
}

static int in_set(const struct manifest_service *s, const struct manifest_list *names)
{
	return names && manifest_list_has(names, s->name);
}

int setup_services_start_set(struct setup_services *sv, const struct manifest_list *names,
			     const int *types, struct err *e)
{
	const struct manifest *m = sv->m;
	int *order = NULL, rc = -1;

	if (setup_services_order(m, &order, e))
		return -1;
	for (int k = 0; k < m->nservices; k++) {
		int i = order[k], type = types && types[i] ? types[i] : (int)m->services[i].start_type, r;
		const struct manifest_service *s = &m->services[i];
		int *restart = NULL, nrestart = 0;

		if (s->external || type < 0 || (names ? !in_set(s, names) : type != MANIFEST_START_AUTO))
			continue;
		if (type == MANIFEST_START_DISABLED) {
			setup_log(sv->c, 1, "service %s is disabled; not started", s->name);
			continue;
		}
		r = svc_running(sv, s, e);
		if (r < 0)
			goto out;
		if (r == 1) {
			setup_log(sv->c, 0, "service %s is already running", s->name);
			continue;
		}
		/* Conflicts: refuse while a conflicting service runs. */
		for (int c2 = 0; c2 < s->conflicts.n; c2++) {
			int j = svc_index(m, s->conflicts.items[c2]);

			if (j < 0)
				continue;
			r = svc_running(sv, &m->services[j], e);
			if (r < 0)
				goto out;
			if (r == 1) {
				err_set(e, ERR_CLASS_ROLLEDBACK, "service '%s' cannot start: it conflicts with '%s', which is running (constraint: conflicts = %s); stop '%s' first",
					s->name, m->services[j].name, s->conflicts.items[c2], m->services[j].name);
				goto out;
			}
		}
		/* Dependencies must run first. */
		for (int d = 0; d < s->depends_on.n; d++) {
			int j = svc_index(m, s->depends_on.items[d]);
			const struct manifest_service *ds = j >= 0 ? &m->services[j] : NULL;

			if (!ds)
				continue;
			r = svc_running(sv, ds, e);
			if (r < 0)
				goto out;
			if (r == 0 && (!ds->start || svc_start(sv, ds, "(a dependency)", e))) {
				if (!err_is_set(e))
					err_set(e, ERR_CLASS_ROLLEDBACK, "service '%s' has no start command", ds->name);
				err_prefix(e, "service '%s' depends on '%s' (constraint: depends_on = %s), which is not running and could not be started",
					   s->name, ds->name, ds->name);
				goto out;
			}
		}
		/* Services that must start after s but already run: stop them now. */
		restart = mem_array((size_t)m->nservices + 1, sizeof(int));
		if (!restart) {
			err_nomem(e, "starting services");
			goto out;
		}
		for (int j = 0; j < m->nservices; j++) {
			const struct manifest_service *x = &m->services[j];

			if (j == i || !before(s, x) || !x->status)
				continue;
			r = svc_running(sv, x, e);
			if (r == 1) {
				char why[512];

				before_why(s, x, why, sizeof(why));
				setup_log(sv->c, 1, "service %s must start before %s (constraint %s), which is running: stopping %s first",
					  s->name, x->name, why, x->name);
				if (svc_stop(sv, x, e))
					r = -1;
				else
					restart[nrestart++] = j;
			}
			if (r < 0) {
				mem_free(restart);
				goto out;
			}
		}
		if (svc_start(sv, s, NULL, e)) {
			mem_free(restart);
			goto out;
		}
		for (int q = 0; q < nrestart; q++)
			if (svc_start(sv, &m->services[restart[q]], "again", e)) {
				mem_free(restart);
				err_prefix(e, "service '%s' was stopped so that '%s' could start before it, and", m->services[restart[q]].name, s->name);
				goto out;
			}
		mem_free(restart);
	}
	rc = 0;
out:
	mem_free(order);
	return rc;
}

int setup_services_stop_set(struct setup_services *sv, const struct manifest_list *names, struct err *e)
{
	const struct manifest *m = sv->m;
	int *order = NULL, rc = -1;

	if (setup_services_order(m, &order, e))
		return -1;
	for (int k = m->nservices - 1; k >= 0; k--) {
		const struct manifest_service *s = &m->services[order[k]];
		int r;

		if (names ? !in_set(s, names) : s->external)
			continue;
		r = svc_running(sv, s, e);
		if (r < 0 || (r == 1 && svc_stop(sv, s, e)))
			goto out;
	}
	rc = 0;
out:
	mem_free(order);
	return rc;
}

int setup_services_undo(struct setup_services *sv, struct err *e)
{
	int rc = 0;

	for (int i = sv->ndone - 1; i >= 0; i--) {
		const struct manifest_service *s = sv->done[i].s;
		struct err ue;

		err_clear(&ue);
		setup_log(sv->c, 1, "rollback: %s service %s", sv->done[i].started ? "stopping" : "starting", s->name);
		fault_point("service undo");
		if ((sv->done[i].started ? sv->be->stop(s, &sv->env, &ue) : sv->be->start(s, &sv->env, &ue)) != 0) {
			setup_log(sv->c, 1, "rollback: %s", ue.msg);
			if (rc == 0 && e)
				*e = ue;
			rc = -1;
		}
	}
	setup_services_keep(sv);
	return rc;
}
