/*
 * setup_service.h - services and extensions: running a declared command out
 * of process (setup_extension.c), the service backend interface, the start
 * order solver and the start/stop logic (setup_service.c).
 *
 * A backend starts, stops and queries one service. The command backend (the
 * only one today, and the one the tests use) runs the definition's `start`,
 * `stop` and `status` command lines with /bin/sh -c (Windows: cmd.exe /c),
 * in their own process group (job object), with the SETUPKIT_* environment
 * of an extension, and a timeout.
 *
 * How a systemd backend would map (setup_service_systemd.c, later):
 *   - install: write <root>/etc/systemd/system/<name>.service from the
 *     definition (ExecStart/ExecStop from start/stop, Type=forking), journaled
 *     like any other file; depends_on -> Requires= + After=, start_after ->
 *     After=, start_before -> Before=, conflicts -> Conflicts=; start_type
 *     auto -> `systemctl enable`, manual -> nothing, disabled -> `systemctl
 *     mask`; external services are referred to by unit name only.
 *   - start/stop/status -> `systemctl start|stop|is-active NAME` (or the
 *     D-Bus StartUnit/StopUnit calls); systemd then solves the order itself,
 *     and the engine's own order only decides which units it asks for.
 *   - the "stop the blocker, start ours, start it again" rule is needed only
 *     when a running unit must be restarted to honour Before=; systemd does
 *     not reorder running units either, so the same logic stays in the
 *     engine, above the backend.
 * Only the three function pointers below are backend-specific.
 *
 * Use around a service pack (product_m: the installed product's manifest):
 *   struct setup_services sv;
 *   setup_services_init(&sv, c, product_m, install_dir, "servicepack", t.id, e);
 *   setup_services_stop_set(&sv, &sp->sp.restart_services, e);   (reverse order)
 *   ... switch the files ...
 *   setup_services_start_set(&sv, &sp->sp.restart_services, NULL, e);
 *   rollback: setup_services_undo(&sv, &ue); commit: setup_services_keep(&sv);
 *   always: setup_services_destroy(&sv).
 * Extension points: setup_extensions_run(c, m, MANIFEST_POINT_BEFORE_SP, ...).
 *
 * Traps: a service's start command may leave a daemon behind that keeps the
 * output pipe open; the runner stops reading when the command itself exits,
 * never waits for end of file. Every command runs with stdin /dev/null.
 */
#ifndef SETUPKIT_SETUP_SERVICE_H
#define SETUPKIT_SETUP_SERVICE_H

#include <stdint.h>

#include "common/err.h"
#include "manifests/manifest.h"

struct setup_ctx;

/* The documented exit code by which an extension cancels the operation. */
#define SETUP_EXT_CANCEL 10
/* Most bytes of a command's output kept for messages. */
#define SETUP_CMD_OUTPUT_MAX 1024

/* The environment of every extension and service command. */
struct setup_cmd_env {
	const char *root;           /* SETUPKIT_ROOT: "/" or the --root directory */
	const char *product;        /* SETUPKIT_PRODUCT */
	const char *app;            /* SETUPKIT_APP: real path of the install dir */
	const char *operation;      /* SETUPKIT_OPERATION: install, uninstall, services, ... */
	int64_t txn;                /* SETUPKIT_TXN (0: none) */
	const char *point;          /* SETUPKIT_POINT (services: "service") */
	volatile int *cancel;       /* may be NULL; when it turns nonzero (Ctrl-C,
				     * SIGTERM) the command's group is killed */
};

struct setup_cmd_result {
	int exited;                 /* exit code, when it exited */
	int code;
	int signal;                 /* POSIX: killed by this signal (0: none) */
	unsigned long exception;    /* Windows: crashed with this exception code,
				     * e.g. 0xC0000005 (0: none) */
	int timed_out;              /* killed after the timeout */
	int cancelled;              /* killed because setup was cancelled */
	char output[SETUP_CMD_OUTPUT_MAX];   /* stdout + stderr, truncated, NUL-terminated */
};

