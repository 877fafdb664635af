/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sluice-dataplane: start-up, supervision and shutdown.  The main lcore
 * sets everything up, launches one worker per worker lcore, then only
 * watches: signals, the stats interval and the --oneshot idle rule.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "config.h"
#include "control.h"
#include "controller.h"
#include "counters.h"
#include "log.h"
#include "port.h"
#include "worker.h"

#define EXIT_USAGE 2

/* The only state the signal handlers touch. */
static volatile sig_atomic_t signal_received;
static volatile sig_atomic_t reload_requested;

static void
on_signal(int sig)
{
	signal_received = sig;
}

static void
on_sighup(int sig)
{
	(void)sig;
	reload_requested = 1;
}

static int
install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) != 0 ||
	    sigaction(SIGTERM, &sa, NULL) != 0)
		return -errno;
	sa.sa_handler = on_sighup;
	if (sigaction(SIGHUP, &sa, NULL) != 0)
		return -errno;
	/* A vhost-user or other socket peer that goes away must not kill the
	 * dataplane: writes to it fail with EPIPE where they are made. */
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) != 0)
		return -errno;
	return 0;
}

static struct dp_worker *
workers_create(const struct dp_config *cfg, struct dp_run *run,
	       sl_parse_burst_fn parse)
{
	struct dp_worker *workers;

	workers = rte_zmalloc("sl_workers",
			      sizeof(*workers) * cfg->nb_workers,
			      RTE_CACHE_LINE_SIZE);
	if (workers == NULL)
		return NULL;
	for (unsigned int i = 0; i < cfg->nb_workers; i++) {
		workers[i].lcore = cfg->workers[i];
		workers[i].index = i;
		workers[i].burst = cfg->burst;
		workers[i].parse = parse;
		workers[i].egress = cfg->egress;
		workers[i].port_kind = cfg->port_kind;
		workers[i].twin = cfg->twin;
		workers[i].port_mac = cfg->mac;
		workers[i].run = run;
	}
	return workers;
}

/* Empty polls in a row that, with --idle-ms of quiet, mean "drained". */
#define DP_ONESHOT_EMPTY_ROUNDS 10000

/*
 * --oneshot: true once every worker has gone idle_ms without a packet and
 * has polled all its queues DP_ONESHOT_EMPTY_ROUNDS times in a row without
 * one.  Time alone would misread a worker the scheduler holds off its CPU
 * for idle_ms (a loaded machine) as one whose input has run dry.
 */
static bool
all_idle(const struct dp_worker *workers, unsigned int nb_workers,
	 unsigned int idle_ms)
{
	uint64_t now = rte_rdtsc();
	uint64_t idle_tsc = rte_get_tsc_hz() / 1000 * idle_ms;

	for (unsigned int i = 0; i < nb_workers; i++) {
		uint64_t last = __atomic_load_n(&workers[i].last_rx_tsc,
						__ATOMIC_RELAXED);
		uint64_t empty = __atomic_load_n(&workers[i].empty_rounds,
						 __ATOMIC_RELAXED);

		if (now - last < idle_tsc || empty < DP_ONESHOT_EMPTY_ROUNDS)
			return false;
	}
	return true;
}

/* Supervise until a signal or, with --oneshot, until the input drains;
 * SIGHUP reloads the policy and sluiced's requests are served on this (the
 * control) thread. */
static void
supervise(const struct dp_config *cfg, const struct dp_worker *workers,
	  struct dp_control *ctl, struct dp_controller *link)
{
	uint64_t hz = rte_get_tsc_hz();
	uint64_t next_stats = rte_rdtsc() + cfg->stats_interval * hz;

	while (signal_received == 0) {
		rte_delay_us_sleep(5 * 1000);
		dp_control_poll(ctl);
		dp_controller_poll(link);
		if (reload_requested) {
			reload_requested = 0;
			dp_control_reload(ctl);
		}
		if (cfg->oneshot &&
		    all_idle(workers, cfg->nb_workers, cfg->idle_ms)) {
			DP_LOG(INFO, "oneshot: input drained");
			return;
		}
		if (cfg->stats_interval != 0 && rte_rdtsc() >= next_stats) {
			dp_counters_print(stdout, cfg, workers,
					  cfg->nb_workers);
			dp_router_print(&ctl->router, stdout);
			fflush(stdout);
			next_stats += cfg->stats_interval * hz;
		}
	}
	DP_LOG(INFO, "signal %d: stopping", (int)signal_received);
}

