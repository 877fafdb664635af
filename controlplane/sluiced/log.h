/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sluiced's log: one line per event on stderr ("sluiced: LEVEL: text"),
 * which the journal or a supervisor collects.  --log-level picks the least
 * severe level printed.
 */
#ifndef SLUICED_LOG_H
#define SLUICED_LOG_H

enum sd_log_level {
	SD_LOG_ERR = 0,
	SD_LOG_WARN,
	SD_LOG_INFO,
	SD_LOG_DEBUG,
};

extern enum sd_log_level sd_log_level;

void sd_log(enum sd_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Level of a name ("err", "warn", "info", "debug") or -1. */
int sd_log_level_from_name(const char *name);

#define SD_ERR(...) sd_log(SD_LOG_ERR, __VA_ARGS__)
#define SD_WARN(...) sd_log(SD_LOG_WARN, __VA_ARGS__)
#define SD_INFO(...) sd_log(SD_LOG_INFO, __VA_ARGS__)
#define SD_DEBUG(...) sd_log(SD_LOG_DEBUG, __VA_ARGS__)

#endif /* SLUICED_LOG_H */
