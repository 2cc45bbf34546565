/*
 * setup.h - the setup engine: state, planner, transaction, recovery and the
 * commands of the `setup` tool (install, plan, uninstall, repair, verify,
 * status, recover). Internal to setup/; the tool's main() is the only user.
 *
 * The engine keeps its state in the same SQLite database as the registry
 * (register/reg.h owns the connection), so one SQLite transaction can cover
 * the engine's journal and registry changes. Paths stored in the state are
 * paths on the target system ("/opt/Mail Suite/bin/x"); the root prefix is
 * added when touching the disk, so a root can be moved.
 */
#ifndef SETUPKIT_SETUP_H
#define SETUPKIT_SETUP_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "common/err.h"
#include "manifests/manifest.h"
#include "setup/setup_service.h"

struct reg_store;

/* Progress of an install, for the wizard's bar and the unattended bar. */
struct setup_progress {
	const char *phase;          /* "staging", "files", "registration", "commit", "done" */
	const char *item;           /* current file or module (target path), or NULL */
	uint64_t bytes_done, bytes_total;
	int items_done, items_total;
};
typedef void (*setup_progress_fn)(void *ctx, const struct setup_progress *p);

/* Options shared by every command (filled by setup_main.c). */
struct setup_opts {
	const char *root;           /* --root, default "/" */
	const char *media;          /* --media */
	const char *answers;        /* --unattended */
	const char *trusted_key;    /* --trusted-key */
	int allow_unsigned;         /* --allow-unsigned */
	int json;                   /* --json */
	const char *log_path;       /* --log: a copy of the run's log */
	const char *reinstall_mode; /* --reinstall-mode, Windows Installer letters */
	unsigned lock_timeout;      /* seconds to wait for the root's lock */
	unsigned reg_attempts;      /* registration attempts (retry ladder) */
	unsigned reg_backoff_ms;
	unsigned reg_timeout_ms;
	int quiet;                  /* no progress lines on stderr */
	const char *self;           /* the registration child's executable; NULL: this one */
	const struct manifest *answers_m; /* answers already loaded (wizard); else --unattended */
	setup_progress_fn progress; /* may be NULL */
	void *progress_ctx;
	const char *save_answers;   /* wizard: --save-answers FILE */
};

/* Reinstall-mode letters (Windows Installer REINSTALLMODE, file part). */
#define SETUP_MODE_P 0x01   /* only if missing */
#define SETUP_MODE_O 0x02   /* missing or older version (default) */
#define SETUP_MODE_E 0x04   /* missing, older or equal version */
#define SETUP_MODE_D 0x08   /* missing or a different version */
#define SETUP_MODE_C 0x10   /* missing or checksum differs from the media */
#define SETUP_MODE_A 0x20   /* always */

/* One run of the engine on one root. */
struct setup_ctx {
	const struct setup_opts *o;
	char *root;                 /* absolute, no trailing slash ("" for "/") */
	struct reg_store *store;
	int lock_fd;
	FILE *log;                  /* the run's log file in the state directory */
	FILE *log_copy;             /* --log */
	char *log_file;             /* its path, for messages */
	unsigned mode;              /* SETUP_MODE_* */
	volatile int *cancel;       /* set by SIGINT/SIGTERM */
	uint64_t total_bytes, placed_bytes;   /* progress of the current install */
	int placed_items;
};

/* ---- context, lock, log (setup_ctx.c) ---- */

/* Open the root: lock, store, schema, log; then recover an interrupted
 * transaction. op names the command for the log file name. */
int setup_ctx_open(struct setup_ctx *c, const struct setup_opts *o, const char *op, struct err *e);
void setup_ctx_close(struct setup_ctx *c);
/* root + path on the target system; allocated. */
char *setup_real(const struct setup_ctx *c, const char *path);
/* One line to the log (and to stderr unless quiet when `show`). */
void setup_log(struct setup_ctx *c, int show, const char *fmt, ...) ERR_PRINTF(3, 4);

/* ---- file versions (setup_fileversion.c) ---- */

/* Version of the file at path from its what-string; nparts = 0 when none. */
int setup_file_version(const char *path, struct manifest_version *v, struct err *e);

/* ---- state (setup_state.c): the only file of setup/ that speaks SQL ---- */

