/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Sluice's XDP datapath: parse, firewall, count - per packet, in the
 * kernel, on NICs that the DPDK dataplane does not drive
 * (DESIGN.md, "The same policy in XDP"; docs/xdp.md).
 *
 * Parse: the same checks, in the same order, with the same drop reasons as
 * the DPDK scalar parser (dataplane/parse_scalar.c, whose header comment is
 * the specification); tests/unit/test_xdp.c runs the parser fixtures and
 * random packets through both.  XDP never sees a frame shorter than 14
 * bytes (nor a header split over buffers: this program does not declare
 * multi-buffer support), so eth_truncated and hdr_split do not occur here.
 *
 * Firewall: per-field rule bitmaps ANDed word by word, the lowest set bit
 * is the first matching rule (include/sluice/xdp_maps.h describes the
 * maps).  Packets that are not IP are not the IP firewall's: they pass,
 * as in the DPDK dataplane.
 *
 * Connection tracking (policies with settings.conntrack.enabled): an LRU
 * hash of symmetric flow keys with the states, transitions and timeouts of
 * dataplane/conntrack.c - the TCP step is the very function the DPDK path
 * calls (sl_ct_tcp_step, sluice/conntrack.h).  A packet moves its flow
 * before the firewall judges it; an accepted `new` packet with no flow
 * creates one; a dropped one leaves nothing behind.
 *
 * Verdicts: drop -> XDP_DROP.  accept -> XDP_PASS (the kernel routes the
 * packet), or, with routing on (SL_XDP_CTL_ROUTE in sl_ctl.flags, which
 * the loader sets), the program routes it itself: a lookup in the kernel
 * FIB (bpf_fib_lookup: routes from `ip route`, FRR or BIRD, neighbours
 * from the kernel's table), new MACs, TTL or hop limit down by one with an
 * incremental checksum update, and XDP_REDIRECT through sl_tx to the
 * egress interface.  Whatever the fast path does not handle exactly as the
 * kernel would (TTL expiry, unresolved neighbour, local destination,
 * fragmentation needed, IP options, ...) gets XDP_PASS, so that the
 * kernel routes it, answers with the ICMP error or resolves the
 * neighbour; sl_rt counts each reason.  steer {group} -> the packet, as it
 * came, to the one target of the group that sl_maglev_pick() gives the DPDK
 * path (the same flow hash over the same Maglev table, which the loader
 * builds with lib/maglev.c), XDP_REDIRECT through sl_tx; XDP_PASS when the
 * target's interface is not attached; XDP_DROP (no_target) with no live
 * target.  A tunnel target (vxlan, geneve, gre) gets the frame
 * encapsulated as dataplane/encap.c does and sent to the outer next hop
 * the FIB gives, or dropped (no_target, and the steer reason) when it
 * cannot go.  replicate {group, copies} -> XDP_PASS (the kernel routes the
 * original) with the copies' decision in the XDP metadata, which
 * sluice_tc_rep, the TC ingress program below, carries out
 * (bpf_clone_redirect of the frame as it came to each port target, and
 * to each tunnel target inside its outer headers, sl_rep_encap).  The
 * loader refuses what this program cannot do yet (cluster groups) and
 * what XDP cannot do at all (payload rules).
 *
 * Verifier notes are marked "verifier:" where the code is shaped for it.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "sluice/conntrack.h"
#include "sluice/drop_reason.h"
#include "sluice/xdp_flow_hash.h"
#include "sluice/xdp_maps.h"

/* enum sl_action_type, without sluice/policy.h (it pulls in libc). */
#define ACTION_ACCEPT 1
#define ACTION_DROP 2
#define ACTION_REPLICATE 3
#define ACTION_STEER 4
/* Index of each SL_CT_* bit in the ct region of sl_bm. */
#define CT_IDX_NEW 0
#define CT_IDX_ESTABLISHED 1
#define CT_IDX_INVALID 3
#define NSEC_PER_SEC 1000000000ull
/* <sys/socket.h> values, without libc. */
#define AF_INET 2
#define AF_INET6 10

#define ETH_HDR_LEN 14
#define VLAN_TAG_LEN 4
#define VLAN_MAX 2
#define ARP_LEN 28
#define IPV4_HDR_MIN 20
#define IPV6_HDR_LEN 40
#define IPV6_EXT_MIN 8
#define IPV6_FRAG_LEN 8
#define IPV6_EXT_MAX 8		/* SL_IPV6_EXT_MAX (sluice/pkt_meta.h) */
#define TCP_HDR_MIN 20
#define UDP_HDR_LEN 8
#define SCTP_HDR_LEN 12
#define ICMP_HDR_LEN 8
#define GRE_HDR_MIN 4

#define IPV4_MF 0x2000
#define IPV4_OFF_MASK 0x1fff
#define IPV6_FRAG_OFF_MASK 0xfff8

#define GRE_C 0x8000
#define GRE_K 0x2000
#define GRE_S 0x1000
#define GRE_A 0x0080

/*
 * Offsets are kept below this bound so that the verifier can track a
 * packet pointer plus an offset (it gives up above 64 KiB).  A linear XDP
 * frame is at most a page, so the bound never cuts a real packet.
 */
#define OFF_MAX 0x3fff

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by the loader between open and load (rule 12). */
const volatile __u8 sl_cfg_last_verdict = 0;
/* Tests: the clock is sl_clock[0] (ns), not bpf_ktime_get_ns(). */
const volatile __u8 sl_cfg_test_clock = 0;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sl_xdp_ctl);
} sl_ctl SEC(".maps");

/*
 * Inner maps give their key and value sizes, not BTF types: clang 14 emits
 * the types that only a map-in-map template reaches as forward
 * declarations, which libbpf cannot size.
 */
/* Sized per policy: the template's max_entries is only an upper bound. */
struct a4_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_INNER_MAP);
	__uint(max_entries, SL_XDP_A4_MAX);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
};

struct abm_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_XDP_ABM_ENTRIES);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct sl_xdp_bitmap));
};

struct lpm6_inner {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, SL_XDP_PREFIXES_MAX);
	__uint(key_size, sizeof(struct sl_xdp_lpm6_key));
	__uint(value_size, sizeof(struct sl_xdp_bitmap));
};

struct bm_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_XDP_BM_ENTRIES);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct sl_xdp_bitmap));
};

struct pidx_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_XDP_PIDX_ENTRIES);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
};

struct inport_inner {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_XDP_INPORT_MAX);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct sl_xdp_bitmap));
};

struct rules_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_XDP_RULES_MAX + 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct sl_xdp_rule));
};

struct rcnt_inner {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_XDP_RULES_MAX + 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct sl_xdp_counter));
};

struct grp_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_XDP_GROUPS_MAX);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct sl_xdp_group));
};

/* Sized per policy (BPF_F_INNER_MAP: the kernel does not compare
 * max_entries), so the template is one chunk rather than the largest
 * table: libbpf allocates the template while it loads. */
struct mag_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_INNER_MAP);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct sl_xdp_mag_chunk));
};

#define SET_MAP(name, inner)                                                   \
	struct {                                                               \
		__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);                      \
		__uint(max_entries, 2);                                        \
		__type(key, __u32);                                            \
		__array(values, struct inner);                                 \
	} name SEC(".maps")

SET_MAP(sl_a4, a4_inner);
SET_MAP(sl_abm, abm_inner);
SET_MAP(sl_src6, lpm6_inner);
SET_MAP(sl_dst6, lpm6_inner);
SET_MAP(sl_bm, bm_inner);
SET_MAP(sl_pidx, pidx_inner);
SET_MAP(sl_inport, inport_inner);
SET_MAP(sl_rules, rules_inner);
SET_MAP(sl_rcnt, rcnt_inner);
SET_MAP(sl_grp, grp_inner);
SET_MAP(sl_mag, mag_inner);
/* Replicate: replica tables (xdp_maps.h); sl_rtab entries are chunks of
 * 16-bit target indices, as sl_mag's, sized per policy. */
struct rgrp_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_XDP_RTABS_MAX);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct sl_xdp_rep_group));
};
SET_MAP(sl_rgrp, rgrp_inner);
SET_MAP(sl_rtab, mag_inner);

/* Tunnel targets, sized per policy like sl_mag. */
struct tun_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_INNER_MAP);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct sl_xdp_tunnel));
};

SET_MAP(sl_tun, tun_inner);

/* The outer IPv4 ID of encapsulated packets: a counter per CPU, as the
 * DPDK path keeps one per worker (encap_copy's *ip_id).  Not pinned: a
 * new program may start again from 0 (the outer header has DF set, so the
 * ID only needs to be unique among unfragmented packets, RFC 6864). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} sl_ipid SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_DROP_MAX);
	__type(key, __u32);
	__type(value, struct sl_xdp_counter);
} sl_drops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);	/* ingress ifindex */
	__type(value, struct sl_xdp_port_counter);
} sl_ports SEC(".maps");

/* Flows.  Not per set: a policy switch keeps them.  max_entries is set by
 * the loader (settings.conntrack.size); when full, the least recently
 * used flow goes (the DPDK table refuses the new one instead). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SL_XDP_CT_DEFAULT_SIZE);
	__type(key, struct sl_xdp_ct_key);
	__type(value, struct sl_xdp_ct_entry);
} sl_ct SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} sl_clock SEC(".maps");

/* Routing: the interfaces a routed packet may leave by (the loader keeps
 * here those the program is attached to; key and value: ifindex). */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, SL_XDP_TX_MAX);
	__type(key, __u32);
	__type(value, __u32);
} sl_tx SEC(".maps");

/* What routing did with accepted packets, per SL_XDP_RT_* reason. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_XDP_RT_MAX);
	__type(key, __u32);
	__type(value, struct sl_xdp_counter);
} sl_rt SEC(".maps");

/* What steer did with steered packets, per SL_XDP_ST_* reason. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_XDP_ST_MAX);
	__type(key, __u32);
	__type(value, struct sl_xdp_counter);
} sl_steer SEC(".maps");

/* What replicate did, per SL_XDP_REP_* reason. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_XDP_REP_MAX);
	__type(key, __u32);
	__type(value, struct sl_xdp_counter);
} sl_rep SEC(".maps");

/* One slot, not per CPU: only single-threaded tests turn it on. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sl_xdp_verdict);
} sl_last SEC(".maps");

/* Trace (xdp_maps.h, "Trace"): the budget and filter, and the ring the
 * records go to. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sl_xdp_trace_ctl);
} sl_trace SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, SL_XDP_TRING_SIZE);
} sl_tring SEC(".maps");

/* What the firewall needs of a parsed packet. */
struct pkt {
	__u32 len;		/* frame bytes */
	__u32 l3_off;
	__u32 l3_end;
	__u32 l4_off;
	__u16 sport;
	__u16 dport;
	__u16 vlan;		/* outer VID, or SL_XDP_VLAN_NONE */
	__u8 family;		/* 4, 6, or 0: not IP */
	__u8 proto;		/* l4_proto */
	__u8 tcp_flags;
	__u8 is_frag;
	__u8 icmp_type;		/* ICMP of the packet's family, else 0 */
	__u8 ct;		/* CT_IDX_* of the packet */
};

static __always_inline __u16
be16(const __u8 *p)
{
	return (__u16)(p[0] << 8 | p[1]);
}

