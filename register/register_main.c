/*
 * register_main.c - the `register` tool: regsvr32 and reg.exe for setupkit.
 *
 *   register [-u] [-s] [-n] [-i[=CMDLINE]] [--retries N] [--timeout SEC]
 *            [--root DIR] [--json] [--keep-env] MODULE...
 *   register [--root DIR] query KEY [-r] | export KEY FILE | import FILE |
 *            backup FILE | restore FILE | verify CLSID|MODULE
 *
 * Like regsvr32, all flags are parsed before any module is loaded, -n needs
 * -i, and the Windows spellings /u /s /n /i:CMDLINE are accepted. Unlike
 * regsvr32, several modules are all attempted: a failure does not stop the
 * next one, and the exit code is the first failure's. -s silences messages,
 * never the exit code. Module code only ever runs in a child process.
 * This binary is also the registration child (reg_child_dispatch).
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/err.h"
#include "common/mem.h"
#include "common/names.h"
#include "common/os.h"
#include "register/reg.h"
#include <setupkit/reg.h>

static const char usage_text[] =
"usage: register [-u] [-s] [-n] [-i[=CMDLINE]] [--retries N] [--timeout SEC]\n"
"                [--root DIR] [--json] [--keep-env] MODULE...\n"
"       register [--root DIR] query KEY [-r]\n"
"       register [--root DIR] export KEY FILE\n"
"       register [--root DIR] import FILE\n"
"       register [--root DIR] backup FILE\n"
"       register [--root DIR] restore FILE\n"
"       register [--root DIR] verify CLSID|MODULE\n"
"\n"
"Runs a module's self-registration out of process, like regsvr32:\n"
"  (none)    DllRegisterServer\n"
"  -u        DllUnregisterServer; the writes captured at registration are\n"
"            undone exactly, even if the module's own unregister is buggy\n"
"  -i[=CMD]  also DllInstall(1, CMD) after DllRegisterServer\n"
"            (with -u: DllInstall(0, CMD) before DllUnregisterServer)\n"
"  -n        do not call DllRegisterServer/DllUnregisterServer (needs -i)\n"
"  -s        silent: no messages (the exit code still tells)\n"
"  --retries N      attempts for transient failures (default 1)\n"
"  --backoff MS     first delay between attempts, doubled each time (200)\n"
"  --timeout SEC    per call, default 60; the child's process group is killed\n"
"  --root DIR       registry at DIR/" SK_STATE_DB " (default /)\n"
"  --json           one JSON object per module call on stdout\n"
"  --keep-env       keep LD_PRELOAD and LD_LIBRARY_PATH for the module\n"
"  --jobs N         with one entry point per module, run up to N children at\n"
"                   once (default 1); only for modules that do not read each\n"
"                   other's registry entries while registering\n"
"Windows spellings /u /s /n /i:CMD are accepted too.\n"
"Keys: HKEY_LOCAL_MACHINE (HKLM), HKEY_CURRENT_USER (HKCU), HKEY_USERS (HKU),\n"
"HKEY_CLASSES_ROOT (HKCR = HKLM\\Software\\Classes). A module named like a\n"
"subcommand must be given with a path (./query).\n"
"\n"
"Exit codes:\n"
"  0  success\n"
"  1  bad command line\n"
"  2  registry or system error\n"
"  3  module could not be loaded (missing file or library, bad format)\n"
"  4  entry point not found\n"
"  5  entry point returned a failure HRESULT\n"
"  6  module crashed (signal) or ended its process during the call\n"
"  7  module timed out\n"
"  8  key, CLSID or file not found (query, export, verify)\n"
"  9  bad .reg file (import)\n";

struct opts {
	int unreg, silent, noreg, install, json, keep_env, recursive;
	const char *cmdline;
	const char *root;
	unsigned retries, backoff_ms;
	unsigned timeout_ms;
	unsigned jobs;
	char **args;
	int nargs;
};

static int usage_error(const struct opts *o, const char *fmt, ...) ERR_PRINTF(2, 3);
static int usage_error(const struct opts *o, const char *fmt, ...)
{
	va_list ap;

	if (!o->silent) {
		fprintf(stderr, "register: ");
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fprintf(stderr, "\nTry 'register --help'.\n");
	}
	return REG_EXIT_USAGE;
}

static int parse_uint(const char *s, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > 1000000)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/* Returns -1 to go on, else an exit code. */
static int parse_args(int argc, char **argv, struct opts *o)
{
	int only_files = 0;

	o->args = mem_array((size_t)argc + 1, sizeof(char *));
	if (!o->args) {
		fprintf(stderr, "register: out of memory\n");
		return REG_EXIT_OLE;
	}
	/* -s first, so that even usage errors can be silenced like regsvr32. */
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-s") || !strcasecmp(argv[i], "/s"))
			o->silent = 1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = NULL;
		if (only_files || (a[0] != '-' && !(a[0] == '/' && a[1] && (a[2] == '\0' || a[2] == ':') &&
						     strchr("usniUSNI?", a[1])))) {
			o->args[o->nargs++] = argv[i];
			continue;
		}
		if (!strcmp(a, "--")) {
			only_files = 1;
			continue;
		}
		if (!strcmp(a, "-u") || !strcasecmp(a, "/u"))
			o->unreg = 1;
		else if (!strcmp(a, "-s") || !strcasecmp(a, "/s"))
			o->silent = 1;
		else if (!strcmp(a, "-n") || !strcasecmp(a, "/n"))
			o->noreg = 1;
		else if (!strcmp(a, "-r"))
			o->recursive = 1;
		else if (!strcmp(a, "-i") || !strcasecmp(a, "/i"))
			o->install = 1;
		else if (!strncmp(a, "-i=", 3) || !strncmp(a, "-i:", 3) || !strncasecmp(a, "/i:", 3)) {
			o->install = 1;
			o->cmdline = a + 3;
		} else if (!strcmp(a, "--json"))
			o->json = 1;
		else if (!strcmp(a, "--keep-env"))
			o->keep_env = 1;
		else if (!strcmp(a, "--help") || !strcmp(a, "-h") || !strcmp(a, "/?")) {
			fputs(usage_text, stdout);
			return REG_EXIT_OK;
		} else if (!strcmp(a, "--version")) {
			printf("register (setupkit) %s\n", SK_VERSION);
			return REG_EXIT_OK;
		} else if (!strncmp(a, "--retries", 9) || !strncmp(a, "--timeout", 9) ||
			   !strncmp(a, "--root", 6) || !strncmp(a, "--backoff", 9) ||
			   !strncmp(a, "--jobs", 6)) {
			const char *eq = strchr(a, '=');
			size_t nl = eq ? (size_t)(eq - a) : strlen(a);
			if (eq)
				val = eq + 1;
			else if (i + 1 < argc)
				val = argv[++i];
			else
				return usage_error(o, "option '%s' needs a value", a);
			if (nl == 9 && !strncmp(a, "--retries", 9)) {
				if (parse_uint(val, &o->retries) < 0 || o->retries == 0)
					return usage_error(o, "--retries needs a number >= 1, not '%s'", val);
			} else if (nl == 9 && !strncmp(a, "--backoff", 9)) {
				if (parse_uint(val, &o->backoff_ms) < 0)
					return usage_error(o, "--backoff needs milliseconds, not '%s'", val);
			} else if (nl == 9 && !strncmp(a, "--timeout", 9)) {
				char *end;
				double t = strtod(val, &end);
				if (end == val || *end || !(t > 0) || t > 86400)
					return usage_error(o, "--timeout needs seconds (0 < SEC <= 86400), not '%s'", val);
				o->timeout_ms = (unsigned)(t * 1000);
				if (!o->timeout_ms)
					o->timeout_ms = 1;
			} else if (nl == 6 && !strncmp(a, "--jobs", 6)) {
				if (parse_uint(val, &o->jobs) < 0 || o->jobs < 1 || o->jobs > 64)
					return usage_error(o, "--jobs needs a number from 1 to 64, not '%s'", val);
			} else if (nl == 6 && !strncmp(a, "--root", 6)) {
				o->root = val;
			} else {
				return usage_error(o, "unknown option '%s'", a);
			}
		} else {
			return usage_error(o, "unknown option '%s'", a);
		}
	}
	return -1;
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static const char *entry_label(enum reg_entry en)
{
	switch (en) {
	case REG_ENTRY_REGISTER: return "DllRegisterServer";
	case REG_ENTRY_UNREGISTER: return "DllUnregisterServer";
	case REG_ENTRY_INSTALL: return "DllInstall(1)";
	case REG_ENTRY_UNINSTALL: return "DllInstall(0)";
	case REG_ENTRY_CLASSOBJECT: return "DllGetClassObject";
	}
	return "?";
}

