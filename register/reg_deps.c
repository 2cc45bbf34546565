/*
 * reg_deps.c - what the two missing-library diagnoses share (ELF in
 * reg_deps_posix.c, PE in reg_deps_win32.c): the text they build, and
 * freeing struct reg_deps.
 */
#include "reg_private.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/mem.h"

void reg_sb_add(struct reg_sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = 1;
		return;
	}
	if (b->n + (size_t)n + 1 > b->cap) {
		size_t cap = (b->n + (size_t)n + 1) * 2;
		char *s = mem_realloc(b->s, cap);
		if (!s) {
			b->oom = 1;
			return;
		}
		b->s = s;
		b->cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(b->s + b->n, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->n += (size_t)n;
}

void reg_deps_destroy(struct reg_deps *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->nneeded; i++)
		mem_free(d->needed[i]);
	for (size_t i = 0; i < d->nsysdirs; i++)
		mem_free(d->sysdirs[i]);
	mem_free(d->needed);
	mem_free(d->sysdirs);
	mem_free(d->rpath);
	mem_free(d->runpath);
	memset(d, 0, sizeof(*d));
}
