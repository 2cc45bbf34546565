/*
 * manifest_ini.c - reading an INI file into a generic document.
 *
 * The syntax is inih's (r55 as Debian builds it, which setupkit used until
 * the Windows build could not get its source; see FORMAT.md): a line is
 * trimmed; blank lines and lines starting with ';' or '#' are comments;
 * "[name]" starts a section; "key = value" or "key: value" sets a key, and
 * in an unquoted value ';' after whitespace starts a comment; an indented
 * line right after a key would continue its value (refused here); a UTF-8
 * BOM on line 1 is skipped. Every error is reported at its real line, and
 * a line longer than MANIFEST_MAX_LINE is refused instead of split.
 *
 * Quoting: a value that starts with '"' is taken from the raw line and runs to
 * the closing quote; inside, \" and \\ are the only escapes. That keeps
 * leading or trailing spaces and " ;" that would otherwise be taken as a
 * comment. Unquoted values are trimmed, and " ;" starts a comment.
 */
#include "manifest_private.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/mem.h"

#define INI_LINE_BUF 200      /* a line with its '\n' and NUL (inih's INI_MAX_LINE) */

struct ini_reader_state {
	const char *p, *end;
	int line;
	char raw[INI_LINE_BUF + 1];
	struct ini_doc *doc;
	struct err *e;
	int failed;               /* first error already in e */
};

static int fail_at(struct ini_reader_state *st, int line, const char *fmt, ...) ERR_PRINTF(3, 4);
static int fail_at(struct ini_reader_state *st, int line, const char *fmt, ...)
{
	char buf[ERR_MSG_MAX];
	va_list ap;

	if (!st->failed) {
		va_start(ap, fmt);
		vsnprintf(buf, sizeof(buf), fmt, ap);
		va_end(ap);
		err_at(st->e, st->doc->file, line, "%s", buf);
		st->failed = 1;
	}
	return 0;
}

/* fgets-like over memory; records the raw line and refuses long ones. */
static char *ini_read_line(char *str, int num, void *stream)
{
	struct ini_reader_state *st = stream;
	const char *nl;
	size_t n, cap = (size_t)num - 1;

	if (st->p >= st->end)
		return NULL;
	st->line++;
	nl = memchr(st->p, '\n', (size_t)(st->end - st->p));
	n = nl ? (size_t)(nl - st->p) + 1 : (size_t)(st->end - st->p);
	/* Content (without '\n') beyond MANIFEST_MAX_LINE does not fit the buffer. */
	if (n - (nl ? 1 : 0) > MANIFEST_MAX_LINE || n > cap) {
		if (!st->failed) {
			err_at(st->e, st->doc->file, st->line,
			       "line is longer than %d bytes; shorten the value (paths and names have to fit on one line)",
			       MANIFEST_MAX_LINE);
			st->failed = 1;
		}
		/* Hand back an empty line and skip the rest of this one. */
		st->p += n;
		str[0] = '\n';
		str[1] = '\0';
		st->raw[0] = '\0';
		return str;
	}
	memcpy(str, st->p, n);
	str[n] = '\0';
	memcpy(st->raw, st->p, n);
	st->raw[n] = '\0';
	st->p += n;
	return str;
}

