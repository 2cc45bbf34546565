/*
 * setup_plan.c - deciding what to do with each file, and saying why.
 *
 * Windows Installer's default file versioning rules (REINSTALLMODE "o"):
 *   - a missing file is installed;
 *   - a higher version replaces a lower one, a lower never replaces a higher;
 *   - a versioned file beats an unversioned one, in both directions;
 *   - two unversioned files: the one on disk is kept when it was modified
 *     since it was installed, replaced otherwise;
 *   - a file identical to the media's is kept.
 * Beyond them: with equal versions, a copy whose content differs both from
 * the media and from what the state database recorded is corrupt or foreign
 * and is replaced from the media, the old copy kept as a backup (the "copy
 * the DLL from the CD" repair, automatic and reversible). The reinstall-mode
 * letters p, o, e, d, c, a override as in msiexec /f.
 */
#include "setup.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/mem.h"
#include "common/os.h"
#include "payload/payload.h"

const char *setup_action_name(enum setup_action a)
{
	switch (a) {
	case SETUP_INSTALL: return "install";
	case SETUP_REPLACE: return "replace";
	case SETUP_KEEP: return "keep";
	case SETUP_SKIP: return "skip";
	}
	return "unknown";
}

/* Decide for one file that exists on disk. */
static int decide_existing(struct setup_ctx *c, struct setup_plan_item *it, const char *real, struct err *e)
{
	const struct manifest_file *f = it->f;
	struct payload_hash h;
	struct setup_file_rec rec;
	struct manifest_version dv;
	int have_rec, cmp;
	char mv[MANIFEST_VERSION_STRMAX];

	if (payload_hash_file(real, &h, e))
		return -1;
	memcpy(it->disk_sha256, h.sha256, sizeof(it->disk_sha256));
	if (setup_file_version(real, &dv, e))
		return -1;
	manifest_version_format(&dv, it->disk_version);
	have_rec = setup_state_file_any(c, it->path, &rec, e);
	if (have_rec < 0)
		return -1;
	if (have_rec)
		snprintf(it->state_sha256, sizeof(it->state_sha256), "%s", rec.sha256);
	it->foreign = !have_rec;
	setup_file_rec_destroy(&rec);
	manifest_version_format(&f->version, mv);

	if (c->mode & SETUP_MODE_A) {
		it->action = SETUP_REPLACE;
		it->rule = "reinstall mode 'a': every file is replaced";
	} else if (strcmp(it->disk_sha256, f->sha256) == 0) {
		it->action = SETUP_KEEP;
		it->rule = "the file on disk is identical to the media's";
	} else if (c->mode & SETUP_MODE_P) {
		it->action = SETUP_KEEP;
		it->rule = "reinstall mode 'p': only missing files are installed";
	} else if (c->mode & SETUP_MODE_C) {
		it->action = SETUP_REPLACE;
		it->rule = "reinstall mode 'c': the checksum differs from the media's";
	} else if (f->version.nparts && dv.nparts) {
		cmp = manifest_version_cmp(&f->version, &dv);
		if (cmp > 0) {
			it->action = SETUP_REPLACE;
			it->rule = "the media's version is higher than the installed version";
		} else if (cmp < 0) {
			it->action = (c->mode & SETUP_MODE_D) ? SETUP_REPLACE : SETUP_KEEP;
			it->rule = (c->mode & SETUP_MODE_D) ? "reinstall mode 'd': the installed version differs"
				: "the installed version is higher than the media's: never downgrade";
		} else if (c->mode & SETUP_MODE_E) {
			it->action = SETUP_REPLACE;
			it->rule = "reinstall mode 'e': equal versions are reinstalled";
		} else if (it->state_sha256[0] && strcmp(it->state_sha256, it->disk_sha256) == 0) {
			it->action = SETUP_KEEP;
			it->rule = "same version, and the copy on disk is the one the installed state records";
		} else {
			it->action = SETUP_REPLACE;
			it->rule = "same version but the content differs from the media and from the installed state "
				   "(a corrupt or foreign copy): replaced from the media, the old copy kept";
			it->foreign = 1;   /* keep the old copy for uninstall */
		}
	} else if (f->version.nparts) {
		it->action = SETUP_REPLACE;
		it->rule = "a versioned file from the media replaces an unversioned one";
	} else if (dv.nparts) {
		it->action = SETUP_KEEP;
		it->rule = "the installed file is versioned and the media's is not: keep it";
	} else if (it->state_sha256[0] && strcmp(it->state_sha256, it->disk_sha256) != 0) {
		it->action = SETUP_KEEP;
		it->rule = "unversioned and modified since it was installed: keep the user's changes";
	} else if (it->foreign && (f->flags & MANIFEST_FILE_CONFIG)) {
		it->action = SETUP_KEEP;
		it->rule = "a configuration file is already present: keep it";
	} else {
		it->action = SETUP_REPLACE;
		it->rule = it->foreign ? "unversioned file not installed by setupkit: replaced, the old copy kept"
			: "unversioned and unmodified since it was installed";
	}
	return 0;
}

