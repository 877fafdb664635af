/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Inside the API: what a resource handler gets and gives.  api.c owns the
 * HTTP side (listeners, limits, authentication, routing by the table in
 * handlers.c); handlers.c and metrics.c own the resources.
 *
 * A handler fills c->status and c->json (or c->text for non-JSON bodies),
 * or calls sd_fail() for an error, or sd_defer() to wait for the
 * dataplane: the connection is suspended and the done function fills the
 * reply when the dataplane answers (or fails to).
 */
#ifndef SLUICED_API_H
#define SLUICED_API_H

#include <microhttpd.h>

#include "sluiced.h"

struct sd_call;

typedef void sd_handler_fn(struct sd_call *c);
typedef void sd_deferred_fn(struct sd_call *c, json_t *reply,
			    const char *body, size_t body_len,
			    const char *error);

struct sd_call {
	struct sluiced *sd;
	struct MHD_Connection *conn;
	const char *method;
	const char *tail;	/* the URL after the route's prefix */
	const char *body;	/* NUL-terminated; "" when none */
	size_t body_len;
	bool body_yaml;		/* Content-Type said YAML */
	/* The reply. */
	unsigned int status;
	json_t *json;		/* taken */
	char *text;		/* taken (free()); used when json is NULL */
	size_t text_len;
	const char *content_type;
	const char *disposition;	/* Content-Disposition, or NULL */
	char etag[24];		/* "": the ETag is the generation */
	struct sd_err err;
	bool failed;
	/* Deferred to the dataplane. */
	bool deferred;
	sd_deferred_fn *done;
	void *done_ctx;
};

/* A route of the API: method and path, and whether path is a prefix with
 * a tail (a rule id, a route prefix, a group name) after it. */
/* Query arguments a route takes (anything else is a 400). */
#define SD_QUERY_GENERATION	0x1	/* ?generation=N, as If-Match */
#define SD_QUERY_DRY_RUN	0x2	/* ?dry_run */
#define SD_QUERY_REVISION	0x4	/* ?revision=R (the shared revision) */

struct sd_route {
	const char *method;
	const char *path;
	bool has_tail;
	sd_handler_fn *fn;
	unsigned int query;	/* SD_QUERY_* */
};

extern const struct sd_route sd_routes[];
extern const size_t sd_n_routes;

void sd_fail(struct sd_call *c, unsigned int status, const char *code,
	     const char *field, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* Fail with an error the apply path or decoder filled. */
void sd_fail_err(struct sd_call *c, struct sd_err *e);
void sd_reply(struct sd_call *c, unsigned int status, json_t *json);

/* A query argument, or NULL. */
const char *sd_query(const struct sd_call *c, const char *key);

/* A flag argument (?dry_run, =1, =true, =0, =false): 0 with *on set, or
 * -1 after failing c for another value. */
int sd_query_flag(struct sd_call *c, const char *key, bool *on);

/*
 * The generation a write is based on (If-Match or ?generation=), or
 * SD_GEN_ANY.  Returns -1 after failing c when it is malformed.
 */
int sd_if_generation(struct sd_call *c, uint64_t *gen);

/*
 * Send a request to the dataplane and reply when it answers: done fills
 * c's reply.  Fails c with 503 when no dataplane is connected.
 */
void sd_defer(struct sd_call *c, const char *type, json_t *msg,
	      int timeout_ms, sd_deferred_fn *done);

/*
 * Wait for something other than the dataplane (etcd): sd_suspend() from
 * the handler holds the reply; sd_resume(), once c's reply is filled (or
 * it is failed), sends it.  Every suspended call must be resumed.
 */
void sd_suspend(struct sd_call *c);
void sd_resume(struct sd_call *c);

/* Counters of the API for /metrics. */
struct sd_api_counters {
	uint64_t requests[6];	/* by status class: [2] = 2xx ... [5] = 5xx */
	uint64_t rate_limited;
	uint64_t unauthorized;
};
const struct sd_api_counters *sd_api_counters(const struct sluiced *sd);

/* metrics.c */
void sd_metrics(struct sd_call *c);

#endif /* SLUICED_API_H */
