/*
 * setup_media.c - opening install media the way every command needs it:
 * find the manifest, verify its signature against the trusted keys (or
 * --trusted-key), or accept it unsigned only with --allow-unsigned (logged
 * by the caller), then load and validate it. Also the answer file.
 */
#include "setup.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/mem.h"
#include "common/names.h"
#include "common/os.h"
#include "payload/payload.h"

int setup_media_load(const struct setup_opts *o, struct manifest **out, struct err *e)
{
	struct payload_media *pm = NULL;
	char *trusted = NULL;
	struct stat st;
	int rc = -1;

	*out = NULL;
	if (!o->media)
		return err_set(e, ERR_CLASS_USAGE, "no media given; pass --media DIR (the directory holding %s)", SK_MEDIA_MANIFEST);
	if (payload_media_open(o->media, &pm, e))
		return -1;
	trusted = mem_printf("%s/%s", o->root && *o->root ? o->root : "/", SK_TRUSTED_KEYS_DIR);
	if (!trusted) {
		err_nomem(e, "opening media");
		goto out;
	}
	if (!o->trusted_key && !o->allow_unsigned && pm->has_signature && os_stat(trusted, &st) != 0) {
		err_set(e, ERR_CLASS_MEDIA,
			"media '%s' is signed, but no trusted keys are installed in '%s'; install the publisher's .pub key there, "
			"pass --trusted-key FILE, or pass --allow-unsigned to skip the check", o->media, trusted);
		goto out;
	}
	if (payload_media_verify(pm, o->trusted_key, trusted, o->allow_unsigned, e))
		goto out;
	if (e->status == ERR_WARN && !o->quiet)
		fprintf(stderr, "setup: warning: %s\n", e->msg);
	err_clear(e);
	if (manifest_load(pm->manifest_path, pm->is_sp ? MANIFEST_SP_MEDIA : MANIFEST_MEDIA, out, e)) {
		if (e->cls == ERR_CLASS_INPUT)
			e->cls = ERR_CLASS_MEDIA;   /* a bad manifest on signed media is bad media */
		goto out;
	}
	rc = 0;
out:
	mem_free(trusted);
	payload_media_free(pm);
	return rc;
}

int setup_answers_load(const struct setup_opts *o, const struct manifest *media,
		       struct manifest **out, struct err *e)
{
	*out = NULL;
	if (!o->answers)
		return err_set(e, ERR_CLASS_USAGE, "no answer file; pass --unattended FILE (see manifests/examples/answers.ini)");
	if (manifest_load(o->answers, MANIFEST_ANSWERS, out, e))
		return -1;
	if (strcmp((*out)->answers.product, media->product.code) != 0) {
		err_at(e, o->answers, (*out)->answers.line, "the answer file is for product '%s', but the media holds '%s' (%s)",
		       (*out)->answers.product, media->product.code, media->product.name);
		manifest_free(*out);
		*out = NULL;
		return -1;
	}
	if (media->product.license && !(*out)->answers.accept_license) {
		err_at(e, o->answers, (*out)->answers.line,
		       "the license of %s must be accepted for an unattended install; read %s on the media and set accept_license = yes",
		       media->product.name, media->product.license);
		manifest_free(*out);
		*out = NULL;
		return -1;
	}
	for (int i = 0; i < (*out)->nservice_answers; i++) {
		if (!manifest_service_find(media, (*out)->service_answers[i].name)) {
			err_at(e, o->answers, (*out)->service_answers[i].line, "unknown service '%s'; the product declares no such service",
			       (*out)->service_answers[i].name);
			manifest_free(*out);
			*out = NULL;
			return -1;
		}
	}
	return 0;
}
