/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sluicectl: the admin CLI, a thin client of the sluiced HTTP/JSON API
 * (docs/api.md).  Every command builds the JSON the API takes, sends one
 * request (two for none), and prints what comes back: a human table by
 * default, the server's JSON with -o json.
 *
 * Layout: main.c holds the table of commands and the global options;
 * args.c turns a command line into flag values, JSON members and
 * positional words; http.c sends requests with libcurl and reports errors;
 * table.c prints tables; cmd_*.c hold the commands, one file per resource.
 *
 * Exit codes are part of the interface (scripts trust them): see enum
 * ctl_exit.  Every function below that returns an int returns one of them.
 */
#ifndef SLUICECTL_CTL_H
#define SLUICECTL_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

enum ctl_exit {
	CTL_EXIT_OK = 0,
	CTL_EXIT_REJECTED = 1,	 /* sluiced answered with an error (4xx, 5xx) */
	CTL_EXIT_USAGE = 2,	 /* bad command line; nothing was sent */
	CTL_EXIT_UNREACHABLE = 3, /* no answer: no socket, refused, timeout */
};

enum ctl_output {
	CTL_OUTPUT_TABLE = 0,	/* human tables (default) */
	CTL_OUTPUT_JSON,	/* the server's JSON, pretty-printed */
};

#define CTL_SOCKET_DEFAULT	"/run/sluice/api.sock"
#define CTL_TIMEOUT_MS_DEFAULT	30000

/* ------------------------------------------------------------------------
 * Flags and commands
 */

/* What a flag's value becomes. */
enum ctl_flag_kind {
	CTL_FLAG_BOOL = 0,	/* no value; ctl_args_has() tells */
	CTL_FLAG_TEXT,		/* a value the command reads (ctl_args_get) */
	/* The CTL_FIELD_* kinds set the member `member` of args->fields: */
	CTL_FIELD_STRING,	/* the text */
	CTL_FIELD_NUMBER,	/* an integer when the text reads as one, else
				 * the text, for the server to judge */
	CTL_FIELD_LIST,		/* "a,b" -> ["a", "b"] */
	CTL_FIELD_TCP_FLAGS,	/* "syn,!ack" -> "syn/syn,ack"; "F/M" as is */
};

/*
 * One option of a command, or a global option.  A table of them ends with
 * an entry whose name is NULL.
 */
struct ctl_flag {
	const char *name;	/* long name: "dport" for --dport */
	int short_name;		/* 'c' for -c, or 0 */
	enum ctl_flag_kind kind;
	const char *member;	/* CTL_FIELD_*: the JSON member it sets */
	const char *arg_name;	/* the value in help ("N-M"); NULL for BOOL */
	const char *help;
};

struct ctl;

/*
 * A command runs with argv[0] its full name ("sluicectl rule add") and the
 * rest of the command line after the command's words.  It returns an
 * enum ctl_exit.
 */
typedef int ctl_command_fn(struct ctl *ctl, int argc, char **argv);

struct ctl_command {
	const char *name;	/* one or two words: "status", "rule add" */
	ctl_command_fn *run;
	const char *usage;	/* what follows the name on the command line */
	const char *help;	/* one line */
	/* its options, as a NULL-terminated list of tables; NULL: none */
	const struct ctl_flag *const *flags;
	bool writes;		/* changes state: takes --generation */
};

/* Everything the command line says about how to talk to sluiced. */
struct ctl {
	const struct ctl_command *cmd;	/* the command running */
	const char *socket_path;	/* --socket */
	const char *url;		/* --url */
	const char *token;		/* --token */
	const char *token_file;		/* --token-file */
	const char *generation;		/* --generation: If-Match on writes */
	long timeout_ms;		/* --timeout; CTL_TIMEOUT_MS_DEFAULT */
	enum ctl_output output;		/* -o */
	bool help;			/* --help seen */
};

/* The rule match fields as flags (--src ... --ct), shared by rule add and
 * the trace and capture filters. */
extern const struct ctl_flag ctl_match_flags[];

/* ------------------------------------------------------------------------
 * Command lines (args.c)
 */

