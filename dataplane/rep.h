/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Replication and steering groups of one policy generation: each group's
 * targets compiled (a local port, or a tunnel toward a remote node) and its
 * Maglev lookup table built from the live targets (lib/maglev.c).  Built on
 * the control thread with the firewall generation that refers to it
 * (struct fw_gen.rep), published and freed with it, read-only for workers.
 *
 * A target that goes down or comes back is a policy change: the next
 * generation's table is rebuilt from the live targets, and Maglev moves
 * only (about) the flows of the changed target.
 */
#ifndef SLUICE_DP_REP_H
#define SLUICE_DP_REP_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/policy.h"

#include "encap.h"

struct rep_target {
	uint8_t kind;		/* enum sl_target_kind */
	uint16_t port;		/* PORT: the DPDK port */
	struct encap_tunnel tun;	/* tunnels */
};

struct rep_group {
	uint16_t *table;	/* Maglev: entries are target indices */
	uint32_t size;
	unsigned int n_live;	/* targets in the table */
	uint64_t digest;	/* sl_maglev_digest of the table */
	struct rep_target *targets;
	uint32_t n_targets;
};

struct rep_gen {
	struct rep_group *groups;	/* indexed like the policy's */
	uint32_t n_groups;
	uint64_t seed;			/* flow hash seed */
};

/*
 * The outer source address for a tunnel toward remote whose target gives
 * none: the address (4 or 16 bytes into out) of the port the route to
 * remote leaves by.  Returns 0 or -errno.
 */
typedef int (*rep_source_fn)(void *arg, const struct sl_prefix *remote,
			     uint8_t *out);

/*
 * Compile p's groups; port_of maps policy ports to DPDK ports; source
 * (may be NULL: then every tunnel target must give `local`) picks outer
 * source addresses when the policy is applied.  A port target absent on
 * this node is left out of its table.  Returns NULL with the reason in err.
 */
struct rep_gen *rep_build(const struct sl_policy *p, const uint16_t *port_of,
			  rep_source_fn source, void *source_arg, char *err,
			  size_t err_size);

void rep_free(struct rep_gen *r);

#endif /* SLUICE_DP_REP_H */
