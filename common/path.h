/*
 * path.h - small path helpers shared by every module: joining, mapping a
 * path into the root, checking that a relative path stays inside its base,
 * creating directories and syncing them. Returned strings are allocated with
 * mem_alloc and owned by the caller (mem_free).
 */
#ifndef SETUPKIT_PATH_H
#define SETUPKIT_PATH_H

#include <sys/types.h>

#include "err.h"

/* "a" + "/" + "b", collapsing a doubled slash. NULL on out of memory. */
char *path_join(const char *a, const char *b);

/*
 * Map an absolute path inside the installed system to the real path under
 * root: ("/tmp/r", "/opt/x") gives "/tmp/r/opt/x"; root "/" gives the path.
 */
char *path_in_root(const char *root, const char *abs);

/*
 * True when rel is a clean relative path: not empty, not absolute, no
 * empty, "." or ".." components, no backslash, no control characters, and
 * (Windows) no component that Win32 would read as another name, a stream
 * or a device (os_path_name_ok).
 */
int path_is_clean_relative(const char *rel);
/* The same with '\\' separating parts too, as in a Windows path (which
 * takes either separator); on any system. */
int path_is_clean_relative_win(const char *rel);

/* The last component of path (borrowed, points into path). */
const char *path_basename(const char *path);

/* 1 for a path with nothing above it: "/" (Windows: "C:\\"), or ".". */
int path_is_root(const char *path);

/* Allocated copy of everything before the last '/', or "." when none
 * ("/" for "/x"; on Windows also '\\' and "C:\\" for "C:\\x"). */
char *path_dirname(const char *path);

/* mkdir -p with mode for the created directories; errors name the path. */
int path_mkdirs(const char *path, mode_t mode, struct err *e);

/* fsync the directory at path (after a rename or create inside it). */
int path_sync_dir(const char *path, struct err *e);



/* rm -rf path (not following symlinks); a missing path is fine. */
int path_remove_tree(const char *path, struct err *e);

/* True when path exists (lstat). */
int path_exists(const char *path);
#endif
