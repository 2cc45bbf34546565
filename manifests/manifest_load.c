/*
 * manifest_load.c - from the generic INI document to the typed manifest,
 * with strict validation: unknown sections and keys, missing required keys,
 * duplicate sections, bad values, references to things that do not exist,
 * dependency cycles, unsafe paths, unknown directory tokens, and format
 * versions this build does not read. The first error wins and names the
 * file and line. Nothing is half-loaded: on failure the manifest is freed.
 *
 * Format versions: 2 is current. Format 1 (still read) spelled the install
 * directory `directory` instead of `default_dir`, and file flags as separate
 * booleans (`selfreg = yes`) instead of `flags = selfreg, shared`.
 */
#include "manifest_private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/mem.h"
#include "common/os.h"
#include "common/path.h"

#define K(kind) (1u << (kind))
#define K_P  K(MANIFEST_PRODUCT)
#define K_M  K(MANIFEST_MEDIA)
#define K_S  K(MANIFEST_SP)
#define K_SM K(MANIFEST_SP_MEDIA)
#define K_A  K(MANIFEST_ANSWERS)
#define K_ALL (K_P | K_M | K_S | K_SM | K_A)

struct key_spec {
	const char *name;         /* normalised spelling */
	unsigned kinds;           /* where it is allowed */
	unsigned required;        /* kinds where it must be present */
	int fmin, fmax;           /* format versions that know it */
	const char *moved;        /* for a key from another format: the hint */
};

struct section_spec {
	const char *type;
	int named;                /* [type NAME] */
	unsigned kinds;
	unsigned required;        /* kinds where the section must be present */
	const struct key_spec *keys;
};

static const struct key_spec keys_setupkit[] = {
	{ "format", K_ALL, K_ALL, 1, 2, NULL },
	{ "kind", K_ALL, K_ALL, 1, 2, NULL },
	{ NULL, 0, 0, 0, 0, NULL },
};

static const struct key_spec keys_product[] = {
	{ "code", K_P | K_M, K_P | K_M, 1, 2, NULL },
	{ "name", K_P | K_M, K_P | K_M, 1, 2, NULL },
	{ "version", K_P | K_M, K_P | K_M, 1, 2, NULL },
	{ "publisher", K_P | K_M, 0, 1, 2, NULL },
	{ "default_dir", K_P | K_M, 0, 2, 2, "format 1 calls it 'directory'" },
	{ "directory", K_P | K_M, 0, 1, 1, "format 2 renamed it 'default_dir'" },
	{ "license", K_P | K_M, 0, 1, 2, NULL },
	{ NULL, 0, 0, 0, 0, NULL },
};

static const struct key_spec keys_media[] = {
	{ "level", K_M, 0, 1, 2, NULL },
	{ NULL, 0, 0, 0, 0, NULL },
};

static const struct key_spec keys_component[] = {
	{ "description", K_P | K_M, 0, 1, 2, NULL },
	{ "payload", K_P | K_M, K_P | K_M, 1, 2, NULL },
	{ "default", K_P | K_M, 0, 1, 2, NULL },
	{ "requires", K_P | K_M, 0, 1, 2, NULL },
	{ NULL, 0, 0, 0, 0, NULL },
};

#define K_FILES (K_P | K_M | K_S | K_SM)
#define K_MEDIAS (K_M | K_SM)
static const struct key_spec keys_file[] = {
	{ "component", K_FILES, K_FILES, 1, 2, NULL },
	{ "source", K_P | K_S, K_P | K_S, 1, 2, NULL },
	{ "dest", K_FILES, K_FILES, 1, 2, NULL },
	{ "mode", K_FILES, 0, 1, 2, NULL },
	{ "version", K_FILES, 0, 1, 2, NULL },
	{ "flags", K_FILES, 0, 2, 2, "format 1 used separate yes/no keys such as 'selfreg = yes'" },
	{ "selfreg", K_FILES, 0, 1, 1, "format 2 writes it as 'flags = selfreg'" },
	{ "shared", K_FILES, 0, 1, 1, "format 2 writes it as 'flags = shared'" },
	{ "service", K_FILES, 0, 1, 1, "format 2 writes it as 'flags = service'" },
	{ "config", K_FILES, 0, 1, 1, "format 2 writes it as 'flags = config'" },
	{ "target", K_FILES, 0, 1, 2, NULL },
	{ "after", K_FILES, 0, 1, 2, NULL },
	{ "entry", K_MEDIAS, K_MEDIAS, 1, 2, NULL },
	{ "size", K_MEDIAS, K_MEDIAS, 1, 2, NULL },
	{ "sha256", K_MEDIAS, K_MEDIAS, 1, 2, NULL },
	{ NULL, 0, 0, 0, 0, NULL },
};

static const struct key_spec keys_service[] = {
	{ "component", K_P | K_M, 0, 1, 2, NULL },
	{ "description", K_P | K_M, 0, 1, 2, NULL },
	{ "start", K_P | K_M, 0, 1, 2, NULL },
	{ "stop", K_P | K_M, 0, 1, 2, NULL },
	{ "status", K_P | K_M, 0, 1, 2, NULL },
	{ "start_type", K_P | K_M | K_A, 0, 1, 2, NULL },
	{ "depends_on", K_P | K_M, 0, 1, 2, NULL },
	{ "start_before", K_P | K_M, 0, 2, 2, NULL },
	{ "start_after", K_P | K_M, 0, 2, 2, NULL },
	{ "conflicts", K_P | K_M, 0, 2, 2, NULL },
	{ "external", K_P | K_M, 0, 2, 2, NULL },
	{ NULL, 0, 0, 0, 0, NULL },
};

static const struct key_spec keys_extension[] = {
	{ "component", K_FILES, 0, 1, 2, NULL },
	{ "point", K_FILES, K_FILES, 1, 2, NULL },
	{ "command", K_FILES, K_FILES, 1, 2, NULL },
	{ "timeout", K_FILES, 0, 1, 2, NULL },
	{ NULL, 0, 0, 0, 0, NULL },
};

static const struct key_spec keys_registry[] = {
	{ "component", K_FILES, K_FILES, 1, 2, NULL },
	{ "key", K_FILES, K_FILES, 1, 2, NULL },
	{ "value", K_FILES, 0, 1, 2, NULL },
	{ "type", K_FILES, 0, 1, 2, NULL },
	{ "data", K_FILES, 0, 1, 2, NULL },
	{ "remove", K_S | K_SM, 0, 1, 2, NULL },
	{ NULL, 0, 0, 0, 0, NULL },
};

static const struct key_spec keys_payload[] = {
	{ "archive", K_MEDIAS, K_MEDIAS, 1, 2, NULL },
	{ "size", K_MEDIAS, K_MEDIAS, 1, 2, NULL },
	{ "sha256", K_MEDIAS, K_MEDIAS, 1, 2, NULL },
	{ "entries", K_MEDIAS, K_MEDIAS, 1, 2, NULL },
	{ "unpacked", K_MEDIAS, K_MEDIAS, 1, 2, NULL },
	{ NULL, 0, 0, 0, 0, NULL },
};

static const struct key_spec keys_servicepack[] = {
	{ "product", K_S | K_SM, K_S | K_SM, 1, 2, NULL },
	{ "level", K_S | K_SM, K_S | K_SM, 1, 2, NULL },
	{ "name", K_S | K_SM, 0, 1, 2, NULL },
	{ "applies_to", K_S | K_SM, K_S | K_SM, 1, 2, NULL },
	{ "new_version", K_S | K_SM, K_S | K_SM, 1, 2, NULL },
	{ "supersedes", K_S | K_SM, 0, 1, 2, NULL },
	{ "restart_services", K_S | K_SM, 0, 1, 2, NULL },
	{ "payload", K_S | K_SM, K_S | K_SM, 1, 2, NULL },
	{ NULL, 0, 0, 0, 0, NULL },
};

static const struct key_spec keys_install[] = {
	{ "product", K_A, K_A, 1, 2, NULL },
	{ "dir", K_A, 0, 1, 2, NULL },
	{ "components", K_A, 0, 1, 2, NULL },
	{ "accept_license", K_A, 0, 1, 2, NULL },
	{ "start_services", K_A, 0, 1, 2, NULL },
	{ "log", K_A, 0, 1, 2, NULL },
	{ NULL, 0, 0, 0, 0, NULL },
};

