/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The XDP backend's control side: load (or adopt) the program, attach it
 * to interfaces, write policies into it, read its counters.  Used by
 * sluice-xdp (bpf/sluice_xdp_main.c) now and by sluiced later; no DPDK.
 *
 * Pinning: with a pin root (SL_XDP_PIN_ROOT_DEFAULT for the tool), every
 * map is pinned there under its name, the program as "prog" and each
 * attachment (a bpf_link) as "link_<ifname>", so the program keeps
 * filtering after the process exits and a later process adopts it: it
 * opens the pinned program and maps instead of loading a new copy.
 * Without a pin root (tests) nothing outlives the handle.
 *
 * Policy switch: sl_xdp_apply() writes the inactive map set whole, flips
 * sl_ctl.active, then waits until no packet is still judged by the old set
 * (an RCU grace period), and carries each rule's counts over to the rule
 * of the same id in the new policy.  Concurrent appliers must serialise
 * themselves; packets never see a mix of two policies.
 *
 * Conventions (STYLE.md 13): 0 or -errno; err (if not NULL) gets one
 * sentence for operators.  Not thread safe on one handle.
 */
#ifndef SLUICE_BPF_XDP_LOADER_H
#define SLUICE_BPF_XDP_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/drop_reason.h"
#include "sluice/policy.h"
#include "sluice/xdp_maps.h"

struct sl_xdp;

struct sl_xdp_opts {
	const char *pin_root;	/* NULL: pin nothing */
	/* Keep each packet's verdict in sl_last (tests): the hot path pays
	 * a map write per packet.  Ignored when a pinned program is adopted. */
	bool last_verdict;
	/* Print the verifier log when the load fails (libbpf's default
	 * print goes to stderr). */
	bool verbose;
	/* Flows the connection tracking table holds (an LRU hash sized at
	 * load: settings.conntrack.size of the first policy); 0:
	 * SL_XDP_CT_DEFAULT_SIZE.  Ignored when a pinned program is adopted. */
	uint32_t ct_size;
	/* Tests: the program reads the time from sl_xdp_set_test_clock()
	 * instead of the kernel's clock.  Ignored when adopted. */
	bool test_clock;
};

/* Load the program, or adopt the one pinned under opts->pin_root.  Returns
 * 0 with *out set, or -errno. */
int sl_xdp_open(const struct sl_xdp_opts *opts, struct sl_xdp **out,
		char *err, size_t err_size);

/* Closes the descriptors; pinned objects (and so attachments) stay. */
void sl_xdp_close(struct sl_xdp *x);

/* True when sl_xdp_open() found a pinned program and adopted it. */
bool sl_xdp_adopted(const struct sl_xdp *x);

int sl_xdp_prog_fd(const struct sl_xdp *x);

enum sl_xdp_mode {
	SL_XDP_MODE_NATIVE,	/* driver mode */
	SL_XDP_MODE_GENERIC,	/* skb mode: every driver, slower */
};

/*
 * Attach to an interface: native mode, falling back to generic with a
 * warning on stderr when the driver has no native XDP (or generic only
 * when asked).  Replicate's TC program goes on the interface's clsact
 * ingress with it (the qdisc is created when there is none, and then
 * removed by the detach); it stays there as long as the XDP program.  With a pin root the attachment is pinned and outlives the
 * process; attaching where sluice is already attached is a no-op (0).
 * *mode (may be NULL) says which mode took.  -ENODEV: no such interface;
 * -EBUSY: another XDP program holds it.
 */
int sl_xdp_attach(struct sl_xdp *x, const char *ifname, bool generic_only,
		  enum sl_xdp_mode *mode, char *err, size_t err_size);

/* Detach from an interface this handle (or a pinned link) attached. */
int sl_xdp_detach(struct sl_xdp *x, const char *ifname, char *err,
		  size_t err_size);

/*
 * Routing (docs/xdp.md, "Routing"): on, the program routes accepted IP
 * packets itself through the kernel FIB (bpf_fib_lookup) and redirects
 * them to the egress interface when the program is attached there;
 * off (the state of a fresh program), accepted packets get XDP_PASS and
 * the kernel routes them.  The setting lives in the pinned sl_ctl, so it
 * outlives the handle and a policy switch keeps it.  Attaching adds the
 * interface to the egress map sl_tx, detaching removes it.
 */
int sl_xdp_set_routing(struct sl_xdp *x, bool on, char *err,
		       size_t err_size);
int sl_xdp_routing(struct sl_xdp *x, bool *on);

