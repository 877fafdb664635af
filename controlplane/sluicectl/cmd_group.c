/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * group list|show|add|del: /v1/groups.  group add reads targets as words:
 * a kind word and its value start a target (port lan0, vxlan 198.51.100.7),
 * attribute words follow (vni 100 weight 2).
 */
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

const struct ctl_flag ctl_group_add_flags[] = {
	{"table-size", 0, CTL_FIELD_NUMBER, "table_size", "N",
	 "Maglev lookup table size, a prime (default 65537)"},
	{"replace", 0, CTL_FLAG_BOOL, NULL, NULL,
	 "replace the group of that name (PUT) instead of adding one"},
	{NULL},
};

/* Words that start a target: the kind, and the member its value sets. */
static const struct {
	const char *kind;
	const char *member;
} target_kinds[] = {
	{"port", "port"},
	{"vxlan", "remote"},
	{"geneve", "remote"},
	{"gre", "remote"},
};

/* Words that add to the target before them. */
static const struct ctl_flag target_words[] = {
	{"vni", 0, CTL_FIELD_NUMBER, "vni", "N", "vxlan, geneve: 0-16777215"},
	{"udp-port", 0, CTL_FIELD_NUMBER, "udp_port", "N",
	 "vxlan, geneve: destination UDP port"},
	{"local", 0, CTL_FIELD_STRING, "local", "ADDR", "tunnel source"},
	{"key", 0, CTL_FIELD_NUMBER, "key", "N", "gre: the GRE key"},
	{"weight", 0, CTL_FIELD_NUMBER, "weight", "N", "Maglev share"},
	{"state", 0, CTL_FIELD_STRING, "state", "STATE",
	 "up, down or draining"},
	{NULL},
};

static int
target_kind(const char *word)
{
	for (size_t k = 0; k < sizeof(target_kinds) / sizeof(*target_kinds);
	     k++)
		if (strcmp(word, target_kinds[k].kind) == 0)
			return (int)k;
	return -1;
}

/* The groups of a reply: {"groups": [...]}. */
static const json_t *
reply_groups(const json_t *json)
{
	const json_t *groups = json_object_get(json, "groups");

	return json_is_array(groups) ? groups : json;
}

/* The group of a reply: {"group": {...}}, or the group itself. */
static const json_t *
reply_group(const json_t *json)
{
	const json_t *group = json_object_get(json, "group");

	return json_is_object(group) ? group : json;
}

/* Where a target sends: "lan0", "198.51.100.7 vni 100". */
static char *
target_text(const json_t *target)
{
	const char *port = ctl_json_str(target, "port", NULL);
	char *s = NULL;

	if (port != NULL)
		return strdup(port);
	if (asprintf(&s, "%s", ctl_json_str(target, "remote", "?")) < 0)
		return NULL;
	for (size_t i = 0; target_words[i].name != NULL; i++) {
		const char *m = target_words[i].member;
		const json_t *v = json_object_get(target, m);
		char *text, *joined;

		/* The table's own columns, and defaults nobody asked about. */
		if (v == NULL || strcmp(m, "weight") == 0 ||
		    strcmp(m, "state") == 0 || strcmp(m, "udp_port") == 0)
			continue;
		text = ctl_json_text(v);
		if (asprintf(&joined, "%s %s %s", s, target_words[i].name,
			     text ? text : "?") < 0)
			joined = NULL;
		free(text);
		free(s);
		s = joined;
		if (s == NULL)
			break;
	}
	return s;
}

int
ctl_cmd_group_list(struct ctl *ctl, int argc, char **argv)
{
	static const struct ctl_column cols[] = {
		{"NAME", false}, {"TARGETS", true}, {"TABLE SIZE", true},
		{"KINDS", false},
	};
	struct ctl_reply reply;
	bool printed;
	struct ctl_table *t;
	const json_t *group, *target;
	size_t i, j;
	int rc;

	rc = ctl_simple_get(ctl, argc, argv, "/v1/groups", &reply, &printed);
	if (rc != CTL_EXIT_OK || printed)
		return rc;
	t = ctl_table_new(cols, sizeof(cols) / sizeof(cols[0]));
	json_array_foreach(reply_groups(reply.json), i, group) {
		const json_t *targets = json_object_get(group, "targets");
		char kinds[128] = "";

		/* The kinds it holds, each once, in first-seen order. */
		json_array_foreach(targets, j, target) {
			const char *k = ctl_json_str(target, "kind", "?");
			size_t len = strlen(kinds);

			if (strstr(kinds, k) == NULL &&
			    len + strlen(k) + 2 < sizeof(kinds))
				snprintf(kinds + len, sizeof(kinds) - len,
					 "%s%s", len ? "," : "", k);
		}
		ctl_table_cell(t, "%s", ctl_json_str(group, "name", "?"));
		ctl_table_cell(t, "%zu", json_array_size(targets));
		ctl_table_cell(t, "%lld", ctl_json_int(group, "table_size", 0));
		ctl_table_cell(t, "%s", kinds);
	}
	ctl_table_print_free(t, stdout);
	ctl_reply_free(&reply);
	return CTL_EXIT_OK;
}

