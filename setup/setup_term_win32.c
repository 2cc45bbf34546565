/*
 * setup_term_win32.c - setup_term.h on Windows: the console API. The
 * wizard's screens are the same text as on POSIX; clearing, erasing a line
 * and bold or colour are console calls (FillConsoleOutputCharacterW,
 * SetConsoleTextAttribute), not ANSI escapes, so every console draws them:
 * those before Windows 10 and Wine's print escapes as text. Keys come from
 * ReadConsoleInputW and are turned into the byte stream a POSIX terminal
 * sends (UTF-8, Enter '\n', Backspace 0x7f, arrows ESC [ A..D), so the
 * wizard compares keys the same way on both. Lines are edited here rather
 * than by the console's cooked mode, so that input is UTF-8 whatever the
 * code pages and Ctrl-C is a key that ends the read at once (in cooked
 * mode it is a CTRL_C_EVENT on another thread, racing the read).
 *
 * Traps: console modes and attributes belong to the console, not to this
 * process: cmd.exe gets back whatever we leave, so the input mode and the
 * text attributes are recorded and put back (the mode by setup_term_raw_end)
 * and, in any case, at exit (atexit; a
 * TerminateProcess, as os_kill_self does, skips it). With processed input
 * off Ctrl-C is not a signal at all: setup_term_key returns
 * SETUP_TERM_CTRL_C and the caller decides (the bar passes it on with
 * setup_term_ctrl_c, a CTRL_C_EVENT for the engine's control handler).
 */
#include "setup/setup_term.h"

#include <errno.h>
#include <io.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>

#include "common/mem.h"
#include "common/os.h"

#define RAW_OFF (ENABLE_LINE_INPUT | ENABLE_ECHO_INPUT | ENABLE_PROCESSED_INPUT)

static HANDLE fd_handle(int fd)
{
	return (HANDLE)_get_osfhandle(fd);
}

int setup_term_is_tty(int fd)
{
	HANDLE h = fd_handle(fd);
	DWORD mode;

	return h != INVALID_HANDLE_VALUE && GetConsoleMode(h, &mode) ? 1 : 0;
}

int setup_term_size(int fd, int *cols, int *rows)
{
	CONSOLE_SCREEN_BUFFER_INFO info;
	HANDLE h = fd_handle(fd);

	if (h == INVALID_HANDLE_VALUE || !GetConsoleScreenBufferInfo(h, &info))
		return -1;
	*cols = info.srWindow.Right - info.srWindow.Left + 1;
	*rows = info.srWindow.Bottom - info.srWindow.Top + 1;
	return 0;
}

/* ---- what we changed in the console, put back at exit ---- */

static DWORD in_saved;      /* stdin's mode before raw mode */
static int raw_on;
static HANDLE attr_h = INVALID_HANDLE_VALUE;   /* the console whose attributes we set */
static WORD attr_saved;     /* its attributes at the first setup_term_control */
static int atexit_set;

static void restore_in(int flush)
{
	HANDLE h = GetStdHandle(STD_INPUT_HANDLE);

	if (!raw_on)
		return;
	if (flush)
		FlushConsoleInputBuffer(h);
	SetConsoleMode(h, in_saved);
	raw_on = 0;
}

static void restore_at_exit(void)
{
	restore_in(0);
	if (attr_h != INVALID_HANDLE_VALUE) {
		fflush(stdout);
		fflush(stderr);
		SetConsoleTextAttribute(attr_h, attr_saved);
	}
}

static void restore_at_exit_arm(void)
{
	if (!atexit_set && atexit(restore_at_exit) == 0)
		atexit_set = 1;
}

int setup_term_control(int fd)
{
	const char *term = getenv("TERM");
	CONSOLE_SCREEN_BUFFER_INFO info;
	HANDLE h = fd_handle(fd);

	if (term && strcmp(term, "dumb") == 0)
		return 0;
	if (h == INVALID_HANDLE_VALUE || !GetConsoleScreenBufferInfo(h, &info))
		return 0;
	if (attr_h == INVALID_HANDLE_VALUE) {
		attr_h = h;
		attr_saved = info.wAttributes;
		restore_at_exit_arm();
	}
	return 1;
}

/* The console of f, its stdio buffer written out first so that what was
 * printed lands before the console call; NULL when f is no console. */
