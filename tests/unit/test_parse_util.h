/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Helpers shared by the parser tests, the fuzz target and the benchmark:
 * the variants this CPU runs, and printing a packet and its meta when two
 * variants disagree.  Header-only.
 */
#ifndef SLUICE_TEST_PARSE_UTIL_H
#define SLUICE_TEST_PARSE_UTIL_H

#include <stdio.h>

#include "sluice/drop_reason.h"

#include "parse.h"

struct pu_variant {
	enum sl_parse_variant id;
	const char *name;
	sl_parse_burst_fn fn;
};

/* Fills v[] with the explicit variants this CPU runs (scalar first);
 * returns how many. */
static inline unsigned int
pu_variants(struct pu_variant v[3])
{
	static const enum sl_parse_variant all[] = {
		SL_PARSE_SCALAR, SL_PARSE_SSE42, SL_PARSE_AVX2,
	};
	unsigned int n = 0;

	for (unsigned int i = 0; i < 3; i++) {
		sl_parse_burst_fn fn = sl_parse_select(all[i]);

		if (fn == NULL)
			continue;
		v[n].id = all[i];
		v[n].name = sl_parse_variant_name(all[i]);
		v[n].fn = fn;
		n++;
	}
	return n;
}

static inline void
pu_hexdump(FILE *f, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		fprintf(f, "%02x%s", p[i], (i % 16 == 15 || i + 1 == len) ?
			"\n" : " ");
	if (len == 0)
		fprintf(f, "(empty)\n");
}

static inline void
pu_meta_dump(FILE *f, const char *label, const struct sl_pkt_meta *m)
{
	fprintf(f, "%s: drop=%u(%s) l3=%u et=0x%04x vlan=%u/%u/%u len=%u "
		"l3_off=%u l4_off=%u payload_off=%u l3_end=%u proto=%u "
		"frag=0x%x ttl=%u ports=%u/%u tcp_flags=0x%02x icmp=%u/%u "
		"gre=0x%04x swapped=%u\n",
		label, m->drop_reason, sl_drop_reason_name(m->drop_reason),
		m->l3, m->ethertype, m->vlan_count, m->vlan_outer,
		m->vlan_inner, m->pkt_len, m->l3_off, m->l4_off,
		m->payload_off, m->l3_end, m->l4_proto, m->frag, m->ttl,
		m->sport, m->dport, m->tcp_flags, m->icmp_type, m->icmp_code,
		m->gre_proto, m->key_swapped);
	fprintf(f, "%s: raw ", label);
	pu_hexdump(f, (const uint8_t *)m, sizeof(*m));
}

#endif /* SLUICE_TEST_PARSE_UTIL_H */
