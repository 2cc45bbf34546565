/*
 * err.c - filling struct err. Messages are formatted into the fixed buffer
 * inside the object; nothing here allocates, so it is safe to report an
 * allocation failure. errno is preserved across every function here.
 */
#include "err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

void err_clear(struct err *e)
{
	if (!e)
		return;
	e->status = ERR_OK;
	e->cls = ERR_CLASS_NONE;
	e->sys_errno = 0;
	e->line = 0;
	e->msg[0] = '\0';
}

int err_vset(struct err *e, enum err_class cls, const char *fmt, va_list ap)
{
	int saved = errno;

	if (e) {
		e->status = ERR_FATAL;
		e->cls = cls;
		e->sys_errno = 0;
		e->line = 0;
		vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	}
	errno = saved;
	return -1;
}

int err_set(struct err *e, enum err_class cls, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_vset(e, cls, fmt, ap);
	va_end(ap);
	return -1;
}

static int err_verrno(struct err *e, int errnum, const char *fmt, va_list ap)
{
	size_t n;

	err_vset(e, ERR_CLASS_IO, fmt, ap);
	if (!e)
		return -1;
	e->sys_errno = errnum;
	if (errnum == ENOMEM)
		e->cls = ERR_CLASS_NOMEM;
	n = strlen(e->msg);
	if (n < sizeof(e->msg))
		snprintf(e->msg + n, sizeof(e->msg) - n, ": %s", strerror(errnum));
	errno = errnum;
	return -1;
}

int err_errno(struct err *e, const char *fmt, ...)
{
	int errnum = errno;
	va_list ap;

	va_start(ap, fmt);
	err_verrno(e, errnum, fmt, ap);
	va_end(ap);
	return -1;
}

int err_errno_n(struct err *e, int errnum, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_verrno(e, errnum, fmt, ap);
	va_end(ap);
	return -1;
}

int err_at(struct err *e, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!e)
		return -1;
	e->status = ERR_FATAL;
	e->cls = ERR_CLASS_INPUT;
	e->sys_errno = 0;
	e->line = line;
	if (line > 0)
		n = snprintf(e->msg, sizeof(e->msg), "%s:%d: ", file, line);
	else
		n = snprintf(e->msg, sizeof(e->msg), "%s: ", file);
	if (n < 0)
		n = 0;
	if ((size_t)n < sizeof(e->msg)) {
		va_start(ap, fmt);
		vsnprintf(e->msg + n, sizeof(e->msg) - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

int err_nomem(struct err *e, const char *what)
{
	return err_set(e, ERR_CLASS_NOMEM, "out of memory while %s", what);
}

int err_prefix(struct err *e, const char *fmt, ...)
{
	char old[ERR_MSG_MAX];
	va_list ap;
	int n;

	if (!e)
		return -1;
	memcpy(old, e->msg, sizeof(old));
	va_start(ap, fmt);
	n = vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof(e->msg))
		snprintf(e->msg + n, sizeof(e->msg) - (size_t)n, ": %s", old);
	if (e->status == ERR_OK)
		e->status = ERR_FATAL;
	return -1;
}

void err_set_status(struct err *e, enum err_status status)
{
	if (e)
		e->status = status;
}

int err_is_set(const struct err *e)
{
	return e && e->status != ERR_OK;
}

int err_exit_code(const struct err *e)
{
	if (!e || e->status == ERR_OK)
		return ERR_EXIT_OK;
	switch (e->cls) {
	case ERR_CLASS_USAGE:      return ERR_EXIT_USAGE;
	case ERR_CLASS_INPUT:      return ERR_EXIT_BADINPUT;
	case ERR_CLASS_MEDIA:      return ERR_EXIT_BADMEDIA;
	case ERR_CLASS_LOCKED:     return ERR_EXIT_LOCKED;
	case ERR_CLASS_IO:         return ERR_EXIT_SYSTEM;
	case ERR_CLASS_NOMEM:      return ERR_EXIT_NOMEM;
	case ERR_CLASS_NOTFOUND:   return ERR_EXIT_NOTFOUND;
	case ERR_CLASS_INTERNAL:   return ERR_EXIT_INTERNAL;
	case ERR_CLASS_MODULE:
	case ERR_CLASS_ROLLEDBACK:
	case ERR_CLASS_NONE:
	default:                   return ERR_EXIT_FAILED;
	}
}

const char *err_class_name(enum err_class cls)
{
	switch (cls) {
	case ERR_CLASS_NONE:       return "none";
	case ERR_CLASS_USAGE:      return "usage";
	case ERR_CLASS_INPUT:      return "input";
	case ERR_CLASS_MEDIA:      return "media";
	case ERR_CLASS_IO:         return "io";
	case ERR_CLASS_NOMEM:      return "nomem";
	case ERR_CLASS_LOCKED:     return "locked";
	case ERR_CLASS_MODULE:     return "module";
	case ERR_CLASS_ROLLEDBACK: return "rolledback";
	case ERR_CLASS_NOTFOUND:   return "notfound";
	case ERR_CLASS_INTERNAL:   return "internal";
	}
	return "unknown";
}