static __always_inline __u32
be32(const __u8 *p)
{
	return (__u32)p[0] << 24 | (__u32)p[1] << 16 | (__u32)p[2] << 8 | p[3];
}

static __always_inline __u64
be64(const __u8 *p)
{
	return (__u64)be32(p) << 32 | be32(p + 4);
}

/*
 * Layer 4 at p->l4_off, bounded by p->l3_end (parse_l4 of the DPDK
 * parser).  Returns a drop reason or 0.
 *
 * verifier: a global function is verified once, on its own; inlined, its
 * body was verified again for every path the IPv6 extension walk can take
 * to it.
 *
 * verifier: every length check is first made on the datagram (l3_end), as
 * the DPDK parser does, which decides the drop reason; a second check of
 * the same bytes against data_end only gives the verifier its bound.
 * l3_end never exceeds the frame, so the second check never fires first.
 */
__noinline int
sl_parse_l4(struct xdp_md *ctx, struct pkt *p, int v6)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 off, avail;
	__u8 *h;

	if (p == NULL)
		return 0;
	off = p->l4_off & OFF_MAX;
	avail = p->l3_end - p->l4_off;
	h = data + off;

	switch (p->proto) {
	case 6: {
		__u32 hlen;

		if (avail < TCP_HDR_MIN || (void *)(h + TCP_HDR_MIN) > data_end)
			return SL_DROP_TCP_TRUNCATED;
		hlen = (h[12] >> 4) * 4u;
		if (hlen < TCP_HDR_MIN || hlen > avail)
			return SL_DROP_TCP_BAD_DATA_OFFSET;
		p->sport = be16(h);
		p->dport = be16(h + 2);
		p->tcp_flags = h[13];
		return 0;
	}
	case 17: {
		__u32 ulen;

		if (avail < UDP_HDR_LEN || (void *)(h + UDP_HDR_LEN) > data_end)
			return SL_DROP_UDP_TRUNCATED;
		ulen = be16(h + 4);
		/* a first fragment carries the whole datagram's UDP length */
		if (ulen < UDP_HDR_LEN || (ulen > avail && !p->is_frag))
			return SL_DROP_UDP_BAD_LEN;
		p->sport = be16(h);
		p->dport = be16(h + 2);
		return 0;
	}
	case 132:
		if (avail < SCTP_HDR_LEN || (void *)(h + SCTP_HDR_LEN) > data_end)
			return SL_DROP_SCTP_TRUNCATED;
		p->sport = be16(h);
		p->dport = be16(h + 2);
		return 0;
	case 1:
	case 58: {
		int echo;

		if ((p->proto == 58) != v6)
			return 0;	/* ICMP in IPv6 or ICMPv6 in IPv4: opaque */
		if (avail < ICMP_HDR_LEN || (void *)(h + ICMP_HDR_LEN) > data_end)
			return SL_DROP_ICMP_TRUNCATED;
		p->icmp_type = h[0];
		echo = v6 ? (h[0] == 128 || h[0] == 129)
			  : (h[0] == 8 || h[0] == 0);
		if (echo) {
			p->sport = be16(h + 4);
			p->dport = p->sport;
		}
		return 0;
	}
	case 47: {
		__u32 flags, version, hlen;

		if (avail < GRE_HDR_MIN || (void *)(h + GRE_HDR_MIN) > data_end)
			return SL_DROP_GRE_TRUNCATED;
		flags = be16(h);
		version = flags & 7;
		if (version > 1)
			return SL_DROP_GRE_BAD_VERSION;
		hlen = GRE_HDR_MIN + (flags & GRE_C ? 4 : 0) +
		       (flags & GRE_K ? 4 : 0) + (flags & GRE_S ? 4 : 0) +
		       (version == 1 && (flags & GRE_A) ? 4 : 0);
		if (hlen > avail)
			return SL_DROP_GRE_TRUNCATED;
		return 0;
	}
	default:
		return 0;
	}
}

static __always_inline int
parse_ipv4(struct xdp_md *ctx, void *data, void *data_end, struct pkt *p)
{
	__u32 off = p->l3_off;
	__u8 *h = data + off;
	__u32 ihl, total, frag_field;

	if ((void *)(h + IPV4_HDR_MIN) > data_end)
		return SL_DROP_IPV4_TRUNCATED;
	if (h[0] >> 4 != 4)
		return SL_DROP_IPV4_BAD_VERSION;
	ihl = (h[0] & 0x0f) * 4u;
	if (ihl < IPV4_HDR_MIN)
		return SL_DROP_IPV4_BAD_IHL;
	/* Options are not read: IHL skips them, as in the DPDK parser. */
	if (ihl > p->len - off)
		return SL_DROP_IPV4_OPTIONS_TRUNCATED;
	total = be16(h + 2);
	if (total < ihl || total > p->len - off)
		return SL_DROP_IPV4_BAD_TOTAL_LEN;

	frag_field = be16(h + 6);
	p->family = 4;
	p->l3_end = off + total;
	p->is_frag = (frag_field & (IPV4_MF | IPV4_OFF_MASK)) != 0;
	p->proto = h[9];
	p->l4_off = off + ihl;
	if (frag_field & IPV4_OFF_MASK)
		return 0;	/* non-first fragment: no L4 header here */
	return sl_parse_l4(ctx, p, 0);
}

static __always_inline int
is_ipv6_ext(__u8 nh)
{
	return nh == 0 || nh == 43 || nh == 60 || nh == 44 || nh == 51;
}

static __always_inline int
parse_ipv6(struct xdp_md *ctx, void *data, void *data_end, struct pkt *p)
{
	__u32 off = p->l3_off;
	__u8 *h = data + off;
	__u32 end, cur;
	__u8 nh;

	if ((void *)(h + IPV6_HDR_LEN) > data_end)
		return SL_DROP_IPV6_TRUNCATED;
	if (h[0] >> 4 != 6)
		return SL_DROP_IPV6_BAD_VERSION;
	end = off + IPV6_HDR_LEN + be16(h + 4);
	if (end > p->len)
		return SL_DROP_IPV6_BAD_PAYLOAD_LEN;
	p->family = 6;
	p->l3_end = end;

	nh = h[6];
	cur = off + IPV6_HDR_LEN;
	/*
	 * The extension-header walk: at most IPV6_EXT_MAX headers, one more
	 * is ipv6_ext_too_many.  verifier: the loop has a constant bound;
	 * cur is masked to OFF_MAX after each step (it is below the frame
	 * length there, so the mask changes nothing) so that the states of
	 * successive iterations compare equal and prune.
	 */
	for (int n = 0; n <= IPV6_EXT_MAX; n++) {
		__u8 *e;
		__u32 elen;
		int last = 0;

		if (!is_ipv6_ext(nh))
			break;
		if (n == IPV6_EXT_MAX)
			return SL_DROP_IPV6_EXT_TOO_MANY;
		cur &= OFF_MAX;
		e = data + cur;
		if (end - cur < IPV6_EXT_MIN || (void *)(e + IPV6_EXT_MIN) > data_end)
			return SL_DROP_IPV6_EXT_TRUNCATED;
		if (nh == 44) {
			__u32 fo = be16(e + 2);

			elen = IPV6_FRAG_LEN;
			p->is_frag |= (fo & (IPV6_FRAG_OFF_MASK | 1)) != 0;
			last = (fo & IPV6_FRAG_OFF_MASK) != 0;
		} else if (nh == 51) {
			elen = (e[1] + 2u) * 4;
		} else {
			elen = (e[1] + 1u) * 8;
		}
		if (elen > end - cur)
			return SL_DROP_IPV6_EXT_TRUNCATED;
		nh = e[0];
		cur += elen;
		if (last) {
			/* non-first fragment: the L4 header is elsewhere */
			p->proto = nh;
			p->l4_off = cur;
			return 0;
		}
	}
	p->proto = nh;
	p->l4_off = cur;
	return sl_parse_l4(ctx, p, 1);
}

static __always_inline int
is_vlan_tpid(__u16 type)
{
	return type == 0x8100 || type == 0x88a8 || type == 0x9100;
}

/* Layer 2, then dispatch on the ethertype (parse_frame of the DPDK
 * parser).  Returns a drop reason or 0; p->family stays 0 for frames that
 * are not IP. */
static __always_inline int
parse_frame(struct xdp_md *ctx, void *data, void *data_end, struct pkt *p)
{
	__u8 *d = data;
	__u32 off = 12;		/* the type field being looked at */
	__u16 type;
	int tags = 0;

	if ((void *)(d + ETH_HDR_LEN) > data_end)
		return SL_DROP_ETH_TRUNCATED;
	type = be16(d + 12);
	/* verifier: unrolled, two tags and a look at a third. */
#pragma unroll
	for (int i = 0; i <= VLAN_MAX; i++) {
		__u8 *t;

		if (!is_vlan_tpid(type))
			break;
		if (i == VLAN_MAX)
			return SL_DROP_VLAN_TOO_MANY;
		t = d + off;
		if ((void *)(t + VLAN_TAG_LEN + 2) > data_end)
			return SL_DROP_VLAN_TRUNCATED;
		if (i == 0)
			p->vlan = be16(t + 2) & 0x0fff;
		tags++;
		off += VLAN_TAG_LEN;
		type = be16(t + 4);
	}
	p->l3_off = off + 2;

	switch (type) {
	case 0x0800:
		return parse_ipv4(ctx, data, data_end, p);
	case 0x86dd:
		return parse_ipv6(ctx, data, data_end, p);
	case 0x0806:
		return p->len - p->l3_off < ARP_LEN ? SL_DROP_ARP_TRUNCATED : 0;
	default:
		return 0;
	}
}

/* Index of the lowest set bit of x (x != 0).  verifier/BPF ISA: no
 * count-trailing-zeros instruction, so a binary search. */
static __always_inline __u32
lowest_bit(__u64 x)
{
	__u32 n = 0;

	x &= -x;
	if (x & 0xffffffff00000000ull)
		n += 32;
	if (x & 0xffff0000ffff0000ull)
		n += 16;
	if (x & 0xff00ff00ff00ff00ull)
		n += 8;
	if (x & 0xf0f0f0f0f0f0f0f0ull)
		n += 4;
	if (x & 0xccccccccccccccccull)
		n += 2;
	if (x & 0xaaaaaaaaaaaaaaaaull)
		n += 1;
	return n;
}

static __always_inline struct sl_xdp_bitmap *
bm_at(void *bm, __u32 idx)
{
	return bpf_map_lookup_elem(bm, &idx);
}

/* The bitmap of the longest IPv4 prefix entry holding addr (host order)
 * in one field's 16-8-8 table (xdp_maps.h): at most three loads. */
static __always_inline struct sl_xdp_bitmap *
addr4_bitmap(void *a4, void *abm, __u32 addr, __u32 l1, __u32 abm_base)
{
	__u32 key = l1 + (addr >> 16), v;
	__u32 *e = bpf_map_lookup_elem(a4, &key);

	if (e == NULL)
		return NULL;
	v = *e;
	if (v & SL_XDP_A4_PTR) {
		key = SL_XDP_A4_CHUNKS + (v & ~SL_XDP_A4_PTR) * 256 +
		      ((addr >> 8) & 0xff);
		e = bpf_map_lookup_elem(a4, &key);
		if (e == NULL)
			return NULL;
		v = *e;
		if (v & SL_XDP_A4_PTR) {
			key = SL_XDP_A4_CHUNKS + (v & ~SL_XDP_A4_PTR) * 256 +
			      (addr & 0xff);
			e = bpf_map_lookup_elem(a4, &key);
			if (e == NULL)
				return NULL;
			v = *e;
		}
	}
	key = abm_base + v;
	return bpf_map_lookup_elem(abm, &key);
}

