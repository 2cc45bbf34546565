/*
 * payload_read.c - read a payload archive as one stream (libarchive read
 * side only) and stage the entries a caller wants, hashing while writing.
 *
 * Traps:
 *  - Every entry is checked, wanted or not: names (absolute, drive letter,
 *    UNC, "..", empty or "." components, backslashes normalised to '/'),
 *    duplicates, and types (devices, FIFOs, sockets and hard links are
 *    always refused). Symlinks and setuid/setgid/world-writable modes are
 *    refused for wanted entries unless the caller declared them; unwanted
 *    entries are never written, so their modes do not matter.
 *  - Staging files are flat (PAYLOAD_STAGE_NAME_FMT) inside a 0700 directory and are
 *    created with openat(O_CREAT|O_EXCL|O_NOFOLLOW): an entry name never
 *    becomes a path, so nothing can be written outside staging. A caller
 *    may instead name each wanted entry's staging path (payload_want.dest:
 *    the engine stages T.setupkit-new beside its final path T, so the
 *    switch is a rename inside one directory); that path comes from the
 *    caller, never from the archive.
 *  - On any failure payload_extract unlinks exactly the files it created.
 *  - Memory: one PAYLOAD_BUF_SIZE buffer per call plus one name per entry
 *    (for duplicate detection), bounded by the entry-count limit.
 */
#include "payload.h"
#include "payload_private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>

#include "common/mem.h"
#include "common/os.h"
#include "common/path.h"

/* ---- a set of names (open addressing) ---------------------------------- */

struct nameset {
	char **keys;
	long *vals;
	size_t cap, n;
};

static uint64_t name_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static size_t nameset_slot(char **keys, size_t cap, const char *k)
{
	size_t i = (size_t)name_hash(k) & (cap - 1);

	while (keys[i] && strcmp(keys[i], k) != 0)
		i = (i + 1) & (cap - 1);
	return i;
}

/* 1 and *val when found, else 0. */
static int nameset_find(const struct nameset *s, const char *k, long *val)
{
	size_t i;

	if (!s->cap)
		return 0;
	i = nameset_slot(s->keys, s->cap, k);
	if (!s->keys[i])
		return 0;
	if (val)
		*val = s->vals[i];
	return 1;
}

/* Add a copy of k (must be absent). 0, or -1 on out of memory. */
static int nameset_add(struct nameset *s, const char *k, long val)
{
	size_t i;

	if ((s->n + 1) * 2 > s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 64;
		char **nk = mem_array(ncap, sizeof(*nk));
		long *nv = mem_array(ncap, sizeof(*nv));

		if (!nk || !nv) {
			mem_free(nk);
			mem_free(nv);
			return -1;
		}
		for (size_t j = 0; j < s->cap; j++) {
			if (s->keys[j]) {
				size_t t = nameset_slot(nk, ncap, s->keys[j]);
				nk[t] = s->keys[j];
				nv[t] = s->vals[j];
			}
		}
		mem_free(s->keys);
		mem_free(s->vals);
		s->keys = nk;
		s->vals = nv;
		s->cap = ncap;
	}
	i = nameset_slot(s->keys, s->cap, k);
	s->keys[i] = mem_strdup(k);
	if (!s->keys[i])
		return -1;
	s->vals[i] = val;
	s->n++;
	return 0;
}

static void nameset_free(struct nameset *s)
{
	for (size_t i = 0; i < s->cap; i++)
		mem_free(s->keys[i]);
	mem_free(s->keys);
	mem_free(s->vals);
	memset(s, 0, sizeof(*s));
}

/* ---- names ------------------------------------------------------------- */

const char *payload_name_check(char *name)
{
	size_t len;

	if (!name || !*name)
		return "empty name";
	if (((name[0] >= 'A' && name[0] <= 'Z') || (name[0] >= 'a' && name[0] <= 'z')) &&
	    name[1] == ':')
		return "drive letter (absolute Windows path)";
	if ((name[0] == '\\' || name[0] == '/') && (name[1] == '\\' || name[1] == '/'))
		return "UNC or network path";
	for (char *p = name; *p; p++)
		if (*p == '\\')
			*p = '/';
	if (name[0] == '/')
		return "absolute path";
	len = strlen(name);
	if (len > 1 && name[len - 1] == '/')
		name[len - 1] = '\0';
	for (const char *p = name; *p;) {
		const char *seg = p;

		while (*p && *p != '/')
			p++;
		if (p - seg == 2 && seg[0] == '.' && seg[1] == '.')
			return "'..' component";
		if (*p)
			p++;
	}
	if (!path_is_clean_relative(name))
		return "empty or '.' component, or control character";
	return NULL;
}

