/*
 * fuzz_payload.c - libFuzzer target: payload_extract() of an archive the
 * fuzzer writes (zip, tar[.gz|.xz|.zst|.bz2], 7z, cab) into a staging
 * directory, with a sentinel tree beside it.
 *
 * Input: one control byte, then the archive bytes.
 *   bit 0  want the symlinks found (PAYLOAD_WANT_SYMLINK)
 *   bit 1  allow special modes on every want (PAYLOAD_WANT_SPECIAL_MODE)
 *   bit 2  declare a wrong SHA-256 for the first file
 *   bit 3  want an entry the archive does not have
 *   bit 4  want the first directory as if it were a file
 *   bit 5  want only every other file (the rest is skipped unread)
 *   bits 6-7  limits: 0 roomy, 1 exactly the wanted bytes, 2 one byte,
 *             3 two entries
 * The wants are derived from the input: a first pass with payload_open /
 * payload_entry_next / payload_entry_read lists the entries and hashes the
 * files, then payload_extract is asked for them, so the staging path (not
 * only the refusals) is reached.
 *
 * Layout, made once under $TMPDIR:  T/box/stage (0700, the staging
 * directory), T/box/sentinel/{file,dir/file,link,empty/}, T/box/archive,
 * T/top-sentinel. After every input the tree T, less T/box/stage and the
 * input T/box/archive, must be unchanged (names, modes, sizes, mtimes,
 * inodes), or the target aborts.
 *
 * Oracles: after a failure the staging directory is empty (payload.h: every
 * file this call created is removed) and e says why; after a success it
 * holds exactly the staged items, files 0600 with the declared size and
 * hash, symlinks with their target, inside the entry's directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "payload/payload.h"
#include "fuzz_util.h"

#define ROOMY_BYTES   (8u << 20)
#define MAX_WANTS     256

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *tmp, *box, *stage, *archive;
static const char *skip[3];
static struct fuzz_snap_opts snap_opts;
static struct fuzz_snap before;
static unsigned char *readbuf;

static void cleanup(void)
{
	fuzz_snap_free(&before);
	free(box);
	free(stage);
	free(archive);
	free(readbuf);
	fuzz_tmp_remove(tmp);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct err e;
	char *p;

	(void)argc;
	(void)argv;
	tmp = fuzz_tmp_make("payload");
	box = fuzz_printf("%s/box", tmp);
	stage = fuzz_printf("%s/stage", box);
	archive = fuzz_printf("%s/archive", box);
	readbuf = malloc(PAYLOAD_BUF_SIZE);
	if (!readbuf || mkdir(box, 0755) != 0)
		fuzz_fail("cannot set up '%s'", box);
	err_clear(&e);
	if (payload_staging_create(stage, &e) != 0)
		fuzz_fail("payload_staging_create: %s", e.msg);
	/* The sentinels: what an escape would most likely hit. */
	p = fuzz_printf("%s/sentinel/dir", box);
	if (fuzz_mkdirs(p) != 0)
		fuzz_fail("cannot create '%s'", p);
	free(p);
	p = fuzz_printf("%s/sentinel/empty", box);
	if (fuzz_mkdirs(p) != 0)
		fuzz_fail("cannot create '%s'", p);
	free(p);
	p = fuzz_printf("%s/sentinel/file", box);
	fuzz_file_write(p, "sentinel\n", 9);
	free(p);
	p = fuzz_printf("%s/sentinel/dir/file", box);
	fuzz_file_write(p, "sentinel\n", 9);
	free(p);
	p = fuzz_printf("%s/sentinel/link", box);
	if (symlink("file", p) != 0)
		fuzz_fail("cannot create '%s'", p);
	free(p);
	p = fuzz_printf("%s/top-sentinel", tmp);
	fuzz_file_write(p, "sentinel\n", 9);
	free(p);
	fuzz_file_write(archive, "", 0);
	skip[0] = stage;      /* ours to change: the staging directory */
	skip[1] = archive;    /* and the input, rewritten every time */
	skip[2] = NULL;
	snap_opts.skip_trees = skip;
	fuzz_snap_take(&before, tmp, &snap_opts);
	atexit(cleanup);
	return 0;
}

