/*
 * setup_term.h - the platform calls of the wizard (setup_wizard.c), so the
 * wizard itself stays portable: the terminal (is it one, its size, whether
 * it can be drawn on, clearing, bold and colour, keys without Enter, a line
 * with echo, Ctrl-C), plus
 * the three things the wizard asks of the system besides: the free space
 * of a directory, whether a directory may be written, and the path of the
 * running program. setup_term_posix.c implements them with termios, poll
 * and statvfs; setup_term_win32.c with the console API and the wide (W)
 * calls. Strings are UTF-8 on both.
 *
 * Traps: the terminal is the process's stdin/stdout, so the raw-mode state
 * is one per process (kept in the platform file, not in a struct). On
 * Windows the console modes outlive the process (cmd.exe shares them), so
 * every mode changed here is put back at exit too (atexit), not only by
 * setup_term_raw_end. A key or line read never blocks Ctrl-C: on POSIX it
 * is a signal (setup_term_signals_catch, no SA_RESTART, so a read returns);
 * on Windows, with processed input off, it arrives as the key
 * SETUP_TERM_CTRL_C (which the progress bar passes on with
 * setup_term_ctrl_c) and a line read returns SETUP_TERM_INTR.
 */
#ifndef SETUPKIT_SETUP_TERM_H
#define SETUPKIT_SETUP_TERM_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Results of setup_term_key and setup_term_line_read besides a key / 0. */
#define SETUP_TERM_NONE  (-1)   /* no key within the timeout */
#define SETUP_TERM_EOF   (-2)   /* end of input, or input cannot be read */
#define SETUP_TERM_INTR  (-3)   /* Ctrl-C typed, or a caught signal came */

/* The key Ctrl-C, as setup_term_key returns it where it is not a signal
 * (Windows console; POSIX only reads it when stdin is not a terminal). */
#define SETUP_TERM_CTRL_C 0x03

/* 1 when fd (0, 1 or 2) is an interactive terminal (POSIX: isatty;
 * Windows: a console, GetConsoleMode succeeds, so the NUL device and
 * pipes are not), else 0. */
int setup_term_is_tty(int fd);

/* The visible size of the terminal on fd in *cols, *rows; 0, or -1 when fd
 * is not a terminal (the values are then untouched). POSIX: TIOCGWINSZ;
 * Windows: the window of the console screen buffer. */
int setup_term_size(int fd, int *cols, int *rows);

/* 1 when the terminal on fd can be drawn on with setup_term_clear,
 * _erase_line and _attr, else 0 (then the wizard writes plain lines).
 * POSIX: TERM is set, not empty and not "dumb"; they write ANSI escapes.
 * Windows: fd is a console and TERM is not "dumb"; they call the console
 * API, which every console draws (a console before Windows 10 and Wine's
 * print ANSI escapes as text, even with ENABLE_VIRTUAL_TERMINAL_PROCESSING
 * accepted), and the attributes in use at the first call are put back at
 * exit. */
int setup_term_control(int fd);
/* Clear the terminal of f, the cursor at the top left. */
void setup_term_clear(FILE *f);
/* Erase from the cursor to the end of its line; the cursor stays. */
void setup_term_erase_line(FILE *f);
/* Text attributes from now on, as an SGR parameter list: "0" plain, "1"
 * bold, "1;31" bold red, "1;32" bold green (Windows: 1 is the intensity
 * bit, 30-37 the foreground colours). */
void setup_term_attr(FILE *f, const char *sgr);

/* Act as if Ctrl-C was pressed, so that whoever catches it now (during
 * the install, the engine, which rolls back) does so. POSIX: raise(SIGINT)
 * in this process. Windows: GenerateConsoleCtrlEvent(CTRL_C_EVENT, 0),
 * which reaches the console control handlers (setup_proc_catch_cancel's;
 * raise() would only reach msvcrt's signal handlers) of every process on
 * the console, as a real Ctrl-C with processed input on does; a process
 * started in a new process group ignores it. */
void setup_term_ctrl_c(void);

/* Call handler on an interrupt: POSIX: SIGINT, SIGTERM, SIGHUP, with
 * sigaction and no SA_RESTART, so a blocked read returns EINTR; Windows:
 * SIGINT, SIGBREAK, SIGTERM with signal() (re-armed on each). handler may
 * only set a volatile sig_atomic_t. */
void setup_term_signals_catch(void (*handler)(int));

/* Raw keys on stdin: each key is readable at once with setup_term_key,
 * without Enter and without echo. POSIX: ICANON and ECHO off, VMIN = VTIME
 * = 0, ISIG kept (Ctrl-C still signals). Windows: ENABLE_LINE_INPUT,
 * ENABLE_ECHO_INPUT, ENABLE_PROCESSED_INPUT off (Ctrl-C is a key).
 * Returns 0, or -1 when stdin is not a terminal (nothing changed).
 * setup_term_raw_end puts the mode back as it was (POSIX: TCSAFLUSH, so
 * keys typed meanwhile are dropped); it does nothing when raw mode is not
 * on, and runs at exit in any case. */
int setup_term_raw_begin(void);
void setup_term_raw_end(void);

/* The next key on stdin, waiting at most timeout_ms (0: do not wait).
 * POSIX: one byte, exactly as the terminal sends it (poll, then read), so
 * an arrow is three keys (ESC [ A). Windows: the same byte stream made
 * from console key events: a character as its UTF-8 bytes, Enter '\n',
 * Backspace 0x7f, Ctrl-C SETUP_TERM_CTRL_C, arrows ESC [ A/B/C/D; other
 * keys without a character are skipped. Returns the byte (0..255),
 * SETUP_TERM_NONE when nothing came in time, SETUP_TERM_EOF. */
int setup_term_key(int timeout_ms);

/* Read one line from stdin into buf (at most n - 1 bytes kept, the rest of
 * a longer line dropped; NUL-terminated; without the newline). Returns 0
 * for a line (also a last one without newline), SETUP_TERM_EOF at the end
 * of input, SETUP_TERM_INTR when *stop was set (by a signal handler) or
 * Ctrl-C was typed. POSIX: read() a byte at a time in the terminal's own
 * line mode, a read interrupted by a signal looks at *stop again. Windows
 * console: the line is edited here (echo, Backspace; Ctrl-Z or Ctrl-D on
 * an empty line ends input) from console key events, so input is UTF-8
 * whatever the code pages; stdin not a console: bytes, as on POSIX. */
int setup_term_line_read(char *buf, size_t n, volatile sig_atomic_t *stop);

/* The bytes free for an unprivileged user on the file system of dir in
 * *bytes; 0, or -1 with errno. POSIX: statvfs f_bavail * f_frsize;
 * Windows: GetDiskFreeSpaceExW's FreeBytesAvailable (quotas included). */
int setup_free_space(const char *dir, uint64_t *bytes);

/* 0 when files can be created in the existing directory dir, -1 with errno
 * when not. POSIX: access(W_OK | X_OK). Windows: only that dir is a
 * directory (an ACL is not evaluated here; the install reports a denial). */
int setup_dir_writable(const char *dir);

/* The allocated (mem_*) path of the running program, or NULL when it
 * cannot be told or memory ran out. POSIX: /proc/self/exe; Windows:
 * GetModuleFileNameW. */
char *setup_self_path(void);

#endif
