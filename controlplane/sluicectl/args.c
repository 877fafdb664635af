/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Command lines: global flags, each command's flag tables, and the flags
 * that become members of the JSON object a command sends.  getopt_long()
 * does the scanning, so flags may come before or after positional words
 * and "--" ends them.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

/* ------------------------------------------------------------------------
 * Global flags
 */

typedef int global_set_fn(struct ctl *ctl, size_t offset, const char *value);

/* A global flag and where its value goes in struct ctl. */
struct global_flag {
	struct ctl_flag flag;
	global_set_fn *set;
	size_t offset;		/* of the member set_string() stores into */
};

static int
set_string(struct ctl *ctl, size_t offset, const char *value)
{
	*(const char **)((char *)ctl + offset) = value;
	return 0;
}

static int
set_output(struct ctl *ctl, size_t offset, const char *value)
{
	(void)offset;
	if (strcmp(value, "json") == 0)
		ctl->output = CTL_OUTPUT_JSON;
	else if (strcmp(value, "table") == 0)
		ctl->output = CTL_OUTPUT_TABLE;
	else {
		fprintf(stderr, "error: -o takes json or table, not \"%s\"\n",
			value);
		return -1;
	}
	return 0;
}

static int
set_timeout(struct ctl *ctl, size_t offset, const char *value)
{
	char *end;
	double s;

	(void)offset;
	errno = 0;
	s = strtod(value, &end);
	if (errno || end == value || *end != '\0' || !(s > 0) || s > 86400) {
		fprintf(stderr, "error: --timeout takes seconds (0 < S <= 86400), "
			"not \"%s\"\n", value);
		return -1;
	}
	ctl->timeout_ms = (long)(s * 1000 + 0.5);
	if (ctl->timeout_ms == 0)
		ctl->timeout_ms = 1;
	return 0;
}

static int
set_generation(struct ctl *ctl, size_t offset, const char *value)
{
	if (ctl_parse_uint(value, INT64_MAX) < 0) {
		fprintf(stderr, "error: --generation takes a generation number, "
			"not \"%s\"\n", value);
		return -1;
	}
	return set_string(ctl, offset, value);
}

static int
set_help(struct ctl *ctl, size_t offset, const char *value)
{
	(void)offset;
	(void)value;
	ctl->help = true;
	return 0;
}

static const struct global_flag global_flags[] = {
	{{"socket", 0, CTL_FLAG_TEXT, NULL, "PATH",
	  "the API's unix socket (env SLUICE_SOCKET; default "
	  CTL_SOCKET_DEFAULT ")"},
	 set_string, offsetof(struct ctl, socket_path)},
	{{"url", 0, CTL_FLAG_TEXT, NULL, "URL",
	  "the API over TCP instead, e.g. http://127.0.0.1:8470 "
	  "(env SLUICE_URL)"},
	 set_string, offsetof(struct ctl, url)},
	{{"token", 0, CTL_FLAG_TEXT, NULL, "TOKEN",
	  "bearer token for the TCP listener (env SLUICE_TOKEN)"},
	 set_string, offsetof(struct ctl, token)},
	{{"token-file", 0, CTL_FLAG_TEXT, NULL, "FILE",
	  "read the bearer token from the first line of FILE"},
	 set_string, offsetof(struct ctl, token_file)},
	{{"output", 'o', CTL_FLAG_TEXT, NULL, "json|table",
	  "table: human tables (default); json: the server's JSON"},
	 set_output, 0},
	{{"timeout", 0, CTL_FLAG_TEXT, NULL, "SECONDS",
	  "give up on a request after this long (default 30); exit 3"},
	 set_timeout, 0},
	{{"generation", 0, CTL_FLAG_TEXT, NULL, "N",
	  "writes only: refuse the change (409, exit 1) unless the state is "
	  "still at generation N (If-Match)"},
	 set_generation, offsetof(struct ctl, generation)},
	{{"help", 'h', CTL_FLAG_BOOL, NULL, NULL, "print help and exit"},
	 set_help, 0},
};
#define N_GLOBAL_FLAGS (sizeof(global_flags) / sizeof(global_flags[0]))

