/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The API's resources (docs/api.md).  Reads render the state's canonical
 * JSON; every write edits a copy of that document and hands the whole
 * result to sd_apply() through apply_doc(), so a rule added over the API is
 * validated exactly like a rule in a config file, in the context of the
 * whole policy.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "log.h"

/* The state as a JSON document to read or edit; NULL after failing c. */
/* The local document (the state less the cluster's shared items, which
 * /v1/cluster/config owns): what GET shows and a write edits. */
static json_t *
state_doc(struct sd_call *c)
{
	json_t *doc = sd_local_doc(c->sd);

	if (doc == NULL)
		sd_fail(c, 503, "out_of_memory", NULL,
			"cannot render the state");
	return doc;
}

static uint64_t
generation(const struct sd_call *c)
{
	return c->sd->st.policy->generation;
}

/* A member of doc, created as an empty array when absent. */
static json_t *
doc_list(json_t *doc, const char *key)
{
	json_t *a = json_object_get(doc, key);

	if (!json_is_array(a)) {
		a = json_array();
		json_object_set_new(doc, key, a);
	}
	return a;
}

/* The request body as a JSON object; NULL after failing c. */
static json_t *
body_object(struct sd_call *c)
{
	json_error_t jerr;
	json_t *o;

	if (c->body_len == 0) {
		sd_fail(c, 400, "bad_json", NULL, "the request needs a JSON "
			"object as its body");
		return NULL;
	}
	o = json_loadb(c->body, c->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (o == NULL) {
		sd_fail(c, 400, "bad_json", NULL, "line %d column %d: %s",
			jerr.line, jerr.column, jerr.text);
		return NULL;
	}
	if (!json_is_object(o)) {
		sd_fail(c, 400, "bad_json", NULL, "the body must be a JSON "
			"object");
		json_decref(o);
		return NULL;
	}
	return o;
}

/*
 * Decode doc as the candidate state and apply it.  Returns 0, or -1 after
 * failing c.  rename_from/rename_to turn a validation error's path
 * ("rules[3].dport") into one relative to the posted object ("dport").
 */
static int
apply_doc(struct sd_call *c, json_t *doc, unsigned int flags,
	  json_t **diff, const char *rel_prefix)
{
	struct sd_err e = { 0 };
	uint64_t if_gen;
	char *text;
	int ret;

	if (sd_if_generation(c, &if_gen) != 0)
		return -1;
	text = json_dumps(doc, JSON_COMPACT);
	if (text == NULL) {
		sd_fail(c, 503, "out_of_memory", NULL, "out of memory");
		return -1;
	}
	ret = sd_apply_local(c->sd, text, strlen(text), false, false, if_gen,
			     flags, diff, &e);
	free(text);
	if (ret != 0) {
		if (rel_prefix != NULL) {
			size_t n = strlen(rel_prefix);

			if (strncmp(e.field, rel_prefix, n) == 0)
				memmove(e.field, e.field + n,
					strlen(e.field + n) + 1);
		}
		sd_fail_err(c, &e);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * status, config, members, ports
 */

static void
get_status(struct sd_call *c)
{
	const struct sluiced *sd = c->sd;
	const struct sd_dplink *dp = &sd->dp;
	const struct sl_policy *p = sd->st.policy;
	json_t *dpj;

	dpj = json_pack("{s:b, s:o, s:o, s:b, s:o}",
		"connected", sd_dp_connected(sd),
		"pid", sd_dp_connected(sd) ? json_integer(dp->pid) : json_null(),
		"policy_generation", sd_dp_connected(sd) && dp->has_policy ?
			json_integer((json_int_t)dp->policy_generation) :
			json_null(),
		"in_sync", sd_dp_in_sync(sd),
		"last_error", dp->last_error[0] ? json_string(dp->last_error) :
			json_null());
	sd_reply(c, 200, json_pack(
		"{s:s, s:s, s:o, s:I, s:I, s:s, s:s, s:o, s:o, "
		"s:{s:I, s:I, s:I, s:I}}",
		"version", SD_VERSION,
		"backend", sd->backend ? sd->backend->name : "dpdk",
		"xdp", sd->backend ? sd->backend->status(c->sd) : json_null(),
		"generation", (json_int_t)p->generation,
		"uptime_s", (json_int_t)(time(NULL) - sd->started),
		"state_file", sd->st.path,
		"digest", sd->st.digest,
		"dataplane", dpj,
		"cluster", sd_cluster_status_json(sd),
		"counts", "ports", (json_int_t)p->n_ports,
		"rules", (json_int_t)p->n_rules,
		"routes", (json_int_t)p->n_routes,
		"groups", (json_int_t)p->n_groups));
}

static void
get_config(struct sd_call *c)
{
	if (sd_shared_count(c->sd, "rules") || sd_shared_count(c->sd,
	    "routes") || sd_shared_count(c->sd, "groups")) {
		json_t *doc = state_doc(c);

		if (doc != NULL)
			sd_reply(c, 200, doc);
		return;
	}
	c->status = 200;
	c->content_type = "application/json";
	c->text_len = strlen(c->sd->st.text);
	c->text = malloc(c->text_len + 2);
	if (c->text == NULL) {
		sd_fail(c, 503, "out_of_memory", NULL, "out of memory");
		return;
	}
	memcpy(c->text, c->sd->st.text, c->text_len);
	c->text[c->text_len++] = '\n';
}

static void
put_config(struct sd_call *c)
{
	struct sd_err e = { 0 };
	json_t *diff = NULL;
	uint64_t if_gen;
	bool dry_run;

	if (sd_query_flag(c, "dry_run", &dry_run) != 0 ||
	    sd_if_generation(c, &if_gen) != 0)
		return;
	if (c->body_len == 0) {
		sd_fail(c, 400, "bad_json", NULL, "PUT /v1/config needs the "
			"whole policy as its body");
		return;
	}
	if (sd_apply_local(c->sd, c->body, c->body_len, c->body_yaml, true,
			   if_gen, dry_run ? SD_APPLY_DRY_RUN : 0, &diff,
			   &e) != 0) {
		sd_fail_err(c, &e);
		return;
	}
	json_t *out = json_pack("{s:I, s:o}", "generation",
				(json_int_t)generation(c), "diff", diff);

	if (dry_run)
		json_object_set_new(out, "dry_run", json_true());
	sd_reply(c, 200, out);
}

static void
get_members(struct sd_call *c)
{
	sd_reply(c, 200, sd_cluster_members_json(c->sd));
}

/* The dataplane's counters for one port, when stats came back. */
static json_t *
port_counters(json_t *stats, const char *name)
{
	size_t i;
	json_t *p;

	json_array_foreach(json_object_get(stats, "ports"), i, p) {
		const char *n = json_string_value(json_object_get(p, "port"));

		if (n != NULL && strcmp(n, name) == 0)
			return p;
	}
	return NULL;
}

static void
ports_done(struct sd_call *c, json_t *reply, const char *body, size_t len,
	   const char *error)
{
	json_t *doc = state_doc(c), *ports, *stats = NULL, *p;
	size_t i;

	(void)body;
	(void)len;
	(void)error;
	if (doc == NULL)
		return;
	if (reply != NULL && json_is_true(json_object_get(reply, "ok")))
		stats = json_object_get(reply, "stats");
	ports = json_incref(doc_list(doc, "ports"));
	json_array_foreach(ports, i, p) {
		json_t *pc = port_counters(stats, json_string_value(
			json_object_get(p, "name")));

		if (pc != NULL)
			json_object_set(p, "counters", pc);
	}
	sd_reply(c, 200, json_pack("{s:I, s:o}", "generation",
				   (json_int_t)generation(c), "ports", ports));
	json_decref(doc);
}

static void
get_ports(struct sd_call *c)
{
	if (!sd_dp_connected(c->sd)) {
		ports_done(c, NULL, NULL, 0, NULL);
		return;
	}
	sd_defer(c, "stats", json_object(), 5000, ports_done);
}

/* ------------------------------------------------------------------------
 * Lists: rules, routes, groups
 */

/* One kind of list in the document, and the member that names an item. */
struct sd_list {
	const char *key;	/* "rules" */
	const char *name_key;	/* "id" */
	const char *item;	/* "rule": the reply member for one */
};

static const struct sd_list rules_list = { "rules", "id", "rule" };
static const struct sd_list routes_list = { "routes", "prefix", "route" };
static const struct sd_list groups_list = { "groups", "name", "group" };

/*
 * The canonical name of an item as a path or body names it: a route's
 * prefix in any spelling ("2001:DB8::/32") becomes the canonical one the
 * state holds; other names are taken as they are.  NULL when a route's
 * prefix does not parse.
 */
static const char *
canonical_name(const struct sd_list *l, const char *name, char *buf)
{
	struct sl_prefix p;

	if (l != &routes_list)
		return name;
	if (sl_prefix_from_string(name, &p, NULL, 0) != 0)
		return NULL;
	return sl_prefix_format(&p, true, buf);
}

/* Index of the item named name, or -1. */
static ssize_t
find_item(json_t *list, const struct sd_list *l, const char *name)
{
	char buf[SL_PREFIX_STRLEN];
	size_t i;
	json_t *it;

	name = canonical_name(l, name, buf);
	if (name == NULL)
		return -1;
	json_array_foreach(list, i, it) {
		const char *n = json_string_value(json_object_get(it,
								  l->name_key));

		if (n != NULL && strcmp(n, name) == 0)
			return (ssize_t)i;
	}
	return -1;
}

static void
list_get(struct sd_call *c, const struct sd_list *l)
{
	json_t *doc = state_doc(c), *out;

	if (doc == NULL)
		return;
	out = json_pack("{s:I, s:O}", "generation", (json_int_t)generation(c),
			l->key, doc_list(doc, l->key));
	if (l == &rules_list)
		json_object_set(out, "default", json_object_get(doc,
								 "default"));
	sd_reply(c, 200, out);
	json_decref(doc);
}

/*
 * The state document and the index in it of the item the path names
 * (c->tail); -1 after failing c (404, or no memory).  The caller frees
 * *doc when it is not NULL.
 */
static ssize_t
item_of_path(struct sd_call *c, const struct sd_list *l, json_t **doc,
	     json_t **list)
{
	ssize_t i;

	*doc = state_doc(c);
	if (*doc == NULL)
		return -1;
	*list = doc_list(*doc, l->key);
	i = find_item(*list, l, c->tail);
	if (i < 0)
		sd_fail(c, 404, "not_found", l->name_key, "no %s %s", l->item,
			c->tail);
	return i;
}

static void
item_get(struct sd_call *c, const struct sd_list *l)
{
	json_t *doc, *list;
	ssize_t i = item_of_path(c, l, &doc, &list);

	if (i >= 0)
		sd_reply(c, 200, json_pack("{s:I, s:I, s:O}", "generation",
			(json_int_t)generation(c), "position", (json_int_t)i,
			l->item, json_array_get(list, (size_t)i)));
	json_decref(doc);
}

static void
item_delete(struct sd_call *c, const struct sd_list *l)
{
	json_t *doc, *list;
	ssize_t i = item_of_path(c, l, &doc, &list);

	if (i >= 0) {
		json_array_remove(list, (size_t)i);
		if (apply_doc(c, doc, 0, NULL, NULL) == 0)
			sd_reply(c, 200, json_pack("{s:I}", "generation",
					(json_int_t)generation(c)));
	}
	json_decref(doc);
}

/* The validator's words for two items with one name (lib/policy_validate.c). */
static bool
is_duplicate(const char *message)
{
	return strstr(message, "is also used by") != NULL ||
	       strstr(message, "the same prefix as") != NULL ||
	       strstr(message, "the same automatic id") != NULL;
}

/*
 * POST an item: insert at "position" (rules; default: the end), refuse a
 * name already taken with 409 exists, apply, and answer with the item as
 * stored.  Routes are named by their canonical prefix, which only the
 * decoder knows, so a taken prefix is found from the validator's "the same
 * prefix as" error on the new item.
 */
static void
item_post(struct sd_call *c, const struct sd_list *l)
{
	json_t *item = body_object(c), *doc, *list, *pos;
	char rel[64];
	size_t at;

	if (item == NULL)
		return;
	doc = state_doc(c);
	if (doc == NULL) {
		json_decref(item);
		return;
	}
	list = doc_list(doc, l->key);
	at = json_array_size(list);
	pos = json_object_get(item, "position");
	if (pos != NULL) {
		if (l != &rules_list || !json_is_integer(pos) ||
		    json_integer_value(pos) < 0 ||
		    (size_t)json_integer_value(pos) > at) {
			if (l == &rules_list)
				sd_fail(c, 400, "bad_request", "position",
					"position must be an index from 0 to "
					"%zu", at);
			else
				sd_fail(c, 400, "bad_request", "position",
					"%s have no position", l->key);
			goto out;
		}
		at = (size_t)json_integer_value(pos);
		json_object_del(item, "position");
	}
	const char *name = json_string_value(json_object_get(item,
							     l->name_key));

	if (name != NULL && find_item(list, l, name) >= 0) {
		sd_fail(c, 409, "exists", l->name_key, "%s %s already exists",
			l->item, name);
		goto out;
	}
	json_array_insert(list, at, item);
	/* In the state the cluster's shared items come first. */
	snprintf(rel, sizeof(rel), "%s[%zu].", l->key,
		 at + sd_shared_count(c->sd, l->key));
	if (apply_doc(c, doc, 0, NULL, rel) != 0) {
		/* The one new item is what collides with another: a numeric
		 * id, an automatic id, a prefix in another spelling. */
		if (c->err.status == 422 && is_duplicate(c->err.message)) {
			c->err.status = 409;
			c->err.code = "exists";
		}
		goto out;
	}
	/* The stored item: what the state now holds at that place. */
	json_t *now = state_doc(c);

	if (now != NULL) {
		sd_reply(c, 201, json_pack("{s:I, s:O}", "generation",
			(json_int_t)generation(c), l->item,
			json_array_get(doc_list(now, l->key), at)));
		json_decref(now);
	}
out:
	json_decref(item);
	json_decref(doc);
}

/* PUT /v1/groups/{name}: replace one group. */
static void
group_put(struct sd_call *c)
{
	json_t *item = body_object(c), *doc, *list;
	ssize_t i;
	char rel[64];

	if (item == NULL)
		return;
	doc = state_doc(c);
	if (doc == NULL) {
		json_decref(item);
		return;
	}
	list = doc_list(doc, "groups");
	i = find_item(list, &groups_list, c->tail);
	if (i < 0) {
		sd_fail(c, 404, "not_found", "name", "no group %s", c->tail);
		goto out;
	}
	json_t *name = json_object_get(item, "name");

	if (name == NULL) {
		json_object_set_new(item, "name", json_string(c->tail));
	} else if (!json_is_string(name) ||
		   strcmp(json_string_value(name), c->tail) != 0) {
		sd_fail(c, 422, "invalid", "name", "PUT /v1/groups/%s replaces "
			"that group: its name cannot change (POST the new "
			"group, then DELETE the old one)", c->tail);
		goto out;
	}
	json_array_set(list, (size_t)i, item);
	snprintf(rel, sizeof(rel), "groups[%zu].",
		 (size_t)i + sd_shared_count(c->sd, "groups"));
	if (apply_doc(c, doc, 0, NULL, rel) == 0) {
		/* The group as stored, defaults filled in. */
		json_t *now = state_doc(c);

		if (now != NULL) {
			sd_reply(c, 200, json_pack("{s:I, s:O}", "generation",
				(json_int_t)generation(c), "group",
				json_array_get(doc_list(now, "groups"),
					       (size_t)i)));
			json_decref(now);
		}
	}
out:
	json_decref(item);
	json_decref(doc);
}

#define SD_LIST_HANDLERS(l)						\
	static void l##_get(struct sd_call *c) { list_get(c, &l##_list); } \
	static void l##_item_get(struct sd_call *c) { item_get(c, &l##_list); } \
	static void l##_post(struct sd_call *c) { item_post(c, &l##_list); } \
	static void l##_delete(struct sd_call *c) { item_delete(c, &l##_list); }

SD_LIST_HANDLERS(rules)
SD_LIST_HANDLERS(routes)
SD_LIST_HANDLERS(groups)

/* ------------------------------------------------------------------------
 * Reads from the dataplane: stats, trace, capture
 */

static void
stats_done(struct sd_call *c, json_t *reply, const char *body, size_t len,
	   const char *error)
{
	(void)body;
	(void)len;
	if (reply == NULL) {
		sd_fail(c, 504, "timeout", NULL, "%s", error);
		return;
	}
	if (!json_is_true(json_object_get(reply, "ok"))) {
		const char *why = json_string_value(json_object_get(reply,
								    "error"));

		sd_fail(c, 503, "dataplane_error", NULL, "%s",
			why ? why : "the dataplane refused");
		return;
	}
	json_t *stats = json_incref(json_object_get(reply, "stats"));

	json_object_set_new(stats, "generation",
			    json_integer((json_int_t)generation(c)));
	sd_reply(c, 200, stats);
}

static void
get_stats(struct sd_call *c)
{
	if (c->sd->backend != NULL) {
		json_t *stats = c->sd->backend->stats(c->sd);

		if (stats == NULL) {
			sd_fail(c, 503, "dataplane_unavailable", NULL,
				"cannot read the %s counters: %s",
				c->sd->backend->name, strerror(errno));
			return;
		}
		json_object_set_new(stats, "generation",
				    json_integer((json_int_t)generation(c)));
		sd_reply(c, 200, stats);
		return;
	}
	sd_defer(c, "stats", json_object(), 5000, stats_done);
}

#define SD_TRACE_COUNT_MAX 1000
#define SD_CAPTURE_COUNT_MAX 10000
#define SD_WAIT_MS_MAX 60000

/* count, timeout_ms and filter of a trace or capture body, checked. */
static json_t *
watch_request(struct sd_call *c, unsigned int count_max)
{
	json_t *o = body_object(c), *v;
	json_t *msg;
	json_int_t count = 10, timeout = 5000;

	if (o == NULL)
		return NULL;
	v = json_object_get(o, "count");
	if (v != NULL) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > count_max) {
			sd_fail(c, 422, "invalid", "count", "count must be a "
				"number from 1 to %u", count_max);
			goto bad;
		}
		count = json_integer_value(v);
	}
	v = json_object_get(o, "timeout_ms");
	if (v != NULL) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > SD_WAIT_MS_MAX) {
			sd_fail(c, 422, "invalid", "timeout_ms", "timeout_ms "
				"must be a number from 1 to %u",
				SD_WAIT_MS_MAX);
			goto bad;
		}
		timeout = json_integer_value(v);
	}
	v = json_object_get(o, "filter");
	if (v != NULL && !json_is_object(v)) {
		sd_fail(c, 422, "invalid", "filter", "filter must be an "
			"object with match fields (src, dst, proto, sport, "
			"dport, in_port)");
		goto bad;
	}
	const char *key;
	json_t *val;

	json_object_foreach(o, key, val) {
		if (strcmp(key, "count") != 0 && strcmp(key, "timeout_ms") &&
		    strcmp(key, "filter") != 0 && strcmp(key, "port") != 0) {
			sd_fail(c, 422, "invalid", key, "unknown field \"%s\"",
				key);
			goto bad;
		}
	}
	msg = json_pack("{s:I, s:I, s:O}", "count", count, "timeout_ms",
			timeout, "filter", v ? v : json_object());
	if (json_object_get(o, "port") != NULL)
		json_object_set(msg, "port", json_object_get(o, "port"));
	json_decref(o);
	return msg;
