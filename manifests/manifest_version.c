/*
 * manifest_version.c - file versions: up to four dotted parts, each 0-65535
 * ("5.5.2448.0"), like a Windows VS_FIXEDFILEINFO version. A bad version is
 * an error, never a zero: "5.x" or "70000" or "1.2.3.4.5" are refused.
 */
#include "manifest.h"

#include <stdio.h>
#include <string.h>

int manifest_version_parse(const char *s, struct manifest_version *v, struct err *e)
{
	const char *p = s;
	struct manifest_version r;

	memset(&r, 0, sizeof(r));
	if (!s || !*s)
		return err_set(e, ERR_CLASS_INPUT, "empty version; expected up to four numbers 0-65535 separated by dots, like 5.5.2448.0");
	for (;;) {
		unsigned long n = 0;
		int digits = 0;

		while (*p >= '0' && *p <= '9') {
			n = n * 10 + (unsigned long)(*p - '0');
			if (n > 65535)
				return err_set(e, ERR_CLASS_INPUT, "bad version '%s': part %d is larger than 65535", s, r.nparts + 1);
			p++;
			digits++;
		}
		if (!digits)
			return err_set(e, ERR_CLASS_INPUT, "bad version '%s': expected up to four numbers 0-65535 separated by dots, like 5.5.2448.0", s);
		if (r.nparts == 4)
			return err_set(e, ERR_CLASS_INPUT, "bad version '%s': more than four parts", s);
		r.part[r.nparts++] = (uint16_t)n;
		if (*p == '\0')
			break;
		if (*p != '.')
			return err_set(e, ERR_CLASS_INPUT, "bad version '%s': unexpected '%c'; expected digits and dots, like 5.5.2448.0", s, *p);
		p++;
	}
	*v = r;
	return 0;
}

int manifest_version_cmp(const struct manifest_version *a, const struct manifest_version *b)
{
	for (int i = 0; i < 4; i++) {
		unsigned x = i < a->nparts ? a->part[i] : 0;
		unsigned y = i < b->nparts ? b->part[i] : 0;

		if (x != y)
			return x < y ? -1 : 1;
	}
	return 0;
}

char *manifest_version_format(const struct manifest_version *v, char *buf)
{
	int n = 0;

	buf[0] = '\0';
	for (int i = 0; i < v->nparts && i < 4; i++)
		n += snprintf(buf + n, (size_t)(MANIFEST_VERSION_STRMAX - n), i ? ".%u" : "%u", v->part[i]);
	return buf;
}
