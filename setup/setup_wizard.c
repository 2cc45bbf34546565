/*
 * setup_wizard.c - `setup` on a terminal: the wizard (welcome, license,
 * components, directory, summary, install with a live progress bar,
 * result), and the progress bar of an unattended install whose stderr is a
 * terminal. All terminal code of setup lives here; the engine only calls
 * setup_opts.progress. The platform calls (termios or the Windows console,
 * window size, keys, free space) are behind setup_term.h, so this file is
 * the same on POSIX and Windows.
 *
 * Input is read a line at a time (canonical mode; on Windows setup_term
 * edits the line itself), so the wizard works over ssh, in tmux, with
 * TERM=dumb and in 80x24. With TERM=dumb (or unset on POSIX) the wizard
 * does not draw at all (setup_term_control): screens are plain lines and
 * progress is an occasional line. NO_COLOR (set at all) turns colour off;
 * the screen is still cleared between steps unless the terminal is dumb.
 * On Windows the console API draws (setup_term_win32.c), so any console
 * works, Wine's too.
 *
 * `setup --unattended FILE` with no command installs without questions, with
 * the same default media.
 *
 * Nothing changes on the system before the install step: quitting ('q',
 * Ctrl-C, end of input) before it exits with "nothing was changed". During
 * the install Ctrl-C, or 'q' typed at the bar, makes the engine roll back
 * (its own SIGINT handler; on Windows its console control handler, which
 * the bar reaches with setup_term_ctrl_c since Ctrl-C is a key in raw
 * mode), and the wizard says the system is as before.
 */
#include "setup.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/mem.h"
#include "common/names.h"
#include "common/os.h"
#include "common/path.h"
#include "setup/setup_term.h"

/* ---- the terminal -------------------------------------------------------- */

struct term {
	int dumb;                   /* TERM dumb or unset: no escape sequences */
	int color;                  /* bold and colour allowed */
	int cols, rows;
};

