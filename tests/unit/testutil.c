/*
 * testutil.c - see testutil.h. Uses plain libc so tests do not depend on
 * the code under test for their own bookkeeping.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *tu_tmpdir(void)
{
	const char *t = getenv("TMPDIR");
	char *tmpl;

	if (!t || !*t)
		t = "/tmp";
	assert_true(asprintf(&tmpl, "%s/setupkit-test-XXXXXX", t) > 0);
	assert_non_null(mkdtemp(tmpl));
	return tmpl;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st; (void)flag; (void)f;
	return remove(p);
}

void tu_tmpdir_remove(char *dir)
{
	if (!dir)
		return;
	/* A test may leave read-only dirs behind; make them writable first. */
	char *cmd;
	if (asprintf(&cmd, "chmod -R u+rwx '%s' 2>/dev/null", dir) > 0) {
		if (system(cmd) != 0) { /* best effort */ }
		free(cmd);
	}
	nftw(dir, rm_one, 32, FTW_DEPTH | FTW_PHYS);
	free(dir);
}

static void mkparents(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(path, 0755);
			*p = '/';
		}
	}
}

void tu_write_bytes(const char *dir, const char *name, const void *data, size_t n)
{
	char *path;
	FILE *f;

	assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
	mkparents(path);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
	free(path);
}

void tu_write(const char *dir, const char *name, const char *data)
{
	tu_write_bytes(dir, name, data, strlen(data));
}

char *tu_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	if (!f)
		return NULL;
	for (;;) {
		if (n + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		size_t r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
		if (r == 0)
			break;
	}
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

int tu_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static int count_n;
static int count_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)p; (void)st; (void)flag;
	if (f->level > 0)
		count_n++;
	return 0;
}

int tu_count_entries(const char *dir)
{
	count_n = 0;
	nftw(dir, count_one, 32, FTW_PHYS);
	return count_n;
}

static char *env_path(const char *var, const char *def, const char *rel)
{
	const char *b = getenv(var);
	char *p;

	if (!b || !*b)
		b = def;
	assert_true(asprintf(&p, "%s/%s", b, rel) > 0);
	return p;
}

char *tu_build_path(const char *rel)
{
	return env_path("B", "build", rel);
}

char *tu_src_path(const char *rel)
{
	return env_path("SRCDIR", ".", rel);
}
