/*
 * test_payload_read.c - payload archives: round trips through every format
 * (write with payload_archive_write, or gcab for CAB, then stage and
 * verify), determinism, and every rejection with a hostile archive built
 * here with libarchive's write side. Each rejection asserts the message,
 * that staging holds nothing from the failed call, and that nothing
 * appeared next to it (a sentinel directory and the test dir's listing).
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

#include <archive.h>
#include <archive_entry.h>

#include "common/err.h"
#include "common/mem.h"
#include "payload/payload.h"
#include "testutil.h"

struct fx {
	char *dir;      /* fresh temporary directory */
	char *stage;    /* dir/stage (0700, payload_staging_create) */
	char *sentinel; /* dir/sentinel: must stay empty */
	char *arc;      /* dir/a.<ext> */
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct err e;

	f->dir = tu_tmpdir();
	assert_true(asprintf(&f->stage, "%s/stage", f->dir) > 0);
	assert_true(asprintf(&f->sentinel, "%s/sentinel", f->dir) > 0);
	assert_int_equal(payload_staging_create(f->stage, &e), 0);
	assert_int_equal(mkdir(f->sentinel, 0755), 0);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	tu_tmpdir_remove(f->dir);
	free(f->stage);
	free(f->sentinel);
	free(f->arc);
	free(f);
	return 0;
}

/* ---- hostile archive builder ------------------------------------------- */

enum { H_FILE, H_DIR, H_LINK, H_HARD, H_CHR, H_BLK, H_FIFO };

struct hent {
	const char *name;
	int type;
	unsigned mode;
	const char *data;   /* file content, or link target */
};

/* fmt: "tar", "tar.gz", "tar.xz", "zip" */
static void mk_archive(const char *path, const char *fmt, const struct hent *h, size_t n)
{
	struct archive *a = archive_write_new();
	struct archive_entry *ae = archive_entry_new();

	if (strcmp(fmt, "zip") == 0) {
		assert_int_equal(archive_write_set_format_zip(a), ARCHIVE_OK);
	} else {
		assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
		if (strcmp(fmt, "tar.gz") == 0)
			assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
		if (strcmp(fmt, "tar.xz") == 0)
			assert_int_equal(archive_write_add_filter_xz(a), ARCHIVE_OK);
	}
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		size_t len = h[i].type == H_FILE && h[i].data ? strlen(h[i].data) : 0;

		archive_entry_clear(ae);
		archive_entry_copy_pathname(ae, h[i].name);
		archive_entry_set_perm(ae, h[i].mode ? h[i].mode : 0644);
		archive_entry_set_size(ae, (la_int64_t)len);
		switch (h[i].type) {
		case H_FILE: archive_entry_set_filetype(ae, AE_IFREG); break;
		case H_DIR:  archive_entry_set_filetype(ae, AE_IFDIR); break;
		case H_LINK: archive_entry_set_filetype(ae, AE_IFLNK);
			     archive_entry_copy_symlink(ae, h[i].data); break;
		case H_HARD: archive_entry_set_filetype(ae, AE_IFREG);
			     archive_entry_copy_hardlink(ae, h[i].data); break;
		case H_CHR:  archive_entry_set_filetype(ae, AE_IFCHR);
			     archive_entry_set_rdev(ae, 0x0103); break;
		case H_BLK:  archive_entry_set_filetype(ae, AE_IFBLK);
			     archive_entry_set_rdev(ae, 0x0801); break;
		case H_FIFO: archive_entry_set_filetype(ae, AE_IFIFO); break;
		}
		assert_true(archive_write_header(a, ae) >= ARCHIVE_WARN);
		if (len)
			assert_int_equal(archive_write_data(a, h[i].data, len), (la_ssize_t)len);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	archive_entry_free(ae);
}

static void sha_of(const char *s, char *hex)
{
	struct err e;

	assert_int_equal(payload_hash_buffer(s, strlen(s), hex, &e), 0);
}

#define OK_DATA "good file\n"

/* Build an archive at f->arc and try to stage `wants`; expect failure with
 * `msg` in the message, the archive named, and nothing left anywhere. */
static void expect_reject_lim(struct fx *f, const char *fmt, const struct hent *h, size_t n,
			      const struct payload_want *w, size_t nw,
			      const struct payload_limits *lim, const char *msg)
{
	struct payload_staged_list out = {0};
	struct err e;

	free(f->arc);
	assert_true(asprintf(&f->arc, "%s/a.%s", f->dir, fmt) > 0);
	unlink(f->arc);
	mk_archive(f->arc, fmt, h, n);
	err_clear(&e);
	assert_int_equal(payload_extract(f->arc, f->stage, w, nw, lim, &out, &e), -1);
	if (!strstr(e.msg, msg))
		fail_msg("expected '%s' in: %s", msg, e.msg);
	if (!strstr(e.msg, f->arc) && e.cls != ERR_CLASS_INPUT)
		fail_msg("archive not named in: %s", e.msg);
	assert_int_equal(e.cls, ERR_CLASS_MEDIA);
	assert_int_equal(out.n, 0);
	assert_null(out.items);
	assert_int_equal(tu_count_entries(f->stage), 0);
	assert_int_equal(tu_count_entries(f->sentinel), 0);
	/* dir holds exactly: stage, sentinel (once the archive is gone) */
	assert_int_equal(unlink(f->arc), 0);
	assert_int_equal(tu_count_entries(f->dir), 2);
}

static void expect_reject(struct fx *f, const char *fmt, const struct hent *h, size_t n,
			  const struct payload_want *w, size_t nw, const char *msg)
{
	expect_reject_lim(f, fmt, h, n, w, nw, NULL, msg);
}

