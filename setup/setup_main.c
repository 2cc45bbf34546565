/*
 * setup_main.c - the `setup` tool: command line, help, exit codes.
 * Like msiexec, every option is read before anything is done. The tool also
 * serves as the registration child (reg_child_dispatch), so module code is
 * loaded only in a child process, never in this one.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/names.h"
#include "common/os.h"
#include "register/reg.h"
#include "setup/setup.h"

static const char usage[] =
	"usage: setup [OPTIONS]                    the wizard, on a terminal (see man setup)\n"
	"       setup COMMAND [OPTIONS]\n"
	"\n"
	"commands:\n"
	"  install --media DIR --unattended FILE   install a product from media\n"
	"  plan --media DIR [--unattended FILE]    show what install would do with each file, and why\n"
	"  uninstall PRODUCT                       remove a product and everything it registered\n"
	"  repair PRODUCT --media DIR              reinstall missing or corrupt files, re-register modules\n"
	"  verify [PRODUCT]                        check every installed file and registration\n"
	"  status                                  installed products, levels, pending work\n"
	"  sp apply --media DIR                    apply a service pack (one transaction; removable)\n"
	"  sp remove PRODUCT [LEVEL]               remove the most recent service pack exactly\n"
	"  recover                                 finish or undo an interrupted transaction; after a\n"
	"                                          restart, finish replacing files that were in use;\n"
	"                                          retry pending registrations\n"
	"  validate FILE                           check a product definition, manifest or answer file\n"
	"  services list|start|stop|restart [PRODUCT]  show or control installed services in start order\n"
	"\n"
	"options:\n"
	"  --root DIR            install into DIR instead of / (state in DIR/" SK_STATE_DIR ")\n"
	"  --media DIR           the install media (holds " SK_MEDIA_MANIFEST ")\n"
	"  --unattended FILE     answer file; never prompts\n"
	"  --save-answers FILE   wizard: save the choices as an answer file\n"
	"  --trusted-key FILE    verify the media with this public key (default: DIR/" SK_TRUSTED_KEYS_DIR "/*.pub)\n"
	"  --allow-unsigned      accept media without a signature (logged)\n"
	"  --reinstall-mode LET  Windows Installer letters p o e d c a (default o)\n"
	"  --json                machine-readable output\n"
	"  --log FILE            also write the log to FILE\n"
	"  --lock-timeout SEC    wait this long for another setup on the root (default 30)\n"
	"  --retries N           registration attempts (default 3)\n"
	"  --timeout SEC         registration timeout per attempt (default 60)\n"
	"  -q, --quiet           no progress lines\n"
	"  --help, --version\n"
	"\n"
	"exit codes: 0 success; 1 failed and rolled back; 2 bad command line; 3 bad answer file,\n"
	"definition or manifest; 4 bad media or signature; 5 root locked; 6 system error;\n"
	"7 out of memory; 8 no such product; 9 internal error; 10 success, but a restart is needed or\n"
	"registrations are pending ('setup recover' finishes them).\n";

enum { O_ROOT = 256, O_MEDIA, O_UNATTENDED, O_TRUSTED, O_UNSIGNED, O_MODE, O_JSON, O_LOG, O_LOCKT,
       O_RETRIES, O_TIMEOUT, O_HELP, O_VERSION, O_SAVE };

static const struct option longopts[] = {
	{ "root", required_argument, NULL, O_ROOT },
	{ "media", required_argument, NULL, O_MEDIA },
	{ "unattended", required_argument, NULL, O_UNATTENDED },
	{ "save-answers", required_argument, NULL, O_SAVE },
	{ "trusted-key", required_argument, NULL, O_TRUSTED },
	{ "allow-unsigned", no_argument, NULL, O_UNSIGNED },
	{ "reinstall-mode", required_argument, NULL, O_MODE },
	{ "json", no_argument, NULL, O_JSON },
	{ "log", required_argument, NULL, O_LOG },
	{ "lock-timeout", required_argument, NULL, O_LOCKT },
	{ "retries", required_argument, NULL, O_RETRIES },
	{ "timeout", required_argument, NULL, O_TIMEOUT },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, O_HELP },
	{ "version", no_argument, NULL, O_VERSION },
	{ NULL, 0, NULL, 0 },
};

static int parse_uint(const char *opt, const char *s, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (!*s || *end || v > max) {
		fprintf(stderr, "setup: %s '%s' must be a number from 0 to %u\n", opt, s, max);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

int main(int argc, char **argv)
{
	struct setup_opts o;
	struct err e;
	const char *cmd;
	unsigned timeout_s = 60;
	int ch, rc;

	os_init(&argc, &argv);            /* Windows: UTF-8 argv */
	reg_child_dispatch(argc, argv);   /* returns only when not a child */
	memset(&o, 0, sizeof(o));
	err_clear(&e);
	o.root = "/";
	o.lock_timeout = 30;
	o.reg_attempts = 3;
	o.reg_backoff_ms = 200;
	o.self = NULL;   /* the registration helper: this executable (reg_runner.c) */
	while ((ch = getopt_long(argc, argv, "+q", longopts, NULL)) != -1 || optind < argc) {
		if (ch == -1) {
			/* A command or product name; options may follow it. */
			optind++;
			continue;
		}
		switch (ch) {
		case O_ROOT: o.root = optarg; break;
		case O_MEDIA: o.media = optarg; break;
		case O_UNATTENDED: o.answers = optarg; break;
		case O_SAVE: o.save_answers = optarg; break;
		case O_TRUSTED: o.trusted_key = optarg; break;
		case O_UNSIGNED: o.allow_unsigned = 1; break;
		case O_MODE: o.reinstall_mode = optarg; break;
		case O_JSON: o.json = 1; break;
		case O_LOG: o.log_path = optarg; break;
		case O_LOCKT: if (parse_uint("--lock-timeout", optarg, 86400, &o.lock_timeout)) return ERR_EXIT_USAGE; break;
		case O_RETRIES: if (parse_uint("--retries", optarg, 100, &o.reg_attempts)) return ERR_EXIT_USAGE; break;
		case O_TIMEOUT: if (parse_uint("--timeout", optarg, 86400, &timeout_s)) return ERR_EXIT_USAGE; break;
		case 'q': o.quiet = 1; break;
		case O_HELP: fputs(usage, stdout); return 0;
		case O_VERSION: printf("setup (setupkit) %s\n", SK_VERSION); return 0;
		default: fputs(usage, stderr); return ERR_EXIT_USAGE;
		}
	}
	o.reg_timeout_ms = timeout_s * 1000u;
	if (o.reg_attempts == 0)
		o.reg_attempts = 1;
	/* Collect the non-option words (getopt_long with "+" stops at each). */
	{
		char *words[4] = { NULL };
		int nw = 0;

		for (int i = 1; i < argc; i++) {
			if (argv[i][0] == '-' && argv[i][1]) {
				const struct option *lo = NULL;

				if (argv[i][1] == '-' && !strchr(argv[i], '='))
					for (const struct option *p = longopts; p->name; p++)
						if (strcmp(argv[i] + 2, p->name) == 0)
							lo = p;
				if (lo && lo->has_arg == required_argument)
					i++;
				continue;
			}
			if (nw < 4)
				words[nw++] = argv[i];
			else {
				fprintf(stderr, "setup: unexpected argument '%s'\n%s", argv[i], usage);
				return ERR_EXIT_USAGE;
			}
		}
		if (nw == 0) {
			/* With --unattended: install unattended (media may default too). */
			if (!o.answers && (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))) {
				fprintf(stderr, "setup: no command given and no terminal to ask on; to install without questions run\n"
						"  setup install --media DIR --unattended ANSWERS\n"
						"(manifests/examples/answers.ini shows an answer file), or 'setup --help'\n");
				return ERR_EXIT_USAGE;
			}
			rc = setup_cmd_wizard(&o, &e);
			goto done;
		}
		cmd = words[0];
		if (o.save_answers) {
			fprintf(stderr, "setup %s: --save-answers belongs to the wizard (run 'setup' with no command on a terminal)\n", cmd);
			return ERR_EXIT_USAGE;
		}