struct setup_product {
	char *code, *name, *version, *install_dir, *components;
	int level;
	char *manifest;             /* the media manifest text it was installed from */
};
void setup_product_destroy(struct setup_product *p);

struct setup_file_rec {
	char *path, *product, *file_id, *component, *sha256, *version;
	uint64_t size;
	unsigned mode, flags;
};
void setup_file_rec_destroy(struct setup_file_rec *f);
/* Destroy the n records of v (setup_state_files' list) and free v. */
void setup_file_recs_free(struct setup_file_rec *v, int n);

int setup_state_init(struct setup_ctx *c, struct err *e);
int setup_state_begin(struct setup_ctx *c, struct err *e);
int setup_state_commit(struct setup_ctx *c, struct err *e);
void setup_state_rollback(struct setup_ctx *c);
/* 1 found, 0 not installed, -1 error. */
int setup_state_product(struct setup_ctx *c, const char *code, struct setup_product *p, struct err *e);
int setup_state_products(struct setup_ctx *c, char ***codes, int *n, struct err *e);
int setup_state_product_put(struct setup_ctx *c, const struct setup_product *p, struct err *e);
int setup_state_product_delete(struct setup_ctx *c, const char *code, struct err *e);
/* Files of one product (product != NULL) or the record of one path owned by
 * any product (path != NULL, first row). */
int setup_state_files(struct setup_ctx *c, const char *product, struct setup_file_rec **out, int *n, struct err *e);
int setup_state_file_any(struct setup_ctx *c, const char *path, struct setup_file_rec *out, struct err *e);
int setup_state_file_refs(struct setup_ctx *c, const char *path, const char *except_product, struct err *e);
int setup_state_file_put(struct setup_ctx *c, const struct setup_file_rec *f, struct err *e);
/* A module the product registered but does not own: the file was on disk
 * already, identical to the media's, and was kept. Uninstall undoes its
 * registration (the file stays); _kept_modules lists a product's, less
 * those another product owns or registered too. */
int setup_state_kept_module_put(struct setup_ctx *c, const char *product, const char *path, struct err *e);
int setup_state_kept_modules(struct setup_ctx *c, const char *product, char ***paths, int *n, struct err *e);
int setup_state_file_delete(struct setup_ctx *c, const char *product, const char *path, struct err *e);
/* Backups of files a product replaced (restored when it is uninstalled). */
int setup_state_backup_put(struct setup_ctx *c, const char *product, const char *path, const char *backup, struct err *e);
int setup_state_backup_get(struct setup_ctx *c, const char *product, const char *path, char **backup, struct err *e);
int setup_state_backup_delete(struct setup_ctx *c, const char *product, const char *path, struct err *e);
/* Directories a product created (removed when empty at uninstall). */
int setup_state_dir_put(struct setup_ctx *c, const char *product, const char *path, struct err *e);
int setup_state_dirs(struct setup_ctx *c, const char *product, char ***paths, int *n, struct err *e);
/* Directories of product that still hold files of other products become
 * theirs too, so the last product out removes them. */
int setup_state_dirs_hand_over(struct setup_ctx *c, const char *product, struct err *e);
int setup_state_dirs_delete(struct setup_ctx *c, const char *product, struct err *e);
/* Work left pending for `setup recover`: a file replaced at the next
 * restart (reason SETUP_PENDING_RESTART; it is registered after it when
 * it self-registers) or a registration that failed on a file with the
 * `defer` flag (SETUP_PENDING_DEFERRED). _pending lists a product's paths,
 * _pending_restart those of one product (or of all, product NULL) waiting
 * for a restart. */
#define SETUP_PENDING_RESTART "replaced at the next restart"
#define SETUP_PENDING_DEFERRED "registration failed; deferred"
int setup_state_pending_put(struct setup_ctx *c, const char *product, const char *path, const char *reason, struct err *e);
int setup_state_pending_delete(struct setup_ctx *c, const char *product, const char *path, struct err *e);
int setup_state_pending(struct setup_ctx *c, const char *product, char ***paths, int *n, struct err *e);
int setup_state_pending_restart(struct setup_ctx *c, const char *product, char ***paths, int *n, struct err *e);
/* Installed services and their start type (MANIFEST_START_*); _type
 * returns it, 0 when the service is not installed, -1 on error. */
