/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * JSON text -> document tree.  jansson does the parsing (and reports syntax
 * errors with their line and column); it keeps no positions for values, so
 * a light scan of the text, which jansson has already accepted, lists where
 * every value and every key starts.  jansson keeps object members in
 * document order, so walking its tree in pre-order consumes that list in
 * step: object, then each key followed by its value.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy_internal.h"

struct pos {
	uint32_t line;
	uint32_t col;
};

struct pos_index {
	struct pos *v;
	size_t n;
	size_t cap;
	size_t next;	/* consumed so far by the conversion */
};

static int
pos_push(struct pos_index *ix, uint32_t line, uint32_t col)
{
	if (ix->n == ix->cap) {
		size_t cap = ix->cap != 0 ? ix->cap * 2 : 256;
		struct pos *v = realloc(ix->v, cap * sizeof(*v));

		if (v == NULL)
			return -ENOMEM;
		ix->v = v;
		ix->cap = cap;
	}
	ix->v[ix->n].line = line;
	ix->v[ix->n].col = col;
	ix->n++;
	return 0;
}

/*
 * Record the start of every string, number, literal, object and array, in
 * text order.  Columns count characters (UTF-8 lead bytes), as jansson's do.
 */
static int
pos_scan(const char *buf, size_t len, struct pos_index *ix)
{
	const unsigned char *s = (const unsigned char *)buf;
	uint32_t line = 1, col = 1;
	size_t i = 0;

#define ADVANCE()                                                              \
	do {                                                                   \
		if (s[i] == '\n') {                                            \
			line++;                                                \
			col = 1;                                               \
		} else if ((s[i] & 0xc0) != 0x80) {                            \
			col++;                                                 \
		}                                                              \
		i++;                                                           \
	} while (0)

	while (i < len) {
		unsigned char c = s[i];

		if (c == '"' || c == '{' || c == '[' || c == '-' ||
		    (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')) {
			if (pos_push(ix, line, col) < 0)
				return -ENOMEM;
		}
		if (c == '"') {
			ADVANCE();
			while (i < len && s[i] != '"') {
				if (s[i] == '\\' && i + 1 < len)
					ADVANCE();
				ADVANCE();
			}
			if (i < len)
				ADVANCE();
		} else if (c == '-' || (c >= '0' && c <= '9')) {
			while (i < len && strchr("+-.eE0123456789", s[i]) != NULL &&
			       s[i] != '\0')
				ADVANCE();
		} else if (c >= 'a' && c <= 'z') {
			while (i < len && s[i] >= 'a' && s[i] <= 'z')
				ADVANCE();
		} else {
			ADVANCE();
		}
	}
#undef ADVANCE
	return 0;
}

struct conv {
	struct sl_tree *t;
	struct pos_index ix;
	struct sl_policy_errors *errs;
};

static struct pos
pos_next(struct conv *cv)
{
	struct pos p = { 0, 0 };

	/* Cannot run short on text jansson accepted; stay safe if it does. */
	if (cv->ix.next < cv->ix.n)
		p = cv->ix.v[cv->ix.next++];
	return p;
}

static int
conv_value(struct conv *cv, const json_t *v, unsigned int depth,
	   struct sl_node **out)
{
	struct pos p = pos_next(cv);
	struct sl_node *n;

	if (depth > SL_TREE_DEPTH_MAX &&
	    (json_is_object(v) || json_is_array(v))) {
		sl_err_add(cv->errs, "", p.line, p.col,
			   "invalid JSON: nested deeper than %d levels",
			   SL_TREE_DEPTH_MAX);
		return -EINVAL;
	}

	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		size_t count = json_object_size(v), i = 0;
		void *it;

		n = sl_tree_node(cv->t, SL_NODE_MAP, p.line, p.col);
		if (n == NULL)
			return -ENOMEM;
		n->u.map.members = sl_tree_alloc(cv->t, (count != 0 ? count : 1) *
						 sizeof(struct sl_member));
		if (n->u.map.members == NULL)
			return -ENOMEM;
		for (it = json_object_iter((json_t *)v); it != NULL && i < count;
		     it = json_object_iter_next((json_t *)v, it), i++) {
			struct sl_member *m = &n->u.map.members[i];
			struct pos kp = pos_next(cv);
			size_t klen = json_object_iter_key_len(it);
			int rc;

			m->key = sl_tree_strdup(cv->t, json_object_iter_key(it),
						klen);
			if (m->key == NULL)
				return -ENOMEM;
			m->key_len = klen;
			m->line = kp.line;
			m->col = kp.col;
			rc = conv_value(cv, json_object_iter_value(it), depth + 1,
					&m->value);
			if (rc < 0)
				return rc;
		}
		n->u.map.n = i;
		break;
	}
	case JSON_ARRAY: {
		size_t count = json_array_size(v);

		n = sl_tree_node(cv->t, SL_NODE_SEQ, p.line, p.col);
		if (n == NULL)
			return -ENOMEM;
		n->u.seq.items = sl_tree_alloc(cv->t, (count != 0 ? count : 1) *
					       sizeof(struct sl_node *));
		if (n->u.seq.items == NULL)
			return -ENOMEM;
		for (size_t i = 0; i < count; i++) {
			int rc = conv_value(cv, json_array_get(v, i), depth + 1,
					    &n->u.seq.items[i]);

			if (rc < 0)
				return rc;
		}
		n->u.seq.n = count;
		break;
	}
	case JSON_STRING:
		n = sl_tree_node(cv->t, SL_NODE_STR, p.line, p.col);
		if (n == NULL)
			return -ENOMEM;
		n->u.str.len = json_string_length(v);
		n->u.str.s = sl_tree_strdup(cv->t, json_string_value(v),
					    n->u.str.len);
		if (n->u.str.s == NULL)
			return -ENOMEM;
		break;
	case JSON_INTEGER:
		n = sl_tree_node(cv->t, SL_NODE_INT, p.line, p.col);
		if (n == NULL)
			return -ENOMEM;
		n->u.i = json_integer_value(v);
		break;
	case JSON_REAL:
		n = sl_tree_node(cv->t, SL_NODE_REAL, p.line, p.col);
		if (n == NULL)
			return -ENOMEM;
		n->u.r = json_real_value(v);
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		n = sl_tree_node(cv->t, SL_NODE_BOOL, p.line, p.col);
		if (n == NULL)
			return -ENOMEM;
		n->u.b = json_is_true(v);
		break;
	case JSON_NULL:
	default:
		n = sl_tree_node(cv->t, SL_NODE_NULL, p.line, p.col);
		if (n == NULL)
			return -ENOMEM;
		break;
	}
	*out = n;
	return 0;
}

int
sl_json_to_tree(const char *buf, size_t len, struct sl_tree *t,
		struct sl_policy_errors *errs)
{
	struct conv cv = { .t = t, .errs = errs };
	json_error_t jerr;
	json_t *root;
	int rc;

	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		if (json_error_code(&jerr) == json_error_out_of_memory)
			return -ENOMEM;
		/* jansson says column 0 at the start of a line (end of input
		 * after a newline); positions here are 1-based. */
		sl_err_add(errs, "", jerr.line > 0 ? (uint32_t)jerr.line : 1,
			   jerr.column > 0 ? (uint32_t)jerr.column : 1,
			   "invalid JSON: %s", jerr.text);
		return -EINVAL;
	}
	rc = pos_scan(buf, len, &cv.ix);
	if (rc == 0)
		rc = conv_value(&cv, root, 1, &t->root);
	free(cv.ix.v);
	json_decref(root);
	return rc;
}
