/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The HTTP side of the admin API (docs/api.md): libmicrohttpd daemons in
 * external-epoll mode on sluiced's event loop - a unix socket (mode 0660)
 * and optionally a TCP listener that needs a bearer token (and TLS when a
 * certificate is given).  This file enforces the limits (body size,
 * connections, idle time, request rate), authenticates, reads the body,
 * routes through the table in handlers.c and writes the reply.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "log.h"

#define SD_LISTENERS_MAX 2

/*
 * One open connection, for the whole-request time limit: libmicrohttpd's
 * own timeout only counts idle time, so a client sending a byte now and
 * then would hold a connection for ever.  since_ms restarts when a request
 * completes; a connection whose request has taken longer than
 * --request-timeout is shut down (MHD then sees the end of the stream and
 * closes it), unless it waits for the dataplane (busy).
 */
struct sd_conn {
	int fd;
	int64_t since_ms;
	bool busy;
	bool cut;
	struct sd_conn *prev;
	struct sd_conn *next;
};

struct sd_listener {
	struct sd_api *api;
	struct MHD_Daemon *d;
	int epoll_fd;		/* MHD's own epoll set, in ours */
	bool tcp;		/* needs the bearer token */
	double tokens;		/* rate limit bucket */
	int64_t refill_ms;
	struct sd_conn *conns;	/* open connections */
};

struct sd_api {
	struct sluiced *sd;
	struct sd_listener l[SD_LISTENERS_MAX];
	unsigned int n;
	struct sd_api_counters counters;
	const char *etag;	/* the reply being sent names this, not the
				 * generation (send_call) */
};

/* One request, from its first byte to its completion. */
struct sd_req {
	struct sd_listener *l;
	char *body;
	size_t len;
	size_t cap;
	bool too_large;
	bool early;		/* refused before the body: reply queued */
	bool suspended;
	bool resumed;
	struct sd_call call;
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct sd_conn *
conn_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn,
		MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci != NULL ? ci->socket_context : NULL;
}

static void
on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
	      enum MHD_ConnectionNotificationCode toe)
{
	struct sd_listener *l = cls;
	struct sd_conn *sc = *socket_context;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
			conn, MHD_CONNECTION_INFO_CONNECTION_FD);

		sc = calloc(1, sizeof(*sc));
		if (sc == NULL)
			return;	/* no time limit on this one: idle only */
		sc->fd = ci != NULL ? ci->connect_fd : -1;
		sc->since_ms = now_ms();
		sc->next = l->conns;
		if (l->conns != NULL)
			l->conns->prev = sc;
		l->conns = sc;
		*socket_context = sc;
		return;
	}
	if (sc == NULL)
		return;
	if (sc->prev != NULL)
		sc->prev->next = sc->next;
	else
		l->conns = sc->next;
	if (sc->next != NULL)
		sc->next->prev = sc->prev;
	free(sc);
	*socket_context = NULL;
}

/* Cut the connections whose request has run out of time; returns ms to
 * the next deadline, or -1. */
static int
cut_slow_connections(struct sd_listener *l, unsigned int timeout_s)
{
	int64_t now = now_ms(), limit = (int64_t)timeout_s * 1000;
	int next = -1;

	for (struct sd_conn *sc = l->conns; sc != NULL; sc = sc->next) {
		int64_t left = sc->since_ms + limit - now;

		if (sc->busy || sc->cut || sc->fd < 0)
			continue;
		if (left <= 0) {
			SD_DEBUG("http: a request took over %u s: closing its "
				 "connection", timeout_s);
			shutdown(sc->fd, SHUT_RDWR);
			sc->cut = true;
		} else if (next < 0 || left < next) {
			next = (int)left;
		}
	}
	return next;
}

/*
 * Percent-decoding of the path and query (MHD_OPTION_UNESCAPE_CALLBACK):
 * as MHD's own, except that %00 stays as it is written, so a path such as
 * /v1/rules/web%00x names no rule instead of being cut to /v1/rules/web.
 */
