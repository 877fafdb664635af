/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sluiced: the daemon that owns a node's desired state (DESIGN.md,
 * "Control").  One thread runs one event loop (main.c): the API listeners
 * (api.c), the dataplane link (dplink.c) and signals.  Nothing here runs per
 * packet, and nothing needs a lock: every handler runs to completion on that
 * thread, and the few that wait for the dataplane (stats, trace, capture)
 * suspend their HTTP connection and resume it from the link's reply.
 *
 * The desired state changes in exactly one place, sd_apply() (apply.c):
 * the API's writes, SIGHUP's reload of --config and the cluster's shared
 * state (shared.c) call it alike.
 */
#ifndef SLUICED_H
#define SLUICED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "sluice/dp_proto.h"
#include "sluice/policy.h"

#include "cluster.h"
#include "shared.h"

#define SD_VERSION "0.1.0"
#define SD_STATE_DIR_DEFAULT "/var/lib/sluice"
#define SD_API_SOCKET_DEFAULT "/run/sluice/api.sock"
#define SD_MAX_BODY_DEFAULT (64u << 20)
#define SD_MAX_CONNS_DEFAULT 64
#define SD_REQUEST_TIMEOUT_DEFAULT 10	/* seconds for a whole request */
#define SD_RATE_DEFAULT 1000		/* requests a second per listener */

struct sd_options {
	const char *config_file;	/* --config: policy, YAML or JSON */
	const char *state_dir;		/* holds state.json */
	const char *api_socket;		/* "" : no unix listener */
	const char *listen;		/* TCP "host:port"; NULL: none */
	const char *token_file;		/* bearer token for TCP */
	const char *tls_cert;		/* PEM files: TLS on the TCP listener */
	const char *tls_key;
	const char *dp_socket;		/* the dataplane connects here */
	size_t max_body;
	unsigned int max_conns;
	unsigned int request_timeout;
	unsigned int rate;
	struct sd_cluster_opts cluster;	/* --etcd and friends (cluster.h) */
	/* --backend xdp (xdp.c): the XDP program on these devices enforces
	 * the policy instead of the DPDK dataplane. */
	const char *backend;		/* "dpdk" (default) or "xdp" */
	const char *xdp_devs;		/* --xdp-dev IF[,IF...] */
	bool xdp_generic;		/* --xdp-generic: skb mode only */
	const char *xdp_pin_root;	/* --xdp-pin-root */
	const char *xdp_route;		/* --xdp-route fib|pass, or NULL */
};

struct sluiced;
struct sd_err;
struct sd_call;

/*
 * A datapath that sluiced drives in-process (the XDP backend, xdp.c)
 * rather than over the dataplane link.  NULL in struct sluiced: the DPDK
 * dataplane, and nothing below is called.
 */
struct sd_backend {
	const char *name;		/* "xdp" */
	/* Whether the backend can enforce p: 0, or -1 with e set (422),
	 * before anything is persisted. */
	int (*check)(struct sluiced *sd, const struct sl_policy *p,
		     struct sd_err *e);
	/* Enforce the state just installed: 0 or -errno (logged, and kept
	 * for /v1/status). */
	int (*apply)(struct sluiced *sd, const struct sl_policy *p);
	/* Counters in the dataplane's "stats" shape (rules, drops, ports);
	 * NULL with errno set. */
	json_t *(*stats)(struct sluiced *sd);
	/* What /v1/status says about the backend. */
	json_t *(*status)(struct sluiced *sd);
	/* Stop: the program stays attached and pinned. */
	void (*stop)(struct sluiced *sd);
	/* POST /v1/trace, body checked by the handler (count, timeout_ms,
	 * filter; msg is taken): fails c at once, or suspends it and
	 * resumes it from tick() with the packets. */
	void (*trace)(struct sluiced *sd, struct sd_call *c, json_t *msg);
	/* POST /v1/capture, the same way (msg has the port, a port of the
	 * policy in force); the reply is the pcapng file. */
	void (*capture)(struct sluiced *sd, struct sd_call *c, json_t *msg);
	/* Every loop turn, before the API runs: finish what is due.
	 * Returns ms to the next deadline, or -1. */
	int (*tick)(struct sluiced *sd);
	/* Stopping: fail the calls it holds (504, why), before the API's
	 * last turn. */
	void (*abort)(struct sluiced *sd, const char *why);
	void *priv;
};

/* The desired state and its canonical text, always in step. */
struct sd_state {
	struct sl_policy *policy;	/* valid; generation inside */
	char *text;			/* canonical JSON of policy */
	char *path;			/* state_dir/state.json */
	char digest[17];		/* XXH3 hex of text, for the dataplane */
	bool persisted;			/* text is what the file holds */
};

typedef void sd_dp_reply_fn(void *ctx, json_t *reply, const char *body,
			    size_t body_len, const char *error);

struct sd_dp_request;

