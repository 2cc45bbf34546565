/*
 * payload_write.c - write payload archives deterministically with the
 * libarchive write side (to a file descriptor; never the disk writer).
 *
 * Determinism: entries sorted by name (strcmp), mtime fixed by the caller,
 * owner 0:0 root:root, no atime/ctime, pax headers only where ustar cannot
 * hold a name, gzip header without timestamp ("gzip:!timestamp"); zip and
 * 7z take their times from the entry. Trap: a source file that changes
 * size while it is packed is an error, never a short or padded entry.
 */
#include "payload.h"
#include "payload_private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "common/mem.h"
#include "common/os.h"
#include "common/path.h"

static const char *const format_exts[] = {
	[PAYLOAD_FORMAT_TAR_ZST] = "tar.zst",
	[PAYLOAD_FORMAT_TAR_GZ] = "tar.gz",
	[PAYLOAD_FORMAT_ZIP] = "zip",
	[PAYLOAD_FORMAT_7Z] = "7z",
	[PAYLOAD_FORMAT_TAR] = "tar",
};

const char *payload_format_ext(enum payload_format f)
{
	if ((unsigned)f >= sizeof(format_exts) / sizeof(format_exts[0]))
		return NULL;
	return format_exts[f];
}

int payload_format_parse(const char *s)
{
	for (unsigned i = 0; s && i < sizeof(format_exts) / sizeof(format_exts[0]); i++)
		if (strcmp(s, format_exts[i]) == 0)
			return (int)i;
	return -1;
}

static int cmp_src(const void *a, const void *b)
{
	const struct payload_source *x = *(const struct payload_source *const *)a;
	const struct payload_source *y = *(const struct payload_source *const *)b;

	return strcmp(x->name, y->name);
}

static int set_format(struct archive *a, enum payload_format f)
{
	int r;

	switch (f) {
	case PAYLOAD_FORMAT_TAR_ZST:
		r = archive_write_set_format_pax_restricted(a);
		return r == ARCHIVE_OK ? archive_write_add_filter_zstd(a) : r;
	case PAYLOAD_FORMAT_TAR_GZ:
		r = archive_write_set_format_pax_restricted(a);
		if (r == ARCHIVE_OK)
			r = archive_write_add_filter_gzip(a);
		return r == ARCHIVE_OK ? archive_write_set_options(a, "gzip:!timestamp") : r;
	case PAYLOAD_FORMAT_ZIP:
		return archive_write_set_format_zip(a);
	case PAYLOAD_FORMAT_7Z:
		return archive_write_set_format_7zip(a);
	case PAYLOAD_FORMAT_TAR:
		return archive_write_set_format_pax_restricted(a);
	}
	return ARCHIVE_FATAL;
}

static int write_entry(struct archive *a, struct archive_entry *ae, const struct payload_source *s,
		       int64_t mtime, unsigned char *buf, const char *out, struct err *e)
{
	struct stat st;
	int fd = -1, rc = -1;
	int64_t left;

	archive_entry_clear(ae);
	archive_entry_set_pathname(ae, s->name);
	archive_entry_set_mtime(ae, (time_t)mtime, 0);
	archive_entry_set_uid(ae, 0);
	archive_entry_set_gid(ae, 0);
	archive_entry_set_uname(ae, "root");
	archive_entry_set_gname(ae, "root");
	if (s->link_target) {
		archive_entry_set_filetype(ae, AE_IFLNK);
		archive_entry_set_perm(ae, 0777);
		archive_entry_set_symlink(ae, s->link_target);
		archive_entry_set_size(ae, 0);
		if (archive_write_header(a, ae) != ARCHIVE_OK)
			return err_set(e, ERR_CLASS_IO, "cannot write symlink '%s' into '%s': %s",
				       s->name, out, archive_error_string(a));
		return 0;
	}
	fd = os_open(s->path, OS_O_RDONLY | OS_O_NOFOLLOW | OS_O_NONBLOCK, 0);
	if (fd < 0)
		return err_errno(e, "cannot open '%s' to pack it as '%s' into '%s'", s->path, s->name, out);
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		err_set(e, ERR_CLASS_INPUT, "'%s' (entry '%s') is not a regular file", s->path, s->name);
		goto out;
	}
	archive_entry_set_filetype(ae, AE_IFREG);
	archive_entry_set_perm(ae, s->mode & 07777);
	archive_entry_set_size(ae, st.st_size);
	if (archive_write_header(a, ae) != ARCHIVE_OK) {
		err_set(e, ERR_CLASS_IO, "cannot write entry '%s' into '%s': %s", s->name, out,
			archive_error_string(a));
		goto out;
	}
	for (left = st.st_size; left > 0;) {
		ssize_t r = read(fd, buf, left < PAYLOAD_BUF_SIZE ? (size_t)left : PAYLOAD_BUF_SIZE);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err_errno(e, "cannot read '%s'", s->path);
			goto out;
		}
		if (r == 0) {
			err_set(e, ERR_CLASS_IO, "'%s' shrank while being packed as '%s'", s->path, s->name);
			goto out;
		}
		if (archive_write_data(a, buf, (size_t)r) != r) {
			err_set(e, ERR_CLASS_IO, "cannot write entry '%s' into '%s': %s", s->name, out,
				archive_error_string(a));
			goto out;
		}
		left -= r;
	}
	if (read(fd, buf, 1) != 0) {
		err_set(e, ERR_CLASS_IO, "'%s' grew while being packed as '%s'", s->path, s->name);
		goto out;
	}
	rc = 0;
