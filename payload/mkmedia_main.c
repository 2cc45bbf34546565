/*
 * mkmedia_main.c - the mkmedia tool: build install media (or service-pack
 * media) from a definition and a source tree, make keys, sign and verify.
 *
 *   mkmedia build DEFINITION --source DIR --out MEDIA [--format F] [--sign KEY]
 *   mkmedia keygen NAME
 *   mkmedia sign MEDIA --key KEY
 *   mkmedia verify MEDIA (--trusted-key PUB | --trusted-keys DIR)
 *
 * build: one archive <payload>.<ext> per payload, entry name = file id;
 * every file's entry, size and SHA-256 go into the media manifest, which is
 * written with manifest_write; the archives are read back through
 * payload_extract (the same code setup uses) before the media is final.
 * Everything is built in MEDIA.mkmedia-tmp and renamed to MEDIA at the end,
 * so a failure leaves nothing behind. Same inputs (and SOURCE_DATE_EPOCH)
 * give byte-identical media: archives are deterministic, the manifest
 * writer is, and Ed25519 signatures are.
 * A symlink (flag symlink) is packed as a symlink entry; its manifest size
 * and sha256 are those of the target string.
 * Exit codes: err_exit_code() (common/err.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/mem.h"
#include "common/os.h"
#include "common/names.h"
#include "common/path.h"
#include "manifests/manifest.h"
#include "payload/payload.h"
#include "payload/mkmedia_slipstream.h"

_Static_assert(PAYLOAD_SIGNED_MAX_BYTES == MANIFEST_MAX_FILE_BYTES,
	       "signature bound must match the manifest bound");

#define MKMEDIA_TMP_SUFFIX ".mkmedia-tmp"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mkmedia build DEFINITION --source DIR --out MEDIA [--format zip|tar.zst|tar.gz|tar] [--sign KEY]\n"
		"       mkmedia slipstream --base MEDIA --sp SPMEDIA --out MEDIA [--sign KEY]\n"
		"                                             install media with the service pack built in\n"
		"       mkmedia keygen NAME                   write NAME.key and NAME.pub (Ed25519, PEM)\n"
		"       mkmedia sign MEDIA --key KEY          sign the media manifest\n"
		"       mkmedia verify MEDIA --trusted-key PUB | --trusted-keys DIR\n"
		"       mkmedia --help | --version\n"
		"Builds install media: payload archives, a media manifest with every file's\n"
		"size and SHA-256, and a detached Ed25519 signature. SOURCE_DATE_EPOCH sets the\n"
		"archive time stamps (default 0). Exit codes: 0 ok, 2 usage, 3 bad definition,\n"
		"4 bad media or signature, 6 system error, 7 out of memory, 8 not found.\n");
}

static int copy_file(const char *from, const char *to, struct err *e)
{
	char buf[PAYLOAD_BUF_SIZE];
	int in = -1, out = -1, rc = -1;

	in = os_open(from, OS_O_RDONLY | OS_O_NONBLOCK, 0);
	if (in < 0)
		return err_errno(e, "cannot open '%s'", from);
	{
		struct stat st;

		if (fstat(in, &st) != 0 || !S_ISREG(st.st_mode)) {
			close(in);
			return err_set(e, ERR_CLASS_INPUT, "'%s' is not a regular file", from);
		}
	}
	out = os_open(to, OS_O_WRONLY | OS_O_CREAT | OS_O_EXCL | OS_O_NOFOLLOW, 0644);
	if (out < 0) {
		err_errno(e, "cannot create '%s'", to);
		goto out;
	}
	for (;;) {
		ssize_t r = read(in, buf, sizeof(buf));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err_errno(e, "cannot read '%s'", from);
			goto out;
		}
		if (r == 0)
			break;
		if (write(out, buf, (size_t)r) != r) {
			err_errno(e, "cannot write '%s'", to);
			goto out;
		}
	}
	if (close(out) != 0) {
		out = -1;
		err_errno(e, "cannot write '%s'", to);
		goto out;
	}
	out = -1;
	rc = 0;
out:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return rc;
}

/* Does file f go into payload p? */
static int file_in_payload(const struct manifest *m, const struct manifest_file *f, const char *p)
{
	const struct manifest_component *c;

	if (m->kind == MANIFEST_SP)
		return 1;   /* a service pack has one payload */
	c = manifest_component_find(m, f->component);
	return c && strcmp(c->payload, p) == 0;
}