/* ok.txt first (so something is staged before the failure), then `bad`. */
static void reject_name(void **state, const char *fmt, struct hent bad, const char *msg)
{
	struct fx *f = *state;
	char hex[PAYLOAD_SHA256_HEX];
	struct hent h[2] = { { "ok.txt", H_FILE, 0644, OK_DATA }, bad };
	struct payload_want w = { "ok.txt", sizeof(OK_DATA) - 1, hex, 0, NULL, NULL, 0 };

	sha_of(OK_DATA, hex);
	expect_reject(f, fmt, h, 2, &w, 1, msg);
}

static void test_reject_absolute(void **s)
{
	reject_name(s, "tar", (struct hent){ "/tmp/evil", H_FILE, 0644, "x" }, "absolute path");
	reject_name(s, "zip", (struct hent){ "/tmp/evil", H_FILE, 0644, "x" }, "absolute path");
}

static void test_reject_drive_letter(void **s)
{
	reject_name(s, "tar", (struct hent){ "C:\\Windows\\evil.dll", H_FILE, 0644, "x" }, "drive letter");
	reject_name(s, "zip", (struct hent){ "c:evil", H_FILE, 0644, "x" }, "drive letter");
}

static void test_reject_unc(void **s)
{
	reject_name(s, "tar", (struct hent){ "\\\\host\\share\\x", H_FILE, 0644, "x" }, "UNC");
	reject_name(s, "tar", (struct hent){ "//host/share/x", H_FILE, 0644, "x" }, "UNC");
}

static void test_reject_dotdot(void **s)
{
	reject_name(s, "tar", (struct hent){ "../escape", H_FILE, 0644, "x" }, "'..' component");
	reject_name(s, "tar", (struct hent){ "a/../../escape", H_FILE, 0644, "x" }, "'..' component");
	reject_name(s, "zip", (struct hent){ "a\\..\\..\\escape", H_FILE, 0644, "x" }, "'..' component");
	reject_name(s, "tar", (struct hent){ "..", H_DIR, 0755, NULL }, "'..' component");
}

static void test_reject_empty_and_dot_components(void **s)
{
	reject_name(s, "tar", (struct hent){ "a//b", H_FILE, 0644, "x" }, "empty or '.' component");
	reject_name(s, "tar", (struct hent){ "./a", H_FILE, 0644, "x" }, "empty or '.' component");
	reject_name(s, "tar", (struct hent){ "a/./b", H_FILE, 0644, "x" }, "empty or '.' component");
	reject_name(s, "tar", (struct hent){ "a\\\\b", H_FILE, 0644, "x" }, "empty or '.' component");
	reject_name(s, "tar", (struct hent){ "bad\x01name", H_FILE, 0644, "x" }, "control character");
	/* shown escaped: a name from media cannot drive the terminal */
	reject_name(s, "tar", (struct hent){ "x\x1b[2J/../y", H_FILE, 0644, "x" }, "'x\\x1b[2J/../y'");
}

static void test_reject_duplicates(void **s)
{
	reject_name(s, "tar", (struct hent){ "ok.txt", H_FILE, 0644, OK_DATA }, "duplicate entry 'ok.txt'");
	reject_name(s, "zip", (struct hent){ "ok.txt/", H_DIR, 0755, NULL }, "duplicate entry 'ok.txt'");
}

static void test_reject_backslash_duplicate(void **state)
{
	struct fx *f = *state;
	char hex[PAYLOAD_SHA256_HEX];
	struct hent h[3] = { { "ok.txt", H_FILE, 0644, OK_DATA },
			     { "d/f", H_FILE, 0644, "1" }, { "d\\f", H_FILE, 0644, "2" } };
	struct payload_want w = { "ok.txt", sizeof(OK_DATA) - 1, hex, 0, NULL, NULL, 0 };

	sha_of(OK_DATA, hex);
	expect_reject(f, "tar", h, 3, &w, 1, "duplicate entry 'd/f'");
}

static void test_reject_devices_fifo_hardlink(void **s)
{
	reject_name(s, "tar", (struct hent){ "dev/null", H_CHR, 0666, NULL }, "is a character device");
	reject_name(s, "tar", (struct hent){ "dev/sda", H_BLK, 0660, NULL }, "is a block device");
	reject_name(s, "tar", (struct hent){ "pipe", H_FIFO, 0644, NULL }, "is a FIFO");
	reject_name(s, "tar", (struct hent){ "passwd", H_HARD, 0644, "/etc/passwd" }, "hard link");
	reject_name(s, "tar", (struct hent){ "ok2", H_HARD, 0644, "ok.txt" }, "hard link");
	/* Sockets: neither the tar nor the zip writer of libarchive can store
	 * one, so no archive can be built here; payload_entry_next refuses
	 * every type other than file, directory and symlink (type_name()). */
}

static void test_reject_undeclared_symlink(void **state)
{
	struct fx *f = *state;
	struct hent h[2] = { { "ok.txt", H_FILE, 0644, OK_DATA }, { "lib.so", H_LINK, 0777, "ok.txt" } };
	char hex[PAYLOAD_SHA256_HEX];
	struct payload_want w[2] = { { "ok.txt", sizeof(OK_DATA) - 1, hex, 0, NULL, NULL, 0 },
				     { "lib.so", 0, NULL, 0, NULL, NULL, 0 } };

	sha_of(OK_DATA, hex);
	expect_reject(f, "tar", h, 2, w, 2, "is a symlink to 'ok.txt', but the manifest declares a file");
}