/*
 * Write a policy and switch to it atomically.  ifindex_of[i] is the
 * interface of policy port i (0: not on this host); NULL resolves each
 * port by its name (if_nametoindex).  The steered groups' Maglev tables
 * are part of the set, so the switch covers them; a target's interface is
 * looked up when the policy is applied (an interface created later needs
 * a new apply).  Refuses what the backend cannot
 * enforce (sl_xdp_policy_supported) before touching any map.
 */
int sl_xdp_apply(struct sl_xdp *x, const struct sl_policy *p,
		 const uint32_t *ifindex_of, char *err, size_t err_size);

struct sl_xdp_rule_stats {
	char id[64];
	uint8_t action;		/* enum sl_action_type */
	uint64_t packets;
	uint64_t bytes;
};

struct sl_xdp_port_stats {
	uint32_t ifindex;
	uint64_t rx_packets, rx_bytes, passed, dropped, routed, steered;
};

struct sl_xdp_stats {
	bool has_policy;
	uint64_t generation;
	uint32_t n_rules;
	struct sl_xdp_rule_stats *rules;	/* n_rules + 1: last = default */
	struct sl_xdp_counter drops[SL_DROP_MAX];
	bool routing;				/* sl_xdp_routing() */
	struct sl_xdp_counter route[SL_XDP_RT_MAX]; /* by SL_XDP_RT_* */
	struct sl_xdp_counter steer[SL_XDP_ST_MAX]; /* by SL_XDP_ST_* */
	struct sl_xdp_counter rep[SL_XDP_REP_MAX]; /* by SL_XDP_REP_* */
	struct sl_xdp_port_stats *ports;
	size_t n_ports;
};

/* Every counter, summed over CPUs.  Free with sl_xdp_stats_free(). */
int sl_xdp_stats_read(struct sl_xdp *x, struct sl_xdp_stats **out);
void sl_xdp_stats_free(struct sl_xdp_stats *s);

/* One packet through BPF_PROG_TEST_RUN, for tests. */
struct sl_xdp_test_result {
	uint32_t xdp_action;	/* XDP_PASS, XDP_DROP, XDP_REDIRECT */
	struct sl_xdp_verdict v; /* valid with opts.last_verdict */
};

int sl_xdp_test_run(struct sl_xdp *x, const void *pkt, uint32_t len,
		    uint32_t ingress_ifindex, struct sl_xdp_test_result *res);

/* The same, and the frame as the program left it in out (out_size bytes
 * of room; *out_len: its length). */
int sl_xdp_test_run_frame(struct sl_xdp *x, const void *pkt, uint32_t len,
			  uint32_t ingress_ifindex, void *out,
			  uint32_t out_size, uint32_t *out_len,
			  struct sl_xdp_test_result *res);

/* The name of an SL_XDP_RT_* reason in stats ("routed", "no_neigh"). */
const char *sl_xdp_rt_reason_name(unsigned int reason);

/* The name of an SL_XDP_ST_* reason in stats ("steered", "no_egress"). */
const char *sl_xdp_st_reason_name(unsigned int reason);

/* The name of an SL_XDP_REP_* reason in stats ("copies", "short"). */
const char *sl_xdp_rep_reason_name(unsigned int reason);

/* The time (ns) a program opened with opts.test_clock sees. */
int sl_xdp_set_test_clock(struct sl_xdp *x, uint64_t ns);

/* Forget every tracked flow (tests; an operator's "conntrack flush"). */
int sl_xdp_ct_flush(struct sl_xdp *x);

/* Trace (xdp_trace.h): the descriptors of sl_trace and sl_tring, owned
 * by the handle. */
void sl_xdp_trace_fds(const struct sl_xdp *x, int *ctl_fd, int *ring_fd);

/*
 * The id of rule index `rule` of set `set`, while that set still holds
 * policy generation `generation`: 0 with id set, -ESTALE when the set has
 * moved on (its ids with it), or -errno.
 */
int sl_xdp_rule_id(struct sl_xdp *x, uint32_t set, uint64_t generation,
		   uint32_t rule, char id[64]);

/* The interface of target `target` of the group rule index `rule` of set
 * `set` steers to, on the same terms: 0 with *ifindex, -ESTALE, -errno. */
int sl_xdp_steer_ifindex(struct sl_xdp *x, uint32_t set, uint64_t generation,
			 uint32_t rule, uint32_t target, uint32_t *ifindex);

#endif /* SLUICE_BPF_XDP_LOADER_H */
