/*
 * setup_cmd_services.c - `setup services list|start|stop|restart [PRODUCT]`:
 * the services of the installed products (or of one), in solved start order
 * (stop and restart's stop half in reverse). `list` shows the external
 * services the product is ordered against too (start type "external"),
 * though it never starts or stops them. `start` starts the services
 * whose recorded start type is auto, like a machine coming up; `stop` stops
 * every installed one that is running; `restart` does both. Each product is
 * handled on its own, with the definition recorded at install. Not a
 * transaction: a failure is reported and the services already handled stay
 * as they are now.
 */
#include "setup.h"

#include <stdio.h>
#include <string.h>

#include "common/mem.h"

static int one_product(struct setup_ctx *c, const char *verb, const char *code, struct err *e)
{
	struct setup_product prod;
	struct manifest *m = NULL;
	struct setup_services sv;
	struct manifest_list names = { NULL, 0 };
	int *types = NULL, *order = NULL, rc = -1, found;

	memset(&prod, 0, sizeof(prod));
	memset(&sv, 0, sizeof(sv));
	found = setup_state_product(c, code, &prod, e);
	if (found <= 0) {
		if (found == 0)
			err_set(e, ERR_CLASS_NOTFOUND, "product '%s' is not installed on '%s'; 'setup status' lists what is",
				code, c->root[0] ? c->root : "/");
		goto out;
	}
	if (manifest_load_buffer("installed manifest", prod.manifest, strlen(prod.manifest), MANIFEST_MEDIA, &m, e) ||
	    setup_services_init(&sv, c, m, prod.install_dir, "services", 0, e) || setup_services_order(m, &order, e))
		goto out;
	types = mem_array((size_t)m->nservices + 1, sizeof(int));
	names.items = mem_array((size_t)m->nservices + 1, sizeof(char *));
	if (!types || !names.items) {
		err_nomem(e, "listing services");
		goto out;
	}
	for (int i = 0; i < m->nservices; i++) {
		int t = m->services[i].external ? 0 : setup_state_service_type(c, code, m->services[i].name, e);

		if (t < 0)
			goto out;
		types[i] = t ? t : -1;   /* -1: not installed here */
		if (t)
			names.items[names.n++] = m->services[i].name;
	}
	if (strcmp(verb, "list") == 0) {
		for (int k = 0; k < m->nservices; k++) {
			const struct manifest_service *s = &m->services[order[k]];
			const char *type = s->external ? "external" : manifest_start_type_name(types[order[k]]);
			int r;

			/* External services are shown: they are part of the order. */
			if (types[order[k]] < 0 && !s->external)
				continue;
			r = sv.be->status(s, &sv.env, e);
			if (r < 0)
				goto out;
			if (c->o->json) {
				printf("{\"product\":");
				setup_json_str(stdout, code);
				printf(",\"service\":");
				setup_json_str(stdout, s->name);
				printf(",\"start_type\":\"%s\",\"running\":%s}\n", type, r ? "true" : "false");
			} else {
				printf("%-16s %-16s %-9s %s\n", code, s->name, type, r ? "running" : "stopped");
			}
		}
		rc = 0;
		goto out;
	}
	if ((strcmp(verb, "stop") == 0 || strcmp(verb, "restart") == 0) && setup_services_stop_set(&sv, &names, e))
		goto out;
	if ((strcmp(verb, "start") == 0 || strcmp(verb, "restart") == 0) && setup_services_start_set(&sv, NULL, types, e))
		goto out;
	setup_services_keep(&sv);
	rc = 0;
out:
	mem_free(names.items);
	mem_free(types);
	mem_free(order);
	setup_services_destroy(&sv);
	manifest_free(m);
	setup_product_destroy(&prod);
	return rc;
}

int setup_cmd_services(const struct setup_opts *o, const char *verb, const char *product, struct err *e)
{
	struct setup_ctx c;
	char **codes = NULL;
	int n = 0, rc = -1;

	if (strcmp(verb, "list") != 0 && strcmp(verb, "start") != 0 && strcmp(verb, "stop") != 0 &&
	    strcmp(verb, "restart") != 0)
		return err_set(e, ERR_CLASS_USAGE, "setup services: unknown action '%s'; use list, start, stop or restart", verb);
	if (setup_ctx_open(&c, o, "services", e))
		return -1;
	if (product) {
		rc = one_product(&c, verb, product, e);
		goto out;
	}
	if (setup_state_products(&c, &codes, &n, e))
		goto out;
	for (int i = 0; i < n; i++)
		if (one_product(&c, verb, codes[i], e))
			goto out;
	rc = 0;
out:
	setup_strv_free(codes, n);
	setup_ctx_close(&c);
	return rc;
}
