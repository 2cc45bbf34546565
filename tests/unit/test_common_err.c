/* test_common_err.c - the error object, its status ladder and exit codes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "common/err.h"
#include "common/mem.h"

static void test_err_at_names_file_and_line(void **state)
{
	struct err e;
	(void)state;
	err_clear(&e);
	assert_int_equal(err_at(&e, "product.ini", 12, "unknown key '%s'", "foo"), -1);
	assert_string_equal(e.msg, "product.ini:12: unknown key 'foo'");
	assert_int_equal(e.line, 12);
	assert_int_equal(e.cls, ERR_CLASS_INPUT);
	assert_int_equal(err_exit_code(&e), ERR_EXIT_BADINPUT);
}

static void test_err_errno_keeps_errno_and_appends_cause(void **state)
{
	struct err e;
	(void)state;
	errno = ENOENT;
	err_errno(&e, "cannot open '%s'", "/x y");
	assert_int_equal(errno, ENOENT);
	assert_int_equal(e.sys_errno, ENOENT);
	assert_string_equal(e.msg, "cannot open '/x y': No such file or directory");
	assert_int_equal(err_exit_code(&e), ERR_EXIT_SYSTEM);
	errno = ENOMEM;
	err_errno(&e, "x");
	assert_int_equal(err_exit_code(&e), ERR_EXIT_NOMEM);
}

static void test_err_prefix_and_clear(void **state)
{
	struct err e;
	(void)state;
	err_set(&e, ERR_CLASS_MEDIA, "hash mismatch");
	err_prefix(&e, "payload '%s'", "core.zip");
	assert_string_equal(e.msg, "payload 'core.zip': hash mismatch");
	assert_int_equal(err_exit_code(&e), ERR_EXIT_BADMEDIA);
	assert_true(err_is_set(&e));
	err_clear(&e);
	assert_false(err_is_set(&e));
	assert_int_equal(err_exit_code(&e), 0);
}

static void test_err_long_message_truncates(void **state)
{
	struct err e;
	char big[4000];
	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	err_set(&e, ERR_CLASS_IO, "%s", big);
	assert_int_equal(strlen(e.msg), ERR_MSG_MAX - 1);
}

static void test_exit_codes_are_distinct(void **state)
{
	static const enum err_class cls[] = { ERR_CLASS_USAGE, ERR_CLASS_INPUT,
		ERR_CLASS_MEDIA, ERR_CLASS_LOCKED, ERR_CLASS_IO, ERR_CLASS_NOMEM,
		ERR_CLASS_NOTFOUND, ERR_CLASS_INTERNAL, ERR_CLASS_ROLLEDBACK };
	int seen[32] = {0};
	struct err e;
	(void)state;
	for (size_t i = 0; i < sizeof(cls) / sizeof(cls[0]); i++) {
		err_set(&e, cls[i], "x");
		int c = err_exit_code(&e);
		assert_in_range(c, 1, 31);
		assert_int_equal(seen[c], 0);
		seen[c] = 1;
	}
}

static void test_mem_fault_injection(void **state)
{
	(void)state;
	mem_fail_at(2, 0);
	void *a = mem_alloc(10);
	void *b = mem_alloc(10);
	void *c = mem_alloc(10);
	assert_non_null(a);
	assert_null(b);
	assert_non_null(c);
	mem_free(a); mem_free(c);
	mem_fail_at(1, 1);
	assert_null(mem_strdup("x"));
	assert_null(mem_printf("%d", 1));
	mem_fail_at(0, 0);
	char *s = mem_printf("%s-%d", "v", 7);
	assert_string_equal(s, "v-7");
	mem_free(s);
	assert_null(mem_array((size_t)-1, 16));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_err_at_names_file_and_line),
		cmocka_unit_test(test_err_errno_keeps_errno_and_appends_cause),
		cmocka_unit_test(test_err_prefix_and_clear),
		cmocka_unit_test(test_err_long_message_truncates),
		cmocka_unit_test(test_exit_codes_are_distinct),
		cmocka_unit_test(test_mem_fault_injection),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