static HANDLE console_of(FILE *f, CONSOLE_SCREEN_BUFFER_INFO *info)
{
	HANDLE h;

	fflush(f);
	h = fd_handle(_fileno(f));
	return h != INVALID_HANDLE_VALUE && GetConsoleScreenBufferInfo(h, info) ? h : NULL;
}

void setup_term_clear(FILE *f)
{
	CONSOLE_SCREEN_BUFFER_INFO info;
	HANDLE h = console_of(f, &info);
	COORD top = { 0, 0 };
	DWORD n = 0, cells;

	if (!h)
		return;
	cells = (DWORD)info.dwSize.X * (DWORD)info.dwSize.Y;
	FillConsoleOutputCharacterW(h, L' ', cells, top, &n);
	FillConsoleOutputAttribute(h, info.wAttributes, cells, top, &n);
	SetConsoleCursorPosition(h, top);
}

void setup_term_erase_line(FILE *f)
{
	CONSOLE_SCREEN_BUFFER_INFO info;
	HANDLE h = console_of(f, &info);
	DWORD n = 0;

	if (h && info.dwCursorPosition.X < info.dwSize.X)
		FillConsoleOutputCharacterW(h, L' ', (DWORD)(info.dwSize.X - info.dwCursorPosition.X),
					    info.dwCursorPosition, &n);
}

void setup_term_attr(FILE *f, const char *sgr)
{
	static const WORD colours[8] = {
		0, FOREGROUND_RED, FOREGROUND_GREEN, FOREGROUND_RED | FOREGROUND_GREEN, FOREGROUND_BLUE,
		FOREGROUND_RED | FOREGROUND_BLUE, FOREGROUND_GREEN | FOREGROUND_BLUE,
		FOREGROUND_RED | FOREGROUND_GREEN | FOREGROUND_BLUE,
	};
	CONSOLE_SCREEN_BUFFER_INFO info;
	HANDLE h = console_of(f, &info);
	WORD a;

	if (!h)
		return;
	a = info.wAttributes;
	for (const char *p = sgr; *p;) {
		char *end;
		long v = strtol(p, &end, 10);

		if (end == p)
			break;
		if (v == 0)
			a = attr_h != INVALID_HANDLE_VALUE ? attr_saved : (WORD)(FOREGROUND_RED | FOREGROUND_GREEN | FOREGROUND_BLUE);
		else if (v == 1)
			a |= FOREGROUND_INTENSITY;
		else if (v >= 30 && v <= 37)
			a = (WORD)((a & ~(FOREGROUND_RED | FOREGROUND_GREEN | FOREGROUND_BLUE)) | colours[v - 30]);
		p = *end == ';' ? end + 1 : end;
	}
	SetConsoleTextAttribute(h, a);
}

/* ---- interrupts ---- */

void setup_term_ctrl_c(void)
{
	GenerateConsoleCtrlEvent(CTRL_C_EVENT, 0);
}

static void (*user_handler)(int);

/* msvcrt resets a handler to SIG_DFL before calling it: re-arm first. */
static void on_signal(int sig)
{
	signal(sig, on_signal);
	if (user_handler)
		user_handler(sig);
}

void setup_term_signals_catch(void (*handler)(int))
{
	user_handler = handler;
	signal(SIGINT, on_signal);
	signal(SIGBREAK, on_signal);
	signal(SIGTERM, on_signal);
}

/* ---- raw mode ---- */

int setup_term_raw_begin(void)
{
	HANDLE h = GetStdHandle(STD_INPUT_HANDLE);
	DWORD mode;

	if (raw_on)
		return 0;
	if (h == INVALID_HANDLE_VALUE || !GetConsoleMode(h, &mode))
		return -1;
	restore_at_exit_arm();
	if (!SetConsoleMode(h, mode & ~(DWORD)RAW_OFF))
		return -1;
	in_saved = mode;
	raw_on = 1;
	return 0;
}

/* Like TCSAFLUSH: keys typed in raw mode and not read are dropped. */
void setup_term_raw_end(void)
{
	restore_in(1);
}

/* ---- keys: console events as the bytes a POSIX terminal sends ---- */

static unsigned char pend[32];  /* bytes of the last key not returned yet */
static int pend_n, pend_i;
static WCHAR high_half;         /* a high surrogate waiting for its pair */