#define ARGS(n) do { if (nw != (n)) { fprintf(stderr, "setup %s: expected %d argument%s\n%s", cmd, (n) - 1, (n) == 2 ? "" : "s", usage); return ERR_EXIT_USAGE; } } while (0)
		if (strcmp(cmd, "install") == 0) {
			ARGS(1);
			if (!o.media || !o.answers) {
				fprintf(stderr, "setup install: needs --media DIR and --unattended FILE\n");
				return ERR_EXIT_USAGE;
			}
			/* A progress bar when a person watches stderr. */
			if (!o.quiet && !o.json && isatty(STDERR_FILENO))
				rc = setup_cmd_install_bar(&o, &e);
			else
				rc = setup_cmd_install(&o, &e);
		} else if (strcmp(cmd, "plan") == 0) {
			ARGS(1);
			rc = setup_cmd_plan(&o, &e);
		} else if (strcmp(cmd, "uninstall") == 0) {
			ARGS(2);
			rc = setup_cmd_uninstall(&o, words[1], &e);
		} else if (strcmp(cmd, "repair") == 0) {
			ARGS(2);
			rc = setup_cmd_repair(&o, words[1], &e);
		} else if (strcmp(cmd, "verify") == 0) {
			if (nw > 2)
				ARGS(2);
			rc = setup_cmd_verify(&o, nw == 2 ? words[1] : NULL, &e);
		} else if (strcmp(cmd, "status") == 0) {
			ARGS(1);
			rc = setup_cmd_status(&o, &e);
		} else if (strcmp(cmd, "recover") == 0) {
			ARGS(1);
			rc = setup_cmd_recover(&o, &e);
		} else if (strcmp(cmd, "sp") == 0 && nw >= 2 && strcmp(words[1], "apply") == 0) {
			if (nw != 2 || !o.media) {
				fprintf(stderr, "setup sp apply: needs --media DIR and no other argument\n");
				return ERR_EXIT_USAGE;
			}
			rc = setup_cmd_sp_apply(&o, &e);
		} else if (strcmp(cmd, "sp") == 0 && nw >= 3 && strcmp(words[1], "remove") == 0) {
			char *end = NULL;
			long lv = nw == 4 ? strtol(words[3][0] == 'S' || words[3][0] == 's' ? words[3] + 2 : words[3], &end, 10) : 0;

			if (nw > 4 || (nw == 4 && (!end || *end || lv <= 0 || lv > 65535))) {
				fprintf(stderr, "setup sp remove: expected PRODUCT [LEVEL] (a level like 3 or SP3)\n");
				return ERR_EXIT_USAGE;
			}
			rc = setup_cmd_sp_remove(&o, words[2], (int)lv, &e);
		} else if (strcmp(cmd, "sp") == 0) {
			fprintf(stderr, "setup sp: expected 'apply --media DIR' or 'remove PRODUCT [LEVEL]'\n%s", usage);
			return ERR_EXIT_USAGE;
		} else if (strcmp(cmd, "services") == 0) {
			if (nw < 2 || nw > 3)
				ARGS(2);
			rc = setup_cmd_services(&o, words[1], nw == 3 ? words[2] : NULL, &e);
		} else if (strcmp(cmd, "validate") == 0) {
			ARGS(2);
			rc = setup_cmd_validate(words[1], &e);
		} else {
			fprintf(stderr, "setup: unknown command '%s'\n%s", cmd, usage);
			return ERR_EXIT_USAGE;
		}
	}
done:
	if (rc == 1)
		return ERR_EXIT_PENDING;
	if (rc != 0) {
		if (e.cls != ERR_CLASS_NONE || !o.json)
			fprintf(stderr, "setup: %s\n", e.msg);
		return e.cls == ERR_CLASS_NONE ? ERR_EXIT_FAILED : err_exit_code(&e);
	}
	return 0;
}