int
ctl_cmd_group_show(struct ctl *ctl, int argc, char **argv)
{
	static const struct ctl_column cols[] = {
		{"#", true}, {"KIND", false}, {"TARGET", false},
		{"WEIGHT", true}, {"STATE", false},
	};
	struct ctl_reply reply;
	struct ctl_args args;
	struct ctl_table *t;
	const json_t *group, *target;
	char *path;
	size_t i;
	int rc;

	rc = ctl_args_parse_n(ctl, argc, argv, &args, 1, "the group's NAME");
	if (rc != CTL_EXIT_OK || ctl->help)
		return rc;
	path = ctl_path_join("/v1/groups/", args.pos[0], false);
	ctl_args_free(&args);
	rc = ctl_request(ctl, "GET", path, NULL, NULL, 0, 0, &reply);
	free(path);
	if (rc != CTL_EXIT_OK)
		return rc;
	if (ctl->output == CTL_OUTPUT_JSON) {
		ctl_print_json(reply.json);
		ctl_reply_free(&reply);
		return CTL_EXIT_OK;
	}
	group = reply_group(reply.json);
	printf("group %s, Maglev table size %lld\n",
	       ctl_json_str(group, "name", "?"),
	       ctl_json_int(group, "table_size", 0));
	t = ctl_table_new(cols, sizeof(cols) / sizeof(cols[0]));
	json_array_foreach(json_object_get(group, "targets"), i, target) {
		char *where = target_text(target);

		ctl_table_cell(t, "%zu", i);
		ctl_table_cell(t, "%s", ctl_json_str(target, "kind", "?"));
		ctl_table_cell(t, "%s", where ? where : "?");
		ctl_table_cell(t, "%lld", ctl_json_int(target, "weight", 1));
		ctl_table_cell(t, "%s", ctl_json_str(target, "state", "up"));
		free(where);
	}
	ctl_table_print_free(t, stdout);
	ctl_reply_free(&reply);
	return CTL_EXIT_OK;
}

/* The targets from words[0..n); NULL after a usage message. */
static json_t *
parse_targets(struct ctl *ctl, char **words, int n)
{
	json_t *targets = json_array();
	json_t *target = NULL;

	for (int i = 0; i < n; i++) {
		int k = target_kind(words[i]);
		const struct ctl_flag *f = ctl_field_flag(target_words,
							  words[i]);

		if (k < 0 && f == NULL) {
			ctl_usage_error(ctl, "\"%s\": expected a target (port, "
					"vxlan, geneve, gre) or one of its "
					"words (vni, udp-port, local, key, "
					"weight, state)", words[i]);
			goto fail;
		}
		if (i + 1 >= n) {
			ctl_usage_error(ctl, "\"%s\" needs a value", words[i]);
			goto fail;
		}
		if (k >= 0) {
			target = json_pack("{s:s}", "kind",
					   target_kinds[k].kind);
			json_array_append_new(targets, target);
			if (ctl_field_set(target, target_kinds[k].member,
					  CTL_FIELD_STRING, words[++i]) < 0)
				goto fail;
			continue;
		}
		if (target == NULL) {
			ctl_usage_error(ctl, "\"%s\" before any target: start "
					"with port PORT or vxlan|geneve|gre "
					"REMOTE", words[i]);
			goto fail;
		}
		if (ctl_field_set(target, f->member, f->kind, words[++i]) < 0)
			goto fail;
	}
	if (json_array_size(targets) == 0) {
		ctl_usage_error(ctl, "a group needs a target: port PORT or "
				"vxlan|geneve|gre REMOTE ...");
		goto fail;
	}
	return targets;
fail:
	json_decref(targets);
	return NULL;
}

int
ctl_cmd_group_add(struct ctl *ctl, int argc, char **argv)
{
	struct ctl_reply reply;
	struct ctl_args args;
	json_t *group, *targets;
	char *path = NULL, *name;
	bool replace;
	int rc;

	rc = ctl_args_parse(ctl, argc, argv, &args);
	if (rc != CTL_EXIT_OK || ctl->help)
		return rc;
	if (args.n_pos < 1) {
		ctl_args_free(&args);
		return ctl_usage_error(ctl, "missing the group's NAME");
	}
	targets = parse_targets(ctl, args.pos + 1, args.n_pos - 1);
	if (targets == NULL) {
		ctl_args_free(&args);
		return CTL_EXIT_USAGE;
	}
	/* name, table_size, targets: the schema's order. */
	group = json_object();
	ctl_field_set(group, "name", CTL_FIELD_STRING, args.pos[0]);
	json_object_update(group, args.fields);
	json_object_set_new(group, "targets", targets);
	replace = ctl_args_has(&args, "replace");
	name = strdup(args.pos[0]);
	if (replace)
		path = ctl_path_join("/v1/groups/", name, false);
	ctl_args_free(&args);

	rc = ctl_request_json(ctl, replace ? "PUT" : "POST",
			      replace ? path : "/v1/groups", group, &reply);
	json_decref(group);
	free(path);
	if (rc == CTL_EXIT_OK) {
		if (ctl->output == CTL_OUTPUT_JSON)
			ctl_print_json(reply.json);
		else
			printf("%s group %s (generation %lld)\n",
			       replace ? "replaced" : "added", name,
			       ctl_json_int(reply.json, "generation", -1));
		ctl_reply_free(&reply);
	}
	free(name);
	return rc;
}

int
ctl_cmd_group_del(struct ctl *ctl, int argc, char **argv)
{
	return ctl_delete_item(ctl, argc, argv, "/v1/groups/", "group",
			       "the group's NAME", false);
}