/* Turn one input record into bytes in pend; 1 when it gave any. */
static int record_bytes(const INPUT_RECORD *r)
{
	const KEY_EVENT_RECORD *k;
	WCHAR wc[2];
	int nw = 1, len, rep;
	char one[8];
	const char *seq = NULL;

	if (r->EventType != KEY_EVENT)
		return 0;
	k = &r->Event.KeyEvent;
	wc[0] = k->uChar.UnicodeChar;
	/* Alt+numpad codes (and some input methods) deliver the character
	 * with the release of Alt; any other release is no key. */
	if (!k->bKeyDown && !(k->wVirtualKeyCode == VK_MENU && wc[0]))
		return 0;
	if (!wc[0]) {
		switch (k->wVirtualKeyCode) {
		case VK_UP: seq = "\033[A"; break;
		case VK_DOWN: seq = "\033[B"; break;
		case VK_RIGHT: seq = "\033[C"; break;
		case VK_LEFT: seq = "\033[D"; break;
		default: return 0;   /* Shift, Ctrl, F-keys: nothing to type */
		}
		len = (int)strlen(seq);
		memcpy(one, seq, (size_t)len);
	} else if (wc[0] == L'\r') {
		one[0] = '\n';
		len = 1;
	} else if (wc[0] == L'\b') {
		one[0] = 0x7f;
		len = 1;
	} else if (IS_HIGH_SURROGATE(wc[0])) {
		high_half = wc[0];
		return 0;
	} else {
		if (IS_LOW_SURROGATE(wc[0])) {
			if (!high_half)
				return 0;
			wc[1] = wc[0];
			wc[0] = high_half;
			nw = 2;
		}
		high_half = 0;
		len = WideCharToMultiByte(CP_UTF8, 0, wc, nw, one, (int)sizeof(one), NULL, NULL);
		if (len <= 0)
			return 0;
	}
	/* A held key comes as one event with a repeat count. */
	rep = k->wRepeatCount ? k->wRepeatCount : 1;
	pend_n = pend_i = 0;
	while (rep-- > 0 && pend_n + len <= (int)sizeof(pend)) {
		memcpy(pend + pend_n, one, (size_t)len);
		pend_n += len;
	}
	return pend_n > 0;
}

int setup_term_key(int timeout_ms)
{
	HANDLE h = GetStdHandle(STD_INPUT_HANDLE);
	ULONGLONG end = GetTickCount64() + (ULONGLONG)(timeout_ms > 0 ? timeout_ms : 0);
	DWORD mode;

	if (pend_i < pend_n)
		return pend[pend_i++];
	/* Not a console (a pipe, a file): no keys, and never a wait. */
	if (h == INVALID_HANDLE_VALUE || !GetConsoleMode(h, &mode))
		return SETUP_TERM_NONE;
	for (;;) {
		ULONGLONG now = GetTickCount64();
		DWORD wait = now >= end ? 0 : (DWORD)(end - now), w, n = 0;
		INPUT_RECORD r;

		w = WaitForSingleObject(h, wait);
		if (w == WAIT_TIMEOUT)
			return SETUP_TERM_NONE;
		if (w != WAIT_OBJECT_0)
			return SETUP_TERM_EOF;
		/* Signalled with nothing queued would make the read block. */
		if (!GetNumberOfConsoleInputEvents(h, &n))
			return SETUP_TERM_EOF;
		if (n == 0) {
			if (GetTickCount64() >= end)
				return SETUP_TERM_NONE;
			Sleep(10);
			continue;
		}
		if (!ReadConsoleInputW(h, &r, 1, &n))
			return SETUP_TERM_EOF;
		if (n == 1 && record_bytes(&r))
			return pend[pend_i++];
	}
}

/* ---- lines ---- */

/* Write UTF-8 text to the console of stdout, if it is one (the echo). */
static void echo(const char *s, int len)
{
	HANDLE h = GetStdHandle(STD_OUTPUT_HANDLE);
	WCHAR w[16];
	DWORD mode, done;
	int n;

	if (h == INVALID_HANDLE_VALUE || !GetConsoleMode(h, &mode))
		return;
	n = MultiByteToWideChar(CP_UTF8, 0, s, len, w, (int)(sizeof(w) / sizeof(w[0])));
	if (n > 0)
		WriteConsoleW(h, w, (DWORD)n, &done, NULL);
}

