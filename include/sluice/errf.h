/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The error-message convention of the library functions (STYLE.md 13):
 * they return 0 or -errno and, when the caller passes a buffer, write one
 * sentence for operators into it.
 */
#ifndef SLUICE_ERRF_H
#define SLUICE_ERRF_H

#include <stddef.h>

/* printf into err (size bytes, always terminated); nothing when err is
 * NULL or size 0, so callers that do not want the text pass NULL. */
void sl_errf(char *err, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif /* SLUICE_ERRF_H */