static void test_reject_symlink_escaping(void **state)
{
	struct fx *f = *state;
	char hex[PAYLOAD_SHA256_HEX];
	static const char *targets[] = { "/etc/shadow", "../x", "a/../../../x", "d/../../../etc" };

	sha_of(OK_DATA, hex);
	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		struct hent h[2] = { { "ok.txt", H_FILE, 0644, OK_DATA },
				     { "sub/link", H_LINK, 0777, targets[i] } };
		struct payload_want w[2] = { { "ok.txt", sizeof(OK_DATA) - 1, hex, 0, NULL, NULL, 0 },
					     { "sub/link", 0, NULL, PAYLOAD_WANT_SYMLINK, NULL, NULL, 0 } };

		if (i == 1) /* "../x" from sub/ stays inside: accepted */
			continue;
		expect_reject(f, "tar", h, 2, w, 2, "outside the component's destination");
	}
}

static void test_link_is_inside(void **state)
{
	(void)state;
	assert_true(payload_link_is_inside("lib/libx.so", "libx.so.1"));
	assert_true(payload_link_is_inside("lib/libx.so", "../bin/x"));
	assert_true(payload_link_is_inside("a/b/c", "../../d"));
	assert_false(payload_link_is_inside("a/b/c", "../../../d"));
	assert_false(payload_link_is_inside("lib/libx.so", "/usr/lib/libx.so.1"));
	assert_false(payload_link_is_inside("x", "../x"));
	assert_false(payload_link_is_inside("x", ""));
	assert_false(payload_link_is_inside("../x", "y"));
	assert_true(payload_link_is_inside("x", "./y/../z"));
}

static void test_reject_wrong_symlink_target(void **state)
{
	struct fx *f = *state;
	struct hent h[1] = { { "l", H_LINK, 0777, "a" } };
	struct payload_want w = { "l", 0, NULL, PAYLOAD_WANT_SYMLINK, "b", NULL, 0 };

	expect_reject(f, "tar", h, 1, &w, 1, "points to 'a', expected 'b'");
}

static void test_reject_special_modes(void **state)
{
	struct fx *f = *state;
	static const unsigned modes[] = { 04755, 02755, 0666, 0777 };

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		char hex[PAYLOAD_SHA256_HEX];
		struct hent h[2] = { { "ok.txt", H_FILE, 0644, OK_DATA }, { "su", H_FILE, modes[i], "x" } };
		struct payload_want w[2] = { { "ok.txt", sizeof(OK_DATA) - 1, hex, 0, NULL, NULL, 0 },
					     { "su", 1, NULL, 0, NULL, NULL, 0 } };
		char shx[PAYLOAD_SHA256_HEX];

		sha_of(OK_DATA, hex);
		sha_of("x", shx);
		w[1].sha256 = shx;
		expect_reject(f, "tar", h, 2, w, 2, "setuid, setgid or world-writable");
	}
}

