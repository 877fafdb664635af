/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Cluster membership on etcd (cluster.h, docs/cluster.md).
 *
 * A session with etcd is a chain of requests, one at a time:
 *
 *   [auth] -> keepalive of the lease still held, else grant -> put
 *   PREFIX/members/ID with the lease -> range PREFIX/members/ (the whole
 *   set and its revision R) -> watch from R + 1 -> steady: keepalive
 *   every TTL/3, watch events change the set
 *
 * Any failure ends the session: the watch is cancelled, the next endpoint
 * is tried at once, and once every endpoint has failed in a row the node
 * is degraded and retries with exponential backoff (100 ms doubling to
 * 5 s, with jitter).  Meanwhile the member set, the tables and the
 * dataplane's policy stay as they were.  A new session always reads the
 * whole set again at the current revision and watches from there, so no
 * stale event is replayed.  The lease is kept across a session that
 * failed for transport reasons while it can still be alive (keepalive
 * answered less than TTL ago), so a short outage or a change of endpoint
 * (the etcd leader killed) does not take the node out of anyone's set.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>

#include "sluice/maglev.h"

#include "cluster.h"
#include "etcd.h"
#include "log.h"
#include "sluiced.h"

#define SD_BACKOFF_MIN_MS 100
#define SD_BACKOFF_MAX_MS 5000

enum cl_phase {
	PH_OFF = 0,	/* single node */
	PH_WAIT,	/* between sessions: next_ms starts one */
	PH_AUTH,
	PH_CHECK,	/* keepalive of the lease we still hold */
	PH_GRANT,
	PH_PUT,
	PH_RANGE,
	PH_WATCH,	/* watch asked for, not created yet (next_ms: limit) */
	PH_STEADY,	/* next_ms: the next keepalive */
};

static const char *const phase_names[] = {
	"off", "waiting", "auth", "lease check", "lease grant", "register",
	"read members", "watch", "steady",
};

/* A cluster group's table, for status and the digest. */
struct cl_table {
	char *group;
	uint32_t size;
	size_t targets;
	int live;
	uint64_t digest;
	double build_ms;
};

struct sd_cluster {
	struct sd_cluster_opts o;
	char *node_id;
	struct sd_etcd *etcd;
	char *members_prefix;		/* PREFIX/members/ */
	char *member_key;		/* PREFIX/members/ID */
	char *root_prefix;		/* PREFIX/: the watch covers it all */
	char *shared_key;		/* PREFIX/config/shared (shared.h) */

	struct sd_member *members;	/* the live set, sorted by id */
	size_t n_members;
	uint64_t changes;		/* member set changes seen */

	enum cl_phase phase;
	int64_t next_ms;		/* the phase's deadline; -1: none */
	struct sd_etcd_req *op;		/* the one request of the chain */
	struct sd_etcd_req *ka;		/* a keepalive in steady state */
	struct sd_etcd_req *watch;
	int64_t lease;			/* 0: none */
	int64_t last_ka_ok_ms;		/* when etcd last said it is alive */
	int64_t revision;		/* the set is as of this revision */
	unsigned int fails;		/* in a row */
	bool authed;			/* this session has its token */
	bool degraded;
	int64_t degraded_since_ms;
	char last_error[512];
	uint64_t etcd_errors;

	/* derived from the state and the set */
	struct sl_policy *eff;		/* NULL: the state itself */
	char *eff_text;			/* NULL: the state's own text */
	char eff_digest[17];
	struct cl_table *tables;
	size_t n_tables;
	char tables_digest[17];		/* "": no cluster group */
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------------
 * Options
 */

void
sd_cluster_opts_default(struct sd_cluster_opts *o)
{
	*o = (struct sd_cluster_opts){
		.capacity = 1,
		.lease_ttl = SD_CLUSTER_TTL_DEFAULT,
		.prefix = SD_CLUSTER_PREFIX_DEFAULT,
	};
}

static int
parse_range(const char *opt, const char *s, unsigned long min,
	    unsigned long max, unsigned int *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || *s == '-' || *s == '\0' ||
	    v < min || v > max) {
		fprintf(stderr, "sluiced: --%s %s: want a number from %lu to "
			"%lu\n", opt, s, min, max);
		return -1;
	}
	*out = (unsigned int)v;
	return 0;
}

int
sd_cluster_option(struct sd_cluster_opts *o, int c, const char *arg)
{
	struct sl_prefix p;

	switch (c) {
	case SD_OPT_ETCD: o->etcd = arg; return 0;
	case SD_OPT_NODE_ID:
		if (*arg == '\0' || strlen(arg) > SL_POLICY_NAME_MAX ||
		    strpbrk(arg, "/ \t\n\"\\") != NULL) {
			fprintf(stderr, "sluiced: --node-id %s: want 1-%d "
				"characters, no '/', space or quote\n", arg,
				SL_POLICY_NAME_MAX);
			return -1;
		}
		o->node_id = arg;
		return 0;
	case SD_OPT_UNDERLAY:
		if (sl_prefix_from_string(arg, &p, NULL, 0) != 0 ||
		    strchr(arg, '/') != NULL) {
			fprintf(stderr, "sluiced: --underlay %s: want an IPv4 or "
				"IPv6 address\n", arg);
			return -1;
		}
		o->underlay = arg;
		return 0;
	case SD_OPT_CAPACITY:
		return parse_range("capacity", arg, 1,
				   SL_POLICY_TARGET_WEIGHT_MAX, &o->capacity);
	case SD_OPT_LEASE_TTL:
		return parse_range("lease-ttl", arg, 2, 3600, &o->lease_ttl);
	case SD_OPT_CLUSTER_PREFIX:
		if (arg[0] != '/' || strlen(arg) > 200) {
			fprintf(stderr, "sluiced: --cluster-prefix %s: want a "
				"key prefix that starts with '/'\n", arg);
			return -1;
		}
		o->prefix = arg;
		return 0;
	case SD_OPT_ETCD_CACERT: o->cacert = arg; return 0;
	case SD_OPT_ETCD_CERT: o->cert = arg; return 0;
	case SD_OPT_ETCD_KEY: o->key = arg; return 0;
	case SD_OPT_ETCD_USER:
		if (strchr(arg, ':') == NULL) {
			fprintf(stderr, "sluiced: --etcd-user wants "
				"NAME:PASSWORD\n");
			return -1;
		}
		o->user = arg;
		return 0;
	default:
		return 1;
	}
}

