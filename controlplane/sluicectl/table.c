/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Output: aligned tables for people, pretty JSON for scripts, and the
 * small readers of reply members the commands share.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

struct ctl_table {
	const struct ctl_column *cols;
	size_t n_cols;
	char **cells;		/* row-major */
	size_t n_cells;
	size_t cap;
};

struct ctl_table *
ctl_table_new(const struct ctl_column *cols, size_t n_cols)
{
	struct ctl_table *t = calloc(1, sizeof(*t));

	if (t != NULL) {
		t->cols = cols;
		t->n_cols = n_cols;
	}
	return t;
}

void
ctl_table_cell(struct ctl_table *t, const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;

	if (t == NULL)
		return;
	if (t->n_cells == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 64;
		char **cells = realloc(t->cells, cap * sizeof(*cells));

		if (cells == NULL)
			return;
		t->cells = cells;
		t->cap = cap;
	}
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	/* A cell is one line: a newline or tab would break the columns. */
	for (char *p = s; p != NULL && *p; p++)
		if (*p == '\n' || *p == '\t' || *p == '\r')
			*p = ' ';
	t->cells[t->n_cells++] = s;
}

/* Display width of a UTF-8 string: one column per code point. */
static size_t
text_width(const char *s)
{
	size_t w = 0;

	for (; s != NULL && *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

void
ctl_table_print_free(struct ctl_table *t, FILE *f)
{
	size_t *width;

	if (t == NULL)
		return;
	width = calloc(t->n_cols, sizeof(*width));
	if (width != NULL) {
		for (size_t c = 0; c < t->n_cols; c++)
			width[c] = text_width(t->cols[c].title);
		for (size_t i = 0; i < t->n_cells; i++) {
			size_t w = text_width(t->cells[i]);

			if (w > width[i % t->n_cols])
				width[i % t->n_cols] = w;
		}
		for (size_t i = 0; i < t->n_cells + t->n_cols; i++) {
			/* The header is row 0, then the cells. */
			size_t c = i % t->n_cols;
			const char *s = i < t->n_cols ? t->cols[c].title
				: t->cells[i - t->n_cols];
			size_t pad = width[c] - text_width(s ? s : "");
			bool last = c + 1 == t->n_cols ||
				    i + 1 == t->n_cells + t->n_cols;

			if (t->cols[c].right)
				fprintf(f, "%*s", (int)pad, "");
			fputs(s ? s : "", f);
			if (last) {
				fputc('\n', f);
				continue;
			}
			if (!t->cols[c].right)
				fprintf(f, "%*s", (int)pad, "");
			fputs("  ", f);
		}
	}
	for (size_t i = 0; i < t->n_cells; i++)
		free(t->cells[i]);
	free(t->cells);
	free(width);
	free(t);
}

void
ctl_print_json(const json_t *json)
{
	char *s = json_dumps(json, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
			     JSON_ENCODE_ANY);

	if (s != NULL)
		printf("%s\n", s);
	free(s);
}

char *
ctl_json_text(const json_t *v)
{
	char *out = NULL;
	const char *key;
	json_t *item;
	size_t i;

	if (v == NULL)
		return strdup("-");
	switch (json_typeof(v)) {
	case JSON_STRING:
		return strdup(json_string_value(v));
	case JSON_INTEGER:
		if (asprintf(&out, "%" JSON_INTEGER_FORMAT,
			     json_integer_value(v)) < 0)
			out = NULL;
		return out;
	case JSON_REAL:
		if (asprintf(&out, "%g", json_real_value(v)) < 0)
			out = NULL;
		return out;
	case JSON_TRUE:
		return strdup("true");
	case JSON_FALSE:
		return strdup("false");
	case JSON_ARRAY:
		out = strdup("");
		json_array_foreach(v, i, item) {
			char *s = ctl_json_text(item), *joined = NULL;

			if (asprintf(&joined, "%s%s%s", out ? out : "",
				     i ? "," : "", s ? s : "") < 0)
				joined = NULL;
			free(out);
			free(s);
			out = joined;
		}
		return out ? out : strdup("-");
	case JSON_OBJECT:
		out = strdup("");
		json_object_foreach((json_t *)v, key, item) {
			char *s = ctl_json_text(item), *joined = NULL;

			if (asprintf(&joined, "%s%s%s=%s", out ? out : "",
				     out && *out ? " " : "", key,
				     s ? s : "") < 0)
				joined = NULL;
			free(out);
			free(s);
			out = joined;
		}
		return out ? out : strdup("-");
	default:
		return strdup("-");
	}
}

long long
ctl_json_int(const json_t *obj, const char *key, long long dflt)
{
	const json_t *v = json_object_get(obj, key);

	return json_is_integer(v) ? (long long)json_integer_value(v) : dflt;
}

const char *
ctl_json_str(const json_t *obj, const char *key, const char *dflt)
{
	const json_t *v = json_object_get(obj, key);

	return json_is_string(v) ? json_string_value(v) : dflt;
}