static void test_special_mode_declared_is_staged(void **state)
{
	struct fx *f = *state;
	struct hent h[1] = { { "su", H_FILE, 04755, "x" } };
	char hex[PAYLOAD_SHA256_HEX];
	struct payload_want w = { "su", 1, hex, PAYLOAD_WANT_SPECIAL_MODE, NULL, NULL, 0 };
	struct payload_staged_list out = {0};
	struct err e;

	sha_of("x", hex);
	assert_true(asprintf(&f->arc, "%s/a.tar", f->dir) > 0);
	mk_archive(f->arc, "tar", h, 1);
	assert_int_equal(payload_extract_one(f->arc, f->stage, &w, NULL, &out, &e), 0);
	assert_int_equal(out.n, 1);
	assert_int_equal(out.items[0].mode, 04755);
	/* the staging file itself is private: no setuid bit on disk */
	struct stat st;
	assert_int_equal(stat(out.items[0].path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	payload_staged_list_free(&out);
}

/* Two calls (two payloads) into one staging directory. */
static void test_two_calls_share_staging(void **state)
{
	struct fx *f = *state;
	struct hent h[1] = { { "ok.txt", H_FILE, 0644, OK_DATA } };
	char hex[PAYLOAD_SHA256_HEX];
	struct payload_want w = { "ok.txt", sizeof(OK_DATA) - 1, hex, 0, NULL, NULL, 0 };
	struct payload_staged_list out = {0};
	struct err e;

	sha_of(OK_DATA, hex);
	assert_true(asprintf(&f->arc, "%s/a.tar", f->dir) > 0);
	mk_archive(f->arc, "tar", h, 1);
	assert_int_equal(payload_extract_one(f->arc, f->stage, &w, NULL, &out, &e), 0);
	assert_int_equal(payload_extract_one(f->arc, f->stage, &w, NULL, &out, &e), 0);
	assert_int_equal(out.n, 2);
	assert_string_not_equal(out.items[0].path, out.items[1].path);
	assert_int_equal(tu_count_entries(f->stage), 2);
	payload_staged_list_free(&out);
}

static void test_reject_larger_than_declared(void **state)
{
	struct fx *f = *state;
	struct hent h[2] = { { "ok.txt", H_FILE, 0644, OK_DATA }, { "big", H_FILE, 0644, "0123456789" } };
	char hex[PAYLOAD_SHA256_HEX];
	struct payload_want w[2] = { { "ok.txt", sizeof(OK_DATA) - 1, hex, 0, NULL, NULL, 0 },
				     { "big", 4, hex, 0, NULL, NULL, 0 } };

	sha_of(OK_DATA, hex);
	expect_reject(f, "tar", h, 2, w, 2, "entry 'big' is larger than declared: expected 4 bytes");
	expect_reject(f, "zip", h, 2, w, 2, "entry 'big' is larger than declared: expected 4 bytes");
}

static void test_reject_smaller_than_declared(void **state)
{
	struct fx *f = *state;
	struct hent h[1] = { { "small", H_FILE, 0644, "abc" } };
	char hex[PAYLOAD_SHA256_HEX];
	struct payload_want w = { "small", 4, hex, 0, NULL, NULL, 0 };

	sha_of("abc", hex);
	expect_reject(f, "tar", h, 1, &w, 1, "wrong size: expected 4 bytes, got 3");
}

static void test_reject_hash_mismatch(void **state)
{
	struct fx *f = *state;
	struct hent h[2] = { { "ok.txt", H_FILE, 0644, OK_DATA }, { "f", H_FILE, 0644, "evil" } };
	char hex[PAYLOAD_SHA256_HEX], good[PAYLOAD_SHA256_HEX], bad[PAYLOAD_SHA256_HEX], msg[300];
	struct payload_want w[2] = { { "ok.txt", sizeof(OK_DATA) - 1, hex, 0, NULL, NULL, 0 },
				     { "f", 4, good, 0, NULL, NULL, 0 } };

	sha_of(OK_DATA, hex);
	sha_of("good", good);
	sha_of("evil", bad);
	snprintf(msg, sizeof(msg), "entry 'f' fails verification: expected SHA-256 %s, got %s", good, bad);
	expect_reject(f, "tar.gz", h, 2, w, 2, msg);
}

static void test_reject_missing_entry(void **state)
{
	struct fx *f = *state;
	struct hent h[1] = { { "ok.txt", H_FILE, 0644, OK_DATA } };
	char hex[PAYLOAD_SHA256_HEX];
	struct payload_want w[2] = { { "ok.txt", sizeof(OK_DATA) - 1, hex, 0, NULL, NULL, 0 },
				     { "gone", 1, hex, 0, NULL, NULL, 0 } };

	sha_of(OK_DATA, hex);
	expect_reject(f, "tar", h, 1, w, 2, "has no entry 'gone'");
}

static void test_reject_limits(void **state)
{
	struct fx *f = *state;
	struct hent h[3] = { { "ok.txt", H_FILE, 0644, OK_DATA }, { "b", H_FILE, 0644, "bb" },
			     { "c", H_FILE, 0644, "cc" } };
	char hex[PAYLOAD_SHA256_HEX], hb[PAYLOAD_SHA256_HEX], hc[PAYLOAD_SHA256_HEX];
	struct payload_want w[3] = { { "ok.txt", sizeof(OK_DATA) - 1, hex, 0, NULL, NULL, 0 },
				     { "b", 2, hb, 0, NULL, NULL, 0 }, { "c", 2, hc, 0, NULL, NULL, 0 } };
	struct payload_limits few = { 2, 0 }, small = { 0, sizeof(OK_DATA) + 2 };

	sha_of(OK_DATA, hex);
	sha_of("bb", hb);
	sha_of("cc", hc);
	expect_reject_lim(f, "tar", h, 3, w, 3, &few, "more than 2 entries");
	expect_reject_lim(f, "tar", h, 3, w, 3, &small, "over the limit of");
	/* an unwanted bomb entry counts too */
	{
		struct hent hz[2] = { { "ok.txt", H_FILE, 0644, OK_DATA }, { "zz", H_FILE, 0644, "0123456789abcdefXYZ" } };
		struct payload_limits tiny = { 0, 16 };

		expect_reject_lim(f, "tar.gz", hz, 2, w, 1, &tiny, "entry 'zz' takes the archive over the limit of 16 bytes");
	}
}

/* An entry declared 1 KiB that expands to 10 MiB: refused from its header
 * (tar) or after the first buffer (zip read as a stream), never written. */
static void test_bomb_stopped_early(void **state)
{
	struct fx *f = *state;
	size_t big = 10u << 20;
	char *zeros = calloc(1, big + 1);
	char hex[PAYLOAD_SHA256_HEX];
	struct hent h[1] = { { "bomb.bin", H_FILE, 0644, zeros } };
	struct payload_want w = { "bomb.bin", 1024, hex, 0, NULL, NULL, 0 };

	memset(zeros, 'A', big);
	sha_of("x", hex);
	expect_reject(f, "tar.gz", h, 1, &w, 1, "larger than declared: expected 1024 bytes");
	expect_reject(f, "zip", h, 1, &w, 1, "larger than declared: expected 1024 bytes");
	free(zeros);
}

static void test_reject_not_an_archive(void **state)
{
	struct fx *f = *state;
	struct payload_staged_list out = {0};
	struct payload_want w = { "x", 1, "00", 0, NULL, NULL, 0 };
	struct err e;

	tu_write(f->dir, "junk.zip", "this is not an archive at all, just text\n");
	assert_true(asprintf(&f->arc, "%s/junk.zip", f->dir) > 0);
	assert_int_equal(payload_extract(f->arc, f->stage, &w, 1, NULL, &out, &e), -1);
	assert_non_null(strstr(e.msg, "junk.zip"));
	assert_int_equal(err_exit_code(&e), ERR_EXIT_BADMEDIA);
	assert_int_equal(tu_count_entries(f->stage), 0);
}

/* A FIFO where an archive or a file to hash should be: an error, no hang. */
static void test_fifo_does_not_hang(void **state)
{
	struct fx *f = *state;
	struct payload_staged_list out = {0};
	struct payload_want w = { "x", 1, "00", 0, NULL, NULL, 0 };
	struct payload_hash h;
	struct err e;

	assert_true(asprintf(&f->arc, "%s/fifo.tar", f->dir) > 0);
	assert_int_equal(mkfifo(f->arc, 0600), 0);
	assert_int_equal(payload_extract(f->arc, f->stage, &w, 1, NULL, &out, &e), -1);
	assert_non_null(strstr(e.msg, "not a regular file"));
	assert_int_equal(payload_hash_file(f->arc, &h, &e), -1);
	assert_non_null(strstr(e.msg, "not a regular file"));
	assert_int_equal(tu_count_entries(f->stage), 0);
}

static void test_staging_must_be_private(void **state)
{
	struct fx *f = *state;
	struct payload_staged_list out = {0};
	char hex[PAYLOAD_SHA256_HEX];
	struct hent h[1] = { { "ok.txt", H_FILE, 0644, OK_DATA } };
	struct payload_want w = { "ok.txt", sizeof(OK_DATA) - 1, hex, 0, NULL, NULL, 0 };
	struct err e;

	sha_of(OK_DATA, hex);
	assert_true(asprintf(&f->arc, "%s/a.tar", f->dir) > 0);
	mk_archive(f->arc, "tar", h, 1);
	assert_int_equal(chmod(f->stage, 0755), 0);
	assert_int_equal(payload_extract(f->arc, f->stage, &w, 1, NULL, &out, &e), -1);
	assert_non_null(strstr(e.msg, "not private"));
	assert_int_equal(payload_staging_create(f->stage, &e), -1);
	assert_non_null(strstr(e.msg, "must not exist"));
}

/* ---- round trips -------------------------------------------------------- */

#define APP_DATA "#!/bin/sh\necho app\n"
#define DOC_DATA "read me\r\nwith CRLF and \x01 bytes\n"

/* Stage app, doc and (if with_link) link from arc; check them. */
static void check_roundtrip(struct fx *f, const char *arc, int with_link, const char *app_name,
			    const char *doc_name)
{
	char ha[PAYLOAD_SHA256_HEX], hd[PAYLOAD_SHA256_HEX];
	struct payload_want w[3] = {
		{ app_name, sizeof(APP_DATA) - 1, ha, 0, NULL, NULL, 0 },
		{ doc_name, sizeof(DOC_DATA) - 1, hd, 0, NULL, NULL, 0 },
		{ "bin/link", 0, NULL, PAYLOAD_WANT_SYMLINK, "app", NULL, 0 },
	};
	struct payload_staged_list out = {0};
	struct err e;
	char buf[64];

	sha_of(APP_DATA, ha);
	sha_of(DOC_DATA, hd);
	err_clear(&e);
	if (payload_extract(arc, f->stage, w, with_link ? 3 : 2, NULL, &out, &e) != 0)
		fail_msg("%s: %s", arc, e.msg);
	assert_int_equal(out.n, with_link ? 3 : 2);
	for (size_t i = 0; i < out.n; i++) {
		struct payload_staged *it = &out.items[i];

		if (it->link_target) {
			ssize_t n = readlink(it->path, buf, sizeof(buf) - 1);
			assert_true(n > 0);
			buf[n] = '\0';
			assert_string_equal(buf, "app");
			assert_string_equal(it->name, "bin/link");
			continue;
		}
		int is_app = strcmp(it->name, app_name) == 0;
		char *got = tu_read(it->path, NULL);
		assert_non_null(got);
		assert_string_equal(got, is_app ? APP_DATA : DOC_DATA);
		assert_string_equal(it->sha256, is_app ? ha : hd);
		struct payload_hash ph;
		assert_int_equal(payload_hash_file(it->path, &ph, &e), 0);
		assert_string_equal(ph.sha256, it->sha256);
		assert_int_equal(ph.size, it->size);
		free(got);
	}
	assert_int_equal(tu_count_entries(f->stage), (int)out.n);
	for (size_t i = 0; i < out.n; i++)
		unlink(out.items[i].path);
	payload_staged_list_free(&out);
}

static void write_sources(struct fx *f, struct payload_source *src)
{
	char *app, *doc;

	tu_write(f->dir, "src/app", APP_DATA);
	tu_write(f->dir, "src/doc.txt", DOC_DATA);
	assert_true(asprintf(&app, "%s/src/app", f->dir) > 0);
	assert_true(asprintf(&doc, "%s/src/doc.txt", f->dir) > 0);
	/* deliberately unsorted */
	src[0] = (struct payload_source){ "share/doc/readme.txt", doc, 0644, NULL };
	src[1] = (struct payload_source){ "bin/link", NULL, 0777, "app" };
	src[2] = (struct payload_source){ "bin/app", app, 0755, NULL };
}

static void free_sources(struct payload_source *src)
{
	free((char *)src[0].path);
	free((char *)src[2].path);
}

static void test_roundtrip_every_format(void **state)
{
	struct fx *f = *state;
	struct payload_source src[3];
	static const enum payload_format fmts[] = { PAYLOAD_FORMAT_TAR_ZST, PAYLOAD_FORMAT_TAR_GZ,
		PAYLOAD_FORMAT_ZIP, PAYLOAD_FORMAT_7Z, PAYLOAD_FORMAT_TAR };
	struct err e;

	write_sources(f, src);
	for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		char *arc;

		assert_true(asprintf(&arc, "%s/p.%s", f->dir, payload_format_ext(fmts[i])) > 0);
		if (payload_archive_write(arc, fmts[i], src, 3, 0, &e) != 0)
			fail_msg("%s", e.msg);
		char *tmp;
		assert_true(asprintf(&tmp, "%s%s", arc, PAYLOAD_TMP_SUFFIX) > 0);
		assert_false(tu_exists(tmp));
		free(tmp);
		check_roundtrip(f, arc, 1, "bin/app", "share/doc/readme.txt");
		free(arc);
	}
	free_sources(src);
	assert_int_equal(payload_format_parse("tar.zst"), PAYLOAD_FORMAT_TAR_ZST);
	assert_int_equal(payload_format_parse("zip"), PAYLOAD_FORMAT_ZIP);
	assert_int_equal(payload_format_parse("rar"), -1);
}

static void test_roundtrip_tar_xz(void **state)
{
	struct fx *f = *state;
	struct hent h[3] = { { "bin/", H_DIR, 0755, NULL }, { "bin/app", H_FILE, 0755, APP_DATA },
			     { "share/doc/readme.txt", H_FILE, 0644, DOC_DATA } };

	assert_true(asprintf(&f->arc, "%s/p.tar.xz", f->dir) > 0);
	mk_archive(f->arc, "tar.xz", h, 3);
	check_roundtrip(f, f->arc, 0, "bin/app", "share/doc/readme.txt");
}

/* A real CAB from gcab (MSZIP with -z, and stored). gcab cannot create LZX
 * cabinets, so LZX is covered only by libarchive's own tests. CAB names use
 * backslashes ("share\doc\readme.txt"); we see them as '/'. */
static void test_roundtrip_cab_gcab(void **state)
{
	struct fx *f = *state;
	char *cmd;
	const char *opts[] = { "-z", "" };

	if (system("command -v gcab >/dev/null 2>&1") != 0)
		skip();
	tu_write(f->dir, "src/bin/app", APP_DATA);
	tu_write(f->dir, "src/share/doc/readme.txt", DOC_DATA);
	for (int i = 0; i < 2; i++) {
		assert_true(asprintf(&cmd, "cd '%s/src' && gcab -c %s '%s/p%d.cab' bin/app share/doc/readme.txt",
				     f->dir, opts[i], f->dir, i) > 0);
		assert_int_equal(system(cmd), 0);
		free(cmd);
		assert_true(asprintf(&cmd, "%s/p%d.cab", f->dir, i) > 0);
		check_roundtrip(f, cmd, 0, "bin/app", "share/doc/readme.txt");
		free(cmd);
	}
	/* tampered cabinet (MSZIP): every flip fails or stages exact bytes */
	{
		char *arc, *orig, ha[PAYLOAD_SHA256_HEX], hd[PAYLOAD_SHA256_HEX];
		size_t len;
		int fails = 0;
		struct payload_want w[2] = { { "bin/app", sizeof(APP_DATA) - 1, ha, 0, NULL, NULL, 0 },
					     { "share/doc/readme.txt", sizeof(DOC_DATA) - 1, hd, 0, NULL, NULL, 0 } };

		sha_of(APP_DATA, ha);
		sha_of(DOC_DATA, hd);
		assert_true(asprintf(&arc, "%s/p0.cab", f->dir) > 0);
		orig = tu_read(arc, &len);
		for (size_t pos = 0; pos < len; pos++) {
			struct payload_staged_list out = {0};
			struct err e;

			orig[pos] ^= 0x21;
			unlink(arc);
			tu_write_bytes(f->dir, "p0.cab", orig, len);
			orig[pos] ^= 0x21;
			if (payload_extract(arc, f->stage, w, 2, NULL, &out, &e) != 0) {
				fails++;
			} else {
				for (size_t i = 0; i < out.n; i++)
					unlink(out.items[i].path);
				payload_staged_list_free(&out);
			}
			assert_int_equal(tu_count_entries(f->stage), 0);
		}
		assert_true(fails > 0);
		free(orig);
		free(arc);
	}
}

static void test_write_is_deterministic(void **state)
{
	struct fx *f = *state;
	struct payload_source src[3];
	static const enum payload_format fmts[] = { PAYLOAD_FORMAT_TAR_ZST, PAYLOAD_FORMAT_TAR_GZ,
		PAYLOAD_FORMAT_ZIP, PAYLOAD_FORMAT_7Z, PAYLOAD_FORMAT_TAR };
	size_t nf = sizeof(fmts) / sizeof(fmts[0]);
	char *first[5];
	size_t len1[5];
	struct err e;

	write_sources(f, src);
	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; i < nf; i++) {
			char *arc;
			size_t len;

			assert_true(asprintf(&arc, "%s/d%d.%s", f->dir, round, payload_format_ext(fmts[i])) > 0);
			assert_int_equal(payload_archive_write(arc, fmts[i], src, 3, 1700000000, &e), 0);
			char *data = tu_read(arc, &len);
			if (round == 0) {
				first[i] = data;
				len1[i] = len;
			} else {
				assert_int_equal(len, len1[i]);
				if (memcmp(data, first[i], len) != 0)
					fail_msg("%s differs between runs", payload_format_ext(fmts[i]));
				free(data);
				free(first[i]);
			}
			free(arc);
		}
		if (round == 0) {
			/* time moves on and the sources' mtimes change */
			sleep(1);
			tu_write(f->dir, "src/app", APP_DATA);
		}
	}
	/* an existing output is replaced; a bad name leaves nothing behind */
	struct payload_source bad = { "../x", src[2].path, 0644, NULL };
	char *arc;
	assert_true(asprintf(&arc, "%s/bad.tar", f->dir) > 0);
	assert_int_equal(payload_archive_write(arc, PAYLOAD_FORMAT_TAR, &bad, 1, 0, &e), -1);
	assert_non_null(strstr(e.msg, "clean relative path"));
	assert_false(tu_exists(arc));
	free(arc);
	free_sources(src);
}

