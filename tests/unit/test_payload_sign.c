/*
 * test_payload_sign.c - Ed25519 keys, detached signatures, trusted-key
 * directories, tampering (every byte of a small manifest and of its
 * signature), and media directories (read-only, signed or not).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/mem.h"
#include "common/names.h"
#include "payload/payload.h"
#include "testutil.h"

#define MANIFEST_TEXT \
	"[setupkit]\nformat = 2\nkind = media\n\n[product]\ncode = example.mail\n" \
	"name = Example Mail\nversion = 5.5.2448.0\npublisher = Example Corp\n" \
	"default_dir = /opt/Example Mail\n\n[component core]\npayload = core\n" \
	"[file mailbin]\ncomponent = core\ndest = {app}/bin/mail\nsize = 4096\n" \
	"sha256 = 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"

struct fx {
	char *dir;
	char *file, *sig, *key, *pub, *key2, *pub2;
};

static char *cat(const char *a, const char *b)
{
	char *s;

	assert_true(asprintf(&s, "%s/%s", a, b) > 0);
	return s;
}

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct err e;
	char *n;

	f->dir = tu_tmpdir();
	tu_write(f->dir, "m.ini", MANIFEST_TEXT);
	f->file = cat(f->dir, "m.ini");
	f->sig = cat(f->dir, "m.ini.sig");
	n = cat(f->dir, "vendor");
	assert_int_equal(payload_key_generate(n, &e), 0);
	free(n);
	n = cat(f->dir, "other");
	assert_int_equal(payload_key_generate(n, &e), 0);
	free(n);
	f->key = cat(f->dir, "vendor.key");
	f->pub = cat(f->dir, "vendor.pub");
	f->key2 = cat(f->dir, "other.key");
	f->pub2 = cat(f->dir, "other.pub");
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	tu_tmpdir_remove(f->dir);
	free(f->file); free(f->sig); free(f->key); free(f->pub); free(f->key2); free(f->pub2);
	free(f);
	return 0;
}

static void test_keygen_files(void **state)
{
	struct fx *f = *state;
	struct stat st;
	struct err e;
	char *n, *txt;

	assert_int_equal(stat(f->key, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	txt = tu_read(f->pub, NULL);
	assert_non_null(strstr(txt, "-----BEGIN PUBLIC KEY-----"));
	free(txt);
	/* never overwrite a key */
	n = cat(f->dir, "vendor");
	assert_int_equal(payload_key_generate(n, &e), -1);
	assert_non_null(strstr(e.msg, "vendor.key"));
	free(n);
	/* a half-made pair is removed */
	tu_write(f->dir, "half.pub", "x");
	n = cat(f->dir, "half");
	assert_int_equal(payload_key_generate(n, &e), -1);
	assert_non_null(strstr(e.msg, "half.pub"));
	free(n);
	n = cat(f->dir, "half.key");
	assert_false(tu_exists(n));
	free(n);
}

static void test_sign_verify(void **state)
{
	struct fx *f = *state;
	struct err e;
	size_t len;
	char *sig;

	assert_int_equal(payload_sign_file(f->file, f->key, f->sig, &e), 0);
	sig = tu_read(f->sig, &len);
	assert_int_equal(len, PAYLOAD_SIG_BYTES);
	free(sig);
	assert_int_equal(payload_verify_file(f->file, f->sig, f->pub, &e), 0);
	/* wrong key: names the file, the key, and what to do */
	assert_int_equal(payload_verify_file(f->file, f->sig, f->pub2, &e), -1);
	assert_non_null(strstr(e.msg, "other.pub"));
	assert_non_null(strstr(e.msg, "m.ini"));
	assert_non_null(strstr(e.msg, "--trusted-key FILE"));
	assert_int_equal(err_exit_code(&e), ERR_EXIT_BADMEDIA);
	/* a private key is not a public key, and vice versa */
	assert_int_equal(payload_verify_file(f->file, f->sig, f->key, &e), -1);
	assert_non_null(strstr(e.msg, "not a PEM public key"));
	assert_int_equal(payload_sign_file(f->file, f->pub, f->sig, &e), -1);
	assert_non_null(strstr(e.msg, "not a PEM private key"));
}