static const struct section_spec sections[] = {
	{ "setupkit", 0, K_ALL, K_ALL, keys_setupkit },
	{ "product", 0, K_P | K_M, K_P | K_M, keys_product },
	{ "media", 0, K_M, 0, keys_media },
	{ "component", 1, K_P | K_M, K_P | K_M, keys_component },
	{ "file", 1, K_FILES, 0, keys_file },
	{ "service", 1, K_P | K_M | K_A, 0, keys_service },
	{ "extension", 1, K_FILES, 0, keys_extension },
	{ "registry", 1, K_FILES, 0, keys_registry },
	{ "payload", 1, K_MEDIAS, K_MEDIAS, keys_payload },
	{ "servicepack", 0, K_S | K_SM, K_S | K_SM, keys_servicepack },
	{ "install", 0, K_A, K_A, keys_install },
	{ NULL, 0, 0, 0, NULL },
};

static const char *const kind_names[] = {
	[MANIFEST_PRODUCT] = "product",
	[MANIFEST_MEDIA] = "media",
	[MANIFEST_SP] = "servicepack",
	[MANIFEST_SP_MEDIA] = "servicepack-media",
	[MANIFEST_ANSWERS] = "answers",
};

static const char *const kind_long[] = {
	[MANIFEST_PRODUCT] = "a product definition",
	[MANIFEST_MEDIA] = "a media manifest",
	[MANIFEST_SP] = "a service-pack definition",
	[MANIFEST_SP_MEDIA] = "a service-pack manifest",
	[MANIFEST_ANSWERS] = "an answer file",
};

const char *manifest_kind_name(enum manifest_kind k)
{
	return (k >= MANIFEST_PRODUCT && k <= MANIFEST_ANSWERS) ? kind_names[k] : "unknown";
}

static const char *const point_names[] = {
	[MANIFEST_POINT_BEFORE_FILES] = "before-files",
	[MANIFEST_POINT_AFTER_FILES] = "after-files",
	[MANIFEST_POINT_AFTER_REGISTRATION] = "after-registration",
	[MANIFEST_POINT_BEFORE_UNINSTALL] = "before-uninstall",
	[MANIFEST_POINT_BEFORE_SP] = "before-servicepack",
	[MANIFEST_POINT_AFTER_SP] = "after-servicepack",
};

const char *manifest_point_name(enum manifest_point p)
{
	return (p >= MANIFEST_POINT_BEFORE_FILES && p <= MANIFEST_POINT_AFTER_SP) ? point_names[p] : "unknown";
}

static const char *const start_names[] = {
	[MANIFEST_START_AUTO] = "auto",
	[MANIFEST_START_MANUAL] = "manual",
	[MANIFEST_START_DISABLED] = "disabled",
};

const char *manifest_start_type_name(enum manifest_start_type t)
{
	return (t >= MANIFEST_START_AUTO && t <= MANIFEST_START_DISABLED) ? start_names[t] : "unknown";
}

static const char *const regtype_names[] = {
	[MANIFEST_REG_SZ] = "REG_SZ",
	[MANIFEST_REG_EXPAND_SZ] = "REG_EXPAND_SZ",
	[MANIFEST_REG_MULTI_SZ] = "REG_MULTI_SZ",
	[MANIFEST_REG_DWORD] = "REG_DWORD",
	[MANIFEST_REG_QWORD] = "REG_QWORD",
	[MANIFEST_REG_BINARY] = "REG_BINARY",
	[MANIFEST_REG_NONE] = "REG_NONE",
};

const char *manifest_reg_type_name(enum manifest_reg_type t)
{
	return (t >= MANIFEST_REG_SZ && t <= MANIFEST_REG_NONE) ? regtype_names[t] : "unknown";
}

/* ---- the loader state ---------------------------------------------------- */

struct loader {
	struct manifest *m;
	struct ini_doc doc;
	const char *file;
	struct err *e;
};

static const struct section_spec *section_spec_find(const char *type)
{
	for (const struct section_spec *s = sections; s->type; s++)
		if (strcmp(s->type, type) == 0)
			return s;
	return NULL;
}

/* Keys are compared normalised (no '_', lower case): spec names are
 * written in their documented snake_case spelling, used in messages. */
static int key_is(const char *spec, const char *norm)
{
	for (;; spec++) {
		if (*spec == '_')
			continue;
		if (*spec != *norm)
			return 0;
		if (!*spec)
			return 1;
		norm++;
	}
}

static const struct key_spec *key_spec_find(const struct key_spec *keys, const char *name)
{
	for (const struct key_spec *k = keys; k->name; k++)
		if (key_is(k->name, name))
			return k;
	return NULL;
}

/* Lookup by spec name (snake_case allowed). */
static struct ini_kv *get(struct ini_section *s, const char *spec)
{
	for (int i = 0; i < s->nkv; i++)
		if (key_is(spec, s->kv[i].key))
			return &s->kv[i];
	return NULL;
}

/* "a, b, c" of the keys allowed in this section for this kind and format. */
static void allowed_keys(const struct section_spec *ss, unsigned kind, int format, char *buf, size_t n)
{
	size_t used = 0;

	buf[0] = '\0';
	for (const struct key_spec *k = ss->keys; k->name; k++) {
		if (!(k->kinds & kind) || format < k->fmin || format > k->fmax)
			continue;
		used += (size_t)snprintf(buf + used, used < n ? n - used : 0, "%s%s", used ? ", " : "", k->name);
	}
}

static char *section_label(const struct ini_section *s, char *buf, size_t n)
{
	if (s->name)
		snprintf(buf, n, "[%s %s]", s->type, s->name);
	else
		snprintf(buf, n, "[%s]", s->type);
	return buf;
}

/* Check one section's keys against the schema. */
static int check_keys(struct loader *L, struct ini_section *s, const struct section_spec *ss)
{
	unsigned kind = K(L->m->kind);
	char label[128], list[512];

	for (int i = 0; i < s->nkv; i++) {
		struct ini_kv *kv = &s->kv[i];
		const struct key_spec *k = key_spec_find(ss->keys, kv->key);

		if (!k || !(k->kinds & kind)) {
			allowed_keys(ss, kind, L->m->format, list, sizeof(list));
			return err_at(L->e, L->file, kv->line, "unknown key '%s' in %s of %s; expected one of: %s",
				      kv->raw_key, section_label(s, label, sizeof(label)),
				      kind_long[L->m->kind], list);
		}
		if (L->m->format < k->fmin || L->m->format > k->fmax)
			return err_at(L->e, L->file, kv->line, "key '%s' is not part of format %d (%s)",
				      kv->raw_key, L->m->format, k->moved ? k->moved : "use a newer format");
	}
	for (const struct key_spec *k = ss->keys; k->name; k++) {
		if (!(k->required & kind) || L->m->format < k->fmin || L->m->format > k->fmax)
			continue;
		if (!get(s, k->name))
			return err_at(L->e, L->file, s->line, "%s has no '%s', which is required in %s",
				      section_label(s, label, sizeof(label)), k->name, kind_long[L->m->kind]);
	}
	return 0;
}

/* ---- value parsers; each reports at the key's line ---------------------- */

static int is_ident(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' || *s == '.'))
			return 0;
	return 1;
}

static int parse_bool(struct loader *L, struct ini_kv *kv, int *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1", NULL };
	static const char *const no[] = { "no", "false", "off", "0", NULL };

	for (int i = 0; yes[i]; i++)
		if (strcasecmp(kv->value, yes[i]) == 0)
			return *out = 1, 0;
	for (int i = 0; no[i]; i++)
		if (strcasecmp(kv->value, no[i]) == 0)
			return *out = 0, 0;
	return err_at(L->e, L->file, kv->line, "'%s' must be yes or no, not '%s'", kv->raw_key, kv->value);
}

