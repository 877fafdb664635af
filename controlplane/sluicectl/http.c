/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Requests to sluiced with libcurl, over its unix socket or TCP, and the
 * one place that turns an answer (or its absence) into an exit code and a
 * message on stderr.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <curl/curl.h>

#include "ctl.h"

/* Where requests go, resolved from the flags and the environment. */
struct endpoint {
	const char *socket_path;	/* unix socket; NULL with url */
	char *base_url;			/* "http://localhost" for the socket */
	char *token;			/* NULL: none */
};

/* A growing buffer for the body of a reply. */
struct body_buf {
	char *data;
	size_t len;
	size_t cap;
};

static size_t
on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct body_buf *b = userdata;
	size_t n = size * nmemb;

	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *data;

		while (cap < b->len + n + 1)
			cap *= 2;
		data = realloc(b->data, cap);
		if (data == NULL)
			return 0;	/* curl reports CURLE_WRITE_ERROR */
		b->data = data;
		b->cap = cap;
	}
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

static void
endpoint_free(struct endpoint *ep)
{
	free(ep->base_url);
	free(ep->token);
}

static const char *
env_nonempty(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;
}

/* The first line of path without surrounding blanks; NULL with a message. */
static char *
read_token_file(const char *path)
{
	char line[4096];
	FILE *f = fopen(path, "r");
	char *s, *e;

	if (f == NULL) {
		fprintf(stderr, "error: --token-file %s: %s\n", path,
			strerror(errno));
		return NULL;
	}
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	fclose(f);
	for (s = line; *s == ' ' || *s == '\t'; s++)
		;
	e = s + strlen(s);
	while (e > s && strchr(" \t\r\n", e[-1]) != NULL)
		e--;
	*e = '\0';
	if (*s == '\0') {
		fprintf(stderr, "error: --token-file %s: no token in it\n", path);
		return NULL;
	}
	return strdup(s);
}

/*
 * The flags win over the environment: --url or --socket (not both), else
 * SLUICE_URL, else SLUICE_SOCKET, else the default socket.  The token:
 * --token, --token-file, SLUICE_TOKEN.  Returns CTL_EXIT_OK or
 * CTL_EXIT_USAGE after a message.
 */
static int
resolve_endpoint(const struct ctl *ctl, struct endpoint *ep)
{
	const char *url = ctl->url;
	size_t len;

	memset(ep, 0, sizeof(*ep));
	if (ctl->url != NULL && ctl->socket_path != NULL)
		return ctl_usage_error(ctl, "--socket and --url exclude each "
				       "other");
	if (url == NULL && ctl->socket_path == NULL)
		url = env_nonempty("SLUICE_URL");
	if (url == NULL) {
		ep->socket_path = ctl->socket_path;
		if (ep->socket_path == NULL)
			ep->socket_path = env_nonempty("SLUICE_SOCKET");
		if (ep->socket_path == NULL)
			ep->socket_path = CTL_SOCKET_DEFAULT;
		url = "http://localhost";
	} else if (strncmp(url, "http://", 7) != 0 &&
		   strncmp(url, "https://", 8) != 0) {
		return ctl_usage_error(ctl, "--url takes http://HOST:PORT, not "
				       "\"%s\"", url);
	}
	len = strlen(url);
	while (len > 0 && url[len - 1] == '/')
		len--;
	ep->base_url = strndup(url, len);
	if (ctl->token != NULL)
		ep->token = strdup(ctl->token);
	else if (ctl->token_file != NULL) {
		ep->token = read_token_file(ctl->token_file);
		if (ep->token == NULL) {
			free(ep->base_url);
			return CTL_EXIT_USAGE;
		}
	} else if (env_nonempty("SLUICE_TOKEN") != NULL)
		ep->token = strdup(env_nonempty("SLUICE_TOKEN"));
	/* It goes into a header line: no control characters. */
	for (const char *p = ep->token; p != NULL && *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			endpoint_free(ep);
			return ctl_usage_error(ctl, "the token holds a control "
					       "character");
		}
	}
	return CTL_EXIT_OK;
}

/* Why no answer came, on stderr; returns CTL_EXIT_UNREACHABLE.  os_errno
 * is curl's CURLINFO_OS_ERRNO (0: none). */
