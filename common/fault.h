/*
 * fault.h - crash points for the crash-recovery tests.
 *
 * The engine calls fault_point("what") just before each step that changes
 * the disk or the state database. When the environment variable
 * SETUPKIT_CRASH_AT=k is set, the k-th call kills the process with SIGKILL,
 * as a power cut would; SETUPKIT_FAULT_TRACE=FILE appends "k what" for every
 * call, so a reference run tells the tests how many points there are.
 * Without either variable a call costs one branch.
 */
#ifndef SETUPKIT_FAULT_H
#define SETUPKIT_FAULT_H

void fault_point(const char *what);

#endif