static void
print_flag(FILE *f, const struct ctl_flag *fl)
{
	char lhs[64];
	int n;

	if (fl->short_name)
		n = snprintf(lhs, sizeof(lhs), "-%c, --%s", fl->short_name,
			     fl->name);
	else
		n = snprintf(lhs, sizeof(lhs), "    --%s", fl->name);
	if (fl->arg_name != NULL && n > 0 && (size_t)n < sizeof(lhs))
		snprintf(lhs + n, sizeof(lhs) - (size_t)n, " %s",
			 fl->arg_name);
	if (strlen(lhs) > 26)
		fprintf(f, "  %s\n  %-26s  %s\n", lhs, "", fl->help);
	else
		fprintf(f, "  %-26s  %s\n", lhs, fl->help);
}

void
ctl_print_global_flags(FILE *f)
{
	for (size_t i = 0; i < N_GLOBAL_FLAGS; i++)
		print_flag(f, &global_flags[i].flag);
}

/* ------------------------------------------------------------------------
 * Match fields: one table for rule add and the trace and capture filters
 */

const struct ctl_flag ctl_match_flags[] = {
	{"src", 0, CTL_FIELD_STRING, "src", "PREFIX",
	 "source prefix or address (IPv4 or IPv6)"},
	{"dst", 0, CTL_FIELD_STRING, "dst", "PREFIX",
	 "destination prefix or address"},
	{"proto", 0, CTL_FIELD_NUMBER, "proto", "PROTO",
	 "IP protocol: a name (tcp, udp, icmp, ...) or a number"},
	{"sport", 0, CTL_FIELD_NUMBER, "sport", "N|N-M",
	 "source port or range (needs --proto tcp, udp or sctp)"},
	{"dport", 0, CTL_FIELD_NUMBER, "dport", "N|N-M",
	 "destination port or range"},
	{"in-port", 0, CTL_FIELD_STRING, "in_port", "NAME",
	 "the port the packet came in by"},
	{"vlan", 0, CTL_FIELD_NUMBER, "vlan", "N", "outer VLAN id (0-4095)"},
	{"tcp-flags", 0, CTL_FIELD_TCP_FLAGS, "tcp_flags", "FLAGS",
	 "syn,!ack: SYN set, ACK clear (others ignored); or FLAGS/MASK"},
	{"ct", 0, CTL_FIELD_LIST, "ct", "STATE[,STATE]",
	 "connection states: new, established, related, invalid"},
	{NULL},
};

/* ------------------------------------------------------------------------
 * Values
 */

long long
ctl_parse_uint(const char *text, long long max)
{
	char *end;
	long long v;

	if (text == NULL || *text < '0' || *text > '9')
		return -1;
	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno || *end != '\0' || v > max)
		return -1;
	return v;
}

/* True when text is an optional '-' and decimal digits that fit. */
static bool
parse_integer(const char *text, json_int_t *out)
{
	const char *p = text[0] == '-' ? text + 1 : text;
	char *end;
	long long v;

	if (*p < '0' || *p > '9')
		return false;
	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno || *end != '\0')
		return false;
	*out = v;
	return true;
}

/* "a, b,c" -> ["a", "b", "c"]; empty items are skipped. */
static json_t *
split_list(const char *text)
{
	json_t *list = json_array();
	const char *p = text;

	while (list != NULL && *p != '\0') {
		size_t n = strcspn(p, ",");
		const char *s = p, *e = p + n;

		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (e > s && json_array_append_new(list,
				json_stringn(s, (size_t)(e - s))) < 0) {
			json_decref(list);
			return NULL;
		}
		p += n + (p[n] == ',');
	}
	return list;
}

