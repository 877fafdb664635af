/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The dataplane link: sluiced's side of the protocol in sluice/dp_proto.h.
 * sluiced listens; a dataplane connects and says hello; sluiced pushes the
 * state whenever the dataplane does not run it (after hello, after each
 * accepted change) and forwards the API's reads (stats, trace, capture) as
 * requests whose replies resume the waiting HTTP connection.
 *
 * At most one dataplane is connected: a new connection replaces the old
 * one (a restarted dataplane may connect before the old socket is seen to
 * close).  Everything runs on the event loop; writes wait at most
 * SD_DP_WRITE_TIMEOUT_MS for a slow reader, then the link is dropped.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sluiced.h"

#define SD_DP_WRITE_TIMEOUT_MS 30000
#define SD_DP_SNDBUF (8 << 20)

struct sd_dp_request {
	uint32_t seq;
	int64_t deadline_ms;
	sd_dp_reply_fn *cb;
	void *ctx;
	json_t *reply;		/* a reply waiting for its body frame */
	struct sd_dp_request *next;
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool
sd_dp_connected(const struct sluiced *sd)
{
	return sd->dp.fd >= 0 && sd->dp.hello_seen;
}

bool
sd_dp_in_sync(const struct sluiced *sd)
{
	return sd_dp_connected(sd) && sd->dp.has_policy &&
	       sd->dp.policy_generation == sd->st.policy->generation &&
	       strcmp(sd->dp.policy_digest, sd_push_digest(sd)) == 0;
}

int
sd_dp_listen(struct sluiced *sd)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	const char *path = sd->opt.dp_socket;
	int fd;

	sd->dp.fd = -1;
	sd->dp.listen_fd = -1;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		SD_ERR("--dp-socket %s: path too long", path);
		return -ENAMETOOLONG;
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(path);	/* a stale socket of an earlier run */
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    chmod(path, 0600) != 0 || listen(fd, 4) != 0) {
		int ret = -errno;

		SD_ERR("dataplane socket %s: %s", path, strerror(errno));
		close(fd);
		return ret;
	}
	sd->dp.listen_fd = fd;
	return sd_loop_add(sd, fd);
}

/* Every waiting request learns that no reply will come. */
static void
fail_pending(struct sluiced *sd, const char *why)
{
	struct sd_dp_request *r = sd->dp.pending;

	sd->dp.pending = NULL;
	while (r != NULL) {
		struct sd_dp_request *next = r->next;

		json_decref(r->reply);
		if (r->cb != NULL)
			r->cb(r->ctx, NULL, NULL, 0, why);
		free(r);
		r = next;
	}
}

void
sd_dp_close(struct sluiced *sd, const char *why)
{
	if (sd->dp.fd < 0)
		return;
	SD_WARN("dataplane (pid %lld) disconnected: %s", sd->dp.pid, why);
	sd_loop_del(sd, sd->dp.fd);
	close(sd->dp.fd);
	sd->dp.fd = -1;
	sd->dp.hello_seen = false;
	sd->dp.push_pending = false;
	sl_dp_reader_reset(&sd->dp.rd);
	fail_pending(sd, "the dataplane disconnected");
}

void
sd_dp_on_listen(struct sluiced *sd)
{
	int fd = accept4(sd->dp.listen_fd, NULL, NULL,
			 SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	if (sd->dp.fd >= 0)
		sd_dp_close(sd, "a new dataplane connected");
	/* Room for a big push in the socket, so the dataplane takes it in
	 * a few reads; as root the system's limit does not apply. */
	int sndbuf = SD_DP_SNDBUF;

	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf,
		       sizeof(sndbuf)) != 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	sd->dp.fd = fd;
	sd->dp.next_seq = 1;
	sd->dp.connects++;
	if (sd_loop_add(sd, fd) != 0)
		sd_dp_close(sd, "cannot watch the socket");
}

/* Send msg (taking it) with v, type and seq set. */
static int
send_msg(struct sluiced *sd, const char *type, json_t *msg, uint32_t seq,
	 const char *body, size_t body_len)
{
	int ret;

	json_object_set_new(msg, "v", json_integer(SL_DP_PROTO_VERSION));
	json_object_set_new(msg, "type", json_string(type));
	json_object_set_new(msg, "seq", json_integer(seq));
	if (body != NULL)
		json_object_set_new(msg, "body_len",
				    json_integer((json_int_t)body_len));
	ret = sl_dp_send(sd->dp.fd, msg, body, body_len,
			 SD_DP_WRITE_TIMEOUT_MS);
	json_decref(msg);
	if (ret != 0)
		sd_dp_close(sd, strerror(-ret));
	return ret;
}

