/*
 * manifest_write.c - writing a manifest in the current format, for mkmedia
 * (media and service-pack manifests) and the wizard (answer files). Output is
 * deterministic: sections in manifest order, keys in a fixed order. A value
 * that would not read back the same unquoted (leading or trailing blanks,
 * ';', '#', a leading quote) is quoted; a line that would not fit in
 * MANIFEST_MAX_LINE bytes is an error naming the item, so bad media is
 * refused when it is built, not when it is installed.
 */
#include "manifest_private.h"

#include <string.h>

struct writer {
	FILE *f;
	struct err *e;
	const char *where;        /* current section label, for messages */
	int failed;
};

static int needs_quotes(const char *v)
{
	size_t n = strlen(v);

	if (n == 0)
		return 0;
	if (v[0] == ' ' || v[0] == '\t' || v[n - 1] == ' ' || v[n - 1] == '\t' || v[0] == '"')
		return 1;
	return strpbrk(v, ";#") != NULL;
}

static void put(struct writer *w, const char *key, const char *value)
{
	char line[4 * MANIFEST_MAX_LINE];
	int n;

	if (w->failed || !value)
		return;
	if (strpbrk(value, "\r\n")) {
		err_set(w->e, ERR_CLASS_INPUT, "%s: value of '%s' holds a line break, which a manifest cannot store", w->where, key);
		w->failed = 1;
		return;
	}
	if (needs_quotes(value)) {
		char q[2 * MANIFEST_MAX_LINE + 3], *o = q;

		*o++ = '"';
		for (const char *p = value; *p && o < q + sizeof(q) - 3; p++) {
			if (*p == '"' || *p == '\\')
				*o++ = '\\';
			*o++ = *p;
		}
		*o++ = '"';
		*o = '\0';
		n = snprintf(line, sizeof(line), "%s = %s", key, q);
	} else {
		n = snprintf(line, sizeof(line), "%s = %s", key, value);
	}
	if (n < 0 || n > MANIFEST_MAX_LINE) {
		err_set(w->e, ERR_CLASS_INPUT, "%s: '%s' is too long for a manifest line (%d bytes at most): %.60s...",
			w->where, key, MANIFEST_MAX_LINE, value);
		w->failed = 1;
		return;
	}
	if (fprintf(w->f, "%s\n", line) < 0) {
		err_errno(w->e, "cannot write the manifest");
		w->failed = 1;
	}
}

static void put_u64(struct writer *w, const char *key, uint64_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	put(w, key, buf);
}

static void put_list(struct writer *w, const char *key, const struct manifest_list *l)
{
	char buf[4 * MANIFEST_MAX_LINE];
	size_t u = 0;

	if (!l->n)
		return;
	buf[0] = '\0';
	for (int i = 0; i < l->n; i++)
		u += (size_t)snprintf(buf + u, u < sizeof(buf) ? sizeof(buf) - u : 0, "%s%s", i ? ", " : "", l->items[i]);
	put(w, key, buf);
}

static void put_version(struct writer *w, const char *key, const struct manifest_version *v)
{
	char buf[MANIFEST_VERSION_STRMAX];

	if (v->nparts)
		put(w, key, manifest_version_format(v, buf));
}

static void section(struct writer *w, char *label, size_t n, const char *type, const char *name)
{
	if (name)
		snprintf(label, n, "[%s %s]", type, name);
	else
		snprintf(label, n, "[%s]", type);
	w->where = label;
	if (!w->failed && fprintf(w->f, "\n%s\n", label) < 0) {
		err_errno(w->e, "cannot write the manifest");
		w->failed = 1;
	}
}

static void write_file(struct writer *w, const struct manifest *m, const struct manifest_file *f)
{
	static const struct { unsigned bit; const char *name; } flags[] = {
		{ MANIFEST_FILE_SELFREG, "selfreg" }, { MANIFEST_FILE_SHARED, "shared" },
		{ MANIFEST_FILE_SERVICE, "service" }, { MANIFEST_FILE_CONFIG, "config" },
		{ MANIFEST_FILE_DEFER, "defer" }, { MANIFEST_FILE_SYMLINK, "symlink" },
	};
	char label[256], buf[128];
	size_t u = 0;
	int media = m->kind == MANIFEST_MEDIA || m->kind == MANIFEST_SP_MEDIA;

	section(w, label, sizeof(label), "file", f->id);
	put(w, "component", f->component);
	if (!media)
		put(w, "source", f->source);
	put(w, "dest", f->dest);
	snprintf(buf, sizeof(buf), "%04o", f->mode);
	put(w, "mode", buf);
	put_version(w, "version", &f->version);
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (f->flags & flags[i].bit)
			u += (size_t)snprintf(buf + u, sizeof(buf) - u, "%s%s", u ? ", " : "", flags[i].name);
	if (u)
		put(w, "flags", buf);
	put(w, "target", f->target);
	put_list(w, "after", &f->after);
	if (media) {
		put(w, "entry", f->entry);
		put_u64(w, "size", f->size);
		put(w, "sha256", f->sha256);
	}
}

