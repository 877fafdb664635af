/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The firewall stage: one policy generation compiled for the hot path.
 *
 * A struct fw_gen is built whole on the control thread from a validated
 * struct sl_policy (fw_build.c), published to the workers by pointer swap,
 * and freed after an RCU grace period.  Workers only read it, so a packet
 * is judged by exactly one generation.
 *
 * Header matches live in rte_acl contexts, one for IPv4 and one for IPv6.
 * A generation with payload rules gives its contexts two categories:
 * category 0 holds the rules without a payload condition, category 1 the
 * header part of the rules with one (without payload rules there is only
 * category 0, which builds and classifies faster).  One
 * classify call therefore gives n0, the first plain rule that matches, and
 * p1, the first payload rule whose headers match.  Only when p1 comes before
 * n0 is the payload scanned (Hyperscan, block mode, one database per
 * generation, one scratch per worker); the verdict is then the first of n0
 * and the payload rules whose headers and pattern both match.
 */
#ifndef SLUICE_DP_FW_H
#define SLUICE_DP_FW_H

#include <stdint.h>

#include <rte_common.h>

#include "sluice/pkt_meta.h"
#include "sluice/policy.h"

struct rep_gen;
struct rte_acl_ctx;
struct hs_database;
struct hs_scratch;

/* Largest number of workers a generation keeps a scratch and counters for. */
#define FW_WORKERS_MAX RTE_MAX_LCORE

/* Per-rule counters of one worker; index n_rules is the default action. */
struct fw_rule_counter {
	uint64_t packets;
	uint64_t bytes;
};

struct fw_rule {
	uint8_t action;		/* enum sl_action_type */
	uint8_t has_payload;
	uint16_t copies;
	uint8_t never;		/* names a port absent here: cannot match */
	uint16_t in_port;	/* DPDK port id of match.in_port */
	int32_t group;		/* index into policy groups, -1: none */
	struct sl_match_compiled match;	/* for payload candidates */
};

struct fw_gen {
	uint64_t id;		/* policy generation */
	uint32_t n_rules;
	uint32_t n_payload_rules;
	uint8_t uses_ct;	/* some rule matches on `ct` */
	uint8_t per_packet;	/* some rule looks at per-packet fields
				 * (tcp_flags, payload): no verdict caching */
	uint8_t rep_actions;	/* some rule (or default) replicates or
				 * steers: the replication stage runs */
	struct rep_gen *rep;	/* the groups (rep.h); freed with the gen */
	struct fw_rule *rules;	/* n_rules + 1: the last is the default */
	char **rule_ids;	/* for counters and traces */

	struct rte_acl_ctx *acl4;	/* NULL: no rule can match IPv4 */
	struct rte_acl_ctx *acl6;
	uint32_t categories;	/* 1, or FW_CATEGORIES with payload rules */

	struct hs_database *hs_db;	/* NULL: no payload rules */
	uint32_t *hs_rule;		/* Hyperscan id -> rule index */
	struct hs_scratch *scratch[FW_WORKERS_MAX];

	uint16_t nb_workers;
	struct fw_rule_counter *counters;	/* [worker][n_rules + 1] */
	/* What rules of the same id counted in earlier generations; only
	 * the control thread touches it. */
	struct fw_rule_counter *carried;	/* [n_rules + 1] */
};

/* No rule judged the packet (it is not IP): it passes. */
#define FW_NO_RULE UINT32_MAX

/* What the stage decided for one packet. */
struct fw_verdict {
	uint32_t rule;		/* index; n_rules means the default action */
	uint8_t action;		/* enum sl_action_type */
};

/*
 * Build a generation for nb_workers workers.  port_of maps the index of a
 * policy port to its DPDK port id (UINT16_MAX: not present on this node, so
 * rules naming it never match).  On failure returns NULL and writes a
 * reason into err (at least 256 bytes).
 */
struct fw_gen *fw_build(const struct sl_policy *p, const uint16_t *port_of,
			uint16_t nb_workers, uint64_t id, char *err,
			size_t err_size);

void fw_free(struct fw_gen *g);

/*
 * Keep the memory of policy builds in the process heap.  A build of 10k
 * rules allocates and frees hundreds of megabytes; by default glibc hands
 * such blocks back to the kernel, so every reload faults every page in
 * again, which costs more than the build itself.  Call once at start-up on
 * the control thread; the price is that the heap keeps the peak size of a
 * build.
 */
void fw_build_keep_heap(void);

/*
 * Judge n (<= 64) parsed, non-dropped packets.  ct[i] is the packet's
 * SL_CT_* bit (SL_CT_NEW when tracking is off), in_port its ingress port,
 * data/len its bytes for payload rules.  Counts each packet under its rule
 * for this worker.
 */
void fw_classify_burst(const struct fw_gen *g, unsigned int worker,
		       const struct sl_pkt_meta *const meta[],
		       const uint8_t *const data[], const uint8_t ct[],
		       const uint16_t in_port[], uint16_t n,
		       struct fw_verdict out[]);

/* Count n judged packets under their rules for this worker (what
 * fw_classify_burst does for the packets it judges). */
void fw_count_burst(const struct fw_gen *g, unsigned int worker,
		    const struct sl_pkt_meta *const meta[],
		    const struct fw_verdict v[], uint16_t n);

/* One rule's count: every worker's, plus what earlier generations carried
 * over to it. */
struct fw_rule_counter fw_rule_total(const struct fw_gen *g, uint32_t rule);

/*
 * Carry the counts of old (which no worker uses any more) over to the rules
 * of g with the same id, so that a rule's counters survive policy swaps.
 * Control thread only.  Returns 0 or -ENOMEM.
 */
int fw_carry_counters(struct fw_gen *g, const struct fw_gen *old);

#endif /* SLUICE_DP_FW_H */