struct listed {
	char *name;
	enum payload_entry_type type;
	uint64_t size;
	char sha256[PAYLOAD_SHA256_HEX];
	char *target;
	int hashed;             /* the whole file was read in the first pass */
};

/* First pass: list the entries and hash the files, within budget. Returns
 * the number listed (a broken archive lists what came before the break). */
static size_t list_entries(struct listed *out, size_t max)
{
	struct payload_reader *r = NULL;
	struct payload_entry ent;
	struct payload_limits lim = { 10000, ROOMY_BYTES };
	uint64_t budget = ROOMY_BYTES;
	size_t n = 0;
	struct err e;

	err_clear(&e);
	if (payload_open(archive, &lim, &r, &e) != 0)
		return 0;
	while (n < max && payload_entry_next(r, &ent, &e) == 1) {
		struct listed *l = &out[n++];

		memset(l, 0, sizeof(*l));
		l->name = strdup(ent.name);
		l->type = ent.type;
		l->target = ent.link_target ? strdup(ent.link_target) : NULL;
		if (ent.type == PAYLOAD_ENTRY_FILE) {
			unsigned char *all = NULL;
			size_t len = 0;
			long got;

			while ((got = payload_entry_read(r, readbuf, PAYLOAD_BUF_SIZE, &e)) > 0 &&
			       (uint64_t)got <= budget) {
				unsigned char *g = realloc(all, len + (size_t)got);

				if (!g)
					fuzz_fail("out of memory");
				all = g;
				memcpy(all + len, readbuf, (size_t)got);
				len += (size_t)got;
				budget -= (uint64_t)got;
			}
			if (got == 0) {
				l->size = len;
				l->hashed = payload_hash_buffer(all ? all : (unsigned char *)"", len, l->sha256, &e) == 0;
			}
			free(all);
			if (got != 0)
				break;
		}
	}
	payload_close(r);
	return n;
}

