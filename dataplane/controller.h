/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The dataplane's link to sluiced (--controller PATH): the dataplane side
 * of the protocol in sluice/dp_proto.h (docs/dp-protocol.md is the prose).
 * Control thread (main lcore) only; nothing here runs per packet.
 *
 * The link connects to sluiced's socket, says hello, and serves requests
 * from the supervision loop without stalling it: each tick reads what the
 * socket holds and answers each whole request.  A reply is written with
 * sl_dp_send and may wait up to DP_CTL_SEND_TIMEOUT_MS for room in the
 * socket; a peer that does not read for that long is dropped.  While
 * sluiced is gone the link tries again every DP_CTL_RETRY_MS, logging the
 * outage once, and forwarding goes on with the generation in force.
 */
#ifndef SLUICE_DP_CONTROLLER_H
#define SLUICE_DP_CONTROLLER_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "sluice/dp_proto.h"

#include "watch.h"

#define DP_CTL_RETRY_MS		1000	/* between two connection attempts */
#define DP_CTL_SEND_TIMEOUT_MS	2000	/* most a reply waits for room */
#define DP_CTL_WAIT_NOTE_MS	5000	/* "waiting for sluiced" at start */
#define DP_CTL_FRAMES_PER_POLL	64	/* requests served per tick at most */
#define DP_CTL_FRAME_WAIT_MS	1000	/* most a begun frame waits for more */

struct dp_config;
struct dp_control;
struct dp_pools;

struct dp_controller {
	const char *path;		/* NULL: no controller */
	int fd;				/* -1: not connected */
	struct sl_dp_reader rd;
	json_t *pending;		/* a request whose body frame is next */
	size_t pending_len;		/* its body_len */
	uint64_t next_try_ms;		/* monotonic ms of the next attempt */
	bool outage_logged;		/* this outage was logged once */
	bool starting;			/* waiting for the first push */
	int64_t first_push_seq;		/* the first push, answered once
					 * its generation is built; -1 */
	struct dp_control *ctl;
	struct dp_config *cfg;		/* bound by the first push */
	const struct dp_pools *pools;	/* for the mempool counts */
	/* Traces and captures armed for this connection, by their slot in
	 * dp_run.watch; answered when done, dropped with the connection. */
	struct dp_watch *watches[DP_WATCH_SLOTS];
};

/* Set k up to talk to sluiced at path; no I/O yet. */
void dp_controller_init(struct dp_controller *k, const char *path,
			struct dp_control *ctl);

/*
 * Start-up without --policy: connect (retrying every second), say hello
 * with no policy, and wait until a push brings a policy that
 * dp_control_adopt takes into cfg; a push it refuses is answered with the
 * reason and the wait goes on.  Requests other than push are answered
 * "starting".  Logs "waiting for sluiced at PATH" every
 * DP_CTL_WAIT_NOTE_MS.  Returns 0 with ctl->policy set, or -EINTR as soon
 * as *stop is non-zero (SIGINT, SIGTERM).
 */
int dp_controller_wait_policy(struct dp_controller *k, struct dp_config *cfg,
			      const volatile sig_atomic_t *stop);

/*
 * The dataplane has started (ok) or failed to (!ok): answer the push of
 * dp_controller_wait_policy, if any, with the generation built or the
 * failure.  pools: the mbuf pools, counted in stats replies.
 */
void dp_controller_ready(struct dp_controller *k, const struct dp_pools *pools,
			 bool ok);

/*
 * One supervision tick: connect when it is time, serve whatever requests
 * the socket holds, answer the traces and captures that are done.  Never
 * blocks for long (see the top of this file).
 */
void dp_controller_poll(struct dp_controller *k);

/* Disarm what is armed, close the connection.  Workers may still run. */
void dp_controller_close(struct dp_controller *k);

#endif /* SLUICE_DP_CONTROLLER_H */
