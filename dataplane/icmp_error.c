/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "icmp_error.h"

#define IPV4_HDR 20
#define IPV6_HDR 40
#define ICMP_HDR 8
#define PROTO_ICMP 1
#define PROTO_ICMPV6 58
#define ERR_TTL 64

void
icmp_limit_init_tsc(struct icmp_limit *l, uint32_t per_sec, uint32_t burst,
		    uint64_t hz, uint64_t now)
{
	l->period = per_sec == 0 ? 0 : RTE_MAX(hz / per_sec, (uint64_t)1);
	l->burst = l->period * RTE_MAX(burst, 1u);
	l->tokens = l->burst;
	l->last = now;
}

void
icmp_limit_init(struct icmp_limit *l, uint32_t per_sec)
{
	icmp_limit_init_tsc(l, per_sec, per_sec / 20, rte_get_tsc_hz(),
			    rte_rdtsc());
}

/* ICMP types that are errors (RFC 792, 1812): never answered by one. */
static bool
icmp4_is_error(uint8_t type)
{
	return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

static bool
v4_source_ok(const uint8_t *a)
{
	return a[0] != 0 && a[0] != 127 && a[0] < 224;
}

static bool
v6_source_ok(const uint8_t *a)
{
	static const uint8_t zero[16], loop[16] = { [15] = 1 };

	return a[0] != 0xff && memcmp(a, zero, 16) != 0 &&
	       memcmp(a, loop, 16) != 0;
}

bool
icmp_error_allowed(const struct sl_pkt_meta *m, const uint8_t *frame)
{
	const uint8_t *ip = frame + m->l3_off;

	if ((m->frag & SL_FRAG_IS_FRAG) && !(m->frag & SL_FRAG_FIRST))
		return false;
	if (frame[0] & 1)	/* link-layer multicast or broadcast */
		return false;
	if (m->l3 == SL_L3_IPV4) {
		const uint8_t *src = ip + 12, *dst = ip + 16;

		if (m->l4_proto == PROTO_ICMP && icmp4_is_error(m->icmp_type))
			return false;
		if ((dst[0] & 0xf0) == 224 ||
		    (dst[0] == 255 && dst[1] == 255 && dst[2] == 255 &&
		     dst[3] == 255))
			return false;
		return v4_source_ok(src);
	}
	if (m->l3 == SL_L3_IPV6) {
		if (m->l4_proto == PROTO_ICMPV6 && m->icmp_type < 128)
			return false;
		if (ip[24] == 0xff)
			return false;
		return v6_source_ok(ip + 8);
	}
	return false;
}

/* The Ethernet header and VLAN tags of pkt, addressed back to its source. */
static void
l2_reply(uint8_t *d, const uint8_t *frame, uint16_t l3_off,
	 const struct rte_ether_addr *port_mac)
{
	memcpy(d + 2 * RTE_ETHER_ADDR_LEN, frame + 2 * RTE_ETHER_ADDR_LEN,
	       l3_off - 2 * RTE_ETHER_ADDR_LEN);
	memcpy(d, frame + RTE_ETHER_ADDR_LEN, RTE_ETHER_ADDR_LEN);
	memcpy(d + RTE_ETHER_ADDR_LEN, port_mac, RTE_ETHER_ADDR_LEN);
}

int
icmp_error_build(const struct rte_mbuf *pkt, const struct sl_pkt_meta *m,
		 enum icmp_error_kind kind,
		 const struct rte_ether_addr *port_mac,
		 const uint8_t *port_addr, struct icmp_limit *lim,
		 uint64_t now, struct rte_mbuf **out)
{
	const uint8_t *frame = rte_pktmbuf_mtod(pkt, const uint8_t *);
	const uint8_t *ip = frame + m->l3_off;
	bool v4 = m->l3 == SL_L3_IPV4;
	uint32_t hdr = v4 ? IPV4_HDR : IPV6_HDR;
	uint32_t limit = v4 ? ICMP_ERR_V4_MAX : ICMP_ERR_V6_MAX;
	uint32_t quote, len;
	struct rte_mbuf *e;
	uint8_t *d, *eip, *icmp;
	const void *q;

	*out = NULL;
	if (!icmp_error_allowed(m, frame))
		return -EPERM;
	if (port_addr == NULL)
		return -EADDRNOTAVAIL;
	if (lim != NULL && !icmp_limit_take(lim, now))
		return -EBUSY;

	/* The datagram as it arrived, without Ethernet padding. */
	quote = RTE_MIN((uint32_t)(m->l3_end - m->l3_off),
			limit - hdr - ICMP_HDR);
	quote = RTE_MIN(quote, rte_pktmbuf_pkt_len(pkt) - m->l3_off);
	len = m->l3_off + hdr + ICMP_HDR + quote;
	e = rte_pktmbuf_alloc(pkt->pool);
	if (e == NULL)
		return -ENOMEM;
	d = (uint8_t *)rte_pktmbuf_append(e, (uint16_t)len);
	if (d == NULL) {
		rte_pktmbuf_free(e);
		return -ENOMEM;
	}
	l2_reply(d, frame, m->l3_off, port_mac);
	eip = d + m->l3_off;
	icmp = eip + hdr;
	q = rte_pktmbuf_read(pkt, m->l3_off, quote, icmp + ICMP_HDR);
	if (q != icmp + ICMP_HDR)
		memcpy(icmp + ICMP_HDR, q, quote);
	memset(icmp, 0, ICMP_HDR);

	if (v4) {
		struct rte_ipv4_hdr *h = (struct rte_ipv4_hdr *)eip;
		uint16_t ck;

		memset(h, 0, IPV4_HDR);
		h->version_ihl = 0x45;
		h->type_of_service = 0xc0;	/* RFC 1812 4.3.2.5 */
		h->total_length = rte_cpu_to_be_16((uint16_t)(hdr + ICMP_HDR +
							      quote));
		h->time_to_live = ERR_TTL;
		h->next_proto_id = PROTO_ICMP;
		memcpy(&h->src_addr, port_addr, 4);
		memcpy(&h->dst_addr, ip + 12, 4);
		h->hdr_checksum = rte_ipv4_cksum(h);
		icmp[0] = kind == ICMP_ERROR_TIME_EXCEEDED ? 11 : 3;
		icmp[1] = 0;
		ck = (uint16_t)~rte_raw_cksum(icmp, ICMP_HDR + quote);
		memcpy(icmp + 2, &ck, 2);	/* the sum is in memory order */
	} else {
		struct rte_ipv6_hdr *h = (struct rte_ipv6_hdr *)eip;
		uint16_t ck;

		memset(h, 0, IPV6_HDR);
		h->vtc_flow = rte_cpu_to_be_32(6u << 28);
		h->payload_len = rte_cpu_to_be_16((uint16_t)(ICMP_HDR + quote));
		h->proto = PROTO_ICMPV6;
		h->hop_limits = ERR_TTL;
		memcpy(h->src_addr, port_addr, 16);
		memcpy(h->dst_addr, ip + 8, 16);
		icmp[0] = kind == ICMP_ERROR_TIME_EXCEEDED ? 3 : 1;
		icmp[1] = 0;
		/* Pseudo-header (RFC 8200 8.1) and message. */
		ck = rte_ipv6_udptcp_cksum(h, icmp);
		memcpy(icmp + 2, &ck, 2);
	}
	e->port = pkt->port;
	e->l2_len = m->l3_off;
	e->l3_len = hdr;
	*out = e;
	return 0;
}