int payload_link_inside(const char *name, const char *target)
{
	long depth = 0;
	const char *p;

	if (!target || !*target || target[0] == '/')
		return 0;
	for (p = name; *p; p++)
		if (*p == '/')
			depth++;
	for (p = target; *p;) {
		const char *seg = p;
		size_t n;

		while (*p && *p != '/')
			p++;
		n = (size_t)(p - seg);
		if (n == 2 && seg[0] == '.' && seg[1] == '.') {
			if (--depth < 0)
				return 0;
		} else if (n > 0 && !(n == 1 && seg[0] == '.')) {
			depth++;
		}
		if (*p)
			p++;
	}
	return 1;
}

int payload_link_is_inside(const char *link_path, const char *target)
{
	return link_path && path_is_clean_relative(link_path) && payload_link_inside(link_path, target);
}

/* ---- the reader -------------------------------------------------------- */

struct payload_reader {
	struct archive *a;
	int fd;                 /* the archive, owned here (-1: none) */
	char *path;
	uint64_t max_entries;
	uint64_t nentries;
	char *name;             /* current entry, normalised */
	char *target;           /* current symlink target */
	struct nameset seen;
};

int payload_open(const char *archive_path, const struct payload_limits *lim,
		 struct payload_reader **out, struct err *e)
{
	struct payload_reader *r;

