/*
 * setup_cmd_sp.c - service packs: `setup sp apply --media DIR` and
 * `setup sp remove PRODUCT [LEVEL]`.
 *
 * Apply is one transaction like install: each file the pack replaces is a
 * PUT op whose old copy (the T.setupkit-old hard link) is MOVED into the
 * pack's backup store <root>/var/lib/setupkit/sp-backup/<product>/<level>/
 * at finish (the op's `keep`), so a backup costs a rename, never a copy.
 * Changed selfreg modules are re-registered (captured writes) and the
 * pack's registry entries are written under "product:<code>"; every capture
 * above the transaction's reg_mark belongs to the pack. The commit records
 * the new level and version and, in sk_sp*, what the pack changed: each
 * file's backup (none: the pack added it) and its state row before, the
 * modules whose captures it owns, the directories it created.
 *
 * Remove takes the most recent pack off: RESTORE ops link each backup back
 * over its path (no file content is copied), REMOVE ops take away files the
 * pack added, and in the commit's SQLite transaction the pack's registry
 * captures are undone (which puts back exactly what the earlier
 * registration wrote: no re-registration is needed), the state rows, level
 * and version go back, and the pack is forgotten; the finish drops the
 * store's links and the directories the pack created.
 *
 * Services (setup_service.c): apply stops the pack's restart_services that
 * run, in solved order, before the files switch, and starts them again
 * after the registry; removal does the same for every running service of
 * the product. A failure undoes the service changes with the rest; a
 * crash leaves them stopped (recovery does not start services).
 */
#include "setup.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/fault.h"
#include "common/mem.h"
#include "common/names.h"
#include "common/os.h"
#include "common/path.h"
#include "payload/payload.h"
#include "register/reg.h"

/* Stop the named services of the product that run (names NULL: all). */
static int sp_services_stop(struct setup_services *sv, const struct manifest *pm, const struct manifest_list *names,
			    struct err *e)
{
	struct manifest_list l = { NULL, 0 };
	int rc;

	if (!names)
		return setup_services_stop_set(sv, NULL, e);
	l.items = mem_array((size_t)names->n + 1, sizeof(char *));
	if (!l.items)
		return err_nomem(e, "stopping services");
	for (int i = 0; i < names->n; i++)
		if (manifest_service_find(pm, names->items[i]))
			l.items[l.n++] = names->items[i];
	rc = l.n ? setup_services_stop_set(sv, &l, e) : 0;
	mem_free(l.items);
	return rc;
}

/* Start again, in solved order, the services sp_services_stop stopped. */
static int sp_services_start(struct setup_services *sv, struct err *e)
{
	struct manifest_list l = { NULL, 0 };
	int rc;

	l.items = mem_array((size_t)sv->ndone + 1, sizeof(char *));
	if (!l.items)
		return err_nomem(e, "starting services");
	for (int i = 0; i < sv->ndone; i++)
		if (!sv->done[i].started)
			l.items[l.n++] = sv->done[i].s->name;
	rc = l.n ? setup_services_start_set(sv, &l, NULL, e) : 0;
	mem_free(l.items);
	return rc;
}

static char *store_dir(struct setup_ctx *c, const char *product, int level)
{
	char *rel = mem_printf("/%s/%s/%d", SK_SPBACKUP_DIR, product, level);
	char *real = rel ? setup_real(c, rel) : NULL;

	mem_free(rel);
	return real;
}