/* Pack, hash and read back one payload into tmpdir. */
static int build_payload(struct manifest *m, const char *name, const char *src_dir,
			 const char *tmpdir, enum payload_format fmt, int64_t mtime,
			 struct manifest_payload *mp, struct err *e)
{
	struct payload_source *src = NULL;
	struct payload_want *wants = NULL;
	struct payload_staged_list staged = {0};
	struct payload_hash h;
	char **paths = NULL;
	char *arc = NULL, *stage = NULL;
	size_t n = 0;
	int rc = -1;

	src = mem_array((size_t)m->nfiles + 1, sizeof(*src));
	wants = mem_array((size_t)m->nfiles + 1, sizeof(*wants));
	paths = mem_array((size_t)m->nfiles + 1, sizeof(*paths));
	mp->name = mem_strdup(name);
	mp->archive = mem_printf("%s.%s", name, payload_format_ext(fmt));
	if (!src || !wants || !paths || !mp->name || !mp->archive) {
		err_nomem(e, "building a payload");
		goto out;
	}
	for (int i = 0; i < m->nfiles; i++) {
		struct manifest_file *f = &m->files[i];

		if (!file_in_payload(m, f, name))
			continue;
		if (!path_is_clean_relative(f->id)) {
			err_at(e, m->path, f->line, "file id '%s' cannot be an archive entry name", f->id);
			goto out;
		}
		mem_free(f->entry);
		f->entry = mem_strdup(f->id);
		if (!f->entry) {
			err_nomem(e, "building a payload");
			goto out;
		}
		src[n].name = f->entry;
		src[n].mode = f->mode;
		wants[n].name = f->entry;
		wants[n].sha256 = f->sha256;
		if (f->flags & MANIFEST_FILE_SYMLINK) {
			src[n].link_target = f->target;
			f->size = strlen(f->target);
			if (payload_hash_buffer(f->target, f->size, f->sha256, e) != 0)
				goto out;
			wants[n].flags = PAYLOAD_WANT_SYMLINK;
			wants[n].link_target = f->target;
		} else {
			if (!f->source) {
				err_at(e, m->path, f->line, "file '%s' has no 'source'", f->id);
				goto out;
			}
			paths[n] = path_join(src_dir, f->source);
			if (!paths[n]) {
				err_nomem(e, "building a payload");
				goto out;
			}
			src[n].path = paths[n];
			if (payload_hash_file(paths[n], &h, e) != 0) {
				err_prefix(e, "%s:%d: file '%s'", m->path, f->line, f->id);
				goto out;
			}
			f->size = h.size;
			memcpy(f->sha256, h.sha256, sizeof(f->sha256));
			wants[n].size = h.size;
			if (f->mode & 07002)   /* setuid/setgid/world-writable asked for */
				wants[n].flags |= PAYLOAD_WANT_SPECIAL_MODE;
			mp->unpacked += h.size;
		}
		n++;
	}
	mp->entries = n;
	arc = path_join(tmpdir, mp->archive);
	stage = mem_printf("%s/.stage-%s", tmpdir, name);
	if (!arc || !stage) {
		err_nomem(e, "building a payload");
		goto out;
	}
	if (payload_archive_write(arc, fmt, src, n, mtime, e) != 0)
		goto out;
	if (payload_hash_file(arc, &h, e) != 0)
		goto out;
	mp->size = h.size;
	memcpy(mp->sha256, h.sha256, sizeof(mp->sha256));
	/* Read it back exactly as setup will. */
	if (payload_staging_create(stage, e) != 0)
		goto out;
	if (payload_extract(arc, stage, wants, n, NULL, &staged, e) != 0) {
		struct err ignored;   /* the read-back error is the one to report */

		err_prefix(e, "payload '%s' does not read back (a source file changed while packing?)", name);
		err_clear(&ignored);
		path_remove_tree(stage, &ignored);
		goto out;
	}
	/* The stage must go: left in tmpdir it would become part of the media. */
	if (path_remove_tree(stage, e) != 0)
		goto out;
	rc = 0;
out:
	payload_staged_list_free(&staged);
	for (size_t i = 0; paths && i < (size_t)m->nfiles; i++)
		mem_free(paths[i]);
	mem_free(paths);
	mem_free(src);
	mem_free(wants);
	mem_free(arc);
	mem_free(stage);
	return rc;
}

