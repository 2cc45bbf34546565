/*
 * mkmedia_slipstream.c - `mkmedia slipstream --base MEDIA --sp SPMEDIA`:
 * turn install media and a service pack into a product definition at the
 * pack's level, with a source tree holding every file, so `mkmedia build`
 * writes new install media from it. A fresh install from that media equals
 * base install + `setup sp apply`: each pack file replaces the base file of
 * the same id (or destination) or is added, the pack's registry entries
 * replace (or, remove = yes, delete) the base's entry for the same key and
 * value, the product version becomes the pack's new_version and [media]
 * level the pack's level, so later packs apply on top.
 */
#include "payload/mkmedia_slipstream.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "common/mem.h"
#include "common/os.h"
#include "common/names.h"
#include "common/path.h"
#include "payload/payload.h"

/* Extract every regular file of payload pl (of manifest m, files listed by
 * entry) into dir; each file's source becomes its path below src. */
static int extract_all(struct manifest *m, const char *media_dir, const struct manifest_payload *pl, int all,
		       const char *src, const char *sub, struct err *e)
{
	struct payload_want *wants = mem_array((size_t)m->nfiles + 1, sizeof(*wants));
	struct manifest_file **fs = mem_array((size_t)m->nfiles + 1, sizeof(*fs));
	struct payload_staged_list got = { NULL, 0 };
	struct payload_limits lim = { pl->entries + 1, pl->unpacked + 1 };
	char *archive = path_join(media_dir, pl->archive), *dir = path_join(src, sub);
	size_t n = 0;
	int rc = -1;

	if (!wants || !fs || !archive || !dir) {
		err_nomem(e, "slipstreaming");
		goto out;
	}
	for (int i = 0; i < m->nfiles; i++) {
		struct manifest_file *f = &m->files[i];
		const struct manifest_component *c = all ? NULL : manifest_component_find(m, f->component);

		if (!f->entry || (f->flags & MANIFEST_FILE_SYMLINK) || (!all && (!c || strcmp(c->payload, pl->name) != 0)))
			continue;
		wants[n].name = f->entry;
		wants[n].size = f->size;
		wants[n].sha256 = f->sha256;
		if (f->mode & 07002)
			wants[n].flags |= PAYLOAD_WANT_SPECIAL_MODE;
		fs[n++] = f;
	}
	if (n == 0) {
		rc = 0;
		goto out;
	}
	if (payload_staging_create(dir, e) || payload_extract(archive, dir, wants, n, &lim, &got, e))
		goto out;
	for (size_t j = 0; j < got.n; j++)
		for (size_t w = 0; w < n; w++) {
			if (strcmp(wants[w].name, got.items[j].name) != 0)
				continue;
			mem_free(fs[w]->source);
			/* got.items[j].path is below src: keep the part after "src/" */
			fs[w]->source = mem_strdup(got.items[j].path + strlen(src) + 1);
			if (!fs[w]->source) {
				err_nomem(e, "slipstreaming");
				goto out;
			}
		}
	if (got.n != n) {
		err_set(e, ERR_CLASS_MEDIA, "payload '%s' lacks %zu of the %zu entries its manifest lists", archive, n - got.n, n);
		goto out;
	}
	rc = 0;
out:
	payload_staged_list_free(&got);
	mem_free(wants);
	mem_free(fs);
	mem_free(archive);
	mem_free(dir);
	return rc;
}

static int list_copy(struct manifest_list *to, const struct manifest_list *from)
{
	to->items = mem_array((size_t)from->n + 1, sizeof(char *));
	to->n = 0;
	if (!to->items)
		return -1;
	for (int i = 0; i < from->n; i++) {
		if (!(to->items[i] = mem_strdup(from->items[i])))
			return -1;
		to->n++;
	}
	return 0;
}

/* Replace the fields of base file b by those of pack file s (ids kept). */
static int file_take(struct manifest_file *b, const struct manifest_file *s)
{
	char *comp = mem_strdup(s->component), *dest = mem_strdup(s->dest);
	char *target = s->target ? mem_strdup(s->target) : NULL;

	if (!comp || !dest || (s->target && !target)) {
		mem_free(comp);
		mem_free(dest);
		mem_free(target);
		return -1;
	}
	mem_free(b->component);
	mem_free(b->dest);
	mem_free(b->target);
	b->component = comp;
	b->dest = dest;
	b->target = target;
	b->mode = s->mode;
	b->version = s->version;
	b->flags = s->flags;
	b->size = s->size;
	memcpy(b->sha256, s->sha256, sizeof(b->sha256));
	mem_free(b->source);
	b->source = s->source ? mem_strdup(s->source) : NULL;
	return (s->source && !b->source) ? -1 : 0;
}

static int reg_take(struct manifest_regentry *b, const struct manifest_regentry *s)
{
	char *data = mem_strdup(s->data ? s->data : "");

	if (!data)
		return -1;
	mem_free(b->data);
	b->data = data;
	b->type = s->type;
	return 0;
}