static void term_init(struct term *t, int fd)
{
	int cols, rows;

	t->dumb = !setup_term_control(fd);
	t->color = !t->dumb && getenv("NO_COLOR") == NULL;
	t->cols = 80;
	t->rows = 24;
	if (setup_term_size(fd, &cols, &rows) == 0 && cols >= 20 && rows >= 10) {
		t->cols = cols;
		t->rows = rows;
	}
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* "1.2 MB" into buf[16]. */
static const char *human(uint64_t n, char *buf)
{
	static const char *const unit[] = { "B", "kB", "MB", "GB", "TB" };
	double v = (double)n;
	int u = 0;

	while (v >= 1000 && u < 4) {
		v /= 1000;
		u++;
	}
	if (u == 0)
		snprintf(buf, 16, "%llu B", (unsigned long long)n);
	else
		snprintf(buf, 16, "%.1f %s", v, unit[u]);
	return buf;
}

/* ---- the progress bar (wizard and unattended) ------------------------------ */

struct bar {
	FILE *f;
	struct term t;
	double start, last_draw;
	int last_pct;               /* dumb: the last percentage printed */
	char phase[16];
	int drawn;                  /* a bar line is on screen (not dumb) */
	int poll_quit;              /* wizard: 'q' (or the key Ctrl-C) on stdin cancels */
	volatile sig_atomic_t *pending_cancel;  /* Ctrl-C seen before the engine's handler */
	int cancel_sent;
	int used;
};

/* Overall fraction done, 0..1: copying is 90%, registration 8%, commit 2%. */
static double overall(const struct setup_progress *p)
{
	if (strcmp(p->phase, "done") == 0)
		return 1;
	if (strcmp(p->phase, "commit") == 0)
		return 0.99;
	if (strcmp(p->phase, "registration") == 0)
		return 0.90 + (p->items_total ? 0.08 * p->items_done / p->items_total : 0);
	if (p->bytes_total)
		return 0.90 * (double)p->bytes_done / (double)p->bytes_total;
	return p->items_total ? 0.90 * p->items_done / p->items_total : 0;
}

static void bar_line(struct bar *b, const struct setup_progress *p, double frac, char *out, size_t n)
{
	double el = now_s() - b->start;
	char done[16], total[16], rate[16], left[32] = "", amount[64], *s = out;
	size_t width = (size_t)b->t.cols - 1, u;
	int pct = (int)(frac * 100);
	const char *what = strcmp(p->phase, "files") == 0 ? "copying" :
			   strcmp(p->phase, "registration") == 0 ? "registering" :
			   strcmp(p->phase, "staging") == 0 ? "preparing" :
			   strcmp(p->phase, "commit") == 0 ? "committing" : p->phase;

	if (width >= n)
		width = n - 1;
	/* Time left from the overall fraction, once there is a basis for it. */
	if (frac >= 0.02 && frac < 1 && el >= 0.5) {
		double secs = el * (1 - frac) / frac;

		snprintf(left, sizeof(left), " %d:%02d left", (int)secs / 60, (int)secs % 60);
	}
	if (strcmp(p->phase, "registration") == 0)
		snprintf(amount, sizeof(amount), "module %d/%d", p->items_done + 1 > p->items_total ? p->items_total : p->items_done + 1,
			 p->items_total);
	else if (strcmp(p->phase, "files") == 0 && el > 0.05)
		snprintf(amount, sizeof(amount), "%s/%s %s/s", human(p->bytes_done, done), human(p->bytes_total, total),
			 human((uint64_t)((double)p->bytes_done / el), rate));
	else
		snprintf(amount, sizeof(amount), "%s/%s", human(p->bytes_done, done), human(p->bytes_total, total));
	if (b->t.dumb) {
		u = (size_t)snprintf(s, n, "%3d%% %s%s", pct, amount, left);
	} else {
		char cells[21];
		int fill = pct / 5;

		for (int i = 0; i < 20; i++)
			cells[i] = i < fill ? '#' : '-';
		cells[20] = '\0';
		u = (size_t)snprintf(s, n, "[%s] %3d%% %s%s", cells, pct, amount, left);
	}
	if (u >= n)
		u = n - 1;
	if (u + 2 < width) {
		const char *item = p->item ? p->item : "";
		size_t room = width - u - 2, il = strlen(what) + (p->item ? 1 + strlen(item) : 0);

		if (il <= room) {
			snprintf(s + u, n - u, "  %s%s%s", what, p->item ? " " : "", item);
		} else if (room > strlen(what) + 5 && p->item) {
			size_t keep = room - strlen(what) - 4;

			snprintf(s + u, n - u, "  %s ...%s", what, item + strlen(item) - keep);
		}
	}
	out[width] = '\0';
}

static void bar_update(void *ctx, const struct setup_progress *p)
{
	struct bar *b = ctx;
	double t = now_s();
	double frac = overall(p);
	int pct = (int)(frac * 100), phase_changed = strcmp(b->phase, p->phase) != 0;
	char line[512];

	if (!b->used) {
		b->used = 1;
		b->start = t;
		b->last_pct = -100;
	}
	/* 'q' at the bar, or a Ctrl-C that came before the engine caught
	 * signals (or, on Windows, as a key): hand it to the engine's
	 * handler, which rolls back. */
	if (!b->cancel_sent) {
		int want = b->pending_cancel && *b->pending_cancel;

		if (b->poll_quit) {
			int key;

			while (!want && (key = setup_term_key(0)) >= 0)
				if (key == 'q' || key == 'Q' || key == SETUP_TERM_CTRL_C)
					want = 1;
		}
		if (want && strcmp(p->phase, "done") != 0) {
			b->cancel_sent = 1;
			setup_term_ctrl_c();
		}
	}
	snprintf(b->phase, sizeof(b->phase), "%s", p->phase);
	if (b->t.dumb) {
		/* Occasional plain lines: each phase, every 25%, or every 2 s. */
		if (!phase_changed && pct < b->last_pct + 25 && t - b->last_draw < 2)
			return;
		bar_line(b, p, frac, line, sizeof(line));
		fprintf(b->f, "%s\n", line);
		b->last_pct = pct;
	} else {
		if (!phase_changed && t - b->last_draw < 0.1 && pct < 100)
			return;
		bar_line(b, p, frac, line, sizeof(line));
		fprintf(b->f, "\r%s", line);
		setup_term_erase_line(b->f);
		b->drawn = 1;
	}
	b->last_draw = t;
	fflush(b->f);
}

static void bar_end(struct bar *b)
{
	if (b->drawn) {
		fputc('\n', b->f);
		fflush(b->f);
	}
	b->drawn = 0;
}

/* The log of this process's run of op on root (the engine names it
 * <time>-<op>-<pid>.log); allocated, or NULL. */
static char *find_log(const char *root, const char *op)
{
	char *dir = mem_printf("%s/%s", strcmp(root, "/") == 0 ? "" : root, SK_LOG_DIR), *best = NULL;
	char suffix[64];
	struct os_dir *d;
	const char *name;

	if (!dir)
		return NULL;
	snprintf(suffix, sizeof(suffix), "-%s-%ld.log", op, os_getpid());
	d = os_opendir(dir);
	while (d && (name = os_readdir(d)) != NULL) {
		size_t l = strlen(name), sl = strlen(suffix);

		if (l > sl && strcmp(name + l - sl, suffix) == 0) {
			mem_free(best);
			best = mem_printf("%s/%s", dir, name);
		}
	}
	if (d)
		os_closedir(d);
	mem_free(dir);
	return best;
}

int setup_cmd_install_bar(const struct setup_opts *o, struct err *e)
{
	struct setup_opts oo = *o;
	struct bar b;
	int rc;

	memset(&b, 0, sizeof(b));
	b.f = stderr;
	term_init(&b.t, STDERR_FILENO);
	oo.progress = bar_update;
	oo.progress_ctx = &b;
	oo.quiet = 1;   /* the bar replaces the engine's lines; the log has them all */
	{
		/* Media warnings (--allow-unsigned) are still worth a line. */
		struct manifest *m = NULL;

		if (setup_media_load(o, &m, e))
			return -1;
		manifest_free(m);
	}
	rc = setup_cmd_install(&oo, e);
	bar_end(&b);
	{
		char *log = find_log(o->root, "install");

		if (rc >= 0)
			fprintf(stderr, "setup: install complete%s; log: %s\n", rc == 1 ? " with work pending ('setup status' lists it; 'setup recover' finishes it)" : "",
				log ? log : "(none)");
		else if (log)
			err_prefix(e, "log: %s; ", log);
		mem_free(log);
	}
	return rc;
}

/* ---- the wizard ------------------------------------------------------------ */

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void catch_interrupts(void)
{
	setup_term_signals_catch(on_interrupt);
}

enum { STEP_WELCOME, STEP_LICENSE, STEP_COMPONENTS, STEP_DIR, STEP_SUMMARY, STEP_INSTALL, NSTEPS };
static const char *const step_names[] = { "Welcome", "License", "Components", "Install directory", "Summary", "Installing",
					 "Result" };

struct wiz {
	const struct setup_opts *o;
	struct term t;
	struct manifest *m;
	char *root;                 /* "" for / */
	int *chosen;                /* per component: the user's choice */
	int *sel;                   /* per component: chosen + required */
	uint64_t *comp_bytes;
	char *dir;
	int accepted;
	char *license;              /* text, or NULL */
};

/* Bold and colour only with colour. */
static void attr(struct wiz *w, const char *code)
{
	if (w->t.color)
		setup_term_attr(stdout, code);
}

static void screen(struct wiz *w, int step)
{
	char ver[MANIFEST_VERSION_STRMAX];

	if (!w->t.dumb)
		setup_term_clear(stdout);
	else
		putchar('\n');
	attr(w, "1");
	printf("%s %s Setup", w->m->product.name, manifest_version_format(&w->m->product.version, ver));
	attr(w, "0");
	printf(" - step %d of %d: %s\n", step + 1, NSTEPS + 1, step_names[step]);
	for (int i = 0; i < (w->t.cols < 80 ? w->t.cols : 80) - 1; i++)
		putchar(w->t.dumb ? '-' : '=');
	putchar('\n');
}

/* Read one line from the terminal. 0: a line; -1: end of input; -2: Ctrl-C
 * (a signal, or on Windows the key, which then sets interrupted too). */
static int read_line(char *buf, size_t n)
{
	size_t len;
	int r;

	fflush(stdout);
	r = setup_term_line_read(buf, n, &interrupted);
	if (r == SETUP_TERM_INTR) {
		interrupted = 1;
		return -2;
	}
	if (r != 0)
		return -1;
	len = strlen(buf);
	/* Trim surrounding blanks. */
	while (len && (buf[len - 1] == ' ' || buf[len - 1] == '\t'))
		buf[--len] = '\0';
	if (buf[0] == ' ' || buf[0] == '\t') {
		size_t k = strspn(buf, " \t");

		memmove(buf, buf + k, len - k + 1);
	}
	return 0;
}

enum { ACT_NEXT = 1, ACT_BACK, ACT_QUIT, ACT_TEXT };

/* Prompt; returns ACT_*; the line (for ACT_TEXT) in buf. */
static int ask(struct wiz *w, const char *prompt, char *buf, size_t n)
{
	int r;

	attr(w, "1");
	fputs(prompt, stdout);
	attr(w, "0");
	r = read_line(buf, n);
	if (r < 0) {
		if (r == -1)
			putchar('\n');
		return ACT_QUIT;
	}
	if (buf[0] == '\0')
		return ACT_NEXT;
	if (strcmp(buf, "q") == 0 || strcmp(buf, "Q") == 0)
		return ACT_QUIT;
	if (strcmp(buf, "b") == 0 || strcmp(buf, "B") == 0)
		return ACT_BACK;
	return ACT_TEXT;
}

/* Free bytes on the file system of path; 0 when it cannot be told. */
static uint64_t free_bytes(const char *path)
{
	uint64_t n;

	if (setup_free_space(path, &n) != 0)
		return 0;
	return n;
}

static uint64_t selected_bytes(const struct wiz *w, int *nfiles)
{
	uint64_t sum = 0;
	int n = 0;

	for (int i = 0; i < w->m->ncomponents; i++)
		if (w->sel[i]) {
			sum += w->comp_bytes[i];
			for (int f = 0; f < w->m->nfiles; f++)
				n += strcmp(w->m->files[f].component, w->m->components[i].name) == 0;
		}
	if (nfiles)
		*nfiles = n;
	return sum;
}

/* Resolve the user's choice into w->sel (dependencies added). */
static int resolve(struct wiz *w, struct err *e)
{
	struct manifest_list l = { NULL, 0 };
	char **items = mem_array((size_t)w->m->ncomponents + 1, sizeof(char *));
	int rc;

	if (!items)
		return err_nomem(e, "selecting components");
	for (int i = 0; i < w->m->ncomponents; i++)
		if (w->chosen[i])
			items[l.n++] = w->m->components[i].name;
	l.items = items;
	rc = manifest_select(w->m, &l, w->sel, e);
	mem_free(items);
	return rc;
}

static int step_welcome(struct wiz *w)
{
	char buf[64], fb[16];
	const char *root = w->root[0] ? w->root : "/";

	screen(w, STEP_WELCOME);
	printf("\nWelcome. This will install %s on this system.\n\n", w->m->product.name);
	printf("  Product:    %s\n", w->m->product.name);
	{
		char ver[MANIFEST_VERSION_STRMAX];

		printf("  Version:    %s\n", manifest_version_format(&w->m->product.version, ver));
	}
	printf("  Publisher:  %s\n", w->m->product.publisher ? w->m->product.publisher : "(not stated)");
	printf("  Media:      %s\n", w->o->media);
	printf("  Target:     %s (%s free)\n", root, human(free_bytes(root), fb));
	printf("\nNothing is changed until you confirm the summary. At every step:\n"
	       "  Enter = next, b = back, q = quit (Ctrl-C also quits safely).\n\n");
	return ask(w, "Continue? [Enter/q] ", buf, sizeof(buf));
}

static int step_license(struct wiz *w)
{
	char buf[64];
	int page = w->t.rows - 8, line = 0, total = 0;
	const char *p;

	if (page < 5)
		page = 5;
	for (p = w->license; p && *p; p++)
		total += *p == '\n';
	p = w->license;
	for (;;) {
		int shown = 0, act;

		screen(w, STEP_LICENSE);
		printf("Please read the license agreement (%s on the media).\n\n", w->m->product.license);
		while (*p && shown < page) {
			const char *nl = strchr(p, '\n');
			size_t len = nl ? (size_t)(nl - p) : strlen(p);
			size_t width = (size_t)(w->t.cols < 80 ? w->t.cols : 80) - 3;

			/* Wrap long lines. */
			do {
				size_t take = len > width ? width : len;

				printf("  %.*s\n", (int)take, p);
				p += take;
				len -= take;
				shown++;
			} while (len > 0 && shown < page);
			if (len == 0) {
				if (*p == '\n')
					p++;
				line++;
			}
		}
		putchar('\n');
		if (*p) {
			printf("-- line %d of %d --\n", line, total);
			act = ask(w, "Enter = next page, b = back, q = quit: ", buf, sizeof(buf));
			if (act == ACT_QUIT || act == ACT_BACK)
				return act;
			continue;
		}
		for (;;) {
			act = ask(w, "Do you accept the license? [y = accept, n = decline, b = back, q = quit] ", buf, sizeof(buf));
			if (act == ACT_QUIT || act == ACT_BACK)
				return act;
			if (act == ACT_TEXT && (strcmp(buf, "y") == 0 || strcmp(buf, "Y") == 0 || strcmp(buf, "yes") == 0)) {
				w->accepted = 1;
				return ACT_NEXT;
			}
			if (act == ACT_TEXT && (strcmp(buf, "n") == 0 || strcmp(buf, "N") == 0 || strcmp(buf, "no") == 0)) {
				w->accepted = 0;
				return -1;   /* declined */
			}
			printf("Please type y or n.\n");
		}
	}
}

static int step_components(struct wiz *w, struct err *e)
{
	char buf[128], msg[160] = "";

	for (;;) {
		char sz[16];
		int nfiles = 0, act;
		size_t width = (size_t)(w->t.cols < 80 ? w->t.cols : 80) - 9;
		/* Descriptions only when everything fits the screen. */
		int descr = 2 * w->m->ncomponents + 10 <= w->t.rows;

		if (resolve(w, e))
			return -2;
		screen(w, STEP_COMPONENTS);
		printf("Choose the components: type a number to switch it on or off.\n"
		       "[x] chosen, [+] needed by a chosen component, [ ] not installed\n\n");
		for (int i = 0; i < w->m->ncomponents; i++) {
			const struct manifest_component *c = &w->m->components[i];
			const char *d = c->description ? c->description : "";

			printf("%3d %s %-12s %9s", i + 1, w->chosen[i] ? "[x]" : w->sel[i] ? "[+]" : "[ ]", c->name,
			       human(w->comp_bytes[i], sz));
			if (c->requires.n) {
				printf("  needs");
				for (int r = 0; r < c->requires.n; r++)
					printf("%s %s", r ? "," : "", c->requires.items[r]);
			}
			putchar('\n');
			if (!descr)
				continue;
			if (strlen(d) > width)
				printf("         %.*s...\n", (int)width - 3, d);
			else if (*d)
				printf("         %s\n", d);
		}
		human(selected_bytes(w, &nfiles), sz);
		printf("\nSelected: %s in %d files\n", sz, nfiles);
		if (*msg)
			printf("%s\n", msg);
		msg[0] = '\0';
		act = ask(w, "Number to switch, Enter = next, b = back, q = quit: ", buf, sizeof(buf));
		if (act == ACT_NEXT) {
			int any = 0;

			for (int i = 0; i < w->m->ncomponents; i++)
				any |= w->sel[i];
			if (any)
				return ACT_NEXT;
			snprintf(msg, sizeof(msg), "Choose at least one component.");
			continue;
		}
		if (act != ACT_TEXT)
			return act;
		{
			char *end;
			long k = strtol(buf, &end, 10);

			if (*end || k < 1 || k > w->m->ncomponents) {
				snprintf(msg, sizeof(msg), "'%.40s' is not a component number (1-%d).", buf, w->m->ncomponents);
				continue;
			}
			w->chosen[k - 1] = !w->chosen[k - 1];
			if (!w->chosen[k - 1]) {
				/* Still needed by another chosen one? Say so. */
				if (resolve(w, e))
					return -2;
				if (w->sel[k - 1])
					snprintf(msg, sizeof(msg), "%.40s stays: a chosen component needs it.", w->m->components[k - 1].name);
			}
		}
	}
}

/* 1 when c separates directories here: '/' (Windows: '/' or '\\'), as
 * os_path_last_sep says. */
static int is_sep(char c)
{
	char s[2] = { c, '\0' };

	return os_path_last_sep(s) != NULL;
}

/* Is dir (on the target) a usable install directory? "" when fine, else
 * the reason in why. It must be this system's kind of absolute path
 * (manifest_dir_native, which the install checks again), and clean: the
 * wizard's answers do not go through the manifest loader's check. */
static void check_dir(struct wiz *w, const char *dir, uint64_t need, char *why, size_t n)
{
	char *real = NULL, *p;
	struct stat st;
	char fb[16], nb[16];
	size_t dl = strlen(dir);

	why[0] = '\0';
	if (!os_path_is_absolute(dir) || !manifest_dir_native(dir)) {
		snprintf(why, n, "The directory must be an absolute path, like %s.", manifest_dir_example);
		return;
	}
	for (const char *s = dir; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f) {
			snprintf(why, n, "The directory name holds a control character.");
			return;
		}
	if (dl + strlen(w->root) >= PATH_MAX - 64) {
		snprintf(why, n, "The directory name is too long.");
		return;
	}
	/* '.', '..' and empty parts, looked for with every separator as '/'. */
	real = mem_strdup(dir);
	if (!real) {
		snprintf(why, n, "Out of memory.");
		return;
	}
	for (p = real; *p; p++)
		if (is_sep(*p))
			*p = '/';
	if (strstr(real, "/../") || strstr(real, "/./") || strstr(real, "//") ||
	    (dl >= 3 && strcmp(real + dl - 3, "/..") == 0) ||
	    (dl >= 2 && strcmp(real + dl - 2, "/.") == 0)) {
		snprintf(why, n, "Write the directory without '.', '..' or '//'.");
		mem_free(real);
		return;
	}
	mem_free(real);
	/* Where it is now: under the root as the engine puts it there
	 * (setup_real), the directory itself without one. */
	real = w->root[0] ? mem_printf("%s%s%s", w->root, dir[0] == '/' ? "" : "/", dir) : mem_strdup(dir);
	if (!real) {
		snprintf(why, n, "Out of memory.");
		return;
	}
	/* The nearest existing ancestor must be a writable directory. */
	p = real + strlen(real);
	for (;;) {
		const char *sep;

		if (os_lstat(real, &st) == 0 || p == real)
			break;
		sep = os_path_last_sep(real);
		p = sep ? real + (sep - real) : real;
		*p = '\0';
	}
	if (!real[0]) {
		mem_free(real);
		real = mem_strdup("/");
		if (!real || os_lstat(real, &st) != 0) {
			mem_free(real);
			snprintf(why, n, "Cannot examine the root directory.");
			return;
		}
	}
	if (!S_ISDIR(st.st_mode))
		snprintf(why, n, "'%.60s' exists and is not a directory.", real + strlen(w->root));
	else if (setup_dir_writable(real) != 0)
		snprintf(why, n, "Cannot create or write '%.60s': %s. Run setup as root or choose another directory.",
			 *(real + strlen(w->root)) ? real + strlen(w->root) : "/", strerror(errno));
	else if (free_bytes(real) < need + (need / 20))
		snprintf(why, n, "Not enough space: %s needed, %s free there.", human(need, nb), human(free_bytes(real), fb));
	mem_free(real);
}

static int step_dir(struct wiz *w)
{
	char buf[1024], why[256] = "", sz[16];

	for (;;) {
		int act;
		uint64_t need = selected_bytes(w, NULL);

		screen(w, STEP_DIR);
		printf("Where should %s be installed?\n\n", w->m->product.name);
		printf("  Current choice: %s\n", w->dir);
		printf("  Space needed:   %s\n", human(need, sz));
		if (w->root[0])
			printf("  (under the root %s)\n", w->root);
		printf("\nType a new absolute path (spaces are fine, no quotes needed),\n"
		       "or press Enter to keep the current choice.\n\n");
		if (why[0])
			printf("%s\n", why);
		act = ask(w, "Directory, Enter = keep, b = back, q = quit: ", buf, sizeof(buf));
		if (act == ACT_BACK || act == ACT_QUIT)
			return act;
		if (act == ACT_TEXT) {
			size_t l = strlen(buf);
			char *d;

			/* A pasted path in quotes loses them; a trailing slash goes. */
			if (l >= 2 && ((buf[0] == '"' && buf[l - 1] == '"') || (buf[0] == '\'' && buf[l - 1] == '\''))) {
				memmove(buf, buf + 1, l - 2);
				buf[l - 2] = '\0';
				l -= 2;
			}
			while (l > 1 && is_sep(buf[l - 1]))
				buf[--l] = '\0';
			check_dir(w, buf, need, why, sizeof(why));
			if (why[0])
				continue;
			d = mem_strdup(buf);
			if (!d) {
				snprintf(why, sizeof(why), "Out of memory.");
				continue;
			}
			mem_free(w->dir);
			w->dir = d;
			continue;   /* show the accepted choice; Enter goes on */
		}
		check_dir(w, w->dir, need, why, sizeof(why));
		if (!why[0])
			return ACT_NEXT;
	}
}

static void print_selected(struct wiz *w)
{
	int first = 1;

	for (int i = 0; i < w->m->ncomponents; i++)
		if (w->sel[i]) {
			printf("%s%s", first ? "" : ", ", w->m->components[i].name);
			first = 0;
		}
}

static int step_summary(struct wiz *w)
{
	char buf[64], sz[16];
	int nfiles = 0;
	uint64_t bytes = selected_bytes(w, &nfiles);

	screen(w, STEP_SUMMARY);
	printf("Ready to install. Nothing has been changed yet.\n\n");
	printf("  Product:     %s\n", w->m->product.name);
	printf("  Components:  ");
	print_selected(w);
	printf("\n  Directory:   %s\n", w->dir);
	if (w->root[0])
		printf("  Root:        %s\n", w->root);
	printf("  Files:       %d (%s)\n", nfiles, human(bytes, sz));
	{
		int nreg = 0;

		for (int f = 0; f < w->m->nfiles; f++)
			if (w->m->files[f].flags & MANIFEST_FILE_SELFREG)
				for (int i = 0; i < w->m->ncomponents; i++)
					nreg += w->sel[i] && strcmp(w->m->files[f].component, w->m->components[i].name) == 0;
		printf("  Modules to register: %d\n", nreg);
	}
	if (w->o->save_answers)
		printf("  Answer file: %s (written when you confirm)\n", w->o->save_answers);
	printf("\nSetup copies the files, registers the modules and records the install.\n"
	       "If anything fails, or you press Ctrl-C or q during the install,\n"
	       "everything is rolled back and the system stays as it is now.\n\n");
	return ask(w, "Press Enter to install, b = back, q = quit: ", buf, sizeof(buf));
}

/* The answers manifest of the current choice (strings borrowed from w). */
static int make_answers(struct wiz *w, struct manifest *a, char ***items)
{
	memset(a, 0, sizeof(*a));
	*items = mem_array((size_t)w->m->ncomponents + 1, sizeof(char *));
	if (!*items)
		return -1;
	a->kind = MANIFEST_ANSWERS;
	a->format = MANIFEST_FORMAT_CURRENT;
	a->path = "wizard";
	a->answers.product = w->m->product.code;
	a->answers.install_dir = w->dir;
	a->answers.components.items = *items;
	for (int i = 0; i < w->m->ncomponents; i++)
		if (w->sel[i])
			(*items)[a->answers.components.n++] = w->m->components[i].name;
	a->answers.components_set = 1;
	a->answers.accept_license = w->accepted || !w->m->product.license;
	a->answers.start_services = 1;
	return 0;
}

static int save_answers(const char *path, const struct manifest *a, struct err *e)
{
	FILE *f = os_fopen(path, "w");

	if (!f)
		return err_errno(e, "cannot write the answer file '%s'; choose a writable path for --save-answers", path);
	if (manifest_write(a, f, e)) {
		fclose(f);
		return err_prefix(e, "writing the answer file '%s'", path);
	}
	if (fclose(f) != 0)
		return err_errno(e, "cannot write the answer file '%s'", path);
	return 0;
}

static int load_license(struct wiz *w, struct err *e)
{
	char *path;
	FILE *f;
	size_t cap = 4096, len = 0;

	if (!w->m->product.license)
		return 0;
	path = mem_printf("%s/%s", w->o->media, w->m->product.license);
	if (!path)
		return err_nomem(e, "reading the license");
	f = os_fopen(path, "r");
	if (!f) {
		err_errno(e, "cannot read the license '%s' on the media; the media is incomplete", path);
		mem_free(path);
		e->cls = ERR_CLASS_MEDIA;
		return -1;
	}
	w->license = mem_alloc(cap);
	while (w->license) {
		size_t r;

		if (len + 1 >= cap) {
			char *g = cap > (1u << 24) ? NULL : mem_realloc(w->license, cap * 2);

			if (!g)
				break;
			w->license = g;
			cap *= 2;
		}
		r = fread(w->license + len, 1, cap - len - 1, f);
		if (r == 0) {
			w->license[len] = '\0';
			fclose(f);
			mem_free(path);
			return 0;
		}
		len += r;
	}
	fclose(f);
	mem_free(path);
	return err_nomem(e, "reading the license");
}

/* Where the wizard's media is: --media, else the directory of the setup
 * program when it holds a media manifest (setup run from a CD). */
static char *default_media(void)
{
	char *exe = setup_self_path(), *dir, *man;
	struct stat st;

	if (!exe)
		return NULL;
	dir = path_dirname(exe);
	mem_free(exe);
	man = dir ? mem_printf("%s/%s", dir, SK_MEDIA_MANIFEST) : NULL;
	if (!man || os_stat(man, &st) != 0) {
		mem_free(dir);
		dir = NULL;
	}
	mem_free(man);
	return dir;
}

static int run_install(struct wiz *w, struct err *e)
{
	struct setup_opts oo = *w->o;
	struct manifest a;
	char **items = NULL;
	struct bar b;
	int raw, rc;
	char buf[64], *log;

	if (make_answers(w, &a, &items))
		return err_nomem(e, "preparing the install");
	if (w->o->save_answers && save_answers(w->o->save_answers, &a, e)) {
		mem_free(items);
		return -1;
	}
	memset(&b, 0, sizeof(b));
	b.f = stdout;
	b.t = w->t;
	b.poll_quit = 1;
	b.pending_cancel = &interrupted;
	oo.answers_m = &a;
	oo.answers = NULL;
	oo.quiet = 1;
	oo.progress = bar_update;
	oo.progress_ctx = &b;
	screen(w, STEP_INSTALL);
	printf("Installing %s into %s ...\n(Ctrl-C or q cancels and rolls everything back.)\n\n", w->m->product.name, w->dir);
	fflush(stdout);
	/* Keys without Enter reach the bar's 'q' check; Ctrl-C still signals
	 * (Windows: it is a key the bar turns into SIGINT). Raw mode ends
	 * before anything else is read (and at exit in any case). */
	raw = setup_term_raw_begin() == 0;
	rc = setup_cmd_install(&oo, e);
	if (raw)
		setup_term_raw_end();
	bar_end(&b);
	catch_interrupts();   /* the engine replaced our handler */
	mem_free(items);
	log = find_log(w->root[0] ? w->root : "/", "install");

	screen(w, NSTEPS);
	if (rc < 0) {
		attr(w, "1;31");
		if (e->cls == ERR_CLASS_ROLLEDBACK || strstr(e->msg, "rolled back"))
			printf("The installation did not complete and was rolled back:\nthe system is as it was before.\n");
		else
			printf("The installation did not start or failed:\n");
		attr(w, "0");
		printf("\n%s\n", e->msg);
		if (log)
			printf("\nLog: %s\n", log);
		mem_free(log);
		interrupted = 0;
		ask(w, "\nPress Enter to exit. ", buf, sizeof(buf));
		return -1;
	}
	attr(w, "1;32");
	printf("%s was installed%s.\n", w->m->product.name, rc == 1 ? ", with work pending" : "");
	attr(w, "0");
	printf("\n  Directory:   %s%s\n", w->root, w->dir);
	printf("  Components:  ");
	print_selected(w);
	{
		int nfiles = 0;
		char sz[16];
		uint64_t bytes = selected_bytes(w, &nfiles);

		printf("\n  Files:       %d (%s)\n", nfiles, human(bytes, sz));
	}
	printf("  Log:         %s\n", log ? log : "(none)");
	if (w->o->save_answers)
		printf("  Answer file: %s\n               (replay: setup install --media DIR --unattended FILE)\n",
		       w->o->save_answers);
	if (rc == 1)
		printf("\nPending: files in use are replaced at the next restart, or registrations\n"
		       "could not finish; 'setup status' lists them. After a restart (or at any\n"
		       "time for registrations) 'setup recover' finishes them.\n");
	else
		printf("\nNothing is pending. 'setup verify' checks the installation at any time.\n");
	mem_free(log);
	interrupted = 0;
	ask(w, "\nPress Enter to exit. ", buf, sizeof(buf));
	return rc;
}

int setup_cmd_wizard(const struct setup_opts *o, struct err *e)
{
	struct setup_opts oo = *o;
	struct wiz w;
	char *media = NULL;
	int rc = -1, step = STEP_WELCOME;

	memset(&w, 0, sizeof(w));
	if (!oo.media) {
		media = default_media();
		if (!media)
			return err_set(e, ERR_CLASS_USAGE, "no install media: the directory of the setup program holds no %s; "
				       "pass --media DIR (the directory holding %s)", SK_MEDIA_MANIFEST, SK_MEDIA_MANIFEST);
		oo.media = media;
	}
	if (oo.answers) {
		/* `setup --unattended FILE`: no questions, as `setup install`. */
		if (!oo.quiet && !oo.json && setup_term_is_tty(STDERR_FILENO))
			rc = setup_cmd_install_bar(&oo, e);
		else
			rc = setup_cmd_install(&oo, e);
		mem_free(media);
		return rc;
	}
	w.o = &oo;
	term_init(&w.t, STDOUT_FILENO);
	catch_interrupts();
	if (setup_media_load(&oo, &w.m, e))
		goto out;
	if (w.m->kind != MANIFEST_MEDIA) {
		err_set(e, ERR_CLASS_USAGE, "'%s' holds a service pack, not a product; the wizard installs products", oo.media);
		goto out;
	}
	w.root = mem_strdup(strcmp(oo.root, "/") == 0 ? "" : oo.root);
	w.chosen = mem_array((size_t)w.m->ncomponents + 1, sizeof(int));
	w.sel = mem_array((size_t)w.m->ncomponents + 1, sizeof(int));
	w.comp_bytes = mem_array((size_t)w.m->ncomponents + 1, sizeof(uint64_t));
	w.dir = mem_strdup(w.m->product.default_dir);
	if (!w.root || !w.chosen || !w.sel || !w.comp_bytes || !w.dir) {
		err_nomem(e, "starting the wizard");
		goto out;
	}
	while (strlen(w.root) > 1 && w.root[strlen(w.root) - 1] == '/')
		w.root[strlen(w.root) - 1] = '\0';
	for (int i = 0; i < w.m->ncomponents; i++) {
		w.chosen[i] = w.m->components[i].default_on;
		for (int f = 0; f < w.m->nfiles; f++)
			if (strcmp(w.m->files[f].component, w.m->components[i].name) == 0)
				w.comp_bytes[i] += w.m->files[f].size;
	}
	if (load_license(&w, e))
		goto out;
	for (;;) {
		int act;

		switch (step) {
		case STEP_WELCOME: act = step_welcome(&w); break;
		case STEP_LICENSE:
			if (!w.license) {
				act = ACT_NEXT;
				break;
			}
			act = step_license(&w);
			if (act == -1) {
				printf("\nYou declined the license, so %s cannot be installed.\n", w.m->product.name);
				err_set(e, ERR_CLASS_ROLLEDBACK, "the license was declined; nothing was installed and the system is unchanged");
				goto out;
			}
			break;
		case STEP_COMPONENTS: act = step_components(&w, e); break;
		case STEP_DIR: act = step_dir(&w); break;
		case STEP_SUMMARY: act = step_summary(&w); break;
		default:
			rc = run_install(&w, e);
			goto out;
		}
		if (act == -2)
			goto out;
		if (act == ACT_QUIT) {
			putchar('\n');
			err_set(e, ERR_CLASS_ROLLEDBACK, "setup was %s before the install; nothing was changed on the system",
				interrupted ? "interrupted" : "quit");
			goto out;
		}
		if (act == ACT_BACK) {
			if (step > STEP_WELCOME)
				step--;
			if (step == STEP_LICENSE && !w.license)
				step--;
		} else if (act == ACT_NEXT) {
			step++;
		}
	}
out:
	fflush(stdout);
	if (w.m)
		manifest_free(w.m);
	mem_free(w.root);
	mem_free(w.chosen);
	mem_free(w.sel);
	mem_free(w.comp_bytes);
	mem_free(w.dir);
	mem_free(w.license);
	mem_free(media);
	return rc;
}
