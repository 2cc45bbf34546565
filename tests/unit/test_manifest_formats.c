/*
 * test_manifest_formats.c - every format loads as documented: the sample
 * product and its service packs, answer files, media manifests written and
 * read back byte for byte, format 1 still read, quoting, and allocation
 * failure at every point of loading each kind: product definition (both
 * formats), service-pack definition, answer file, media manifest.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "manifests/manifest.h"
#include "testutil.h"

static struct manifest *load_example(const char *name, enum manifest_kind kind)
{
	char *p = tu_src_path(name);
	struct manifest *m = NULL;
	struct err e;

	if (manifest_load(p, kind, &m, &e) != 0)
		fail_msg("%s", e.msg);
	free(p);
	return m;
}

static void test_sample_product(void **state)
{
	(void)state;
	struct manifest *m = load_example("manifests/examples/mailsuite.ini", MANIFEST_PRODUCT);
	char buf[MANIFEST_VERSION_STRMAX];

	assert_int_equal(m->format, 2);
	assert_string_equal(m->product.code, "mailsuite");
	assert_string_equal(m->product.default_dir, "/opt/Mail Suite");
	assert_string_equal(manifest_version_format(&m->product.version, buf), "5.5.2448.0");
	assert_int_equal(m->ncomponents, 5);
	struct manifest_file *f = manifest_file_find(m, "inetcomm");
	assert_non_null(f);
	assert_int_equal(f->flags, MANIFEST_FILE_SELFREG | MANIFEST_FILE_SHARED);
	assert_string_equal(f->dest, "{sys}/inetcomm.so");
	f = manifest_file_find(m, "immod");
	assert_string_equal(f->dest, "{app}/IM Client/im module.so");
	char *x = manifest_dest_expand(f->dest, m->product.default_dir);
	assert_string_equal(x, "/opt/Mail Suite/IM Client/im module.so");
	mem_free(x);
	x = manifest_dest_expand("{sys}/inetcomm.so", "/ignored");
	assert_string_equal(x, "/usr/lib/inetcomm.so");
	mem_free(x);
	assert_int_equal(manifest_file_find(m, "svcctl")->mode, 0755);
	assert_int_equal(manifest_file_find(m, "readme")->mode, 0644);
	assert_int_equal(manifest_file_find(m, "readme")->version.nparts, 0);
	struct manifest_service *s = manifest_service_find(m, "chatsvc");
	assert_non_null(s);
	assert_string_equal(s->depends_on.items[0], "mailsvc");
	assert_string_equal(s->start_before.items[0], "upsmon");
	assert_true(manifest_service_find(m, "upsmon")->external);
	assert_string_equal(s->start, "exec \"$SETUPKIT_APP/bin/svcctl\" start chatsvc");
	assert_int_equal(m->nextensions, 1);
	assert_int_equal(m->extensions[0].point, MANIFEST_POINT_AFTER_FILES);
	assert_int_equal(m->nregentries, 3);
	assert_string_equal(m->regentries[0].key, "HKLM\\Software\\Example\\Mail Suite");
	assert_int_equal(m->regentries[2].type, MANIFEST_REG_DWORD);

	/* Selection: defaults, and requirements added transitively. */
	int sel[8];
	struct err e;
	assert_int_equal(manifest_select(m, NULL, sel, &e), 0);
	assert_int_equal(sel[0] + sel[1] + sel[2] + sel[3] + sel[4], 5);
	char *one[] = { "im" };
	struct manifest_list l = { one, 1 };
	assert_int_equal(manifest_select(m, &l, sel, &e), 0);
	assert_true(sel[0]);  /* core, required by im */
	assert_false(sel[1]);
	assert_true(sel[4]);
	char *bad[] = { "nosuch" };
	struct manifest_list lb = { bad, 1 };
	assert_int_equal(manifest_select(m, &lb, sel, &e), -1);
	assert_non_null(strstr(e.msg, "unknown component 'nosuch'; this product has: core, imail"));
	manifest_free(m);
}

