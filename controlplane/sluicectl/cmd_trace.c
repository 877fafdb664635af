/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * trace (POST /v1/trace) and capture (POST /v1/capture): both wait in the
 * dataplane for up to --wait seconds, so the request's own timeout is that
 * plus --timeout.  Their filter is the rule match, from the match flags or
 * from words ("src 10.0.0.0/8 dport 80").
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"

#define TRACE_COUNT_DEFAULT	10
#define CAPTURE_COUNT_DEFAULT	100
#define WAIT_MS_DEFAULT		5000
#define WAIT_MS_MAX		3600000	/* an hour */

const struct ctl_flag ctl_trace_flags[] = {
	{"count", 'c', CTL_FLAG_TEXT, NULL, "N",
	 "packets to follow (default 10)"},
	{"wait", 0, CTL_FLAG_TEXT, NULL, "SECONDS",
	 "wait this long for them at most (default 5)"},
	{NULL},
};

const struct ctl_flag ctl_capture_flags[] = {
	{"port", 0, CTL_FLAG_TEXT, NULL, "PORT", "the port to capture at"},
	{"count", 'c', CTL_FLAG_TEXT, NULL, "N",
	 "packets to capture (default 100)"},
	{"write", 'w', CTL_FLAG_TEXT, NULL, "FILE",
	 "the pcapng file to write; - for stdout"},
	{"wait", 0, CTL_FLAG_TEXT, NULL, "SECONDS",
	 "wait this long for them at most (default 5)"},
	{NULL},
};

/*
 * The request both commands send: count, timeout_ms and the filter (from
 * the match flags and the positional words).  *wait_ms gets the wait.
 * NULL after a usage message.
 */
static json_t *
build_request(struct ctl *ctl, struct ctl_args *args, long long dflt_count,
	      long *wait_ms)
{
	const char *count_text = ctl_args_get(args, "count");
	const char *wait_text = ctl_args_get(args, "wait");
	long long count = dflt_count;
	json_t *filter = args->fields;
	int i = 0;

	if (count_text != NULL) {
		count = ctl_parse_uint(count_text, INT32_MAX);
		if (count <= 0) {
			ctl_usage_error(ctl, "-c takes a packet count, not "
					"\"%s\"", count_text);
			return NULL;
		}
	}
	*wait_ms = WAIT_MS_DEFAULT;
	if (wait_text != NULL) {
		char *end;
		double s;

		errno = 0;
		s = strtod(wait_text, &end);
		if (errno || end == wait_text || *end || !(s > 0) ||
		    s * 1000 > WAIT_MS_MAX) {
			ctl_usage_error(ctl, "--wait takes seconds (up to an "
					"hour), not \"%s\"", wait_text);
			return NULL;
		}
		*wait_ms = (long)(s * 1000 + 0.5);
	}
	if (ctl_words_to_fields(ctl_match_flags, args->pos, args->n_pos, &i,
				filter) < 0) {
		ctl_print_usage(stderr, ctl->cmd);
		return NULL;
	}
	if (i < args->n_pos) {
		ctl_usage_error(ctl, "\"%s\" is not a filter field (src, dst, "
				"proto, sport, dport, in-port, vlan, "
				"tcp-flags, ct)", args->pos[i]);
		return NULL;
	}
	if (json_object_size(filter) == 0)
		return json_pack("{s:I, s:I}", "count", (json_int_t)count,
				 "timeout_ms", (json_int_t)*wait_ms);
	return json_pack("{s:I, s:I, s:O}", "count", (json_int_t)count,
			 "timeout_ms", (json_int_t)*wait_ms, "filter", filter);
}

/* ------------------------------------------------------------------------
 * trace
 */

/* "10.0.0.1:1234 > 10.0.0.2:80 tcp" from a packet's parse object, or its
 * members as k=v when they are not those. */
