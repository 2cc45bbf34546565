/*
 * reg.h - the registry library (libregister): the SQLite store, captured
 * writes and their undo, running a module's entry points in a child process,
 * HRESULT names, missing-library diagnosis and .reg files.
 *
 * Paths given to reg_* functions are full key paths with a root:
 * "HKLM\Software\Foo" or "HKEY_LOCAL_MACHINE\Software\Foo"; HKCR is a view of
 * HKLM\Software\Classes. Keys compare case-insensitively (ASCII folding) and
 * keep the case they were created with. Value name "" is the default value.
 *
 * Transactions: reg_store_begin/commit/rollback wrap SQLite transactions on
 * the store's connection; another module (the setup journal) may run its own
 * statements on reg_store_db() inside the same transaction. Mutating calls
 * below do not open transactions of their own unless they say so.
 */
#ifndef SETUPKIT_REG_H
#define SETUPKIT_REG_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

struct sqlite3;
struct reg_store;

/* regsvr32-compatible exit codes of the `register` tool (plus 6, 7). */
enum reg_exit {
	REG_EXIT_OK = 0,
	REG_EXIT_USAGE = 1,      /* bad command line (regsvr32: FAIL_ARGS) */
	REG_EXIT_OLE = 2,        /* store or system failure (regsvr32: FAIL_OLE) */
	REG_EXIT_LOAD = 3,       /* module could not be loaded */
	REG_EXIT_ENTRY = 4,      /* entry point not found */
	REG_EXIT_CALL = 5,       /* entry point returned a failure HRESULT */
	REG_EXIT_CRASH = 6,      /* child crashed (signal) or exited mid-call */
	REG_EXIT_TIMEOUT = 7,    /* child did not finish in time */
	REG_EXIT_NOTFOUND = 8,   /* registry subcommand: no such key/module */
	REG_EXIT_INPUT = 9,      /* registry subcommand: bad .reg file */
};

/* ---- store (reg_store.c) ---- */

#define REG_STORE_RDONLY  0x1   /* open an existing store read-only */
#define REG_STORE_MEMORY  0x2   /* in-memory store (root ignored) */
#define REG_STORE_SNAPSHOT 0x4  /* in-memory copy of <root>'s store, if any */

/*
 * Open <root>/var/lib/setupkit/state.db (created with its directories unless
 * REG_STORE_RDONLY). Durable: WAL + synchronous=FULL; busy_timeout 30 s.
 * On success *out is owned by the caller (reg_store_close).
 */
int reg_store_open(struct reg_store **out, const char *root, unsigned flags, struct err *e);
void reg_store_close(struct reg_store *s);          /* NULL-safe; rolls back an open txn */
struct sqlite3 *reg_store_db(struct reg_store *s);  /* borrowed, lives with s */
const char *reg_store_path(const struct reg_store *s); /* db file, or ":memory:" */
int reg_store_begin(struct reg_store *s, struct err *e);    /* BEGIN IMMEDIATE */
int reg_store_commit(struct reg_store *s, struct err *e);
int reg_store_rollback(struct reg_store *s, struct err *e);
/* Consistent copy of the store into file `dest` (SQLite backup API). */
int reg_store_backup(struct reg_store *s, const char *dest, struct err *e);
/* Replace the whole contents with the backup file `src` (one transaction). */
int reg_store_restore(struct reg_store *s, const char *src, struct err *e);
/* 1 when the store holds the registry itself (POSIX), so a backup of it
 * is a backup of the registry; 0 on Windows, where the registry is the
 * system's and reg_store_backup/restore refuse. */
int reg_store_has_registry(void);
/* PRAGMA integrity_check; 0 when "ok". */
int reg_store_check(struct reg_store *s, struct err *e);

/*
 * Normalise a key path: root spelled out (HKEY_LOCAL_MACHINE...), HKCR
 * mapped into HKLM\Software\Classes, no leading/trailing/doubled '\'.
 * Returns an allocated string, or NULL with e set (unknown root, empty
 * component, control character, too long).
 */
