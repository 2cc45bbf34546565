/*
 * test_setup_alloc.c - allocation failure at every point of a small
 * install, driven through the engine's own entry point (setup_cmd_install,
 * what `setup install` runs). For k = 1, 2, ... the k-th allocation of the
 * library code fails (mem_fail_at); each run must return a clean
 * out-of-memory error (class nomem, a message) and leave the root as it
 * was, until k passes the install's last allocation and it succeeds.
 *
 * "As it was" is compared as a listing of every entry of the root (type,
 * path, mode, size, SHA-256 or link target) plus a dump of every table of
 * the state database, which holds the registry and the product state. Two
 * things a failed run adds by design, both in the state directory, are
 * counted apart instead: its log file (var/lib/setupkit/log; the error
 * message names it) and the copy of the registry taken before the
 * transaction (var/lib/setupkit/reg-backup, setup_txn.c invariant 7: kept
 * "whatever happens next", the newest SK_REGBACKUP_KEEP of them). Each
 * run may add at most one of each; nothing else may differ.
 *
 * The product holds a plain file, an executable in a subdirectory, a
 * self-registering module (tests/fixtures/modules/good.c, registered in a
 * child: the real `setup` binary is the helper) and a registry entry, so
 * the sweep passes staging, the switch, registration and its undo, the
 * product's registry writes and the commit. Leaks are found by `make asan`
 * (LeakSanitizer) and `make valgrind`.
 *
 * A second sweep makes allocation k and every later one fail (memory stays
 * exhausted, so even the rollback cannot allocate): the run must still end
 * with an error, and after `setup recover` with memory back the root must
 * be as it was.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/err.h"
#include "common/mem.h"
#include "common/names.h"
#include "payload/payload.h"
#include "setup/setup.h"
#include "testutil.h"

#define DEFINITION \
	"[setupkit]\nformat = 2\nkind = product\n" \
	"[product]\ncode = tiny\nname = Tiny\nversion = 1.0\ndefault_dir = /opt/Tiny\n" \
	"[component core]\npayload = core\ndefault = yes\n" \
	"[file readme]\ncomponent = core\nsource = README\ndest = {app}/README\n" \
	"[file tool]\ncomponent = core\nsource = tool\ndest = {app}/bin/tool\nmode = 0755\n" \
	"[file mod]\ncomponent = core\nsource = good.so\ndest = {app}/lib/good.so\nflags = selfreg\n" \
	"[registry dir]\ncomponent = core\nkey = HKLM\\Software\\Tiny\nvalue = InstallDir\ndata = {app}\n"

#define ANSWERS \
	"[setupkit]\nformat = 2\nkind = answers\n" \
	"[install]\nproduct = tiny\naccept_license = yes\nstart_services = no\n"

/* Runs are bounded: a small install allocates a few thousand times. */
#define SWEEP_MAX 200000ul

struct fx {
	char *dir;          /* the test's temporary directory */
	char *root;         /* dir/root */
	char *media, *answers, *pub, *setup_bin;
	struct setup_opts o;
};

