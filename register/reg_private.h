/*
 * reg_private.h - internals shared by the files of register/: the store
 * object, the API binding used by the child, small helpers.
 */
#ifndef SETUPKIT_REG_PRIVATE_H
#define SETUPKIT_REG_PRIVATE_H

#include <sqlite3.h>

#include "reg.h"

#define REG_PATH_MAX 4096      /* longest normalised key path */
#define REG_NAME_MAX 16383     /* longest value name (Win32 limit) */
#define REG_DATA_MAX (16u << 20) /* largest value we accept */

enum reg_stmt_id {
	RS_KEY_GET, RS_KEY_INSERT, RS_KEY_CHILD_AT, RS_KEY_HAS_CHILD,
	RS_KEY_DEL_TREE, RS_KEY_DEL_ONE, RS_VAL_DEL_TREE, RS_VAL_GET,
	RS_VAL_SET, RS_VAL_DEL, RS_VAL_AT, RS_VAL_COUNT,
	RS__COUNT
};

struct reg_store {
	sqlite3 *db;
	char *path;                 /* database file or ":memory:" */
	int in_txn;
	struct reg_writes *log;     /* borrowed; see reg_store_set_log */
	struct reg_writes undo;     /* Windows: how to undo this transaction's
				     * registry writes, in order (reg_keys_win32.c) */
	char *undo_journal;         /* Windows: the same, on disk, while a
				     * transaction is open (NULL in memory) */
	int undo_fd;                /* its fd, valid while undo_journal is set */
	sqlite3_stmt *stmt[RS__COUNT];
};

/* Cached prepared statement (reset, bindings cleared); NULL + e on error. */
sqlite3_stmt *reg_stmt(struct reg_store *s, enum reg_stmt_id id, struct err *e);
/* Translate the last SQLite error of s into e. Returns -1. */
int reg_sqlite_err(struct reg_store *s, struct err *e, const char *what);
/* Run SQL without results. */
int reg_exec(struct reg_store *s, const char *sql, struct err *e);
/* ASCII case folding into an allocated copy. */
char *reg_fold(const char *str);

/* reg_store.c: normalise and fold a key path (*norm and *lp allocated);
 * whether a folded path is a root; log a mutation when logging; the
 * spelled-out name of a folded root path (NULL when not a root). */
int reg_paths(const char *path, char **norm, char **lp, struct err *e);
int reg_is_root(const char *lpath);
int reg_log_write(struct reg_store *s, enum reg_write_op op, const char *key,
		  const char *name, uint32_t type, const void *data, size_t len, struct err *e);
const char *reg_root_name(const char *lpath);

/* The keys and values (reg_key_*, reg_value_*) have one backend per system:
 * reg_keys_sqlite.c (rows of the store) and reg_keys_win32.c (the Windows
 * registry). reg_store_begin/commit/rollback tell it with these. */
int reg_keys_begin(struct reg_store *s, struct err *e);
int reg_keys_end(struct reg_store *s, int commit, struct err *e);
/* Once per open of a writable store file, before any transaction: finish
 * what a process killed during a transaction left behind (Windows: its
 * registry writes; POSIX: nothing, SQLite rolls its own rows back). */
int reg_keys_recover(struct reg_store *s, struct err *e);


/* ---- missing-library diagnosis (reg_deps.c, shared by reg_deps_posix.c
 * and reg_deps_win32.c) ---- */

/* A growing text; oom is set (and the text kept as far as it got) when an
 * allocation failed. */
struct reg_sbuf {
	char *s;
	size_t n, cap;
	int oom;
};
void reg_sb_add(struct reg_sbuf *b, const char *fmt, ...) ERR_PRINTF(2, 3);

/* ---- running a child (reg_runner.c; platform side in reg_child_posix.c,
 * reg_child_win32.c) ---- */

#define REG_CHILD_ARG "--setupkit-reg-child"   /* argv[1] of a registration child */

/* "DllRegisterServer", ... for the entry; reg_parse_guid: "{...}" -> GUID. */
const char *reg_entry_symbol(enum reg_entry entry);
struct _GUID;
int reg_parse_guid(const char *s, struct _GUID *g);

/* What a child sent, as read so far. */
struct reg_msgbuf {
	unsigned char *b;
	size_t n, cap;
};
/* Append: 0; -1 when the child sent more than a write log may hold; -2 out
 * of memory (ours, not the module's fault: never reported as its crash). */
int reg_msgbuf_add(struct reg_msgbuf *m, const unsigned char *p, size_t n);
/* 1 when m holds whole messages and the last one is 'D'. */
int reg_msgbuf_done(const struct reg_msgbuf *m);

/* How a child ended, as the platform saw it. */
struct reg_child_end {
	struct reg_msgbuf m;   /* everything it sent; the caller frees m.b */
	int timed_out;         /* killed at the deadline */
	int nomem;             /* we ran out of memory reading it (it was killed) */
	int exited;            /* it exited: exit_status holds the status */
	int exit_status;
	int signal;            /* POSIX: the signal that killed it */
	uint32_t exception;    /* Windows: the unhandled exception that ended it */
};

struct reg_server;   /* POSIX: a fork server that starts children cheaply */
struct reg_child;    /* a started child */

/* Start a fork server for a batch of modules like o; -1 (e set) when there
 * is none (Windows), and the caller starts each child itself. */
int reg_server_start(const struct reg_run_opts *o, struct reg_server **srv, struct err *e);
void reg_server_stop(struct reg_server *srv);   /* NULL-safe */
/* Start the child that runs o->entry of o->module (through srv when not
 * NULL); its deadline is o->timeout_ms from now. */
int reg_child_start(struct reg_server *srv, const struct reg_run_opts *o, struct reg_child **c,
		    struct err *e);
/* Read the child's messages until 'D', EOF or the deadline (then kill its
 * process group / job), reap it, fill *end, and free c. */
void reg_child_finish(struct reg_child *c, struct reg_child_end *end);
/* How a crashed run died: "signal 11 (SIGSEGV, Segmentation fault)",
 * "exception 0xC0000005 (EXCEPTION_ACCESS_VIOLATION, access violation)". */
void reg_crash_describe(const struct reg_run_result *r, char *buf, size_t size);

#ifdef _WIN32
#include <wchar.h>
/* reg_keys_win32.c: a value as the Windows registry holds it (strings in
 * UTF-16) into setupkit's form (strings in UTF-8, as on POSIX). */
int reg_win_value_in(const wchar_t *name, uint32_t type, const unsigned char *data, size_t len,
		     struct reg_value *out, struct err *e);
#endif

/* reg_api.c: bind the module-facing API to a store (child side). */
void reg_api_bind(struct reg_store *s, const char *module);
/* Reference every exported API function so static linking keeps them. */
extern void *const reg_api_exports[];
extern void *const reg_winreg_exports[];

#endif