int
main(int argc, char **argv)
{
	struct dp_config cfg;
	struct dp_control ctl = { 0 };
	struct dp_controller link;
	struct dp_run run = { .stop = false };
	struct dp_pools pools;
	struct dp_worker *workers;
	sl_parse_burst_fn parse;
	unsigned int pool_size, pool_avail;
	int ret, status = EXIT_SUCCESS;

	ret = rte_eal_init(argc, argv);
	if (ret < 0) {
		fprintf(stderr, "EAL initialisation failed: %s\n",
			rte_strerror(rte_errno));
		return EXIT_FAILURE;
	}
	argc -= ret;
	argv += ret;
	argv[0] = "sluice-dataplane";

	ret = dp_config_parse(argc, argv, &cfg);
	if (ret == 0 && dp_control_load(&ctl, &cfg) != 0) {
		rte_eal_cleanup();
		return EXIT_FAILURE;
	}
	dp_controller_init(&link, ret == 0 ? cfg.controller : NULL, &ctl);
	if (ret == 0 && cfg.controller != NULL && ctl.policy == NULL) {
		/* The ports come from the policy: wait for sluiced's first
		 * push, which SIGINT and SIGTERM may cut short. */
		if (install_signals() != 0 ||
		    dp_controller_wait_policy(&link, &cfg,
					      &signal_received) != 0) {
			dp_controller_close(&link);
			rte_eal_cleanup();
			return signal_received != 0 ? EXIT_SUCCESS
						    : EXIT_FAILURE;
		}
	}
	if (ret == 0)
		ret = dp_config_resolve(&cfg);
	if (ret != 0) {
		if (ret < 0)
			dp_control_stop(&ctl);
		dp_controller_ready(&link, NULL, false);
		dp_controller_close(&link);
		rte_eal_cleanup();
		return ret > 0 ? EXIT_SUCCESS : EXIT_USAGE;
	}

	parse = sl_parse_select(cfg.parser);
	if (parse == NULL) {
		fprintf(stderr, "--parser %s: this CPU lacks the instructions\n",
			sl_parse_variant_name(cfg.parser));
		rte_eal_cleanup();
		return EXIT_USAGE;
	}
	DP_LOG(INFO, "parser: %s", sl_parse_variant_name(
		cfg.parser == SL_PARSE_AUTO ? sl_parse_best_variant()
					    : cfg.parser));

	if (install_signals() != 0) {
		rte_eal_cleanup();
		return EXIT_FAILURE;
	}
	workers = workers_create(&cfg, &run, parse);
	if (workers == NULL) {
		DP_LOG(ERR, "cannot allocate worker state");
		rte_eal_cleanup();
		return EXIT_FAILURE;
	}
	ret = dp_control_start(&ctl, &run, workers, cfg.nb_workers);
	if (ret == 0)
		ret = dp_ports_setup(&cfg, workers, &pools);
	dp_controller_ready(&link, ret == 0 ? &pools : NULL, ret == 0);
	if (ret != 0) {
		dp_controller_close(&link);
		dp_control_stop(&ctl);
		rte_free(workers);
		rte_eal_cleanup();
		return EXIT_FAILURE;
	}

	for (unsigned int i = 0; i < cfg.nb_workers; i++)
		workers[i].pool = dp_pools_for_lcore(&pools, workers[i].lcore);
	for (unsigned int i = 0; i < cfg.nb_workers; i++) {
		ret = rte_eal_remote_launch(dp_worker_main, &workers[i],
					    workers[i].lcore);
		if (ret != 0) {
			DP_LOG(ERR, "cannot launch worker on lcore %u: %s",
			       workers[i].lcore, rte_strerror(-ret));
			status = EXIT_FAILURE;
			raise(SIGTERM);
			break;
		}
	}
	if (status == EXIT_SUCCESS)
		supervise(&cfg, workers, &ctl, &link);

	/* Drain: workers leave their loop and flush their TX buffers; then
	 * the ports are stopped and closed, returning their rings' mbufs. */
	__atomic_store_n(&run.stop, true, __ATOMIC_RELEASE);
	rte_eal_mp_wait_lcore();
	dp_controller_close(&link);
	dp_ports_teardown(&cfg, workers, cfg.nb_workers);

	dp_pools_count(&pools, &pool_size, &pool_avail);
	dp_counters_print(stdout, &cfg, workers, cfg.nb_workers);
	dp_control_print_rules(&ctl, stdout);
	printf("mbufs: %u of %u back in their pool%s\n", pool_avail, pool_size,
	       pool_avail == pool_size ? "" : " - LEAK");
	if (pool_avail != pool_size) {
		DP_LOG(ERR, "%u mbufs were not returned to their pool",
		       pool_size - pool_avail);
		status = EXIT_FAILURE;
	}
	if (cfg.stats_file != NULL) {
		struct dp_report rep = {
			.fw = run.fw,
			.reloads = ctl.reloads,
			.mempool_size = pool_size,
			.mempool_avail = pool_avail,
			.router = &ctl.router,
			.policy = ctl.policy,
			.port_of = ctl.port_of,
		};

		ret = dp_counters_write_json(cfg.stats_file, &cfg, workers,
					     cfg.nb_workers, &rep);
		if (ret != 0) {
			DP_LOG(ERR, "cannot write %s: %s", cfg.stats_file,
			       strerror(-ret));
			status = EXIT_FAILURE;
		}
	}

	dp_control_stop(&ctl);
	dp_pools_free(&pools);
	rte_free(workers);
	rte_eal_cleanup();
	return status;
}
