/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The netlink session: two rtnetlink sockets, one subscribed to the events
 * (non-blocking, read by sl_nl_poll), one for requests and dumps (blocking,
 * answered before a request returns), and the request/ack machinery with the
 * kernel's extended-ack messages.  What the events mean is
 * lib/netlink_route.c's business; link configuration is in
 * lib/netlink_link.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "sluice/errf.h"

#include "netlink_internal.h"

#define NL_EVENT_RCVBUF		(32 * 1024 * 1024)
#define NL_REQUEST_TIMEOUT_S	10
/* Re-reads in one sl_nl_poll() call at most: past this the kernel changes
 * faster than a dump, and the next call goes on. */
#define NL_POLL_RESYNCS_MAX	3

int
nl_fail(struct sl_nl *nl, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(nl->errmsg, sizeof(nl->errmsg), fmt, ap);
	va_end(ap);
	return err;
}

static void
nl_vlog(struct sl_nl *nl, const char *fmt, va_list ap)
{
	char msg[NL_ERRMSG_MAX];

	if (nl->h.log == NULL)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	nl->h.log(nl->h.arg, msg);
}

void
nl_log(struct sl_nl *nl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	nl_vlog(nl, fmt, ap);
	va_end(ap);
}

void
nl_log_once(struct sl_nl *nl, uint32_t kind, const char *fmt, ...)
{
	va_list ap;

	if (nl->logged & kind)
		return;
	nl->logged |= kind;
	va_start(ap, fmt);
	nl_vlog(nl, fmt, ap);
	va_end(ap);
}

const char *
nl_prefix_str(const struct sl_prefix *p, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN];
	int af = p->family == SL_FAMILY_IPV6 ? AF_INET6 : AF_INET;

	if (p->family == SL_FAMILY_NONE) {
		snprintf(buf, size, "none");
		return buf;
	}
	inet_ntop(af, p->addr, a, sizeof(a));
	snprintf(buf, size, "%s/%u", a, p->len);
	return buf;
}

/* The kernel's extended-ack text in an NLMSG_ERROR or NLMSG_DONE, or NULL.
 * off: where the attributes start in the payload. */
static const char *
nl_ext_ack_msg(const struct nlmsghdr *m, unsigned int off)
{
	const struct nlattr *attr;

	if (!(m->nlmsg_flags & NLM_F_ACK_TLVS))
		return NULL;
	if (MNL_ALIGN(off) + NLMSG_HDRLEN > m->nlmsg_len)
		return NULL;
	mnl_attr_for_each(attr, m, MNL_ALIGN(off)) {
		if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
		    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
			return mnl_attr_get_str(attr);
	}
	return NULL;
}

static int
nl_status_fail(struct sl_nl *nl, int err, const char *ext, const char *what)
{
	if (ext != NULL && ext[0] != '\0')
		return nl_fail(nl, err, "%s: %s (kernel: %s)", what,
			       strerror(-err), ext);
	return nl_fail(nl, err, "%s: %s", what, strerror(-err));
}

/* NLMSG_ERROR: 0 for an ack, else the -errno with its text. */
static int
nl_parse_error(struct sl_nl *nl, const struct nlmsghdr *m, const char *what)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(m);
	unsigned int off = sizeof(*e);

	if (m->nlmsg_len < mnl_nlmsg_size(sizeof(*e)))
		return nl_fail(nl, -EBADMSG, "%s: short error message", what);
	if (e->error == 0)
		return 0;
	if (!(m->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
	return nl_status_fail(nl, e->error > 0 ? -e->error : e->error,
			      nl_ext_ack_msg(m, off), what);
}

/* NLMSG_DONE: a dump's status, 0 or -errno. */
static int
nl_parse_done(struct sl_nl *nl, const struct nlmsghdr *m, const char *what)
{
	int status;

	if (m->nlmsg_len < mnl_nlmsg_size(sizeof(int)))
		return 0;
	memcpy(&status, mnl_nlmsg_get_payload(m), sizeof(status));
	if (status >= 0)
		return 0;
	return nl_status_fail(nl, status, nl_ext_ack_msg(m, sizeof(int)),
			      what);
}

int
nl_request(struct sl_nl *nl, struct nlmsghdr *nlh, nl_msg_cb cb, void *data,
	   const char *what)
{
	uint32_t seq = ++nl->seq;
	bool intr = false;
	int cb_err = 0;

	nlh->nlmsg_seq = seq;
	nlh->nlmsg_pid = 0;
	nlh->nlmsg_flags |= NLM_F_REQUEST;
	if (mnl_socket_sendto(nl->req, nlh, nlh->nlmsg_len) < 0)
		return nl_fail(nl, -errno, "%s: send: %s", what,
			       strerror(errno));
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl->req, nl->reqbuf,
						NL_BUF_SIZE);
		const struct nlmsghdr *m = (const void *)nl->reqbuf;
		int len = (int)n;
		int err;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = errno == EAGAIN || errno == EWOULDBLOCK ?
				ETIMEDOUT : errno;
			return nl_fail(nl, -err, "%s: receive: %s", what,
				       strerror(err));
		}
		for (; mnl_nlmsg_ok(m, len); m = mnl_nlmsg_next(m, &len)) {
			if (m->nlmsg_seq != seq)
				continue;	/* late answer to an old one */
			if (m->nlmsg_flags & NLM_F_DUMP_INTR)
				intr = true;
			switch (m->nlmsg_type) {
			case NLMSG_NOOP:
			case NLMSG_OVERRUN:
				continue;
			case NLMSG_ERROR:
				err = nl_parse_error(nl, m, what);
				goto done;
			case NLMSG_DONE:
				err = nl_parse_done(nl, m, what);
				goto done;
			default:
				nl->stats.msgs++;
				if (cb != NULL && cb_err == 0)
					cb_err = cb(nl, m, data);
			}
		}
		continue;