/* The pack's registry entries as one capture set of "product:<code>". */
static int sp_registry(struct setup_ctx *c, struct setup_txn *t, const struct manifest *m, const char *install_dir,
		       const struct manifest_list *comps, int *nwritten, struct err *e)
{
	struct reg_writes w;
	char module[256];
	int rc = -1;

	reg_writes_init(&w);
	*nwritten = 0;
	snprintf(module, sizeof(module), "product:%s", m->sp.product);
	for (int i = 0; i < m->nregentries; i++) {
		const struct manifest_regentry *r = &m->regentries[i];
		unsigned char bin[512];
		size_t len = 0;
		uint32_t type = 1;
		char *data = NULL;
		const char *d = r->data ? r->data : "";

		if (r->component && !manifest_list_has(comps, r->component))
			continue;
		if (r->remove) {
			if (reg_writes_add(&w, REG_W_VALUE_DELETE, r->key, r->value, 0, NULL, 0, e))
				goto out;
			continue;
		}
		if (strncmp(d, "{app}", 5) == 0) {
			if (!(data = mem_printf("%s%s", install_dir, d + 5))) {
				err_nomem(e, "writing registry entries");
				goto out;
			}
			d = data;
		}
		switch (r->type) {
		case MANIFEST_REG_SZ:
		case MANIFEST_REG_EXPAND_SZ:
			type = r->type == MANIFEST_REG_SZ ? 1 : 2;
			len = strlen(d) + 1;
			break;
		case MANIFEST_REG_MULTI_SZ:
			type = 7;
			len = strlen(d) + 2;
			break;
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
			err_set(e, ERR_CLASS_INPUT, "%s: registry entry '%s' is longer than %zu bytes", m->path, r->id, sizeof(bin));
			goto out;
		}
		if (r->type == MANIFEST_REG_SZ || r->type == MANIFEST_REG_EXPAND_SZ)
			memcpy(bin, d, len);
		else if (r->type == MANIFEST_REG_MULTI_SZ) {
			memcpy(bin, d, len - 1);
			bin[len - 1] = '\0';
			for (size_t k = 0; k + 2 < len; k++)
				if (bin[k] == ',')
					bin[k] = '\0';
		}
		mem_free(data);
		if (reg_writes_add(&w, REG_W_KEY_CREATE, r->key, NULL, 0, NULL, 0, e) ||
		    reg_writes_add(&w, REG_W_VALUE_SET, r->key, r->value, type, bin, len, e))
			goto out;
	}
	rc = 0;
	if (w.n == 0)
		goto out;
	rc = -1;
	if (setup_txn_note_module(c, t, module, e) || setup_state_begin(c, e))
		goto out;
	fault_point("sp: registry entries");
	if (reg_writes_apply(c->store, module, &w, NULL, e) || setup_state_commit(c, e)) {
		setup_state_rollback(c);
		goto out;
	}
	*nwritten = (int)w.n;
	rc = 0;
out:
	reg_writes_destroy(&w);
	return rc;
}

/* Extract the pack's wanted files, each as T.setupkit-new beside its T. */
static int sp_stage(struct setup_ctx *c, struct setup_txn *t, const struct manifest *m, const struct setup_plan *p,
		    const int *opix_of_item, const char *media_dir, struct err *e)
{
	struct payload_want *wants = mem_array((size_t)p->nitems + 1, sizeof(*wants));
	int *opix = mem_array((size_t)p->nitems + 1, sizeof(int));
	struct payload_staged_list got = { NULL, 0 };
	char *archive = NULL;
	size_t nw = 0;
	int rc = -1;

	if (!wants || !opix) {
		err_nomem(e, "staging");
		goto out;
	}
	for (int i = 0; i < p->nitems; i++) {
		if (opix_of_item[i] < 0)
			continue;
		wants[nw].name = p->items[i].f->entry;
		wants[nw].size = p->items[i].f->size;
		wants[nw].sha256 = p->items[i].f->sha256;
		wants[nw].mode = t->ops[opix_of_item[i]].mode;
		wants[nw].dest = setup_txn_new_path(c, &t->ops[opix_of_item[i]]);
		opix[nw] = opix_of_item[i];
		if (!wants[nw++].dest) {
			err_nomem(e, "staging");
			goto out;
		}
	}
	if (nw == 0) {
		rc = 0;
		goto out;
	}
	if (m->npayloads != 1) {
		err_set(e, ERR_CLASS_MEDIA, "%s: a service pack's media holds exactly one payload, this one %d", m->path, m->npayloads);
		goto out;
	}
	archive = mem_printf("%s/%s", media_dir, m->payloads[0].archive);
	if (!archive) {
		err_nomem(e, "staging");
		goto out;
	}
	if (setup_txn_make_dirs(c, t, e))
		goto out;
	{
		struct payload_limits lim = { m->payloads[0].entries + 1, m->payloads[0].unpacked + 1 };

		fault_point("sp: extract payload");
		if (payload_extract(archive, NULL, wants, nw, &lim, &got, e))
			goto out;
	}
	if (got.n != nw) {
		err_set(e, ERR_CLASS_MEDIA, "payload '%s' lacks %zu of the %zu entries the manifest lists; the media is incomplete",
			archive, nw - got.n, nw);
		goto out;
	}
	rc = 0;
out:
	payload_staged_list_free(&got);
	mem_free(archive);
	for (size_t j = 0; j < nw; j++)
		mem_free((char *)wants[j].dest);
	mem_free(wants);
	mem_free(opix);
	return rc;
}

