/* SPDX-License-Identifier: BSD-3-Clause */
/* What the files of the sluice-xdp tool share (bpf/sluice_xdp_main.c,
 * bpf/sluice_xdp_run.c). */
#ifndef SLUICE_BPF_XDP_TOOL_H
#define SLUICE_BPF_XDP_TOOL_H

#include <stdbool.h>

#include <jansson.h>

#include "sluice/policy.h"
#include "xdp_loader.h"

/* The policy file, loaded and checked against what XDP can enforce; NULL
 * after saying why on stderr. */
struct sl_policy *xdp_tool_load_policy(const char *path);

/* What `sluice-xdp stats --json` prints. */
json_t *xdp_tool_stats_json(const struct sl_xdp_stats *s);

/* `sluice-xdp run` (bpf/sluice_xdp_run.c); the exit status. */
int xdp_tool_run(const char *policy_path, const char *pcap_path,
		 const char *out_path, const char *in_dev, bool verbose);

#endif /* SLUICE_BPF_XDP_TOOL_H */