int
sd_cluster_opts_check(const struct sd_cluster_opts *o)
{
	if (o->etcd == NULL && (o->cacert || o->cert || o->key || o->user)) {
		fprintf(stderr, "sluiced: --etcd-cacert, --etcd-cert, --etcd-key "
			"and --etcd-user need --etcd\n");
		return -1;
	}
	if ((o->cert == NULL) != (o->key == NULL)) {
		fprintf(stderr, "sluiced: --etcd-cert and --etcd-key go "
			"together\n");
		return -1;
	}
	return 0;
}

void
sd_cluster_usage(FILE *f)
{
	fprintf(f,
"cluster (docs/cluster.md):\n"
"  --etcd URL[,URL...]     join the cluster kept in etcd (v3 gateway)\n"
"  --node-id ID            this node's member id (the host name)\n"
"  --underlay ADDR         the address tunnels reach this node at\n"
"  --capacity N            this node's Maglev weight, 1-65535 (1)\n"
"  --lease-ttl S           etcd lease TTL in seconds (%u)\n"
"  --cluster-prefix P      etcd key prefix (%s)\n"
"  --etcd-cacert FILE, --etcd-cert FILE, --etcd-key FILE   TLS to etcd\n"
"  --etcd-user NAME:PASSWORD   etcd authentication\n",
		SD_CLUSTER_TTL_DEFAULT, SD_CLUSTER_PREFIX_DEFAULT);
}

/* ------------------------------------------------------------------------
 * The member set
 */

static void
member_clear(struct sd_member *m)
{
	free(m->id);
	free(m->underlay);
	memset(m, 0, sizeof(*m));
}

static void
members_clear(struct sd_cluster *c)
{
	for (size_t i = 0; i < c->n_members; i++)
		member_clear(&c->members[i]);
	free(c->members);
	c->members = NULL;
	c->n_members = 0;
}

static ssize_t
member_find(const struct sd_cluster *c, const char *id, bool *found)
{
	size_t lo = 0, hi = c->n_members;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int cmp = strcmp(c->members[mid].id, id);

		if (cmp == 0) {
			*found = true;
			return (ssize_t)mid;
		}
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return (ssize_t)lo;
}

/* Insert or replace (takes m's strings); true when the set changed. */
static bool
member_put(struct sd_cluster *c, struct sd_member *m)
{
	bool found;
	ssize_t at = member_find(c, m->id, &found);
	struct sd_member *cur;

	if (found) {
		cur = &c->members[at];
		bool same = cur->capacity == m->capacity &&
			    ((cur->underlay == NULL && m->underlay == NULL) ||
			     (cur->underlay && m->underlay &&
			      strcmp(cur->underlay, m->underlay) == 0));

		member_clear(cur);
		*cur = *m;
		return !same;
	}
	cur = realloc(c->members, (c->n_members + 1) * sizeof(*cur));
	if (cur == NULL) {
		member_clear(m);
		return false;
	}
	c->members = cur;
	memmove(&cur[at + 1], &cur[at], (c->n_members - (size_t)at) *
		sizeof(*cur));
	cur[at] = *m;
	c->n_members++;
	return true;
}

static bool
member_del(struct sd_cluster *c, const char *id)
{
	bool found;
	ssize_t at = member_find(c, id, &found);

	if (!found)
		return false;
	member_clear(&c->members[at]);
	memmove(&c->members[at], &c->members[at + 1],
		(c->n_members - (size_t)at - 1) * sizeof(*c->members));
	c->n_members--;
	return true;
}

/* A member from a kv of the gateway: key PREFIX/members/ID, JSON value. */
static int
member_from_kv(struct sd_cluster *c, json_t *kv, struct sd_member *m)
{
	const char *k64 = json_string_value(json_object_get(kv, "key"));
	const char *v64 = json_string_value(json_object_get(kv, "value"));
	size_t plen = strlen(c->members_prefix);
	char *key = NULL, *val = NULL;
	json_t *doc = NULL;
	int ret = -EINVAL;

	memset(m, 0, sizeof(*m));
	if (k64 == NULL || sd_unb64(k64, &key, NULL) != 0 ||
	    strncmp(key, c->members_prefix, plen) != 0 || key[plen] == '\0')
		goto out;
	m->id = strdup(key + plen);
	m->capacity = 1;
	m->lease = sd_etcd_int(kv, "lease", 0);
	m->mod_revision = sd_etcd_int(kv, "mod_revision", 0);
	if (v64 != NULL && sd_unb64(v64, &val, NULL) == 0) {
		json_error_t jerr;
		json_t *u, *cap;

		doc = json_loads(val, 0, &jerr);
		u = json_object_get(doc, "underlay");
		cap = json_object_get(doc, "capacity");
		if (json_is_string(u))
			m->underlay = strdup(json_string_value(u));
		if (json_is_integer(cap) && json_integer_value(cap) >= 1 &&
		    json_integer_value(cap) <= SL_POLICY_TARGET_WEIGHT_MAX)
			m->capacity = (uint32_t)json_integer_value(cap);
	}
	ret = m->id != NULL ? 0 : -ENOMEM;
out:
	json_decref(doc);
	free(key);
	free(val);
	return ret;
}

