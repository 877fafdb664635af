/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * etcd's v3 HTTP/JSON gateway over libcurl's multi interface (etcd.h).
 *
 * libcurl tells us which sockets to watch (socket_cb) and when to call it
 * back on time (timer_cb); the sockets go into this module's epoll set,
 * whose fd the main loop watches.  sd_etcd_run() hands ready sockets and
 * expired timers to curl_multi_socket_action(), then delivers: stream
 * messages parsed from what arrived, and the replies of finished requests.
 * Callbacks never run inside libcurl, so they may start and cancel
 * requests freely.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "etcd.h"
#include "log.h"

#define SD_ETCD_BODY_MAX (16u << 20)	/* a range of 10,000 members fits */
#define SD_ETCD_CONNECT_MS 1000
#define SD_ETCD_ENDPOINTS_MAX 16

struct sd_etcd_req {
	struct sd_etcd *e;
	CURL *h;
	struct curl_slist *headers;
	char *buf;
	size_t len, cap;
	bool stream;
	bool cancelled;
	bool delivering;	/* a callback of it is running */
	sd_etcd_reply_fn *cb;
	sd_etcd_msg_fn *on_msg;
	void *ctx;
	struct sd_etcd_req *next;
};

struct sd_etcd {
	CURLM *multi;
	int epfd;
	int64_t timer_at;	/* CLOCK_MONOTONIC ms; -1: none */
	char *endpoints[SD_ETCD_ENDPOINTS_MAX];
	size_t n_endpoints, cur;
	char *cacert, *cert, *key, *user;
	char *token;
	struct sd_etcd_req *reqs;	/* every live request */
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *
dup_or_null(const char *s)
{
	return s != NULL && *s != '\0' ? strdup(s) : NULL;
}

/* libcurl: watch s for what, or stop. */
static int
socket_cb(CURL *h, curl_socket_t s, int what, void *userp, void *sockp)
{
	struct sd_etcd *e = userp;
	struct epoll_event ev = { .data.fd = s };

	(void)h;
	(void)sockp;
	if (what == CURL_POLL_REMOVE) {
		epoll_ctl(e->epfd, EPOLL_CTL_DEL, s, NULL);
		return 0;
	}
	ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) |
		    (what & CURL_POLL_OUT ? EPOLLOUT : 0);
	if (epoll_ctl(e->epfd, EPOLL_CTL_MOD, s, &ev) != 0 &&
	    epoll_ctl(e->epfd, EPOLL_CTL_ADD, s, &ev) != 0)
		SD_WARN("etcd: cannot watch socket %d: %s", s, strerror(errno));
	return 0;
}

static int
timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct sd_etcd *e = userp;

	(void)multi;
	e->timer_at = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	return 0;
}

