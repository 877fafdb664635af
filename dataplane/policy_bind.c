/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_dev.h>
#include <rte_ethdev.h>

#include "log.h"
#include "policy_bind.h"

int
dp_policy_load(const char *path, struct sl_policy **out)
{
	struct sl_policy_errors errs;
	int ret = sl_policy_load_file(path, out, &errs);

	if (ret == -EINVAL)
		sl_policy_errors_print(stderr, path, &errs);
	else if (ret != 0)
		fprintf(stderr, "%s: %s\n", path, strerror(-ret));
	return ret;
}

/* The device name of devargs: everything before the first ','. */
static void
devargs_name(const char *devargs, char *name, size_t size)
{
	size_t n = strcspn(devargs, ",");

	if (n >= size)
		n = size - 1;
	memcpy(name, devargs, n);
	name[n] = '\0';
}

static int
bind_one(const struct sl_port *sp, uint16_t *id, char *err, size_t err_size)
{
	char name[RTE_ETH_NAME_MAX_LEN];
	int ret;

	if (sp->has_dpdk_port) {
		if (!rte_eth_dev_is_valid_port(sp->dpdk_port)) {
			sl_errf(err, err_size, "port %s: dpdk_port %u was not "
				"probed (%u ports available)", sp->name,
				sp->dpdk_port, rte_eth_dev_count_avail());
			return -EINVAL;
		}
		*id = sp->dpdk_port;
		return 0;
	}
	if (sp->devargs == NULL) {
		sl_errf(err, err_size, "port %s: needs dpdk_port or devargs",
			sp->name);
		return -EINVAL;
	}
	devargs_name(sp->devargs, name, sizeof(name));
	if (rte_eth_dev_get_port_by_name(name, id) == 0)
		return 0;
	ret = rte_dev_probe(sp->devargs);
	if (ret != 0 || rte_eth_dev_get_port_by_name(name, id) != 0) {
		sl_errf(err, err_size, "port %s: cannot probe '%s': %s",
			sp->name, sp->devargs,
			ret ? rte_strerror(-ret) : "no ethdev of that name");
		return -EINVAL;
	}
	return 0;
}

/*
 * Give a routed port its kernel twin: a TAP interface named like the port,
 * with the port's MAC, probed as one more DPDK port (net_tap).  Packets for
 * the appliance go to the twin; what the kernel sends through the twin
 * (ARP and ND answers, ICMP, BGP) leaves by the routed port.
 */
static int
probe_twin(const struct sl_port *sp, uint16_t port, struct dp_config *cfg,
	   char *err, size_t err_size)
{
	char devargs[160], name[RTE_ETH_NAME_MAX_LEN];
	struct rte_ether_addr mac;
	uint16_t twin;
	int ret;

	ret = rte_eth_macaddr_get(port, &mac);
	if (ret != 0) {
		sl_errf(err, err_size, "port %s: cannot read its MAC: %s",
			sp->name, rte_strerror(-ret));
		return -EINVAL;
	}
	snprintf(name, sizeof(name), "net_tap_sl_%s", sp->name);
	snprintf(devargs, sizeof(devargs), "%s,iface=%s,mac="
		 RTE_ETHER_ADDR_PRT_FMT, name, sp->name,
		 RTE_ETHER_ADDR_BYTES(&mac));
	if (rte_eth_dev_get_port_by_name(name, &twin) != 0) {
		ret = rte_dev_probe(devargs);
		if (ret != 0 || rte_eth_dev_get_port_by_name(name, &twin) != 0) {
			sl_errf(err, err_size, "port %s: cannot create its "
				"kernel twin (TAP interface %s): %s; is there "
				"already an interface of that name, and "
				"/dev/net/tun?", sp->name, sp->name,
				ret ? rte_strerror(-ret) : "no ethdev");
			return -EINVAL;
		}
	}
	if (cfg->nb_ports >= RTE_MAX_ETHPORTS) {
		sl_errf(err, err_size, "port %s: no room for its twin",
			sp->name);
		return -EINVAL;
	}
	cfg->ports[cfg->nb_ports++] = twin;
	cfg->port_kind[port] = DP_PORT_ROUTED;
	cfg->port_kind[twin] = DP_PORT_TWIN;
	cfg->twin[port] = twin;
	cfg->egress[twin] = port;
	return 0;
}