static size_t
unescape(void *cls, struct MHD_Connection *conn, char *s)
{
	char *w = s;

	(void)cls;
	(void)conn;
	for (char *r = s; *r != '\0'; r++) {
		unsigned int v;

		if (r[0] == '%' && isxdigit((unsigned char)r[1]) &&
		    isxdigit((unsigned char)r[2]) &&
		    sscanf(r + 1, "%2x", &v) == 1 && v != 0) {
			*w++ = (char)v;
			r += 2;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
	return (size_t)(w - s);
}

/* Whether s is well-formed UTF-8 (no overlong forms, no surrogates). */
static bool
utf8_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p != 0) {
		unsigned int n, cp;

		if (p[0] < 0x80) {
			p++;
			continue;
		}
		if ((p[0] & 0xe0) == 0xc0) {
			n = 1;
			cp = p[0] & 0x1f;
		} else if ((p[0] & 0xf0) == 0xe0) {
			n = 2;
			cp = p[0] & 0x0f;
		} else if ((p[0] & 0xf8) == 0xf0) {
			n = 3;
			cp = p[0] & 0x07;
		} else {
			return false;
		}
		for (unsigned int i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
		    (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		p += n + 1;
	}
	return true;
}

const struct sd_api_counters *
sd_api_counters(const struct sluiced *sd)
{
	return &sd->api->counters;
}

void
sd_fail(struct sd_call *c, unsigned int status, const char *code,
	const char *field, const char *fmt, ...)
{
	va_list ap;

	c->failed = true;
	c->err.status = status;
	c->err.code = code;
	snprintf(c->err.field, sizeof(c->err.field), "%s", field ? field : "");
	va_start(ap, fmt);
	vsnprintf(c->err.message, sizeof(c->err.message), fmt, ap);
	va_end(ap);
}

void
sd_fail_err(struct sd_call *c, struct sd_err *e)
{
	c->failed = true;
	c->err = *e;
	e->details = NULL;	/* now c's */
}

void
sd_reply(struct sd_call *c, unsigned int status, json_t *json)
{
	c->status = status;
	json_decref(c->json);
	c->json = json;
}

const char *
sd_query(const struct sd_call *c, const char *key)
{
	return MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND,
					   key);
}

static int
parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno != 0 || *end != '\0' ? -1 : 0;
}

