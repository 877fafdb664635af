/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Policy lifetime (new, copy, compare, free) and the loaders that run the
 * stages in order: text -> tree (policy_json_in.c, policy_yaml_in.c) ->
 * model (policy_decode.c) -> automatic ids -> whole-model checks
 * (policy_validate.c), with each check's error placed back at its line and
 * column in the text.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "policy_internal.h"

struct sl_policy *
sl_policy_new(void)
{
	struct sl_policy *p = calloc(1, sizeof(*p));

	if (p == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	p->settings.ct_enabled = true;
	p->settings.ct_size = SL_POLICY_CT_SIZE_DEFAULT;
#define SL_CT_TIMEOUT_DEFAULT_(name, dflt) p->settings.ct_timeouts.name = dflt;
	SL_CT_TIMEOUTS(SL_CT_TIMEOUT_DEFAULT_)
#undef SL_CT_TIMEOUT_DEFAULT_
	p->settings.rt_icmp_errors = SL_POLICY_ICMP_ERRORS_DEFAULT;
	p->settings.rt_max_routes_ipv4 = SL_POLICY_ROUTES_V4_DEFAULT;
	p->settings.rt_max_routes_ipv6 = SL_POLICY_ROUTES_V6_DEFAULT;
	p->default_action.type = SL_ACTION_DROP;
	return p;
}

static void
action_clear(struct sl_action *a)
{
	free(a->group);
	a->group = NULL;
}

void
sl_policy_free(struct sl_policy *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n_ports; i++) {
		struct sl_port *port = &p->ports[i];

		free(port->name);
		free(port->devargs);
		free(port->peer);
		free(port->addrs);
	}
	free(p->ports);
	for (size_t i = 0; i < p->n_rules; i++) {
		struct sl_rule *r = &p->rules[i];

		free(r->id);
		free(r->comment);
		free(r->match.in_port);
		free(r->match.payload.pattern);
		action_clear(&r->action);
	}
	free(p->rules);
	action_clear(&p->default_action);
	for (size_t i = 0; i < p->n_routes; i++) {
		for (size_t j = 0; j < p->routes[i].n_nexthops; j++)
			free(p->routes[i].nexthops[j].port);
		free(p->routes[i].nexthops);
	}
	free(p->routes);
	for (size_t i = 0; i < p->n_groups; i++) {
		for (size_t j = 0; j < p->groups[i].n_targets; j++)
			free(p->groups[i].targets[j].port);
		free(p->groups[i].name);
		free(p->groups[i].targets);
	}
	free(p->groups);
	free(p);
}

/* ------------------------------------------------------------------------
 * Deep copy
 */

static bool
copy_str(char **dst, const char *src)
{
	*dst = NULL;
	if (src == NULL)
		return true;
	*dst = strdup(src);
	return *dst != NULL;
}

/* *dst = a copy of n elements of size bytes (NULL when n is 0). */
static bool
copy_array(void *dst, const void *src, size_t n, size_t size)
{
	void **d = dst;

	*d = NULL;
	if (n == 0)
		return true;
	*d = calloc(n, size);
	if (*d == NULL)
		return false;
	memcpy(*d, src, n * size);
	return true;
}

