/*
 * setup_needed.c - before anything changes: will each self-registering
 * module of the plan find the libraries it needs when it is loaded?
 *
 * For every selfreg file the plan installs, replaces or keeps, read its ELF
 * DT_NEEDED, DT_RUNPATH and DT_RPATH (reg_deps_read: no module code runs)
 * and look for each needed name where the loader will: the run path
 * ($ORIGIN is the module's final directory on the target system), then the
 * host loader's system directories. A directory "has" a library when the
 * plan installs a file there under that name, when the root already holds
 * it, or (system and absolute directories only) when the host does: the
 * registration child is loaded by the host's loader, and libc and friends
 * must never be reported missing. A kept module identical to the media's
 * is read where it is; every other one (to be installed, or kept but
 * different, which the registration ladder may replace from the media) is
 * read from a private staging copy of the media, verified like every
 * payload file, made under the state directory and removed before
 * returning: a refusal leaves the root, the registry and the state as they
 * were.
 *
 * Traps: a file that is not a (native) ELF object is not ours to judge and
 * is skipped; only direct dependencies are checked, the registration-time
 * diagnosis (reg_deps_diagnose, setup_register.c) stays the fallback.
 */
#include "setup.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/mem.h"
#include "common/names.h"
#include "common/os.h"
#include "common/path.h"
#include "payload/payload.h"
#include "register/reg.h"

/* A bounded, always NUL-terminated text buffer. */
struct needed_buf {
	char *s;
	size_t size, n;
};

static void nb_add(struct needed_buf *b, const char *fmt, ...) ERR_PRINTF(2, 3);
static void nb_add(struct needed_buf *b, const char *fmt, ...)
{
	va_list ap;
	int w;

	if (!b->s || b->size == 0 || b->n + 1 >= b->size)
		return;
	va_start(ap, fmt);
	w = vsnprintf(b->s + b->n, b->size - b->n, fmt, ap);
	va_end(ap);
	if (w < 0)
		return;
	b->n += (size_t)w;
	if (b->n >= b->size)
		b->n = b->size - 1;
}

/* 1 when the plan puts a file at target path `path`. */
static int plan_installs(const struct setup_plan *p, const char *path)
{
	for (int i = 0; i < p->nitems; i++)
		if (p->items[i].action != SETUP_SKIP && p->items[i].path && strcmp(p->items[i].path, path) == 0)
			return 1;
	return 0;
}

/* 1 when dir (a path on the target system) will hold name: the plan puts it
 * there, the root has it, or (host != 0) the host has it. -1: no memory. */
static int dir_has(const char *root, const struct setup_plan *p, const char *dir, const char *name, int host)
{
	char *t = path_join(dir, name), *r;
	struct stat st;
	int found;

	if (!t)
		return -1;
	found = plan_installs(p, t) || (host && os_stat(t, &st) == 0);
	if (!found && root[0]) {
		r = mem_printf("%s%s", root, t);
		if (!r) {
			mem_free(t);
			return -1;
		}
		found = os_stat(r, &st) == 0;
		mem_free(r);
	}
	mem_free(t);
	return found;
}

/* Expand $ORIGIN / ${ORIGIN} in one run-path entry; allocated. */
static char *expand_origin(const char *entry, size_t len, const char *origin, int *had_origin)
{
	struct needed_buf b;
	size_t cap = len + 1;

	*had_origin = 0;
	for (size_t i = 0; i + 7 <= len; i++)
		if (entry[i] == '$')
			cap += strlen(origin);
	b.s = mem_alloc(cap);
	b.size = cap;
	b.n = 0;
	if (!b.s)
		return NULL;
	b.s[0] = '\0';
	for (size_t i = 0; i < len;) {
		if (len - i >= 7 && strncmp(entry + i, "$ORIGIN", 7) == 0) {
			nb_add(&b, "%s", origin);
			i += 7;
			*had_origin = 1;
		} else if (len - i >= 9 && strncmp(entry + i, "${ORIGIN}", 9) == 0) {
			nb_add(&b, "%s", origin);
			i += 9;
			*had_origin = 1;
		} else {
			nb_add(&b, "%c", entry[i]);
			i++;
		}
	}
	return b.s;
}