static int parse_u64(struct loader *L, struct ini_kv *kv, uint64_t max, uint64_t *out)
{
	const char *p = kv->value;
	uint64_t n = 0;

	if (!*p)
		goto bad;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			goto bad;
		if (n > (max - (uint64_t)(*p - '0')) / 10)
			return err_at(L->e, L->file, kv->line, "'%s' is too large (at most %llu)", kv->raw_key, (unsigned long long)max);
		n = n * 10 + (uint64_t)(*p - '0');
	}
	*out = n;
	return 0;
bad:
	return err_at(L->e, L->file, kv->line, "'%s' must be a whole number, not '%s'", kv->raw_key, kv->value);
}

static int parse_version(struct loader *L, struct ini_kv *kv, struct manifest_version *v)
{
	struct err tmp;

	if (manifest_version_parse(kv->value, v, &tmp) == 0)
		return 0;
	return err_at(L->e, L->file, kv->line, "%s: %s", kv->raw_key, tmp.msg);
}

static int parse_sha256(struct loader *L, struct ini_kv *kv, char out[65])
{
	size_t n = strlen(kv->value);

	if (n != 64)
		goto bad;
	for (size_t i = 0; i < n; i++) {
		char c = kv->value[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			goto bad;
	}
	memcpy(out, kv->value, 65);
	return 0;
bad:
	return err_at(L->e, L->file, kv->line, "'%s' must be 64 lowercase hex digits (a SHA-256), not '%s'", kv->raw_key, kv->value);
}

static int take_str(struct loader *L, struct ini_kv *kv, char **out)
{
	if (!kv)
		return 0;
	*out = mem_strdup(kv->value);
	if (!*out)
		return err_nomem(L->e, "loading a manifest");
	return 0;
}

static int take_list(struct loader *L, struct ini_kv *kv, struct manifest_list *out)
{
	if (!kv)
		return 0;
	return manifest_list_parse(L->file, kv->line, kv->raw_key, kv->value, out, L->e);
}

/* The directory tokens; their directories are the system's
 * (manifest_token_dir: manifest_os_posix.c, manifest_os_win32.c). */
static const char *const dest_tokens[] = { "{app}", "{sys}", "{etc}", "{var}", "{bin}", NULL };

/* dest must be a known token, then optionally "/" and a clean relative path. */
static int check_dest(struct loader *L, struct ini_kv *kv)
{
	const char *d = kv->value;

	for (int i = 0; dest_tokens[i]; i++) {
		size_t n = strlen(dest_tokens[i]);

		if (strncmp(d, dest_tokens[i], n) != 0)
			continue;
		if (d[n] == '\0')
			goto bad_root;
		if (d[n] != '/' || !path_is_clean_relative(d + n + 1))
			return err_at(L->e, L->file, kv->line,
				      "destination '%s' must be a token and a relative path without '.', '..', '//' or '\\', like {app}/bin/name", d);
		return 0;
	}
	if (d[0] == '{') {
		const char *close = strchr(d, '}');

		return err_at(L->e, L->file, kv->line,
			      "unknown directory token '%.*s' in '%s'; known tokens: {app} {sys} {etc} {var} {bin}",
			      close ? (int)(close - d + 1) : (int)strlen(d), d, d);
	}
	return err_at(L->e, L->file, kv->line,
		      "destination '%s' must start with a directory token ({app}, {sys}, {etc}, {var} or {bin}), not an absolute or bare path", d);
bad_root:
	return err_at(L->e, L->file, kv->line, "destination '%s' names a directory, not a file; add the file name", d);
}

/* An install directory: absolute, as on POSIX ("/opt/Mail Suite") or on
 * Windows ("C:\Program Files\Mail Suite", '\' or '/' between parts),
 * without '.', '..' or empty parts. Which kind suits the system it is
 * installed on is setup's check (manifest_dir_native). */
static int dir_ok(const char *dir)
{
	if (dir[0] == '/')
		return !dir[1] || path_is_clean_relative(dir + 1);
	if (!(((dir[0] >= 'A' && dir[0] <= 'Z') || (dir[0] >= 'a' && dir[0] <= 'z')) &&
	      dir[1] == ':' && (dir[2] == '\\' || dir[2] == '/')))
		return 0;
	return !dir[3] || path_is_clean_relative_win(dir + 3);
}

char *manifest_dest_expand(const char *dest, const char *app_dir)
{
	for (int i = 0; dest_tokens[i]; i++) {
		size_t n = strlen(dest_tokens[i]);
		const char *base = i == 0 ? app_dir : manifest_token_dir(dest_tokens[i]);

		if (strncmp(dest, dest_tokens[i], n) == 0)
			return path_join(base, dest + n);
	}
	return NULL;
}

/* ---- sections ------------------------------------------------------------ */

static int load_setupkit(struct loader *L)
{
	struct ini_section *s = NULL;
	struct ini_kv *fmt, *kind;
	uint64_t f;

	for (int i = 0; i < L->doc.nsec; i++) {
		if (strcmp(L->doc.sec[i].type, "setupkit") == 0) {
			s = &L->doc.sec[i];
			break;
		}
	}
	if (!s || s != &L->doc.sec[0])
		return err_at(L->e, L->file, s ? s->line : 1,
			      "the file must start with a [setupkit] section giving 'format' and 'kind'");
	if (s->name)
		return err_at(L->e, L->file, s->line, "[setupkit] takes no name");
	fmt = ini_section_get(s, "format");
	kind = ini_section_get(s, "kind");
	if (!fmt)
		return err_at(L->e, L->file, s->line, "[setupkit] has no 'format'; this build writes format %d", MANIFEST_FORMAT_CURRENT);
	if (!kind)
		return err_at(L->e, L->file, s->line, "[setupkit] has no 'kind'; expected product, media, servicepack, servicepack-media or answers");
	if (parse_u64(L, fmt, 1000000, &f) < 0)
		return -1;
	if (f > MANIFEST_FORMAT_CURRENT)
		return err_at(L->e, L->file, fmt->line,
			      "format %llu is newer than this setupkit understands (formats %d to %d); use a newer setupkit to read it",
			      (unsigned long long)f, MANIFEST_FORMAT_OLDEST, MANIFEST_FORMAT_CURRENT);
	if (f < MANIFEST_FORMAT_OLDEST)
		return err_at(L->e, L->file, fmt->line, "format %llu is not supported (formats %d to %d)",
			      (unsigned long long)f, MANIFEST_FORMAT_OLDEST, MANIFEST_FORMAT_CURRENT);
	L->m->format = (int)f;
	for (int k = MANIFEST_PRODUCT; k <= MANIFEST_ANSWERS; k++)
		if (strcasecmp(kind->value, kind_names[k]) == 0)
			L->m->kind = (enum manifest_kind)k;
	if (!L->m->kind)
		return err_at(L->e, L->file, kind->line,
			      "unknown kind '%s'; expected product, media, servicepack, servicepack-media or answers", kind->value);
	return 0;
}

static int load_product(struct loader *L, struct ini_section *s)
{
	struct manifest_product *p = &L->m->product;
	struct ini_kv *kv;

	p->line = s->line;
	kv = ini_section_get(s, "code");
	if (!is_ident(kv->value))
		return err_at(L->e, L->file, kv->line, "product code '%s' may only hold letters, digits, '.', '_' and '-'", kv->value);
	/* The code names directories (backup/CODE, the default /opt/CODE). */
	if (strcmp(kv->value, ".") == 0 || strcmp(kv->value, "..") == 0)
		return err_at(L->e, L->file, kv->line, "product code '%s' cannot be '.' or '..': it names directories "
			      "(the default /opt/CODE, the backups of the files the product replaces)", kv->value);
	if (take_str(L, kv, &p->code) || take_str(L, ini_section_get(s, "name"), &p->name) ||
	    take_str(L, ini_section_get(s, "publisher"), &p->publisher) ||
	    parse_version(L, ini_section_get(s, "version"), &p->version))
		return -1;
	kv = ini_section_get(s, L->m->format >= 2 ? "defaultdir" : "directory");
	if (kv) {
		if (!dir_ok(kv->value))
			return err_at(L->e, L->file, kv->line,
				      "'%s' must be an absolute path without '.', '..' or '//', like %s, not '%s'",
				      kv->raw_key, manifest_dir_example, kv->value);
		if (take_str(L, kv, &p->default_dir))
			return -1;
	} else {
		p->default_dir = manifest_default_dir(p->code);
		if (!p->default_dir)
			return err_nomem(L->e, "loading a manifest");
	}
	kv = ini_section_get(s, "license");
	if (kv && !path_is_clean_relative(kv->value))
		return err_at(L->e, L->file, kv->line, "license '%s' must be a relative path on the media, without '..'", kv->value);
	return take_str(L, kv, &p->license);
}

#define GROW(L, arr, n) do { \
	void *g_ = mem_realloc_array((arr), (size_t)(n) + 1, sizeof(*(arr))); \
	if (!g_) return err_nomem((L)->e, "loading a manifest"); \
	(arr) = g_; memset(&(arr)[(n)], 0, sizeof(*(arr))); \
} while (0)

