/*
 * setup_ctx.c - opening a root for one command: the lock (one transaction
 * per root; a second setup waits a bounded time, then names the holder;
 * flock or LockFileEx behind setup_proc.h),
 * the state database, the run's log file, and recovery of an interrupted
 * transaction, which runs at the start of every command.
 */
#include "setup.h"

#include "setup_proc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/mem.h"
#include "common/names.h"
#include "common/os.h"
#include "common/path.h"
#include "register/reg.h"

char *setup_real(const struct setup_ctx *c, const char *path)
{
	return os_in_root(c->root, path);
}

void setup_log(struct setup_ctx *c, int show, const char *fmt, ...)
{
	char line[ERR_MSG_MAX + 64];
	char ts[32];
	time_t now = time(NULL);
	struct tm tm;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	os_gmtime(now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (c->log)
		fprintf(c->log, "%s %s\n", ts, line);
	if (c->log_copy)
		fprintf(c->log_copy, "%s %s\n", ts, line);
	if (show && !c->o->quiet)
		fprintf(stderr, "setup: %s\n", line);
}

static int lock_root(struct setup_ctx *c, struct err *e)
{
	char *path = setup_real(c, "/" SK_LOCK_FILE);
	unsigned waited_ms = 0, limit_ms = c->o->lock_timeout * 1000u;
	int fd, r;

	if (!path)
		return err_nomem(e, "locking the root");
	fd = setup_proc_lock_open(path, e);
	if (fd < 0) {
		mem_free(path);
		return -1;
	}
	while ((r = setup_proc_lock_try(fd, path, e)) != 0) {
		if (r < 0)
			goto fail;
		if (waited_ms >= limit_ms) {
			char who[400];

			setup_proc_lock_holder(fd, who, sizeof(who));
			err_set(e, ERR_CLASS_LOCKED,
				"the root '%s' is locked by %s, which is running a setup transaction; waited %u s. "
				"Wait for it to finish, or pass --lock-timeout SEC to wait longer",
				c->root[0] ? c->root : "/", who, c->o->lock_timeout);
			goto fail;
		}
		if (waited_ms == 0 && !c->o->quiet)
			fprintf(stderr, "setup: waiting for the lock on '%s'...\n", path);
		os_sleep_ms(100);
		waited_ms += 100;
	}
	if (setup_proc_lock_note_pid(fd, path, e))
		goto fail;
	c->lock_fd = fd;
	mem_free(path);
	return 0;
fail:
	setup_proc_lock_close(fd);
	mem_free(path);
	return -1;
}

static int open_log(struct setup_ctx *c, const char *op, struct err *e)
{
	char *dir = setup_real(c, "/" SK_LOG_DIR);
	char name[96];
	time_t now = time(NULL);
	struct tm tm;

	if (!dir || path_mkdirs(dir, 0755, e)) {
		mem_free(dir);
		return dir ? -1 : err_nomem(e, "opening the log");
	}
	os_gmtime(now, &tm);
	strftime(name, sizeof(name), "%Y%m%dT%H%M%SZ", &tm);
	c->log_file = mem_printf("%s/%s-%s-%ld.log", dir, name, op, os_getpid());
	mem_free(dir);
	if (!c->log_file)
		return err_nomem(e, "opening the log");
	/* Not inherited, so registration children, extensions, services and
	 * whatever they leave running do not hold the run's log open. */
	c->log = setup_proc_fopen_private(c->log_file, "a");
	if (!c->log)
		return err_errno(e, "cannot create the log file '%s'", c->log_file);
	setvbuf(c->log, NULL, _IOLBF, 0);
	if (c->o->log_path) {
		c->log_copy = setup_proc_fopen_private(c->o->log_path, "a");
		if (!c->log_copy)
			return err_errno(e, "cannot open the log file '%s' given with --log", c->o->log_path);
		setvbuf(c->log_copy, NULL, _IOLBF, 0);
	}
	return 0;
}

static unsigned parse_mode(const char *s)
{
	unsigned m = 0;

	for (; s && *s; s++) {
		switch (*s) {
		case 'p': m |= SETUP_MODE_P; break;
		case 'o': m |= SETUP_MODE_O; break;
		case 'e': m |= SETUP_MODE_E; break;
		case 'd': m |= SETUP_MODE_D; break;
		case 'c': m |= SETUP_MODE_C; break;
		case 'a': m |= SETUP_MODE_A; break;
		default: return 0;
		}
	}
	return m;
}

int setup_ctx_open(struct setup_ctx *c, const struct setup_opts *o, const char *op, struct err *e)
{
	const char *root = o->root && *o->root ? o->root : "/";
	char *state;
	size_t n;

	memset(c, 0, sizeof(*c));
	c->o = o;
	c->lock_fd = -1;
	c->mode = o->reinstall_mode ? parse_mode(o->reinstall_mode) : SETUP_MODE_O;
	if (!c->mode)
		return err_set(e, ERR_CLASS_USAGE, "--reinstall-mode '%s' has an unknown letter; use p, o, e, d, c or a", o->reinstall_mode);
	if (strcmp(root, "/") == 0) {
		c->root = mem_strdup("");   /* this system itself */
	} else if (!os_path_is_absolute(root)) {
		char cwd[4096];

		if (!getcwd(cwd, sizeof(cwd)))
			return err_errno(e, "cannot find the current directory for --root '%s'", root);
		c->root = mem_printf("%s/%s", cwd, root);
	} else {
		c->root = mem_strdup(root);
	}
	if (!c->root)
		return err_nomem(e, "opening the root");
	n = strlen(c->root);
	while (n > 0 && c->root[n - 1] == '/')
		c->root[--n] = '\0';
	{
		struct stat st;

		if (os_stat(c->root[0] ? c->root : "/", &st) != 0 || !S_ISDIR(st.st_mode))
			return err_set(e, ERR_CLASS_USAGE, "--root '%s' is not a directory", root);
	}
	state = setup_real(c, "/" SK_STATE_DIR);
	if (!state || path_mkdirs(state, 0755, e)) {
		mem_free(state);
		return state ? -1 : err_nomem(e, "opening the root");
	}
	mem_free(state);
	if (lock_root(c, e) || open_log(c, op, e))
		return -1;
	setup_log(c, 0, "setup %s %s on root '%s' (pid %ld)", SK_VERSION, op, c->root[0] ? c->root : "/", os_getpid());
	if (reg_store_open(&c->store, c->root[0] ? c->root : "/", 0, e) || setup_state_init(c, e))
		return -1;
	if (setup_txn_recover(c, e) < 0)
		return -1;
	return 0;
}

void setup_ctx_close(struct setup_ctx *c)
{
	reg_store_close(c->store);
	if (c->log)
		fclose(c->log);
	if (c->log_copy)
		fclose(c->log_copy);
	if (c->lock_fd >= 0)
		setup_proc_lock_close(c->lock_fd);   /* releases the lock */
	mem_free(c->log_file);
	mem_free(c->root);
	memset(c, 0, sizeof(*c));
	c->lock_fd = -1;
}