int setup_sp_backup_usage(struct setup_ctx *c, const char *product, uint64_t *bytes, struct err *e)
{
	char *dir = store_dir(c, product, 0), *slash;
	struct os_dir *d1;
	const char *l;

	*bytes = 0;
	if (!dir)
		return err_nomem(e, "measuring the service pack backups");
	slash = strrchr(dir, '/');
	*slash = '\0';                   /* <store>/<product> */
	d1 = os_opendir(dir);
	while (d1 && (l = os_readdir(d1))) {
		char *sub;
		struct os_dir *d2;
		const char *f;

		if (l[0] == '.')
			continue;
		if (!(sub = mem_printf("%s/%s", dir, l)))
			break;
		d2 = os_opendir(sub);
		while (d2 && (f = os_readdir(d2))) {
			struct stat st;

			if (f[0] != '.' && os_lstat_at(os_dirfd(d2), sub, f, &st) == 0 && S_ISREG(st.st_mode))
				*bytes += (uint64_t)st.st_size;
		}
		os_closedir(d2);
		mem_free(sub);
	}
	os_closedir(d1);
	mem_free(dir);
	return 0;
}

static const struct setup_file_rec *find_rec(const struct setup_file_rec *v, int n, const char *path)
{
	for (int i = 0; i < n; i++)
		if (strcmp(v[i].path, path) == 0)
			return &v[i];
	return NULL;
}