int manifest_write(const struct manifest *m, FILE *f, struct err *e)
{
	struct writer w = { f, e, "[setupkit]", 0 };
	char label[256], buf[128];
	int sp = m->kind == MANIFEST_SP || m->kind == MANIFEST_SP_MEDIA;

	if (fprintf(f, "%s\n", m->kind == MANIFEST_ANSWERS ? "; setupkit answer file: replay with setup install --unattended FILE"
		    : "; written by mkmedia; do not edit: the signature covers every byte") < 0)
		return err_errno(e, "cannot write the manifest");
	fprintf(f, "[setupkit]\n");
	put_u64(&w, "format", MANIFEST_FORMAT_CURRENT);
	put(&w, "kind", manifest_kind_name(m->kind));

	if (m->kind == MANIFEST_ANSWERS) {
		const struct manifest_answers *a = &m->answers;

		section(&w, label, sizeof(label), "install", NULL);
		put(&w, "product", a->product);
		put(&w, "dir", a->install_dir);
		if (a->components_set)
			put_list(&w, "components", &a->components);
		put(&w, "accept_license", a->accept_license ? "yes" : "no");
		put(&w, "start_services", a->start_services ? "yes" : "no");
		put(&w, "log", a->log);
		for (int i = 0; i < m->nservice_answers; i++) {
			section(&w, label, sizeof(label), "service", m->service_answers[i].name);
			if (m->service_answers[i].start_type)
				put(&w, "start_type", manifest_start_type_name((enum manifest_start_type)m->service_answers[i].start_type));
		}
		goto done;
	}
	if (!sp) {
		section(&w, label, sizeof(label), "product", NULL);
		put(&w, "code", m->product.code);
		put(&w, "name", m->product.name);
		put_version(&w, "version", &m->product.version);
		put(&w, "publisher", m->product.publisher);
		put(&w, "default_dir", m->product.default_dir);
		put(&w, "license", m->product.license);
		if (m->level) {
			section(&w, label, sizeof(label), "media", NULL);
			put_u64(&w, "level", (uint64_t)m->level);
		}
	} else {
		const struct manifest_servicepack *s = &m->sp;
		char lo[MANIFEST_VERSION_STRMAX], hi[MANIFEST_VERSION_STRMAX];

		section(&w, label, sizeof(label), "servicepack", NULL);
		put(&w, "product", s->product);
		put_u64(&w, "level", (uint64_t)s->level);
		put(&w, "name", s->name);
		manifest_version_format(&s->min_version, lo);
		manifest_version_format(&s->max_version, hi);
		if (manifest_version_cmp(&s->min_version, &s->max_version) == 0)
			put(&w, "applies_to", lo);
		else {
			snprintf(buf, sizeof(buf), "%s - %s", lo, hi);
			put(&w, "applies_to", buf);
		}
		put_version(&w, "new_version", &s->new_version);
		put_list(&w, "supersedes", &s->supersedes);
		put_list(&w, "restart_services", &s->restart_services);
		if (m->ncomponents)
			put(&w, "payload", m->components[0].payload);
	}
	for (int i = 0; i < m->npayloads; i++) {
		const struct manifest_payload *p = &m->payloads[i];

		section(&w, label, sizeof(label), "payload", p->name);
		put(&w, "archive", p->archive);
		put_u64(&w, "size", p->size);
		put(&w, "sha256", p->sha256);
		put_u64(&w, "entries", p->entries);
		put_u64(&w, "unpacked", p->unpacked);
	}
	if (!sp) {
		for (int i = 0; i < m->ncomponents; i++) {
			const struct manifest_component *c = &m->components[i];

			section(&w, label, sizeof(label), "component", c->name);
			put(&w, "description", c->description);
			put(&w, "payload", c->payload);
			put(&w, "default", c->default_on ? "yes" : "no");
			put_list(&w, "requires", &c->requires);
		}
	}
	for (int i = 0; i < m->nfiles; i++)
		write_file(&w, m, &m->files[i]);
	for (int i = 0; i < m->nservices; i++) {
		const struct manifest_service *s = &m->services[i];

		section(&w, label, sizeof(label), "service", s->name);
		put(&w, "component", s->component);
		put(&w, "description", s->description);
		put(&w, "start", s->start);
		put(&w, "stop", s->stop);
		put(&w, "status", s->status);
		if (s->start_type)
			put(&w, "start_type", manifest_start_type_name(s->start_type));
		put_list(&w, "depends_on", &s->depends_on);
		put_list(&w, "start_before", &s->start_before);
		put_list(&w, "start_after", &s->start_after);
		put_list(&w, "conflicts", &s->conflicts);
		if (s->external)
			put(&w, "external", "yes");
	}
	for (int i = 0; i < m->nextensions; i++) {
		const struct manifest_extension *x = &m->extensions[i];

		section(&w, label, sizeof(label), "extension", x->name);
		put(&w, "component", x->component);
		put(&w, "point", manifest_point_name(x->point));
		put(&w, "command", x->command);
		put_u64(&w, "timeout", x->timeout);
	}
	for (int i = 0; i < m->nregentries; i++) {
		const struct manifest_regentry *r = &m->regentries[i];

		section(&w, label, sizeof(label), "registry", r->id);
		put(&w, "component", r->component);
		put(&w, "key", r->key);
		if (r->value && r->value[0])
			put(&w, "value", r->value);
		put(&w, "type", manifest_reg_type_name(r->type));
		if (r->remove)
			put(&w, "remove", "yes");
		else
			put(&w, "data", r->data);
	}
done:
	if (!w.failed && fflush(f) != 0) {
		err_errno(e, "cannot write the manifest");
		w.failed = 1;
	}
	return w.failed ? -1 : 0;
}
