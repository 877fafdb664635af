/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "log.h"
#include "port.h"

#define DP_MBUF_CACHE 256

/*
 * A symmetric Toeplitz key: with the 16-bit pattern 0x6d5a repeated, the
 * hash of (src, dst, sport, dport) equals that of (dst, src, dport, sport)
 * (Woo and Park, "Scalable TCP Session Monitoring with Symmetric RSS").
 */
static void
fill_symmetric_rss_key(uint8_t *key, unsigned int len)
{
	for (unsigned int i = 0; i < len; i++)
		key[i] = (i % 2 == 0) ? 0x6d : 0x5a;
}

static unsigned int
port_socket(uint16_t port)
{
	int s = rte_eth_dev_socket_id(port);

	return s < 0 ? 0 : (unsigned int)s;
}

struct port_plan {
	uint16_t nb_rxq;
	uint16_t nb_txq;
};

/* Queue counts per port, checked against what the devices support. */
static int
plan_ports(const struct dp_config *cfg, struct port_plan *plan)
{
	for (unsigned int i = 0; i < cfg->nb_ports; i++) {
		uint16_t p = cfg->ports[i];
		struct rte_eth_dev_info info;
		int ret = rte_eth_dev_info_get(p, &info);

		if (ret != 0) {
			DP_LOG(ERR, "port %u: cannot read device info: %s", p,
			       rte_strerror(-ret));
			return ret;
		}
		if (info.max_tx_queues < cfg->nb_workers) {
			DP_LOG(ERR, "port %u (%s) has %u TX queues but %u "
			       "workers each need one: use fewer workers "
			       "(--workers) or a device with more queues", p,
			       info.driver_name, info.max_tx_queues,
			       cfg->nb_workers);
			return -EINVAL;
		}
		plan[i].nb_txq = (uint16_t)cfg->nb_workers;
		plan[i].nb_rxq = (uint16_t)RTE_MIN(cfg->nb_workers,
						   info.max_rx_queues);
		if (plan[i].nb_rxq == 0) {
			DP_LOG(ERR, "port %u (%s) has no RX queue", p,
			       info.driver_name);
			return -EINVAL;
		}
	}
	return 0;
}

/* mbufs the rings, bursts, TX buffers and lcore caches can hold at once. */
static unsigned int
mbufs_needed(const struct dp_config *cfg, const struct port_plan *plan)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < cfg->nb_ports; i++)
		n += plan[i].nb_rxq * cfg->rxd + plan[i].nb_txq * cfg->txd;
	n += cfg->nb_workers * (DP_BURST_MAX + cfg->nb_ports * cfg->burst);
	n += rte_lcore_count() * DP_MBUF_CACHE;
	return n;
}

static int
create_pools(const struct dp_config *cfg, const struct port_plan *plan,
	     struct dp_pools *pools)
{
	unsigned int need = mbufs_needed(cfg, plan);
	unsigned int size = cfg->nb_mbufs;

	if (size == 0) {
		/* Headroom for PMDs that keep mbufs of their own, such as
		 * net_pcap's infinite_rx copy of the capture. */
		size = rte_align32pow2(need + 8192) - 1;
	} else if (size < need) {
		DP_LOG(ERR, "--mbufs %u is too few: the queues, bursts and "
		       "caches of this configuration can hold %u", size, need);
		return -EINVAL;
	}

	for (unsigned int i = 0; i < cfg->nb_ports; i++) {
		unsigned int s = port_socket(cfg->ports[i]);
		char name[RTE_MEMPOOL_NAMESIZE];

		if (pools->pool[s] != NULL)
			continue;
		snprintf(name, sizeof(name), "sl_mbuf_s%u", s);
		pools->pool[s] = rte_pktmbuf_pool_create(name, size,
			DP_MBUF_CACHE, 0, cfg->mbuf_size, (int)s);
		if (pools->pool[s] == NULL) {
			DP_LOG(ERR, "cannot create a pool of %u mbufs of %u "
			       "bytes on socket %u: %s (hugepages reserved? "
			       "see deploy/hugepages.sh)", size, cfg->mbuf_size,
			       s, rte_strerror(rte_errno));
			return -rte_errno;
		}
		DP_LOG(INFO, "pool %s: %u mbufs of %u bytes", name, size,
		       cfg->mbuf_size);
	}
	return 0;
}

