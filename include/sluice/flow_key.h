/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The symmetric flow key and its hash, shared by the DPDK dataplane, the
 * control plane (Maglev, tests) and the XDP loader.
 *
 * Both directions of a flow give the same key: the (address, port) end that
 * compares lower - address bytes first (memcmp over 4 bytes for IPv4, 16 for
 * IPv6), then port - is stored as "lo", the other as "hi".  Equal ends keep
 * source as lo.  Unused bytes are zero, so the key can be hashed and compared
 * as 40 plain bytes.
 */
#ifndef SLUICE_FLOW_KEY_H
#define SLUICE_FLOW_KEY_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

enum sl_family {
	SL_FAMILY_NONE = 0,	/* not IP: the key is all zero */
	SL_FAMILY_IPV4 = 4,
	SL_FAMILY_IPV6 = 6,
};

struct sl_flow_key {
	uint8_t addr_lo[16];	/* network order; IPv4 uses bytes 0..3 */
	uint8_t addr_hi[16];
	uint16_t port_lo;	/* host order; 0 where the protocol has none */
	uint16_t port_hi;
	uint8_t proto;		/* IP protocol number of the L4 header */
	uint8_t family;		/* enum sl_family */
	uint8_t pad[2];		/* always zero */
};

_Static_assert(sizeof(struct sl_flow_key) == 40, "flow key is 40 bytes");

/*
 * Build the symmetric key from one direction's 5-tuple.  addr_len is 4 or
 * 16.  Returns true when the ends were swapped (the packet travels hi -> lo),
 * so callers can recover the original source and destination.
 */
static inline bool
sl_flow_key_make(struct sl_flow_key *key, uint8_t family, uint8_t proto,
		 const uint8_t *src, const uint8_t *dst, unsigned int addr_len,
		 uint16_t sport, uint16_t dport)
{
	int c = memcmp(src, dst, addr_len);
	bool swap = c > 0 || (c == 0 && sport > dport);

	memset(key, 0, sizeof(*key));
	memcpy(key->addr_lo, swap ? dst : src, addr_len);
	memcpy(key->addr_hi, swap ? src : dst, addr_len);
	key->port_lo = swap ? dport : sport;
	key->port_hi = swap ? sport : dport;
	key->proto = proto;
	key->family = family;
	return swap;
}

/* XXH3 64-bit hash of the 40 key bytes with a configured seed. */
uint64_t sl_flow_hash(const struct sl_flow_key *key, uint64_t seed);

#endif /* SLUICE_FLOW_KEY_H */
