/*
 * manifest_private.h - shared by the files of manifests/ only: the generic
 * INI document (sections with their keys and line numbers) that
 * manifest_ini.c fills,
 * before the typed structs of manifest.h are built from it.
 */
#ifndef SETUPKIT_MANIFEST_PRIVATE_H
#define SETUPKIT_MANIFEST_PRIVATE_H

#include "manifest.h"

struct ini_kv {
	char *key;                /* normalised: lowercase, '_' removed */
	char *raw_key;            /* as written, for messages */
	char *value;
	int line;
	int used;                 /* consumed by the typed reader */
};

struct ini_section {
	char *type;               /* "file" in [file inetcomm] */
	char *name;               /* "inetcomm"; NULL for [product] */
	int line;
	struct ini_kv *kv;
	int nkv, cap;
};

struct ini_doc {
	const char *file;         /* borrowed name for messages */
	struct ini_section *sec;
	int nsec, cap;
};

/* ---- what differs per system (manifest_os_posix.c, manifest_os_win32.c) ---- */

/* The directory of a token other than {app} ("{sys}" -> "/usr/lib"; on
 * Windows the system folder). Borrowed, lives as long as the process. */
const char *manifest_token_dir(const char *token);
/* The install directory when the definition names none (allocated). */
char *manifest_default_dir(const char *code);

/* Parse text into doc. Errors: "file:line: ...". doc must be zeroed. */
int ini_doc_parse(struct ini_doc *doc, const char *file, const char *text,
		  size_t len, struct err *e);
void ini_doc_free(struct ini_doc *doc);

/* The kv named key in s (case-sensitive, keys are lowercase), or NULL. */
struct ini_kv *ini_section_get(struct ini_section *s, const char *key);

#endif
