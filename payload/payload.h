/*
 * payload.h - install media and payload archives: read an archive as a
 * stream and stage the entries a caller asks for (hashed while written,
 * unsafe entries rejected), hash files, sign and verify with Ed25519, write
 * payload archives deterministically, open a media directory.
 *
 * libarchive and libcrypto live behind this header: their errors are
 * translated into struct err (class ERR_CLASS_MEDIA for bad media or
 * signatures, ERR_CLASS_IO for the system, ERR_CLASS_NOMEM).
 *
 * Traps: an archive is read exactly once, front to back (memory does not
 * grow with payload size; it grows only with the number of entry names).
 * libarchive's disk writer is never used: every byte reaching the disk goes
 * through payload_extract(), which creates files only inside the staging
 * directory with O_CREAT|O_EXCL|O_NOFOLLOW. Staged files have mode 0600 and
 * are not fsynced: the caller applies the manifest's mode and makes a whole
 * batch durable at once (syncfs) before renaming, per BENCHMARKS.md.
 */
#ifndef SETUPKIT_PAYLOAD_H
#define SETUPKIT_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* ---- constants ---------------------------------------------------------- */

#define PAYLOAD_BUF_SIZE          (64u * 1024)  /* one copy buffer per call */
#define PAYLOAD_SHA256_HEX        65            /* 64 hex digits + NUL */
#define PAYLOAD_SIG_BYTES         64            /* raw Ed25519 signature */
#define PAYLOAD_KEY_MAX_BYTES     (16u * 1024)  /* a PEM key file */
/* Largest file we sign or verify (Ed25519 signs the whole message at once);
 * equals MANIFEST_MAX_FILE_BYTES, checked where both headers meet. */
#define PAYLOAD_SIGNED_MAX_BYTES  (64u * 1024 * 1024)

/* On-disk names. */
#define PAYLOAD_KEY_SUFFIX        ".key"        /* PEM PKCS#8 private key */
#define PAYLOAD_PUB_SUFFIX        ".pub"        /* PEM SubjectPublicKeyInfo */
#define PAYLOAD_SIG_SUFFIX        ".sig"        /* detached raw signature */
/* Staging file names: <pid hex>-<call hex>-<entry number>.stage, so calls
 * that share a staging directory never probe each other's names. */
#define PAYLOAD_STAGE_NAME_FMT    "%lx-%lx-%06lu.stage"
#define PAYLOAD_TMP_SUFFIX        ".payload-tmp"/* archive being written */

/* Defaults when the caller passes no limits (decompression bombs). */
#define PAYLOAD_DEFAULT_MAX_ENTRIES  1000000ull
#define PAYLOAD_DEFAULT_MAX_BYTES    (64ull << 30)

/* ---- hashing ------------------------------------------------------------ */

struct payload_hash {
	uint64_t size;
	char sha256[PAYLOAD_SHA256_HEX];   /* lowercase hex */
};

/* Hash a file on disk (size and SHA-256) with a fixed buffer; O_NOFOLLOW. */
int payload_hash_file(const char *path, struct payload_hash *out, struct err *e);
/* SHA-256 of a buffer as lowercase hex into hex[PAYLOAD_SHA256_HEX]. */
int payload_hash_buffer(const void *data, size_t n, char *hex, struct err *e);

/* ---- reading archives --------------------------------------------------- */

struct payload_limits {
	uint64_t max_entries;   /* entries of any kind in the archive; 0: default */
	uint64_t max_bytes;     /* bytes written to staging, and (separately)
				 * declared bytes of skipped entries; 0: default.
				 * Use the manifest's payload `unpacked`. */
};

enum payload_entry_type {
	PAYLOAD_ENTRY_FILE = 1,
	PAYLOAD_ENTRY_DIR,
	PAYLOAD_ENTRY_SYMLINK,
};

/* One entry as payload_entry_next() saw it; strings borrowed until the next
 * call. The name is normalised ('\\' -> '/', trailing '/' of a dir dropped)
 * and already checked to be a clean relative path and not a duplicate. */
struct payload_entry {
	const char *name;
	enum payload_entry_type type;
	unsigned mode;          /* permission bits incl. setuid/setgid/sticky */
	int64_t size;           /* -1 when the archive does not say */
	const char *link_target;/* symlinks only */
};

struct payload_reader;

/* Open an archive (zip, tar[.gz|.xz|.zst|.bz2], 7z, cab) for one pass.
 * *out owns the reader (payload_close). */
int payload_open(const char *archive_path, const struct payload_limits *lim,
		 struct payload_reader **out, struct err *e);
/* Next entry: 1 and *ent filled, 0 at the end, -1 on error (unsafe name,
 * duplicate, device/FIFO/socket/hard link, too many entries, bad archive). */
int payload_entry_next(struct payload_reader *r, struct payload_entry *ent, struct err *e);
/* Read the current entry's data: bytes read, 0 at its end, -1 on error. */
long payload_entry_read(struct payload_reader *r, void *buf, size_t n, struct err *e);
void payload_close(struct payload_reader *r);   /* NULL-safe */

/* Declarations per wanted entry (from the media manifest). */
#define PAYLOAD_WANT_SYMLINK      0x01  /* the entry may be a symlink */
#define PAYLOAD_WANT_SPECIAL_MODE 0x02  /* setuid/setgid/world-writable allowed */

struct payload_want {
	const char *name;       /* entry name, '/'-separated */
	uint64_t size;          /* files: expected size */
	const char *sha256;     /* files: expected lowercase hex */
	unsigned flags;         /* PAYLOAD_WANT_* */
	const char *link_target;/* symlinks: expected target, or NULL: any that
				 * stays inside the component's destination */
	const char *dest;       /* NULL: staged under a fresh name in the
				 * staging directory; else staged at exactly
				 * this path (its directory must exist; a file
				 * already there is replaced): the engine's
				 * T.setupkit-new beside the final path T */
	unsigned mode;          /* files: nonzero sets these permission bits
				 * before the file is closed; 0 leaves 0600 */
};

