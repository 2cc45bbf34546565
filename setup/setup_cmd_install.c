/*
 * setup_cmd_install.c - `setup install`, `setup plan` and `setup repair`:
 * the data flow of DESIGN.md. Plan each file; journal the whole plan; stream
 * the payloads into a private staging directory, verified; place each new
 * file beside its final path; switch them in (hard-link backup + rename);
 * register modules with the retry ladder; write the product's registry
 * entries; commit the state; clean up. Any failure after the journal rolls
 * everything back and says so; Ctrl-C and SIGTERM do the same.
 */
#include "setup.h"
#include "setup_proc.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/fault.h"
#include "common/mem.h"
#include "common/names.h"
#include "common/os.h"
#include "common/path.h"
#include "payload/payload.h"
#include "register/reg.h"

static volatile sig_atomic_t cancelled;

/* Ctrl-C, SIGTERM, SIGHUP (Windows: the console's control events) set
 * cancelled, which the steps below check; a running command is killed. */
static void catch_signals(struct setup_ctx *c)
{
	setup_proc_catch_cancel(&cancelled);
	c->cancel = (volatile int *)&cancelled;
}

static int check_cancel(struct err *e, const char *when)
{
	if (cancelled)
		return err_set(e, ERR_CLASS_ROLLEDBACK, "cancelled by a signal %s", when);
	return 0;
}

static void progress(const struct setup_opts *o, const char *phase, const char *item,
		     uint64_t bytes_done, uint64_t bytes_total, int done, int total)
{
	struct setup_progress p = { phase, item, bytes_done, bytes_total, done, total };

	if (o->progress)
		o->progress(o->progress_ctx, &p);
}

/* Stream each payload once and place every new file for the switch. */
static int stage_files(struct setup_ctx *c, struct setup_txn *t, const struct manifest *m,
		       const struct setup_plan *p, const char *media_dir, struct err *e)
{
	int rc = -1;

	if (setup_txn_make_dirs(c, t, e))
		return -1;
	for (int k = 0; k < m->npayloads; k++) {
		const struct manifest_payload *pl = &m->payloads[k];
		struct payload_want *wants = mem_array((size_t)p->nitems + 1, sizeof(*wants));
		int *opix = mem_array((size_t)p->nitems + 1, sizeof(int));
		struct payload_staged_list got = { NULL, 0 };
		struct payload_limits lim = { pl->entries + 1, pl->unpacked + 1 };
		char *archive = mem_printf("%s/%s", media_dir, pl->archive);
		size_t nw = 0;
		int bad = 0;

		if (!wants || !opix || !archive) {
			mem_free(wants);
			mem_free(opix);
			mem_free(archive);
			err_nomem(e, "staging");
			goto out;
		}
		for (int i = 0, op = 0; i < p->nitems; i++) {
			const struct setup_plan_item *it = &p->items[i];
			const struct manifest_component *comp = manifest_component_find(m, it->f->component);

			if (it->action != SETUP_INSTALL && it->action != SETUP_REPLACE)
				continue;
			if (comp && strcmp(comp->payload, pl->name) == 0) {
				wants[nw].name = it->f->entry;
				wants[nw].size = it->f->size;
				wants[nw].sha256 = it->f->sha256;
				wants[nw].mode = t->ops[op].mode;
				wants[nw].dest = setup_txn_new_path(c, &t->ops[op]);
				opix[nw] = op;
				if (!wants[nw++].dest) {
					err_nomem(e, "staging");
					bad = 1;
					break;
				}
			}
			op++;
		}
		fault_point("stage: extract payload");
		if (!bad && nw && payload_extract(archive, NULL, wants, nw, &lim, &got, e))
			bad = 1;
		for (size_t j = 0; !bad && j < got.n; j++) {
			const struct setup_op *o = &t->ops[opix[got.items[j].want]];

			c->placed_bytes += got.items[j].size;
			c->placed_items++;
			progress(c->o, "files", o->path, c->placed_bytes, c->total_bytes, c->placed_items, t->nops);
		}
		if (!bad && check_cancel(e, "while copying files"))
			bad = 1;
		if (!bad && nw && got.n != nw) {
			err_set(e, ERR_CLASS_MEDIA, "payload '%s' lacks %zu of the %zu entries the manifest lists; the media is incomplete",
				archive, nw - got.n, nw);
			bad = 1;
		}
		payload_staged_list_free(&got);
		for (size_t j = 0; j < nw; j++)
			mem_free((char *)wants[j].dest);
		mem_free(wants);
		mem_free(opix);
		mem_free(archive);
		if (bad)
			goto out;
	}
	rc = 0;
out:
	return rc;
}