/*
 * The first rule of set `set` that the packet matches, or n_rules (the
 * default).  Any table missing (a set being built never is active, so
 * this is defensive) judges by the default.
 *
 * verifier: a global function, verified once with unknown arguments
 * instead of once per parser path that reaches it.
 */
__noinline __u32
sl_classify(struct xdp_md *ctx, const struct pkt *p, __u32 set,
	    __u32 n_rules, __u32 n_words)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 ifindex = ctx->ingress_ifindex;
	struct sl_xdp_bitmap *src, *dst, *proto, *flags, *ct, *vlan, *sp, *dp,
		*in;
	void *bm, *pidx, *inport, *tsrc, *tdst;
	__u32 *sidx, *didx, key;
	__u8 *ip;

	if (p == NULL)
		return n_rules;
	ip = data + (p->l3_off & OFF_MAX);

	/* verifier: the parser checked the address bytes, but through
	 * another pointer; the checks below cannot fail. */
	if (p->family == 4) {
		__u32 s4, d4;

		if ((void *)(ip + IPV4_HDR_MIN) > data_end)
			return n_rules;

		tsrc = bpf_map_lookup_elem(&sl_a4, &set);
		tdst = bpf_map_lookup_elem(&sl_abm, &set);
		if (tsrc == NULL || tdst == NULL)
			return n_rules;
		s4 = be32(ip + 12);
		d4 = be32(ip + 16);
		src = addr4_bitmap(tsrc, tdst, s4, SL_XDP_A4_SRC, 0);
		dst = addr4_bitmap(tsrc, tdst, d4, SL_XDP_A4_DST,
				   SL_XDP_ABM_DST);
	} else {
		struct sl_xdp_lpm6_key k = { .prefixlen = 128 };

		if ((void *)(ip + IPV6_HDR_LEN) > data_end)
			return n_rules;

		tsrc = bpf_map_lookup_elem(&sl_src6, &set);
		tdst = bpf_map_lookup_elem(&sl_dst6, &set);
		if (tsrc == NULL || tdst == NULL)
			return n_rules;
		__builtin_memcpy(k.addr, ip + 8, 16);
		src = bpf_map_lookup_elem(tsrc, &k);
		__builtin_memcpy(k.addr, ip + 24, 16);
		dst = bpf_map_lookup_elem(tdst, &k);
	}
	bm = bpf_map_lookup_elem(&sl_bm, &set);
	pidx = bpf_map_lookup_elem(&sl_pidx, &set);
	inport = bpf_map_lookup_elem(&sl_inport, &set);
	if (src == NULL || dst == NULL || bm == NULL || pidx == NULL ||
	    inport == NULL)
		return n_rules;

	key = p->sport;
	sidx = bpf_map_lookup_elem(pidx, &key);
	key = SL_XDP_PIDX_DPORT + p->dport;
	didx = bpf_map_lookup_elem(pidx, &key);
	if (sidx == NULL || didx == NULL)
		return n_rules;
	in = bpf_map_lookup_elem(inport, &ifindex);
	if (in == NULL) {
		key = 0;
		in = bpf_map_lookup_elem(inport, &key);
	}
	proto = bm_at(bm, SL_XDP_BM_PROTO + p->proto);
	flags = bm_at(bm, SL_XDP_BM_FLAGS + p->tcp_flags);
	/* p->ct: CT_IDX_NEW for every packet without connection tracking,
	 * as in the DPDK dataplane with conntrack off. */
	ct = bm_at(bm, SL_XDP_BM_CT + (p->ct & 3));
	vlan = bm_at(bm, SL_XDP_BM_VLAN + p->vlan);
	sp = bm_at(bm, *sidx);
	dp = bm_at(bm, *didx);
	if (in == NULL || proto == NULL || flags == NULL || ct == NULL ||
	    vlan == NULL || sp == NULL || dp == NULL)
		return n_rules;

	/*
	 * verifier: constant bound; n_words (<= SL_XDP_WORDS) ends it early.
	 * The address and port bitmaps are the sparse ones: a word where
	 * they have no common bit is passed after four loads, not nine.
	 */
	for (__u32 w = 0; w < SL_XDP_WORDS; w++) {
		__u64 x;

		if (w >= n_words)
			break;
		x = src->w[w] & dst->w[w] & dp->w[w] & sp->w[w];
		if (x == 0)
			continue;
		x &= proto->w[w] & in->w[w] & vlan->w[w] & flags->w[w] &
		     ct->w[w];
		if (x != 0) {
			__u32 r = w * 64 + lowest_bit(x);

			return r < n_rules ? r : n_rules;
		}
	}
	return n_rules;
}

/* ---- connection tracking (dataplane/conntrack.c, per packet) ---- */

/* What sl_ct_track leaves for after the verdict: the flow an accepted
 * packet creates. */
struct ct_work {
	struct sl_xdp_ct_key key;
	struct sl_xdp_ct_entry flow;
	__u32 create;
};

static __always_inline __u32
ct_class(__u8 proto)
{
	switch (proto) {
	case 6:
		return 0;
	case 17:
		return 1;
	case 1:
	case 58:
		return 2;
	default:
		return 3;
	}
}

static __always_inline int
is_icmp_query(const struct pkt *p)
{
	if (p->proto == 1)	/* echo, timestamp, info, address mask */
		return p->icmp_type == 8 || p->icmp_type == 13 ||
		       p->icmp_type == 15 || p->icmp_type == 17;
	return p->icmp_type == 128 || p->icmp_type == 139;
}

static __always_inline __u64
ct_now(void)
{
	__u32 zero = 0;
	__u64 *t;

	if (!sl_cfg_test_clock)
		return bpf_ktime_get_ns();
	t = bpf_map_lookup_elem(&sl_clock, &zero);
	return t != NULL ? *t : 0;
}

/* verifier: the timeout table is indexed by values the verifier cannot
 * bound through sl_ct_tcp_step; the masks and the check keep them inside
 * (they never change a real class or state). */
static __always_inline __u64
ct_timeout_ns(const struct sl_xdp_set_cfg *cfg, __u32 cls, __u32 state)
{
	if (state >= SL_XDP_CT_STATES)
		return 0;
	return (__u64)cfg->ct_timeout[cls & 3][state] * NSEC_PER_SEC;
}

/*
 * The symmetric flow key of the packet (sl_flow_key_make, sluice/flow_key.h,
 * as the DPDK parser makes it: the ports the parser stored, 0 where the
 * packet has none).  Returns whether the ends were swapped, or -1 when the
 * header is out of bounds (verifier: it cannot be; the parser checked these
 * bytes through another pointer).
 */
static __always_inline int
flow_key(void *data, void *data_end, const struct pkt *p,
	 struct sl_xdp_ct_key *key)
{
	__u8 *ip = data + (p->l3_off & OFF_MAX);
	int swap;

	__builtin_memset(key, 0, sizeof(*key));
	if (p->family == 4) {
		__u32 a, b;

		if ((void *)(ip + IPV4_HDR_MIN) > data_end)
			return -1;
		a = be32(ip + 12);
		b = be32(ip + 16);
		swap = a > b || (a == b && p->sport > p->dport);
		__builtin_memcpy(key->addr_lo, swap ? ip + 16 : ip + 12, 4);
		__builtin_memcpy(key->addr_hi, swap ? ip + 12 : ip + 16, 4);
	} else {
		__u64 a0, a1, b0, b1;

		if ((void *)(ip + IPV6_HDR_LEN) > data_end)
			return -1;
		/* memcmp order: the addresses as two big-endian halves */
		a0 = be64(ip + 8);
		a1 = be64(ip + 16);
		b0 = be64(ip + 24);
		b1 = be64(ip + 32);
		swap = a0 > b0 || (a0 == b0 && (a1 > b1 ||
				  (a1 == b1 && p->sport > p->dport)));
		__builtin_memcpy(key->addr_lo, swap ? ip + 24 : ip + 8, 16);
		__builtin_memcpy(key->addr_hi, swap ? ip + 8 : ip + 24, 16);
	}
	key->port_lo = swap ? p->dport : p->sport;
	key->port_hi = swap ? p->sport : p->dport;
	key->proto = p->proto;
	key->family = p->family;
	return swap;
}

/*
 * Look the packet's flow up and move it (ct_lookup_burst and step_flow of
 * dataplane/conntrack.c for one packet).  Returns the packet's CT_IDX_*;
 * w->create says that an accepted packet creates w->flow under w->key.
 * Fragments are untracked: invalid.
 *
 * verifier: a global function, verified once.
 */
__noinline int
sl_ct_track(struct xdp_md *ctx, const struct pkt *p, struct ct_work *w,
	    __u32 set)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct sl_xdp_set_cfg *cfg;
	struct sl_xdp_ct_entry *e;
	struct sl_xdp_ctl *ctl;
	__u32 zero = 0, cls;
	__u64 now, timeout, expires;
	__u8 next, dir;
	int swap;

	if (p == NULL || w == NULL || p->is_frag)
		return CT_IDX_INVALID;
	ctl = bpf_map_lookup_elem(&sl_ctl, &zero);
	if (ctl == NULL)
		return CT_IDX_INVALID;
	cfg = &ctl->set[set & 1];

	swap = flow_key(data, data_end, p, &w->key);
	if (swap < 0)
		return CT_IDX_INVALID;

	now = ct_now();
	cls = ct_class(p->proto);
	e = bpf_map_lookup_elem(&sl_ct, &w->key);
	if (e == NULL || e->expires <= now) {
		/* No flow, or one expired and not yet evicted: first_state */
		__u8 fin = 0;

		if (p->proto == 6)
			next = sl_ct_tcp_step(SL_CTS_NONE, &fin, SL_CT_DIR_ORIG,
					      p->tcp_flags);
		else if (p->proto == 1 || p->proto == 58)
			next = is_icmp_query(p) ? SL_CTS_OPEN
						: SL_CT_STEP_INVALID;
		else
			next = SL_CTS_OPEN;
		if (next == SL_CT_STEP_INVALID)
			return CT_IDX_INVALID;
		w->flow = (struct sl_xdp_ct_entry){
			.expires = now + ct_timeout_ns(cfg, cls, next),
			.state = next,
			.orig_swapped = swap,
		};
		w->create = 1;
		return CT_IDX_NEW;
	}

	/* A known flow: step_flow.  Flows are shared by every CPU and
	 * written without a lock: two packets of one flow on two CPUs at
	 * the same instant may lose one of their updates (the DPDK path
	 * keeps a flow on one worker through symmetric RSS). */
	dir = swap == e->orig_swapped ? SL_CT_DIR_ORIG : SL_CT_DIR_REPLY;
	if (p->proto == 6) {
		next = sl_ct_tcp_step(e->state, &e->fin, dir, p->tcp_flags);
		if (next == SL_CT_STEP_INVALID)
			return CT_IDX_INVALID;
	} else if ((p->proto == 1 || p->proto == 58) &&
		   dir == SL_CT_DIR_ORIG && !is_icmp_query(p)) {
		return CT_IDX_INVALID;	/* only queries go out */
	} else {
		next = dir == SL_CT_DIR_REPLY ? SL_CTS_REPLIED : e->state;
	}
	/* Write only what moved; push the expiry out once it is more than
	 * 1/16 of the timeout behind (as the DPDK path does). */
	timeout = ct_timeout_ns(cfg, cls, next);
	expires = now + timeout;
	if (dir == SL_CT_DIR_REPLY && !e->seen_reply)
		e->seen_reply = 1;
	if (next != e->state) {
		e->state = next;
		e->expires = expires;
	} else if (expires - e->expires > timeout / 16) {
		e->expires = expires;
	}
	return e->seen_reply ? CT_IDX_ESTABLISHED : CT_IDX_NEW;
}

