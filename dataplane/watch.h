/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Watches: sluiced's trace and capture requests (docs/dp-protocol.md).
 *
 * A watch follows the next `count` packets that match a filter.  The
 * control thread builds it (filter, per-worker record lanes), stores it in
 * a free slot of struct dp_run and sets the slot's bit in
 * dp_run.watch_armed (release).  A worker loads watch_armed once per round
 * (relaxed); only when it is not 0 does it call dp_watch_chunk for each
 * chunk, which stores a small fixed record per matching packet (a trace)
 * or a copy of its first bytes (a capture) in the worker's own lane.  So
 * with nothing armed the hot path pays one load per round.
 *
 * The control thread reads a lane's record count (acquire) to learn when a
 * watch is done (count reached or its time is up), then disarms it: clears
 * the bit, waits an RCU grace period (every worker has finished the round
 * in which it may have seen the bit), and only then reads the records,
 * formats them (JSON, pcapng) and frees the watch.  Formatting never runs
 * on a worker.
 *
 * watch_stage.c is the per-packet part, watch.c the control part.
 */
#ifndef SLUICE_DP_WATCH_H
#define SLUICE_DP_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <rte_common.h>

#include "sluice/pkt_meta.h"

struct dp_control;
struct dp_run;
struct dp_worker;
struct fw_gen;
struct rte_mbuf;

#define DP_WATCH_SLOTS		4	/* watches armed at once, at most */
#define DP_WATCH_TRACE_MAX	10000	/* packets one trace returns */
#define DP_WATCH_CAPTURE_MAX	10000	/* packets one capture returns */
#define DP_WATCH_SNAPLEN	2048	/* bytes a capture keeps of each */
#define DP_WATCH_TIMEOUT_MAX_MS	600000
#define DP_WATCH_COUNT_DEFAULT	10
#define DP_WATCH_TIMEOUT_DEFAULT_MS 5000

enum dp_watch_kind {
	DP_WATCH_TRACE = 0,
	DP_WATCH_CAPTURE,
};

/*
 * Which packets a watch takes: the fields of a rule's match that a packet's
 * headers answer (src, dst, proto, sport, dport, in_port, vlan,
 * tcp_flags), compiled from a filter object by dp_watch_new.  fields holds
 * SL_MATCH_* bits; a packet matches when every field given holds.  A filter
 * with an IP field (or a family) takes IP packets only.
 */
struct dp_watch_filter {
	uint32_t fields;
	uint8_t family;		/* 4, 6; 0: any */
	uint8_t proto;
	uint8_t src_len;
	uint8_t dst_len;
	uint8_t src[16];	/* network order, bits past len zero */
	uint8_t dst[16];
	uint16_t sport_lo, sport_hi;
	uint16_t dport_lo, dport_hi;
	uint16_t in_port;	/* DPDK port id */
	uint16_t vlan;
	uint8_t tcp_flags;
	uint8_t tcp_flags_mask;
};

/*
 * One traced packet as the worker saw it once the firewall had judged it,
 * before the routing or replication stage sent it on.
 */
struct dp_trace_rec {
	uint64_t tsc;		/* the round's TSC */
	uint64_t gen;		/* generation that judged it; 0: no policy */
	uint32_t rule;		/* its rule index in gen; FW_NO_RULE: not
				 * judged (not IP, or dropped before) */
	uint32_t len;		/* frame length */
	uint16_t port;		/* ingress DPDK port */
	uint16_t egress;	/* xconnect egress; DP_NO_PORT: none, or
				 * routed / steered (a later stage picks) */
	uint16_t sport;		/* as parsed, host order */
	uint16_t dport;
	uint16_t ethertype;
	uint8_t l3;		/* enum sl_l3 */
	uint8_t family;		/* enum sl_family; NONE: no 5-tuple */
	uint8_t proto;
	uint8_t action;		/* enum sl_action_type of rule; 0: none */
	uint8_t ct;		/* SL_CT_* state; 0: not tracked */
	uint8_t drop_reason;	/* so far; routed ports may drop later */
	uint8_t port_kind;	/* enum dp_port_kind of port */
	uint8_t worker;
	uint8_t src[16];	/* network order */
	uint8_t dst[16];
};