static void write_over(const char *path, const char *data, size_t n)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, n, fp), n);
	assert_int_equal(fclose(fp), 0);
}

/* Every byte of the manifest and every byte of the signature, each flipped
 * in three ways: all must fail. */
static void test_tamper_every_byte(void **state)
{
	struct fx *f = *state;
	struct err e;
	size_t mlen, slen;
	char *m, *s;
	int checked = 0;
	static const unsigned char flips[] = { 0x01, 0x80, 0xff };

	assert_int_equal(payload_sign_file(f->file, f->key, f->sig, &e), 0);
	m = tu_read(f->file, &mlen);
	s = tu_read(f->sig, &slen);
	assert_true(mlen > 200);
	for (size_t i = 0; i < mlen; i++) {
		for (size_t k = 0; k < sizeof(flips); k++) {
			m[i] ^= (char)flips[k];
			write_over(f->file, m, mlen);
			if (payload_verify_file(f->file, f->sig, f->pub, &e) == 0)
				fail_msg("manifest byte %zu ^ 0x%02x still verifies", i, flips[k]);
			m[i] ^= (char)flips[k];
			checked++;
		}
	}
	write_over(f->file, m, mlen);
	for (size_t i = 0; i < slen; i++) {
		for (size_t k = 0; k < sizeof(flips); k++) {
			s[i] ^= (char)flips[k];
			write_over(f->sig, s, slen);
			if (payload_verify_file(f->file, f->sig, f->pub, &e) == 0)
				fail_msg("signature byte %zu ^ 0x%02x still verifies", i, flips[k]);
			s[i] ^= (char)flips[k];
			checked++;
		}
	}
	/* truncated, extended, appended-to */
	write_over(f->sig, s, slen - 1);
	assert_int_equal(payload_verify_file(f->file, f->sig, f->pub, &e), -1);
	assert_non_null(strstr(e.msg, "63 bytes"));
	write_over(f->sig, s, slen);
	write_over(f->file, m, mlen - 1);
	assert_int_equal(payload_verify_file(f->file, f->sig, f->pub, &e), -1);
	write_over(f->file, MANIFEST_TEXT "x", mlen + 1);
	assert_int_equal(payload_verify_file(f->file, f->sig, f->pub, &e), -1);
	/* and the original still verifies */
	write_over(f->file, m, mlen);
	assert_int_equal(payload_verify_file(f->file, f->sig, f->pub, &e), 0);
	assert_true(checked >= 3 * (200 + 64));
	free(m);
	free(s);
}