/* Run cmd with /bin/sh -c in its own process group (Windows: cmd.exe /d
 * /s /c in a job object; setup_proc.h), stdin the null device,
 * stdout+stderr captured, env added. After timeout_ms the whole group (job)
 * is killed. Returns 0 when it ran (r says how it ended), -1 when it could
 * not be run (e says why). */
int setup_cmd_run(const char *cmd, const struct setup_cmd_env *env, unsigned timeout_ms,
		  struct setup_cmd_result *r, struct err *e);
/* "exit 3", "signal SIGSEGV (Segmentation fault)", "timed out after 2 s". */
void setup_cmd_describe(const struct setup_cmd_result *r, unsigned timeout_ms, char *buf, size_t len);

/* ---- extensions (setup_extension.c) ---- */

/* Run every extension of m at point (of the product, or of a selected
 * component: selected[i] per component, NULL = all), in declaration order.
 * Exit 0 goes on; SETUP_EXT_CANCEL cancels; any other exit, a signal or a
 * timeout fails. Returns 0, or -1 with e naming the extension, the point and
 * what happened (the caller rolls back). */
int setup_extensions_run(struct setup_ctx *c, const struct manifest *m, enum manifest_point point,
			 const int *selected, const char *install_dir, const char *operation,
			 int64_t txn, struct err *e);

/* ---- services (setup_service.c) ---- */

/* A backend: start/stop return 0 or -1 (e holds the command's outcome and
 * output); status returns 1 running, 0 not running, -1 unknown (e). */
struct setup_service_backend {
	const char *name;
	int (*start)(const struct manifest_service *s, const struct setup_cmd_env *env, struct err *e);
	int (*stop)(const struct manifest_service *s, const struct setup_cmd_env *env, struct err *e);
	int (*status)(const struct manifest_service *s, const struct setup_cmd_env *env, struct err *e);
};
extern const struct setup_service_backend setup_service_cmd_backend;

/* One change the engine made to a service, undone in reverse order. */
struct setup_svc_change {
	const struct manifest_service *s;
	int started;                /* 1 we started it; 0 we stopped it */
};

/* The services of one product during one operation. Changes are recorded
 * so a rollback (setup_services_undo) puts every service back as it was. */
struct setup_services {
	struct setup_ctx *c;
	const struct manifest *m;
	const struct setup_service_backend *be;
	struct setup_cmd_env env;
	char *root, *app, *txn_s;   /* owned strings behind env */
	struct setup_svc_change *done;
	int ndone;
	unsigned attempts, backoff_ms;
};

int setup_services_init(struct setup_services *sv, struct setup_ctx *c, const struct manifest *m,
			const char *install_dir, const char *operation, int64_t txn, struct err *e);
void setup_services_destroy(struct setup_services *sv);

/* The start order of every service of m (external ones included): indexes
 * into m->services, allocated, n = m->nservices. Stop order is its reverse.
 * -1 with e naming the cycle (never for a manifest that loaded). */
int setup_services_order(const struct manifest *m, int **order, struct err *e);

/* Start the named services (NULL: those whose start type is auto; the
 * answer or the state may override it through types[i], 0 = as defined) in
 * start order. A service that must start before one already running stops
 * it first and starts it again after. A start that fails is retried
 * (attempts, backoff), then reported naming the service, its output and the
 * constraints it has. Every change is recorded in sv for undo. */
int setup_services_start_set(struct setup_services *sv, const struct manifest_list *names,
			     const int *types, struct err *e);
/* Stop the named services that are running (NULL: all of m's managed
 * services) in reverse start order; recorded for undo. */
int setup_services_stop_set(struct setup_services *sv, const struct manifest_list *names, struct err *e);
/* Undo the recorded changes, newest first; forget them. Goes on after a
 * failure and returns -1 with the first one in e. */
int setup_services_undo(struct setup_services *sv, struct err *e);
/* Forget the recorded changes (the transaction committed). */
void setup_services_keep(struct setup_services *sv);

#endif