struct payload_staged {
	char *name;             /* entry name (normalised) */
	char *path;             /* staging path (PAYLOAD_STAGE_NAME_FMT) */
	uint64_t size;
	char sha256[PAYLOAD_SHA256_HEX];
	unsigned mode;          /* mode the archive gave (permission bits) */
	char *link_target;      /* non-NULL: staged as a symlink */
	size_t want;            /* index of the payload_want it satisfies */
};

struct payload_staged_list {
	struct payload_staged *items;   /* in archive order */
	size_t n;
};

/* Create a private staging directory (mkdir 0700; it must not exist). The
 * caller picks the place: on the destination's filesystem. */
int payload_staging_create(const char *dir, struct err *e);

/*
 * Stream archive_path once and stage every wanted entry into staging_dir
 * (an existing directory of ours with mode 0700), or at its want's dest
 * (staging_dir may be NULL when every want has one), checking each against its
 * declared size and SHA-256 while it is written. Unwanted entries are
 * skipped but their names and types are still checked. On success *out
 * (zeroed by the caller or fresh) receives the staged files; the caller
 * owns them (payload_staged_list_free, which does not delete files).
 * On failure every file this call created is removed, *out is untouched,
 * and e names the entry, the archive, and expected vs actual.
 */
int payload_extract(const char *archive_path, const char *staging_dir,
		    const struct payload_want *wants, size_t nwants,
		    const struct payload_limits *lim,
		    struct payload_staged_list *out, struct err *e);
/* One named entry; a convenience over payload_extract. */
int payload_extract_one(const char *archive_path, const char *staging_dir,
			const struct payload_want *want, const struct payload_limits *lim,
			struct payload_staged_list *out, struct err *e);
void payload_staged_list_free(struct payload_staged_list *l);   /* NULL-safe */

/* True when a symlink at relative path link_path (e.g. its destination
 * below the component's directory) with this target stays inside that
 * directory, judged lexically; absolute targets are outside. The engine
 * repeats this check against the real destination. */
int payload_link_is_inside(const char *link_path, const char *target);

/* ---- signatures (Ed25519) ----------------------------------------------- */

/* Write NAME.key (mode 0600) and NAME.pub; neither may exist. */
int payload_key_generate(const char *name, struct err *e);
/* Sign file (at most PAYLOAD_SIGNED_MAX_BYTES) into sig_path (replaced). */
int payload_sign_file(const char *file, const char *key_path, const char *sig_path,
		      struct err *e);
/* Verify file + detached signature against one public key file. */
int payload_verify_file(const char *file, const char *sig_path, const char *pub_path,
			struct err *e);
/* <root>/SK_TRUSTED_KEYS_DIR (root NULL or "" = "/"); allocated, NULL on OOM. */
char *payload_trusted_keys_dir(const char *root);
/* Verify against every *.pub in keys_dir (e.g. <root>/SK_TRUSTED_KEYS_DIR);
 * succeeds when one verifies. When used is not NULL it receives an
 * allocated copy of the key path that verified. */
int payload_verify_file_trusted(const char *file, const char *sig_path,
				const char *keys_dir, char **used, struct err *e);

/* ---- writing archives --------------------------------------------------- */

enum payload_format {
	PAYLOAD_FORMAT_TAR_ZST = 0,   /* default */
	PAYLOAD_FORMAT_TAR_GZ,
	PAYLOAD_FORMAT_ZIP,
	PAYLOAD_FORMAT_7Z,            /* for tests and interchange */
	PAYLOAD_FORMAT_TAR,           /* uncompressed (benchmarks) */
};

/* "tar.zst" etc., and back; -1 for an unknown name. */
const char *payload_format_ext(enum payload_format f);
int payload_format_parse(const char *s);

struct payload_source {
	const char *name;       /* entry name: clean relative path */
	const char *path;       /* file to pack (NULL for a symlink) */
	unsigned mode;          /* permission bits */
	const char *link_target;/* non-NULL: a symlink entry */
};

/*
 * Write a deterministic archive: entries sorted by name, mtime fixed to
 * `mtime` (0 or SOURCE_DATE_EPOCH), owner root:root (0:0). The archive is
 * written to out_path + PAYLOAD_TMP_SUFFIX and renamed into place; on
 * failure nothing is left. Same inputs give the same bytes.
 */
int payload_archive_write(const char *out_path, enum payload_format format,
			  const struct payload_source *src, size_t n, int64_t mtime,
			  struct err *e);

/* ---- media directory ---------------------------------------------------- */

struct payload_media {
	char *dir;
	char *manifest_path;    /* SK_MEDIA_MANIFEST or SK_SP_MANIFEST */
	char *signature_path;   /* its .sig (may not exist) */
	int is_sp;              /* 1: service-pack media */
	int has_signature;
};

/* Open a media directory (read-only is fine): finds the manifest. */
int payload_media_open(const char *dir, struct payload_media **out, struct err *e);
/* dir/name for a clean relative name; NULL (and e set) otherwise. */
char *payload_media_path(const struct payload_media *m, const char *name, struct err *e);
/*
 * Verify the manifest's signature: with pub_path when given, else with
 * trusted_dir; with allow_unsigned a missing signature is a WARN (returns 0
 * with e->status == ERR_WARN), a bad one is still an error.
 */
int payload_media_verify(const struct payload_media *m, const char *pub_path,
			 const char *trusted_dir, int allow_unsigned, struct err *e);
void payload_media_free(struct payload_media *m);

#endif
