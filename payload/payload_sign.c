/*
 * payload_sign.c - Ed25519 keys, detached signatures and their checks
 * (OpenSSL EVP, EVP_PKEY_ED25519, one-shot EVP_DigestSign with no digest).
 *
 * A signature file holds exactly PAYLOAD_SIG_BYTES raw bytes; anything else
 * is refused before any key is tried. Keys are PEM files of at most
 * PAYLOAD_KEY_MAX_BYTES. Trap: Ed25519 signs the whole message at once, so
 * the signed file is read whole, bounded by PAYLOAD_SIGNED_MAX_BYTES.
 */
#include "payload.h"
#include "payload_private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "common/mem.h"
#include "common/os.h"
#include "common/names.h"
#include "common/path.h"

static EVP_PKEY *load_key(const char *path, int private_key, struct err *e)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	BIO *bio;
	EVP_PKEY *k = NULL;

	if (payload_read_bounded(path, PAYLOAD_KEY_MAX_BYTES, private_key ? "private key" : "public key",
				 &buf, &len, e) != 0)
		return NULL;
	bio = BIO_new_mem_buf(buf, (int)len);
	if (bio) {
		k = private_key ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)
				: PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
		BIO_free(bio);
	}
	ERR_clear_error();
	mem_free(buf);
	if (!k) {
		err_set(e, ERR_CLASS_INPUT, "'%s' is not a PEM %s key", path,
			private_key ? "private" : "public");
		return NULL;
	}
	if (EVP_PKEY_get_id(k) != EVP_PKEY_ED25519) {
		EVP_PKEY_free(k);
		err_set(e, ERR_CLASS_INPUT, "key '%s' is not an Ed25519 key (make one with `mkmedia keygen NAME`)",
			path);
		return NULL;
	}
	return k;
}

/* Write data to path atomically (tmp + rename); mode for the new file;
 * excl: fail if path exists. */
static int write_file(const char *path, const void *data, size_t n, mode_t mode, int excl,
		      struct err *e)
{
	char *tmp = NULL;
	int fd = -1, rc = -1;
	const unsigned char *p = data;

	if (excl) {
		fd = os_open(path, OS_O_WRONLY | OS_O_CREAT | OS_O_EXCL | OS_O_NOFOLLOW, (int)mode);
		if (fd < 0)
			return err_errno(e, "cannot create '%s'", path);
	} else {
		tmp = mem_printf("%s%s", path, PAYLOAD_TMP_SUFFIX);
		if (!tmp)
			return err_nomem(e, "writing a file");
		fd = os_open(tmp, OS_O_WRONLY | OS_O_CREAT | OS_O_EXCL | OS_O_NOFOLLOW, (int)mode);
		if (fd < 0) {
			err_errno(e, "cannot create '%s'", tmp);
			goto out;
		}
	}
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			err_errno(e, "cannot write '%s'", tmp ? tmp : path);
			goto out;
		}
		p += w;
		n -= (size_t)w;
	}
	if (os_fsync(fd) != 0 || close(fd) != 0) {
		fd = -1;
		err_errno(e, "cannot write '%s'", tmp ? tmp : path);
		goto out;
	}
	fd = -1;
	if (tmp && os_rename(tmp, path) != 0) {
		err_errno(e, "cannot rename '%s' to '%s'", tmp, path);
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (rc != 0)
		os_unlink(tmp ? tmp : path);
	mem_free(tmp);
	return rc;
}

static int bio_to_file(BIO *bio, const char *path, mode_t mode, struct err *e)
{
	char *data = NULL;
	long n = BIO_get_mem_data(bio, &data);

	if (n <= 0)
		return err_set(e, ERR_CLASS_INTERNAL, "cannot encode key for '%s'", path);
	return write_file(path, data, (size_t)n, mode, 1, e);
}

