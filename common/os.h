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
#include <sys/stat.h>
#include <time.h>

#include "common/err.h"

/* Call first in main(): on Windows, replaces argv with the UTF-8 form of
 * the wide command line and makes the console print UTF-8; nothing on
 * POSIX. */
void os_init(int *argc, char ***argv);

/* path inside the system whose root directory is root ("": this system
 * itself). POSIX: root + path. Windows: a drive path "C:\X" is itself
 * with root "", root\C\X otherwise; setupkit's own POSIX-style paths
 * ("/var/lib/setupkit/...", "/etc/setupkit/...") are under
 * %ProgramData%\setupkit with root "", under root otherwise. Allocated. */
char *os_in_root(const char *root, const char *path);

/* fopen() of a UTF-8 path (Windows: _wfopen, so without 'b' the file is
 * in text mode and "\n" is written as CRLF; a mode with 'x' is made
 * with _wopen(_O_CREAT | _O_EXCL), which msvcrt's fopen lacks). */
FILE *os_fopen(const char *path, const char *mode);

/* End this process at once, like SIGKILL: no atexit handlers, no flush
 * (the crash tests' kill points; Windows: TerminateProcess, exit code 137). */
void os_kill_self(void);

/* 1 when files have POSIX permission bits (so setup sets and verifies
 * them); 0 on Windows, where folders' ACLs decide. */
int os_has_modes(void);

/* Length of path's root: 1 for "/..." on POSIX; 3 for "C:\\..." and the
 * "\\\\server\\share\\" prefix on Windows; 0 for a relative path. */
size_t os_path_root_len(const char *path);

/* Allocated absolute form of path (symlinks resolved where the system has
 * them); a path that does not exist is made absolute against the current
 * directory. NULL when out of memory. */
char *os_absolute(const char *path);

/* rename() that replaces an existing target, atomically where the system
 * can (Windows: MoveFileExW with MOVEFILE_REPLACE_EXISTING and
 * MOVEFILE_WRITE_THROUGH); -1 with errno. os_unlink: -1 with errno. */
int os_rename(const char *from, const char *to);
int os_unlink(const char *path);

/* os_open flags: setupkit's names, mapped to the system's by os_open. */
#define OS_O_RDONLY   0x01
#define OS_O_WRONLY   0x02
#define OS_O_CREAT    0x04
#define OS_O_EXCL     0x08
#define OS_O_NOFOLLOW 0x10   /* POSIX: O_NOFOLLOW; Windows: refuse a reparse point */
#define OS_O_NONBLOCK 0x20   /* POSIX: O_NONBLOCK, so a FIFO cannot hang the open;
			      * Windows: nothing (a file system holds no FIFOs) */
#define OS_O_TRUNC    0x40   /* O_TRUNC (Windows: _O_TRUNC) */

/* open() of a UTF-8 path, never inherited by children (POSIX: O_CLOEXEC;
 * Windows: _wopen with _O_BINARY | _O_NOINHERIT; mode only says whether
 * the new file is writable). The fd works with read, write, fstat, close.
 * -1 with errno. */
int os_open(const char *path, int flags, int mode);

/* A directory to create files in by name only (staging). POSIX: an
 * O_DIRECTORY | O_NOFOLLOW fd, and the *_at calls use openat, symlinkat,
 * unlinkat on it. Windows: a handle that refuses a reparse point and keeps
 * the directory from being renamed or deleted while it is open; the *_at
 * calls use dir, the path it was opened from. Close with close(). -1 with
 * errno. */
int os_dir_open(const char *dir);
/* 1 when the directory of dfd is private (POSIX: ours, no group or other
 * bits; Windows: always, a new folder inherits its parent's ACL), 0 when
 * not, -1 with errno when it cannot be told. */
int os_dir_is_private(int dfd);
int os_open_at(int dfd, const char *dir, const char *name, int flags, int mode);
int os_symlink_at(const char *target, int dfd, const char *dir, const char *name);
int os_unlink_at(int dfd, const char *dir, const char *name);
/* lstat() of name in the directory dfd (POSIX: fstatat with
 * AT_SYMLINK_NOFOLLOW; Windows: os_lstat of dir/name). -1 with errno. */
int os_lstat_at(int dfd, const char *dir, const char *name, struct stat *st);

/* Reading a directory: opendir/readdir/closedir of a UTF-8 path. Every
 * entry comes back, "." and ".." included, like readdir; the name is
 * borrowed until the next os_readdir or os_closedir. os_opendir: NULL with
 * errno (ENOENT when it does not exist). os_readdir: NULL at the end.
 * os_dirfd: the directory's fd for the *_at calls (POSIX: dirfd; Windows:
 * -1, which the *_at calls ignore; pass the path as their dir). */
struct os_dir;
struct os_dir *os_opendir(const char *path);
const char *os_readdir(struct os_dir *d);
int os_dirfd(struct os_dir *d);
void os_closedir(struct os_dir *d);

/* mkdir(), rmdir() (Windows: RemoveDirectoryW, ENOTEMPTY when not empty),
 * stat(), lstat() (Windows: a symbolic link or a junction is reported as
 * S_IFLNK, not followed, like POSIX lstat; any other reparse point, such as
 * a cloud or deduplicated file, as what it holds), symlink() (Windows:
 * CreateSymbolicLinkW, which may need a privilege) of UTF-8 paths; fsync()
 * (Windows: _commit); fchmod() (Windows: nothing, a file's access is its
 * ACL; there are no POSIX mode bits). All -1 with errno. */