bad:
	json_decref(o);
	return NULL;
}

static int
watch_timeout(json_t *msg)
{
	/* The dataplane answers at its own timeout; allow for the build. */
	return (int)json_integer_value(json_object_get(msg, "timeout_ms")) +
	       5000;
}

static bool
reply_ok(struct sd_call *c, json_t *reply, const char *error)
{
	if (reply == NULL) {
		sd_fail(c, 504, "timeout", NULL, "%s", error);
		return false;
	}
	if (!json_is_true(json_object_get(reply, "ok"))) {
		const char *why = json_string_value(json_object_get(reply,
								    "error"));

		sd_fail(c, 422, "invalid", NULL, "the dataplane refused: %s",
			why ? why : "no reason given");
		return false;
	}
	return true;
}

static void
trace_done(struct sd_call *c, json_t *reply, const char *body, size_t len,
	   const char *error)
{
	(void)body;
	(void)len;
	if (!reply_ok(c, reply, error))
		return;
	json_t *pk = json_object_get(reply, "packets");

	sd_reply(c, 200, json_pack("{s:I, s:O}", "generation",
		(json_int_t)generation(c), "packets", pk ? pk : json_array()));
}

static void
post_trace(struct sd_call *c)
{
	json_t *msg = watch_request(c, SD_TRACE_COUNT_MAX);

	if (msg != NULL && c->sd->backend != NULL &&
	    c->sd->backend->trace != NULL)
		c->sd->backend->trace(c->sd, c, msg);
	else if (msg != NULL)
		sd_defer(c, "trace", msg, watch_timeout(msg), trace_done);
}