#define CTL_ARGS_MAX	64	/* flags a command knows, global ones included;
				 * also the most flags one command line gives */

/* A parsed command line. */
struct ctl_args {
	const struct ctl_flag *flag[CTL_ARGS_MAX]; /* each flag given, in order */
	const char *value[CTL_ARGS_MAX];	/* its value; "" for BOOL */
	size_t n_flags;
	json_t *fields;		/* members from CTL_FIELD_* flags (owned) */
	char **pos;		/* positional words */
	int n_pos;
};

/*
 * Parse argv (argv[0] is the command's name) against the global flags and
 * the tables of ctl->cmd->flags.  Global flags are stored into *ctl as they
 * come; the others, and the positional words, into *args.  Returns
 * CTL_EXIT_OK, or CTL_EXIT_USAGE after printing why and the usage line
 * (args freed).  On success the caller frees args with ctl_args_free(),
 * except after --help: that prints the command's help, frees args and sets
 * ctl->help, and the caller returns CTL_EXIT_OK.
 */
int ctl_args_parse(struct ctl *ctl, int argc, char **argv,
		   struct ctl_args *args);
void ctl_args_free(struct ctl_args *args);

/* ctl_args_parse() for a command that takes exactly n_pos positional
 * words: fewer is "missing WHAT", more "unexpected WORD" (CTL_EXIT_USAGE,
 * args freed). */
int ctl_args_parse_n(struct ctl *ctl, int argc, char **argv,
		     struct ctl_args *args, int n_pos, const char *what);

/* The value of flag `name`, or NULL when it was not given. */
const char *ctl_args_get(const struct ctl_args *args, const char *name);
bool ctl_args_has(const struct ctl_args *args, const char *name);

/*
 * Parse the global flags at the start of argv (before the command's name),
 * stopping at the first word that is not an option: *first is its index.
 * Returns CTL_EXIT_OK or CTL_EXIT_USAGE after printing why.
 */
int ctl_globals_parse(struct ctl *ctl, int argc, char **argv, int *first);

/* The global flags with their help, for the help text. */
void ctl_print_global_flags(FILE *f);

/*
 * Set member of obj from text as a flag of `kind` would (CTL_FIELD_*).
 * Returns 0, or -1 (with a message) when the text cannot be that kind.
 */
int ctl_field_set(json_t *obj, const char *member, enum ctl_flag_kind kind,
		  const char *text);

/* The CTL_FIELD_* flag of table that word names ("in-port" or its member
 * "in_port"), or NULL. */
const struct ctl_flag *ctl_field_flag(const struct ctl_flag *table,
				      const char *word);

/*
 * Read "WORD VALUE" pairs from words[*i..n) into obj while the word names
 * a flag of table with a CTL_FIELD_* kind ("in-port" or "in_port").  Stops
 * at the first word that names none.  Returns 0, or -1 after a message (a
 * word without its value).
 */
int ctl_words_to_fields(const struct ctl_flag *table, char **words, int n,
			int *i, json_t *obj);

/* Strict non-negative integer of at most max; -1 when it is not one. */
long long ctl_parse_uint(const char *text, long long max);

/* Print "usage: sluicectl NAME USAGE" for the command to f. */
void ctl_print_usage(FILE *f, const struct ctl_command *cmd);

