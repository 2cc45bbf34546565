/*
 * setup_proc.h - the platform half of setup: running one declared command
 * (an extension, a service's start/stop/status), the root's lock file, and
 * Ctrl-C. setup_proc_posix.c and setup_proc_win32.c implement it; the
 * portable callers are setup_extension.c (the read/timeout loop),
 * setup_ctx.c (waiting for the lock and naming its holder) and
 * setup_cmd_install.c (rolling back when cancelled).
 *
 * A command runs as
 *   POSIX:   /bin/sh -c CMD, in a new process group;
 *   Windows: %SystemRoot%\System32\cmd.exe /d /s /c "CMD", in a job object
 *            (kill on close while it runs) and a new process group,
 * with stdin the null device, stdout and stderr into one pipe, and the
 * SETUPKIT_* variables of struct setup_cmd_env added to setup's own
 * environment. Killing it (timeout, cancel) kills everything it started:
 * the process group (SIGKILL) or the job (TerminateJobObject). A command
 * that ends on its own leaves what it started running (a service's daemon)
 * on both systems.
 *
 * Trap: the pipe may stay open after the command ended (a daemon inherited
 * it), so the caller stops when setup_proc_ended says so, never waits for
 * end of file.
 */
#ifndef SETUPKIT_SETUP_PROC_H
#define SETUPKIT_SETUP_PROC_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/err.h"
#include "setup/setup_service.h"

/* ---- one command ---- */

struct setup_proc;   /* a started command; setup_proc_finish frees it */

/* Start cmd with env's variables. Returns 0 and *pp, or -1 with e saying
 * why it could not be started (nothing is left running then). */
int setup_proc_start(const char *cmd, const struct setup_cmd_env *env, struct setup_proc **pp,
		     struct err *e);
/* 1 when the command itself (the shell) has ended, 0 while it runs. */
int setup_proc_ended(struct setup_proc *p);
/* Up to size bytes of its output, waiting at most wait_ms for some
 * (0: only what is in the pipe now). Returns the count, 0 at end of file
 * (every later call then only waits), -1 when nothing came. Windows: CRLF
 * line ends (cmd.exe's) come back as LF. */
long setup_proc_read(struct setup_proc *p, char *buf, size_t size, unsigned wait_ms);
/* Kill the command and everything it started, and wait for it to end. */
void setup_proc_kill(struct setup_proc *p);
/* Release p. Unless it was killed, fill r->exited and r->code, or how it
 * crashed (r->signal on POSIX, r->exception on Windows). */
void setup_proc_finish(struct setup_proc *p, struct setup_cmd_result *r);
/* "was killed by signal 11, SIGSEGV (Segmentation fault)" (POSIX) or
 * "crashed with exception 0xC0000005 (EXCEPTION_ACCESS_VIOLATION, access
 * violation)" (Windows), for a result with r->signal or r->exception. */
void setup_proc_crash_describe(const struct setup_cmd_result *r, char *buf, size_t len);

/* A monotonic clock in milliseconds. */
uint64_t setup_proc_now_ms(void);

/* ---- cancelling ---- */

/* From now on Ctrl-C, SIGTERM and SIGHUP (Windows: Ctrl-C, Ctrl-Break,
 * closing the console, logoff, shutdown) set *flag to 1 instead of ending
 * setup, which then rolls back. On Windows a console close, logoff or
 * shutdown ends the process after the system's grace period (about 5 s)
 * whatever it is doing; recovery finishes what the rollback could not. */
void setup_proc_catch_cancel(volatile sig_atomic_t *flag);
/* Pause ms milliseconds; cancelling (above) cuts the pause short. */
void setup_proc_pause_ms(unsigned ms);

/* ---- the root's lock ---- */

/* Open (create) the lock file at path for reading and writing, not
 * inherited by children and refusing a symlink. Returns the fd, or -1
 * with e naming path. */
int setup_proc_lock_open(const char *path, struct err *e);
/* Take the exclusive lock without waiting (POSIX: flock; Windows:
 * LockFileEx on a byte far past the pid, so the pid stays readable).
 * Returns 0 taken, 1 held by another process, -1 with e. */
int setup_proc_lock_try(int fd, const char *path, struct err *e);
/* Write this process's id into the lock file (the lock is held). */
int setup_proc_lock_note_pid(int fd, const char *path, struct err *e);
/* "process 1234 (setup install ...)", or "another process" when the file
 * names no pid; from the pid the holder wrote. */
void setup_proc_lock_holder(int fd, char *buf, size_t n);
/* Release the lock and close fd. */
void setup_proc_lock_close(int fd);

/* fopen() of a UTF-8 path that children never inherit (POSIX: mode + "e",
 * O_CLOEXEC; Windows: mode + "N", _O_NOINHERIT), so extensions, services
 * and what they leave running do not hold the file open. */
FILE *setup_proc_fopen_private(const char *path, const char *mode);

#endif
