/*
 * reg_regfile.c - .reg files ("Windows Registry Editor Version 5.00"), as
 * written by regedit and read by reg.exe import.
 *
 * Export writes UTF-8 text with LF line ends, keys and values sorted
 * case-insensitively, hex data wrapped like regedit; it is deterministic, so
 * export -> import into an empty root -> export gives an identical file.
 * REG_SZ is written quoted when it is one NUL-terminated line, else hex(1).
 * hex(2) (REG_EXPAND_SZ) and hex(7) (REG_MULTI_SZ) carry UTF-16LE in .reg
 * files, as on Windows; the store keeps UTF-8, so both ways convert.
 * Import also reads UTF-16LE files with a BOM (what regedit writes), CRLF,
 * ';' comments, '\' continuation lines, [-KEY] and "name"=- deletions, and
 * applies everything in one transaction: a bad line changes nothing.
 */
#include "reg_private.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/mem.h"
#include "common/os.h"
#include <setupkit/reg.h>

#define REGFILE_HEADER "Windows Registry Editor Version 5.00"
#define REGFILE_MAX (64u << 20)
#define REGFILE_WRAP 76

/* ---- UTF-8 <-> UTF-16LE ---- */

/* Returns allocated UTF-16LE bytes, or NULL (*bad = 1 when invalid UTF-8). */
static unsigned char *utf8_to_16(const unsigned char *s, size_t n, size_t *outlen, int *bad)
{
	unsigned char *o = mem_alloc(n * 4 + 2);
	size_t k = 0;

	*bad = 0;
	if (!o)
		return NULL;
	for (size_t i = 0; i < n;) {
		uint32_t c = s[i], need;
		if (c < 0x80) { need = 0; }
		else if ((c & 0xE0) == 0xC0) { need = 1; c &= 0x1F; }
		else if ((c & 0xF0) == 0xE0) { need = 2; c &= 0x0F; }
		else if ((c & 0xF8) == 0xF0) { need = 3; c &= 0x07; }
		else goto bad;
		if (i + need >= n + (need ? 0 : 1) && need)
			goto bad;
		for (uint32_t j = 1; j <= need; j++) {
			if (i + j >= n || (s[i + j] & 0xC0) != 0x80)
				goto bad;
			c = (c << 6) | (s[i + j] & 0x3F);
		}
		if ((need == 1 && c < 0x80) || (need == 2 && c < 0x800) || (need == 3 && c < 0x10000) ||
		    c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
			goto bad;
		i += need + 1;
		if (c >= 0x10000) {
			c -= 0x10000;
			uint32_t hi = 0xD800 + (c >> 10), lo = 0xDC00 + (c & 0x3FF);
			o[k++] = (unsigned char)hi; o[k++] = (unsigned char)(hi >> 8);
			o[k++] = (unsigned char)lo; o[k++] = (unsigned char)(lo >> 8);
		} else {
			o[k++] = (unsigned char)c; o[k++] = (unsigned char)(c >> 8);
		}
	}
	*outlen = k;
	return o;
bad:
	*bad = 1;
	mem_free(o);
	return NULL;
}

static unsigned char *utf16_to_8(const unsigned char *s, size_t n, size_t *outlen, int *bad)
{
	unsigned char *o;
	size_t k = 0;

	*bad = 0;
	if (n % 2) {
		*bad = 1;
		return NULL;
	}
	o = mem_alloc(n * 2 + 1);
	if (!o)
		return NULL;
	for (size_t i = 0; i < n; i += 2) {
		uint32_t c = (uint32_t)s[i] | ((uint32_t)s[i + 1] << 8);
		if (c >= 0xD800 && c <= 0xDBFF) {
			uint32_t lo;
			if (i + 3 >= n)
				goto bad;
			lo = (uint32_t)s[i + 2] | ((uint32_t)s[i + 3] << 8);
			if (lo < 0xDC00 || lo > 0xDFFF)
				goto bad;
			c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
			i += 2;
		} else if (c >= 0xDC00 && c <= 0xDFFF) {
			goto bad;
		}
		if (c < 0x80) {
			o[k++] = (unsigned char)c;
		} else if (c < 0x800) {
			o[k++] = (unsigned char)(0xC0 | (c >> 6));
			o[k++] = (unsigned char)(0x80 | (c & 0x3F));
		} else if (c < 0x10000) {
			o[k++] = (unsigned char)(0xE0 | (c >> 12));
			o[k++] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
			o[k++] = (unsigned char)(0x80 | (c & 0x3F));
		} else {
			o[k++] = (unsigned char)(0xF0 | (c >> 18));
			o[k++] = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
			o[k++] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
			o[k++] = (unsigned char)(0x80 | (c & 0x3F));
		}
	}
	*outlen = k;
	return o;
bad:
	*bad = 1;
	mem_free(o);
	return NULL;
}

/* ---- export ---- */

static void put_quoted(FILE *f, const char *s, size_t n)
{
	fputc('"', f);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\')
			fputc('\\', f);
		fputc(s[i], f);
	}
	fputc('"', f);
}