static int load_component(struct loader *L, struct ini_section *s)
{
	struct manifest_component *c;
	struct ini_kv *kv;

	GROW(L, L->m->components, L->m->ncomponents);
	c = &L->m->components[L->m->ncomponents++];
	c->line = s->line;
	c->default_on = 1;
	if (take_str(L, ini_section_get(s, "description"), &c->description) ||
	    take_list(L, ini_section_get(s, "requires"), &c->requires))
		return -1;
	c->name = mem_strdup(s->name);
	if (!c->name)
		return err_nomem(L->e, "loading a manifest");
	kv = ini_section_get(s, "payload");
	if (!is_ident(kv->value))
		return err_at(L->e, L->file, kv->line, "payload name '%s' may only hold letters, digits, '.', '_' and '-'", kv->value);
	if (take_str(L, kv, &c->payload))
		return -1;
	kv = ini_section_get(s, "default");
	return kv ? parse_bool(L, kv, &c->default_on) : 0;
}

static int load_file_flags(struct loader *L, struct ini_section *s, struct manifest_file *f)
{
	static const struct { const char *name; unsigned bit; } flags[] = {
		{ "selfreg", MANIFEST_FILE_SELFREG }, { "shared", MANIFEST_FILE_SHARED },
		{ "service", MANIFEST_FILE_SERVICE }, { "config", MANIFEST_FILE_CONFIG },
		{ "defer", MANIFEST_FILE_DEFER }, { "symlink", MANIFEST_FILE_SYMLINK },
		{ NULL, 0 },
	};
	struct ini_kv *kv;

	if (L->m->format == 1) {
		for (int i = 0; i < 4; i++) {
			int on = 0;

			kv = ini_section_get(s, flags[i].name);
			if (kv && parse_bool(L, kv, &on))
				return -1;
			if (on)
				f->flags |= flags[i].bit;
		}
		return 0;
	}
	kv = ini_section_get(s, "flags");
	if (kv) {
		struct manifest_list l;

		if (take_list(L, kv, &l))
			return -1;
		for (int i = 0; i < l.n; i++) {
			int j;

			for (j = 0; flags[j].name; j++)
				if (strcasecmp(l.items[i], flags[j].name) == 0)
					break;
			if (!flags[j].name) {
				err_at(L->e, L->file, kv->line,
				       "unknown file flag '%s'; known flags: selfreg, shared, service, config, defer, symlink", l.items[i]);
				manifest_list_free(&l);
				return -1;
			}
			f->flags |= flags[j].bit;
		}
		manifest_list_free(&l);
	}
	return 0;
}

static int load_file(struct loader *L, struct ini_section *s)
{
	struct manifest_file *f;
	struct ini_kv *kv;
	int media = L->m->kind == MANIFEST_MEDIA || L->m->kind == MANIFEST_SP_MEDIA;

	GROW(L, L->m->files, L->m->nfiles);
	f = &L->m->files[L->m->nfiles++];
	f->line = s->line;
	f->mode = 0644;
	f->id = mem_strdup(s->name);
	if (!f->id)
		return err_nomem(L->e, "loading a manifest");
	if (take_str(L, ini_section_get(s, "component"), &f->component) ||
	    take_list(L, ini_section_get(s, "after"), &f->after))
		return -1;
	kv = ini_section_get(s, "source");
	if (kv && !path_is_clean_relative(kv->value))
		return err_at(L->e, L->file, kv->line,
			      "source '%s' must be a path relative to the source tree, without a leading '/', '..', '//' or '\\'", kv->value);
	if (take_str(L, kv, &f->source))
		return -1;
	kv = ini_section_get(s, "dest");
	if (check_dest(L, kv) || take_str(L, kv, &f->dest))
		return -1;
	kv = ini_section_get(s, "mode");
	if (kv) {
		char *end;
		unsigned long m;

		errno = 0;
		m = strtoul(kv->value, &end, 8);
		if (!kv->value[0] || *end || errno || m > 07777 || kv->value[0] == '-' || kv->value[0] == '+')
			return err_at(L->e, L->file, kv->line, "mode '%s' must be octal permission bits like 0644 or 0755", kv->value);
		f->mode = (unsigned)m;
	}
	kv = ini_section_get(s, "version");
	if (kv && parse_version(L, kv, &f->version))
		return -1;
	if (load_file_flags(L, s, f))
		return -1;
	kv = ini_section_get(s, "target");
	if ((f->flags & MANIFEST_FILE_SYMLINK) && !kv)
		return err_at(L->e, L->file, s->line, "[file %s] has flag 'symlink' but no 'target'", s->name);
	if (kv && !(f->flags & MANIFEST_FILE_SYMLINK))
		return err_at(L->e, L->file, kv->line, "'target' is only for files with flag 'symlink'");
	if (kv && (!path_is_clean_relative(kv->value)))
		return err_at(L->e, L->file, kv->line, "symlink target '%s' must be a relative path inside the component's destination, without '..'", kv->value);
	if (take_str(L, kv, &f->target))
		return -1;
	if (media) {
		kv = ini_section_get(s, "entry");
		if (!path_is_clean_relative(kv->value))
			return err_at(L->e, L->file, kv->line, "entry name '%s' must be a clean relative path", kv->value);
		if (take_str(L, kv, &f->entry) ||
		    parse_u64(L, ini_section_get(s, "size"), UINT64_MAX, &f->size) ||
		    parse_sha256(L, ini_section_get(s, "sha256"), f->sha256))
			return -1;
	}
	return 0;
}

static int parse_start_type(struct loader *L, struct ini_kv *kv, int *out)
{
	for (int t = MANIFEST_START_AUTO; t <= MANIFEST_START_DISABLED; t++)
		if (strcasecmp(kv->value, start_names[t]) == 0)
			return *out = t, 0;
	return err_at(L->e, L->file, kv->line, "start_type '%s' must be auto, manual or disabled", kv->value);
}

static int load_service(struct loader *L, struct ini_section *s)
{
	struct manifest_service *v;
	struct ini_kv *kv;
	int st = MANIFEST_START_AUTO;

	if (L->m->kind == MANIFEST_ANSWERS) {
		struct manifest_service_answer *a;

		GROW(L, L->m->service_answers, L->m->nservice_answers);
		a = &L->m->service_answers[L->m->nservice_answers++];
		a->line = s->line;
		a->name = mem_strdup(s->name);
		if (!a->name)
			return err_nomem(L->e, "loading a manifest");
		kv = ini_section_get(s, "starttype");
		return kv ? parse_start_type(L, kv, &a->start_type) : 0;
	}
	GROW(L, L->m->services, L->m->nservices);
	v = &L->m->services[L->m->nservices++];
	v->line = s->line;
	v->name = mem_strdup(s->name);
	if (!v->name)
		return err_nomem(L->e, "loading a manifest");
	if (!is_ident(s->name))
		return err_at(L->e, L->file, s->line, "service name '%s' may only hold letters, digits, '.', '_' and '-'", s->name);
	kv = ini_section_get(s, "external");
	if (kv && parse_bool(L, kv, &v->external))
		return -1;
	if (take_str(L, ini_section_get(s, "component"), &v->component) ||
	    take_str(L, ini_section_get(s, "description"), &v->description) ||
	    take_str(L, ini_section_get(s, "start"), &v->start) ||
	    take_str(L, ini_section_get(s, "stop"), &v->stop) ||
	    take_str(L, ini_section_get(s, "status"), &v->status) ||
	    take_list(L, ini_section_get(s, "dependson"), &v->depends_on) ||
	    take_list(L, ini_section_get(s, "startbefore"), &v->start_before) ||
	    take_list(L, ini_section_get(s, "startafter"), &v->start_after) ||
	    take_list(L, ini_section_get(s, "conflicts"), &v->conflicts))
		return -1;
	if (!v->external) {
		static const char *const need[] = { "component", "start", "stop", "status", NULL };

		for (int i = 0; need[i]; i++)
			if (!ini_section_get(s, need[i]))
				return err_at(L->e, L->file, s->line,
					      "[service %s] has no '%s'; a managed service needs component, start, stop and status (or external = yes)",
					      s->name, need[i]);
	}
	kv = ini_section_get(s, "starttype");
	if (kv && parse_start_type(L, kv, &st))
		return -1;
	v->start_type = (enum manifest_start_type)st;
	return 0;
}

