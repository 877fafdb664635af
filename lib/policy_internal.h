/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Private to lib/policy*.c: the generic document tree both text decoders
 * build, the error and path helpers, and the stage entry points that
 * lib/policy.c strings together (text -> tree -> model -> validated model).
 */
#ifndef SLUICE_LIB_POLICY_INTERNAL_H
#define SLUICE_LIB_POLICY_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "sluice/policy.h"

/* Deepest nesting a document may have; the schema itself needs 5. */
#define SL_TREE_DEPTH_MAX 64

/* Largest document accepted, in bytes. */
#define SL_POLICY_TEXT_MAX (256u << 20)

/* ------------------------------------------------------------------------
 * Document tree: what JSON and YAML look like after parsing, with the
 * position of every value and every key.  All memory comes from the tree's
 * arena and goes with sl_tree_free().
 */

enum sl_node_type {
	SL_NODE_NULL,
	SL_NODE_BOOL,
	SL_NODE_INT,
	SL_NODE_REAL,
	SL_NODE_STR,
	SL_NODE_SEQ,
	SL_NODE_MAP,
};

struct sl_node;

struct sl_member {
	const char *key;	/* NUL-terminated; key_len may be larger if the
				 * key holds a NUL (the decoder refuses it) */
	size_t key_len;
	uint32_t line, col;
	struct sl_node *value;
};

struct sl_node {
	uint8_t type;		/* enum sl_node_type */
	bool big_int;		/* STR: a YAML integer beyond int64 */
	uint32_t line, col;	/* 1-based; 0 unknown */
	union {
		bool b;
		int64_t i;
		double r;
		struct {
			const char *s;	/* NUL-terminated */
			size_t len;	/* may exceed strlen(s): embedded NUL */
		} str;
		struct {
			struct sl_node **items;
			size_t n;
		} seq;
		struct {
			struct sl_member *members;	/* document order */
			size_t n;
		} map;
	} u;
};

struct sl_arena_block;

struct sl_tree {
	struct sl_arena_block *blocks;
	struct sl_node *root;
};

void sl_tree_init(struct sl_tree *t);
void sl_tree_free(struct sl_tree *t);
/* Zeroed, 16-byte aligned memory that lives as long as the tree. */
void *sl_tree_alloc(struct sl_tree *t, size_t size);
/* Copy of len bytes plus a NUL. */
char *sl_tree_strdup(struct sl_tree *t, const char *s, size_t len);
struct sl_node *sl_tree_node(struct sl_tree *t, enum sl_node_type type,
			     uint32_t line, uint32_t col);

/*
 * The node a path ("rules[3].dport") names, or the deepest node on the way
 * when the rest is missing.  *key_pos selects the key rather than the
 * value where the last step is a map member.  Never NULL when t->root is
 * set.
 */
const struct sl_node *sl_tree_locate(const struct sl_tree *t, const char *path,
				     uint32_t *line, uint32_t *col);

/*
 * Text to tree.  Return 0, -EINVAL (a syntax error, added to errs with its
 * position), -ENOMEM.
 */
int sl_json_to_tree(const char *buf, size_t len, struct sl_tree *t,
		    struct sl_policy_errors *errs);
int sl_yaml_to_tree(const char *buf, size_t len, struct sl_tree *t,
		    struct sl_policy_errors *errs);

/* ------------------------------------------------------------------------
 * Errors and paths
 */

