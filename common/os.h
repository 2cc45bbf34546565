/*
 * os.h - the calls whose spelling differs between POSIX and Windows, so the
 * rest of the tree stays one code base: os_posix.c and os_win32.c implement
 * them (the Makefile builds one, windows.mk the other). The directory
 * helpers of path.h (path_mkdirs, path_sync_dir, path_remove_tree,
 * path_exists) live there too.
 *
 * Strings are UTF-8 everywhere in setupkit; on Windows the os_win32.c calls
 * convert them to UTF-16 and use the wide (W) API, so any path works
 * (spaces, drive letters, non-ASCII), whatever the ANSI code page.
 */
#ifndef SETUPKIT_OS_H
#define SETUPKIT_OS_H

#include <stdio.h>

#include "common/err.h"

/* Call first in main(): on Windows, replaces argv with the UTF-8 form of
 * the wide command line and makes the console print UTF-8; nothing on
 * POSIX. */
void os_init(int *argc, char ***argv);

/* fopen() of a UTF-8 path (Windows: _wfopen). */
FILE *os_fopen(const char *path, const char *mode);

/* End this process at once, like SIGKILL: no atexit handlers, no flush
 * (the crash tests' kill points; Windows: TerminateProcess, exit code 137). */
void os_kill_self(void);

/* Allocated absolute form of path (symlinks resolved where the system has
 * them); a path that does not exist is made absolute against the current
 * directory. NULL when out of memory. */
char *os_absolute(const char *path);

/* rename() that replaces an existing target, atomically where the system
 * can (Windows: MoveFileExW with MOVEFILE_REPLACE_EXISTING and
 * MOVEFILE_WRITE_THROUGH); -1 with errno. os_unlink: -1 with errno. */
int os_rename(const char *from, const char *to);
int os_unlink(const char *path);

/* This process's id. */
long os_getpid(void);

/* Sleep for ms milliseconds. */
void os_sleep_ms(unsigned ms);

/* 1 when path is absolute (POSIX: starts with '/'; Windows: "C:\..." or
 * "\\server\share\..."). */
int os_path_is_absolute(const char *path);

#ifdef _WIN32
#include <wchar.h>

/* UTF-8 <-> UTF-16, allocated with mem_*; NULL with errno EINVAL when the
 * input is not valid UTF-8 / UTF-16, ENOMEM when memory ran out. */
wchar_t *os_wide(const char *utf8);
char *os_utf8(const wchar_t *wide);

/* Set e (ERR_CLASS_IO) to "<formatted text>: <system message> (error N)"
 * for the Win32 error code; returns -1, like err_errno. */
int os_win_err(struct err *e, unsigned long code, const char *fmt, ...) ERR_PRINTF(3, 4);
#endif

#endif
