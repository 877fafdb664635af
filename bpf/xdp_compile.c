/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Policy -> XDP map image: the per-field rule bitmaps of the bpf-iptables
 * scheme (include/sluice/xdp_maps.h).  Every table is computed from
 * sl_match_compile(), the numbers the DPDK ACL builder uses too.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sluice/errf.h"
#include "sluice/maglev.h"

#include "xdp_compile.h"

static inline void
bm_set(struct sl_xdp_bitmap *b, uint32_t rule)
{
	b->w[rule / 64] |= 1ull << (rule % 64);
}

static inline void
bm_clear(struct sl_xdp_bitmap *b, uint32_t rule)
{
	b->w[rule / 64] &= ~(1ull << (rule % 64));
}

static inline void
bm_or(struct sl_xdp_bitmap *d, const struct sl_xdp_bitmap *s)
{
	for (unsigned int w = 0; w < SL_XDP_WORDS; w++)
		d->w[w] |= s->w[w];
}

/*
 * Whether the XDP backend can carry out action a of `where` ("rules[3]",
 * "default"): accept, drop, and steer to a group of local ports and
 * tunnels - a cluster group's are those sluiced derived from the members
 * (none listed: nothing to steer to, no_target).  Counts
 * the steered groups (first use of each marked in *seen) and their table
 * entries.
 */
static int
action_supported(const struct sl_policy *p, const struct sl_action *a,
		 const char *where, bool *seen, uint32_t *n_groups,
		 uint64_t *entries, char *err, size_t err_size)
{
	const struct sl_group *g;
	int gi;

	switch (a->type) {
	case SL_ACTION_ACCEPT:
	case SL_ACTION_DROP:
		return 0;
	case SL_ACTION_STEER:
		break;
	default:	/* replicate has replicate_supported(); no other
			 * action type decodes, so this guards a new one */
		sl_errf(err, err_size, "%s.action: %s: an action the XDP "
			"backend does not carry out; use the DPDK backend",
			where, sl_action_name(a->type));
		return -ENOTSUP;
	}
	gi = sl_policy_find_group(p, a->group);
	if (gi < 0) {
		sl_errf(err, err_size, "%s.action: steer: no group %s", where,
		     a->group ? a->group : "(none)");
		return -EINVAL;
	}
	g = &p->groups[gi];
	if (seen[gi])
		return 0;
	seen[gi] = true;
	if (++*n_groups > SL_XDP_GROUPS_MAX) {
		sl_errf(err, err_size, "%s.action: steer to group %s: more than %u "
		     "groups steered to, the XDP backend holds at most %u",
		     where, g->name, SL_XDP_GROUPS_MAX, SL_XDP_GROUPS_MAX);
		return -E2BIG;
	}
	*entries += (g->table_size + SL_XDP_MAG_CHUNK - 1) / SL_XDP_MAG_CHUNK *
		    (uint64_t)SL_XDP_MAG_CHUNK;
	if (*entries > SL_XDP_MAG_ENTRIES_MAX) {
		sl_errf(err, err_size, "%s.action: steer to group %s: the Maglev "
		     "tables of the steered groups hold more than %u entries "
		     "together, the XDP backend's limit (smaller table_size)",
		     where, g->name, SL_XDP_MAG_ENTRIES_MAX);
		return -E2BIG;
	}
	return 0;
}

/* The replica tables a policy's replicate actions need so far: distinct
 * (group, copies) pairs and their entries. */
struct rep_budget {
	int group[SL_XDP_RTABS_MAX];
	unsigned int copies[SL_XDP_RTABS_MAX];
	uint32_t n;
	uint64_t entries;
};

/*
 * Whether the XDP backend can replicate as action a of `where` says: to a
 * group of local ports and tunnels (sluice_tc_rep encapsulates the copies
 * to a tunnel; a cluster group's are those sluiced derived from the
 * members, none listed: no live target, short), within the replica table
 * limits.
 * Counts the pair in *b.
 */
static int
replicate_supported(const struct sl_policy *p, const struct sl_action *a,
		    const char *where, struct rep_budget *b, char *err,
		    size_t err_size)
{
	const struct sl_group *g;
	uint32_t k;
	int gi;

	gi = sl_policy_find_group(p, a->group);
	if (gi < 0) {
		sl_errf(err, err_size, "%s.action: replicate: no group %s", where,
		     a->group ? a->group : "(none)");
		return -EINVAL;
	}
	g = &p->groups[gi];
	for (k = 0; k < b->n; k++)
		if (b->group[k] == gi && b->copies[k] == a->copies)
			return 0;
	if (b->n == SL_XDP_RTABS_MAX) {
		sl_errf(err, err_size, "%s.action: replicate to group %s: more "
		     "than %u distinct (group, copies) pairs, the XDP backend "
		     "holds at most %u", where, g->name, SL_XDP_RTABS_MAX,
		     SL_XDP_RTABS_MAX);
		return -E2BIG;
	}
	b->group[b->n] = gi;
	b->copies[b->n++] = a->copies;
	b->entries += ((uint64_t)g->table_size * a->copies +
		       SL_XDP_MAG_CHUNK - 1) / SL_XDP_MAG_CHUNK *
		      SL_XDP_MAG_CHUNK;
	if (b->entries > SL_XDP_REP_ENTRIES_MAX) {
		sl_errf(err, err_size, "%s.action: replicate to group %s: the "
		     "replica tables (table_size x copies entries each) hold "
		     "more than %u entries together, the XDP backend's limit "
		     "(smaller table_size or fewer copies)", where, g->name,
		     SL_XDP_REP_ENTRIES_MAX);
		return -E2BIG;
	}
	return 0;
}