int setup_plan_build(struct setup_ctx *c, const struct manifest *m, const char *install_dir,
		     const struct manifest_list *components, struct setup_plan *p, struct err *e)
{
	memset(p, 0, sizeof(*p));
	p->m = m;
	if (!manifest_dir_native(install_dir))
		return err_set(e, ERR_CLASS_INPUT, "install directory '%s' of %s is not a path on this "
			       "system, like %s; choose one in the answer file's dir", install_dir,
			       m->product.name, manifest_dir_example);
	p->install_dir = mem_strdup(install_dir);
	p->selected = mem_array((size_t)m->ncomponents + 1, sizeof(int));
	p->items = mem_array((size_t)m->nfiles + 1, sizeof(*p->items));
	if (!p->install_dir || !p->selected || !p->items)
		return err_nomem(e, "planning");
	if (manifest_select(m, components, p->selected, e))
		return -1;
	for (int i = 0; i < m->nfiles; i++) {
		const struct manifest_file *f = &m->files[i];
		struct setup_plan_item *it = &p->items[p->nitems++];
		struct manifest_component *comp = manifest_component_find(m, f->component);
		struct stat st;
		char *real;

		it->f = f;
		it->path = manifest_dest_expand(f->dest, install_dir);
		if (!it->path)
			return err_nomem(e, "planning");
		if (comp && !p->selected[comp - m->components]) {
			it->action = SETUP_SKIP;
			it->rule = "its component is not selected";
			continue;
		}
		real = setup_real(c, it->path);
		if (!real)
			return err_nomem(e, "planning");
		if (os_lstat(real, &st) != 0) {
			if (errno != ENOENT) {
				err_errno(e, "cannot inspect '%s'", real);
				mem_free(real);
				return -1;
			}
			it->action = SETUP_INSTALL;
			it->rule = "the file is missing";
		} else if (S_ISDIR(st.st_mode)) {
			err_set(e, ERR_CLASS_IO, "'%s' (file '%s' of component '%s') is a directory on disk; move it away and run setup again",
				real, f->id, f->component);
			mem_free(real);
			return -1;
		} else if (!S_ISREG(st.st_mode)) {
			err_set(e, ERR_CLASS_IO, "'%s' (file '%s') exists and is not a regular file; setup does not replace links or devices: move it away and run setup again",
				real, f->id);
			mem_free(real);
			return -1;
		} else {
			it->exists = 1;
			if (decide_existing(c, it, real, e)) {
				mem_free(real);
				return -1;
			}
		}
		mem_free(real);
		if (it->action == SETUP_INSTALL || it->action == SETUP_REPLACE)
			p->bytes += f->size;
	}
	return 0;
}

void setup_plan_destroy(struct setup_plan *p)
{
	for (int i = 0; i < p->nitems; i++)
		mem_free(p->items[i].path);
	mem_free(p->items);
	mem_free(p->selected);
	mem_free(p->install_dir);
	memset(p, 0, sizeof(*p));
}

void setup_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch == '\n')
			fputs("\\n", f);
		else if (ch == '\t')
			fputs("\\t", f);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

void setup_plan_print(const struct setup_plan *p, FILE *f, int json)
{
	int count[5] = { 0 };
	char mv[MANIFEST_VERSION_STRMAX];

	for (int i = 0; i < p->nitems; i++)
		count[p->items[i].action]++;
	if (json) {
		fputs("{\"product\":", f);
		setup_json_str(f, p->m->product.code);
		fputs(",\"version\":", f);
		setup_json_str(f, manifest_version_format(&p->m->product.version, mv));
		fputs(",\"install_dir\":", f);
		setup_json_str(f, p->install_dir);
		fputs(",\"components\":[", f);
		for (int i = 0, k = 0; i < p->m->ncomponents; i++) {
			if (!p->selected[i])
				continue;
			fputs(k++ ? "," : "", f);
			setup_json_str(f, p->m->components[i].name);
		}
		fprintf(f, "],\"summary\":{\"install\":%d,\"replace\":%d,\"keep\":%d,\"skip\":%d,\"bytes\":%llu},\"files\":[",
			count[SETUP_INSTALL], count[SETUP_REPLACE], count[SETUP_KEEP], count[SETUP_SKIP],
			(unsigned long long)p->bytes);
		for (int i = 0; i < p->nitems; i++) {
			const struct setup_plan_item *it = &p->items[i];

			fputs(i ? ",{\"id\":" : "{\"id\":", f);
			setup_json_str(f, it->f->id);
			fputs(",\"component\":", f);
			setup_json_str(f, it->f->component);
			fputs(",\"path\":", f);
			setup_json_str(f, it->path);
			fputs(",\"action\":", f);
			setup_json_str(f, setup_action_name(it->action));
			fputs(",\"rule\":", f);
			setup_json_str(f, it->rule);
			fputs(",\"media_version\":", f);
			setup_json_str(f, manifest_version_format(&it->f->version, mv));
			fputs(",\"disk_version\":", f);
			setup_json_str(f, it->disk_version);
			fputs(",\"media_sha256\":", f);
			setup_json_str(f, it->f->sha256);
			fputs(",\"disk_sha256\":", f);
			setup_json_str(f, it->disk_sha256);
			fputs(",\"state_sha256\":", f);
			setup_json_str(f, it->state_sha256);
			fprintf(f, ",\"size\":%llu}", (unsigned long long)it->f->size);
		}
		fputs("]}\n", f);
		return;
	}
	fprintf(f, "%s %s into '%s': %d to install, %d to replace, %d to keep, %d skipped (%llu bytes to write)\n",
		p->m->product.name, manifest_version_format(&p->m->product.version, mv), p->install_dir,
		count[SETUP_INSTALL], count[SETUP_REPLACE], count[SETUP_KEEP], count[SETUP_SKIP],
		(unsigned long long)p->bytes);
	for (int i = 0; i < p->nitems; i++) {
		const struct setup_plan_item *it = &p->items[i];

		fprintf(f, "  %-7s %s  (%s)\n", setup_action_name(it->action), it->path, it->rule);
	}
}
