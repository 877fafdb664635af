/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A pcapng file in memory (the IETF draft "PCAP Next Generation Dump File
 * Format"): one section, one Ethernet interface, nanosecond timestamps,
 * host byte order (readers learn it from the SHB's magic).  Used by the
 * DPDK capture (dataplane/watch.c) and the XDP one (bpf/xdp_trace.c).
 *
 * The buffer has a sticky error: a write after a failure does nothing, and
 * the caller checks err once at the end.  Not thread safe.
 */
#ifndef SLUICE_PCAPNG_H
#define SLUICE_PCAPNG_H

#include <stddef.h>
#include <stdint.h>

struct sl_pcapng {
	uint8_t *p;		/* the file; free() it */
	size_t len;
	size_t cap;
	int err;		/* 0, or -ENOMEM: p holds no whole file */
};

/* The Section Header Block (appl: the writing application) and the one
 * Interface Description Block (ifname, snaplen). */
void sl_pcapng_head(struct sl_pcapng *b, const char *appl, const char *ifname,
		    uint32_t snaplen);

/* An Enhanced Packet Block on interface 0: cap_len bytes of data, of a
 * packet orig_len long, seen at ts_ns (ns since the epoch). */
void sl_pcapng_packet(struct sl_pcapng *b, uint64_t ts_ns, const void *data,
		      uint32_t cap_len, uint32_t orig_len);

#endif /* SLUICE_PCAPNG_H */