static int load_extension(struct loader *L, struct ini_section *s)
{
	struct manifest_extension *x;
	struct ini_kv *kv;
	uint64_t t = 60;

	GROW(L, L->m->extensions, L->m->nextensions);
	x = &L->m->extensions[L->m->nextensions++];
	x->line = s->line;
	x->name = mem_strdup(s->name);
	if (!x->name)
		return err_nomem(L->e, "loading a manifest");
	kv = ini_section_get(s, "point");
	for (int p = MANIFEST_POINT_BEFORE_FILES; p <= MANIFEST_POINT_AFTER_SP; p++)
		if (strcasecmp(kv->value, point_names[p]) == 0)
			x->point = (enum manifest_point)p;
	if (!x->point)
		return err_at(L->e, L->file, kv->line,
			      "unknown extension point '%s'; expected before-files, after-files, after-registration, before-uninstall, before-servicepack or after-servicepack",
			      kv->value);
	kv = ini_section_get(s, "command");
	if (!kv->value[0])
		return err_at(L->e, L->file, kv->line, "extension '%s' has an empty command", s->name);
	if (take_str(L, kv, &x->command) || take_str(L, ini_section_get(s, "component"), &x->component))
		return -1;
	kv = ini_section_get(s, "timeout");
	if (kv && parse_u64(L, kv, 86400, &t))
		return -1;
	if (t == 0)
		return err_at(L->e, L->file, kv->line, "timeout must be at least 1 second");
	x->timeout = (unsigned)t;
	return 0;
}

static int check_reg_data(struct loader *L, struct ini_kv *kv, enum manifest_reg_type t)
{
	const char *d = kv ? kv->value : "";
	int line = kv ? kv->line : 0;

	if (t == MANIFEST_REG_DWORD || t == MANIFEST_REG_QWORD) {
		int hex = d[0] == '0' && (d[1] == 'x' || d[1] == 'X');
		const char *digits = hex ? d + 2 : d;
		char *end;
		unsigned long long v;

		errno = 0;
		v = strtoull(digits, &end, hex ? 16 : 10);
		if (!*digits || *end || errno || !((*digits >= '0' && *digits <= '9') ||
		    (hex && ((*digits >= 'a' && *digits <= 'f') || (*digits >= 'A' && *digits <= 'F')))) ||
		    (t == MANIFEST_REG_DWORD && v > 0xffffffffULL))
			return err_at(L->e, L->file, line, "data '%s' is not a valid %s (a number, decimal or 0x hex, at most %s)",
				      d, regtype_names[t], t == MANIFEST_REG_DWORD ? "0xffffffff" : "0xffffffffffffffff");
	} else if (t == MANIFEST_REG_BINARY) {
		size_t n = 0;

		for (const char *p = d; *p; p++) {
			if (*p == ' ' || *p == ',')
				continue;
			if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F')))
				return err_at(L->e, L->file, line, "data '%s' is not valid REG_BINARY; write hex bytes like 01,ff,20", d);
			n++;
		}
		if (n % 2)
			return err_at(L->e, L->file, line, "data '%s' has an odd number of hex digits", d);
	}
	return 0;
}

static int load_registry(struct loader *L, struct ini_section *s)
{
	static const char *const roots[] = {
		"HKEY_LOCAL_MACHINE\\", "HKLM\\", "HKEY_CURRENT_USER\\", "HKCU\\",
		"HKEY_USERS\\", "HKU\\", "HKEY_CLASSES_ROOT\\", "HKCR\\", NULL,
	};
	struct manifest_regentry *r;
	struct ini_kv *kv;
	int ok = 0;

	GROW(L, L->m->regentries, L->m->nregentries);
	r = &L->m->regentries[L->m->nregentries++];
	r->line = s->line;
	r->type = MANIFEST_REG_SZ;
	r->id = mem_strdup(s->name);
	if (!r->id)
		return err_nomem(L->e, "loading a manifest");
	kv = ini_section_get(s, "key");
	for (int i = 0; roots[i]; i++)
		if (strncasecmp(kv->value, roots[i], strlen(roots[i])) == 0 && kv->value[strlen(roots[i])])
			ok = 1;
	if (!ok || strstr(kv->value, "\\\\") || kv->value[strlen(kv->value) - 1] == '\\')
		return err_at(L->e, L->file, kv->line,
			      "registry key '%s' must start with HKLM\\, HKCU\\, HKU\\ or HKCR\\ (or the long names) and have no empty parts",
			      kv->value);
	if (take_str(L, kv, &r->key) || take_str(L, ini_section_get(s, "component"), &r->component))
		return -1;
	kv = ini_section_get(s, "value");
	r->value = mem_strdup(kv ? kv->value : "");
	if (!r->value)
		return err_nomem(L->e, "loading a manifest");
	kv = ini_section_get(s, "type");
	if (kv) {
		r->type = 0;
		for (int t = MANIFEST_REG_SZ; t <= MANIFEST_REG_NONE; t++)
			if (strcasecmp(kv->value, regtype_names[t]) == 0)
				r->type = (enum manifest_reg_type)t;
		if (!r->type)
			return err_at(L->e, L->file, kv->line,
				      "unknown registry type '%s'; expected REG_SZ, REG_EXPAND_SZ, REG_MULTI_SZ, REG_DWORD, REG_QWORD, REG_BINARY or REG_NONE",
				      kv->value);
	}
	kv = ini_section_get(s, "remove");
	if (kv && parse_bool(L, kv, &r->remove))
		return -1;
	kv = ini_section_get(s, "data");
	if (!r->remove) {
		if (!kv && r->type != MANIFEST_REG_NONE)
			return err_at(L->e, L->file, s->line, "[registry %s] has no 'data'", s->name);
		if (check_reg_data(L, kv, r->type))
			return -1;
	}
	r->data = mem_strdup(kv ? kv->value : "");
	return r->data ? 0 : err_nomem(L->e, "loading a manifest");
}

static int load_payload(struct loader *L, struct ini_section *s)
{
	struct manifest_payload *p;
	struct ini_kv *kv;

	GROW(L, L->m->payloads, L->m->npayloads);
	p = &L->m->payloads[L->m->npayloads++];
	p->line = s->line;
	p->name = mem_strdup(s->name);
	if (!p->name)
		return err_nomem(L->e, "loading a manifest");
	kv = ini_section_get(s, "archive");
	if (!path_is_clean_relative(kv->value) || strchr(kv->value, '/'))
		return err_at(L->e, L->file, kv->line, "archive '%s' must be a file name in the media directory", kv->value);
	return take_str(L, kv, &p->archive) ||
	       parse_u64(L, ini_section_get(s, "size"), UINT64_MAX, &p->size) ||
	       parse_sha256(L, ini_section_get(s, "sha256"), p->sha256) ||
	       parse_u64(L, ini_section_get(s, "entries"), UINT64_MAX, &p->entries) ||
	       parse_u64(L, ini_section_get(s, "unpacked"), UINT64_MAX, &p->unpacked) ? -1 : 0;
}

