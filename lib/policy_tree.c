/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The generic document tree (JSON and YAML decode into it), its arena, and
 * the lookup from an error path back to a source position.
 */
#include <errno.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "policy_internal.h"

#define ARENA_BLOCK_SIZE (64u * 1024)

struct sl_arena_block {
	struct sl_arena_block *next;
	size_t used;
	size_t size;
	alignas(16) unsigned char data[];
};

void
sl_tree_init(struct sl_tree *t)
{
	t->blocks = NULL;
	t->root = NULL;
}

void
sl_tree_free(struct sl_tree *t)
{
	struct sl_arena_block *b = t->blocks;

	while (b != NULL) {
		struct sl_arena_block *next = b->next;

		free(b);
		b = next;
	}
	t->blocks = NULL;
	t->root = NULL;
}

void *
sl_tree_alloc(struct sl_tree *t, size_t size)
{
	struct sl_arena_block *b = t->blocks;
	void *p;

	size = (size + 15) & ~(size_t)15;
	if (size == 0)
		size = 16;
	if (b == NULL || b->size - b->used < size) {
		size_t bsize = size > ARENA_BLOCK_SIZE / 4 ? size : ARENA_BLOCK_SIZE;

		b = calloc(1, sizeof(*b) + bsize);
		if (b == NULL)
			return NULL;
		b->size = bsize;
		if (bsize != ARENA_BLOCK_SIZE && t->blocks != NULL) {
			/* A big one-off: keep the current block for bumping. */
			b->next = t->blocks->next;
			t->blocks->next = b;
		} else {
			b->next = t->blocks;
			t->blocks = b;
		}
	}
	p = b->data + b->used;
	b->used += size;
	return p;
}

char *
sl_tree_strdup(struct sl_tree *t, const char *s, size_t len)
{
	char *d;

	if (len >= SIZE_MAX - 16)
		return NULL;
	d = sl_tree_alloc(t, len + 1);
	if (d == NULL)
		return NULL;
	memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

struct sl_node *
sl_tree_node(struct sl_tree *t, enum sl_node_type type, uint32_t line,
	     uint32_t col)
{
	struct sl_node *n = sl_tree_alloc(t, sizeof(*n));

	if (n == NULL)
		return NULL;
	n->type = type;
	n->line = line;
	n->col = col;
	return n;
}

const struct sl_node *
sl_tree_locate(const struct sl_tree *t, const char *path, uint32_t *line,
	       uint32_t *col)
{
	const struct sl_node *n = t->root;
	const char *s = path;

	while (n != NULL && *s != '\0') {
		if (*s == '[') {
			char *end;
			unsigned long long i = strtoull(s + 1, &end, 10);

			if (*end != ']' || n->type != SL_NODE_SEQ ||
			    i >= n->u.seq.n)
				break;
			n = n->u.seq.items[i];
			s = end + 1;
			continue;
		}
		if (*s == '.')
			s++;
		size_t klen = strcspn(s, ".[");
		const struct sl_node *next = NULL;

		if (n->type == SL_NODE_MAP) {
			for (size_t i = 0; i < n->u.map.n; i++) {
				const struct sl_member *m = &n->u.map.members[i];

				if (m->key_len == klen &&
				    memcmp(m->key, s, klen) == 0) {
					next = m->value;
					break;
				}
			}
		}
		if (next == NULL)
			break;
		n = next;
		s += klen;
	}
	if (line != NULL)
		*line = n != NULL ? n->line : 0;
	if (col != NULL)
		*col = n != NULL ? n->col : 0;
	return n;
}