struct sl_policy *
sl_policy_dup(const struct sl_policy *src)
{
	struct sl_policy *p = calloc(1, sizeof(*p));
	bool ok;

	if (p == NULL)
		goto nomem;
	*p = *src;
	/* Counts go up as each array is copied, so a failure frees cleanly. */
	p->ports = NULL;
	p->rules = NULL;
	p->routes = NULL;
	p->groups = NULL;
	p->n_ports = p->n_rules = p->n_routes = p->n_groups = 0;
	p->default_action.group = NULL;

	ok = copy_str(&p->default_action.group, src->default_action.group) &&
	     copy_array(&p->ports, src->ports, src->n_ports, sizeof(*p->ports));
	if (!ok)
		goto fail;
	for (size_t i = 0; i < src->n_ports; i++) {
		struct sl_port *d = &p->ports[i];
		const struct sl_port *s = &src->ports[i];

		d->name = d->devargs = d->peer = NULL;
		d->addrs = NULL;
		p->n_ports = i + 1;
		if (!copy_str(&d->name, s->name) ||
		    !copy_str(&d->devargs, s->devargs) ||
		    !copy_str(&d->peer, s->peer) ||
		    !copy_array(&d->addrs, s->addrs, s->n_addrs,
				sizeof(*d->addrs)))
			goto fail;
	}
	p->n_ports = src->n_ports;

	if (!copy_array(&p->rules, src->rules, src->n_rules, sizeof(*p->rules)))
		goto fail;
	for (size_t i = 0; i < src->n_rules; i++) {
		struct sl_rule *d = &p->rules[i];
		const struct sl_rule *s = &src->rules[i];

		d->id = d->comment = d->match.in_port = NULL;
		d->match.payload.pattern = d->action.group = NULL;
		p->n_rules = i + 1;
		if (!copy_str(&d->id, s->id) ||
		    !copy_str(&d->comment, s->comment) ||
		    !copy_str(&d->match.in_port, s->match.in_port) ||
		    !copy_str(&d->match.payload.pattern,
			      s->match.payload.pattern) ||
		    !copy_str(&d->action.group, s->action.group))
			goto fail;
	}
	p->n_rules = src->n_rules;

	if (!copy_array(&p->routes, src->routes, src->n_routes,
			sizeof(*p->routes)))
		goto fail;
	for (size_t i = 0; i < src->n_routes; i++) {
		struct sl_route *d = &p->routes[i];
		const struct sl_route *s = &src->routes[i];

		d->nexthops = NULL;
		d->n_nexthops = 0;
		p->n_routes = i + 1;
		if (!copy_array(&d->nexthops, s->nexthops, s->n_nexthops,
				sizeof(*d->nexthops)))
			goto fail;
		for (size_t j = 0; j < s->n_nexthops; j++)
			d->nexthops[j].port = NULL;
		d->n_nexthops = s->n_nexthops;
		for (size_t j = 0; j < s->n_nexthops; j++)
			if (!copy_str(&d->nexthops[j].port, s->nexthops[j].port))
				goto fail;
	}
	p->n_routes = src->n_routes;

	if (!copy_array(&p->groups, src->groups, src->n_groups,
			sizeof(*p->groups)))
		goto fail;
	for (size_t i = 0; i < src->n_groups; i++) {
		struct sl_group *d = &p->groups[i];
		const struct sl_group *s = &src->groups[i];

		d->name = NULL;
		d->targets = NULL;
		d->n_targets = 0;
		p->n_groups = i + 1;
		if (!copy_str(&d->name, s->name) ||
		    !copy_array(&d->targets, s->targets, s->n_targets,
				sizeof(*d->targets)))
			goto fail;
		for (size_t j = 0; j < s->n_targets; j++)
			d->targets[j].port = NULL;
		d->n_targets = s->n_targets;
		for (size_t j = 0; j < s->n_targets; j++)
			if (!copy_str(&d->targets[j].port, s->targets[j].port))
				goto fail;
	}
	p->n_groups = src->n_groups;
	return p;

fail:
	sl_policy_free(p);
nomem:
	errno = ENOMEM;
	return NULL;
}

/* ------------------------------------------------------------------------
 * Equality
 */

static bool
str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

bool
sl_action_eq(const struct sl_action *a, const struct sl_action *b)
{
	return a->type == b->type && str_eq(a->group, b->group) &&
	       (a->type != SL_ACTION_REPLICATE || a->copies == b->copies);
}

/* Fields that are not set are not compared. */
static bool
match_eq(const struct sl_match *a, const struct sl_match *b)
{
	uint32_t f = a->fields;

	if (a->fields != b->fields)
		return false;
	if ((f & SL_MATCH_SRC) && !sl_prefix_equal(&a->src, &b->src))
		return false;
	if ((f & SL_MATCH_DST) && !sl_prefix_equal(&a->dst, &b->dst))
		return false;
	if ((f & SL_MATCH_PROTO) && a->proto != b->proto)
		return false;
	if ((f & SL_MATCH_SPORT) && (a->sport.lo != b->sport.lo ||
				     a->sport.hi != b->sport.hi))
		return false;
	if ((f & SL_MATCH_DPORT) && (a->dport.lo != b->dport.lo ||
				     a->dport.hi != b->dport.hi))
		return false;
	if ((f & SL_MATCH_IN_PORT) && !str_eq(a->in_port, b->in_port))
		return false;
	if ((f & SL_MATCH_VLAN) && a->vlan != b->vlan)
		return false;
	if ((f & SL_MATCH_TCP_FLAGS) && (a->tcp_flags != b->tcp_flags ||
					 a->tcp_flags_mask != b->tcp_flags_mask))
		return false;
	if ((f & SL_MATCH_CT) && a->ct != b->ct)
		return false;
	if ((f & SL_MATCH_PAYLOAD) &&
	    (a->payload.kind != b->payload.kind ||
	     a->payload.flags != b->payload.flags ||
	     !str_eq(a->payload.pattern, b->payload.pattern)))
		return false;
	return true;
}