static int
report_unreachable(const struct endpoint *ep, CURLcode rc,
		   const char *curl_msg, long os_errno, long timeout_ms)
{
	const char *where = ep->socket_path ? ep->socket_path : ep->base_url;
	struct stat st;

	fprintf(stderr, "error: cannot reach sluiced at %s: ", where);
	if (rc == CURLE_OPERATION_TIMEDOUT)
		fprintf(stderr, "no answer within %.1f s (--timeout)\n",
			(double)timeout_ms / 1000);
	else if (ep->socket_path != NULL && rc == CURLE_COULDNT_CONNECT &&
		 stat(ep->socket_path, &st) < 0)
		fprintf(stderr, "no socket there (%s; is sluiced running? "
			"--socket or SLUICE_SOCKET name another)\n",
			strerror(errno));
	else if (ep->socket_path != NULL && rc == CURLE_COULDNT_CONNECT &&
		 os_errno == ECONNREFUSED)
		fprintf(stderr, "connection refused: nothing listens there "
			"(is sluiced running?)\n");
	else if (ep->socket_path != NULL && rc == CURLE_COULDNT_CONNECT &&
		 (os_errno == EACCES || os_errno == EPERM))
		fprintf(stderr, "permission denied (the socket is mode 0660: "
			"run as root or in its group)\n");
	else
		fprintf(stderr, "%s\n", *curl_msg ? curl_msg
						  : curl_easy_strerror(rc));
	return CTL_EXIT_UNREACHABLE;
}

/* The server's refusal, on stderr; returns CTL_EXIT_REJECTED. */
static int
report_rejected(const struct ctl_reply *r)
{
	const json_t *err = json_object_get(r->json, "error");
	const char *code = ctl_json_str(err, "code", NULL);
	const char *message = ctl_json_str(err, "message", NULL);
	const char *field = ctl_json_str(err, "field", NULL);

	if (code != NULL || message != NULL) {
		fprintf(stderr, "error: %s", code != NULL ? code : "error");
		if (field != NULL && *field)
			fprintf(stderr, ": %s", field);
		fprintf(stderr, ": %s\n", message != NULL ? message : "");
	} else {
		/* Not the API's error object (a proxy, a bug): the first line
		 * of whatever came. */
		int n = r->body != NULL ? (int)strcspn(r->body, "\r\n") : 0;

		fprintf(stderr, "error: HTTP %ld%s%.*s\n", r->status,
			n > 0 ? ": " : "", n > 200 ? 200 : n,
			r->body != NULL ? r->body : "");
	}
	if (r->status == 401)
		fprintf(stderr, "hint: the TCP listener needs a token: --token, "
			"--token-file or SLUICE_TOKEN\n");
	return CTL_EXIT_REJECTED;
}

int
ctl_request(struct ctl *ctl, const char *method, const char *path,
	    const char *content_type, const void *body, size_t len,
	    long timeout_ms, struct ctl_reply *reply)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *headers = NULL;
	struct body_buf buf = {0};
	struct endpoint ep;
	char *url = NULL, *hdr = NULL;
	const char *ct = NULL;
	CURL *curl = NULL;
	CURLcode rc;
	int ret;

	memset(reply, 0, sizeof(*reply));
	if (timeout_ms <= 0)
		timeout_ms = ctl->timeout_ms;
	ret = resolve_endpoint(ctl, &ep);
	if (ret != CTL_EXIT_OK)
		return ret;
	curl = curl_easy_init();
	if (curl == NULL || asprintf(&url, "%s%s", ep.base_url, path) < 0) {
		url = NULL;
		fprintf(stderr, "error: out of memory\n");
		ret = CTL_EXIT_UNREACHABLE;
		goto out;
	}
	curl_easy_setopt(curl, CURLOPT_URL, url);
	if (ep.socket_path != NULL)
		curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, ep.socket_path);
	/* An admin API on this host or a known one: no proxy from the
	 * environment in between. */
	curl_easy_setopt(curl, CURLOPT_PROXY, "");
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	/* The path as built: "rules/.." must reach sluiced (and get its 404),
	 * not become another resource by dot-segment removal. */
	curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "sluicectl");
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &buf);
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
		/* A body, even an empty one, with its Content-Length:
		 * sluiced takes no chunked uploads. */
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)(body ? len : 0));
		if (content_type != NULL &&
		    asprintf(&hdr, "Content-Type: %s", content_type) >= 0) {
			headers = curl_slist_append(headers, hdr);
			free(hdr);
		}
	}
	/* No "Expect: 100-continue" wait before large bodies. */
	headers = curl_slist_append(headers, "Expect:");
	headers = curl_slist_append(headers, "Accept: application/json");
	if (ep.token != NULL &&
	    asprintf(&hdr, "Authorization: Bearer %s", ep.token) >= 0) {
		headers = curl_slist_append(headers, hdr);
		free(hdr);
	}
	if (ctl->generation != NULL && ctl->cmd != NULL && ctl->cmd->writes &&
	    asprintf(&hdr, "If-Match: \"%s\"", ctl->generation) >= 0) {
		headers = curl_slist_append(headers, hdr);
		free(hdr);
	}
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);

	rc = curl_easy_perform(curl);
	if (rc != CURLE_OK) {
		long os_errno = 0;

		curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
		if (rc == CURLE_WRITE_ERROR) {
			fprintf(stderr, "error: out of memory reading the "
				"reply\n");
			ret = CTL_EXIT_UNREACHABLE;
		} else {
			ret = report_unreachable(&ep, rc, errbuf, os_errno,
						 timeout_ms);
		}
		free(buf.data);
		goto out;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply->status);
	curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ct);
	reply->content_type = ct != NULL ? strdup(ct) : NULL;
	reply->body = buf.data != NULL ? buf.data : strdup("");
	reply->len = buf.len;
	if (reply->len > 0 && (ct == NULL || strstr(ct, "json") != NULL))
		reply->json = json_loadb(reply->body, reply->len,
					 0, NULL);
	if (reply->status < 200 || reply->status > 299) {
		ret = report_rejected(reply);
		ctl_reply_free(reply);
		goto out;
	}
	ret = CTL_EXIT_OK;