static void report(const struct opts *o, const char *module, enum reg_entry en, int code,
		   unsigned tries, const struct err *e)
{
	if (o->json) {
		printf("{\"module\":");
		json_str(stdout, module);
		printf(",\"entry\":\"%s\",\"ok\":%s,\"exit\":%d,\"attempts\":%u,\"message\":",
		       entry_label(en), code ? "false" : "true", code, tries);
		json_str(stdout, err_is_set(e) ? e->msg : "");
		printf("}\n");
		fflush(stdout);
	}
	if (o->silent)
		return;
	if (code)
		fprintf(stderr, "register: %s\n", e->msg);
	else if (err_is_set(e))
		fprintf(stderr, "register: warning: %s\n", e->msg);
	if (!code && !o->json)
		printf("%s in '%s' succeeded.\n", entry_label(en), module);
}

struct batch_ctx {
	const struct opts *o;
	char **mods;
	enum reg_entry entry;
};

static void batch_done(void *ctx, size_t i, int code, unsigned tries, const struct err *e)
{
	struct batch_ctx *bc = ctx;

	report(bc->o, bc->mods[i] ? bc->mods[i] : bc->o->args[i], bc->entry, code, tries, e);
}

static int run_modules(struct opts *o)
{
	struct reg_store *s = NULL;
	struct err e;
	int first_fail = 0;
	struct reg_retry retry = { o->retries ? o->retries : 1,
				   o->backoff_ms ? o->backoff_ms : 200 };

	err_clear(&e);
	if (reg_store_open(&s, o->root, 0, &e) < 0) {
		if (!o->silent)
			fprintf(stderr, "register: %s\n", e.msg);
		return REG_EXIT_OLE;
	}
	if ((!o->noreg) + o->install == 1) {
		/* One entry point per module: the batch runner (optionally parallel). */
		struct reg_run_opts *ro = mem_array((size_t)o->nargs, sizeof(*ro));
		char **mods = mem_array((size_t)o->nargs, sizeof(*mods));
		enum reg_entry en = o->unreg ? (o->install ? REG_ENTRY_UNINSTALL : REG_ENTRY_UNREGISTER)
					     : (o->install ? REG_ENTRY_INSTALL : REG_ENTRY_REGISTER);
		struct batch_ctx bc = { o, mods, en };
		if (!ro || !mods) {
			mem_free(ro);
			mem_free(mods);
			reg_store_close(s);
			if (!o->silent)
				fprintf(stderr, "register: out of memory\n");
			return REG_EXIT_OLE;
		}
		for (int i = 0; i < o->nargs; i++) {
			mods[i] = os_absolute(o->args[i]);
			ro[i].module = mods[i] ? mods[i] : o->args[i];
			ro[i].entry = en;
			ro[i].cmdline = o->cmdline ? o->cmdline : "";
			ro[i].root = o->root ? o->root : "/";
			ro[i].timeout_ms = o->timeout_ms;
			ro[i].keep_env = o->keep_env;
			ro[i].quiet_child = o->silent;
		}
		first_fail = reg_module_run_many(s, ro, (size_t)o->nargs, &retry,
						 o->jobs ? o->jobs : 1, batch_done, &bc);
		for (int i = 0; i < o->nargs; i++)
			mem_free(mods[i]);
		mem_free(mods);
		mem_free(ro);
		reg_store_close(s);
		return first_fail;
	}
	for (int i = 0; i < o->nargs; i++) {
		char *mod = os_absolute(o->args[i]);
		enum reg_entry steps[2];
		int nsteps = 0, caps_undone = 0;
		long caps = 0;
		if (!mod) {
			first_fail = first_fail ? first_fail : REG_EXIT_OLE;
			continue;
		}
		if (!o->unreg) {
			if (!o->noreg)
				steps[nsteps++] = REG_ENTRY_REGISTER;
			if (o->install)
				steps[nsteps++] = REG_ENTRY_INSTALL;
		} else {
			if (o->install)
				steps[nsteps++] = REG_ENTRY_UNINSTALL;
			if (!o->noreg)
				steps[nsteps++] = REG_ENTRY_UNREGISTER;
			err_clear(&e);
			caps = reg_capture_count(s, mod, &e);
		}
		for (int k = 0; k < nsteps; k++) {
			struct reg_run_opts ro;
			unsigned tries = 0;
			int code;
			memset(&ro, 0, sizeof(ro));
			ro.module = mod;
			ro.entry = steps[k];
			ro.cmdline = o->cmdline ? o->cmdline : "";
			ro.root = o->root ? o->root : "/";
			ro.timeout_ms = o->timeout_ms;
			ro.keep_env = o->keep_env;
			ro.quiet_child = o->silent;
			ro.discard_writes = caps_undone;
			err_clear(&e);
			code = reg_module_run(s, &ro, &retry, &tries, &e);
			report(o, mod, steps[k], code, tries, &e);
			if (code) {
				if (!first_fail)
					first_fail = code;
				break;   /* the next step of this module makes no sense */
			}
			if (o->unreg && caps > 0)
				caps_undone = 1;
		}
		mem_free(mod);
	}
	reg_store_close(s);
	return first_fail;
}

