/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The dataplane's own command line (after the EAL arguments and "--").
 * Setup code only: nothing here runs per packet.
 */
#ifndef SLUICE_DP_CONFIG_H
#define SLUICE_DP_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <rte_config.h>
#include <rte_ether.h>

#include "parse.h"

/* Egress value meaning "this ingress port forwards nowhere". */
#define DP_NO_PORT UINT16_MAX

/* What a port does with what it receives. */
enum dp_port_kind {
	DP_PORT_XCONNECT = 0,	/* judged, then out of its egress port */
	DP_PORT_ROUTED,		/* judged, then routed */
	DP_PORT_TWIN,		/* a routed port's kernel TAP twin: what the
				 * kernel sends leaves by the routed port,
				 * unjudged (it is the appliance's own) */
};

/* Largest --burst; bursts are parsed in chunks of SL_PARSE_BURST_MAX. */
#define DP_BURST_MAX 256

struct dp_config {
	/* Ports in use, in the order given (or probe order). */
	uint16_t ports[RTE_MAX_ETHPORTS];
	uint16_t nb_ports;
	bool ports_given;
	/* Device names, kept for reports made after the ports are closed. */
	char port_name[RTE_MAX_ETHPORTS][64];

	/* Cross-connect: egress port for each ingress port id (a twin's
	 * egress is its routed port). */
	uint16_t egress[RTE_MAX_ETHPORTS];
	bool xconnect_given;
	uint8_t port_kind[RTE_MAX_ETHPORTS];	/* enum dp_port_kind */
	uint16_t twin[RTE_MAX_ETHPORTS];	/* routed port -> its twin */
	struct rte_ether_addr mac[RTE_MAX_ETHPORTS];	/* once set up */
	/* The policy has groups: copies share mbufs (refcounts above one,
	 * chains), so no TX queue may use MBUF_FAST_FREE. */
	bool shared_mbufs;

	/* Worker lcores; empty until resolved against the EAL lcores. */
	unsigned int workers[RTE_MAX_LCORE];
	unsigned int nb_workers;

	uint16_t burst;
	uint32_t nb_mbufs;	/* 0: sized from queues and descriptors */
	uint16_t mbuf_size;	/* data room per mbuf, headroom included */
	uint16_t rxd;
	uint16_t txd;
	unsigned int stats_interval;	/* seconds; 0 = only on exit */
	const char *stats_file;
	const char *policy_file;	/* NULL: no firewall, forward all */
	const char *controller;	/* sluiced's dp socket; NULL: standalone */
	bool oneshot;
	unsigned int idle_ms;
	enum sl_parse_variant parser;
};

/*
 * Parse the application arguments (argv[0] is the program name, as left by
 * rte_eal_init).  Fills *cfg with defaults first.  Returns 0, 1 when --help
 * was printed, or -EINVAL after printing the reason to stderr.
 */
int dp_config_parse(int argc, char **argv, struct dp_config *cfg);

/*
 * Check the configuration against what EAL probed and fill what depends on
 * it: the port list, the cross-connect defaults and the worker lcores.
 * Returns 0 or -EINVAL after printing the reason.
 */
int dp_config_resolve(struct dp_config *cfg);

void dp_config_usage(FILE *out, const char *prog);

#endif /* SLUICE_DP_CONFIG_H */
