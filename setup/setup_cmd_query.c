/*
 * setup_cmd_query.c - the commands that look but do not change the system:
 * `setup verify` (every installed file's size, hash and mode, and every
 * module's classes activate), `setup status`, and `setup validate FILE`
 * (check any manifest or answer file).
 */
#include "setup.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/mem.h"
#include "common/os.h"
#include "payload/payload.h"
#include "register/reg.h"

/* Activation check: every CLSID whose InprocServer32 names this module
 * must load in a child and hand out its class object. Returns the number of
 * classes checked, -1 on failure (e says which class and why). */
static int check_activation(struct setup_ctx *c, const char *module, struct err *e)
{
	static const char clsids[] = "HKEY_LOCAL_MACHINE\\Software\\Classes\\CLSID";
	char *name = NULL;
	int checked = 0;

	for (size_t i = 0; ; i++) {
		char *key, *server;
		struct reg_value v;
		int rc;

		mem_free(name);
		name = NULL;
		rc = reg_key_subkey_at(c->store, clsids, i, &name, e);
		if (rc < 0)
			return -1;
		if (rc == 0)
			break;
		key = mem_printf("%s\\%s\\InprocServer32", clsids, name);
		if (!key)
			return err_nomem(e, "checking activation");
		memset(&v, 0, sizeof(v));
		rc = reg_value_get(c->store, key, "", &v, e);
		mem_free(key);
		if (rc < 0) {
			mem_free(name);
			return -1;
		}
		server = rc > 0 && v.data ? (char *)v.data : NULL;
		if (server && strcmp(server, module) == 0) {
			struct reg_run_opts ro;
			struct reg_run_result rr;

			memset(&ro, 0, sizeof(ro));
			memset(&rr, 0, sizeof(rr));
			ro.module = module;
			ro.entry = REG_ENTRY_CLASSOBJECT;
			ro.clsid = name;
			ro.root = c->root[0] ? c->root : "/";
			ro.helper = c->o->self;
			ro.timeout_ms = c->o->reg_timeout_ms;
			ro.quiet_child = 1;
			if (reg_run(&ro, &rr, e) != 0 || rr.stage != REG_STAGE_DONE) {
				if (!err_is_set(e))
					err_set(e, ERR_CLASS_MODULE, "class %s of '%s' does not activate: %s", name, module,
						rr.detail[0] ? rr.detail : "DllGetClassObject failed");
				reg_run_result_destroy(&rr);
				reg_value_destroy(&v);
				mem_free(name);
				return -1;
			}
			reg_run_result_destroy(&rr);
			checked++;
		}
		reg_value_destroy(&v);
	}
	mem_free(name);
	return checked;
}

static void problem(int json, int *n, const char *product, const char *path, const char *what)
{
	if (json) {
		printf("%s{\"product\":", (*n)++ ? "," : "");
		setup_json_str(stdout, product);
		printf(",\"path\":");
		setup_json_str(stdout, path);
		printf(",\"problem\":");
		setup_json_str(stdout, what);
		printf("}");
	} else {
		printf("%s: %s: %s\n", product, path, what);
		(*n)++;
	}
}