/* ---- registry subcommands ---- */

static int exit_of(const struct err *e)
{
	switch (e->cls) {
	case ERR_CLASS_USAGE: return REG_EXIT_USAGE;
	case ERR_CLASS_NOTFOUND: return REG_EXIT_NOTFOUND;
	case ERR_CLASS_INPUT: return REG_EXIT_INPUT;
	case ERR_CLASS_MODULE: return REG_EXIT_CALL;
	default: return REG_EXIT_OLE;
	}
}

static const char *type_name(uint32_t t)
{
	switch (t) {
	case SK_REG_NONE: return "REG_NONE";
	case SK_REG_SZ: return "REG_SZ";
	case SK_REG_EXPAND_SZ: return "REG_EXPAND_SZ";
	case SK_REG_BINARY: return "REG_BINARY";
	case SK_REG_DWORD: return "REG_DWORD";
	case SK_REG_MULTI_SZ: return "REG_MULTI_SZ";
	case SK_REG_QWORD: return "REG_QWORD";
	}
	return "REG_UNKNOWN";
}

static void print_value(const struct reg_value *v)
{
	printf("    %s    %s    ", *v->name ? v->name : "(Default)", type_name(v->type));
	if ((v->type == SK_REG_SZ || v->type == SK_REG_EXPAND_SZ) && v->len) {
		printf("%.*s", (int)strnlen((const char *)v->data, v->len), (const char *)v->data);
	} else if (v->type == SK_REG_MULTI_SZ) {
		size_t o = 0;
		int first = 1;
		while (o < v->len && v->data[o]) {
			size_t n = strnlen((const char *)v->data + o, v->len - o);
			printf("%s%.*s", first ? "" : "\\0", (int)n, (const char *)v->data + o);
			first = 0;
			o += n + 1;
		}
	} else if (v->type == SK_REG_DWORD && v->len == 4) {
		uint32_t d;
		memcpy(&d, v->data, 4);
		printf("0x%x", d);
	} else if (v->type == SK_REG_QWORD && v->len == 8) {
		uint64_t q;
		memcpy(&q, v->data, 8);
		printf("0x%llx", (unsigned long long)q);
	} else {
		for (size_t i = 0; i < v->len; i++)
			printf("%02X", v->data[i]);
	}
	printf("\n");
}