done:
		if (err != 0)
			return err;
		if (cb_err != 0)
			return cb_err;
		if (intr)
			return nl_fail(nl, -EINTR, "%s: interrupted by a change",
				       what);
		return 0;
	}
}

static int
nl_setsockopt(struct mnl_socket *s, int level, int name, int value)
{
	return setsockopt(mnl_socket_get_fd(s), level, name, &value,
			  sizeof(value)) < 0 ? -errno : 0;
}

static int
nl_join(struct mnl_socket *s, unsigned int group)
{
	return nl_setsockopt(s, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP,
			     (int)group);
}

int
sl_nl_set_event_rcvbuf(struct sl_nl *nl, int bytes)
{
	/* FORCE passes net.core.rmem_max, for root (CAP_NET_ADMIN). */
	if (nl_setsockopt(nl->ev, SOL_SOCKET, SO_RCVBUFFORCE, bytes) == 0)
		return 0;
	return nl_setsockopt(nl->ev, SOL_SOCKET, SO_RCVBUF, bytes);
}

static struct mnl_socket *
nl_socket(int flags, uint32_t *portid)
{
	struct mnl_socket *s = mnl_socket_open2(NETLINK_ROUTE,
						SOCK_CLOEXEC | flags);
	int e;

	if (s == NULL)
		return NULL;
	if (mnl_socket_bind(s, 0, MNL_SOCKET_AUTOPID) < 0) {
		e = errno;
		mnl_socket_close(s);
		errno = e;
		return NULL;
	}
	if (portid != NULL)
		*portid = mnl_socket_get_portid(s);
	return s;
}

struct sl_nl *
sl_nl_open(uint32_t route_table, const struct sl_nl_handlers *h, char *err,
	   size_t err_size)
{
	struct timeval tv = { .tv_sec = NL_REQUEST_TIMEOUT_S };
	bool routes, neigh;
	struct sl_nl *nl;
	int e;

	nl = calloc(1, sizeof(*nl));
	if (nl == NULL) {
		sl_errf(err, err_size, "netlink: out of memory");
		errno = ENOMEM;
		return NULL;
	}
	if (h != NULL)
		nl->h = *h;
	nl->table = route_table;
	routes = route_table != 0 && nl->h.route != NULL;
	neigh = nl->h.neigh != NULL;
	nl->evbuf = malloc(NL_BUF_SIZE);
	nl->reqbuf = malloc(NL_BUF_SIZE);
	nl->m = nl_mirror_new();
	if (nl->evbuf == NULL || nl->reqbuf == NULL || nl->m == NULL) {
		sl_errf(err, err_size, "netlink: out of memory");
		e = ENOMEM;
		goto fail;
	}

	nl->req = nl_socket(0, &nl->req_portid);
	nl->ev = nl_socket(SOCK_NONBLOCK, NULL);
	if (nl->req == NULL || nl->ev == NULL) {
		e = errno;
		sl_errf(err, err_size, "netlink: socket: %s", strerror(e));
		goto fail;
	}
	/* Kernel error texts; acks without a copy of our request; dumps the
	 * kernel filters by table (4.20+: refused by older ones, and then we
	 * filter alone).  Only the texts are worth a failure. */
	nl_setsockopt(nl->req, SOL_NETLINK, NETLINK_EXT_ACK, 1);
	nl_setsockopt(nl->req, SOL_NETLINK, NETLINK_CAP_ACK, 1);
	nl_setsockopt(nl->req, SOL_NETLINK, NETLINK_GET_STRICT_CHK, 1);
	if (setsockopt(mnl_socket_get_fd(nl->req), SOL_SOCKET, SO_RCVTIMEO,
		       &tv, sizeof(tv)) < 0) {
		e = errno;
		sl_errf(err, err_size, "netlink: SO_RCVTIMEO: %s", strerror(e));
		goto fail;
	}

	/* Subscribe before any dump, so no change falls between the two. */
	e = 0;
	if (routes || neigh)
		e = -nl_join(nl->ev, RTNLGRP_LINK);
	if (e == 0 && neigh)
		e = -nl_join(nl->ev, RTNLGRP_NEIGH);
	if (e == 0 && routes)
		e = -nl_join(nl->ev, RTNLGRP_IPV4_ROUTE);
	if (e == 0 && routes)
		e = -nl_join(nl->ev, RTNLGRP_IPV6_ROUTE);
	if (e != 0) {
		sl_errf(err, err_size, "netlink: joining event groups: %s",
			strerror(e));
		goto fail;
	}
	/* Kernels before 5.3 have no nexthop objects, nor their group. */
	if (routes && nl_join(nl->ev, RTNLGRP_NEXTHOP) < 0)
		nl_log(nl, "netlink: no nexthop object events (kernel < 5.3?)");
	e = -sl_nl_set_event_rcvbuf(nl, NL_EVENT_RCVBUF);
	if (e != 0) {
		sl_errf(err, err_size, "netlink: event socket buffer: %s",
			strerror(e));
		goto fail;
	}
	return nl;

fail:
	sl_nl_close(nl);
	errno = e;
	return NULL;
}

