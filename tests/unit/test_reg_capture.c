/* test_reg_capture.c - applying captured writes inside a caller's transaction,
 * exact undo, conflicts, the child wire format. */
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

/* Text dump of the whole registry, for before/after comparisons. */
static char *dump(struct reg_store *s)
{
	struct err e;
	char *out = NULL;
	size_t n = 0;
	FILE *m = open_memstream(&out, &n);
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(reg_store_db(s), "SELECT 'K', path, '', 0, x'' FROM reg_key "
		"UNION ALL SELECT 'V', lkey, name, type, data FROM reg_value ORDER BY 1, 2, 3", -1, &st, NULL), 0);
	while (sqlite3_step(st) == SQLITE_ROW) {
		fprintf(m, "%s|%s|%s|%d|", sqlite3_column_text(st, 0), sqlite3_column_text(st, 1),
			sqlite3_column_text(st, 2), sqlite3_column_int(st, 3));
		const unsigned char *d = sqlite3_column_blob(st, 4);
		for (int i = 0; i < sqlite3_column_bytes(st, 4); i++)
			fprintf(m, "%02x", d[i]);
		fputc('\n', m);
	}
	sqlite3_finalize(st);
	fclose(m);
	(void)e;
	return out;
}

static void seed(struct reg_store *s)
{
	struct err e;
	assert_int_equal(reg_key_create(s, "HKLM\\Software\\Shared\\Kids\\Deep", NULL, &e), 0);
	assert_int_equal(reg_value_set(s, "HKLM\\Software\\Shared", "Owner", SK_REG_SZ, "orig", 5, &e), 0);
	assert_int_equal(reg_value_set(s, "HKLM\\Software\\Shared", "Old", SK_REG_DWORD, "\1\0\0\0", 4, &e), 0);
	assert_int_equal(reg_value_set(s, "HKLM\\Software\\Shared\\Kids\\Deep", "", SK_REG_SZ, "d", 2, &e), 0);
}

static void make_writes(struct reg_writes *w)
{
	struct err e;
	assert_int_equal(reg_writes_add(w, REG_W_KEY_CREATE, "HKEY_LOCAL_MACHINE\\Software\\Mod\\A", NULL, 0, NULL, 0, &e), 0);
	assert_int_equal(reg_writes_add(w, REG_W_VALUE_SET, "HKEY_LOCAL_MACHINE\\Software\\Mod\\A", "v", SK_REG_SZ, "new", 4, &e), 0);
	assert_int_equal(reg_writes_add(w, REG_W_VALUE_SET, "HKEY_LOCAL_MACHINE\\Software\\Shared", "OWNER", SK_REG_SZ, "mod", 4, &e), 0);
	assert_int_equal(reg_writes_add(w, REG_W_VALUE_DELETE, "HKEY_LOCAL_MACHINE\\Software\\Shared", "Old", 0, NULL, 0, &e), 0);
	assert_int_equal(reg_writes_add(w, REG_W_TREE_DELETE, "HKEY_LOCAL_MACHINE\\Software\\Shared\\Kids", NULL, 0, NULL, 0, &e), 0);
}

static void test_apply_then_undo_restores_exactly(void **state)
{
	struct fx *f = *state;
	struct reg_writes w;
	struct reg_undo u;
	struct err e;
	struct reg_value v;
	char *before, *after;

	seed(f->s);
	before = dump(f->s);
	reg_writes_init(&w);
	make_writes(&w);
	assert_int_equal(reg_store_begin(f->s, &e), 0);
	assert_int_equal(reg_writes_apply(f->s, "/m/mod.so", &w, &u, &e), 0);
	/* The caller's own statement joins the same transaction. */
	assert_int_equal(sqlite3_exec(reg_store_db(f->s), "CREATE TABLE IF NOT EXISTS journal(x)", 0, 0, 0), 0);
	assert_int_equal(reg_store_commit(f->s, &e), 0);
	assert_true(u.first > 0 && u.last >= u.first);
	assert_int_equal(reg_value_get(f->s, "HKLM\\Software\\Shared", "Owner", &v, &e), 1);
	assert_string_equal((char *)v.data, "mod");
	assert_string_equal(v.name, "Owner");   /* stored spelling kept */
	reg_value_destroy(&v);
	assert_int_equal(reg_key_exists(f->s, "HKLM\\Software\\Shared\\Kids", &e), 0);
	assert_true(reg_capture_count(f->s, "/m/mod.so", &e) > 0);

	assert_int_equal(reg_store_begin(f->s, &e), 0);
	unsigned conflicts = 99;
	assert_int_equal(reg_capture_undo(f->s, "/m/mod.so", 0, &conflicts, &e), 0);
	assert_int_equal(reg_store_commit(f->s, &e), 0);
	assert_int_equal(conflicts, 0);
	after = dump(f->s);
	assert_string_equal(before, after);
	assert_int_equal(reg_capture_count(f->s, "/m/mod.so", &e), 0);
	/* Idempotent. */
	assert_int_equal(reg_capture_undo(f->s, "/m/mod.so", 0, &conflicts, &e), 0);
	free(before);
	free(after);
	reg_writes_destroy(&w);
}

static void test_rollback_of_caller_txn_leaves_nothing(void **state)
{
	struct fx *f = *state;
	struct reg_writes w;
	struct err e;
	char *before, *after;

	seed(f->s);
	before = dump(f->s);
	reg_writes_init(&w);
	make_writes(&w);
	assert_int_equal(reg_store_begin(f->s, &e), 0);
	assert_int_equal(reg_writes_apply(f->s, "/m/mod.so", &w, NULL, &e), 0);
	assert_int_equal(reg_store_rollback(f->s, &e), 0);
	after = dump(f->s);
	assert_string_equal(before, after);
	assert_int_equal(reg_capture_count(f->s, "/m/mod.so", &e), 0);
	free(before);
	free(after);
	reg_writes_destroy(&w);
}

