/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Cluster membership (docs/cluster.md).  Single node by default: the only
 * member is the node itself.  With --etcd, each sluiced holds an etcd
 * lease, keeps PREFIX/members/ID alive with it, watches PREFIX/members/
 * and keeps the live member set; losing etcd leaves the last set in force
 * and the node "degraded" until etcd answers again.
 *
 * Cluster groups (sl_group.cluster) take their targets from the member
 * set.  The policy a dataplane runs - the "effective" text that dplink
 * pushes and digests - is the state with those targets filled in; the
 * state file and GET /v1/config keep the operator's document.  Everything
 * here runs on the event loop's thread (etcd.c does its I/O without
 * blocking).
 */
#ifndef SLUICED_CLUSTER_H
#define SLUICED_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "sluice/policy.h"

struct sluiced;
struct sd_etcd;

#define SD_CLUSTER_PREFIX_DEFAULT "/sluice"
#define SD_CLUSTER_TTL_DEFAULT 3	/* seconds */

struct sd_cluster_opts {
	const char *etcd;		/* endpoints; NULL: single node */
	const char *node_id;		/* NULL: the host name */
	const char *underlay;		/* address tunnels reach this node at */
	unsigned int capacity;		/* Maglev weight, 1..65535 */
	unsigned int lease_ttl;		/* seconds */
	const char *prefix;		/* key prefix in etcd */
	const char *cacert, *cert, *key, *user;	/* etcd TLS and auth */
};

/* One member as etcd (or the node itself) says. */
struct sd_member {
	char *id;
	char *underlay;			/* NULL: none given */
	uint32_t capacity;
	int64_t lease;
	int64_t mod_revision;
};

/* Options: spliced into main.c's getopt table and switch. */
enum {
	SD_OPT_ETCD = 512,
	SD_OPT_NODE_ID,
	SD_OPT_UNDERLAY,
	SD_OPT_CAPACITY,
	SD_OPT_LEASE_TTL,
	SD_OPT_CLUSTER_PREFIX,
	SD_OPT_ETCD_CACERT,
	SD_OPT_ETCD_CERT,
	SD_OPT_ETCD_KEY,
	SD_OPT_ETCD_USER,
};

#define SD_CLUSTER_LONG_OPTIONS						\
	{ "etcd", required_argument, NULL, SD_OPT_ETCD },		\
	{ "node-id", required_argument, NULL, SD_OPT_NODE_ID },		\
	{ "underlay", required_argument, NULL, SD_OPT_UNDERLAY },	\
	{ "capacity", required_argument, NULL, SD_OPT_CAPACITY },	\
	{ "lease-ttl", required_argument, NULL, SD_OPT_LEASE_TTL },	\
	{ "cluster-prefix", required_argument, NULL,			\
	  SD_OPT_CLUSTER_PREFIX },					\
	{ "etcd-cacert", required_argument, NULL, SD_OPT_ETCD_CACERT }, \
	{ "etcd-cert", required_argument, NULL, SD_OPT_ETCD_CERT },	\
	{ "etcd-key", required_argument, NULL, SD_OPT_ETCD_KEY },	\
	{ "etcd-user", required_argument, NULL, SD_OPT_ETCD_USER },

void sd_cluster_opts_default(struct sd_cluster_opts *o);
/* 1: c is not a cluster option; 0: taken; -1: bad value (said why). */
int sd_cluster_option(struct sd_cluster_opts *o, int c, const char *arg);
/* After parsing: options that go together; 0 or -1 (said why). */
int sd_cluster_opts_check(const struct sd_cluster_opts *o);
void sd_cluster_usage(FILE *f);

/* Before the state is loaded: the member set (self).  0 or -errno. */
int sd_cluster_init(struct sluiced *sd);
/* With the loop up: connect to etcd when clustered.  0 or -errno. */
int sd_cluster_start(struct sluiced *sd);
/* Timers and etcd I/O; returns ms to its next deadline, or -1. */
int sd_cluster_tick(struct sluiced *sd);
/* Leave (revoke the lease: the others drop this node now) and free. */
void sd_cluster_stop(struct sluiced *sd);

/*
 * A document from an operator: a cluster group lists no targets (they
 * are derived).  0, or -1 with a 422 in e after freeing *p (NULL).
 */
struct sd_err;
int sd_cluster_check_policy(struct sl_policy *policy, struct sl_policy **p,
			    struct sd_err *e);

/* The state changed (apply.c's install): derive the effective policy. */
void sd_cluster_state_changed(struct sluiced *sd);

/* What the dataplane gets: the effective text and its digest (the state's
 * own when it has no cluster group), and the policy they encode, which an
 * in-process backend (XDP) runs. */
const char *sd_push_text(const struct sluiced *sd);
const char *sd_push_digest(const struct sluiced *sd);
const struct sl_policy *sd_push_policy(const struct sluiced *sd);

/*
 * The policy a datapath would run for state (the state in force, or a
 * candidate being checked) with the current member set: *out to
 * sl_policy_free(), or NULL when state has no cluster group (it runs as
 * it is).  0 or -errno.
 */
int sd_cluster_effective(const struct sluiced *sd,
			 const struct sl_policy *state,
			 struct sl_policy **out);

/* For shared.c: the etcd client (NULL on a single node), whether a
 * session is up (registered and watching: a write can go to etcd), the
 * shared key and the time limit of one request. */
struct sd_etcd *sd_cluster_etcd(const struct sluiced *sd);
bool sd_cluster_ready(const struct sluiced *sd);
const char *sd_cluster_shared_key(const struct sluiced *sd);
long sd_cluster_op_timeout(const struct sluiced *sd);

/* For the API and /metrics. */
json_t *sd_cluster_status_json(const struct sluiced *sd);
json_t *sd_cluster_members_json(const struct sluiced *sd);
bool sd_cluster_degraded(const struct sluiced *sd);
size_t sd_cluster_n_members(const struct sluiced *sd);
uint64_t sd_cluster_changes(const struct sluiced *sd);

/*
 * The derivation, apart from the daemon (a tool links it to check the
 * tables): state with each cluster group's targets set from members[0..n)
 * (sorted by id; members without an underlay address, or with one an
 * earlier member has, are left out; 256 at most).  Returns 0 with *out to
 * sl_policy_free(), or -errno.
 */
int sd_cluster_derive(const struct sl_policy *state,
		      const struct sd_member *members, size_t n,
		      struct sl_policy **out);
/*
 * The Maglev table of group g as the dataplane builds it (identities from
 * sl_maglev_target_identity(), the policy's flow-hash seed): *table to
 * free(); returns the live target count or -errno.
 */
int sd_cluster_group_table(const struct sl_group *g, uint64_t seed,
			   uint16_t **table);

#endif /* SLUICED_CLUSTER_H */