out:
	close(fd);
	return rc;
}

int payload_archive_write(const char *out_path, enum payload_format format,
			  const struct payload_source *src, size_t n, int64_t mtime,
			  struct err *e)
{
	const struct payload_source **sorted = NULL;
	struct archive *a = NULL;
	struct archive_entry *ae = NULL;
	unsigned char *buf = NULL;
	char *tmp = NULL;
	int fd = -1, rc = -1, opened = 0;

	if (!payload_format_ext(format))
		return err_set(e, ERR_CLASS_USAGE, "unknown archive format %d for '%s'", (int)format, out_path);
	sorted = mem_array(n + 1, sizeof(*sorted));
	tmp = mem_printf("%s%s", out_path, PAYLOAD_TMP_SUFFIX);
	buf = mem_alloc(PAYLOAD_BUF_SIZE);
	a = archive_write_new();
	ae = archive_entry_new();
	if (!sorted || !tmp || !buf || !a || !ae) {
		err_nomem(e, "writing an archive");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (!path_is_clean_relative(src[i].name)) {
			err_set(e, ERR_CLASS_INPUT, "cannot pack '%s' into '%s': the entry name must be a "
				"clean relative path", src[i].name, out_path);
			goto out;
		}
		if (!src[i].link_target && !src[i].path) {
			err_set(e, ERR_CLASS_INPUT, "cannot pack '%s' into '%s': no source file",
				src[i].name, out_path);
			goto out;
		}
		sorted[i] = &src[i];
	}
	qsort(sorted, n, sizeof(*sorted), cmp_src);
	for (size_t i = 1; i < n; i++) {
		if (strcmp(sorted[i - 1]->name, sorted[i]->name) == 0) {
			err_set(e, ERR_CLASS_INPUT, "cannot pack '%s' into '%s' twice", sorted[i]->name,
				out_path);
			goto out;
		}
	}
	if (set_format(a, format) != ARCHIVE_OK) {
		err_set(e, ERR_CLASS_INTERNAL, "libarchive cannot write %s: %s", payload_format_ext(format),
			archive_error_string(a));
		goto out;
	}
	fd = os_open(tmp, OS_O_WRONLY | OS_O_CREAT | OS_O_EXCL | OS_O_NOFOLLOW, 0644);
	if (fd < 0) {
		err_errno(e, "cannot create '%s'", tmp);
		goto out;
	}
	opened = 1;
	/* STATE: tmp exists and is ours; removed below on any failure. */
	if (archive_write_open_fd(a, fd) != ARCHIVE_OK) {
		err_set(e, ERR_CLASS_IO, "cannot start archive '%s': %s", tmp, archive_error_string(a));
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (write_entry(a, ae, sorted[i], mtime, buf, out_path, e) != 0)
			goto out;
	if (archive_write_close(a) != ARCHIVE_OK) {
		err_set(e, ERR_CLASS_IO, "cannot finish archive '%s': %s", tmp, archive_error_string(a));
		goto out;
	}
	if (os_fsync(fd) != 0 || close(fd) != 0) {
		fd = -1;
		err_errno(e, "cannot write '%s'", tmp);
		goto out;
	}
	fd = -1;
	if (os_rename(tmp, out_path) != 0) {
		err_errno(e, "cannot rename '%s' to '%s'", tmp, out_path);
		goto out;
	}
	rc = 0;
out:
	if (a)
		archive_write_free(a);
	archive_entry_free(ae);
	if (fd >= 0)
		close(fd);
	if (rc != 0 && opened)
		os_unlink(tmp);
	mem_free(tmp);
	mem_free(buf);
	mem_free(sorted);
	return rc;
}
