/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The link to sluiced: connect, hello, read frames, dispatch requests by
 * type (one table per phase), reply.  Control thread only.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/socket.h>
#include <sys/un.h>

#include <xxhash.h>

#include "sluice/policy.h"

#include "control.h"
#include "controller.h"
#include "counters.h"
#include "log.h"
#include "port.h"

/* Most policy errors quoted in a refused push's reply. */
#define DP_CTL_ERRORS_QUOTED 3

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void
dp_controller_init(struct dp_controller *k, const char *path,
		   struct dp_control *ctl)
{
	memset(k, 0, sizeof(*k));
	k->path = path;
	k->fd = -1;
	k->first_push_seq = -1;
	k->ctl = ctl;
}

/* ------------------------------------------------------------------------
 * The connection
 */

static void watches_cancel(struct dp_controller *k);

/*
 * Close the connection (if open) and schedule the next attempt.  why is
 * logged as an error when given (a protocol error, a failed send); the
 * outage itself is logged once until a connection succeeds again.
 */
static void
link_down(struct dp_controller *k, const char *why)
{
	if (why != NULL)
		DP_LOG(ERR, "sluiced at %s: %s; closing the connection",
		       k->path, why);
	if (k->fd >= 0) {
		close(k->fd);
		k->fd = -1;
		if (!k->outage_logged)
			DP_LOG(WARNING, "lost sluiced at %s: forwarding with "
			       "policy generation %" PRIu64 ", reconnecting "
			       "every %u ms", k->path,
			       dp_control_fw_id(k->ctl), DP_CTL_RETRY_MS);
		k->outage_logged = true;
	}
	sl_dp_reader_reset(&k->rd);
	json_decref(k->pending);
	k->pending = NULL;
	k->first_push_seq = -1;
	k->next_try_ms = now_ms() + DP_CTL_RETRY_MS;
	watches_cancel(k);
}

/* Send msg (and body when not NULL); on failure the link goes down. */
static int
send_msg(struct dp_controller *k, const json_t *msg, const void *body,
	 size_t body_len)
{
	char why[128];
	int ret;

	if (k->fd < 0)
		return -ENOTCONN;
	ret = sl_dp_send(k->fd, msg, body, body_len, DP_CTL_SEND_TIMEOUT_MS);
	if (ret != 0) {
		snprintf(why, sizeof(why), "cannot send: %s", strerror(-ret));
		link_down(k, why);
	}
	return ret;
}

/*
 * The digest sluiced compares with its own: XXH3-64, in 16 hex digits, of
 * the policy's canonical JSON (sl_policy_to_json with no flags), so two
 * policies with one generation number but different contents (a state
 * file begun again) are told apart.  NULL when there is no policy.
 */
static json_t *
policy_digest(const struct sl_policy *p)
{
	char hex[17];
	char *text;

	if (p == NULL)
		return json_null();
	text = sl_policy_to_json(p, 0);
	if (text == NULL)
		return json_null();
	snprintf(hex, sizeof(hex), "%016llx",
		 (unsigned long long)XXH3_64bits(text, strlen(text)));
	free(text);
	return json_string(hex);
}

/* {"v", "type": "hello", "seq": 0, "pid", "policy_generation",
 * "policy_digest", "fw_generation", "ports"}: what this dataplane runs. */
static json_t *
hello_json(const struct dp_controller *k)
{
	const struct sl_policy *p = k->ctl->policy;
	json_t *ports = json_array();

	for (size_t i = 0; p != NULL && i < p->n_ports; i++)
		json_array_append_new(ports, json_string(p->ports[i].name));
	return json_pack("{s:i, s:s, s:i, s:i, s:o, s:o, s:I, s:o*}",
			 "v", SL_DP_PROTO_VERSION, "type", "hello", "seq", 0,
			 "pid", (int)getpid(),
			 "policy_generation", p != NULL ?
			 json_integer((json_int_t)p->generation) : json_null(),
			 "policy_digest", policy_digest(p),
			 "fw_generation", (json_int_t)dp_control_fw_id(k->ctl),
			 "ports", ports);
}

