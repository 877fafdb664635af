/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The netlink mirror (lib/netlink*.c) against the kernel's own view.
 *
 * Runs as root in a network namespace of its own (unshare(CLONE_NEWNET)),
 * so the host's network is never touched; skipped (77) otherwise.  Routes,
 * neighbours and addresses are made with `ip` and checked against what
 * `ip -j` prints - an oracle this module's authors did not write: for every
 * prefix of the mirrored table, the kernel's best usable route (lowest
 * metric, dead next hops left out) must equal what the handlers were told,
 * field by field, and nothing else may have been told.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <search.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

#include <cmocka.h>
#include <jansson.h>

#include "sluice/netlink.h"

#define TABLE		1000	/* over 255: only RTA_TABLE names it */
#define TABLE_LOW	232	/* TABLE & 0xff: an 8-bit mix-up shows */
#define TABLE_HIGH	1256	/* TABLE + 256: likewise */
#define TABLE_BURST	2000

/* ------------------------------------------------------------------------
 * Shell helpers
 */

static int
shf(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	if (rc != 0)
		fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
	return rc;
}

#define SH(...) assert_int_equal(shf(__VA_ARGS__), 0)

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* `ip -batch` of a temporary file; force: go on past errors (mutations
 * that may no longer apply - the kernel is the oracle, not the script). */
struct batch {
	char path[64];
	FILE *f;
	unsigned int lines;
};

static void
batch_open(struct batch *b)
{
	int fd;

	snprintf(b->path, sizeof(b->path), "/tmp/sl_test_netlink_XXXXXX");
	fd = mkstemp(b->path);
	assert_true(fd >= 0);
	b->f = fdopen(fd, "w");
	assert_non_null(b->f);
	b->lines = 0;
}

static void __attribute__((format(printf, 2, 3)))
batch_add(struct batch *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(b->f, fmt, ap);
	va_end(ap);
	fputc('\n', b->f);
	b->lines++;
}

static void
batch_run(struct batch *b, bool force)
{
	int rc;

	char cmd[128];

	assert_int_equal(fclose(b->f), 0);
	if (force) {
		snprintf(cmd, sizeof(cmd), "ip -force -batch %s 2>/dev/null",
			 b->path);
		rc = system(cmd);	/* some lines fail on purpose */
		(void)rc;
	} else {
		rc = shf("ip -batch %s", b->path);
		assert_int_equal(rc, 0);
	}
	unlink(b->path);
}

static uint64_t rng_state = 0x5eed5eed12345678ull;

static uint64_t
rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* ------------------------------------------------------------------------
 * What the handlers built
 */

struct view {
	uint32_t table;
	void *routes;		/* tsearch tree of struct sl_nl_route * */
	size_t n_routes;
	void *neighs;		/* struct sl_nl_neigh *, the usable ones */
	size_t n_neighs;
	unsigned int route_calls;
	unsigned int bad;	/* reports that break the contract */
	unsigned int resynced;
	unsigned int failed;	/* add=false for NUD_FAILED */
	struct sl_nl_neigh last_failed;
};

static int
route_cmp(const void *a, const void *b)
{
	const struct sl_nl_route *x = a, *y = b;

	return memcmp(&x->prefix, &y->prefix, sizeof(x->prefix));
}

static int
neigh_cmp(const void *a, const void *b)
{
	const struct sl_nl_neigh *x = a, *y = b;

	if (x->ifindex != y->ifindex)
		return x->ifindex < y->ifindex ? -1 : 1;
	return memcmp(&x->addr, &y->addr, sizeof(x->addr));
}

static int
nexthop_cmp(const void *a, const void *b)
{
	const struct sl_nl_nexthop *x = a, *y = b;
	int c;

	if (x->ifindex != y->ifindex)
		return x->ifindex < y->ifindex ? -1 : 1;
	if (x->gateway.family != y->gateway.family)
		return x->gateway.family < y->gateway.family ? -1 : 1;
	c = memcmp(x->gateway.addr, y->gateway.addr, 16);
	if (c != 0)
		return c;
	return (int)x->weight - (int)y->weight;
}

static const char *
fmt_route(const struct sl_nl_route *r, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN];
	size_t off;
	unsigned int i;

	inet_ntop(r->prefix.family == SL_FAMILY_IPV4 ? AF_INET : AF_INET6,
		  r->prefix.addr, a, sizeof(a));
	off = (size_t)snprintf(buf, size, "%s/%u type %u proto %u metric %u "
			       "nhid %u:", a, r->prefix.len, r->type,
			       r->protocol, r->priority, r->nh_id);
	for (i = 0; i < r->n_nexthops && off < size; i++) {
		const struct sl_nl_nexthop *nh = &r->nexthops[i];

		a[0] = '\0';
		if (nh->gateway.family != SL_FAMILY_NONE)
			inet_ntop(nh->gateway.family == SL_FAMILY_IPV4 ?
				  AF_INET : AF_INET6, nh->gateway.addr, a,
				  sizeof(a));
		off += (size_t)snprintf(buf + off, size - off,
					" [if %d gw %s w %u]", nh->ifindex,
					a[0] ? a : "-", nh->weight);
	}
	return buf;
}

static void
on_route(void *arg, bool add, const struct sl_nl_route *r)
{
	struct view *v = arg;
	void **slot = tfind(r, &v->routes, route_cmp);
	unsigned int i;

	v->route_calls++;
	if (r->table != v->table)
		v->bad++;
	if (!add) {
		struct sl_nl_route *old;

		if (slot == NULL) {
			v->bad++;	/* deleting what was never added */
			return;
		}
		old = *slot;
		tdelete(old, &v->routes, route_cmp);
		free(old);
		v->n_routes--;
		return;
	}
	/* The shape the header promises. */
	if (r->type == RTN_UNICAST ?
	    (r->n_nexthops == 0 || r->n_nexthops > SL_POLICY_NEXTHOPS_MAX) :
	    r->n_nexthops != 0)
		v->bad++;
	for (i = 0; i < r->n_nexthops; i++) {
		if (r->nexthops[i].weight < 1 || r->nexthops[i].weight > 256)
			v->bad++;
		if (i > 0 && nexthop_cmp(&r->nexthops[i - 1],
					 &r->nexthops[i]) > 0)
			v->bad++;
	}
	if (slot != NULL) {
		**(struct sl_nl_route **)slot = *r;
	} else {
		struct sl_nl_route *copy = malloc(sizeof(*copy));

		assert_non_null(copy);
		*copy = *r;
		assert_non_null(tsearch(copy, &v->routes, route_cmp));
		v->n_routes++;
	}
}