/* ---- routing (bpf_fib_lookup, redirect through sl_tx) ---- */

/*
 * RFC 1624, eqn. 3, for a TTL one lower: rt_cksum_ttl_dec of
 * dataplane/rewrite.h, whose comment shows that it equals a full
 * recompute in every case, 0x0000 and 0xffff included
 * (tests/unit/test_xdp_route.c checks every checksum value against it).
 * Host order.
 */
static __always_inline __u16
cksum_ttl_dec(__u16 hc)
{
	__u32 sum = (__u32)(__u16)~hc + 0xfeffu;

	sum = (sum & 0xffff) + (sum >> 16);	/* below 0x1ff00: one fold */
	return (__u16)~sum;
}

/* Whether a 20-byte IPv4 header sums to 0xffff (RFC 1071): the kernel
 * drops one that does not (InHdrErrors), so XDP must not forward it. */
static __always_inline int
ipv4_csum_ok(const __u8 *h)
{
	__u32 sum = 0;

#pragma unroll
	for (int i = 0; i < IPV4_HDR_MIN; i += 2)
		sum += be16(h + i);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff;
}

/* Addresses the kernel never forwards from or to, or only after checks
 * the FIB lookup does not make (ip_route_input_slow): 0/8, 127/8,
 * multicast, class E and broadcast. */
static __always_inline int
ipv4_martian(const __u8 *a)
{
	return a[0] == 0 || a[0] == 127 || a[0] >= 224;
}

/* Multicast, link-local (the kernel answers "beyond scope"), unspecified
 * and loopback (ip6_forward). */
static __always_inline int
ipv6_special(const __u8 *a)
{
	if (a[0] == 0xff || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80))
		return 1;
	return be64(a) == 0 && be64(a + 8) <= 1;
}

/*
 * Route an accepted IP packet: returns SL_XDP_RT_ROUTED when the packet is
 * rewritten and bpf_redirect_map has set its egress (the caller returns
 * XDP_REDIRECT), else the reason it goes to the kernel untouched
 * (XDP_PASS).  The FIB lookup is the kernel's input lookup (flags 0: FIB
 * rules apply, with the ingress interface, TOS and L4 ports), so
 * `ip route`, `ip rule`, FRR or BIRD decide; it also checks forwarding on
 * the ingress interface, the egress MTU against the IP length, and the
 * neighbour.
 *
 * verifier: a global function, verified once.  The packet pointers stay
 * valid across bpf_fib_lookup and bpf_redirect_map (neither changes packet
 * data), so the bound checked at the top covers the rewrite at the end.
 */
__noinline int
sl_route(struct xdp_md *ctx, const struct pkt *p)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct bpf_fib_lookup fib;
	__u8 *eth = data, *ip = eth + ETH_HDR_LEN;
	__u16 hc;
	long rc;

	if (p == NULL)
		return SL_XDP_RT_OTHER;
	/* A tagged packet is for the VLAN's own interface, whose FIB view
	 * (and egress tag) the lookup on the parent does not give. */
	if (p->vlan != SL_XDP_VLAN_NONE || p->l3_off != ETH_HDR_LEN)
		return SL_XDP_RT_SPECIAL;
	__builtin_memset(&fib, 0, sizeof(fib));
	fib.ifindex = ctx->ingress_ifindex;
	fib.l4_protocol = p->proto;
	fib.sport = bpf_htons(p->sport);
	fib.dport = bpf_htons(p->dport);
	if (p->family == 4) {
		/* verifier: the parser checked these bytes through another
		 * pointer; this cannot fail */
		if ((void *)(ip + IPV4_HDR_MIN) > data_end)
			return SL_XDP_RT_SPECIAL;
		/* Options (router alert, source route) are the kernel's. */
		if (ip[0] != 0x45 || !ipv4_csum_ok(ip) ||
		    ipv4_martian(ip + 12) || ipv4_martian(ip + 16))
			return SL_XDP_RT_SPECIAL;
		if (ip[8] <= 1)
			return SL_XDP_RT_TTL;
		fib.family = AF_INET;
		fib.tos = ip[1];
		fib.tot_len = be16(ip + 2);	/* host order, for the MTU */
		__builtin_memcpy(&fib.ipv4_src, ip + 12, 4);
		__builtin_memcpy(&fib.ipv4_dst, ip + 16, 4);
	} else {
		__be32 flow;

		if ((void *)(ip + IPV6_HDR_LEN) > data_end)
			return SL_XDP_RT_SPECIAL;
		/* Hop-by-hop options are for every router on the path. */
		if (ip[6] == 0 || ipv6_special(ip + 8) || ipv6_special(ip + 24))
			return SL_XDP_RT_SPECIAL;
		if (ip[7] <= 1)
			return SL_XDP_RT_TTL;
		fib.family = AF_INET6;
		__builtin_memcpy(&flow, ip, 4);
		fib.flowinfo = flow & bpf_htonl(0x0fffffff);
		fib.tot_len = IPV6_HDR_LEN + be16(ip + 4);
		__builtin_memcpy(fib.ipv6_src, ip + 8, 16);
		__builtin_memcpy(fib.ipv6_dst, ip + 24, 16);
	}

	rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), 0);
	switch (rc) {
	case BPF_FIB_LKUP_RET_SUCCESS:
		break;
	case BPF_FIB_LKUP_RET_NO_NEIGH:
		return SL_XDP_RT_NO_NEIGH;
	case BPF_FIB_LKUP_RET_NOT_FWDED:
		return SL_XDP_RT_NOT_FWDED;
	case BPF_FIB_LKUP_RET_FRAG_NEEDED:
		return SL_XDP_RT_FRAG_NEEDED;
	case BPF_FIB_LKUP_RET_BLACKHOLE:
	case BPF_FIB_LKUP_RET_UNREACHABLE:
	case BPF_FIB_LKUP_RET_PROHIBIT:
		return SL_XDP_RT_UNREACHABLE;
	case BPF_FIB_LKUP_RET_FWD_DISABLED:
		return SL_XDP_RT_FWD_DISABLED;
	default:
		return SL_XDP_RT_OTHER;
	}
	/* An egress the program is not attached to is not in sl_tx: the low
	 * bits of the flags are the action on a miss.  Nothing is written
	 * before this, so a missed packet goes to the kernel as it came. */
	if (bpf_redirect_map(&sl_tx, fib.ifindex, XDP_PASS) != XDP_REDIRECT)
		return SL_XDP_RT_NO_EGRESS;
	__builtin_memcpy(eth, fib.dmac, 6);
	__builtin_memcpy(eth + 6, fib.smac, 6);
	if (p->family == 4) {
		ip[8]--;
		hc = cksum_ttl_dec(be16(ip + 10));
		ip[10] = (__u8)(hc >> 8);
		ip[11] = (__u8)hc;
	} else {
		ip[7]--;
	}
	return SL_XDP_RT_ROUTED;
}

/* ---- steer (Maglev table, redirect through sl_tx) ---- */

/* In and out of sl_steer_pick (a global function takes at most five
 * arguments). */
struct steer_io {
	__u64 seed;		/* in: the set's flow_hash_seed */
	__u32 group;		/* in: steered group, index into sl_grp */
	__u32 target;		/* out: the target index, or SL_XDP_NO_TARGET */
	__u64 hash;		/* out: the flow hash (for STEER_TUNNEL) */
	__u32 tunnel;		/* out: STEER_TUNNEL: index into sl_tun */
	__u32 pad;
};

/* sl_steer_pick's answer for a tunnel target: not a reason; the caller
 * encapsulates with sl_steer_encap, which gives the reason. */
#define STEER_TUNNEL SL_XDP_ST_MAX

/*
 * Steer the packet to one target of steered group o->group of set `set`:
 * sl_maglev_pick(table, size, n_live, sl_flow_hash(key, seed), 1, out) of
 * include/sluice/maglev.h, over the table the loader wrote.  Returns
 * SL_XDP_ST_STEERED when bpf_redirect_map has set the egress (the caller
 * returns XDP_REDIRECT), SL_XDP_ST_NO_EGRESS when the target's interface
 * is not in sl_tx (XDP_PASS), STEER_TUNNEL when the target is a tunnel
 * (o->tunnel and o->hash set; nothing redirected yet), or -1: no live
 * target (XDP_DROP, no_target).  o->target is the pick in the first three
 * cases.  The frame is not changed: steer sends it as it came, as the
 * DPDK path does.
 *
 * verifier: a global function, verified once.
 */
__noinline int
sl_steer_pick(struct xdp_md *ctx, const struct pkt *p, __u32 set,
	      struct steer_io *o)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct sl_xdp_ct_key key;
	struct sl_xdp_mag_chunk *c;
	struct sl_xdp_group *g;
	void *grp, *mag;
	__u32 pos, k, t, group, ifx;
	__u64 hash;

	if (p == NULL || o == NULL)
		return -1;
	o->target = SL_XDP_NO_TARGET;
	group = o->group;
	grp = bpf_map_lookup_elem(&sl_grp, &set);
	mag = bpf_map_lookup_elem(&sl_mag, &set);
	if (grp == NULL || mag == NULL)
		return -1;
	g = bpf_map_lookup_elem(grp, &group);
	if (g == NULL || g->size == 0 || g->n_live == 0)
		return -1;
	if (flow_key(data, data_end, p, &key) < 0)
		return -1;
	/* table[flow_hash % size]: a 64-bit modulo, as in sl_maglev_pick */
	hash = sl_xdp_flow_hash(&key, o->seed);
	o->hash = hash;
	pos = (__u32)(hash % g->size);
	k = g->chunk + pos / SL_XDP_MAG_CHUNK;
	c = bpf_map_lookup_elem(mag, &k);
	if (c == NULL)
		return -1;
	t = c->e[pos % SL_XDP_MAG_CHUNK];
	if (t >= SL_XDP_TARGETS_MAX)	/* SL_XDP_MAG_NONE */
		return -1;
	o->target = t;
	ifx = g->ifindex[t];
	if (ifx & SL_XDP_TUN) {
		o->tunnel = ifx & ~SL_XDP_TUN;
		return STEER_TUNNEL;
	}
	if (bpf_redirect_map(&sl_tx, g->ifindex[t], XDP_PASS) != XDP_REDIRECT)
		return SL_XDP_ST_NO_EGRESS;
	return SL_XDP_ST_STEERED;
}

/* ---- steer to a tunnel target (dataplane/encap.c's encap_copy) ---- */

