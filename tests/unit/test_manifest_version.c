/* test_manifest_version.c - parse, compare, print four-part versions. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "manifests/manifest.h"

static void test_parse_and_print(void **state)
{
	static const char *const good[] = { "5.5.2448.0", "1", "0.0", "65535.65535.65535.65535", "1.2.3", NULL };
	(void)state;
	for (int i = 0; good[i]; i++) {
		struct manifest_version v;
		struct err e;
		char buf[MANIFEST_VERSION_STRMAX];

		assert_int_equal(manifest_version_parse(good[i], &v, &e), 0);
		assert_string_equal(manifest_version_format(&v, buf), good[i]);
	}
}

static void test_bad_versions_are_errors_not_zero(void **state)
{
	static const struct { const char *s, *msg; } bad[] = {
		{ "", "empty version" },
		{ "5.x", "expected up to four numbers" },
		{ "65536", "larger than 65535" },
		{ "1.2.3.4.5", "more than four parts" },
		{ "1..2", "expected up to four numbers" },
		{ "1.2.", "expected up to four numbers" },
		{ "-1", "expected up to four numbers" },
		{ " 1", "expected up to four numbers" },
		{ "1,2", "unexpected ','" },
		{ "99999999999999999999", "larger than 65535" },
		{ NULL, NULL },
	};
	(void)state;
	for (int i = 0; bad[i].s; i++) {
		struct manifest_version v = { { 9, 9, 9, 9 }, 4 };
		struct err e;

		assert_int_equal(manifest_version_parse(bad[i].s, &v, &e), -1);
		assert_int_equal(e.cls, ERR_CLASS_INPUT);
		if (!strstr(e.msg, bad[i].msg))
			fail_msg("'%s': got '%s', want '%s'", bad[i].s, e.msg, bad[i].msg);
		assert_int_equal(v.part[0], 9);   /* untouched on failure */
	}
}

static void test_compare(void **state)
{
	static const struct { const char *a, *b; int want; } cmp[] = {
		{ "5.5.2448.0", "5.5.2448.1", -1 },
		{ "5.5", "5.5.0.0", 0 },
		{ "5.10", "5.9", 1 },
		{ "6", "5.65535.65535.65535", 1 },
		{ "1.0.0.1", "1", 1 },
		{ NULL, NULL, 0 },
	};
	(void)state;
	for (int i = 0; cmp[i].a; i++) {
		struct manifest_version a, b;
		struct err e;

		assert_int_equal(manifest_version_parse(cmp[i].a, &a, &e), 0);
		assert_int_equal(manifest_version_parse(cmp[i].b, &b, &e), 0);
		int c = manifest_version_cmp(&a, &b);
		assert_int_equal(c < 0 ? -1 : c > 0, cmp[i].want);
		c = manifest_version_cmp(&b, &a);
		assert_int_equal(c < 0 ? -1 : c > 0, -cmp[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_and_print),
		cmocka_unit_test(test_bad_versions_are_errors_not_zero),
		cmocka_unit_test(test_compare),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