bool
sl_port_eq(const struct sl_port *a, const struct sl_port *b)
{
	if (!str_eq(a->name, b->name) || a->has_dpdk_port != b->has_dpdk_port ||
	    (a->has_dpdk_port && a->dpdk_port != b->dpdk_port) ||
	    !str_eq(a->devargs, b->devargs) || a->mode != b->mode ||
	    !str_eq(a->peer, b->peer) || a->n_addrs != b->n_addrs)
		return false;
	for (size_t i = 0; i < a->n_addrs; i++)
		if (!sl_prefix_equal(&a->addrs[i], &b->addrs[i]))
			return false;
	return true;
}

bool
sl_route_eq(const struct sl_route *a, const struct sl_route *b)
{
	if (!sl_prefix_equal(&a->prefix, &b->prefix) ||
	    a->n_nexthops != b->n_nexthops)
		return false;
	for (size_t i = 0; i < a->n_nexthops; i++) {
		const struct sl_nexthop *x = &a->nexthops[i];
		const struct sl_nexthop *y = &b->nexthops[i];

		if (!sl_prefix_equal(&x->gateway, &y->gateway) ||
		    !str_eq(x->port, y->port) || x->weight != y->weight)
			return false;
	}
	return true;
}

static bool
target_eq(const struct sl_target *a, const struct sl_target *b)
{
	return a->kind == b->kind && a->state == b->state &&
	       a->weight == b->weight && str_eq(a->port, b->port) &&
	       sl_prefix_equal(&a->remote, &b->remote) &&
	       sl_prefix_equal(&a->local, &b->local) && a->vni == b->vni &&
	       a->udp_port == b->udp_port && a->has_key == b->has_key &&
	       (!a->has_key || a->key == b->key);
}

bool
sl_group_eq(const struct sl_group *a, const struct sl_group *b)
{
	if (!str_eq(a->name, b->name) || a->table_size != b->table_size ||
	    a->n_targets != b->n_targets || a->cluster != b->cluster ||
	    (a->cluster && !target_eq(&a->member, &b->member)))
		return false;
	for (size_t i = 0; i < a->n_targets; i++)
		if (!target_eq(&a->targets[i], &b->targets[i]))
			return false;
	return true;
}

bool
sl_rule_eq(const struct sl_rule *a, const struct sl_rule *b)
{
	return str_eq(a->id, b->id) && str_eq(a->comment, b->comment) &&
	       match_eq(&a->match, &b->match) &&
	       sl_action_eq(&a->action, &b->action);
}

bool
sl_settings_eq(const struct sl_settings *x, const struct sl_settings *y)
{
	return x->flow_hash_seed == y->flow_hash_seed &&
	       x->ct_enabled == y->ct_enabled && x->ct_size == y->ct_size &&
	       memcmp(&x->ct_timeouts, &y->ct_timeouts,
		      sizeof(x->ct_timeouts)) == 0 &&
	       x->rt_kernel_table == y->rt_kernel_table &&
	       x->rt_icmp_errors == y->rt_icmp_errors &&
	       x->rt_max_routes_ipv4 == y->rt_max_routes_ipv4 &&
	       x->rt_max_routes_ipv6 == y->rt_max_routes_ipv6;
}