#define TARGET_GRE 4		/* SL_TARGET_GRE (enum sl_target_kind) */
#define PROTO_UDP 17
#define PROTO_GRE 47
#define TUN_L4_UDP 16		/* UDP + VXLAN or GENEVE header */
#define ENCAP_HASH_MIX 0x9e3779b97f4a7c15ull	/* dataplane/encap.h */
/* The IPv6 UDP checksum sums the datagram in chunks of this many bytes
 * (bpf_csum_diff takes at most 512 at once on older kernels), at most
 * CSUM_CHUNKS of them and the rest: 16 KiB, past any MTU but the
 * loopback's. */
#define CSUM_CHUNK 512
#define CSUM_CHUNKS 32

/* encap_udp_sport() and encap_flow_label() of dataplane/encap.h. */
static __always_inline __u16
encap_udp_sport(__u64 flow_hash)
{
	return (__u16)(0xc000u | ((flow_hash * ENCAP_HASH_MIX) >> 50));
}

static __always_inline __u32
encap_flow_label(__u64 flow_hash)
{
	__u32 fl = (__u32)((flow_hash * ENCAP_HASH_MIX) >> 30) & 0xfffff;

	return fl != 0 ? fl : 1;
}

/* Fold a one's complement sum to 16 bits. */
static __always_inline __u16
csum_fold16(__u64 sum)
{
	sum = (sum & 0xffffffffull) + (sum >> 32);
	sum = (sum & 0xffffffffull) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

/* A buffer per CPU for the last bytes of a datagram whose checksum is
 * summed (udp6_cksum), with room for the zero padding to 4 bytes. */
struct csum_tail {
	__u8 b[CSUM_CHUNK + 4];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct csum_tail);
} sl_csum_tail SEC(".maps");

/*
 * The UDP checksum of an encapsulated IPv6 packet, as udp6_cksum() of
 * dataplane/encap.c computes it: the pseudo-header (RFC 8200 8.1, its
 * addresses from the IPv6 header at ip, which may be a copy), then every
 * byte from the UDP header (at l4_off, its checksum field 0) to the
 * frame's end, in memory byte order; a computed 0 is sent as 0xffff.
 * data and data_end are the context's, the frame linear from l4_off on;
 * is_skb (a constant) says whether ctx is an skb (sluice_tc_rep) or an
 * xdp_md (sl_steer_encap).  Returns it in memory order, or -1.
 *
 * Whole chunks of CSUM_CHUNK bytes are summed in the packet.  The rest
 * (0 to 511 bytes) is copied to sl_csum_tail and padded with zeros to a
 * multiple of 4 (bpf_csum_diff's unit), which adds nothing to the sum,
 * and pads an odd last byte as RFC 1071 does.
 *
 * verifier: summing the rest in the packet in steps of 256, 128 ... 1
 * bytes verified every combination of steps after every exit of the
 * chunk loop (350k instructions); the copy takes any length at once.
 */
static __always_inline int
udp6_cksum(void *ctx, void *data, void *data_end, const __u8 *ip,
	   __u32 l4_off, __u32 udp_len, const int is_skb)
{
	__u32 ph[10], zero = 0;
	struct csum_tail *tail;
	/* verifier: 64-bit, so that no copy is a 32-bit one that clang
	 * zero-extends from a spill, where the verifier loses its bounds */
	__u64 off = 0, left = udp_len;
	__u8 *q;
	__u16 ck;
	long s;

	__builtin_memcpy(ph, ip + 8, 32);	/* source, destination */
	ph[8] = bpf_htonl(udp_len);
	ph[9] = bpf_htonl(PROTO_UDP);
	s = bpf_csum_diff(NULL, 0, (__be32 *)ph, sizeof(ph), 0);
	for (int i = 0; i < CSUM_CHUNKS && s >= 0; i++) {
		if (left < CSUM_CHUNK)
			break;
		q = (__u8 *)data + ((l4_off + off) & OFF_MAX);
		if ((void *)(q + CSUM_CHUNK) > data_end)
			return -1;
		s = bpf_csum_diff(NULL, 0, (__be32 *)q, CSUM_CHUNK, (__u32)s);
		off += CSUM_CHUNK;
		left -= CSUM_CHUNK;
	}
	if (s < 0 || left >= CSUM_CHUNK)
		return -1;
	if (left >= 1) {
		long rc;

		tail = bpf_map_lookup_elem(&sl_csum_tail, &zero);
		if (tail == NULL)
			return -1;
		if (is_skb)
			rc = bpf_skb_load_bytes(ctx, l4_off + off, tail->b,
						left);
		else
			rc = bpf_xdp_load_bytes(ctx, l4_off + off, tail->b,
						left);
		if (rc != 0)
			return -1;
		tail->b[left] = 0;
		tail->b[left + 1] = 0;
		tail->b[left + 2] = 0;
		s = bpf_csum_diff(NULL, 0, (__be32 *)tail->b, (left + 3) & ~3u,
				  (__u32)s);
		if (s < 0)
			return -1;
	}
	ck = (__u16)~csum_fold16((__u32)s);
	return ck != 0 ? ck : 0xffff;
}

/*
 * The outer next hop of tunnel t for an outer IP packet of ip_total
 * bytes with flow hash `hash`, into *fib: the kernel FIB's route to the
 * remote for a packet from the tunnel's local address
 * (tunnel_next_hop() of dataplane/rep_stage.c), with the kernel's input
 * lookup from interface `ingress` (flags 0; an output lookup would bind
 * the egress to fib->ifindex, which is not known yet), so forwarding
 * must be on for that interface.  The lookup also checks ip_total
 * against the egress MTU and finds the neighbour.  Shared by steer (ctx
 * an xdp_md) and replicate (an skb).  Returns SL_XDP_ST_ENCAPSULATED
 * when fib has the egress and both MACs, or SL_XDP_ST_NO_ROUTE,
 * _NO_NEIGH, _TOO_BIG.
 */
static __always_inline int
encap_route(void *ctx, struct bpf_fib_lookup *fib,
	    const struct sl_xdp_tunnel *t, __u32 ingress, __u32 ip_total,
	    __u64 hash)
{
	int udp = t->kind != TARGET_GRE;
	long rc;

	__builtin_memset(fib, 0, sizeof(*fib));
	fib->ifindex = ingress;
	fib->l4_protocol = udp ? PROTO_UDP : PROTO_GRE;
	fib->tot_len = (__u16)ip_total;
	if (udp) {
		fib->sport = bpf_htons(encap_udp_sport(hash));
		fib->dport = bpf_htons(t->udp_dport);
	}
	if (t->family == 4) {
		fib->family = AF_INET;
		__builtin_memcpy(&fib->ipv4_src, t->local, 4);
		__builtin_memcpy(&fib->ipv4_dst, t->remote, 4);
	} else {
		fib->family = AF_INET6;
		fib->flowinfo = bpf_htonl(encap_flow_label(hash));
		__builtin_memcpy(fib->ipv6_src, t->local, 16);
		__builtin_memcpy(fib->ipv6_dst, t->remote, 16);
	}
	rc = bpf_fib_lookup(ctx, fib, sizeof(*fib), 0);
	switch (rc) {
	case BPF_FIB_LKUP_RET_SUCCESS:
		return SL_XDP_ST_ENCAPSULATED;
	case BPF_FIB_LKUP_RET_NO_NEIGH:
		return SL_XDP_ST_NO_NEIGH;
	case BPF_FIB_LKUP_RET_FRAG_NEEDED:
		return SL_XDP_ST_TOO_BIG;
	default:
		return SL_XDP_ST_NO_ROUTE;
	}
}

/*
 * Write tunnel t's outer header for an outer IP packet of ip_total bytes
 * at d (t->hdr_len bytes; d may be the packet or a buffer): the template
 * (sl_tun, built as encap_tunnel_init() builds it) with the fields
 * encap_copy() of dataplane/encap.c fills per packet: the MACs of fib
 * (the neighbour's, the egress interface's); IPv4 total length, ID (the
 * CPU's counter, as the DPDK path keeps one per worker) and checksum from
 * the template's sum; IPv6 payload length and flow label
 * (encap_flow_label of hash); UDP source port (encap_udp_sport of hash)
 * and length.  The IPv6 UDP checksum is left 0: it covers the inner
 * frame, which the caller sums in place (udp6_cksum).  Shared by steer
 * and replicate, so both send encap_copy()'s bytes
 * (tests/unit/test_xdp_encap.c holds steer's to them).
 *
 * verifier: every copy has a constant length, so d needs
 * SL_XDP_TUN_HDR_MAX bytes of room whatever t->hdr_len is.
 */
static __always_inline void
encap_fill(__u8 *d, const struct sl_xdp_tunnel *t,
	   const struct bpf_fib_lookup *fib, __u32 ip_total, __u64 hash)
{
	int v4 = t->family == 4, udp = t->kind != TARGET_GRE;
	__u32 ip_len = v4 ? IPV4_HDR_MIN : IPV6_HDR_LEN, zero = 0, *ctr;
	__u32 l4_off = ETH_HDR_LEN + ip_len;
	__u8 *ip = d + ETH_HDR_LEN, *l4 = d + l4_off;
	__u16 tot, id, ck;

	/* the template: Ethernet and IP, then UDP + VXLAN/GENEVE or GRE */
	if (v4)
		__builtin_memcpy(d, t->tmpl, ETH_HDR_LEN + IPV4_HDR_MIN);
	else
		__builtin_memcpy(d, t->tmpl, ETH_HDR_LEN + IPV6_HDR_LEN);
	if (udp)
		__builtin_memcpy(l4, t->tmpl + l4_off, TUN_L4_UDP);
	else if (t->hdr_len == l4_off + 8)	/* GRE with a key */
		__builtin_memcpy(l4, t->tmpl + l4_off, 8);
	else
		__builtin_memcpy(l4, t->tmpl + l4_off, 4);

	__builtin_memcpy(d, fib->dmac, 6);
	__builtin_memcpy(d + 6, fib->smac, 6);
	if (v4) {
		__u32 sum;

		ctr = bpf_map_lookup_elem(&sl_ipid, &zero);
		id = bpf_htons(ctr != NULL ? (__u16)(*ctr)++ : 0);
		tot = bpf_htons((__u16)ip_total);
		/* the template's sum plus the two new words, in memory
		 * byte order, as encap_copy() */
		sum = (__u32)t->ip4_sum + tot + id;
		sum = (sum & 0xffff) + (sum >> 16);
		sum = (sum & 0xffff) + (sum >> 16);
		ck = (__u16)~sum;
		__builtin_memcpy(ip + 2, &tot, 2);
		__builtin_memcpy(ip + 4, &id, 2);
		__builtin_memcpy(ip + 10, &ck, 2);
	} else {
		__u32 fl = encap_flow_label(hash);

		ip[1] = (__u8)(fl >> 16);
		ip[2] = (__u8)(fl >> 8);
		ip[3] = (__u8)fl;
		tot = bpf_htons((__u16)(ip_total - IPV6_HDR_LEN));
		__builtin_memcpy(ip + 4, &tot, 2);
	}
	if (udp) {
		__u16 v = bpf_htons(encap_udp_sport(hash));

		__builtin_memcpy(l4, &v, 2);
		v = bpf_htons((__u16)(ip_total - ip_len));
		__builtin_memcpy(l4 + 4, &v, 2);
	}
}

