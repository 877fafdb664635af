/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The standalone dataplane's policy (--policy FILE): loading it, binding
 * its named ports to DPDK ports, and refusing what this build cannot
 * enforce.  Setup code; sluiced pushes the same document later on.
 */
#ifndef SLUICE_DP_POLICY_BIND_H
#define SLUICE_DP_POLICY_BIND_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/policy.h"

#include "config.h"

/*
 * Load and validate path; every error is printed as file:line:column:
 * path: reason.  Returns 0 or -errno with *out NULL.
 */
int dp_policy_load(const char *path, struct sl_policy **out);

/*
 * Bind the policy's ports: a port with `dpdk_port` takes that probed port,
 * one with `devargs` takes the device of that name, probing it first when
 * EAL has not (so a policy can bring its own vdevs).  Fills port_of[i] for
 * each policy port i and, when the policy lists ports, cfg's port list and
 * cross-connect (it is then an error to give --ports or --xconnect too).
 * Returns 0 or -EINVAL with the reason in err.
 */
int dp_policy_bind(const struct sl_policy *p, struct dp_config *cfg,
		   uint16_t *port_of, char *err, size_t err_size);

/*
 * Refuse what this build cannot enforce rather than ignore it: ct rules
 * without connection tracking.  Returns 0 or -ENOTSUP with
 * the reason in err.
 */
int dp_policy_check_supported(const struct sl_policy *p, char *err,
			      size_t err_size);

/*
 * Whether a reloaded policy keeps the running port bindings and the
 * settings sized at start (ports, conntrack, flow hash seed, route table
 * sizes and the mirrored kernel table cannot change without a restart).  Returns 0 or -EINVAL with the reason.
 */
int dp_policy_same_ports(const struct sl_policy *old_p,
			 const struct sl_policy *new_p, char *err,
			 size_t err_size);

#endif /* SLUICE_DP_POLICY_BIND_H */