	*out = NULL;
	r = mem_zalloc(sizeof(*r));
	if (!r)
		return err_nomem(e, "opening an archive");
	r->fd = -1;
	r->path = mem_strdup(archive_path);
	r->a = archive_read_new();
	if (!r->path || !r->a) {
		payload_close(r);
		return err_nomem(e, "opening an archive");
	}
	r->max_entries = lim && lim->max_entries ? lim->max_entries : PAYLOAD_DEFAULT_MAX_ENTRIES;
	archive_read_support_filter_gzip(r->a);
	archive_read_support_filter_xz(r->a);
	archive_read_support_filter_zstd(r->a);
	archive_read_support_filter_bzip2(r->a);
	archive_read_support_format_tar(r->a);
	archive_read_support_format_zip(r->a);
	archive_read_support_format_7zip(r->a);
	archive_read_support_format_cab(r->a);
	/* Open it ourselves: O_NONBLOCK so a FIFO planted on media cannot hang
	 * us, and only a regular file is read (libarchive seeks in it). */
	r->fd = os_open(archive_path, OS_O_RDONLY | OS_O_NONBLOCK, 0);
	if (r->fd < 0) {
		err_errno(e, "cannot open payload archive '%s'", archive_path);
		payload_close(r);
		return -1;
	}
	{
		struct stat st;

		if (fstat(r->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
			err_set(e, ERR_CLASS_MEDIA, "payload archive '%s' is not a regular file", archive_path);
			payload_close(r);
			return -1;
		}
	}
	if (archive_read_open_fd(r->a, r->fd, PAYLOAD_BUF_SIZE) != ARCHIVE_OK) {
		err_set(e, ERR_CLASS_MEDIA, "cannot open payload archive '%s': %s "
			"(a zip, tar.gz, tar.xz, tar.zst, 7z or cab archive was expected)",
			archive_path, archive_error_string(r->a));
		payload_close(r);
		return -1;
	}
	*out = r;
	return 0;
}

void payload_close(struct payload_reader *r)
{
	if (!r)
		return;
	if (r->a)
		archive_read_free(r->a);
	if (r->fd >= 0)
		close(r->fd);
	nameset_free(&r->seen);
	mem_free(r->name);
	mem_free(r->target);
	mem_free(r->path);
	mem_free(r);
}

/* s with control and non-ASCII bytes shown as \xNN, for messages (names
 * from media must not drive the user's terminal). Returns buf. */
static const char *shown(const char *s, char *buf, size_t n)
{
	size_t o = 0;

	for (; s && *s && o + 5 < n; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c >= 0x7f)
			o += (size_t)snprintf(buf + o, n - o, "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	buf[o] = '\0';
	return buf;
}

static const char *type_name(unsigned t)
{
	switch (t) {
	case AE_IFCHR:  return "character device";
	case AE_IFBLK:  return "block device";
	case AE_IFIFO:  return "FIFO";
	case AE_IFSOCK: return "socket";
	default:        return "entry of unknown type";
	}
}

int payload_entry_next(struct payload_reader *r, struct payload_entry *ent, struct err *e)
{
	struct archive_entry *ae;
	const char *raw, *why;
	char buf[512];
	int rc;

	mem_free(r->name);
	mem_free(r->target);
	r->name = r->target = NULL;
	rc = archive_read_next_header(r->a, &ae);
	if (rc == ARCHIVE_EOF)
		return 0;
	if (rc < ARCHIVE_WARN)
		return err_set(e, ERR_CLASS_MEDIA, "payload archive '%s': cannot read the entry after %llu entries: %s",
			       r->path, (unsigned long long)r->nentries, archive_error_string(r->a));
	if (++r->nentries > r->max_entries)
		return err_set(e, ERR_CLASS_MEDIA, "payload archive '%s': more than %llu entries "
			       "(the limit from the manifest); refusing a possible decompression bomb",
			       r->path, (unsigned long long)r->max_entries);
	raw = archive_entry_pathname(ae);
	if (!raw)
		raw = archive_entry_pathname_utf8(ae);
	if (!raw)
		return err_set(e, ERR_CLASS_MEDIA, "payload archive '%s': entry %llu has no readable name",
			       r->path, (unsigned long long)r->nentries);
	r->name = mem_strdup(raw);
	if (!r->name)
		return err_nomem(e, "reading an archive entry");
	why = payload_name_check(r->name);
	if (why)
		return err_set(e, ERR_CLASS_MEDIA, "payload archive '%s': unsafe entry name '%s': %s",
			       r->path, shown(raw, buf, sizeof(buf)), why);
	if (archive_entry_hardlink(ae))
		return err_set(e, ERR_CLASS_MEDIA, "payload archive '%s': entry '%s' is a hard link to '%s'; "
			       "hard links are not allowed in payloads", r->path, r->name,
			       shown(archive_entry_hardlink(ae), buf, sizeof(buf)));
	memset(ent, 0, sizeof(*ent));
	switch (archive_entry_filetype(ae)) {
	case AE_IFREG:
		ent->type = PAYLOAD_ENTRY_FILE;
		break;
	case AE_IFDIR:
		ent->type = PAYLOAD_ENTRY_DIR;
		break;
	case AE_IFLNK:
		ent->type = PAYLOAD_ENTRY_SYMLINK;
		if (!archive_entry_symlink(ae) || !*archive_entry_symlink(ae))
			return err_set(e, ERR_CLASS_MEDIA, "payload archive '%s': symlink '%s' has no target",
				       r->path, r->name);
		r->target = mem_strdup(archive_entry_symlink(ae));
		if (!r->target)
			return err_nomem(e, "reading an archive entry");
		break;
	default:
		return err_set(e, ERR_CLASS_MEDIA, "payload archive '%s': entry '%s' is a %s; "
			       "only files, directories and declared symlinks are allowed",
			       r->path, r->name, type_name(archive_entry_filetype(ae)));
	}
	if (nameset_find(&r->seen, r->name, NULL))
		return err_set(e, ERR_CLASS_MEDIA, "payload archive '%s': duplicate entry '%s' "
			       "(after normalising '\\' to '/'); a payload must name each file once",
			       r->path, r->name);
	if (nameset_add(&r->seen, r->name, 0) != 0)
		return err_nomem(e, "reading an archive entry");
	ent->name = r->name;
	ent->mode = (unsigned)archive_entry_perm(ae) & 07777u;
	/* CAB has no Unix modes: libarchive reports 0666 (0777 for programs).
	 * That is not a world-writable request; the manifest decides modes. */
	if ((archive_format(r->a) & ARCHIVE_FORMAT_BASE_MASK) == ARCHIVE_FORMAT_CAB)
		ent->mode &= 0755u;
	ent->size = archive_entry_size_is_set(ae) ? (int64_t)archive_entry_size(ae) : -1;
	ent->link_target = r->target;
	return 1;
}

long payload_entry_read(struct payload_reader *r, void *buf, size_t n, struct err *e)
{
	la_ssize_t got = archive_read_data(r->a, buf, n);

	if (got < 0)
		return err_set(e, ERR_CLASS_MEDIA, "payload archive '%s': cannot read entry '%s': %s",
			       r->path, r->name ? r->name : "?", archive_error_string(r->a));
	return (long)got;
}

static int entry_skip(struct payload_reader *r, struct err *e)
{
	if (archive_read_data_skip(r->a) < ARCHIVE_WARN)
		return err_set(e, ERR_CLASS_MEDIA, "payload archive '%s': cannot skip entry '%s': %s",
			       r->path, r->name, archive_error_string(r->a));
	return 0;
}

/* ---- staging ----------------------------------------------------------- */

int payload_staging_create(const char *dir, struct err *e)
{
	if (os_mkdir(dir, 0700) != 0)
		return err_errno(e, "cannot create staging directory '%s'%s", dir,
				 errno == EEXIST ? " (it must not exist yet)" : "");
	return 0;
}

void payload_staged_list_free(struct payload_staged_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++) {
		mem_free(l->items[i].name);
		mem_free(l->items[i].path);
		mem_free(l->items[i].link_target);
	}
	mem_free(l->items);
	l->items = NULL;
	l->n = 0;
}

struct stage_ctx {
	const char *archive;
	const char *dir;
	int dfd;
	unsigned long seq;
	unsigned long call;     /* this call's number in the process */
	unsigned long pid;      /* getpid(), once: not one system call per entry */
	uint64_t total, max_bytes;
	uint64_t skipped;       /* declared bytes of entries not wanted */
	unsigned char *buf;
	struct payload_staged *items;  /* created by this call */
	size_t nitems;
};

/* Create the staged file (or symlink) at dest, replacing whatever a crashed
 * run left there: the caller owns dest's name. */
static int stage_create_at(const char *dest, struct payload_staged *item, const char *archive,
			   const char *link_target, struct err *e)
{
	int fd = 0;

	for (int tries = 0; tries < 2; tries++) {
		if (link_target)
			fd = os_symlink(link_target, dest) == 0 ? 0 : -1;
		else
			fd = os_open(dest, OS_O_WRONLY | OS_O_CREAT | OS_O_EXCL | OS_O_NOFOLLOW, 0600);
		/* Usually nothing is there: no unlink (one lookup) per file. */
		if (fd >= 0 || errno != EEXIST || tries)
			break;
		if (os_unlink(dest) != 0)
			return err_errno(e, "cannot replace the stale '%s' before staging entry '%s' of '%s'",
					 dest, item->name, archive);
	}
	if (fd < 0)
		return err_errno(e, "cannot create '%s' for entry '%s' of '%s'", dest, item->name, archive);
	item->path = mem_strdup(dest);
	if (!item->path) {
		if (fd > 0)
			close(fd);
		os_unlink(dest);
		return err_nomem(e, "staging an entry");
	}
	return fd;
}

/* Make a fresh staging name (or use w->dest); creates it, a file or a
 * symlink. Returns the fd for files (or 0 for symlinks) and fills
 * item->path; -1 on error. */
static int stage_create(struct stage_ctx *c, const struct payload_want *w, struct payload_staged *item,
			const char *link_target, struct err *e)
{
	char name[64];

	if (w->dest)
		return stage_create_at(w->dest, item, c->archive, link_target, e);
	for (int tries = 0; tries < 100000; tries++) {
		int fd = 0;

		snprintf(name, sizeof(name), PAYLOAD_STAGE_NAME_FMT, c->pid, c->call, c->seq++);
		if (link_target) {
			if (os_symlink_at(link_target, c->dfd, c->dir, name) != 0)
				fd = -1;
		} else {
			fd = os_open_at(c->dfd, c->dir, name, OS_O_WRONLY | OS_O_CREAT | OS_O_EXCL | OS_O_NOFOLLOW, 0600);
		}
		if (fd < 0 && errno == EEXIST)
			continue;
		if (fd < 0)
			return err_errno(e, "cannot create staging file '%s/%s' for entry '%s' of '%s'",
					 c->dir, name, item->name, c->archive);
		item->path = path_join(c->dir, name);
		if (!item->path) {
			if (fd > 0)
				close(fd);
			os_unlink_at(c->dfd, c->dir, name);
			return err_nomem(e, "staging an entry");
		}
		return fd;
	}
	return err_set(e, ERR_CLASS_IO, "cannot find a free staging file name in '%s'", c->dir);
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int stage_file(struct stage_ctx *c, struct payload_reader *r,
		      const struct payload_entry *ent, const struct payload_want *w,
		      struct payload_staged *item, struct err *e)
{
	EVP_MD_CTX *md = NULL;
	unsigned char dg[EVP_MAX_MD_SIZE];
	unsigned int dglen = 0;
	uint64_t written = 0;
	int fd, rc = -1;

	if (ent->size >= 0 && (uint64_t)ent->size > w->size)
		return err_set(e, ERR_CLASS_MEDIA, "payload archive '%s': entry '%s' is larger than declared: "
			       "expected %llu bytes, the archive says %lld", c->archive, ent->name,
			       (unsigned long long)w->size, (long long)ent->size);
	if (ent->size >= 0 && c->total + (uint64_t)ent->size > c->max_bytes)
		return err_set(e, ERR_CLASS_MEDIA, "payload archive '%s': entry '%s' would take the output "
			       "over the limit of %llu bytes; refusing a possible decompression bomb",
			       c->archive, ent->name, (unsigned long long)c->max_bytes);
	fd = stage_create(c, w, item, NULL, e);
	if (fd < 0)
		return -1;
	/* STATE: an empty staging file exists at item->path; the caller's list
	 * already holds item, so a failure below unlinks it. */
	md = EVP_MD_CTX_new();
	if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
		err_nomem(e, "hashing an entry");
		goto out;
	}
	for (;;) {
		long got = payload_entry_read(r, c->buf, PAYLOAD_BUF_SIZE, e);

		if (got < 0)
			goto out;
		if (got == 0)
			break;
		if (written + (uint64_t)got > w->size) {
			err_set(e, ERR_CLASS_MEDIA, "payload archive '%s': entry '%s' is larger than declared: "
				"expected %llu bytes, got more than %llu; stopped", c->archive, ent->name,
				(unsigned long long)w->size, (unsigned long long)w->size);
			goto out;
		}
		if (c->total + (uint64_t)got > c->max_bytes) {
			err_set(e, ERR_CLASS_MEDIA, "payload archive '%s': entry '%s' takes the output over the "
				"limit of %llu bytes; refusing a possible decompression bomb",
				c->archive, ent->name, (unsigned long long)c->max_bytes);
			goto out;
		}
		if (write_all(fd, c->buf, (size_t)got) != 0) {
			err_errno(e, "cannot write staging file '%s' for entry '%s' of '%s'",
				  item->path, ent->name, c->archive);
			goto out;
		}
		EVP_DigestUpdate(md, c->buf, (size_t)got);
		written += (uint64_t)got;
		c->total += (uint64_t)got;
	}
	if (!EVP_DigestFinal_ex(md, dg, &dglen)) {
		err_set(e, ERR_CLASS_INTERNAL, "cannot finish SHA-256 of entry '%s'", ent->name);
		goto out;
	}
	payload_hex(dg, dglen, item->sha256);
	item->size = written;
	if (written != w->size) {
		err_set(e, ERR_CLASS_MEDIA, "payload archive '%s': entry '%s' has the wrong size: "
			"expected %llu bytes, got %llu", c->archive, ent->name,
			(unsigned long long)w->size, (unsigned long long)written);
		goto out;
	}
	if (!w->sha256 || strcmp(w->sha256, item->sha256) != 0) {
		err_set(e, ERR_CLASS_MEDIA, "payload archive '%s': entry '%s' fails verification: "
			"expected SHA-256 %s, got %s; the media is damaged or was altered",
			c->archive, ent->name, w->sha256 ? w->sha256 : "(none declared)", item->sha256);
		goto out;
	}
	if (w->mode && os_fchmod(fd, (int)(w->mode & 07777)) != 0) {
		err_errno(e, "cannot set the mode of staging file '%s' for entry '%s'", item->path, ent->name);
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		err_errno(e, "cannot write staging file '%s' for entry '%s'", item->path, ent->name);
		goto out;
	}
	fd = -1;
	rc = 0;
out:
	EVP_MD_CTX_free(md);
	if (fd >= 0)
		close(fd);
	return rc;
}

static int stage_symlink(struct stage_ctx *c, const struct payload_entry *ent,
			 const struct payload_want *w, struct payload_staged *item, struct err *e)
{
	char buf[512];

	if (!(w->flags & PAYLOAD_WANT_SYMLINK))
		return err_set(e, ERR_CLASS_MEDIA, "payload archive '%s': entry '%s' is a symlink to '%s', "
			       "but the manifest declares a file", c->archive, ent->name,
			       shown(ent->link_target, buf, sizeof(buf)));
	if (!payload_link_inside(ent->name, ent->link_target))
		return err_set(e, ERR_CLASS_MEDIA, "payload archive '%s': symlink '%s' points to '%s', "
			       "outside the component's destination", c->archive, ent->name,
			       shown(ent->link_target, buf, sizeof(buf)));
	if (w->link_target && strcmp(w->link_target, ent->link_target) != 0)
		return err_set(e, ERR_CLASS_MEDIA, "payload archive '%s': symlink '%s' points to '%s', "
			       "expected '%s'", c->archive, ent->name, shown(ent->link_target, buf, sizeof(buf)),
			       w->link_target);
	item->link_target = mem_strdup(ent->link_target);
	if (!item->link_target)
		return err_nomem(e, "staging a symlink");
	if (stage_create(c, w, item, ent->link_target, e) < 0)
		return -1;
	return 0;
}

static void stage_undo(struct stage_ctx *c)
{
	for (size_t i = 0; i < c->nitems; i++) {
		if (c->items[i].path)
			os_unlink(c->items[i].path);
		mem_free(c->items[i].name);
		mem_free(c->items[i].path);
		mem_free(c->items[i].link_target);
	}
	c->nitems = 0;
}

static int open_staging(const char *dir, struct err *e)
{
	int dfd = os_dir_open(dir), priv;

	if (dfd < 0)
		return err_errno(e, "cannot open staging directory '%s'", dir);
	priv = os_dir_is_private(dfd);
	if (priv < 0) {
		err_errno(e, "cannot stat staging directory '%s'", dir);
		close(dfd);
		return -1;
	}
	if (!priv) {
		close(dfd);
		return err_set(e, ERR_CLASS_IO, "staging directory '%s' is not private: it must belong to "
			       "us and have mode 0700 (create it with payload_staging_create)", dir);
	}
	return dfd;
}

int payload_extract(const char *archive_path, const char *staging_dir,
		    const struct payload_want *wants, size_t nwants,
		    const struct payload_limits *lim,
		    struct payload_staged_list *out, struct err *e)
{
	struct stage_ctx c;
	struct nameset want_ix = {0};
	struct payload_reader *r = NULL;
	struct payload_entry ent;
	unsigned char *found = NULL;
	size_t nfound = 0;
	int rc = -1, got;