/*
 * Encapsulate the frame toward tunnel o->tunnel of set `set` and set its
 * egress: what steer() of dataplane/rep_stage.c does with a tunnel target
 * (encap_copy() with the MACs of tunnel_next_hop()), in place.  Returns
 * SL_XDP_ST_ENCAPSULATED when bpf_redirect_map has set the egress (the
 * caller returns XDP_REDIRECT), or the reason the packet cannot go (the
 * caller drops it, as the DPDK path does).  The next hop is
 * encap_route()'s, the header encap_fill()'s, and over IPv6 the UDP
 * checksum udp6_cksum()'s.  Nothing is written before the lookup
 * succeeds.
 *
 * verifier: a global function, verified once.  bpf_xdp_adjust_head
 * invalidates every packet pointer, here and in the caller, which reads
 * no packet byte after this.
 */
__noinline int
sl_steer_encap(struct xdp_md *ctx, __u32 set, const struct steer_io *o)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct bpf_fib_lookup fib;
	struct sl_xdp_tunnel *t;
	__u32 k, ip_total, l4_off;
	__u8 *d;
	void *tun;
	int st, c;
	__u16 ck;

	if (o == NULL)
		return SL_XDP_ST_ENCAP_FAILED;
	k = o->tunnel;
	tun = bpf_map_lookup_elem(&sl_tun, &set);
	if (tun == NULL)
		return SL_XDP_ST_ENCAP_FAILED;
	t = bpf_map_lookup_elem(tun, &k);
	if (t == NULL || t->hdr_len > SL_XDP_TUN_HDR_MAX)
		return SL_XDP_ST_ENCAP_FAILED;
	/* the inner frame is the whole frame, as it came */
	ip_total = t->hdr_len - ETH_HDR_LEN + (__u32)(data_end - data);
	if (ip_total > 0xffff)
		return SL_XDP_ST_ENCAP_FAILED;
	st = encap_route(ctx, &fib, t, ctx->ingress_ifindex, ip_total,
			 o->hash);
	if (st != SL_XDP_ST_ENCAPSULATED)
		return st;
	if (bpf_redirect_map(&sl_tx, fib.ifindex, XDP_DROP) != XDP_REDIRECT)
		return SL_XDP_ST_OUTER_NO_EGRESS;
	if (bpf_xdp_adjust_head(ctx, -(int)t->hdr_len) != 0)
		return SL_XDP_ST_ENCAP_FAILED;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	d = data;
	/* verifier: the frame was an IP packet (34 bytes at least) and the
	 * outer headers take 38 at least, so this cannot fail */
	if ((void *)(d + SL_XDP_TUN_HDR_MAX) > data_end)
		return SL_XDP_ST_ENCAP_FAILED;
	encap_fill(d, t, &fib, ip_total, o->hash);
	if (t->kind != TARGET_GRE && t->family != 4) {
		l4_off = ETH_HDR_LEN + IPV6_HDR_LEN;
		c = udp6_cksum(ctx, data, data_end, d + ETH_HDR_LEN, l4_off,
			       ip_total - IPV6_HDR_LEN, 0);
		if (c < 0)
			return SL_XDP_ST_ENCAP_FAILED;
		ck = (__u16)c;
		__builtin_memcpy(d + l4_off + 6, &ck, 2);
	}
	return SL_XDP_ST_ENCAPSULATED;
}

static __always_inline void
count_drop(__u32 reason, __u64 len)
{
	struct sl_xdp_counter *c = bpf_map_lookup_elem(&sl_drops, &reason);

	if (c != NULL) {
		c->packets++;
		c->bytes += len;
	}
}

static __always_inline void
count_rt(__u32 why, __u64 len)
{
	struct sl_xdp_counter *c = bpf_map_lookup_elem(&sl_rt, &why);

	if (c != NULL) {
		c->packets++;
		c->bytes += len;
	}
}

static __always_inline void
count_steer(__u32 why, __u64 len)
{
	struct sl_xdp_counter *c = bpf_map_lookup_elem(&sl_steer, &why);

	if (c != NULL) {
		c->packets++;
		c->bytes += len;
	}
}

static __always_inline void
count_rep(__u32 why, __u64 packets, __u64 len)
{
	struct sl_xdp_counter *c = bpf_map_lookup_elem(&sl_rep, &why);

	if (c != NULL) {
		c->packets += packets;
		c->bytes += packets * len;
	}
}

/* ---- replicate: the decision, handed to sluice_tc_rep ---- */

/* In to sl_rep_hand (a global function takes at most five arguments). */
struct rep_io {
	__u64 seed;		/* the set's flow_hash_seed */
	__u64 gen;		/* the set's generation */
	__u32 rtab;		/* replica table: index into sl_rgrp */
	__u32 len;		/* frame bytes, for the counters */
};

/*
 * Replicate: the copies of the DPDK path (dp_rep_chunk), sl_maglev_pick(
 * table, size, n_live, sl_flow_hash(key, seed), copies), are entry
 * hash % size of the replica table the loader wrote for the (group,
 * copies) pair.  XDP cannot both pass the packet and clone it, so this
 * writes the set, generation, replica table, entry and flow hash (for a
 * tunnel copy's header) into the packet's XDP metadata, which the kernel keeps on the skb for sluice_tc_rep.
 * Counts short (fewer live targets than copies), and failed (each copy)
 * when the driver leaves no room for the metadata.  The frame itself is
 * not touched.  Returns the number of copies handed over.
 *
 * verifier: a global function, verified once.  bpf_xdp_adjust_meta
 * invalidates every packet pointer of the caller; the caller reads no
 * packet byte after this.
 */
__noinline int
sl_rep_hand(struct xdp_md *ctx, const struct pkt *p, __u32 set,
	    const struct rep_io *o)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct sl_xdp_rep_meta *m;
	struct sl_xdp_rep_group *g;
	struct sl_xdp_ct_key key;
	void *rgrp;
	__u32 rtab, pos;
	__u64 hash;

	if (p == NULL || o == NULL)
		return 0;
	rtab = o->rtab;
	rgrp = bpf_map_lookup_elem(&sl_rgrp, &set);
	if (rgrp == NULL)
		return 0;
	g = bpf_map_lookup_elem(rgrp, &rtab);
	if (g == NULL || g->size == 0)
		return 0;
	if (g->n_live < g->copies)
		count_rep(SL_XDP_REP_SHORT, 1, o->len);
	if (g->want == 0)
		return 0;
	if (flow_key(data, data_end, p, &key) < 0)
		return 0;
	/* a 64-bit modulo, as in sl_maglev_pick */
	hash = sl_xdp_flow_hash(&key, o->seed);
	pos = (__u32)(hash % g->size);
	if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(*m)) != 0) {
		count_rep(SL_XDP_REP_FAILED, g->want, o->len);
		return 0;
	}
	m = (void *)(long)ctx->data_meta;
	if ((void *)(m + 1) > (void *)(long)ctx->data)
		return 0;	/* verifier: adjust_meta made this room */
	m->magic = SL_XDP_REP_MAGIC;
	m->gen = (__u32)o->gen;
	m->set = (__u16)set;
	m->rtab = (__u16)rtab;
	m->pos = pos;
	m->hash_lo = (__u32)hash;
	m->hash_hi = (__u32)(hash >> 32);
	return (int)g->want;
}

static __always_inline void
count_port(__u32 ifindex, __u64 len, int verdict, int steered)
{
	struct sl_xdp_port_counter *c = bpf_map_lookup_elem(&sl_ports, &ifindex);

	if (c == NULL) {
		struct sl_xdp_port_counter zero = {};

		/* First packet of this interface on any CPU: create the
		 * entry (another CPU may win the race; either is fine). */
		bpf_map_update_elem(&sl_ports, &ifindex, &zero, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&sl_ports, &ifindex);
		if (c == NULL)
			return;
	}
	c->rx_packets++;
	c->rx_bytes += len;
	if (verdict == XDP_PASS)
		c->passed++;
	else if (verdict == XDP_REDIRECT && steered)
		c->steered++;
	else if (verdict == XDP_REDIRECT)
		c->routed++;
	else
		c->dropped++;
}

static __always_inline void
record(__u32 rule, __u32 reason, __u32 action, __u32 route, __u32 steer,
       __u32 target)
{
	__u32 zero = 0;
	struct sl_xdp_verdict *v;

	if (!sl_cfg_last_verdict)
		return;		/* dead code unless a test asked for it */
	v = bpf_map_lookup_elem(&sl_last, &zero);
	if (v != NULL) {
		v->rule = rule;
		v->reason = (__u8)reason;
		v->action = (__u8)action;
		v->route = (__u8)route;
		v->steer = (__u8)steer;
		v->target = (__u16)target;
	}
}

/* ---- trace (ring buffer, opt-in: xdp_maps.h, "Trace") ---- */

/* What the program decided, for sl_trace_emit (a global function takes at
 * most five arguments). */
struct trace_in {
	__u32 rule;
	__u32 reason;
	__u32 action;
	__u32 route;
	__u32 steer;
	__u32 target;
	__u32 verdict;
	__u32 set;		/* the set that judged the packet */
};

/* (addr & mask) == want, word by word, for the address at off in the
 * frame: 16 bytes (v6), or 4 in word 0 (the filter's other words are 0). */
static __always_inline int
trace_prefix_ok(struct xdp_md *ctx, __u32 off, const __u32 *want,
		const __u32 *mask, int v6)
{
	__u32 a[4] = {};

	if (bpf_xdp_load_bytes(ctx, off, a, v6 ? 16 : 4) != 0)
		return 0;
#pragma unroll
	for (int i = 0; i < 4; i++)
		if ((a[i] & mask[i]) != want[i])
			return 0;
	return 1;
}

/* filter_match of dataplane/watch_stage.c over what the parser found. */
static __always_inline int
trace_filter_ok(struct xdp_md *ctx, const struct sl_xdp_trace_filter *f,
		const struct pkt *p)
{
	__u32 l3 = p->l3_off & OFF_MAX;
	int v6 = p->family == 6;

	if ((f->fields & SL_XDP_TF_IN_PORT) && ctx->ingress_ifindex != f->ifindex)
		return 0;
	if ((f->fields & SL_XDP_TF_VLAN) &&
	    (p->vlan == SL_XDP_VLAN_NONE || p->vlan != f->vlan))
		return 0;
	if (!(f->fields & SL_XDP_TF_IP))
		return 1;
	if (p->family == 0 || (f->family != 0 && p->family != f->family))
		return 0;
	if ((f->fields & SL_XDP_TF_SRC) &&
	    !trace_prefix_ok(ctx, l3 + (v6 ? 8 : 12), f->src_want, f->src_mask,
			     v6))
		return 0;
	if ((f->fields & SL_XDP_TF_DST) &&
	    !trace_prefix_ok(ctx, l3 + (v6 ? 24 : 16), f->dst_want, f->dst_mask,
			     v6))
		return 0;
	return (!(f->fields & SL_XDP_TF_PROTO) || p->proto == f->proto) &&
	       (!(f->fields & SL_XDP_TF_SPORT) ||
		(p->sport >= f->sport_lo && p->sport <= f->sport_hi)) &&
	       (!(f->fields & SL_XDP_TF_DPORT) ||
		(p->dport >= f->dport_lo && p->dport <= f->dport_hi)) &&
	       (!(f->fields & SL_XDP_TF_TCP_FLAGS) ||
		(p->tcp_flags & f->tcp_flags_mask) == f->tcp_flags);
}

