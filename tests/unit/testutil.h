/*
 * testutil.h - helpers shared by the cmocka unit tests: a fresh temporary
 * directory per test (removed afterwards), and small file helpers.
 * Include after <cmocka.h>.
 */
#ifndef SETUPKIT_TESTUTIL_H
#define SETUPKIT_TESTUTIL_H

#include <stddef.h>

/* Create a fresh directory under $TMPDIR; returns its path (static storage
 * per call is not shared: the caller frees with tu_tmpdir_remove). */
char *tu_tmpdir(void);
/* rm -rf dir and free the string. */
void tu_tmpdir_remove(char *dir);
/* Write data to dir/name (creating parent directories); asserts on failure. */
void tu_write(const char *dir, const char *name, const char *data);
void tu_write_bytes(const char *dir, const char *name, const void *data, size_t n);
/* Read a whole small file into a NUL-terminated allocated buffer, or NULL. */
char *tu_read(const char *path, size_t *len);
/* True when path exists (lstat). */
int tu_exists(const char *path);
/* Number of directory entries under dir, recursively (files and dirs). */
int tu_count_entries(const char *dir);
/* Path to a built tool or fixture: $B (default "build") + "/" + rel. */
char *tu_build_path(const char *rel);
/* Source-tree path of the test data: $SRCDIR (default ".") + "/" + rel. */
char *tu_src_path(const char *rel);

#endif