static char *absolute(const char *rel)
{
	char cwd[PATH_MAX], *p;

	if (rel[0] == '/')
		return strdup(rel);
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_true(asprintf(&p, "%s/%s", cwd, rel) > 0);
	return p;
}

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char *cmd;
	va_list ap;
	int st;

	va_start(ap, fmt);
	assert_true(vasprintf(&cmd, fmt, ap) > 0);
	va_end(ap);
	st = system(cmd);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("command failed (%d): %s", st, cmd);
	free(cmd);
}

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char *rel, *mk, *good;

	assert_non_null(f);
	f->dir = tu_tmpdir();
	rel = tu_build_path("bin/mkmedia");
	mk = absolute(rel);
	free(rel);
	rel = tu_build_path("bin/setup");
	f->setup_bin = absolute(rel);
	free(rel);
	rel = tu_build_path("modules/good.so");
	good = absolute(rel);
	free(rel);
	tu_write(f->dir, "def/tiny.ini", DEFINITION);
	tu_write(f->dir, "src/README", "Tiny, a product of three files.\n");
	tu_write(f->dir, "src/tool", "#!/bin/sh\necho tiny\n");
	tu_write(f->dir, "answers.ini", ANSWERS);
	sh("cp '%s' '%s/src/good.so'", good, f->dir);
	sh("cd '%s' && '%s' keygen vendor >/dev/null && "
	   "'%s' build def/tiny.ini --source src --out media --sign vendor.key >/dev/null",
	   f->dir, mk, mk);
	assert_true(asprintf(&f->root, "%s/root", f->dir) > 0);
	assert_true(asprintf(&f->media, "%s/media", f->dir) > 0);
	assert_true(asprintf(&f->answers, "%s/answers.ini", f->dir) > 0);
	assert_true(asprintf(&f->pub, "%s/vendor.pub", f->dir) > 0);
	assert_int_equal(mkdir(f->root, 0755), 0);
	free(mk);
	free(good);

	f->o.root = f->root;
	f->o.media = f->media;
	f->o.answers = f->answers;
	f->o.trusted_key = f->pub;
	f->o.quiet = 1;
	f->o.lock_timeout = 5;
	f->o.reg_attempts = 1;
	f->o.reg_backoff_ms = 0;
	f->o.reg_timeout_ms = 60000;
	f->o.self = f->setup_bin;   /* the registration child: the real tool */
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	tu_tmpdir_remove(f->dir);
	free(f->root);
	free(f->media);
	free(f->answers);
	free(f->pub);
	free(f->setup_bin);
	free(f);
	return 0;
}

/* ---- the listing ---------------------------------------------------------- */

struct lines {
	char **v;
	size_t n, cap;
};

static void lines_add(struct lines *l, char *s)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		assert_non_null(l->v);
	}
	l->v[l->n++] = s;
}

static void lines_free(struct lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* nftw has no context argument. */
static struct lines *walk_out;
static size_t walk_skip;
static int walk_logs, walk_regbackups;

static int under(const char *rel, const char *dir)
{
	size_t n = strlen(dir);

	return rel[0] == '/' && strncmp(rel + 1, dir, n) == 0 && (rel[n + 1] == '/' || rel[n + 1] == '\0');
}

static int walk_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	const char *rel = p + walk_skip;
	char *line = NULL;

	(void)flag;
	if (ftw->level == 0)
		return 0;
	/* Logs and registry backups: counted, not listed (file comment). */
	if (under(rel, SK_LOG_DIR) && S_ISREG(st->st_mode)) {
		walk_logs++;
		return 0;
	}
	if (under(rel, SK_REGBACKUP_DIR)) {
		walk_regbackups += S_ISREG(st->st_mode);
		return 0;
	}
	/* The database, its WAL and the lock hold bytes that change without
	 * meaning anything (checkpoints, the last holder's pid): listed by
	 * name; the database is compared by its contents below. */
	if (strcmp(rel, "/" SK_STATE_DB "-wal") == 0 || strcmp(rel, "/" SK_STATE_DB "-shm") == 0)
		return 0;   /* present or not depending on checkpoints */
	if (strcmp(rel, "/" SK_STATE_DB) == 0 || strcmp(rel, "/" SK_LOCK_FILE) == 0) {
		assert_true(asprintf(&line, "F %s", rel) > 0);
	} else if (S_ISLNK(st->st_mode)) {
		char t[PATH_MAX];
		ssize_t n = readlink(p, t, sizeof(t) - 1);

		assert_true(n >= 0);
		t[n] = '\0';
		assert_true(asprintf(&line, "L %s -> %s", rel, t) > 0);
	} else if (S_ISDIR(st->st_mode)) {
		assert_true(asprintf(&line, "D %s %o", rel, (unsigned)(st->st_mode & 07777)) > 0);
	} else if (S_ISREG(st->st_mode)) {
		struct payload_hash h;
		struct err e;

		/* Hashing allocates nothing from mem_* (checked: the sweep
		 * turns injection off before listing anyway). */
		if (payload_hash_file(p, &h, &e) != 0)
			fail_msg("%s", e.msg);
		assert_true(asprintf(&line, "F %s %o %llu %s", rel, (unsigned)(st->st_mode & 07777),
				     (unsigned long long)h.size, h.sha256) > 0);
	} else {
		assert_true(asprintf(&line, "? %s %o", rel, (unsigned)st->st_mode) > 0);
	}
	lines_add(walk_out, line);
	return 0;
}

