/* test_setup_needed.c - reading a module's DT_NEEDED / DT_RUNPATH without
 * loading it (reg_deps_read), and finding each needed library the way
 * setup checks it before an install: in the plan, in the root, on the host
 * (setup_needed_find). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/mem.h"
#include "register/reg.h"
#include "setup/setup.h"
#include "testutil.h"

static void read_example(const char *rel, struct reg_deps *d)
{
	char *p = tu_build_path(rel);
	struct err e;

	if (!tu_exists(p))
		fail_msg("missing %s (run make examples)", p);
	assert_int_equal(reg_deps_read(p, d, &e), 0);
	free(p);
}

static void test_reads_needed_and_runpath(void **state)
{
	struct reg_deps d;
	int saw = 0;

	(void)state;
	read_example("examples/tree/modules/chatcfg.so", &d);
	for (size_t i = 0; i < d.nneeded; i++)
		saw |= strcmp(d.needed[i], "libchatsvc.so.1") == 0;
	assert_true(saw);
	assert_non_null(d.runpath);
	assert_string_equal(d.runpath, "$ORIGIN");
	assert_null(d.rpath);
	assert_true(d.nsysdirs >= 2);
	reg_deps_destroy(&d);
	reg_deps_destroy(&d);   /* NULL-safe, idempotent */
}

static void test_not_elf_is_input_error(void **state)
{
	char *dir = tu_tmpdir(), path[4096];
	struct reg_deps d;
	struct err e;

	(void)state;
	tu_write(dir, "script.so", "#!/bin/sh\necho not a library\n");
	snprintf(path, sizeof(path), "%s/script.so", dir);
	assert_int_equal(reg_deps_read(path, &d, &e), -1);
	assert_int_equal(e.cls, ERR_CLASS_INPUT);
	assert_int_equal(d.nneeded, 0);
	snprintf(path, sizeof(path), "%s/missing.so", dir);
	assert_int_equal(reg_deps_read(path, &d, &e), -1);
	assert_int_equal(e.cls, ERR_CLASS_IO);
	tu_tmpdir_remove(dir);
}

static void test_find_in_plan_root_and_host(void **state)
{
	char *root = tu_tmpdir(), looked[1024];
	char *sys[] = { "/nonexistent-setupkit-sys" };
	struct reg_deps d = { NULL, 0, NULL, "$ORIGIN", sys, 1 };
	struct setup_plan_item items[2];
	struct setup_plan p;
	const char *mod = "/opt/Mail Suite/lib/chatcfg.so";

	(void)state;
	memset(items, 0, sizeof(items));
	memset(&p, 0, sizeof(p));
	p.items = items;
	p.nitems = 2;
	items[0].path = "/opt/Mail Suite/lib/libchatsvc.so.1";
	items[0].action = SETUP_SKIP;
	items[1].path = "/usr/lib/libother.so";
	items[1].action = SETUP_INSTALL;

	/* Missing: the component is not selected, so its file is skipped. */
	assert_int_equal(setup_needed_find(root, &p, mod, &d, "libchatsvc.so.1", looked, sizeof(looked)), 0);
	assert_non_null(strstr(looked, "/opt/Mail Suite/lib (DT_RUNPATH $ORIGIN)"));
	assert_non_null(strstr(looked, "/nonexistent-setupkit-sys (system)"));
	/* Installed by the plan beside the module. */
	items[0].action = SETUP_INSTALL;
	assert_int_equal(setup_needed_find(root, &p, mod, &d, "libchatsvc.so.1", looked, sizeof(looked)), 1);
	/* Already in the root. */
	items[0].action = SETUP_SKIP;
	tu_write(root, "opt/Mail Suite/lib/libchatsvc.so.1", "x");
	assert_int_equal(setup_needed_find(root, &p, mod, &d, "libchatsvc.so.1", looked, sizeof(looked)), 1);
	/* Not on the run path: a library the plan puts elsewhere is not found. */
	assert_int_equal(setup_needed_find(root, &p, mod, &d, "libother.so", looked, sizeof(looked)), 0);
	/* DT_RPATH counts only without DT_RUNPATH. */
	d.runpath = NULL;
	d.rpath = "/usr/lib";
	assert_int_equal(setup_needed_find(root, &p, mod, &d, "libother.so", looked, sizeof(looked)), 1);
	assert_non_null(strstr(looked, "/usr/lib (DT_RPATH)"));
	/* A DT_NEEDED holding a path is looked up as that path. */
	assert_int_equal(setup_needed_find(root, &p, mod, &d, "/opt/Mail Suite/lib/libchatsvc.so.1", looked,
					   sizeof(looked)), 1);
	assert_int_equal(setup_needed_find(root, &p, mod, &d, "/nonexistent-setupkit/libz.so", looked,
					   sizeof(looked)), 0);
	assert_non_null(strstr(looked, "(the path itself)"));
	tu_tmpdir_remove(root);
}

static void test_host_system_libraries_are_present(void **state)
{
	struct reg_deps d;
	struct setup_plan p;
	char *root = tu_tmpdir(), looked[1024];

	(void)state;
	memset(&p, 0, sizeof(p));
	read_example("examples/tree/modules/chatcfg.so", &d);
	/* libc is never reported missing: the host's loader finds it. */
	assert_int_equal(setup_needed_find(root, &p, "/opt/x/m.so", &d, "libc.so.6", looked, sizeof(looked)), 1);
	/* An $ORIGIN directory is looked up in the root only, never on the host. */
	assert_int_equal(setup_needed_find(root, &p, "/etc/m.so", &d, "passwd", looked, sizeof(looked)), 0);
	reg_deps_destroy(&d);
	tu_tmpdir_remove(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reads_needed_and_runpath),
		cmocka_unit_test(test_not_elf_is_input_error),
		cmocka_unit_test(test_find_in_plan_root_and_host),
		cmocka_unit_test(test_host_system_libraries_are_present),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
