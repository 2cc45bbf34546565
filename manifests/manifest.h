/*
 * manifest.h - the text formats setupkit reads and writes: product
 * definition, media manifest, service-pack definition and manifest, answer
 * file. All are INI files (manifest_ini.c); FORMAT.md documents them.
 *
 * A loaded manifest is plain data: the structs below are filled by
 * manifest_load*() and owned by the struct manifest (manifest_free frees
 * everything). Every element remembers the line it came from, so later
 * checks (the planner, mkmedia) can report "file:line: ...".
 *
 * Trap: lines are read into a 200-byte buffer (inih's size, kept when
 * setupkit stopped using inih), so a line holds at most MANIFEST_MAX_LINE
 * bytes before its newline; a longer line is an error naming the line,
 * never silently split.
 */
#ifndef SETUPKIT_MANIFEST_H
#define SETUPKIT_MANIFEST_H

#include <stdint.h>
#include <stdio.h>

#include "common/err.h"

/* The newest format version this build reads and writes, and the oldest. */
#define MANIFEST_FORMAT_CURRENT 2
#define MANIFEST_FORMAT_OLDEST  1

/* Limits on input (every buffer fed from media has a maximum). */
#define MANIFEST_MAX_LINE       198     /* bytes of a line without its newline */
#define MANIFEST_MAX_FILE_BYTES (64u * 1024 * 1024)
#define MANIFEST_MAX_SECTIONS   500000
#define MANIFEST_MAX_LIST       256     /* items in a comma list */

/* ---- versions ---------------------------------------------------------- */

/* Up to four dotted parts, each 0-65535, like a Windows file version. */
struct manifest_version {
	uint16_t part[4];
	int nparts;                 /* 1..4 as written; 0 = no version */
};

#define MANIFEST_VERSION_STRMAX 24

/* Parse "5.5.2448.0". Returns 0, or -1 with a message in e naming s. */
int manifest_version_parse(const char *s, struct manifest_version *v, struct err *e);
/* <0, 0, >0; missing parts count as 0 ("5.5" == "5.5.0.0"). */
int manifest_version_cmp(const struct manifest_version *a, const struct manifest_version *b);
/* Print as written (nparts parts) into buf[MANIFEST_VERSION_STRMAX]. */
char *manifest_version_format(const struct manifest_version *v, char *buf);

/* ---- the data ---------------------------------------------------------- */

enum manifest_kind {
	MANIFEST_PRODUCT = 1,  /* product definition (person -> mkmedia) */
	MANIFEST_MEDIA,        /* media manifest (mkmedia -> setup) */
	MANIFEST_SP,           /* service-pack definition (person -> mkmedia) */
	MANIFEST_SP_MEDIA,     /* service-pack manifest (mkmedia -> setup) */
	MANIFEST_ANSWERS,      /* answer file (person or wizard -> setup) */
};

/* File flags (key `flags`, a comma list). */
#define MANIFEST_FILE_SELFREG   0x01  /* module: run its registration */
#define MANIFEST_FILE_SHARED    0x02  /* reference-counted across products */
#define MANIFEST_FILE_SERVICE   0x04  /* a service's executable */
#define MANIFEST_FILE_CONFIG    0x08  /* user-editable: keep if modified */
#define MANIFEST_FILE_DEFER     0x10  /* registration may stay pending */
#define MANIFEST_FILE_SYMLINK   0x20  /* a symbolic link (target = link) */

struct manifest_list {
	char **items;
	int n;
};

struct manifest_product {
	char *code;               /* identifier: [A-Za-z0-9._-]+ */
	char *name;
	struct manifest_version version;
	char *publisher;
	char *default_dir;        /* absolute; spaces allowed */
	char *license;            /* relative path of the license text on media */
	int line;
};

struct manifest_component {
	char *name;
	char *description;
	char *payload;            /* payload name (archive base name on media) */
	int default_on;
	struct manifest_list requires;   /* component names */
	int line;
};

struct manifest_file {
	char *id;                 /* section name: [file ID] */
	char *component;
	char *source;             /* definition: path relative to --source */
	char *dest;               /* "{app}/bin/x.so": token + clean relative path */
	unsigned mode;            /* permission bits, default 0644 */
	struct manifest_version version;  /* nparts == 0: unversioned */
	unsigned flags;           /* MANIFEST_FILE_* */
	char *target;             /* symlink target (flag symlink) */
	struct manifest_list after;      /* register after these file ids */
	/* media and sp-media only: */
	char *entry;              /* entry name inside the payload archive */
	uint64_t size;
	char sha256[65];          /* lowercase hex */
	int line;
};

enum manifest_start_type { MANIFEST_START_AUTO = 1, MANIFEST_START_MANUAL, MANIFEST_START_DISABLED };

struct manifest_service {
	char *name;
	char *component;
	char *description;
	char *start;              /* shell command lines, run with /bin/sh -c */
	char *stop;
	char *status;             /* exit 0 = running */
	enum manifest_start_type start_type;
	struct manifest_list depends_on;   /* must be running first */
	struct manifest_list start_before; /* ordering only */
	struct manifest_list start_after;
	struct manifest_list conflicts;
	int external;             /* declared only to be ordered against */
	int line;
};

/* Named points at which extensions run. */
enum manifest_point {
	MANIFEST_POINT_BEFORE_FILES = 1,
	MANIFEST_POINT_AFTER_FILES,
	MANIFEST_POINT_AFTER_REGISTRATION,
	MANIFEST_POINT_BEFORE_UNINSTALL,
	MANIFEST_POINT_BEFORE_SP,
	MANIFEST_POINT_AFTER_SP,
};

