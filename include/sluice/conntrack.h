/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Connection-tracking semantics shared by both datapaths: the states a flow
 * goes through, how one packet moves it, how long each state lives, and the
 * `ct` states rules match on.  Plain C with no library calls, so that the
 * DPDK conntrack (dataplane/conntrack.c) and the XDP program use the very
 * same transition function.
 *
 * The model follows Linux conntrack where an operator would notice a
 * difference (nftables is the oracle of the differential tests):
 *  - the first packet of a flow is `new`; packets of the original direction
 *    stay `new` until a reply is seen; the reply and everything after it is
 *    `established`;
 *  - TCP: a flow starts with a SYN, or is picked up mid-stream from a bare
 *    ACK (Linux's default nf_conntrack_tcp_loose); SYN-ACK, FIN or RST with
 *    no flow, or a flag combination the state machine does not allow, is
 *    `invalid` and creates nothing;
 *  - ICMP: echo (and the other query) requests start a flow, their replies
 *    belong to it; a reply or an error with no flow is `invalid`;
 *  - UDP and other protocols: any packet starts a flow.
 * Not modelled: TCP window tracking, ICMP errors as `related` (they are
 * `invalid` until the related lookup lands), fragments (untracked:
 * `invalid`), expectations/helpers.
 */
#ifndef SLUICE_CONNTRACK_H
#define SLUICE_CONNTRACK_H

#include <stdint.h>

#include "sluice/pkt_meta.h"	/* SL_TCP_* */

/* The `ct` match of a rule is a set of these bits (any of them). */
#define SL_CT_NEW         0x01
#define SL_CT_ESTABLISHED 0x02
#define SL_CT_RELATED     0x04
#define SL_CT_INVALID     0x08
#define SL_CT_ALL         0x0f

/* Where a flow stands.  TCP uses the TCP states; every other protocol uses
 * SL_CTS_OPEN until a reply is seen, then SL_CTS_REPLIED. */
#define SL_CT_STATES(_)                                                        \
	_(NONE, "none")                                                        \
	_(SYN_SENT, "syn_sent")                                                \
	_(SYN_RECV, "syn_recv")                                                \
	_(ESTABLISHED, "established")                                          \
	_(FIN_WAIT, "fin_wait")       /* one side sent FIN */                  \
	_(CLOSING, "closing")         /* both sides sent FIN */                \
	_(TIME_WAIT, "time_wait")     /* last ACK after both FINs */           \
	_(CLOSE, "close")             /* RST seen */                           \
	_(OPEN, "open")               /* UDP/ICMP/other, no reply yet */       \
	_(REPLIED, "replied")         /* UDP/ICMP/other, reply seen */

enum sl_ct_state {
#define SL_CTS_ENUM_(name, str) SL_CTS_##name,
	SL_CT_STATES(SL_CTS_ENUM_)
#undef SL_CTS_ENUM_
	SL_CTS_MAX
};

enum sl_ct_dir {
	SL_CT_DIR_ORIG = 0,	/* same direction as the flow's first packet */
	SL_CT_DIR_REPLY = 1,
};

/* Per-flow bits kept beside the state. */
#define SL_CTF_FIN_ORIG  0x01	/* the original side sent FIN */
#define SL_CTF_FIN_REPLY 0x02	/* the reply side sent FIN */

/* Result of sl_ct_tcp_step for a packet the state machine refuses. */
#define SL_CT_STEP_INVALID 0xff

/*
 * Move a TCP flow by one packet.  state and *fin are the flow's; dir is the
 * packet's direction, tcp_flags its flag byte.  Returns the new state, or
 * SL_CT_STEP_INVALID (state and *fin untouched) when the packet does not fit.
 * For a packet with no flow, pass SL_CTS_NONE: SYN gives SYN_SENT, a bare ACK
 * gives ESTABLISHED (mid-stream pick-up), anything else is invalid.
 */
static inline uint8_t
sl_ct_tcp_step(uint8_t state, uint8_t *fin, enum sl_ct_dir dir,
	       uint8_t tcp_flags)
{
	uint8_t syn = tcp_flags & SL_TCP_SYN, ack = tcp_flags & SL_TCP_ACK;
	uint8_t my_fin = dir == SL_CT_DIR_ORIG ? SL_CTF_FIN_ORIG
					       : SL_CTF_FIN_REPLY;

	/* Combinations no stack sends. */
	if ((syn && (tcp_flags & (SL_TCP_FIN | SL_TCP_RST))) ||
	    (tcp_flags & (SL_TCP_SYN | SL_TCP_FIN | SL_TCP_RST | SL_TCP_ACK)) == 0)
		return SL_CT_STEP_INVALID;

	if (tcp_flags & SL_TCP_RST)
		return state == SL_CTS_NONE ? SL_CT_STEP_INVALID : SL_CTS_CLOSE;

	if (syn && !ack) {
		/* A new connection, a retransmitted SYN, or a port reused
		 * after the old connection closed. */
		if (dir == SL_CT_DIR_ORIG &&
		    (state == SL_CTS_NONE || state == SL_CTS_SYN_SENT ||
		     state == SL_CTS_TIME_WAIT || state == SL_CTS_CLOSE)) {
			*fin = 0;
			return SL_CTS_SYN_SENT;
		}
		return SL_CT_STEP_INVALID;
	}
	if (syn) {	/* SYN-ACK: only the reply to a SYN */
		if (dir == SL_CT_DIR_REPLY &&
		    (state == SL_CTS_SYN_SENT || state == SL_CTS_SYN_RECV))
			return SL_CTS_SYN_RECV;
		return SL_CT_STEP_INVALID;
	}

	switch (state) {
	case SL_CTS_NONE:
		/* Pick-up: a bare ACK of a connection we never saw open. */
		return (tcp_flags & SL_TCP_FIN) ? SL_CT_STEP_INVALID
						: SL_CTS_ESTABLISHED;
	case SL_CTS_SYN_SENT:
		/* Only SYNs are expected until the SYN-ACK. */
		return SL_CT_STEP_INVALID;
	case SL_CTS_CLOSE:
		return SL_CTS_CLOSE;
	default:
		break;
	}

	if (tcp_flags & SL_TCP_FIN) {
		*fin |= my_fin;
		if (*fin == (SL_CTF_FIN_ORIG | SL_CTF_FIN_REPLY))
			return state == SL_CTS_TIME_WAIT ? SL_CTS_TIME_WAIT
							 : SL_CTS_CLOSING;
		return SL_CTS_FIN_WAIT;
	}
	/* A bare ACK. */
	switch (state) {
	case SL_CTS_SYN_RECV:
		return dir == SL_CT_DIR_ORIG ? SL_CTS_ESTABLISHED : SL_CTS_SYN_RECV;
	case SL_CTS_CLOSING:
		return SL_CTS_TIME_WAIT;
	default:
		return state;
	}
}

#endif /* SLUICE_CONNTRACK_H */