static void
on_neigh(void *arg, bool add, const struct sl_nl_neigh *n)
{
	struct view *v = arg;
	void **slot = tfind(n, &v->neighs, neigh_cmp);

	if (!add) {
		if (n->state == NUD_FAILED) {
			v->failed++;
			v->last_failed = *n;
		}
		if (slot != NULL) {
			struct sl_nl_neigh *old = *slot;

			tdelete(old, &v->neighs, neigh_cmp);
			free(old);
			v->n_neighs--;
		}
		return;
	}
	if (!n->has_lladdr)
		v->bad++;
	if (slot != NULL) {
		**(struct sl_nl_neigh **)slot = *n;
	} else {
		struct sl_nl_neigh *copy = malloc(sizeof(*copy));

		assert_non_null(copy);
		*copy = *n;
		assert_non_null(tsearch(copy, &v->neighs, neigh_cmp));
		v->n_neighs++;
	}
}

static void
on_resynced(void *arg, unsigned int changes)
{
	struct view *v = arg;

	(void)changes;
	v->resynced++;
}

static void
on_log(void *arg, const char *msg)
{
	(void)arg;
	fprintf(stderr, "[netlink] %s\n", msg);
}

static void
view_free(struct view *v)
{
	while (v->routes != NULL) {
		struct sl_nl_route *r = *(struct sl_nl_route **)v->routes;

		tdelete(r, &v->routes, route_cmp);
		free(r);
	}
	while (v->neighs != NULL) {
		struct sl_nl_neigh *n = *(struct sl_nl_neigh **)v->neighs;

		tdelete(n, &v->neighs, neigh_cmp);
		free(n);
	}
	memset(v, 0, sizeof(*v));
}

static struct sl_nl *
open_session(struct view *v, uint32_t table, bool routes, bool neigh)
{
	struct sl_nl_handlers h = {
		.route = routes ? on_route : NULL,
		.neigh = neigh ? on_neigh : NULL,
		.resynced = on_resynced,
		.log = on_log,
		.arg = v,
	};
	char err[256] = "";
	struct sl_nl *nl;

	memset(v, 0, sizeof(*v));
	v->table = table;
	nl = sl_nl_open(table, &h, err, sizeof(err));
	if (nl == NULL)
		fprintf(stderr, "sl_nl_open: %s\n", err);
	assert_non_null(nl);
	return nl;
}

/* Handle events until none came for two rounds in a row. */
static void
settle(struct sl_nl *nl)
{
	int quiet = 0;

	while (quiet < 2) {
		struct pollfd p = { .fd = sl_nl_fd(nl), .events = POLLIN };
		int r = poll(&p, 1, 50);
		int n = sl_nl_poll(nl, 0);

		if (n < 0)
			fprintf(stderr, "sl_nl_poll: %s\n", sl_nl_errmsg(nl));
		assert_true(n >= 0);
		quiet = n == 0 && r == 0 ? quiet + 1 : 0;
	}
}

/* ------------------------------------------------------------------------
 * The oracle: `ip -j route show table N`, `ip -j nexthop show`
 */

static json_t *
ip_json(const char *fmt, ...)
{
	char cmd[256];
	json_error_t jerr;
	json_t *j;
	va_list ap;
	FILE *p;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	p = popen(cmd, "r");
	assert_non_null(p);
	j = json_loadf(p, 0, &jerr);
	pclose(p);
	if (j == NULL)	/* "ip nexthop" on a kernel without objects */
		j = json_array();
	return j;
}

static bool
parse_addr(const char *s, struct sl_prefix *p, bool host)
{
	char buf[64], *slash;

	memset(p, 0, sizeof(*p));
	snprintf(buf, sizeof(buf), "%s", s);
	slash = strchr(buf, '/');
	if (slash != NULL)
		*slash = '\0';
	if (inet_pton(AF_INET, buf, p->addr) == 1) {
		p->family = SL_FAMILY_IPV4;
		p->len = 32;
	} else if (inet_pton(AF_INET6, buf, p->addr) == 1) {
		p->family = SL_FAMILY_IPV6;
		p->len = 128;
	} else {
		return false;
	}
	if (slash != NULL && !host)
		p->len = (uint8_t)atoi(slash + 1);
	return true;
}

static uint8_t
proto_num(const char *name)
{
	static const struct {
		const char *name;
		uint8_t num;
	} tab[] = {
		{ "redirect", 1 }, { "kernel", 2 }, { "boot", 3 },
		{ "static", 4 }, { "ra", 9 }, { "zebra", 11 }, { "bird", 12 },
		{ "dhcp", 16 },
	};
	size_t i;

	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (strcmp(tab[i].name, name) == 0)
			return tab[i].num;
	return (uint8_t)atoi(name);
}

static uint8_t
type_num(const char *name)
{
	if (strcmp(name, "blackhole") == 0)
		return RTN_BLACKHOLE;
	if (strcmp(name, "unreachable") == 0)
		return RTN_UNREACHABLE;
	if (strcmp(name, "prohibit") == 0)
		return RTN_PROHIBIT;
	if (strcmp(name, "throw") == 0)
		return RTN_THROW;
	if (strcmp(name, "unicast") == 0)
		return RTN_UNICAST;
	return 0;
}

static bool
json_flag(json_t *o, const char *flag)
{
	json_t *flags = json_object_get(o, "flags"), *f;
	size_t i;

	json_array_foreach(flags, i, f)
		if (json_is_string(f) && strcmp(json_string_value(f), flag) == 0)
			return true;
	return false;
}

/* One next hop of a route or nexthop object; false when dead. */
static bool
json_nexthop(json_t *o, struct sl_nl_nexthop *nh, unsigned int weight)
{
	json_t *gw = json_object_get(o, "gateway");
	json_t *via = json_object_get(o, "via");
	json_t *dev = json_object_get(o, "dev");

	memset(nh, 0, sizeof(*nh));
	if (json_flag(o, "dead"))
		return false;
	if (via != NULL)
		gw = json_object_get(via, "host");
	if (gw != NULL)
		assert_true(parse_addr(json_string_value(gw), &nh->gateway,
				       true));
	if (dev != NULL)
		nh->ifindex = (int)if_nametoindex(json_string_value(dev));
	nh->weight = (uint16_t)weight;
	return true;
}

static json_t *
nh_object(json_t *nhs, json_int_t id)
{
	json_t *o;
	size_t i;

	json_array_foreach(nhs, i, o)
		if (json_integer_value(json_object_get(o, "id")) == id)
			return o;
	return NULL;
}

struct oroute {
	struct sl_nl_route r;
	bool usable;
	unsigned int order;
};

static int
oroute_cmp(const void *a, const void *b)
{
	const struct oroute *x = a, *y = b;
	int c = memcmp(&x->r.prefix, &y->r.prefix, sizeof(x->r.prefix));

	if (c != 0)
		return c;
	if (x->r.priority != y->r.priority)
		return x->r.priority < y->r.priority ? -1 : 1;
	return x->order < y->order ? -1 : 1;
}

