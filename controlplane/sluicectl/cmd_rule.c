/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rule list|show|add|del: /v1/rules.  rule add builds the rule object of
 * docs/policy.md from flags and forwards it; sluiced judges it.
 */
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

const struct ctl_flag ctl_rule_add_flags[] = {
	{"id", 0, CTL_FIELD_STRING, "id", "ID",
	 "the rule's id (default: auto-HASH of its match and action)"},
	{"action", 0, CTL_FLAG_TEXT, NULL, "ACTION",
	 "accept, drop, replicate (--group, --copies) or steer (--group)"},
	{"group", 0, CTL_FLAG_TEXT, NULL, "GROUP",
	 "the group of replicate or steer"},
	{"copies", 0, CTL_FLAG_TEXT, NULL, "N",
	 "replicate: targets that get a copy (default 1)"},
	{"literal", 0, CTL_FLAG_TEXT, NULL, "TEXT",
	 "payload: bytes matched anywhere in the L4 payload"},
	{"regex", 0, CTL_FLAG_TEXT, NULL, "REGEX",
	 "payload: a Hyperscan expression"},
	{"payload-flags", 0, CTL_FLAG_TEXT, NULL, "FLAG[,FLAG]",
	 "caseless, dotall, multiline, utf8, ucp"},
	{"comment", 0, CTL_FIELD_STRING, "comment", "TEXT", "for people"},
	{"position", 0, CTL_FIELD_NUMBER, "position", "N",
	 "0-based index to insert at (default: append)"},
	{NULL},
};

/* ------------------------------------------------------------------------
 * Rules as text
 */

/* The action of a rule for a table cell: "accept", "replicate G x2". */
static char *
action_text(const json_t *action)
{
	const json_t *rep = json_object_get(action, "replicate");
	const json_t *steer = json_object_get(action, "steer");
	char *s = NULL;

	if (json_is_object(rep)) {
		if (asprintf(&s, "replicate %s x%lld",
			     ctl_json_str(rep, "group", "?"),
			     ctl_json_int(rep, "copies", 1)) < 0)
			s = NULL;
		return s;
	}
	if (json_is_object(steer)) {
		if (asprintf(&s, "steer %s",
			     ctl_json_str(steer, "group", "?")) < 0)
			s = NULL;
		return s;
	}
	return ctl_json_text(action);
}

/* The match of a rule as "src=... dport=22" with the flag names, or
 * "any"; a payload as payload=regex:TEXT. */
static char *
match_text(const json_t *rule)
{
	const json_t *payload = json_object_get(rule, "payload");
	char *out = strdup("");

	for (const struct ctl_flag *f = ctl_match_flags; f->name && out; f++) {
		const json_t *v = json_object_get(rule, f->member);
		char *s, *joined;

		if (v == NULL)
			continue;
		s = ctl_json_text(v);
		if (asprintf(&joined, "%s%s%s=%s", out, *out ? " " : "",
			     f->name, s ? s : "?") < 0)
			joined = NULL;
		free(s);
		free(out);
		out = joined;
	}
	if (json_is_object(payload) && out != NULL) {
		const char *kind = json_object_get(payload, "regex") ? "regex"
								     : "literal";
		char *joined;

		if (asprintf(&joined, "%s%spayload=%s:%s", out, *out ? " " : "",
			     kind, ctl_json_str(payload, kind, "?")) < 0)
			joined = NULL;
		free(out);
		out = joined;
	}
	if (out != NULL && *out == '\0') {
		free(out);
		out = strdup("any");
	}
	return out;
}

/* ------------------------------------------------------------------------
 * Commands
 */

int
ctl_cmd_rule_list(struct ctl *ctl, int argc, char **argv)
{
	static const struct ctl_column cols[] = {
		{"#", true}, {"ID", false}, {"MATCH", false},
		{"ACTION", false}, {"COMMENT", false},
	};
	struct ctl_reply reply;
	bool printed;
	struct ctl_table *t;
	const json_t *rule;
	char *def;
	size_t i;
	int rc;

	rc = ctl_simple_get(ctl, argc, argv, "/v1/rules", &reply, &printed);
	if (rc != CTL_EXIT_OK || printed)
		return rc;
	t = ctl_table_new(cols, sizeof(cols) / sizeof(cols[0]));
	json_array_foreach(json_object_get(reply.json, "rules"), i, rule) {
		char *m = match_text(rule);
		char *a = action_text(json_object_get(rule, "action"));

		ctl_table_cell(t, "%zu", i);
		ctl_table_cell(t, "%s", ctl_json_str(rule, "id", "-"));
		ctl_table_cell(t, "%s", m ? m : "?");
		ctl_table_cell(t, "%s", a ? a : "?");
		ctl_table_cell(t, "%s", ctl_json_str(rule, "comment", ""));
		free(m);
		free(a);
	}
	ctl_table_print_free(t, stdout);
	def = action_text(json_object_get(reply.json, "default"));
	printf("default: %s\n", def ? def : "?");
	free(def);
	ctl_reply_free(&reply);
	return CTL_EXIT_OK;
}