static int
configure_port(const struct dp_config *cfg, uint16_t p,
	       const struct port_plan *plan, struct rte_mempool *mp)
{
	struct rte_eth_dev_info info;
	struct rte_eth_conf conf;
	uint8_t rss_key[128];
	uint16_t rxd = cfg->rxd, txd = cfg->txd;
	int ret;

	memset(&conf, 0, sizeof(conf));
	ret = rte_eth_dev_info_get(p, &info);
	if (ret != 0)
		return ret;

	if (plan->nb_rxq > 1 && info.flow_type_rss_offloads != 0) {
		unsigned int key_len = info.hash_key_size ? info.hash_key_size
							  : 40;

		if (key_len > sizeof(rss_key))
			key_len = sizeof(rss_key);
		fill_symmetric_rss_key(rss_key, key_len);
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_key = rss_key;
		conf.rx_adv_conf.rss_conf.rss_key_len = (uint8_t)key_len;
		conf.rx_adv_conf.rss_conf.rss_hf =
			(RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP |
			 RTE_ETH_RSS_SCTP) & info.flow_type_rss_offloads;
	} else if (plan->nb_rxq > 1) {
		DP_LOG(WARNING, "port %u (%s): %u RX queues but no RSS: the "
		       "device decides which queue gets which flow", p,
		       info.driver_name, plan->nb_rxq);
	}
	if (cfg->shared_mbufs) {
		if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS)
			conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	} else if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE) {
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE;
	}

	ret = rte_eth_dev_configure(p, plan->nb_rxq, plan->nb_txq, &conf);
	if (ret != 0) {
		DP_LOG(ERR, "port %u: configure %u rx / %u tx queues: %s", p,
		       plan->nb_rxq, plan->nb_txq, rte_strerror(-ret));
		return ret;
	}
	ret = rte_eth_dev_adjust_nb_rx_tx_desc(p, &rxd, &txd);
	if (ret != 0)
		return ret;
	for (uint16_t q = 0; q < plan->nb_rxq; q++) {
		ret = rte_eth_rx_queue_setup(p, q, rxd, rte_eth_dev_socket_id(p),
					     NULL, mp);
		if (ret != 0) {
			DP_LOG(ERR, "port %u: RX queue %u: %s", p, q,
			       rte_strerror(-ret));
			return ret;
		}
	}
	for (uint16_t q = 0; q < plan->nb_txq; q++) {
		ret = rte_eth_tx_queue_setup(p, q, txd, rte_eth_dev_socket_id(p),
					     NULL);
		if (ret != 0) {
			DP_LOG(ERR, "port %u: TX queue %u: %s", p, q,
			       rte_strerror(-ret));
			return ret;
		}
	}
	/* A cross-connect forwards every frame: promiscuous where possible. */
	ret = rte_eth_promiscuous_enable(p);
	if (ret != 0 && ret != -ENOTSUP)
		DP_LOG(WARNING, "port %u: promiscuous mode: %s", p,
		       rte_strerror(-ret));
	ret = rte_eth_dev_start(p);
	if (ret != 0) {
		DP_LOG(ERR, "port %u: start: %s", p, rte_strerror(-ret));
		return ret;
	}
	DP_LOG(INFO, "port %u (%s): %u rx queue(s), %u tx queue(s), %u/%u "
	       "descriptors%s", p, info.driver_name, plan->nb_rxq,
	       plan->nb_txq, rxd, txd,
	       conf.rxmode.mq_mode == RTE_ETH_MQ_RX_RSS ? ", symmetric RSS"
							: "");
	return 0;
}

/* Give every worker a TX buffer for port (once). */
static int
add_tx_buffer(const struct dp_config *cfg, struct dp_worker *workers,
	      uint16_t port)
{
	for (unsigned int w = 0; w < cfg->nb_workers; w++) {
		struct dp_worker *wk = &workers[w];

		if (wk->txb[port] != NULL)
			continue;
		wk->txb[port] = rte_zmalloc_socket("sl_txb",
			sizeof(struct dp_txb), RTE_CACHE_LINE_SIZE,
			(int)rte_lcore_to_socket_id(wk->lcore));
		if (wk->txb[port] == NULL)
			return -ENOMEM;
		wk->tx_ports[wk->nb_tx_ports++] = port;
	}
	return 0;
}

/* TX buffers for every port: any can be an egress (cross-connect peers,
 * routes, twins, replication targets), and a buffer is small. */
