/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Copies for replication and steering targets (encap.h).  The control
 * thread compiles each tunnel target once into a header template; per copy
 * a worker allocates two mbufs, copies the template and fills the few
 * fields that change: MACs, lengths, IPv4 ID and checksum (from the
 * template's precomputed sum), UDP source port, IPv6 flow label and UDP
 * checksum.
 */
#include <errno.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_common.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_mbuf_ptype.h>
#include <rte_memcpy.h>

#include "encap.h"

#define ETH_HDR 14
#define IPV4_HDR 20
#define IPV6_HDR 40
#define UDP_HDR 8
#define VXLAN_HDR 8		/* GENEVE too, without options */
#define GRE_HDR 4
#define GRE_KEY 4
#define PROTO_UDP 17
#define PROTO_GRE 47
#define ETH_P_TEB 0x6558	/* transparent Ethernet bridging */
#define VXLAN_FLAG_I 0x08	/* RFC 7348: the VNI is valid */
#define GRE_FLAG_K 0x2000	/* RFC 2890: key present */
#define IPV4_DF 0x4000

/*
 * The inner frame starts an even number of bytes after the UDP header
 * (UDP 8 + VXLAN/GENEVE 8), so its one's complement sum adds to that of
 * the headers as it is, with no byte swap.
 */
_Static_assert((UDP_HDR + VXLAN_HDR) % 2 == 0, "inner frame at an even offset");

static inline void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* ------------------------------------------------------------------------
 * Control thread
 */

static bool
is_udp_kind(uint8_t kind)
{
	return kind == SL_TARGET_VXLAN || kind == SL_TARGET_GENEVE;
}

int
encap_tunnel_init(struct encap_tunnel *t, const struct sl_target *tg,
		  const uint8_t *egress_addr, uint8_t ttl)
{
	uint8_t fam = tg->remote.family;
	unsigned int alen = fam == SL_FAMILY_IPV4 ? 4 : 16;
	unsigned int ip_len = fam == SL_FAMILY_IPV4 ? IPV4_HDR : IPV6_HDR;
	uint8_t proto;
	uint8_t *ip, *l4;

	memset(t, 0, sizeof(*t));
	if (tg->kind != SL_TARGET_VXLAN && tg->kind != SL_TARGET_GENEVE &&
	    tg->kind != SL_TARGET_GRE)
		return -EINVAL;
	if (fam != SL_FAMILY_IPV4 && fam != SL_FAMILY_IPV6)
		return -EINVAL;
	if (tg->local.family != SL_FAMILY_NONE && tg->local.family != fam)
		return -EINVAL;
	if (is_udp_kind(tg->kind) && tg->vni > SL_POLICY_VNI_MAX)
		return -EINVAL;
	if (tg->local.family == SL_FAMILY_NONE && egress_addr == NULL)
		return -EADDRNOTAVAIL;

	t->kind = tg->kind;
	t->family = fam;
	t->ttl = ttl != 0 ? ttl : ENCAP_TTL_DEFAULT;
	memcpy(t->remote, tg->remote.addr, alen);
	memcpy(t->local, tg->local.family != SL_FAMILY_NONE ?
			 tg->local.addr : egress_addr, alen);
	if (is_udp_kind(t->kind)) {
		t->vni = tg->vni;
		t->udp_dport = tg->udp_port;
		if (t->udp_dport == 0)
			t->udp_dport = t->kind == SL_TARGET_VXLAN ?
				       SL_POLICY_VXLAN_PORT_DEFAULT :
				       SL_POLICY_GENEVE_PORT_DEFAULT;
		proto = PROTO_UDP;
		t->hdr_len = (uint8_t)(ETH_HDR + ip_len + UDP_HDR + VXLAN_HDR);
	} else {
		t->has_key = tg->has_key;
		t->key = tg->has_key ? tg->key : 0;
		proto = PROTO_GRE;
		t->hdr_len = (uint8_t)(ETH_HDR + ip_len + GRE_HDR +
				       (t->has_key ? GRE_KEY : 0));
	}

	/* Ethernet: MACs per copy. */
	put16(t->tmpl + 12, fam == SL_FAMILY_IPV4 ? RTE_ETHER_TYPE_IPV4 :
						    RTE_ETHER_TYPE_IPV6);
	ip = t->tmpl + ETH_HDR;
	l4 = ip + ip_len;
	if (fam == SL_FAMILY_IPV4) {
		/* Length, ID and checksum per copy. */
		ip[0] = 0x45;
		put16(ip + 6, IPV4_DF);
		ip[8] = t->ttl;
		ip[9] = proto;
		memcpy(ip + 12, t->local, 4);
		memcpy(ip + 16, t->remote, 4);
		t->ip4_sum = rte_raw_cksum(ip, IPV4_HDR);
	} else {
		/* Flow label and payload length per copy. */
		ip[0] = 0x60;
		ip[6] = proto;
		ip[7] = t->ttl;
		memcpy(ip + 8, t->local, 16);
		memcpy(ip + 24, t->remote, 16);
	}
	if (is_udp_kind(t->kind)) {
		uint8_t *th = l4 + UDP_HDR;

		/* Source port, length and checksum per copy. */
		put16(l4 + 2, t->udp_dport);
		if (t->kind == SL_TARGET_VXLAN) {
			th[0] = VXLAN_FLAG_I;
		} else {
			/* Version 0, no options, not OAM, no critical
			 * options; the payload is an Ethernet frame. */
			put16(th + 2, ETH_P_TEB);
		}
		put32(th + 4, t->vni << 8);
	} else {
		put16(l4, t->has_key ? GRE_FLAG_K : 0);
		put16(l4 + 2, ETH_P_TEB);
		if (t->has_key)
			put32(l4 + 4, t->key);
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * Per packet
 */

static uint32_t
packet_type(const struct encap_tunnel *t)
{
	uint32_t pt = RTE_PTYPE_L2_ETHER | RTE_PTYPE_INNER_L2_ETHER;

	pt |= t->family == SL_FAMILY_IPV4 ? RTE_PTYPE_L3_IPV4 :
					    RTE_PTYPE_L3_IPV6;
	if (t->kind == SL_TARGET_GRE)
		return pt | RTE_PTYPE_TUNNEL_GRE;
	pt |= RTE_PTYPE_L4_UDP;
	return pt | (t->kind == SL_TARGET_VXLAN ? RTE_PTYPE_TUNNEL_VXLAN :
						  RTE_PTYPE_TUNNEL_GENEVE);
}

/*
 * The one's complement sum of every byte of a chain, in memory byte order
 * like rte_raw_cksum().  A segment that starts at an odd offset has its
 * sum byte-swapped (RFC 1071 2(B)).  Not rte_raw_cksum_mbuf(): in DPDK
 * 22.11 it truncates such a segment's unreduced 32-bit sum to 16 bits
 * before the swap, and loses the carries (test_encap's odd split catches
 * it).
 */
static uint32_t
chain_sum(const struct rte_mbuf *m)
{
	uint32_t sum = 0, off = 0;

	for (; m != NULL; m = m->next) {
		uint16_t s = rte_raw_cksum(rte_pktmbuf_mtod(m, const void *),
					   rte_pktmbuf_data_len(m));

		sum += (off & 1) ? rte_bswap16(s) : s;
		off += rte_pktmbuf_data_len(m);
	}
	return sum;
}

/* The UDP checksum over IPv6: pseudo-header, UDP and tunnel headers in the
 * header segment, and the inner frame (every segment of inner). */
static uint16_t
udp6_cksum(const uint8_t *ip, const uint8_t *udp, unsigned int hdr_bytes,
	   const struct rte_mbuf *inner)
{
	uint32_t sum = chain_sum(inner);

	sum += rte_ipv6_phdr_cksum((const struct rte_ipv6_hdr *)ip, 0);
	sum += rte_raw_cksum(udp, hdr_bytes);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (uint16_t)~sum;
	/* RFC 768, RFC 8200 8.1: a computed zero is sent as all ones. */
	return sum == 0 ? 0xffff : (uint16_t)sum;
}

struct rte_mbuf *
encap_copy(struct rte_mbuf *pkt, const struct encap_tunnel *t,
	   const struct rte_ether_addr *src_mac,
	   const struct rte_ether_addr *dst_mac, uint64_t flow_hash,
	   uint16_t *ip_id, struct rte_mempool *hdr_pool,
	   struct rte_mempool *clone_pool)
{
	bool v4 = t->family == SL_FAMILY_IPV4;
	unsigned int ip_len = v4 ? IPV4_HDR : IPV6_HDR;
	uint32_t inner_len = rte_pktmbuf_pkt_len(pkt);
	uint32_t ip_total = t->hdr_len - ETH_HDR + inner_len;
	struct rte_mbuf *h, *c;
	uint8_t *d, *ip, *l4;

	/* The outer length fields are 16 bits. */
	if (unlikely(ip_total > UINT16_MAX))
		return NULL;
	h = rte_pktmbuf_alloc(hdr_pool);
	if (unlikely(h == NULL))
		return NULL;
	d = (uint8_t *)rte_pktmbuf_append(h, t->hdr_len);
	c = rte_pktmbuf_clone(pkt, clone_pool);
	if (unlikely(d == NULL || c == NULL))
		goto fail;

	rte_memcpy(d, t->tmpl, t->hdr_len);
	memcpy(d, dst_mac, RTE_ETHER_ADDR_LEN);
	memcpy(d + RTE_ETHER_ADDR_LEN, src_mac, RTE_ETHER_ADDR_LEN);
	ip = d + ETH_HDR;
	l4 = ip + ip_len;
	if (v4) {
		uint16_t tot = rte_cpu_to_be_16((uint16_t)ip_total);
		uint16_t id = rte_cpu_to_be_16((*ip_id)++);
		uint32_t sum = (uint32_t)t->ip4_sum + tot + id;
		uint16_t ck;

		/* The template's sum plus the two new words (RFC 1071's
		 * sum is order-independent), in memory byte order. */
		sum = (sum & 0xffff) + (sum >> 16);
		sum = (sum & 0xffff) + (sum >> 16);
		ck = (uint16_t)~sum;
		memcpy(ip + 2, &tot, 2);
		memcpy(ip + 4, &id, 2);
		memcpy(ip + 10, &ck, 2);
	} else {
		/* For ECMP in an IPv6 underlay that hashes on the label. */
		uint32_t fl = encap_flow_label(flow_hash);

		ip[1] = (uint8_t)(fl >> 16);
		ip[2] = (uint8_t)(fl >> 8);
		ip[3] = (uint8_t)fl;
		put16(ip + 4, (uint16_t)(ip_total - IPV6_HDR));
	}
	if (t->kind != SL_TARGET_GRE) {
		put16(l4, encap_udp_sport(flow_hash));
		put16(l4 + 4, (uint16_t)(ip_total - ip_len));
		if (!v4) {
			uint16_t ck = udp6_cksum(ip, l4, UDP_HDR + VXLAN_HDR,
						 c);

			memcpy(l4 + 6, &ck, 2);
		}
	}
	if (unlikely(rte_pktmbuf_chain(h, c) != 0))
		goto fail;
	h->port = pkt->port;
	h->packet_type = packet_type(t);
	h->l2_len = ETH_HDR;
	h->l3_len = ip_len;
	return h;
fail:
	rte_pktmbuf_free(c);
	rte_pktmbuf_free(h);
	return NULL;
}

/* Whether bytes in pkt's first segment are seen through another mbuf. */
static bool
head_shared(const struct rte_mbuf *pkt)
{
	if (RTE_MBUF_CLONED(pkt))
		return true;
	if (RTE_MBUF_HAS_EXTBUF(pkt))
		return rte_mbuf_ext_refcnt_read(pkt->shinfo) > 1;
	return rte_mbuf_refcnt_read(pkt) > 1;
}

struct rte_mbuf *
encap_unshare_head(struct rte_mbuf *pkt, uint16_t len,
		   struct rte_mempool *hdr_pool, struct rte_mempool *clone_pool)
{
	struct rte_mbuf *h, *c = NULL;
	uint8_t *d;

	if (!head_shared(pkt))
		return pkt;
	len = RTE_MIN(len, rte_pktmbuf_data_len(pkt));
	h = rte_pktmbuf_alloc(hdr_pool);
	if (unlikely(h == NULL))
		return NULL;
	d = (uint8_t *)rte_pktmbuf_append(h, len);
	if (unlikely(d == NULL))
		goto fail;
	if (len < rte_pktmbuf_data_len(pkt)) {
		/* The rest of the packet, shared. */
		c = rte_pktmbuf_clone(pkt, clone_pool);
		if (unlikely(c == NULL))
			goto fail;
		rte_pktmbuf_adj(c, len);
	} else if (pkt->next != NULL) {
		/* The whole first segment is copied: share the others.
		 * (Not adj on a clone of pkt: that would leave an empty
		 * segment, which some PMDs refuse.)  A clone of a segment
		 * inside a chain takes its pkt_len, which only a head has
		 * right. */
		c = rte_pktmbuf_clone(pkt->next, clone_pool);
		if (unlikely(c == NULL))
			goto fail;
		c->pkt_len = rte_pktmbuf_pkt_len(pkt) - len;
	}
	rte_memcpy(d, rte_pktmbuf_mtod(pkt, const uint8_t *), len);
	if (c != NULL && unlikely(rte_pktmbuf_chain(h, c) != 0))
		goto fail;
	h->port = pkt->port;
	h->vlan_tci = pkt->vlan_tci;
	h->vlan_tci_outer = pkt->vlan_tci_outer;
	h->tx_offload = pkt->tx_offload;
	h->hash = pkt->hash;
	h->packet_type = pkt->packet_type;
	h->ol_flags = pkt->ol_flags &
		      ~(RTE_MBUF_F_INDIRECT | RTE_MBUF_F_EXTERNAL);
	rte_mbuf_dynfield_copy(h, pkt);
	/* The copies (and c) hold the data now; this was the caller's
	 * reference. */
	rte_pktmbuf_free(pkt);
	return h;
fail:
	rte_pktmbuf_free(c);
	rte_pktmbuf_free(h);
	return NULL;
}