static struct sd_dp_request *
add_pending(struct sluiced *sd, int timeout_ms, sd_dp_reply_fn *cb,
	    void *ctx)
{
	struct sd_dp_request *r = calloc(1, sizeof(*r)), **tail;

	if (r == NULL)
		return NULL;
	r->seq = sd->dp.next_seq++;
	r->deadline_ms = now_ms() + timeout_ms;
	r->cb = cb;
	r->ctx = ctx;
	for (tail = &sd->dp.pending; *tail != NULL; tail = &(*tail)->next)
		;
	*tail = r;
	return r;
}

static void
remove_pending(struct sluiced *sd, struct sd_dp_request *r)
{
	struct sd_dp_request **p;

	for (p = &sd->dp.pending; *p != NULL; p = &(*p)->next)
		if (*p == r) {
			*p = r->next;
			return;
		}
}

int
sd_dp_request(struct sluiced *sd, const char *type, json_t *msg,
	      int timeout_ms, sd_dp_reply_fn *cb, void *ctx)
{
	struct sd_dp_request *r;

	if (!sd_dp_connected(sd)) {
		json_decref(msg);
		return -ENOTCONN;
	}
	r = add_pending(sd, timeout_ms, cb, ctx);
	if (r == NULL) {
		json_decref(msg);
		return -ENOMEM;
	}
	if (send_msg(sd, type, msg, r->seq, NULL, 0) != 0)
		return 0;	/* the close has called cb */
	return 0;
}

/* The dataplane's answer to a push. */
static void
on_push_reply(void *ctx, json_t *reply, const char *body, size_t body_len,
	      const char *error)
{
	struct sluiced *sd = ctx;
	uint64_t gen = sd->dp.pushed_generation;

	(void)body;
	(void)body_len;
	sd->dp.push_pending = false;
	if (reply == NULL) {
		snprintf(sd->dp.last_error, sizeof(sd->dp.last_error),
			 "push of generation %llu: %s",
			 (unsigned long long)gen, error);
		return;
	}
	if (json_is_true(json_object_get(reply, "ok"))) {
		sd->dp.has_policy = true;
		sd->dp.policy_generation = gen;
		memcpy(sd->dp.policy_digest, sd->dp.pushed_digest,
		       sizeof(sd->dp.policy_digest));
		sd->dp.last_error[0] = '\0';
		SD_INFO("dataplane runs generation %llu",
			(unsigned long long)gen);
	} else {
		const char *why = json_string_value(
			json_object_get(reply, "error"));

		snprintf(sd->dp.last_error, sizeof(sd->dp.last_error),
			 "generation %llu refused by the dataplane: %s",
			 (unsigned long long)gen, why ? why : "no reason");
		SD_ERR("%s", sd->dp.last_error);
	}
	/* A change that came while this push was out goes now. */
	sd_dp_sync(sd);
}

void
sd_dp_sync(struct sluiced *sd)
{
	uint64_t gen = sd->st.policy->generation;
	/* The text pushed is the state with cluster groups' targets filled
	 * in (cluster.h): it changes with the members, not the generation. */
	const char *digest = sd_push_digest(sd), *text = sd_push_text(sd);
	struct sd_dp_request *r;

	if (!sd_dp_connected(sd) || sd->dp.push_pending)
		return;
	if (sd_dp_in_sync(sd))
		return;
	/* A generation the dataplane refused is not pushed again. */
	if (sd->dp.last_error[0] != '\0' && sd->dp.pushed_generation == gen &&
	    strcmp(sd->dp.pushed_digest, digest) == 0)
		return;
	r = add_pending(sd, SD_DP_WRITE_TIMEOUT_MS * 4, on_push_reply, sd);
	if (r == NULL)
		return;
	sd->dp.push_pending = true;
	sd->dp.pushed_generation = gen;
	snprintf(sd->dp.pushed_digest, sizeof(sd->dp.pushed_digest), "%s",
		 digest);
	SD_INFO("pushing generation %llu (%s) to the dataplane",
		(unsigned long long)gen, digest);
	send_msg(sd, "push", json_pack("{s:I}", "generation",
				       (json_int_t)gen),
		 r->seq, text, strlen(text));
}