int setup_cmd_sp_apply(const struct setup_opts *o, struct err *e)
{
	struct setup_ctx c;
	struct manifest *m = NULL, *pm = NULL;
	struct setup_services sv;
	int svinit = 0;
	struct setup_product prod;
	struct setup_plan p;
	struct setup_txn t;
	struct manifest_list comps = { NULL, 0 };
	struct setup_file_rec *files = NULL;
	struct manifest_version iv;
	int nfiles = 0, rc = -1, journaled = 0, found, nreg = 0, *opix = NULL, nput = 0, nreplace = 0;
	char spv[MANIFEST_VERSION_STRMAX], lo[MANIFEST_VERSION_STRMAX], hi[MANIFEST_VERSION_STRMAX];
	char *sdir = NULL;

	memset(&p, 0, sizeof(p));
	memset(&t, 0, sizeof(t));
	memset(&prod, 0, sizeof(prod));
	if (setup_media_load(o, &m, e))
		return -1;
	if (m->kind != MANIFEST_SP_MEDIA) {
		manifest_free(m);
		return err_set(e, ERR_CLASS_USAGE, "'%s' holds a product, not a service pack; install it with 'setup install --media %s'",
			       o->media, o->media);
	}
	if (setup_ctx_open(&c, o, "sp-apply", e))
		goto out;
	manifest_version_format(&m->sp.new_version, spv);
	found = setup_state_product(&c, m->sp.product, &prod, e);
	if (found <= 0) {
		if (found == 0)
			err_set(e, ERR_CLASS_NOTFOUND, "%s (SP%d) is for product '%s', which is not installed on '%s'; install it first",
				m->sp.name, m->sp.level, m->sp.product, c.root[0] ? c.root : "/");
		goto out;
	}
	if (m->sp.level <= prod.level) {
		err_set(e, ERR_CLASS_USAGE, "%s is installed at SP%d (version %s); the media '%s' holds %s (SP%d, version %s), "
			"which is not newer: a service pack older than or equal to the installed level is never applied; "
			"to go back, remove packs with 'setup sp remove %s'", prod.name, prod.level, prod.version, o->media,
			m->sp.name, m->sp.level, spv, prod.code);
		goto out;
	}
	if (manifest_version_parse(prod.version, &iv, e))
		goto out;
	{
		const struct manifest_version *mn = &m->sp.min_version;
		const struct manifest_version *mx = m->sp.max_version.nparts ? &m->sp.max_version : &m->sp.min_version;

		if ((mn->nparts && manifest_version_cmp(&iv, mn) < 0) || (mx->nparts && manifest_version_cmp(&iv, mx) > 0)) {
			err_set(e, ERR_CLASS_USAGE, "%s is installed at version %s (SP%d); the media '%s' holds %s (SP%d), which applies "
				"to versions %s - %s only: apply the service packs it requires first", prod.name, prod.version,
				prod.level, o->media, m->sp.name, m->sp.level, manifest_version_format(mn, lo),
				manifest_version_format(mx, hi));
			goto out;
		}
	}
	setup_log(&c, 1, "apply %s (SP%d) to %s %s (SP%d) in '%s'", m->sp.name, m->sp.level, prod.name, prod.version,
		  prod.level, prod.install_dir);
	if (manifest_list_parse("state", 0, "components", prod.components, &comps, e) ||
	    setup_state_files(&c, prod.code, &files, &nfiles, e) ||
	    setup_plan_build(&c, m, prod.install_dir, NULL, &p, e) ||
	    manifest_load_buffer("installed manifest", prod.manifest, strlen(prod.manifest), MANIFEST_MEDIA, &pm, e))
		goto out;

	/* A leftover store of this level (a pack removed by an interrupted run) goes. */
	sdir = store_dir(&c, prod.code, m->sp.level);
	if (!sdir) {
		err_nomem(e, "planning");
		goto out;
	}
	if (path_exists(sdir) && path_remove_tree(sdir, e))
		goto out;

	if (setup_txn_init(&t, "sp-apply", prod.code, e))
		goto out;
	opix = mem_array((size_t)p.nitems + 1, sizeof(int));
	if (!opix) {
		err_nomem(e, "starting the transaction");
		goto out;
	}
	for (int i = 0; i < p.nitems; i++) {
		struct setup_plan_item *it = &p.items[i];
		char *keep = NULL;

		opix[i] = -1;
		if (it->f->component && !manifest_list_has(&comps, it->f->component)) {
			it->action = SETUP_SKIP;
			it->rule = "its component is not installed";
		}
		if (it->action != SETUP_SKIP)
			setup_log(&c, 0, "plan: %s %s: %s", setup_action_name(it->action), it->path, it->rule);
		if (it->action != SETUP_INSTALL && it->action != SETUP_REPLACE)
			continue;
		if (it->exists &&
		    !(keep = mem_printf("/%s/%s/%d/%d-%s", SK_SPBACKUP_DIR, prod.code, m->sp.level, i, path_basename(it->path)))) {
			err_nomem(e, "planning backups");
			goto out;
		}
		rc = setup_txn_add(&t, SETUP_OP_PUT, it->path, it->exists, keep, it->f->mode, e);
		mem_free(keep);
		if (rc)
			goto out;
		rc = -1;
		opix[i] = t.nops - 1;
		nput++;
		nreplace += it->exists;
	}
	if (setup_txn_begin(&c, &t, e))
		goto out;
	journaled = 1;
	if (setup_services_init(&sv, &c, pm, prod.install_dir, "sp-apply", t.id, e))
		goto rollback;
	svinit = 1;
	if (sp_stage(&c, &t, m, &p, opix, o->media, e))
		goto rollback;
	fault_point("sp: stop services");
	if (sp_services_stop(&sv, pm, &m->sp.restart_services, e))
		goto rollback;
	if (setup_txn_apply(&c, &t, e))
		goto rollback;
	setup_log(&c, 1, "files in place: %d added, %d replaced (old copies kept for removal)", nput - nreplace, nreplace);
	for (int i = 0; i < p.nitems; i++) {
		int repaired = 0;

		if (opix[i] < 0 || !(p.items[i].f->flags & MANIFEST_FILE_SELFREG))
			continue;
		if (setup_register_module(&c, &t, m, o->media, p.items[i].f, p.items[i].path, &repaired, e))
			goto rollback;
	}
	if (sp_registry(&c, &t, m, prod.install_dir, &comps, &nreg, e))
		goto rollback;
	if (sp_services_start(&sv, e))
		goto rollback;

	/* Commit: level, version, file rows, and what the pack changed. */
	if (setup_state_begin(&c, e))
		goto rollback;
	{
		struct setup_product np = prod;
		struct setup_sp_rec r;

		np.level = m->sp.level;
		np.version = spv;
		memset(&r, 0, sizeof(r));
		r.level = m->sp.level;
		r.prev_level = prod.level;
		r.name = m->sp.name;
		r.prev_version = prod.version;
		r.new_version = spv;
		r.reg_mark = t.reg_mark;
		if (setup_state_product_put(&c, &np, e) || setup_state_sp_put(&c, prod.code, &r, e))
			goto rollback_sql;
		for (int i = 0; i < p.nitems; i++) {
			const struct setup_plan_item *it = &p.items[i];
			const struct setup_op *op;
			struct setup_file_rec fr;
			char fv[MANIFEST_VERSION_STRMAX];

			if (opix[i] < 0)
				continue;
			op = &t.ops[opix[i]];
			if (setup_state_sp_file_put(&c, prod.code, m->sp.level, it->path, op->keep,
						    find_rec(files, nfiles, it->path), e))
				goto rollback_sql;
			memset(&fr, 0, sizeof(fr));
			fr.path = it->path;
			fr.product = prod.code;
			fr.file_id = it->f->id;
			fr.component = it->f->component;
			fr.size = it->f->size;
			fr.mode = it->f->mode;
			fr.flags = it->f->flags;
			fr.version = manifest_version_format(&it->f->version, fv);
			fr.sha256 = (char *)it->f->sha256;
			if (setup_state_file_put(&c, &fr, e))
				goto rollback_sql;
		}
		for (int i = 0; i < t.nmodules; i++)
			if (setup_state_sp_module_put(&c, prod.code, m->sp.level, t.modules[i], e))
				goto rollback_sql;
		for (int i = 0; i < t.ndirs; i++)
			if (setup_state_sp_dir_put(&c, prod.code, m->sp.level, i, t.dirs[i], e) ||
			    setup_state_dir_put(&c, prod.code, t.dirs[i], e))
				goto rollback_sql;
		fault_point("sp: commit");
		if (setup_txn_mark_committed(&c, &t, e) || setup_state_commit(&c, e))
			goto rollback_sql;
	}
	/* STATE: committed; the old copies move into the store at finish. */
	setup_services_keep(&sv);
	if (setup_txn_finish(&c, &t, e)) {
		/* Past the commit there is no rolling back: say it is applied. */
		err_prefix(e, "%s is applied to %s, but cleaning up after it failed; 'setup recover' finishes the cleanup. Cause",
			   m->sp.name, prod.name);
		setup_log(&c, 1, "%s", e->msg);
		goto out;
	}
	setup_log(&c, 1, "%s is now at SP%d (version %s): %d file(s), %d registry write(s); remove with 'setup sp remove %s'; log: %s",
		  prod.name, m->sp.level, spv, nput, nreg, prod.code, c.log_file);
	if (o->json)
		printf("{\"result\":\"ok\",\"product\":\"%s\",\"level\":%d,\"version\":\"%s\",\"files\":%d,\"replaced\":%d}\n",
		       prod.code, m->sp.level, spv, nput, nreplace);
	rc = 0;
	goto out;

rollback_sql:
	setup_state_rollback(&c);
rollback:
	{
		struct err re;

		setup_log(&c, 1, "service pack failed: %s", e->msg);
		if (svinit && setup_services_undo(&sv, &re) != 0)
			setup_log(&c, 1, "could not put a service back as it was: %s", re.msg);
		if (journaled && setup_txn_rollback(&c, &t, &re) != 0) {
			err_prefix(e, "applying %s failed and the rollback failed too (%s); run 'setup recover'", m->sp.name, re.msg);
			goto out;
		}
		err_prefix(e, "applying %s (SP%d) to %s failed and was rolled back; it is still at SP%d (version %s). Cause",
			   m->sp.name, m->sp.level, prod.name, prod.level, prod.version);
		if (e->cls != ERR_CLASS_MEDIA && e->cls != ERR_CLASS_NOMEM)
			e->cls = ERR_CLASS_ROLLEDBACK;
	}
out:
	if (svinit)
		setup_services_destroy(&sv);
	setup_ctx_close(&c);
	manifest_free(pm);
	setup_file_recs_free(files, nfiles);
	mem_free(opix);
	mem_free(sdir);
	setup_txn_destroy(&t);
	setup_plan_destroy(&p);
	setup_product_destroy(&prod);
	manifest_list_free(&comps);
	manifest_free(m);
	return rc;
}