static void
oracle_add(struct oroute *o, json_t *e, json_t *nhs, uint8_t family,
	   uint32_t table)
{
	json_t *t = json_object_get(e, "type");
	json_t *p = json_object_get(e, "protocol");
	json_t *mp = json_object_get(e, "nexthops"), *x;
	json_int_t nhid = json_integer_value(json_object_get(e, "nhid"));
	const char *dst = json_string_value(json_object_get(e, "dst"));
	struct sl_nl_route *r = &o->r;
	struct sl_nl_nexthop nh;
	size_t i;

	memset(r, 0, sizeof(*r));
	if (strcmp(dst, "default") == 0) {
		r->prefix.family = family;
	} else {
		assert_true(parse_addr(dst, &r->prefix, false));
	}
	r->table = table;
	r->type = t != NULL ? type_num(json_string_value(t)) : RTN_UNICAST;
	r->protocol = p != NULL ? proto_num(json_string_value(p)) :
		RTPROT_BOOT;
	r->priority = (uint32_t)json_integer_value(json_object_get(e, "metric"));
	r->nh_id = (uint32_t)nhid;
	if (nhid != 0) {
		/* Through the kernel's nexthop objects, whatever the route
		 * message carries (compat mode or not). */
		json_t *obj = nh_object(nhs, nhid), *g;

		assert_non_null(obj);
		if (json_object_get(obj, "blackhole") != NULL)
			r->type = RTN_BLACKHOLE;
		g = json_object_get(obj, "group");
		json_array_foreach(g, i, x) {
			json_t *w = json_object_get(x, "weight");
			json_t *m = nh_object(nhs, json_integer_value(
						json_object_get(x, "id")));

			if (m != NULL && json_nexthop(m, &nh, w != NULL ?
					(unsigned int)json_integer_value(w) : 1))
				r->nexthops[r->n_nexthops++] = nh;
		}
		if (g == NULL && r->type == RTN_UNICAST &&
		    json_nexthop(obj, &nh, 1))
			r->nexthops[r->n_nexthops++] = nh;
	} else if (r->type != RTN_UNICAST) {
		/* "dev lo" of blackholes & co is no next hop */
	} else if (mp != NULL) {
		json_array_foreach(mp, i, x) {
			json_t *w = json_object_get(x, "weight");

			if (json_nexthop(x, &nh, w != NULL ?
					 (unsigned int)json_integer_value(w) : 1))
				r->nexthops[r->n_nexthops++] = nh;
		}
	} else if (json_nexthop(e, &nh, 1)) {
		r->nexthops[r->n_nexthops++] = nh;
	}
	if (r->n_nexthops == 1)
		r->nexthops[0].weight = 1;	/* a lone next hop takes all */
	qsort(r->nexthops, r->n_nexthops, sizeof(nh), nexthop_cmp);
	o->usable = r->type != RTN_UNICAST || r->n_nexthops > 0;
}

/* The kernel's best usable route per prefix of table, sorted by prefix. */
static size_t
oracle_routes(uint32_t table, struct oroute **out)
{
	json_t *v4 = ip_json("ip -j -4 route show table %u 2>/dev/null", table);
	json_t *v6 = ip_json("ip -j -6 route show table %u 2>/dev/null", table);
	json_t *nhs = ip_json("ip -j nexthop show 2>/dev/null");
	size_t n = json_array_size(v4) + json_array_size(v6), k = 0, best = 0;
	struct oroute *o = calloc(n + 1, sizeof(*o));
	json_t *e;
	size_t i;

	assert_non_null(o);
	json_array_foreach(v4, i, e) {
		if (json_object_get(e, "tos") == NULL) {	/* unsupported */
			oracle_add(&o[k], e, nhs, SL_FAMILY_IPV4, table);
			o[k].order = (unsigned int)k;
			k++;
		}
	}
	json_array_foreach(v6, i, e) {
		oracle_add(&o[k], e, nhs, SL_FAMILY_IPV6, table);
		o[k].order = (unsigned int)k;
		k++;
	}
	json_decref(v4);
	json_decref(v6);
	json_decref(nhs);
	qsort(o, k, sizeof(*o), oroute_cmp);
	for (i = 0; i < k; i++) {
		if (!o[i].usable)
			continue;
		if (best > 0 && memcmp(&o[best - 1].r.prefix, &o[i].r.prefix,
				       sizeof(o[i].r.prefix)) == 0)
			continue;	/* a backup: higher metric or later */
		o[best++] = o[i];
	}
	*out = o;
	return best;
}

/* The view equals the kernel's table, every field of every prefix. */
static void
assert_view_is_kernel(struct view *v, uint32_t table, size_t min_routes)
{
	struct oroute *o;
	size_t n = oracle_routes(table, &o), i, bad = 0;
	char a[1024], b[1024];

	for (i = 0; i < n; i++) {
		void **slot = tfind(&o[i].r, &v->routes, route_cmp);

		if (slot != NULL && memcmp(*slot, &o[i].r, sizeof(o[i].r)) == 0)
			continue;
		if (bad++ < 10)
			fprintf(stderr, "kernel: %s\n  view: %s\n",
				fmt_route(&o[i].r, a, sizeof(a)),
				slot != NULL ? fmt_route(*slot, b, sizeof(b)) :
				"(none)");
	}
	if (n != v->n_routes)
		fprintf(stderr, "kernel has %zu prefixes, the view %zu\n", n,
			v->n_routes);
	free(o);
	fprintf(stderr, "table %u: %zu prefixes, %zu reported, %zu differ, "
		"%u route reports so far\n", table, n, v->n_routes, bad,
		v->route_calls);
	assert_int_equal(bad, 0);
	assert_int_equal(n, v->n_routes);
	assert_true(n >= min_routes);
	assert_int_equal(v->bad, 0);
}

/* ------------------------------------------------------------------------
 * Random tables
 */

struct gen_route {
	struct sl_prefix p;
	char dst[64];
	uint32_t metric;
	uint32_t backup;	/* metric of a backup route; 0: none */
	bool ecmp;
	bool unicast_gw;	/* a plain gateway route */
	char via[80];		/* its (first) gateway, "via G dev D" */
};

static void
free_nothing(void *p)
{
	(void)p;
}

static const char *const protos[] = { "", "proto static", "proto bird",
				      "proto zebra" };

/* A gateway on d0 or d1; hop j of a route differs from its other hops. */
static void
gw_of(uint8_t family, unsigned int j, char *buf, size_t size)
{
	unsigned int dev = rnd() % 2;

	if (family == SL_FAMILY_IPV4)
		snprintf(buf, size, "via 10.%u.0.%u dev d%u", dev,
			 (unsigned int)(2 + (rnd() % 40) * 6 + j), dev);
	else
		snprintf(buf, size, "via 2001:db8:%u::%x dev d%u", dev,
			 (unsigned int)(2 + (rnd() % 600) * 6 + j), dev);
}