int os_mkdir(const char *path, int mode);
int os_rmdir(const char *path);
int os_stat(const char *path, struct stat *st);
int os_lstat(const char *path, struct stat *st);
int os_symlink(const char *target, const char *path);
int os_fsync(int fd);
int os_fchmod(int fd, int mode);

/* link(): makes to a second name of the file from, in the same directory
 * or at least on the same volume (Windows: CreateHardLinkW, NTFS only; EEXIST
 * when to exists). -1 with errno. */
int os_link(const char *from, const char *to);

/*
 * Make the files written so far durable, and the names that lead to them.
 * files are real paths of files the caller wrote (or their final names),
 * sorted so that the files of one directory are next to each other; dir is
 * a directory always covered (the root). Returns 0, or -1 with e set and
 * naming the path.
 *  POSIX: one syncfs() per filesystem holding dir or the directory of one
 *    of files (at most 16 filesystems), never one fsync per file; a
 *    directory that no longer exists is skipped (its parent is covered).
 *  Windows has no syncfs: FlushFileBuffers on each of files that exists (a
 *    missing one was renamed or removed since, and is skipped). Names need
 *    no flush: NTFS journals its metadata in order, and os_rename writes
 *    through, which commits every earlier create and link with it.
 */
int os_sync_files(const char *dir, const char *const *files, size_t n, struct err *e);

/*
 * 1 when errnum, from os_rename, os_unlink or os_rmdir, says a running
 * program has the file or folder open. POSIX: never (a running program
 * keeps its old file). Windows: EBUSY (a sharing or lock violation) or
 * EACCES (a loaded DLL or running program refuses to be replaced; a real
 * permission problem says EACCES too).
 */
int os_in_use_error(int errnum);

/* 0 (errno EBUSY) when a running program holds path open so that it can
 * be neither renamed over nor deleted; 1 otherwise. POSIX: always 1, no
 * system call. Windows: an open for DELETE access with every sharing mode
 * is refused. (A loaded DLL passes, and its rename still fails later.) */
int os_can_replace(const char *path);

/* Schedule src to replace dst at the next restart, before any program
 * starts: the way to replace a file in use on Windows (MoveFileEx with
 * MOVEFILE_DELAY_UNTIL_REBOOT, kept in the registry value
 * PendingFileRenameOperations; needs administrator rights). The session
 * manager skips a rename whose src is gone by then, so deleting src
 * cancels it. POSIX: -1 with ENOTSUP, never needed (see os_can_replace). */
int os_replace_at_restart(const char *src, const char *dst);

/* 1 when a and b are the same file (two hard links), 0 when not or when
 * either cannot be looked at. */
int os_same_file(const char *a, const char *b);

/* 1 when path is absolute and clean: a root ("/" on POSIX; "C:\\" or
 * "\\\\server\\share\\" on Windows), then no '.', '..' or empty parts and
 * no control characters; separators are '/' (and '\\' on Windows). */
int os_path_clean_absolute(const char *path);

/* gmtime_r(): t as UTC in *out; out, or NULL when t cannot be shown. */
struct tm *os_gmtime(time_t t, struct tm *out);

/* The last directory separator in path, or NULL: '/' (Windows: '/' or
 * '\\'). path_basename and path_dirname split there. */
const char *os_path_last_sep(const char *path);

/* 1 when the n bytes at name (one path component, already not empty, "."
 * or "..", and free of '/', '\\' and control characters) can name a file
 * here and only the file it says. POSIX: always. Windows: not when it holds
 * one of < > : " | ? * (':' would open an alternate data stream), ends in
 * '.' or ' ' (which Win32 strips, so "a." would be "a"), or is a device
 * name (CON, PRN, AUX, NUL, COM1-9, LPT1-9, CONIN$, CONOUT$, with or
 * without an extension). path_is_clean_relative asks it of every
 * component. */
int os_path_name_ok(const char *name, size_t n);

/* This process's id. */
long os_getpid(void);

/* Sleep for ms milliseconds. */
void os_sleep_ms(unsigned ms);

/* 1 when path is absolute (POSIX: starts with '/'; Windows: "C:\..." or
 * "\\server\share\..."). */
int os_path_is_absolute(const char *path);

#ifdef _WIN32
#include <wchar.h>

/* The file type os_lstat gives a symbolic link or junction (as on POSIX;
 * mingw's sys/stat.h has none). */
#ifndef S_IFLNK
#define S_IFLNK 0xA000
#endif
#ifndef S_ISLNK
#define S_ISLNK(m) (((m) & S_IFMT) == S_IFLNK)
#endif

/* UTF-8 <-> UTF-16, allocated with mem_*; NULL with errno EINVAL when the
 * input is not valid UTF-8 / UTF-16, ENOMEM when memory ran out. */
wchar_t *os_wide(const char *utf8);
char *os_utf8(const wchar_t *wide);

/* "exception 0xC0000005 (EXCEPTION_ACCESS_VIOLATION, access violation)"
 * into buf: how a process that ended with this exit code crashed (codes
 * from 0xC0000000 are NTSTATUS exceptions). Returns buf. */
char *os_exception_describe(unsigned long code, char *buf, size_t size);

/* Set e (ERR_CLASS_IO) to "<formatted text>: <system message> (error N)"
 * for the Win32 error code; returns -1, like err_errno. */
int os_win_err(struct err *e, unsigned long code, const char *fmt, ...) ERR_PRINTF(3, 4);
#endif

#endif