static int query_key(struct reg_store *s, const char *key, int recursive, struct err *e)
{
	char *disp = reg_key_display(s, key, e);
	struct reg_value v;
	char *sub;
	int got;

	if (!disp)
		return -1;
	printf("%s\n", disp);
	for (size_t i = 0; (got = reg_key_value_at(s, disp, i, &v, e)) == 1; i++) {
		print_value(&v);
		reg_value_destroy(&v);
	}
	if (got < 0)
		goto fail;
	printf("\n");
	for (size_t i = 0; (got = reg_key_subkey_at(s, disp, i, &sub, e)) == 1; i++) {
		char *child = mem_printf("%s\\%s", disp, sub);
		mem_free(sub);
		if (!child) {
			err_nomem(e, "key path");
			goto fail;
		}
		if (recursive) {
			int r = query_key(s, child, 1, e);
			mem_free(child);
			if (r < 0)
				goto fail;
		} else {
			printf("%s\n", child);
			mem_free(child);
		}
	}
	if (got < 0)
		goto fail;
	mem_free(disp);
	return 0;
fail:
	mem_free(disp);
	return -1;
}

/* Verify one CLSID: find its InprocServer32 module and activate it. */
static int verify_clsid(struct reg_store *s, const struct opts *o, const char *clsid)
{
	struct err e;
	struct reg_value v;
	char *key = mem_printf("HKCR\\CLSID\\%s\\InprocServer32", clsid);
	char *mod = NULL;
	int code, got;
	unsigned tries = 0;
	struct reg_run_opts ro;
	struct reg_retry retry = { 1, 0 };

	err_clear(&e);
	if (!key)
		return REG_EXIT_OLE;
	got = reg_value_get(s, key, "", &v, &e);
	if (got <= 0 || v.type == SK_REG_BINARY || v.len == 0) {
		if (got == 1)
			reg_value_destroy(&v);
		if (got == 0 || got == 1)
			err_set(&e, ERR_CLASS_NOTFOUND, "class %s is not registered: no default value "
				"under '%s'", clsid, key);
		if (!o->silent)
			fprintf(stderr, "register: %s\n", e.msg);
		mem_free(key);
		return got < 0 ? REG_EXIT_OLE : REG_EXIT_NOTFOUND;
	}
	mod = mem_strndup((const char *)v.data, v.len);
	reg_value_destroy(&v);
	mem_free(key);
	if (!mod)
		return REG_EXIT_OLE;
	memset(&ro, 0, sizeof(ro));
	ro.module = mod;
	ro.entry = REG_ENTRY_CLASSOBJECT;
	ro.clsid = clsid;
	ro.root = o->root ? o->root : "/";
	ro.timeout_ms = o->timeout_ms;
	ro.keep_env = o->keep_env;
	ro.quiet_child = o->silent;
	code = reg_module_run(s, &ro, &retry, &tries, &e);
	if (o->json) {
		printf("{\"clsid\":\"%s\",\"module\":", clsid);
		json_str(stdout, mod);
		printf(",\"ok\":%s,\"exit\":%d,\"message\":", code ? "false" : "true", code);
		json_str(stdout, code ? e.msg : "");
		printf("}\n");
	} else if (!o->silent) {
		if (code)
			fprintf(stderr, "register: class %s: %s\n", clsid, e.msg);
		else
			printf("class %s: activated from '%s' (DllGetClassObject succeeded)\n", clsid, mod);
	}
	mem_free(mod);
	return code;
}