out:
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
	free(url);
	endpoint_free(&ep);
	return ret;
}

int
ctl_request_json(struct ctl *ctl, const char *method, const char *path,
		 const json_t *body, struct ctl_reply *reply)
{
	char *text = NULL;
	int ret;

	if (body != NULL) {
		text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
		if (text == NULL) {
			memset(reply, 0, sizeof(*reply));
			fprintf(stderr, "error: out of memory\n");
			return CTL_EXIT_USAGE;
		}
	}
	ret = ctl_request(ctl, method, path, "application/json", text,
			  text != NULL ? strlen(text) : 0, 0, reply);
	free(text);
	return ret;
}

void
ctl_reply_free(struct ctl_reply *reply)
{
	free(reply->body);
	free(reply->content_type);
	json_decref(reply->json);
	memset(reply, 0, sizeof(*reply));
}

char *
ctl_path_join(const char *prefix, const char *s, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t plen = strlen(prefix);
	char *out = malloc(plen + 3 * strlen(s) + 1);
	char *o;

	if (out == NULL)
		return NULL;
	memcpy(out, prefix, plen);
	o = out + plen;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || (*p != '\0' && strchr("-._~:", *p) != NULL) ||
		    (*p == '/' && keep_slash)) {
			*o++ = (char)*p;
		} else {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
	}
	*o = '\0';
	return out;
}

/* GET path for a command that takes no words; the reply in *reply.  With
 * -o json the reply is printed and *printed set. */
int
ctl_simple_get(struct ctl *ctl, int argc, char **argv, const char *path,
	   struct ctl_reply *reply, bool *printed)
{
	struct ctl_args args;
	int rc;

	*printed = false;
	rc = ctl_args_parse_n(ctl, argc, argv, &args, 0, "");
	if (rc != CTL_EXIT_OK || ctl->help) {
		*printed = true;
		return rc;
	}
	ctl_args_free(&args);
	rc = ctl_request(ctl, "GET", path, NULL, NULL, 0, 0, reply);
	if (rc == CTL_EXIT_OK && ctl->output == CTL_OUTPUT_JSON) {
		ctl_print_json(reply->json);
		ctl_reply_free(reply);
		*printed = true;
	}
	return rc;
}

int
ctl_delete_item(struct ctl *ctl, int argc, char **argv, const char *base,
		const char *what, const char *arg_help, bool keep_slash)
{
	struct ctl_reply reply;
	struct ctl_args args;
	char *path, *name;
	int rc;

	rc = ctl_args_parse_n(ctl, argc, argv, &args, 1, arg_help);
	if (rc != CTL_EXIT_OK || ctl->help)
		return rc;
	name = strdup(args.pos[0]);
	path = ctl_path_join(base, args.pos[0], keep_slash);
	ctl_args_free(&args);
	rc = ctl_request(ctl, "DELETE", path, NULL, NULL, 0, 0, &reply);
	free(path);
	if (rc == CTL_EXIT_OK) {
		if (ctl->output == CTL_OUTPUT_JSON)
			ctl_print_json(reply.json);
		else
			printf("deleted %s %s (generation %lld)\n", what,
			       name ? name : "?",
			       ctl_json_int(reply.json, "generation", -1));
		ctl_reply_free(&reply);
	}
	free(name);
	return rc;
}