static int write_manifest(const struct manifest *m, const char *path, struct err *e)
{
	FILE *f = os_fopen(path, "wbx");   /* b: no CRLF on Windows, the bytes are signed */
	int rc;

	if (!f)
		return err_errno(e, "cannot create '%s'", path);
	rc = manifest_write(m, f, e);
	if (fflush(f) != 0 || os_fsync(fileno(f)) != 0) {
		if (rc == 0)
			err_errno(e, "cannot write '%s'", path);
		rc = -1;
	}
	if (fclose(f) != 0 && rc == 0)
		rc = err_errno(e, "cannot write '%s'", path);
	return rc;
}

static int copy_license(const struct manifest *m, const char *def, const char *src_dir,
			const char *tmpdir, struct err *e)
{
	const char *lic = m->product.license;
	char *defdir = NULL, *from = NULL, *to = NULL, *todir = NULL;
	struct stat st;
	int rc = -1;

	if (!lic)
		return 0;
	if (!path_is_clean_relative(lic))
		return err_set(e, ERR_CLASS_INPUT, "%s: license '%s' must be a clean relative path", def, lic);
	defdir = path_dirname(def);
	from = defdir ? path_join(defdir, lic) : NULL;
	to = path_join(tmpdir, lic);
	todir = to ? path_dirname(to) : NULL;
	if (!from || !to || !todir) {
		err_nomem(e, "copying the license");
		goto out;
	}
	if (os_stat(from, &st) != 0) {   /* beside the definition, else in --source */
		mem_free(from);
		from = path_join(src_dir, lic);
		if (!from) {
			err_nomem(e, "copying the license");
			goto out;
		}
		if (os_stat(from, &st) != 0) {
			err_set(e, ERR_CLASS_INPUT, "%s: license '%s' is neither beside the definition nor "
				"in the source tree '%s'", def, lic, src_dir);
			goto out;
		}
	}
	if (path_mkdirs(todir, 0755, e) != 0 || copy_file(from, to, e) != 0)
		goto out;
	rc = 0;
out:
	mem_free(defdir);
	mem_free(from);
	mem_free(to);
	mem_free(todir);
	return rc;
}