/* Registration order: a module registers after the modules it names in
 * `after` (acyclic, checked when the manifest was loaded). */
static int *registration_order(const struct setup_plan *p, int *n)
{
	int *order = mem_array((size_t)p->nitems + 1, sizeof(int));
	int *done = mem_array((size_t)p->nitems + 1, sizeof(int));
	int k = 0, progress = 1;

	if (!order || !done) {
		mem_free(order);
		mem_free(done);
		return NULL;
	}
	while (progress) {
		progress = 0;
		for (int i = 0; i < p->nitems; i++) {
			const struct setup_plan_item *it = &p->items[i];
			int ready = 1;

			if (done[i] || it->action == SETUP_SKIP || !(it->f->flags & MANIFEST_FILE_SELFREG))
				continue;
			for (int a = 0; a < it->f->after.n; a++)
				for (int j = 0; j < p->nitems; j++)
					if (!done[j] && j != i && strcmp(p->items[j].f->id, it->f->after.items[a]) == 0 &&
					    p->items[j].action != SETUP_SKIP && (p->items[j].f->flags & MANIFEST_FILE_SELFREG))
						ready = 0;
			if (ready) {
				order[k++] = i;
				done[i] = 1;
				progress = 1;
			}
		}
	}
	mem_free(done);
	*n = k;
	return order;
}

/* The product's own registry entries, tokens expanded, applied as one
 * capture set under the module name "product:<code>". */
static int write_product_registry(struct setup_ctx *c, struct setup_txn *t, const struct manifest *m,
				  const struct setup_plan *p, struct err *e)
{
	struct reg_writes w;
	char module[256];
	int rc = -1;

	reg_writes_init(&w);
	snprintf(module, sizeof(module), "product:%s", m->product.code);
	for (int i = 0; i < m->nregentries; i++) {
		const struct manifest_regentry *r = &m->regentries[i];
		const struct manifest_component *comp = manifest_component_find(m, r->component);
		unsigned char bin[512];
		size_t len = 0;
		char *data = NULL;
		const char *d = r->data;
		uint32_t type = (uint32_t)r->type;

		if (comp && !p->selected[comp - m->components])
			continue;
		if (strncmp(d, "{app}", 5) == 0) {
			data = mem_printf("%s%s", p->install_dir, d + 5);
			if (!data) {
				err_nomem(e, "writing registry entries");
				goto out;
			}
			d = data;
		}
		/* Map manifest types onto REG_* numbers: SZ=1 EXPAND_SZ=2 BINARY=3 DWORD=4 MULTI_SZ=7 NONE=0 QWORD=11. */
		switch (r->type) {
		case MANIFEST_REG_SZ: type = 1; len = strlen(d) + 1; memcpy(bin, d, len < sizeof(bin) ? len : sizeof(bin)); break;
		case MANIFEST_REG_EXPAND_SZ: type = 2; len = strlen(d) + 1; memcpy(bin, d, len < sizeof(bin) ? len : sizeof(bin)); break;
		case MANIFEST_REG_MULTI_SZ: {
			type = 7;
			for (const char *s = d; *s && len < sizeof(bin) - 2; s++)
				bin[len++] = *s == ',' ? '\0' : (unsigned char)*s;
			bin[len++] = '\0';
			bin[len++] = '\0';
			break;
		}
		case MANIFEST_REG_DWORD: {
			uint32_t v = (uint32_t)strtoul(d, NULL, 0);

			type = 4; len = 4; memcpy(bin, &v, 4);
			break;
		}
		case MANIFEST_REG_QWORD: {
			uint64_t v = strtoull(d, NULL, 0);

			type = 11; len = 8; memcpy(bin, &v, 8);
			break;
		}
		case MANIFEST_REG_BINARY:
			type = 3;
			for (const char *s = d; *s && len < sizeof(bin); ) {
				unsigned v;

				if (*s == ',' || *s == ' ') {
					s++;
					continue;
				}
				if (sscanf(s, "%2x", &v) != 1)
					break;
				bin[len++] = (unsigned char)v;
				s += 2;
			}
			break;
		case MANIFEST_REG_NONE:
			type = 0;
			break;
		}
		if (len > sizeof(bin)) {
			mem_free(data);
			err_set(e, ERR_CLASS_INPUT, "registry entry '%s' is longer than %zu bytes", r->id, sizeof(bin));
			goto out;
		}
		if (reg_writes_add(&w, REG_W_KEY_CREATE, r->key, NULL, 0, NULL, 0, e) ||
		    reg_writes_add(&w, REG_W_VALUE_SET, r->key, r->value, type, bin, len, e)) {
			mem_free(data);
			goto out;
		}
		mem_free(data);
	}
	if (w.n == 0) {
		rc = 0;
		goto out;
	}
	if (setup_txn_note_module(c, t, module, e) || setup_state_begin(c, e))
		goto out;
	if (reg_writes_apply(c->store, module, &w, NULL, e) || setup_state_commit(c, e)) {
		setup_state_rollback(c);
		goto out;
	}
	setup_log(c, 0, "wrote %zu registry entries of %s", w.n / 2, m->product.code);
	rc = 0;
out:
	reg_writes_destroy(&w);
	return rc;
}