static int
setup_tx_buffers(const struct dp_config *cfg, struct dp_worker *workers)
{
	for (unsigned int i = 0; i < cfg->nb_ports; i++) {
		int ret = add_tx_buffer(cfg, workers, cfg->ports[i]);

		if (ret != 0)
			return ret;
	}
	return 0;
}

/* Spread the (port, queue) pairs over the workers, round robin. */
static int
assign_rx_queues(const struct dp_config *cfg, const struct port_plan *plan,
		 struct dp_worker *workers)
{
	unsigned int next = 0;

	for (unsigned int i = 0; i < cfg->nb_ports; i++) {
		for (uint16_t q = 0; q < plan[i].nb_rxq; q++) {
			struct dp_worker *w = &workers[next % cfg->nb_workers];

			if (w->nb_rxq == DP_WORKER_RXQ_MAX) {
				DP_LOG(ERR, "more than %u RX queues for one "
				       "worker", DP_WORKER_RXQ_MAX);
				return -E2BIG;
			}
			w->rxq[w->nb_rxq++] = (struct dp_rxq){ cfg->ports[i], q };
			next++;
		}
	}
	return 0;
}

int
dp_ports_setup(struct dp_config *cfg, struct dp_worker *workers,
	       struct dp_pools *pools)
{
	struct port_plan plan[RTE_MAX_ETHPORTS];
	unsigned int started = 0;
	int ret;

	memset(pools, 0, sizeof(*pools));
	ret = plan_ports(cfg, plan);
	if (ret == 0)
		ret = create_pools(cfg, plan, pools);
	for (unsigned int i = 0; ret == 0 && i < cfg->nb_ports; i++) {
		uint16_t p = cfg->ports[i];

		ret = configure_port(cfg, p, &plan[i],
				     pools->pool[port_socket(p)]);
		if (ret == 0) {
			started = i + 1;
			ret = rte_eth_macaddr_get(p, &cfg->mac[p]);
		}
	}
	if (ret == 0)
		ret = setup_tx_buffers(cfg, workers);
	if (ret == 0)
		ret = assign_rx_queues(cfg, plan, workers);
	if (ret == 0)
		return 0;

	struct dp_config partial = *cfg;

	partial.nb_ports = (uint16_t)started;
	dp_ports_teardown(&partial, workers, cfg->nb_workers);
	dp_pools_free(pools);
	return ret < 0 ? ret : -ret;
}

void
dp_ports_teardown(const struct dp_config *cfg, struct dp_worker *workers,
		  unsigned int nb_workers)
{
	for (unsigned int i = 0; i < cfg->nb_ports; i++) {
		uint16_t p = cfg->ports[i];
		int ret = rte_eth_dev_stop(p);

		if (ret != 0)
			DP_LOG(WARNING, "port %u: stop: %s", p,
			       rte_strerror(-ret));
		rte_eth_dev_close(p);
	}
	for (unsigned int w = 0; w < nb_workers; w++) {
		for (unsigned int p = 0; p < RTE_MAX_ETHPORTS; p++) {
			rte_free(workers[w].txb[p]);
			workers[w].txb[p] = NULL;
		}
		workers[w].nb_tx_ports = 0;
	}
}

void
dp_pools_count(const struct dp_pools *pools, unsigned int *size,
	       unsigned int *avail)
{
	*size = 0;
	*avail = 0;
	for (unsigned int s = 0; s < RTE_MAX_NUMA_NODES; s++) {
		if (pools->pool[s] == NULL)
			continue;
		*size += pools->pool[s]->size;
		*avail += rte_mempool_avail_count(pools->pool[s]);
	}
}

struct rte_mempool *
dp_pools_for_lcore(const struct dp_pools *pools, unsigned int lcore)
{
	unsigned int s = rte_lcore_to_socket_id(lcore);

	if (s < RTE_MAX_NUMA_NODES && pools->pool[s] != NULL)
		return pools->pool[s];
	for (s = 0; s < RTE_MAX_NUMA_NODES; s++)
		if (pools->pool[s] != NULL)
			return pools->pool[s];
	return NULL;
}

void
dp_pools_free(struct dp_pools *pools)
{
	for (unsigned int s = 0; s < RTE_MAX_NUMA_NODES; s++) {
		rte_mempool_free(pools->pool[s]);
		pools->pool[s] = NULL;
	}
}