static int dump_row(void *ctx, int n, char **vals, char **names)
{
	struct lines *l = ctx;
	size_t cap = 64, len = 0;
	char *s = malloc(cap);

	(void)names;
	assert_non_null(s);
	s[0] = '\0';
	for (int i = 0; i < n; i++) {
		const char *v = vals[i] ? vals[i] : "NULL";
		size_t need = len + strlen(v) + 2;

		if (need > cap) {
			cap = need * 2;
			s = realloc(s, cap);
			assert_non_null(s);
		}
		len += (size_t)sprintf(s + len, "%s%s", i ? "|" : "", v);
	}
	lines_add(l, s);
	return 0;
}

/* Every row of every table of the state database, as text, sorted. The
 * database is opened read-only with plain SQLite: the test does not trust
 * the code under test to report on itself. */
static void dump_db(const char *root, struct lines *l)
{
	char *path, *err = NULL;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	struct lines tables = { NULL, 0, 0 };

	assert_true(asprintf(&path, "%s/%s", root, SK_STATE_DB) > 0);
	if (access(path, F_OK) != 0) {
		free(path);
		return;
	}
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	/* sqlite_sequence is left out: AUTOINCREMENT ids are never reused, so
	 * its counters move on when rows are written and then undone. */
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type = 'table' "
					    "AND name <> 'sqlite_sequence' ORDER BY name", -1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW)
		lines_add(&tables, strdup((const char *)sqlite3_column_text(st, 0)));
	sqlite3_finalize(st);
	for (size_t i = 0; i < tables.n; i++) {
		char *sql, *head;

		assert_true(asprintf(&head, "TABLE %s", tables.v[i]) > 0);
		lines_add(l, head);
		assert_true(asprintf(&sql, "SELECT * FROM \"%s\"", tables.v[i]) > 0);
		if (sqlite3_exec(db, sql, dump_row, l, &err) != SQLITE_OK)
			fail_msg("%s: %s", sql, err);
		free(sql);
	}
	lines_free(&tables);
	sqlite3_close(db);
	free(path);
}

/* The root as a sorted list of lines; *logs receives the number of log
 * files plus registry backups. */
static void listing(const char *root, struct lines *l, int *logs)
{
	walk_out = l;
	walk_skip = strlen(root);
	walk_logs = walk_regbackups = 0;
	assert_int_equal(nftw(root, walk_one, 32, FTW_PHYS), 0);
	dump_db(root, l);
	qsort(l->v, l->n, sizeof(*l->v), cmp_str);
	*logs = walk_logs * 1000 + walk_regbackups;
}

/* Fail with the first difference between two listings. */
static void same_listing(const struct lines *a, const struct lines *b, unsigned long k)
{
	size_t i = 0, j = 0;

	while (i < a->n || j < b->n) {
		int c = i == a->n ? 1 : j == b->n ? -1 : strcmp(a->v[i], b->v[j]);

		if (c < 0)
			fail_msg("allocation %lu: the failed install removed or changed: %s", k, a->v[i]);
		if (c > 0)
			fail_msg("allocation %lu: the failed install left behind: %s", k, b->v[j]);
		i++;
		j++;
	}
}