/* Flip bytes of a payload archive: staging either fails verification or
 * the archive read fails; nothing ever escapes staging. */
static void test_tampered_archive(void **state)
{
	struct fx *f = *state;
	struct payload_source src[3];
	struct err e;
	static const enum payload_format fmts[] = { PAYLOAD_FORMAT_TAR, PAYLOAD_FORMAT_TAR_GZ,
		PAYLOAD_FORMAT_ZIP, PAYLOAD_FORMAT_TAR_ZST, PAYLOAD_FORMAT_7Z };

	write_sources(f, src);
	for (size_t k = 0; k < sizeof(fmts) / sizeof(fmts[0]); k++) {
		char *arc;
		size_t len;
		int fails = 0, tries = 0;

		assert_true(asprintf(&arc, "%s/t.%s", f->dir, payload_format_ext(fmts[k])) > 0);
		assert_int_equal(payload_archive_write(arc, fmts[k], src, 3, 0, &e), 0);
		char *orig = tu_read(arc, &len);
		/* tar: the first file's data starts at 512 (after its header):
		 * flipping it must be caught by the hash. */
		for (size_t pos = 0; pos < len; pos += (len / 97) + 1) {
			char ha[PAYLOAD_SHA256_HEX], hd[PAYLOAD_SHA256_HEX];
			struct payload_want w[2] = { { "bin/app", sizeof(APP_DATA) - 1, ha, 0, NULL, NULL, 0 },
						     { "share/doc/readme.txt", sizeof(DOC_DATA) - 1, hd, 0, NULL, NULL, 0 } };
			struct payload_staged_list out = {0};
			char *mod = malloc(len);

			sha_of(APP_DATA, ha);
			sha_of(DOC_DATA, hd);
			memcpy(mod, orig, len);
			mod[pos] ^= 0x5a;
			unlink(arc);
			tu_write_bytes(f->dir, strrchr(arc, '/') + 1, mod, len);
			free(mod);
			tries++;
			if (payload_extract(arc, f->stage, w, 2, NULL, &out, &e) != 0) {
				fails++;
				assert_int_equal(tu_count_entries(f->stage), 0);
			} else {
				/* the byte hit padding or metadata we do not use:
				 * the staged content is still exactly right */
				assert_int_equal(out.n, 2);
				for (size_t i = 0; i < out.n; i++)
					unlink(out.items[i].path);
				payload_staged_list_free(&out);
			}
			assert_int_equal(tu_count_entries(f->sentinel), 0);
		}
		if (fmts[k] == PAYLOAD_FORMAT_TAR) {
			/* a flip inside the data of bin/app (sorted first) */
			char ha[PAYLOAD_SHA256_HEX];
			struct payload_want w = { "bin/app", sizeof(APP_DATA) - 1, ha, 0, NULL, NULL, 0 };
			struct payload_staged_list out = {0};

			sha_of(APP_DATA, ha);
			orig[512 + 3] ^= 1;
			unlink(arc);
			tu_write_bytes(f->dir, strrchr(arc, '/') + 1, orig, len);
			assert_int_equal(payload_extract(arc, f->stage, &w, 1, NULL, &out, &e), -1);
			assert_non_null(strstr(e.msg, "fails verification"));
			assert_int_equal(tu_count_entries(f->stage), 0);
		}
		assert_true(fails > 0);
		free(orig);
		free(arc);
	}
	free_sources(src);
}