static int load_servicepack(struct loader *L, struct ini_section *s)
{
	struct manifest_servicepack *sp = &L->m->sp;
	struct ini_kv *kv;
	uint64_t lvl;
	char *dash;

	sp->line = s->line;
	kv = ini_section_get(s, "level");
	if (parse_u64(L, kv, 255, &lvl))
		return -1;
	if (lvl == 0)
		return err_at(L->e, L->file, kv->line, "level must be 1 or more (1 for SP1)");
	sp->level = (int)lvl;
	if (take_str(L, ini_section_get(s, "product"), &sp->product) ||
	    take_str(L, ini_section_get(s, "name"), &sp->name) ||
	    take_list(L, ini_section_get(s, "supersedes"), &sp->supersedes) ||
	    take_list(L, ini_section_get(s, "restartservices"), &sp->restart_services) ||
	    parse_version(L, ini_section_get(s, "newversion"), &sp->new_version))
		return -1;
	for (int i = 0; i < sp->supersedes.n; i++) {
		char *end;
		long v = strtol(sp->supersedes.items[i], &end, 10);

		if (*end || v < 1 || v >= sp->level)
			return err_at(L->e, L->file, ini_section_get(s, "supersedes")->line,
				      "supersedes '%s' must list earlier levels (1 to %d)", sp->supersedes.items[i], sp->level - 1);
	}
	kv = ini_section_get(s, "appliesto");
	dash = strstr(kv->value, " - ");
	if (dash) {
		char *lo = mem_strndup(kv->value, (size_t)(dash - kv->value));
		struct ini_kv tmp = *kv;
		int rc;

		if (!lo)
			return err_nomem(L->e, "loading a manifest");
		tmp.value = lo;
		rc = parse_version(L, &tmp, &sp->min_version);
		mem_free(lo);
		tmp.value = dash + 3;
		if (rc || parse_version(L, &tmp, &sp->max_version))
			return -1;
		if (manifest_version_cmp(&sp->min_version, &sp->max_version) > 0)
			return err_at(L->e, L->file, kv->line, "applies_to range '%s' is empty: the first version is higher than the second", kv->value);
	} else {
		if (parse_version(L, kv, &sp->min_version))
			return -1;
		sp->max_version = sp->min_version;
	}
	kv = ini_section_get(s, "payload");
	if (!is_ident(kv->value))
		return err_at(L->e, L->file, kv->line, "payload name '%s' may only hold letters, digits, '.', '_' and '-'", kv->value);
	/* The service pack's files all live in one payload; components name
	 * the product's components, checked when the pack is applied. */
	GROW(L, L->m->components, L->m->ncomponents);
	L->m->components[L->m->ncomponents].name = mem_strdup("servicepack");
	L->m->components[L->m->ncomponents].payload = mem_strdup(kv->value);
	L->m->components[L->m->ncomponents].line = kv->line;
	L->m->ncomponents++;
	if (!L->m->components[L->m->ncomponents - 1].name || !L->m->components[L->m->ncomponents - 1].payload)
		return err_nomem(L->e, "loading a manifest");
	return 0;
}

static int load_install(struct loader *L, struct ini_section *s)
{
	struct manifest_answers *a = &L->m->answers;
	struct ini_kv *kv;

	a->line = s->line;
	a->start_services = 1;
	if (take_str(L, ini_section_get(s, "product"), &a->product) ||
	    take_str(L, ini_section_get(s, "log"), &a->log))
		return -1;
	kv = ini_section_get(s, "dir");
	if (kv && !dir_ok(kv->value))
		return err_at(L->e, L->file, kv->line, "dir '%s' must be an absolute path without '.', '..' or '//', like %s",
			      kv->value, manifest_dir_example);
	if (take_str(L, kv, &a->install_dir))
		return -1;
	kv = ini_section_get(s, "components");
	if (kv) {
		a->components_set = 1;
		if (take_list(L, kv, &a->components))
			return -1;
	}
	kv = ini_section_get(s, "acceptlicense");
	if (kv && parse_bool(L, kv, &a->accept_license))
		return -1;
	kv = ini_section_get(s, "startservices");
	return kv ? parse_bool(L, kv, &a->start_services) : 0;
}

/* ---- duplicates ---------------------------------------------------------- */

/* A key of one or two strings (b may be NULL) and the index it was seen at. */
struct dupkey {
	const char *a, *b;
	int ix;
};

static int dupkey_same(const struct dupkey *p, const struct dupkey *q)
{
	if (strcmp(p->a, q->a) != 0)
		return 0;
	return (!p->b && !q->b) || (p->b && q->b && strcmp(p->b, q->b) == 0);
}

static int dupkey_cmp(const void *x, const void *y)
{
	const struct dupkey *p = x, *q = y;
	int c = strcmp(p->a, q->a);

	if (!c && (p->b || q->b))
		c = !p->b ? -1 : !q->b ? 1 : strcmp(p->b, q->b);
	return c ? c : (p->ix > q->ix) - (p->ix < q->ix);
}

/*
 * Sort k and find the smallest ix whose key repeats an earlier one: what a
 * pairwise scan in file order reports first, in n log n (a 20,000-file
 * manifest made the pairwise scan most of an install's CPU time). Returns
 * that ix and sets *first to the key's first ix, or returns -1.
 */
static int first_duplicate(struct dupkey *k, int n, int *first)
{
	int best = -1;

	qsort(k, (size_t)n, sizeof(*k), dupkey_cmp);
	for (int i = 1, g = 0; i < n; i++) {
		if (!dupkey_same(&k[g], &k[i])) {
			g = i;
			continue;
		}
		if (i == g + 1 && (best < 0 || k[i].ix < best)) {
			best = k[i].ix;
			*first = k[g].ix;
		}
	}
	return best;
}

/* ---- cross checks -------------------------------------------------------- */

/* Cycle search in a graph given by an edge callback: iterative depth-first
 * search (no recursion, so a long acyclic chain cannot exhaust the stack).
 * Returns 1 and fills cyc (node list, first == last, at most n + 1 nodes)
 * when g has a cycle, 0 when not, -1 when out of memory. */
struct graph {
	int n;
	int (*edge)(void *ctx, int from, int k);   /* k-th neighbour or -1 */
	void *ctx;
};

static int graph_cycle(const struct graph *g, int *cyc, int *ncyc, struct err *e)
{
	int *color = mem_array((size_t)g->n + 1, sizeof(int));
	int *stack = mem_array((size_t)g->n + 1, sizeof(int));
	int *next = mem_array((size_t)g->n + 1, sizeof(int));
	int found = 0;

	if (!color || !stack || !next) {
		mem_free(color);
		mem_free(stack);
		mem_free(next);
		err_nomem(e, "checking for cycles");
		return -1;
	}
	for (int root = 0; root < g->n && !found; root++) {
		int depth = 0;

		if (color[root])
			continue;
		stack[0] = root;
		next[0] = 0;
		color[root] = 1;
		while (depth >= 0 && !found) {
			int v = stack[depth], w = g->edge(g->ctx, v, next[depth]++);

			if (w < 0) {
				color[v] = 2;
				depth--;
			} else if (color[w] == 1) {
				int k = depth;

				while (stack[k] != w)
					k--;
				*ncyc = 0;
				for (; k <= depth; k++)
					cyc[(*ncyc)++] = stack[k];
				cyc[(*ncyc)++] = w;
				found = 1;
			} else if (color[w] == 0) {
				color[w] = 1;
				stack[++depth] = w;
				next[depth] = 0;
			}
		}
	}
	mem_free(color);
	mem_free(stack);
	mem_free(next);
	return found;
}

static int component_index(const struct manifest *m, const char *name)
{
	for (int i = 0; i < m->ncomponents; i++)
		if (strcmp(m->components[i].name, name) == 0)
			return i;
	return -1;
}

static int component_edge(void *ctx, int from, int k)
{
	const struct manifest *m = ctx;
	const struct manifest_list *r = &m->components[from].requires;

	for (int i = 0; i < r->n; i++) {
		int j = component_index(m, r->items[i]);

		if (j >= 0 && k-- == 0)
			return j;
	}
	return -1;
}

static int service_index(const struct manifest *m, const char *name)
{
	for (int i = 0; i < m->nservices; i++)
		if (strcmp(m->services[i].name, name) == 0)
			return i;
	return -1;
}