int
sd_if_generation(struct sd_call *c, uint64_t *gen)
{
	const char *q = sd_query(c, "generation");
	const char *h = MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND,
						    MHD_HTTP_HEADER_IF_MATCH);
	char buf[32];

	*gen = SD_GEN_ANY;
	if (h != NULL) {
		size_t n = strlen(h);

		/* "N" or N; a weak W/"N" means the same here. */
		if (strncmp(h, "W/", 2) == 0) {
			h += 2;
			n -= 2;
		}
		if (n >= 2 && h[0] == '"' && h[n - 1] == '"' &&
		    n - 2 < sizeof(buf)) {
			memcpy(buf, h + 1, n - 2);
			buf[n - 2] = '\0';
			h = buf;
		}
		if (parse_u64(h, gen) != 0) {
			sd_fail(c, 400, "bad_request", "If-Match", "If-Match "
				"must be a generation: \"N\"");
			return -1;
		}
	}
	if (q != NULL) {
		uint64_t g;

		if (parse_u64(q, &g) != 0) {
			sd_fail(c, 400, "bad_request", "generation",
				"generation must be a number");
			return -1;
		}
		if (*gen != SD_GEN_ANY && *gen != g) {
			sd_fail(c, 400, "bad_request", "generation",
				"If-Match and ?generation= disagree");
			return -1;
		}
		*gen = g;
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * Replies
 */

static void
count_status(struct sd_api *api, unsigned int status)
{
	unsigned int cls = status / 100;

	if (cls < 6)
		api->counters.requests[cls]++;
}

static enum MHD_Result
send_body(struct sd_api *api, struct MHD_Connection *conn,
	  unsigned int status, char *body, size_t len, const char *type,
	  const char *disposition, const char *allow)
{
	struct MHD_Response *resp;
	char etag[32];
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(len, body,
					       MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	/* The generation is for those allowed to read it: not on a refusal
	 * before authentication or under the rate limit. */
	if (status != 401 && status != 429) {
		if (api->etag != NULL)
			snprintf(etag, sizeof(etag), "\"%s\"", api->etag);
		else
			snprintf(etag, sizeof(etag), "\"%llu\"", (unsigned long
				 long)api->sd->st.policy->generation);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
	}
	if (status == 401)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					"Bearer");
	if (status == 429)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
	if (disposition != NULL)
		MHD_add_response_header(resp,
					MHD_HTTP_HEADER_CONTENT_DISPOSITION,
					disposition);
	if (allow != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	count_status(api, status);
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result
send_json(struct sd_api *api, struct MHD_Connection *conn,
	  unsigned int status, json_t *json, const char *allow)
{
	char *text = json != NULL ?
		json_dumps(json, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	size_t len;

	json_decref(json);
	if (text == NULL) {
		/* Only a string that is not UTF-8 (an echo of the request)
		 * makes jansson fail here, or memory running out. */
		static const char fallback[] = "{\"error\": {\"code\": "
			"\"bad_request\", \"message\": \"the request holds "
			"bytes that are not UTF-8\"}}\n";

		text = strdup(fallback);
		if (text == NULL)
			return MHD_NO;
		status = 400;
	}
	len = strlen(text);
	/* A newline at the end, for terminals; the buffer has the NUL's byte. */
	text[len++] = '\n';
	return send_body(api, conn, status, text, len, "application/json",
			 NULL, allow);
}

static json_t *
error_json(const struct sd_err *e)
{
	json_t *err = json_pack("{s:s, s:s}", "code", e->code,
				"message", e->message);

	if (e->field[0] != '\0')
		json_object_set_new(err, "field", json_string(e->field));
	if (e->details != NULL)
		json_object_set(err, "details", e->details);
	return json_pack("{s:o}", "error", err);
}

static enum MHD_Result
send_error(struct sd_api *api, struct MHD_Connection *conn,
	   struct sd_err *e, const char *allow)
{
	json_t *j = error_json(e);

	json_decref(e->details);
	e->details = NULL;
	if (e->status == 401)
		api->counters.unauthorized++;
	if (e->status == 429)
		api->counters.rate_limited++;
	return send_json(api, conn, e->status, j, allow);
}

static enum MHD_Result send_call_body(struct sd_api *api, struct sd_call *c);

/* The reply of a handler; its ETag is c->etag when it set one. */
static enum MHD_Result
send_call(struct sd_api *api, struct sd_call *c)
{
	enum MHD_Result ret;

	api->etag = c->etag[0] != '\0' ? c->etag : NULL;
	ret = send_call_body(api, c);
	api->etag = NULL;
	return ret;
}

static enum MHD_Result
send_call_body(struct sd_api *api, struct sd_call *c)
{
	if (c->failed)
		return send_error(api, c->conn, &c->err, NULL);
	if (c->json != NULL) {
		json_t *j = c->json;

		c->json = NULL;
		return send_json(api, c->conn, c->status ? c->status : 200, j,
				 NULL);
	}
	char *text = c->text;

	c->text = NULL;
	return send_body(api, c->conn, c->status ? c->status : 200,
			 text ? text : strdup(""), text ? c->text_len : 0,
			 c->content_type ? c->content_type : "text/plain",
			 c->disposition, NULL);
}

/* ------------------------------------------------------------------------
 * Deferral to the dataplane
 */

static void
on_dp_reply(void *ctx, json_t *reply, const char *body, size_t body_len,
	    const char *error)
{
	struct sd_req *req = ctx;
	struct sd_call *c = &req->call;

	c->done(c, reply, body, body_len, error);
	sd_resume(c);
}

void
sd_suspend(struct sd_call *c)
{
	c->deferred = true;
}

void
sd_resume(struct sd_call *c)
{
	struct sd_req *req = (struct sd_req *)((char *)c -
					       offsetof(struct sd_req, call));
	struct sd_conn *sc = conn_of(c->conn);

	req->resumed = true;
	if (sc != NULL) {
		sc->busy = false;
		sc->since_ms = now_ms();
	}
	MHD_resume_connection(c->conn);
}

void
sd_defer(struct sd_call *c, const char *type, json_t *msg, int timeout_ms,
	 sd_deferred_fn *done)
{
	struct sd_req *req = (struct sd_req *)((char *)c -
					       offsetof(struct sd_req, call));
	int ret;

	c->done = done;
	c->deferred = true;
	ret = sd_dp_request(c->sd, type, msg, timeout_ms, on_dp_reply, req);
	if (ret != 0) {
		c->deferred = false;
		sd_fail(c, 503, "dataplane_unavailable", NULL,
			"no dataplane is connected to sluiced (%s)",
			c->sd->opt.dp_socket);
	}
}

/* ------------------------------------------------------------------------
 * Requests
 */

static bool
rate_ok(struct sd_listener *l, unsigned int rate)
{
	int64_t now = now_ms();

	l->tokens += (double)(now - l->refill_ms) * rate / 1000.0;
	if (l->tokens > 2.0 * rate)
		l->tokens = 2.0 * rate;
	l->refill_ms = now;
	if (l->tokens < 1.0)
		return false;
	l->tokens -= 1.0;
	return true;
}

/* Constant-time comparison, so the token cannot be guessed by timing. */
static bool
token_ok(const char *header, const char *token)
{
	size_t n = strlen(token), hn;
	unsigned char diff = 0;

	if (header == NULL || strncasecmp(header, "Bearer ", 7) != 0)
		return false;
	header += 7;
	hn = strlen(header);
	diff = hn != n;
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(header[i < hn ? i : 0] ^ token[i]);
	return diff == 0;
}

static bool
method_has_body(const char *method)
{
	return strcmp(method, "PUT") == 0 || strcmp(method, "POST") == 0;
}

/* Checks made before the body is read; fills e and returns -1 to refuse. */
static int
precheck(struct sd_listener *l, struct MHD_Connection *conn,
	 const char *method, struct sd_call *c, struct sd_err *e)
{
	struct sluiced *sd = l->api->sd;
	const char *v;

	if (l->tcp && !token_ok(MHD_lookup_connection_value(conn,
		MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION), sd->token)) {
		sd_err_set(e, 401, "unauthorized", "Authorization", "this "
			   "listener needs Authorization: Bearer <token>");
		return -1;
	}
	if (!rate_ok(l, sd->opt.rate)) {
		sd_err_set(e, 429, "rate_limited", NULL, "over %u requests a "
			   "second: slow down", sd->opt.rate);
		return -1;
	}
	if (!method_has_body(method))
		return 0;
	v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
					MHD_HTTP_HEADER_TRANSFER_ENCODING);
	if (v != NULL && strcasecmp(v, "identity") != 0) {
		sd_err_set(e, 411, "length_required", "Content-Length",
			   "send the body with a Content-Length, not %s", v);
		return -1;
	}
	v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
					MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (v != NULL) {
		uint64_t n;

		if (parse_u64(v, &n) != 0) {
			sd_err_set(e, 400, "bad_request", "Content-Length",
				   "Content-Length is not a number");
			return -1;
		}
		if (n > sd->opt.max_body) {
			sd_err_set(e, 413, "too_large", NULL, "the body is %llu "
				   "bytes, over the limit of %zu",
				   (unsigned long long)n, sd->opt.max_body);
			return -1;
		}
	}
	v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
					MHD_HTTP_HEADER_CONTENT_TYPE);
	if (v != NULL) {
		size_t n = strcspn(v, "; ");

		if ((n == 16 && strncasecmp(v, "application/json", n) == 0) ||
		    n == 0)
			c->body_yaml = false;
		else if ((n == 16 && strncasecmp(v, "application/yaml", n) == 0)
			 || (n == 18 &&
			     strncasecmp(v, "application/x-yaml", n) == 0) ||
			 (n == 9 && strncasecmp(v, "text/yaml", n) == 0))
			c->body_yaml = true;
		else {
			sd_err_set(e, 415, "unsupported_media_type",
				   "Content-Type", "the body must be "
				   "application/json or application/yaml");
			return -1;
		}
	}
	return 0;
}

static int
body_append(struct sd_req *req, const char *data, size_t n, size_t max)
{
	if (req->too_large || req->len + n > max) {
		req->too_large = true;
		return 0;
	}
	if (req->len + n + 1 > req->cap) {
		size_t cap = req->cap ? req->cap : 4096;
		char *b;

		while (cap < req->len + n + 1)
			cap *= 2;
		b = realloc(req->body, cap);
		if (b == NULL)
			return -ENOMEM;
		req->body = b;
		req->cap = cap;
	}
	memcpy(req->body + req->len, data, n);
	req->len += n;
	req->body[req->len] = '\0';
	return 0;
}

struct query_scan {
	unsigned int allowed;	/* SD_QUERY_* */
	const char *bad;	/* the first argument not allowed */
};

static enum MHD_Result
query_arg(void *cls, enum MHD_ValueKind kind, const char *key,
	  const char *value)
{
	struct query_scan *q = cls;

	(void)kind;
	(void)value;
	if ((strcmp(key, "generation") == 0 &&
	     (q->allowed & SD_QUERY_GENERATION)) ||
	    (strcmp(key, "dry_run") == 0 && (q->allowed & SD_QUERY_DRY_RUN)) ||
	    (strcmp(key, "revision") == 0 && (q->allowed & SD_QUERY_REVISION)))
		return MHD_YES;
	q->bad = key;
	return MHD_NO;
}

/* Refuse query arguments the route does not take: a typo such as
 * ?dryrun=1 must not apply a change for real.  0, or -1 with c failed. */
static int
query_check(struct sd_call *c, const struct sd_route *r)
{
	struct query_scan q = { .allowed = r->query };

	MHD_get_connection_values(c->conn, MHD_GET_ARGUMENT_KIND, query_arg,
				  &q);
	if (q.bad == NULL)
		return 0;
	if (utf8_ok(q.bad))
		sd_fail(c, 400, "bad_request", q.bad, "%s %s takes no query "
			"argument \"%.40s\"", r->method, r->path, q.bad);
	else
		sd_fail(c, 400, "bad_request", NULL, "%s %s: a query argument "
			"is not UTF-8", r->method, r->path);
	return -1;
}

struct flag_scan {
	const char *key;
	bool found;
	const char *value;
};

static enum MHD_Result
flag_arg(void *cls, enum MHD_ValueKind kind, const char *key,
	 const char *value)
{
	struct flag_scan *f = cls;

	(void)kind;
	if (strcmp(key, f->key) != 0)
		return MHD_YES;
	f->found = true;
	f->value = value;
	return MHD_NO;
}

int
sd_query_flag(struct sd_call *c, const char *key, bool *on)
{
	struct flag_scan f = { .key = key };

	MHD_get_connection_values(c->conn, MHD_GET_ARGUMENT_KIND, flag_arg,
				  &f);
	*on = false;
	if (!f.found)
		return 0;
	/* ?dry_run (no value), =1, =true: on; =0, =false: off. */
	if (f.value == NULL || f.value[0] == '\0' ||
	    strcmp(f.value, "1") == 0 || strcmp(f.value, "true") == 0) {
		*on = true;
		return 0;
	}
	if (strcmp(f.value, "0") == 0 || strcmp(f.value, "false") == 0)
		return 0;
	sd_fail(c, 400, "bad_request", key, "%s must be 1, true, 0 or false",
		key);
	return -1;
}

/* Route by the table; 404 for no path, 405 (with Allow) for no method. */
static enum MHD_Result
dispatch(struct sd_api *api, struct sd_req *req, const char *url,
	 const char *method)
{
	struct sd_call *c = &req->call;
	char allow[128] = "";
	bool path_known = false;

	/* HEAD is GET without the body (MHD leaves the body out). */
	if (strcmp(method, "HEAD") == 0)
		method = "GET";
	if (!utf8_ok(url)) {
		struct sd_err e = { 0 };

		sd_err_set(&e, 400, "bad_request", NULL,
			   "the path is not UTF-8");
		return send_error(api, c->conn, &e, NULL);
	}
	for (size_t i = 0; i < sd_n_routes; i++) {
		const struct sd_route *r = &sd_routes[i];
		size_t n = strlen(r->path);

		if (r->has_tail) {
			if (strncmp(url, r->path, n) != 0 || url[n] == '\0')
				continue;
			c->tail = url + n;
		} else if (strcmp(url, r->path) != 0) {
			continue;
		}
		if (strcmp(method, r->method) != 0) {
			path_known = true;
			if (strstr(allow, r->method) == NULL)
				snprintf(allow + strlen(allow),
					 sizeof(allow) - strlen(allow),
					 "%s%s", allow[0] ? ", " : "",
					 r->method);
			continue;
		}
		if (query_check(c, r) == 0)
			r->fn(c);
		if (c->deferred) {
			struct sd_conn *sc = conn_of(c->conn);

			if (sc != NULL)
				sc->busy = true;
			req->suspended = true;
			MHD_suspend_connection(c->conn);
			return MHD_YES;
		}
		return send_call(api, c);
	}
	struct sd_err e = { 0 };

	if (path_known) {
		sd_err_set(&e, 405, "method_not_allowed", NULL, "%s is not "
			   "allowed on %s (allowed: %s)", method, url, allow);
		return send_error(api, c->conn, &e, allow);
	}
	sd_err_set(&e, 404, "not_found", NULL, "no resource %s", url);
	return send_error(api, c->conn, &e, NULL);
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
	   const char *method, const char *version, const char *upload_data,
	   size_t *upload_data_size, void **con_cls)
{
	struct sd_listener *l = cls;
	struct sd_api *api = l->api;
	struct sd_req *req = *con_cls;

	(void)version;
	if (req == NULL) {
		struct sd_err e = { 0 };

		req = calloc(1, sizeof(*req));
		if (req == NULL)
			return MHD_NO;
		req->l = l;
		req->call.sd = api->sd;
		req->call.conn = conn;
		req->call.method = method;
		*con_cls = req;
		if (precheck(l, conn, method, &req->call, &e) != 0) {
			req->early = true;
			return send_error(api, conn, &e, NULL);
		}
		return MHD_YES;
	}
	if (req->early)
		return MHD_YES;
	if (*upload_data_size != 0) {
		if (body_append(req, upload_data, *upload_data_size,
				api->sd->opt.max_body) != 0)
			return MHD_NO;
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (req->resumed) {
		req->resumed = false;
		req->suspended = false;
		return send_call(api, &req->call);
	}
	if (req->suspended)
		return MHD_YES;
	if (req->too_large) {
		struct sd_err e = { 0 };

		sd_err_set(&e, 413, "too_large", NULL, "the body is over the "
			   "limit of %zu bytes", api->sd->opt.max_body);
		return send_error(api, conn, &e, NULL);
	}
	/* From here the time is sluiced's, not the client's: the
	 * whole-request limit stops until the reply has gone. */
	struct sd_conn *sc = conn_of(conn);

	if (sc != NULL)
		sc->busy = true;
	req->call.body = req->body ? req->body : "";
	req->call.body_len = req->len;
	if (req->len != 0 && memchr(req->body, '\0', req->len) != NULL) {
		struct sd_err e = { 0 };

		/* jansson would stop at it and take what came before. */
		sd_err_set(&e, 400, "bad_json", NULL, "the body holds a NUL "
			   "byte at offset %zu", (size_t)((char *)memchr(
			   req->body, '\0', req->len) - req->body));
		return send_error(api, conn, &e, NULL);
	}
	SD_DEBUG("%s %s (%zu bytes)", method, url, req->len);
	return dispatch(api, req, url, method);
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
	     enum MHD_RequestTerminationCode toe)
{
	struct sd_req *req = *con_cls;

	struct sd_conn *sc = conn_of(conn);

	(void)cls;
	(void)toe;
	if (sc != NULL) {
		sc->since_ms = now_ms();
		sc->busy = false;
	}
	if (req == NULL)
		return;
	json_decref(req->call.json);
	json_decref(req->call.err.details);
	free(req->call.text);
	free(req->body);
	free(req);
	*con_cls = NULL;
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	SD_DEBUG("http: %s", line);
}

/* ------------------------------------------------------------------------
 * Listeners
 */

static int
unix_listener(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    chmod(path, 0660) != 0 || listen(fd, 64) != 0) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	return fd;
}

static int
tcp_listener(const char *spec)
{
	char host[256];
	const char *colon = strrchr(spec, ':');
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_PASSIVE };
	struct addrinfo *ai;
	int fd, one = 1;

	if (colon == NULL || colon == spec ||
	    (size_t)(colon - spec) >= sizeof(host))
		return -EINVAL;
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = '\0';
	/* [::1]:8470 */
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0)
		return -EINVAL;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0) {
		freeaddrinfo(ai);
		return -errno;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
	    listen(fd, 128) != 0) {
		int ret = -errno;

		freeaddrinfo(ai);
		close(fd);
		return ret;
	}
	freeaddrinfo(ai);
	return fd;
}