static void
capture_done(struct sd_call *c, json_t *reply, const char *body,
	     size_t len, const char *error)
{
	if (!reply_ok(c, reply, error))
		return;
	if (body == NULL) {
		sd_fail(c, 504, "timeout", NULL, "the dataplane sent no "
			"capture file");
		return;
	}
	c->text = malloc(len ? len : 1);
	if (c->text == NULL) {
		sd_fail(c, 503, "out_of_memory", NULL, "out of memory");
		return;
	}
	memcpy(c->text, body, len);
	c->text_len = len;
	c->status = 200;
	c->content_type = "application/x-pcapng";
	c->disposition = "attachment; filename=\"capture.pcapng\"";
}

static void
post_capture(struct sd_call *c)
{
	json_t *msg = watch_request(c, SD_CAPTURE_COUNT_MAX);
	const char *port;

	if (msg == NULL)
		return;
	port = json_string_value(json_object_get(msg, "port"));
	if (port == NULL) {
		sd_fail(c, 422, "invalid", "port", "capture needs \"port\": "
			"the name of a port");
	} else if (sl_policy_find_port(c->sd->st.policy, port) < 0) {
		sd_fail(c, 422, "invalid", "port", "no port named %s", port);
	} else if (c->sd->backend != NULL && c->sd->backend->capture != NULL) {
		c->sd->backend->capture(c->sd, c, msg);
		return;
	} else {
		sd_defer(c, "capture", msg, watch_timeout(msg), capture_done);
		return;
	}
	json_decref(msg);
}