int setup_needed_find(const char *root, const struct setup_plan *p, const char *module_path,
		      const struct reg_deps *d, const char *name, char *looked, size_t looked_size)
{
	const char *list = d->runpath ? d->runpath : d->rpath;
	const char *why = d->runpath ? "DT_RUNPATH" : "DT_RPATH";
	struct needed_buf lb = { looked, looked_size, 0 };
	char *origin = path_dirname(module_path);
	int found = 0;

	if (looked && looked_size)
		looked[0] = '\0';
	if (!origin)
		return -1;
	if (strchr(name, '/')) {
		/* A path, not a soname: the loader opens it as it is; a
		 * relative one depends on the working directory, not ours to judge. */
		char *dir = name[0] == '/' ? path_dirname(name) : NULL;

		if (name[0] != '/')
			found = 1;
		else
			found = dir ? dir_has(root, p, dir, path_basename(name), 1) : -1;
		nb_add(&lb, "%s (the path itself)", name);
		mem_free(dir);
		goto out;
	}
	while (list && *list && !found) {
		size_t n = strcspn(list, ":");
		int had_origin;
		char *dir = expand_origin(list, n, origin, &had_origin);

		if (!dir) {
			found = -1;
			break;
		}
		if (os_path_is_absolute(dir)) {
			/* $ORIGIN directories exist only in the root; absolute
			 * ones are searched by the host's loader too. */
			found = dir_has(root, p, dir, name, !had_origin);
			nb_add(&lb, "%s%s (%s%s)", lb.n ? ", " : "", dir, why, had_origin ? " $ORIGIN" : "");
		}
		mem_free(dir);
		list += n;
		if (*list == ':')
			list++;
	}
	for (size_t i = 0; i < d->nsysdirs && !found; i++) {
		found = dir_has(root, p, d->sysdirs[i], name, 1);
		nb_add(&lb, "%s%s", lb.n ? ", " : "", d->sysdirs[i]);
	}
	if (!found && d->nsysdirs)
		nb_add(&lb, " (system)");
out:
	mem_free(origin);
	return found;
}

/* Explain one missing library of module item `it` into b. */
static void explain_missing(const struct setup_plan *p, const struct setup_plan_item *it, const char *name,
			    const char *looked, struct needed_buf *b)
{
	const struct manifest *m = p->m;
	int said = 0;

	nb_add(b, "%s  missing library '%s'; looked in: %s", b->n ? "\n" : "", name, looked);
	for (int i = 0; i < m->nfiles; i++) {
		const struct manifest_file *f = &m->files[i];
		const struct manifest_component *comp = manifest_component_find(m, f->component);

		if (strcmp(path_basename(f->dest), path_basename(name)) != 0 || !comp)
			continue;
		said = 1;
		if (!p->selected[comp - m->components])
			nb_add(b, "\n  '%s' is provided by component '%s' (not selected; select it, or declare "
			       "`requires = %s` on component '%s')", name, comp->name, comp->name, it->f->component);
		else
			nb_add(b, "\n  component '%s' installs '%s' as '%s' (file '%s'), which is not in any directory "
			       "searched; install it beside the module or give the module a run path to it",
			       comp->name, name, p->items[i].path ? p->items[i].path : f->dest, f->id);
	}
	if (!said)
		nb_add(b, "\n  %s does not ship '%s': install the package providing it", m->product.name, name);
}