static void put_hex(FILE *f, int col, const unsigned char *d, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "%02x", d[i]);
		col += 2;
		if (i + 1 < n) {
			fputc(',', f);
			col++;
			if (col >= REGFILE_WRAP) {
				fputs("\\\n  ", f);
				col = 2;
			}
		}
	}
	fputc('\n', f);
}

static int single_line_string(const struct reg_value *v)
{
	if (v->len == 0 || v->data[v->len - 1] != 0)
		return 0;
	for (size_t i = 0; i + 1 < v->len; i++)
		if (v->data[i] == 0 || v->data[i] == '\n' || v->data[i] == '\r')
			return 0;
	return 1;
}

static int export_value(FILE *f, const char *key, const struct reg_value *v, struct err *e)
{
	int col;
	char prefix[32];

	for (const char *p = v->name; *p; p++)
		if ((unsigned char)*p < 0x20)
			return err_set(e, ERR_CLASS_INPUT, "cannot export value '%s' of '%s': its name "
				       "holds a control character", v->name, key);
	if (*v->name) {
		put_quoted(f, v->name, strlen(v->name));
		col = 2 + (int)strlen(v->name);
	} else {
		fputc('@', f);
		col = 1;
	}
	if (v->type == SK_REG_SZ && single_line_string(v)) {
		fputc('=', f);
		put_quoted(f, (const char *)v->data, v->len - 1);
		fputc('\n', f);
		return 0;
	}
	if (v->type == SK_REG_DWORD && v->len == 4) {
		uint32_t d;
		memcpy(&d, v->data, 4);
		fprintf(f, "=dword:%08x\n", d);
		return 0;
	}
	if (v->type == SK_REG_BINARY)
		snprintf(prefix, sizeof(prefix), "=hex:");
	else
		snprintf(prefix, sizeof(prefix), "=hex(%x):", v->type);
	fputs(prefix, f);
	col += (int)strlen(prefix);
	if (v->type == SK_REG_EXPAND_SZ || v->type == SK_REG_MULTI_SZ) {
		size_t n = 0;
		int bad;
		unsigned char *w = utf8_to_16(v->data, v->len, &n, &bad);
		if (!w)
			return bad ? err_set(e, ERR_CLASS_INPUT, "cannot export value '%s' of '%s': "
					     "not valid UTF-8", v->name, key)
				   : err_nomem(e, "export");
		put_hex(f, col, w, n);
		mem_free(w);
		return 0;
	}
	put_hex(f, col, v->data, v->len);
	return 0;
}

static int export_key(struct reg_store *s, FILE *f, const char *key, struct err *e)
{
	struct reg_value v;
	char *sub;
	int got;

	fprintf(f, "[%s]\n", key);
	for (size_t i = 0; (got = reg_key_value_at(s, key, i, &v, e)) == 1; i++) {
		int r = export_value(f, key, &v, e);
		reg_value_destroy(&v);
		if (r < 0)
			return -1;
	}
	if (got < 0)
		return -1;
	fputc('\n', f);
	for (size_t i = 0; (got = reg_key_subkey_at(s, key, i, &sub, e)) == 1; i++) {
		char *child = mem_printf("%s\\%s", key, sub);
		mem_free(sub);
		if (!child)
			return err_nomem(e, "key path");
		got = export_key(s, f, child, e);
		mem_free(child);
		if (got < 0)
			return -1;
	}
	return got < 0 ? -1 : 0;
}