static void test_sample_service_packs(void **state)
{
	(void)state;
	const char *names[] = { "sp1", "sp2", "sp3", "sp4" };
	for (int i = 0; i < 4; i++) {
		char path[64];
		snprintf(path, sizeof(path), "manifests/examples/%s.ini", names[i]);
		struct manifest *m = load_example(path, MANIFEST_SP);
		assert_int_equal(m->sp.level, i + 1);
		assert_string_equal(m->sp.product, "mailsuite");
		assert_int_equal(m->sp.supersedes.n, i);
		assert_int_equal(m->ncomponents, 1);
		assert_string_equal(m->components[0].payload, names[i]);
		char lo[MANIFEST_VERSION_STRMAX], nv[MANIFEST_VERSION_STRMAX];
		assert_string_equal(manifest_version_format(&m->sp.min_version, lo), "5.5.2448.0");
		snprintf(path, sizeof(path), "5.5.2448.%d", i + 1);
		assert_string_equal(manifest_version_format(&m->sp.new_version, nv), path);
		manifest_free(m);
	}
}

static void test_sample_answers(void **state)
{
	(void)state;
	struct manifest *m = load_example("manifests/examples/answers.ini", MANIFEST_ANSWERS);
	assert_string_equal(m->answers.product, "mailsuite");
	assert_string_equal(m->answers.install_dir, "/opt/Mail Suite");
	assert_int_equal(m->answers.components.n, 5);
	assert_true(m->answers.accept_license);
	assert_true(m->answers.components_set);
	manifest_free(m);
}

static const char media_text[] =
	"[setupkit]\nformat = 2\nkind = media\n"
	"[product]\ncode = p\nname = \" Spaced Name \"\nversion = 1.0\ndefault_dir = /opt/A B\n"
	"[media]\nlevel = 2\n"
	"[payload core]\narchive = core.tar.zst\nsize = 10\n"
	"sha256 = 0000000000000000000000000000000000000000000000000000000000000000\n"
	"entries = 1\nunpacked = 3\n"
	"[component core]\npayload = core\ndescription = semi ; colon\n"
	"[file a]\ncomponent = core\ndest = {app}/x y/a b.txt\nentry = a\nsize = 3\n"
	"sha256 = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n"
	"flags = shared, selfreg\nversion = 1.2.3.4\nmode = 0755\n"
	"[registry r]\ncomponent = core\nkey = HKCR\\CLSID\\{1}\nvalue = \"v;1\"\ndata = \"quote \\\" and ; semicolon\"\n";

static char *write_to_string(const struct manifest *m)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	struct err e;

	assert_non_null(f);
	if (manifest_write(m, f, &e) != 0)
		fail_msg("%s", e.msg);
	fclose(f);
	return buf;
}

static void test_media_round_trip(void **state)
{
	(void)state;
	struct manifest *m = NULL, *m2 = NULL;
	struct err e;

	if (manifest_load_buffer("media.ini", media_text, strlen(media_text), MANIFEST_MEDIA, &m, &e))
		fail_msg("%s", e.msg);
	assert_int_equal(m->level, 2);
	assert_string_equal(m->product.name, " Spaced Name ");
	/* unquoted: " ;" starts a comment */
	assert_string_equal(m->components[0].description, "semi");
	assert_string_equal(m->regentries[0].value, "v;1");
	assert_string_equal(m->regentries[0].data, "quote \" and ; semicolon");
	assert_int_equal(m->files[0].size, 3);
	assert_int_equal(m->payloads[0].unpacked, 3);

	char *out1 = write_to_string(m);
	if (manifest_load_buffer("out1.ini", out1, strlen(out1), MANIFEST_MEDIA, &m2, &e))
		fail_msg("%s\n%s", e.msg, out1);
	assert_string_equal(m2->product.name, " Spaced Name ");
	assert_string_equal(m2->regentries[0].data, "quote \" and ; semicolon");
	assert_string_equal(m2->files[0].dest, "{app}/x y/a b.txt");
	assert_int_equal(m2->files[0].flags, MANIFEST_FILE_SHARED | MANIFEST_FILE_SELFREG);
	char *out2 = write_to_string(m2);
	assert_string_equal(out1, out2);   /* deterministic, and a fixed point */
	free(out1);
	free(out2);
	manifest_free(m);
	manifest_free(m2);
}