/*
 * "syn,!ack" -> "syn/syn,ack": a flag named plainly must be set, one after
 * '!' must be clear, the others are not looked at.  Text with a '/' is the
 * policy's own FLAGS/MASK form and goes as it is; so does a list without
 * '!' ("syn,ack" means both set).
 */
static char *
tcp_flags_text(const char *text)
{
	size_t len = strlen(text);
	char *set, *mask, *out;
	const char *p = text;

	if (strchr(text, '/') != NULL || strchr(text, '!') == NULL)
		return strdup(text);
	set = calloc(1, len + 1);
	mask = calloc(1, len + 1);
	out = malloc(2 * len + 2);
	if (set == NULL || mask == NULL || out == NULL)
		goto fail;
	while (*p != '\0') {
		size_t n = strcspn(p, ",");
		bool clear = *p == '!';
		const char *name = p + clear;
		size_t name_len = n - clear;

		if (name_len > 0) {
			if (!clear) {
				if (*set)
					strcat(set, ",");
				strncat(set, name, name_len);
			}
			if (*mask)
				strcat(mask, ",");
			strncat(mask, name, name_len);
		}
		p += n + (p[n] == ',');
	}
	sprintf(out, "%s/%s", set, mask);
	free(set);
	free(mask);
	return out;
fail:
	free(set);
	free(mask);
	free(out);
	return NULL;
}

int
ctl_field_set(json_t *obj, const char *member, enum ctl_flag_kind kind,
	      const char *text)
{
	json_t *v = NULL;
	json_int_t n;
	char *s;

	switch (kind) {
	case CTL_FIELD_STRING:
		v = json_string(text);
		break;
	case CTL_FIELD_NUMBER:
		v = parse_integer(text, &n) ? json_integer(n) : json_string(text);
		break;
	case CTL_FIELD_LIST:
		v = split_list(text);
		break;
	case CTL_FIELD_TCP_FLAGS:
		s = tcp_flags_text(text);
		v = s != NULL ? json_string(s) : NULL;
		free(s);
		break;
	default:
		break;
	}
	if (v == NULL) {
		fprintf(stderr, "error: %s: \"%s\" is not valid UTF-8 text\n",
			member, text);
		return -1;
	}
	json_object_set_new(obj, member, v);
	return 0;
}

const struct ctl_flag *
ctl_field_flag(const struct ctl_flag *table, const char *word)
{
	for (const struct ctl_flag *f = table; f->name != NULL; f++) {
		if (f->member == NULL)
			continue;
		if (strcmp(word, f->name) == 0 || strcmp(word, f->member) == 0)
			return f;
	}
	return NULL;
}