char *reg_path_normalize(const char *path, struct err *e);

struct reg_value {
	char *name;          /* as stored ("" for the default value) */
	uint32_t type;       /* SK_REG_* */
	unsigned char *data; /* allocated (may be NULL when len == 0) */
	size_t len;
};
void reg_value_destroy(struct reg_value *v);     /* frees members; NULL-safe */

/* 1: exists, 0: does not, -1: error. Roots always exist. */
int reg_key_exists(struct reg_store *s, const char *path, struct err *e);
/* Create key and missing parents. *created (may be NULL) set to 1 if new.
 * The stored case of existing components wins. */
int reg_key_create(struct reg_store *s, const char *path, int *created, struct err *e);
/* Delete key and everything under it; 0 also when it did not exist. */
int reg_key_delete_tree(struct reg_store *s, const char *path, struct err *e);
/* Delete an empty key; fails (ERR_CLASS_INPUT) when it has subkeys. */
int reg_key_delete(struct reg_store *s, const char *path, struct err *e);
/* Stored spelling of an existing key (allocated), NULL + e when missing. */
char *reg_key_display(struct reg_store *s, const char *path, struct err *e);
/* Subkey #index (by case-folded name) -> allocated name, 1; 0 when past the
 * end; -1 on error. */
int reg_key_subkey_at(struct reg_store *s, const char *path, size_t index,
                      char **name, struct err *e);
/* Value #index (by case-folded name): 1 found, 0 past the end, -1 error. */
int reg_key_value_at(struct reg_store *s, const char *path, size_t index,
                     struct reg_value *out, struct err *e);

/* 1 found (out filled, caller destroys), 0 not found, -1 error. */
int reg_value_get(struct reg_store *s, const char *key, const char *name,
                  struct reg_value *out, struct err *e);
/* The key must exist (ERR_CLASS_NOTFOUND otherwise). */
int reg_value_set(struct reg_store *s, const char *key, const char *name,
                  uint32_t type, const void *data, size_t len, struct err *e);
/* 1 deleted, 0 it did not exist, -1 error. */
int reg_value_delete(struct reg_store *s, const char *key, const char *name,
                     struct err *e);

/* ---- captured writes (reg_capture.c) ---- */

enum reg_write_op {
	REG_W_KEY_CREATE = 1,
	REG_W_VALUE_SET = 2,
	REG_W_VALUE_DELETE = 3,
	REG_W_TREE_DELETE = 4,
	REG_W_KEY_DELETE = 5,
};

struct reg_write {
	enum reg_write_op op;
	char *key;            /* normalised full path */
	char *name;           /* value name, or NULL */
	uint32_t type;
	unsigned char *data;
	size_t len;
};

/* A growing list of writes, in the order they were made. */
struct reg_writes {
	struct reg_write *v;
	size_t n, cap;
};
void reg_writes_init(struct reg_writes *w);
void reg_writes_destroy(struct reg_writes *w);
int reg_writes_add(struct reg_writes *w, enum reg_write_op op, const char *key,
                   const char *name, uint32_t type, const void *data, size_t len,
                   struct err *e);
/* Serialise to / parse from the child protocol's byte format. */
int reg_writes_encode(const struct reg_writes *w, unsigned char **buf, size_t *len,
                      struct err *e);
int reg_writes_decode(struct reg_writes *w, const unsigned char *buf, size_t len,
                      struct err *e);

/* Log every mutation of s into w (NULL stops logging); w is borrowed. */
void reg_store_set_log(struct reg_store *s, struct reg_writes *w);

/* Undo data of one application: capture rows [first, last] of module. */
struct reg_undo {
	int64_t first;   /* 0 when nothing was captured */
	int64_t last;
};

/*
 * Apply writes w made by `module` INSIDE THE CALLER'S TRANSACTION, recording
 * in table reg_capture the state each write replaced. *undo (may be NULL)
 * receives the capture rows written. On failure the caller rolls back.
 */