bool
sl_policy_equal(const struct sl_policy *a, const struct sl_policy *b)
{
	if (a->generation != b->generation ||
	    !sl_settings_eq(&a->settings, &b->settings) ||
	    a->n_ports != b->n_ports || a->n_rules != b->n_rules ||
	    a->n_routes != b->n_routes || a->n_groups != b->n_groups ||
	    !sl_action_eq(&a->default_action, &b->default_action))
		return false;
	for (size_t i = 0; i < a->n_ports; i++)
		if (!sl_port_eq(&a->ports[i], &b->ports[i]))
			return false;
	for (size_t i = 0; i < a->n_rules; i++)
		if (!sl_rule_eq(&a->rules[i], &b->rules[i]))
			return false;
	for (size_t i = 0; i < a->n_routes; i++)
		if (!sl_route_eq(&a->routes[i], &b->routes[i]))
			return false;
	for (size_t i = 0; i < a->n_groups; i++)
		if (!sl_group_eq(&a->groups[i], &b->groups[i]))
			return false;
	return true;
}

int
sl_policy_find_port(const struct sl_policy *p, const char *name)
{
	for (size_t i = 0; i < p->n_ports; i++)
		if (p->ports[i].name != NULL && strcmp(p->ports[i].name, name) == 0)
			return (int)i;
	return -1;
}