int
sl_xdp_policy_supported(const struct sl_policy *p, char *err, size_t err_size)
{
	struct rep_budget *rb = NULL;
	bool *seen = NULL;
	uint32_t n_groups = 0;
	uint64_t entries = 0;
	char where[32];
	int ret = 0;

	if (p->n_rules > SL_XDP_RULES_MAX) {
		sl_errf(err, err_size, "rules: %zu rules, the XDP backend holds at "
		     "most %u", p->n_rules, SL_XDP_RULES_MAX);
		return -E2BIG;
	}
	for (size_t i = 0; i < p->n_rules; i++) {
		const struct sl_rule *r = &p->rules[i];

		if (r->match.fields & SL_MATCH_PAYLOAD) {
			sl_errf(err, err_size, "rules[%zu].payload: payload "
			     "(Hyperscan) rules cannot run in XDP; use the DPDK "
			     "backend, which drives this NIC through its "
			     "af_xdp port (devargs net_af_xdp0,iface=IF)", i);
			return -ENOTSUP;
		}
		if ((r->match.fields & SL_MATCH_CT) && !p->settings.ct_enabled) {
			/* as the DPDK backend says (dp_policy_check_supported) */
			sl_errf(err, err_size, "rules[%zu].ct: needs connection "
			     "tracking (settings.conntrack.enabled)", i);
			return -ENOTSUP;
		}
	}
	seen = calloc(p->n_groups + 1, sizeof(*seen));
	rb = calloc(1, sizeof(*rb));
	if (seen == NULL || rb == NULL) {
		free(seen);
		free(rb);
		return -ENOMEM;
	}
	for (size_t i = 0; i <= p->n_rules && ret == 0; i++) {
		const struct sl_action *a = i < p->n_rules ?
			&p->rules[i].action : &p->default_action;

		if (i < p->n_rules)
			snprintf(where, sizeof(where), "rules[%zu]", i);
		else
			snprintf(where, sizeof(where), "default");
		if (a->type == SL_ACTION_REPLICATE)
			ret = replicate_supported(p, a, where, rb, err,
						  err_size);
		else
			ret = action_supported(p, a, where, seen, &n_groups,
					       &entries, err, err_size);
	}
	free(seen);
	free(rb);
	return ret;
}

