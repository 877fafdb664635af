/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sluice-cluster-tables: the cluster groups' Maglev tables for a member
 * set, derived by the same code as sluiced's (cluster_tables.c), for the
 * cluster tests and figures (docs/cluster.md).
 *
 *   sluice-cluster-tables POLICY MEMBERS [FLOWS [FLOW_SEED]]
 *     MEMBERS: JSON [{"id", "underlay", "capacity"}, ...] (GET /v1/members
 *     gives its "members").  Prints, per cluster group, the table's digest
 *     (as /v1/status shows it), its targets' remotes, and with FLOWS the
 *     target index of FLOWS pseudo-random flow hashes (splitmix64 from
 *     FLOW_SEED): {"GROUP": {"digest", "targets": [...], "owners": [...]}}
 *
 *   sluice-cluster-tables --bench N [TABLE_SIZE]
 *     Build time of one cluster group's table for N members (median of 9).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "sluice/maglev.h"
#include "sluiced/cluster.h"

static uint64_t
splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static int
load_members(const char *path, struct sd_member **out, size_t *n)
{
	json_error_t jerr;
	json_t *doc = json_load_file(path, 0, &jerr), *m;
	size_t i;

	if (!json_is_array(doc)) {
		fprintf(stderr, "%s: want a JSON list of members: %s\n", path,
			jerr.text);
		json_decref(doc);
		return -EINVAL;
	}
	*n = json_array_size(doc);
	*out = calloc(*n ? *n : 1, sizeof(**out));
	json_array_foreach(doc, i, m) {
		const char *id = json_string_value(json_object_get(m, "id"));
		const char *u = json_string_value(json_object_get(m,
								  "underlay"));
		json_t *cap = json_object_get(m, "capacity");

		(*out)[i].id = strdup(id ? id : "");
		(*out)[i].underlay = u ? strdup(u) : NULL;
		(*out)[i].capacity = json_is_integer(cap) ?
				     (uint32_t)json_integer_value(cap) : 1;
	}
	json_decref(doc);
	return 0;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int
bench(unsigned int n, uint32_t size)
{
	struct sd_member *m = calloc(n, sizeof(*m));
	struct sl_policy *state, *eff;
	struct sl_policy_errors errs;
	double t[9];
	char doc[256];

	snprintf(doc, sizeof(doc), "{\"groups\": [{\"name\": \"peers\", "
		 "\"table_size\": %u, \"cluster\": {\"kind\": \"vxlan\", "
		 "\"vni\": 1}}]}", size);
	if (sl_policy_from_json_str(doc, &state, &errs) != 0) {
		sl_policy_errors_print(stderr, "bench", &errs);
		return 1;
	}
	for (unsigned int i = 0; i < n; i++) {
		char id[32], addr[32];

		snprintf(id, sizeof(id), "node-%04u", i);
		snprintf(addr, sizeof(addr), "10.%u.%u.%u", i >> 16,
			 (i >> 8) & 255, i & 255);
		m[i].id = strdup(id);
		m[i].underlay = strdup(addr);
		m[i].capacity = 1;
	}
	for (int r = 0; r < 9; r++) {
		uint16_t *table = NULL;
		double t0 = now_s();
		int live;

		if (sd_cluster_derive(state, m, n, &eff) != 0)
			return 1;
		live = sd_cluster_group_table(&eff->groups[0],
					      eff->settings.flow_hash_seed,
					      &table);
		t[r] = (now_s() - t0) * 1e3;
		if (live < 0) {
			fprintf(stderr, "build: %s\n", strerror(-live));
			return 1;
		}
		free(table);
		sl_policy_free(eff);
	}
	qsort(t, 9, sizeof(t[0]), cmp_double);
	printf("{\"members\": %u, \"table_size\": %u, \"derive_and_build_ms\": "
	       "%.3f, \"max_ms\": %.3f}\n", n, size, t[4], t[8]);
	sl_policy_free(state);
	return 0;
}

int
main(int argc, char **argv)
{
	struct sl_policy *state = NULL, *eff = NULL;
	struct sl_policy_errors errs;
	struct sd_member *members = NULL;
	unsigned long flows = 0;
	uint64_t seed = 1;
	size_t n = 0;
	json_t *out;

	if (argc >= 3 && strcmp(argv[1], "--bench") == 0)
		return bench((unsigned int)strtoul(argv[2], NULL, 10),
			     argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 10)
				      : SL_POLICY_MAGLEV_DEFAULT);
	if (argc < 3) {
		fprintf(stderr, "usage: %s POLICY MEMBERS [FLOWS [FLOW_SEED]]\n"
			"       %s --bench N [TABLE_SIZE]\n", argv[0], argv[0]);
		return 2;
	}
	if (argc > 3)
		flows = strtoul(argv[3], NULL, 10);
	if (argc > 4)
		seed = strtoull(argv[4], NULL, 10);
	if (sl_policy_load_file(argv[1], &state, &errs) != 0) {
		sl_policy_errors_print(stderr, argv[1], &errs);
		return 1;
	}
	if (load_members(argv[2], &members, &n) != 0 ||
	    sd_cluster_derive(state, members, n, &eff) != 0)
		return 1;
	out = json_object();
	for (size_t i = 0; i < eff->n_groups; i++) {
		const struct sl_group *g = &eff->groups[i];
		json_t *targets = json_array(), *owners = json_array();
		uint16_t *table = NULL;
		uint64_t s = seed;
		char hex[17], addr[SL_PREFIX_STRLEN];
		int live;

		if (!g->cluster)
			continue;
		live = sd_cluster_group_table(g, eff->settings.flow_hash_seed,
					      &table);
		if (live < 0) {
			fprintf(stderr, "group %s: %s\n", g->name,
				strerror(-live));
			return 1;
		}
		for (size_t t = 0; t < g->n_targets; t++)
			json_array_append_new(targets, json_string(
				sl_prefix_format(&g->targets[t].remote, false,
						 addr)));
		for (unsigned long f = 0; f < flows; f++) {
			uint16_t e = table[splitmix64(&s) % g->table_size];

			json_array_append_new(owners, e == SL_MAGLEV_NONE ?
				json_null() : json_integer(e));
		}
		snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)
			 sl_maglev_digest(table, g->table_size));
		json_object_set_new(out, g->name, json_pack("{s:s, s:o, s:o}",
			"digest", hex, "targets", targets, "owners", owners));
		free(table);
	}
	json_dumpf(out, stdout, JSON_COMPACT);
	putchar('\n');
	json_decref(out);
	sl_policy_free(eff);
	sl_policy_free(state);
	return 0;
}