static void
random_prefix(struct sl_prefix *p, uint8_t family)
{
	unsigned int i;

	memset(p, 0, sizeof(*p));
	p->family = family;
	if (family == SL_FAMILY_IPV4) {
		uint32_t a = 0xc6120000u | (uint32_t)(rnd() & 0x1ffff);

		p->len = (uint8_t)(15 + rnd() % 14);	/* 15..28: overlaps */
		a &= ~0u << (32 - p->len);
		p->addr[0] = (uint8_t)(a >> 24);
		p->addr[1] = (uint8_t)(a >> 16);
		p->addr[2] = (uint8_t)(a >> 8);
		p->addr[3] = (uint8_t)a;
		return;
	}
	p->len = (uint8_t)(36 + rnd() % 29);	/* 36..64 in 2001:db8:a000::/36 */
	p->addr[0] = 0x20, p->addr[1] = 0x01, p->addr[2] = 0x0d;
	p->addr[3] = 0xb8;
	p->addr[4] = (uint8_t)(0xa0 | (rnd() & 0x0f));
	for (i = 5; i < 8; i++)
		p->addr[i] = (uint8_t)rnd();
	for (i = p->len; i < 64; i++)
		p->addr[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
}

/* n distinct random routes of family into table: single gateways, ECMP
 * with weights, blackhole, unreachable, prohibit, throw, on-link, IPv4 via
 * an IPv6 gateway, nexthop objects, and backups at a higher metric. */
static void
gen_routes(struct batch *b, uint8_t family, uint32_t table, unsigned int n,
	   struct gen_route *out)
{
	const char *ip = "route";	/* the family follows the prefix */
	void *seen = NULL;
	unsigned int i = 0, j;

	while (i < n) {
		struct gen_route *g = &out[i];
		const char *proto = protos[rnd() % 4];
		char a[INET6_ADDRSTRLEN], via[80], hops[1024];
		unsigned int kind = rnd() % 20;
		void **s;

		memset(g, 0, sizeof(*g));
		random_prefix(&g->p, family);
		s = tsearch(&g->p, &seen, route_cmp);
		assert_non_null(s);
		if (*s != &g->p)
			continue;	/* drawn before */
		inet_ntop(family == SL_FAMILY_IPV4 ? AF_INET : AF_INET6,
			  g->p.addr, a, sizeof(a));
		snprintf(g->dst, sizeof(g->dst), "%s/%u", a, g->p.len);
		g->metric = family == SL_FAMILY_IPV4 ?
			(rnd() % 3 == 0 ? 10 : 0) : 1024;
		if (kind < 8) {
			gw_of(family, 0, via, sizeof(via));
			snprintf(g->via, sizeof(g->via), "%s", via);
			batch_add(b, "%s add %s table %u metric %u %s %s", ip,
				  g->dst, table, g->metric, via, proto);
			g->unicast_gw = true;
		} else if (kind < 12) {
			size_t off = 0;

			for (j = 0; j < 2 + rnd() % 4; j++) {
				gw_of(family, j, via, sizeof(via));
				if (j == 0)
					snprintf(g->via, sizeof(g->via), "%s",
						 via);
				off += (size_t)snprintf(hops + off,
						sizeof(hops) - off,
						" nexthop %s weight %u", via,
						(unsigned int)(1 + rnd() % 256));
			}
			batch_add(b, "%s add %s table %u metric %u %s%s", ip,
				  g->dst, table, g->metric, proto, hops);
			g->ecmp = true;
		} else if (kind < 16) {
			static const char *const types[] = {
				"blackhole", "unreachable", "prohibit", "throw"
			};

			batch_add(b, "%s add %s %s table %u metric %u %s", ip,
				  types[kind - 12], g->dst, table, g->metric,
				  proto);
		} else if (kind == 16) {
			batch_add(b, "%s add %s table %u metric %u dev d1 %s",
				  ip, g->dst, table, g->metric, proto);
		} else if (kind == 17 && family == SL_FAMILY_IPV4) {
			batch_add(b, "route add %s table %u metric %u via inet6 "
				  "2001:db8::%x dev d0 %s", g->dst, table,
				  g->metric, (unsigned int)(5 + rnd() % 100),
				  proto);
		} else {
			/* Nexthop objects: 1, 2, 5 (group), 6 (blackhole);
			 * IPv6: 11, 12, 15 (group). */
			static const unsigned int v4[] = { 1, 2, 5, 5, 6 };
			static const unsigned int v6[] = { 11, 12, 15, 15 };
			unsigned int id = family == SL_FAMILY_IPV4 ?
				v4[rnd() % 5] : v6[rnd() % 4];

			batch_add(b, "%s add %s table %u metric %u nhid %u %s",
				  ip, g->dst, table, g->metric, id, proto);
		}
		if (rnd() % 6 == 0) {
			g->backup = g->metric + 100 + (uint32_t)(rnd() % 50);
			gw_of(family, 0, via, sizeof(via));
			batch_add(b, "%s add %s table %u metric %u %s", ip,
				  g->dst, table, g->backup, via);
		}
		i++;
	}
	tdestroy(seen, free_nothing);
}

/* ------------------------------------------------------------------------
 * Topology: d0 and d1 (veth pairs: this kernel may have no dummy driver)
 * with IPv4 and IPv6 subnets, and nexthop objects 1, 2, 5 (group 1,2),
 * 6 (blackhole), 11, 12, 15 (group 11,12).
 */

static int
topology_up(void **state)
{
	(void)state;
	return shf("ip link add d0 type veth peer name d0p && "
		   "ip link add d1 type veth peer name d1p && "
		   "ip link set d0p up && ip link set d1p up && "
		   "ip link set d0 up && ip link set d1 up && "
		   "ip addr add 10.0.0.1/24 dev d0 && "
		   "ip addr add 10.1.0.1/24 dev d1 && "
		   "ip -6 addr add 2001:db8::1/64 dev d0 nodad && "
		   "ip -6 addr add 2001:db8:1::1/64 dev d1 nodad && "
		   "ip nexthop add id 1 via 10.0.0.2 dev d0 && "
		   "ip nexthop add id 2 via 10.1.0.2 dev d1 && "
		   "ip nexthop add id 5 group 1,5/2,2 && "
		   "ip nexthop add id 6 blackhole && "
		   "ip nexthop add id 11 via 2001:db8::2 dev d0 && "
		   "ip nexthop add id 12 via 2001:db8:1::2 dev d1 && "
		   "ip nexthop add id 15 group 11,3/12,7") != 0;
}

static int
topology_down(void **state)
{
	(void)state;
	shf("(ip link del d0; ip link del d1; ip nexthop flush; "
	    "for t in %u %u %u %u; do ip route flush table $t; "
	    "ip -6 route flush table $t; done; "
	    "sysctl -qw net.ipv4.nexthop_compat_mode=1) >/dev/null 2>&1",
	    TABLE, TABLE_LOW, TABLE_HIGH, TABLE_BURST);
	return 0;
}

/* ------------------------------------------------------------------------
 * Routes
 */

#define N_ROUTES	1000
#define N_OTHER		80

static void
test_dump_then_events_mirror_the_table_with_every_field(void **state)
{
	static struct gen_route v4[N_ROUTES], v6[N_ROUTES], more[200],
		other[N_OTHER];
	struct sl_nl_stats st;
	struct batch b;
	struct view v;
	struct sl_nl *nl;
	unsigned int i;

	(void)state;
	batch_open(&b);
	gen_routes(&b, SL_FAMILY_IPV4, TABLE, N_ROUTES, v4);
	gen_routes(&b, SL_FAMILY_IPV6, TABLE, N_ROUTES, v6);
	/* Other tables, some with the same low byte: never reported. */
	gen_routes(&b, SL_FAMILY_IPV4, TABLE_LOW, N_OTHER, other);
	gen_routes(&b, SL_FAMILY_IPV6, TABLE_LOW, N_OTHER, other);
	gen_routes(&b, SL_FAMILY_IPV4, TABLE_HIGH, N_OTHER, other);
	gen_routes(&b, SL_FAMILY_IPV6, TABLE_HIGH, N_OTHER, other);
	/* TOS routes are beyond the dataplane: ignored and counted. */
	batch_add(&b, "route add 198.51.100.0/24 tos 0x10 table %u via "
		  "10.0.0.9", TABLE);
	batch_run(&b, true);

	nl = open_session(&v, TABLE, true, false);
	assert_int_equal(sl_nl_dump(nl), 0);
	assert_view_is_kernel(&v, TABLE, 2 * N_ROUTES * 9 / 10);
	sl_nl_get_stats(nl, &st);
	assert_true(st.routes_unsupported >= 1);
	assert_true(st.nh_routes > 0);

	/* Deletes, replacements, ECMP members added and removed, best
	 * metrics deleted so that backups show, new routes, nexthop groups
	 * replaced. */
	batch_open(&b);
	for (i = 0; i < N_ROUTES; i++) {
		const struct gen_route *g4 = &v4[i], *g6 = &v6[i];
		char via[80];

		switch (i % 10) {
		case 0:
			batch_add(&b, "route del %s table %u metric %u",
				  g4->dst, TABLE, g4->metric);
			batch_add(&b, "route del %s table %u metric %u",
				  g6->dst, TABLE, g6->metric);
			break;
		case 1:
			gw_of(SL_FAMILY_IPV4, 0, via, sizeof(via));
			batch_add(&b, "route replace %s table %u metric %u %s",
				  g4->dst, TABLE, g4->metric, via);
			gw_of(SL_FAMILY_IPV6, 0, via, sizeof(via));
			batch_add(&b, "route replace %s table %u metric %u "
				  "%s proto static", g6->dst, TABLE, g6->metric,
				  via);
			break;
		case 2:
		case 3:
			if (g4->ecmp || g4->unicast_gw)
				batch_add(&b, "route replace %s table %u "
					  "metric %u nexthop %s weight 7 "
					  "nexthop via 10.1.0.251 dev d1 "
					  "nexthop via 10.0.0.252 dev d0 "
					  "weight 200", g4->dst, TABLE,
					  g4->metric, g4->via);
			if (g6->ecmp || g6->unicast_gw)
				batch_add(&b, "route append %s table %u "
					  "metric %u via 2001:db8:1::fffe "
					  "dev d1", g6->dst, TABLE, g6->metric);
			break;
		case 4:
			/* One sibling of an IPv6 multipath route goes. */
			if (g6->ecmp)
				batch_add(&b, "route del %s table %u "
					  "metric %u %s", g6->dst, TABLE,
					  g6->metric, g6->via);
			break;
		default:
			if (g4->backup != 0 && i % 2 == 0)
				batch_add(&b, "route del %s table %u metric %u",
					  g4->dst, TABLE, g4->metric);
			if (g6->backup != 0 && i % 2 == 0)
				batch_add(&b, "route del %s table %u "
					  "metric %u", g6->dst, TABLE,
					  g6->metric);
		}
	}
	batch_add(&b, "nexthop replace id 5 group 1,9/2,1");
	batch_add(&b, "nexthop replace id 15 group 11/12,200");
	batch_add(&b, "nexthop replace id 11 via 2001:db8::3 dev d0");
	batch_run(&b, true);
	batch_open(&b);
	gen_routes(&b, SL_FAMILY_IPV4, TABLE, 100, more);
	gen_routes(&b, SL_FAMILY_IPV6, TABLE, 100, more + 100);
	batch_run(&b, true);
	settle(nl);
	assert_view_is_kernel(&v, TABLE, N_ROUTES);
	sl_nl_get_stats(nl, &st);
	assert_int_equal(st.resyncs, 0);	/* events alone did it */

	/* A link going down flushes IPv4 routes and kills next hops and
	 * nexthop objects without an event; coming up revives next hops. */
	SH("ip link set d1 down");
	settle(nl);
	assert_view_is_kernel(&v, TABLE, N_ROUTES / 2);
	SH("ip link set d1 up");
	settle(nl);
	assert_view_is_kernel(&v, TABLE, N_ROUTES / 2);
	sl_nl_get_stats(nl, &st);
	assert_true(st.link_resyncs >= 2);
	assert_int_equal(st.overruns, 0);

	sl_nl_close(nl);
	view_free(&v);
}

/* With net.ipv4.nexthop_compat_mode=0 route messages carry only the
 * nexthop object's id, and changing an object sends no route event: the
 * module resolves and re-reports through its copy of the objects. */
static void
test_nexthop_objects_are_resolved_and_followed(void **state)
{
	static struct gen_route g[400];
	struct sl_nl_stats st;
	struct batch b;
	struct view v;
	struct sl_nl *nl;
	unsigned int i;

	(void)state;
	SH("sysctl -qw net.ipv4.nexthop_compat_mode=0");
	batch_open(&b);
	gen_routes(&b, SL_FAMILY_IPV4, TABLE, 100, g);
	for (i = 0; i < 150; i++) {
		batch_add(&b, "route add 100.64.%u.0/24 table %u nhid %u", i,
			  TABLE, i % 3 == 0 ? 1 : i % 3 == 1 ? 5 : 6);
		batch_add(&b, "route add 2001:db8:b:%x::/64 table %u "
			  "nhid %u", i, TABLE, i % 2 ? 12 : 15);
	}
	batch_run(&b, false);
	nl = open_session(&v, TABLE, true, false);
	assert_int_equal(sl_nl_dump(nl), 0);
	assert_view_is_kernel(&v, TABLE, 350);

	SH("ip nexthop replace id 5 group 1,2/2,250");
	settle(nl);
	assert_view_is_kernel(&v, TABLE, 350);
	SH("ip nexthop replace id 1 via 10.0.0.99 dev d0");
	SH("ip nexthop replace id 12 via 2001:db8:1::99 dev d1");
	settle(nl);
	assert_view_is_kernel(&v, TABLE, 350);
	/* A member goes: its group shrinks, routes through it go. */
	SH("ip nexthop del id 2");
	SH("ip nexthop del id 11");
	settle(nl);
	assert_view_is_kernel(&v, TABLE, 250);
	sl_nl_get_stats(nl, &st);
	assert_int_equal(st.resyncs, 0);	/* no re-read: the objects */
	assert_true(st.nh_routes >= 250);

	sl_nl_close(nl);
	view_free(&v);
}

/* A tiny event buffer and a burst of 10,000 route adds lose events
 * (ENOBUFS); the module re-reads the table and ends equal to the kernel. */
static void
test_lost_events_resync_to_the_kernel_state(void **state)
{
	static struct gen_route v4[5000], v6[5000];
	struct sl_nl_stats st;
	struct batch b;
	struct view v;
	struct sl_nl *nl;
	unsigned int i;

	(void)state;
	nl = open_session(&v, TABLE_BURST, true, false);
	assert_int_equal(sl_nl_set_event_rcvbuf(nl, 2048), 0);
	assert_int_equal(sl_nl_dump(nl), 0);
	assert_int_equal(v.n_routes, 0);

	batch_open(&b);
	gen_routes(&b, SL_FAMILY_IPV4, TABLE_BURST, 5000, v4);
	gen_routes(&b, SL_FAMILY_IPV6, TABLE_BURST, 5000, v6);
	batch_run(&b, true);
	settle(nl);
	sl_nl_get_stats(nl, &st);
	assert_true(st.overruns >= 1);
	assert_true(v.resynced >= 1);
	assert_view_is_kernel(&v, TABLE_BURST, 9000);

	batch_open(&b);
	for (i = 0; i < 5000; i += 2) {
		batch_add(&b, "route del %s table %u metric %u", v4[i].dst,
			  TABLE_BURST, v4[i].metric);
		batch_add(&b, "route del %s table %u metric %u", v6[i].dst,
			  TABLE_BURST, v6[i].metric);
	}
	batch_run(&b, true);
	settle(nl);
	sl_nl_get_stats(nl, &st);
	assert_true(st.overruns >= 2);
	assert_view_is_kernel(&v, TABLE_BURST, 4000);

	sl_nl_close(nl);
	view_free(&v);
}

/* ------------------------------------------------------------------------
 * Neighbours
 */

static const char *const nud_usable[] = { "REACHABLE", "STALE", "DELAY",
					  "PROBE", "PERMANENT", "NOARP" };

static bool
parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6], i;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4],
		   &b[5]) != 6)
		return false;
	for (i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return true;
}