static void test_answers_written_read_back(void **state)
{
	(void)state;
	struct manifest *m = load_example("manifests/examples/answers.ini", MANIFEST_ANSWERS), *m2 = NULL;
	struct err e;
	char *out = write_to_string(m);
	if (manifest_load_buffer("a.ini", out, strlen(out), MANIFEST_ANSWERS, &m2, &e))
		fail_msg("%s", e.msg);
	assert_string_equal(m2->answers.install_dir, "/opt/Mail Suite");
	assert_int_equal(m2->answers.components.n, 5);
	free(out);
	manifest_free(m);
	manifest_free(m2);
}

static void test_format1_still_read(void **state)
{
	(void)state;
	static const char v1[] =
		"\xef\xbb\xbf[setupkit]\r\nformat = 1\r\nkind = product\r\n"
		"[product]\r\ncode = old\r\nname = Old\r\nversion = 2.0\r\ndirectory = /opt/Old App\r\n"
		"[component c]\r\npayload = c\r\n"
		"[file f]\r\ncomponent = c\r\nsource = f.so\r\ndest = {app}/f.so\r\nselfreg = yes\r\nshared = no\r\n";
	struct manifest *m = NULL;
	struct err e;

	if (manifest_load_buffer("v1.ini", v1, sizeof(v1) - 1, MANIFEST_PRODUCT, &m, &e))
		fail_msg("%s", e.msg);
	assert_int_equal(m->format, 1);
	assert_string_equal(m->product.default_dir, "/opt/Old App");
	assert_int_equal(m->files[0].flags, MANIFEST_FILE_SELFREG);
	manifest_free(m);
}

static void test_keys_case_and_spelling(void **state)
{
	(void)state;
	static const char t[] =
		"[setupkit]\nformat = 2\nkind = product\n"
		"[Product]\nCode = p\nName = P\nVersion = 1\nDefaultDir = /opt/p\n"
		"[component c]\npayload = c\n"
		"[service a]\ncomponent = c\nstart = s\nstop = s\nstatus = s\nDependsOn = b\nStartBefore = ext\n"
		"[service b]\ncomponent = c\nstart = s\nstop = s\nstatus = s\n"
		"[service ext]\nexternal = yes\n";
	struct manifest *m = NULL;
	struct err e;

	if (manifest_load_buffer("k.ini", t, sizeof(t) - 1, MANIFEST_PRODUCT, &m, &e))
		fail_msg("%s", e.msg);
	assert_string_equal(m->services[0].depends_on.items[0], "b");
	assert_string_equal(m->services[0].start_before.items[0], "ext");
	manifest_free(m);
}

/* A long acyclic chain must not exhaust the stack (the cycle check is
 * iterative), and a long cycle is reported whole. */
static void test_long_requirement_chain(void **state)
{
	(void)state;
	size_t cap = 64 * 20000, n = 0;
	char *t = malloc(cap);
	struct manifest *m = NULL;
	struct err e;

	assert_non_null(t);
	n += (size_t)snprintf(t + n, cap - n, "[setupkit]\nformat = 2\nkind = product\n[product]\ncode = p\nname = P\nversion = 1\n");
	for (int i = 0; i < 20000; i++)
		n += (size_t)snprintf(t + n, cap - n, "[component c%d]\npayload = c\nrequires = c%d\n", i, i + 1);
	n += (size_t)snprintf(t + n, cap - n, "[component c20000]\npayload = c\n");
	if (manifest_load_buffer("chain.ini", t, n, MANIFEST_PRODUCT, &m, &e))
		fail_msg("%s", e.msg);
	manifest_free(m);
	/* Close the chain into a cycle of 20001 components. */
	n += (size_t)snprintf(t + n, cap - n, "requires = c0\n");
	assert_int_equal(manifest_load_buffer("chain.ini", t, n, MANIFEST_PRODUCT, &m, &e), -1);
	assert_non_null(strstr(e.msg, "component requirements form a cycle: c0 -> c1 -> c2"));
	free(t);
}

