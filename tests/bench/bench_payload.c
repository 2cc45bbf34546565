/*
 * bench_payload.c - driver for tests/bench/bench_payload.sh.
 *
 *   bench_payload gen DIR A|B      generate payload A (20,000 files of
 *                                  1-16 KiB in 200 dirs) or B (40 files of
 *                                  4-8 MiB, incompressible) from a fixed
 *                                  seed into DIR/src-X, pack DIR/X.tar with
 *                                  payload_archive_write, write DIR/X.list
 *                                  ("size sha256 name" per entry), remove
 *                                  the source tree.
 *   bench_payload gentree DIR A|B  the same files as a source tree DIR/src-X
 *                                  (named by their paths) and a product
 *                                  definition DIR/X.ini for mkmedia, for
 *                                  the install benchmark.
 *   bench_payload extract ARCHIVE LIST STAGING
 *                                  create STAGING (0700) and stage every
 *                                  entry of LIST from ARCHIVE, verified.
 * Writes only under the directories it is given.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/path.h"
#include "payload/payload.h"

static uint64_t rng = 0x5e7b0d1a2c3f4e59ull;   /* fixed seed */

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void die(const struct err *e)
{
	fprintf(stderr, "bench_payload: %s\n", e->msg);
	exit(1);
}

static int gen(const char *dir, const char *which, int tree)
{
	int is_a = strcmp(which, "A") == 0;
	size_t n = is_a ? 20000 : 40;
	struct payload_source *src = calloc(n, sizeof(*src));
	char *buf = malloc(8u << 20), *srcdir, *list, *arc, *cmd;
	FILE *lf, *def = NULL;
	struct err e;

	if (!src || !buf)
		return 1;
	if (!is_a)
		rng = 0x0b5e55edc0ffee11ull;
	if (asprintf(&srcdir, "%s/src-%s", dir, which) < 0 || asprintf(&list, "%s/%s.list", dir, which) < 0 ||
	    asprintf(&arc, "%s/%s.tar", dir, which) < 0)
		return 1;
	if (mkdir(srcdir, 0755) != 0)
		return perror(srcdir), 1;
	lf = fopen(list, "w");
	if (!lf)
		return perror(list), 1;
	if (tree) {
		char *defp;

		if (asprintf(&defp, "%s/%s.ini", dir, which) < 0 || !(def = fopen(defp, "w")))
			return 1;
		fprintf(def, "[setupkit]\nformat = 2\nkind = product\n[product]\ncode = bench%s\nname = Benchmark %s\n"
			"version = 1.0\ndefault_dir = /opt/bench%s\n[component main]\npayload = main\n", which, which, which);
		free(defp);
	}
	for (size_t i = 0; i < n; i++) {
		size_t size = is_a ? 1024 + (size_t)(next() % (15 * 1024 + 1))
				   : (4u << 20) + (size_t)(next() % ((4u << 20) + 1));
		char *name, *path;
		struct payload_hash h;
		FILE *f;

		for (size_t k = 0; k < size; k += 8) {
			uint64_t v = next();
			memcpy(buf + k, &v, size - k < 8 ? size - k : 8);
		}
		if (is_a) {
			if (asprintf(&name, "d%03zu/f%05zu.bin", i % 200, i) < 0)
				return 1;
		} else if (asprintf(&name, "big/f%02zu.bin", i) < 0) {
			return 1;
		}
		if (tree) {
			char *d;

			if (asprintf(&path, "%s/%s", srcdir, name) < 0 || asprintf(&d, "%s/%.*s", srcdir,
			    (int)(strchr(name, '/') - name), name) < 0)
				return 1;
			mkdir(d, 0755);
			free(d);
			fprintf(def, "[file f%zu]\ncomponent = main\nsource = %s\ndest = {app}/%s\n", i, name, name);
		} else if (asprintf(&path, "%s/%zu", srcdir, i) < 0) {
			return 1;
		}
		f = fopen(path, "wb");
		if (!f || fwrite(buf, 1, size, f) != size || fclose(f) != 0)
			return perror(path), 1;
		if (payload_hash_file(path, &h, &e) != 0)
			die(&e);
		fprintf(lf, "%llu %s %s\n", (unsigned long long)h.size, h.sha256, name);
		src[i] = (struct payload_source){ name, path, 0644, NULL };
	}
	if (fclose(lf) != 0 || (def && fclose(def) != 0))
		return perror(list), 1;
	if (tree)
		return 0;
	if (payload_archive_write(arc, PAYLOAD_FORMAT_TAR, src, n, 0, &e) != 0)
		die(&e);
	if (asprintf(&cmd, "rm -rf '%s'", srcdir) < 0 || system(cmd) != 0)
		return 1;
	return 0;
}

static int extract(const char *arc, const char *list, const char *staging)
{
	struct payload_want *w = NULL;
	size_t n = 0, cap = 0;
	struct payload_staged_list out = {0};
	struct payload_limits lim = { 100000, 1ull << 34 };
	char line[512];
	FILE *lf = fopen(list, "r");
	struct err e;

	if (!lf)
		return perror(list), 1;
	while (fgets(line, sizeof(line), lf)) {
		unsigned long long size;
		char sha[65], name[400];

		if (sscanf(line, "%llu %64s %399s", &size, sha, name) != 3)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			w = realloc(w, cap * sizeof(*w));
			if (!w)
				return 1;
		}
		w[n++] = (struct payload_want){ .name = strdup(name), .size = size, .sha256 = strdup(sha) };
	}
	fclose(lf);
	if (payload_staging_create(staging, &e) != 0)
		die(&e);
	if (payload_extract(arc, staging, w, n, &lim, &out, &e) != 0)
		die(&e);
	if (out.n != n) {
		fprintf(stderr, "bench_payload: staged %zu of %zu\n", out.n, n);
		return 1;
	}
	payload_staged_list_free(&out);
	for (size_t i = 0; i < n; i++) {
		free((char *)w[i].name);
		free((char *)w[i].sha256);
	}
	free(w);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "gen") == 0)
		return gen(argv[2], argv[3], 0);
	if (argc == 4 && strcmp(argv[1], "gentree") == 0)
		return gen(argv[2], argv[3], 1);
	if (argc == 5 && strcmp(argv[1], "extract") == 0)
		return extract(argv[2], argv[3], argv[4]);
	fprintf(stderr, "usage: bench_payload gen|gentree DIR A|B | extract ARCHIVE LIST STAGING\n");
	return 2;
}