/* The view's neighbours equal the usable ones `ip -j neigh` lists. */
static void
assert_neighbours_are_kernel(struct view *v)
{
	json_t *all[2] = { ip_json("ip -j -4 neigh show"),
			   ip_json("ip -j -6 neigh show") }, *e;
	size_t n = 0, f, i, k;

	for (f = 0; f < 2; f++) {
		json_array_foreach(all[f], i, e) {
			const char *dev = json_string_value(
				json_object_get(e, "dev"));
			json_t *ll = json_object_get(e, "lladdr");
			json_t *states = json_object_get(e, "state");
			struct sl_nl_neigh key, *got;
			bool usable = false;
			uint8_t mac[6];
			void **slot;
			json_t *s;

			json_array_foreach(states, k, s)
				for (size_t u = 0; u < 6; u++)
					usable |= strcmp(json_string_value(s),
							 nud_usable[u]) == 0;
			if (!usable || ll == NULL || dev == NULL)
				continue;
			memset(&key, 0, sizeof(key));
			key.ifindex = (int)if_nametoindex(dev);
			assert_true(parse_addr(json_string_value(
				json_object_get(e, "dst")), &key.addr, true));
			if ((key.addr.family == SL_FAMILY_IPV6 &&
			     key.addr.addr[0] == 0xff))
				continue;	/* multicast */
			slot = tfind(&key, &v->neighs, neigh_cmp);
			if (slot == NULL)
				fprintf(stderr, "kernel neighbour %s on %s "
					"not reported\n",
					json_string_value(json_object_get(e,
								"dst")), dev);
			assert_non_null(slot);
			got = *slot;
			assert_true(parse_mac(json_string_value(ll), mac));
			assert_memory_equal(got->lladdr, mac, 6);
			n++;
		}
		json_decref(all[f]);
	}
	assert_int_equal(n, v->n_neighs);
	assert_int_equal(v->bad, 0);
}