int setup_state_service_put(struct setup_ctx *c, const char *product, const char *name, int start_type, struct err *e);
int setup_state_service_type(struct setup_ctx *c, const char *product, const char *name, struct err *e);
int setup_state_services_delete(struct setup_ctx *c, const char *product, struct err *e);
/* Highest registry capture id so far (the rollback mark). */
int64_t setup_state_reg_mark(struct setup_ctx *c, struct err *e);
/* Sort module names by their latest registry capture, newest first: the
 * order in which their writes must be undone (later writes may sit inside
 * keys that earlier ones created). */
int setup_state_sort_by_capture(struct setup_ctx *c, char **modules, int n, struct err *e);
void setup_strv_free(char **v, int n);
/* 1 when s is one of the n strings of v. */
int setup_strv_has(char *const *v, int n, const char *s);
/* Service packs applied to a product (newest first), the files each
 * changed (backup NULL: the pack added the file; rec: the product's file
 * row before the pack when had_rec) and the modules whose registry
 * captures above reg_mark belong to the pack. */
struct setup_sp_rec {
	int level, prev_level;
	char *name, *prev_version, *new_version;
	int64_t reg_mark;
};
struct setup_sp_file {
	char *backup;               /* path on the target system, or NULL */
	int had_rec;
	struct setup_file_rec rec;  /* rec.path is always set */
};
void setup_sp_rec_destroy(struct setup_sp_rec *r);
void setup_sp_file_destroy(struct setup_sp_file *f);
int setup_state_sp_put(struct setup_ctx *c, const char *product, const struct setup_sp_rec *r, struct err *e);
int setup_state_sps(struct setup_ctx *c, const char *product, struct setup_sp_rec **out, int *n, struct err *e);
int setup_state_sp_file_put(struct setup_ctx *c, const char *product, int level, const char *path, const char *backup,
			    const struct setup_file_rec *prev, struct err *e);
int setup_state_sp_files(struct setup_ctx *c, const char *product, int level, struct setup_sp_file **out, int *n,
			 struct err *e);
int setup_state_sp_module_put(struct setup_ctx *c, const char *product, int level, const char *module, struct err *e);
int setup_state_sp_modules(struct setup_ctx *c, const char *product, int level, char ***mods, int *n, struct err *e);
int setup_state_sp_delete(struct setup_ctx *c, const char *product, int level, struct err *e);
/* Directories a pack created, in creation order. */
int setup_state_sp_dir_put(struct setup_ctx *c, const char *product, int level, int seq, const char *path, struct err *e);
int setup_state_sp_dirs(struct setup_ctx *c, const char *product, int level, char ***paths, int *n, struct err *e);
int setup_state_dir_delete(struct setup_ctx *c, const char *product, const char *path, struct err *e);

/* ---- the journal (setup_state.c) and transactions (setup_txn.c) ---- */

enum setup_op_kind {
	SETUP_OP_PUT = 1,     /* T.setupkit-new -> T; old T kept as T.setupkit-old */
	SETUP_OP_REMOVE,      /* T -> T.setupkit-old, dropped at commit */
	SETUP_OP_RESTORE,     /* a backup -> T; our T kept until commit */
	SETUP_OP_PUT_RESTART, /* a PUT whose T was in use (Windows): a copy of
			       * the old T kept as T.setupkit-old, and
			       * T.setupkit-new -> T scheduled for the next
			       * restart (os_replace_at_restart); apply turns a
			       * PUT into this, journaled before it acts */
};

struct setup_op {
	enum setup_op_kind kind;
	char *path;           /* on the target system */
	int old_exists;       /* PUT: T existed when planned */
	char *keep;           /* PUT: move the old T here at commit (backup store);
			       * RESTORE: the backup to restore; NULL otherwise */
	unsigned mode;        /* PUT: mode of the new file (Windows: not applied,
			       * a file has no POSIX mode bits, its ACL is
			       * inherited from its folder) */
};

