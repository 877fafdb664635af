/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * route list|add|del: /v1/routes.  route add reads next hops the way
 * ip-route does: PREFIX via GW dev PORT [weight W], repeated for ECMP.
 */
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

/* The words of one next hop and the nexthop member each sets. */
static const struct ctl_flag nexthop_words[] = {
	{"via", 0, CTL_FIELD_STRING, "gateway", "GW",
	 "gateway address (default: on-link)"},
	{"dev", 0, CTL_FIELD_STRING, "port", "PORT", "egress port"},
	{"weight", 0, CTL_FIELD_NUMBER, "weight", "W", "ECMP share (1-256)"},
	{NULL},
};

int
ctl_cmd_route_list(struct ctl *ctl, int argc, char **argv)
{
	static const struct ctl_column cols[] = {
		{"PREFIX", false}, {"VIA", false}, {"DEV", false},
		{"WEIGHT", true},
	};
	struct ctl_reply reply;
	bool printed;
	struct ctl_table *t;
	const json_t *route, *nh;
	size_t i, j;
	int rc;

	rc = ctl_simple_get(ctl, argc, argv, "/v1/routes", &reply, &printed);
	if (rc != CTL_EXIT_OK || printed)
		return rc;
	/* One row per next hop; the prefix on the first of its route. */
	t = ctl_table_new(cols, sizeof(cols) / sizeof(cols[0]));
	json_array_foreach(json_object_get(reply.json, "routes"), i, route) {
		json_array_foreach(json_object_get(route, "nexthops"), j, nh) {
			ctl_table_cell(t, "%s", j ? "" :
				       ctl_json_str(route, "prefix", "?"));
			ctl_table_cell(t, "%s",
				       ctl_json_str(nh, "gateway", "on-link"));
			ctl_table_cell(t, "%s", ctl_json_str(nh, "port", "-"));
			ctl_table_cell(t, "%lld", ctl_json_int(nh, "weight", 1));
		}
	}
	ctl_table_print_free(t, stdout);
	ctl_reply_free(&reply);
	return CTL_EXIT_OK;
}

/*
 * The next hops from words[0..n): each of via, dev and weight takes the
 * next word; a word the current next hop already has starts another one,
 * and so does "nexthop" (ip-route's spelling).  Returns the list, or NULL
 * after a usage message.
 */
static json_t *
parse_nexthops(struct ctl *ctl, char **words, int n)
{
	json_t *nexthops = json_array();
	json_t *nh = NULL;

	for (int i = 0; i < n; i++) {
		const struct ctl_flag *f = ctl_field_flag(nexthop_words,
							  words[i]);

		if (strcmp(words[i], "nexthop") == 0) {
			nh = NULL;
			continue;
		}
		if (f == NULL) {
			ctl_usage_error(ctl, "\"%s\": expected via, dev or "
					"weight", words[i]);
			goto fail;
		}
		if (i + 1 >= n) {
			ctl_usage_error(ctl, "\"%s\" needs a value (%s)",
					words[i], f->arg_name);
			goto fail;
		}
		if (nh == NULL || json_object_get(nh, f->member) != NULL) {
			nh = json_object();
			json_array_append_new(nexthops, nh);
		}
		if (ctl_field_set(nh, f->member, f->kind, words[++i]) < 0)
			goto fail;
	}
	if (json_array_size(nexthops) == 0) {
		ctl_usage_error(ctl, "a route needs a next hop: "
				"[via GW] dev PORT");
		goto fail;
	}
	return nexthops;
fail:
	json_decref(nexthops);
	return NULL;
}

int
ctl_cmd_route_add(struct ctl *ctl, int argc, char **argv)
{
	struct ctl_reply reply;
	struct ctl_args args;
	json_t *route, *nexthops;
	int rc;

	rc = ctl_args_parse(ctl, argc, argv, &args);
	if (rc != CTL_EXIT_OK || ctl->help)
		return rc;
	if (args.n_pos < 1) {
		ctl_args_free(&args);
		return ctl_usage_error(ctl, "missing the PREFIX");
	}
	nexthops = parse_nexthops(ctl, args.pos + 1, args.n_pos - 1);
	if (nexthops == NULL) {
		ctl_args_free(&args);
		return CTL_EXIT_USAGE;
	}
	route = json_pack("{s:s, s:o}", "prefix", args.pos[0],
			  "nexthops", nexthops);
	ctl_args_free(&args);
	if (route == NULL) {
		fprintf(stderr, "error: the prefix is not UTF-8 text\n");
		return CTL_EXIT_USAGE;
	}
	rc = ctl_request_json(ctl, "POST", "/v1/routes", route, &reply);
	if (rc == CTL_EXIT_OK) {
		if (ctl->output == CTL_OUTPUT_JSON)
			ctl_print_json(reply.json);
		else
			printf("added route %s (generation %lld)\n",
			       ctl_json_str(route, "prefix", "?"),
			       ctl_json_int(reply.json, "generation", -1));
		ctl_reply_free(&reply);
	}
	json_decref(route);
	return rc;
}

int
ctl_cmd_route_del(struct ctl *ctl, int argc, char **argv)
{
	/* /v1/routes/10.1.0.0/16: the prefix's slash stays one. */
	return ctl_delete_item(ctl, argc, argv, "/v1/routes/", "route",
			       "the PREFIX", true);
}