int reg_writes_apply(struct reg_store *s, const char *module, const struct reg_writes *w,
                     struct reg_undo *undo, struct err *e);
/*
 * Undo, in reverse order, the captures of module with id >= since (0: all),
 * inside the caller's transaction, and forget them. A value or key that was
 * changed since by someone else is left alone and counted in *conflicts
 * (may be NULL). Idempotent.
 */
int reg_capture_undo(struct reg_store *s, const char *module, int64_t since,
                     unsigned *conflicts, struct err *e);
/* Number of capture rows held for module (-1 on error). */
long reg_capture_count(struct reg_store *s, const char *module, struct err *e);

/* ---- HRESULTs (reg_hresult.c) ---- */

/* Symbolic name ("E_FAIL") or NULL when unknown. */
const char *reg_hresult_name(int32_t hr);
/* "0x80004005 (E_FAIL: unspecified failure)" into buf; returns buf. */
char *reg_hresult_describe(int32_t hr, char *buf, size_t size);

/* ---- missing-library diagnosis (reg_deps.c) ---- */

/*
 * Read module's ELF dynamic section and explain which DT_NEEDED libraries
 * cannot be found and where they were looked for (DT_RPATH/DT_RUNPATH with
 * $ORIGIN, LD_LIBRARY_PATH when kept, /etc/ld.so.conf, default dirs).
 * Returns an allocated multi-line text ("" when nothing is missing), or NULL
 * with e set when the file is not a readable ELF object (*bad_format = 1).
 */
char *reg_deps_diagnose(const char *module, int keep_env, int *bad_format, struct err *e);

/* What an ELF object needs from the dynamic loader, read without running
 * any of its code (setup checks modules with it before installing them). */
struct reg_deps {
	char **needed;      /* DT_NEEDED names, in file order */
	size_t nneeded;
	char *rpath;        /* DT_RPATH, unexpanded ($ORIGIN kept), or NULL */
	char *runpath;      /* DT_RUNPATH, unexpanded, or NULL */
	char **sysdirs;     /* the host loader's system directories for this
			     * object's machine and class: /etc/ld.so.conf's,
			     * then the defaults (multiarch, lib64, lib) */
	size_t nsysdirs;
};
/* Fill *d (the caller frees it with reg_deps_destroy, NULL-safe). Returns
 * -1 with e set on failure, e->cls ERR_CLASS_INPUT when path is not a
 * readable little-endian ELF object (then *d is empty). */
int reg_deps_read(const char *path, struct reg_deps *d, struct err *e);
void reg_deps_destroy(struct reg_deps *d);

/* ---- running entry points out of process (reg_runner.c) ---- */

enum reg_entry {
	REG_ENTRY_REGISTER = 1,   /* DllRegisterServer */
	REG_ENTRY_UNREGISTER,     /* DllUnregisterServer */
	REG_ENTRY_INSTALL,        /* DllInstall(1, cmdline) */
	REG_ENTRY_UNINSTALL,      /* DllInstall(0, cmdline) */
	REG_ENTRY_CLASSOBJECT,    /* DllGetClassObject(clsid, IID_IClassFactory) */
};

/* How far the child got. */
enum reg_stage {
	REG_STAGE_NONE = 0,
	REG_STAGE_SPAWN,       /* could not start the child */
	REG_STAGE_LOAD,        /* dlopen failed */
	REG_STAGE_ENTRY,       /* dlsym of the entry point failed */
	REG_STAGE_CALL,        /* entry point returned a failure HRESULT */
	REG_STAGE_CRASH,       /* killed by a signal or exited during the call */
	REG_STAGE_TIMEOUT,     /* killed after the timeout */
	REG_STAGE_DONE,        /* returned a success HRESULT */
};