/*
 * One record of a packet the filter takes, while budget lasts: called only
 * when the caller saw a positive budget.  The budget is taken with an
 * atomic fetch-and-add, so that CPUs racing for the last unit emit one
 * record between them; it may go below zero, which is off as well.
 *
 * verifier: a global function, verified once; the frame is copied with
 * bpf_xdp_load_bytes, whose length is bounded to [1, SL_XDP_TRACE_SNAP].
 */
__noinline int
sl_trace_emit(struct xdp_md *ctx, const struct pkt *p, const struct trace_in *t)
{
	struct sl_xdp_trace_rec *rec;
	struct sl_xdp_trace_ctl *tc;
	struct sl_xdp_ctl *ctl;
	__u32 zero = 0, n, set;

	if (p == NULL || t == NULL)
		return 0;
	tc = bpf_map_lookup_elem(&sl_trace, &zero);
	if (tc == NULL || !trace_filter_ok(ctx, &tc->f, p))
		return 0;
	if (__sync_fetch_and_add(&tc->budget, -1) <= 0)
		return 0;
	rec = bpf_ringbuf_reserve(&sl_tring, sizeof(*rec), 0);
	if (rec == NULL) {
		/* The ring is full: the unit goes back for a later packet,
		 * so that a reader that falls behind still gets its count. */
		__sync_fetch_and_add(&tc->budget, 1);
		__sync_fetch_and_add(&tc->lost, 1);
		return 0;
	}
	/* The set's generation is the one that judged the packet: a switch
	 * rewrites a set only after a grace period, once this run is over. */
	set = t->set & 1;
	ctl = bpf_map_lookup_elem(&sl_ctl, &zero);
	rec->ts_ns = bpf_ktime_get_ns();
	rec->generation = ctl != NULL ? ctl->set[set].generation : 0;
	rec->ifindex = ctx->ingress_ifindex;
	rec->rule = t->rule;
	rec->len = p->len;
	rec->cpu = bpf_get_smp_processor_id();
	rec->target = (__u16)t->target;
	rec->l3_off = (__u16)p->l3_off;
	rec->sport = p->sport;
	rec->dport = p->dport;
	rec->xdp_action = (__u8)t->verdict;
	rec->reason = (__u8)t->reason;
	rec->action = (__u8)t->action;
	rec->route = (__u8)t->route;
	rec->steer = (__u8)t->steer;
	rec->family = p->family;
	rec->proto = p->proto;
	rec->ct = ctl != NULL && ctl->set[set].ct_enabled ? p->ct : 0xff;
	rec->set = (__u8)set;
	__builtin_memset(rec->pad, 0, sizeof(rec->pad));
	n = p->len < SL_XDP_TRACE_SNAP ? p->len : SL_XDP_TRACE_SNAP;
	rec->cap_len = 0;
	if (n >= 1 && n <= SL_XDP_TRACE_SNAP &&
	    bpf_xdp_load_bytes(ctx, 0, rec->data, n) == 0)
		rec->cap_len = (__u16)n;
	bpf_ringbuf_submit(rec, 0);
	return 1;
}

SEC("xdp")
int
sluice_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 ifindex = ctx->ingress_ifindex;
	struct pkt p = { .vlan = SL_XDP_VLAN_NONE, .ct = CT_IDX_NEW };
	struct ct_work cw = {};
	struct steer_io so = { .target = SL_XDP_NO_TARGET };
	struct rep_io ro = {};
	struct sl_xdp_rule *rule;
	struct sl_xdp_counter *rc;
	struct sl_xdp_ctl *ctl;
	void *rules, *rcnt;
	__u32 zero = 0, set, r, reason = 0, route = SL_XDP_RT_NONE;
	__u32 steer = SL_XDP_RT_NONE;
	int verdict = XDP_PASS, st;
	struct sl_xdp_trace_ctl *tc;

	/* What a trace reports of a packet no rule judged. */
	r = SL_XDP_NO_RULE;
	rule = NULL;
	set = 0;
	p.len = (__u32)(data_end - data);
	reason = parse_frame(ctx, data, data_end, &p);
	if (reason != 0) {
		count_drop(reason, p.len);
		record(SL_XDP_NO_RULE, reason, 0, SL_XDP_RT_NONE, SL_XDP_RT_NONE,
		       SL_XDP_NO_TARGET);
		verdict = XDP_DROP;
		goto out;
	}
	if (p.family == 0) {
		/* not IP: not judged */
		record(SL_XDP_NO_RULE, 0, 0, SL_XDP_RT_NONE, SL_XDP_RT_NONE,
		       SL_XDP_NO_TARGET);
		goto out;
	}

	ctl = bpf_map_lookup_elem(&sl_ctl, &zero);
	if (ctl == NULL)
		goto out;
	set = ctl->active & 1;
	if (ctl->set[set].state != SL_XDP_SET_READY) {
		/* no policy yet */
		record(SL_XDP_NO_RULE, 0, 0, SL_XDP_RT_NONE, SL_XDP_RT_NONE,
		       SL_XDP_NO_TARGET);
		goto out;
	}
	rules = bpf_map_lookup_elem(&sl_rules, &set);
	rcnt = bpf_map_lookup_elem(&sl_rcnt, &set);
	if (rules == NULL || rcnt == NULL)
		goto out;
	if (ctl->set[set].ct_enabled)
		p.ct = sl_ct_track(ctx, &p, &cw, set);
	r = sl_classify(ctx, &p, set, ctl->set[set].n_rules,
			ctl->set[set].n_words);
	rule = bpf_map_lookup_elem(rules, &r);
	rc = bpf_map_lookup_elem(rcnt, &r);
	if (rule == NULL || rc == NULL)
		goto out;
	rc->packets++;
	rc->bytes += p.len;
	if (rule->action == ACTION_DROP) {
		reason = SL_DROP_RULE;
	} else if (cw.create &&
		   bpf_map_update_elem(&sl_ct, &cw.key, &cw.flow, BPF_ANY) != 0) {
		/* an accepted new flow found no room (an LRU hash makes room,
		 * so this is a failed allocation) */
		reason = SL_DROP_CT_FULL;
	}
	if (reason == 0 && rule->action == ACTION_STEER) {
		/* steer instead of forwarding; the flow was created above,
		 * as the DPDK path commits it before its replication stage */
		so.seed = ctl->set[set].flow_hash_seed;
		so.group = rule->group;
		st = sl_steer_pick(ctx, &p, set, &so);
		if (st == STEER_TUNNEL)
			st = sl_steer_encap(ctx, set, &so);
		if (st < 0) {
			reason = SL_DROP_NO_TARGET;
		} else {
			steer = (__u32)st;
			count_steer(steer, p.len);
			if (steer == SL_XDP_ST_STEERED ||
			    steer == SL_XDP_ST_ENCAPSULATED)
				verdict = XDP_REDIRECT;
			else if (steer != SL_XDP_ST_NO_EGRESS)
				/* a tunnel target that cannot go: dropped,
				 * as the DPDK path drops it */
				reason = SL_DROP_NO_TARGET;
		}
	}
	if (reason == 0 && rule->action == ACTION_REPLICATE) {
		/* passed whatever the routing mode: XDP cannot redirect the
		 * original and leave the skb sluice_tc_rep clones */
		ro.seed = ctl->set[set].flow_hash_seed;
		ro.gen = ctl->set[set].generation;
		ro.rtab = rule->group;
		ro.len = p.len;
		sl_rep_hand(ctx, &p, set, &ro);
		route = SL_XDP_RT_REPLICATED;
	}
	if (reason != 0) {
		count_drop(reason, p.len);
		verdict = XDP_DROP;
	} else if (steer != SL_XDP_RT_NONE) {
		/* steered, or passed: its interface is not attached */
	} else if (route == SL_XDP_RT_REPLICATED) {
		/* passed; the copies are sluice_tc_rep's */
		count_rt(route, p.len);
	} else {
		route = ctl->flags & SL_XDP_CTL_ROUTE ? sl_route(ctx, &p)
						      : SL_XDP_RT_OFF;
		count_rt(route, p.len);
		if (route == SL_XDP_RT_ROUTED)
			verdict = XDP_REDIRECT;
	}
	record(r, reason, rule->action, route, steer, so.target);
out:
	/* Off, this is the whole cost of tracing: an array lookup that the
	 * verifier inlines, one load and a branch (13 instructions). */
	tc = bpf_map_lookup_elem(&sl_trace, &zero);
	if (tc != NULL && tc->budget > 0) {
		struct trace_in ti = {
			.rule = rule != NULL ? r : SL_XDP_NO_RULE,
			.reason = reason,
			.action = rule != NULL ? rule->action : 0,
			.route = route,
			.steer = steer,
			.target = so.target,
			.verdict = (__u32)verdict,
			.set = set,
		};

		sl_trace_emit(ctx, &p, &ti);
	}
	count_port(ifindex, p.len, verdict, steer == SL_XDP_ST_STEERED ||
		   steer == SL_XDP_ST_ENCAPSULATED);
	return verdict;
}

/* A tunnel copy's outer header, built before it goes into the skb: per
 * CPU, not on sl_rep_encap's stack, which with the FIB parameters, the
 * checksum's pseudo-header and the caller's frame came to 504 of the 512
 * bytes a program may use. */
struct encap_buf {
	__u8 hdr[SL_XDP_TUN_HDR_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct encap_buf);
} sl_encap_buf SEC(".maps");

/* In to sl_rep_encap (a global function takes at most five arguments). */
struct rep_tun_io {
	__u64 hash;		/* the flow hash (sl_xdp_rep_meta) */
	__u32 set;		/* the set that decided */
	__u32 tunnel;		/* index into sl_tun */
	__u8 eth[16];		/* the frame's Ethernet header, as received */
};

/* sl_rep_encap's answer when it could not give the original back its
 * bytes: the caller drops it (counted encap_failed). */
#define REP_RESTORE_FAILED SL_XDP_REP_MAX

/*
 * One copy of the skb to tunnel o->tunnel of set o->set: what send_copy()
 * of dataplane/rep_stage.c does with a tunnel target, encap_copy() of the
 * frame as received with the MACs of tunnel_next_hop().  The next hop is
 * encap_route()'s (the input lookup from the ingress interface, as for
 * steer), the outer header encap_fill()'s, the IPv6 UDP checksum
 * udp6_cksum()'s: the same code as sl_steer_encap, so the same bytes.
 *
 * The skb is grown at the MAC header (bpf_skb_adjust_room, which keeps
 * the Ethernet header first and moves the network header onto the new
 * bytes), so [Ethernet][IP ...] becomes [hdr_len zero bytes after the
 * Ethernet header]; the outer header goes over the first hdr_len bytes
 * and the saved Ethernet header after it: [outer][Ethernet][IP ...].  It
 * is cloned to the outer egress (bpf_clone_redirect), then shrunk by the
 * same bytes after the first 14 and the Ethernet header written back: the
 * original is byte for byte what it was, headers and length included,
 * and goes on to the kernel.  BPF_F_ADJ_ROOM_NO_CSUM_RESET keeps its
 * checksum state.
 *
 * A VLAN tag the kernel took out of the data into skb->vlan_tci goes
 * back into the inner frame after the MACs (and off the skb while it is
 * cloned, then back on).
 *
 * Returns SL_XDP_REP_COPIES (sent), SL_XDP_REP_FAILED (the clone failed),
 * SL_XDP_REP_NO_ROUTE, _NO_NEIGH, _TOO_BIG, _ENCAP_FAILED (no copy; the
 * original untouched), or REP_RESTORE_FAILED (the original is not whole
 * again: not seen on any kernel, but the caller must not pass it on).
 *
 * verifier: a global function, verified once, not once per copy.  It
 * changes packet data, so every packet pointer of the caller is invalid
 * after it; the caller reads no packet byte after its first call.
 */
