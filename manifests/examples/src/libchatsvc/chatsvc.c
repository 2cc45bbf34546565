/*
 * chatsvc.c - the Example Mail Suite chat runtime, libchatsvc.so.1: a plain
 * shared library (soname libchatsvc.so.1), not a self-registering module.
 * chatcfg.so links against it and finds it beside itself through its
 * DT_RUNPATH $ORIGIN, both installed in {app}/lib.
 */
#include <setupkit/version.h>

#include "chatsvc.h"

SETUPKIT_FILE_VERSION("5.5.2448.0");

int chatsvc_limit(void)
{
	return 250;
}
