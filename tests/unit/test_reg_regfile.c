/* test_reg_regfile.c - .reg export/import: round trip, regedit syntax
 * (continuations, deletions, UTF-16 hex(2)/hex(7)), errors with file:line. */
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
#include <setupkit/reg.h>
#include "testutil.h"

static char *in(const char *dir, const char *name)
{
	char *p;
	assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
	return p;
}

static const char sample[] =
	"Windows Registry Editor Version 5.00\r\n"
	"\r\n"
	"; a comment\r\n"
	"[HKEY_CLASSES_ROOT\\CLSID\\{X}]\r\n"
	"@=\"Class \\\"X\\\" C:\\\\dir\"\r\n"
	"\"Count\"=dword:0000002a\r\n"
	"\"Path\"=hex(2):25,00,41,00,25,00,5c,00,e9,00,00,00\r\n"
	"\"List\"=hex(7):61,00,00,00,62,00,00,00,\\\r\n"
	"  00,00\r\n"
	"\"Q\"=hex(b):08,07,06,05,04,03,02,01\r\n"
	"\"N\"=hex(0):\r\n"
	"\"Bin\"=hex:01,02,03\r\n"
	"\r\n"
	"[HKEY_LOCAL_MACHINE\\Software\\Gone]\r\n"
	"\"x\"=\"1\"\r\n"
	"[-HKEY_LOCAL_MACHINE\\Software\\Gone]\r\n";

static void test_import_regedit_syntax(void **state)
{
	char *dir = tu_tmpdir(), *f = in(dir, "in put.reg");
	struct reg_store *s;
	struct err e;
	struct reg_value v;
	(void)state;
	tu_write(dir, "in put.reg", sample);
	assert_int_equal(reg_store_open(&s, dir, 0, &e), 0);
	assert_int_equal(reg_regfile_import(s, f, &e), 0);
	assert_int_equal(reg_value_get(s, "HKLM\\Software\\Classes\\CLSID\\{X}", "", &v, &e), 1);
	assert_string_equal((char *)v.data, "Class \"X\" C:\\dir");
	reg_value_destroy(&v);
	assert_int_equal(reg_value_get(s, "HKCR\\CLSID\\{X}", "Path", &v, &e), 1);
	assert_int_equal(v.type, SK_REG_EXPAND_SZ);
	assert_int_equal(v.len, 7);
	assert_memory_equal(v.data, "%A%\\\xc3\xa9", 7);
	reg_value_destroy(&v);
	assert_int_equal(reg_value_get(s, "HKCR\\CLSID\\{X}", "List", &v, &e), 1);
	assert_int_equal(v.len, 5);
	assert_memory_equal(v.data, "a\0b\0", 5);
	reg_value_destroy(&v);
	assert_int_equal(reg_value_get(s, "HKCR\\CLSID\\{X}", "Count", &v, &e), 1);
	assert_int_equal(v.type, SK_REG_DWORD);
	assert_int_equal(*(uint32_t *)v.data, 42);
	reg_value_destroy(&v);
	assert_int_equal(reg_key_exists(s, "HKLM\\Software\\Gone", &e), 0);
	reg_store_close(s);
	free(f);
	tu_tmpdir_remove(dir);
}

