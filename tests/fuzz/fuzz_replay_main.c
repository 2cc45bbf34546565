/*
 * fuzz_replay_main.c - a main() for the fuzz targets without libFuzzer: the
 * targets built with the normal compiler run each input named on the
 * command line (files, or directories of files) once through
 * LLVMFuzzerTestOneInput. `make check` replays the committed regression
 * inputs and the seeds this way (tests/fuzz/replay.sh); a crash or an
 * oracle's abort() is a failure, like under libFuzzer.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	size_t n = 0, cap = 0;

	if (!f) {
		fprintf(stderr, "replay: cannot open '%s'\n", path);
		return -1;
	}
	for (;;) {
		size_t r;

		if (n + 65536 > cap) {
			cap = (n + 65536) * 2;
			buf = realloc(buf, cap);
			if (!buf) {
				fclose(f);
				fprintf(stderr, "replay: out of memory reading '%s'\n", path);
				return -1;
			}
		}
		r = fread(buf + n, 1, 65536, f);
		n += r;
		if (r < 65536)
			break;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, n);
	free(buf);
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_path(const char *path, int *count)
{
	struct stat st;
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0;
	int rc = 0;

	if (stat(path, &st) != 0) {
		fprintf(stderr, "replay: no such input '%s'\n", path);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		(*count)++;
		return run_file(path);
	}
	if (!(d = opendir(path)))
		return -1;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		names = realloc(names, (n + 1) * sizeof(*names));
		if (!names || asprintf(&names[n], "%s/%s", path, de->d_name) < 0) {
			closedir(d);
			return -1;
		}
		n++;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), cmp_names);
	for (size_t i = 0; i < n; i++) {
		if (rc == 0 && run_path(names[i], count) != 0)
			rc = -1;
		free(names[i]);
	}
	free(names);
	return rc;
}

int main(int argc, char **argv)
{
	int count = 0, rc = 0;

	LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++)
		if (run_path(argv[i], &count) != 0)
			rc = 1;
	fprintf(stderr, "replay: %d inputs run\n", count);
	return rc;
}