static const struct sl_nl_neigh *
view_neigh(struct view *v, int ifindex, const char *addr)
{
	struct sl_nl_neigh key;
	void **slot;

	memset(&key, 0, sizeof(key));
	key.ifindex = ifindex;
	assert_true(parse_addr(addr, &key.addr, true));
	slot = tfind(&key, &v->neighs, neigh_cmp);
	return slot != NULL ? *slot : NULL;
}

static void
test_neighbours_are_reported_added_changed_and_deleted(void **state)
{
	const struct sl_nl_neigh *n;
	int d0 = sl_nl_link_index("d0");
	const uint8_t mac70[6] = { 2, 0, 0, 0, 0, 0x70 };
	const uint8_t mac99[6] = { 2, 0, 0, 0, 0, 0x99 };
	struct view v;
	struct sl_nl *nl;

	(void)state;
	assert_true(d0 > 0);
	SH("ip neigh add 10.0.0.70 lladdr 02:00:00:00:00:70 dev d0 "
	   "nud permanent");
	nl = open_session(&v, 0, false, true);
	assert_int_equal(sl_nl_dump(nl), 0);
	n = view_neigh(&v, d0, "10.0.0.70");
	assert_non_null(n);
	assert_memory_equal(n->lladdr, mac70, 6);
	assert_int_equal(n->state, NUD_PERMANENT);

	SH("ip neigh add 10.0.0.71 lladdr 02:00:00:00:00:71 dev d0 "
	   "nud reachable && ip -6 neigh add 2001:db8::71 lladdr "
	   "02:00:00:00:00:72 dev d0 nud permanent && ip neigh add "
	   "10.1.0.71 lladdr 02:00:00:00:01:71 dev d1 nud stale");
	settle(nl);
	assert_non_null(view_neigh(&v, d0, "10.0.0.71"));
	assert_non_null(view_neigh(&v, d0, "2001:db8::71"));
	assert_neighbours_are_kernel(&v);

	SH("ip neigh change 10.0.0.71 lladdr 02:00:00:00:00:99 dev d0 "
	   "nud permanent");
	settle(nl);
	n = view_neigh(&v, d0, "10.0.0.71");
	assert_non_null(n);
	assert_memory_equal(n->lladdr, mac99, 6);
	assert_int_equal(n->state, NUD_PERMANENT);

	SH("ip neigh del 10.0.0.71 dev d0 && ip -6 neigh del 2001:db8::71 "
	   "dev d0");
	settle(nl);
	assert_null(view_neigh(&v, d0, "10.0.0.71"));
	assert_null(view_neigh(&v, d0, "2001:db8::71"));
	assert_neighbours_are_kernel(&v);

	/* Down, the kernel flushes the link's neighbours. */
	SH("ip link set d1 down");
	settle(nl);
	assert_neighbours_are_kernel(&v);

	sl_nl_close(nl);
	view_free(&v);
}

