/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the XDP program (bpf/sluice_xdp.bpf.c) and its loader
 * (bpf/xdp_loader.c) share: map layouts, limits and value structs.  Plain
 * <linux/types.h> types so that both the BPF target and user space compile
 * it (STYLE.md rule 12).
 *
 * The firewall is the bpf-iptables scheme: for every match field a lookup
 * gives a bitmap of the rules that field allows (bit i = rule i), the
 * bitmaps are ANDed word by word and the lowest set bit is the first
 * matching rule.  No bit: the default action.  A policy lives in one of two
 * map sets; sl_ctl.active names the set packets use.  The loader writes the
 * inactive set whole and then flips active, so a packet sees one policy.
 *
 * Each per-set table is an ARRAY_OF_MAPS of two slots (set 0 and set 1)
 * whose inner maps the loader creates fresh for every policy:
 *
 *   sl_a4              array of u32, the IPv4 address tables below
 *   sl_abm             array of bitmaps, one per IPv4 prefix entry:
 *                      source entry k at k, destination entry k at
 *                      SL_XDP_ABM_DST + k
 *   sl_src6, sl_dst6   LPM trie, struct sl_xdp_lpm6_key -> bitmap
 *   sl_bm              array of bitmaps, SL_XDP_BM_* regions below
 *   sl_pidx            array, port -> index into sl_bm (sport: port,
 *                      dport: SL_XDP_PIDX_DPORT + port)
 *   sl_inport          hash, ifindex -> bitmap; key 0: any other ifindex
 *   sl_rules           array, rule index -> struct sl_xdp_rule; entry
 *                      n_rules is the default action
 *   sl_rcnt            per-CPU array, rule index -> struct sl_xdp_counter
 *   sl_grp             array, steer group index -> struct sl_xdp_group
 *                      (only the groups a steer action names, numbered
 *                      in the order of their first use: sl_xdp_rule.group)
 *   sl_mag             array of struct sl_xdp_mag_chunk: every steered
 *                      group's Maglev table, each from its own chunk on
 *                      (sl_xdp_group.chunk), sized per policy
 *                      (BPF_F_INNER_MAP)
 *   sl_tun             array of struct sl_xdp_tunnel: the tunnel targets
 *                      of the steered groups, numbered across groups
 *                      (sl_xdp_group.ifindex[i] = SL_XDP_TUN | k names
 *                      sl_tun[k]), sized per policy (BPF_F_INNER_MAP)
 *
 * A prefix table holds a /0 entry, so every address of the family finds
 * the rules whose prefix holds it: an entry for prefix P has the bits of
 * every rule whose prefix contains P and of every rule without that prefix
 * field.  A rule of the other family has its bit nowhere in this family's
 * tables.
 *
 * IPv4 prefixes live in a 16-8-8 table instead of an LPM trie (a trie walk
 * chases a pointer per bit of the prefix, a cache miss each once the
 * policy's prefixes outgrow the cache; this is at most three loads):
 * sl_a4[SL_XDP_A4_SRC + (addr >> 16)] (or _DST) is either the index of
 * the longest prefix entry that holds every address of that /16, or
 * SL_XDP_A4_PTR | c: then chunk c, at SL_XDP_A4_CHUNKS + 256 * c, is
 * indexed by the third byte, and may point once more to a chunk indexed by
 * the fourth.  The map is sized to the policy (BPF_F_INNER_MAP).
 *
 * Replicate (docs/xdp.md, "Replicate"), two more per-set tables:
 *
 *   sl_rgrp            array, replica table index -> struct
 *                      sl_xdp_rep_group (one per distinct (group, copies)
 *                      of the replicate actions, numbered in the order of
 *                      first use: sl_xdp_rule.group of a replicate rule)
 *   sl_rtab            array of struct sl_xdp_mag_chunk: every replica
 *                      table, each from its own chunk on, sized per policy
 *                      (BPF_F_INNER_MAP).  Replica table entry p is the
 *                      `want` target indices that sl_maglev_pick(table,
 *                      size, n_live, hash, copies) gives for every hash
 *                      with hash % size == p, in pick order, at flat
 *                      index p * want of the table
 *
 * Routing (not per set; docs/xdp.md, "Routing"): with SL_XDP_CTL_ROUTE in
 * sl_ctl.flags an accepted IP packet is looked up in the kernel FIB
 * (bpf_fib_lookup) and redirected through sl_tx, a DEVMAP_HASH keyed and
 * valued by ifindex that holds the interfaces the program is attached to;
 * sl_rt counts, per CPU, what routing did with each accepted packet
 * (SL_XDP_RT_*).  Without the flag accepted packets get XDP_PASS and the
 * kernel routes them.
 */
#ifndef SLUICE_XDP_MAPS_H
#define SLUICE_XDP_MAPS_H

#include <linux/types.h>

#define SL_XDP_RULES_MAX	4096
#define SL_XDP_WORDS		(SL_XDP_RULES_MAX / 64)
/* Distinct prefixes per trie: one per rule and the /0 entry. */
#define SL_XDP_PREFIXES_MAX	(SL_XDP_RULES_MAX + 1)
/* Elementary port intervals per field: 2 boundaries per rule, plus 0. */
#define SL_XDP_RANGES_MAX	(2 * SL_XDP_RULES_MAX + 1)
/* Interfaces a policy names in in_port, plus the key-0 entry. */
#define SL_XDP_INPORT_MAX	256

/* sl_a4 layout and entries */
#define SL_XDP_A4_SRC		0
#define SL_XDP_A4_DST		65536
#define SL_XDP_A4_CHUNKS	(2 * 65536)
#define SL_XDP_A4_PTR		0x80000000u
/* Chunks per field: a /17../24 prefix opens at most one, a /25../32 at
 * most two. */
#define SL_XDP_A4_MAX		(SL_XDP_A4_CHUNKS + 2 * 2 * 256 * SL_XDP_RULES_MAX)
#define SL_XDP_ABM_DST		SL_XDP_PREFIXES_MAX
#define SL_XDP_ABM_ENTRIES	(2 * SL_XDP_PREFIXES_MAX)

/* sl_bm regions. */
#define SL_XDP_BM_PROTO		0			/* + IP protocol */
#define SL_XDP_BM_FLAGS		256			/* + TCP flag byte */
#define SL_XDP_BM_CT		512			/* + ct bit index */
#define SL_XDP_BM_VLAN		516			/* + VID, or: */
#define SL_XDP_VLAN_NONE	4096			/* untagged */
#define SL_XDP_BM_PORTS		(SL_XDP_BM_VLAN + 4097)	/* port intervals */
#define SL_XDP_BM_ENTRIES	(SL_XDP_BM_PORTS + 2 * SL_XDP_RANGES_MAX)

#define SL_XDP_PIDX_DPORT	65536
#define SL_XDP_PIDX_ENTRIES	(2 * 65536)

/* Connection tracking (sl_ct, one LRU hash for both sets: flows outlive a
 * policy switch).  Protocol classes of the timeout table, as in
 * dataplane/conntrack.c. */
#define SL_XDP_CT_CLASSES	4	/* TCP, UDP, ICMP, other */
#define SL_XDP_CT_STATES	10	/* SL_CTS_MAX (sluice/conntrack.h) */
#define SL_XDP_CT_DEFAULT_SIZE	65536	/* flows, when the loader is not told */
#define SL_XDP_PIN_CT		"sl_ct"

/* sl_ctl.set[].state */
#define SL_XDP_SET_EMPTY	0	/* no policy: packets pass, uncounted */
#define SL_XDP_SET_READY	1

/* sl_last.rule when no rule judged the packet (dropped by the parser, or
 * not IP). */
#define SL_XDP_NO_RULE		0xffffffffu

/* sl_ctl.flags */
#define SL_XDP_CTL_ROUTE	0x1u	/* route accepted packets in XDP */

/* sl_last.route of a packet no rule accepted (dropped, not IP). */
#define SL_XDP_RT_NONE		0xffu

/* Interfaces sl_tx can hold: those the program is attached to. */
#define SL_XDP_TX_MAX		256

/* Steer: groups a policy may steer to, targets per group
 * (SL_POLICY_TARGETS_MAX), Maglev entries per sl_mag value, and the table
 * entries of all steered groups of one policy together (2 bytes each:
 * 64 MiB per set). */
#define SL_XDP_GROUPS_MAX	256
#define SL_XDP_TARGETS_MAX	256
#define SL_XDP_MAG_CHUNK	32
#define SL_XDP_MAG_ENTRIES_MAX	(1u << 25)
/* A table entry that names no target (SL_MAGLEV_NONE). */
#define SL_XDP_MAG_NONE		0xffffu
/* sl_last.target when no steer target was picked. */
#define SL_XDP_NO_TARGET	0xffffu
/* sl_xdp_group.ifindex[i] of a tunnel target: this bit | its index into
 * sl_tun (an ifindex is a positive int, so the bit is never one's). */
#define SL_XDP_TUN		0x80000000u
/* Tunnel targets of one policy: every steered group's targets. */
#define SL_XDP_TUNNELS_MAX	(SL_XDP_GROUPS_MAX * SL_XDP_TARGETS_MAX)
/* Outer header bytes of a tunnel, Ethernet included: ENCAP_HDR_MAX of
 * dataplane/encap.h (70: IPv6 + UDP + VXLAN/GENEVE), rounded up to 8. */
#define SL_XDP_TUN_HDR_MAX	72

/*
 * What steer did with a packet: index into sl_steer.  A packet with no live
 * target is dropped and counted under the drop reason no_target instead.
 * A packet for a tunnel target that cannot go (the reasons after
 * ENCAPSULATED) is dropped, counted here and under the drop reason
 * no_target, as the DPDK path drops it (dataplane/rep_stage.c, steer()):
 * the kernel cannot take it instead, since XDP_PASS would route the inner
 * frame to its own destination, not to the tunnel's remote.
 * _(enum suffix, name in stats)
 */
#define SL_XDP_ST_REASONS(_)                                                   \
	_(STEERED, "steered")		/* redirected to the target */         \
	_(NO_EGRESS, "no_egress")	/* target's interface not in sl_tx:    \
					   XDP_PASS, the kernel routes it */   \
	_(ENCAPSULATED, "encapsulated")	/* tunnel target: encapsulated and     \
					   redirected to the outer next hop */ \
	_(NO_ROUTE, "no_route")		/* tunnel: the FIB has no usable route \
					   to the remote (none, unreachable,   \
					   local, forwarding off on ingress) */\
	_(NO_NEIGH, "no_neigh")		/* tunnel: the outer next hop's MAC is \
					   not known yet */                    \
	_(TOO_BIG, "too_big")		/* tunnel: the outer packet is longer  \
					   than the egress MTU (DF is set) */  \
	_(OUTER_NO_EGRESS, "outer_no_egress") /* tunnel: the route to the      \
					   remote leaves by an interface not   \
					   in sl_tx */                         \
	_(ENCAP_FAILED, "encap_failed")	/* tunnel: no headroom for the outer   \
					   headers, or an outer datagram over  \
					   65,535 bytes */

enum sl_xdp_st_reason {
#define SL_XDP_ST_ENUM_(e, name) SL_XDP_ST_##e,
	SL_XDP_ST_REASONS(SL_XDP_ST_ENUM_)
#undef SL_XDP_ST_ENUM_
	SL_XDP_ST_MAX
};

/*
 * What routing did with an accepted IP packet: index into sl_rt.  Every
 * reason but ROUTED is XDP_PASS, so that the kernel routes the packet (and
 * sends the ICMP error, resolves the neighbour, fragments).
 * _(enum suffix, name in stats)
 */
#define SL_XDP_RT_REASONS(_)                                                   \
	_(ROUTED, "routed")		/* redirected to the FIB's egress */   \
	_(OFF, "off")			/* routing off (SL_XDP_CTL_ROUTE) */   \
	_(TTL, "ttl_expired")		/* TTL or hop limit <= 1 */            \
	_(NO_NEIGH, "no_neigh")		/* next hop's MAC not known yet */     \
	_(NOT_FWDED, "not_forwarded")	/* local, broadcast, no route */       \
	_(FRAG_NEEDED, "frag_needed")	/* longer than the egress MTU */       \
	_(UNREACHABLE, "unreachable")	/* blackhole/unreachable/prohibit */   \
	_(FWD_DISABLED, "fwd_disabled")	/* forwarding off on ingress */        \
	_(NO_EGRESS, "no_egress")	/* egress not in sl_tx (not attached) */ \
	_(SPECIAL, "special")		/* VLAN, IPv4 options or bad checksum, \
					   martian or link-local address, \
					   IPv6 hop-by-hop */                  \
	_(OTHER, "other")		/* any other FIB answer */             \
	_(REPLICATED, "replicated")	/* replicate: passed, so that the TC   \
					   program makes the copies; the kernel \
					   routes it */

enum sl_xdp_rt_reason {
#define SL_XDP_RT_ENUM_(e, name) SL_XDP_RT_##e,
	SL_XDP_RT_REASONS(SL_XDP_RT_ENUM_)
#undef SL_XDP_RT_ENUM_
	SL_XDP_RT_MAX
};

/*
 * Replicate: the XDP program cannot both pass a packet and send copies, so
 * it hands the decision to sluice_tc_rep, a TC ingress program of the same
 * object on the same interfaces, in the packet's XDP metadata
 * (bpf_xdp_adjust_meta; the kernel keeps it on the skb), and passes the
 * packet.  sluice_tc_rep clones the skb to each target (bpf_clone_redirect)
 * and lets the original go on.  The metadata, right before the frame:
 */
#define SL_XDP_REP_MAGIC	0x534c5250u	/* "SLRP" */
struct sl_xdp_rep_meta {
	__u32 magic;		/* SL_XDP_REP_MAGIC */
	__u32 gen;		/* low 32 bits of the set's generation */
	__u16 set;		/* the set that decided (sl_ctl.active) */
	__u16 rtab;		/* replica table: index into sl_rgrp */
	__u32 pos;		/* flow_hash % size: the replica table entry */
	/* the flow hash, for a tunnel copy's UDP source port and IPv6 flow
	 * label (encap_udp_sport, encap_flow_label); two words, so that no
	 * read of the metadata is an unaligned 8-byte one */
	__u32 hash_lo;
	__u32 hash_hi;
};

/* Replica tables of one policy together: 2 bytes an entry, size * want
 * entries each (64 MiB per set, as for sl_mag). */
#define SL_XDP_REP_ENTRIES_MAX	(1u << 25)
/* Distinct (group, copies) pairs a policy may replicate to. */
#define SL_XDP_RTABS_MAX	256
/* The TC filter: handle and priority of sluice's on clsact ingress. */
#define SL_XDP_TC_HANDLE	0x51ce
#define SL_XDP_TC_PRIO		0x51ce

/*
 * What replicate did: index into sl_rep (per CPU; packets and bytes).  As
 * in the DPDK path (rep_copies, rep_short, rep_failed), plus stale.
 * _(enum suffix, name in stats)
 */
#define SL_XDP_REP_REASONS(_)                                                  \
	_(COPIES, "copies")	/* copies sent (one count per copy) */        \
	_(SHORT, "short")	/* packets with fewer live targets than       \
				   copies (no live target included) */        \
	_(FAILED, "failed")	/* copies not sent, whatever the reason:      \
				   bpf_clone_redirect failed, no room for the \
				   metadata, or a tunnel copy that cannot go  \
				   (also counted under one of the four below) */ \
	_(STALE, "stale")	/* packets whose decision named a policy no   \
				   longer active: no copies */                \
	_(NO_ROUTE, "no_route")	/* tunnel copy: the FIB has no usable route   \
				   from the tunnel's source to the remote */  \
	_(NO_NEIGH, "no_neigh")	/* tunnel copy: the outer next hop's MAC is   \
				   not known yet */                           \
	_(TOO_BIG, "too_big")	/* tunnel copy: the outer packet is longer    \
				   than the egress MTU (DF is set) */         \
	_(ENCAP_FAILED, "encap_failed") /* tunnel copy: a GRO-merged packet or \
				   one with two VLAN tags, an outer datagram  \
				   over 65,535 bytes, or the kernel refused   \
				   to grow the skb */

enum sl_xdp_rep_reason {
#define SL_XDP_REP_ENUM_(e, name) SL_XDP_REP_##e,
	SL_XDP_REP_REASONS(SL_XDP_REP_ENUM_)
#undef SL_XDP_REP_ENUM_
	SL_XDP_REP_MAX
};

/* One replica table (sl_rgrp): a replicated group with a copy count. */
struct sl_xdp_rep_group {
	__u32 chunk;		/* its entries start at sl_rtab[chunk] */
	__u32 size;		/* the group's table_size */
	__u32 n_live;		/* live targets */
	__u16 copies;		/* the action's copies */
	__u16 want;		/* min(copies, n_live): targets per entry */
	/* interface of target i; 0 for a target out of the table */
	__u32 ifindex[SL_XDP_TARGETS_MAX];
};

/* Pin names under the pin root (/sys/fs/bpf/sluice by default). */
#define SL_XDP_PIN_ROOT_DEFAULT	"/sys/fs/bpf/sluice"
#define SL_XDP_PIN_PROG		"prog"
#define SL_XDP_PIN_LINK_PREFIX	"link_"	/* + interface name */
#define SL_XDP_PIN_TC_PROG	"prog_tc"	/* sluice_tc_rep */
/* Pinned (the TC program again) on an interface where sluice created the
 * clsact qdisc, so that whoever detaches last removes it. */
#define SL_XDP_PIN_TCQ_PREFIX	"tcq_"	/* + interface name */

struct sl_xdp_bitmap {
	__u64 w[SL_XDP_WORDS];
};

struct sl_xdp_lpm6_key {
	__u32 prefixlen;
	__u8 addr[16];
};

struct sl_xdp_rule {
	__u8 action;		/* enum sl_action_type */
	__u8 pad0;
	__u16 group;		/* steer: index into sl_grp; replicate:
				   into sl_rgrp */
	__u8 pad[4];
	/* What rules of the same id counted under earlier policies; user
	 * space writes it, the program never reads it. */
	__u64 carried_packets;
	__u64 carried_bytes;
	char id[64];		/* NUL-terminated, for stats after adoption */
};

struct sl_xdp_set_cfg {
	__u32 state;		/* SL_XDP_SET_* */
	__u32 n_rules;		/* entry n_rules of sl_rules: the default */
	__u32 n_words;		/* bitmap words in use: (n_rules + 63) / 64 */
	__u32 ct_enabled;	/* settings.conntrack.enabled */
	__u64 generation;	/* the policy's, carried for stats */
	/* seconds a flow of (class, state) lives after its last packet;
	 * 0: it is gone at once (states a class never takes) */
	__u32 ct_timeout[SL_XDP_CT_CLASSES][SL_XDP_CT_STATES];
	/* settings.flow_hash_seed: the seed of sl_xdp_flow_hash
	 * (sluice/xdp_flow_hash.h), the DPDK path's, for steer and
	 * replicate */
	__u64 flow_hash_seed;
};

/* The symmetric flow key: struct sl_flow_key (sluice/flow_key.h) byte for
 * byte, so that user space can look a flow up with sl_flow_key_make(). */
struct sl_xdp_ct_key {
	__u8 addr_lo[16];
	__u8 addr_hi[16];
	__u16 port_lo;		/* host order */
	__u16 port_hi;
	__u8 proto;
	__u8 family;		/* 4 or 6 */
	__u8 pad[2];
};

struct sl_xdp_ct_entry {
	__u64 expires;		/* ns (bpf_ktime_get_ns) at which it is gone */
	__u8 state;		/* enum sl_ct_state */
	__u8 fin;		/* SL_CTF_* */
	__u8 orig_swapped;	/* the key was swapped for the first packet */
	__u8 seen_reply;
	__u32 pad;
};

/* One steered group (sl_grp). */
struct sl_xdp_group {
	__u32 chunk;		/* its table starts at sl_mag[chunk] */
	__u32 size;		/* table_size, a prime */
	__u32 n_live;		/* live targets; 0: every entry is NONE */
	__u32 pad;
	/* interface of target i; 0 for a target out of the table;
	 * SL_XDP_TUN | k for a tunnel target: sl_tun[k] */
	__u32 ifindex[SL_XDP_TARGETS_MAX];
};

/*
 * One tunnel target (sl_tun): what dataplane/encap.c's struct
 * encap_tunnel holds, compiled the same way (xdp_compile.c), so that the
 * program writes the bytes encap_copy() writes.  tmpl is the outer
 * header with MACs, lengths, IPv4 ID and checksum, UDP source port,
 * length and checksum and IPv6 flow label zero; the program fills those
 * per packet.
 */
struct sl_xdp_tunnel {
	__u8 kind;		/* SL_TARGET_VXLAN, _GENEVE, _GRE (policy.h) */
	__u8 family;		/* outer: 4 or 6 */
	__u8 hdr_len;		/* outer header bytes, Ethernet included */
	__u8 pad;
	__u16 ip4_sum;		/* one's complement sum of tmpl's IPv4
				   header, memory byte order (rte_raw_cksum) */
	__u16 udp_dport;	/* host order; 0 for GRE */
	__u8 local[16];		/* outer source, network order (IPv4: 0..3) */
	__u8 remote[16];	/* outer destination */
	__u8 tmpl[SL_XDP_TUN_HDR_MAX];
};

/* SL_XDP_MAG_CHUNK consecutive entries of a Maglev table: the target index
 * (into the group's list) or SL_XDP_MAG_NONE.  Entry k of a group is
 * sl_mag[chunk + k / SL_XDP_MAG_CHUNK].e[k % SL_XDP_MAG_CHUNK]. */
struct sl_xdp_mag_chunk {
	__u16 e[SL_XDP_MAG_CHUNK];
};

struct sl_xdp_ctl {
	__u32 active;		/* 0 or 1: the set packets use */
	__u32 flags;		/* SL_XDP_CTL_*, for both sets */
	struct sl_xdp_set_cfg set[2];
};

struct sl_xdp_counter {
	__u64 packets;
	__u64 bytes;
};

struct sl_xdp_port_counter {
	__u64 rx_packets;
	__u64 rx_bytes;
	__u64 passed;		/* XDP_PASS */
	__u64 dropped;		/* XDP_DROP */
	__u64 routed;		/* XDP_REDIRECT (routed in XDP) */
	__u64 steered;		/* XDP_REDIRECT (steered to a target) */
};

/* The last verdict of each CPU, kept only when the program was loaded with
 * sl_cfg_last_verdict set (tests running BPF_PROG_TEST_RUN). */
struct sl_xdp_verdict {
	__u32 rule;		/* index; n_rules: default; SL_XDP_NO_RULE */
	__u8 reason;		/* enum sl_drop_reason */
	__u8 action;		/* enum sl_action_type of the rule, or 0 */
	__u8 route;		/* enum sl_xdp_rt_reason, or SL_XDP_RT_NONE */
	__u8 steer;		/* enum sl_xdp_st_reason, or SL_XDP_RT_NONE */
	__u16 target;		/* steer: the target index, or SL_XDP_NO_TARGET */
	__u16 pad;
};

/*
 * Trace (docs/xdp.md, "Trace"): opt-in records of packets through a ring
 * buffer.  sl_trace (one slot) holds the budget and the filter; while
 * budget <= 0 the program pays an inlined array lookup, one load and a
 * branch per packet and emits nothing.  User space writes the filter, then the budget (the filter is
 * whole before a packet can see a positive budget); each matching packet
 * takes one unit with an atomic fetch-and-add and only a packet that took
 * a positive one emits, so at most `budget` records are produced.
 * Disarming writes 0.  Records go to sl_tring (BPF_MAP_TYPE_RINGBUF); a
 * packet that finds the ring full is counted in sl_trace.lost and gives
 * its unit back (a later packet takes it).
 */
#define SL_XDP_PIN_TRACE	"sl_trace"
#define SL_XDP_PIN_TRING	"sl_tring"
#define SL_XDP_TRING_SIZE	(1u << 20)	/* bytes: ~3,400 records */
/* Bytes of the frame a record keeps (the snap length of an XDP capture). */
#define SL_XDP_TRACE_SNAP	256

/* sl_xdp_trace_filter.fields: the fields of dp_watch_filter
 * (dataplane/watch.h), with the same meaning. */
#define SL_XDP_TF_IN_PORT	0x001u
#define SL_XDP_TF_VLAN		0x002u
#define SL_XDP_TF_IP		0x004u	/* takes IP packets only */
#define SL_XDP_TF_SRC		0x008u
#define SL_XDP_TF_DST		0x010u
#define SL_XDP_TF_PROTO		0x020u
#define SL_XDP_TF_SPORT		0x040u
#define SL_XDP_TF_DPORT		0x080u
#define SL_XDP_TF_TCP_FLAGS	0x100u

struct sl_xdp_trace_filter {
	__u32 fields;		/* SL_XDP_TF_* */
	__u32 ifindex;		/* in_port */
	/* network order, pre-masked: (addr & mask) == want, word by word;
	 * an IPv4 address is in word 0 */
	__u32 src_want[4], src_mask[4];
	__u32 dst_want[4], dst_mask[4];
	__u16 sport_lo, sport_hi;
	__u16 dport_lo, dport_hi;
	__u16 vlan;
	__u8 family;		/* 4, 6; 0: any */
	__u8 proto;
	__u8 tcp_flags;
	__u8 tcp_flags_mask;
	__u8 pad[2];
};

struct sl_xdp_trace_ctl {
	__s64 budget;		/* records still to emit; <= 0: off */
	__u64 lost;		/* records the full ring refused */
	struct sl_xdp_trace_filter f;
};

/* One traced packet, after the program decided its fate. */
struct sl_xdp_trace_rec {
	__u64 ts_ns;		/* bpf_ktime_get_ns() */
	__u64 generation;	/* of the set in force when it was emitted */
	__u32 ifindex;		/* ingress */
	__u32 rule;		/* index; n_rules: default; SL_XDP_NO_RULE */
	__u32 len;		/* frame bytes */
	__u32 cpu;
	__u16 cap_len;		/* bytes of the frame in data (the first) */
	__u16 target;		/* steer target index, or SL_XDP_NO_TARGET */
	__u16 l3_off;		/* where the IP header starts in data */
	__u16 sport, dport;	/* as the firewall saw them */
	__u8 xdp_action;	/* XDP_DROP, XDP_PASS, XDP_REDIRECT */
	__u8 reason;		/* enum sl_drop_reason */
	__u8 action;		/* enum sl_action_type of the rule, or 0 */
	__u8 route;		/* enum sl_xdp_rt_reason, or SL_XDP_RT_NONE */
	__u8 steer;		/* enum sl_xdp_st_reason, or SL_XDP_RT_NONE */
	__u8 family;		/* 4, 6; 0: not judged as IP */
	__u8 proto;
	__u8 ct;		/* 0 new, 1 established, 3 invalid; 0xff: ct off */
	__u8 set;		/* the set whose rule index this is */
	__u8 pad[3];
	__u8 data[SL_XDP_TRACE_SNAP];
};

#endif /* SLUICE_XDP_MAPS_H */