int reg_regfile_export(struct reg_store *s, const char *key, const char *file, struct err *e)
{
	char *disp = NULL, *tmp = NULL;
	FILE *f = NULL;
	int rc = -1;

	disp = reg_key_display(s, key, e);
	if (!disp)
		return -1;
	tmp = mem_printf("%s.tmp-%ld", file, os_getpid());
	if (!tmp) {
		err_nomem(e, "export");
		goto out;
	}
	f = os_fopen(tmp, "w");
	if (!f) {
		err_errno(e, "cannot create '%s'", file);
		goto out;
	}
	/* One read transaction: a consistent export while others write. */
	if (reg_exec(s, "BEGIN", e) < 0)
		goto out;
	fprintf(f, "%s\n\n", REGFILE_HEADER);
	rc = export_key(s, f, disp, e);
	reg_exec(s, "COMMIT", NULL);
	if (rc < 0)
		goto out;
	rc = -1;
	if (fflush(f) != 0 || ferror(f)) {
		err_errno(e, "cannot write '%s'", file);
		goto out;
	}
	if (fclose(f) != 0) {
		f = NULL;
		err_errno(e, "cannot write '%s'", file);
		goto out;
	}
	f = NULL;
	if (os_rename(tmp, file) != 0) {
		err_errno(e, "cannot rename '%s' to '%s'", tmp, file);
		goto out;
	}
	rc = 0;
out:
	if (f)
		fclose(f);
	if (rc < 0 && tmp)
		os_unlink(tmp);
	mem_free(tmp);
	mem_free(disp);
	return rc;
}

/* ---- import ---- */

