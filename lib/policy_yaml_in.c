/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * YAML text -> the same document tree the JSON reader builds, from libyaml's
 * event stream, with the position (libyaml mark) of every value and key.
 *
 * Plain scalars are typed by the YAML 1.2 core schema (null, true/false,
 * decimal, 0x hex and 0o octal integers, floats; everything else is a
 * string), so "yes", "on" and "080" mean what they say.  Quoted and block
 * scalars are strings.  Tags of the core schema (!!str, !!int, ...) are
 * honoured; any other tag, aliases and a second document are refused.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "policy_internal.h"

#define TAG_PREFIX "tag:yaml.org,2002:"

struct frame {
	struct sl_node *node;
	void *items;		/* struct sl_node * or struct sl_member */
	size_t n;
	size_t cap;
	bool have_key;		/* MAP: key read, value next */
	struct sl_member key;
};

struct builder {
	struct sl_tree *t;
	struct sl_policy_errors *errs;
	struct frame stack[SL_TREE_DEPTH_MAX + 1];
	unsigned int depth;
};

static uint32_t
mark_line(const yaml_mark_t *m)
{
	return (uint32_t)m->line + 1;
}

static uint32_t
mark_col(const yaml_mark_t *m)
{
	return (uint32_t)m->column + 1;
}

static bool
all_digits(const char *s, const char *set)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (strchr(set, *s) == NULL)
			return false;
	return true;
}

/* YAML 1.2 core schema float, including .inf and .nan. */
static bool
is_float(const char *s)
{
	static const char *const special[] = {
		".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
		"-.Inf", "-.INF", ".nan", ".NaN", ".NAN",
	};
	bool digits = false;

	for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++)
		if (strcmp(s, special[i]) == 0)
			return true;
	if (*s == '-' || *s == '+')
		s++;
	while (*s >= '0' && *s <= '9') {
		s++;
		digits = true;
	}
	if (*s == '.') {
		s++;
		while (*s >= '0' && *s <= '9') {
			s++;
			digits = true;
		}
	}
	if (!digits)
		return false;
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '-' || *s == '+')
			s++;
		if (!(*s >= '0' && *s <= '9'))
			return false;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	return *s == '\0';
}

enum scalar_kind { K_NULL, K_BOOL, K_INT, K_FLOAT, K_STR };

static enum scalar_kind
resolve_plain(const char *s)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };
	static const char *const bools[] = { "true", "True", "TRUE",
					     "false", "False", "FALSE" };

	for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
		if (strcmp(s, nulls[i]) == 0)
			return K_NULL;
	for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++)
		if (strcmp(s, bools[i]) == 0)
			return K_BOOL;
	if (all_digits(*s == '-' || *s == '+' ? s + 1 : s, "0123456789") ||
	    (strncmp(s, "0x", 2) == 0 && all_digits(s + 2, "0123456789abcdefABCDEF")) ||
	    (strncmp(s, "0o", 2) == 0 && all_digits(s + 2, "01234567")))
		return K_INT;
	if (is_float(s))
		return K_FLOAT;
	return K_STR;
}

/* Integer text of the core schema to int64; false when out of range. */
static bool
parse_int(const char *s, int64_t *out)
{
	bool neg = false;
	int base = 10;
	uint64_t v = 0;

	if (*s == '-' || *s == '+') {
		neg = *s == '-';
		s++;
	} else if (strncmp(s, "0x", 2) == 0) {
		base = 16;
		s += 2;
	} else if (strncmp(s, "0o", 2) == 0) {
		base = 8;
		s += 2;
	}
	for (; *s != '\0'; s++) {
		unsigned int d;

		if (*s >= '0' && *s <= '9')
			d = (unsigned int)(*s - '0');
		else if (*s >= 'a' && *s <= 'f')
			d = (unsigned int)(*s - 'a' + 10);
		else
			d = (unsigned int)(*s - 'A' + 10);
		if (v > (UINT64_MAX - d) / (unsigned int)base)
			return false;
		v = v * (unsigned int)base + d;
	}
	if (neg) {
		if (v > (uint64_t)INT64_MAX + 1)
			return false;
		*out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	} else {
		if (v > INT64_MAX)
			return false;
		*out = (int64_t)v;
	}
	return true;
}

