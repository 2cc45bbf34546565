/*
 * fuzz_answers.c - libFuzzer target: the answer file as `setup install
 * --unattended FILE` reads it (setup_answers_load: load, then check it
 * against the media: product, license, services), then what install does
 * with it: resolve the component selection and expand every destination
 * into the chosen directory.
 *
 * The media side is the sample product (manifests/examples/mailsuite.ini,
 * FUZZ_SAMPLE_PRODUCT), loaded once. The answer file is written to a file
 * in a private temporary directory, as setup reads it from a path.
 *
 * Oracles: no crash, leak or undefined behaviour; a refused answer file
 * leaves *out NULL and says why; an accepted one names the media's product,
 * accepts its license, and expands every destination to an absolute path
 * under the chosen directory.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "manifests/manifest.h"
#include "setup/setup.h"
#include "fuzz_util.h"

#ifndef FUZZ_SAMPLE_PRODUCT
#define FUZZ_SAMPLE_PRODUCT "manifests/examples/mailsuite.ini"
#endif

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct manifest *media;
static char *tmp, *answers_path;

static void cleanup(void)
{
	manifest_free(media);
	free(answers_path);
	fuzz_tmp_remove(tmp);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct err e;

	(void)argc;
	(void)argv;
	err_clear(&e);
	if (manifest_load(FUZZ_SAMPLE_PRODUCT, MANIFEST_PRODUCT, &media, &e) != 0) {
		fprintf(stderr, "fuzz_answers: cannot load the sample product: %s\n", e.msg);
		abort();
	}
	tmp = fuzz_tmp_make("answers");
	answers_path = fuzz_printf("%s/answers.ini", tmp);
	atexit(cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct setup_opts o;
	struct manifest *a = (struct manifest *)&a;
	struct err e;
	const char *dir;
	int *sel;

	if (fuzz_file_write(answers_path, data, size) != 0)
		fuzz_fail("cannot write '%s'", answers_path);
	memset(&o, 0, sizeof(o));
	o.answers = answers_path;
	o.quiet = 1;
	err_clear(&e);
	if (setup_answers_load(&o, media, &a, &e) != 0) {
		if (a)
			fuzz_fail("a refused answer file left *out set");
		if (!err_is_set(&e) || !e.msg[0])
			fuzz_fail("a refused answer file left no message");
		return 0;
	}
	if (!a || a->kind != MANIFEST_ANSWERS)
		fuzz_fail("setup_answers_load accepted something that is not an answer file");
	if (!a->answers.product || strcmp(a->answers.product, media->product.code) != 0)
		fuzz_fail("an answer file for another product was accepted");
	if (media->product.license && !a->answers.accept_license)
		fuzz_fail("an answer file that does not accept the license was accepted");

	/* What install does next: the selection, then the plan's paths. */
	sel = calloc((size_t)media->ncomponents + 1, sizeof(int));
	if (!sel)
		fuzz_fail("out of memory");
	err_clear(&e);
	if (manifest_select(media, a->answers.components_set ? &a->answers.components : NULL, sel, &e) != 0 &&
	    (!err_is_set(&e) || !e.msg[0]))
		fuzz_fail("manifest_select failed without a message");
	dir = a->answers.install_dir ? a->answers.install_dir : media->product.default_dir;
	for (int i = 0; i < media->nfiles; i++) {
		char *p = manifest_dest_expand(media->files[i].dest, dir);

		if (!p || p[0] != '/')
			fuzz_fail("'%s' in '%s' expands to '%s'", media->files[i].dest, dir, p ? p : "(null)");
		if (strncmp(media->files[i].dest, "{app}/", 6) == 0 &&
		    (strncmp(p, dir, strlen(dir)) != 0 || strstr(p, "/../") || strstr(p, "//")))
			fuzz_fail("'%s' in '%s' expands to '%s', outside the chosen directory",
				  media->files[i].dest, dir, p);
		free(p);
	}
	free(sel);
	manifest_free(a);
	return 0;
}
