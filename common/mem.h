/*
 * mem.h - the one allocation wrapper used by library code.
 *
 * Every allocation in libsetupkit goes through mem_*() so that tests can make
 * the Nth allocation fail (mem_fail_at) and check that each failure path
 * returns a clean error and leaks nothing (SQLite's and curl's fault tests).
 * Library code never aborts on NULL; only a tool's main() decides to exit.
 */
#ifndef SETUPKIT_MEM_H
#define SETUPKIT_MEM_H

#include <stddef.h>

void *mem_alloc(size_t n);                 /* malloc; NULL on failure */
void *mem_zalloc(size_t n);                /* calloc(1, n) */
void *mem_array(size_t count, size_t size);/* calloc with overflow check */
void *mem_realloc(void *p, size_t n);      /* realloc; p untouched on failure */
void *mem_realloc_array(void *p, size_t count, size_t size);
char *mem_strdup(const char *s);           /* NULL when s is NULL or on failure */
char *mem_strndup(const char *s, size_t n);
char *mem_printf(const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 1, 2)))
#endif
	;
void mem_free(void *p);                    /* free; NULL-safe */

/*
 * Fault injection for tests: after mem_fail_at(n), the nth allocation from
 * now (1-based) fails, and so does every later one when `persist` is set.
 * mem_fail_at(0, 0) turns injection off. mem_count() tells how many
 * allocations were attempted since the last mem_fail_at() call.
 */
void mem_fail_at(unsigned long n, int persist);
unsigned long mem_count(void);

#endif
