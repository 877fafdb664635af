/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The dataplane protocol: how sluiced and sluice-dataplane talk over a unix
 * stream socket (docs/dp-protocol.md is the prose version).
 *
 * sluiced listens (default /run/sluice/dp.sock, mode 0600); the dataplane
 * connects (--controller PATH) and reconnects every second while sluiced is
 * gone, forwarding with its last tables all the while.
 *
 * Framing: every message is one frame, a 4-byte big-endian length and that
 * many bytes of a UTF-8 JSON object:
 *
 *   {"v": 1, "type": "...", "seq": N, ...}
 *
 * A message whose object has "body_len": L is followed by one more frame of
 * exactly L bytes of raw payload (a policy's JSON text), so a 1M-route policy
 * is not escaped into a string nor parsed twice.
 *
 * Messages:
 *   dataplane -> sluiced, first on every connection:
 *     hello   {"pid", "policy_generation" (the policy in force, or null when
 *              none), "fw_generation", "ports": [names]}
 *   sluiced -> dataplane, requests (seq counts up from 1 per connection):
 *     push    body: a whole policy document; apply it as one generation.
 *     stats   read the counters.
 *     trace   {"count", "timeout_ms", "filter"}: follow the next packets
 *              that match the filter (docs/dp-protocol.md).
 *     capture {"port", "count", "timeout_ms", "filter"}: copy packets
 *              received at a port, returned as pcapng.
 *   dataplane -> sluiced, exactly one reply per request, matched by seq
 *   (trace and capture answer when done, so replies can come out of order):
 *     reply   {"seq" (the request's), "ok": true|false, "error": "why",
 *              plus per request: push -> "policy_generation",
 *              "fw_generation"; stats -> "stats": {...}; trace ->
 *              "packets": [...]; capture -> "packets": N and a pcapng
 *              body}
 *
 * A peer that receives a frame over SL_DP_FRAME_MAX, a frame that is not a
 * JSON object, or "v" other than SL_DP_PROTO_VERSION closes the connection
 * after logging why; a request type it does not know gets a reply with
 * ok false and error "unknown type".
 */
#ifndef SLUICE_DP_PROTO_H
#define SLUICE_DP_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define SL_DP_PROTO_VERSION	1
#define SL_DP_FRAME_MAX		(256u << 20)	/* policy decoder's own limit */
#define SL_DP_SOCKET_DEFAULT	"/run/sluice/dp.sock"

/*
 * Incremental reader of frames from a non-blocking socket.  It holds one
 * frame at a time, so when the socket is readable:
 *
 *	for (;;) {
 *		int rc = sl_dp_reader_fill(&r, fd);
 *		if (sl_dp_reader_next(&r, &frame, &len) == 1) {
 *			handle(frame, len); free(frame);
 *			continue;
 *		}
 *		if (rc <= 0)
 *			close the connection;
 *		break;
 *	}
 */
struct sl_dp_reader {
	uint8_t hdr[4];
	size_t hdr_have;
	char *buf;		/* the frame being read, NUL-terminated */
	size_t len;		/* its length from the header */
	size_t have;
	int done;		/* buf holds a whole frame */
};

/*
 * Read what the socket has.  Returns 1 while the peer is there (maybe with
 * nothing new), 0 at end of file, -errno on an error or a frame over
 * SL_DP_FRAME_MAX (-EMSGSIZE).
 */
int sl_dp_reader_fill(struct sl_dp_reader *r, int fd);

/*
 * Take the next whole frame: *frame is a malloc'ed NUL-terminated buffer the
 * caller frees, *len its length.  Returns 1 with a frame, 0 when none is
 * whole yet.
 */
int sl_dp_reader_next(struct sl_dp_reader *r, char **frame, size_t *len);

void sl_dp_reader_reset(struct sl_dp_reader *r);

/* True while a frame has begun to arrive and is not whole yet. */
static inline int
sl_dp_reader_partial(const struct sl_dp_reader *r)
{
	return !r->done && r->hdr_have > 0;
}

/*
 * Write one frame whole, waiting (poll) while the socket is full, for at
 * most timeout_ms in all (-1: no limit).  Returns 0 or -errno (-ETIMEDOUT,
 * -EPIPE when the peer is gone).
 */
int sl_dp_write_frame(int fd, const void *buf, size_t len, int timeout_ms);

/* json_dumps() msg (compact) and write it as one frame, then, when body is
 * not NULL, body as a second frame (msg must then carry "body_len"). */
int sl_dp_send(int fd, const json_t *msg, const void *body, size_t body_len,
	       int timeout_ms);

#endif /* SLUICE_DP_PROTO_H */