/* Check what a successful extraction left in staging against the wants. */
static void check_staged(const struct payload_staged_list *got, const struct payload_want *w, size_t nw)
{
	int count = fuzz_dir_count(stage);

	if (count < 0 || (size_t)count != got->n)
		fuzz_fail("staging holds %d entries, payload_extract reported %zu", count, got->n);
	for (size_t i = 0; i < got->n; i++) {
		const struct payload_staged *s = &got->items[i];
		struct stat st;

		if (s->want >= nw || strcmp(s->name, w[s->want].name) != 0)
			fuzz_fail("staged '%s' is mapped to the wrong want", s->name);
		if (strncmp(s->path, stage, strlen(stage)) != 0 || s->path[strlen(stage)] != '/' ||
		    strchr(s->path + strlen(stage) + 1, '/'))
			fuzz_fail("staged '%s' at '%s', not flat inside '%s'", s->name, s->path, stage);
		if (lstat(s->path, &st) != 0)
			fuzz_fail("staged '%s' is missing at '%s'", s->name, s->path);
		if (s->link_target) {
			char t[4096];
			ssize_t k = readlink(s->path, t, sizeof(t) - 1);

			if (!S_ISLNK(st.st_mode) || k < 0)
				fuzz_fail("staged symlink '%s' is not a symlink", s->name);
			t[k] = '\0';
			if (strcmp(t, s->link_target) != 0 || !payload_link_is_inside(s->name, t))
				fuzz_fail("staged symlink '%s' -> '%s' (reported '%s')", s->name, t, s->link_target);
			if (!(w[s->want].flags & PAYLOAD_WANT_SYMLINK))
				fuzz_fail("symlink '%s' staged though not declared", s->name);
		} else {
			struct payload_hash h;
			struct err e;

			if (!S_ISREG(st.st_mode) || (st.st_mode & 07777) != 0600)
				fuzz_fail("staged file '%s' has mode %o", s->name, (unsigned)st.st_mode);
			err_clear(&e);
			if (payload_hash_file(s->path, &h, &e) != 0)
				fuzz_fail("cannot hash staged '%s': %s", s->path, e.msg);
			if (h.size != w[s->want].size || strcmp(h.sha256, w[s->want].sha256) != 0 ||
			    strcmp(h.sha256, s->sha256) != 0 || h.size != s->size)
				fuzz_fail("staged '%s' is not what was declared (size %llu, %s)", s->name,
					  (unsigned long long)h.size, h.sha256);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct listed listed[MAX_WANTS];
	struct payload_want wants[MAX_WANTS + 2];
	struct payload_staged_list got = { NULL, 0 };
	struct payload_limits lim = { 10000, ROOMY_BYTES };
	static const char bad_sha[] = "0000000000000000000000000000000000000000000000000000000000000000";
	unsigned ctl;
	size_t nl, nw = 0, nfiles = 0;
	uint64_t wanted_bytes = 0;
	int rc, dir_wanted = 0, bad_done = 0;
	struct err e;

	if (size < 1)
		return 0;
	ctl = data[0];
	if (fuzz_file_write(archive, data + 1, size - 1) != 0)
		fuzz_fail("cannot write '%s'", archive);
	nl = list_entries(listed, MAX_WANTS);
	for (size_t i = 0; i < nl; i++) {
		struct listed *l = &listed[i];
		struct payload_want *w = &wants[nw];

		memset(w, 0, sizeof(*w));
		w->name = l->name;
		w->flags = ctl & 2 ? PAYLOAD_WANT_SPECIAL_MODE : 0;
		if (!l->name)
			continue;
		if (l->type == PAYLOAD_ENTRY_FILE && l->hashed) {
			if ((ctl & 32) && (nfiles++ & 1))
				continue;
			w->size = l->size;
			w->sha256 = (ctl & 4) && !bad_done ? bad_sha : l->sha256;
			bad_done = 1;
			wanted_bytes += l->size;
			nw++;
		} else if (l->type == PAYLOAD_ENTRY_SYMLINK && (ctl & 1)) {
			w->flags |= PAYLOAD_WANT_SYMLINK;
			w->link_target = (nw & 1) ? l->target : NULL;
			nw++;
		} else if (l->type == PAYLOAD_ENTRY_DIR && (ctl & 16) && !dir_wanted) {
			dir_wanted = 1;
			w->size = 0;
			w->sha256 = l->sha256;
			nw++;
		}
	}
	if (ctl & 8) {
		memset(&wants[nw], 0, sizeof(wants[nw]));
		wants[nw].name = "zz/missing entry";
		wants[nw].sha256 = bad_sha;
		nw++;
	}
	switch (ctl >> 6) {
	case 1: lim.max_bytes = wanted_bytes ? wanted_bytes : 1; break;
	case 2: lim.max_bytes = 1; break;
	case 3: lim.max_entries = 2; break;
	default: break;
	}

	err_clear(&e);
	rc = payload_extract(archive, stage, wants, nw, &lim, &got, &e);
	if (rc != 0) {
		int left = fuzz_dir_count(stage);

		if (!err_is_set(&e) || !e.msg[0])
			fuzz_fail("payload_extract failed without a message");
		if (got.n != 0 || got.items)
			fuzz_fail("a failed payload_extract changed *out");
		if (left != 0)
			fuzz_fail("a failed payload_extract left %d files in staging (%s)", left, e.msg);
	} else {
		if (ctl & 8)
			fuzz_fail("payload_extract succeeded without the entry 'zz/missing entry'");
		check_staged(&got, wants, nw);
	}
	payload_staged_list_free(&got);
	fuzz_dir_empty(stage);
	fuzz_snap_check(&before, tmp, &snap_opts, "payload_extract");
	for (size_t i = 0; i < nl; i++) {
		free(listed[i].name);
		free(listed[i].target);
	}
	return 0;
}
