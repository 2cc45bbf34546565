/* test_reg_store.c - the registry store: paths, keys, typed values, enumeration,
 * subtree deletion, backup/restore, concurrent connections, allocation failures. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>

#include "common/err.h"
#include "common/mem.h"
#include "register/reg.h"
#include <setupkit/reg.h>
#include "testutil.h"

struct fx {
	char *dir;
	struct reg_store *s;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct err e;
	f->dir = tu_tmpdir();
	assert_int_equal(reg_store_open(&f->s, f->dir, 0, &e), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	reg_store_close(f->s);
	tu_tmpdir_remove(f->dir);
	free(f);
	return 0;
}

static void check_norm(const char *in, const char *want)
{
	struct err e;
	char *p = reg_path_normalize(in, &e);
	if (!want) {
		assert_null(p);
		assert_int_equal(e.cls, ERR_CLASS_INPUT);
		return;
	}
	assert_non_null(p);
	assert_string_equal(p, want);
	mem_free(p);
}

static void test_normalize(void **state)
{
	(void)state;
	check_norm("HKLM\\Software", "HKEY_LOCAL_MACHINE\\Software");
	check_norm("hkcr\\CLSID\\", "HKEY_LOCAL_MACHINE\\Software\\Classes\\CLSID");
	check_norm("HKEY_CURRENT_USER\\\\a\\\\b", "HKEY_CURRENT_USER\\a\\b");
	check_norm("HKU", "HKEY_USERS");
	check_norm("HKEY_CLASSES_ROOT", "HKEY_LOCAL_MACHINE\\Software\\Classes");
	check_norm("HKXX\\a", NULL);
	check_norm("HKLMX\\a", NULL);
	check_norm("HKLM\\a\nb", NULL);
	check_norm("", NULL);
}

static void test_keys_case_insensitive_preserving(void **state)
{
	struct fx *f = *state;
	struct err e;
	int created;
	char *d;
	assert_int_equal(reg_key_create(f->s, "HKLM\\Software\\Mail Suite", &created, &e), 0);
	assert_int_equal(created, 1);
	assert_int_equal(reg_key_create(f->s, "hklm\\SOFTWARE\\mail suite\\Sub", &created, &e), 0);
	assert_int_equal(created, 1);
	assert_int_equal(reg_key_create(f->s, "HKLM\\software\\MAIL SUITE", &created, &e), 0);
	assert_int_equal(created, 0);
	d = reg_key_display(f->s, "HKEY_LOCAL_MACHINE\\SOFTWARE\\MAIL SUITE\\SUB", &e);
	assert_string_equal(d, "HKEY_LOCAL_MACHINE\\Software\\Mail Suite\\Sub");
	mem_free(d);
	assert_int_equal(reg_key_exists(f->s, "HKCU\\Software", &e), 0);
	assert_int_equal(reg_key_exists(f->s, "HKCU", &e), 1);
	/* HKCR is a view of HKLM\Software\Classes. */
	assert_int_equal(reg_key_create(f->s, "HKCR\\.txt", NULL, &e), 0);
	assert_int_equal(reg_key_exists(f->s, "HKLM\\Software\\Classes\\.TXT", &e), 1);
}