/* Start type of each service of m for this install: -1 when it is not
 * installed (external, or its component is not selected), else the
 * answer file's [service NAME] start_type or the definition's. */
static int *service_types(const struct manifest *m, const struct setup_plan *p, const struct manifest *answers)
{
	int *types = mem_array((size_t)m->nservices + 1, sizeof(int));

	if (!types)
		return NULL;
	for (int i = 0; i < m->nservices; i++) {
		const struct manifest_service *s = &m->services[i];
		const struct manifest_component *comp = s->component ? manifest_component_find(m, s->component) : NULL;

		types[i] = (int)s->start_type;
		if (s->external || (comp && !p->selected[comp - m->components]))
			types[i] = -1;
		for (int k = 0; answers && types[i] > 0 && k < answers->nservice_answers; k++)
			if (strcmp(answers->service_answers[k].name, s->name) == 0 && answers->service_answers[k].start_type)
				types[i] = answers->service_answers[k].start_type;
	}
	return types;
}

/* Whether the transaction replaces path at the next restart. */
static int op_at_restart(const struct setup_txn *t, const char *path)
{
	for (int i = 0; i < t->nops; i++)
		if (t->ops[i].kind == SETUP_OP_PUT_RESTART && strcmp(t->ops[i].path, path) == 0)
			return 1;
	return 0;
}

struct install_args {
	const char *op;            /* "install" or "repair" */
	const char *product;       /* repair: the installed product */
};