static void test_undo_leaves_later_changes_alone(void **state)
{
	struct fx *f = *state;
	struct reg_writes w;
	struct err e;
	struct reg_value v;
	unsigned conflicts = 0;

	seed(f->s);
	reg_writes_init(&w);
	make_writes(&w);
	assert_int_equal(reg_writes_apply(f->s, "/m/mod.so", &w, NULL, &e), 0);
	/* Someone else changes a value the module wrote, and adds to its key. */
	assert_int_equal(reg_value_set(f->s, "HKLM\\Software\\Shared", "Owner", SK_REG_SZ, "admin", 6, &e), 0);
	assert_int_equal(reg_value_set(f->s, "HKLM\\Software\\Mod\\A", "other", SK_REG_SZ, "x", 2, &e), 0);
	assert_int_equal(reg_capture_undo(f->s, "/m/mod.so", 0, &conflicts, &e), 0);
	assert_true(conflicts >= 2);
	assert_int_equal(reg_value_get(f->s, "HKLM\\Software\\Shared", "Owner", &v, &e), 1);
	assert_string_equal((char *)v.data, "admin");
	reg_value_destroy(&v);
	assert_int_equal(reg_value_get(f->s, "HKLM\\Software\\Mod\\A", "v", &v, &e), 0);
	assert_int_equal(reg_key_exists(f->s, "HKLM\\Software\\Mod\\A", &e), 1);
	assert_int_equal(reg_key_exists(f->s, "HKLM\\Software\\Shared\\Kids\\Deep", &e), 1);
	reg_writes_destroy(&w);
}

static void test_wire_format_round_trip_and_garbage(void **state)
{
	struct reg_writes w, back;
	struct err e;
	unsigned char *buf;
	size_t len;
	(void)state;
	reg_writes_init(&w);
	reg_writes_init(&back);
	make_writes(&w);
	assert_int_equal(reg_writes_encode(&w, &buf, &len, &e), 0);
	assert_int_equal(reg_writes_decode(&back, buf, len, &e), 0);
	assert_int_equal(back.n, w.n);
	for (size_t i = 0; i < w.n; i++) {
		assert_int_equal(back.v[i].op, w.v[i].op);
		assert_string_equal(back.v[i].key, w.v[i].key);
		assert_int_equal(back.v[i].len, w.v[i].len);
		assert_int_equal(back.v[i].name == NULL, w.v[i].name == NULL);
	}
	reg_writes_destroy(&back);
	/* Every truncation is rejected cleanly. */
	for (size_t cut = 1; cut < len; cut++) {
		struct reg_writes t;
		reg_writes_init(&t);
		(void)reg_writes_decode(&t, buf, cut, &e);
		reg_writes_destroy(&t);
	}
	assert_int_equal(reg_writes_decode(&back, buf, 7, &e), -1);
	reg_writes_destroy(&back);
	mem_free(buf);
	reg_writes_destroy(&w);
}

static void test_hresult_names(void **state)
{
	char buf[128];
	(void)state;
	assert_string_equal(reg_hresult_name(SELFREG_E_CLASS), "SELFREG_E_CLASS");
	assert_null(reg_hresult_name(0x12345));
	reg_hresult_describe(E_FAIL, buf, sizeof(buf));
	assert_string_equal(buf, "0x80004005 (E_FAIL: unspecified failure)");
	reg_hresult_describe((int32_t)0x80070002, buf, sizeof(buf));
	assert_non_null(strstr(buf, "Win32 error 2"));
}

static void test_allocation_failures_roll_back_cleanly(void **state)
{
	struct fx *f = *state;
	struct reg_writes w;
	struct err e;
	char *before;
	int failed = 0, passed = 0;

	seed(f->s);
	before = dump(f->s);
	reg_writes_init(&w);
	make_writes(&w);
	for (unsigned long n = 1; n < 400 && passed < 3; n++) {
		int rc;
		char *now;
		assert_int_equal(reg_store_begin(f->s, &e), 0);
		mem_fail_at(n, 0);
		rc = reg_writes_apply(f->s, "/m/mod.so", &w, NULL, &e);
		mem_fail_at(0, 0);
		if (rc < 0) {
			failed++;
			assert_true(err_is_set(&e));
			assert_int_equal(reg_store_rollback(f->s, &e), 0);
		} else {
			passed++;
			assert_int_equal(reg_store_commit(f->s, &e), 0);
			assert_int_equal(reg_store_begin(f->s, &e), 0);
			mem_fail_at(n, 0);
			rc = reg_capture_undo(f->s, "/m/mod.so", 0, NULL, &e);
			mem_fail_at(0, 0);
			if (rc < 0) {
				assert_int_equal(reg_store_rollback(f->s, &e), 0);
				assert_int_equal(reg_capture_undo(f->s, "/m/mod.so", 0, NULL, &e), 0);
			} else {
				assert_int_equal(reg_store_commit(f->s, &e), 0);
			}
		}
		now = dump(f->s);
		assert_string_equal(before, now);
		free(now);
	}
	assert_true(failed > 0);
	assert_true(passed > 0);
	free(before);
	reg_writes_destroy(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_apply_then_undo_restores_exactly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollback_of_caller_txn_leaves_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_undo_leaves_later_changes_alone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_allocation_failures_roll_back_cleanly, setup, teardown),
		cmocka_unit_test(test_wire_format_round_trip_and_garbage),
		cmocka_unit_test(test_hresult_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