	static unsigned long calls;   /* names only; a race costs an EEXIST retry */

	memset(&c, 0, sizeof(c));
	c.call = ++calls;
	c.pid = (unsigned long)os_getpid();
	c.dfd = -1;
	c.archive = archive_path;
	c.dir = staging_dir;
	c.max_bytes = lim && lim->max_bytes ? lim->max_bytes : PAYLOAD_DEFAULT_MAX_BYTES;

	/* The wanted names, checked like entry names. */
	for (size_t i = 0; i < nwants; i++) {
		char *n = mem_strdup(wants[i].name);
		const char *why;

		if (!n) {
			err_nomem(e, "preparing an extraction");
			goto out;
		}
		why = payload_name_check(n);
		if (why || nameset_find(&want_ix, n, NULL)) {
			err_set(e, ERR_CLASS_INPUT, "cannot extract '%s' from '%s': %s", wants[i].name,
				archive_path, why ? why : "the name is asked for twice");
			mem_free(n);
			goto out;
		}
		if (nameset_add(&want_ix, n, (long)i) != 0) {
			mem_free(n);
			err_nomem(e, "preparing an extraction");
			goto out;
		}
		mem_free(n);
	}
	found = mem_zalloc(nwants + 1);
	c.items = mem_array(nwants + 1, sizeof(*c.items));
	c.buf = mem_alloc(PAYLOAD_BUF_SIZE);
	if (!found || !c.items || !c.buf) {
		err_nomem(e, "preparing an extraction");
		goto out;
	}
	if (staging_dir) {
		c.dfd = open_staging(staging_dir, e);
		if (c.dfd < 0)
			goto out;
	} else {
		for (size_t i = 0; i < nwants; i++)
			if (!wants[i].dest) {
				err_set(e, ERR_CLASS_INTERNAL, "cannot extract '%s' from '%s': no staging directory and no destination",
					wants[i].name, archive_path);
				goto out;
			}
	}
	if (payload_open(archive_path, lim, &r, e) != 0)
		goto out;