int setup_cmd_sp_remove(const struct setup_opts *o, const char *product, int level, struct err *e)
{
	struct setup_ctx c;
	struct setup_product prod;
	struct setup_sp_rec *sps = NULL;
	struct setup_sp_file *files = NULL;
	struct setup_txn t;
	struct manifest *pm = NULL;
	struct setup_services sv;
	int svinit = 0;
	char **mods = NULL, **dirs = NULL, *sdir = NULL;
	int nsps = 0, nfiles = 0, nmods = 0, ndirs = 0, rc = -1, journaled = 0, found;

	memset(&t, 0, sizeof(t));
	memset(&prod, 0, sizeof(prod));
	if (setup_ctx_open(&c, o, "sp-remove", e))
		goto out;
	found = setup_state_product(&c, product, &prod, e);
	if (found <= 0) {
		if (found == 0)
			err_set(e, ERR_CLASS_NOTFOUND, "product '%s' is not installed on '%s'; 'setup status' lists what is",
				product, c.root[0] ? c.root : "/");
		goto out;
	}
	if (setup_state_sps(&c, product, &sps, &nsps, e))
		goto out;
	if (nsps == 0) {
		err_set(e, ERR_CLASS_NOTFOUND, "%s (version %s) has no service pack to remove", prod.name, prod.version);
		goto out;
	}
	if (level && level != sps[0].level) {
		char buf[512];
		size_t u = 0;
		int known = 0;

		buf[0] = '\0';
		for (int i = 0; i < nsps; i++) {
			if (sps[i].level == level)
				known = 1;
			else if (sps[i].level > level)
				u += (size_t)snprintf(buf + u, u < sizeof(buf) ? sizeof(buf) - u : 0, "%sSP%d", u ? ", " : "", sps[i].level);
		}
		if (!known)
			err_set(e, ERR_CLASS_NOTFOUND, "SP%d is not applied to %s; it is at SP%d ('setup status' lists the removable packs)",
				level, prod.name, prod.level);
		else
			err_set(e, ERR_CLASS_USAGE, "SP%d of %s is not the most recent pack: remove %s first (newest first, with "
				"'setup sp remove %s')", level, prod.name, buf, product);
		goto out;
	}
	if (setup_state_sp_files(&c, product, sps[0].level, &files, &nfiles, e) ||
	    setup_state_sp_modules(&c, product, sps[0].level, &mods, &nmods, e) ||
	    setup_state_sp_dirs(&c, product, sps[0].level, &dirs, &ndirs, e) ||
	    manifest_load_buffer("installed manifest", prod.manifest, strlen(prod.manifest), MANIFEST_MEDIA, &pm, e))
		goto out;
	setup_log(&c, 1, "remove %s (SP%d) from %s: back to SP%d (version %s)", sps[0].name, sps[0].level, prod.name,
		  sps[0].prev_level, sps[0].prev_version);
	if (setup_txn_init(&t, "sp-remove", product, e))
		goto out;
	for (int i = 0; i < nfiles; i++) {
		char *real = setup_real(&c, files[i].rec.path);

		if (!real) {
			err_nomem(e, "planning the removal");
			goto out;
		}
		if (files[i].backup)
			rc = setup_txn_add(&t, SETUP_OP_RESTORE, files[i].rec.path, path_exists(real), files[i].backup, 0, e);
		else if (path_exists(real))
			rc = setup_txn_add(&t, SETUP_OP_REMOVE, files[i].rec.path, 1, NULL, 0, e);
		else
			rc = 0;
		mem_free(real);
		if (rc)
			goto out;
		rc = -1;
	}
	for (int i = 0; i < nfiles; i++) {
		char *bk;

		if (!files[i].backup)
			continue;
		bk = setup_real(&c, files[i].backup);
		if (!bk || !path_exists(bk)) {
			if (bk)
				err_set(e, ERR_CLASS_IO, "the backup '%s' of '%s' kept by SP%d is missing; SP%d cannot be removed "
					"exactly (restore the backup store from a system backup)", bk, files[i].rec.path,
					sps[0].level, sps[0].level);
			else
				err_nomem(e, "planning the removal");
			mem_free(bk);
			goto out;
		}
		mem_free(bk);
	}
	if (setup_txn_begin(&c, &t, e))
		goto out;
	journaled = 1;
	for (int i = 0; i < ndirs; i++)
		if (setup_txn_note_dir(&c, &t, dirs[i], e))
			goto rollback;
	/* The pack's backup store is journaled with the pack's directories:
	 * the finish removes it once it has dropped the store's links, so a
	 * crash after the commit (recovery runs the finish again) cannot
	 * leave it behind, empty. */
	if (!(sdir = mem_printf("/%s/%s/%d", SK_SPBACKUP_DIR, product, sps[0].level))) {
		err_nomem(e, "journaling the backup store");
		goto rollback;
	}
	if (setup_txn_note_dir(&c, &t, sdir, e))
		goto rollback;
	mem_free(sdir);
	sdir = NULL;
	if (setup_services_init(&sv, &c, pm, prod.install_dir, "sp-remove", t.id, e))
		goto rollback;
	svinit = 1;
	fault_point("sp: remove: stop services");
	if (sp_services_stop(&sv, pm, NULL, e))
		goto rollback;
	if (setup_txn_apply(&c, &t, e))
		goto rollback;
	if (sp_services_start(&sv, e))
		goto rollback;

	/* One SQLite transaction: the pack's registry captures undone, state
	 * rows, level and version back, the pack forgotten, journal committed. */
	if (setup_state_begin(&c, e))
		goto rollback;
	{
		unsigned conflicts = 0;
		struct setup_product np = prod;

		if (setup_state_sort_by_capture(&c, mods, nmods, e))
			goto rollback_sql;
		for (int i = 0; i < nmods; i++)
			if (reg_capture_undo(c.store, mods[i], sps[0].reg_mark + 1, &conflicts, e))
				goto rollback_sql;
		if (conflicts)
			setup_log(&c, 1, "%u registry value%s changed by someone else since the pack were left as they are",
				  conflicts, conflicts == 1 ? "" : "s");
		for (int i = 0; i < nfiles; i++)
			if (files[i].had_rec ? setup_state_file_put(&c, &files[i].rec, e)
			    : setup_state_file_delete(&c, product, files[i].rec.path, e))
				goto rollback_sql;
		for (int i = 0; i < ndirs; i++)
			if (setup_state_dir_delete(&c, product, dirs[i], e))
				goto rollback_sql;
		np.level = sps[0].prev_level;
		np.version = sps[0].prev_version;
		if (setup_state_product_put(&c, &np, e) || setup_state_sp_delete(&c, product, sps[0].level, e))
			goto rollback_sql;
		fault_point("sp: remove commit");
		if (setup_txn_mark_committed(&c, &t, e) || setup_state_commit(&c, e))
			goto rollback_sql;
	}
	/* STATE: committed; finish drops the store's links and the pack's dirs. */
	setup_services_keep(&sv);
	sdir = store_dir(&c, product, sps[0].level);
	if (setup_txn_finish(&c, &t, e) || (sdir && path_exists(sdir) && path_remove_tree(sdir, e))) {
		/* Past the commit there is no rolling back: say it is removed. */
		err_prefix(e, "%s is removed from %s, but cleaning up after it failed; 'setup recover' finishes the cleanup. Cause",
			   sps[0].name, prod.name);
		setup_log(&c, 1, "%s", e->msg);
		goto out;
	}
	setup_log(&c, 1, "removed %s; %s is at SP%d (version %s) again; log: %s", sps[0].name, prod.name, sps[0].prev_level,
		  sps[0].prev_version, c.log_file);
	rc = 0;
	goto out;
rollback_sql:
	setup_state_rollback(&c);
rollback:
	{
		struct err re;

		if (svinit && setup_services_undo(&sv, &re) != 0)
			setup_log(&c, 1, "could not put a service back as it was: %s", re.msg);
		if (journaled && setup_txn_rollback(&c, &t, &re) != 0)
			err_prefix(e, "removing SP%d failed and the rollback failed too (%s); run 'setup recover'", sps[0].level, re.msg);
		else
			err_prefix(e, "removing SP%d of %s failed and was rolled back; it is still applied. Cause", sps[0].level, product);
		e->cls = ERR_CLASS_ROLLEDBACK;
	}
out:
	for (int i = 0; i < nsps; i++)
		setup_sp_rec_destroy(&sps[i]);
	mem_free(sps);
	for (int i = 0; i < nfiles; i++)
		setup_sp_file_destroy(&files[i]);
	mem_free(files);
	setup_strv_free(mods, nmods);
	setup_strv_free(dirs, ndirs);
	mem_free(sdir);
	if (svinit)
		setup_services_destroy(&sv);
	manifest_free(pm);
	setup_txn_destroy(&t);
	setup_product_destroy(&prod);
	setup_ctx_close(&c);
	return rc;
}