/* The streaming reader on its own: entry listing. */
static void test_reader_lists_entries(void **state)
{
	struct fx *f = *state;
	struct hent h[3] = { { "d", H_DIR, 0755, NULL }, { "d\\f.txt", H_FILE, 0644, "abc" },
			     { "l", H_LINK, 0777, "d/f.txt" } };
	struct payload_reader *r;
	struct payload_entry ent;
	struct err e;
	char buf[8];

	assert_true(asprintf(&f->arc, "%s/a.tar", f->dir) > 0);
	mk_archive(f->arc, "tar", h, 3);
	assert_int_equal(payload_open(f->arc, NULL, &r, &e), 0);
	if (payload_entry_next(r, &ent, &e) != 1)
		fail_msg("%s", e.msg);
	assert_string_equal(ent.name, "d");
	assert_int_equal(ent.type, PAYLOAD_ENTRY_DIR);
	assert_int_equal(payload_entry_next(r, &ent, &e), 1);
	assert_string_equal(ent.name, "d/f.txt");
	assert_int_equal(ent.size, 3);
	assert_int_equal(payload_entry_read(r, buf, sizeof(buf), &e), 3);
	assert_int_equal(payload_entry_next(r, &ent, &e), 1);
	assert_int_equal(ent.type, PAYLOAD_ENTRY_SYMLINK);
	assert_string_equal(ent.link_target, "d/f.txt");
	assert_int_equal(payload_entry_next(r, &ent, &e), 0);
	payload_close(r);
}

