/*
 * setup_fileversion.c - the version of a file on disk, read from its
 * what-string ("@(#)setupkit-version 5.5.2448.0", see <setupkit/version.h>).
 * The file is scanned with a fixed buffer; a marker split across two reads
 * is found because the tail of each read is carried over.
 */
#include "setup.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "common/os.h"
#include "setupkit/version.h"

/* The first ml bytes of buf equal to marker, or NULL (memmem, which C11
 * and Windows lack). */
static char *find_marker(char *buf, size_t have, const char *marker, size_t ml)
{
	char *p = buf, *end = buf + have;

	while ((size_t)(end - p) >= ml && (p = memchr(p, marker[0], (size_t)(end - p) - ml + 1))) {
		if (memcmp(p, marker, ml) == 0)
			return p;
		p++;
	}
	return NULL;
}

int setup_file_version(const char *path, struct manifest_version *v, struct err *e)
{
	static const char marker[] = SETUPKIT_VERSION_MARKER;
	const size_t ml = sizeof(marker) - 1, keep = ml + MANIFEST_VERSION_STRMAX;
	char buf[65536 + 64];
	size_t have = 0;
	int fd = os_open(path, OS_O_RDONLY | OS_O_NOFOLLOW, 0);

	memset(v, 0, sizeof(*v));
	if (fd < 0)
		return err_errno(e, "cannot read '%s' to find its version", path);
	for (;;) {
		ssize_t n = read(fd, buf + have, sizeof(buf) - have - 1);
		char *p;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_errno(e, "cannot read '%s' to find its version", path);
			close(fd);
			return -1;
		}
		have += (size_t)n;
		buf[have] = '\0';
		p = find_marker(buf, have, marker, ml);
		if (p && (n == 0 || (size_t)(buf + have - p) >= keep)) {
			char ver[MANIFEST_VERSION_STRMAX];
			size_t k = 0;
			struct err ignore;

			p += ml;
			while (k < sizeof(ver) - 1 && p < buf + have && ((*p >= '0' && *p <= '9') || *p == '.'))
				ver[k++] = *p++;
			ver[k] = '\0';
			close(fd);
			if (manifest_version_parse(ver, v, &ignore) != 0)
				memset(v, 0, sizeof(*v));   /* malformed: unversioned */
			return 0;
		}
		if (n == 0)
			break;
		if (have > keep) {
			memmove(buf, buf + have - keep, keep);
			have = keep;
		}
	}
	close(fd);
	return 0;
}
