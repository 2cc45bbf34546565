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

/* reg_api.c: bind the module-facing API to a store (child side). */
void reg_api_bind(struct reg_store *s, const char *module);
/* Reference every exported API function so static linking keeps them. */
extern void *const reg_api_exports[];
extern void *const reg_winreg_exports[];

#endif