int mkmedia_slipstream_prepare(const char *base_dir, const char *sp_dir, const char *src, struct manifest **out,
			       char **def, struct err *e)
{
	struct payload_media *bm = NULL, *sm = NULL;
	struct manifest *m = NULL, *s = NULL;
	char v1[MANIFEST_VERSION_STRMAX], v2[MANIFEST_VERSION_STRMAX], v3[MANIFEST_VERSION_STRMAX];
	int rc = -1;

	*out = NULL;
	*def = NULL;
	if (payload_media_open(base_dir, &bm, e) || payload_media_open(sp_dir, &sm, e))
		goto out;
	if (bm->is_sp || !sm->is_sp) {
		err_set(e, ERR_CLASS_USAGE, "--base '%s' must be install media and --sp '%s' service-pack media", base_dir, sp_dir);
		goto out;
	}
	if (manifest_load(bm->manifest_path, MANIFEST_MEDIA, &m, e) || manifest_load(sm->manifest_path, MANIFEST_SP_MEDIA, &s, e))
		goto out;
	if (strcmp(s->sp.product, m->product.code) != 0) {
		err_set(e, ERR_CLASS_USAGE, "%s (SP%d) is for product '%s', the base media '%s' holds '%s'", s->sp.name, s->sp.level,
			s->sp.product, base_dir, m->product.code);
		goto out;
	}
	{
		const struct manifest_version *mn = &s->sp.min_version;
		const struct manifest_version *mx = s->sp.max_version.nparts ? &s->sp.max_version : mn;

		if (s->sp.level <= m->level || (mn->nparts && manifest_version_cmp(&m->product.version, mn) < 0) ||
		    (mx->nparts && manifest_version_cmp(&m->product.version, mx) > 0)) {
			err_set(e, ERR_CLASS_USAGE, "the base media '%s' holds %s %s at SP%d; %s (SP%d) applies to versions %s - %s "
				"above SP%d only", base_dir, m->product.name, manifest_version_format(&m->product.version, v1),
				m->level, s->sp.name, s->sp.level, manifest_version_format(mn, v2), manifest_version_format(mx, v3),
				m->level);
			goto out;
		}
	}
	if (os_mkdir(src, 0700) != 0) {
		err_errno(e, "cannot create '%s'%s", src, errno == EEXIST ? " (left by an interrupted mkmedia? remove it)" : "");
		goto out;
	}
	for (int i = 0; i < m->npayloads; i++) {
		char sub[300];

		snprintf(sub, sizeof(sub), "base-%d", i);
		if (extract_all(m, base_dir, &m->payloads[i], 0, src, sub, e))
			goto out;
	}
	if (s->npayloads != 1) {
		err_set(e, ERR_CLASS_MEDIA, "%s: service-pack media holds exactly one payload, this one %d", sm->manifest_path, s->npayloads);
		goto out;
	}
	if (extract_all(s, sp_dir, &s->payloads[0], 1, src, "sp", e))
		goto out;

	/* Files: the pack's replace the base's of the same id or destination. */
	for (int i = 0; i < s->nfiles; i++) {
		const struct manifest_file *f = &s->files[i];
		int k;

		for (k = 0; k < m->nfiles; k++)
			if (strcmp(m->files[k].id, f->id) == 0 || strcmp(m->files[k].dest, f->dest) == 0)
				break;
		if (k == m->nfiles) {
			struct manifest_file *g = mem_realloc_array(m->files, (size_t)m->nfiles + 1, sizeof(*g));

			if (!g)
				goto nomem;
			m->files = g;
			memset(&m->files[k], 0, sizeof(m->files[k]));
			m->nfiles++;
			if (!(m->files[k].id = mem_strdup(f->id)) || list_copy(&m->files[k].after, &f->after))
				goto nomem;
		}
		if (file_take(&m->files[k], f))
			goto nomem;
	}
	/* Registry: same key and value name replaced; remove = yes deletes. */
	for (int i = 0; i < s->nregentries; i++) {
		const struct manifest_regentry *r = &s->regentries[i];
		int k;

		for (k = 0; k < m->nregentries; k++)
			if (strcasecmp(m->regentries[k].key, r->key) == 0 && strcasecmp(m->regentries[k].value, r->value) == 0)
				break;
		if (r->remove) {
			if (k < m->nregentries) {
				struct manifest_regentry gone = m->regentries[k];

				memmove(&m->regentries[k], &m->regentries[k + 1], (size_t)(m->nregentries - k - 1) * sizeof(gone));
				m->nregentries--;
				mem_free(gone.id);
				mem_free(gone.component);
				mem_free(gone.key);
				mem_free(gone.value);
				mem_free(gone.data);
			}
			continue;
		}
		if (k == m->nregentries) {
			struct manifest_regentry *g = mem_realloc_array(m->regentries, (size_t)m->nregentries + 1, sizeof(*g));
			char id[300];

			if (!g)
				goto nomem;
			m->regentries = g;
			memset(&g[k], 0, sizeof(g[k]));
			m->nregentries++;
			snprintf(id, sizeof(id), "sp%d-%s", s->sp.level, r->id);
			if (!(g[k].id = mem_strdup(id)) || !(g[k].component = mem_strdup(r->component ? r->component : "")) ||
			    !(g[k].key = mem_strdup(r->key)) || !(g[k].value = mem_strdup(r->value ? r->value : "")))
				goto nomem;
			if (!r->component) {
				mem_free(g[k].component);
				g[k].component = NULL;
			}
		}
		if (reg_take(&m->regentries[k], r))
			goto nomem;
	}
	m->product.version = s->sp.new_version;
	m->level = s->sp.level;
	for (int i = 0; i < m->npayloads; i++) {
		mem_free(m->payloads[i].name);
		mem_free(m->payloads[i].archive);
	}
	mem_free(m->payloads);
	m->payloads = NULL;
	m->npayloads = 0;
	m->kind = MANIFEST_PRODUCT;
	if (!(*def = mem_strdup(bm->manifest_path)))
		goto nomem;
	*out = m;
	m = NULL;
	rc = 0;
	goto out;
nomem:
	err_nomem(e, "slipstreaming");
out:
	manifest_free(m);
	manifest_free(s);
	payload_media_free(bm);
	payload_media_free(sm);
	return rc;
}