/* pre: a definition already in memory (slipstream), owned from here on. */
static int cmd_build(const char *def, const char *src_dir, const char *out, const char *format,
		     const char *sign_key, struct manifest *pre, struct err *e)
{
	struct manifest *m = pre;
	char *tmp = NULL, *mpath = NULL, *spath = NULL;
	const char *epoch = getenv("SOURCE_DATE_EPOCH");
	int64_t mtime = 0;
	int fmt = PAYLOAD_FORMAT_TAR_ZST, rc = -1, made = 0, sp;
	struct stat st;

	if (format) {
		fmt = payload_format_parse(format);
		if (fmt != PAYLOAD_FORMAT_ZIP && fmt != PAYLOAD_FORMAT_TAR_ZST && fmt != PAYLOAD_FORMAT_TAR_GZ &&
		    fmt != PAYLOAD_FORMAT_TAR)
			return err_set(e, ERR_CLASS_USAGE, "unknown --format '%s': use zip, tar.zst, tar.gz or tar (uncompressed)", format);
	}
	if (epoch && *epoch) {
		char *end;

		errno = 0;
		mtime = strtoll(epoch, &end, 10);
		if (errno || *end || mtime < 0)
			return err_set(e, ERR_CLASS_USAGE, "SOURCE_DATE_EPOCH '%s' is not a number of seconds", epoch);
	}
	if (os_stat(src_dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return err_set(e, ERR_CLASS_NOTFOUND, "source tree '%s' is not a directory", src_dir);
	if (os_lstat(out, &st) == 0)
		return err_set(e, ERR_CLASS_USAGE, "'%s' already exists; mkmedia writes new media only "
			       "(remove it or pick another --out)", out);
	if (!m && manifest_load(def, 0, &m, e) != 0)
		return -1;
	if (m->kind != MANIFEST_PRODUCT && m->kind != MANIFEST_SP) {
		err_set(e, ERR_CLASS_INPUT, "'%s' is %s; mkmedia build needs a product or service-pack "
			"definition", def, manifest_kind_name(m->kind));
		goto out;
	}
	sp = m->kind == MANIFEST_SP;
	tmp = mem_printf("%s%s", out, MKMEDIA_TMP_SUFFIX);
	if (!tmp) {
		err_nomem(e, "building media");
		goto out;
	}
	if (os_mkdir(tmp, 0755) != 0) {
		err_errno(e, "cannot create '%s'%s", tmp, errno == EEXIST ?
			  " (left by an interrupted mkmedia? remove it)" : "");
		goto out;
	}
	made = 1;
	/* STATE: tmp is ours; removed on failure. */
	m->payloads = mem_array((size_t)m->ncomponents + 1, sizeof(*m->payloads));
	if (!m->payloads) {
		err_nomem(e, "building media");
		goto out;
	}
	for (int i = 0; i < m->ncomponents; i++) {
		const char *p = m->components[i].payload;

		if (manifest_payload_find(m, p))
			continue;   /* shared by an earlier component */
		m->npayloads++;
		if (build_payload(m, p, src_dir, tmp, (enum payload_format)fmt, mtime,
				  &m->payloads[m->npayloads - 1], e) != 0)
			goto out;
	}
	for (int i = 0; i < m->nfiles; i++) {
		if (!m->files[i].entry) {
			err_at(e, def, m->files[i].line, "file '%s' belongs to no payload", m->files[i].id);
			goto out;
		}
	}
	m->kind = sp ? MANIFEST_SP_MEDIA : MANIFEST_MEDIA;
	mpath = path_join(tmp, sp ? SK_SP_MANIFEST : SK_MEDIA_MANIFEST);
	spath = path_join(tmp, sp ? SK_SP_SIGNATURE : SK_MEDIA_SIGNATURE);
	if (!mpath || !spath) {
		err_nomem(e, "building media");
		goto out;
	}
	if (write_manifest(m, mpath, e) != 0)
		goto out;
	{   /* what we wrote must load back as media */
		struct manifest *back = NULL;

		if (manifest_load(mpath, m->kind, &back, e) != 0) {
			err_prefix(e, "internal: the media manifest does not load back");
			e->cls = ERR_CLASS_INTERNAL;
			goto out;
		}
		manifest_free(back);
	}
	if (!sp && copy_license(m, def, src_dir, tmp, e) != 0)
		goto out;
	if (sign_key && payload_sign_file(mpath, sign_key, spath, e) != 0)
		goto out;
	if (path_sync_dir(tmp, e) != 0)
		goto out;
	if (os_rename(tmp, out) != 0) {
		err_errno(e, "cannot rename '%s' to '%s'", tmp, out);
		goto out;
	}
	rc = 0;
out:
	if (rc != 0 && made) {
		struct err ignored;   /* the build's error is the one to report */

		err_clear(&ignored);
		path_remove_tree(tmp, &ignored);
	}
	manifest_free(m);
	mem_free(tmp);
	mem_free(mpath);
	mem_free(spath);
	return rc;
}

static int cmd_sign(const char *media, const char *key, struct err *e)
{
	struct payload_media *m;
	int rc;

	if (payload_media_open(media, &m, e) != 0)
		return -1;
	rc = payload_sign_file(m->manifest_path, key, m->signature_path, e);
	payload_media_free(m);
	return rc;
}

/* Signature, then every payload archive's size and SHA-256. */
static int cmd_verify(const char *media, const char *pub, const char *keys_dir, struct err *e)
{
	struct payload_media *pm = NULL;
	struct manifest *m = NULL;
	int rc = -1;

	if (payload_media_open(media, &pm, e) != 0)
		return -1;
	if (payload_media_verify(pm, pub, keys_dir, 0, e) != 0)
		goto out;
	if (manifest_load(pm->manifest_path, pm->is_sp ? MANIFEST_SP_MEDIA : MANIFEST_MEDIA, &m, e) != 0)
		goto out;
	for (int i = 0; i < m->npayloads; i++) {
		struct payload_hash h;
		char *p = payload_media_path(pm, m->payloads[i].archive, e);

		if (!p)
			goto out;
		if (payload_hash_file(p, &h, e) != 0) {
			mem_free(p);
			goto out;
		}
		if (h.size != m->payloads[i].size || strcmp(h.sha256, m->payloads[i].sha256) != 0) {
			err_set(e, ERR_CLASS_MEDIA, "payload archive '%s' does not match the manifest: "
				"expected %llu bytes SHA-256 %s, got %llu bytes %s", p,
				(unsigned long long)m->payloads[i].size, m->payloads[i].sha256,
				(unsigned long long)h.size, h.sha256);
			mem_free(p);
			goto out;
		}
		mem_free(p);
	}
	printf("%s: signature good, %d payload archive%s the manifest\n", media,
	       m->npayloads, m->npayloads == 1 ? " matches" : "s match");
	rc = 0;
out:
	manifest_free(m);
	payload_media_free(pm);
	return rc;
}

/* Base media + service pack -> install media at the pack's level. */
static int cmd_slipstream(const char *base, const char *sp, const char *out, const char *format,
			  const char *sign_key, struct err *e)
{
	struct manifest *m = NULL;
	char *src = mem_printf("%s.slipstream-src", out), *def = NULL;
	struct stat st;
	int rc = -1;

	if (!src)
		return err_nomem(e, "slipstreaming");
	if (os_lstat(out, &st) == 0) {
		err_set(e, ERR_CLASS_USAGE, "'%s' already exists; mkmedia writes new media only "
			"(remove it or pick another --out)", out);
		mem_free(src);
		return -1;
	}
	if (mkmedia_slipstream_prepare(base, sp, src, &m, &def, e) == 0)
		rc = cmd_build(def, src, out, format, sign_key, m, e);
	if (os_lstat(src, &st) == 0) {
		struct err ignored;

		err_clear(&ignored);
		path_remove_tree(src, &ignored);
	}
	if (rc == 0)
		printf("%s: install media with the service pack slipstreamed in\n", out);
	mem_free(src);
	mem_free(def);
	return rc;
}

/* Parse "--opt VALUE" pairs after the positional arguments. */
static int opt_value(int argc, char **argv, int *i, const char *name, const char **out, struct err *e)
{
	if (strcmp(argv[*i], name) != 0)
		return 0;
	if (*i + 1 >= argc)
		return err_set(e, ERR_CLASS_USAGE, "%s needs a value", name);
	if (*out)
		return err_set(e, ERR_CLASS_USAGE, "%s given twice", name);
	*out = argv[++*i];
	return 1;
}

int main(int argc, char **argv)
{
	const char *source = NULL, *out = NULL, *format = NULL, *sign = NULL, *key = NULL,
		   *pub = NULL, *keys_dir = NULL, *cmd, *arg = NULL, *base = NULL, *spm = NULL;
	struct err e;
	int rc;

	os_init(&argc, &argv);   /* first: UTF-8 argv on Windows */
	err_clear(&e);
	if (argc < 2) {
		usage(stderr);
		return ERR_EXIT_USAGE;
	}
	cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(cmd, "--version") == 0) {
		printf("mkmedia (setupkit) %s\n", SK_VERSION);
		return 0;
	}
	/* All flags are parsed before anything is read or written. */
	for (int i = 2; i < argc; i++) {
		int r = 0;

		if ((r = opt_value(argc, argv, &i, "--source", &source, &e)) ||
		    (r = opt_value(argc, argv, &i, "--out", &out, &e)) ||
		    (r = opt_value(argc, argv, &i, "--format", &format, &e)) ||
		    (r = opt_value(argc, argv, &i, "--sign", &sign, &e)) ||
		    (r = opt_value(argc, argv, &i, "--key", &key, &e)) ||
		    (r = opt_value(argc, argv, &i, "--trusted-key", &pub, &e)) ||
		    (r = opt_value(argc, argv, &i, "--trusted-keys", &keys_dir, &e)) ||
		    (r = opt_value(argc, argv, &i, "--base", &base, &e)) ||
		    (r = opt_value(argc, argv, &i, "--sp", &spm, &e))) {
			if (r < 0)
				goto done;
			continue;
		}
		if (argv[i][0] == '-' && argv[i][1]) {
			err_set(&e, ERR_CLASS_USAGE, "unknown option '%s' (see mkmedia --help)", argv[i]);
			goto done;
		}
		if (arg) {
			err_set(&e, ERR_CLASS_USAGE, "unexpected argument '%s' (see mkmedia --help)", argv[i]);
			goto done;
		}
		arg = argv[i];
	}
#define NEED(cond, msg) do { if (!(cond)) { err_set(&e, ERR_CLASS_USAGE, "mkmedia %s: %s (see mkmedia --help)", cmd, msg); goto done; } } while (0)
#define ONLY(cond) NEED(cond, "option not valid here")
	if (strcmp(cmd, "build") == 0) {
		NEED(arg, "which DEFINITION?");
		NEED(source && out, "--source DIR and --out MEDIA are required");
		ONLY(!key && !pub && !keys_dir);
		cmd_build(arg, source, out, format, sign, NULL, &e);
	} else if (strcmp(cmd, "slipstream") == 0) {
		NEED(base && spm && out, "--base MEDIA, --sp SPMEDIA and --out MEDIA are required");
		ONLY(!arg && !source && !key && !pub && !keys_dir);
		cmd_slipstream(base, spm, out, format, sign, &e);
	} else if (strcmp(cmd, "keygen") == 0) {
		NEED(arg, "which NAME?");
		ONLY(!source && !out && !format && !sign && !key && !pub && !keys_dir);
		if (payload_key_generate(arg, &e) == 0)
			printf("wrote %s%s (keep it secret) and %s%s\n", arg, PAYLOAD_KEY_SUFFIX, arg,
			       PAYLOAD_PUB_SUFFIX);
	} else if (strcmp(cmd, "sign") == 0) {
		NEED(arg && key, "MEDIA and --key KEY are required");
		ONLY(!source && !out && !format && !sign && !pub && !keys_dir);
		cmd_sign(arg, key, &e);
	} else if (strcmp(cmd, "verify") == 0) {
		NEED(arg, "which MEDIA?");
		NEED(pub || keys_dir, "pass --trusted-key PUB or --trusted-keys DIR");
		ONLY(!source && !out && !format && !sign && !key);
		cmd_verify(arg, pub, keys_dir, &e);
	} else {
		err_set(&e, ERR_CLASS_USAGE, "unknown command '%s' (see mkmedia --help)", cmd);
	}
done:
	rc = err_exit_code(&e);
	if (rc != 0)
		fprintf(stderr, "mkmedia: %s\n", e.msg);
	return rc;
}
