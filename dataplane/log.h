/* SPDX-License-Identifier: BSD-3-Clause */
/* Logging for setup and control code (never per packet): EAL's log, so
 * --log-level and the journal settings of EAL apply. */
#ifndef SLUICE_DP_LOG_H
#define SLUICE_DP_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <rte_log.h>

#define RTE_LOGTYPE_SLUICE RTE_LOGTYPE_USER1

#define DP_LOG(level, fmt, ...) \
	RTE_LOG(level, SLUICE, fmt "\n", ##__VA_ARGS__)

/* Format a reason into a caller's buffer: setup code reports failures to
 * its caller this way, and the caller decides where they are logged. */
static inline void __attribute__((format(printf, 3, 4)))
dp_errf(char *err, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, size, fmt, ap);
	va_end(ap);
}

#endif /* SLUICE_DP_LOG_H */