static void test_trusted_dir(void **state)
{
	struct fx *f = *state;
	char *kd = cat(f->dir, "trusted"), *used = NULL, *cmd;
	struct err e;

	assert_int_equal(payload_sign_file(f->file, f->key, f->sig, &e), 0);
	assert_int_equal(mkdir(kd, 0755), 0);
	/* empty dir */
	assert_int_equal(payload_verify_file_trusted(f->file, f->sig, kd, &used, &e), -1);
	assert_non_null(strstr(e.msg, "no trusted keys"));
	assert_non_null(strstr(e.msg, "--allow-unsigned"));
	/* only the wrong key (and a junk one): lists what it tried */
	assert_true(asprintf(&cmd, "cp '%s' '%s/a-other.pub' && echo junk > '%s/b-junk.pub' && "
			     "echo ignored > '%s/readme.txt'", f->pub2, kd, kd, kd) > 0);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	assert_int_equal(payload_verify_file_trusted(f->file, f->sig, kd, &used, &e), -1);
	assert_non_null(strstr(e.msg, "tried: a-other.pub, b-junk.pub (unusable)"));
	assert_null(used);
	/* add the right key */
	assert_true(asprintf(&cmd, "cp '%s' '%s/c-vendor.pub'", f->pub, kd) > 0);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	assert_int_equal(payload_verify_file_trusted(f->file, f->sig, kd, &used, &e), 0);
	assert_non_null(used);
	assert_non_null(strstr(used, "c-vendor.pub"));
	free(used);
	/* the place under a root */
	{
		char *d = payload_trusted_keys_dir("/tmp/r");

		assert_string_equal(d, "/tmp/r/etc/setupkit/trusted-keys");
		free(d);
		d = payload_trusted_keys_dir(NULL);
		assert_string_equal(d, "/etc/setupkit/trusted-keys");
		free(d);
	}
	/* missing signature says what to do */
	unlink(f->sig);
	assert_int_equal(payload_verify_file_trusted(f->file, f->sig, kd, NULL, &e), -1);
	assert_non_null(strstr(e.msg, "not signed"));
	assert_non_null(strstr(e.msg, "--allow-unsigned"));
	free(kd);
}

static void test_media_dir(void **state)
{
	struct fx *f = *state;
	char *md = cat(f->dir, "media"), *mf, *sf, *p;
	struct payload_media *m;
	struct err e;

	assert_int_equal(mkdir(md, 0755), 0);
	assert_int_equal(payload_media_open(md, &m, &e), -1);
	assert_non_null(strstr(e.msg, "not setupkit media"));
	assert_int_equal(err_exit_code(&e), ERR_EXIT_NOTFOUND);
	tu_write(md, SK_MEDIA_MANIFEST, MANIFEST_TEXT);
	mf = cat(md, SK_MEDIA_MANIFEST);
	sf = cat(md, SK_MEDIA_SIGNATURE);
	assert_int_equal(chmod(md, 0555), 0);
	/* unsigned: refused, or a warning with allow_unsigned */
	assert_int_equal(payload_media_open(md, &m, &e), 0);
	assert_false(m->has_signature);
	assert_false(m->is_sp);
	assert_int_equal(payload_media_verify(m, f->pub, NULL, 0, &e), -1);
	assert_non_null(strstr(e.msg, "--allow-unsigned"));
	err_clear(&e);
	assert_int_equal(payload_media_verify(m, f->pub, NULL, 1, &e), 0);
	assert_int_equal(e.status, ERR_WARN);
	payload_media_free(m);
	/* signed */
	assert_int_equal(chmod(md, 0755), 0);
	assert_int_equal(payload_sign_file(mf, f->key, sf, &e), 0);
	assert_int_equal(chmod(md, 0555), 0);
	assert_int_equal(payload_media_open(md, &m, &e), 0);
	assert_true(m->has_signature);
	assert_int_equal(payload_media_verify(m, f->pub, NULL, 0, &e), 0);
	assert_int_equal(payload_media_verify(m, f->pub2, NULL, 1, &e), -1);
	p = payload_media_path(m, "core.tar.zst", &e);
	assert_non_null(p);
	assert_non_null(strstr(p, "/media/core.tar.zst"));
	free(p);
	assert_null(payload_media_path(m, "../etc/passwd", &e));
	assert_non_null(strstr(e.msg, "not a clean relative name"));
	payload_media_free(m);
	assert_int_equal(chmod(md, 0755), 0);
	free(mf); free(sf); free(md);
}