struct manifest_extension {
	char *name;
	char *component;          /* NULL: the product */
	enum manifest_point point;
	char *command;
	unsigned timeout;         /* seconds, default 60 */
	int line;
};

enum manifest_reg_type {
	MANIFEST_REG_SZ = 1, MANIFEST_REG_EXPAND_SZ, MANIFEST_REG_MULTI_SZ,
	MANIFEST_REG_DWORD, MANIFEST_REG_QWORD, MANIFEST_REG_BINARY, MANIFEST_REG_NONE,
};

struct manifest_regentry {
	char *id;                 /* section name */
	char *component;
	char *key;                /* "HKLM\\Software\\Example\\Mail" */
	char *value;              /* value name; "" = the default value */
	enum manifest_reg_type type;
	char *data;               /* as written; tokens expanded by setup */
	int remove;               /* sp: delete this value */
	int line;
};

struct manifest_payload {     /* media only: one archive per payload */
	char *name;
	char *archive;            /* file name in the media directory */
	uint64_t size;
	char sha256[65];
	uint64_t entries;         /* number of entries, for bomb limits */
	uint64_t unpacked;        /* total bytes of entries */
	int line;
};

struct manifest_servicepack { /* sp and sp-media */
	int level;                /* 1 for SP1 */
	char *name;               /* "Service Pack 1" */
	char *product;            /* product code it applies to */
	struct manifest_version min_version, max_version; /* installed range */
	struct manifest_version new_version;  /* product version afterwards */
	struct manifest_list supersedes;      /* levels, as strings "1","2" */
	struct manifest_list restart_services;
	int line;
};

struct manifest_answers {
	char *product;
	char *install_dir;        /* NULL: the product's default */
	struct manifest_list components;   /* NULL list: the defaults */
	int components_set;
	int accept_license;
	int start_services;       /* default 1 */
	char *log;
	int line;
};

struct manifest_service_answer {  /* answers: [service NAME] */
	char *name;
	int start_type;           /* 0 = as defined */
	int line;
};

struct manifest {
	enum manifest_kind kind;
	int format;               /* the format version the file was written in */
	char *path;               /* the file it came from (for messages) */
	int level;                /* media: service-pack level slipstreamed in */

	struct manifest_product product;
	struct manifest_component *components; int ncomponents;
	struct manifest_file *files;           int nfiles;
	struct manifest_service *services;     int nservices;
	struct manifest_extension *extensions; int nextensions;
	struct manifest_regentry *regentries;  int nregentries;
	struct manifest_payload *payloads;     int npayloads;
	struct manifest_servicepack sp;
	struct manifest_answers answers;
	struct manifest_service_answer *service_answers; int nservice_answers;
};

/*
 * Load and validate path, which must be of kind `expect` (0: any). On
 * success *out owns a new manifest; on failure *out is NULL and e says
 * "file:line: what is wrong and what is expected".
 */
int manifest_load(const char *path, enum manifest_kind expect,
		  struct manifest **out, struct err *e);
/* Same from memory; name is used in messages. */
int manifest_load_buffer(const char *name, const char *text, size_t len,
			 enum manifest_kind expect, struct manifest **out, struct err *e);
void manifest_free(struct manifest *m);

/*
 * Write m as a media (or sp-media) manifest in the current format. The
 * output is deterministic: same manifest, same bytes. Returns 0 or -1.
 */
int manifest_write(const struct manifest *m, FILE *f, struct err *e);

/* Lookups; borrowed pointers valid while m lives; NULL when absent. */
struct manifest_component *manifest_component_find(const struct manifest *m, const char *name);
struct manifest_file *manifest_file_find(const struct manifest *m, const char *id);
struct manifest_service *manifest_service_find(const struct manifest *m, const char *name);
struct manifest_payload *manifest_payload_find(const struct manifest *m, const char *name);

/*
 * Resolve a component selection: start from `chosen` (NULL: the defaults),
 * add every required component transitively. sel[i] is set to 1 for each
 * selected component i (sel has m->ncomponents entries). Unknown names are
 * an error naming them.
 */
int manifest_select(const struct manifest *m, const struct manifest_list *chosen,
		    int *sel, struct err *e);

/*
 * Expand a destination "{app}/bin/x" into an absolute path on the target
 * system (not yet under --root): {app} = app_dir, {sys} = /usr/lib,
 * {etc} = /etc, {var} = /var/lib, {bin} = /usr/bin. Allocated, or NULL on OOM.
 */
char *manifest_dest_expand(const char *dest, const char *app_dir);
/* 1 when an install directory (default_dir, an answer file's dir; both
 * checked when loaded to be absolute POSIX or drive paths) is one of this
 * system's: "/..." on POSIX, "C:\..." on Windows. A definition is data and
 * may be built into media anywhere; the install refuses the other kind. */
int manifest_dir_native(const char *dir);
/* An install directory of this system, for messages: "/opt/Mail Suite". */
extern const char manifest_dir_example[];

/* Split "a, b ,c" into a list (file and line for the error of an empty
 * item); free with manifest_list_free. */
int manifest_list_parse(const char *file, int line, const char *key,
			const char *value, struct manifest_list *out, struct err *e);
void manifest_list_free(struct manifest_list *l);
int manifest_list_has(const struct manifest_list *l, const char *item);

/* Names for enums (for messages, JSON, and manifest_write). */
const char *manifest_kind_name(enum manifest_kind k);
const char *manifest_point_name(enum manifest_point p);
const char *manifest_start_type_name(enum manifest_start_type t);
const char *manifest_reg_type_name(enum manifest_reg_type t);

#endif