static char *read_all(const char *file, size_t *len, struct err *e)
{
	FILE *f = os_fopen(file, "rb");
	char *buf = NULL;
	size_t n = 0, cap = 0;

	if (!f)
		return err_errno(e, "cannot open '%s'", file), NULL;
	for (;;) {
		if (n + 65536 + 1 > cap) {
			cap = cap ? cap * 2 : 65536 * 2;
			char *b = mem_realloc(buf, cap);
			if (!b) {
				err_nomem(e, file);
				goto fail;
			}
			buf = b;
		}
		size_t r = fread(buf + n, 1, 65536, f);
		n += r;
		if (n > REGFILE_MAX) {
			err_set(e, ERR_CLASS_INPUT, "'%s' is larger than %u MiB", file, REGFILE_MAX >> 20);
			goto fail;
		}
		if (r < 65536) {
			if (ferror(f)) {
				err_errno(e, "cannot read '%s'", file);
				goto fail;
			}
			break;
		}
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
fail:
	fclose(f);
	mem_free(buf);
	return NULL;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

/* Parse a quoted string at *p (after the opening quote); returns allocated. */
static char *parse_quoted(const char **pp)
{
	const char *p = *pp;
	size_t n = strlen(p);
	char *o = mem_alloc(n + 1);
	size_t k = 0;

	if (!o)
		return NULL;
	while (*p && *p != '"') {
		if (*p == '\\' && p[1])
			p++;
		o[k++] = *p++;
	}
	if (*p != '"') {
		mem_free(o);
		return NULL;
	}
	o[k] = '\0';
	*pp = p + 1;
	return o;
}

struct import_ctx {
	struct reg_store *s;
	const char *file;
	int line;
	char *key;   /* current key, NULL before the first [KEY] or after [-KEY] */
	int deleted; /* current section was a deletion */
};

static int import_value(struct import_ctx *c, const char *l, struct err *e)
{
	const char *p = l;
	char *name = NULL;
	unsigned char *data = NULL, *conv = NULL;
	size_t len = 0;
	uint32_t type;
	int rc = -1;

	if (*p == '@') {
		name = mem_strdup("");
		p++;
	} else if (*p == '"') {
		p++;
		name = parse_quoted(&p);
		if (!name)
			return err_at(e, c->file, c->line, "unterminated value name");
	} else {
		return err_at(e, c->file, c->line, "expected [KEY], \"name\"=... or @=...");
	}
	if (!name)
		return err_nomem(e, "import");
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p++ != '=') {
		err_at(e, c->file, c->line, "expected '=' after the value name");
		goto out;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	if (!c->key) {
		err_at(e, c->file, c->line, "value outside a [KEY] section");
		goto out;
	}
	if (*p == '-' && p[1] == '\0') {
		if (c->deleted)
			rc = 0;
		else
			rc = reg_value_delete(c->s, c->key, name, e) < 0 ? -1 : 0;
		goto out;
	}
	if (*p == '"') {
		char *str;
		p++;
		str = parse_quoted(&p);
		if (!str) {
			err_at(e, c->file, c->line, "unterminated string");
			goto out;
		}
		type = SK_REG_SZ;
		len = strlen(str) + 1;
		data = (unsigned char *)str;
	} else if (!strncasecmp(p, "dword:", 6)) {
		char *end;
		unsigned long v;
		p += 6;
		errno = 0;
		v = strtoul(p, &end, 16);
		if (end == p || end - p > 8 || errno) {
			err_at(e, c->file, c->line, "dword: needs up to 8 hex digits");
			goto out;
		}
		p = end;
		uint32_t d = (uint32_t)v;
		type = SK_REG_DWORD;
		len = 4;
		data = mem_alloc(4);
		if (!data) {
			err_nomem(e, "import");
			goto out;
		}
		memcpy(data, &d, 4);
	} else if (!strncasecmp(p, "hex", 3)) {
		p += 3;
		type = SK_REG_BINARY;
		if (*p == '(') {
			char *end;
			unsigned long t = strtoul(p + 1, &end, 16);
			if (end == p + 1 || *end != ')' || t > 0xFFFFFFFFul) {
				err_at(e, c->file, c->line, "bad hex(TYPE)");
				goto out;
			}
			type = (uint32_t)t;
			p = end + 1;
		}
		if (*p++ != ':') {
			err_at(e, c->file, c->line, "expected ':' after hex");
			goto out;
		}
		data = mem_alloc(strlen(p) / 2 + 1);
		if (!data) {
			err_nomem(e, "import");
			goto out;
		}
		while (*p) {
			int h, lo;
			while (*p == ' ' || *p == '\t')
				p++;
			if (!*p)
				break;
			h = hexval(p[0]);
			lo = h >= 0 ? hexval(p[1]) : -1;
			if (h < 0 || lo < 0) {
				err_at(e, c->file, c->line, "bad hex byte near '%.8s'", p);
				goto out;
			}
			data[len++] = (unsigned char)(h * 16 + lo);
			p += 2;
			while (*p == ' ' || *p == '\t')
				p++;
			if (*p == ',')
				p++;
			else if (*p) {
				err_at(e, c->file, c->line, "expected ',' between hex bytes");
				goto out;
			}
		}
		if (type == SK_REG_EXPAND_SZ || type == SK_REG_MULTI_SZ) {
			int bad;
			size_t n;
			conv = utf16_to_8(data, len, &n, &bad);
			if (!conv) {
				if (bad)
					err_at(e, c->file, c->line, "hex(%x) data is not UTF-16LE text", type);
				else
					err_nomem(e, "import");
				goto out;
			}
			mem_free(data);
			data = conv;
			conv = NULL;
			len = n;
		}
	} else {
		err_at(e, c->file, c->line, "unknown value data '%.20s'", p);
		goto out;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p && *p != ';') {
		err_at(e, c->file, c->line, "unexpected text after the value: '%.20s'", p);
		goto out;
	}
	if (c->deleted) {
		rc = 0;
		goto out;
	}
	rc = reg_value_set(c->s, c->key, name, type, data, len, e);
	if (rc < 0)
		err_prefix(e, "%s:%d", c->file, c->line);
out:
	mem_free(name);
	mem_free(data);
	mem_free(conv);
	return rc;
}

static int import_line(struct import_ctx *c, char *l, struct err *e)
{
	if (*l == '[') {
		size_t n = strlen(l);
		int del = l[1] == '-';
		if (n < 3 || l[n - 1] != ']')
			return err_at(e, c->file, c->line, "key line must end with ']'");
		l[n - 1] = '\0';
		mem_free(c->key);
		c->key = reg_path_normalize(l + 1 + del, e);
		if (!c->key)
			return err_prefix(e, "%s:%d", c->file, c->line);
		c->deleted = del;
		if (del) {
			if (reg_key_delete_tree(c->s, c->key, e) < 0)
				return err_prefix(e, "%s:%d", c->file, c->line);
			return 0;
		}
		if (reg_key_create(c->s, c->key, NULL, e) < 0)
			return err_prefix(e, "%s:%d", c->file, c->line);
		return 0;
	}
	return import_value(c, l, e);
}

/* Convert a UTF-16LE file (with BOM) to UTF-8 in place of buf. */
static char *maybe_utf16(char *buf, size_t *len, struct err *e, const char *file)
{
	if (*len >= 2 && (unsigned char)buf[0] == 0xFF && (unsigned char)buf[1] == 0xFE) {
		int bad;
		size_t n;
		unsigned char *u = utf16_to_8((unsigned char *)buf + 2, *len - 2, &n, &bad);
		mem_free(buf);
		if (!u) {
			if (bad)
				err_set(e, ERR_CLASS_INPUT, "'%s': bad UTF-16 text", file);
			else
				err_nomem(e, file);
			return NULL;
		}
		u[n] = '\0';
		*len = n;
		return (char *)u;
	}
	if (*len >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3)) {
		memmove(buf, buf + 3, *len - 2);
		*len -= 3;
	}
	return buf;
}

int reg_regfile_import(struct reg_store *s, const char *file, struct err *e)
{
	size_t len;
	char *buf = read_all(file, &len, e), *p, *logical = NULL;
	struct import_ctx c = { s, file, 0, NULL, 0 };
	int rc = -1, header = 0, in_txn = 0;
	size_t lcap = 0, llen = 0;

	if (!buf)
		return -1;
	buf = maybe_utf16(buf, &len, e, file);
	if (!buf)
		return -1;
	if (memchr(buf, '\0', len)) {
		err_set(e, ERR_CLASS_INPUT, "'%s' holds NUL bytes: not a .reg text file", file);
		goto out;
	}
	if (reg_store_begin(s, e) < 0)
		goto out;
	in_txn = 1;
	p = buf;
	while (*p) {
		char *nl = strchr(p, '\n'), *l = p;
		int start_line;
		size_t n;
		p = nl ? nl + 1 : p + strlen(p);
		if (nl)
			*nl = '\0';
		c.line++;
		start_line = c.line;
		n = strlen(l);
		while (n && (l[n - 1] == '\r' || l[n - 1] == ' ' || l[n - 1] == '\t'))
			l[--n] = '\0';
		/* Join '\' continuation lines into one logical line. */
		llen = 0;
		for (;;) {
			int cont = n && l[n - 1] == '\\' && l[0] != '[';
			if (cont)
				l[--n] = '\0';
			if (llen + n + 1 > lcap) {
				lcap = (llen + n + 1) * 2;
				char *nb = mem_realloc(logical, lcap);
				if (!nb) {
					err_nomem(e, "import");
					goto out;
				}
				logical = nb;
			}
			memcpy(logical + llen, l, n);
			llen += n;
			logical[llen] = '\0';
			if (!cont || !*p)
				break;
			l = p;
			nl = strchr(p, '\n');
			p = nl ? nl + 1 : p + strlen(p);
			if (nl)
				*nl = '\0';
			c.line++;
			while (*l == ' ' || *l == '\t')
				l++;
			n = strlen(l);
			while (n && (l[n - 1] == '\r' || l[n - 1] == ' ' || l[n - 1] == '\t'))
				l[--n] = '\0';
		}
		{
			char *q = logical;
			while (*q == ' ' || *q == '\t')
				q++;
			if (!*q || *q == ';')
				continue;
			if (!header) {
				if (strcmp(q, REGFILE_HEADER) != 0) {
					err_at(e, file, start_line, "expected '%s' (REGEDIT4 files are "
					       "not supported)", REGFILE_HEADER);
					goto out;
				}
				header = 1;
				continue;
			}
			int saved = c.line;
			c.line = start_line;
			if (import_line(&c, q, e) < 0)
				goto out;
			c.line = saved;
		}
	}
	if (!header) {
		err_set(e, ERR_CLASS_INPUT, "'%s' is empty: expected '%s'", file, REGFILE_HEADER);
		goto out;
	}
	if (reg_store_commit(s, e) < 0) {
		in_txn = 0;
		goto out;
	}
	in_txn = 0;
	rc = 0;
out:
	if (in_txn)
		reg_store_rollback(s, NULL);
	mem_free(c.key);
	mem_free(logical);
	mem_free(buf);
	return rc;
}