__noinline int
sl_rep_encap(struct __sk_buff *skb, const struct rep_tun_io *o)
{
	struct bpf_fib_lookup fib;
	struct sl_xdp_tunnel *t;
	struct encap_buf *buf;
	__u32 k, set, hdr_len, ip_total, l4_off, zero = 0, tag;
	__u16 vlan_proto, vlan_tci;
	__u8 *hdr, inner[ETH_HDR_LEN + VLAN_TAG_LEN];
	const __u64 adj = BPF_F_ADJ_ROOM_NO_CSUM_RESET;
	void *tun, *data, *data_end;
	int st, c, ret;
	__u16 ck;

	if (o == NULL)
		return SL_XDP_REP_ENCAP_FAILED;
	set = o->set;
	k = o->tunnel;
	tun = bpf_map_lookup_elem(&sl_tun, &set);
	if (tun == NULL)
		return SL_XDP_REP_ENCAP_FAILED;
	t = bpf_map_lookup_elem(tun, &k);
	if (t == NULL || t->hdr_len > SL_XDP_TUN_HDR_MAX ||
	    t->hdr_len < ETH_HDR_LEN + IPV4_HDR_MIN)
		return SL_XDP_REP_ENCAP_FAILED;
	/* GRO merged several frames into this skb: its copy would be the
	 * merged packet, and growing a GSO skb changes its segment size */
	if (skb->gso_segs > 1 || skb->gso_size != 0)
		return SL_XDP_REP_ENCAP_FAILED;
	/* A VLAN tag: the kernel took it out of the data before TC ingress
	 * (skb_vlan_untag) into skb->vlan_tci.  The inner frame gets it
	 * back after its MACs, as it came, and the skb loses it while the
	 * copy is cloned, or the egress would tag the outer frame.  One tag
	 * only: a second one left in the data makes skb->protocol a VLAN
	 * type, which bpf_skb_adjust_room refuses (encap_failed). */
	tag = skb->vlan_present ? VLAN_TAG_LEN : 0;
	vlan_proto = (__u16)skb->vlan_proto;	/* network order */
	vlan_tci = (__u16)skb->vlan_tci;	/* host order */
	hdr_len = t->hdr_len;
	/* skb->len counts the Ethernet header at TC ingress, not the tag */
	ip_total = hdr_len - ETH_HDR_LEN + skb->len + tag;
	if (ip_total > 0xffff)
		return SL_XDP_REP_ENCAP_FAILED;
	st = encap_route(skb, &fib, t, skb->ingress_ifindex, ip_total,
			 o->hash);
	if (st == SL_XDP_ST_NO_NEIGH)
		return SL_XDP_REP_NO_NEIGH;
	if (st == SL_XDP_ST_TOO_BIG)
		return SL_XDP_REP_TOO_BIG;
	if (st != SL_XDP_ST_ENCAPSULATED)
		return SL_XDP_REP_NO_ROUTE;
	buf = bpf_map_lookup_elem(&sl_encap_buf, &zero);
	if (buf == NULL)
		return SL_XDP_REP_ENCAP_FAILED;
	hdr = buf->hdr;
	encap_fill(hdr, t, &fib, ip_total, o->hash);
	/* the inner Ethernet header: MACs, the tag if any, the type */
	__builtin_memcpy(inner, o->eth, 12);
	if (tag) {
		__u16 v = bpf_htons(vlan_tci);

		__builtin_memcpy(inner + 12, &vlan_proto, 2);
		__builtin_memcpy(inner + 14, &v, 2);
		__builtin_memcpy(inner + 16, o->eth + 12, 2);
	} else {
		__builtin_memcpy(inner + 12, o->eth + 12, 2);
		inner[14] = 0;
		inner[15] = 0;
		inner[16] = 0;
		inner[17] = 0;
	}

	if (bpf_skb_adjust_room(skb, (__s32)(hdr_len + tag), BPF_ADJ_ROOM_MAC,
				adj) != 0)
		return SL_XDP_REP_ENCAP_FAILED;
	ret = SL_XDP_REP_ENCAP_FAILED;
	if (tag && bpf_skb_vlan_pop(skb) != 0)
		goto restore;
	if (bpf_skb_store_bytes(skb, 0, hdr, hdr_len, 0) != 0 ||
	    bpf_skb_store_bytes(skb, hdr_len, inner, ETH_HDR_LEN + tag, 0) != 0)
		goto restore;
	if (t->kind != TARGET_GRE && t->family != 4) {
		/* the checksum covers the inner frame: make it linear */
		if (bpf_skb_pull_data(skb, skb->len) != 0)
			goto restore;
		data = (void *)(long)skb->data;
		data_end = (void *)(long)skb->data_end;
		l4_off = ETH_HDR_LEN + IPV6_HDR_LEN;
		c = udp6_cksum(skb, data, data_end, hdr + ETH_HDR_LEN, l4_off,
			       ip_total - IPV6_HDR_LEN, 1);
		if (c < 0)
			goto restore;
		ck = (__u16)c;
		if (bpf_skb_store_bytes(skb, l4_off + 6, &ck, 2, 0) != 0)
			goto restore;
	}
	ret = bpf_clone_redirect(skb, fib.ifindex, 0) == 0 ? SL_XDP_REP_COPIES
							    : SL_XDP_REP_FAILED;
restore:
	if (bpf_skb_adjust_room(skb, -(__s32)(hdr_len + tag), BPF_ADJ_ROOM_MAC,
				adj) != 0 ||
	    bpf_skb_store_bytes(skb, 0, o->eth, ETH_HDR_LEN, 0) != 0)
		return REP_RESTORE_FAILED;
	if (tag && !skb->vlan_present &&
	    bpf_skb_vlan_push(skb, vlan_proto, vlan_tci) != 0)
		return REP_RESTORE_FAILED;
	return ret;
}

/*
 * sluice_tc_rep: the copies of a replicated packet.  Attached by the
 * loader as a direct-action filter on clsact ingress of every interface
 * the XDP program is attached to (it shares this object's maps).  A
 * packet without sluice_xdp's metadata (SL_XDP_REP_MAGIC) goes on
 * untouched.  For one with it: when the set it names is still the active
 * one with the same generation, each target of replica table entry `pos`
 * gets a clone of the skb on its interface's egress (bpf_clone_redirect):
 * the frame as it came, Ethernet header included, since at TC ingress the
 * skb's data starts at the MAC header again; a tunnel target gets it
 * encapsulated toward its remote (sl_rep_encap), each copy that cannot go
 * counted failed and under its reason.  Otherwise (a policy switch came
 * between the XDP program and here) no copy, counted stale.  The original
 * goes on to the kernel (TC_ACT_OK), which routes it, byte for byte as it
 * came; the one exception is an original sl_rep_encap could not restore,
 * dropped (TC_ACT_SHOT) and counted encap_failed.
 *
 * verifier: the loop over copies has a constant bound
 * (SL_POLICY_COPIES_MAX, 16); bpf_clone_redirect and sl_rep_encap
 * invalidate packet pointers, so the metadata is read into locals first.
 */
#define COPIES_MAX 16		/* SL_POLICY_COPIES_MAX (sluice/policy.h) */

SEC("tc")
int
sluice_tc_rep(struct __sk_buff *skb)
{
	struct sl_xdp_rep_meta *m = (void *)(long)skb->data_meta;
	struct sl_xdp_rep_group *g;
	struct sl_xdp_mag_chunk *c;
	struct sl_xdp_ctl *ctl;
	__u32 zero = 0, set, rtab, pos, gen, base, want;
	struct rep_tun_io io = {};
	__u64 len = skb->len;
	void *rgrp, *rt;
	int tun_ok = 1;

	if ((void *)(m + 1) > (void *)(long)skb->data ||
	    m->magic != SL_XDP_REP_MAGIC)
		return TC_ACT_OK;
	set = m->set & 1;
	rtab = m->rtab;
	pos = m->pos;
	gen = m->gen;
	io.hash = (__u64)m->hash_hi << 32 | m->hash_lo;
	io.set = set;

	ctl = bpf_map_lookup_elem(&sl_ctl, &zero);
	if (ctl == NULL)
		return TC_ACT_OK;
	rgrp = bpf_map_lookup_elem(&sl_rgrp, &set);
	rt = bpf_map_lookup_elem(&sl_rtab, &set);
	g = rgrp != NULL ? bpf_map_lookup_elem(rgrp, &rtab) : NULL;
	if ((ctl->active & 1) != set ||
	    ctl->set[set].state != SL_XDP_SET_READY ||
	    (__u32)ctl->set[set].generation != gen || rt == NULL ||
	    g == NULL || pos >= g->size || g->want == 0 ||
	    g->want > COPIES_MAX) {
		count_rep(SL_XDP_REP_STALE, 1, len);
		return TC_ACT_OK;
	}
	want = g->want;
	base = pos * want;	/* < 2^24 * 16: no overflow */
	/* what a tunnel copy needs: the Ethernet header to put back */
	if (bpf_skb_load_bytes(skb, 0, io.eth, ETH_HDR_LEN) != 0)
		tun_ok = 0;
	for (__u32 i = 0; i < COPIES_MAX; i++) {
		__u32 k, t, ifindex;
		int why;

		if (i >= want)
			break;
		k = g->chunk + (base + i) / SL_XDP_MAG_CHUNK;
		c = bpf_map_lookup_elem(rt, &k);
		t = c != NULL ? c->e[(base + i) % SL_XDP_MAG_CHUNK]
			      : SL_XDP_MAG_NONE;
		ifindex = t < SL_XDP_TARGETS_MAX ? g->ifindex[t] : 0;
		if (ifindex & SL_XDP_TUN) {
			io.tunnel = ifindex & ~SL_XDP_TUN;
			why = tun_ok ? sl_rep_encap(skb, &io)
				     : SL_XDP_REP_ENCAP_FAILED;
			if (why == REP_RESTORE_FAILED) {
				count_rep(SL_XDP_REP_FAILED, 1, len);
				count_rep(SL_XDP_REP_ENCAP_FAILED, 1, len);
				return TC_ACT_SHOT;
			}
			if (why != SL_XDP_REP_COPIES &&
			    why != SL_XDP_REP_FAILED)
				count_rep(SL_XDP_REP_FAILED, 1, len);
			count_rep((__u32)why, 1, len);
		} else if (ifindex != 0 &&
			   bpf_clone_redirect(skb, ifindex, 0) == 0) {
			count_rep(SL_XDP_REP_COPIES, 1, len);
		} else {
			count_rep(SL_XDP_REP_FAILED, 1, len);
		}
	}
	return TC_ACT_OK;
}