static int
scalar_node(struct builder *b, const yaml_event_t *ev, struct sl_node **out)
{
	const char *text = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	const char *tag = (const char *)ev->data.scalar.tag;
	uint32_t line = mark_line(&ev->start_mark);
	uint32_t col = mark_col(&ev->start_mark);
	bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	enum scalar_kind kind;
	struct sl_node *n;

	if (tag == NULL || strcmp(tag, "!") == 0) {
		kind = plain && tag == NULL && strlen(text) == len ?
			resolve_plain(text) : K_STR;
	} else if (strcmp(tag, TAG_PREFIX "str") == 0) {
		kind = K_STR;
	} else if (strcmp(tag, TAG_PREFIX "int") == 0 ||
		   strcmp(tag, TAG_PREFIX "bool") == 0 ||
		   strcmp(tag, TAG_PREFIX "null") == 0 ||
		   strcmp(tag, TAG_PREFIX "float") == 0) {
		static const enum scalar_kind kinds[] = { K_INT, K_BOOL, K_NULL,
							  K_FLOAT };
		static const char *const names[] = { "int", "bool", "null",
						     "float" };
		size_t k = 0;

		while (strcmp(tag + strlen(TAG_PREFIX), names[k]) != 0)
			k++;
		kind = strlen(text) == len ? resolve_plain(text) : K_STR;
		if (kind == K_INT && kinds[k] == K_FLOAT)
			kind = K_FLOAT;
		if (kind != kinds[k]) {
			sl_err_add(b->errs, "", line, col,
				   "invalid YAML: \"%.40s\" is not a valid !!%s",
				   text, names[k]);
			return -EINVAL;
		}
	} else {
		sl_err_add(b->errs, "", line, col,
			   "invalid YAML: unsupported tag %.60s", tag);
		return -EINVAL;
	}

	switch (kind) {
	case K_NULL:
		n = sl_tree_node(b->t, SL_NODE_NULL, line, col);
		break;
	case K_BOOL:
		n = sl_tree_node(b->t, SL_NODE_BOOL, line, col);
		if (n != NULL)
			n->u.b = text[0] == 't' || text[0] == 'T';
		break;
	case K_INT:
		n = sl_tree_node(b->t, SL_NODE_INT, line, col);
		if (n != NULL && !parse_int(text, &n->u.i)) {
			/* Beyond int64: kept as text for the 64-bit unsigned
			 * fields (seeds); any other field finds it out of
			 * range. */
			n->type = SL_NODE_STR;
			n->big_int = true;
			n->u.str.s = sl_tree_strdup(b->t, text, len);
			n->u.str.len = len;
			if (n->u.str.s == NULL)
				return -ENOMEM;
		}
		break;
	case K_FLOAT:
		n = sl_tree_node(b->t, SL_NODE_REAL, line, col);
		if (n != NULL)
			n->u.r = strtod(text, NULL);
		break;
	case K_STR:
	default:
		n = sl_tree_node(b->t, SL_NODE_STR, line, col);
		if (n != NULL) {
			n->u.str.s = sl_tree_strdup(b->t, text, len);
			n->u.str.len = len;
			if (n->u.str.s == NULL)
				return -ENOMEM;
		}
		break;
	}
	if (n == NULL)
		return -ENOMEM;
	*out = n;
	return 0;
}