static int do_install(const struct setup_opts *o, const struct install_args *a, struct err *e)
{
	struct setup_ctx c;
	struct setup_opts oo = *o;
	struct manifest *m = NULL, *ans = NULL;
	const struct manifest *answers = NULL;
	struct setup_plan p;
	struct setup_txn t;
	struct setup_product prev;
	struct manifest_list comps = { NULL, 0 }, *chosen = NULL;
	const char *install_dir;
	int rc = -1, journaled = 0, have_prev = 0, pending = 0, restart = 0, ncount[5] = { 0 };
	char *manifest_text = NULL;
	struct setup_services sv;
	int *svc_types = NULL;

	memset(&p, 0, sizeof(p));
	memset(&t, 0, sizeof(t));
	memset(&prev, 0, sizeof(prev));
	memset(&sv, 0, sizeof(sv));
	if (strcmp(a->op, "repair") == 0)
		oo.reinstall_mode = "c";
	if (setup_media_load(&oo, &m, e))
		return -1;
	if (m->kind != MANIFEST_MEDIA) {
		manifest_free(m);
		return err_set(e, ERR_CLASS_USAGE, "'%s' holds a service pack; apply it with 'setup sp apply --media %s'", o->media, o->media);
	}
	if (!a->product && !o->answers_m && setup_answers_load(&oo, m, &ans, e))
		goto out_nolock;
	answers = o->answers_m ? o->answers_m : ans;
	if (setup_ctx_open(&c, &oo, a->op, e))
		goto out;
	catch_signals(&c);
	have_prev = setup_state_product(&c, m->product.code, &prev, e);
	if (have_prev < 0)
		goto out;
	if (a->product) {
		if (strcmp(a->product, m->product.code) != 0) {
			err_set(e, ERR_CLASS_USAGE, "the media holds '%s', not '%s'", m->product.code, a->product);
			goto out;
		}
		if (!have_prev) {
			err_set(e, ERR_CLASS_NOTFOUND, "product '%s' is not installed on '%s'; install it first", a->product,
				c.root[0] ? c.root : "/");
			goto out;
		}
		if (manifest_list_parse("state", 0, "components", prev.components, &comps, e))
			goto out;
		chosen = &comps;
		install_dir = prev.install_dir;
	} else {
		install_dir = answers->answers.install_dir ? answers->answers.install_dir : m->product.default_dir;
		chosen = answers->answers.components_set ? (struct manifest_list *)&answers->answers.components : NULL;
		if (have_prev && strcmp(prev.install_dir, install_dir) != 0) {
			err_set(e, ERR_CLASS_USAGE, "%s is already installed in '%s'; uninstall it first to install it in '%s'",
				m->product.name, prev.install_dir, install_dir);
			goto out;
		}
	}
	{
		char mv[MANIFEST_VERSION_STRMAX];

		setup_log(&c, 1, "%s %s %s from '%s' into '%s'%s%s", a->op, m->product.name,
			  manifest_version_format(&m->product.version, mv), o->media, install_dir,
			  have_prev ? "; installed now: " : "", have_prev ? prev.version : "");
	}
	if (setup_plan_build(&c, m, install_dir, chosen, &p, e))
		goto out;
	for (int i = 0; i < p.nitems; i++) {
		ncount[p.items[i].action]++;
		if (p.items[i].action != SETUP_SKIP)
			setup_log(&c, 0, "plan: %s %s: %s", setup_action_name(p.items[i].action), p.items[i].path, p.items[i].rule);
	}
	setup_log(&c, 1, "plan: %d to install, %d to replace, %d to keep", ncount[SETUP_INSTALL], ncount[SETUP_REPLACE], ncount[SETUP_KEEP]);
	/* A module that could not load is refused now, while nothing has changed. */
	if (setup_needed_check(&c, &p, o->media, e)) {
		setup_log(&c, 0, "%s refused: %s", a->op, e->msg);
		goto out;
	}

	/* The transaction. */
	if (setup_txn_init(&t, a->op, m->product.code, e))
		goto out;
	t.restart_ok = 1;   /* a file in use is replaced at the next restart */
	for (int i = 0; i < p.nitems; i++) {
		const struct setup_plan_item *it = &p.items[i];
		char *keep = NULL;

		if (it->action != SETUP_INSTALL && it->action != SETUP_REPLACE)
			continue;
		if (it->action == SETUP_REPLACE && it->foreign) {
			keep = mem_printf("/%s/%s/%d-%s", SK_BACKUP_DIR, m->product.code, i, path_basename(it->path));
			if (!keep) {
				err_nomem(e, "planning backups");
				goto out;
			}
		}
		rc = setup_txn_add(&t, SETUP_OP_PUT, it->path, it->exists, keep, it->f->mode, e);
		mem_free(keep);
		if (rc)
			goto out;
		rc = -1;
	}
	if (setup_txn_begin(&c, &t, e))
		goto out;
	journaled = 1;
	if (setup_services_init(&sv, &c, m, install_dir, a->op, t.id, e) ||
	    !(svc_types = service_types(m, &p, answers))) {
		if (!err_is_set(e))
			err_nomem(e, "preparing services");
		goto rollback;
	}
	if (setup_extensions_run(&c, m, MANIFEST_POINT_BEFORE_FILES, p.selected, install_dir, a->op, t.id, e))
		goto rollback;
	c.total_bytes = p.bytes;
	progress(o, "staging", NULL, 0, p.bytes, 0, t.nops);
	if (check_cancel(e, "before copying files") || stage_files(&c, &t, m, &p, o->media, e))
		goto rollback;
	if (check_cancel(e, "before switching files in") || setup_txn_apply(&c, &t, e))
		goto rollback;
	for (int i = 0; i < t.nops; i++)
		restart += t.ops[i].kind == SETUP_OP_PUT_RESTART;
	if (restart)
		setup_log(&c, 1, "files in place: %d installed, %d replaced, %d of them at the next restart",
			  ncount[SETUP_INSTALL], ncount[SETUP_REPLACE], restart);
	else
		setup_log(&c, 1, "files in place: %d installed, %d replaced", ncount[SETUP_INSTALL], ncount[SETUP_REPLACE]);
	if (setup_extensions_run(&c, m, MANIFEST_POINT_AFTER_FILES, p.selected, install_dir, a->op, t.id, e))
		goto rollback;

	/* Registration, in dependency order. */
	{
		int n = 0, *order = registration_order(&p, &n);

		if (!order) {
			err_nomem(e, "ordering registrations");
			goto rollback;
		}
		for (int k = 0; k < n; k++) {
			struct setup_plan_item *it = &p.items[order[k]];
			int repaired = 0;

			/* A kept module already registered by this product stays as it is. */
			if (it->action == SETUP_KEEP && have_prev && strcmp(a->op, "repair") != 0)
				continue;
			if (check_cancel(e, "during registration")) {
				mem_free(order);
				goto rollback;
			}
			/* Still the old file until the restart: registered after it. */
			if (restart && op_at_restart(&t, it->path)) {
				setup_log(&c, 1, "registration of %s waits for the restart that replaces it; 'setup recover' "
					  "runs it after the restart", it->path);
				continue;
			}
			progress(o, "registration", it->path, p.bytes, p.bytes, k, n);
			if (setup_register_module(&c, &t, m, o->media, it->f, it->path, &repaired, e)) {
				if (it->f->flags & MANIFEST_FILE_DEFER) {
					setup_log(&c, 1, "registration of %s is deferred (flag 'defer'): %s; 'setup recover' retries it",
						  it->path, e->msg);
					it->rule = "registration pending";
					pending++;
					err_clear(e);
					continue;
				}
				mem_free(order);
				goto rollback;
			}
			/* The ladder replaced the module from the media, the old copy
			 * kept in the backup area: the file is now the media's and
			 * ours to record, so uninstall restores the old copy and
			 * undoes the registration (a kept foreign file would be
			 * neither). */
			if (repaired) {
				it->action = SETUP_REPLACE;
				it->foreign = 1;
				it->rule = "registration failed and the copy on disk differed from the media's: replaced from the media, the old copy kept";
			}
		}
		mem_free(order);
	}
	if (check_cancel(e, "before writing registry entries") || write_product_registry(&c, &t, m, &p, e))
		goto rollback;
	if (setup_extensions_run(&c, m, MANIFEST_POINT_AFTER_REGISTRATION, p.selected, install_dir, a->op, t.id, e))
		goto rollback;
	/* Services, in solved order; undone (stopped) if anything below fails. */
	if (answers && answers->answers.start_services &&
	    (check_cancel(e, "before starting services") || setup_services_start_set(&sv, NULL, svc_types, e)))
		goto rollback;

	/* Commit: the state says installed, the journal says committed. */
	{
		FILE *mf = os_fopen(m->path, "rb");   /* the bytes as they are (Windows: no CRLF mapping) */
		size_t cap = 0, len = 0;

		if (mf) {
			for (;;) {
				char *g;
				size_t r;

				if (len + 4096 + 1 > cap) {
					cap = cap ? cap * 2 : 65536;
					g = mem_realloc(manifest_text, cap);
					if (!g) {
						fclose(mf);
						err_nomem(e, "recording the product");
						goto rollback;
					}
					manifest_text = g;
				}
				r = fread(manifest_text + len, 1, cap - len - 1, mf);
				len += r;
				if (r == 0)
					break;
			}
			fclose(mf);
			manifest_text[len] = '\0';
		}
	}
	if (!manifest_text) {
		err_errno(e, "cannot read the media manifest '%s' to record it", m->path);
		goto rollback;
	}
	progress(o, "commit", NULL, p.bytes, p.bytes, t.nops, t.nops);
	if (check_cancel(e, "before commit") || setup_state_begin(&c, e))
		goto rollback;
	{
		struct setup_product np;
		char ver[MANIFEST_VERSION_STRMAX], comps_buf[4096];
		size_t u = 0;

		comps_buf[0] = '\0';
		for (int i = 0; i < m->ncomponents; i++)
			if (p.selected[i])
				u += (size_t)snprintf(comps_buf + u, u < sizeof(comps_buf) ? sizeof(comps_buf) - u : 0, "%s%s",
						      u ? ", " : "", m->components[i].name);
		memset(&np, 0, sizeof(np));
		np.code = m->product.code;
		np.name = m->product.name;
		np.version = have_prev ? prev.version : manifest_version_format(&m->product.version, ver);
		np.level = have_prev ? prev.level : m->level;
		np.install_dir = (char *)install_dir;
		np.components = comps_buf;
		np.manifest = manifest_text;
		if (setup_state_product_put(&c, &np, e))
			goto rollback_sql;
		for (int i = 0; i < p.nitems; i++) {
			const struct setup_plan_item *it = &p.items[i];
			struct setup_file_rec fr;
			char fv[MANIFEST_VERSION_STRMAX];

			/* A file kept because someone else's copy is newer or is
			 * their configuration never becomes ours to remove; a
			 * module among them was registered by us, and uninstall
			 * undoes that. */
			if (it->action == SETUP_KEEP && it->foreign && (it->f->flags & MANIFEST_FILE_SELFREG) &&
			    setup_state_kept_module_put(&c, m->product.code, it->path, e))
				goto rollback_sql;
			if (it->action == SETUP_SKIP || (it->action == SETUP_KEEP && it->foreign))
				continue;
			memset(&fr, 0, sizeof(fr));
			fr.path = it->path;
			fr.product = m->product.code;
			fr.file_id = it->f->id;
			fr.component = it->f->component;
			fr.size = it->f->size;
			fr.mode = it->f->mode;
			fr.flags = it->f->flags;
			fr.version = manifest_version_format(&it->f->version, fv);
			/* A kept file is recorded as it is on disk, so verify and
			 * uninstall judge it by what is really there. */
			fr.sha256 = (it->action == SETUP_KEEP && it->disk_sha256[0]) ? (char *)it->disk_sha256 : (char *)it->f->sha256;
			if (it->action == SETUP_KEEP && it->disk_version[0])
				fr.version = (char *)it->disk_version;
			if (setup_state_file_put(&c, &fr, e))
				goto rollback_sql;
			if (strcmp(it->rule, "registration pending") == 0 &&
			    setup_state_pending_put(&c, m->product.code, it->path, SETUP_PENDING_DEFERRED, e))
				goto rollback_sql;
		}
		for (int i = 0; i < t.nops; i++) {
			const struct setup_op *op = &t.ops[i];

			if ((op->kind == SETUP_OP_PUT || op->kind == SETUP_OP_PUT_RESTART) && op->keep &&
			    setup_state_backup_put(&c, m->product.code, op->path, op->keep, e))
				goto rollback_sql;
			if (op->kind == SETUP_OP_PUT_RESTART &&
			    setup_state_pending_put(&c, m->product.code, op->path, SETUP_PENDING_RESTART, e))
				goto rollback_sql;
		}
		for (int i = 0; i < t.ndirs; i++)
			if (setup_state_dir_put(&c, m->product.code, t.dirs[i], e))
				goto rollback_sql;
		for (int i = 0; i < m->nservices; i++)
			if (svc_types[i] > 0 && setup_state_service_put(&c, m->product.code, m->services[i].name, svc_types[i], e))
				goto rollback_sql;
		if (setup_txn_mark_committed(&c, &t, e) || setup_state_commit(&c, e))
			goto rollback_sql;
	}
	/* STATE: committed; only cleanup remains (recovery would finish it). */
	setup_services_keep(&sv);
	if (setup_txn_finish(&c, &t, e)) {
		/* Past the commit there is no rolling back: say it is installed. */
		err_prefix(e, "%s of %s is complete, but cleaning up after it failed; 'setup recover' finishes the cleanup. Cause",
			   a->op, m->product.name);
		setup_log(&c, 1, "%s", e->msg);
		goto out;
	}
	progress(o, "done", NULL, p.bytes, p.bytes, t.nops, t.nops);
	if (restart)
		setup_log(&c, 1, "%s of %s complete, but %d file%s in use %s replaced at the next restart: restart the "
			  "computer, then run 'setup recover' to finish; log: %s", a->op, m->product.name, restart,
			  restart == 1 ? "" : "s", restart == 1 ? "is" : "are", c.log_file);
	else
		setup_log(&c, 1, "%s of %s complete%s; log: %s", a->op, m->product.name,
			  pending ? " with registrations pending" : "", c.log_file);
	if (o->json)
		printf("{\"result\":\"%s\",\"product\":\"%s\",\"installed\":%d,\"replaced\":%d,\"kept\":%d,\"pending\":%d,"
		       "\"restart\":%d,\"log\":",
		       restart ? "restart" : pending ? "pending" : "ok", m->product.code, ncount[SETUP_INSTALL],
		       ncount[SETUP_REPLACE], ncount[SETUP_KEEP], pending, restart),
		setup_json_str(stdout, c.log_file), printf("}\n");
	rc = pending || restart ? 1 : 0;
	goto out;

rollback_sql:
	setup_state_rollback(&c);
rollback:
	{
		struct err re;

		setup_log(&c, 1, "%s failed: %s", a->op, e->msg);
		/* Stop what we started while its files are still there. */
		if (setup_services_undo(&sv, &re))
			setup_log(&c, 1, "rollback of services: %s", re.msg);
		if (journaled && setup_txn_rollback(&c, &t, &re) != 0) {
			err_prefix(e, "%s failed and the rollback failed too (%s); run 'setup recover'", a->op, re.msg);
			goto out;
		}
		err_prefix(e, "%s of %s failed and was rolled back; the system is as it was before. Cause", a->op, m->product.name);
		if (e->cls != ERR_CLASS_MEDIA && e->cls != ERR_CLASS_NOMEM)
			e->cls = ERR_CLASS_ROLLEDBACK;
		setup_log(&c, 1, "rolled back; log: %s", c.log_file);
	}
out:
	setup_services_destroy(&sv);
	mem_free(svc_types);
	setup_ctx_close(&c);
out_nolock:
	mem_free(manifest_text);
	setup_txn_destroy(&t);
	setup_plan_destroy(&p);
	setup_product_destroy(&prev);
	manifest_list_free(&comps);
	manifest_free(ans);
	manifest_free(m);
	return rc;
}

