/*
 * payload_hash.c - SHA-256 of files and buffers (OpenSSL EVP), hex output,
 * bounded whole-file reads. Trap: payload_hash_file opens with O_NOFOLLOW,
 * so a symlink is an error rather than a hash of whatever it points at.
 */
#include "payload.h"
#include "payload_private.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "common/mem.h"
#include "common/os.h"

void payload_hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int payload_hash_buffer(const void *data, size_t n, char *hex, struct err *e)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (!EVP_Digest(data, n, md, &mdlen, EVP_sha256(), NULL))
		return err_set(e, ERR_CLASS_INTERNAL, "SHA-256 failed (OpenSSL EVP_Digest)");
	payload_hex(md, mdlen, hex);
	return 0;
}

int payload_hash_file(const char *path, struct payload_hash *out, struct err *e)
{
	EVP_MD_CTX *ctx = NULL;
	unsigned char *buf = NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	uint64_t total = 0;
	int fd = -1, rc = -1;

	fd = os_open(path, OS_O_RDONLY | OS_O_NOFOLLOW | OS_O_NONBLOCK, 0);
	if (fd < 0) {
		err_errno(e, "cannot open '%s' to hash it", path);
		goto out;
	}
	{
		struct stat st;

		if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
			err_set(e, ERR_CLASS_IO, "cannot hash '%s': not a regular file", path);
			goto out;
		}
	}
	buf = mem_alloc(PAYLOAD_BUF_SIZE);
	ctx = EVP_MD_CTX_new();
	if (!buf || !ctx) {
		err_nomem(e, "hashing a file");
		goto out;
	}
	if (!EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		err_set(e, ERR_CLASS_INTERNAL, "cannot start SHA-256 for '%s'", path);
		goto out;
	}
	for (;;) {
		ssize_t r = read(fd, buf, PAYLOAD_BUF_SIZE);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err_errno(e, "cannot read '%s' to hash it", path);
			goto out;
		}
		if (r == 0)
			break;
		EVP_DigestUpdate(ctx, buf, (size_t)r);
		total += (uint64_t)r;
	}
	if (!EVP_DigestFinal_ex(ctx, md, &mdlen)) {
		err_set(e, ERR_CLASS_INTERNAL, "cannot finish SHA-256 of '%s'", path);
		goto out;
	}
	out->size = total;
	payload_hex(md, mdlen, out->sha256);
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	mem_free(buf);
	if (fd >= 0)
		close(fd);
	return rc;
}

int payload_read_bounded(const char *path, size_t max, const char *what,
			 unsigned char **bufp, size_t *lenp, struct err *e)
{
	struct stat st;
	unsigned char *buf = NULL;
	size_t len = 0;
	int fd, rc = -1;

	fd = os_open(path, OS_O_RDONLY | OS_O_NONBLOCK, 0);   /* a FIFO must not hang us */
	if (fd < 0)
		return err_errno(e, "cannot open %s '%s'", what, path);
	if (fstat(fd, &st) != 0) {
		err_errno(e, "cannot stat %s '%s'", what, path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		err_set(e, ERR_CLASS_MEDIA, "%s '%s' is not a regular file", what, path);
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		err_set(e, ERR_CLASS_MEDIA, "%s '%s' is too large: %lld bytes, at most %zu allowed",
			what, path, (long long)st.st_size, max);
		goto out;
	}
	buf = mem_alloc((size_t)st.st_size + 1);
	if (!buf) {
		err_nomem(e, "reading a file");
		goto out;
	}
	while (len <= (size_t)st.st_size) {
		/* read one byte past the size to notice a file that grew */
		ssize_t r = read(fd, buf + len, (size_t)st.st_size + 1 - len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err_errno(e, "cannot read %s '%s'", what, path);
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (len > (size_t)st.st_size) {
		err_set(e, ERR_CLASS_MEDIA, "%s '%s' changed while being read", what, path);
		goto out;
	}
	buf[len] = '\0';
	*bufp = buf;
	buf = NULL;
	*lenp = len;
	rc = 0;
out:
	mem_free(buf);
	close(fd);
	return rc;
}
