/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A policy compiled into the contents of one XDP map set (the tables
 * include/sluice/xdp_maps.h describes), in plain memory: no libbpf, so unit
 * tests can look at it.  xdp_loader.c writes an image into fresh inner maps.
 * Setup code: allocates, not thread safe on one image.
 */
#ifndef SLUICE_BPF_XDP_COMPILE_H
#define SLUICE_BPF_XDP_COMPILE_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/policy.h"
#include "sluice/xdp_maps.h"

enum sl_xdp_trie {
	SL_XDP_TRIE_SRC4,
	SL_XDP_TRIE_DST4,
	SL_XDP_TRIE_SRC6,
	SL_XDP_TRIE_DST6,
	SL_XDP_TRIES
};

struct sl_xdp_trie_entry {
	uint8_t len;			/* prefix length */
	uint8_t addr[16];		/* network order; IPv4 in 0..3 */
	struct sl_xdp_bitmap bm;
};

struct sl_xdp_inport_entry {
	uint32_t ifindex;		/* 0: every interface not listed */
	struct sl_xdp_bitmap bm;
};

struct sl_xdp_image {
	uint32_t n_rules;
	uint64_t generation;
	struct sl_xdp_rule *rules;	/* n_rules + 1; the last: default */
	/* Prefix entries per table; IPv4 ones reach the program through a4
	 * and sl_abm, IPv6 ones as LPM trie entries. */
	struct sl_xdp_trie_entry *trie[SL_XDP_TRIES];
	size_t n_trie[SL_XDP_TRIES];
	uint32_t *a4;			/* sl_a4: n_a4 entries */
	uint32_t n_a4;
	struct sl_xdp_bitmap *bm;	/* SL_XDP_BM_ENTRIES, zero past n_bm */
	uint32_t n_bm;			/* entries in use */
	uint32_t *pidx;			/* SL_XDP_PIDX_ENTRIES */
	struct sl_xdp_inport_entry *inport;
	size_t n_inport;
	uint32_t n_never;		/* rules whose in_port is absent */
	/* Steer: the groups a steer action names (sl_grp), in the order of
	 * their first use, and their Maglev tables (sl_mag). */
	struct sl_xdp_group *groups;
	uint32_t n_groups;
	int32_t *group_of;		/* steer index -> policy group index */
	struct sl_xdp_mag_chunk *mag;
	uint32_t n_mag;			/* chunks */
	/* Replicate: one replica table per distinct (group, copies) of the
	 * replicate actions, in the order of first use (sl_rgrp), and their
	 * entries (sl_rtab; xdp_maps.h). */
	struct sl_xdp_rep_group *rgroups;
	uint32_t n_rgroups;
	int32_t *rgroup_of;		/* replica table -> policy group index */
	struct sl_xdp_mag_chunk *rtab;
	uint32_t n_rtab;		/* chunks */
	/* The tunnel targets (sl_tun): the steered groups', in group order,
	 * then the replica tables', in table order. */
	struct sl_xdp_tunnel *tun;
	uint32_t n_tun;
};

/*
 * Whether the XDP backend can enforce p: at most SL_XDP_RULES_MAX rules,
 * no payload rules (XDP cannot run Hyperscan: the error names the DPDK
 * backend and its af_xdp port), no ct match without
 * settings.conntrack.enabled (a cluster group is judged by the targets
 * sluiced derived for it from the live members: tunnels); at most
 * SL_XDP_GROUPS_MAX steered groups
 * whose tables hold at most SL_XDP_MAG_ENTRIES_MAX entries together; at
 * most SL_XDP_RTABS_MAX distinct (group, copies) replicate pairs whose
 * replica tables (size * copies entries) hold at most
 * SL_XDP_REP_ENTRIES_MAX together.  Returns 0, or -ENOTSUP /
 * -E2BIG with a sentence naming the field in err.
 */
int sl_xdp_policy_supported(const struct sl_policy *p, char *err,
			    size_t err_size);

/*
 * Compile a valid, supported policy.  ifindex_of[i] is the interface of
 * policy port i, 0 when it is not on this host (rules naming it never
 * match, as in the DPDK dataplane; a steer target naming it is out of the
 * Maglev table, as rep_build() leaves out a port absent on the node);
 * NULL: every port is absent.  Each steered group's table is
 * sl_maglev_build() over sl_maglev_target_identity(), weight and state of
 * its targets with the policy's seed: the DPDK path's table.  Each
 * replicated (group, copies) pair gets a replica table: entry p holds
 * the targets sl_maglev_pick(..., copies) gives over that table for a
 * flow hash h with h % size == p (sl_xdp_replica_table).  A tunnel
 * target (vxlan, geneve, gre) is compiled as encap_tunnel_init()
 * (dataplane/encap.c) compiles it, TTL 64; when it gives no `local`, the
 * outer source is the address the kernel of this host picks for a
 * datagram to its remote (a connected UDP socket's, no packet sent), as
 * rep_build() takes that of the port the route leaves by.  Returns 0 with
 * *out to free with sl_xdp_image_free(), or -errno with err filled
 * (-EADDRNOTAVAIL: a tunnel with no outer source address).
 */
int sl_xdp_compile(const struct sl_policy *p, const uint32_t *ifindex_of,
		   struct sl_xdp_image **out, char *err, size_t err_size);

void sl_xdp_image_free(struct sl_xdp_image *img);

/*
 * Every entry of a replica table at once: out[p * want + c] is out[c] of
 * sl_maglev_pick(table, size, n_live, h, copies, out) for any flow hash h
 * with h % size == p, where want = min(copies, n_live) > 0 and table,
 * size, n_live come from one sl_maglev_build().  O(size * want) time;
 * out holds size * want entries.
 */
void sl_xdp_replica_table(const uint16_t *table, uint32_t size,
			  unsigned int want, uint16_t *out);

#endif /* SLUICE_BPF_XDP_COMPILE_H */