int
dp_policy_bind(const struct sl_policy *p, struct dp_config *cfg,
	       uint16_t *port_of, char *err, size_t err_size)
{
	if (p->n_ports == 0)
		return 0;
	if (cfg->ports_given || cfg->xconnect_given) {
		sl_errf(err, err_size, "the policy lists ports: --ports and "
			"--xconnect would contradict it");
		return -EINVAL;
	}
	for (size_t i = 0; i < p->n_ports; i++) {
		if (bind_one(&p->ports[i], &port_of[i], err, err_size) != 0)
			return -EINVAL;
		for (size_t j = 0; j < i; j++) {
			if (port_of[j] == port_of[i]) {
				sl_errf(err, err_size, "ports %s and %s are "
					"the same DPDK port %u",
					p->ports[j].name, p->ports[i].name,
					port_of[i]);
				return -EINVAL;
			}
		}
	}
	cfg->nb_ports = 0;
	for (size_t i = 0; i < p->n_ports; i++) {
		const struct sl_port *sp = &p->ports[i];
		int peer;

		cfg->ports[cfg->nb_ports++] = port_of[i];
		cfg->ports_given = true;
		if (sp->mode != SL_PORT_MODE_XCONNECT)
			continue;
		peer = sl_policy_find_port(p, sp->peer);
		cfg->egress[port_of[i]] = port_of[peer];
	}
	for (size_t i = 0; i < p->n_ports; i++) {
		if (p->ports[i].mode == SL_PORT_MODE_ROUTE &&
		    probe_twin(&p->ports[i], port_of[i], cfg, err,
			       err_size) != 0)
			return -EINVAL;
	}
	cfg->xconnect_given = true;
	return 0;
}

int
dp_policy_check_supported(const struct sl_policy *p, char *err,
			  size_t err_size)
{
	if (!p->settings.ct_enabled) {
		for (size_t i = 0; i < p->n_rules; i++) {
			if (p->rules[i].match.fields & SL_MATCH_CT) {
				sl_errf(err, err_size, "rules[%zu].ct: needs "
					"connection tracking "
					"(settings.conntrack.enabled)", i);
				return -ENOTSUP;
			}
		}
	}
	return 0;
}

int
dp_policy_same_ports(const struct sl_policy *a, const struct sl_policy *b,
		     char *err, size_t err_size)
{
	bool same = a->n_ports == b->n_ports;

	for (size_t i = 0; same && i < a->n_ports; i++) {
		const struct sl_port *x = &a->ports[i], *y = &b->ports[i];

		same = strcmp(x->name, y->name) == 0 &&
		       x->has_dpdk_port == y->has_dpdk_port &&
		       (!x->has_dpdk_port || x->dpdk_port == y->dpdk_port) &&
		       (x->devargs == NULL) == (y->devargs == NULL) &&
		       (x->devargs == NULL ||
			strcmp(x->devargs, y->devargs) == 0) &&
		       x->mode == y->mode &&
		       (x->peer == NULL) == (y->peer == NULL) &&
		       (x->peer == NULL || strcmp(x->peer, y->peer) == 0);
	}
	if (!same) {
		sl_errf(err, err_size, "the ports changed: restart the "
			"dataplane to apply a new port layout");
		return -EINVAL;
	}
	if ((a->n_groups == 0) != (b->n_groups == 0)) {
		sl_errf(err, err_size, "groups: a policy with groups shares "
			"mbufs between copies, which the ports must be set up "
			"for: restart the dataplane to add the first group or "
			"remove the last");
		return -EINVAL;
	}
	if (a->settings.rt_kernel_table != b->settings.rt_kernel_table ||
	    a->settings.rt_max_routes_ipv4 != b->settings.rt_max_routes_ipv4 ||
	    a->settings.rt_max_routes_ipv6 != b->settings.rt_max_routes_ipv6) {
		sl_errf(err, err_size, "settings.routing (kernel_table or "
			"table sizes) changed: restart the dataplane to apply "
			"them");
		return -EINVAL;
	}
	if (a->settings.ct_enabled != b->settings.ct_enabled ||
	    a->settings.ct_size != b->settings.ct_size ||
	    a->settings.flow_hash_seed != b->settings.flow_hash_seed) {
		sl_errf(err, err_size, "settings.conntrack or the flow hash "
			"seed changed: restart the dataplane to apply them");
		return -EINVAL;
	}
	return 0;
}
