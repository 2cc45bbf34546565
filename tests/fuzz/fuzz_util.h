/*
 * fuzz_util.h - what the fuzz targets share: temporary directories (only
 * ever under $TMPDIR, made with mkdtemp), writing and removing files, and
 * the sentinel check: a cheap snapshot (names, types, modes, sizes, mtimes,
 * inodes, link targets) of a directory tree taken before a target runs and
 * compared after it; any difference outside the parts the target may change
 * aborts, so libFuzzer reports it as a crash.
 *
 * Plain libc on purpose: the harness must not depend on the code under test
 * for its own bookkeeping (path_remove_tree is fuzzed, not trusted).
 * Failures of the harness itself (no temp space) abort with a message.
 */
#ifndef SETUPKIT_FUZZ_UTIL_H
#define SETUPKIT_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* A fresh directory $TMPDIR/setupkit-fuzz-<tag>-XXXXXX (allocated). */
char *fuzz_tmp_make(const char *tag);
/* rm -rf path (not following symlinks), then free it. NULL-safe. */
void fuzz_tmp_remove(char *path);
/* Remove everything inside dir, keeping dir itself. */
void fuzz_dir_empty(const char *dir);
/* Number of entries directly inside dir (-1 when it cannot be read). */
int fuzz_dir_count(const char *dir);
/* Write n bytes to path (created 0644, truncated); 0 or -1. */
int fuzz_file_write(const char *path, const void *data, size_t n);
/* mkdir -p (0755); 0 or -1. */
int fuzz_mkdirs(const char *path);
/* Allocated printf; aborts on out of memory (harness only). */
char *fuzz_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A snapshot of the tree at `top`: one line per entry, sorted. */
struct fuzz_snap {
	char *text;
	size_t len;
};
struct fuzz_snap_opts {
	const char *const *skip_trees;   /* absolute paths left out whole, their
					  * own entry too (NULL-terminated) */
	const char *const *skip_entries; /* only the entry itself is left out;
					  * what is inside is still compared */
	int loose;                       /* leave out directories' mtimes and
					  * every link count: entries inside a
					  * directory, and other names of a file,
					  * may change */
};
void fuzz_snap_take(struct fuzz_snap *s, const char *top, const struct fuzz_snap_opts *o);
/* Take a new snapshot and abort() with the first difference when it does
 * not equal s; `what` names the operation in the message. */
void fuzz_snap_check(const struct fuzz_snap *s, const char *top, const struct fuzz_snap_opts *o,
		     const char *what);
void fuzz_snap_free(struct fuzz_snap *s);

/* Die with a message (an oracle failed): libFuzzer saves the input. */
void fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
