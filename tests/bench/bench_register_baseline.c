/*
 * bench_register_baseline.c - the floor for out-of-process registration:
 * for each module, posix_spawn this program again, which dlopen()s the
 * module (RTLD_LAZY), looks up DllRegisterServer without calling it, and
 * exits; the parent waits. No store, no pipe, no transaction.
 *   bench_register_baseline MODULE...
 */
#include <dlfcn.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--child") == 0) {
		/* RTLD_LAZY: the sk_reg_* functions the module calls are not here. */
		void *h = dlopen(argv[2], RTLD_LAZY | RTLD_LOCAL);
		_exit(h && dlsym(h, "DllRegisterServer") ? 0 : 1);
	}
	for (int i = 1; i < argc; i++) {
		char *cargv[] = { argv[0], "--child", argv[i], NULL };
		pid_t pid;
		int st;
		if (posix_spawn(&pid, "/proc/self/exe", NULL, NULL, cargv, environ) != 0 ||
		    waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "baseline: '%s' failed\n", argv[i]);
			return 1;
		}
	}
	return 0;
}
