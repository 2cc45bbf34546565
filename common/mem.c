/*
 * mem.c - allocation wrapper with fault injection. The counters are plain
 * globals: fault injection is a single-threaded test facility.
 */
#include "mem.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long mem_calls;
static unsigned long mem_fail_n;
static int mem_fail_persist;

void mem_fail_at(unsigned long n, int persist)
{
	mem_calls = 0;
	mem_fail_n = n;
	mem_fail_persist = persist;
}

unsigned long mem_count(void)
{
	return mem_calls;
}

/* Returns 1 when this allocation must fail. */
static int mem_should_fail(void)
{
	mem_calls++;
	if (mem_fail_n == 0)
		return 0;
	if (mem_calls == mem_fail_n || (mem_fail_persist && mem_calls > mem_fail_n)) {
		errno = ENOMEM;
		return 1;
	}
	return 0;
}

void *mem_alloc(size_t n)
{
	if (mem_should_fail())
		return NULL;
	return malloc(n ? n : 1);
}

void *mem_zalloc(size_t n)
{
	if (mem_should_fail())
		return NULL;
	return calloc(1, n ? n : 1);
}

void *mem_array(size_t count, size_t size)
{
	if (size && count > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	return mem_zalloc(count * size);
}

void *mem_realloc(void *p, size_t n)
{
	if (mem_should_fail())
		return NULL;
	return realloc(p, n ? n : 1);
}

void *mem_realloc_array(void *p, size_t count, size_t size)
{
	if (size && count > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	return mem_realloc(p, count * size);
}

char *mem_strndup(const char *s, size_t n)
{
	size_t len;
	char *d;

	if (!s)
		return NULL;
	len = strnlen(s, n);
	d = mem_alloc(len + 1);
	if (!d)
		return NULL;
	memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

char *mem_strdup(const char *s)
{
	return s ? mem_strndup(s, strlen(s)) : NULL;
}

char *mem_printf(const char *fmt, ...)
{
	va_list ap;
	char *d;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	d = mem_alloc((size_t)n + 1);
	if (!d)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(d, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return d;
}

void mem_free(void *p)
{
	free(p);
}
