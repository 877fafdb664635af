/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Cluster groups' targets from the member set, and their Maglev tables
 * (cluster.h).  Pure functions of (state, members): every node with the
 * same member set derives the same targets, in the same order, and so
 * byte-identical tables.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/maglev.h"

#include "cluster.h"

static int
member_cmp(const void *a, const void *b)
{
	const struct sd_member *const *x = a, *const *y = b;

	return strcmp((*x)->id, (*y)->id);
}

/* A host address ("192.0.2.7", "2001:db8::7"); false if it is not one. */
static bool
host_address(const char *s, struct sl_prefix *p)
{
	memset(p, 0, sizeof(*p));
	if (s == NULL)
		return false;
	if (inet_pton(AF_INET, s, p->addr) == 1) {
		p->family = SL_FAMILY_IPV4;
		p->len = 32;
		return true;
	}
	if (inet_pton(AF_INET6, s, p->addr) == 1) {
		p->family = SL_FAMILY_IPV6;
		p->len = 128;
		return true;
	}
	return false;
}

/* Fill g's targets from the sorted members; g->targets is NULL here. */
static int
derive_group(struct sl_group *g, const struct sd_member *const *sorted,
	     size_t n)
{
	g->targets = calloc(n ? n : 1, sizeof(*g->targets));
	if (g->targets == NULL)
		return -ENOMEM;
	g->n_targets = 0;
	for (size_t i = 0; i < n && g->n_targets < SL_POLICY_TARGETS_MAX;
	     i++) {
		struct sl_target t = g->member;
		bool dup = false;

		t.port = NULL;
		t.state = SL_TARGET_UP;
		t.weight = sorted[i]->capacity >= 1 &&
			   sorted[i]->capacity <= SL_POLICY_TARGET_WEIGHT_MAX ?
			   (uint16_t)sorted[i]->capacity : 1;
		if (!host_address(sorted[i]->underlay, &t.remote))
			continue;
		for (size_t k = 0; k < g->n_targets && !dup; k++)
			dup = g->targets[k].remote.family == t.remote.family &&
			      memcmp(g->targets[k].remote.addr, t.remote.addr,
				     sizeof(t.remote.addr)) == 0;
		if (!dup)
			g->targets[g->n_targets++] = t;
	}
	return 0;
}

int
sd_cluster_derive(const struct sl_policy *state,
		  const struct sd_member *members, size_t n,
		  struct sl_policy **out)
{
	const struct sd_member **sorted = calloc(n ? n : 1, sizeof(*sorted));
	struct sl_policy *p = sl_policy_dup(state);
	int ret = 0;

	*out = NULL;
	if (sorted == NULL || p == NULL) {
		free(sorted);
		sl_policy_free(p);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		sorted[i] = &members[i];
	qsort(sorted, n, sizeof(*sorted), member_cmp);
	for (size_t i = 0; i < p->n_groups && ret == 0; i++) {
		struct sl_group *g = &p->groups[i];

		if (!g->cluster)
			continue;
		/* The operator's document has none; a derived one is
		 * replaced. */
		for (size_t j = 0; j < g->n_targets; j++)
			free(g->targets[j].port);
		free(g->targets);
		g->targets = NULL;
		g->n_targets = 0;
		ret = derive_group(g, sorted, n);
	}
	free(sorted);
	if (ret != 0) {
		sl_policy_free(p);
		return ret;
	}
	*out = p;
	return 0;
}

int
sd_cluster_group_table(const struct sl_group *g, uint64_t seed,
		       uint16_t **table)
{
	struct sl_maglev_target *mt = calloc(g->n_targets ? g->n_targets : 1,
					     sizeof(*mt));
	char (*ids)[SL_MAGLEV_ID_MAX] = calloc(g->n_targets ? g->n_targets : 1,
					       sizeof(*ids));
	uint16_t *t = malloc(sizeof(*t) * g->table_size);
	int ret = -ENOMEM;

	if (mt == NULL || ids == NULL || t == NULL)
		goto out;
	for (size_t i = 0; i < g->n_targets; i++) {
		mt[i].id = ids[i];
		mt[i].id_len = sl_maglev_target_identity(&g->targets[i], ids[i],
							 sizeof(ids[i]));
		mt[i].weight = g->targets[i].weight;
		mt[i].state = g->targets[i].state;
	}
	ret = sl_maglev_build(mt, g->n_targets, g->table_size, seed, t);
	if (ret >= 0) {
		*table = t;
		t = NULL;
	}
out:
	free(mt);
	free(ids);
	free(t);
	return ret;
}