static int verify(struct reg_store *s, const struct opts *o, const char *what)
{
	struct err e;
	char *sub = NULL, *mod;
	int got, code = 0, n = 0;

	if (what[0] == '{')
		return verify_clsid(s, o, what);
	mod = os_absolute(what);
	if (!mod)
		return REG_EXIT_OLE;
	err_clear(&e);
	for (size_t i = 0; (got = reg_key_subkey_at(s, "HKCR\\CLSID", i, &sub, &e)) == 1; i++) {
		char *key = mem_printf("HKCR\\CLSID\\%s\\InprocServer32", sub);
		struct reg_value v;
		int g = key ? reg_value_get(s, key, "", &v, &e) : -1;
		if (g == 1) {
			if (v.len && strnlen((const char *)v.data, v.len) == strlen(mod) &&
			    !strncmp((const char *)v.data, mod, strlen(mod))) {
				int c = verify_clsid(s, o, sub);
				n++;
				if (c && !code)
					code = c;
			}
			reg_value_destroy(&v);
		}
		mem_free(key);
		mem_free(sub);
		sub = NULL;
	}
	if (got < 0) {
		if (!o->silent)
			fprintf(stderr, "register: %s\n", e.msg);
		code = REG_EXIT_OLE;
	} else if (n == 0) {
		if (!o->silent)
			fprintf(stderr, "register: no class in HKCR\\CLSID names '%s' as its "
				"InprocServer32; register it first\n", mod);
		code = REG_EXIT_NOTFOUND;
	}
	mem_free(mod);
	return code;
}