static int
frame_push_item(struct frame *f, const void *item, size_t size)
{
	if (f->n == f->cap) {
		size_t cap = f->cap != 0 ? f->cap * 2 : 8;
		void *v = realloc(f->items, cap * size);

		if (v == NULL)
			return -ENOMEM;
		f->items = v;
		f->cap = cap;
	}
	memcpy((char *)f->items + f->n * size, item, size);
	f->n++;
	return 0;
}

/* Hand a finished node to the open container (or make it the root). */
static int
attach(struct builder *b, struct sl_node *n)
{
	struct frame *f;

	if (b->depth == 0) {
		b->t->root = n;
		return 0;
	}
	f = &b->stack[b->depth - 1];
	if (f->node->type == SL_NODE_SEQ)
		return frame_push_item(f, &n, sizeof(n));
	f->key.value = n;
	f->have_key = false;
	return frame_push_item(f, &f->key, sizeof(f->key));
}

/* In a map waiting for a key, a scalar is the key; anything else is wrong. */
static int
map_key(struct builder *b, const yaml_event_t *ev, bool *was_key)
{
	struct frame *f;

	*was_key = false;
	if (b->depth == 0)
		return 0;
	f = &b->stack[b->depth - 1];
	if (f->node->type != SL_NODE_MAP || f->have_key)
		return 0;
	*was_key = true;
	if (ev->type != YAML_SCALAR_EVENT) {
		sl_err_add(b->errs, "", mark_line(&ev->start_mark),
			   mark_col(&ev->start_mark),
			   "invalid YAML: a mapping key must be a string");
		return -EINVAL;
	}
	f->key.key = sl_tree_strdup(b->t, (const char *)ev->data.scalar.value,
				    ev->data.scalar.length);
	if (f->key.key == NULL)
		return -ENOMEM;
	f->key.key_len = ev->data.scalar.length;
	f->key.line = mark_line(&ev->start_mark);
	f->key.col = mark_col(&ev->start_mark);
	f->have_key = true;
	return 0;
}

static int
open_container(struct builder *b, const yaml_event_t *ev,
	       enum sl_node_type type)
{
	const char *tag = (const char *)(type == SL_NODE_SEQ ?
					 ev->data.sequence_start.tag :
					 ev->data.mapping_start.tag);
	const char *core = type == SL_NODE_SEQ ? TAG_PREFIX "seq" :
						 TAG_PREFIX "map";
	struct frame *f;
	struct sl_node *n;

	/* Only the core schema's own tag (or none) on a list or object, as
	 * on a scalar: a document that leans on a custom tag is refused. */
	if (tag != NULL && strcmp(tag, "!") != 0 && strcmp(tag, core) != 0) {
		sl_err_add(b->errs, "", mark_line(&ev->start_mark),
			   mark_col(&ev->start_mark),
			   "invalid YAML: unsupported tag %.60s", tag);
		return -EINVAL;
	}
	if (b->depth >= SL_TREE_DEPTH_MAX) {
		sl_err_add(b->errs, "", mark_line(&ev->start_mark),
			   mark_col(&ev->start_mark),
			   "invalid YAML: nested deeper than %d levels",
			   SL_TREE_DEPTH_MAX);
		return -EINVAL;
	}
	n = sl_tree_node(b->t, type, mark_line(&ev->start_mark),
			 mark_col(&ev->start_mark));
	if (n == NULL)
		return -ENOMEM;
	f = &b->stack[b->depth++];
	memset(f, 0, sizeof(*f));
	f->node = n;
	return 0;
}

static int
close_container(struct builder *b)
{
	struct frame *f = &b->stack[b->depth - 1];
	struct sl_node *n = f->node;
	size_t size = n->type == SL_NODE_SEQ ? sizeof(struct sl_node *) :
					       sizeof(struct sl_member);
	void *items = sl_tree_alloc(b->t, (f->n != 0 ? f->n : 1) * size);

	if (items == NULL)
		return -ENOMEM;
	if (f->n != 0)
		memcpy(items, f->items, f->n * size);
	if (n->type == SL_NODE_SEQ) {
		n->u.seq.items = items;
		n->u.seq.n = f->n;
	} else {
		n->u.map.members = items;
		n->u.map.n = f->n;
	}
	free(f->items);
	f->items = NULL;
	b->depth--;
	return attach(b, n);
}

