/*
 * payload_private.h - helpers shared by the payload_*.c files only.
 */
#ifndef SETUPKIT_PAYLOAD_PRIVATE_H
#define SETUPKIT_PAYLOAD_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* Archive entry modes are POSIX modes whatever the host: setuid, setgid,
 * world-writable (S_ISUID | S_ISGID | S_IWOTH, which Windows lacks). */
#define PAYLOAD_MODE_SPECIAL 06002

/* Lowercase hex of n bytes into out (2n+1 bytes). */
void payload_hex(const unsigned char *in, size_t n, char *out);

/* Read a whole file of at most max bytes (O_NOFOLLOW not used: key and
 * manifest paths come from the user). *buf is mem_alloc'd (NUL-terminated). */
int payload_read_bounded(const char *path, size_t max, const char *what,
			 unsigned char **buf, size_t *len, struct err *e);

/* Normalise an archive entry name in place: '\\' -> '/', one trailing '/'
 * dropped. Returns a static reason string when it is unsafe, NULL when ok. */
const char *payload_name_check(char *name);

/* True when a symlink at entry `name` with `target` stays inside the tree
 * rooted at the archive root (lexically). */
int payload_link_inside(const char *name, const char *target);

#endif