void sl_errors_clear(struct sl_policy_errors *errs);
bool sl_errors_any(const struct sl_policy_errors *errs);
/* Append one error (errs may be NULL); counts it as dropped past the cap. */
void sl_err_add(struct sl_policy_errors *errs, const char *path,
		uint32_t line, uint32_t col, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
void sl_err_vadd(struct sl_policy_errors *errs, const char *path,
		 uint32_t line, uint32_t col, const char *fmt, va_list ap)
	__attribute__((format(printf, 5, 0)));

/* A path being built while walking a document or a model. */
struct sl_path {
	char buf[SL_POLICY_PATH_MAX];
	size_t len;
};

static inline void
sl_path_init(struct sl_path *p)
{
	p->buf[0] = '\0';
	p->len = 0;
}

/* Append ".key" ("key" at the root) or "[i]"; return the length to pop to. */
size_t sl_path_push_key(struct sl_path *p, const char *key);
size_t sl_path_push_index(struct sl_path *p, size_t i);

static inline void
sl_path_pop(struct sl_path *p, size_t len)
{
	p->len = len;
	p->buf[len] = '\0';
}

/* ------------------------------------------------------------------------
 * Stages
 */

/* sl_policy_decode() *broken bits: sections whose names may be missing. */
#define SL_BROKEN_PORTS		0x1
#define SL_BROKEN_GROUPS	0x2

/*
 * Tree to model.  Checks types, field names and each value on its own;
 * a value that fails is reported and left out, and list items stay in
 * place (so paths in the model match paths in the document).  *out gets
 * the model even when errors were found.  Returns 0 or -ENOMEM.
 */
int sl_policy_decode(const struct sl_node *root, struct sl_policy **out,
		     struct sl_policy_errors *errs, unsigned int *broken);

/* Skip the reference checks into sections that sl_policy_decode() marked. */
int sl_policy_validate_skip(const struct sl_policy *p,
			    struct sl_policy_errors *errs, unsigned int skip);

/*
 * Field-by-field equality of one part of a model (lib/policy.c), shared by
 * sl_policy_equal() and the diff (lib/policy_diff.c).  Unset match fields
 * are not compared; a rule compares its id and comment too.
 */
bool sl_action_eq(const struct sl_action *a, const struct sl_action *b);
bool sl_rule_eq(const struct sl_rule *a, const struct sl_rule *b);
bool sl_port_eq(const struct sl_port *a, const struct sl_port *b);
bool sl_route_eq(const struct sl_route *a, const struct sl_route *b);
bool sl_group_eq(const struct sl_group *a, const struct sl_group *b);
bool sl_settings_eq(const struct sl_settings *a, const struct sl_settings *b);

/* A rule as its canonical JSON object; with_id adds id and comment. */
json_t *sl_rule_to_json(const struct sl_rule *r, bool with_id);

/* ------------------------------------------------------------------------
 * Values and their text forms
 */

/* sl_prefix_parse() modes */
enum sl_prefix_mode {
	SL_PREFIX_NETWORK,	/* "/len" optional (host), host bits refused */
	SL_PREFIX_INTERFACE,	/* "/len" required, host bits kept */
	SL_PREFIX_HOST,		/* no "/len" */
};

/*
 * Parse text into *out.  Returns 0, or -EINVAL with a message for the user
 * in msg (at least SL_POLICY_MSG_MAX bytes).
 */
int sl_prefix_parse(const char *s, enum sl_prefix_mode mode,
		    struct sl_prefix *out, char *msg, size_t msg_size);
/* True when bits past p->len are set. */
bool sl_prefix_host_bits(const struct sl_prefix *p);
/* p with the bits past len cleared. */
void sl_prefix_network(const struct sl_prefix *p, struct sl_prefix *out);
bool sl_prefix_equal(const struct sl_prefix *a, const struct sl_prefix *b);
int sl_prefix_cmp(const struct sl_prefix *a, const struct sl_prefix *b);

/* A name -> value table (names tables in policy_names.c). */
struct sl_name_value {
	const char *name;
	unsigned int value;
};

extern const struct sl_name_value sl_tcp_flag_names[];
extern const struct sl_name_value sl_ct_state_names[];
extern const struct sl_name_value sl_payload_flag_names[];
extern const struct sl_name_value sl_action_names[];
extern const struct sl_name_value sl_port_mode_names[];
extern const struct sl_name_value sl_target_kind_names[];
extern const struct sl_name_value sl_target_state_names[];

/* Value for a name (case-insensitive) in a NULL-terminated table, or -1. */
int sl_name_lookup(const struct sl_name_value *t, const char *name);
/* Name for a value, or NULL. */
const char *sl_name_of(const struct sl_name_value *t, unsigned int value);
/* "a, b, c": every name of a table, for messages. */
void sl_name_list(const struct sl_name_value *t, char *buf, size_t size);

/* "syn/syn,ack,rst" (flags/mask; flags may be empty: "/rst"). */
void sl_tcp_flags_format(uint8_t flags, uint8_t mask, char *buf, size_t size);

/* Range checks shared by the decoder and the validator. */
bool sl_is_prime(uint32_t n);
bool sl_name_valid(const char *s, size_t max);
bool sl_utf8_valid(const char *s);

#endif /* SLUICE_LIB_POLICY_INTERNAL_H */
