/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The search keys the firewall builds per packet for rte_acl, and the field
 * layout the ACL contexts are built with.  Private to fw.c and fw_build.c.
 *
 * rte_acl wants the first field one byte long and every later field in
 * groups of four bytes; it reads the key in network byte order (rules are
 * given in host order).  flags packs the packet's ct bit and TCP flags so
 * that one 4-byte BITMASK field matches both: (ct << 8) | tcp_flags.
 */
#ifndef SLUICE_DP_FW_KEY_H
#define SLUICE_DP_FW_KEY_H

#include <stdint.h>

/* Outer VLAN value of an untagged packet: no 12-bit VID equals it. */
#define FW_NO_VLAN 0xffff

struct fw_key4 {
	uint8_t proto;
	uint8_t pad[3];
	uint32_t src;
	uint32_t dst;
	uint16_t sport;
	uint16_t dport;
	uint16_t in_port;
	uint16_t vlan;
	uint32_t flags;
};

struct fw_key6 {
	uint8_t proto;
	uint8_t pad[3];
	uint32_t src[4];
	uint32_t dst[4];
	uint16_t sport;
	uint16_t dport;
	uint16_t in_port;
	uint16_t vlan;
	uint32_t flags;
};

/* ACL categories (see fw.h).  A generation without payload rules builds
 * and classifies one category only: fewer tries, faster builds. */
#define FW_CAT_PLAIN   0
#define FW_CAT_PAYLOAD 1
/* rte_acl_classify wants 1 or a multiple of RTE_ACL_RESULTS_MULTIPLIER. */
#define FW_CATEGORIES  4

#endif /* SLUICE_DP_FW_KEY_H */
