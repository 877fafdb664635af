/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Error lists and the paths that name where an error is.
 */
#include <stdio.h>
#include <string.h>

#include "policy_internal.h"

void
sl_errors_clear(struct sl_policy_errors *errs)
{
	if (errs == NULL)
		return;
	errs->count = 0;
	errs->dropped = 0;
}

bool
sl_errors_any(const struct sl_policy_errors *errs)
{
	return errs != NULL && (errs->count > 0 || errs->dropped > 0);
}

/*
 * Keep error text printable UTF-8 whatever the document held: a quoted key
 * or value may be cut inside a character (%.40s) or hold control bytes, and
 * the API puts errors into JSON strings.  Bad bytes become '?'.
 */
static void
sanitize(char *s)
{
	unsigned char *u = (unsigned char *)s;

	while (*u != '\0') {
		unsigned int c = *u, n = 0;
		char one[5] = { 0 };

		if (c < 0x20 || c == 0x7f) {
			*u++ = '?';
			continue;
		}
		if (c < 0x80) {
			u++;
			continue;
		}
		n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
		for (unsigned int i = 0; i < n && u[i] != '\0'; i++)
			one[i] = (char)u[i];
		if (n > 1 && strlen(one) == n && sl_utf8_valid(one)) {
			u += n;
			continue;
		}
		*u++ = '?';
	}
}

void
sl_err_vadd(struct sl_policy_errors *errs, const char *path, uint32_t line,
	    uint32_t col, const char *fmt, va_list ap)
{
	struct sl_policy_error *e;

	if (errs == NULL)
		return;
	if (errs->count >= SL_POLICY_ERRORS_MAX) {
		errs->dropped++;
		return;
	}
	e = &errs->list[errs->count++];
	snprintf(e->path, sizeof(e->path), "%s", path != NULL ? path : "");
	e->line = line;
	e->column = col;
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	sanitize(e->path);
	sanitize(e->message);
}

void
sl_err_add(struct sl_policy_errors *errs, const char *path, uint32_t line,
	   uint32_t col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sl_err_vadd(errs, path, line, col, fmt, ap);
	va_end(ap);
}

int
sl_policy_error_format(const struct sl_policy_error *err, const char *source,
		       char *buf, size_t size)
{
	char where[4200] = "";
	size_t n = 0;

	if (source != NULL)
		n += (size_t)snprintf(where, sizeof(where), "%.4000s:", source);
	if (err->line > 0)
		n += (size_t)snprintf(where + n, sizeof(where) - n, "%u:%u:",
				      err->line, err->column);
	return snprintf(buf, size, "%s%s%s%s%s", where, n > 0 ? " " : "",
			err->path, err->path[0] != '\0' ? ": " : "",
			err->message);
}

void
sl_policy_errors_print(FILE *f, const char *source,
		       const struct sl_policy_errors *errs)
{
	char line[SL_POLICY_PATH_MAX + SL_POLICY_MSG_MAX + 4200];

	for (unsigned int i = 0; i < errs->count; i++) {
		sl_policy_error_format(&errs->list[i], source, line,
				       sizeof(line));
		fprintf(f, "%s\n", line);
	}
	if (errs->dropped > 0)
		fprintf(f, "%s%s%u more error%s not shown\n",
			source != NULL ? source : "", source != NULL ? ": " : "",
			errs->dropped, errs->dropped == 1 ? "" : "s");
}

static size_t
path_append(struct sl_path *p, const char *text)
{
	size_t old = p->len;
	size_t room = sizeof(p->buf) - p->len;
	int n = snprintf(p->buf + p->len, room, "%s", text);

	/* A path too long to hold ends in "..." and stays that way. */
	if (n < 0 || (size_t)n >= room) {
		p->len = sizeof(p->buf) - 1;
		memcpy(p->buf + p->len - 3, "...", 3);
	} else {
		p->len += (size_t)n;
	}
	return old;
}

size_t
sl_path_push_key(struct sl_path *p, const char *key)
{
	size_t old = p->len;

	if (p->len > 0)
		path_append(p, ".");
	path_append(p, key);
	return old;
}

size_t
sl_path_push_index(struct sl_path *p, size_t i)
{
	char idx[32];

	snprintf(idx, sizeof(idx), "[%zu]", i);
	return path_append(p, idx);
}