static char *
read_file(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t cap = 0, len = 0;

	if (f == NULL)
		return NULL;
	for (;;) {
		if (len + 4096 + 1 > cap) {
			char *b = realloc(buf, cap = cap ? 2 * cap : 8192);

			if (b == NULL)
				break;
			buf = b;
		}
		size_t n = fread(buf + len, 1, cap - len - 1, f);

		len += n;
		if (n == 0)
			break;
	}
	fclose(f);
	if (buf != NULL)
		buf[len] = '\0';
	return buf;
}

static int
start_daemon(struct sd_api *api, int fd, bool tcp)
{
	struct sluiced *sd = api->sd;
	struct sd_listener *l = &api->l[api->n];
	unsigned int flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
			     MHD_USE_ERROR_LOG;
	char *cert = NULL, *key = NULL;
	const union MHD_DaemonInfo *info;

	l->api = api;
	l->tcp = tcp;
	l->tokens = 2.0 * sd->opt.rate;
	l->refill_ms = now_ms();
	if (tcp && sd->opt.tls_cert != NULL) {
		cert = read_file(sd->opt.tls_cert);
		key = read_file(sd->opt.tls_key);
		if (cert == NULL || key == NULL) {
			SD_ERR("cannot read --tls-cert %s or --tls-key %s",
			       sd->opt.tls_cert, sd->opt.tls_key);
			free(cert);
			free(key);
			return -EINVAL;
		}
		flags |= MHD_USE_TLS;
	}
	l->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, l,
		MHD_OPTION_LISTEN_SOCKET, fd,
		MHD_OPTION_CONNECTION_LIMIT, sd->opt.max_conns,
		MHD_OPTION_CONNECTION_TIMEOUT, sd->opt.request_timeout,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, l,
		MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
		cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, cert,
		MHD_OPTION_HTTPS_MEM_KEY, key,
		MHD_OPTION_END);
	/* MHD copies neither: they live as long as the daemon. */
	if (l->d == NULL) {
		SD_ERR("cannot start the HTTP server on %s", tcp ? "TCP" :
		       "the unix socket");
		close(fd);
		return -EINVAL;
	}
	info = MHD_get_daemon_info(l->d, MHD_DAEMON_INFO_EPOLL_FD);
	l->epoll_fd = info->epoll_fd;
	api->n++;
	return sd_loop_add(sd, l->epoll_fd);
}