int
ctl_words_to_fields(const struct ctl_flag *table, char **words, int n,
		    int *i, json_t *obj)
{
	while (*i < n) {
		const struct ctl_flag *f = ctl_field_flag(table, words[*i]);

		if (f == NULL)
			return 0;
		if (*i + 1 >= n) {
			fprintf(stderr, "error: \"%s\" needs a value (%s)\n",
				words[*i], f->arg_name);
			return -1;
		}
		if (ctl_field_set(obj, f->member, f->kind, words[*i + 1]) < 0)
			return -1;
		*i += 2;
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * Parsing
 */

/* getopt_long() values: short letters are themselves; long-only flags are
 * FLAG_VAL_BASE + their index in the combined table. */
#define FLAG_VAL_BASE 256

/* Fill opts (the getopt table) and shorts from the global flags then the
 * command's; flags[] receives the ctl_flag of each entry.  Returns the
 * count, or -1 when more than max. */
static int
build_getopt(const struct ctl_command *cmd, struct option *opts,
	     const struct ctl_flag **flags, size_t max, char *shorts,
	     bool stop_at_word)
{
	size_t n = 0;
	char *sp = shorts;

	/* '+': stop at the first word (the command's name); otherwise
	 * permute, so flags may follow words.  ':': a missing value returns
	 * ':' rather than '?'. */
	if (stop_at_word)
		*sp++ = '+';
	*sp++ = ':';
	for (size_t i = 0; i < N_GLOBAL_FLAGS; i++)
		flags[n++] = &global_flags[i].flag;
	if (cmd != NULL && cmd->flags != NULL) {
		for (const struct ctl_flag *const *t = cmd->flags; *t; t++) {
			for (const struct ctl_flag *f = *t; f->name; f++) {
				if (n >= max)
					return -1;
				flags[n++] = f;
			}
		}
	}
	for (size_t i = 0; i < n; i++) {
		const struct ctl_flag *f = flags[i];
		int has_arg = f->kind == CTL_FLAG_BOOL ? no_argument
						       : required_argument;

		opts[i] = (struct option){f->name, has_arg, NULL,
					  FLAG_VAL_BASE + (int)i};
		if (f->short_name) {
			*sp++ = (char)f->short_name;
			if (has_arg == required_argument)
				*sp++ = ':';
		}
	}
	opts[n] = (struct option){0};
	*sp = '\0';
	return (int)n;
}

/* Index in flags[] of what getopt_long() returned, or -1. */
static int
flag_index(int c, const struct ctl_flag *const *flags, int n)
{
	if (c >= FLAG_VAL_BASE && c < FLAG_VAL_BASE + n)
		return c - FLAG_VAL_BASE;
	for (int i = 0; i < n; i++)
		if (flags[i]->short_name == c)
			return i;
	return -1;
}

static const struct global_flag *
global_of(const struct ctl_flag *f)
{
	for (size_t i = 0; i < N_GLOBAL_FLAGS; i++)
		if (f == &global_flags[i].flag)
			return &global_flags[i];
	return NULL;
}

/*
 * Run getopt_long() over argv; global flags go into *ctl and the others
 * into args (when not NULL).  Returns CTL_EXIT_OK or CTL_EXIT_USAGE; *next
 * is the index of the first word getopt left (a permuted argv).
 */
static int
scan(struct ctl *ctl, const struct ctl_command *cmd, int argc, char **argv,
     struct ctl_args *args, bool stop_at_word, int *next)
{
	struct option opts[CTL_ARGS_MAX + 1];
	const struct ctl_flag *flags[CTL_ARGS_MAX];
	char shorts[2 * CTL_ARGS_MAX + 3];
	int n, c;

	n = build_getopt(cmd, opts, flags, CTL_ARGS_MAX, shorts, stop_at_word);
	if (n < 0) {
		fprintf(stderr, "error: internal: too many flags\n");
		return CTL_EXIT_USAGE;
	}
	optind = 0;		/* GNU: start a fresh scan */
	opterr = 0;		/* we say what is wrong ourselves */
	while ((c = getopt_long(argc, argv, shorts, opts, NULL)) != -1) {
		const struct global_flag *g;
		int i;

		if (c == '?' || c == ':') {
			const char *bad = argv[optind - 1];

			if (optopt && optopt < FLAG_VAL_BASE)
				fprintf(stderr, c == ':' ?
					"error: -%c needs a value\n" :
					"error: unknown option -%c\n", optopt);
			else
				fprintf(stderr, c == ':' ?
					"error: %s needs a value\n" :
					"error: unknown option %s\n", bad);
			goto usage;
		}
		i = flag_index(c, flags, n);
		if (i < 0)
			goto usage;
		g = global_of(flags[i]);
		if (g != NULL) {
			if (g->set(ctl, g->offset, optarg) < 0)
				goto usage;
			continue;
		}
		if (args == NULL)
			continue;
		if (args->n_flags == CTL_ARGS_MAX) {
			fprintf(stderr, "error: more than %d options\n",
				CTL_ARGS_MAX);
			goto usage;
		}
		args->flag[args->n_flags] = flags[i];
		args->value[args->n_flags++] = optarg != NULL ? optarg : "";
		if (flags[i]->member != NULL &&
		    ctl_field_set(args->fields, flags[i]->member,
				  flags[i]->kind, optarg) < 0)
			goto usage;
	}
	*next = optind;
	return CTL_EXIT_OK;
usage:
	if (cmd != NULL)
		ctl_print_usage(stderr, cmd);
	else
		fprintf(stderr, "usage: sluicectl [OPTIONS] COMMAND ... "
			"(sluicectl help)\n");
	return CTL_EXIT_USAGE;
}

int
ctl_globals_parse(struct ctl *ctl, int argc, char **argv, int *first)
{
	return scan(ctl, NULL, argc, argv, NULL, true, first);
}

int
ctl_args_parse(struct ctl *ctl, int argc, char **argv, struct ctl_args *args)
{
	int next, rc;

	memset(args, 0, sizeof(*args));
	args->fields = json_object();
	if (args->fields == NULL) {
		fprintf(stderr, "error: out of memory\n");
		return CTL_EXIT_USAGE;
	}
	rc = scan(ctl, ctl->cmd, argc, argv, args, false, &next);
	if (rc != CTL_EXIT_OK) {
		ctl_args_free(args);
		return rc;
	}
	if (ctl->help) {
		ctl_print_command_help(ctl->cmd);
		ctl_args_free(args);
		return CTL_EXIT_OK;
	}
	if (ctl->generation != NULL && !ctl->cmd->writes) {
		ctl_args_free(args);
		return ctl_usage_error(ctl, "--generation applies to commands "
				       "that change state");
	}
	args->pos = argv + next;
	args->n_pos = argc - next;
	return CTL_EXIT_OK;
}

int
ctl_args_parse_n(struct ctl *ctl, int argc, char **argv,
		 struct ctl_args *args, int n_pos, const char *what)
{
	int rc = ctl_args_parse(ctl, argc, argv, args);

	if (rc != CTL_EXIT_OK || ctl->help)
		return rc;
	if (args->n_pos < n_pos)
		rc = ctl_usage_error(ctl, "missing %s", what);
	else if (args->n_pos > n_pos)
		rc = ctl_usage_error(ctl, "unexpected \"%s\"",
				     args->pos[n_pos]);
	if (rc != CTL_EXIT_OK)
		ctl_args_free(args);
	return rc;
}

void
ctl_args_free(struct ctl_args *args)
{
	json_decref(args->fields);
	args->fields = NULL;
}

static int
find_value(const struct ctl_args *args, const char *name)
{
	int found = -1;

	/* The last one given wins, as with the JSON members. */
	for (size_t i = 0; i < args->n_flags; i++)
		if (strcmp(args->flag[i]->name, name) == 0)
			found = (int)i;
	return found;
}

const char *
ctl_args_get(const struct ctl_args *args, const char *name)
{
	int i = find_value(args, name);

	return i < 0 ? NULL : args->value[i];
}

bool
ctl_args_has(const struct ctl_args *args, const char *name)
{
	return find_value(args, name) >= 0;
}

/* ------------------------------------------------------------------------
 * Usage and help
 */

void
ctl_print_usage(FILE *f, const struct ctl_command *cmd)
{
	fprintf(f, "usage: sluicectl %s%s%s\n", cmd->name,
		*cmd->usage ? " " : "", cmd->usage);
}

int
ctl_usage_error(const struct ctl *ctl, const char *fmt, ...)
{
	va_list ap;

	fputs("error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (ctl->cmd != NULL)
		ctl_print_usage(stderr, ctl->cmd);
	return CTL_EXIT_USAGE;
}

void
ctl_print_command_help(const struct ctl_command *cmd)
{
	ctl_print_usage(stdout, cmd);
	printf("\n%s\n", cmd->help);
	if (cmd->flags != NULL) {
		printf("\nOptions:\n");
		for (const struct ctl_flag *const *t = cmd->flags; *t; t++)
			for (const struct ctl_flag *f = *t; f->name; f++)
				print_flag(stdout, f);
	}
	printf("\nGlobal options:\n");
	ctl_print_global_flags(stdout);
}