/* Edges from a service to the services that must start before it:
 * its depends_on and start_after, and every service that names it in
 * start_before. */
static int service_edge(void *ctx, int from, int k)
{
	const struct manifest *m = ctx;
	const struct manifest_service *s = &m->services[from];
	int j;

	for (int i = 0; i < s->depends_on.n; i++)
		if ((j = service_index(m, s->depends_on.items[i])) >= 0 && k-- == 0)
			return j;
	for (int i = 0; i < s->start_after.n; i++)
		if ((j = service_index(m, s->start_after.items[i])) >= 0 && k-- == 0)
			return j;
	for (int i = 0; i < m->nservices; i++)
		if (manifest_list_has(&m->services[i].start_before, s->name) && k-- == 0)
			return i;
	return -1;
}

static int file_index(const struct manifest *m, const char *id)
{
	for (int i = 0; i < m->nfiles; i++)
		if (strcmp(m->files[i].id, id) == 0)
			return i;
	return -1;
}

static int file_edge(void *ctx, int from, int k)
{
	const struct manifest *m = ctx;
	const struct manifest_list *a = &m->files[from].after;

	for (int i = 0; i < a->n; i++) {
		int j = file_index(m, a->items[i]);

		if (j >= 0 && k-- == 0)
			return j;
	}
	return -1;
}

static int report_cycle(struct loader *L, const char *what, int line, int *cyc, int ncyc,
			const char *(*name)(const struct manifest *, int))
{
	char buf[1024];
	size_t u = 0;

	buf[0] = '\0';
	for (int i = 0; i < ncyc; i++)
		u += (size_t)snprintf(buf + u, u < sizeof(buf) ? sizeof(buf) - u : 0, "%s%s",
				      i ? " -> " : "", name(L->m, cyc[i]));
	return err_at(L->e, L->file, line, "%s form a cycle: %s; break one of these dependencies", what, buf);
}

static const char *component_name_at(const struct manifest *m, int i) { return m->components[i].name; }
static const char *service_name_at(const struct manifest *m, int i) { return m->services[i].name; }
static const char *file_name_at(const struct manifest *m, int i) { return m->files[i].id; }

/* The index of the first file that repeats an earlier destination, or -1. */
static int duplicate_dest(struct loader *L, int *first)
{
	struct manifest *m = L->m;
	struct dupkey *k = mem_array((size_t)m->nfiles + 1, sizeof(*k));
	int d;

	if (!k)
		return err_nomem(L->e, "loading a manifest"), -2;
	for (int i = 0; i < m->nfiles; i++)
		k[i] = (struct dupkey){ m->files[i].dest, NULL, i };
	d = first_duplicate(k, m->nfiles, first);
	mem_free(k);
	return d;
}

static int check_cross(struct loader *L)
{
	struct manifest *m = L->m;
	int *cyc, ncyc = 0, rc = -1, maxn = m->ncomponents;
	int sp = m->kind == MANIFEST_SP || m->kind == MANIFEST_SP_MEDIA;
	int dup, dup_first = 0;

	if ((dup = duplicate_dest(L, &dup_first)) == -2)
		return -1;

	for (int i = 0; i < m->ncomponents; i++)
		for (int j = 0; j < m->components[i].requires.n; j++)
			if (component_index(m, m->components[i].requires.items[j]) < 0)
				return err_at(L->e, L->file, m->components[i].line,
					      "component '%s' requires '%s', which is not defined",
					      m->components[i].name, m->components[i].requires.items[j]);
	for (int i = 0; i < m->nfiles; i++) {
		struct manifest_file *f = &m->files[i];

		if (!sp && component_index(m, f->component) < 0)
			return err_at(L->e, L->file, f->line, "file '%s' belongs to component '%s', which is not defined", f->id, f->component);
		for (int j = 0; j < f->after.n; j++)
			if (file_index(m, f->after.items[j]) < 0)
				return err_at(L->e, L->file, f->line, "file '%s' registers after '%s', which is not a file here", f->id, f->after.items[j]);
		if (i == dup)
			return err_at(L->e, L->file, f->line, "file '%s' has the same destination '%s' as file '%s' (line %d)",
				      f->id, f->dest, m->files[dup_first].id, m->files[dup_first].line);
	}
	for (int i = 0; i < m->nservices; i++) {
		struct manifest_service *s = &m->services[i];

		if (s->component && component_index(m, s->component) < 0)
			return err_at(L->e, L->file, s->line, "service '%s' belongs to component '%s', which is not defined", s->name, s->component);
		for (int j = 0; j < s->depends_on.n; j++)
			if (service_index(m, s->depends_on.items[j]) < 0)
				return err_at(L->e, L->file, s->line,
					      "service '%s' depends on '%s', which is not declared; declare it (with external = yes if another product manages it)",
					      s->name, s->depends_on.items[j]);
		for (int j = 0; j < s->conflicts.n; j++)
			if (strcmp(s->conflicts.items[j], s->name) == 0)
				return err_at(L->e, L->file, s->line, "service '%s' conflicts with itself", s->name);
	}
	for (int i = 0; i < m->nextensions; i++)
		if (m->extensions[i].component && !sp && component_index(m, m->extensions[i].component) < 0)
			return err_at(L->e, L->file, m->extensions[i].line, "extension '%s' belongs to component '%s', which is not defined",
				      m->extensions[i].name, m->extensions[i].component);
	for (int i = 0; i < m->nregentries; i++)
		if (!sp && component_index(m, m->regentries[i].component) < 0)
			return err_at(L->e, L->file, m->regentries[i].line, "registry entry '%s' belongs to component '%s', which is not defined",
				      m->regentries[i].id, m->regentries[i].component);
	if (m->kind == MANIFEST_MEDIA || m->kind == MANIFEST_SP_MEDIA)
		for (int i = 0; i < m->ncomponents; i++)
			if (!manifest_payload_find(m, m->components[i].payload))
				return err_at(L->e, L->file, m->components[i].line,
					      "component '%s' uses payload '%s', which has no [payload %s] section",
					      m->components[i].name, m->components[i].payload, m->components[i].payload);

	{
		static const char *const what[] = { "component requirements", "service start-order constraints",
						    "module registration orders ('after')" };
		struct graph g[3] = { { m->ncomponents, component_edge, m }, { m->nservices, service_edge, m },
				      { m->nfiles, file_edge, m } };

		if (m->nservices > maxn)
			maxn = m->nservices;
		if (m->nfiles > maxn)
			maxn = m->nfiles;
		cyc = mem_array((size_t)maxn + 2, sizeof(int));
		if (!cyc)
			return err_nomem(L->e, "checking for cycles");
		for (int i = 0; i < 3; i++) {
			rc = graph_cycle(&g[i], cyc, &ncyc, L->e);
			if (rc > 0) {
				int line = i == 0 ? m->components[cyc[0]].line : i == 1 ? m->services[cyc[0]].line : m->files[cyc[0]].line;

				rc = report_cycle(L, what[i], line, cyc, ncyc,
						  i == 0 ? component_name_at : i == 1 ? service_name_at : file_name_at);
			}
			if (rc)
				break;
		}
		mem_free(cyc);
		if (rc)
			return -1;
	}
	return 0;
}

/* ---- driver -------------------------------------------------------------- */

/* The index of the first section that repeats an earlier [type name], or -1. */
static int duplicate_section(struct loader *L, int *first)
{
	struct dupkey *k = mem_array((size_t)L->doc.nsec + 1, sizeof(*k));
	int d;

	if (!k)
		return err_nomem(L->e, "loading a manifest"), -2;
	for (int i = 0; i < L->doc.nsec; i++)
		k[i] = (struct dupkey){ L->doc.sec[i].type, L->doc.sec[i].name, i };
	d = first_duplicate(k, L->doc.nsec, first);
	mem_free(k);
	return d;
}