int
sd_api_start(struct sluiced *sd)
{
	struct sd_api *api = calloc(1, sizeof(*api));
	int fd, ret;

	if (api == NULL)
		return -ENOMEM;
	api->sd = sd;
	sd->api = api;
	if (sd->opt.api_socket[0] != '\0') {
		fd = unix_listener(sd->opt.api_socket);
		if (fd < 0) {
			SD_ERR("API socket %s: %s", sd->opt.api_socket,
			       strerror(-fd));
			return fd;
		}
		ret = start_daemon(api, fd, false);
		if (ret != 0)
			return ret;
		SD_INFO("API on unix socket %s", sd->opt.api_socket);
	}
	if (sd->opt.listen != NULL) {
		fd = tcp_listener(sd->opt.listen);
		if (fd < 0) {
			SD_ERR("--listen %s: %s", sd->opt.listen,
			       fd == -EINVAL ? "not HOST:PORT with a numeric "
			       "host" : strerror(-fd));
			return fd;
		}
		ret = start_daemon(api, fd, true);
		if (ret != 0)
			return ret;
		SD_INFO("API on TCP %s%s (bearer token required)",
			sd->opt.listen, sd->opt.tls_cert ? " with TLS" : "");
	}
	return 0;
}

bool
sd_api_owns_fd(const struct sluiced *sd, int fd)
{
	for (unsigned int i = 0; sd->api != NULL && i < sd->api->n; i++)
		if (sd->api->l[i].epoll_fd == fd)
			return true;
	return false;
}