struct reg_run_opts {
	const char *module;      /* absolute path of the .so */
	enum reg_entry entry;
	const char *cmdline;     /* DllInstall's argument (NULL -> "") */
	const char *clsid;       /* for REG_ENTRY_CLASSOBJECT: "{...}" */
	const char *root;        /* store root the child reads ("/" default) */
	const char *helper;      /* executable with reg_child_main (NULL: this one) */
	unsigned timeout_ms;     /* 0: REG_DEFAULT_TIMEOUT_MS */
	int keep_env;            /* keep LD_PRELOAD / LD_LIBRARY_PATH */
	int quiet_child;         /* child's stdout/stderr to /dev/null */
	int discard_writes;      /* reg_module_run: run, but apply nothing */
};
#define REG_DEFAULT_TIMEOUT_MS 60000u

struct reg_run_result {
	enum reg_stage stage;
	int32_t hr;              /* valid from REG_STAGE_CALL */
	int signal;              /* REG_STAGE_CRASH: signal number, 0 = exited */
	uint32_t exception;      /* REG_STAGE_CRASH on Windows: the exception code */
	int exit_status;         /* REG_STAGE_CRASH with signal 0 */
	int permanent;           /* not worth retrying */
	struct reg_writes writes;/* REG_STAGE_DONE: what the entry point wrote */
	char detail[1536];       /* dlerror text, diagnosis */
};
void reg_run_result_destroy(struct reg_run_result *r);

/*
 * Run one entry point in a child (fork + exec of opts->helper in its own
 * process group, sanitised environment, timeout -> SIGKILL of the group).
 * Returns 0 when the child reported; r->stage says how it ended. -1 with e
 * set only when no child could be run at all. Nothing is written to the store.
 */
int reg_run(const struct reg_run_opts *opts, struct reg_run_result *r, struct err *e);

/*
 * A program that may serve as helper calls this first thing in main():
 * returns -1 when argv is not a child invocation, else never returns.
 */
int reg_child_dispatch(int argc, char **argv);

/* Retry policy for reg_module_run. */
struct reg_retry {
	unsigned attempts;       /* total tries, >= 1 */
	unsigned backoff_ms;     /* first delay, doubled each time */
};

/*
 * Run opts->entry with retries for transient failures (failure HRESULT,
 * crash, timeout), then, on success, apply the child's writes to s in ONE
 * transaction with captures under the module path. For
 * REG_ENTRY_UNREGISTER/UNINSTALL the module's captures are undone instead of
 * applying its writes when captures exist. Returns a REG_EXIT_* code; the
 * explanation (stage, HRESULT, signal, missing libraries) is in e when not 0.
 * *tries (may be NULL) receives the number of attempts.
 */
int reg_module_run(struct reg_store *s, const struct reg_run_opts *opts,
                   const struct reg_retry *retry, unsigned *tries, struct err *e);

/*
 * reg_module_run for opts[0..n) in order, with up to `jobs` children
 * running ahead concurrently; done(ctx, i, ...) is called for each module in
 * order, right after its writes were committed. Trap: a child running ahead
 * snapshots the registry before the previous modules' writes are applied,
 * so use jobs > 1 only for modules that do not read each other's entries.
 * Returns the first failure's REG_EXIT_* code, or 0.
 */
int reg_module_run_many(struct reg_store *s, const struct reg_run_opts *opts, size_t n,
                        const struct reg_retry *retry, unsigned jobs,
                        void (*done)(void *ctx, size_t i, int code, unsigned tries,
                                     const struct err *e),
                        void *ctx);

/* ---- .reg files (reg_regfile.c) ---- */

/* Export key (and its subtree) as a "Windows Registry Editor Version 5.00"
 * file; deterministic output (keys and values sorted case-insensitively). */
int reg_regfile_export(struct reg_store *s, const char *key, const char *file, struct err *e);
/* Import a .reg file in one transaction ([-key] and "v"=- delete). */
int reg_regfile_import(struct reg_store *s, const char *file, struct err *e);

#endif
