/*
 * mkmedia_slipstream.h - for mkmedia_main.c: build the product definition
 * (kind product, sources below src) of base media with a service pack
 * slipstreamed in; `mkmedia build` then writes the media. def receives the
 * path to pass as the definition (the base manifest: its license is beside).
 */
#ifndef SETUPKIT_MKMEDIA_SLIPSTREAM_H
#define SETUPKIT_MKMEDIA_SLIPSTREAM_H

#include "common/err.h"
#include "manifests/manifest.h"

int mkmedia_slipstream_prepare(const char *base_dir, const char *sp_dir, const char *src, struct manifest **out,
			       char **def, struct err *e);

#endif