/* Fail every allocation in turn: each failure is a clean error, staging
 * stays empty, nothing leaks (checked under SANITIZE=1). */
static void test_extract_allocation_failures(void **state)
{
	struct fx *f = *state;
	struct hent h[2] = { { "a", H_FILE, 0644, "aa" }, { "b", H_FILE, 0644, "bb" } };
	char ha[PAYLOAD_SHA256_HEX], hb[PAYLOAD_SHA256_HEX];
	struct payload_want w[2] = { { "a", 2, ha, 0, NULL, NULL, 0 }, { "b", 2, hb, 0, NULL, NULL, 0 } };
	struct err e;

	sha_of("aa", ha);
	sha_of("bb", hb);
	assert_true(asprintf(&f->arc, "%s/a.tar", f->dir) > 0);
	mk_archive(f->arc, "tar", h, 2);
	for (unsigned long n = 1; n < 200; n++) {
		struct payload_staged_list out = {0};
		int rc;

		mem_fail_at(n, 0);
		rc = payload_extract(f->arc, f->stage, w, 2, NULL, &out, &e);
		mem_fail_at(0, 0);
		if (rc == 0) {
			assert_int_equal(out.n, 2);
			for (size_t i = 0; i < out.n; i++)
				unlink(out.items[i].path);
			payload_staged_list_free(&out);
			assert_true(n > 3);
			return;
		}
		assert_int_equal(e.cls, ERR_CLASS_NOMEM);
		assert_int_equal(tu_count_entries(f->stage), 0);
	}
	fail_msg("extraction never succeeded");
}

