/*
 * reg_runner.c - running a module's entry point in a child process, and the
 * retry ladder around it (reg_module_run).
 *
 * The parent never loads module code. It starts a child (the platform
 * side, reg_child_posix.c or reg_child_win32.c, says how: a process group
 * and a pipe on POSIX, a job object and a pipe handle on Windows), which
 * loads the module, calls the entry point and sends back, on its pipe:
 *   'F'        it could not set up (no store snapshot, no capture key)
 *   'L'        loading failed: the loader's text
 *   'E'        the module has no such entry point
 *   'C'        about to call the entry point
 *   'R'        the entry point returned: 4-byte HRESULT
 *   'W'        (success only) the encoded write log
 *   'D'        done; then it exits at once with status 0
 * Each message is 1 type byte, 4-byte length, payload.
 *
 * State diagram of one run (parent side, reg_run):
 *   SPAWNED --read 'L'--> LOAD | --'E'--> ENTRY | --'R' hr<0--> CALL
 *   SPAWNED --'R' hr>=0, 'W', 'D', exit 0--> DONE
 *   SPAWNED --deadline passed--> kill its process group / job --> TIMEOUT
 *   SPAWNED --child died otherwise--> CRASH (signal or exception, or exit mid-call)
 * Invariants:
 *  (1) Writes reach the parent only after the entry point returned success;
 *      reg_run itself never touches the store.
 *  (2) Every child is reaped before reg_run returns; on timeout its whole
 *      process group (job) is killed first.
 *  (3) reg_module_run applies a run's writes (or undoes captures) in exactly
 *      one transaction, so a failure at any point leaves the store unchanged.
 */
#include "reg_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "common/os.h"
#include "common/path.h"
#include <setupkit/reg.h>

#define REG_MSG_MAX (64u << 20)   /* largest write log a child may send */

int reg_parse_guid(const char *s, struct _GUID *g)
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

const char *reg_entry_symbol(enum reg_entry entry)
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
	default: return reg_entry_symbol(entry);
	}
}

void reg_run_result_destroy(struct reg_run_result *r)
{
	if (r)
		reg_writes_destroy(&r->writes);
}

/* 0; -1 when the child sent more than REG_MSG_MAX; -2 out of memory (ours,
 * not the module's fault: never reported as its crash). */
int reg_msgbuf_add(struct reg_msgbuf *m, const unsigned char *p, size_t n)
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

int reg_msgbuf_done(const struct reg_msgbuf *m)
{
	size_t off = 0;
	int done = 0;

	if (!(m->n >= 5 && m->b[m->n - 5] == 'D' && m->b[m->n - 4] == 0 && m->b[m->n - 1] == 0))
		return 0;
	while (off + 5 <= m->n) {
		uint32_t l;
		memcpy(&l, m->b + off + 1, 4);
		if (off + 5 + l > m->n)
			break;
		if (m->b[off] == 'D')
			done = 1;
		off += 5 + l;
	}
	return done && off == m->n;
}

static void set_detail(struct reg_run_result *r, const unsigned char *p, size_t n)
{
	if (n >= sizeof(r->detail))
		n = sizeof(r->detail) - 1;
	memcpy(r->detail, p, n);
	r->detail[n] = '\0';
}

/* Read the child's messages until 'D', EOF or the deadline; reap it;
 * classify how the run ended into r. */
static int run_finish(const struct reg_run_opts *o, struct reg_child *c, struct reg_run_result *r,
		      struct err *e)
{
	struct reg_child_end end;
	int rc = -1, nomem;
	int got_call = 0, got_result = 0, got_done = 0, got_writes = 0;

	memset(r, 0, sizeof(*r));
	reg_writes_init(&r->writes);
	reg_child_finish(c, &end);
	struct reg_msgbuf m = end.m;
	int timed_out = end.timed_out;
	nomem = end.nomem;
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
	} else if (got_result && got_done && got_writes && end.exited && end.exit_status == 0) {
		r->stage = REG_STAGE_DONE;
	} else {
		r->stage = REG_STAGE_CRASH;
		r->signal = end.signal;
		r->exception = end.exception;
		r->exit_status = end.exited ? end.exit_status : 0;
		if (!got_call)
			snprintf(r->detail, sizeof(r->detail), "while loading the module "
				 "(in a constructor)");
	}
	if (r->stage != REG_STAGE_DONE)
		reg_writes_destroy(&r->writes);
	rc = 0;
out:
	mem_free(m.b);
	return rc;
}

int reg_run(const struct reg_run_opts *o, struct reg_run_result *r, struct err *e)
{
	struct reg_child *c;

	memset(r, 0, sizeof(*r));
	reg_writes_init(&r->writes);
	if (reg_child_start(NULL, o, &c, e) < 0)
		return -1;
	return run_finish(o, c, r, e);
}


/* ----------------------------------------------------------- retry ladder */

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
			"%s (%s)", o->module, reg_entry_symbol(o->entry), r->detail);
		code = REG_EXIT_ENTRY;
		break;
	case REG_STAGE_CALL:
		err_set(e, ERR_CLASS_MODULE, "%s in '%s' failed with %s%s; the registry is unchanged",
			ep, o->module, reg_hresult_describe(r->hr, hrs, sizeof(hrs)), again);
		code = REG_EXIT_CALL;
		break;
	case REG_STAGE_CRASH:
		if (r->signal || r->exception) {
			char how[160];
			reg_crash_describe(r, how, sizeof(how));
			err_set(e, ERR_CLASS_MODULE, "module '%s' crashed in %s%s%s: %s%s; "
				"the registry is unchanged", o->module, ep, *r->detail ? " " : "",
				r->detail, how, again);
		} else
			err_set(e, ERR_CLASS_MODULE, "module '%s' ended its process (exit status %d) "
				"during %s%s%s without returning%s; the registry is unchanged",
				o->module, r->exit_status, ep, *r->detail ? " " : "", r->detail, again);
		code = REG_EXIT_CRASH;
		break;
	case REG_STAGE_TIMEOUT:
		err_set(e, ERR_CLASS_MODULE, "module '%s' did not return from %s within %.1f s; it was "
			"killed with every process it started%s; the registry is unchanged (raise --timeout "
			"if it is just slow)", o->module, ep,
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
			os_sleep_ms(delay);
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
					     (r.stage == REG_STAGE_LOAD && !path_exists(o->module)))) {
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
				reg_entry_symbol(o->entry), caps);
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
	struct reg_child *child[REG_JOBS_MAX];
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
	struct reg_server *srv = NULL;
	if (n > 1) {
		struct err se;
		err_clear(&se);
		if (reg_server_start(&opts[0], &srv, &se) < 0)
			srv = NULL;   /* one exec per module, as reg_run does */
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
			memset(&res[j], 0, sizeof(res[j]));
			reg_writes_init(&res[j].writes);
			started[j] = reg_child_start(srv, &opts[next], &child[j], &serr[j]) == 0;
			next++;
		}
		err_clear(&e);
		if (!started[k]) {
			e = serr[k];
			code = REG_EXIT_OLE;
			reg_run_result_destroy(&res[k]);
		} else if (run_finish(&opts[i], child[k], &res[k], &e) < 0) {
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
	reg_server_stop(srv);
	mem_free(res);
	mem_free(serr);
	return first_fail;
}