/* ------------------------------------------------------------------------
 * Resolution, seen on the wire: r0 here, its veth peer r0p in a second
 * namespace (a child process that holds it) that answers ARP and ND.
 */

static pid_t
peer_ns_start(int *quit_fd)
{
	int ready[2], quit[2];
	pid_t pid;
	char c;

	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(quit), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(ready[0]);
		close(quit[1]);
		if (unshare(CLONE_NEWNET) < 0)
			_exit(1);
		if (write(ready[1], "x", 1) != 1)
			_exit(1);
		while (read(quit[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(ready[1]);
	close(quit[0]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	*quit_fd = quit[1];
	return pid;
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct capture {
	int fd;
	unsigned int others;	/* outgoing frames not ARP / ICMPv6 */
};

static void
capture_drain(struct capture *c)
{
	uint8_t f[2048];

	while (recv(c->fd, f, sizeof(f), MSG_DONTWAIT) > 0)
		;
	c->others = 0;
}

/* An outgoing ARP request or neighbour solicitation for target within
 * ms milliseconds. */
static bool
capture_solicitation(struct capture *c, const struct sl_prefix *target,
		     unsigned int ms)
{
	uint64_t end = now_ms() + ms;
	uint8_t f[2048];

	for (;;) {
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		struct sockaddr_ll from;
		socklen_t fromlen = sizeof(from);
		uint64_t now = now_ms();
		ssize_t n;
		uint16_t et;

		if (now >= end)
			return false;
		if (poll(&p, 1, (int)(end - now)) <= 0)
			continue;
		n = recvfrom(c->fd, f, sizeof(f), MSG_DONTWAIT,
			     (struct sockaddr *)&from, &fromlen);
		if (n < 14 || from.sll_pkttype != PACKET_OUTGOING)
			continue;
		et = (uint16_t)(f[12] << 8 | f[13]);
		if (et == ETH_P_ARP) {
			if (n >= 42 && f[21] == 1 &&
			    target->family == SL_FAMILY_IPV4 &&
			    memcmp(&f[38], target->addr, 4) == 0)
				return true;
		} else if (et == ETH_P_IPV6 && n >= 78 && f[20] == 58) {
			if (f[54] == 135 && target->family == SL_FAMILY_IPV6 &&
			    memcmp(&f[62], target->addr, 16) == 0)
				return true;
		} else {
			c->others++;
		}
	}
}

/* Poll the session until cond() holds or ms pass. */
static bool
settle_until(struct sl_nl *nl, struct view *v, int ifindex, const char *addr,
	     const uint8_t *mac, bool failed, unsigned int ms)
{
	uint64_t end = now_ms() + ms;
	struct sl_prefix want;

	assert_true(parse_addr(addr, &want, true));
	while (now_ms() < end) {
		struct pollfd p = { .fd = sl_nl_fd(nl), .events = POLLIN };
		const struct sl_nl_neigh *n;

		poll(&p, 1, 20);
		assert_true(sl_nl_poll(nl, 0) >= 0);
		if (failed) {
			if (v->failed > 0 && v->last_failed.ifindex == ifindex &&
			    memcmp(&v->last_failed.addr, &want,
				   sizeof(want)) == 0)
				return true;
			continue;
		}
		n = view_neigh(v, ifindex, addr);
		if (n != NULL && memcmp(n->lladdr, mac, 6) == 0 &&
		    n->state == NUD_REACHABLE)
			return true;
	}
	return false;
}

static void
test_resolve_solicits_on_the_wire_and_reports_the_answer(void **state)
{
	struct capture cap = { .fd = -1 };
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	struct sl_prefix a;
	uint8_t peer_mac[6];
	struct view v;
	struct sl_nl *nl;
	int quit_fd, r0;
	pid_t pid;
	json_t *j;

	(void)state;
	pid = peer_ns_start(&quit_fd);
	SH("ip link add r0 type veth peer name r0p");
	/* (sysfs shows the host's namespace: ask ip) */
	j = ip_json("ip -j link show dev r0p");
	assert_true(parse_mac(json_string_value(json_object_get(
		json_array_get(j, 0), "address")), peer_mac));
	json_decref(j);
	SH("ip link set r0p netns %d", (int)pid);
	SH("nsenter --net=/proc/%d/ns/net sh -c 'ip link set lo up && "
	   "ip link set r0p up && ip addr add 10.9.0.2/24 dev r0p && "
	   "ip -6 addr add 2001:db8:9::2/64 dev r0p nodad'", (int)pid);
	SH("ip link set r0 up && ip addr add 10.9.0.1/24 dev r0 && "
	   "ip -6 addr add 2001:db8:9::1/64 dev r0 nodad");
	write_file("/proc/sys/net/ipv4/neigh/r0/retrans_time_ms", "100");
	write_file("/proc/sys/net/ipv6/neigh/r0/retrans_time_ms", "100");
	r0 = sl_nl_link_index("r0");
	assert_true(r0 > 0);

	cap.fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	assert_true(cap.fd >= 0);
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = r0;
	assert_int_equal(bind(cap.fd, (struct sockaddr *)&sll, sizeof(sll)),
			 0);
	nl = open_session(&v, 0, false, true);
	assert_int_equal(sl_nl_dump(nl), 0);
	usleep(200 * 1000);
	capture_drain(&cap);

	/* IPv4: an ARP request leaves, the answer is reported. */
	assert_true(parse_addr("10.9.0.2", &a, true));
	assert_int_equal(sl_nl_resolve(nl, r0, &a), 0);
	assert_true(capture_solicitation(&cap, &a, 1000));
	assert_true(settle_until(nl, &v, r0, "10.9.0.2", peer_mac, false,
				 2000));
	assert_int_equal(cap.others, 0);	/* no stray packet */

	/* Reachable already: left alone, nothing sent. */
	capture_drain(&cap);
	assert_int_equal(sl_nl_resolve(nl, r0, &a), 0);
	assert_false(capture_solicitation(&cap, &a, 300));

	/* IPv6: a neighbour solicitation, then the advertised MAC. */
	assert_true(parse_addr("2001:db8:9::2", &a, true));
	capture_drain(&cap);
	assert_int_equal(sl_nl_resolve(nl, r0, &a), 0);
	assert_true(capture_solicitation(&cap, &a, 1000));
	assert_true(settle_until(nl, &v, r0, "2001:db8:9::2", peer_mac, false,
				 2000));

	/* Nobody answers: solicitations, then a failure report, and no
	 * usable neighbour. */
	assert_true(parse_addr("10.9.0.99", &a, true));
	capture_drain(&cap);
	assert_int_equal(sl_nl_resolve(nl, r0, &a), 0);
	assert_true(capture_solicitation(&cap, &a, 1000));
	assert_true(settle_until(nl, &v, r0, "10.9.0.99", NULL, true, 3000));
	assert_null(view_neigh(&v, r0, "10.9.0.99"));

	/* Errors name the request and carry the kernel's reason. */
	assert_true(sl_nl_resolve(nl, 999999, &a) < 0);
	assert_non_null(strstr(sl_nl_errmsg(nl), "resolve 10.9.0.99"));

	sl_nl_close(nl);
	view_free(&v);
	close(cap.fd);
	shf("ip link del r0");
	close(quit_fd);
	waitpid(pid, NULL, 0);
}

/* ------------------------------------------------------------------------
 * Link configuration
 */

static int
strcmp_ptr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The addresses `ip -j addr show dev` lists, as "addr/len" strings sorted
 * and joined by spaces into buf. */
static const char *
kernel_addrs(const char *dev, char *buf, size_t size)
{
	json_t *j = ip_json("ip -j addr show dev %s", dev), *e, *ai, *a;
	char *list[64];
	size_t n = 0, i, k, off = 0;

	json_array_foreach(j, i, e) {
		ai = json_object_get(e, "addr_info");
		json_array_foreach(ai, k, a) {
			char s[80];

			snprintf(s, sizeof(s), "%s/%lld",
				 json_string_value(json_object_get(a, "local")),
				 (long long)json_integer_value(
					 json_object_get(a, "prefixlen")));
			if (strncmp(s, "fe80:", 5) == 0 && strcmp(s,
						"fe80::1234/64") != 0)
				snprintf(s, sizeof(s), "LL");
			assert_true(n < 64);
			list[n++] = strdup(s);
		}
	}
	json_decref(j);
	qsort(list, n, sizeof(list[0]), strcmp_ptr);
	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		off += (size_t)snprintf(buf + off, size - off, "%s%s",
					i ? " " : "", list[i]);
		free(list[i]);
	}
	return buf;
}

static void
test_link_up_and_addresses_sync_add_keep_remove_and_keep_link_local(
	void **state)
{
	struct sl_prefix want[6];
	char got[1024];
	struct view v;
	struct sl_nl *nl;
	json_t *j;
	int a0;

	(void)state;
	SH("ip link add a0 type veth peer name a0p && ip link set a0p up");
	nl = open_session(&v, 0, false, false);
	assert_int_equal(sl_nl_link_index("no-such-if0"), -ENODEV);
	a0 = sl_nl_link_index("a0");
	assert_true(a0 > 0);

	assert_int_equal(sl_nl_link_up(nl, a0, 1400), 0);
	j = ip_json("ip -j link show dev a0");
	assert_int_equal(json_integer_value(json_object_get(
		json_array_get(j, 0), "mtu")), 1400);
	assert_true(json_flag(json_array_get(j, 0), "UP"));
	json_decref(j);
	/* The kernel's extended ack comes with the error. */
	assert_int_equal(sl_nl_link_up(nl, a0, 10), -EINVAL);
	assert_non_null(strstr(sl_nl_errmsg(nl), "kernel:"));

	SH("ip addr add 192.0.2.9/24 dev a0 && ip -6 addr add "
	   "2001:db8:77::9/64 dev a0 nodad && ip -6 addr add fe80::1234/64 "
	   "dev a0 nodad");
	assert_true(parse_addr("192.0.2.1/24", &want[0], false));
	assert_true(parse_addr("198.51.100.7/25", &want[1], false));
	assert_true(parse_addr("10.200.3.4/16", &want[2], false));
	assert_true(parse_addr("2001:db8:66::1/64", &want[3], false));
	assert_true(parse_addr("2001:db8:67::5/80", &want[4], false));
	assert_int_equal(sl_nl_addrs_sync(nl, a0, want, 5), 0);
	assert_string_equal(kernel_addrs("a0", got, sizeof(got)),
			    "10.200.3.4/16 192.0.2.1/24 198.51.100.7/25 "
			    "2001:db8:66::1/64 2001:db8:67::5/80 LL "
			    "fe80::1234/64");
	/* Twice is fine, and changes nothing. */
	assert_int_equal(sl_nl_addrs_sync(nl, a0, want, 5), 0);
	assert_string_equal(kernel_addrs("a0", got, sizeof(got)),
			    "10.200.3.4/16 192.0.2.1/24 198.51.100.7/25 "
			    "2001:db8:66::1/64 2001:db8:67::5/80 LL "
			    "fe80::1234/64");
	/* Fewer: the rest go, link-local ones stay. */
	want[1] = want[3];
	assert_int_equal(sl_nl_addrs_sync(nl, a0, want, 2), 0);
	assert_string_equal(kernel_addrs("a0", got, sizeof(got)),
			    "192.0.2.1/24 2001:db8:66::1/64 LL fe80::1234/64");
	assert_int_equal(sl_nl_addrs_sync(nl, a0, NULL, 0), 0);
	assert_string_equal(kernel_addrs("a0", got, sizeof(got)),
			    "LL fe80::1234/64");

	want[0].len = 33;
	assert_int_equal(sl_nl_addrs_sync(nl, a0, want, 1), -EINVAL);
	assert_true(sl_nl_addrs_sync(nl, 999999, NULL, 0) < 0);
	assert_true(strlen(sl_nl_errmsg(nl)) > 0);

	sl_nl_close(nl);
	view_free(&v);
	shf("ip link del a0");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_dump_then_events_mirror_the_table_with_every_field,
			topology_up, topology_down),
		cmocka_unit_test_setup_teardown(
			test_nexthop_objects_are_resolved_and_followed,
			topology_up, topology_down),
		cmocka_unit_test_setup_teardown(
			test_lost_events_resync_to_the_kernel_state,
			topology_up, topology_down),
		cmocka_unit_test_setup_teardown(
			test_neighbours_are_reported_added_changed_and_deleted,
			topology_up, topology_down),
		cmocka_unit_test(
			test_resolve_solicits_on_the_wire_and_reports_the_answer),
		cmocka_unit_test(
			test_link_up_and_addresses_sync_add_keep_remove_and_keep_link_local),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "test_netlink: needs root (a private network "
			"namespace); skipped\n");
		return 77;
	}
	if (unshare(CLONE_NEWNET) < 0) {
		perror("test_netlink: unshare(CLONE_NEWNET); skipped");
		return 77;
	}
	/* Addresses usable at once (no DAD), loopback up for blackhole
	 * nexthop objects. */
	if (shf("sysctl -qw net.ipv6.conf.all.accept_dad=0 "
		"net.ipv6.conf.default.accept_dad=0 && ip link set lo up") != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