/* ---- the sweeps ----------------------------------------------------------- */

/* SK_ALLOC_FROM=k starts the sweeps at k (to look at one failure). */
static unsigned long sweep_from(void)
{
	const char *s = getenv("SK_ALLOC_FROM");

	return s && *s ? strtoul(s, NULL, 10) : 1;
}

/* SK_ALLOC_STEP=n tries every n-th k only. make check and make asan try
 * every k; under make valgrind (SK_VALGRIND set) one install takes seconds
 * instead of milliseconds, so every 40th is tried there: valgrind adds
 * what LeakSanitizer cannot see (uninitialised reads) on a sample. */
static unsigned long sweep_step(void)
{
	const char *s = getenv("SK_ALLOC_STEP");
	unsigned long n = s && *s ? strtoul(s, NULL, 10) : getenv("SK_VALGRIND") ? 40 : 1;

	return n ? n : 1;
}

/* Open the root once (lock file, state database, log directory) so the
 * listing before the sweep already holds what any run creates first. */
static void open_root(struct fx *f)
{
	struct err e;

	err_clear(&e);
	if (setup_cmd_status(&f->o, &e) != 0)
		fail_msg("status: %s", e.msg);
}

static void assert_installed(struct fx *f, unsigned long k)
{
	struct err e;

	err_clear(&e);
	if (setup_cmd_verify(&f->o, "tiny", &e) != 0)
		fail_msg("allocation %lu: the install is not whole: %s", k, e.msg);
}

/* The root must be as before, logs and registry backups aside: the runs
 * since the last look may have added at most `runs` of each. */
static void assert_as_before(struct fx *f, const struct lines *before, int *counts, int runs, unsigned long k)
{
	struct lines now = { NULL, 0, 0 };
	int c;

	listing(f->root, &now, &c);
	same_listing(before, &now, k);
	if (c / 1000 > *counts / 1000 + runs || c % 1000 > *counts % 1000 + runs)
		fail_msg("allocation %lu: %d log files and %d registry backups appeared", k,
			 c / 1000 - *counts / 1000, c % 1000 - *counts % 1000);
	*counts = c;
	lines_free(&now);
}

/* 1 when the root is exactly as before. */
static int is_as_before(struct fx *f, const struct lines *before)
{
	struct lines now = { NULL, 0, 0 };
	int c, same;

	listing(f->root, &now, &c);
	same = now.n == before->n;
	for (size_t i = 0; same && i < now.n; i++)
		same = strcmp(now.v[i], before->v[i]) == 0;
	lines_free(&now);
	return same;
}

/* The product got installed after all (the failure came past the commit,
 * or a best-effort step absorbed it): with memory back, recover, verify
 * every file and registration, uninstall, and the root is as before. */
static void undo_install(struct fx *f, const struct lines *before, int *counts, unsigned long k)
{
	struct err e;

	err_clear(&e);
	if (setup_cmd_recover(&f->o, &e) != 0)
		fail_msg("allocation %lu: recover: %s", k, e.msg);
	assert_installed(f, k);
	err_clear(&e);
	if (setup_cmd_uninstall(&f->o, "tiny", &e) != 0)
		fail_msg("allocation %lu: uninstall: %s", k, e.msg);
	/* install, recover, verify, uninstall */
	assert_as_before(f, before, counts, 4, k);
}

/* Sweep k = 1, 2, ... until an install whose k-th allocation would fail
 * runs to the end without reaching it. persist: every allocation from the
 * k-th on fails. Returns the number of allocations of a whole install. */
