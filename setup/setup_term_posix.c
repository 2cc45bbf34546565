/*
 * setup_term_posix.c - setup_term.h on POSIX: termios, TIOCGWINSZ, poll,
 * statvfs, /proc/self/exe. These are the calls setup_wizard.c made itself
 * before the Windows port, moved here unchanged, so the wizard's screens
 * and keys are the same byte for byte (tests/e2e/setup_wizard.sh).
 * Trap: raw mode keeps ISIG, so Ctrl-C stays a signal that the engine's
 * handler turns into a rollback; it is never read as a key here.
 */
#include "setup/setup_term.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/statvfs.h>
#include <termios.h>
#include <unistd.h>

#include "common/mem.h"

int setup_term_is_tty(int fd)
{
	return isatty(fd) ? 1 : 0;
}

int setup_term_size(int fd, int *cols, int *rows)
{
	struct winsize ws;

	if (ioctl(fd, TIOCGWINSZ, &ws) != 0)
		return -1;
	*cols = ws.ws_col;
	*rows = ws.ws_row;
	return 0;
}

int setup_term_control(int fd)
{
	const char *term = getenv("TERM");

	(void)fd;
	return term && *term && strcmp(term, "dumb") != 0;
}

void setup_term_clear(FILE *f)
{
	fputs("\033[H\033[2J", f);
}

void setup_term_erase_line(FILE *f)
{
	fputs("\033[K", f);
}

void setup_term_attr(FILE *f, const char *sgr)
{
	fprintf(f, "\033[%sm", sgr);
}

void setup_term_ctrl_c(void)
{
	raise(SIGINT);
}

void setup_term_signals_catch(void (*handler)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;   /* no SA_RESTART: a read returns EINTR */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

/* ---- raw mode: one per process, put back at exit too ---- */

static struct termios saved_tio;
static int raw_on, atexit_set;

void setup_term_raw_end(void)
{
	if (!raw_on)
		return;
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
	raw_on = 0;
}

static void raw_end_at_exit(void)
{
	setup_term_raw_end();
}

int setup_term_raw_begin(void)
{
	struct termios raw;

	if (raw_on)
		return 0;
	if (tcgetattr(STDIN_FILENO, &saved_tio) != 0)
		return -1;
	if (!atexit_set && atexit(raw_end_at_exit) == 0)
		atexit_set = 1;
	raw = saved_tio;
	raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
	raw.c_cc[VMIN] = 0;
	raw.c_cc[VTIME] = 0;
	tcsetattr(STDIN_FILENO, TCSANOW, &raw);
	raw_on = 1;
	return 0;
}

int setup_term_key(int timeout_ms)
{
	struct pollfd pf = { STDIN_FILENO, POLLIN, 0 };
	char ch;

	if (poll(&pf, 1, timeout_ms) != 1 || !(pf.revents & POLLIN))
		return SETUP_TERM_NONE;
	if (read(STDIN_FILENO, &ch, 1) != 1)
		return SETUP_TERM_EOF;
	return (unsigned char)ch;
}

int setup_term_line_read(char *buf, size_t n, volatile sig_atomic_t *stop)
{
	size_t len = 0;

	for (;;) {
		char ch;
		ssize_t r;

		if (*stop)
			return SETUP_TERM_INTR;
		r = read(STDIN_FILENO, &ch, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (!len)
				return SETUP_TERM_EOF;
			break;
		}
		if (ch == '\n' || ch == '\r')
			break;
		if (len + 1 < n)
			buf[len++] = ch;
	}
	buf[len] = '\0';
	return 0;
}

/* ---- the system ---- */

int setup_free_space(const char *dir, uint64_t *bytes)
{
	struct statvfs sv;

	if (statvfs(dir, &sv) != 0)
		return -1;
	*bytes = (uint64_t)sv.f_bavail * (uint64_t)sv.f_frsize;
	return 0;
}

int setup_dir_writable(const char *dir)
{
	return access(dir, W_OK | X_OK);
}

char *setup_self_path(void)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	return mem_strdup(exe);
}
