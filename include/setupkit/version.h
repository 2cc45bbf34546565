/*
 * <setupkit/version.h> - give a file a version that setup can read.
 *
 * Linux shared objects carry no version resource, so setupkit uses an SCCS
 * "what string": the bytes "@(#)setupkit-version " followed by up to four
 * dotted numbers (0-65535), ended by a NUL. setup finds the first such
 * string in a file and compares versions by Windows Installer's rules; a
 * file without one is unversioned. In a module:
 *
 *     #include <setupkit/version.h>
 *     SETUPKIT_FILE_VERSION("5.5.2448.0");
 *
 * In a script or data file, a line holding the same bytes works too:
 *     # @(#)setupkit-version 5.5.2448.0
 */
#ifndef SETUPKIT_VERSION_H
#define SETUPKIT_VERSION_H

#define SETUPKIT_VERSION_MARKER "@(#)setupkit-version "

#if defined(__GNUC__)
#define SETUPKIT_FILE_VERSION(v) \
	__attribute__((used)) static const char setupkit_file_version_[] = \
		SETUPKIT_VERSION_MARKER v
#else
#define SETUPKIT_FILE_VERSION(v) \
	static const char setupkit_file_version_[] = SETUPKIT_VERSION_MARKER v
#endif

#endif