/* Whether prefix (alen, a) contains prefix (blen, b). */
static bool
prefix_contains(uint8_t alen, const uint8_t *a, uint8_t blen, const uint8_t *b)
{
	unsigned int full = alen / 8, rest = alen % 8;

	if (alen > blen || memcmp(a, b, full) != 0)
		return false;
	return rest == 0 ||
	       ((a[full] ^ b[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

/* One trie: the /0 entry and one per distinct prefix of the rules of the
 * family that set the field; each entry's bitmap as the header says. */
static int
build_trie(struct sl_xdp_image *img, const struct sl_match_compiled *mc,
	   const bool *live, unsigned int t)
{
	int family = t <= SL_XDP_TRIE_DST4 ? 4 : 6;
	bool is_src = t == SL_XDP_TRIE_SRC4 || t == SL_XDP_TRIE_SRC6;
	struct sl_xdp_trie_entry *e = calloc(img->n_rules + 1, sizeof(*e));
	size_t n = 1;

	if (e == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < img->n_rules; i++) {
		uint8_t len = is_src ? mc[i].src_len : mc[i].dst_len;
		const uint8_t *a = is_src ? mc[i].src : mc[i].dst;
		size_t k;

		if (!live[i] || len == 0 ||
		    (mc[i].family != 0 && mc[i].family != family))
			continue;
		for (k = 1; k < n; k++)
			if (e[k].len == len && memcmp(e[k].addr, a, 16) == 0)
				break;
		if (k == n) {
			e[n].len = len;
			memcpy(e[n].addr, a, 16);
			n++;
		}
	}
	for (size_t k = 0; k < n; k++) {
		for (uint32_t i = 0; i < img->n_rules; i++) {
			uint8_t len = is_src ? mc[i].src_len : mc[i].dst_len;
			const uint8_t *a = is_src ? mc[i].src : mc[i].dst;

			if (!live[i] ||
			    (mc[i].family != 0 && mc[i].family != family))
				continue;
			if (prefix_contains(len, a, e[k].len, e[k].addr))
				bm_set(&e[k].bm, i);
		}
	}
	img->trie[t] = e;
	img->n_trie[t] = n;
	return 0;
}

/* ---- IPv4: the 16-8-8 table (xdp_maps.h) ---- */

static int
a4_grow(struct sl_xdp_image *img, uint32_t *chunk)
{
	uint32_t n = img->n_a4 + 256;
	uint32_t *a = realloc(img->a4, sizeof(*a) * n);

	if (a == NULL)
		return -ENOMEM;
	img->a4 = a;
	*chunk = (img->n_a4 - SL_XDP_A4_CHUNKS) / 256;
	img->n_a4 = n;
	return 0;
}

/*
 * The entry at *slot as a chunk: when it is a class, a new chunk of 256
 * entries with that class takes its place.  Returns the chunk's first
 * index in a4, or -ENOMEM.
 */
static int64_t
a4_descend(struct sl_xdp_image *img, uint32_t slot)
{
	uint32_t v = img->a4[slot], c;

	if (!(v & SL_XDP_A4_PTR)) {
		if (a4_grow(img, &c) != 0)
			return -ENOMEM;
		for (unsigned int i = 0; i < 256; i++)
			img->a4[SL_XDP_A4_CHUNKS + 256 * c + i] = v;
		img->a4[slot] = v = SL_XDP_A4_PTR | c;
	}
	return SL_XDP_A4_CHUNKS + 256 * (int64_t)(v & ~SL_XDP_A4_PTR);
}

static int
cmp_by_len(const void *a, const void *b, void *arg)
{
	const struct sl_xdp_trie_entry *e = arg;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	if (e[x].len != e[y].len)
		return e[x].len < e[y].len ? -1 : 1;
	return x < y ? -1 : x > y;
}

/*
 * Paint the entries of one IPv4 table into a4 from the shortest prefix to
 * the longest, so that each address ends with its longest prefix.  A
 * prefix of up to 16 bits covers a run of first-level entries, which are
 * all classes then (chunks open only for longer prefixes, painted later);
 * a longer one descends, opening chunks filled with what was there.
 */
static int
build_a4(struct sl_xdp_image *img, unsigned int t, uint32_t l1)
{
	const struct sl_xdp_trie_entry *e = img->trie[t];
	size_t n = img->n_trie[t];
	uint32_t *order = malloc(sizeof(*order) * n);

	if (order == NULL)
		return -ENOMEM;
	for (uint32_t k = 0; k < n; k++)
		order[k] = k;
	qsort_r(order, n, sizeof(*order), cmp_by_len, (void *)e);
	for (size_t i = 0; i < n; i++) {
		uint32_t k = order[i], len = e[k].len;
		uint32_t a = (uint32_t)e[k].addr[0] << 24 | e[k].addr[1] << 16 |
			     e[k].addr[2] << 8 | e[k].addr[3];
		uint32_t base, first, count;
		int64_t c;

		if (len <= 16) {
			base = l1;
			first = a >> 16;
			count = 1u << (16 - len);
		} else {
			c = a4_descend(img, l1 + (a >> 16));
			if (c < 0)
				goto nomem;
			if (len <= 24) {
				base = (uint32_t)c;
				first = (a >> 8) & 0xff;
				count = 1u << (24 - len);
			} else {
				c = a4_descend(img, (uint32_t)c + ((a >> 8) & 0xff));
				if (c < 0)
					goto nomem;
				base = (uint32_t)c;
				first = a & 0xff;
				count = 1u << (32 - len);
			}
		}
		for (uint32_t j = 0; j < count; j++)
			img->a4[base + first + j] = k;
	}
	free(order);
	return 0;
nomem:
	free(order);
	return -ENOMEM;
}

struct port_event {
	uint32_t pos;		/* first port where the change applies */
	uint32_t rule;
	bool add;
};

static int
cmp_event(const void *a, const void *b)
{
	const struct port_event *x = a, *y = b;

	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/*
 * One port field: elementary intervals from a sweep over the rules' range
 * ends, one bitmap per interval from SL_XDP_BM_PORTS + *next on, and
 * pidx[base + port] naming each port's interval.
 */
static int
build_ports(struct sl_xdp_image *img, const struct sl_match_compiled *mc,
	    const bool *live, bool is_src, uint32_t base)
{
	struct port_event *ev = calloc(2 * (size_t)img->n_rules + 1,
				       sizeof(*ev));
	struct sl_xdp_bitmap cur;
	size_t n = 0;
	uint32_t start = 0;

	if (ev == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < img->n_rules; i++) {
		uint16_t lo = is_src ? mc[i].sport_lo : mc[i].dport_lo;
		uint16_t hi = is_src ? mc[i].sport_hi : mc[i].dport_hi;

		if (!live[i])
			continue;
		ev[n++] = (struct port_event){ lo, i, true };
		if (hi < 65535)
			ev[n++] = (struct port_event){ (uint32_t)hi + 1, i, false };
	}
	qsort(ev, n, sizeof(*ev), cmp_event);
	memset(&cur, 0, sizeof(cur));
	for (size_t k = 0; k <= n;) {
		uint32_t pos = k < n ? ev[k].pos : 65536;

		if (pos > start) {
			/* [start, pos) has the bitmap cur */
			uint32_t slot = img->n_bm++;

			img->bm[slot] = cur;
			for (uint32_t port = start; port < pos; port++)
				img->pidx[base + port] = slot;
			start = pos;
		}
		if (k == n)
			break;
		/* every event at this position */
		for (; k < n && ev[k].pos == pos; k++) {
			if (ev[k].add)
				bm_set(&cur, ev[k].rule);
			else
				bm_clear(&cur, ev[k].rule);
		}
	}
	free(ev);
	return 0;
}

static int
build_inport(struct sl_xdp_image *img, const struct sl_match_compiled *mc,
	     const bool *live, const uint32_t *rule_ifindex, char *err,
	     size_t err_size)
{
	struct sl_xdp_inport_entry *e = calloc(SL_XDP_INPORT_MAX, sizeof(*e));
	size_t n = 1;

	if (e == NULL)
		return -ENOMEM;
	/* entry 0 (ifindex 0): the rules that name no interface */
	for (uint32_t i = 0; i < img->n_rules; i++) {
		size_t k;

		if (!live[i] || mc[i].in_port < 0)
			continue;
		for (k = 1; k < n; k++)
			if (e[k].ifindex == rule_ifindex[i])
				break;
		if (k == n) {
			if (n == SL_XDP_INPORT_MAX) {
				sl_errf(err, err_size, "rules[%u].in_port: more "
				     "than %u interfaces named in in_port", i,
				     SL_XDP_INPORT_MAX - 1);
				free(e);
				return -E2BIG;
			}
			e[n++].ifindex = rule_ifindex[i];
		}
	}
	for (uint32_t i = 0; i < img->n_rules; i++) {
		if (!live[i])
			continue;
		for (size_t k = 0; k < n; k++)
			if (mc[i].in_port < 0 || e[k].ifindex == rule_ifindex[i])
				bm_set(&e[k].bm, i);
	}
	img->inport = e;
	img->n_inport = n;
	return 0;
}

/* protocol, TCP flags, ct and VLAN regions of sl_bm */
static void
build_small_fields(struct sl_xdp_image *img,
		   const struct sl_match_compiled *mc, const bool *live)
{
	struct sl_xdp_bitmap *bm = img->bm;

	for (uint32_t i = 0; i < img->n_rules; i++) {
		if (!live[i])
			continue;
		for (unsigned int v = 0; v < 256; v++) {
			if (mc[i].proto_mask == 0 || mc[i].proto == v)
				bm_set(&bm[SL_XDP_BM_PROTO + v], i);
			if ((v & mc[i].tcp_flags_mask) == mc[i].tcp_flags)
				bm_set(&bm[SL_XDP_BM_FLAGS + v], i);
		}
		for (unsigned int b = 0; b < 4; b++)
			if (mc[i].ct & (1u << b))
				bm_set(&bm[SL_XDP_BM_CT + b], i);
		if (mc[i].fields & SL_MATCH_VLAN) {
			bm_set(&bm[SL_XDP_BM_VLAN + mc[i].vlan], i);
		} else {
			/* in the untagged entry now, copied to every VID
			 * below */
			bm_set(&bm[SL_XDP_BM_VLAN + SL_XDP_VLAN_NONE], i);
		}
	}
	for (unsigned int v = 0; v < SL_XDP_VLAN_NONE; v++)
		bm_or(&bm[SL_XDP_BM_VLAN + v],
		      &bm[SL_XDP_BM_VLAN + SL_XDP_VLAN_NONE]);
}

/* ---- tunnel targets: encap_tunnel_init() of dataplane/encap.c ---- */

/*
 * dataplane/encap.c links DPDK (encap_copy and the mbuf code beside
 * encap_tunnel_init), which neither sluice-xdp nor sluiced link; so the
 * template is built here the same way, and tests/unit/test_xdp_encap.c
 * holds it to encap_tunnel_init()'s byte for byte.
 */
#define TUN_ETH_HDR 14
#define TUN_IPV4_HDR 20
#define TUN_IPV6_HDR 40
#define TUN_UDP_HDR 8
#define TUN_VXLAN_HDR 8		/* GENEVE too, without options */
#define TUN_GRE_HDR 4
#define TUN_GRE_KEY 4
#define TUN_PROTO_UDP 17
#define TUN_PROTO_GRE 47
#define TUN_ETH_P_IPV4 0x0800
#define TUN_ETH_P_IPV6 0x86dd
#define TUN_ETH_P_TEB 0x6558	/* transparent Ethernet bridging */
#define TUN_VXLAN_FLAG_I 0x08	/* RFC 7348: the VNI is valid */
#define TUN_GRE_FLAG_K 0x2000	/* RFC 2890: key present */
#define TUN_IPV4_DF 0x4000
#define TUN_TTL 64		/* ENCAP_TTL_DEFAULT: rep_build() passes 0 */

_Static_assert(TUN_ETH_HDR + TUN_IPV6_HDR + TUN_UDP_HDR + TUN_VXLAN_HDR <=
	       SL_XDP_TUN_HDR_MAX, "outer headers fit the template");

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* rte_raw_cksum(): the folded one's complement sum of 16-bit words read in
 * memory byte order (len even here). */
static uint16_t
raw_cksum(const uint8_t *b, size_t len)
{
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2) {
		uint16_t w;

		memcpy(&w, b + i, 2);
		sum += w;
	}
	sum = (sum >> 16) + (sum & 0xffff);
	sum = (sum >> 16) + (sum & 0xffff);
	return (uint16_t)sum;
}

/*
 * The source address this host's kernel picks for a datagram to remote:
 * that of a UDP socket connected to it (connect() only looks the route up;
 * nothing is sent).  Returns 0 with 4 or 16 bytes in out, or -errno.
 */
static int
tunnel_source(const struct sl_prefix *remote, uint8_t *out)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd, ret = 0;

	memset(&ss, 0, sizeof(ss));
	if (remote->family == SL_FAMILY_IPV4) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(9);	/* discard; any port would do */
		memcpy(&a->sin_addr, remote->addr, 4);
		len = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(9);
		memcpy(&a->sin6_addr, remote->addr, 16);
		len = sizeof(*a);
	}
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&ss, len) != 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		ret = -errno;
	close(fd);
	if (ret != 0)
		return ret;
	if (remote->family == SL_FAMILY_IPV4)
		memcpy(out, &((struct sockaddr_in *)&ss)->sin_addr, 4);
	else
		memcpy(out, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
	return 0;
}

/*
 * Compile tunnel target i of group sg into t: encap_tunnel_init(t, tg,
 * source, 0) of dataplane/encap.c, field for field.  Returns 0, or -errno
 * with err filled as rep_build() words it.
 */
static int
build_tunnel(struct sl_xdp_tunnel *t, const struct sl_group *sg, size_t i,
	     char *err, size_t err_size)
{
	const struct sl_target *tg = &sg->targets[i];
	uint8_t fam = tg->remote.family;
	unsigned int alen = fam == SL_FAMILY_IPV4 ? 4 : 16;
	unsigned int ip_len = fam == SL_FAMILY_IPV4 ? TUN_IPV4_HDR : TUN_IPV6_HDR;
	bool udp = tg->kind == SL_TARGET_VXLAN || tg->kind == SL_TARGET_GENEVE;
	uint8_t proto, *ip, *l4;

	memset(t, 0, sizeof(*t));
	if ((!udp && tg->kind != SL_TARGET_GRE) ||
	    (fam != SL_FAMILY_IPV4 && fam != SL_FAMILY_IPV6) ||
	    (tg->local.family != SL_FAMILY_NONE && tg->local.family != fam) ||
	    (udp && tg->vni > SL_POLICY_VNI_MAX)) {
		sl_errf(err, err_size, "groups: %s: targets[%zu]: cannot build "
		     "its tunnel: %s", sg->name, i, strerror(EINVAL));
		return -EINVAL;
	}
	if (tg->local.family != SL_FAMILY_NONE) {
		memcpy(t->local, tg->local.addr, alen);
	} else if (tunnel_source(&tg->remote, t->local) != 0) {
		sl_errf(err, err_size, "groups: %s: targets[%zu]: no outer source "
		     "address: give `local`, or a route to the remote out of "
		     "an interface with an address of its family", sg->name, i);
		return -EADDRNOTAVAIL;
	}
	t->kind = tg->kind;
	t->family = fam;
	memcpy(t->remote, tg->remote.addr, alen);
	if (udp) {
		t->udp_dport = tg->udp_port;
		if (t->udp_dport == 0)
			t->udp_dport = t->kind == SL_TARGET_VXLAN ?
				       SL_POLICY_VXLAN_PORT_DEFAULT :
				       SL_POLICY_GENEVE_PORT_DEFAULT;
		proto = TUN_PROTO_UDP;
		t->hdr_len = (uint8_t)(TUN_ETH_HDR + ip_len + TUN_UDP_HDR +
				       TUN_VXLAN_HDR);
	} else {
		proto = TUN_PROTO_GRE;
		t->hdr_len = (uint8_t)(TUN_ETH_HDR + ip_len + TUN_GRE_HDR +
				       (tg->has_key ? TUN_GRE_KEY : 0));
	}

	/* Ethernet: MACs per packet. */
	put16(t->tmpl + 12, fam == SL_FAMILY_IPV4 ? TUN_ETH_P_IPV4
						  : TUN_ETH_P_IPV6);
	ip = t->tmpl + TUN_ETH_HDR;
	l4 = ip + ip_len;
	if (fam == SL_FAMILY_IPV4) {
		/* Length, ID and checksum per packet. */
		ip[0] = 0x45;
		put16(ip + 6, TUN_IPV4_DF);
		ip[8] = TUN_TTL;
		ip[9] = proto;
		memcpy(ip + 12, t->local, 4);
		memcpy(ip + 16, t->remote, 4);
		t->ip4_sum = raw_cksum(ip, TUN_IPV4_HDR);
	} else {
		/* Flow label and payload length per packet. */
		ip[0] = 0x60;
		ip[6] = proto;
		ip[7] = TUN_TTL;
		memcpy(ip + 8, t->local, 16);
		memcpy(ip + 24, t->remote, 16);
	}
	if (udp) {
		uint8_t *th = l4 + TUN_UDP_HDR;

		/* Source port, length and checksum per packet. */
		put16(l4 + 2, t->udp_dport);
		if (t->kind == SL_TARGET_VXLAN) {
			th[0] = TUN_VXLAN_FLAG_I;
		} else {
			/* Version 0, no options, not OAM, no critical
			 * options; the payload is an Ethernet frame. */
			put16(th + 2, TUN_ETH_P_TEB);
		}
		put32(th + 4, tg->vni << 8);
	} else {
		put16(l4, tg->has_key ? TUN_GRE_FLAG_K : 0);
		put16(l4 + 2, TUN_ETH_P_TEB);
		if (tg->has_key)
			put32(l4 + 4, tg->key);
	}
	return 0;
}

/* Room in img->tun for the tunnel targets of the steered groups. */
static int
alloc_tunnels(struct sl_xdp_image *img, const struct sl_policy *p)
{
	size_t n = 0;

	for (uint32_t k = 0; k < img->n_groups; k++) {
		const struct sl_group *sg = &p->groups[img->group_of[k]];

		for (size_t i = 0; i < sg->n_targets; i++)
			n += sg->targets[i].kind != SL_TARGET_PORT;
	}
	img->tun = calloc(n ? n : 1, sizeof(*img->tun));
	return img->tun != NULL ? 0 : -ENOMEM;
}

/*
 * Group sg's Maglev table into table (sg->table_size entries), as
 * rep_build() (dataplane/rep_build.c) builds it for the DPDK path: each
 * target's identity, weight and state, the policy's seed, and a port
 * target whose port has no interface on this host down.  ifindex[i] gets
 * port target i's interface (0: none; a tunnel's entry is the caller's).
 * mt and ids are scratch of SL_POLICY_TARGETS_MAX entries.  Returns the
 * live targets, or -errno with err filled.
 */
static int
group_table(const struct sl_policy *p, const struct sl_group *sg,
	    const uint32_t *ifindex_of, struct sl_maglev_target *mt,
	    char (*ids)[SL_MAGLEV_ID_MAX], __u32 *ifindex, uint16_t *table,
	    char *err, size_t err_size)
{
	int ret;

	for (size_t i = 0; i < sg->n_targets; i++) {
		const struct sl_target *st = &sg->targets[i];
		int port = st->kind == SL_TARGET_PORT ?
			   sl_policy_find_port(p, st->port) : -1;

		mt[i].id = ids[i];
		mt[i].id_len = sl_maglev_target_identity(st, ids[i],
							 sizeof(ids[i]));
		mt[i].weight = st->weight;
		mt[i].state = st->state;
		ifindex[i] = port >= 0 && ifindex_of ? ifindex_of[port] : 0;
		if (st->kind == SL_TARGET_PORT && ifindex[i] == 0)
			mt[i].state = SL_TARGET_DOWN;	/* not on this host */
	}
	ret = sl_maglev_build(mt, sg->n_targets, sg->table_size,
			      p->settings.flow_hash_seed, table);
	if (ret < 0)
		sl_errf(err, err_size, "groups: %s: Maglev table: %s",
			sg->name, strerror(-ret));
	return ret;
}

/*
 * The steered groups and their Maglev tables: what rep_build()
 * (dataplane/rep_build.c) builds for the DPDK path - the same identities,
 * weights and states, a port absent on this host down, the same size and
 * seed - with each target's interface for the redirect, or its tunnel
 * (sl_tun) for the encapsulation.
 */
static int
build_steer(struct sl_xdp_image *img, const struct sl_policy *p,
	    const uint32_t *ifindex_of, char *err, size_t err_size)
{
	int32_t *steer_of = malloc(sizeof(*steer_of) * (p->n_groups + 1));
	struct sl_maglev_target *mt = calloc(SL_POLICY_TARGETS_MAX, sizeof(*mt));
	char (*ids)[SL_MAGLEV_ID_MAX] = calloc(SL_POLICY_TARGETS_MAX,
					       sizeof(*ids));
	uint16_t *table = NULL;
	uint32_t chunks = 0;
	int ret = -ENOMEM;

	img->group_of = calloc(SL_XDP_GROUPS_MAX, sizeof(*img->group_of));
	img->groups = calloc(SL_XDP_GROUPS_MAX, sizeof(*img->groups));
	if (steer_of == NULL || mt == NULL || ids == NULL ||
	    img->group_of == NULL || img->groups == NULL)
		goto out;
	for (size_t g = 0; g < p->n_groups; g++)
		steer_of[g] = -1;
	/* steer indices in the order of first use; the default is last */
	for (uint32_t i = 0; i <= img->n_rules; i++) {
		const struct sl_action *a = i < img->n_rules ?
			&p->rules[i].action : &p->default_action;
		int g;

		if (a->type != SL_ACTION_STEER)
			continue;
		g = sl_policy_find_group(p, a->group);	/* checked: >= 0 */
		if (steer_of[g] < 0) {
			steer_of[g] = (int32_t)img->n_groups;
			img->group_of[img->n_groups] = g;
			img->groups[img->n_groups].chunk = chunks;
			chunks += (p->groups[g].table_size + SL_XDP_MAG_CHUNK - 1) /
				  SL_XDP_MAG_CHUNK;
			img->n_groups++;
		}
		img->rules[i].group = (uint16_t)steer_of[g];
	}
	img->n_mag = chunks;
	if (chunks == 0) {
		ret = 0;
		goto out;
	}
	img->mag = malloc(sizeof(*img->mag) * chunks);
	table = malloc(sizeof(*table) * (size_t)chunks * SL_XDP_MAG_CHUNK);
	if (img->mag == NULL || table == NULL)
		goto out;
	ret = alloc_tunnels(img, p);
	if (ret != 0)
		goto out;
	for (uint32_t k = 0; k < img->n_groups; k++) {
		const struct sl_group *sg = &p->groups[img->group_of[k]];
		struct sl_xdp_group *xg = &img->groups[k];

		ret = group_table(p, sg, ifindex_of, mt, ids, xg->ifindex,
				  table, err, err_size);
		if (ret < 0)
			goto out;
		xg->size = sg->table_size;
		xg->n_live = (uint32_t)ret;
		for (size_t i = 0; i < sg->n_targets; i++) {
			if (sg->targets[i].kind == SL_TARGET_PORT)
				continue;
			/* a tunnel: sl_tun[n_tun] */
			ret = build_tunnel(&img->tun[img->n_tun], sg, i, err,
					   err_size);
			if (ret != 0)
				goto out;
			xg->ifindex[i] = SL_XDP_TUN | img->n_tun++;
		}
		/* the tail of the last chunk names no target */
		for (uint32_t e = sg->table_size;
		     e % SL_XDP_MAG_CHUNK != 0; e++)
			table[e] = SL_XDP_MAG_NONE;
		memcpy(&img->mag[xg->chunk], table,
		       sizeof(*table) * ((sg->table_size + SL_XDP_MAG_CHUNK - 1) /
					 SL_XDP_MAG_CHUNK * SL_XDP_MAG_CHUNK));
	}
	ret = 0;
out:
	free(steer_of);
	free(mt);
	free(ids);
	free(table);
	return ret;
}

/*
 * Why not sl_maglev_pick() once per entry: its walk is short for
 * comparable weights, but takes up to `size` reads when a target with a
 * tiny share must be found, so size entries would take size^2 reads
 * (hours for a 16,777,213-entry table).  This gets every entry in one
 * pass instead, and tests/unit/test_xdp_replicate.c checks every entry
 * against sl_maglev_pick().
 *
 * sl_maglev_pick() from p takes table[p], then the targets in the order
 * their first entry is met walking forward from p, wrapping.  Walking the
 * table backward, a move-to-front list keeps exactly that order: once
 * position p is visited, the list holds every target seen so far ordered
 * by its first entry at or after p.  After one lap (from the last
 * position down to 0) every live target is in the list, since each owns
 * an entry; on the second lap the list's first `want` targets at p are
 * entry p.
 */
void
sl_xdp_replica_table(const uint16_t *table, uint32_t size, unsigned int want,
		     uint16_t *out)
{
	enum { HEAD = SL_POLICY_TARGETS_MAX };
	uint16_t next[SL_POLICY_TARGETS_MAX + 1], prev[SL_POLICY_TARGETS_MAX + 1];
	bool in[SL_POLICY_TARGETS_MAX] = { false };

	next[HEAD] = prev[HEAD] = HEAD;
	for (uint64_t i = 2 * (uint64_t)size; i-- > 0;) {
		uint32_t pos = (uint32_t)(i < size ? i : i - size);
		uint16_t t = table[pos], u;

		if (t >= SL_POLICY_TARGETS_MAX)		/* SL_MAGLEV_NONE */
			continue;
		if (in[t]) {
			next[prev[t]] = next[t];
			prev[next[t]] = prev[t];
		}
		in[t] = true;
		next[t] = next[HEAD];
		prev[t] = HEAD;
		prev[next[HEAD]] = t;
		next[HEAD] = t;
		if (i >= size)
			continue;
		u = t;
		for (unsigned int c = 0; c < want; c++, u = next[u])
			out[(size_t)pos * want + c] = u;
	}
}

/*
 * The replica tables: per distinct (group, copies) of the replicate
 * actions, the group's Maglev table as build_steer() builds it (the DPDK
 * path's: rep_build()), and from it every entry's targets.
 */
static int
build_replicate(struct sl_xdp_image *img, const struct sl_policy *p,
		const uint32_t *ifindex_of, char *err, size_t err_size)
{
	struct sl_maglev_target *mt = calloc(SL_POLICY_TARGETS_MAX, sizeof(*mt));
	char (*ids)[SL_MAGLEV_ID_MAX] = calloc(SL_POLICY_TARGETS_MAX,
					       sizeof(*ids));
	uint16_t *table = NULL, *entries = NULL;
	uint32_t chunks = 0, max_size = 0;
	int ret = -ENOMEM;

	img->rgroup_of = calloc(SL_XDP_RTABS_MAX, sizeof(*img->rgroup_of));
	img->rgroups = calloc(SL_XDP_RTABS_MAX, sizeof(*img->rgroups));
	if (mt == NULL || ids == NULL || img->rgroup_of == NULL ||
	    img->rgroups == NULL)
		goto out;
	/* replica table indices in the order of first use; the default is
	 * last.  Counted (sl_xdp_policy_supported): at most
	 * SL_XDP_RTABS_MAX. */
	for (uint32_t i = 0; i <= img->n_rules; i++) {
		const struct sl_action *a = i < img->n_rules ?
			&p->rules[i].action : &p->default_action;
		int g;
		uint32_t k;

		if (a->type != SL_ACTION_REPLICATE)
			continue;
		g = sl_policy_find_group(p, a->group);	/* checked: >= 0 */
		for (k = 0; k < img->n_rgroups; k++)
			if (img->rgroup_of[k] == g &&
			    img->rgroups[k].copies == a->copies)
				break;
		if (k == img->n_rgroups) {
			img->rgroup_of[k] = g;
			img->rgroups[k].copies = (uint16_t)a->copies;
			img->n_rgroups++;
		}
		img->rules[i].group = (uint16_t)k;
	}
	for (uint32_t k = 0; k < img->n_rgroups; k++) {
		uint32_t size = p->groups[img->rgroup_of[k]].table_size;

		if (size > max_size)
			max_size = size;
	}
	ret = 0;
	if (img->n_rgroups == 0)
		goto out;
	ret = -ENOMEM;
	table = malloc(sizeof(*table) * max_size);
	/* with room for the tail of the last chunk */
	entries = malloc(sizeof(*entries) * ((size_t)max_size *
			 SL_POLICY_COPIES_MAX + SL_XDP_MAG_CHUNK));
	if (table == NULL || entries == NULL)
		goto out;
	for (uint32_t k = 0; k < img->n_rgroups; k++) {
		const struct sl_group *sg = &p->groups[img->rgroup_of[k]];
		struct sl_xdp_rep_group *xg = &img->rgroups[k];
		size_t n, n_chunks;
		void *grown;

		ret = group_table(p, sg, ifindex_of, mt, ids, xg->ifindex,
				  table, err, err_size);
		if (ret < 0)
			goto out;
		xg->size = sg->table_size;
		xg->n_live = (uint32_t)ret;
		xg->want = (uint16_t)(xg->copies < xg->n_live ? xg->copies
							      : xg->n_live);
		/* a tunnel target: its own sl_tun entry (a group both
		 * steered and replicated has two, equal) */
		for (size_t i = 0; i < sg->n_targets; i++) {
			if (sg->targets[i].kind == SL_TARGET_PORT)
				continue;
			ret = -ENOMEM;
			grown = realloc(img->tun, sizeof(*img->tun) *
					(img->n_tun + 1));
			if (grown == NULL)
				goto out;
			img->tun = grown;
			ret = build_tunnel(&img->tun[img->n_tun], sg, i, err,
					   err_size);
			if (ret != 0)
				goto out;
			xg->ifindex[i] = SL_XDP_TUN | img->n_tun++;
		}
		xg->chunk = chunks;
		n = (size_t)xg->size * xg->want;
		n_chunks = (n + SL_XDP_MAG_CHUNK - 1) / SL_XDP_MAG_CHUNK;
		if (n_chunks == 0)
			continue;
		sl_xdp_replica_table(table, xg->size, xg->want, entries);
		/* the tail of the last chunk names no target */
		for (size_t e = n; e % SL_XDP_MAG_CHUNK != 0; e++)
			entries[e] = SL_XDP_MAG_NONE;
		ret = -ENOMEM;
		grown = realloc(img->rtab, sizeof(*img->rtab) *
				(chunks + n_chunks));
		if (grown == NULL)
			goto out;
		img->rtab = grown;
		memcpy(&img->rtab[chunks], entries,
		       sizeof(*img->rtab) * n_chunks);
		chunks += (uint32_t)n_chunks;
	}
	img->n_rtab = chunks;
	ret = 0;
out:
	free(mt);
	free(ids);
	free(table);
	free(entries);
	return ret;
}

void
sl_xdp_image_free(struct sl_xdp_image *img)
{
	if (img == NULL)
		return;
	free(img->rgroups);
	free(img->rgroup_of);
	free(img->rtab);
	free(img->groups);
	free(img->group_of);
	free(img->mag);
	free(img->tun);
	free(img->rules);
	for (unsigned int t = 0; t < SL_XDP_TRIES; t++)
		free(img->trie[t]);
	free(img->a4);
	free(img->bm);
	free(img->pidx);
	free(img->inport);
	free(img);
}

int
sl_xdp_compile(const struct sl_policy *p, const uint32_t *ifindex_of,
	       struct sl_xdp_image **out, char *err, size_t err_size)
{
	struct sl_xdp_image *img = calloc(1, sizeof(*img));
	struct sl_match_compiled *mc = NULL;
	uint32_t *rule_ifindex = NULL;
	bool *live = NULL;
	int ret;

	*out = NULL;
	if (err != NULL && err_size > 0)
		err[0] = '\0';
	if (img == NULL)
		return -ENOMEM;
	ret = sl_xdp_policy_supported(p, err, err_size);
	if (ret != 0)
		goto fail;
	img->n_rules = (uint32_t)p->n_rules;
	img->generation = p->generation;
	img->rules = calloc(img->n_rules + 1, sizeof(*img->rules));
	img->bm = calloc(SL_XDP_BM_ENTRIES, sizeof(*img->bm));
	img->pidx = calloc(SL_XDP_PIDX_ENTRIES, sizeof(*img->pidx));
	mc = calloc(img->n_rules + 1, sizeof(*mc));
	live = calloc(img->n_rules + 1, sizeof(*live));
	rule_ifindex = calloc(img->n_rules + 1, sizeof(*rule_ifindex));
	ret = -ENOMEM;
	if (!img->rules || !img->bm || !img->pidx || !mc || !live ||
	    !rule_ifindex) {
		sl_errf(err, err_size, "out of memory for %u rules", img->n_rules);
		goto fail;
	}

	for (uint32_t i = 0; i < img->n_rules; i++) {
		const struct sl_rule *r = &p->rules[i];

		if (sl_match_compile(p, i, &mc[i]) != 0) {
			sl_errf(err, err_size, "rules[%u]: cannot compile the "
			     "match", i);
			ret = -EINVAL;
			goto fail;
		}
		live[i] = true;
		if (mc[i].in_port >= 0) {
			rule_ifindex[i] = ifindex_of ? ifindex_of[mc[i].in_port]
						     : 0;
			if (rule_ifindex[i] == 0) {
				/* names a port absent here: never matches */
				live[i] = false;
				img->n_never++;
			}
		}
		img->rules[i].action = r->action.type;
		snprintf(img->rules[i].id, sizeof(img->rules[i].id), "%s",
			 r->id ? r->id : "");
	}
	img->rules[img->n_rules].action = p->default_action.type;
	snprintf(img->rules[img->n_rules].id,
		 sizeof(img->rules[img->n_rules].id), "default");

	for (unsigned int t = 0; t < SL_XDP_TRIES; t++) {
		ret = build_trie(img, mc, live, t);
		if (ret != 0)
			goto fail;
	}
	/* entry 0 of every table is the /0 one: the first level starts as 0 */
	img->n_a4 = SL_XDP_A4_CHUNKS;
	img->a4 = calloc(img->n_a4, sizeof(*img->a4));
	ret = img->a4 ? build_a4(img, SL_XDP_TRIE_SRC4, SL_XDP_A4_SRC) : -ENOMEM;
	if (ret == 0)
		ret = build_a4(img, SL_XDP_TRIE_DST4, SL_XDP_A4_DST);
	if (ret != 0)
		goto fail;
	build_small_fields(img, mc, live);
	img->n_bm = SL_XDP_BM_PORTS;
	ret = build_ports(img, mc, live, true, 0);
	if (ret == 0)
		ret = build_ports(img, mc, live, false, SL_XDP_PIDX_DPORT);
	if (ret == 0)
		ret = build_inport(img, mc, live, rule_ifindex, err, err_size);
	if (ret == 0)
		ret = build_steer(img, p, ifindex_of, err, err_size);
	if (ret == 0)
		ret = build_replicate(img, p, ifindex_of, err, err_size);
	if (ret != 0)
		goto fail;
	free(mc);
	free(live);
	free(rule_ifindex);
	*out = img;
	return 0;
fail:
	if (ret == -ENOMEM && err != NULL && err[0] == '\0')
		sl_errf(err, err_size, "out of memory");
	free(mc);
	free(live);
	free(rule_ifindex);
	sl_xdp_image_free(img);
	return ret;
}