static int
on_event(struct builder *b, const yaml_event_t *ev, unsigned int *docs)
{
	uint32_t line = mark_line(&ev->start_mark);
	uint32_t col = mark_col(&ev->start_mark);
	struct sl_node *n;
	bool was_key;
	int rc;

	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (++*docs > 1) {
			sl_err_add(b->errs, "", line, col,
				   "invalid YAML: more than one document");
			return -EINVAL;
		}
		return 0;
	case YAML_ALIAS_EVENT:
		sl_err_add(b->errs, "", line, col,
			   "invalid YAML: aliases (*%.40s) are not supported",
			   (const char *)ev->data.alias.anchor);
		return -EINVAL;
	case YAML_SCALAR_EVENT:
		rc = map_key(b, ev, &was_key);
		if (rc < 0 || was_key)
			return rc;
		rc = scalar_node(b, ev, &n);
		if (rc < 0)
			return rc;
		return attach(b, n);
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		rc = map_key(b, ev, &was_key);
		if (rc < 0)
			return rc;
		return open_container(b, ev, ev->type == YAML_SEQUENCE_START_EVENT ?
					     SL_NODE_SEQ : SL_NODE_MAP);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		return close_container(b);
	default:
		return 0;
	}
}

/* Line and column (0-based, characters) of a byte offset. */
static void
offset_mark(const char *buf, size_t len, size_t offset, yaml_mark_t *m)
{
	const unsigned char *s = (const unsigned char *)buf;

	memset(m, 0, sizeof(*m));
	if (offset > len)
		offset = len;
	/* A byte-order mark is not a column. */
	if (len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0 && offset >= 3) {
		s += 3;
		offset -= 3;
	}
	for (size_t i = 0; i < offset; i++) {
		if (s[i] == '\n') {
			m->line++;
			m->column = 0;
		} else if ((s[i] & 0xc0) != 0x80) {
			m->column++;
		}
	}
}

int
sl_yaml_to_tree(const char *buf, size_t len, struct sl_tree *t,
		struct sl_policy_errors *errs)
{
	struct builder *b;
	yaml_parser_t parser;
	unsigned int docs = 0;
	int rc = 0;

	b = calloc(1, sizeof(*b));
	if (b == NULL)
		return -ENOMEM;
	b->t = t;
	b->errs = errs;
	if (!yaml_parser_initialize(&parser)) {
		free(b);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);

	for (;;) {
		yaml_event_t ev;

		if (!yaml_parser_parse(&parser, &ev)) {
			if (parser.error == YAML_MEMORY_ERROR) {
				rc = -ENOMEM;
			} else {
				yaml_mark_t reader_mark;
				const yaml_mark_t *m = &parser.problem_mark;

				if (parser.error == YAML_READER_ERROR) {
					/* The reader gives a byte offset only. */
					offset_mark(buf, len, parser.problem_offset,
						    &reader_mark);
					m = &reader_mark;
				}
				sl_err_add(errs, "", mark_line(m), mark_col(m),
					   "invalid YAML: %s%s%s",
					   parser.problem != NULL ?
						   parser.problem : "syntax error",
					   parser.context != NULL ? " " : "",
					   parser.context != NULL ?
						   parser.context : "");
				rc = -EINVAL;
			}
			break;
		}
		rc = on_event(b, &ev, &docs);
		bool done = ev.type == YAML_STREAM_END_EVENT;

		yaml_event_delete(&ev);
		if (rc < 0 || done)
			break;
	}
	while (b->depth > 0)
		free(b->stack[--b->depth].items);
	yaml_parser_delete(&parser);
	free(b);
	return rc;
}
