/*
 * payload_media.c - a media directory: the manifest (SK_MEDIA_MANIFEST or
 * SK_SP_MANIFEST), its signature, and the payload archives beside them.
 * Only reads and stats: media on a read-only mount works. Trap: names
 * taken from a manifest are joined only when they are clean relative paths.
 */
#include "payload.h"
#include "payload_private.h"

#include <errno.h>
#include <sys/stat.h>

#include "common/mem.h"
#include "common/os.h"
#include "common/names.h"
#include "common/path.h"

void payload_media_free(struct payload_media *m)
{
	if (!m)
		return;
	mem_free(m->dir);
	mem_free(m->manifest_path);
	mem_free(m->signature_path);
	mem_free(m);
}

int payload_media_open(const char *dir, struct payload_media **out, struct err *e)
{
	struct payload_media *m;
	struct stat st;

	*out = NULL;
	if (os_stat(dir, &st) != 0)
		return err_errno(e, "cannot open media directory '%s'", dir);
	if (!S_ISDIR(st.st_mode))
		return err_set(e, ERR_CLASS_INPUT, "media '%s' is not a directory", dir);
	m = mem_zalloc(sizeof(*m));
	if (!m || !(m->dir = mem_strdup(dir)))
		goto nomem;
	m->manifest_path = path_join(dir, SK_MEDIA_MANIFEST);
	if (!m->manifest_path)
		goto nomem;
	if (os_lstat(m->manifest_path, &st) != 0) {
		mem_free(m->manifest_path);
		m->manifest_path = path_join(dir, SK_SP_MANIFEST);
		if (!m->manifest_path)
			goto nomem;
		if (os_lstat(m->manifest_path, &st) != 0) {
			payload_media_free(m);
			return err_set(e, ERR_CLASS_NOTFOUND, "'%s' is not setupkit media: neither %s nor %s "
				       "is there (build media with `mkmedia build`)", dir,
				       SK_MEDIA_MANIFEST, SK_SP_MANIFEST);
		}
		m->is_sp = 1;
	}
	if (!S_ISREG(st.st_mode)) {
		err_set(e, ERR_CLASS_MEDIA, "media manifest '%s' is not a regular file", m->manifest_path);
		payload_media_free(m);
		return -1;
	}
	m->signature_path = path_join(dir, m->is_sp ? SK_SP_SIGNATURE : SK_MEDIA_SIGNATURE);
	if (!m->signature_path)
		goto nomem;
	m->has_signature = os_lstat(m->signature_path, &st) == 0;
	*out = m;
	return 0;
nomem:
	payload_media_free(m);
	return err_nomem(e, "opening media");
}

char *payload_media_path(const struct payload_media *m, const char *name, struct err *e)
{
	char *p;

	if (!path_is_clean_relative(name)) {
		err_set(e, ERR_CLASS_MEDIA, "media '%s': '%s' is not a clean relative name", m->dir,
			name ? name : "(null)");
		return NULL;
	}
	p = path_join(m->dir, name);
	if (!p)
		err_nomem(e, "naming a media file");
	return p;
}

int payload_media_verify(const struct payload_media *m, const char *pub_path,
			 const char *trusted_dir, int allow_unsigned, struct err *e)
{
	if (!m->has_signature) {
		if (allow_unsigned) {
			err_set(e, ERR_CLASS_MEDIA, "media '%s' is not signed; going on because "
				"--allow-unsigned was given", m->dir);
			err_set_status(e, ERR_WARN);
			return 0;
		}
		return err_set(e, ERR_CLASS_MEDIA, "media '%s' is not signed (no %s); pass "
			       "--allow-unsigned to install it anyway", m->dir,
			       path_basename(m->signature_path));
	}
	if (pub_path)
		return payload_verify_file(m->manifest_path, m->signature_path, pub_path, e);
	if (trusted_dir)
		return payload_verify_file_trusted(m->manifest_path, m->signature_path, trusted_dir,
						   NULL, e);
	return err_set(e, ERR_CLASS_USAGE, "no key to verify media '%s' with: pass --trusted-key FILE "
		       "or --allow-unsigned", m->dir);
}