int
ctl_cmd_rule_show(struct ctl *ctl, int argc, char **argv)
{
	struct ctl_reply reply;
	struct ctl_args args;
	const json_t *rule;
	char *path, *m, *a;
	int rc;

	rc = ctl_args_parse_n(ctl, argc, argv, &args, 1, "the rule's ID");
	if (rc != CTL_EXIT_OK || ctl->help)
		return rc;
	path = ctl_path_join("/v1/rules/", args.pos[0], false);
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
	rule = json_object_get(reply.json, "rule");
	m = match_text(rule);
	a = action_text(json_object_get(rule, "action"));
	printf("id:        %s\n", ctl_json_str(rule, "id", "-"));
	printf("position:  %lld\n", ctl_json_int(reply.json, "position", -1));
	printf("match:     %s\n", m ? m : "?");
	printf("action:    %s\n", a ? a : "?");
	if (ctl_json_str(rule, "comment", NULL) != NULL)
		printf("comment:   %s\n", ctl_json_str(rule, "comment", ""));
	free(m);
	free(a);
	ctl_reply_free(&reply);
	return CTL_EXIT_OK;
}

/*
 * The action member from --action, --group, --copies: accept and drop (or
 * any other word, for sluiced to judge) are strings; replicate and steer
 * objects.  NULL after a usage message.
 */
static json_t *
build_action(struct ctl *ctl, const struct ctl_args *args)
{
	const char *action = ctl_args_get(args, "action");
	const char *group = ctl_args_get(args, "group");
	const char *copies = ctl_args_get(args, "copies");
	bool replicate, steer;
	json_t *inner;

	if (action == NULL) {
		ctl_usage_error(ctl, "rule add needs --action "
				"accept|drop|replicate|steer");
		return NULL;
	}
	replicate = strcasecmp(action, "replicate") == 0;
	steer = strcasecmp(action, "steer") == 0;
	if (copies != NULL && !replicate) {
		ctl_usage_error(ctl, "--copies goes with --action replicate");
		return NULL;
	}
	if (!replicate && !steer) {
		if (group != NULL) {
			ctl_usage_error(ctl, "--group goes with --action "
					"replicate or steer");
			return NULL;
		}
		return json_string(action);
	}
	inner = json_object();
	if (group != NULL)
		ctl_field_set(inner, "group", CTL_FIELD_STRING, group);
	if (copies != NULL)
		ctl_field_set(inner, "copies", CTL_FIELD_NUMBER, copies);
	return json_pack("{s:o}", replicate ? "replicate" : "steer", inner);
}

/* The payload member from --literal/--regex and --payload-flags; NULL
 * with *bad false when none was asked for. */
static json_t *
build_payload(struct ctl *ctl, const struct ctl_args *args, bool *bad)
{
	const char *literal = ctl_args_get(args, "literal");
	const char *regex = ctl_args_get(args, "regex");
	const char *flags = ctl_args_get(args, "payload-flags");
	json_t *payload;

	*bad = false;
	if (literal == NULL && regex == NULL) {
		if (flags != NULL) {
			*bad = true;
			ctl_usage_error(ctl, "--payload-flags goes with "
					"--literal or --regex");
		}
		return NULL;
	}
	payload = json_object();
	if (literal != NULL)
		ctl_field_set(payload, "literal", CTL_FIELD_STRING, literal);
	if (regex != NULL)
		ctl_field_set(payload, "regex", CTL_FIELD_STRING, regex);
	if (flags != NULL)
		ctl_field_set(payload, "flags", CTL_FIELD_LIST, flags);
	return payload;
}

int
ctl_cmd_rule_add(struct ctl *ctl, int argc, char **argv)
{
	struct ctl_reply reply;
	struct ctl_args args;
	json_t *rule, *action, *payload;
	bool bad;
	int rc;

	rc = ctl_args_parse(ctl, argc, argv, &args);
	if (rc != CTL_EXIT_OK || ctl->help)
		return rc;
	if (args.n_pos > 0) {
		rc = ctl_usage_error(ctl, "unexpected \"%s\" (rule fields are "
				     "flags: --dport 22)", args.pos[0]);
		ctl_args_free(&args);
		return rc;
	}
	action = build_action(ctl, &args);
	payload = build_payload(ctl, &args, &bad);
	if (action == NULL || bad) {
		json_decref(action);
		json_decref(payload);
		ctl_args_free(&args);
		return CTL_EXIT_USAGE;
	}
	/* The rule object; sluiced takes "position" beside its fields. */
	rule = json_incref(args.fields);
	if (payload != NULL)
		json_object_set_new(rule, "payload", payload);
	json_object_set_new(rule, "action", action);
	ctl_args_free(&args);

	rc = ctl_request_json(ctl, "POST", "/v1/rules", rule, &reply);
	json_decref(rule);
	if (rc != CTL_EXIT_OK)
		return rc;
	if (ctl->output == CTL_OUTPUT_JSON)
		ctl_print_json(reply.json);
	else
		printf("added rule %s (generation %lld)\n",
		       ctl_json_str(json_object_get(reply.json, "rule"), "id",
				    "?"),
		       ctl_json_int(reply.json, "generation", -1));
	ctl_reply_free(&reply);
	return CTL_EXIT_OK;
}

int
ctl_cmd_rule_del(struct ctl *ctl, int argc, char **argv)
{
	return ctl_delete_item(ctl, argc, argv, "/v1/rules/", "rule",
			       "the rule's ID", false);
}