	while ((got = payload_entry_next(r, &ent, e)) == 1) {
		const struct payload_want *w;
		struct payload_staged *item;
		long ix;

		if (!nameset_find(&want_ix, ent.name, &ix)) {
			/* Skipped entries still count against the byte limit
			 * (by their declared size): libarchive decompresses
			 * them to skip them, so a bomb costs time even unread. */
			if (ent.size > 0) {
				c.skipped += (uint64_t)ent.size;
				if (c.skipped > c.max_bytes) {
					err_set(e, ERR_CLASS_MEDIA, "payload archive '%s': entry '%s' takes the "
						"archive over the limit of %llu bytes; refusing a possible "
						"decompression bomb", archive_path, ent.name,
						(unsigned long long)c.max_bytes);
					goto out;
				}
			}
			if (entry_skip(r, e) != 0)
				goto out;
			continue;
		}
		w = &wants[ix];
		found[ix] = 1;
		nfound++;
		if (ent.type == PAYLOAD_ENTRY_DIR) {
			err_set(e, ERR_CLASS_MEDIA, "payload archive '%s': entry '%s' is a directory, "
				"the manifest declares a file", archive_path, ent.name);
			goto out;
		}
		if (ent.type == PAYLOAD_ENTRY_FILE &&
		    (ent.mode & PAYLOAD_MODE_SPECIAL) && !(w->flags & PAYLOAD_WANT_SPECIAL_MODE)) {
			err_set(e, ERR_CLASS_MEDIA, "payload archive '%s': entry '%s' has mode %04o "
				"(setuid, setgid or world-writable), which the manifest does not declare",
				archive_path, ent.name, ent.mode);
			goto out;
		}
		item = &c.items[c.nitems++];
		memset(item, 0, sizeof(*item));
		item->mode = ent.mode;
		item->want = (size_t)ix;
		item->name = mem_strdup(ent.name);
		if (!item->name) {
			err_nomem(e, "staging an entry");
			goto out;
		}
		if (ent.type == PAYLOAD_ENTRY_SYMLINK) {
			if (stage_symlink(&c, &ent, w, item, e) != 0)
				goto out;
		} else if (stage_file(&c, r, &ent, w, item, e) != 0) {
			goto out;
		}
	}
	if (got < 0)
		goto out;
	if (nfound < nwants) {
		for (size_t i = 0; i < nwants; i++) {
			if (!found[i]) {
				err_set(e, ERR_CLASS_MEDIA, "payload archive '%s' has no entry '%s' "
					"(%zu of %zu wanted entries missing); the media is incomplete",
					archive_path, wants[i].name, nwants - nfound, nwants);
				goto out;
			}
		}
	}
	{
		struct payload_staged *ni = mem_realloc_array(out->items, out->n + c.nitems + 1,
							      sizeof(*ni));
		if (!ni) {
			err_nomem(e, "staging entries");
			goto out;
		}
		memcpy(ni + out->n, c.items, c.nitems * sizeof(*ni));
		out->items = ni;
		out->n += c.nitems;
		c.nitems = 0;
	}
	rc = 0;
out:
	if (rc != 0)
		stage_undo(&c);   /* STATE: every file this call created is gone */
	payload_close(r);
	if (c.dfd >= 0)
		close(c.dfd);
	nameset_free(&want_ix);
	mem_free(c.items);
	mem_free(c.buf);
	mem_free(found);
	return rc;
}

int payload_extract_one(const char *archive_path, const char *staging_dir,
			const struct payload_want *want, const struct payload_limits *lim,
			struct payload_staged_list *out, struct err *e)
{
	return payload_extract(archive_path, staging_dir, want, 1, lim, out, e);
}