void
sl_nl_close(struct sl_nl *nl)
{
	if (nl == NULL)
		return;
	if (nl->ev != NULL)
		mnl_socket_close(nl->ev);
	if (nl->req != NULL)
		mnl_socket_close(nl->req);
	nl_mirror_free(nl->m);
	free(nl->evbuf);
	free(nl->reqbuf);
	free(nl);
}

int
sl_nl_fd(const struct sl_nl *nl)
{
	return mnl_socket_get_fd(nl->ev);
}

void
sl_nl_get_stats(const struct sl_nl *nl, struct sl_nl_stats *out)
{
	*out = nl->stats;
}

const char *
sl_nl_errmsg(const struct sl_nl *nl)
{
	return nl->errmsg;
}

int
sl_nl_dump(struct sl_nl *nl)
{
	unsigned int changes;
	int rc;

	if (nl->dumped)
		nl->stats.resyncs++;
	rc = nl_mirror_sync(nl, &changes);
	if (rc == 0)
		nl->dumped = true;
	return rc;
}

/* Re-read the tables after lost events or silent kernel changes. */
static int
nl_resync(struct sl_nl *nl)
{
	unsigned int changes = 0;
	int rc;

	nl->stats.resyncs++;
	rc = nl_mirror_sync(nl, &changes);
	if (rc == 0)
		nl->dumped = true;
	if (nl->h.resynced != NULL)
		nl->h.resynced(nl->h.arg, changes);
	return rc;
}

/* After ENOBUFS the queue holds events from before the loss, which the
 * dump that follows supersedes: replaying them after it would undo newer
 * state.  Throw them away; what arrives from here on is kept. */
static void
nl_drain(struct sl_nl *nl)
{
	int fd = mnl_socket_get_fd(nl->ev);

	for (;;) {
		ssize_t n = recv(fd, nl->evbuf, NL_BUF_SIZE, MSG_DONTWAIT);

		if (n < 0 && errno != EINTR && errno != ENOBUFS)
			return;
	}
}

int
sl_nl_poll(struct sl_nl *nl, unsigned int max_msgs)
{
	int fd = mnl_socket_get_fd(nl->ev);
	unsigned int handled = 0, resyncs = 0;
	bool resync = false;
	int rc;

	while (max_msgs == 0 || handled < max_msgs) {
		struct sockaddr_nl from;
		socklen_t fromlen = sizeof(from);
		const struct nlmsghdr *m = (const void *)nl->evbuf;
		ssize_t n = recvfrom(fd, nl->evbuf, NL_BUF_SIZE, MSG_DONTWAIT,
				     (struct sockaddr *)&from, &fromlen);
		int len = (int)n;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno != ENOBUFS)
				return nl_fail(nl, -errno, "netlink events: %s",
					       strerror(errno));
			nl->stats.overruns++;
			nl_log_once(nl, NL_LOG_OVERRUN, "netlink: events lost "
				    "(socket buffer full); re-reading the "
				    "kernel tables (counted from now on)");
			nl_drain(nl);
			rc = nl_resync(nl);
			if (rc < 0)
				return rc;
			resync = false;	/* that re-read covers it */
			if (++resyncs >= NL_POLL_RESYNCS_MAX)
				break;
			continue;
		}
		if (from.nl_pid != 0)
			continue;	/* not from the kernel */
		for (; mnl_nlmsg_ok(m, len); m = mnl_nlmsg_next(m, &len)) {
			handled++;
			nl->stats.msgs++;
			if (nl_mirror_event(nl, m))
				resync = true;
		}
	}
	if (resync) {
		nl->stats.link_resyncs++;
		rc = nl_resync(nl);
		if (rc < 0)
			return rc;
	}
	return (int)handled;
}