static void
on_hello(struct sluiced *sd, json_t *msg)
{
	json_t *gen = json_object_get(msg, "policy_generation");
	const char *digest = json_string_value(
		json_object_get(msg, "policy_digest"));

	sd->dp.hello_seen = true;
	sd->dp.pid = json_integer_value(json_object_get(msg, "pid"));
	sd->dp.has_policy = json_is_integer(gen);
	sd->dp.policy_generation = (uint64_t)json_integer_value(gen);
	sd->dp.last_error[0] = '\0';
	/* The same generation number from another history (a state file
	 * removed and begun again) differs in content: a digest, when the
	 * dataplane sends one, settles it. */
	if (digest != NULL && strcmp(digest, sd_push_digest(sd)) != 0)
		sd->dp.has_policy = false;
	snprintf(sd->dp.policy_digest, sizeof(sd->dp.policy_digest), "%s",
		 digest != NULL ? digest : sd_push_digest(sd));
	SD_INFO("dataplane pid %lld connected, running generation %s",
		sd->dp.pid, sd->dp.has_policy ? "known" : "none or other");
	sd_dp_sync(sd);
}

static void
on_frame(struct sluiced *sd, char *frame, size_t len)
{
	struct sd_dp_request *r;
	json_error_t jerr;
	json_t *msg;

	if (sd->dp.body_wanted != NULL) {
		r = sd->dp.body_wanted;
		sd->dp.body_wanted = NULL;
		remove_pending(sd, r);
		if (r->cb != NULL)
			r->cb(r->ctx, r->reply, frame, len, NULL);
		json_decref(r->reply);
		free(r);
		return;
	}
	msg = json_loadb(frame, len, 0, &jerr);
	if (!json_is_object(msg) ||
	    json_integer_value(json_object_get(msg, "v")) !=
	    SL_DP_PROTO_VERSION) {
		json_decref(msg);
		sd_dp_close(sd, "a message that is not protocol version 1 "
			    "JSON");
		return;
	}
	const char *type = json_string_value(json_object_get(msg, "type"));

	if (type != NULL && strcmp(type, "hello") == 0) {
		on_hello(sd, msg);
	} else if (type != NULL && strcmp(type, "reply") == 0) {
		json_int_t seq = json_integer_value(json_object_get(msg,
								    "seq"));

		for (r = sd->dp.pending; r != NULL; r = r->next)
			if (r->seq == seq)
				break;
		if (r == NULL) {
			SD_DEBUG("reply to request %lld nobody waits for",
				 (long long)seq);
		} else if (json_is_integer(json_object_get(msg,
							   "body_len"))) {
			r->reply = json_incref(msg);
			sd->dp.body_wanted = r;
		} else {
			remove_pending(sd, r);
			if (r->cb != NULL)
				r->cb(r->ctx, msg, NULL, 0, NULL);
			free(r);
		}
	} else {
		SD_WARN("dataplane sent an unknown message type %s",
			type ? type : "(none)");
	}
	json_decref(msg);
}

void
sd_dp_on_readable(struct sluiced *sd)
{
	for (;;) {
		int rc = sl_dp_reader_fill(&sd->dp.rd, sd->dp.fd);
		char *frame;
		size_t len;

		if (sl_dp_reader_next(&sd->dp.rd, &frame, &len) == 1) {
			on_frame(sd, frame, len);
			free(frame);
			if (sd->dp.fd < 0)
				return;
			continue;
		}
		if (rc <= 0) {
			sd->dp.body_wanted = NULL;
			sd_dp_close(sd, rc == 0 ? "end of file"
					: strerror(-rc));
		}
		return;
	}
}

int
sd_dp_tick(struct sluiced *sd)
{
	int64_t now = now_ms(), next = -1;
	struct sd_dp_request *r = sd->dp.pending;

	while (r != NULL) {
		struct sd_dp_request *after = r->next;

		if (r->deadline_ms <= now && r != sd->dp.body_wanted) {
			remove_pending(sd, r);
			if (r->cb != NULL)
				r->cb(r->ctx, NULL, NULL, 0,
				      "the dataplane did not answer in time");
			json_decref(r->reply);
			free(r);
		} else if (next < 0 || r->deadline_ms - now < next) {
			next = r->deadline_ms - now;
		}
		r = after;
	}
	return (int)next;
}
