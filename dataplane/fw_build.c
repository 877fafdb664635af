/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Compiling a policy into a firewall generation: rte_acl contexts and the
 * Hyperscan database.  Control thread only; can take seconds for 100k rules.
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hs/hs.h>
#include <xxhash.h>
#include <rte_acl.h>
#include <rte_byteorder.h>
#include <rte_malloc.h>

#include "fw.h"
#include "fw_key.h"
#include "log.h"
#include "rep.h"

/* Names of rte_acl contexts must be unique in the process. */
static uint64_t acl_seq;

enum { F4_PROTO, F4_SRC, F4_DST, F4_SPORT, F4_DPORT, F4_IN_PORT, F4_VLAN,
       F4_FLAGS, F4_NUM };
enum { F6_PROTO, F6_SRC0, F6_DST0 = F6_SRC0 + 4, F6_SPORT = F6_DST0 + 4,
       F6_DPORT, F6_IN_PORT, F6_VLAN, F6_FLAGS, F6_NUM };

RTE_ACL_RULE_DEF(fw_rule4, F4_NUM);
RTE_ACL_RULE_DEF(fw_rule6, F6_NUM);

#define DEF(t, sz, f, in, off) \
	{ .type = RTE_ACL_FIELD_TYPE_##t, .size = sz, .field_index = f, \
	  .input_index = in, .offset = off }

static const struct rte_acl_field_def defs4[F4_NUM] = {
	DEF(BITMASK, 1, F4_PROTO, 0, offsetof(struct fw_key4, proto)),
	DEF(MASK, 4, F4_SRC, 1, offsetof(struct fw_key4, src)),
	DEF(MASK, 4, F4_DST, 2, offsetof(struct fw_key4, dst)),
	DEF(RANGE, 2, F4_SPORT, 3, offsetof(struct fw_key4, sport)),
	DEF(RANGE, 2, F4_DPORT, 3, offsetof(struct fw_key4, dport)),
	DEF(RANGE, 2, F4_IN_PORT, 4, offsetof(struct fw_key4, in_port)),
	DEF(RANGE, 2, F4_VLAN, 4, offsetof(struct fw_key4, vlan)),
	DEF(BITMASK, 4, F4_FLAGS, 5, offsetof(struct fw_key4, flags)),
};

static const struct rte_acl_field_def defs6[F6_NUM] = {
	DEF(BITMASK, 1, F6_PROTO, 0, offsetof(struct fw_key6, proto)),
	DEF(MASK, 4, F6_SRC0 + 0, 1, offsetof(struct fw_key6, src[0])),
	DEF(MASK, 4, F6_SRC0 + 1, 2, offsetof(struct fw_key6, src[1])),
	DEF(MASK, 4, F6_SRC0 + 2, 3, offsetof(struct fw_key6, src[2])),
	DEF(MASK, 4, F6_SRC0 + 3, 4, offsetof(struct fw_key6, src[3])),
	DEF(MASK, 4, F6_DST0 + 0, 5, offsetof(struct fw_key6, dst[0])),
	DEF(MASK, 4, F6_DST0 + 1, 6, offsetof(struct fw_key6, dst[1])),
	DEF(MASK, 4, F6_DST0 + 2, 7, offsetof(struct fw_key6, dst[2])),
	DEF(MASK, 4, F6_DST0 + 3, 8, offsetof(struct fw_key6, dst[3])),
	DEF(RANGE, 2, F6_SPORT, 9, offsetof(struct fw_key6, sport)),
	DEF(RANGE, 2, F6_DPORT, 9, offsetof(struct fw_key6, dport)),
	DEF(RANGE, 2, F6_IN_PORT, 10, offsetof(struct fw_key6, in_port)),
	DEF(RANGE, 2, F6_VLAN, 10, offsetof(struct fw_key6, vlan)),
	DEF(BITMASK, 4, F6_FLAGS, 11, offsetof(struct fw_key6, flags)),
};

/* Word w (0..3) of a 128-bit prefix: host-order value and its own length. */
static void
prefix_word(const uint8_t *addr, uint8_t len, unsigned int w, uint32_t *value,
	    uint32_t *wlen)
{
	uint32_t be;
	int l = (int)len - 32 * (int)w;

	memcpy(&be, addr + 4 * w, 4);
	*value = rte_be_to_cpu_32(be);
	*wlen = l <= 0 ? 0 : (l >= 32 ? 32 : (uint32_t)l);
}