int payload_key_generate(const char *name, struct err *e)
{
	EVP_PKEY *k = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	BIO *priv = NULL, *pub = NULL;
	char *kpath = mem_printf("%s%s", name, PAYLOAD_KEY_SUFFIX);
	char *ppath = mem_printf("%s%s", name, PAYLOAD_PUB_SUFFIX);
	int rc = -1, made_key = 0;

	if (!kpath || !ppath) {
		err_nomem(e, "generating a key");
		goto out;
	}
	ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
	if (!ctx || EVP_PKEY_keygen_init(ctx) <= 0 || EVP_PKEY_keygen(ctx, &k) <= 0) {
		err_set(e, ERR_CLASS_INTERNAL, "cannot generate an Ed25519 key (OpenSSL)");
		goto out;
	}
	priv = BIO_new(BIO_s_mem());
	pub = BIO_new(BIO_s_mem());
	if (!priv || !pub || !PEM_write_bio_PrivateKey(priv, k, NULL, NULL, 0, NULL, NULL) ||
	    !PEM_write_bio_PUBKEY(pub, k)) {
		err_set(e, ERR_CLASS_INTERNAL, "cannot encode the new key as PEM");
		goto out;
	}
	if (bio_to_file(priv, kpath, 0600, e) != 0)
		goto out;
	made_key = 1;
	if (bio_to_file(pub, ppath, 0644, e) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0 && made_key)
		os_unlink(kpath);
	ERR_clear_error();
	BIO_free(priv);
	BIO_free(pub);
	EVP_PKEY_free(k);
	EVP_PKEY_CTX_free(ctx);
	mem_free(kpath);
	mem_free(ppath);
	return rc;
}

int payload_sign_file(const char *file, const char *key_path, const char *sig_path,
		      struct err *e)
{
	unsigned char *msg = NULL;
	unsigned char sig[PAYLOAD_SIG_BYTES];
	size_t len = 0, siglen = sizeof(sig);
	EVP_PKEY *k = NULL;
	EVP_MD_CTX *md = NULL;
	int rc = -1;

	k = load_key(key_path, 1, e);
	if (!k)
		goto out;
	if (payload_read_bounded(file, PAYLOAD_SIGNED_MAX_BYTES, "file to sign", &msg, &len, e) != 0)
		goto out;
	md = EVP_MD_CTX_new();
	if (!md || EVP_DigestSignInit(md, NULL, NULL, NULL, k) <= 0 ||
	    EVP_DigestSign(md, sig, &siglen, msg, len) <= 0 || siglen != sizeof(sig)) {
		err_set(e, ERR_CLASS_INTERNAL, "cannot sign '%s' with '%s' (OpenSSL)", file, key_path);
		goto out;
	}
	if (write_file(sig_path, sig, siglen, 0644, 0, e) != 0)
		goto out;
	rc = 0;
out:
	ERR_clear_error();
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(k);
	mem_free(msg);
	return rc;
}

/* Load the message and signature for verification. */
static int load_signed(const char *file, const char *sig_path, unsigned char **msg, size_t *len,
		       unsigned char **sig, struct err *e)
{
	size_t slen = 0;

	*msg = *sig = NULL;
	if (payload_read_bounded(sig_path, PAYLOAD_SIG_BYTES * 4, "signature", sig, &slen, e) != 0) {
		if (e->sys_errno == ENOENT)
			err_prefix(e, "'%s' is not signed (pass --trusted-key FILE with signed media, "
				   "or --allow-unsigned)", file);
		return -1;
	}
	if (slen != PAYLOAD_SIG_BYTES) {
		mem_free(*sig);
		*sig = NULL;
		return err_set(e, ERR_CLASS_MEDIA, "signature '%s' of '%s' is %zu bytes, an Ed25519 "
			       "signature is %d; the media is damaged or was altered",
			       sig_path, file, slen, PAYLOAD_SIG_BYTES);
	}
	if (payload_read_bounded(file, PAYLOAD_SIGNED_MAX_BYTES, "signed file", msg, len, e) != 0) {
		mem_free(*sig);
		*sig = NULL;
		return -1;
	}
	return 0;
}