int setup_cmd_verify(const struct setup_opts *o, const char *product, struct err *e)
{
	struct setup_ctx c;
	char **codes = NULL;
	int ncodes = 0, problems = 0, checked = 0, rc = -1;

	if (setup_ctx_open(&c, o, "verify", e))
		goto out;
	if (product) {
		struct setup_product p;
		int f = setup_state_product(&c, product, &p, e);

		setup_product_destroy(&p);
		if (f <= 0) {
			if (f == 0)
				err_set(e, ERR_CLASS_NOTFOUND, "product '%s' is not installed", product);
			goto out;
		}
		codes = mem_array(1, sizeof(char *));
		if (!codes || !(codes[0] = mem_strdup(product))) {
			err_nomem(e, "verifying");
			goto out;
		}
		ncodes = 1;
	} else if (setup_state_products(&c, &codes, &ncodes, e)) {
		goto out;
	}
	if (o->json)
		printf("{\"problems\":[");
	for (int k = 0; k < ncodes; k++) {
		struct setup_file_rec *files = NULL;
		char **restart = NULL;
		int nfiles = 0, nrestart = 0;

		if (setup_state_files(&c, codes[k], &files, &nfiles, e))
			goto out;
		if (setup_state_pending_restart(&c, codes[k], &restart, &nrestart, e)) {
			setup_file_recs_free(files, nfiles);
			goto out;
		}
		for (int i = 0; i < nfiles; i++) {
			struct setup_file_rec *f = &files[i];
			char *real = setup_real(&c, f->path), msg[512];
			struct stat st;
			struct payload_hash h;
			struct err he;

			checked++;
			if (!real)
				continue;
			if (setup_strv_has(restart, nrestart, f->path)) {
				problem(o->json, &problems, codes[k], f->path,
					"in use: replaced at the next restart; restart the computer, then run 'setup recover'");
			} else if (os_lstat(real, &st) != 0) {
				problem(o->json, &problems, codes[k], f->path, "missing; run 'setup repair' with the media");
			} else if (payload_hash_file(real, &h, &he) != 0) {
				problem(o->json, &problems, codes[k], f->path, he.msg);
			} else if (h.size != f->size && strcmp(h.sha256, f->sha256) != 0) {
				snprintf(msg, sizeof(msg), "size %llu and content differ from what was installed (size %llu); run 'setup repair'",
					 (unsigned long long)h.size, (unsigned long long)f->size);
				problem(o->json, &problems, codes[k], f->path, msg);
			} else if (strcmp(h.sha256, f->sha256) != 0) {
				snprintf(msg, sizeof(msg), "content differs from what was installed (sha256 %.12s..., expected %.12s...); run 'setup repair'",
					 h.sha256, f->sha256);
				problem(o->json, &problems, codes[k], f->path, msg);
			} else if (os_has_modes() && (st.st_mode & 07777) != f->mode) {
				snprintf(msg, sizeof(msg), "mode %04o, expected %04o", st.st_mode & 07777, f->mode);
				problem(o->json, &problems, codes[k], f->path, msg);
			} else if (f->flags & MANIFEST_FILE_SELFREG) {
				struct err ae;

				err_clear(&ae);
				if (check_activation(&c, real, &ae) < 0)
					problem(o->json, &problems, codes[k], f->path, ae.msg);
			}
			mem_free(real);
		}
		setup_file_recs_free(files, nfiles);
		{
			char **pend = NULL;
			int np = 0;

			if (setup_state_pending(&c, codes[k], &pend, &np, e) == 0)
				for (int i = 0; i < np; i++)
					if (!setup_strv_has(restart, nrestart, pend[i]))
						problem(o->json, &problems, codes[k], pend[i], "registration is pending; run 'setup recover'");
			setup_strv_free(pend, np);
		}
		setup_strv_free(restart, nrestart);
	}
	if (o->json)
		printf("],\"files_checked\":%d,\"ok\":%s}\n", checked, problems ? "false" : "true");
	else
		printf("%d file%s checked, %d problem%s\n", checked, checked == 1 ? "" : "s", problems, problems == 1 ? "" : "s");
	if (problems)
		err_set(e, ERR_CLASS_NONE, "verify found %d problem%s", problems, problems == 1 ? "" : "s");
	else
		rc = 0;
out:
	setup_strv_free(codes, ncodes);
	setup_ctx_close(&c);
	return rc;
}

