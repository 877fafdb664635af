/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Trace for the XDP backend (docs/xdp.md, "Trace"): arm the program's
 * opt-in trace (sl_trace: a budget and a filter), read its records from
 * the ring buffer sl_tring, and format them in the shape of the DPDK
 * dataplane's trace (dataplane/watch.c, trace_rec_json), so that
 * `sluicectl trace` reads both backends alike.  Control-side code: nothing
 * here runs per packet.
 *
 * One trace at a time per program: the budget and the filter are the
 * program's, not a reader's.  The ring is pinned with the other maps, so
 * a process that adopted the program reads it too.
 *
 * Conventions (STYLE.md 13): 0 or -errno; err (if not NULL) gets one
 * sentence that names the field.  Not thread safe.
 */
#ifndef SLUICE_BPF_XDP_TRACE_H
#define SLUICE_BPF_XDP_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "sluice/policy.h"
#include "sluice/xdp_maps.h"
#include "xdp_loader.h"

/*
 * Compile a filter object (a rule's match fields: src, dst, proto, sport,
 * dport, in_port, vlan, tcp_flags) into f, with the checks and messages
 * of the DPDK dataplane's (sluice/watch_filter.h).  in_port names a port
 * of policy, which is the interface of that name.  NULL
 * filter: every packet.  Returns 0, or -EINVAL with err naming
 * "filter.<field>".
 */
int sl_xdp_trace_filter(const json_t *filter, const struct sl_policy *policy,
			struct sl_xdp_trace_filter *f, char *err,
			size_t err_size);

/* Arm: the filter, then a budget of count records.  Disarm: budget 0;
 * *lost (may be NULL) gets the packets the full ring refused (skipped:
 * the trace took later ones instead). */
int sl_xdp_trace_arm(struct sl_xdp *x, const struct sl_xdp_trace_filter *f,
		     uint32_t count);
int sl_xdp_trace_disarm(struct sl_xdp *x, uint64_t *lost);

/* A reader of the ring: fn runs for each record consumed (a nonzero
 * return stops the consume call and is returned by it). */
typedef int sl_xdp_trace_fn(void *ctx, const struct sl_xdp_trace_rec *r);
struct sl_xdp_trace;

int sl_xdp_trace_open(struct sl_xdp *x, sl_xdp_trace_fn *fn, void *ctx,
		      struct sl_xdp_trace **out);
void sl_xdp_trace_close(struct sl_xdp_trace *t);
/* An fd for the caller's epoll set: readable when records wait. */
int sl_xdp_trace_epoll_fd(const struct sl_xdp_trace *t);
/* Consume what the ring holds now without blocking: the records handed
 * to fn, or -errno. */
int sl_xdp_trace_consume(struct sl_xdp_trace *t);

/*
 * A record as JSON, the DPDK trace's members: ts_ns, port, len, worker
 * (the CPU), parse {l3, src, dst, proto, sport, dport}, verdict,
 * generation, rule (the id, null when no rule judged the packet, or
 * rule_index when that policy is gone), ct, route, egress (a steered
 * packet's target interface, else null), drop_reason;
 * and xdp {action, route, steer, target}: what only this backend says.
 * NULL when out of memory.
 */
json_t *sl_xdp_trace_json(struct sl_xdp *x, const struct sl_xdp_trace_rec *r);

/*
 * Records as a pcapng file (sluice/pcapng.h): one Ethernet interface named
 * ifname, snap length SL_XDP_TRACE_SNAP, each packet's first bytes with
 * its length.  Returns 0 with *buf (free() it) and *len, or -ENOMEM.
 */
int sl_xdp_trace_pcapng(const struct sl_xdp_trace_rec *recs, size_t n,
			const char *ifname, uint8_t **buf, size_t *len);

#endif /* SLUICE_BPF_XDP_TRACE_H */