struct sd_etcd *
sd_etcd_new(const struct sd_etcd_opts *o)
{
	static bool curl_ready;
	struct sd_etcd *e;
	char *list, *save = NULL;

	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
			errno = ENOMEM;
			return NULL;
		}
		curl_ready = true;
	}
	e = calloc(1, sizeof(*e));
	list = o->endpoints ? strdup(o->endpoints) : NULL;
	if (e == NULL || list == NULL) {
		free(e);
		free(list);
		errno = o->endpoints ? ENOMEM : EINVAL;
		return NULL;
	}
	e->epfd = -1;
	e->timer_at = -1;
	for (char *tok = strtok_r(list, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		size_t n = strlen(tok);

		while (n > 0 && tok[n - 1] == '/')
			tok[--n] = '\0';
		if (n == 0 || e->n_endpoints == SD_ETCD_ENDPOINTS_MAX)
			continue;
		if (strstr(tok, "://") != NULL)
			e->endpoints[e->n_endpoints] = strdup(tok);
		else if (asprintf(&e->endpoints[e->n_endpoints], "http://%s",
				  tok) < 0)
			e->endpoints[e->n_endpoints] = NULL;
		if (e->endpoints[e->n_endpoints] != NULL)
			e->n_endpoints++;
	}
	free(list);
	e->cacert = dup_or_null(o->cacert);
	e->cert = dup_or_null(o->cert);
	e->key = dup_or_null(o->key);
	e->user = dup_or_null(o->user);
	e->multi = curl_multi_init();
	e->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (e->n_endpoints == 0 || e->multi == NULL || e->epfd < 0) {
		int err = e->n_endpoints == 0 ? EINVAL : ENOMEM;

		sd_etcd_free(e);
		errno = err;
		return NULL;
	}
	curl_multi_setopt(e->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(e->multi, CURLMOPT_SOCKETDATA, e);
	curl_multi_setopt(e->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(e->multi, CURLMOPT_TIMERDATA, e);
	return e;
}

static void
req_free(struct sd_etcd_req *r)
{
	struct sd_etcd_req **p;

	for (p = &r->e->reqs; *p != NULL; p = &(*p)->next)
		if (*p == r) {
			*p = r->next;
			break;
		}
	if (r->h != NULL) {
		curl_multi_remove_handle(r->e->multi, r->h);
		curl_easy_cleanup(r->h);
	}
	curl_slist_free_all(r->headers);
	free(r->buf);
	free(r);
}

void
sd_etcd_free(struct sd_etcd *e)
{
	if (e == NULL)
		return;
	while (e->reqs != NULL)
		req_free(e->reqs);
	if (e->multi != NULL)
		curl_multi_cleanup(e->multi);
	if (e->epfd >= 0)
		close(e->epfd);
	for (size_t i = 0; i < e->n_endpoints; i++)
		free(e->endpoints[i]);
	free(e->cacert);
	free(e->cert);
	free(e->key);
	free(e->user);
	free(e->token);
	free(e);
}

int
sd_etcd_fd(const struct sd_etcd *e)
{
	return e->epfd;
}

void
sd_etcd_next_endpoint(struct sd_etcd *e)
{
	e->cur = (e->cur + 1) % e->n_endpoints;
}

const char *
sd_etcd_endpoint(const struct sd_etcd *e)
{
	return e->endpoints[e->cur];
}

size_t
sd_etcd_n_endpoints(const struct sd_etcd *e)
{
	return e->n_endpoints;
}

bool
sd_etcd_idle(const struct sd_etcd *e)
{
	return e->reqs == NULL;
}

const char *
sd_etcd_user(const struct sd_etcd *e)
{
	return e->user;
}

void
sd_etcd_set_token(struct sd_etcd *e, const char *token)
{
	free(e->token);
	e->token = token ? strdup(token) : NULL;
}

static size_t
write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	struct sd_etcd_req *r = userp;
	size_t n = size * nmemb;

	if (r->len + n + 1 > SD_ETCD_BODY_MAX)
		return 0;	/* an error for libcurl: the transfer stops */
	if (r->len + n + 1 > r->cap) {
		size_t cap = r->cap ? r->cap : 4096;
		char *b;

		while (cap < r->len + n + 1)
			cap *= 2;
		b = realloc(r->buf, cap);
		if (b == NULL)
			return 0;
		r->buf = b;
		r->cap = cap;
	}
	memcpy(r->buf + r->len, data, n);
	r->len += n;
	r->buf[r->len] = '\0';
	return n;
}

static struct sd_etcd_req *
start(struct sd_etcd *e, const char *path, json_t *body, long timeout_ms,
      bool stream, sd_etcd_reply_fn *cb, sd_etcd_msg_fn *on_msg, void *ctx)
{
	struct sd_etcd_req *r = calloc(1, sizeof(*r));
	char *text = json_dumps(body, JSON_COMPACT);
	char url[512];

	json_decref(body);
	if (r == NULL || text == NULL)
		goto fail;
	r->e = e;
	r->stream = stream;
	r->cb = cb;
	r->on_msg = on_msg;
	r->ctx = ctx;
	r->h = curl_easy_init();
	if (r->h == NULL)
		goto fail;
	snprintf(url, sizeof(url), "%s%s", e->endpoints[e->cur], path);
	r->headers = curl_slist_append(NULL, "Content-Type: application/json");
	if (e->token != NULL) {
		char hdr[1024];

		snprintf(hdr, sizeof(hdr), "Authorization: %s", e->token);
		r->headers = curl_slist_append(r->headers, hdr);
	}
	curl_easy_setopt(r->h, CURLOPT_URL, url);
	curl_easy_setopt(r->h, CURLOPT_HTTPHEADER, r->headers);
	curl_easy_setopt(r->h, CURLOPT_COPYPOSTFIELDS, text);
	curl_easy_setopt(r->h, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(r->h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(r->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->h, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)SD_ETCD_CONNECT_MS);
	curl_easy_setopt(r->h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (!stream)
		curl_easy_setopt(r->h, CURLOPT_TIMEOUT_MS, timeout_ms);
	else	/* a watch is quiet when nothing changes: TCP keeps it honest */
		curl_easy_setopt(r->h, CURLOPT_TCP_KEEPALIVE, 1L);
	if (e->cacert != NULL)
		curl_easy_setopt(r->h, CURLOPT_CAINFO, e->cacert);
	if (e->cert != NULL)
		curl_easy_setopt(r->h, CURLOPT_SSLCERT, e->cert);
	if (e->key != NULL)
		curl_easy_setopt(r->h, CURLOPT_SSLKEY, e->key);
	free(text);
	text = NULL;
	if (curl_multi_add_handle(e->multi, r->h) != CURLM_OK)
		goto fail;
	r->next = e->reqs;
	e->reqs = r;
	return r;
fail:
	free(text);
	if (r != NULL) {
		if (r->h != NULL)
			curl_easy_cleanup(r->h);
		curl_slist_free_all(r->headers);
		free(r);
	}
	return NULL;
}

struct sd_etcd_req *
sd_etcd_call(struct sd_etcd *e, const char *path, json_t *body,
	     long timeout_ms, sd_etcd_reply_fn *cb, void *ctx)
{
	return start(e, path, body, timeout_ms, false, cb, NULL, ctx);
}

struct sd_etcd_req *
sd_etcd_stream(struct sd_etcd *e, const char *path, json_t *body,
	       sd_etcd_msg_fn *on_msg, sd_etcd_reply_fn *on_end, void *ctx)
{
	return start(e, path, body, 0, true, on_end, on_msg, ctx);
}

void
sd_etcd_cancel(struct sd_etcd *e, struct sd_etcd_req *r)
{
	(void)e;
	if (r == NULL)
		return;
	r->cancelled = true;
	if (!r->delivering)
		req_free(r);
}

/* Deliver the whole JSON messages a stream holds; false if cancelled. */
static bool
deliver_stream(struct sd_etcd_req *r)
{
	size_t off = 0;
	bool alive = true;

	r->delivering = true;
	while (off < r->len && !r->cancelled) {
		json_error_t jerr;
		json_t *msg;

		while (off < r->len && (r->buf[off] == '\n' ||
					r->buf[off] == '\r' ||
					r->buf[off] == ' '))
			off++;
		if (off == r->len)
			break;
		msg = json_loadb(r->buf + off, r->len - off,
				 JSON_DISABLE_EOF_CHECK, &jerr);
		if (msg == NULL)
			break;		/* not whole yet */
		off += (size_t)jerr.position;
		r->on_msg(r->ctx, msg);
		json_decref(msg);
	}
	r->delivering = false;
	if (r->cancelled) {
		req_free(r);
		alive = false;
	} else if (off > 0) {
		memmove(r->buf, r->buf + off, r->len - off);
		r->len -= off;
		r->buf[r->len] = '\0';
	}
	return alive;
}

static void
finish(struct sd_etcd_req *r, CURLcode rc)
{
	long http = 0;
	json_t *reply = NULL;
	char error[512] = "";

	curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &http);
	if (r->stream && !deliver_stream(r))
		return;
	if (rc != CURLE_OK) {
		snprintf(error, sizeof(error), "%s: %s", r->e->endpoints[r->e->cur],
			 curl_easy_strerror(rc));
		if (rc != CURLE_WRITE_ERROR)
			http = 0;
	} else if (http != 200) {
		snprintf(error, sizeof(error), "%s: HTTP %ld: %.300s",
			 r->e->endpoints[r->e->cur], http, r->buf ? r->buf : "");
	} else if (r->stream) {
		snprintf(error, sizeof(error), "%s: the watch stream ended",
			 r->e->endpoints[r->e->cur]);
	} else {
		json_error_t jerr;

		reply = json_loadb(r->buf ? r->buf : "", r->len, 0, &jerr);
		if (reply == NULL)
			snprintf(error, sizeof(error), "%s: not JSON: %s",
				 r->e->endpoints[r->e->cur], jerr.text);
	}
	r->delivering = true;
	if (r->cb != NULL)
		r->cb(r->ctx, reply, http, reply ? NULL : error);
	r->delivering = false;
	json_decref(reply);
	req_free(r);
}

int
sd_etcd_run(struct sd_etcd *e)
{
	struct epoll_event ev[16];
	int running, n, msgs;
	CURLMsg *m;

	n = epoll_wait(e->epfd, ev, 16, 0);
	for (int i = 0; i < n; i++) {
		int mask = (ev[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
			   (ev[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
			   (ev[i].events & (EPOLLERR | EPOLLHUP) ?
			    CURL_CSELECT_ERR : 0);

		curl_multi_socket_action(e->multi, ev[i].data.fd, mask,
					 &running);
	}
	if (e->timer_at >= 0 && now_ms() >= e->timer_at) {
		e->timer_at = -1;
		curl_multi_socket_action(e->multi, CURL_SOCKET_TIMEOUT, 0,
					 &running);
	}
	/* Streams: what arrived.  A callback may cancel any request, so the
	 * walk starts over after each delivery that consumed something. */
	for (struct sd_etcd_req *r = e->reqs; r != NULL;) {
		struct sd_etcd_req *next = r->next;

		if (r->stream && r->len > 0) {
			size_t before = r->len;

			if (!deliver_stream(r) || r->len != before) {
				r = e->reqs;
				continue;
			}
		}
		r = next;
	}
	while ((m = curl_multi_info_read(e->multi, &msgs)) != NULL) {
		struct sd_etcd_req *r;

		if (m->msg != CURLMSG_DONE)
			continue;
		for (r = e->reqs; r != NULL && r->h != m->easy_handle;
		     r = r->next)
			;
		if (r != NULL)
			finish(r, m->data.result);
	}
	if (e->timer_at < 0)
		return -1;
	n = (int)(e->timer_at - now_ms());
	return n < 0 ? 0 : n;
}

/* ------------------------------------------------------------------------
 * base64 and integers
 */

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *
sd_b64(const void *data, size_t len)
{
	const unsigned char *p = data;
	char *out = malloc(4 * ((len + 2) / 3) + 1), *o = out;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;

		if (i + 1 < len)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		*o++ = b64_alphabet[(v >> 18) & 63];
		*o++ = b64_alphabet[(v >> 12) & 63];
		*o++ = i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=';
		*o++ = i + 2 < len ? b64_alphabet[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

int
sd_unb64(const char *s, char **out, size_t *len)
{
	size_t n = strlen(s), k = 0;
	uint32_t acc = 0;
	int bits = 0;
	char *buf = malloc(n / 4 * 3 + 4);

	if (buf == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const char *c;

		if (s[i] == '=')
			break;
		c = strchr(b64_alphabet, s[i]);
		if (c == NULL || s[i] == '\0') {
			free(buf);
			return -EINVAL;
		}
		acc = (acc << 6) | (uint32_t)(c - b64_alphabet);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[k++] = (char)((acc >> bits) & 0xff);
		}
	}
	buf[k] = '\0';
	*out = buf;
	if (len != NULL)
		*len = k;
	return 0;
}

int64_t
sd_etcd_int(json_t *o, const char *key, int64_t def)
{
	json_t *v = json_object_get(o, key);

	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_string(v))
		return strtoll(json_string_value(v), NULL, 10);
	return def;
}