/* ------------------------------------------------------------------------
 * Derived policy and tables
 */

static void
tables_clear(struct sd_cluster *c)
{
	for (size_t i = 0; i < c->n_tables; i++)
		free(c->tables[i].group);
	free(c->tables);
	c->tables = NULL;
	c->n_tables = 0;
	c->tables_digest[0] = '\0';
}

static double
elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 +
	       (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static void
build_tables(struct sd_cluster *c, const struct sl_policy *eff)
{
	XXH3_state_t *st = XXH3_createState();

	c->tables = calloc(eff->n_groups ? eff->n_groups : 1,
			   sizeof(*c->tables));
	if (c->tables == NULL || st == NULL) {
		XXH3_freeState(st);
		return;
	}
	XXH3_64bits_reset(st);
	for (size_t i = 0; i < eff->n_groups; i++) {
		const struct sl_group *g = &eff->groups[i];
		struct cl_table *t = &c->tables[c->n_tables];
		struct timespec t0;
		uint16_t *table = NULL;
		char line[128];

		if (!g->cluster)
			continue;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		t->live = sd_cluster_group_table(g,
						 eff->settings.flow_hash_seed,
						 &table);
		t->build_ms = elapsed_ms(&t0);
		t->group = strdup(g->name);
		t->size = g->table_size;
		t->targets = g->n_targets;
		if (t->live >= 0)
			t->digest = sl_maglev_digest(table, g->table_size);
		free(table);
		c->n_tables++;
		snprintf(line, sizeof(line), "%s %016llx\n", g->name,
			 (unsigned long long)t->digest);
		XXH3_64bits_update(st, line, strlen(line));
	}
	if (c->n_tables > 0)
		snprintf(c->tables_digest, sizeof(c->tables_digest), "%016llx",
			 (unsigned long long)XXH3_64bits_digest(st));
	XXH3_freeState(st);
}

/* Whether p has a cluster group (so that its effective policy is not p). */
static bool
has_cluster_group(const struct sl_policy *p)
{
	for (size_t i = 0; i < p->n_groups; i++)
		if (p->groups[i].cluster)
			return true;
	return false;
}

int
sd_cluster_effective(const struct sluiced *sd, const struct sl_policy *state,
		     struct sl_policy **out)
{
	const struct sd_cluster *c = sd->cluster;

	*out = NULL;
	if (c == NULL || !has_cluster_group(state))
		return 0;
	return sd_cluster_derive(state, c->members, c->n_members, out);
}

/* The state or the set changed: effective policy, text, digest, tables. */
static void
rebuild(struct sluiced *sd)
{
	struct sd_cluster *c = sd->cluster;
	struct sl_policy_errors errs;
	struct sl_policy *eff = NULL;
	int ret;

	if (c == NULL)
		return;
	sl_policy_free(c->eff);
	c->eff = NULL;
	free(c->eff_text);
	c->eff_text = NULL;
	tables_clear(c);
	ret = sd_cluster_effective(sd, sd->st.policy, &eff);
	if (ret != 0) {
		SD_ERR("cluster: cannot derive the groups' targets: %s",
		       strerror(-ret));
		return;
	}
	if (eff == NULL)
		return;
	if (sl_policy_validate(eff, &errs) != 0 && errs.count > 0)
		SD_ERR("cluster: the derived policy is not valid: %s: %s",
		       errs.list[0].path, errs.list[0].message);
	c->eff_text = sl_policy_to_json(eff, 0);
	if (c->eff_text == NULL) {
		/* Text and policy go together: the backends run the same. */
		sl_policy_free(eff);
		return;
	}
	snprintf(c->eff_digest, sizeof(c->eff_digest), "%016llx",
		 (unsigned long long)XXH3_64bits(c->eff_text,
						 strlen(c->eff_text)));
	build_tables(c, eff);
	for (size_t i = 0; i < c->n_tables; i++)
		SD_INFO("cluster: group %s: %zu targets, table %016llx "
			"(%.2f ms)", c->tables[i].group, c->tables[i].targets,
			(unsigned long long)c->tables[i].digest,
			c->tables[i].build_ms);
	c->eff = eff;
}

int
sd_cluster_check_policy(struct sl_policy *policy, struct sl_policy **p,
			struct sd_err *e)
{
	for (size_t i = 0; i < policy->n_groups; i++) {
		char field[64];

		if (!policy->groups[i].cluster ||
		    policy->groups[i].n_targets == 0)
			continue;
		snprintf(field, sizeof(field), "groups[%zu].targets", i);
		sd_err_set(e, 422, "invalid", field, "group %s is a cluster "
			   "group: its targets are the live cluster members; "
			   "leave targets out", policy->groups[i].name);
		sl_policy_free(policy);
		*p = NULL;
		return -1;
	}
	return 0;
}

void
sd_cluster_state_changed(struct sluiced *sd)
{
	rebuild(sd);
}

static void
members_changed(struct sluiced *sd)
{
	struct sd_cluster *c = sd->cluster;
	char was[sizeof(c->eff_digest)];

	c->changes++;
	SD_INFO("cluster: %zu members at revision %lld", c->n_members,
		(long long)c->revision);
	snprintf(was, sizeof(was), "%s", sd_push_digest(sd));
	rebuild(sd);
	/* An in-process backend (XDP) runs the effective policy as the
	 * dataplane does; unchanged (a member without an underlay came or
	 * went), its maps are left alone. */
	if (sd->backend != NULL && strcmp(was, sd_push_digest(sd)) != 0)
		sd->backend->apply(sd, sd_push_policy(sd));
	sd_dp_sync(sd);
}

const struct sl_policy *
sd_push_policy(const struct sluiced *sd)
{
	return sd->cluster && sd->cluster->eff ? sd->cluster->eff
					       : sd->st.policy;
}

const char *
sd_push_text(const struct sluiced *sd)
{
	return sd->cluster && sd->cluster->eff_text ? sd->cluster->eff_text
						   : sd->st.text;
}

const char *
sd_push_digest(const struct sluiced *sd)
{
	return sd->cluster && sd->cluster->eff_text ? sd->cluster->eff_digest
						   : sd->st.digest;
}

/* ------------------------------------------------------------------------
 * The etcd session
 */

static void session_begin(struct sluiced *sd);
static void step_put(struct sluiced *sd);
static void step_grant(struct sluiced *sd);

static long
op_timeout_ms(const struct sd_cluster *c)
{
	long t = (long)c->o.lease_ttl * 1000 / 3;

	return t < 500 ? 500 : t > 5000 ? 5000 : t;
}

static json_t *
key_json(const char *key)
{
	char *b = sd_b64(key, strlen(key));
	json_t *j = b ? json_string(b) : NULL;

	free(b);
	return j;
}

/* The range end of a prefix: the prefix with its last byte plus one. */
static json_t *
range_end_json(const char *prefix)
{
	size_t n = strlen(prefix);
	char *end = strdup(prefix);
	json_t *j;

	if (end == NULL || n == 0) {
		free(end);
		return NULL;
	}
	end[n - 1]++;
	j = key_json(end);
	free(end);
	return j;
}

/* The session failed: start over, at once on another endpoint, or after
 * a backoff once they all failed. */
static void
session_fail(struct sluiced *sd, const char *why, bool drop_lease)
{
	struct sd_cluster *c = sd->cluster;
	size_t n = sd_etcd_n_endpoints(c->etcd);
	int64_t delay = 0;

	sd_etcd_cancel(c->etcd, c->op);
	sd_etcd_cancel(c->etcd, c->ka);
	sd_etcd_cancel(c->etcd, c->watch);
	c->op = c->ka = c->watch = NULL;
	c->fails++;
	c->etcd_errors++;
	snprintf(c->last_error, sizeof(c->last_error), "%s", why);
	c->authed = false;
	if (drop_lease)
		c->lease = 0;
	if (c->fails == 1 || c->fails % 20 == 0)
		SD_WARN("cluster: %s (%s)", why, phase_names[c->phase]);
	sd_etcd_next_endpoint(c->etcd);
	if (c->fails >= n) {
		unsigned int k = c->fails - (unsigned int)n;

		delay = k >= 6 ? SD_BACKOFF_MAX_MS :
			(int64_t)SD_BACKOFF_MIN_MS << k;
		if (delay > SD_BACKOFF_MAX_MS)
			delay = SD_BACKOFF_MAX_MS;
		delay += rand() % (delay / 5 + 1);	/* jitter */
		if (!c->degraded) {
			c->degraded = true;
			c->degraded_since_ms = now_ms();
			SD_ERR("cluster: etcd unreachable at every endpoint: "
			       "degraded; the last member set (%zu) and state "
			       "stay in force", c->n_members);
		}
	}
	c->phase = PH_WAIT;
	c->next_ms = now_ms() + delay;
}

/* etcd answered; was it an answer we can use? */
static bool
reply_ok(struct sluiced *sd, json_t *reply, long http, const char *error,
	 const char *what)
{
	char why[600];

	if (reply != NULL && json_object_get(reply, "error") == NULL)
		return true;
	snprintf(why, sizeof(why), "%s: %s", what, error ? error :
		 "etcd answered with an error");
	/* etcd said no (a lease it does not know, a request it refuses):
	 * the lease goes too.  No answer at all: it may still be alive. */
	session_fail(sd, why, http != 0 && http != 503);
	return false;
}

/* A watch event on the shared key goes to shared.c; true when it was. */
static bool
shared_event(struct sluiced *sd, json_t *kv, const char *type, int64_t rev)
{
	const char *k64 = json_string_value(json_object_get(kv, "key"));
	const char *v64 = json_string_value(json_object_get(kv, "value"));
	char *key = NULL, *val = NULL;
	size_t len = 0;
	bool ours;

	if (k64 == NULL || sd_unb64(k64, &key, NULL) != 0)
		return false;
	ours = strcmp(key, sd->cluster->shared_key) == 0;
	free(key);
	if (!ours)
		return false;
	if (type != NULL && strcmp(type, "DELETE") == 0)
		sd_shared_received(sd, NULL, 0, rev);
	else if (v64 != NULL && sd_unb64(v64, &val, &len) == 0)
		sd_shared_received(sd, val, len, rev);
	else
		sd_shared_received(sd, "", 0, rev);
	free(val);
	return true;
}

static void
on_watch_msg(void *ctx, json_t *msg)
{
	struct sluiced *sd = ctx;
	struct sd_cluster *c = sd->cluster;
	json_t *res = json_object_get(msg, "result"), *ev;
	bool changed = false;
	size_t i;

	if (res == NULL) {
		session_fail(sd, "watch: etcd sent an error", false);
		return;
	}
	if (json_is_true(json_object_get(res, "canceled")) ||
	    sd_etcd_int(res, "compact_revision", 0) > 0) {
		session_fail(sd, "watch: cancelled by etcd (compaction?): "
			     "reading the members again", false);
		return;
	}
	if (json_is_true(json_object_get(res, "created")) &&
	    c->phase == PH_WATCH) {
		if (c->degraded)
			SD_INFO("cluster: etcd is back (%s) after %lld ms: "
				"%zu members", sd_etcd_endpoint(c->etcd),
				(long long)(now_ms() - c->degraded_since_ms),
				c->n_members);
		c->degraded = false;
		c->fails = 0;
		c->last_error[0] = '\0';
		c->phase = PH_STEADY;
		c->next_ms = c->last_ka_ok_ms +
			     (int64_t)c->o.lease_ttl * 1000 / 3;
	}
	json_array_foreach(json_object_get(res, "events"), i, ev) {
		json_t *kv = json_object_get(ev, "kv");
		const char *type = json_string_value(json_object_get(ev,
								     "type"));
		struct sd_member m;
		int64_t rev = sd_etcd_int(kv, "mod_revision", 0);

		if (rev <= c->revision && rev != 0)
			continue;	/* in the range already */
		if (shared_event(sd, kv, type, rev))
			continue;
		if (member_from_kv(c, kv, &m) != 0)
			continue;
		if (type != NULL && strcmp(type, "DELETE") == 0) {
			if (member_del(c, m.id)) {
				SD_INFO("cluster: member %s left", m.id);
				changed = true;
			}
			member_clear(&m);
		} else {
			SD_INFO("cluster: member %s (%s, capacity %u)", m.id,
				m.underlay ? m.underlay : "no underlay",
				m.capacity);
			changed |= member_put(c, &m);
		}
		if (rev > c->revision)
			c->revision = rev;
	}
	if (sd_etcd_int(json_object_get(res, "header"), "revision", 0) >
	    c->revision && json_array_size(json_object_get(res, "events")))
		c->revision = sd_etcd_int(json_object_get(res, "header"),
					  "revision", c->revision);
	if (changed)
		members_changed(sd);
}

static void
on_watch_end(void *ctx, json_t *reply, long http, const char *error)
{
	struct sluiced *sd = ctx;

	(void)reply;
	(void)http;
	sd->cluster->watch = NULL;
	session_fail(sd, error ? error : "the watch ended", false);
}

static void step_shared(struct sluiced *sd);

static void
on_range(void *ctx, json_t *reply, long http, const char *error)
{
	struct sluiced *sd = ctx;
	struct sd_cluster *c = sd->cluster;
	struct sd_member *old = c->members;
	size_t n_old = c->n_members;
	bool changed;
	json_t *kv;
	size_t i;

	c->op = NULL;
	if (!reply_ok(sd, reply, http, error, "read members"))
		return;
	c->members = NULL;
	c->n_members = 0;
	json_array_foreach(json_object_get(reply, "kvs"), i, kv) {
		struct sd_member m;

		if (member_from_kv(c, kv, &m) == 0)
			member_put(c, &m);
	}
	c->revision = sd_etcd_int(json_object_get(reply, "header"),
				  "revision", 0);
	/* The same set as before (an endpoint change, etcd back): nothing
	 * to rebuild and no one's flows move. */
	changed = n_old != c->n_members;
	for (i = 0; i < n_old && !changed; i++)
		changed = strcmp(old[i].id, c->members[i].id) != 0 ||
			  old[i].capacity != c->members[i].capacity ||
			  ((old[i].underlay == NULL) !=
			   (c->members[i].underlay == NULL)) ||
			  (old[i].underlay && strcmp(old[i].underlay,
						     c->members[i].underlay));
	for (i = 0; i < n_old; i++)
		member_clear(&old[i]);
	free(old);
	if (changed)
		members_changed(sd);
	step_shared(sd);
}

/* Watch the members and the shared key (all of PREFIX/) from R + 1. */
static void
step_watch(struct sluiced *sd)
{
	struct sd_cluster *c = sd->cluster;
	json_t *req = json_pack("{s:{s:o, s:o, s:s}}", "create_request",
		"key", key_json(c->root_prefix),
		"range_end", range_end_json(c->root_prefix),
		"start_revision", "");
	char rev[32];

	snprintf(rev, sizeof(rev), "%lld", (long long)c->revision + 1);
	json_object_set_new(json_object_get(req, "create_request"),
			    "start_revision", json_string(rev));
	c->phase = PH_WATCH;
	c->next_ms = now_ms() + op_timeout_ms(c) * 2;
	c->watch = sd_etcd_stream(c->etcd, "/v3/watch", req, on_watch_msg,
				  on_watch_end, sd);
	if (c->watch == NULL)
		session_fail(sd, "watch: out of memory", false);
}

/* The shared key at the members' revision R: one snapshot of both. */
static void
on_shared_range(void *ctx, json_t *reply, long http, const char *error)
{
	struct sluiced *sd = ctx;
	struct sd_cluster *c = sd->cluster;
	json_t *kv = json_array_get(json_object_get(reply, "kvs"), 0);
	const char *v64 = json_string_value(json_object_get(kv, "value"));
	char *val = NULL;
	size_t len = 0;

	c->op = NULL;
	if (!reply_ok(sd, reply, http, error, "read the shared state"))
		return;
	if (kv == NULL)
		sd_shared_received(sd, NULL, 0, 0);
	else if (v64 != NULL && sd_unb64(v64, &val, &len) == 0)
		sd_shared_received(sd, val, len,
				   sd_etcd_int(kv, "mod_revision", 0));
	else
		sd_shared_received(sd, "", 0, sd_etcd_int(kv, "mod_revision",
							  0));
	free(val);
	step_watch(sd);
}

static void
step_shared(struct sluiced *sd)
{
	struct sd_cluster *c = sd->cluster;
	char rev[32];

	snprintf(rev, sizeof(rev), "%lld", (long long)c->revision);
	c->op = sd_etcd_call(c->etcd, "/v3/kv/range", json_pack("{s:o, s:s}",
		"key", key_json(c->shared_key), "revision", rev),
		op_timeout_ms(c), on_shared_range, sd);
	if (c->op == NULL)
		session_fail(sd, "read the shared state: out of memory", false);
}

static void
step_range(struct sluiced *sd)
{
	struct sd_cluster *c = sd->cluster;

	c->phase = PH_RANGE;
	c->op = sd_etcd_call(c->etcd, "/v3/kv/range", json_pack("{s:o, s:o}",
		"key", key_json(c->members_prefix),
		"range_end", range_end_json(c->members_prefix)),
		op_timeout_ms(c), on_range, sd);
	if (c->op == NULL)
		session_fail(sd, "read members: out of memory", false);
}

static void
on_put(void *ctx, json_t *reply, long http, const char *error)
{
	struct sluiced *sd = ctx;

	sd->cluster->op = NULL;
	if (reply_ok(sd, reply, http, error, "register"))
		step_range(sd);
}

static void
step_put(struct sluiced *sd)
{
	struct sd_cluster *c = sd->cluster;
	json_t *val = json_pack("{s:s, s:o, s:i}", "id", c->node_id,
		"underlay", c->o.underlay ? json_string(c->o.underlay)
					  : json_null(),
		"capacity", (int)c->o.capacity);
	char *text = json_dumps(val, JSON_COMPACT | JSON_SORT_KEYS);
	char *v64 = text ? sd_b64(text, strlen(text)) : NULL;
	char lease[32];

	json_decref(val);
	free(text);
	snprintf(lease, sizeof(lease), "%lld", (long long)c->lease);
	c->phase = PH_PUT;
	c->op = v64 == NULL ? NULL :
		sd_etcd_call(c->etcd, "/v3/kv/put", json_pack("{s:o, s:s, s:s}",
			"key", key_json(c->member_key), "value", v64,
			"lease", lease), op_timeout_ms(c), on_put, sd);
	free(v64);
	if (c->op == NULL)
		session_fail(sd, "register: out of memory", false);
}

static void
on_grant(void *ctx, json_t *reply, long http, const char *error)
{
	struct sluiced *sd = ctx;
	struct sd_cluster *c = sd->cluster;

	c->op = NULL;
	if (!reply_ok(sd, reply, http, error, "lease grant"))
		return;
	c->lease = sd_etcd_int(reply, "ID", 0);
	if (c->lease == 0) {
		session_fail(sd, "lease grant: no lease ID in the answer",
			     true);
		return;
	}
	c->last_ka_ok_ms = now_ms();
	SD_INFO("cluster: lease %llx (TTL %u s) from %s",
		(unsigned long long)c->lease, c->o.lease_ttl,
		sd_etcd_endpoint(c->etcd));
	step_put(sd);
}

static void
step_grant(struct sluiced *sd)
{
	struct sd_cluster *c = sd->cluster;

	c->phase = PH_GRANT;
	c->lease = 0;
	c->op = sd_etcd_call(c->etcd, "/v3/lease/grant",
		json_pack("{s:i}", "TTL", (int)c->o.lease_ttl),
		op_timeout_ms(c), on_grant, sd);
	if (c->op == NULL)
		session_fail(sd, "lease grant: out of memory", false);
}

/* A keepalive's answer: {"result": {"ID", "TTL"}}; TTL 0: expired. */
static int64_t
keepalive_ttl(json_t *reply)
{
	json_t *res = json_object_get(reply, "result");

	return sd_etcd_int(res ? res : reply, "TTL", 0);
}

static void
on_keepalive(void *ctx, json_t *reply, long http, const char *error)
{
	struct sluiced *sd = ctx;
	struct sd_cluster *c = sd->cluster;
	bool check = c->phase == PH_CHECK;

	if (check)
		c->op = NULL;
	else
		c->ka = NULL;
	if (!reply_ok(sd, reply, http, error, "lease keepalive"))
		return;
	if (keepalive_ttl(reply) <= 0) {
		SD_WARN("cluster: lease %llx expired: registering again",
			(unsigned long long)c->lease);
		c->lease = 0;
		if (check) {
			step_grant(sd);
		} else {
			/* Our key went with the lease: a new session puts
			 * it back and reads the set again. */
			sd_etcd_cancel(c->etcd, c->watch);
			c->watch = NULL;
			session_begin(sd);
		}
		return;
	}
	c->last_ka_ok_ms = now_ms();
	if (check)
		step_put(sd);
	else
		c->next_ms = c->last_ka_ok_ms +
			     (int64_t)c->o.lease_ttl * 1000 / 3;
}

static struct sd_etcd_req *
keepalive(struct sluiced *sd)
{
	struct sd_cluster *c = sd->cluster;
	char id[32];

	snprintf(id, sizeof(id), "%lld", (long long)c->lease);
	return sd_etcd_call(c->etcd, "/v3/lease/keepalive",
			    json_pack("{s:s}", "ID", id), op_timeout_ms(c),
			    on_keepalive, sd);
}

static void
on_auth(void *ctx, json_t *reply, long http, const char *error)
{
	struct sluiced *sd = ctx;
	struct sd_cluster *c = sd->cluster;
	const char *token;

	c->op = NULL;
	if (!reply_ok(sd, reply, http, error, "authenticate"))
		return;
	token = json_string_value(json_object_get(reply, "token"));
	sd_etcd_set_token(c->etcd, token);
	c->authed = true;
	session_begin(sd);
}

/* The chain's first step. */
static void
session_begin(struct sluiced *sd)
{
	struct sd_cluster *c = sd->cluster;
	int64_t now = now_ms();

	c->next_ms = -1;
	/* Tokens expire: each session authenticates again. */
	if (sd_etcd_user(c->etcd) != NULL && !c->authed) {
		const char *u = sd_etcd_user(c->etcd);
		const char *colon = strchr(u, ':');
		char name[256];

		snprintf(name, sizeof(name), "%.*s", (int)(colon - u), u);
		sd_etcd_set_token(c->etcd, NULL);
		c->phase = PH_AUTH;
		c->op = sd_etcd_call(c->etcd, "/v3/auth/authenticate",
			json_pack("{s:s, s:s}", "name", name, "password",
				  colon + 1), op_timeout_ms(c), on_auth, sd);
		if (c->op == NULL)
			session_fail(sd, "authenticate: out of memory", false);
		return;
	}
	if (c->lease != 0 &&
	    now - c->last_ka_ok_ms < (int64_t)c->o.lease_ttl * 1000) {
		c->phase = PH_CHECK;
		c->op = keepalive(sd);
		if (c->op == NULL)
			session_fail(sd, "lease check: out of memory", false);
		return;
	}
	step_grant(sd);
}

/* ------------------------------------------------------------------------
 * Life cycle
 */

int
sd_cluster_init(struct sluiced *sd)
{
	struct sd_cluster *c = calloc(1, sizeof(*c));
	struct sd_member self = { 0 };

	if (c == NULL)
		return -ENOMEM;
	c->o = sd->opt.cluster;
	c->node_id = strdup(c->o.node_id ? c->o.node_id : sd->hostname);
	c->next_ms = -1;
	self.id = strdup(c->node_id ? c->node_id : "");
	self.underlay = c->o.underlay ? strdup(c->o.underlay) : NULL;
	self.capacity = c->o.capacity;
	if (c->node_id == NULL || self.id == NULL) {
		member_clear(&self);
		free(c->node_id);
		free(c);
		return -ENOMEM;
	}
	sd->cluster = c;
	/* Single node: the set is the node itself, for good.  Clustered:
	 * it is too until etcd says otherwise, so cluster groups have a
	 * target from the start. */
	member_put(c, &self);
	return 0;
}

int
sd_cluster_start(struct sluiced *sd)
{
	struct sd_cluster *c = sd->cluster;
	struct sd_etcd_opts eo;
	int ret;

	if (c == NULL || c->o.etcd == NULL)
		return 0;
	if (asprintf(&c->members_prefix, "%s/members/",
		     strcmp(c->o.prefix, "/") == 0 ? "" : c->o.prefix) < 0 ||
	    asprintf(&c->member_key, "%s%s", c->members_prefix,
		     c->node_id) < 0 ||
	    asprintf(&c->root_prefix, "%s/", strcmp(c->o.prefix, "/") == 0 ?
		     "" : c->o.prefix) < 0 ||
	    asprintf(&c->shared_key, "%sconfig/shared", c->root_prefix) < 0)
		return -ENOMEM;
	ret = sd_shared_start(sd);
	if (ret != 0)
		return ret;
	eo = (struct sd_etcd_opts){ .endpoints = c->o.etcd,
		.cacert = c->o.cacert, .cert = c->o.cert, .key = c->o.key,
		.user = c->o.user };
	c->etcd = sd_etcd_new(&eo);
	if (c->etcd == NULL) {
		SD_ERR("--etcd %s: %s", c->o.etcd, errno == EINVAL ?
		       "no endpoint" : strerror(errno));
		return -errno;
	}
	ret = sd_loop_add(sd, sd_etcd_fd(c->etcd));
	if (ret != 0)
		return ret;
	srand((unsigned int)(getpid() ^ time(NULL)));
	SD_INFO("cluster: node %s (underlay %s, capacity %u) joining through "
		"etcd %s, key %s, lease TTL %u s", c->node_id,
		c->o.underlay ? c->o.underlay : "none", c->o.capacity,
		c->o.etcd, c->member_key, c->o.lease_ttl);
	c->phase = PH_WAIT;
	session_begin(sd);
	return 0;
}

int
sd_cluster_tick(struct sluiced *sd)
{
	struct sd_cluster *c = sd->cluster;
	int t, left;

	if (c == NULL || c->etcd == NULL)
		return -1;
	t = sd_etcd_run(c->etcd);
	left = sd_shared_tick(sd);
	if (left >= 0 && (t < 0 || left < t))
		t = left;
	if (c->next_ms >= 0 && now_ms() >= c->next_ms) {
		switch (c->phase) {
		case PH_WAIT:
			session_begin(sd);
			break;
		case PH_WATCH:
			session_fail(sd, "watch: etcd did not create it in "
				     "time", false);
			break;
		case PH_STEADY:
			c->next_ms = -1;
			if (c->ka == NULL)
				c->ka = keepalive(sd);
			break;
		default:
			c->next_ms = -1;
			break;
		}
		/* What that started may be due now (a request to send). */
		t = sd_etcd_run(c->etcd);
	}
	if (c->next_ms < 0)
		return t;
	left = (int)(c->next_ms - now_ms());
	if (left < 0)
		left = 0;
	return t < 0 || left < t ? left : t;
}

/* A blocking request for the way out: the lease is revoked so the others
 * drop this node now rather than after its TTL. */
static void
leave_cluster(struct sd_cluster *c)
{
	char id[32];
	int64_t until = now_ms() + 1000;

	if (c->lease == 0)
		return;
	snprintf(id, sizeof(id), "%lld", (long long)c->lease);
	if (sd_etcd_call(c->etcd, "/v3/lease/revoke", json_pack("{s:s}",
			 "ID", id), 1000, NULL, NULL) == NULL)
		return;
	/* The request ends within its own timeout. */
	while (now_ms() < until && !sd_etcd_idle(c->etcd)) {
		sd_etcd_run(c->etcd);
		usleep(2000);
	}
	SD_INFO("cluster: lease %llx revoked; leaving",
		(unsigned long long)c->lease);
}

void
sd_cluster_stop(struct sluiced *sd)
{
	struct sd_cluster *c = sd->cluster;

	if (c == NULL)
		return;
	if (c->etcd != NULL) {
		sd_etcd_cancel(c->etcd, c->op);
		sd_etcd_cancel(c->etcd, c->ka);
		sd_etcd_cancel(c->etcd, c->watch);
		c->op = c->ka = c->watch = NULL;
		leave_cluster(c);
		sd_loop_del(sd, sd_etcd_fd(c->etcd));
		sd_etcd_free(c->etcd);
	}
	sd_shared_free(sd);
	members_clear(c);
	tables_clear(c);
	sl_policy_free(c->eff);
	free(c->eff_text);
	free(c->root_prefix);
	free(c->shared_key);
	free(c->node_id);
	free(c->members_prefix);
	free(c->member_key);
	free(c);
	sd->cluster = NULL;
}

/* ------------------------------------------------------------------------
 * Status, members, metrics
 */

struct sd_etcd *
sd_cluster_etcd(const struct sluiced *sd)
{
	return sd->cluster != NULL ? sd->cluster->etcd : NULL;
}

bool
sd_cluster_ready(const struct sluiced *sd)
{
	return sd->cluster != NULL && sd->cluster->etcd != NULL &&
	       sd->cluster->phase == PH_STEADY && !sd->cluster->degraded;
}

const char *
sd_cluster_shared_key(const struct sluiced *sd)
{
	return sd->cluster != NULL ? sd->cluster->shared_key : NULL;
}

long
sd_cluster_op_timeout(const struct sluiced *sd)
{
	return op_timeout_ms(sd->cluster);
}

bool
sd_cluster_degraded(const struct sluiced *sd)
{
	return sd->cluster != NULL && sd->cluster->degraded;
}

size_t
sd_cluster_n_members(const struct sluiced *sd)
{
	return sd->cluster ? sd->cluster->n_members : 1;
}

uint64_t
sd_cluster_changes(const struct sluiced *sd)
{
	return sd->cluster ? sd->cluster->changes : 0;
}

static const char *
mode(const struct sd_cluster *c)
{
	return c != NULL && c->o.etcd != NULL ? "etcd" : "single";
}

json_t *
sd_cluster_status_json(const struct sluiced *sd)
{
	const struct sd_cluster *c = sd->cluster;
	json_t *o, *tables = json_array();

	if (c == NULL)
		return json_pack("{s:s, s:b, s:i, s:n}", "mode", "single",
				 "degraded", 0, "members", 1,
				 "tables_digest");
	for (size_t i = 0; i < c->n_tables; i++) {
		char hex[17];

		snprintf(hex, sizeof(hex), "%016llx",
			 (unsigned long long)c->tables[i].digest);
		json_array_append_new(tables, json_pack(
			"{s:s, s:s, s:I, s:I, s:I, s:f}",
			"group", c->tables[i].group, "digest", hex,
			"table_size", (json_int_t)c->tables[i].size,
			"targets", (json_int_t)c->tables[i].targets,
			"live", (json_int_t)c->tables[i].live,
			"build_ms", c->tables[i].build_ms));
	}
	o = json_pack("{s:s, s:s, s:b, s:I, s:o, s:o}",
		"mode", mode(c), "node_id", c->node_id,
		"degraded", c->degraded,
		"members", (json_int_t)c->n_members,
		"tables_digest", c->tables_digest[0] ?
			json_string(c->tables_digest) : json_null(),
		"tables", tables);
	if (c->etcd != NULL) {
		json_object_set_new(o, "endpoint",
				    json_string(sd_etcd_endpoint(c->etcd)));
		json_object_set_new(o, "session",
				    json_string(phase_names[c->phase]));
		json_object_set_new(o, "revision",
				    json_integer(c->revision));
		json_object_set_new(o, "member_changes",
				    json_integer((json_int_t)c->changes));
		json_object_set_new(o, "last_error", c->last_error[0] ?
				    json_string(c->last_error) : json_null());
		json_object_set_new(o, "shared", sd_shared_status_json(sd));
	}
	return o;
}

json_t *
sd_cluster_members_json(const struct sluiced *sd)
{
	const struct sd_cluster *c = sd->cluster;
	json_t *list = json_array();

	for (size_t i = 0; c != NULL && i < c->n_members; i++) {
		const struct sd_member *m = &c->members[i];

		json_array_append_new(list, json_pack(
			"{s:s, s:o, s:I, s:b, s:s}", "id", m->id,
			"underlay", m->underlay ? json_string(m->underlay)
						: json_null(),
			"capacity", (json_int_t)m->capacity,
			"self", strcmp(m->id, c->node_id) == 0,
			"state", "alive"));
	}
	return json_pack("{s:s, s:b, s:o}", "mode", mode(c), "degraded",
			 c != NULL && c->degraded, "members", list);
}