static void
set_range(struct rte_acl_field *f, uint16_t lo, uint16_t hi)
{
	f->value.u16 = lo;
	f->mask_range.u16 = hi;
}

/* The fields every rule of both families shares. */
struct common_fields {
	uint8_t proto, proto_mask;
	uint16_t sport_lo, sport_hi, dport_lo, dport_hi;
	uint16_t in_lo, in_hi, vlan_lo, vlan_hi;
	uint32_t flags, flags_mask;
};

static struct common_fields
common_of(const struct fw_rule *r, uint8_t ct_bit)
{
	const struct sl_match_compiled *m = &r->match;
	struct common_fields c = {
		.proto = m->proto, .proto_mask = m->proto_mask,
		.sport_lo = m->sport_lo, .sport_hi = m->sport_hi,
		.dport_lo = m->dport_lo, .dport_hi = m->dport_hi,
		.in_lo = 0, .in_hi = UINT16_MAX,
		.vlan_lo = 0, .vlan_hi = UINT16_MAX,
		.flags = m->tcp_flags & m->tcp_flags_mask,
		.flags_mask = m->tcp_flags_mask,
	};

	if (m->in_port >= 0)
		c.in_lo = c.in_hi = r->in_port;
	if (m->fields & SL_MATCH_VLAN)
		c.vlan_lo = c.vlan_hi = m->vlan;
	if (ct_bit != 0) {
		c.flags |= (uint32_t)ct_bit << 8;
		c.flags_mask |= 0xffu << 8;
	}
	return c;
}

static void
fill_rule4(struct fw_rule4 *a, const struct fw_rule *r, uint8_t ct_bit)
{
	const struct sl_match_compiled *m = &r->match;
	struct common_fields c = common_of(r, ct_bit);
	uint32_t v, l;

	a->field[F4_PROTO].value.u8 = c.proto;
	a->field[F4_PROTO].mask_range.u8 = c.proto_mask;
	prefix_word(m->src, m->src_len, 0, &v, &l);
	a->field[F4_SRC].value.u32 = v;
	a->field[F4_SRC].mask_range.u32 = l;
	prefix_word(m->dst, m->dst_len, 0, &v, &l);
	a->field[F4_DST].value.u32 = v;
	a->field[F4_DST].mask_range.u32 = l;
	set_range(&a->field[F4_SPORT], c.sport_lo, c.sport_hi);
	set_range(&a->field[F4_DPORT], c.dport_lo, c.dport_hi);
	set_range(&a->field[F4_IN_PORT], c.in_lo, c.in_hi);
	set_range(&a->field[F4_VLAN], c.vlan_lo, c.vlan_hi);
	a->field[F4_FLAGS].value.u32 = c.flags;
	a->field[F4_FLAGS].mask_range.u32 = c.flags_mask;
}

static void
fill_rule6(struct fw_rule6 *a, const struct fw_rule *r, uint8_t ct_bit)
{
	const struct sl_match_compiled *m = &r->match;
	struct common_fields c = common_of(r, ct_bit);
	uint32_t v, l;

	a->field[F6_PROTO].value.u8 = c.proto;
	a->field[F6_PROTO].mask_range.u8 = c.proto_mask;
	for (unsigned int w = 0; w < 4; w++) {
		prefix_word(m->src, m->src_len, w, &v, &l);
		a->field[F6_SRC0 + w].value.u32 = v;
		a->field[F6_SRC0 + w].mask_range.u32 = l;
		prefix_word(m->dst, m->dst_len, w, &v, &l);
		a->field[F6_DST0 + w].value.u32 = v;
		a->field[F6_DST0 + w].mask_range.u32 = l;
	}
	set_range(&a->field[F6_SPORT], c.sport_lo, c.sport_hi);
	set_range(&a->field[F6_DPORT], c.dport_lo, c.dport_hi);
	set_range(&a->field[F6_IN_PORT], c.in_lo, c.in_hi);
	set_range(&a->field[F6_VLAN], c.vlan_lo, c.vlan_hi);
	a->field[F6_FLAGS].value.u32 = c.flags;
	a->field[F6_FLAGS].mask_range.u32 = c.flags_mask;
}

/* The ct bits a rule is expanded into: one ACL rule per bit, or a single
 * rule (bit 0) when the rule does not look at ct. */
static unsigned int
ct_bits_of(const struct fw_rule *r, uint8_t bits[4])
{
	unsigned int n = 0;

	if ((r->match.ct & SL_CT_ALL) == SL_CT_ALL) {
		bits[0] = 0;
		return 1;
	}
	for (uint8_t b = 1; b <= SL_CT_INVALID; b <<= 1)
		if (r->match.ct & b)
			bits[n++] = b;
	return n;
}