static char *
flow_text(const json_t *parse)
{
	const char *src = ctl_json_str(parse, "src", NULL);
	const char *dst = ctl_json_str(parse, "dst", NULL);
	char *proto = ctl_json_text(json_object_get(parse, "proto"));
	char sport[16] = "", dport[16] = "";
	char *s = NULL;

	if (src == NULL || dst == NULL) {
		free(proto);
		return json_is_object(parse) ? ctl_json_text(parse)
					      : strdup("-");
	}
	if (json_is_integer(json_object_get(parse, "sport")))
		snprintf(sport, sizeof(sport), ":%lld",
			 ctl_json_int(parse, "sport", 0));
	if (json_is_integer(json_object_get(parse, "dport")))
		snprintf(dport, sizeof(dport), ":%lld",
			 ctl_json_int(parse, "dport", 0));
	if (asprintf(&s, "%s%s > %s%s %s", src, sport, dst, dport,
		     proto ? proto : "-") < 0)
		s = NULL;
	free(proto);
	return s;
}

int
ctl_cmd_trace(struct ctl *ctl, int argc, char **argv)
{
	/* Columns and the members they show: the first one present. */
	static const struct {
		const char *member[2];
		struct ctl_column col;
	} fields[] = {
		{{"port"}, {"PORT", false}},
		{{"len"}, {"LEN", true}},
		{{"parse"}, {"FLOW", false}},
		{{"verdict"}, {"VERDICT", false}},
		{{"rule"}, {"RULE", false}},
		{{"ct"}, {"CT", false}},
		{{"route", "egress"}, {"ROUTE", false}},
		{{"targets"}, {"TARGETS", false}},
		{{"drop_reason"}, {"DROP REASON", false}},
	};
	struct ctl_column cols[1 + sizeof(fields) / sizeof(fields[0])] = {
		{"#", true}};
	struct ctl_reply reply;
	struct ctl_args args;
	struct ctl_table *t;
	const json_t *packets, *pkt;
	json_t *req;
	long wait_ms;
	size_t i;
	int rc;

	rc = ctl_args_parse(ctl, argc, argv, &args);
	if (rc != CTL_EXIT_OK || ctl->help)
		return rc;
	req = build_request(ctl, &args, TRACE_COUNT_DEFAULT, &wait_ms);
	ctl_args_free(&args);
	if (req == NULL)
		return CTL_EXIT_USAGE;
	{
		char *text = json_dumps(req, JSON_COMPACT);

		rc = ctl_request(ctl, "POST", "/v1/trace", "application/json",
				 text, text ? strlen(text) : 0,
				 wait_ms + ctl->timeout_ms, &reply);
		free(text);
	}
	json_decref(req);
	if (rc != CTL_EXIT_OK)
		return rc;
	if (ctl->output == CTL_OUTPUT_JSON) {
		ctl_print_json(reply.json);
		ctl_reply_free(&reply);
		return CTL_EXIT_OK;
	}
	packets = json_object_get(reply.json, "packets");
	if (json_array_size(packets) == 0) {
		printf("no packets within %.1f s\n", (double)wait_ms / 1000);
		ctl_reply_free(&reply);
		return CTL_EXIT_OK;
	}
	for (size_t c = 0; c < sizeof(fields) / sizeof(fields[0]); c++)
		cols[1 + c] = fields[c].col;
	t = ctl_table_new(cols, sizeof(cols) / sizeof(cols[0]));
	json_array_foreach(packets, i, pkt) {
		ctl_table_cell(t, "%zu", i + 1);
		for (size_t c = 0; c < sizeof(fields) / sizeof(fields[0]); c++) {
			const json_t *v = json_object_get(pkt,
							  fields[c].member[0]);
			char *s;

			if (v == NULL && fields[c].member[1] != NULL)
				v = json_object_get(pkt, fields[c].member[1]);
			s = strcmp(fields[c].member[0], "parse") == 0
			    ? flow_text(v) : ctl_json_text(v);

			ctl_table_cell(t, "%s", s && *s ? s : "-");
			free(s);
		}
	}
	ctl_table_print_free(t, stdout);
	ctl_reply_free(&reply);
	return CTL_EXIT_OK;
}

/* ------------------------------------------------------------------------
 * capture
 */

static uint32_t
read_u32(const unsigned char *p, bool swap)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return swap ? __builtin_bswap32(v) : v;
}

/*
 * Packets (enhanced and simple packet blocks) in a pcapng file, or -1 when
 * it is not one.  Each section header gives its byte order.
 */