/* 1: verifies; 0: does not; -1: error (key unusable). */
static int verify_one(const unsigned char *msg, size_t len, const unsigned char *sig,
		      const char *pub_path, struct err *e)
{
	EVP_PKEY *k = load_key(pub_path, 0, e);
	EVP_MD_CTX *md;
	int ok = 0;

	if (!k)
		return -1;
	md = EVP_MD_CTX_new();
	if (md && EVP_DigestVerifyInit(md, NULL, NULL, NULL, k) > 0)
		ok = EVP_DigestVerify(md, sig, PAYLOAD_SIG_BYTES, msg, len) == 1;
	ERR_clear_error();
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(k);
	return ok;
}

int payload_verify_file(const char *file, const char *sig_path, const char *pub_path,
			struct err *e)
{
	unsigned char *msg, *sig;
	size_t len;
	int ok;

	if (load_signed(file, sig_path, &msg, &len, &sig, e) != 0)
		return -1;
	ok = verify_one(msg, len, sig, pub_path, e);
	mem_free(msg);
	mem_free(sig);
	if (ok < 0)
		return -1;
	if (!ok)
		return err_set(e, ERR_CLASS_MEDIA, "signature '%s' does not verify '%s' with key '%s': "
			       "the file was altered or signed with another key; pass the right "
			       "--trusted-key FILE, or --allow-unsigned to skip the check",
			       sig_path, file, pub_path);
	return 0;
}

char *payload_trusted_keys_dir(const char *root)
{
	return path_in_root(root, "/" SK_TRUSTED_KEYS_DIR);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int payload_verify_file_trusted(const char *file, const char *sig_path,
				const char *keys_dir, char **used, struct err *e)
{
	unsigned char *msg = NULL, *sig = NULL;
	size_t len = 0, n = 0, cap = 0;
	char **names = NULL;
	char tried[1024] = "";
	DIR *d = NULL;
	struct dirent *de;
	int rc = -1;

	if (used)
		*used = NULL;
	d = opendir(keys_dir);
	if (!d) {
		err_errno(e, "cannot open trusted-keys directory '%s' to verify '%s' "
			  "(pass --trusted-key FILE or --allow-unsigned)", keys_dir, file);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name), sl = strlen(PAYLOAD_PUB_SUFFIX);

		if (l <= sl || strcmp(de->d_name + l - sl, PAYLOAD_PUB_SUFFIX) != 0)
			continue;
		if (n == cap) {
			char **nn = mem_realloc_array(names, cap ? cap * 2 : 8, sizeof(*nn));

			if (!nn) {
				err_nomem(e, "listing trusted keys");
				goto out;
			}
			names = nn;
			cap = cap ? cap * 2 : 8;
		}
		names[n] = path_join(keys_dir, de->d_name);
		if (!names[n]) {
			err_nomem(e, "listing trusted keys");
			goto out;
		}
		n++;
	}
	if (n == 0) {
		err_set(e, ERR_CLASS_MEDIA, "no trusted keys (*%s) in '%s' to verify '%s'; "
			"pass --trusted-key FILE or --allow-unsigned", PAYLOAD_PUB_SUFFIX, keys_dir, file);
		goto out;
	}
	qsort(names, n, sizeof(*names), cmp_str);
	if (load_signed(file, sig_path, &msg, &len, &sig, e) != 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct err ke;
		int ok;

		err_clear(&ke);
		ok = verify_one(msg, len, sig, names[i], &ke);
		if (ok == 1) {
			if (used) {
				*used = names[i];
				names[i] = NULL;
			}
			rc = 0;
			goto out;
		}
		if (strlen(tried) + strlen(names[i]) + 4 < sizeof(tried)) {
			if (*tried)
				strcat(tried, ", ");
			strcat(tried, path_basename(names[i]));
			if (ok < 0)
				strcat(tried, " (unusable)");
		}
	}
	err_set(e, ERR_CLASS_MEDIA, "signature '%s' of '%s' does not verify with any trusted key in "
		"'%s' (tried: %s); the file was altered or signed with an untrusted key; pass "
		"--trusted-key FILE or --allow-unsigned", sig_path, file, keys_dir, tried);
out:
	if (d)
		closedir(d);
	for (size_t i = 0; i < n; i++)
		mem_free(names[i]);
	mem_free(names);
	mem_free(msg);
	mem_free(sig);
	return rc;
}
