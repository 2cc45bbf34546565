/*
 * fuzz_mkseeds.c - writes the binary seeds the fuzz targets start from, so
 * none has to be committed: payload archives in every format payload_open
 * reads, sound and hostile (the cases test_payload_read.c refuses: '..',
 * absolute, drive-letter and UNC names, control characters, duplicates
 * after '\' -> '/', hard links, FIFOs, devices, setuid and world-writable
 * modes, symlinks out of their directory, a zero bomb, many entries), each
 * behind the control byte fuzz_payload.c reads; and UTF-16LE .reg files.
 *
 *   fuzz_mkseeds payload DIR      fuzz_mkseeds regfile DIR
 *
 * Built with the normal compiler (libarchive's writer); run by mkseeds.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <archive.h>
#include <archive_entry.h>

enum kind { K_FILE, K_DIR, K_LINK, K_HARD, K_FIFO, K_CHR };

struct ent {
	const char *name;
	enum kind kind;
	unsigned mode;
	const char *data;      /* file content, or link target */
	size_t zeros;          /* file: this many zero bytes instead of data */
};

enum fmt { F_TAR, F_TGZ, F_TXZ, F_TZST, F_TBZ2, F_ZIP, F_7Z };
static const char *const fmt_ext[] = { "tar", "tar.gz", "tar.xz", "tar.zst", "tar.bz2", "zip", "7z" };

/* Write the archive to memory; returns its size (0 on failure). */
static size_t build(enum fmt f, const struct ent *e, size_t n, unsigned char *buf, size_t cap)
{
	struct archive *a = archive_write_new();
	size_t used = 0;

	if (f == F_ZIP)
		archive_write_set_format_zip(a);
	else if (f == F_7Z)
		archive_write_set_format_7zip(a);
	else
		archive_write_set_format_pax_restricted(a);
	if (f == F_TGZ)
		archive_write_add_filter_gzip(a);
	else if (f == F_TXZ)
		archive_write_add_filter_xz(a);
	else if (f == F_TZST)
		archive_write_add_filter_zstd(a);
	else if (f == F_TBZ2)
		archive_write_add_filter_bzip2(a);
	archive_write_set_bytes_in_last_block(a, 1);
	if (archive_write_open_memory(a, buf, cap, &used) != ARCHIVE_OK) {
		fprintf(stderr, "fuzz_mkseeds: %s\n", archive_error_string(a));
		archive_write_free(a);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *ae = archive_entry_new();
		size_t len = e[i].kind == K_FILE ? (e[i].zeros ? e[i].zeros : strlen(e[i].data)) : 0;

		archive_entry_copy_pathname(ae, e[i].name);
		archive_entry_set_mtime(ae, 1700000000, 0);
		switch (e[i].kind) {
		case K_FILE: archive_entry_set_filetype(ae, AE_IFREG); archive_entry_set_size(ae, (la_int64_t)len); break;
		case K_DIR:  archive_entry_set_filetype(ae, AE_IFDIR); break;
		case K_LINK: archive_entry_set_filetype(ae, AE_IFLNK); archive_entry_copy_symlink(ae, e[i].data); break;
		case K_HARD: archive_entry_set_filetype(ae, AE_IFREG); archive_entry_copy_hardlink(ae, e[i].data); break;
		case K_FIFO: archive_entry_set_filetype(ae, AE_IFIFO); break;
		case K_CHR:  archive_entry_set_filetype(ae, AE_IFCHR); archive_entry_set_rdev(ae, 0x0103); break;
		}
		archive_entry_set_perm(ae, e[i].mode);
		if (archive_write_header(a, ae) >= ARCHIVE_WARN && len) {
			if (e[i].zeros) {
				char *z = calloc(1, len);

				if (z)
					archive_write_data(a, z, len);
				free(z);
			} else {
				archive_write_data(a, e[i].data, len);
			}
		}
		archive_entry_free(ae);
	}
	archive_write_close(a);
	archive_write_free(a);
	return used;
}

static int out_count;

static void put(const char *dir, const char *name, unsigned ctl, const unsigned char *buf, size_t n)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s-c%02x", dir, name, ctl);
	f = fopen(path, "wb");
	if (!f || fputc((int)ctl, f) == EOF || fwrite(buf, 1, n, f) != n || fclose(f) != 0) {
		fprintf(stderr, "fuzz_mkseeds: cannot write '%s'\n", path);
		exit(1);
	}
	out_count++;
}

