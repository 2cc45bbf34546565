/*
 * manifest_query.c - lookups over a loaded manifest and component selection
 * (chosen components plus everything they require, transitively).
 */
#include "manifest_private.h"

#include <string.h>

#include "common/mem.h"

struct manifest_component *manifest_component_find(const struct manifest *m, const char *name)
{
	for (int i = 0; i < m->ncomponents; i++)
		if (strcmp(m->components[i].name, name) == 0)
			return &m->components[i];
	return NULL;
}

struct manifest_file *manifest_file_find(const struct manifest *m, const char *id)
{
	for (int i = 0; i < m->nfiles; i++)
		if (strcmp(m->files[i].id, id) == 0)
			return &m->files[i];
	return NULL;
}

struct manifest_service *manifest_service_find(const struct manifest *m, const char *name)
{
	for (int i = 0; i < m->nservices; i++)
		if (strcmp(m->services[i].name, name) == 0)
			return &m->services[i];
	return NULL;
}

struct manifest_payload *manifest_payload_find(const struct manifest *m, const char *name)
{
	for (int i = 0; i < m->npayloads; i++)
		if (strcmp(m->payloads[i].name, name) == 0)
			return &m->payloads[i];
	return NULL;
}

int manifest_select(const struct manifest *m, const struct manifest_list *chosen,
		    int *sel, struct err *e)
{
	int changed = 1;

	for (int i = 0; i < m->ncomponents; i++)
		sel[i] = chosen ? 0 : m->components[i].default_on;
	if (chosen) {
		for (int i = 0; i < chosen->n; i++) {
			struct manifest_component *c = manifest_component_find(m, chosen->items[i]);

			if (!c) {
				char known[512];
				size_t u = 0;

				known[0] = '\0';
				for (int j = 0; j < m->ncomponents; j++)
					u += (size_t)snprintf(known + u, u < sizeof(known) ? sizeof(known) - u : 0,
							      "%s%s", j ? ", " : "", m->components[j].name);
				return err_set(e, ERR_CLASS_INPUT, "unknown component '%s'; this product has: %s",
					       chosen->items[i], known);
			}
			sel[c - m->components] = 1;
		}
	}
	/* Requirements are acyclic (checked at load), so this terminates. */
	while (changed) {
		changed = 0;
		for (int i = 0; i < m->ncomponents; i++) {
			if (!sel[i])
				continue;
			for (int j = 0; j < m->components[i].requires.n; j++) {
				struct manifest_component *r = manifest_component_find(m, m->components[i].requires.items[j]);

				if (r && !sel[r - m->components]) {
					sel[r - m->components] = 1;
					changed = 1;
				}
			}
		}
	}
	return 0;
}