const struct sd_route sd_routes[] = {
	{ "GET", "/v1/status", false, get_status, 0 },
	{ "GET", "/v1/config", false, get_config, 0 },
	{ "PUT", "/v1/config", false, put_config,
	  SD_QUERY_GENERATION | SD_QUERY_DRY_RUN },
	{ "GET", "/v1/rules", false, rules_get, 0 },
	{ "POST", "/v1/rules", false, rules_post, SD_QUERY_GENERATION },
	{ "GET", "/v1/rules/", true, rules_item_get, 0 },
	{ "DELETE", "/v1/rules/", true, rules_delete, SD_QUERY_GENERATION },
	{ "GET", "/v1/routes", false, routes_get, 0 },
	{ "POST", "/v1/routes", false, routes_post, SD_QUERY_GENERATION },
	{ "GET", "/v1/routes/", true, routes_item_get, 0 },
	{ "DELETE", "/v1/routes/", true, routes_delete, SD_QUERY_GENERATION },
	{ "GET", "/v1/groups", false, groups_get, 0 },
	{ "POST", "/v1/groups", false, groups_post, SD_QUERY_GENERATION },
	{ "GET", "/v1/groups/", true, groups_item_get, 0 },
	{ "PUT", "/v1/groups/", true, group_put, SD_QUERY_GENERATION },
	{ "DELETE", "/v1/groups/", true, groups_delete, SD_QUERY_GENERATION },
	{ "GET", "/v1/ports", false, get_ports, 0 },
	{ "GET", "/v1/config/effective", false, sd_effective_get, 0 },
	{ "GET", "/v1/cluster/config", false, sd_shared_get, 0 },
	{ "PUT", "/v1/cluster/config", false, sd_shared_put,
	  SD_QUERY_REVISION | SD_QUERY_DRY_RUN },
	{ "GET", "/v1/members", false, get_members, 0 },
	{ "GET", "/v1/stats", false, get_stats, 0 },
	{ "POST", "/v1/trace", false, post_trace, 0 },
	{ "POST", "/v1/capture", false, post_capture, 0 },
	{ "GET", "/metrics", false, sd_metrics, 0 },
};
const size_t sd_n_routes = sizeof(sd_routes) / sizeof(sd_routes[0]);
