/*
 * fuzz_manifest.c - libFuzzer target: the manifest parser (every kind:
 * product definition, media manifest, service pack and its manifest,
 * answer file) on arbitrary bytes, then what the engine does with a loaded
 * manifest: lookups, component selection, destination expansion, versions.
 *
 * Oracles besides "no crash, no leak, no undefined behaviour":
 *  - a failed load leaves *out NULL and an error message set;
 *  - what setup turns into paths stays a path the journal accepts: the
 *    product code is a plain directory name (not '.' or '..'), default_dir
 *    and the answer file's dir are clean absolute paths (POSIX, or a drive
 *    path for Windows), and where that directory is this system's kind
 *    (the planner refuses the other), every file's destination expands to
 *    a clean absolute path;
 *  - a media manifest, service-pack manifest or answer file that loads is
 *    written back (manifest_write, what mkmedia and the wizard do), and
 *    what was written loads again as the same kind and writes the same
 *    bytes: setup can always read what mkmedia and the wizard write.
 *    manifest_write may refuse (a value too long for a line), never the
 *    reader what the writer accepted.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/path.h"
#include "manifests/manifest.h"
#include "fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

/* Write m to memory; returns the allocated text, or NULL when the writer
 * refused (e set). */
static char *write_mem(const struct manifest *m, size_t *len, struct err *e)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);
	int rc;

	if (!f)
		fuzz_fail("open_memstream: out of memory");
	rc = manifest_write(m, f, e);
	fclose(f);
	if (rc != 0) {
		if (!err_is_set(e))
			fuzz_fail("manifest_write failed without an error message");
		free(text);
		return NULL;
	}
	return text;
}

static void round_trip(const struct manifest *m)
{
	struct err e;
	struct manifest *again = NULL;
	size_t len1 = 0, len2 = 0;
	char *t1, *t2;

	err_clear(&e);
	t1 = write_mem(m, &len1, &e);
	if (!t1)
		return;
	if (manifest_load_buffer("written", t1, len1, m->kind, &again, &e) != 0)
		fuzz_fail("manifest_write wrote a %s the loader refuses: %s\n--- written:\n%s",
			  manifest_kind_name(m->kind), e.msg, t1);
	t2 = write_mem(again, &len2, &e);
	if (!t2)
		fuzz_fail("writing a reloaded %s failed: %s", manifest_kind_name(m->kind), e.msg);
	if (len1 != len2 || memcmp(t1, t2, len1) != 0)
		fuzz_fail("write -> load -> write of a %s is not stable\n--- first:\n%s--- second:\n%s",
			  manifest_kind_name(m->kind), t1, t2);
	free(t1);
	free(t2);
	manifest_free(again);
}

/* A path setup builds from the manifest must stay what the journal
 * accepts (setup_state.c): '/' and a clean relative path. */
static int clean_abs(const char *p)
{
	return p && p[0] == '/' && (!p[1] || path_is_clean_relative(p + 1));
}

/* "C:\x\y" or "C:/x/y": a drive, then a clean relative path in either
 * separator. */
static int clean_drive(const char *p)
{
	if (!p || !((p[0] >= 'A' && p[0] <= 'Z') || (p[0] >= 'a' && p[0] <= 'z')) || p[1] != ':' ||
	    (p[2] != '\\' && p[2] != '/'))
		return 0;
	return !p[3] || path_is_clean_relative_win(p + 3);
}

/* What the planner and the tools do with a loaded manifest. */
static void exercise(const struct manifest *m)
{
	struct err e;
	int *sel = calloc((size_t)m->ncomponents + 1, sizeof(int));
	char vbuf[MANIFEST_VERSION_STRMAX];
	const char *dir = m->kind == MANIFEST_ANSWERS && m->answers.install_dir ? m->answers.install_dir
			: m->product.default_dir ? m->product.default_dir : "/opt/x";

	if (!sel)
		fuzz_fail("out of memory");
	/* The product code names directories (backup/<code>/, sp-backup/<code>/,
	 * the default /opt/<code>): a code like ".." would leave them. */
	if (m->product.code && (!strcmp(m->product.code, ".") || !strcmp(m->product.code, "..") ||
				!path_is_clean_relative(m->product.code)))
		fuzz_fail("product code '%s' was accepted, but it is not a usable directory name", m->product.code);
	if (m->product.default_dir && !clean_abs(m->product.default_dir) && !clean_drive(m->product.default_dir))
		fuzz_fail("default directory '%s' was accepted, but it is not a clean absolute path", m->product.default_dir);
	if (m->kind == MANIFEST_ANSWERS && m->answers.install_dir && !clean_abs(m->answers.install_dir) &&
	    !clean_drive(m->answers.install_dir))
		fuzz_fail("dir '%s' was accepted, but it is not a clean absolute path", m->answers.install_dir);
	err_clear(&e);
	if (manifest_select(m, NULL, sel, &e) != 0 && !err_is_set(&e))
		fuzz_fail("manifest_select failed without an error message");
	for (int i = 0; i < m->ncomponents; i++) {
		err_clear(&e);
		if (manifest_select(m, &m->components[i].requires, sel, &e) != 0 && !err_is_set(&e))
			fuzz_fail("manifest_select failed without an error message");
		if (manifest_component_find(m, m->components[i].name) == NULL)
			fuzz_fail("component '%s' cannot be found by name", m->components[i].name);
	}
	for (int i = 0; i < m->nfiles; i++) {
		char *p = m->files[i].dest ? manifest_dest_expand(m->files[i].dest, dir) : NULL;

		if (m->files[i].dest && !p)
			fuzz_fail("a validated destination '%s' does not expand", m->files[i].dest);
		if (p && manifest_dir_native(dir) && !clean_abs(p))
			fuzz_fail("destination '%s' expands to '%s' in '%s', which the journal would refuse",
				  m->files[i].dest, p, dir);
		free(p);
		if (m->files[i].version.nparts) {
			struct manifest_version v;

			manifest_version_format(&m->files[i].version, vbuf);
			if (manifest_version_parse(vbuf, &v, &e) != 0 || manifest_version_cmp(&v, &m->files[i].version) != 0)
				fuzz_fail("version '%s' does not read back", vbuf);
		}
		manifest_file_find(m, m->files[i].id);
	}
	for (int i = 0; i < m->nservices; i++)
		manifest_service_find(m, m->services[i].name);
	for (int i = 0; i < m->npayloads; i++)
		manifest_payload_find(m, m->payloads[i].name);
	if (m->product.version.nparts)
		manifest_version_format(&m->product.version, vbuf);
	manifest_kind_name(m->kind);
	free(sel);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct manifest *m = (struct manifest *)&m;   /* must become NULL on failure */
	struct err e;

	err_clear(&e);
	if (manifest_load_buffer("fuzz.ini", (const char *)data, size, 0, &m, &e) != 0) {
		if (m)
			fuzz_fail("a failed load left *out set");
		if (!err_is_set(&e) || !e.msg[0])
			fuzz_fail("a failed load left no error message");
		return 0;
	}
	if (!m)
		fuzz_fail("a load succeeded without a manifest");
	exercise(m);
	if (m->kind == MANIFEST_MEDIA || m->kind == MANIFEST_SP_MEDIA || m->kind == MANIFEST_ANSWERS)
		round_trip(m);
	manifest_free(m);
	return 0;
}