/* One captured packet; its bytes are the lane's data + i * snaplen. */
struct dp_cap_rec {
	uint64_t tsc;
	uint32_t orig_len;
	uint16_t cap_len;
	uint16_t worker;
};

/* One worker's records: only that worker writes them. */
struct dp_watch_lane {
	uint32_t n;		/* records stored; release store by the
				 * worker, acquire load by the control */
	void *recs;		/* count records of the watch's kind */
	uint8_t *data;		/* capture: count * snaplen bytes */
} __rte_cache_aligned;

struct dp_watch {
	/* Read by the workers while armed; set before arming. */
	uint8_t kind;		/* enum dp_watch_kind */
	uint16_t cap_port;	/* capture: the DPDK port */
	uint32_t count;		/* records per lane, at most */
	struct dp_watch_filter f;

	/* Control thread only. */
	int64_t seq;		/* the request to answer */
	uint64_t deadline_ms;	/* CLOCK_MONOTONIC ms */
	int slot;		/* in dp_run.watch; -1: not armed */
	uint64_t tsc0;		/* TSC and wall clock (ns) taken together, */
	uint64_t wall0_ns;	/* to date the records */
	unsigned int nb_lanes;
	struct dp_watch_lane lane[];	/* one per worker */
};

/* ------------------------------------------------------------------------
 * Per packet (watch_stage.c): workers only.
 */

/*
 * Offer the n packets of a chunk received on in_port to every watch in
 * armed (a value of dp_run.watch_armed loaded this round), after the
 * firewall stage: meta[i] as parsed and judged, and, for a packet the
 * firewall judged, rule_of[i] (its rule in g) and ct_of[i] (its SL_CT_*
 * state).  Stores what matches in the worker's lanes until they hold
 * count records.  Changes no packet.
 */
void dp_watch_chunk(struct dp_worker *w, uint32_t armed,
		    const struct fw_gen *g, uint16_t in_port,
		    struct rte_mbuf *const pkts[],
		    const struct sl_pkt_meta meta[], const uint32_t rule_of[],
		    const uint8_t ct_of[], uint16_t n);

/* ------------------------------------------------------------------------
 * Control thread (watch.c).
 */

/*
 * Build a watch of kind from a trace or capture request: "count" (default
 * DP_WATCH_COUNT_DEFAULT), "timeout_ms" (default
 * DP_WATCH_TIMEOUT_DEFAULT_MS), "filter" (optional, fields as in a rule's
 * match), and for a capture "port" (a policy port name).  Returns NULL
 * with the reason in err (a field that is wrong, out of memory).
 */
struct dp_watch *dp_watch_new(enum dp_watch_kind kind, const json_t *req,
			      const struct dp_control *c, int64_t seq,
			      char *err, size_t err_size);

/* Arm w in a free slot of run.  Returns 0 or -EBUSY (every slot taken). */
int dp_watch_arm(struct dp_run *run, struct dp_watch *w);

/* True when w has its count or its deadline (now_ms) has passed. */
bool dp_watch_done(const struct dp_watch *w, uint64_t now_ms);

/*
 * Disarm w (if armed) and wait until no worker can still write into it.
 * Blocks for an RCU grace period (a worker round).
 */
void dp_watch_disarm(struct dp_run *run, struct dp_watch *w);

/*
 * A disarmed trace's packets, oldest first, at most count:
 * [{"port", "len", "parse": {...}, "verdict", "rule", "ct", "egress",
 * "drop_reason", ...}] (docs/dp-protocol.md).  NULL when out of memory.
 */
json_t *dp_watch_trace_json(const struct dp_watch *w,
			    const struct dp_control *c);

/*
 * A disarmed capture as a pcapng file (one section, one Ethernet
 * interface named after the port, an Enhanced Packet Block per packet,
 * nanosecond timestamps): *buf (malloc'ed, the caller frees), *len, and
 * *packets.  Returns 0 or -ENOMEM.
 */
int dp_watch_pcapng(const struct dp_watch *w, const struct dp_control *c,
		    uint8_t **buf, size_t *len, unsigned int *packets);

/* Free a watch that is not armed.  NULL is fine. */
void dp_watch_free(struct dp_watch *w);

#endif /* SLUICE_DP_WATCH_H */
