/* SPDX-License-Identifier: BSD-3-Clause */
/* Logging for setup and control code (never per packet): EAL's log, so
 * --log-level and the journal settings of EAL apply. */
#ifndef SLUICE_DP_LOG_H
#define SLUICE_DP_LOG_H

#include <rte_log.h>

/* Setup code reports failures to its caller with sl_errf() into a
 * buffer, and the caller decides where they are logged. */
#include "sluice/errf.h"

#define RTE_LOGTYPE_SLUICE RTE_LOGTYPE_USER1

#define DP_LOG(level, fmt, ...) \
	RTE_LOG(level, SLUICE, fmt "\n", ##__VA_ARGS__)

#endif /* SLUICE_DP_LOG_H */
