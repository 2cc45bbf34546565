/* test_common_path.c - path joining, root mapping, clean relative paths. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>
#include <sys/stat.h>

#include "common/mem.h"
#include "common/path.h"
#include "testutil.h"

static void check_join(const char *a, const char *b, const char *want)
{
	char *p = path_join(a, b);
	assert_string_equal(p, want);
	mem_free(p);
}

static void test_join_and_root(void **state)
{
	(void)state;
	check_join("/tmp/r", "/opt/Mail Suite", "/tmp/r/opt/Mail Suite");
	check_join("/tmp/r/", "opt", "/tmp/r/opt");
	check_join("/", "/opt/x", "/opt/x");
	check_join("a", "", "a");
	char *p = path_in_root(NULL, "/etc/x");
	assert_string_equal(p, "/etc/x");
	mem_free(p);
}

static void test_clean_relative(void **state)
{
	(void)state;
	assert_true(path_is_clean_relative("bin/inetcomm.so"));
	assert_true(path_is_clean_relative("IM Client/im module.so"));
	assert_true(path_is_clean_relative("..a/b..")); /* names, not parents */
	const char *bad[] = { "", "/abs", "a/../b", "..", ".", "a//b", "a/", "a\\b",
		"./a", "a/.", "tab\there", NULL };
	for (int i = 0; bad[i]; i++)
		assert_false(path_is_clean_relative(bad[i]));
}

static void test_clean_relative_win(void **state)
{
	(void)state;
	assert_true(path_is_clean_relative_win("Program Files\\Mail Suite"));
	assert_true(path_is_clean_relative_win("Program Files/Mail Suite\\lib"));
	assert_true(path_is_clean_relative_win("bin/inetcomm.so"));
	const char *bad[] = { "", "/abs", "\\abs", "a\\..\\b", "a\\\\b", "a/\\b", "a\\", ".\\a",
		"a\\.", "tab\there", NULL };
	for (int i = 0; bad[i]; i++)
		assert_false(path_is_clean_relative_win(bad[i]));
}

static void test_dirname_basename(void **state)
{
	(void)state;
	char *d = path_dirname("/opt/Mail Suite/bin/x.so");
	assert_string_equal(d, "/opt/Mail Suite/bin");
	mem_free(d);
	d = path_dirname("x");
	assert_string_equal(d, ".");
	mem_free(d);
	assert_string_equal(path_basename("/a/b c"), "b c");
}

static void test_mkdirs(void **state)
{
	(void)state;
	char *t = tu_tmpdir();
	char *p = path_join(t, "a/b c/d");
	struct err e;
	assert_int_equal(path_mkdirs(p, 0755, &e), 0);
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(path_sync_dir(p, &e), 0);
	tu_write(t, "file", "x");
	char *f = path_join(t, "file/sub");
	assert_int_equal(path_mkdirs(f, 0755, &e), -1);
	assert_non_null(strstr(e.msg, "file"));
	mem_free(f);
	mem_free(p);
	tu_tmpdir_remove(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_join_and_root),
		cmocka_unit_test(test_clean_relative),
		cmocka_unit_test(test_clean_relative_win),
		cmocka_unit_test(test_dirname_basename),
		cmocka_unit_test(test_mkdirs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
