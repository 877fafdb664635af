/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

enum sd_log_level sd_log_level = SD_LOG_INFO;

static const char *const level_names[] = {
	[SD_LOG_ERR] = "err",
	[SD_LOG_WARN] = "warn",
	[SD_LOG_INFO] = "info",
	[SD_LOG_DEBUG] = "debug",
};

int
sd_log_level_from_name(const char *name)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]);
	     i++)
		if (strcmp(name, level_names[i]) == 0)
			return (int)i;
	return -1;
}

void
sd_log(enum sd_log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (level > sd_log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One write per line, so lines from a crash-restart loop stay whole. */
	fprintf(stderr, "sluiced: %s: %s\n", level_names[level], line);
}
