/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The filter of a trace or capture request (docs/api.md, POST /v1/trace):
 * a rule's match fields that a packet's headers answer - src, dst, proto,
 * sport, dport, in_port, vlan, tcp_flags - with the names, forms and
 * checks of a rule.  Shared by the DPDK dataplane (dataplane/watch.c) and
 * the XDP backend (bpf/xdp_trace.c), which each resolve in_port their own
 * way.
 */
#ifndef SLUICE_WATCH_FILTER_H
#define SLUICE_WATCH_FILTER_H

#include <stddef.h>

#include <jansson.h>

#include "sluice/policy.h"

/*
 * Compile filter (NULL: every packet; mc->fields 0) into mc, the numbers
 * of sl_match_compile() for a rule with those fields.  *in_port gets the
 * filter's in_port (a pointer into filter), or NULL without one; mc does
 * not hold it.  Returns 0, -EINVAL with err naming "filter.<field>" (or
 * "filter" when it is not an object), or -ENOMEM.
 */
int sl_watch_filter_compile(const json_t *filter,
			    struct sl_match_compiled *mc, const char **in_port,
			    char *err, size_t err_size);

#endif /* SLUICE_WATCH_FILTER_H */