static unsigned int
open_connections(struct MHD_Daemon *d)
{
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d,
		MHD_DAEMON_INFO_CURRENT_CONNECTIONS);

	return info != NULL ? info->num_connections : 0;
}

int
sd_api_run(struct sluiced *sd)
{
	int next = -1;

	for (unsigned int i = 0; i < sd->api->n; i++) {
		struct sd_listener *l = &sd->api->l[i];
		MHD_UNSIGNED_LONG_LONG t;
		int cut;

		/* Again while a run closed connections: a run that closes
		 * them at the connection limit cleans them up at its end,
		 * after it has left the listening socket out of its epoll
		 * set; only a later run puts it back, and without one
		 * epoll_wait would sleep on with clients in the backlog. */
		for (int runs = 0; runs < 8; runs++) {
			unsigned int before = open_connections(l->d);

			MHD_run(l->d);
			if (open_connections(l->d) >= before)
				break;
		}
		if (MHD_get_timeout(l->d, &t) == MHD_YES &&
		    (next < 0 || t < (MHD_UNSIGNED_LONG_LONG)next))
			next = t > 60000 ? 60000 : (int)t;
		cut = cut_slow_connections(l, sd->opt.request_timeout);
		if (cut >= 0 && (next < 0 || cut < next))
			next = cut;
	}
	return next;
}

void
sd_api_stop(struct sluiced *sd)
{
	if (sd->api == NULL)
		return;
	for (unsigned int i = 0; i < sd->api->n; i++)
		MHD_stop_daemon(sd->api->l[i].d);
	if (sd->opt.api_socket[0] != '\0')
		unlink(sd->opt.api_socket);
	free(sd->api);
	sd->api = NULL;
}
