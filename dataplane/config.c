/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Command line of sluice-dataplane: one table declares every option, its
 * help text and its handler; getopt_long's table and --help derive from it.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <sys/un.h>

#include <rte_ethdev.h>
#include <rte_lcore.h>

#include "config.h"

struct dp_option {
	const char *name;
	const char *metavar;	/* NULL: the option takes no argument */
	const char *help;
	int (*handle)(struct dp_config *cfg, const char *arg);
};

static int
parse_uint(const char *opt, const char *arg, unsigned long min,
	   unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || arg[0] == '-' ||
	    v < min || v > max) {
		fprintf(stderr, "--%s: '%s' is not a number in [%lu, %lu]\n",
			opt, arg, min, max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

/* Calls fn(cfg, item) for each comma-separated item of arg. */
static int
for_each_item(struct dp_config *cfg, const char *opt, const char *arg,
	      int (*fn)(struct dp_config *, const char *, const char *))
{
	char buf[1024];
	char *save = NULL;
	int ret;

	if (strlen(arg) >= sizeof(buf)) {
		fprintf(stderr, "--%s: list too long\n", opt);
		return -EINVAL;
	}
	strcpy(buf, arg);
	for (char *tok = strtok_r(buf, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		ret = fn(cfg, opt, tok);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int
add_port(struct dp_config *cfg, const char *opt, const char *item)
{
	unsigned long id;

	if (parse_uint(opt, item, 0, RTE_MAX_ETHPORTS - 1, &id) < 0)
		return -EINVAL;
	for (unsigned int i = 0; i < cfg->nb_ports; i++) {
		if (cfg->ports[i] == id) {
			fprintf(stderr, "--%s: port %lu listed twice\n", opt, id);
			return -EINVAL;
		}
	}
	cfg->ports[cfg->nb_ports++] = (uint16_t)id;
	return 0;
}

static int
opt_ports(struct dp_config *cfg, const char *arg)
{
	cfg->nb_ports = 0;
	cfg->ports_given = true;
	return for_each_item(cfg, "ports", arg, add_port);
}

static int
add_xconnect(struct dp_config *cfg, const char *opt, const char *item)
{
	char a[16], b[16];
	unsigned long pa, pb;
	const char *colon = strchr(item, ':');

	if (colon == NULL || colon - item >= (long)sizeof(a) ||
	    strlen(colon + 1) >= sizeof(b)) {
		fprintf(stderr, "--%s: '%s' is not A:B\n", opt, item);
		return -EINVAL;
	}
	memcpy(a, item, colon - item);
	a[colon - item] = '\0';
	strcpy(b, colon + 1);
	if (parse_uint(opt, a, 0, RTE_MAX_ETHPORTS - 1, &pa) < 0 ||
	    parse_uint(opt, b, 0, RTE_MAX_ETHPORTS - 1, &pb) < 0)
		return -EINVAL;
	if (cfg->egress[pa] != DP_NO_PORT || cfg->egress[pb] != DP_NO_PORT) {
		fprintf(stderr, "--%s: port in '%s' already cross-connected\n",
			opt, item);
		return -EINVAL;
	}
	cfg->egress[pa] = (uint16_t)pb;
	cfg->egress[pb] = (uint16_t)pa;
	return 0;
}

static int
opt_xconnect(struct dp_config *cfg, const char *arg)
{
	cfg->xconnect_given = true;
	return for_each_item(cfg, "xconnect", arg, add_xconnect);
}

static int
add_worker(struct dp_config *cfg, const char *opt, const char *item)
{
	unsigned long lcore;

	if (parse_uint(opt, item, 0, RTE_MAX_LCORE - 1, &lcore) < 0)
		return -EINVAL;
	for (unsigned int i = 0; i < cfg->nb_workers; i++) {
		if (cfg->workers[i] == lcore) {
			fprintf(stderr, "--%s: lcore %lu listed twice\n", opt,
				lcore);
			return -EINVAL;
		}
	}
	cfg->workers[cfg->nb_workers++] = (unsigned int)lcore;
	return 0;
}

static int
opt_workers(struct dp_config *cfg, const char *arg)
{
	cfg->nb_workers = 0;
	return for_each_item(cfg, "workers", arg, add_worker);
}

#define DP_UINT_OPTION(field, optname, min, max)                               \
	static int opt_##field(struct dp_config *cfg, const char *arg)         \
	{                                                                      \
		unsigned long v;                                               \
		if (parse_uint(optname, arg, min, max, &v) < 0)                \
			return -EINVAL;                                        \
		cfg->field = v;                                                \
		return 0;                                                      \
	}

DP_UINT_OPTION(burst, "burst", 1, DP_BURST_MAX)
DP_UINT_OPTION(nb_mbufs, "mbufs", 1024, 1UL << 30)
DP_UINT_OPTION(mbuf_size, "mbuf-size", 1024, UINT16_MAX)
DP_UINT_OPTION(rxd, "rxd", 32, 16384)
DP_UINT_OPTION(txd, "txd", 32, 16384)
DP_UINT_OPTION(stats_interval, "stats-interval", 0, 86400)
DP_UINT_OPTION(idle_ms, "idle-ms", 1, 3600 * 1000)

static int
opt_stats_file(struct dp_config *cfg, const char *arg)
{
	cfg->stats_file = arg;
	return 0;
}

static int
opt_policy(struct dp_config *cfg, const char *arg)
{
	cfg->policy_file = arg;
	return 0;
}

static int
opt_controller(struct dp_config *cfg, const char *arg)
{
	struct sockaddr_un sa;

	if (arg[0] == '\0' || strlen(arg) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "--controller: '%s' is not a unix socket path "
			"(1 to %zu bytes)\n", arg, sizeof(sa.sun_path) - 1);
		return -EINVAL;
	}
	cfg->controller = arg;
	return 0;
}

static int
opt_oneshot(struct dp_config *cfg, const char *arg)
{
	(void)arg;
	cfg->oneshot = true;
	return 0;
}

static int
opt_parser(struct dp_config *cfg, const char *arg)
{
	int v = sl_parse_variant_from_name(arg);

	if (v < 0) {
		fprintf(stderr,
			"--parser: '%s' is not auto, scalar, sse42 or avx2\n",
			arg);
		return -EINVAL;
	}
	cfg->parser = (enum sl_parse_variant)v;
	return 0;
}

static const struct dp_option dp_options[] = {
	{ "ports", "LIST",
	  "port ids to use, e.g. 0,1 (default: every probed port)", opt_ports },
	{ "xconnect", "A:B,...",
	  "cross-connect pairs, both directions (default 0:1,2:3,...; "
	  "a lone last port sends back out of itself)", opt_xconnect },
	{ "workers", "LIST",
	  "worker lcores (default: every EAL lcore except the main one)",
	  opt_workers },
	{ "burst", "N", "RX burst size, 1-256 (default 32)", opt_burst },
	{ "mbufs", "N",
	  "mbufs in the pool (default: sized from queues and descriptors)",
	  opt_nb_mbufs },
	{ "mbuf-size", "BYTES",
	  "data room per mbuf, headroom included (default 2176); frames "
	  "longer than one mbuf are dropped as hdr_split", opt_mbuf_size },
	{ "rxd", "N", "RX descriptors per queue (default 1024)", opt_rxd },
	{ "txd", "N", "TX descriptors per queue (default 1024)", opt_txd },
	{ "stats-interval", "SEC",
	  "print counters every SEC seconds (default 0: only on exit)",
	  opt_stats_interval },
	{ "stats-file", "FILE", "write the final counters to FILE as JSON",
	  opt_stats_file },
	{ "policy", "FILE",
	  "enforce the policy in FILE (JSON or YAML, docs/policy.md): "
	  "ports, rules, conntrack; SIGHUP reloads it", opt_policy },
	{ "controller", "PATH",
	  "connect to sluiced's dataplane socket PATH (its default is "
	  "/run/sluice/dp.sock; docs/dp-protocol.md) and take policy pushes, "
	  "stats, trace and capture requests from it, reconnecting every "
	  "second while it is gone; without --policy, wait for its first "
	  "push before starting", opt_controller },
	{ "oneshot", NULL,
	  "stop once every RX queue has been idle for --idle-ms and the "
	  "output is flushed (pcap ports: stop when the input is drained)",
	  opt_oneshot },
	{ "idle-ms", "MS", "idle time that ends a --oneshot run (default 200)",
	  opt_idle_ms },
	{ "parser", "VARIANT",
	  "auto, scalar, sse42 or avx2 (default auto: the best the CPU has)",
	  opt_parser },
};

#define DP_NB_OPTIONS (sizeof(dp_options) / sizeof(dp_options[0]))

void
dp_config_usage(FILE *out, const char *prog)
{
	fprintf(out,
		"Usage: %s [EAL options] -- [options]\n\n"
		"Sluice dataplane: parses every packet, drops malformed ones with a\n"
		"named, counted reason, applies the firewall of --policy (stateful\n"
		"rules, payload patterns) and forwards the rest by cross-connect.\n"
		"Ports are the ethdevs EAL probes (-a PCI, --vdev net_pcap0,...).\n\n"
		"Options:\n",
		prog);
	for (size_t i = 0; i < DP_NB_OPTIONS; i++) {
		char left[48];

		snprintf(left, sizeof(left), "--%s%s%s", dp_options[i].name,
			 dp_options[i].metavar ? " " : "",
			 dp_options[i].metavar ? dp_options[i].metavar : "");
		fprintf(out, "  %-24s %s\n", left, dp_options[i].help);
	}
	fprintf(out, "  %-24s %s\n", "-h, --help", "show this help");
	fprintf(out,
		"\nSIGINT or SIGTERM stop the workers, flush the output and check\n"
		"that every mbuf went back to its pool.  Exit status: 0 clean stop,\n"
		"1 runtime or setup failure, 2 bad command line.\n");
}

static void
config_defaults(struct dp_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	for (unsigned int i = 0; i < RTE_MAX_ETHPORTS; i++) {
		cfg->egress[i] = DP_NO_PORT;
		cfg->twin[i] = DP_NO_PORT;
	}
	cfg->burst = 32;
	cfg->mbuf_size = 2048 + 128;
	cfg->rxd = 1024;
	cfg->txd = 1024;
	cfg->idle_ms = 200;
	cfg->parser = SL_PARSE_AUTO;
}

int
dp_config_parse(int argc, char **argv, struct dp_config *cfg)
{
	struct option long_opts[DP_NB_OPTIONS + 2];
	int c, idx;

	config_defaults(cfg);
	for (size_t i = 0; i < DP_NB_OPTIONS; i++) {
		long_opts[i] = (struct option){
			.name = dp_options[i].name,
			.has_arg = dp_options[i].metavar ? required_argument
							 : no_argument,
			.flag = NULL,
			.val = 256 + (int)i,
		};
	}
	long_opts[DP_NB_OPTIONS] = (struct option){ "help", no_argument, NULL, 'h' };
	long_opts[DP_NB_OPTIONS + 1] = (struct option){ 0 };

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", long_opts, &idx)) != -1) {
		if (c == 'h') {
			dp_config_usage(stdout, argv[0]);
			return 1;
		}
		if (c < 256 || c >= 256 + (int)DP_NB_OPTIONS) {
			dp_config_usage(stderr, argv[0]);
			return -EINVAL;
		}
		if (dp_options[c - 256].handle(cfg, optarg) < 0)
			return -EINVAL;
	}
	if (optind < argc) {
		fprintf(stderr, "unexpected argument '%s' (see --help)\n",
			argv[optind]);
		return -EINVAL;
	}
	return 0;
}

int
dp_config_resolve(struct dp_config *cfg)
{
	unsigned int lcore;
	uint16_t port;

	if (!cfg->ports_given) {
		RTE_ETH_FOREACH_DEV(port)
			cfg->ports[cfg->nb_ports++] = port;
	}
	if (cfg->nb_ports == 0) {
		fprintf(stderr, "no ports: give EAL a device (-a PCI or "
				"--vdev net_pcap0,...)\n");
		return -EINVAL;
	}
	for (unsigned int i = 0; i < cfg->nb_ports; i++) {
		if (!rte_eth_dev_is_valid_port(cfg->ports[i])) {
			fprintf(stderr, "--ports: port %u was not probed (%u "
					"ports available)\n",
				cfg->ports[i], rte_eth_dev_count_avail());
			return -EINVAL;
		}
		if (rte_eth_dev_get_name_by_port(cfg->ports[i],
						 cfg->port_name[cfg->ports[i]]) != 0)
			snprintf(cfg->port_name[cfg->ports[i]],
				 sizeof(cfg->port_name[0]), "port%u",
				 cfg->ports[i]);
	}

	if (!cfg->xconnect_given) {
		/* 0:1, 2:3, ... over the port list; a lone last port hairpins. */
		for (unsigned int i = 0; i + 1 < cfg->nb_ports; i += 2) {
			cfg->egress[cfg->ports[i]] = cfg->ports[i + 1];
			cfg->egress[cfg->ports[i + 1]] = cfg->ports[i];
		}
		if (cfg->nb_ports % 2 == 1) {
			port = cfg->ports[cfg->nb_ports - 1];
			cfg->egress[port] = port;
		}
	}
	for (unsigned int p = 0; p < RTE_MAX_ETHPORTS; p++) {
		bool in_use = false;

		if (cfg->egress[p] == DP_NO_PORT)
			continue;
		for (unsigned int i = 0; i < cfg->nb_ports; i++)
			in_use |= cfg->ports[i] == p;
		if (!in_use) {
			fprintf(stderr, "--xconnect: port %u is not in use "
					"(see --ports)\n", p);
			return -EINVAL;
		}
	}

	if (cfg->nb_workers == 0) {
		RTE_LCORE_FOREACH_WORKER(lcore)
			cfg->workers[cfg->nb_workers++] = lcore;
	}
	if (cfg->nb_workers == 0) {
		fprintf(stderr, "no worker lcores: give EAL at least two "
				"(-l 0,1): the main lcore only supervises\n");
		return -EINVAL;
	}
	for (unsigned int i = 0; i < cfg->nb_workers; i++) {
		lcore = cfg->workers[i];
		if (!rte_lcore_is_enabled(lcore) ||
		    lcore == rte_get_main_lcore()) {
			fprintf(stderr, "--workers: lcore %u is not an EAL "
					"worker lcore (see -l)\n", lcore);
			return -EINVAL;
		}
	}
	return 0;
}
