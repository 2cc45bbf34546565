/*
 * err.h - the one error object and status ladder used by every module.
 *
 * A fallible function returns int (0 on success, -1 on failure) and fills a
 * caller-supplied struct err with a message that names the thing (file and
 * line, key, module, path), the cause, and, where it helps, what to do.
 * Tools map the error class to a documented exit code (err_exit_code()).
 * Trap: the message buffer is fixed; long messages are truncated, never
 * allocated, so reporting an out-of-memory error cannot itself fail.
 */
#ifndef SETUPKIT_ERR_H
#define SETUPKIT_ERR_H

#include <stdarg.h>
#include <stddef.h>

/* How bad it is (libarchive's ARCHIVE_WARN / FAILED / FATAL ladder). */
enum err_status {
	ERR_OK = 0,     /* nothing went wrong */
	ERR_WARN,       /* done, with a caveat worth telling the user */
	ERR_FAILED,     /* this item failed; the transaction may go on */
	ERR_FATAL,      /* the operation cannot go on: roll back */
};

/* What kind of thing went wrong; decides the exit code of a tool. */
enum err_class {
	ERR_CLASS_NONE = 0,
	ERR_CLASS_USAGE,     /* bad command line */
	ERR_CLASS_INPUT,     /* bad manifest, definition, answer file, .reg file */
	ERR_CLASS_MEDIA,     /* bad media: signature, hash, unsafe archive */
	ERR_CLASS_IO,        /* the system refused: errno is set */
	ERR_CLASS_NOMEM,     /* allocation failed */
	ERR_CLASS_LOCKED,    /* another transaction holds the root */
	ERR_CLASS_MODULE,    /* a module's registration failed */
	ERR_CLASS_ROLLEDBACK,/* the operation failed and was rolled back */
	ERR_CLASS_NOTFOUND,  /* a named product, key or file does not exist */
	ERR_CLASS_INTERNAL,  /* a bug in setupkit */
};

/*
 * Exit codes shared by `setup` and `mkmedia` (documented in README.md and
 * the man pages). `register` keeps regsvr32's codes (register/reg.h).
 */
enum err_exit {
	ERR_EXIT_OK = 0,          /* success */
	ERR_EXIT_FAILED = 1,       /* the operation failed and was rolled back */
	ERR_EXIT_USAGE = 2,        /* bad command line */
	ERR_EXIT_BADINPUT = 3,     /* bad definition, manifest or answer file */
	ERR_EXIT_BADMEDIA = 4,     /* bad media or signature */
	ERR_EXIT_LOCKED = 5,       /* another setup holds the root */
	ERR_EXIT_SYSTEM = 6,       /* I/O or other system error */
	ERR_EXIT_NOMEM = 7,        /* out of memory */
	ERR_EXIT_NOTFOUND = 8,     /* no such product, file or key */
	ERR_EXIT_INTERNAL = 9,     /* internal error: please report */
	ERR_EXIT_PENDING = 10,     /* success, but a reboot or a registration is pending */
};

#define ERR_MSG_MAX 2048

struct err {
	enum err_status status;
	enum err_class cls;
	int sys_errno;           /* errno for ERR_CLASS_IO, else 0 */
	int line;                /* line in file for ERR_CLASS_INPUT, else 0 */
	char msg[ERR_MSG_MAX];   /* the whole message, "file:line: ..." included */
};

#if defined(__MINGW32__)
/* mingw-w64: windows.mk sets __USE_MINGW_ANSI_STDIO, so vsnprintf is the
 * C99 one (%zu, %lld); plain "printf" would check msvcrt's format. */
#define ERR_PRINTF(a, b) __attribute__((format(gnu_printf, a, b)))
#elif defined(__GNUC__)
#define ERR_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define ERR_PRINTF(a, b)
#endif

/* Reset to "no error". NULL-safe. */
void err_clear(struct err *e);

/* Set a FATAL error of class cls; returns -1 so callers can `return err_set(...)`. */
int err_set(struct err *e, enum err_class cls, const char *fmt, ...) ERR_PRINTF(3, 4);
int err_vset(struct err *e, enum err_class cls, const char *fmt, va_list ap);

/* Like err_set with ERR_CLASS_IO, appending ": strerror(errno)"; keeps errno. */
int err_errno(struct err *e, const char *fmt, ...) ERR_PRINTF(2, 3);

/* Same with an explicit errno value (for errors from pthread/posix_* calls). */
int err_errno_n(struct err *e, int errnum, const char *fmt, ...) ERR_PRINTF(3, 4);

/* An input error at file:line, message becomes "file:line: ...". */
int err_at(struct err *e, const char *file, int line, const char *fmt, ...) ERR_PRINTF(4, 5);

/* Out of memory while doing `what`. */
int err_nomem(struct err *e, const char *what);

/* Prepend context: "context: old message". Keeps class and status. */
int err_prefix(struct err *e, const char *fmt, ...) ERR_PRINTF(2, 3);

/* Lower the status of an already set error (e.g. FATAL -> FAILED or WARN). */
void err_set_status(struct err *e, enum err_status status);

/* True when e holds an error (status != ERR_OK). */
int err_is_set(const struct err *e);

/* Exit code for a tool that failed with e (ERR_OK gives 0). */
int err_exit_code(const struct err *e);

/* Human name of a class ("input", "media", ...), for logs and JSON. */
const char *err_class_name(enum err_class cls);

#endif