static int subcommand(struct opts *o)
{
	const char *cmd = o->args[0];
	struct reg_store *s = NULL;
	struct err e;
	int code = 0, want, rdonly;

	if (!strcmp(cmd, "query") || !strcmp(cmd, "verify") || !strcmp(cmd, "import") ||
	    !strcmp(cmd, "backup") || !strcmp(cmd, "restore"))
		want = 2;
	else
		want = 3;  /* export */
	if (o->nargs != want)
		return usage_error(o, "'%s' takes the arguments shown in --help", cmd);
	rdonly = 0;
	err_clear(&e);
	if (reg_store_open(&s, o->root, rdonly, &e) < 0) {
		if (!o->silent)
			fprintf(stderr, "register: %s\n", e.msg);
		return REG_EXIT_OLE;
	}
	if (!strcmp(cmd, "query")) {
		if (query_key(s, o->args[1], o->recursive, &e) < 0)
			code = exit_of(&e);
	} else if (!strcmp(cmd, "export")) {
		if (reg_regfile_export(s, o->args[1], o->args[2], &e) < 0)
			code = exit_of(&e);
	} else if (!strcmp(cmd, "import")) {
		if (reg_regfile_import(s, o->args[1], &e) < 0)
			code = exit_of(&e);
	} else if (!strcmp(cmd, "backup")) {
		if (reg_store_backup(s, o->args[1], &e) < 0)
			code = exit_of(&e);
	} else if (!strcmp(cmd, "restore")) {
		if (reg_store_restore(s, o->args[1], &e) < 0)
			code = exit_of(&e);
	} else {
		code = verify(s, o, o->args[1]);
		err_clear(&e);
	}
	if (code && err_is_set(&e) && !o->silent)
		fprintf(stderr, "register: %s\n", e.msg);
	reg_store_close(s);
	return code;
}

static int is_subcommand(const char *a)
{
	static const char *const cmds[] = { "query", "export", "import", "backup", "restore",
					    "verify", NULL };
	for (int i = 0; cmds[i]; i++)
		if (!strcmp(a, cmds[i]))
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o;
	int rc;

	os_init(&argc, &argv);
	reg_child_dispatch(argc, argv);   /* returns only when not a child */
	memset(&o, 0, sizeof(o));
	rc = parse_args(argc, argv, &o);
	if (rc >= 0)
		goto out;
	if (o.nargs > 0 && is_subcommand(o.args[0])) {
		rc = subcommand(&o);
		goto out;
	}
	if (o.noreg && !o.install) {
		rc = usage_error(&o, "%s", "-n needs -i (there would be nothing to call)");
		goto out;
	}
	if (o.nargs == 0) {
		rc = usage_error(&o, "%s", "no module given");
		goto out;
	}
	rc = run_modules(&o);
out:
	mem_free(o.args);
	return rc;
}
