/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * apply -f FILE [--dry-run] (PUT /v1/config) and config get
 * (GET /v1/config).  The file goes to sluiced as it is, YAML or JSON, so
 * the daemon's errors point into the operator's own text; sluiced is the
 * one validator.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/policy.h>

#include "ctl.h"

const struct ctl_flag ctl_apply_flags[] = {
	{"file", 'f', CTL_FLAG_TEXT, NULL, "FILE",
	 "the policy (docs/policy.md): .yaml/.yml is YAML, .json JSON, "
	 "otherwise JSON when it starts with '{'; - reads stdin"},
	{"dry-run", 0, CTL_FLAG_BOOL, NULL, NULL,
	 "validate and print the diff; change nothing"},
	{NULL},
};

#define POLICY_FILE_MAX (256u << 20)	/* the decoder's own limit */

/* The whole of path ("-": stdin) in *buf (NUL-terminated); 0 or -errno. */
static int
read_file(const char *path, char **buf, size_t *len)
{
	bool from_stdin = strcmp(path, "-") == 0;
	FILE *f = from_stdin ? stdin : fopen(path, "rb");
	size_t cap = 65536, n = 0;
	char *data;
	int err = 0;

	if (f == NULL)
		return -errno;
	data = malloc(cap);
	while (data != NULL) {
		size_t got = fread(data + n, 1, cap - n - 1, f);

		n += got;
		if (n > POLICY_FILE_MAX) {
			err = -EFBIG;
			break;
		}
		if (got == 0) {
			if (ferror(f))
				err = -EIO;
			break;
		}
		if (n + 1 == cap) {
			char *grown = realloc(data, 2 * cap);

			if (grown == NULL) {
				free(data);
				data = NULL;
				break;
			}
			data = grown;
			cap *= 2;
		}
	}
	if (!from_stdin)
		fclose(f);
	if (data == NULL)
		return -ENOMEM;
	if (err) {
		free(data);
		return err;
	}
	data[n] = '\0';
	*buf = data;
	*len = n;
	return 0;
}

static bool
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

/* YAML or JSON, by the rule of docs/policy.md ("Formats"); text that is
 * neither named nor starts with '{' goes as YAML, of which JSON is nearly a
 * subset, so sluiced names the first thing wrong with it. */
static bool
is_yaml(const char *path, const char *text)
{
	if (ends_with(path, ".yaml") || ends_with(path, ".yml"))
		return true;
	if (ends_with(path, ".json"))
		return false;
	text += strspn(text, " \t\r\n");
	return *text != '{';
}

/*
 * After sluiced refused a file: decode it here too and, when that finds
 * the problems, print them with their lines and columns in the file.
 */
static void
print_local_errors(const char *path, const char *text, size_t len, bool yaml)
{
	struct sl_policy_errors *errs = calloc(1, sizeof(*errs));
	struct sl_policy *p = NULL;
	int rc;

	if (errs == NULL)
		return;
	rc = yaml ? sl_policy_from_yaml_buf(text, len, &p, errs)
		  : sl_policy_from_json_buf(text, len, &p, errs);
	if (rc == -EINVAL && errs->count > 0) {
		const char *name = strcmp(path, "-") ? path : "<stdin>";

		fprintf(stderr, "every problem, by the same checks here:\n");
		sl_policy_errors_print(stderr, name, errs);
	}
	sl_policy_free(p);
	free(errs);
}

/* ------------------------------------------------------------------------
 * The diff (docs/api.md, PUT /v1/config)
 */

enum diff_entry_kind {
	DIFF_SECTION,		/* {"added": [...], "removed": [...], ...} */
	DIFF_FLAG,		/* true when that part changed */
};

static const struct {
	enum diff_entry_kind kind;
	const char *member;
	const char *title;	/* the heading, or the line of a flag */
} diff_entries[] = {
	{DIFF_SECTION, "rules", "rules"},
	{DIFF_FLAG, "default_changed", "default action changed"},
	{DIFF_SECTION, "routes", "routes"},
	{DIFF_SECTION, "groups", "groups"},
	{DIFF_SECTION, "ports", "ports"},
	{DIFF_FLAG, "settings_changed", "settings changed"},
};

/* The lists of a section, in the order printed. */
static const char *const diff_lists[] = {
	"added", "removed", "changed", "moved",
};

/*
 * The diff for people: a heading per part that changed and one line per
 * item, "no changes" when nothing did.  Shadowed rules are listed with the
 * rule that hides them: they are accepted but can never match.
 */
