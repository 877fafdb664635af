/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Random packets for the parser tests (test_parse_diff.c) and benchmarks:
 * well-formed frames of every shape the parser knows, built so that a good
 * share of them sit exactly on, or one byte either side of, each length the
 * parser checks, then optionally mutated (byte flips, length-field nudges,
 * truncation, pure noise).  Header-only; deterministic for a given seed.
 */
#ifndef SLUICE_TEST_PARSE_PKTGEN_H
#define SLUICE_TEST_PARSE_PKTGEN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define PG_MAX_LEN 512

struct pg_rng {
	uint64_t s;
};

/* splitmix64: small, fast, good enough for test inputs */
static inline uint64_t
pg_next(struct pg_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [0, n) (n > 0; the bias is irrelevant here). */
static inline unsigned int
pg_below(struct pg_rng *r, unsigned int n)
{
	return (unsigned int)(pg_next(r) % n);
}

/* True with probability pct percent. */
static inline int
pg_chance(struct pg_rng *r, unsigned int pct)
{
	return pg_below(r, 100) < pct;
}

static inline void
pg_put16(uint8_t *p, unsigned int v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void
pg_fill(struct pg_rng *r, uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)pg_next(r);
}

/* A length that is right most of the time, else one off or anything. */
static inline unsigned int
pg_len_field(struct pg_rng *r, unsigned int right)
{
	unsigned int k = pg_below(r, 100);

	if (k < 80)
		return right;
	if (k < 88)
		return right + 1;
	if (k < 96)
		return right - 1;
	return pg_below(r, 65536);
}

/* Two addresses (or ports) that are often equal or nearly so, to exercise
 * every branch of the symmetric key order. */
static inline void
pg_addr_pair(struct pg_rng *r, uint8_t *src, uint8_t *dst, size_t n)
{
	pg_fill(r, src, n);
	switch (pg_below(r, 4)) {
	case 0:
		memcpy(dst, src, n);
		break;
	case 1:
		memcpy(dst, src, n);
		dst[pg_below(r, (unsigned int)n)] ^= (uint8_t)(1 + pg_below(r, 255));
		break;
	default:
		pg_fill(r, dst, n);
	}
}

/*
 * L4 header + payload at p (room bytes free).  Returns the bytes used.  v6
 * selects ICMPv6 echo types.
 */
static inline size_t
pg_l4(struct pg_rng *r, uint8_t *p, size_t room, unsigned int proto, int v6)
{
	size_t payload = pg_chance(r, 50) ? 0 : pg_below(r, 48);
	size_t hlen;
	uint8_t ports[4];

	switch (proto) {
	case 6: {
		unsigned int doff = pg_chance(r, 75) ? 5 : pg_below(r, 16);

		hlen = doff >= 5 ? doff * 4u : 20;
		if (hlen + payload > room)
			return 0;
		pg_fill(r, p, hlen + payload);
		pg_addr_pair(r, ports, ports + 2, 2);
		memcpy(p, ports, 4);
		p[12] = (uint8_t)(doff << 4 | (p[12] & 0x0f));
		break;
	}
	case 17:
		hlen = 8;
		if (hlen + payload > room)
			return 0;
		pg_fill(r, p, hlen + payload);
		pg_addr_pair(r, ports, ports + 2, 2);
		memcpy(p, ports, 4);
		pg_put16(p + 4, pg_len_field(r, (unsigned int)(hlen + payload)));
		break;
	case 132:
		hlen = 12;
		if (hlen + payload > room)
			return 0;
		pg_fill(r, p, hlen + payload);
		break;
	case 1:
	case 58: {
		static const uint8_t types[] = { 0, 8, 3, 11, 128, 129, 135, 1 };

		hlen = 8;
		if (hlen + payload > room)
			return 0;
		pg_fill(r, p, hlen + payload);
		p[0] = types[pg_below(r, sizeof(types))];
		(void)v6;
		break;
	}
	case 47: {
		unsigned int flags = pg_below(r, 65536);

		if (pg_chance(r, 80))
			flags &= 0xb081 | (pg_chance(r, 50) ? 0 : 0x7e);
		if (pg_chance(r, 80))
			flags = (flags & ~7u) | pg_below(r, 2);
		hlen = 4 + 4u * (!!(flags & 0x8000) + !!(flags & 0x2000) +
				 !!(flags & 0x1000) + !!(flags & 0x0080));
		if (hlen + payload > room)
			return 0;
		pg_fill(r, p, hlen + payload);
		pg_put16(p, flags);
		break;
	}
	default:
		hlen = 0;
		if (payload > room)
			return 0;
		pg_fill(r, p, payload);
	}
	return hlen + payload;
}

/*
 * "fast" below: the frame takes a shape the vector parsers build without
 * the scalar code (IPv4 IHL 5 unfragmented or IPv6 without extension
 * headers, TCP or UDP), lengths still nudged around their limits.
 */
static inline unsigned int
pg_proto(struct pg_rng *r, int fast)
{
	static const uint8_t protos[] = { 6, 17, 6, 17, 6, 17, 132, 1, 58, 47,
					  47, 0, 43, 44, 60, 51, 59, 4, 41 };

	if (fast)
		return pg_chance(r, 50) ? 6 : 17;
	if (pg_chance(r, 5))
		return pg_below(r, 256);
	return protos[pg_below(r, sizeof(protos))];
}

/* IPv4 header (+ options) and payload at p; returns bytes used. */
static inline size_t
pg_ipv4(struct pg_rng *r, uint8_t *p, size_t room, int fast)
{
	unsigned int ihl = fast || pg_chance(r, 80) ? 5 : pg_below(r, 16);
	unsigned int hlen = ihl >= 5 ? ihl * 4 : 20;
	unsigned int proto = pg_proto(r, fast);
	unsigned int frag = 0;
	size_t l4;

	if (hlen > room)
		return 0;
	pg_fill(r, p, hlen);
	p[0] = (uint8_t)((pg_chance(r, 97) ? 4 : pg_below(r, 16)) << 4 | ihl);
	switch (fast ? 4 + pg_below(r, 2) : pg_below(r, 8)) {
	case 0:
		frag = 0x2000;			/* first fragment */
		break;
	case 1:
		frag = 0x2000 | (1 + pg_below(r, 0x1fff));	/* middle */
		break;
	case 2:
		frag = 1 + pg_below(r, 0x1fff);	/* last */
		break;
	case 3:
		frag = pg_below(r, 65536);	/* anything */
		break;
	case 4:
		frag = 0x4000;			/* DF */
		break;
	default:
		frag = 0;
	}
	pg_put16(p + 6, frag);
	p[9] = (uint8_t)proto;
	pg_addr_pair(r, p + 12, p + 16, 4);
	l4 = pg_l4(r, p + hlen, room - hlen, proto, 0);
	pg_put16(p + 2, pg_len_field(r, (unsigned int)(hlen + l4)));
	return hlen + l4;
}

/* IPv6 header, extension chain and payload at p; returns bytes used. */
static inline size_t
pg_ipv6(struct pg_rng *r, uint8_t *p, size_t room, int fast)
{
	static const uint8_t exts[] = { 0, 43, 60, 44, 51 };
	unsigned int n_ext = 0;
	size_t off = 40, l4;
	uint8_t *nh = p + 6;

	if (room < 40)
		return 0;
	pg_fill(r, p, 40);
	p[0] = (uint8_t)((pg_chance(r, 97) ? 6 : pg_below(r, 16)) << 4 |
			 (p[0] & 0x0f));
	pg_addr_pair(r, p + 8, p + 24, 16);
	if (!fast && pg_chance(r, 40))
		n_ext = pg_chance(r, 90) ? 1 + pg_below(r, 3) :
					   pg_below(r, 2 * 8 + 2);
	for (unsigned int i = 0; i < n_ext; i++) {
		unsigned int t = exts[pg_below(r, sizeof(exts))];
		size_t elen;
		unsigned int hdr1;

		if (t == 44) {
			static const unsigned int fo[] = { 0, 1, 8, 9, 0xfff8,
							   0x0011 };

			elen = 8;
			if (off + elen > room)
				break;
			pg_fill(r, p + off, elen);
			pg_put16(p + off + 2, pg_chance(r, 80) ?
				 fo[pg_below(r, 6)] : pg_below(r, 65536));
		} else {
			hdr1 = pg_chance(r, 80) ? pg_below(r, 3) : pg_below(r, 256);
			elen = t == 51 ? (hdr1 + 2) * 4 : (hdr1 + 1) * 8;
			if (off + elen > room)
				break;
			pg_fill(r, p + off, elen);
			p[off + 1] = (uint8_t)hdr1;
		}
		*nh = (uint8_t)t;
		nh = p + off;
		off += elen;
	}
	*nh = (uint8_t)pg_proto(r, fast);
	l4 = pg_l4(r, p + off, room - off, *nh, 1);
	pg_put16(p + 4, pg_len_field(r, (unsigned int)(off - 40 + l4)));
	return off + l4;
}

/*
 * A frame of random shape in buf (PG_MAX_LEN bytes); returns its length.
 * Mostly well-formed, with lengths near the checked boundaries; about a
 * third take the vector parsers' fast shapes.  No mutation (see pg_mutate).
 */
static inline size_t
pg_frame(struct pg_rng *r, uint8_t *buf)
{
	static const uint16_t tpids[] = { 0x8100, 0x88a8, 0x9100 };
	unsigned int k = pg_below(r, 100);
	int fast = pg_chance(r, 35);
	unsigned int n_vlan;
	size_t off = 12, used;

	pg_fill(r, buf, 12);
	n_vlan = k < 60 ? 0 : k < 85 ? 1 : k < 97 ? 2 : 3;
	if (fast && n_vlan > 1)
		n_vlan = 1;
	for (unsigned int i = 0; i < n_vlan; i++) {
		pg_put16(buf + off, tpids[pg_below(r, 3)]);
		pg_put16(buf + off + 2, pg_below(r, 65536));
		off += 4;
	}
	k = fast ? pg_below(r, 85) : pg_below(r, 100);
	if (k < 45) {
		pg_put16(buf + off, 0x0800);
		off += 2;
		used = pg_ipv4(r, buf + off, PG_MAX_LEN - 64 - off, fast);
	} else if (k < 85) {
		pg_put16(buf + off, 0x86dd);
		off += 2;
		used = pg_ipv6(r, buf + off, PG_MAX_LEN - 64 - off, fast);
	} else if (k < 92) {
		pg_put16(buf + off, 0x0806);
		off += 2;
		used = 28;
		pg_fill(r, buf + off, used);
	} else {
		pg_put16(buf + off, pg_below(r, 65536));
		off += 2;
		used = pg_below(r, 64);
		pg_fill(r, buf + off, used);
	}
	off += used;
	/* Ethernet padding or trailing bytes, sometimes */
	if (pg_chance(r, 25)) {
		size_t pad = off < 60 && pg_chance(r, 50) ? 60 - off :
							    pg_below(r, 16);

		pg_fill(r, buf + off, pad);
		off += pad;
	}
	return off;
}

/* Mutate a frame in place: flips, nudged bytes, truncation, noise. */
static inline size_t
pg_mutate(struct pg_rng *r, uint8_t *buf, size_t len)
{
	unsigned int k = pg_below(r, 100);

	if (k < 40)
		return len;
	if (k < 60) {
		unsigned int flips = 1 + pg_below(r, 4);

		for (unsigned int i = 0; i < flips && len > 0; i++)
			buf[pg_below(r, (unsigned int)len)] ^=
				(uint8_t)(1u << pg_below(r, 8));
		return len;
	}
	if (k < 70) {
		/* nudge a byte by +-1: length fields live on boundaries */
		if (len > 0)
			buf[pg_below(r, (unsigned int)len)] +=
				pg_chance(r, 50) ? 1 : 0xff;
		return len;
	}
	if (k < 90)
		return len > 0 ? pg_below(r, (unsigned int)len + 1) : 0;
	if (k < 97) {
		/* grow with garbage: lengths beyond the datagram */
		size_t extra = pg_below(r, 32);

		if (len + extra > PG_MAX_LEN)
			extra = PG_MAX_LEN - len;
		pg_fill(r, buf + len, extra);
		return len + extra;
	}
	len = pg_below(r, 129);
	pg_fill(r, buf, len);
	return len;
}

#endif /* SLUICE_TEST_PARSE_PKTGEN_H */