/* The dataplane link (dplink.c).  At most one dataplane is connected. */
struct sd_dplink {
	int listen_fd;
	int fd;				/* -1: no dataplane */
	struct sl_dp_reader rd;
	bool hello_seen;
	long long pid;
	bool has_policy;		/* what hello or the last push said */
	uint64_t policy_generation;
	char policy_digest[17];		/* of the text it runs */
	uint64_t pushed_generation;	/* last push sent on this link */
	char pushed_digest[17];
	bool push_pending;
	bool sync_wanted;		/* sd_dp_sync() at the next loop turn */
	char last_error[512];		/* the last push the dataplane refused */
	uint32_t next_seq;
	struct sd_dp_request *pending;	/* oldest first */
	struct sd_dp_request *body_wanted; /* its reply's body is next */
	uint64_t connects;
};

struct sd_api;

struct sluiced {
	struct sd_options opt;
	struct sd_state st;
	struct sd_dplink dp;
	struct sd_api *api;
	struct sd_backend *backend;	/* NULL: the DPDK dataplane */
	struct sd_cluster *cluster;	/* members, cluster groups */
	struct sd_shared *shared;	/* the shared desired state; NULL on
					 * a single node (shared.h) */
	int epfd;
	time_t started;
	char hostname[64];
	char *token;			/* NULL: no TCP listener */
	uint64_t applies;		/* accepted changes since start */
	uint64_t refused;		/* changes refused (4xx) since start */
};

/* An error for the API: HTTP status, code, message and field. */
struct sd_err {
	unsigned int status;
	const char *code;
	char message[512];
	char field[SL_POLICY_PATH_MAX];
	json_t *details;		/* every validation error, or NULL */
};

void sd_err_set(struct sd_err *e, unsigned int status, const char *code,
		const char *field, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* ---- xdp.c: the XDP backend (only in a build with -Dxdp=true) ---- */

/* Open or adopt the program, attach it to --xdp-dev, set sd->backend and
 * enforce the installed state.  0 or -errno (logged). */
int sd_xdp_start(struct sluiced *sd);

/* ---- state.c: the state file ---- */

/*
 * Load path: 0 with *out, -ENOENT when there is none, or -EINVAL after
 * logging the file, line and reason and moving the file aside (never
 * overwriting it) to path.corrupt-TIME.
 */
int sd_state_load(const char *path, struct sl_policy **out);

/* Write text to path atomically: temp, fsync, rename, fsync dir. */
int sd_state_write(const char *path, const char *text);

/* ---- apply.c: the one apply path ---- */

#define SD_APPLY_DRY_RUN	0x1
#define SD_GEN_ANY		UINT64_MAX

/*
 * Make next the desired state.  next is valid (decoded by the policy
 * library) and owned by this call in every case.  When if_generation is
 * not SD_GEN_ANY and not the current generation: 409.  Unless dry-run,
 * the new state gets the next generation, is persisted, then becomes the
 * state and is pushed to the dataplane.  A policy equal to the current one
 * changes nothing (same generation).  *diff_out (may be NULL) gets the
 * semantic diff.  Returns 0 or -1 with e set.
 */
int sd_apply(struct sluiced *sd, struct sl_policy *next,
	     uint64_t if_generation, unsigned int flags, json_t **diff_out,
	     struct sd_err *e);

/* Install policy (with its generation) as the state at start. */
int sd_state_install(struct sluiced *sd, struct sl_policy *policy,
		     bool persist);

/*
 * Decode a candidate document (JSON, or YAML when yaml) into *out.
 * Validation errors become a 422 naming the first field (and all of them
 * in details); syntax errors a 400 bad_json.  positions: the caller sent
 * this text, so line and column mean something to it (not so for a
 * document sluiced edited for a POST).
 */
int sd_decode_policy(const char *buf, size_t len, bool yaml, bool positions,
		     struct sl_policy **out, struct sd_err *e);

/* ---- dplink.c ---- */

int sd_dp_listen(struct sluiced *sd);
void sd_dp_on_listen(struct sluiced *sd);
void sd_dp_on_readable(struct sluiced *sd);
/* Expire requests past their deadline; returns ms to the next deadline
 * or -1. */
int sd_dp_tick(struct sluiced *sd);
/* Push the state when a dataplane is connected and does not run it. */
void sd_dp_sync(struct sluiced *sd);
/*
 * Send a request (msg gets v, type, seq); cb runs once with the reply, or
 * with error set on timeout or disconnect.  Returns 0, or -ENOTCONN when no
 * dataplane is connected (cb not called).
 */
int sd_dp_request(struct sluiced *sd, const char *type, json_t *msg,
		  int timeout_ms, sd_dp_reply_fn *cb, void *ctx);
bool sd_dp_connected(const struct sluiced *sd);
/* The dataplane runs what sd_push_text() says (generation and digest). */
bool sd_dp_in_sync(const struct sluiced *sd);
void sd_dp_close(struct sluiced *sd, const char *why);

/* ---- api.c ---- */

int sd_api_start(struct sluiced *sd);
/* Let the HTTP daemons do their work; returns ms to their next timeout. */
int sd_api_run(struct sluiced *sd);
void sd_api_stop(struct sluiced *sd);
bool sd_api_owns_fd(const struct sluiced *sd, int fd);

/* Epoll registration for main.c's loop; data.fd identifies the source. */
int sd_loop_add(struct sluiced *sd, int fd);
void sd_loop_del(struct sluiced *sd, int fd);

#endif /* SLUICED_H */