/* Fail the k-th allocation of one load, for k = 1, 2, ... until the load
 * runs to its end without reaching k: every failure must be a clean
 * out-of-memory error (class nomem, a message, no manifest); leaks are
 * LeakSanitizer's (make asan) and valgrind's (make valgrind) to find.
 * text NULL: load the file name; else the buffer, named name. Returns the
 * number of allocations of a whole load. */
static unsigned long sweep_load(const char *name, const char *text, enum manifest_kind kind)
{
	unsigned long n;

	for (n = 1; n < 1000000; n++) {
		struct manifest *m = NULL;
		struct err e;
		unsigned long used;
		int rc;

		err_clear(&e);
		mem_fail_at(n, 0);
		rc = text ? manifest_load_buffer(name, text, strlen(text), kind, &m, &e)
			  : manifest_load(name, kind, &m, &e);
		used = mem_count();
		mem_fail_at(0, 0);
		if (rc == 0) {
			manifest_free(m);
			if (used >= n)
				fail_msg("%s: allocation %lu of %lu failed, yet the load succeeded", name, n, used);
			return n - 1;   /* the failure point was past the end */
		}
		assert_null(m);
		if (e.cls != ERR_CLASS_NOMEM || !e.msg[0])
			fail_msg("%s: allocation %lu: expected an out-of-memory error, got: %s", name, n, e.msg);
	}
	fail_msg("%s: the load did not end", name);
	return 0;
}

static unsigned long sweep_example(const char *rel, enum manifest_kind kind)
{
	char *p = tu_src_path(rel);
	unsigned long n = sweep_load(p, NULL, kind);

	free(p);
	print_message("%s: %lu allocations, each failed once, cleanly\n", rel, n);
	return n;
}

static void test_allocation_failure_everywhere(void **state)
{
	(void)state;
	/* The sample product definition, its format 1 spelling, a service
	 * pack definition, the answer file. */
	assert_true(sweep_example("manifests/examples/mailsuite.ini", MANIFEST_PRODUCT) > 50);
	assert_true(sweep_example("manifests/examples/mailsuite-format1.ini", MANIFEST_PRODUCT) > 50);
	assert_true(sweep_example("manifests/examples/sp2.ini", MANIFEST_SP) > 10);
	assert_true(sweep_example("manifests/examples/answers.ini", MANIFEST_ANSWERS) > 5);
}

/* A media manifest, as read by setup: the one above, and the same written
 * back by manifest_write (every key a media manifest has, in the current
 * format's spelling). */
static void test_allocation_failure_media_manifest(void **state)
{
	(void)state;
	struct manifest *m = NULL;
	struct err e;
	unsigned long n;
	char *out;

	n = sweep_load("media.ini", media_text, MANIFEST_MEDIA);
	print_message("media manifest: %lu allocations, each failed once, cleanly\n", n);
	assert_true(n > 20);
	if (manifest_load_buffer("media.ini", media_text, strlen(media_text), MANIFEST_MEDIA, &m, &e))
		fail_msg("%s", e.msg);
	out = write_to_string(m);
	manifest_free(m);
	n = sweep_load("written.ini", out, MANIFEST_MEDIA);
	print_message("media manifest as written: %lu allocations, each failed once, cleanly\n", n);
	assert_true(n > 20);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sample_product),
		cmocka_unit_test(test_sample_service_packs),
		cmocka_unit_test(test_sample_answers),
		cmocka_unit_test(test_media_round_trip),
		cmocka_unit_test(test_answers_written_read_back),
		cmocka_unit_test(test_format1_still_read),
		cmocka_unit_test(test_keys_case_and_spelling),
		cmocka_unit_test(test_long_requirement_chain),
		cmocka_unit_test(test_allocation_failure_everywhere),
		cmocka_unit_test(test_allocation_failure_media_manifest),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
