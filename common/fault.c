/*
 * fault.c - see fault.h. State is per process; the environment is read on
 * the first call.
 */
#include "fault.h"

#include "os.h"

#include <stdio.h>
#include <stdlib.h>

static int fault_init;
static unsigned long fault_n, fault_at;
static const char *fault_trace;

void fault_point(const char *what)
{
	if (!fault_init) {
		const char *at = getenv("SETUPKIT_CRASH_AT");

		fault_at = at ? strtoul(at, NULL, 10) : 0;
		fault_trace = getenv("SETUPKIT_FAULT_TRACE");
		fault_init = 1;
	}
	if (!fault_at && !fault_trace)
		return;
	fault_n++;
	if (fault_trace) {
		FILE *f = os_fopen(fault_trace, "a");

		if (f) {
			fprintf(f, "%lu %s\n", fault_n, what);
			fclose(f);
		}
	}
	if (fault_at && fault_n == fault_at)
		os_kill_self();
}