struct setup_txn {
	int64_t id;
	char *op;             /* "install", "uninstall", "repair" */
	char *product;
	int64_t reg_mark;     /* registry captures above this belong to us */
	struct setup_op *ops;
	int nops, cap;
	char **dirs;          /* directories this transaction created */
	int ndirs;
	char **modules;       /* modules whose captures roll back with us */
	int nmodules;
	int restart_ok;       /* apply may schedule a PUT whose T is in use for
			       * the next restart (install, repair); else it
			       * fails the transaction */
	char *stage_dir;      /* "" (files stage beside their final paths); a
			       * journal of an older setup may name a staging
			       * directory, relative to the root, to remove */
};

/* Name a new transaction (t zeroed): op and product copied, no staging
 * directory (files stage beside their final paths). On failure (out of
 * memory) setup_txn_destroy frees what was copied. */
int setup_txn_init(struct setup_txn *t, const char *op, const char *product, struct err *e);
int setup_txn_add(struct setup_txn *t, enum setup_op_kind kind, const char *path, int old_exists,
		  const char *keep, unsigned mode, struct err *e);
void setup_txn_destroy(struct setup_txn *t);
/* Journal the whole transaction durably before anything on disk changes. */
int setup_txn_begin(struct setup_ctx *c, struct setup_txn *t, struct err *e);
/* Record a directory created / a module registered (durable). */
int setup_txn_note_dir(struct setup_ctx *c, struct setup_txn *t, const char *path, struct err *e);
int setup_txn_note_module(struct setup_ctx *c, struct setup_txn *t, const char *module, struct err *e);
/* Create the missing parents of every PUT target, all journaled in one
 * durable commit first (not one commit per directory). */
int setup_txn_make_dirs(struct setup_ctx *c, struct setup_txn *t, struct err *e);
/* Where the new file of PUT op o is staged: T.setupkit-new beside its final
 * path T, on the real filesystem (payload_want.dest; allocated). The payload
 * is extracted and verified straight there, after setup_txn_make_dirs, and
 * apply renames it to T inside one directory. NULL when out of memory. */
char *setup_txn_new_path(struct setup_ctx *c, const struct setup_op *o);
/* Switch every op in (backups by hard link, then rename), then sync.
 * Windows: a T that is in use (a loaded DLL, a running program) cannot be
 * renamed over. With restart_ok its PUT becomes SETUP_OP_PUT_RESTART (the
 * caller defers its registration and records it pending with
 * SETUP_PENDING_RESTART); without, apply fails naming the file. */
int setup_txn_apply(struct setup_ctx *c, struct setup_txn *t, struct err *e);
/* Mark committed (inside the caller's open state transaction). */
int setup_txn_mark_committed(struct setup_ctx *c, struct setup_txn *t, struct err *e);
/* After the commit: drop or keep backups, remove staging, forget the journal. */
int setup_txn_finish(struct setup_ctx *c, struct setup_txn *t, struct err *e);
/* Undo everything the transaction did (files, registry), forget it. */
int setup_txn_rollback(struct setup_ctx *c, struct setup_txn *t, struct err *e);
/* Finish or undo an interrupted transaction found in the journal. Returns
 * 0 when there was nothing to do, 1 when it recovered one, -1 on error. */
int setup_txn_recover(struct setup_ctx *c, struct err *e);
/* Journal access (setup_state.c). */
int setup_journal_write(struct setup_ctx *c, struct setup_txn *t, struct err *e);
/* Op seq of transaction id becomes kind (inside the caller's state transaction). */
int setup_journal_set_op_kind(struct setup_ctx *c, int64_t id, int seq, enum setup_op_kind kind, struct err *e);
int setup_journal_load(struct setup_ctx *c, struct setup_txn *t, char **state, struct err *e);
int setup_journal_append_op(struct setup_ctx *c, struct setup_txn *t, int idx, struct err *e);
int setup_journal_set_state(struct setup_ctx *c, int64_t id, const char *state, struct err *e);
int setup_journal_add_dir(struct setup_ctx *c, int64_t id, const char *path, struct err *e);
int setup_journal_add_module(struct setup_ctx *c, int64_t id, const char *module, struct err *e);
int setup_journal_forget(struct setup_ctx *c, int64_t id, struct err *e);

/* ---- the planner (setup_plan.c) ---- */

enum setup_action { SETUP_INSTALL = 1, SETUP_REPLACE, SETUP_KEEP, SETUP_SKIP };

