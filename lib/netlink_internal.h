/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the three netlink files share: the session, its request/ack
 * machinery (lib/netlink.c) and the mirror of the kernel's tables
 * (lib/netlink_route.c).  Not installed; nothing outside lib/netlink*.c
 * includes it.
 */
#ifndef SLUICE_LIB_NETLINK_INTERNAL_H
#define SLUICE_LIB_NETLINK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libmnl/libmnl.h>

#include "sluice/netlink.h"

/* Requests and dumps: one receive of a dump returns up to 32 KiB. */
#define NL_BUF_SIZE	(64 * 1024)
#define NL_ERRMSG_MAX	256

/* Kinds of things logged once per session (struct sl_nl.logged). */
enum nl_log_once {
	NL_LOG_TOS = 1u << 0,
	NL_LOG_SRC = 1u << 1,
	NL_LOG_ENCAP = 1u << 2,
	NL_LOG_TRUNC = 1u << 3,
	NL_LOG_NH_UNKNOWN = 1u << 4,
	NL_LOG_NH_WEIGHT = 1u << 5,
	NL_LOG_OVERRUN = 1u << 6,
	NL_LOG_NO_NH_OBJ = 1u << 7,
};

struct nl_mirror;	/* lib/netlink_route.c */

struct sl_nl {
	struct mnl_socket *ev;		/* subscribed to the events */
	struct mnl_socket *req;		/* requests, dumps, acks */
	uint32_t req_portid;
	uint32_t seq;
	uint32_t table;			/* mirrored route table; 0: none */
	struct sl_nl_handlers h;
	struct sl_nl_stats stats;
	struct nl_mirror *m;
	bool dumped;			/* sl_nl_dump() ran once */
	uint32_t logged;		/* enum nl_log_once bits */
	char *evbuf;			/* NL_BUF_SIZE each */
	char *reqbuf;
	char errmsg[NL_ERRMSG_MAX];
};

/*
 * One data message of a request's answer.  Returns 0, or -errno to make the
 * request fail with it (the answer is still read to its end).
 */
typedef int (*nl_msg_cb)(struct sl_nl *nl, const struct nlmsghdr *nlh,
			 void *data);

/*
 * Send nlh on the request socket (sequence and NLM_F_REQUEST set here; the
 * caller sets NLM_F_DUMP or NLM_F_ACK) and read its whole answer, calling
 * cb for each data message.  Returns 0; the kernel's -errno, with its
 * extended-ack text in nl->errmsg after "what: "; -EINTR when a dump was
 * interrupted by a change (NLM_F_DUMP_INTR): redo it; -ETIMEDOUT.
 */
int nl_request(struct sl_nl *nl, struct nlmsghdr *nlh, nl_msg_cb cb,
	       void *data, const char *what);

/* Write nl->errmsg; returns err (a -errno) for `return nl_fail(...)`. */
int nl_fail(struct sl_nl *nl, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Through h.log, once per session for each enum nl_log_once kind. */
void nl_log_once(struct sl_nl *nl, uint32_t kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void nl_log(struct sl_nl *nl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Address text for messages ("10.0.0.1/24"). */
const char *nl_prefix_str(const struct sl_prefix *p, char *buf, size_t size);

/* lib/netlink_route.c */
struct nl_mirror *nl_mirror_new(void);
void nl_mirror_free(struct nl_mirror *m);

/* One event message; returns true when the kernel's tables must be re-read
 * (a link went up or down under routes or neighbours). */
bool nl_mirror_event(struct sl_nl *nl, const struct nlmsghdr *nlh);

/* Re-read everything and report the differences; *changes counts them. */
int nl_mirror_sync(struct sl_nl *nl, unsigned int *changes);

#endif /* SLUICE_LIB_NETLINK_INTERNAL_H */
