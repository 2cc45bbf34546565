/* test_reg_runner.c - running entry points in a child (this binary is its own
 * helper, see main), stages, signals, timeouts, retries, diagnosis. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/mem.h"
#include "register/reg.h"
#include <setupkit/reg.h>
#include "testutil.h"

static char *module(const char *name)
{
	char rel[256], *p, *abs;
	snprintf(rel, sizeof(rel), "modules/%s.so", name);
	p = tu_build_path(rel);
	abs = realpath(p, NULL);
	if (!abs)
		fail_msg("missing test module %s (run make tests)", p);
	free(p);
	return abs;
}

static void run(const char *name, enum reg_entry entry, const char *root, unsigned timeout_ms,
		struct reg_run_result *r)
{
	struct reg_run_opts o;
	struct err e;
	char *m = module(name);
	memset(&o, 0, sizeof(o));
	o.module = m;
	o.entry = entry;
	o.root = root;
	o.timeout_ms = timeout_ms;
	o.quiet_child = 1;
	assert_int_equal(reg_run(&o, r, &e), 0);
	free(m);
}

static void test_good_module_reports_writes(void **state)
{
	char *root = tu_tmpdir();
	struct reg_run_result r;
	int saw_clsid = 0;
	(void)state;
	run("good", REG_ENTRY_REGISTER, root, 0, &r);
	assert_int_equal(r.stage, REG_STAGE_DONE);
	assert_int_equal(r.hr, S_OK);
	assert_true(r.writes.n > 5);
	for (size_t i = 0; i < r.writes.n; i++)
		if (strstr(r.writes.v[i].key, "Classes\\CLSID\\{5E7A0001"))
			saw_clsid = 1;
	assert_true(saw_clsid);
	reg_run_result_destroy(&r);
	/* Nothing was written to the store by the run itself. */
	assert_int_equal(tu_count_entries(root), 0);
	tu_tmpdir_remove(root);
}

static void test_failures_have_stages(void **state)
{
	char *root = tu_tmpdir();
	struct reg_run_result r;
	(void)state;
	run("crash_segv", REG_ENTRY_REGISTER, root, 0, &r);
	assert_int_equal(r.stage, REG_STAGE_CRASH);
	assert_int_equal(r.signal, SIGSEGV);
	assert_int_equal(r.writes.n, 0);
	reg_run_result_destroy(&r);
	run("crash_abort", REG_ENTRY_REGISTER, root, 0, &r);
	assert_int_equal(r.stage, REG_STAGE_CRASH);
	assert_int_equal(r.signal, SIGABRT);
	reg_run_result_destroy(&r);
	run("exit_mid", REG_ENTRY_REGISTER, root, 0, &r);
	assert_int_equal(r.stage, REG_STAGE_CRASH);
	assert_int_equal(r.signal, 0);
	assert_int_equal(r.exit_status, 0);
	reg_run_result_destroy(&r);
	run("fail_class", REG_ENTRY_REGISTER, root, 0, &r);
	assert_int_equal(r.stage, REG_STAGE_CALL);
	assert_int_equal(r.hr, SELFREG_E_CLASS);
	assert_int_equal(r.writes.n, 0);
	reg_run_result_destroy(&r);
	run("no_unreg", REG_ENTRY_UNREGISTER, root, 0, &r);
	assert_int_equal(r.stage, REG_STAGE_ENTRY);
	assert_true(r.permanent);
	assert_non_null(strstr(r.detail, "DllUnregisterServer"));
	reg_run_result_destroy(&r);
	run("needs_dep", REG_ENTRY_REGISTER, root, 0, &r);
	assert_int_equal(r.stage, REG_STAGE_LOAD);
	assert_true(r.permanent);
	assert_non_null(strstr(r.detail, "libskdep.so"));
	reg_run_result_destroy(&r);
	tu_tmpdir_remove(root);
}

static void test_timeout_kills_group(void **state)
{
	char *root = tu_tmpdir();
	struct reg_run_result r;
	time_t t0 = time(NULL);
	(void)state;
	run("hang", REG_ENTRY_REGISTER, root, 300, &r);
	assert_int_equal(r.stage, REG_STAGE_TIMEOUT);
	assert_true(time(NULL) - t0 < 10);
	reg_run_result_destroy(&r);
	tu_tmpdir_remove(root);
}

static void test_deps_diagnosis(void **state)
{
	struct err e;
	int bad = 0;
	char *m = module("needs_dep"), *d;
	(void)state;
	d = reg_deps_diagnose(m, 0, &bad, &e);
	assert_non_null(d);
	assert_non_null(strstr(d, "missing library 'libskdep.so'"));
	assert_non_null(strstr(d, "/usr/lib"));
	mem_free(d);
	free(m);
	m = module("good");
	d = reg_deps_diagnose(m, 0, &bad, &e);
	assert_string_equal(d, "");
	mem_free(d);
	free(m);
	char *dir = tu_tmpdir();
	tu_write(dir, "fake.so", "this is text");
	char *p;
	assert_true(asprintf(&p, "%s/fake.so", dir) > 0);
	assert_null(reg_deps_diagnose(p, 0, &bad, &e));
	assert_int_equal(bad, 1);
	free(p);
	tu_tmpdir_remove(dir);
}

static void test_module_run_retries_and_applies(void **state)
{
	char *root = tu_tmpdir(), *dir = tu_tmpdir(), *src = module("flaky"), *dst;
	struct reg_store *s;
	struct reg_run_opts o;
	struct reg_retry retry = { 3, 10 };
	struct reg_value v;
	struct err e;
	unsigned tries = 0;
	char cmd[8192];
	(void)state;
	assert_true(asprintf(&dst, "%s/with space/flaky copy.so", dir) > 0);
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s/with space' && cp '%s' '%s'", dir, src, dst);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(reg_store_open(&s, root, 0, &e), 0);
	memset(&o, 0, sizeof(o));
	o.module = dst;
	o.entry = REG_ENTRY_REGISTER;
	o.root = root;
	o.quiet_child = 1;
	struct reg_retry once = { 1, 0 };
	assert_int_equal(reg_module_run(s, &o, &once, &tries, &e), REG_EXIT_CALL);
	assert_int_equal(reg_key_exists(s, "HKLM\\Software\\SetupkitTest\\Flaky", &e), 0);
	assert_int_equal(reg_module_run(s, &o, &retry, &tries, &e), REG_EXIT_OK);
	assert_int_equal(tries, 2);
	assert_int_equal(reg_value_get(s, "HKLM\\Software\\SetupkitTest\\Flaky", "Attempt", &v, &e), 1);
	assert_int_equal(*(uint32_t *)v.data, 3);
	reg_value_destroy(&v);
	/* Unregister without DllUnregisterServer: captures are undone. */
	o.entry = REG_ENTRY_UNREGISTER;
	assert_int_equal(reg_module_run(s, &o, &once, &tries, &e), REG_EXIT_OK);
	assert_int_equal(reg_key_exists(s, "HKLM\\Software\\SetupkitTest", &e), 0);
	reg_store_close(s);
	free(dst);
	free(src);
	tu_tmpdir_remove(root);
	tu_tmpdir_remove(dir);
}

int main(int argc, char **argv)
{
	reg_child_dispatch(argc, argv);   /* this binary is its own helper */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_module_reports_writes),
		cmocka_unit_test(test_failures_have_stages),
		cmocka_unit_test(test_timeout_kills_group),
		cmocka_unit_test(test_deps_diagnosis),
		cmocka_unit_test(test_module_run_retries_and_applies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
