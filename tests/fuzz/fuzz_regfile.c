/*
 * fuzz_regfile.c - libFuzzer target: `register import FILE` on arbitrary
 * bytes (reg_regfile_import: UTF-16 or UTF-8, continuation lines, [-KEY]
 * and "v"=- deletions, hex(N) data) into a registry store on disk, in a
 * state directory under a private temporary root made once.
 *
 * Oracles besides "no crash, no leak, no undefined behaviour":
 *  (1) a refused file changes nothing: the import is one transaction, so
 *      the store is still empty afterwards;
 *  (2) an accepted file leaves a store that passes PRAGMA integrity_check;
 *  (3) the documented round trip: export each root, import that into an
 *      empty store, export again: the two exports are identical. Export
 *      may refuse a value it cannot write (a control character in a name),
 *      never import refuse what export wrote.
 * The store is emptied after every input, so each input runs alone.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "common/err.h"
#include "register/reg.h"
#include "fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const roots[] = { "HKEY_LOCAL_MACHINE", "HKEY_CURRENT_USER", "HKEY_USERS" };

static char *tmp, *input, *export1, *export2;
static struct reg_store *store;

static void cleanup(void)
{
	reg_store_close(store);
	free(input);
	free(export1);
	free(export2);
	fuzz_tmp_remove(tmp);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct err e;

	(void)argc;
	(void)argv;
	tmp = fuzz_tmp_make("regfile");
	input = fuzz_printf("%s/input.reg", tmp);
	export1 = fuzz_printf("%s/export1.reg", tmp);
	export2 = fuzz_printf("%s/export2.reg", tmp);
	err_clear(&e);
	if (reg_store_open(&store, tmp, 0, &e) != 0) {
		fprintf(stderr, "fuzz_regfile: cannot open a store in '%s': %s\n", tmp, e.msg);
		abort();
	}
	/* Speed: this store is thrown away; durability is not under test. */
	sqlite3_exec(reg_store_db(store), "PRAGMA synchronous=OFF", NULL, NULL, NULL);
	atexit(cleanup);
	return 0;
}

static long count_rows(struct reg_store *s)
{
	sqlite3_stmt *st;
	long n = -1;

	if (sqlite3_prepare_v2(reg_store_db(s), "SELECT (SELECT count(*) FROM reg_key) + (SELECT count(*) FROM reg_value)",
			       -1, &st, NULL) != SQLITE_OK)
		fuzz_fail("cannot count rows: %s", sqlite3_errmsg(reg_store_db(s)));
	if (sqlite3_step(st) == SQLITE_ROW)
		n = (long)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *p = NULL;
	size_t cap = 0;

	*len = 0;
	if (!f)
		fuzz_fail("cannot read '%s'", path);
	for (;;) {
		if (*len + 4096 > cap) {
			cap = (*len + 4096) * 2;
			p = realloc(p, cap);
			if (!p)
				fuzz_fail("out of memory");
		}
		size_t r = fread(p + *len, 1, 4096, f);

		*len += r;
		if (r < 4096)
			break;
	}
	fclose(f);
	p[*len] = '\0';
	return p;
}

/* Export every root of s into one text (files concatenated); NULL when the
 * export refused a value (e set). */
static char *export_all(struct reg_store *s, const char *file, size_t *len, struct err *e)
{
	char *all = NULL;
	size_t n = 0;

	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
		size_t k;
		char *t;

		err_clear(e);
		if (reg_regfile_export(s, roots[i], file, e) != 0) {
			free(all);
			return NULL;
		}
		t = slurp(file, &k);
		all = realloc(all, n + k + 1);
		if (!all)
			fuzz_fail("out of memory");
		memcpy(all + n, t, k + 1);
		n += k;
		free(t);
	}
	*len = n;
	return all;
}

static void round_trip(void)
{
	struct reg_store *fresh = NULL;
	struct err e;
	size_t n1 = 0, n2 = 0;
	char *t1 = export_all(store, export1, &n1, &e), *t2;

	if (!t1) {
		if (e.cls != ERR_CLASS_INPUT)
			fuzz_fail("export failed for another reason than an unwritable value: %s", e.msg);
		return;
	}
	err_clear(&e);
	if (reg_store_open(&fresh, NULL, REG_STORE_MEMORY, &e) != 0)
		fuzz_fail("cannot open an in-memory store: %s", e.msg);
	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
		err_clear(&e);
		if (reg_regfile_export(store, roots[i], export1, &e) != 0 || reg_regfile_import(fresh, export1, &e) != 0)
			fuzz_fail("import refused what export wrote for %s: %s", roots[i], e.msg);
	}
	t2 = export_all(fresh, export2, &n2, &e);
	if (!t2)
		fuzz_fail("exporting the re-imported store failed: %s", e.msg);
	if (n1 != n2 || memcmp(t1, t2, n1) != 0)
		fuzz_fail("export -> import -> export differs\n--- first:\n%s--- second:\n%s", t1, t2);
	free(t1);
	free(t2);
	reg_store_close(fresh);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct err e;
	int rc;

	if (fuzz_file_write(input, data, size) != 0)
		fuzz_fail("cannot write '%s'", input);
	err_clear(&e);
	rc = reg_regfile_import(store, input, &e);
	if (rc != 0) {
		if (!err_is_set(&e) || !e.msg[0])
			fuzz_fail("a refused .reg file left no message");
		if (count_rows(store) != 0)
			fuzz_fail("a refused .reg file changed the store (%s)", e.msg);
	} else {
		err_clear(&e);
		if (reg_store_check(store, &e) != 0)
			fuzz_fail("integrity check after an import: %s", e.msg);
		round_trip();
	}
	if (sqlite3_exec(reg_store_db(store), "DELETE FROM reg_value; DELETE FROM reg_key; DELETE FROM reg_capture",
			 NULL, NULL, NULL) != SQLITE_OK)
		fuzz_fail("cannot empty the store: %s", sqlite3_errmsg(reg_store_db(store)));
	return 0;
}