int setup_needed_check(struct setup_ctx *c, const struct setup_plan *p, const char *media_dir, struct err *e)
{
	const struct manifest *m = p->m;
	char **files = mem_array((size_t)p->nitems + 1, sizeof(char *));
	char *stage_rel = NULL, *stage = NULL, *msg = NULL;
	struct needed_buf b = { NULL, 0, 0 };
	int rc = -1, nbad = 0, staged = 0;

	if (!files)
		return err_nomem(e, "checking modules' libraries");
	/* 1. A readable copy of each module: the root's when it is kept as the media's, else staged. */
	for (int i = 0; i < p->nitems; i++) {
		const struct setup_plan_item *it = &p->items[i];

		if (it->action == SETUP_SKIP || !(it->f->flags & MANIFEST_FILE_SELFREG))
			continue;
		/* A kept copy that differs from the media's may yet be replaced
		 * by the registration ladder: judge the media's copy then. */
		if (it->action == SETUP_KEEP && strcmp(it->disk_sha256, it->f->sha256) == 0) {
			if (!(files[i] = setup_real(c, it->path))) {
				err_nomem(e, "checking modules' libraries");
				goto out;
			}
			continue;
		}
		staged++;
	}
	if (staged && media_dir) {
		stage_rel = mem_printf("/%s/stage-%ld-%ld-needed", SK_STATE_DIR, os_getpid(), (long)time(NULL));
		stage = stage_rel ? setup_real(c, stage_rel) : NULL;
		if (!stage) {
			err_nomem(e, "checking modules' libraries");
			goto out;
		}
		if (payload_staging_create(stage, e))
			goto out;
		for (int k = 0; k < m->npayloads; k++) {
			const struct manifest_payload *pl = &m->payloads[k];
			struct payload_want *wants = mem_array((size_t)p->nitems + 1, sizeof(*wants));
			int *idx = mem_array((size_t)p->nitems + 1, sizeof(int));
			struct payload_limits lim = { pl->entries + 1, pl->unpacked + 1 };
			struct payload_staged_list got = { NULL, 0 };
			char *archive = mem_printf("%s/%s", media_dir, pl->archive);
			size_t nw = 0;
			int bad = 0;

			if (!wants || !idx || !archive) {
				err_nomem(e, "checking modules' libraries");
				bad = 1;
			}
			for (int i = 0; !bad && i < p->nitems; i++) {
				const struct setup_plan_item *it = &p->items[i];
				const struct manifest_component *comp = manifest_component_find(m, it->f->component);

				if (it->action == SETUP_SKIP || files[i] ||
				    !(it->f->flags & MANIFEST_FILE_SELFREG) || !it->f->entry || !comp ||
				    strcmp(comp->payload, pl->name) != 0)
					continue;
				wants[nw].name = it->f->entry;
				wants[nw].size = it->f->size;
				wants[nw].sha256 = it->f->sha256;
				idx[nw++] = i;
			}
			if (!bad && nw && payload_extract(archive, stage, wants, nw, &lim, &got, e))
				bad = 1;
			for (size_t j = 0; !bad && j < got.n; j++) {
				files[idx[got.items[j].want]] = got.items[j].path;
				got.items[j].path = NULL;   /* handed over */
			}
			payload_staged_list_free(&got);
			mem_free(wants);
			mem_free(idx);
			mem_free(archive);
			if (bad)
				goto out;
		}
	}

	/* 2. Each module's needs, against the plan, the root and the host. */
	b.size = sizeof(e->msg);
	b.s = msg = mem_alloc(b.size);
	if (!msg) {
		err_nomem(e, "checking modules' libraries");
		goto out;
	}
	msg[0] = '\0';
	for (int i = 0; i < p->nitems; i++) {
		const struct setup_plan_item *it = &p->items[i];
		struct reg_deps d;
		struct err de;
		int head = 0;

		if (!files[i])
			continue;
		if (reg_deps_read(files[i], &d, &de)) {
			if (de.cls == ERR_CLASS_INPUT) {
				setup_log(c, 0, "libraries of module '%s' not checked: %s", it->path, de.msg);
				continue;
			}
			*e = de;
			goto out;
		}
		for (size_t k = 0; k < d.nneeded; k++) {
			char looked[1024];
			int f = setup_needed_find(c->root, p, it->path, &d, d.needed[k], looked, sizeof(looked));

			if (f < 0) {
				reg_deps_destroy(&d);
				err_nomem(e, "checking modules' libraries");
				goto out;
			}
			if (f)
				continue;
			if (!head++)
				nb_add(&b, "%smodule '%s' (file '%s' of component '%s') would not load:",
				       nbad ? "\n" : "", it->path, it->f->id, it->f->component);
			explain_missing(p, it, d.needed[k], looked, &b);
			nbad++;
		}
		reg_deps_destroy(&d);
	}
	if (nbad) {
		err_set(e, ERR_CLASS_INPUT, "%s\n  nothing was changed", msg);
		goto out;
	}
	rc = 0;
out:
	if (stage) {
		struct err re;

		if (path_remove_tree(stage, &re))
			setup_log(c, 1, "cannot remove the staging directory '%s': %s", stage, re.msg);
	}
	for (int i = 0; i < p->nitems; i++)
		mem_free(files[i]);
	mem_free(files);
	mem_free(stage);
	mem_free(stage_rel);
	mem_free(msg);
	return rc;
}