/* "error: MESSAGE" on stderr and the usage line; returns CTL_EXIT_USAGE. */
int ctl_usage_error(const struct ctl *ctl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The command's usage, help and options on stdout (--help). */
void ctl_print_command_help(const struct ctl_command *cmd);

/* ------------------------------------------------------------------------
 * Requests (http.c)
 */

/* A reply from sluiced. */
struct ctl_reply {
	long status;		/* HTTP status */
	char *body;		/* NUL-terminated (not counted in len) */
	size_t len;
	char *content_type;	/* NULL when absent */
	json_t *json;		/* the body when it parses as JSON, else NULL */
};

/*
 * Send one request: path is "/v1/rules" with any query; body (len bytes)
 * may be NULL; content_type names it.  Commands that ctl->cmd->writes send
 * If-Match: "N" when --generation N was given.  timeout_ms 0 means
 * ctl->timeout_ms.
 *
 * Returns CTL_EXIT_OK with a 2xx reply in *reply (ctl_reply_free() it),
 * CTL_EXIT_REJECTED after printing the server's error to stderr, or
 * CTL_EXIT_UNREACHABLE after printing why no answer came.  *reply is
 * cleared in the two error cases.
 */
int ctl_request(struct ctl *ctl, const char *method, const char *path,
		const char *content_type, const void *body, size_t len,
		long timeout_ms, struct ctl_reply *reply);

/* ctl_request() with a JSON body (NULL: none); the body is not consumed. */
int ctl_request_json(struct ctl *ctl, const char *method, const char *path,
		     const json_t *body, struct ctl_reply *reply);

void ctl_reply_free(struct ctl_reply *reply);

/*
 * prefix followed by s with every byte other than letters, digits and
 * "-._~:" percent-encoded; '/' too unless keep_slash (route prefixes go as
 * /v1/routes/10.1.0.0/16).  Returns a string to free(), or NULL (ENOMEM).
 */
char *ctl_path_join(const char *prefix, const char *s, bool keep_slash);

/* ------------------------------------------------------------------------
 * Output (table.c)
 */

struct ctl_column {
	const char *title;
	bool right;		/* right-aligned (numbers) */
};

struct ctl_table;

/* A table with the given columns; NULL only when out of memory. */
struct ctl_table *ctl_table_new(const struct ctl_column *cols, size_t n_cols);

/* Append one cell (printf format); rows fill left to right. */
void ctl_table_cell(struct ctl_table *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Print the header and the rows (columns two spaces apart) and free t. */
void ctl_table_print_free(struct ctl_table *t, FILE *f);

/* The JSON pretty-printed (2-space indent, order kept) and a newline. */
void ctl_print_json(const json_t *json);

/*
 * The start of every read command that takes no words: refuse words, GET
 * path into *reply; with -o json print the reply and set *printed (as
 * also after --help or an error).  Returns an exit code.
 */
int ctl_simple_get(struct ctl *ctl, int argc, char **argv, const char *path,
		   struct ctl_reply *reply, bool *printed);

/*
 * The whole of "rule del", "route del" and "group del": one word, DELETE
 * base + word (keep_slash: the word's own '/' is not escaped, for
 * prefixes), then "deleted WHAT WORD (generation N)" or the JSON reply.
 * Returns an exit code.
 */
int ctl_delete_item(struct ctl *ctl, int argc, char **argv, const char *base,
		    const char *what, const char *arg_help, bool keep_slash);

/*
 * A JSON value as one line of text for a table cell: strings as they are,
 * numbers, true/false, "-" for null or absent, arrays joined by ",",
 * objects as "k=v k=v".  Returns a string to free().
 */
char *ctl_json_text(const json_t *v);

/* json_integer_value() of member key of obj, or dflt when not an integer. */
long long ctl_json_int(const json_t *obj, const char *key, long long dflt);

/* The string member key of obj, or dflt. */
const char *ctl_json_str(const json_t *obj, const char *key,
			 const char *dflt);

/* ------------------------------------------------------------------------
 * Commands (cmd_*.c)
 */

ctl_command_fn ctl_cmd_apply, ctl_cmd_config_get;
ctl_command_fn ctl_cmd_rule_add, ctl_cmd_rule_del, ctl_cmd_rule_list,
	ctl_cmd_rule_show;
ctl_command_fn ctl_cmd_route_add, ctl_cmd_route_del, ctl_cmd_route_list;
ctl_command_fn ctl_cmd_group_list, ctl_cmd_group_show, ctl_cmd_group_add,
	ctl_cmd_group_del;
ctl_command_fn ctl_cmd_port_list, ctl_cmd_stats, ctl_cmd_status,
	ctl_cmd_members;
ctl_command_fn ctl_cmd_trace, ctl_cmd_capture;
ctl_command_fn ctl_cmd_doctor;

extern const struct ctl_flag ctl_apply_flags[], ctl_rule_add_flags[],
	ctl_group_add_flags[], ctl_trace_flags[], ctl_capture_flags[],
	ctl_doctor_flags[];

#endif /* SLUICECTL_CTL_H */
