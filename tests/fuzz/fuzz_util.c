/*
 * fuzz_util.c - see fuzz_util.h. Trap: the snapshot walks with lstat and
 * never follows a symlink, so a link a target planted cannot make the
 * harness itself read (or, in fuzz_tmp_remove, delete) outside the tree.
 */
#include "fuzz_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void fuzz_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("fuzz: oracle failed: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

char *fuzz_printf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0) {
		fputs("fuzz: out of memory in the harness\n", stderr);
		abort();
	}
	return s;
}

char *fuzz_tmp_make(const char *tag)
{
	const char *t = getenv("TMPDIR");
	char *p;

	if (!t || !*t)
		t = "/tmp";
	p = fuzz_printf("%s/setupkit-fuzz-%s-XXXXXX", t, tag);
	if (!mkdtemp(p)) {
		fprintf(stderr, "fuzz: cannot create a temporary directory '%s': %s\n", p, strerror(errno));
		abort();
	}
	return p;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)f;
	/* A target may leave a directory without write or search permission. */
	if (flag == FTW_DP || flag == FTW_D || flag == FTW_DNR)
		chmod(p, 0700);
	else if (st && S_ISDIR(st->st_mode))
		chmod(p, 0700);
	remove(p);
	return 0;
}

static void chmod_dirs(const char *path)
{
	DIR *d;
	struct dirent *de;
	struct stat st;

	if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode))
		return;
	chmod(path, 0700);
	if (!(d = opendir(path)))
		return;
	while ((de = readdir(d))) {
		char *c;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		c = fuzz_printf("%s/%s", path, de->d_name);
		chmod_dirs(c);
		free(c);
	}
	closedir(d);
}

void fuzz_tmp_remove(char *path)
{
	if (!path)
		return;
	chmod_dirs(path);
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(path);
}

void fuzz_dir_empty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		fuzz_tmp_remove(fuzz_printf("%s/%s", dir, de->d_name));
	}
	closedir(d);
}

int fuzz_dir_count(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

int fuzz_file_write(const char *path, const void *data, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	const char *p = data;

	if (fd < 0)
		return -1;
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			close(fd);
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return close(fd);
}

int fuzz_mkdirs(const char *path)
{
	char *p = fuzz_printf("%s", path);

	for (char *s = p + 1; ; s++) {
		if (*s == '/' || *s == '\0') {
			char save = *s;

			*s = '\0';
			if (mkdir(p, 0755) != 0 && errno != EEXIST) {
				free(p);
				return -1;
			}
			*s = save;
			if (!save)
				break;
		}
	}
	free(p);
	return 0;
}

/* ---- snapshots ------------------------------------------------------------ */

struct buf {
	char *p;
	size_t n, cap;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		size_t cap = (b->n + n + 1) * 2;
		char *g = realloc(b->p, cap);

		if (!g) {
			fputs("fuzz: out of memory in the harness\n", stderr);
			abort();
		}
		b->p = g;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static int skipped(const char *path, const char *const *skip)
{
	for (; skip && *skip; skip++)
		if (strcmp(path, *skip) == 0)
			return 1;
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void walk(struct buf *b, const char *top, const char *rel, const struct fuzz_snap_opts *o)
{
	char *dir = rel[0] ? fuzz_printf("%s/%s", top, rel) : fuzz_printf("%s", top);
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;

	if (!d) {
		char *line = fuzz_printf("%s\tunreadable %d\n", rel, errno);

		buf_add(b, line, strlen(line));
		free(line);
		free(dir);
		return;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			names = realloc(names, cap * sizeof(*names));
			if (!names)
				abort();
		}
		names[n++] = fuzz_printf("%s", de->d_name);
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), cmp_names);
	for (size_t i = 0; i < n; i++) {
		char *crel = rel[0] ? fuzz_printf("%s/%s", rel, names[i]) : fuzz_printf("%s", names[i]);
		char *full = fuzz_printf("%s/%s", top, crel);
		struct stat st;
		char target[512] = "";
		char *line;

		memset(&st, 0, sizeof(st));
		if (skipped(full, o->skip_trees))
			goto next;
		if (lstat(full, &st) != 0) {
			line = fuzz_printf("%s\tvanished\n", crel);
		} else if (skipped(full, o->skip_entries)) {
			line = NULL;
		} else if (S_ISDIR(st.st_mode) && o->loose) {
			line = fuzz_printf("%s\t%o dir\n", crel, (unsigned)st.st_mode);
		} else {
			if (S_ISLNK(st.st_mode)) {
				ssize_t k = readlink(full, target, sizeof(target) - 1);

				target[k > 0 ? k : 0] = '\0';
			}
			line = fuzz_printf("%s\t%o %lld %lld.%09ld %llu %lu %s\n", crel, (unsigned)st.st_mode,
					   (long long)st.st_size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
					   (unsigned long long)st.st_ino, o->loose ? 0ul : (unsigned long)st.st_nlink, target);
		}
		if (line)
			buf_add(b, line, strlen(line));
		free(line);
		if (S_ISDIR(st.st_mode))
			walk(b, top, crel, o);
next:
		free(crel);
		free(full);
		free(names[i]);
	}
	free(names);
	free(dir);
}

void fuzz_snap_take(struct fuzz_snap *s, const char *top, const struct fuzz_snap_opts *o)
{
	struct buf b = { NULL, 0, 0 };

	buf_add(&b, "", 0);
	walk(&b, top, "", o);
	s->text = b.p;
	s->len = b.n;
}

void fuzz_snap_check(const struct fuzz_snap *s, const char *top, const struct fuzz_snap_opts *o,
		     const char *what)
{
	struct fuzz_snap now;
	const char *a, *b;

	fuzz_snap_take(&now, top, o);
	if (now.len == s->len && memcmp(now.text, s->text, s->len) == 0) {
		fuzz_snap_free(&now);
		return;
	}
	/* Show the first line that differs, then the two listings. */
	a = s->text;
	b = now.text;
	while (*a && *a == *b) {
		a++;
		b++;
	}
	while (a > s->text && a[-1] != '\n') {
		a--;
		b--;
	}
	fprintf(stderr, "fuzz: %s changed something it may not change in %s.\n"
		"first difference:\n  before: %.*s\n  after:  %.*s\n--- before:\n%s--- after:\n%s",
		what, top, (int)strcspn(a, "\n"), a, (int)strcspn(b, "\n"), b, s->text, now.text);
	abort();
}

void fuzz_snap_free(struct fuzz_snap *s)
{
	free(s->text);
	s->text = NULL;
	s->len = 0;
}