int
sl_policy_find_group(const struct sl_policy *p, const char *name)
{
	for (size_t i = 0; i < p->n_groups; i++)
		if (p->groups[i].name != NULL &&
		    strcmp(p->groups[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* ------------------------------------------------------------------------
 * Automatic ids
 */

int
sl_policy_assign_ids(struct sl_policy *p)
{
	for (size_t i = 0; i < p->n_rules; i++) {
		struct sl_rule *r = &p->rules[i];
		char id[sizeof(SL_POLICY_AUTO_ID_PREFIX) + 16];
		json_t *j;
		char *text;

		if (r->id != NULL)
			continue;
		j = sl_rule_to_json(r, false);
		text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
		json_decref(j);
		if (text == NULL)
			return -ENOMEM;
		snprintf(id, sizeof(id), SL_POLICY_AUTO_ID_PREFIX "%016llx",
			 (unsigned long long)XXH3_64bits_withSeed(text,
								  strlen(text),
								  0));
		free(text);
		r->id = strdup(id);
		if (r->id == NULL)
			return -ENOMEM;
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * Loading
 */

/*
 * The part of a path that names one list item ("rules[3]" for
 * "rules[3].dport") or one top-level section ("settings").
 */
static size_t
item_prefix_len(const char *path)
{
	const char *bracket = strchr(path, ']');
	size_t dot = strcspn(path, ".[");

	if (bracket != NULL && (size_t)(bracket - path) >= dot &&
	    path[dot] == '[')
		return (size_t)(bracket - path) + 1;
	return dot;
}

/* A whole-model error about an item that already failed to decode. */
static bool
follows_decode_error(const struct sl_policy_errors *errs, unsigned int n,
		     const char *path)
{
	for (unsigned int i = 0; i < n; i++) {
		const char *dp = errs->list[i].path;
		size_t len = item_prefix_len(dp);

		if (strncmp(path, dp, len) == 0 &&
		    (path[len] == '\0' || path[len] == '.' || path[len] == '[' ||
		     len == 0))
			return true;
	}
	return false;
}

/* Stable insertion sort by line and column (at most ERRORS_MAX entries). */
static void
sort_by_position(struct sl_policy_errors *errs)
{
	for (unsigned int i = 1; i < errs->count; i++) {
		struct sl_policy_error e = errs->list[i];
		unsigned int j = i;

		while (j > 0 && (errs->list[j - 1].line > e.line ||
				 (errs->list[j - 1].line == e.line &&
				  errs->list[j - 1].column > e.column))) {
			errs->list[j] = errs->list[j - 1];
			j--;
		}
		errs->list[j] = e;
	}
}

static int
load(const char *buf, size_t len, bool yaml, struct sl_policy **out,
     struct sl_policy_errors *user_errs)
{
	struct sl_policy_errors *errs = user_errs;
	struct sl_policy_errors *checks = NULL;
	struct sl_policy *p = NULL;
	struct sl_tree t;
	unsigned int broken = 0, n_decode;
	int rc;

	*out = NULL;
	if (errs == NULL) {
		errs = malloc(sizeof(*errs));
		if (errs == NULL)
			return -ENOMEM;
	}
	sl_errors_clear(errs);
	sl_tree_init(&t);
	if (len > SL_POLICY_TEXT_MAX) {
		sl_err_add(errs, "", 0, 0, "the document is larger than %u MiB",
			   SL_POLICY_TEXT_MAX >> 20);
		rc = -EFBIG;
		goto out;
	}
	rc = yaml ? sl_yaml_to_tree(buf, len, &t, errs) :
		    sl_json_to_tree(buf, len, &t, errs);
	if (rc < 0)
		goto out;
	rc = sl_policy_decode(t.root, &p, errs, &broken);
	if (rc < 0)
		goto out;
	n_decode = errs->count;
	rc = sl_policy_assign_ids(p);
	if (rc < 0)
		goto out;

	checks = malloc(sizeof(*checks));
	if (checks == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	rc = sl_policy_validate_skip(p, checks, broken);
	if (rc == -ENOMEM)
		goto out;
	for (unsigned int i = 0; i < checks->count; i++) {
		struct sl_policy_error *e = &checks->list[i];

		if (follows_decode_error(errs, n_decode, e->path))
			continue;
		sl_tree_locate(&t, e->path, &e->line, &e->column);
		sl_err_add(errs, e->path, e->line, e->column, "%s", e->message);
	}
	errs->dropped += checks->dropped;
	sort_by_position(errs);
	rc = sl_errors_any(errs) ? -EINVAL : 0;

out:
	if (rc == 0) {
		*out = p;
	} else {
		if (rc == -ENOMEM)
			sl_err_add(errs, "", 0, 0, "out of memory");
		sl_policy_free(p);
	}
	free(checks);
	sl_tree_free(&t);
	if (errs != user_errs)
		free(errs);
	return rc;
}

int
sl_policy_from_json_buf(const char *buf, size_t len, struct sl_policy **out,
			struct sl_policy_errors *errs)
{
	return load(buf, len, false, out, errs);
}

int
sl_policy_from_yaml_buf(const char *buf, size_t len, struct sl_policy **out,
			struct sl_policy_errors *errs)
{
	return load(buf, len, true, out, errs);
}

int
sl_policy_from_json_str(const char *str, struct sl_policy **out,
			struct sl_policy_errors *errs)
{
	return load(str, strlen(str), false, out, errs);
}

int
sl_policy_from_yaml_str(const char *str, struct sl_policy **out,
			struct sl_policy_errors *errs)
{
	return load(str, strlen(str), true, out, errs);
}

static bool
ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* The whole file into a malloc'd buffer (NUL-terminated). */
static int
read_all(int fd, char **out, size_t *out_len)
{
	size_t cap = 64 * 1024, len = 0;
	char *buf = malloc(cap + 1);

	if (buf == NULL)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (len == cap) {
			char *nb;

			if (cap > SL_POLICY_TEXT_MAX) {
				free(buf);
				return -EFBIG;
			}
			cap *= 2;
			nb = realloc(buf, cap + 1);
			if (nb == NULL) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			n = -errno;
			free(buf);
			return (int)n;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	return 0;
}

int
sl_policy_load_file(const char *path, struct sl_policy **out,
		    struct sl_policy_errors *errs)
{
	char *buf = NULL;
	size_t len = 0;
	bool yaml;
	int fd, rc;

	*out = NULL;
	sl_errors_clear(errs);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		sl_err_add(errs, "", 0, 0, "cannot open %.120s: %s", path,
			   strerror(-rc));
		return rc;
	}
	rc = read_all(fd, &buf, &len);
	close(fd);
	if (rc < 0) {
		sl_err_add(errs, "", 0, 0, "cannot read %.120s: %s", path,
			   rc == -EFBIG ? "larger than 256 MiB" : strerror(-rc));
		return rc;
	}
	if (ends_with(path, ".yaml") || ends_with(path, ".yml")) {
		yaml = true;
	} else if (ends_with(path, ".json")) {
		yaml = false;
	} else {
		size_t i = strspn(buf, " \t\r\n");

		yaml = buf[i] != '{';
	}
	rc = load(buf, len, yaml, out, errs);
	free(buf);
	return rc;
}