struct setup_plan_item {
	const struct manifest_file *f;
	char *path;                 /* on the target system */
	enum setup_action action;
	const char *rule;           /* why, for people and JSON */
	int exists;
	char disk_sha256[65];
	char disk_version[MANIFEST_VERSION_STRMAX];
	char state_sha256[65];      /* what the state says the file should be */
	int foreign;                /* on disk, not installed by any product */
};

struct setup_plan {
	const struct manifest *m;
	char *install_dir;
	int *selected;              /* per component */
	struct setup_plan_item *items;
	int nitems;
	uint64_t bytes;             /* to be written */
};

int setup_plan_build(struct setup_ctx *c, const struct manifest *m, const char *install_dir,
		     const struct manifest_list *components, struct setup_plan *p, struct err *e);
void setup_plan_destroy(struct setup_plan *p);
void setup_plan_print(const struct setup_plan *p, FILE *f, int json);
const char *setup_action_name(enum setup_action a);

/* ---- registration (setup_register.c) ---- */

/* Register file it (at its final path) with the retry ladder; on a failure
 * that persists, e explains it. repaired is set when the module was
 * replaced from media along the way. */
int setup_register_module(struct setup_ctx *c, struct setup_txn *t, const struct manifest *m,
			  const char *media_dir, const struct manifest_file *f, const char *path,
			  int *repaired, struct err *e);

/* ---- modules' libraries, checked before anything changes (setup_needed.c) ---- */

struct reg_deps;
/* Refuse (ERR_CLASS_INPUT, -1) when a selfreg module the plan installs,
 * replaces or keeps needs a library that neither the plan, the root nor
 * the host's system directories provide; e names the module, the library,
 * the directories looked in and the component that ships it. Modules to be
 * installed are read from a verified staging copy of media_dir's payloads,
 * removed before returning: success or failure, nothing is left behind. */
int setup_needed_check(struct setup_ctx *c, const struct setup_plan *p, const char *media_dir, struct err *e);
/* Whether the module to be at module_path (target system) finds `name`:
 * 1 found, 0 missing, -1 out of memory. looked receives the directories
 * searched, for messages (truncated to looked_size). root: "" for "/". */
int setup_needed_find(const char *root, const struct setup_plan *p, const char *module_path,
		      const struct reg_deps *d, const char *name, char *looked, size_t looked_size);

/* ---- commands (setup_cmd_*.c) ---- */

int setup_cmd_install(const struct setup_opts *o, struct err *e);
int setup_cmd_plan(const struct setup_opts *o, struct err *e);
int setup_cmd_uninstall(const struct setup_opts *o, const char *product, struct err *e);
int setup_cmd_repair(const struct setup_opts *o, const char *product, struct err *e);
int setup_cmd_verify(const struct setup_opts *o, const char *product, struct err *e);
int setup_cmd_status(const struct setup_opts *o, struct err *e);
int setup_cmd_recover(const struct setup_opts *o, struct err *e);
int setup_cmd_validate(const char *path, struct err *e);
/* The terminal wizard, and install with a progress bar on stderr (setup_wizard.c). */
int setup_cmd_wizard(const struct setup_opts *o, struct err *e);
int setup_cmd_install_bar(const struct setup_opts *o, struct err *e);
/* setup_cmd_sp.c: `setup sp apply --media DIR`, `setup sp remove PRODUCT [LEVEL]`. */
int setup_cmd_sp_apply(const struct setup_opts *o, struct err *e);
int setup_cmd_sp_remove(const struct setup_opts *o, const char *product, int level, struct err *e);
/* Bytes held in product's service-pack backup store (for status). */
int setup_sp_backup_usage(struct setup_ctx *c, const char *product, uint64_t *bytes, struct err *e);
/* `setup services list|start|stop|restart [PRODUCT]` (setup_cmd_services.c). */
int setup_cmd_services(const struct setup_opts *o, const char *verb, const char *product, struct err *e);

/* Shared by the commands (setup_media.c): open and verify media, load its
 * manifest; load the answer file. */
int setup_media_load(const struct setup_opts *o, struct manifest **out, struct err *e);
int setup_answers_load(const struct setup_opts *o, const struct manifest *media,
		       struct manifest **out, struct err *e);

/* JSON string output helper (setup_plan.c). */
void setup_json_str(FILE *f, const char *s);

#endif
