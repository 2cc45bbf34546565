/*
 * test_payload_mkmedia.c - the mkmedia tool driven like a user would: build
 * media from a definition and a source tree, byte-identical rebuilds, sign
 * and verify, tampered media, bad input leaving nothing behind, exit codes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/err.h"
#include "common/names.h"
#include "payload/payload.h"
#include "testutil.h"

#define DEFINITION \
	"[setupkit]\nformat = 2\nkind = product\n\n" \
	"[product]\ncode = tiny\nname = Tiny Product\nversion = 1.2.3.4\npublisher = Example Corp\n" \
	"default_dir = /opt/Tiny\nlicense = license.txt\n\n" \
	"[component core]\ndescription = Core\npayload = core\ndefault = yes\n\n" \
	"[component extra]\ndescription = Extra\npayload = extra\n\n" \
	"[file tool]\ncomponent = core\nsource = bin/tool\ndest = {app}/bin/tool\nmode = 0755\n\n" \
	"[file lib]\ncomponent = core\nsource = lib/libtiny.so.1\ndest = {app}/lib/libtiny.so.1\n\n" \
	"[file liblink]\ncomponent = core\nsource = lib/libtiny.so\ndest = {app}/lib/libtiny.so\nflags = symlink\ntarget = libtiny.so.1\n\n" \
	"[file doc]\ncomponent = extra\nsource = doc/extra.txt\ndest = {app}/doc/extra.txt\n"

struct fx {
	char *dir, *mk;
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->dir = tu_tmpdir();
	{
		char *rel = tu_build_path("bin/mkmedia"), cwd[4096];

		assert_non_null(getcwd(cwd, sizeof(cwd)));
		if (rel[0] == '/')
			f->mk = rel;
		else {
			assert_true(asprintf(&f->mk, "%s/%s", cwd, rel) > 0);
			free(rel);
		}
	}
	tu_write(f->dir, "def/tiny.ini", DEFINITION);
	tu_write(f->dir, "def/license.txt", "You may use this.\n");
	tu_write(f->dir, "src/bin/tool", "#!/bin/sh\necho tool\n");
	tu_write(f->dir, "src/lib/libtiny.so.1", "\x7f" "ELF not really\n");
	tu_write(f->dir, "src/doc/extra.txt", "extra docs\n");
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	tu_tmpdir_remove(f->dir);
	free(f->mk);
	free(f);
	return 0;
}

/* Run mkmedia with a printf-style argument string (in f->dir); exit code. */
static int mk(struct fx *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int mk(struct fx *f, const char *fmt, ...)
{
	char args[2048], *cmd;
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	assert_true(asprintf(&cmd, "cd '%s' && '%s' %s >out.txt 2>err.txt", f->dir, f->mk, args) > 0);
	st = system(cmd);
	free(cmd);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static char *err_text(struct fx *f)
{
	char *p, *t;

	assert_true(asprintf(&p, "%s/err.txt", f->dir) > 0);
	t = tu_read(p, NULL);
	free(p);
	return t;
}

static int same_tree(struct fx *f, const char *a, const char *b)
{
	char *cmd;
	int st;

	assert_true(asprintf(&cmd, "cd '%s' && diff -r '%s' '%s' >/dev/null", f->dir, a, b) > 0);
	st = system(cmd);
	free(cmd);
	return st == 0;
}

static void test_usage_and_version(void **state)
{
	struct fx *f = *state;
	char *t;

	assert_int_equal(mk(f, "--version"), 0);
	assert_int_equal(mk(f, "--help"), 0);
	assert_int_equal(mk(f, "%s", ""), ERR_EXIT_USAGE);
	assert_int_equal(mk(f, "frobnicate"), ERR_EXIT_USAGE);
	assert_int_equal(mk(f, "build def/tiny.ini --out m"), ERR_EXIT_USAGE);
	assert_int_equal(mk(f, "build def/tiny.ini --source src --out m --format rar"), ERR_EXIT_USAGE);
	t = err_text(f);
	assert_non_null(strstr(t, "unknown --format 'rar'"));
	free(t);
	assert_int_equal(mk(f, "verify m"), ERR_EXIT_USAGE);
	assert_int_equal(tu_count_entries(f->dir), 12);  /* 10 inputs + out/err.txt */
}

static void test_build_verify_and_reproducible(void **state)
{
	struct fx *f = *state;
	char *p, *t;

	assert_int_equal(mk(f, "keygen vendor"), 0);
	assert_int_equal(mk(f, "build def/tiny.ini --source src --out m1 --sign vendor.key"), 0);
	assert_int_equal(mk(f, "build def/tiny.ini --source src --out m2 --sign vendor.key"), 0);
	assert_true(same_tree(f, "m1", "m2"));
	assert_int_equal(mk(f, "verify m1 --trusted-key vendor.pub"), 0);
	assert_true(asprintf(&p, "%s/m1/core.tar.zst", f->dir) > 0);
	assert_true(tu_exists(p));
	free(p);
	assert_true(asprintf(&p, "%s/m1/license.txt", f->dir) > 0);
	assert_true(tu_exists(p));
	free(p);
	/* the manifest names each file's entry, size and hash */
	assert_true(asprintf(&p, "%s/m1/%s", f->dir, SK_MEDIA_MANIFEST) > 0);
	t = tu_read(p, NULL);
	assert_non_null(strstr(t, "kind = media"));
	assert_non_null(strstr(t, "[payload extra]"));
	assert_non_null(strstr(t, "entry = tool"));
	assert_non_null(strstr(t, "size = 20\n"));
	free(t);
	free(p);
	/* the payload stages with the manifest's numbers (symlink included) */
	{
		char *arc, *stage, hex[PAYLOAD_SHA256_HEX];
		struct payload_staged_list out = {0};
		struct err e;
		struct payload_want w[2] = {
			{ "tool", 20, hex, 0, NULL, NULL, 0 },
			{ "liblink", 0, NULL, PAYLOAD_WANT_SYMLINK, "libtiny.so.1", NULL, 0 },
		};

		assert_int_equal(payload_hash_buffer("#!/bin/sh\necho tool\n", 20, hex, &e), 0);
		assert_true(asprintf(&arc, "%s/m1/core.tar.zst", f->dir) > 0);
		assert_true(asprintf(&stage, "%s/stage", f->dir) > 0);
		assert_int_equal(payload_staging_create(stage, &e), 0);
		if (payload_extract(arc, stage, w, 2, NULL, &out, &e) != 0)
			fail_msg("%s", e.msg);
		assert_int_equal(out.n, 2);
		payload_staged_list_free(&out);
		free(arc);
		free(stage);
	}
	/* zip and tar.gz build too, and are reproducible across time */
	assert_int_equal(mk(f, "build def/tiny.ini --source src --out z1 --format zip"), 0);
	sleep(1);
	assert_int_equal(mk(f, "build def/tiny.ini --source src --out z2 --format zip"), 0);
	assert_true(same_tree(f, "z1", "z2"));
	assert_int_equal(mk(f, "build def/tiny.ini --source src --out g1 --format tar.gz"), 0);
	assert_int_equal(mk(f, "build def/tiny.ini --source src --out g2 --format tar.gz"), 0);
	assert_true(same_tree(f, "g1", "g2"));
	/* SOURCE_DATE_EPOCH changes the archives */
	assert_int_equal(mk(f, "build def/tiny.ini --source src --out e1 --format tar.gz"), 0);
	assert_int_equal(setenv("SOURCE_DATE_EPOCH", "1700000000", 1), 0);
	assert_int_equal(mk(f, "build def/tiny.ini --source src --out e2 --format tar.gz"), 0);
	unsetenv("SOURCE_DATE_EPOCH");
	assert_false(same_tree(f, "e1", "e2"));
}

static void test_verify_refuses_tampering(void **state)
{
	struct fx *f = *state;
	char *cmd, *t;

	assert_int_equal(mk(f, "keygen vendor"), 0);
	assert_int_equal(mk(f, "keygen other"), 0);
	assert_int_equal(mk(f, "build def/tiny.ini --source src --out m"), 0);
	/* unsigned */
	assert_int_equal(mk(f, "verify m --trusted-key vendor.pub"), ERR_EXIT_BADMEDIA);
	t = err_text(f);
	assert_non_null(strstr(t, "not signed"));
	free(t);
	assert_int_equal(mk(f, "sign m --key vendor.key"), 0);
	assert_int_equal(mk(f, "verify m --trusted-key vendor.pub"), 0);
	assert_int_equal(mk(f, "verify m --trusted-key other.pub"), ERR_EXIT_BADMEDIA);
	t = err_text(f);
	assert_non_null(strstr(t, "other.pub"));
	free(t);
	/* read-only media verifies */
	assert_true(asprintf(&cmd, "chmod -R a-w '%s/m'", f->dir) > 0);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	assert_int_equal(mk(f, "verify m --trusted-key vendor.pub"), 0);
	assert_true(asprintf(&cmd, "chmod -R u+w '%s/m'", f->dir) > 0);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	/* a changed manifest byte */
	assert_true(asprintf(&cmd, "cd '%s/m' && sed -i 's/size = 20/size = 21/' %s", f->dir,
			     SK_MEDIA_MANIFEST) > 0);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	assert_int_equal(mk(f, "verify m --trusted-key vendor.pub"), ERR_EXIT_BADMEDIA);
	/* a changed archive byte, with a good signature */
	assert_int_equal(mk(f, "sign m --key vendor.key"), 0);
	assert_int_equal(mk(f, "verify m --trusted-key vendor.pub"), 0);
	assert_true(asprintf(&cmd, "cd '%s/m' && printf 'X' | dd of=extra.tar.zst bs=1 seek=20 conv=notrunc 2>/dev/null",
			     f->dir) > 0);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	assert_int_equal(mk(f, "verify m --trusted-key vendor.pub"), ERR_EXIT_BADMEDIA);
	t = err_text(f);
	assert_non_null(strstr(t, "extra.tar.zst"));
	assert_non_null(strstr(t, "does not match the manifest"));
	free(t);
}

static void test_bad_input_leaves_nothing(void **state)
{
	struct fx *f = *state;
	char *p, *t;

	/* a missing source file */
	assert_true(asprintf(&p, "%s/src/doc/extra.txt", f->dir) > 0);
	assert_int_equal(unlink(p), 0);
	free(p);
	assert_int_equal(mk(f, "build def/tiny.ini --source src --out m"), ERR_EXIT_SYSTEM);
	t = err_text(f);
	assert_non_null(strstr(t, "extra.txt"));
	assert_non_null(strstr(t, "doc"));
	free(t);
	assert_true(asprintf(&p, "%s/m", f->dir) > 0);
	assert_false(tu_exists(p));
	free(p);
	assert_true(asprintf(&p, "%s/m.mkmedia-tmp", f->dir) > 0);
	assert_false(tu_exists(p));
	free(p);
	/* a bad definition: exit 3 with file:line */
	tu_write(f->dir, "def/bad.ini", "[setupkit]\nformat = 2\nkind = product\n[product]\nbogus = 1\n");
	assert_int_equal(mk(f, "build def/bad.ini --source src --out m"), ERR_EXIT_BADINPUT);
	t = err_text(f);
	assert_non_null(strstr(t, "bad.ini:"));
	free(t);
	/* an existing output is never overwritten */
	tu_write(f->dir, "exist/keep", "mine");
	assert_int_equal(mk(f, "build def/tiny.ini --source src --out exist"), ERR_EXIT_USAGE);
	assert_true(asprintf(&p, "%s/exist/keep", f->dir) > 0);
	assert_true(tu_exists(p));
	free(p);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_usage_and_version),
		T(test_build_verify_and_reproducible),
		T(test_verify_refuses_tampering),
		T(test_bad_input_leaves_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