static int doc_add_section(struct ini_reader_state *st, const char *section)
{
	struct ini_doc *doc = st->doc;
	struct ini_section *s;
	const char *sp;

	if (doc->nsec >= MANIFEST_MAX_SECTIONS)
		return fail_at(st, st->line, "too many sections (limit %d)", MANIFEST_MAX_SECTIONS);
	if (doc->nsec == doc->cap) {
		int cap = doc->cap ? doc->cap * 2 : 32;
		struct ini_section *n = mem_realloc_array(doc->sec, (size_t)cap, sizeof(*n));

		if (!n)
			goto nomem;
		doc->sec = n;
		doc->cap = cap;
	}
	s = &doc->sec[doc->nsec];
	memset(s, 0, sizeof(*s));
	s->line = st->line;
	sp = strchr(section, ' ');
	if (sp) {
		const char *name = sp;

		while (*name == ' ')
			name++;
		s->type = mem_strndup(section, (size_t)(sp - section));
		if (s->type)
			for (char *c = s->type; *c; c++)
				if (*c >= 'A' && *c <= 'Z')
					*c = (char)(*c - 'A' + 'a');
		s->name = mem_strdup(name);
		if (!s->type || !s->name) {
			mem_free(s->type);
			mem_free(s->name);
			goto nomem;
		}
	} else {
		s->type = mem_strdup(section);
		if (!s->type)
			goto nomem;
		for (char *c = s->type; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
	}
	doc->nsec++;
	return 1;
nomem:
	if (!st->failed) {
		err_nomem(st->e, "reading a manifest");
		st->failed = 1;
	}
	return 0;
}

/*
 * Take the value from the raw line when it is quoted. Returns an allocated
 * string, or NULL with st->failed set.
 */
static char *value_from_raw(struct ini_reader_state *st, const char *cooked)
{
	const char *p = st->raw;
	char *out, *o;

	/* The key ends at the first '=' or ':'. */
	p += strcspn(p, "=:");
	if (*p)
		p++;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '"') {
		out = mem_strdup(cooked);
		goto done;
	}
	p++;
	out = o = mem_alloc(strlen(p) + 1);
	if (!out)
		goto done;
	for (;; p++) {
		if (*p == '\0' || *p == '\n' || *p == '\r') {
			mem_free(out);
			fail_at(st, st->line, "missing closing quote in the value");
			return NULL;
		}
		if (*p == '"')
			break;
		if (*p == '\\') {
			if (p[1] == '"' || p[1] == '\\') {
				*o++ = *++p;
				continue;
			}
			mem_free(out);
			fail_at(st, st->line, "unknown escape '\\%.1s' in a quoted value; only \\\" and \\\\ are allowed", p + 1);
			return NULL;
		}
		*o++ = *p;
	}
	*o = '\0';
	for (p++; *p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'; p++)
		;
	if (*p && *p != ';' && *p != '#') {
		mem_free(out);
		fail_at(st, st->line, "text after the closing quote of the value");
		return NULL;
	}
done:
	if (!out && !st->failed) {
		err_nomem(st->e, "reading a manifest");
		st->failed = 1;
	}
	return out;
}

/* "DependsOn", "depends_on" and "dependson" are the same key. */
static char *ini_key_normalise(const char *k)
{
	char *out = mem_alloc(strlen(k) + 1), *o = out;

	if (!out)
		return NULL;
	for (; *k; k++) {
		if (*k == '_' || *k == '-')
			continue;
		*o++ = (*k >= 'A' && *k <= 'Z') ? (char)(*k - 'A' + 'a') : *k;
	}
	*o = '\0';
	return out;
}

static int ini_handler_cb(void *user, const char *section, const char *name, const char *value)
{
	struct ini_reader_state *st = user;
	struct ini_doc *doc = st->doc;
	struct ini_section *s;
	struct ini_kv *kv;
	char *v;

	if (st->failed)
		return 1;  /* keep going quietly: the first error wins */
	if (!section[0] || doc->nsec == 0)
		return fail_at(st, st->line, "key '%s' before the first [section]; start the file with [setupkit]", name);
	/* A continuation line (indented) comes back with the same key. */
	/* The reader added the section when it saw its header line. */
	s = &doc->sec[doc->nsec - 1];
	/* An indented line after a key comes back as more of that key's
	 * value (inih's multi-line values). */
	if ((st->raw[0] == ' ' || st->raw[0] == '\t') && s->nkv && strcmp(s->kv[s->nkv - 1].raw_key, name) == 0)
		return fail_at(st, st->line, "indented line continues the value of '%s'; continuation lines are not supported, put the value on one line", name);
	{
		char *norm = ini_key_normalise(name);

		if (!norm) {
			err_nomem(st->e, "reading a manifest");
			st->failed = 1;
			return 0;
		}
		for (int i = 0; i < s->nkv; i++) {
			if (strcmp(s->kv[i].key, norm) == 0) {
				char prev[16];

				mem_free(norm);
				snprintf(prev, sizeof(prev), "%d", s->kv[i].line);
				return fail_at(st, st->line, "duplicate key '%s' (first set at line %s)", name, prev);
			}
		}
		mem_free(norm);
	}
	v = value_from_raw(st, value);
	if (!v)
		return 0;
	if (s->nkv == s->cap) {
		int cap = s->cap ? s->cap * 2 : 8;
		struct ini_kv *n = mem_realloc_array(s->kv, (size_t)cap, sizeof(*n));

		if (!n) {
			mem_free(v);
			err_nomem(st->e, "reading a manifest");
			st->failed = 1;
			return 0;
		}
		s->kv = n;
		s->cap = cap;
	}
	kv = &s->kv[s->nkv];
	memset(kv, 0, sizeof(*kv));
	kv->key = ini_key_normalise(name);
	kv->raw_key = mem_strdup(name);
	kv->value = v;
	kv->line = st->line;
	if (!kv->key || !kv->raw_key) {
		mem_free(kv->key);
		mem_free(kv->raw_key);
		mem_free(v);
		err_nomem(st->e, "reading a manifest");
		st->failed = 1;
		return 0;
	}
	s->nkv++;
	return 1;
}

/*
 * Read the next line and, when it is a section header, add the section
 * (with its checks); the tokenizer below only notes its name.
 */
static char *ini_read_line_sections(char *str, int num, void *stream)
{
	struct ini_reader_state *st = stream;
	char *r = ini_read_line(str, num, stream);
	const char *p;

	if (!r || st->failed)
		return r;
	p = st->raw;
	if (st->line == 1 && strncmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;   /* UTF-8 BOM, which the tokenizer skips too */
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '[') {
		const char *close = strchr(p, ']');
		char name[INI_LINE_BUF + 1];
		size_t n;

		if (!close)
			return r;   /* the tokenizer reports the syntax error */
		n = (size_t)(close - p - 1);
		memcpy(name, p + 1, n);
		name[n] = '\0';
		/* trim */
		while (n && (name[n - 1] == ' ' || name[n - 1] == '\t'))
			name[--n] = '\0';
		{
			char *q = name;

			while (*q == ' ' || *q == '\t')
				q++;
			if (!*q) {
				fail_at(st, st->line, "empty section name; expected [type] or [type name]");
				return r;
			}
			for (const char *c = close + 1; *c; c++) {
				if (*c == ';' || *c == '#')
					break;
				if (*c != ' ' && *c != '\t' && *c != '\r' && *c != '\n') {
					fail_at(st, st->line, "text after ']' of section [%s]", q);
					return r;
				}
			}
			doc_add_section(st, q);
		}
	}
	return r;
}

static char *rstrip(char *s)
{
	char *p = s + strlen(s);

	while (p > s && isspace((unsigned char)p[-1]))
		*--p = '\0';
	return s;
}

static char *lskip(const char *s)
{
	while (*s && isspace((unsigned char)*s))
		s++;
	return (char *)s;
}

/* The first of chars in s, or the ';' of an inline comment (one that
 * follows whitespace), or the end of s. */
static char *find_chars_or_comment(const char *s, const char *chars)
{
	int was_space = 0;

	while (*s && (!chars || !strchr(chars, *s)) && !(was_space && *s == ';')) {
		was_space = isspace((unsigned char)*s);
		s++;
	}
	return (char *)s;
}

/* Split each line into a section header or a key and value for
 * ini_handler_cb. Returns 0, or the number of the first line that is not
 * valid syntax. */
static int ini_tokenize(struct ini_reader_state *st)
{
	char line[INI_LINE_BUF], section[INI_LINE_BUF] = "", prev_name[INI_LINE_BUF] = "";
	int error = 0;

	while (ini_read_line_sections(line, (int)sizeof(line), st)) {
		char *start = line, *end;

		if (st->line == 1 && strncmp(start, "\xef\xbb\xbf", 3) == 0)
			start += 3;
		start = lskip(rstrip(start));
		if (*start == '\0' || *start == ';' || *start == '#') {
			/* a blank line or a comment */
		} else if (*prev_name && start > line) {
			/* indented: more of the previous key's value */
			if (!ini_handler_cb(st, section, prev_name, start) && !error)
				error = st->line;
		} else if (*start == '[') {
			end = find_chars_or_comment(start + 1, "]");
			if (*end == ']') {
				*end = '\0';
				snprintf(section, sizeof(section), "%s", start + 1);
				*prev_name = '\0';
			} else if (!error) {
				error = st->line;
			}
		} else {
			end = find_chars_or_comment(start, "=:");
			if (*end == '=' || *end == ':') {
				char *name, *value;
				*end = '\0';
				name = rstrip(start);
				value = end + 1;
				end = find_chars_or_comment(value, NULL);
				*end = '\0';
				value = rstrip(lskip(value));
				snprintf(prev_name, sizeof(prev_name), "%s", name);
				if (!ini_handler_cb(st, section, name, value) && !error)
					error = st->line;
			} else if (!error) {
				error = st->line;
			}
		}
	}
	return error;
}

int ini_doc_parse(struct ini_doc *doc, const char *file, const char *text,
		  size_t len, struct err *e)
{
	struct ini_reader_state st;
	int rc;

	memset(&st, 0, sizeof(st));
	doc->file = file;
	st.p = text;
	st.end = text + len;
	st.doc = doc;
	st.e = e;
	{
		const char *nul = memchr(text, '\0', len);

		if (nul) {
			int line = 1;

			for (const char *c = text; c < nul; c++)
				line += *c == '\n';
			return err_at(e, file, line, "NUL byte in the file; a manifest is text");
		}
	}
	rc = ini_tokenize(&st);
	if (st.failed)
		return -1;
	if (rc > 0)
		return err_at(e, file, rc, "syntax error: expected '[section]', 'key = value' or a comment");
	return 0;
}

void ini_doc_free(struct ini_doc *doc)
{
	for (int i = 0; i < doc->nsec; i++) {
		struct ini_section *s = &doc->sec[i];

		for (int j = 0; j < s->nkv; j++) {
			mem_free(s->kv[j].key);
			mem_free(s->kv[j].raw_key);
			mem_free(s->kv[j].value);
		}
		mem_free(s->kv);
		mem_free(s->type);
		mem_free(s->name);
	}
	mem_free(doc->sec);
	memset(doc, 0, sizeof(*doc));
}

struct ini_kv *ini_section_get(struct ini_section *s, const char *key)
{
	for (int i = 0; i < s->nkv; i++)
		if (strcmp(s->kv[i].key, key) == 0)
			return &s->kv[i];
	return NULL;
}

int manifest_list_parse(const char *file, int line, const char *key,
			const char *value, struct manifest_list *out, struct err *e)
{
	const char *p = value;

	memset(out, 0, sizeof(*out));
	while (*p == ' ' || *p == '\t')
		p++;
	if (!*p)
		return 0;
	for (;;) {
		const char *start, *end;
		char **n;

		while (*p == ' ' || *p == '\t')
			p++;
		start = p;
		while (*p && *p != ',')
			p++;
		end = p;
		while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if (end == start) {
			manifest_list_free(out);
			return err_at(e, file, line, "empty item in the list '%s'; separate names with single commas", key);
		}
		if (out->n >= MANIFEST_MAX_LIST) {
			manifest_list_free(out);
			return err_at(e, file, line, "too many items in '%s' (limit %d)", key, MANIFEST_MAX_LIST);
		}
		n = mem_realloc_array(out->items, (size_t)out->n + 1, sizeof(char *));
		if (!n) {
			manifest_list_free(out);
			return err_nomem(e, "reading a list");
		}
		out->items = n;
		out->items[out->n] = mem_strndup(start, (size_t)(end - start));
		if (!out->items[out->n]) {
			manifest_list_free(out);
			return err_nomem(e, "reading a list");
		}
		out->n++;
		if (!*p)
			break;
		p++;
	}
	return 0;
}

void manifest_list_free(struct manifest_list *l)
{
	for (int i = 0; i < l->n; i++)
		mem_free(l->items[i]);
	mem_free(l->items);
	l->items = NULL;
	l->n = 0;
}

int manifest_list_has(const struct manifest_list *l, const char *item)
{
	for (int i = 0; i < l->n; i++)
		if (strcmp(l->items[i], item) == 0)
			return 1;
	return 0;
}