static void test_write_allocation_failures(void **state)
{
	struct fx *f = *state;
	struct payload_source src[3];
	char *arc, *tmp;
	struct err e;
	int done = 0;

	write_sources(f, src);
	assert_true(asprintf(&arc, "%s/w.zip", f->dir) > 0);
	assert_true(asprintf(&tmp, "%s%s", arc, PAYLOAD_TMP_SUFFIX) > 0);
	for (unsigned long n = 1; n < 100 && !done; n++) {
		mem_fail_at(n, 0);
		done = payload_archive_write(arc, PAYLOAD_FORMAT_ZIP, src, 3, 0, &e) == 0;
		mem_fail_at(0, 0);
		if (!done) {
			assert_int_equal(e.cls, ERR_CLASS_NOMEM);
			assert_false(tu_exists(arc));
		}
		assert_false(tu_exists(tmp));
	}
	assert_true(done);
	free(arc);
	free(tmp);
	free_sources(src);
}

static void test_hash_file(void **state)
{
	struct fx *f = *state;
	struct payload_hash h;
	struct err e;
	char *p;

	tu_write(f->dir, "abc", "abc");
	assert_true(asprintf(&p, "%s/abc", f->dir) > 0);
	assert_int_equal(payload_hash_file(p, &h, &e), 0);
	assert_int_equal(h.size, 3);
	assert_string_equal(h.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	free(p);
	assert_true(asprintf(&p, "%s/nope", f->dir) > 0);
	assert_int_equal(payload_hash_file(p, &h, &e), -1);
	assert_non_null(strstr(e.msg, "nope"));
	free(p);
}

/* A want with dest: staged at exactly that path (a stale file there is
 * replaced), with the want's mode; nothing in the staging directory. When
 * a later entry fails, the dest files this call made are gone again. */
static void test_stage_at_dest(void **state)
{
	struct fx *f = *state;
	char ha[PAYLOAD_SHA256_HEX], hb[PAYLOAD_SHA256_HEX], *da, *db, *dl;
	struct hent h[3] = { { "a", H_FILE, 0644, "aa" }, { "b", H_FILE, 0644, "bb" }, { "l", H_LINK, 0777, "a" } };
	struct payload_want w[3] = { { "a", 2, ha, 0, NULL, NULL, 0750 }, { "b", 2, hb, 0, NULL, NULL, 0 },
				     { "l", 0, NULL, PAYLOAD_WANT_SYMLINK, "a", NULL, 0 } };
	struct payload_staged_list out = {0};
	struct stat st;
	char buf[8] = {0};
	struct err e;

	sha_of("aa", ha);
	sha_of("bb", hb);
	assert_true(asprintf(&da, "%s/sentinel/a.setupkit-new", f->dir) > 0);
	assert_true(asprintf(&db, "%s/sentinel/b.setupkit-new", f->dir) > 0);
	assert_true(asprintf(&dl, "%s/sentinel/l.setupkit-new", f->dir) > 0);
	w[0].dest = da;
	w[1].dest = db;
	w[2].dest = dl;
	tu_write(f->sentinel, "a.setupkit-new", "stale, from a crashed run");
	assert_true(asprintf(&f->arc, "%s/a.tar", f->dir) > 0);
	mk_archive(f->arc, "tar", h, 3);

	assert_int_equal(payload_extract(f->arc, f->stage, w, 3, NULL, &out, &e), 0);
	assert_int_equal(out.n, 3);
	assert_string_equal(out.items[0].path, da);
	assert_string_equal(out.items[2].path, dl);
	assert_int_equal(stat(da, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0750);
	assert_int_equal(st.st_size, 2);
	assert_int_equal(stat(db, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(readlink(dl, buf, sizeof(buf) - 1), 1);
	assert_string_equal(buf, "a");
	assert_int_equal(tu_count_entries(f->stage), 0);
	payload_staged_list_free(&out);
	unlink(da);
	unlink(db);
	unlink(dl);

	/* b's content is not what the want says: a, made first, goes too. */
	sha_of("not bb", hb);
	err_clear(&e);
	assert_int_equal(payload_extract(f->arc, f->stage, w, 3, NULL, &out, &e), -1);
	assert_non_null(strstr(e.msg, "'b' fails verification"));
	assert_int_equal(out.n, 0);
	assert_int_equal(tu_count_entries(f->sentinel), 0);
	assert_int_equal(tu_count_entries(f->stage), 0);
	free(da);
	free(db);
	free(dl);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_reject_absolute),
		T(test_reject_drive_letter),
		T(test_reject_unc),
		T(test_reject_dotdot),
		T(test_reject_empty_and_dot_components),
		T(test_reject_duplicates),
		T(test_reject_backslash_duplicate),
		T(test_reject_devices_fifo_hardlink),
		T(test_reject_undeclared_symlink),
		T(test_reject_symlink_escaping),
		T(test_reject_wrong_symlink_target),
		cmocka_unit_test(test_link_is_inside),
		T(test_reject_special_modes),
		T(test_special_mode_declared_is_staged),
		T(test_two_calls_share_staging),
		T(test_stage_at_dest),
		T(test_reject_larger_than_declared),
		T(test_reject_smaller_than_declared),
		T(test_reject_hash_mismatch),
		T(test_reject_missing_entry),
		T(test_reject_limits),
		T(test_bomb_stopped_early),
		T(test_reject_not_an_archive),
		T(test_fifo_does_not_hang),
		T(test_staging_must_be_private),
		T(test_roundtrip_every_format),
		T(test_roundtrip_tar_xz),
		T(test_roundtrip_cab_gcab),
		T(test_write_is_deterministic),
		T(test_tampered_archive),
		T(test_reader_lists_entries),
		T(test_extract_allocation_failures),
		T(test_write_allocation_failures),
		T(test_hash_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