/* stdin is not a console: bytes, as POSIX reads them. */
static int line_from_bytes(char *buf, size_t n, volatile sig_atomic_t *stop)
{
	size_t len = 0;

	for (;;) {
		char ch;

		if (*stop)
			return SETUP_TERM_INTR;
		if (_read(0, &ch, 1) != 1) {
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

/* Bytes in the UTF-8 character that starts with lead (1 for a stray one). */
static int utf8_len(int lead)
{
	return lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
}

int setup_term_line_read(char *buf, size_t n, volatile sig_atomic_t *stop)
{
	size_t len = 0;
	int own_raw = !raw_on, rc;

	if (setup_term_raw_begin() != 0)
		return line_from_bytes(buf, n, stop);
	for (;;) {
		char ch[4];
		int k, cl;

		/* Wake up now and then: a signal (Ctrl-Break) sets *stop. */
		if (*stop) {
			rc = SETUP_TERM_INTR;
			break;
		}
		k = setup_term_key(100);
		if (k == SETUP_TERM_NONE)
			continue;
		if (k == SETUP_TERM_EOF) {
			rc = len ? 0 : SETUP_TERM_EOF;
			break;
		}
		if (k == '\n') {
			echo("\r\n", 2);
			rc = 0;
			break;
		}
		if (k == SETUP_TERM_CTRL_C) {
			echo("^C\r\n", 4);
			rc = SETUP_TERM_INTR;
			break;
		}
		if ((k == 0x1a || k == 0x04) && len == 0) {   /* Ctrl-Z, Ctrl-D */
			echo("\r\n", 2);
			rc = SETUP_TERM_EOF;
			break;
		}
		if (k == 0x7f) {
			if (len) {
				do
					len--;
				while (len && ((unsigned char)buf[len] & 0xc0) == 0x80);
				echo("\b \b", 3);
			}
			continue;
		}
		if (k == 0x1b) {   /* an arrow: no cursor movement in a line */
			pend_i = pend_n;
			continue;
		}
		if (k < 0x20 && k != '\t')
			continue;
		/* A whole character at a time, so the echo is one and the
		 * buffer never ends in half a character. */
		ch[0] = (char)k;
		cl = utf8_len(k);
		for (int i = 1; i < cl; i++) {
			int c = pend_i < pend_n ? pend[pend_i++] : -1;

			if (c < 0x80 || c > 0xbf) {
				cl = 0;
				break;
			}
			ch[i] = (char)c;
		}
		if (cl == 0 || len + (size_t)cl >= n)
			continue;
		memcpy(buf + len, ch, (size_t)cl);
		len += (size_t)cl;
		echo(ch, cl);
	}
	buf[len] = '\0';
	if (own_raw)
		restore_in(0);   /* keys typed ahead stay for the next read */
	return rc;
}

/* ---- the system ---- */

static int errno_of(DWORD code)
{
	switch (code) {
	case ERROR_FILE_NOT_FOUND:
	case ERROR_PATH_NOT_FOUND:
	case ERROR_INVALID_DRIVE:
	case ERROR_BAD_NETPATH:
		return ENOENT;
	case ERROR_ACCESS_DENIED:
		return EACCES;
	case ERROR_NOT_ENOUGH_MEMORY:
	case ERROR_OUTOFMEMORY:
		return ENOMEM;
	default:
		return EIO;
	}
}

int setup_free_space(const char *dir, uint64_t *bytes)
{
	wchar_t *w = os_wide(dir);
	ULARGE_INTEGER avail;
	int rc = -1;

	if (!w)
		return -1;   /* errno set by os_wide */
	if (GetDiskFreeSpaceExW(w, &avail, NULL, NULL)) {
		*bytes = avail.QuadPart;
		rc = 0;
	} else {
		errno = errno_of(GetLastError());
	}
	mem_free(w);
	return rc;
}

int setup_dir_writable(const char *dir)
{
	wchar_t *w = os_wide(dir);
	DWORD attr;

	if (!w)
		return -1;
	attr = GetFileAttributesW(w);
	mem_free(w);
	if (attr == INVALID_FILE_ATTRIBUTES) {
		errno = errno_of(GetLastError());
		return -1;
	}
	if (!(attr & FILE_ATTRIBUTE_DIRECTORY)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

char *setup_self_path(void)
{
	DWORD cap = 32768, n;
	wchar_t *w = mem_array(cap, sizeof(*w));
	char *s = NULL;

	if (!w)
		return NULL;
	n = GetModuleFileNameW(NULL, w, cap);
	if (n > 0 && n < cap)
		s = os_utf8(w);
	mem_free(w);
	return s;
}