/*
 * Build one family's context, or leave *out NULL when no rule applies to
 * that family.  Returns 0 or -errno with err filled.
 */
static int
build_acl(const struct fw_gen *g, int family, struct rte_acl_ctx **out,
	  char *err, size_t err_size)
{
	size_t rule_size = family == 4 ? RTE_ACL_RULE_SZ(F4_NUM)
				       : RTE_ACL_RULE_SZ(F6_NUM);
	uint32_t n_acl = 0, added = 0;
	struct rte_acl_config cfg;
	struct rte_acl_param prm;
	struct rte_acl_ctx *ctx;
	char name[RTE_ACL_NAMESIZE];
	uint8_t *buf;
	int ret;

	*out = NULL;
	for (uint32_t i = 0; i < g->n_rules; i++) {
		const struct fw_rule *r = &g->rules[i];
		uint8_t bits[4];

		if (!r->never && (r->match.family == 0 ||
				  r->match.family == family))
			n_acl += ct_bits_of(r, bits);
	}
	if (n_acl == 0)
		return 0;

	snprintf(name, sizeof(name), "sl_acl%d_%" PRIu64, family,
		 __atomic_fetch_add(&acl_seq, 1, __ATOMIC_RELAXED));
	prm = (struct rte_acl_param){
		.name = name,
		.socket_id = SOCKET_ID_ANY,
		.rule_size = (uint32_t)rule_size,
		.max_rule_num = n_acl,
	};
	ctx = rte_acl_create(&prm);
	buf = calloc(n_acl, rule_size);
	if (ctx == NULL || buf == NULL) {
		sl_errf(err, err_size, "cannot allocate an ACL context of %u "
			"rules", n_acl);
		rte_acl_free(ctx);
		free(buf);
		return -ENOMEM;
	}

	for (uint32_t i = 0; i < g->n_rules; i++) {
		const struct fw_rule *r = &g->rules[i];
		uint8_t bits[4];
		unsigned int nb;

		if (r->never || (r->match.family != 0 &&
				 r->match.family != family))
			continue;
		nb = ct_bits_of(r, bits);
		for (unsigned int b = 0; b < nb; b++) {
			struct rte_acl_rule *a =
				(struct rte_acl_rule *)(buf + rule_size * added++);

			/* First match wins: earlier rules rank higher. */
			a->data.priority = (int32_t)(RTE_ACL_MAX_PRIORITY - i);
			a->data.userdata = i + 1;
			a->data.category_mask = r->has_payload
				? 1u << FW_CAT_PAYLOAD : 1u << FW_CAT_PLAIN;
			if (family == 4)
				fill_rule4((struct fw_rule4 *)a, r, bits[b]);
			else
				fill_rule6((struct fw_rule6 *)a, r, bits[b]);
		}
	}

	ret = rte_acl_add_rules(ctx, (struct rte_acl_rule *)buf, added);
	free(buf);
	if (ret != 0) {
		sl_errf(err, err_size, "rte_acl_add_rules: %s", strerror(-ret));
		rte_acl_free(ctx);
		return ret;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.num_categories = g->categories;
	cfg.num_fields = family == 4 ? F4_NUM : F6_NUM;
	memcpy(cfg.defs, family == 4 ? defs4 : defs6,
	       sizeof(cfg.defs[0]) * cfg.num_fields);
	ret = rte_acl_build(ctx, &cfg);
	if (ret != 0) {
		sl_errf(err, err_size, "rte_acl_build (IPv%d, %u rules): %s",
			family, added, strerror(-ret));
		rte_acl_free(ctx);
		return ret;
	}
	*out = ctx;
	return 0;
}

/* A literal as a Hyperscan expression: every byte escaped. */
static char *
literal_to_regex(const char *lit)
{
	size_t n = strlen(lit);
	char *re = malloc(4 * n + 1);

	if (re == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		snprintf(re + 4 * i, 5, "\\x%02x", (unsigned char)lit[i]);
	re[4 * n] = '\0';
	return re;
}

static unsigned int
hs_flags_of(const struct sl_payload *p)
{
	unsigned int f = HS_FLAG_SINGLEMATCH;

	if (p->flags & SL_PAYLOAD_CASELESS)
		f |= HS_FLAG_CASELESS;
	if (p->flags & SL_PAYLOAD_DOTALL)
		f |= HS_FLAG_DOTALL;
	if (p->flags & SL_PAYLOAD_MULTILINE)
		f |= HS_FLAG_MULTILINE;
	if (p->flags & SL_PAYLOAD_UTF8)
		f |= HS_FLAG_UTF8;
	if (p->flags & SL_PAYLOAD_UCP)
		f |= HS_FLAG_UCP;
	return f;
}

static int
build_hyperscan(struct fw_gen *g, const struct sl_policy *p, char *err,
		size_t err_size)
{
	uint32_t n = g->n_payload_rules, k = 0;
	const char **exprs = calloc(n, sizeof(*exprs));
	char **owned = calloc(n, sizeof(*owned));
	unsigned int *flags = calloc(n, sizeof(*flags));
	unsigned int *ids = calloc(n, sizeof(*ids));
	hs_compile_error_t *cerr = NULL;
	int ret = 0;

	g->hs_rule = calloc(n, sizeof(*g->hs_rule));
	if (!exprs || !owned || !flags || !ids || !g->hs_rule) {
		sl_errf(err, err_size, "out of memory");
		ret = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < g->n_rules; i++) {
		const struct sl_payload *pl = &p->rules[i].match.payload;

		if (!g->rules[i].has_payload)
			continue;
		if (pl->kind == SL_PAYLOAD_LITERAL) {
			owned[k] = literal_to_regex(pl->pattern);
			if (owned[k] == NULL) {
				ret = -ENOMEM;
				goto out;
			}
			exprs[k] = owned[k];
		} else {
			exprs[k] = pl->pattern;
		}
		flags[k] = hs_flags_of(pl);
		ids[k] = k;
		g->hs_rule[k] = i;
		k++;
	}
	if (hs_compile_multi(exprs, flags, ids, n, HS_MODE_BLOCK, NULL,
			     &g->hs_db, &cerr) != HS_SUCCESS) {
		int bad = cerr->expression;

		sl_errf(err, err_size, "rules[%u].payload: %s",
			bad >= 0 ? g->hs_rule[bad] : 0, cerr->message);
		hs_free_compile_error(cerr);
		ret = -EINVAL;
		goto out;
	}
	if (hs_alloc_scratch(g->hs_db, &g->scratch[0]) != HS_SUCCESS) {
		sl_errf(err, err_size, "cannot allocate Hyperscan scratch");
		ret = -ENOMEM;
		goto out;
	}
	for (uint16_t w = 1; w < g->nb_workers; w++) {
		if (hs_clone_scratch(g->scratch[0], &g->scratch[w]) !=
		    HS_SUCCESS) {
			sl_errf(err, err_size, "cannot clone Hyperscan scratch");
			ret = -ENOMEM;
			goto out;
		}
	}
out:
	for (uint32_t i = 0; owned && i < n; i++)
		free(owned[i]);
	free(owned);
	free(exprs);
	free(flags);
	free(ids);
	return ret;
}

void
fw_build_keep_heap(void)
{
	mallopt(M_MMAP_THRESHOLD, 256 << 20);
	mallopt(M_TRIM_THRESHOLD, INT32_MAX);
}

struct fw_gen *
fw_build(const struct sl_policy *p, const uint16_t *port_of,
	 uint16_t nb_workers, uint64_t id, char *err, size_t err_size)
{
	struct fw_gen *g = calloc(1, sizeof(*g));

	if (g == NULL || nb_workers == 0 || nb_workers > FW_WORKERS_MAX) {
		sl_errf(err, err_size, g ? "bad worker count %u"
					 : "out of memory", nb_workers);
		free(g);
		return NULL;
	}
	g->id = id;
	g->n_rules = (uint32_t)p->n_rules;
	g->nb_workers = nb_workers;
	g->rules = calloc(g->n_rules + 1, sizeof(*g->rules));
	g->rule_ids = calloc(g->n_rules + 1, sizeof(*g->rule_ids));
	g->carried = calloc(g->n_rules + 1, sizeof(*g->carried));
	g->counters = rte_zmalloc("sl_fw_counters",
				  sizeof(*g->counters) * nb_workers *
					  (g->n_rules + 1),
				  RTE_CACHE_LINE_SIZE);
	if (!g->rules || !g->rule_ids || !g->counters || !g->carried) {
		sl_errf(err, err_size, "out of memory for %u rules",
			g->n_rules);
		goto fail;
	}

	for (uint32_t i = 0; i < g->n_rules; i++) {
		const struct sl_rule *src = &p->rules[i];
		struct fw_rule *r = &g->rules[i];

		if (sl_match_compile(p, i, &r->match) != 0) {
			sl_errf(err, err_size, "rules[%u]: cannot compile the "
				"match", i);
			goto fail;
		}
		r->action = src->action.type;
		r->copies = src->action.copies;
		r->group = src->action.group
			? sl_policy_find_group(p, src->action.group) : -1;
		r->has_payload = src->match.payload.kind != SL_PAYLOAD_NONE;
		if (r->match.in_port >= 0) {
			r->in_port = port_of[r->match.in_port];
			r->never = r->in_port == UINT16_MAX;
		}
		g->n_payload_rules += r->has_payload;
		g->uses_ct |= (r->match.ct & SL_CT_ALL) != SL_CT_ALL;
		g->per_packet |= r->has_payload || r->match.tcp_flags_mask;
		g->rule_ids[i] = strdup(src->id);
		if (g->rule_ids[i] == NULL)
			goto fail;
	}
	g->rules[g->n_rules].action = p->default_action.type;
	g->rules[g->n_rules].copies = p->default_action.copies;
	g->rules[g->n_rules].group = p->default_action.group
		? sl_policy_find_group(p, p->default_action.group) : -1;
	for (uint32_t i = 0; i <= g->n_rules; i++)
		g->rep_actions |= g->rules[i].action == SL_ACTION_REPLICATE ||
				  g->rules[i].action == SL_ACTION_STEER;
	g->rule_ids[g->n_rules] = strdup("default");
	if (g->rule_ids[g->n_rules] == NULL)
		goto fail;

	g->categories = g->n_payload_rules > 0 ? FW_CATEGORIES : 1;
	if (build_acl(g, 4, &g->acl4, err, err_size) != 0 ||
	    build_acl(g, 6, &g->acl6, err, err_size) != 0)
		goto fail;
	if (g->n_payload_rules > 0 && build_hyperscan(g, p, err, err_size) != 0)
		goto fail;
	return g;
fail:
	fw_free(g);
	return NULL;
}

void
fw_free(struct fw_gen *g)
{
	if (g == NULL)
		return;
	rte_acl_free(g->acl4);
	rte_acl_free(g->acl6);
	for (unsigned int w = 0; w < FW_WORKERS_MAX; w++)
		if (g->scratch[w] != NULL)
			hs_free_scratch(g->scratch[w]);
	hs_free_database(g->hs_db);
	rep_free(g->rep);
	free(g->hs_rule);
	for (uint32_t i = 0; g->rule_ids && i <= g->n_rules; i++)
		free(g->rule_ids[i]);
	free(g->rule_ids);
	free(g->rules);
	free(g->carried);
	rte_free(g->counters);
	free(g);
}

struct fw_rule_counter
fw_rule_total(const struct fw_gen *g, uint32_t rule)
{
	struct fw_rule_counter t = g->carried[rule];

	for (uint16_t w = 0; w < g->nb_workers; w++) {
		const struct fw_rule_counter *c =
			&g->counters[(size_t)w * (g->n_rules + 1) + rule];

		t.packets += c->packets;
		t.bytes += c->bytes;
	}
	return t;
}

int
fw_carry_counters(struct fw_gen *g, const struct fw_gen *old)
{
	/* Open addressing over g's rule ids, twice as many slots as ids. */
	uint32_t slots = rte_align32pow2(2 * (g->n_rules + 1));
	uint32_t *index = malloc(sizeof(*index) * slots);

	if (index == NULL)
		return -ENOMEM;
	memset(index, 0xff, sizeof(*index) * slots);
	for (uint32_t i = 0; i <= g->n_rules; i++) {
		uint32_t h = (uint32_t)XXH3_64bits(g->rule_ids[i],
						   strlen(g->rule_ids[i]));

		while (index[h & (slots - 1)] != UINT32_MAX)
			h++;
		index[h & (slots - 1)] = i;
	}
	for (uint32_t r = 0; r <= old->n_rules; r++) {
		const char *id = old->rule_ids[r];
		uint32_t h = (uint32_t)XXH3_64bits(id, strlen(id));
		struct fw_rule_counter t = fw_rule_total(old, r);

		for (uint32_t i; (i = index[h & (slots - 1)]) != UINT32_MAX; h++) {
			if (strcmp(g->rule_ids[i], id) == 0) {
				g->carried[i].packets += t.packets;
				g->carried[i].bytes += t.bytes;
				break;
			}
		}
	}
	free(index);
	return 0;
}