static long
pcapng_count_packets(const unsigned char *buf, size_t len)
{
	bool swap = false;
	long packets = 0;
	size_t off = 0;

	while (off + 12 <= len) {
		uint32_t type = read_u32(buf + off, false);
		uint32_t blen;

		if (type == 0x0a0d0d0a) {	/* section header: same bytes
						 * either way; magic at +8 */
			uint32_t magic = read_u32(buf + off + 8, false);

			if (magic == 0x1a2b3c4d)
				swap = false;
			else if (magic == 0x4d3c2b1a)
				swap = true;
			else
				return -1;
		} else if (off == 0) {
			return -1;
		}
		type = read_u32(buf + off, swap);
		blen = read_u32(buf + off + 4, swap);
		if (blen < 12 || blen % 4 || blen > len - off)
			return -1;
		if (type == 6 || type == 3)
			packets++;
		off += blen;
	}
	return off == len ? packets : -1;
}

/* Write buf to path whole: a temporary file renamed over it, so a failure
 * leaves no half file.  "-" is stdout.  0 or -errno. */
static int
write_file(const char *path, const void *buf, size_t len)
{
	char *tmp = NULL;
	FILE *f;
	int err = 0;

	if (strcmp(path, "-") == 0)
		return fwrite(buf, 1, len, stdout) == len && fflush(stdout) == 0
		       ? 0 : -EIO;
	if (asprintf(&tmp, "%s.tmp.%ld", path, (long)getpid()) < 0)
		return -ENOMEM;
	f = fopen(tmp, "wb");
	if (f == NULL) {
		err = -errno;
		free(tmp);
		return err;
	}
	if (fwrite(buf, 1, len, f) != len)
		err = -errno ? -errno : -EIO;
	if (fclose(f) != 0 && err == 0)
		err = -errno;
	if (err == 0 && rename(tmp, path) != 0)
		err = -errno;
	if (err != 0)
		unlink(tmp);
	free(tmp);
	return err;
}

int
ctl_cmd_capture(struct ctl *ctl, int argc, char **argv)
{
	struct ctl_reply reply;
	struct ctl_args args;
	const char *port;
	char *out = NULL, *text;
	json_t *req;
	long wait_ms, packets;
	int rc;

	rc = ctl_args_parse(ctl, argc, argv, &args);
	if (rc != CTL_EXIT_OK || ctl->help)
		return rc;
	port = ctl_args_get(&args, "port");
	if (port == NULL || ctl_args_get(&args, "write") == NULL) {
		rc = ctl_usage_error(ctl, "capture needs --port PORT and "
				     "-w FILE");
		ctl_args_free(&args);
		return rc;
	}
	out = strdup(ctl_args_get(&args, "write"));
	req = out != NULL ? build_request(ctl, &args, CAPTURE_COUNT_DEFAULT,
					  &wait_ms) : NULL;
	if (req != NULL)
		ctl_field_set(req, "port", CTL_FIELD_STRING, port);
	ctl_args_free(&args);
	if (req == NULL) {
		free(out);
		return CTL_EXIT_USAGE;
	}
	text = json_dumps(req, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(req);
	rc = ctl_request(ctl, "POST", "/v1/capture", "application/json", text,
			 text ? strlen(text) : 0, wait_ms + ctl->timeout_ms,
			 &reply);
	free(text);
	if (rc != CTL_EXIT_OK) {
		free(out);
		return rc;
	}
	rc = write_file(out, reply.body, reply.len);
	if (rc < 0) {
		fprintf(stderr, "error: %s: %s\n", out, strerror(-rc));
		ctl_reply_free(&reply);
		free(out);
		return CTL_EXIT_REJECTED;
	}
	packets = pcapng_count_packets((const unsigned char *)reply.body,
				       reply.len);
	/* The report goes to stderr when the capture itself is on stdout. */
	if (ctl->output == CTL_OUTPUT_JSON && strcmp(out, "-") != 0) {
		json_t *report = json_pack("{s:s, s:I, s:I}", "file", out,
					   "packets", (json_int_t)packets,
					   "bytes", (json_int_t)reply.len);

		ctl_print_json(report);
		json_decref(report);
	} else {
		fprintf(strcmp(out, "-") ? stdout : stderr,
			"%ld packets (%zu bytes of pcapng) written to %s\n",
			packets, reply.len, strcmp(out, "-") ? out : "stdout");
	}
	if (packets < 0)
		fprintf(stderr, "warning: the reply is not a pcapng file\n");
	ctl_reply_free(&reply);
	free(out);
	return CTL_EXIT_OK;
}