static void test_oversized_inputs(void **state)
{
	struct fx *f = *state;
	struct err e;
	char *fifo;

	/* a FIFO as signature: refused at once, never waited on */
	assert_true(asprintf(&fifo, "%s/fifo.sig", f->dir) > 0);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(payload_verify_file(f->file, fifo, f->pub, &e), -1);
	assert_non_null(strstr(e.msg, "not a regular file"));
	free(fifo);
	char *big = calloc(1, PAYLOAD_KEY_MAX_BYTES + 2);
	char *bk = cat(f->dir, "big.pub");

	memset(big, 'A', PAYLOAD_KEY_MAX_BYTES + 1);
	tu_write(f->dir, "big.pub", big);
	tu_write(f->dir, "m.ini.sig", big);
	assert_int_equal(payload_verify_file(f->file, f->sig, f->pub, &e), -1);
	assert_non_null(strstr(e.msg, "signature"));
	assert_non_null(strstr(e.msg, "too large"));
	assert_int_equal(payload_sign_file(f->file, f->key, f->sig, &e), 0);
	assert_int_equal(payload_verify_file(f->file, f->sig, bk, &e), -1);
	assert_non_null(strstr(e.msg, "too large"));
	free(big);
	free(bk);
}

/* Fail each of our allocations in turn: a clean error, no half-made files,
 * no leaks (SANITIZE=1). */
static void test_allocation_failures(void **state)
{
	struct fx *f = *state;
	char *name = NULL, *key = NULL, *pub = NULL, *md = NULL, *used = NULL;
	struct payload_media *m;
	struct err e;
	int done;

	assert_true(asprintf(&name, "%s/fi", f->dir) > 0);
	assert_true(asprintf(&key, "%s/fi.key", f->dir) > 0);
	assert_true(asprintf(&pub, "%s/fi.pub", f->dir) > 0);
	done = 0;
	for (unsigned long n = 1; n < 100 && !done; n++) {
		mem_fail_at(n, 0);
		done = payload_key_generate(name, &e) == 0;
		mem_fail_at(0, 0);
		if (!done) {
			assert_int_equal(e.cls, ERR_CLASS_NOMEM);
			assert_false(tu_exists(key));
			assert_false(tu_exists(pub));
		}
	}
	assert_true(done);
	done = 0;
	for (unsigned long n = 1; n < 100 && !done; n++) {
		mem_fail_at(n, 0);
		done = payload_sign_file(f->file, f->key, f->sig, &e) == 0;
		mem_fail_at(0, 0);
		if (!done) {
			assert_int_equal(e.cls, ERR_CLASS_NOMEM);
			assert_false(tu_exists(f->sig));
		}
	}
	assert_true(done);
	for (unsigned long n = 1; n < 100; n++) {
		mem_fail_at(n, 0);
		done = payload_verify_file(f->file, f->sig, f->pub, &e) == 0;
		mem_fail_at(0, 0);
		if (done)
			break;
		assert_int_equal(e.cls, ERR_CLASS_NOMEM);
	}
	assert_true(done);
	for (unsigned long n = 1; n < 100; n++) {
		mem_fail_at(n, 0);
		done = payload_verify_file_trusted(f->file, f->sig, f->dir, &used, &e) == 0;
		mem_fail_at(0, 0);
		if (done)
			break;
		assert_int_equal(e.cls, ERR_CLASS_NOMEM);
		assert_null(used);
	}
	assert_true(done);
	free(used);
	assert_true(asprintf(&md, "%s/media", f->dir) > 0);
	assert_int_equal(mkdir(md, 0755), 0);
	tu_write(md, SK_SP_MANIFEST, MANIFEST_TEXT);
	for (unsigned long n = 1; n < 100; n++) {
		mem_fail_at(n, 0);
		done = payload_media_open(md, &m, &e) == 0;
		mem_fail_at(0, 0);
		if (done)
			break;
		assert_int_equal(e.cls, ERR_CLASS_NOMEM);
	}
	assert_true(done);
	assert_true(m->is_sp);
	payload_media_free(m);
	free(name); free(key); free(pub); free(md);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_keygen_files),
		T(test_sign_verify),
		T(test_tamper_every_byte),
		T(test_trusted_dir),
		T(test_media_dir),
		T(test_oversized_inputs),
		T(test_allocation_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