int setup_cmd_install(const struct setup_opts *o, struct err *e)
{
	struct install_args a = { "install", NULL };

	return do_install(o, &a, e);
}

int setup_cmd_repair(const struct setup_opts *o, const char *product, struct err *e)
{
	struct install_args a = { "repair", product };

	return do_install(o, &a, e);
}

int setup_cmd_plan(const struct setup_opts *o, struct err *e)
{
	struct setup_ctx c;
	struct manifest *m = NULL, *ans = NULL;
	struct setup_plan p;
	int rc = -1;

	memset(&p, 0, sizeof(p));
	if (setup_media_load(o, &m, e))
		return -1;
	if (o->answers && setup_answers_load(o, m, &ans, e))
		goto out_nolock;
	if (setup_ctx_open(&c, o, "plan", e))
		goto out;
	if (setup_plan_build(&c, m, ans && ans->answers.install_dir ? ans->answers.install_dir : m->product.default_dir,
			     ans && ans->answers.components_set ? &ans->answers.components : NULL, &p, e) ||
	    setup_needed_check(&c, &p, o->media, e))
		goto out;
	setup_plan_print(&p, stdout, o->json);
	rc = 0;
out:
	setup_ctx_close(&c);
out_nolock:
	setup_plan_destroy(&p);
	manifest_free(ans);
	manifest_free(m);
	return rc;
}