int setup_cmd_status(const struct setup_opts *o, struct err *e)
{
	struct setup_ctx c;
	char **codes = NULL;
	int n = 0, rc = -1;

	if (setup_ctx_open(&c, o, "status", e))
		goto out;
	if (setup_state_products(&c, &codes, &n, e))
		goto out;
	if (o->json)
		printf("{\"root\":\"%s\",\"products\":[", c.root[0] ? c.root : "/");
	else if (n == 0)
		printf("no products installed on '%s'\n", c.root[0] ? c.root : "/");
	for (int i = 0; i < n; i++) {
		struct setup_product p;
		struct setup_file_rec *files = NULL;
		char **pend = NULL, **restart = NULL;
		struct setup_sp_rec *sps = NULL;
		uint64_t spbytes = 0;
		int nf = 0, np = 0, nr = 0, nsp = 0, failed;

		failed = setup_state_product(&c, codes[i], &p, e) <= 0 || setup_state_files(&c, codes[i], &files, &nf, e) ||
			 setup_state_pending(&c, codes[i], &pend, &np, e) ||
			 setup_state_pending_restart(&c, codes[i], &restart, &nr, e) ||
			 setup_state_sps(&c, codes[i], &sps, &nsp, e) || setup_sp_backup_usage(&c, codes[i], &spbytes, e);
		if (failed) {
			/* what was read is freed below */
		} else if (o->json) {
			printf("%s{\"code\":", i ? "," : "");
			setup_json_str(stdout, p.code);
			printf(",\"name\":");
			setup_json_str(stdout, p.name);
			printf(",\"version\":");
			setup_json_str(stdout, p.version);
			printf(",\"level\":%d,\"install_dir\":", p.level);
			setup_json_str(stdout, p.install_dir);
			printf(",\"components\":");
			setup_json_str(stdout, p.components);
			printf(",\"files\":%d,\"pending\":[", nf);
			for (int k = 0; k < np; k++) {
				printf(k ? "," : "");
				setup_json_str(stdout, pend[k]);
			}
			printf("],\"restart\":[");
			for (int k = 0; k < nr; k++) {
				printf(k ? "," : "");
				setup_json_str(stdout, restart[k]);
			}
			printf("],\"service_packs\":[");
			for (int k = 0; k < nsp; k++) {
				printf("%s{\"level\":%d,\"name\":", k ? "," : "", sps[k].level);
				setup_json_str(stdout, sps[k].name);
				printf(",\"version\":");
				setup_json_str(stdout, sps[k].new_version);
				printf(",\"removable\":%s}", k == 0 ? "true" : "false");
			}
			printf("],\"sp_backup_bytes\":%llu}", (unsigned long long)spbytes);
		} else {
			char lvl[16] = "";

			if (p.level)
				snprintf(lvl, sizeof(lvl), " SP%d", p.level);
			printf("%s (%s) %s%s\n  installed in: %s\n  components:   %s\n  files:        %d\n",
			       p.name, p.code, p.version, lvl, p.install_dir, p.components, nf);
			if (p.level)
				printf("  service pack: SP%d\n", p.level);
			for (int k = 0; k < nsp; k++)
				printf("%s%sSP%d%s", k ? "" : "  removable:    ", k ? ", " : "", sps[k].level, k == nsp - 1 ? "\n" : "");
			if (nsp)
				printf("  sp backups:   %llu bytes (newest pack first: 'setup sp remove %s')\n",
				       (unsigned long long)spbytes, p.code);
			for (int k = 0; k < np; k++)
				printf("  %s %s\n", setup_strv_has(restart, nr, pend[k]) ? "replaced at the next restart:" :
				       "pending registration:", pend[k]);
		}
		setup_file_recs_free(files, nf);
		setup_strv_free(pend, np);
		setup_strv_free(restart, nr);
		for (int k = 0; k < nsp; k++)
			setup_sp_rec_destroy(&sps[k]);
		mem_free(sps);
		setup_product_destroy(&p);
		if (failed)
			goto out;
	}
	if (o->json)
		printf("]}\n");
	rc = 0;
out:
	setup_strv_free(codes, n);
	setup_ctx_close(&c);
	return rc;
}

int setup_cmd_validate(const char *path, struct err *e)
{
	struct manifest *m = NULL;
	char v[MANIFEST_VERSION_STRMAX];

	if (manifest_load(path, 0, &m, e))
		return -1;
	printf("%s: valid %s (format %d)\n", path, manifest_kind_name(m->kind), m->format);
	if (m->kind == MANIFEST_PRODUCT || m->kind == MANIFEST_MEDIA) {
		printf("product %s (%s) %s by %s, default directory '%s'\n", m->product.name, m->product.code,
		       manifest_version_format(&m->product.version, v), m->product.publisher ? m->product.publisher : "?",
		       m->product.default_dir);
		for (int i = 0; i < m->ncomponents; i++) {
			const struct manifest_component *comp = &m->components[i];

			printf("  component %-8s %s%s\n", comp->name, comp->default_on ? "" : "(off by default) ",
			       comp->description ? comp->description : "");
			for (int j = 0; j < m->nfiles; j++) {
				const struct manifest_file *f = &m->files[j];

				if (strcmp(f->component, comp->name) != 0)
					continue;
				printf("    %-44s %-12s%s%s%s\n", f->dest, f->version.nparts ? manifest_version_format(&f->version, v) : "-",
				       f->flags & MANIFEST_FILE_SELFREG ? " selfreg" : "", f->flags & MANIFEST_FILE_SHARED ? " shared" : "",
				       f->flags & MANIFEST_FILE_SERVICE ? " service" : "");
			}
		}
		for (int i = 0; i < m->nservices; i++)
			printf("  service %s%s\n", m->services[i].name, m->services[i].external ? " (external)" : "");
	} else if (m->kind == MANIFEST_SP || m->kind == MANIFEST_SP_MEDIA) {
		printf("service pack %d (%s) for %s, %d files\n", m->sp.level, m->sp.name ? m->sp.name : "", m->sp.product, m->nfiles);
	}
	manifest_free(m);
	return 0;
}
