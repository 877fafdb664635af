/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_malloc.h>

#include "sluice/maglev.h"

#include "log.h"
#include "rep.h"

static int
build_group(struct rep_group *g, const struct sl_group *sg,
	    const struct sl_policy *p, const uint16_t *port_of, uint64_t seed,
	    rep_source_fn source, void *source_arg, char *err, size_t err_size)
{
	struct sl_maglev_target *mt = calloc(sg->n_targets ? sg->n_targets : 1,
					     sizeof(*mt));
	char (*ids)[SL_MAGLEV_ID_MAX] = calloc(sg->n_targets ? sg->n_targets : 1,
					       sizeof(*ids));
	int ret = -ENOMEM;

	g->n_targets = (uint32_t)sg->n_targets;
	g->size = sg->table_size;
	g->targets = calloc(sg->n_targets ? sg->n_targets : 1,
			    sizeof(*g->targets));
	g->table = rte_malloc("sl_maglev", sizeof(*g->table) * g->size, 0);
	if (mt == NULL || ids == NULL || g->targets == NULL || g->table == NULL) {
		sl_errf(err, err_size, "group %s: out of memory", sg->name);
		goto out;
	}
	for (size_t i = 0; i < sg->n_targets; i++) {
		const struct sl_target *st = &sg->targets[i];
		struct rep_target *t = &g->targets[i];

		t->kind = st->kind;
		mt[i].id = ids[i];
		mt[i].id_len = sl_maglev_target_identity(st, ids[i],
							 sizeof(ids[i]));
		mt[i].weight = st->weight;
		mt[i].state = st->state;
		if (st->kind == SL_TARGET_PORT) {
			t->port = port_of[sl_policy_find_port(p, st->port)];
			if (t->port == UINT16_MAX)	/* not on this node */
				mt[i].state = SL_TARGET_DOWN;
			continue;
		}
		/* The outer source: the policy's, or the address of the port
		 * the route to the remote leaves by now. */
		uint8_t src[16] = { 0 };

		if (st->local.family == SL_FAMILY_NONE &&
		    (source == NULL || source(source_arg, &st->remote, src) != 0)) {
			sl_errf(err, err_size, "groups: %s: targets[%zu]: no "
				"outer source address: give `local`, or a route "
				"to the remote out of a port with an address of "
				"its family", sg->name, i);
			ret = -EADDRNOTAVAIL;
			goto out;
		}
		ret = encap_tunnel_init(&t->tun, st, src, 0);
		if (ret != 0) {
			sl_errf(err, err_size, "groups: %s: targets[%zu]: "
				"cannot build its tunnel: %s", sg->name, i,
				strerror(-ret));
			goto out;
		}
	}
	ret = sl_maglev_build(mt, sg->n_targets, g->size, seed, g->table);
	if (ret < 0) {
		sl_errf(err, err_size, "groups: %s: Maglev table: %s",
			sg->name, strerror(-ret));
		goto out;
	}
	g->n_live = (unsigned int)ret;
	g->digest = sl_maglev_digest(g->table, g->size);
	ret = 0;
out:
	free(mt);
	free(ids);
	return ret;
}

struct rep_gen *
rep_build(const struct sl_policy *p, const uint16_t *port_of,
	  rep_source_fn source, void *source_arg, char *err, size_t err_size)
{
	struct rep_gen *r = calloc(1, sizeof(*r));

	if (r == NULL) {
		sl_errf(err, err_size, "out of memory");
		return NULL;
	}
	r->seed = p->settings.flow_hash_seed;
	r->n_groups = (uint32_t)p->n_groups;
	r->groups = calloc(p->n_groups ? p->n_groups : 1, sizeof(*r->groups));
	if (r->groups == NULL) {
		sl_errf(err, err_size, "out of memory");
		rep_free(r);
		return NULL;
	}
	for (size_t i = 0; i < p->n_groups; i++) {
		if (build_group(&r->groups[i], &p->groups[i], p, port_of,
				r->seed, source, source_arg, err,
				err_size) != 0) {
			rep_free(r);
			return NULL;
		}
	}
	return r;
}

void
rep_free(struct rep_gen *r)
{
	if (r == NULL)
		return;
	for (uint32_t i = 0; r->groups && i < r->n_groups; i++) {
		free(r->groups[i].targets);
		rte_free(r->groups[i].table);
	}
	free(r->groups);
	free(r);
}