static unsigned long sweep(struct fx *f, int persist, unsigned long *committed, unsigned long *absorbed)
{
	struct lines before = { NULL, 0, 0 };
	int counts;
	unsigned long k, step = sweep_step();

	*committed = *absorbed = 0;
	open_root(f);
	listing(f->root, &before, &counts);
	for (k = sweep_from(); k < SWEEP_MAX; k += step) {
		struct err e;
		unsigned long used;
		int rc;

		err_clear(&e);
		mem_fail_at(k, persist);
		rc = setup_cmd_install(&f->o, &e);
		used = mem_count();
		mem_fail_at(0, 0);
		if (getenv("SK_ALLOC_VERBOSE"))
			print_message("allocation %lu of %lu%s: rc %d: %s: %s\n", k, used, persist ? " on" : "",
				      rc, err_class_name(e.cls), e.msg);
		if (rc == 0 && used < k) {
			/* Past the install's last allocation: it ran whole. */
			assert_installed(f, k);
			lines_free(&before);
			return used;
		}
		if (rc == 0) {
			/* A best-effort step (pruning old registry backups)
			 * absorbed the failure: the install must be whole. */
			(*absorbed)++;
			undo_install(f, &before, &counts, k);
			continue;
		}
		assert_true(e.msg[0] != '\0');
		/* A single failure is reported as what it is; with memory
		 * gone for good, the rollback may fail too (then recovery,
		 * below, finishes it), so only "an error" is asked for. */
		if (!persist && e.cls != ERR_CLASS_NOMEM)
			fail_msg("allocation %lu of %lu: expected an out-of-memory error, got class %s: %s",
				 k, used, err_class_name(e.cls), e.msg);
		if (persist) {
			err_clear(&e);
			if (setup_cmd_recover(&f->o, &e) != 0)
				fail_msg("allocation %lu (persistent): recover: %s", k, e.msg);
		}
		if (is_as_before(f, &before)) {
			assert_as_before(f, &before, &counts, persist ? 2 : 1, k);
			continue;
		}
		/* Not as before: only a failure past the commit may leave
		 * the product installed, and it must say so. */
		if (!persist && !strstr(e.msg, "is complete, but cleaning up after it failed"))
			fail_msg("allocation %lu of %lu: the install failed (%s) and the root is not as before",
				 k, used, e.msg);
		(*committed)++;
		undo_install(f, &before, &counts, k);
	}
	fail_msg("the install did not finish within %lu allocations", SWEEP_MAX);
	return 0;
}

static void test_install_fails_cleanly_at_every_allocation(void **state)
{
	unsigned long n, runs, committed, absorbed;

	n = sweep(*state, 0, &committed, &absorbed);
	runs = n / sweep_step() + (sweep_step() == 1 ? 0 : 1);
	print_message("install: %lu allocations; failing %s once: %lu rolled back, %lu past the commit, "
		      "%lu absorbed by a best-effort step\n", n, sweep_step() == 1 ? "each" : "a sample",
		      runs - committed - absorbed, committed, absorbed);
	assert_true(n > 100);   /* the install really allocates */
}

static void test_install_survives_memory_staying_exhausted(void **state)
{
	unsigned long n, runs, committed, absorbed;

	n = sweep(*state, 1, &committed, &absorbed);
	runs = n / sweep_step() + (sweep_step() == 1 ? 0 : 1);
	print_message("install, every allocation from the k-th on failing: %lu runs; recovered to before: %lu, "
		      "to installed: %lu\n", runs, runs - committed - absorbed, committed + absorbed);
	assert_true(n > 100);
}

int main(int argc, char **argv)
{
	/* About 2,000 installs, each syncing its filesystem (syncfs): on a
	 * disk that is minutes of waiting; on tmpfs it is free. The sweep is
	 * about memory, not durability, so use /dev/shm unless told where. */
	if (!getenv("TMPDIR") && access("/dev/shm", W_OK | X_OK) == 0)
		setenv("TMPDIR", "/dev/shm", 1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_install_fails_cleanly_at_every_allocation, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_install_survives_memory_staying_exhausted, fx_setup, fx_teardown),
	};

	(void)argc;
	(void)argv;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