static int load_doc(struct loader *L)
{
	char label[128];
	int dup, dup_first = 0;

	if (load_setupkit(L) || check_keys(L, &L->doc.sec[0], &sections[0]))
		return -1;
	if ((dup = duplicate_section(L, &dup_first)) == -2)
		return -1;
	for (int i = 1; i < L->doc.nsec; i++) {
		struct ini_section *s = &L->doc.sec[i];
		const struct section_spec *ss = section_spec_find(s->type);

		if (!ss || !(ss->kinds & K(L->m->kind))) {
			char list[256];
			size_t u = 0;

			list[0] = '\0';
			for (const struct section_spec *t = sections; t->type; t++)
				if (t->kinds & K(L->m->kind))
					u += (size_t)snprintf(list + u, u < sizeof(list) ? sizeof(list) - u : 0,
							      "%s[%s%s]", u ? " " : "", t->type, t->named ? " NAME" : "");
			return err_at(L->e, L->file, s->line, "unknown section %s in %s; expected %s",
				      section_label(s, label, sizeof(label)), kind_long[L->m->kind], list);
		}
		if (ss->named && (!s->name || !is_ident(s->name)))
			return err_at(L->e, L->file, s->line,
				      "section [%s] needs a name made of letters, digits, '.', '_' or '-', like [%s core]", s->type, s->type);
		if (!ss->named && s->name)
			return err_at(L->e, L->file, s->line, "section [%s] takes no name", s->type);
		if (i == dup)
			return err_at(L->e, L->file, s->line, "duplicate section %s (first at line %d)",
				      section_label(s, label, sizeof(label)), L->doc.sec[dup_first].line);
		if (check_keys(L, s, ss))
			return -1;
	}
	for (const struct section_spec *ss = sections; ss->type; ss++) {
		int found = 0;

		if (!(ss->required & K(L->m->kind)))
			continue;
		for (int i = 0; i < L->doc.nsec && !found; i++)
			found = strcmp(L->doc.sec[i].type, ss->type) == 0;
		if (!found)
			return err_at(L->e, L->file, 0, "%s needs a [%s%s] section", kind_long[L->m->kind], ss->type, ss->named ? " NAME" : "");
	}
	for (int i = 1; i < L->doc.nsec; i++) {
		struct ini_section *s = &L->doc.sec[i];
		const char *t = s->type;
		int rc = 0;

		if (strcmp(t, "product") == 0)
			rc = load_product(L, s);
		else if (strcmp(t, "media") == 0) {
			struct ini_kv *kv = ini_section_get(s, "level");
			uint64_t lvl = 0;

			rc = kv ? parse_u64(L, kv, 255, &lvl) : 0;
			L->m->level = (int)lvl;
		} else if (strcmp(t, "component") == 0)
			rc = load_component(L, s);
		else if (strcmp(t, "file") == 0)
			rc = load_file(L, s);
		else if (strcmp(t, "service") == 0)
			rc = load_service(L, s);
		else if (strcmp(t, "extension") == 0)
			rc = load_extension(L, s);
		else if (strcmp(t, "registry") == 0)
			rc = load_registry(L, s);
		else if (strcmp(t, "payload") == 0)
			rc = load_payload(L, s);
		else if (strcmp(t, "servicepack") == 0)
			rc = load_servicepack(L, s);
		else if (strcmp(t, "install") == 0)
			rc = load_install(L, s);
		if (rc)
			return -1;
	}
	return check_cross(L);
}

int manifest_load_buffer(const char *name, const char *text, size_t len,
			 enum manifest_kind expect, struct manifest **out, struct err *e)
{
	struct loader L;
	int rc = -1;

	*out = NULL;
	memset(&L, 0, sizeof(L));
	L.file = name;
	L.e = e;
	if (len > MANIFEST_MAX_FILE_BYTES)
		return err_set(e, ERR_CLASS_INPUT, "%s: larger than %u bytes; not a manifest", name, MANIFEST_MAX_FILE_BYTES);
	L.m = mem_zalloc(sizeof(*L.m));
	if (!L.m)
		return err_nomem(e, "loading a manifest");
	L.m->path = mem_strdup(name);
	if (!L.m->path) {
		err_nomem(e, "loading a manifest");
		goto out;
	}
	if (ini_doc_parse(&L.doc, name, text, len, e))
		goto out;
	if (L.doc.nsec == 0) {
		err_at(e, name, 0, "empty file; a manifest starts with [setupkit] giving 'format' and 'kind'");
		goto out;
	}
	if (load_doc(&L))
		goto out;
	if (expect && L.m->kind != expect) {
		err_at(e, name, L.doc.sec[0].line, "this is %s, but %s was expected", kind_long[L.m->kind], kind_long[expect]);
		goto out;
	}
	*out = L.m;
	L.m = NULL;
	rc = 0;
out:
	ini_doc_free(&L.doc);
	manifest_free(L.m);
	return rc;
}

int manifest_load(const char *path, enum manifest_kind expect,
		  struct manifest **out, struct err *e)
{
	int fd = os_open(path, OS_O_RDONLY, 0);
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	int rc = -1;

	*out = NULL;
	if (fd < 0)
		return err_errno(e, "cannot open '%s'", path);
	if (fstat(fd, &st) != 0) {
		err_errno(e, "cannot read '%s'", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		err_set(e, ERR_CLASS_INPUT, "'%s' is not a regular file", path);
		goto out;
	}
	if ((uint64_t)st.st_size > MANIFEST_MAX_FILE_BYTES) {
		err_set(e, ERR_CLASS_INPUT, "%s: larger than %u bytes; not a manifest", path, MANIFEST_MAX_FILE_BYTES);
		goto out;
	}
	buf = mem_alloc((size_t)st.st_size + 1);
	if (!buf) {
		err_nomem(e, "reading a manifest");
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_errno(e, "cannot read '%s'", path);
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	rc = manifest_load_buffer(path, buf, got, expect, out, e);
out:
	mem_free(buf);
	close(fd);
	return rc;
}

void manifest_free(struct manifest *m)
{
	if (!m)
		return;
	mem_free(m->path);
	mem_free(m->product.code);
	mem_free(m->product.name);
	mem_free(m->product.publisher);
	mem_free(m->product.default_dir);
	mem_free(m->product.license);
	for (int i = 0; i < m->ncomponents; i++) {
		mem_free(m->components[i].name);
		mem_free(m->components[i].description);
		mem_free(m->components[i].payload);
		manifest_list_free(&m->components[i].requires);
	}
	mem_free(m->components);
	for (int i = 0; i < m->nfiles; i++) {
		struct manifest_file *f = &m->files[i];

		mem_free(f->id);
		mem_free(f->component);
		mem_free(f->source);
		mem_free(f->dest);
		mem_free(f->target);
		mem_free(f->entry);
		manifest_list_free(&f->after);
	}
	mem_free(m->files);
	for (int i = 0; i < m->nservices; i++) {
		struct manifest_service *s = &m->services[i];

		mem_free(s->name);
		mem_free(s->component);
		mem_free(s->description);
		mem_free(s->start);
		mem_free(s->stop);
		mem_free(s->status);
		manifest_list_free(&s->depends_on);
		manifest_list_free(&s->start_before);
		manifest_list_free(&s->start_after);
		manifest_list_free(&s->conflicts);
	}
	mem_free(m->services);
	for (int i = 0; i < m->nextensions; i++) {
		mem_free(m->extensions[i].name);
		mem_free(m->extensions[i].component);
		mem_free(m->extensions[i].command);
	}
	mem_free(m->extensions);
	for (int i = 0; i < m->nregentries; i++) {
		struct manifest_regentry *r = &m->regentries[i];

		mem_free(r->id);
		mem_free(r->component);
		mem_free(r->key);
		mem_free(r->value);
		mem_free(r->data);
	}
	mem_free(m->regentries);
	for (int i = 0; i < m->npayloads; i++) {
		mem_free(m->payloads[i].name);
		mem_free(m->payloads[i].archive);
	}
	mem_free(m->payloads);
	mem_free(m->sp.name);
	mem_free(m->sp.product);
	manifest_list_free(&m->sp.supersedes);
	manifest_list_free(&m->sp.restart_services);
	mem_free(m->answers.product);
	mem_free(m->answers.install_dir);
	mem_free(m->answers.log);
	manifest_list_free(&m->answers.components);
	for (int i = 0; i < m->nservice_answers; i++)
		mem_free(m->service_answers[i].name);
	mem_free(m->service_answers);
	mem_free(m);
}