/* Connect and say hello.  Returns 0 or -errno (the link stays down). */
static int
link_up(struct dp_controller *k)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	json_t *hello;
	int fd, ret;

	if (strlen(k->path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, k->path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A unix stream connect does not go in progress: it is made, or
	 * refused (EAGAIN: sluiced's backlog is full; try again later). */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	k->fd = fd;
	hello = hello_json(k);
	if (hello == NULL) {
		link_down(k, "out of memory");
		return -ENOMEM;
	}
	ret = send_msg(k, hello, NULL, 0);
	json_decref(hello);
	if (ret != 0)
		return ret;
	DP_LOG(INFO, "connected to sluiced at %s", k->path);
	k->outage_logged = false;
	return 0;
}

/* Connect when the link is down and its next attempt is due. */
static void
link_try(struct dp_controller *k)
{
	int ret;

	if (k->fd >= 0 || now_ms() < k->next_try_ms)
		return;
	ret = link_up(k);
	if (ret == 0)
		return;
	k->next_try_ms = now_ms() + DP_CTL_RETRY_MS;
	if (!k->outage_logged)
		DP_LOG(WARNING, "cannot reach sluiced at %s: %s; trying again "
		       "every %u ms", k->path, strerror(-ret),
		       DP_CTL_RETRY_MS);
	k->outage_logged = true;
}

/* ------------------------------------------------------------------------
 * Replies
 */

/*
 * {"v", "type": "reply", "seq", "ok": true} plus the members of extra
 * (taken; NULL: none), then body when not NULL ("body_len" is added).
 * Returns 0 or -errno (the link is then down).
 */
static int
reply_ok(struct dp_controller *k, int64_t seq, json_t *extra,
	 const void *body, size_t body_len)
{
	json_t *msg = json_pack("{s:i, s:s, s:I, s:b}", "v",
				SL_DP_PROTO_VERSION, "type", "reply", "seq",
				(json_int_t)seq, "ok", 1);
	int ret;

	if (msg == NULL ||
	    (extra != NULL && json_object_update(msg, extra) != 0) ||
	    (body != NULL &&
	     json_object_set_new(msg, "body_len",
				 json_integer((json_int_t)body_len)) != 0)) {
		link_down(k, "out of memory building a reply");
		ret = -ENOMEM;
	} else {
		ret = send_msg(k, msg, body, body_len);
	}
	json_decref(extra);
	json_decref(msg);
	return ret;
}

/* {"v", "type": "reply", "seq", "ok": false, "error": why}. */
static int
reply_error(struct dp_controller *k, int64_t seq, const char *why)
{
	json_t *msg = json_pack("{s:i, s:s, s:I, s:b, s:s}", "v",
				SL_DP_PROTO_VERSION, "type", "reply", "seq",
				(json_int_t)seq, "ok", 0, "error", why);
	int ret;

	if (msg == NULL) {
		link_down(k, "out of memory building a reply");
		return -ENOMEM;
	}
	ret = send_msg(k, msg, NULL, 0);
	json_decref(msg);
	return ret;
}

/* ------------------------------------------------------------------------
 * Requests
 */

/*
 * Decode a pushed policy document.  Returns 0 with *out, or -errno with
 * the first few problems ("rules[3].dport: ...; ...") in err.
 */
static int
decode_policy(const char *body, size_t len, struct sl_policy **out,
	      char *err, size_t err_size)
{
	struct sl_policy_errors *errs = malloc(sizeof(*errs));
	size_t used = 0;
	int ret;

	if (errs == NULL) {
		sl_errf(err, err_size, "out of memory");
		return -ENOMEM;
	}
	ret = sl_policy_from_json_buf(body, len, out, errs);
	if (ret == -EINVAL && errs->count > 0) {
		unsigned int n = errs->count + errs->dropped;

		for (unsigned int i = 0; i < errs->count &&
		     i < DP_CTL_ERRORS_QUOTED && used < err_size; i++) {
			if (i > 0)
				used += (size_t)snprintf(err + used,
							 err_size - used, "; ");
			if (used < err_size)
				used += (size_t)sl_policy_error_format(
					&errs->list[i], "policy", err + used,
					err_size - used);
		}
		if (n > DP_CTL_ERRORS_QUOTED && used < err_size)
			snprintf(err + used, err_size - used,
				 " (and %u more)", n - DP_CTL_ERRORS_QUOTED);
	} else if (ret != 0) {
		sl_errf(err, err_size, "policy: %s", strerror(-ret));
	}
	free(errs);
	return ret;
}

/*
 * A request handler.  req is the request object, body its body frame
 * (NULL when it had no body_len).  Answers seq now or later (trace,
 * capture).  Returns 0, or -errno when the link went down.
 */
typedef int (*dp_request_fn)(struct dp_controller *k, int64_t seq,
			     json_t *req, const char *body, size_t body_len);

struct dp_request_type {
	const char *type;
	dp_request_fn handle;
};

/* push, while running: apply the body as one generation (the SIGHUP
 * reload path). */
static int
req_push(struct dp_controller *k, int64_t seq, json_t *req, const char *body,
	 size_t body_len)
{
	struct sl_policy *p;
	uint64_t generation;
	char err[1024];
	int ret;

	(void)req;
	if (body == NULL)
		return reply_error(k, seq, "push needs the policy document "
				   "as its body (body_len)");
	ret = decode_policy(body, body_len, &p, err, sizeof(err));
	if (ret == 0) {
		generation = p->generation;
		ret = dp_control_apply(k->ctl, p, err, sizeof(err));
	}
	if (ret != 0) {
		DP_LOG(ERR, "push %" PRId64 " from sluiced: %s; keeping "
		       "generation %" PRIu64, seq, err,
		       dp_control_fw_id(k->ctl));
		return reply_error(k, seq, err);
	}
	return reply_ok(k, seq, json_pack("{s:I, s:I}",
		"policy_generation", (json_int_t)generation,
		"fw_generation", (json_int_t)dp_control_fw_id(k->ctl)),
		NULL, 0);
}

/* push, at start-up: take the body as the policy to start with; the
 * reply waits until its generation is built (dp_controller_ready). */
static int
req_first_push(struct dp_controller *k, int64_t seq, json_t *req,
	       const char *body, size_t body_len)
{
	struct sl_policy *p;
	char err[1024];
	int ret;

	(void)req;
	if (body == NULL)
		return reply_error(k, seq, "push needs the policy document "
				   "as its body (body_len)");
	ret = decode_policy(body, body_len, &p, err, sizeof(err));
	if (ret == 0)
		ret = dp_control_adopt(k->ctl, k->cfg, p, err, sizeof(err));
	if (ret != 0) {
		DP_LOG(ERR, "first push from sluiced refused: %s; still "
		       "waiting", err);
		return reply_error(k, seq, err);
	}
	DP_LOG(INFO, "policy generation %" PRIu64 " from sluiced: starting",
	       k->ctl->policy->generation);
	k->first_push_seq = seq;
	return 0;
}

/* stats: the --stats-file document, read now. */
static int
req_stats(struct dp_controller *k, int64_t seq, json_t *req, const char *body,
	  size_t body_len)
{
	const struct dp_control *c = k->ctl;
	struct dp_report rep = {
		.fw = c->run->fw,
		.reloads = c->reloads,
		.router = &c->router,
		.policy = c->policy,
		.port_of = c->port_of,
		.live = true,
	};
	json_t *stats;

	(void)req, (void)body, (void)body_len;
	if (k->pools != NULL)
		dp_pools_count(k->pools, &rep.mempool_size,
			       &rep.mempool_avail);
	stats = dp_counters_json(c->cfg, c->workers, c->nb_workers, &rep);
	if (stats == NULL)
		return reply_error(k, seq, "out of memory");
	return reply_ok(k, seq, json_pack("{s:o}", "stats", stats), NULL, 0);
}

/* trace and capture: arm a watch; watches_poll answers when it is done. */
static int
req_watch(struct dp_controller *k, int64_t seq, json_t *req,
	  enum dp_watch_kind kind)
{
	struct dp_watch *w;
	char err[512];

	w = dp_watch_new(kind, req, k->ctl, seq, err, sizeof(err));
	if (w == NULL)
		return reply_error(k, seq, err);
	if (dp_watch_arm(k->ctl->run, w) != 0) {
		dp_watch_free(w);
		snprintf(err, sizeof(err), "busy: %d traces and captures are "
			 "running already", DP_WATCH_SLOTS);
		return reply_error(k, seq, err);
	}
	k->watches[w->slot] = w;
	return 0;
}

static int
req_trace(struct dp_controller *k, int64_t seq, json_t *req,
	  const char *body, size_t body_len)
{
	(void)body, (void)body_len;
	return req_watch(k, seq, req, DP_WATCH_TRACE);
}

static int
req_capture(struct dp_controller *k, int64_t seq, json_t *req,
	    const char *body, size_t body_len)
{
	(void)body, (void)body_len;
	return req_watch(k, seq, req, DP_WATCH_CAPTURE);
}

/* Anything but push while the dataplane waits for its first policy. */
static int
req_starting(struct dp_controller *k, int64_t seq, json_t *req,
	     const char *body, size_t body_len)
{
	(void)req, (void)body, (void)body_len;
	return reply_error(k, seq, "starting: the dataplane waits for its "
			   "first push");
}

static const struct dp_request_type run_requests[] = {
	{ "push", req_push },
	{ "stats", req_stats },
	{ "trace", req_trace },
	{ "capture", req_capture },
};

static const struct dp_request_type start_requests[] = {
	{ "push", req_first_push },
	{ "stats", req_starting },
	{ "trace", req_starting },
	{ "capture", req_starting },
};

#define DP_NB(a) (sizeof(a) / sizeof((a)[0]))

static int
dispatch(struct dp_controller *k, json_t *req, const char *body,
	 size_t body_len)
{
	const struct dp_request_type *t = k->starting ? start_requests
						      : run_requests;
	size_t n = k->starting ? DP_NB(start_requests) : DP_NB(run_requests);
	const char *type = json_string_value(json_object_get(req, "type"));
	int64_t seq = json_integer_value(json_object_get(req, "seq"));

	for (size_t i = 0; i < n; i++)
		if (strcmp(t[i].type, type) == 0)
			return t[i].handle(k, seq, req, body, body_len);
	return reply_error(k, seq, "unknown type");
}

/*
 * One frame: a request, or the body of the request before it.  A frame
 * that is not a JSON object of this protocol version with a type and a
 * seq ends the connection.  Returns 0, or -errno when the link went down.
 */
static int
on_frame(struct dp_controller *k, const char *frame, size_t len)
{
	json_t *req = k->pending, *v, *bl;
	json_error_t jerr;
	char why[256];
	int ret;

	if (req != NULL) {
		k->pending = NULL;
		ret = dispatch(k, req, frame, len);
		json_decref(req);
		return ret;
	}
	req = json_loadb(frame, len, 0, &jerr);
	v = json_object_get(req, "v");
	bl = json_object_get(req, "body_len");
	if (req == NULL || !json_is_object(req))
		snprintf(why, sizeof(why), "a frame of %zu bytes is not a "
			 "JSON object (%s)", len,
			 req == NULL ? jerr.text : "another JSON value");
	else if (!json_is_integer(v) ||
		 json_integer_value(v) != SL_DP_PROTO_VERSION)
		snprintf(why, sizeof(why), "protocol version is not %d",
			 SL_DP_PROTO_VERSION);
	else if (!json_is_string(json_object_get(req, "type")))
		snprintf(why, sizeof(why), "a message without a type");
	else if (!json_is_integer(json_object_get(req, "seq")) ||
		 json_integer_value(json_object_get(req, "seq")) < 0)
		snprintf(why, sizeof(why), "a message without a seq");
	else if (bl != NULL && (!json_is_integer(bl) ||
				json_integer_value(bl) < 0 ||
				json_integer_value(bl) > SL_DP_FRAME_MAX))
		snprintf(why, sizeof(why), "body_len is not a size up to "
			 "%u", SL_DP_FRAME_MAX);
	else
		why[0] = '\0';
	if (why[0] != '\0') {
		json_decref(req);
		link_down(k, why);
		return -EPROTO;
	}
	if (bl != NULL) {
		/* The body is the next frame: its own length says how long
		 * it is; body_len must agree (checked when it comes). */
		k->pending = req;
		k->pending_len = (size_t)json_integer_value(bl);
		return 0;
	}
	ret = dispatch(k, req, NULL, 0);
	json_decref(req);
	return ret;
}

/* Read what the socket holds and serve the whole frames in it. */
static void
serve(struct dp_controller *k)
{
	char why[128];

	/* At start-up, stop at the push that brings the policy: what follows
	 * is served by the running dataplane. */
	for (unsigned int i = 0; k->fd >= 0 && i < DP_CTL_FRAMES_PER_POLL &&
	     !(k->starting && k->ctl->policy != NULL);) {
		int rc = sl_dp_reader_fill(&k->rd, k->fd);
		char *frame;
		size_t len;

		/* A frame begun is read to its end now rather than a socket
		 * buffer a tick: a 90 MB push would take minutes of 5 ms
		 * ticks.  The sender is writing it, so the wait is short. */
		if (rc > 0 && sl_dp_reader_partial(&k->rd)) {
			struct pollfd pfd = { .fd = k->fd, .events = POLLIN };

			if (poll(&pfd, 1, DP_CTL_FRAME_WAIT_MS) > 0)
				continue;
		}
		if (sl_dp_reader_next(&k->rd, &frame, &len) == 1) {
			i++;
			if (k->pending != NULL && len != k->pending_len) {
				snprintf(why, sizeof(why), "a body of %zu "
					 "bytes after body_len %zu", len,
					 k->pending_len);
				link_down(k, why);
			} else {
				on_frame(k, frame, len);
			}
			free(frame);
			continue;
		}
		if (rc == 0) {
			link_down(k, NULL);
		} else if (rc < 0) {
			snprintf(why, sizeof(why), "%s", rc == -EMSGSIZE ?
				 "a frame over the size limit" : strerror(-rc));
			link_down(k, why);
		}
		break;
	}
}

/* ------------------------------------------------------------------------
 * Traces and captures in progress
 */

/* Disarm a watch that is done and answer its request. */
static void
watch_finish(struct dp_controller *k, struct dp_watch *w)
{
	uint8_t *pcapng = NULL;
	unsigned int packets;
	json_t *trace;
	size_t len;

	k->watches[w->slot] = NULL;
	dp_watch_disarm(k->ctl->run, w);
	if (w->kind == DP_WATCH_TRACE) {
		trace = dp_watch_trace_json(w, k->ctl);
		if (trace == NULL)
			reply_error(k, w->seq, "out of memory");
		else
			reply_ok(k, w->seq, json_pack("{s:o}", "packets",
						      trace), NULL, 0);
	} else if (dp_watch_pcapng(w, k->ctl, &pcapng, &len,
				   &packets) != 0) {
		reply_error(k, w->seq, "out of memory");
	} else {
		reply_ok(k, w->seq, json_pack("{s:i}", "packets",
					      (int)packets), pcapng, len);
		free(pcapng);
	}
	dp_watch_free(w);
}

static void
watches_poll(struct dp_controller *k)
{
	uint64_t now = now_ms();

	for (int s = 0; s < DP_WATCH_SLOTS && k->fd >= 0; s++)
		if (k->watches[s] != NULL && dp_watch_done(k->watches[s], now))
			watch_finish(k, k->watches[s]);
}

/* Drop every watch unanswered (the connection is gone). */
static void
watches_cancel(struct dp_controller *k)
{
	for (int s = 0; s < DP_WATCH_SLOTS; s++) {
		struct dp_watch *w = k->watches[s];

		if (w == NULL)
			continue;
		k->watches[s] = NULL;
		dp_watch_disarm(k->ctl->run, w);
		dp_watch_free(w);
	}
}

/* ------------------------------------------------------------------------
 * Start-up and supervision
 */

int
dp_controller_wait_policy(struct dp_controller *k, struct dp_config *cfg,
			  const volatile sig_atomic_t *stop)
{
	uint64_t next_note = now_ms();

	k->cfg = cfg;
	k->starting = true;
	while (k->ctl->policy == NULL) {
		struct pollfd pfd = { .fd = -1, .events = POLLIN };

		if (*stop != 0) {
			k->starting = false;
			return -EINTR;
		}
		if (now_ms() >= next_note) {
			DP_LOG(INFO, "waiting for sluiced at %s to push a "
			       "policy", k->path);
			next_note += DP_CTL_WAIT_NOTE_MS;
		}
		link_try(k);
		if (k->fd >= 0)
			serve(k);
		if (k->ctl->policy != NULL)
			break;
		/* A signal ends the wait early (EINTR): no SA_RESTART. */
		pfd.fd = k->fd;
		poll(&pfd, 1, 50);
	}
	k->starting = false;
	return 0;
}

void
dp_controller_ready(struct dp_controller *k, const struct dp_pools *pools,
		    bool ok)
{
	int64_t seq = k->first_push_seq;

	k->pools = pools;
	k->first_push_seq = -1;
	if (seq < 0 || k->fd < 0)
		return;
	if (!ok) {
		reply_error(k, seq, "the dataplane failed to start with this "
			    "policy (its log says why)");
		return;
	}
	reply_ok(k, seq, json_pack("{s:I, s:I}",
		"policy_generation", (json_int_t)k->ctl->policy->generation,
		"fw_generation", (json_int_t)dp_control_fw_id(k->ctl)),
		NULL, 0);
}

void
dp_controller_poll(struct dp_controller *k)
{
	if (k->path == NULL)
		return;
	link_try(k);
	if (k->fd >= 0)
		serve(k);
	watches_poll(k);
}

void
dp_controller_close(struct dp_controller *k)
{
	if (k->path == NULL)
		return;
	if (k->fd >= 0) {
		close(k->fd);
		k->fd = -1;
	}
	sl_dp_reader_reset(&k->rd);
	json_decref(k->pending);
	k->pending = NULL;
	watches_cancel(k);
}