static void emit(const char *dir, const char *name, enum fmt f, const struct ent *e, size_t n,
		 const unsigned *ctls, size_t nctl)
{
	static unsigned char buf[8 << 20];
	char full[256];
	size_t len = build(f, e, n, buf, sizeof(buf));

	if (!len)
		return;
	snprintf(full, sizeof(full), "%s.%s", name, fmt_ext[f]);
	for (size_t i = 0; i < nctl; i++)
		put(dir, full, ctls[i], buf, len);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void payload(const char *dir)
{
	static const struct ent good[] = {
		{ "bin", K_DIR, 0755, NULL, 0 },
		{ "bin/tool", K_FILE, 0755, "#!/bin/sh\necho tool\n", 0 },
		{ "doc/README.txt", K_FILE, 0644, "Example Mail Suite\n", 0 },
		{ "lib/libx.so.1", K_FILE, 0644, "\177ELF not really\n", 0 },
		{ "lib/libx.so", K_LINK, 0777, "libx.so.1", 0 },
		{ "lib/up", K_LINK, 0777, "../bin/tool", 0 },
		{ "etc/empty.conf", K_FILE, 0644, "", 0 },
		{ "IM Client/im module.so", K_FILE, 0644, "spaces in names\n", 0 },
	};
	static const unsigned good_ctl[] = { 0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x21, 0x41, 0x80, 0xc0 };
	static const struct ent special[] = {
		{ "bin/suid", K_FILE, 04755, "setuid\n", 0 },
		{ "tmp/ww", K_FILE, 0666, "world-writable\n", 0 },
	};
	static const struct ent bomb[] = { { "bomb.bin", K_FILE, 0644, NULL, 4u << 20 } };
	static const struct ent hostile[] = {   /* one entry each */
		{ "../escape", K_FILE, 0644, "x", 0 },
		{ "a/../../escape", K_FILE, 0644, "x", 0 },
		{ "/tmp/evil", K_FILE, 0644, "x", 0 },
		{ "C:\\Windows\\evil.dll", K_FILE, 0644, "x", 0 },
		{ "\\\\server\\share\\x", K_FILE, 0644, "x", 0 },
		{ "x\033[2J/../y", K_FILE, 0644, "x", 0 },
		{ "./a//b", K_FILE, 0644, "x", 0 },
		{ "link", K_LINK, 0777, "/etc/shadow", 0 },
		{ "a/link", K_LINK, 0777, "../../x", 0 },
		{ "fifo", K_FIFO, 0644, NULL, 0 },
		{ "dev", K_CHR, 0644, NULL, 0 },
	};
	static const struct ent dup[] = {
		{ "a\\b", K_FILE, 0644, "one", 0 },
		{ "a/b", K_FILE, 0644, "two", 0 },
	};
	static const struct ent hard[] = {
		{ "f", K_FILE, 0644, "data", 0 },
		{ "h", K_HARD, 0644, "f", 0 },
	};
	static const unsigned all_ctl[] = { 0x01, 0x03 };
	static struct ent many[300];
	static char names[300][16];

	for (int f = F_TAR; f <= F_7Z; f++)
		emit(dir, "good", (enum fmt)f, good, N(good), good_ctl, N(good_ctl));
	emit(dir, "special", F_TAR, special, N(special), all_ctl, N(all_ctl));
	emit(dir, "special", F_TAR, special, N(special), (const unsigned[]){ 0x00 }, 1);
	emit(dir, "bomb", F_TGZ, bomb, 1, (const unsigned[]){ 0x00, 0x40 }, 2);
	emit(dir, "bomb", F_TBZ2, bomb, 1, (const unsigned[]){ 0x80 }, 1);
	for (size_t i = 0; i < N(hostile); i++) {
		char name[32];

		snprintf(name, sizeof(name), "hostile%02zu", i);
		emit(dir, name, F_TAR, &hostile[i], 1, all_ctl, 1);
		emit(dir, name, F_ZIP, &hostile[i], 1, all_ctl, 1);
	}
	emit(dir, "dup", F_TAR, dup, N(dup), all_ctl, 1);
	emit(dir, "dup", F_ZIP, dup, N(dup), all_ctl, 1);
	emit(dir, "hard", F_TAR, hard, N(hard), all_ctl, 1);
	for (size_t i = 0; i < N(many); i++) {
		snprintf(names[i], sizeof(names[i]), "m/%03zu", i);
		many[i] = (struct ent){ names[i], K_FILE, 0644, "m", 0 };
	}
	emit(dir, "many", F_TGZ, many, N(many), (const unsigned[]){ 0x00, 0xc0 }, 2);
	/* Not an archive at all, and a truncated one. */
	put(dir, "empty", 0, (const unsigned char *)"", 0);
	{
		static unsigned char buf[1 << 16];
		size_t len = build(F_TGZ, good, N(good), buf, sizeof(buf));

		put(dir, "truncated.tar.gz", 0, buf, len / 2);
	}
}

/* UTF-16LE with a BOM, as regedit writes. */
static void utf16(const char *dir, const char *name, const char *text)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f) {
		fprintf(stderr, "fuzz_mkseeds: cannot write '%s'\n", path);
		exit(1);
	}
	fputc(0xff, f);
	fputc(0xfe, f);
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		fputc(*p, f);
		fputc(0, f);
	}
	if (fclose(f) != 0)
		exit(1);
	out_count++;
}

static void regfile(const char *dir)
{
	utf16(dir, "utf16-sample.reg",
	      "Windows Registry Editor Version 5.00\r\n\r\n"
	      "[HKEY_CURRENT_USER\\Software\\Mail Suite]\r\n"
	      "@=\"default\"\r\n"
	      "\"Path\"=hex(2):25,00,48,00,4f,00,4d,00,45,00,25,00,00,00\r\n"
	      "\"Size\"=dword:00001000\r\n"
	      "\"List\"=hex(7):61,00,00,00,62,00,00,00,\\\r\n  00,00\r\n"
	      "[-HKEY_CURRENT_USER\\Software\\Gone]\r\n");
	utf16(dir, "utf16-header-only.reg", "Windows Registry Editor Version 5.00\r\n");
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: fuzz_mkseeds payload|regfile DIR\n");
		return 2;
	}
	if (strcmp(argv[1], "payload") == 0)
		payload(argv[2]);
	else if (strcmp(argv[1], "regfile") == 0)
		regfile(argv[2]);
	else
		return 2;
	fprintf(stderr, "fuzz_mkseeds: %d %s seeds in %s\n", out_count, argv[1], argv[2]);
	return 0;
}