static void test_round_trip_identical(void **state)
{
	char *dir = tu_tmpdir(), *a = in(dir, "a.reg"), *b = in(dir, "b.reg");
	char *r1 = in(dir, "r1"), *r2 = in(dir, "r2");
	struct reg_store *s, *t;
	struct err e;
	unsigned char big[300];
	(void)state;
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (unsigned char)i;
	assert_int_equal(reg_store_open(&s, r1, 0, &e), 0);
	assert_int_equal(reg_key_create(s, "HKLM\\Software\\Round Trip\\Sub Key", NULL, &e), 0);
	assert_int_equal(reg_value_set(s, "HKLM\\Software\\Round Trip", "", SK_REG_SZ, "dflt", 5, &e), 0);
	assert_int_equal(reg_value_set(s, "HKLM\\Software\\Round Trip", "Two\nLines", SK_REG_SZ, "x", 2, &e), -1 + 1);
	assert_int_equal(reg_value_set(s, "HKLM\\Software\\Round Trip", "multi line", SK_REG_SZ, "a\nb", 4, &e), 0);
	assert_int_equal(reg_value_set(s, "HKLM\\Software\\Round Trip", "no nul", SK_REG_SZ, "abc", 3, &e), 0);
	assert_int_equal(reg_value_set(s, "HKLM\\Software\\Round Trip", "big", SK_REG_BINARY, big, sizeof(big), &e), 0);
	assert_int_equal(reg_value_set(s, "HKLM\\Software\\Round Trip", "q\"uote", SK_REG_MULTI_SZ, "\xe2\x82\xac\0z\0", 6, &e), 0);
	assert_int_equal(reg_value_set(s, "HKLM\\Software\\Round Trip\\Sub Key", "d", SK_REG_DWORD, "\1\2\3\4", 4, &e), 0);
	assert_int_equal(reg_value_set(s, "HKLM\\Software\\Round Trip\\Sub Key", "odd", 0x1234, "zz", 2, &e), 0);
	/* A name with a newline cannot be exported: clear error. */
	assert_int_equal(reg_regfile_export(s, "HKLM\\Software\\Round Trip", a, &e), -1);
	assert_non_null(strstr(e.msg, "control character"));
	assert_int_equal(reg_value_delete(s, "HKLM\\Software\\Round Trip", "Two\nLines", &e), 1);
	assert_int_equal(reg_regfile_export(s, "hklm\\software\\round trip", a, &e), 0);
	reg_store_close(s);
	assert_int_equal(reg_store_open(&t, r2, 0, &e), 0);
	assert_int_equal(reg_regfile_import(t, a, &e), 0);
	assert_int_equal(reg_regfile_export(t, "HKLM\\Software\\Round Trip", b, &e), 0);
	reg_store_close(t);
	char *ta = tu_read(a, NULL), *tb = tu_read(b, NULL);
	assert_non_null(ta);
	assert_string_equal(ta, tb);
	assert_non_null(strstr(ta, "[HKEY_LOCAL_MACHINE\\Software\\Round Trip]\n@=\"dflt\"\n"));
	assert_non_null(strstr(ta, "\"odd\"=hex(1234):7a,7a\n"));
	assert_non_null(strstr(ta, "\\\n  "));    /* long hex wrapped */
	free(ta); free(tb); free(a); free(b); free(r1); free(r2);
	tu_tmpdir_remove(dir);
}

static void test_bad_files_change_nothing(void **state)
{
	static const struct { const char *text, *want; } bad[] = {
		{ "REGEDIT4\n", ":1: expected" },
		{ "Windows Registry Editor Version 5.00\n\"a\"=\"b\"\n", ":2: value outside" },
		{ "Windows Registry Editor Version 5.00\n[HKLM\\A]\n\"a\"=hex:1,zz\n", ":3: bad hex" },
		{ "Windows Registry Editor Version 5.00\n[HKLM\\A]\n\"a\"=dword:123456789\n", ":3: dword" },
		{ "Windows Registry Editor Version 5.00\n[HKLM\\A]\n\"a\"=hex(2):41\n", ":3: hex(2)" },
		{ "Windows Registry Editor Version 5.00\n[NOPE\\A]\n", ":2: key path" },
		{ "Windows Registry Editor Version 5.00\n[HKLM\\A]\n\"a=\"b\"\n", ":3:" },
		{ "", "empty" },
	};
	char *dir = tu_tmpdir(), *f = in(dir, "bad.reg");
	struct reg_store *s;
	struct err e;
	(void)state;
	assert_int_equal(reg_store_open(&s, dir, 0, &e), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		tu_write(dir, "bad.reg", bad[i].text);
		assert_int_equal(reg_regfile_import(s, f, &e), -1);
		if (!strstr(e.msg, bad[i].want))
			fail_msg("case %zu: '%s' lacks '%s'", i, e.msg, bad[i].want);
		assert_int_equal(reg_key_exists(s, "HKLM\\A", &e), 0);
	}
	reg_store_close(s);
	free(f);
	tu_tmpdir_remove(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_import_regedit_syntax),
		cmocka_unit_test(test_round_trip_identical),
		cmocka_unit_test(test_bad_files_change_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