static void test_typed_values_and_default(void **state)
{
	struct fx *f = *state;
	struct err e;
	struct reg_value v;
	uint32_t d = 0xdeadbeef;
	uint64_t q = 0x0102030405060708ull;
	assert_int_equal(reg_key_create(f->s, "HKLM\\K", NULL, &e), 0);
	assert_int_equal(reg_value_set(f->s, "HKLM\\K", "", SK_REG_SZ, "def", 4, &e), 0);
	assert_int_equal(reg_value_set(f->s, "HKLM\\K", "Dw", SK_REG_DWORD, &d, 4, &e), 0);
	assert_int_equal(reg_value_set(f->s, "HKLM\\K", "Qw", SK_REG_QWORD, &q, 8, &e), 0);
	assert_int_equal(reg_value_set(f->s, "HKLM\\K", "Multi", SK_REG_MULTI_SZ, "a\0b\0", 5, &e), 0);
	assert_int_equal(reg_value_set(f->s, "HKLM\\K", "None", SK_REG_NONE, NULL, 0, &e), 0);
	assert_int_equal(reg_value_get(f->s, "hklm\\k", NULL, &v, &e), 1);
	assert_int_equal(v.type, SK_REG_SZ);
	assert_string_equal((char *)v.data, "def");
	reg_value_destroy(&v);
	assert_int_equal(reg_value_get(f->s, "HKLM\\K", "DW", &v, &e), 1);
	assert_string_equal(v.name, "Dw");
	assert_int_equal(v.len, 4);
	assert_memory_equal(v.data, &d, 4);
	reg_value_destroy(&v);
	assert_int_equal(reg_value_get(f->s, "HKLM\\K", "None", &v, &e), 1);
	assert_int_equal(v.len, 0);
	assert_int_equal(v.type, SK_REG_NONE);
	reg_value_destroy(&v);
	/* Overwrite keeps one value, with the new type. */
	assert_int_equal(reg_value_set(f->s, "HKLM\\K", "dw", SK_REG_SZ, "x", 2, &e), 0);
	assert_int_equal(reg_value_get(f->s, "HKLM\\K", "Dw", &v, &e), 1);
	assert_int_equal(v.type, SK_REG_SZ);
	assert_string_equal(v.name, "Dw");
	reg_value_destroy(&v);
	/* Enumeration is by folded name: "" (default), dw, multi, none, qw. */
	const char *want[] = { "", "Dw", "Multi", "None", "Qw" };
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(reg_key_value_at(f->s, "HKLM\\K", i, &v, &e), 1);
		assert_string_equal(v.name, want[i]);
		reg_value_destroy(&v);
	}
	assert_int_equal(reg_key_value_at(f->s, "HKLM\\K", 5, &v, &e), 0);
	assert_int_equal(reg_value_delete(f->s, "HKLM\\K", "multi", &e), 1);
	assert_int_equal(reg_value_delete(f->s, "HKLM\\K", "multi", &e), 0);
	/* Values need an existing key; roots hold no values. */
	assert_int_equal(reg_value_set(f->s, "HKLM\\Nope", "a", SK_REG_SZ, "x", 2, &e), -1);
	assert_int_equal(e.cls, ERR_CLASS_NOTFOUND);
	assert_non_null(strstr(e.msg, "HKEY_LOCAL_MACHINE\\Nope"));
	assert_int_equal(reg_value_set(f->s, "HKLM", "a", SK_REG_SZ, "x", 2, &e), -1);
}

static void test_delete_tree_spares_prefix_siblings(void **state)
{
	struct fx *f = *state;
	struct err e;
	char *name;
	assert_int_equal(reg_key_create(f->s, "HKLM\\A\\Foo\\x\\y", NULL, &e), 0);
	assert_int_equal(reg_key_create(f->s, "HKLM\\A\\FooBar", NULL, &e), 0);
	assert_int_equal(reg_key_create(f->s, "HKLM\\A\\Foo]", NULL, &e), 0);
	assert_int_equal(reg_value_set(f->s, "HKLM\\A\\Foo\\x", "v", SK_REG_SZ, "1", 2, &e), 0);
	assert_int_equal(reg_value_set(f->s, "HKLM\\A\\FooBar", "v", SK_REG_SZ, "1", 2, &e), 0);
	assert_int_equal(reg_key_delete(f->s, "HKLM\\A\\Foo", &e), -1);
	assert_int_equal(reg_key_delete_tree(f->s, "HKLM\\a\\foo", &e), 0);
	assert_int_equal(reg_key_exists(f->s, "HKLM\\A\\Foo", &e), 0);
	assert_int_equal(reg_key_exists(f->s, "HKLM\\A\\Foo\\x\\y", &e), 0);
	assert_int_equal(reg_key_exists(f->s, "HKLM\\A\\FooBar", &e), 1);
	assert_int_equal(reg_key_exists(f->s, "HKLM\\A\\Foo]", &e), 1);
	struct reg_value v;
	assert_int_equal(reg_value_get(f->s, "HKLM\\A\\FooBar", "v", &v, &e), 1);
	reg_value_destroy(&v);
	assert_int_equal(reg_key_subkey_at(f->s, "HKLM\\A", 0, &name, &e), 1);
	assert_string_equal(name, "Foo]");
	mem_free(name);
	assert_int_equal(reg_key_subkey_at(f->s, "HKLM\\A", 1, &name, &e), 1);
	assert_string_equal(name, "FooBar");
	mem_free(name);
	assert_int_equal(reg_key_subkey_at(f->s, "HKLM\\A", 2, &name, &e), 0);
	assert_int_equal(reg_key_delete_tree(f->s, "HKLM", &e), -1);
}

