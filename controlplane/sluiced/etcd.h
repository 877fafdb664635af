/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A small client of etcd's v3 HTTP/JSON gateway (etcd 3.4: /v3/kv/...,
 * /v3/lease/..., /v3/watch), on libcurl's multi interface, for sluiced's
 * event loop: nothing here blocks.  libcurl's sockets live in an epoll set
 * of this module's own, whose one fd (sd_etcd_fd()) sits in the main loop;
 * sd_etcd_run() drives the transfers and calls the callbacks, always on the
 * main thread and never from inside libcurl.
 *
 * One endpoint at a time is used; the caller moves to the next one with
 * sd_etcd_next_endpoint() when a request fails.  Keys and values are
 * base64 in the gateway's JSON (sd_b64(), sd_unb64()); 64-bit integers
 * come as strings (sd_etcd_int()).
 */
#ifndef SLUICED_ETCD_H
#define SLUICED_ETCD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct sd_etcd;
struct sd_etcd_req;

struct sd_etcd_opts {
	const char *endpoints;	/* "http://127.0.0.1:2379,https://..." */
	const char *cacert;	/* PEM files for https endpoints, or NULL */
	const char *cert;
	const char *key;
	const char *user;	/* "name:password" for etcd auth, or NULL */
};

/*
 * reply: the parsed JSON body of a 200 answer (borrowed for the call), or
 * NULL with error set.  http is the HTTP status (0: no answer: connection
 * refused, timeout, reset), so the caller can tell "etcd said no" from
 * "etcd is not there".
 */
typedef void sd_etcd_reply_fn(void *ctx, json_t *reply, long http,
			      const char *error);
/* One message of a stream (borrowed). */
typedef void sd_etcd_msg_fn(void *ctx, json_t *msg);

/* NULL with errno set (EINVAL: no endpoint, ENOMEM). */
struct sd_etcd *sd_etcd_new(const struct sd_etcd_opts *o);
/* Cancels every request without calling back. */
void sd_etcd_free(struct sd_etcd *e);

/* The fd to watch for readability (an epoll set). */
int sd_etcd_fd(const struct sd_etcd *e);
/* Drive transfers and call back; returns ms to libcurl's next timeout,
 * or -1 when it has none. */
int sd_etcd_run(struct sd_etcd *e);

/*
 * POST body (taken) to path of the current endpoint; cb runs once, from a
 * later sd_etcd_run(), unless the request is cancelled.  timeout_ms bounds
 * the whole request.  Returns the request, or NULL (out of memory, cb not
 * called).
 */
struct sd_etcd_req *sd_etcd_call(struct sd_etcd *e, const char *path,
				 json_t *body, long timeout_ms,
				 sd_etcd_reply_fn *cb, void *ctx);
/*
 * A streaming POST (/v3/watch): on_msg runs for each JSON message as it
 * arrives; on_end once when the stream ends (reply NULL, error set: even
 * a clean end is an error for a watch).
 */
struct sd_etcd_req *sd_etcd_stream(struct sd_etcd *e, const char *path,
				   json_t *body, sd_etcd_msg_fn *on_msg,
				   sd_etcd_reply_fn *on_end, void *ctx);
/* No callback runs for req after this; NULL is fine.  Safe from a
 * callback, also for the request being called back. */
void sd_etcd_cancel(struct sd_etcd *e, struct sd_etcd_req *req);

/* Endpoint rotation: the next request goes to the next endpoint. */
void sd_etcd_next_endpoint(struct sd_etcd *e);
const char *sd_etcd_endpoint(const struct sd_etcd *e);
size_t sd_etcd_n_endpoints(const struct sd_etcd *e);
/* The auth token for the requests that follow (NULL: none). */
void sd_etcd_set_token(struct sd_etcd *e, const char *token);
const char *sd_etcd_user(const struct sd_etcd *e);
/* No request in flight. */
bool sd_etcd_idle(const struct sd_etcd *e);

/* base64 (RFC 4648, padded): a string to free(), NULL on ENOMEM. */
char *sd_b64(const void *data, size_t len);
/* Decode into a NUL-terminated buffer to free(); -EINVAL, -ENOMEM. */
int sd_unb64(const char *s, char **out, size_t *len);
/* An int64 member the gateway writes as "123" (or 123); def if absent. */
int64_t sd_etcd_int(json_t *o, const char *key, int64_t def);

#endif /* SLUICED_ETCD_H */