static void
print_diff(const json_t *diff)
{
	bool any = false;

	for (size_t e = 0; e < sizeof(diff_entries) / sizeof(diff_entries[0]);
	     e++) {
		const json_t *part = json_object_get(diff,
						     diff_entries[e].member);
		const json_t *item, *shadowed;
		bool heading = false;
		size_t i;

		if (diff_entries[e].kind == DIFF_FLAG) {
			if (json_is_true(part)) {
				printf("%s\n", diff_entries[e].title);
				any = true;
			}
			continue;
		}
		for (size_t l = 0; l < sizeof(diff_lists) / sizeof(*diff_lists);
		     l++) {
			json_array_foreach(json_object_get(part, diff_lists[l]),
					   i, item) {
				char *s = ctl_json_text(item);

				if (!heading)
					printf("%s:\n", diff_entries[e].title);
				heading = any = true;
				printf("  %-9s %s\n", diff_lists[l], s ? s : "?");
				free(s);
			}
		}
		shadowed = json_object_get(part, "shadowed");
		json_array_foreach(shadowed, i, item) {
			if (!heading)
				printf("%s:\n", diff_entries[e].title);
			heading = any = true;
			printf("  %-9s %s (by %s: it can never match)\n",
			       "shadowed", ctl_json_str(item, "rule", "?"),
			       ctl_json_str(item, "by", "?"));
		}
	}
	if (!any)
		printf("no changes\n");
}

int
ctl_cmd_apply(struct ctl *ctl, int argc, char **argv)
{
	struct ctl_reply reply;
	struct ctl_args args;
	const char *path;
	bool dry_run, yaml;
	char *text = NULL;
	size_t len = 0;
	int rc;

	rc = ctl_args_parse(ctl, argc, argv, &args);
	if (rc != CTL_EXIT_OK || ctl->help)
		return rc;
	path = ctl_args_get(&args, "file");
	dry_run = ctl_args_has(&args, "dry-run");
	if (args.n_pos > 0 && path == NULL)
		rc = ctl_usage_error(ctl, "the file comes with -f: apply -f %s",
				     args.pos[0]);
	else if (args.n_pos > 0)
		rc = ctl_usage_error(ctl, "unexpected \"%s\"", args.pos[0]);
	else if (path == NULL)
		rc = ctl_usage_error(ctl, "apply needs -f FILE");
	ctl_args_free(&args);
	if (rc != CTL_EXIT_OK)
		return rc;

	rc = read_file(path, &text, &len);
	if (rc < 0) {
		fprintf(stderr, "error: %s: %s\n", path, strerror(-rc));
		return CTL_EXIT_USAGE;
	}
	yaml = is_yaml(path, text);
	rc = ctl_request(ctl, "PUT", dry_run ? "/v1/config?dry_run=1"
					     : "/v1/config",
			 yaml ? "application/yaml" : "application/json",
			 text, len, 0, &reply);
	if (rc == CTL_EXIT_REJECTED)
		print_local_errors(path, text, len, yaml);
	free(text);
	if (rc != CTL_EXIT_OK)
		return rc;

	if (ctl->output == CTL_OUTPUT_JSON) {
		ctl_print_json(reply.json);
	} else {
		print_diff(json_object_get(reply.json, "diff"));
		if (dry_run)
			printf("dry run: nothing applied (generation %lld)\n",
			       ctl_json_int(reply.json, "generation", -1));
		else
			printf("applied: generation %lld\n",
			       ctl_json_int(reply.json, "generation", -1));
	}
	ctl_reply_free(&reply);
	return CTL_EXIT_OK;
}

int
ctl_cmd_config_get(struct ctl *ctl, int argc, char **argv)
{
	struct ctl_reply reply;
	struct ctl_args args;
	int rc;

	rc = ctl_args_parse(ctl, argc, argv, &args);
	if (rc != CTL_EXIT_OK || ctl->help)
		return rc;
	if (args.n_pos > 0)
		rc = ctl_usage_error(ctl, "unexpected \"%s\"", args.pos[0]);
	ctl_args_free(&args);
	if (rc != CTL_EXIT_OK)
		return rc;
	rc = ctl_request(ctl, "GET", "/v1/config", NULL, NULL, 0, 0, &reply);
	if (rc != CTL_EXIT_OK)
		return rc;
	/* JSON in either output mode: it is what apply -f takes back. */
	if (reply.json != NULL)
		ctl_print_json(reply.json);
	else
		fwrite(reply.body, 1, reply.len, stdout);
	ctl_reply_free(&reply);
	return CTL_EXIT_OK;
}