static void test_backup_restore_and_second_connection(void **state)
{
	struct fx *f = *state;
	struct err e;
	struct reg_store *s2;
	char *bk = tu_build_path("unused");
	mem_free(bk);
	char path[4096];
	snprintf(path, sizeof(path), "%s/backup with space.db", f->dir);
	assert_int_equal(reg_key_create(f->s, "HKLM\\B", NULL, &e), 0);
	assert_int_equal(reg_value_set(f->s, "HKLM\\B", "v", SK_REG_SZ, "1", 2, &e), 0);
	assert_int_equal(reg_store_backup(f->s, path, &e), 0);
	assert_int_equal(reg_key_delete_tree(f->s, "HKLM\\B", &e), 0);
	/* Another connection (another process in real life) sees committed data. */
	assert_int_equal(reg_store_open(&s2, f->dir, 0, &e), 0);
	assert_int_equal(reg_key_exists(s2, "HKLM\\B", &e), 0);
	assert_int_equal(reg_store_restore(s2, path, &e), 0);
	assert_int_equal(reg_key_exists(f->s, "HKLM\\B", &e), 1);
	assert_int_equal(reg_store_check(s2, &e), 0);
	/* A transaction is invisible to the other connection until commit. */
	assert_int_equal(reg_store_begin(f->s, &e), 0);
	assert_int_equal(reg_key_create(f->s, "HKLM\\InTxn", NULL, &e), 0);
	assert_int_equal(reg_key_exists(s2, "HKLM\\InTxn", &e), 0);
	assert_int_equal(reg_store_rollback(f->s, &e), 0);
	assert_int_equal(reg_key_exists(f->s, "HKLM\\InTxn", &e), 0);
	reg_store_close(s2);
	/* Restoring garbage fails and changes nothing. */
	tu_write(f->dir, "junk.db", "not a database");
	snprintf(path, sizeof(path), "%s/junk.db", f->dir);
	assert_int_equal(reg_store_restore(f->s, path, &e), -1);
	assert_int_equal(reg_key_exists(f->s, "HKLM\\B", &e), 1);
}

static void test_snapshot_reads_store_and_writes_nothing_back(void **state)
{
	struct fx *f = *state;
	struct err e;
	struct reg_store *snap;
	struct reg_value v;
	assert_int_equal(reg_key_create(f->s, "HKLM\\Snap\\Sub", NULL, &e), 0);
	assert_int_equal(reg_value_set(f->s, "HKLM\\Snap", "v", SK_REG_SZ, "1", 2, &e), 0);
	/* Open transaction on the file store: the snapshot sees committed data. */
	assert_int_equal(reg_store_begin(f->s, &e), 0);
	assert_int_equal(reg_value_set(f->s, "HKLM\\Snap", "uncommitted", SK_REG_SZ, "1", 2, &e), 0);
	assert_int_equal(reg_store_open(&snap, f->dir, REG_STORE_SNAPSHOT, &e), 0);
	assert_int_equal(reg_store_rollback(f->s, &e), 0);
	assert_int_equal(reg_value_get(snap, "HKLM\\Snap", "v", &v, &e), 1);
	reg_value_destroy(&v);
	assert_int_equal(reg_value_get(snap, "HKLM\\Snap", "uncommitted", &v, &e), 0);
	assert_int_equal(reg_key_exists(snap, "HKLM\\Snap\\Sub", &e), 1);
	assert_int_equal(reg_key_delete_tree(snap, "HKLM\\Snap", &e), 0);
	assert_int_equal(reg_key_create(snap, "HKLM\\Other", NULL, &e), 0);
	reg_store_close(snap);
	assert_int_equal(reg_key_exists(f->s, "HKLM\\Snap\\Sub", &e), 1);
	assert_int_equal(reg_key_exists(f->s, "HKLM\\Other", &e), 0);
}

static void test_allocation_failures(void **state)
{
	struct fx *f = *state;
	struct err e;
	/* Fail each allocation in turn: always a clean error, never a crash. */
	for (unsigned long n = 1; n < 40; n++) {
		int rc;
		mem_fail_at(n, 0);
		rc = reg_key_create(f->s, "HKLM\\Fault\\A\\B", NULL, &e);
		if (rc == 0)
			rc = reg_value_set(f->s, "HKLM\\Fault\\A\\B", "v", SK_REG_SZ, "1", 2, &e);
		mem_fail_at(0, 0);
		if (rc < 0)
			assert_true(err_is_set(&e));
	}
	assert_int_equal(reg_key_create(f->s, "HKLM\\Fault\\A\\B", NULL, &e), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalize),
		cmocka_unit_test_setup_teardown(test_keys_case_insensitive_preserving, setup, teardown),
		cmocka_unit_test_setup_teardown(test_typed_values_and_default, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_tree_spares_prefix_siblings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backup_restore_and_second_connection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_reads_store_and_writes_nothing_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_allocation_failures, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
