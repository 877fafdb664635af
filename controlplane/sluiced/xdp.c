/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The XDP backend of sluiced (--backend xdp, docs/sluiced.md): the policy
 * is enforced by the XDP program (bpf/, docs/xdp.md) that sluiced loads -
 * or adopts, when one is pinned under --xdp-pin-root - and attaches to the
 * --xdp-dev interfaces.  sd_apply() asks check() before it persists a
 * change and calls apply() once it is installed; the loader switches the
 * program's maps atomically.  Stats are read from the program's per-CPU
 * counters in the dataplane's "stats" shape, so /v1/stats, /metrics and
 * sluicectl read both backends alike.
 *
 * Built only with -Dxdp=true (it links libsl_xdp); main.c refuses
 * --backend xdp otherwise.  On exit the program stays attached and pinned:
 * forwarding goes on, and the next sluiced adopts it.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sluice/drop_reason.h"
#include "xdp_compile.h"
#include "xdp_loader.h"
#include "xdp_trace.h"

#include "api.h"
#include "log.h"
#include "sluiced.h"

#define SD_XDP_DEVS_MAX 16

struct sd_xdp {
	struct sl_xdp *x;
	bool adopted;
	unsigned int n_devs;
	char devs[SD_XDP_DEVS_MAX][IF_NAMESIZE];
	enum sl_xdp_mode mode[SD_XDP_DEVS_MAX];
	uint64_t applied_generation;
	char applied_digest[17];	/* sd_push_digest() of what runs */
	char last_error[512];
	/* The trace or capture in progress (one at a time: the program has
	 * one budget and one filter); tc NULL: none. */
	struct sl_xdp_trace *ring;	/* opened at the first one */
	struct sd_call *tc;
	bool tcapture;
	json_t *tpackets;		/* trace: the packets so far */
	struct sl_xdp_trace_rec *trecs;	/* capture: tcount records */
	char tport[IF_NAMESIZE];	/* capture: the port */
	uint32_t tcount, tgot;
	int64_t tdeadline_ms;
};

static int
xdp_check(struct sluiced *sd, const struct sl_policy *p, struct sd_err *e)
{
	char err[512];

	(void)sd;
	if (sl_xdp_policy_supported(p, err, sizeof(err)) == 0)
		return 0;
	sd_err_set(e, 422, "invalid", NULL, "the XDP backend cannot "
		   "enforce this policy: %s", err);
	return -1;
}

static int
xdp_apply(struct sluiced *sd, const struct sl_policy *p)
{
	struct sd_xdp *b = sd->backend->priv;
	int ret;

	ret = sl_xdp_apply(b->x, p, NULL, b->last_error,
			   sizeof(b->last_error));
	if (ret != 0) {
		SD_ERR("xdp: generation %llu not applied: %s",
		       (unsigned long long)p->generation, b->last_error);
		return ret;
	}
	b->last_error[0] = '\0';
	b->applied_generation = p->generation;
	/* p is sd_push_policy(): the generation stays while the members
	 * change the derived targets; the digest tells them apart. */
	snprintf(b->applied_digest, sizeof(b->applied_digest), "%s",
		 sd_push_digest(sd));
	return 0;
}

static json_t *
xdp_stats(struct sluiced *sd)
{
	struct sd_xdp *b = sd->backend->priv;
	struct sl_xdp_stats *s;
	json_t *root, *rules, *drops, *ports, *steer, *replicate;
	char name[IF_NAMESIZE];
	int ret;

	ret = sl_xdp_stats_read(b->x, &s);
	if (ret != 0) {
		errno = -ret;
		return NULL;
	}
	root = json_object();
	rules = json_array();
	drops = json_object();
	ports = json_array();
	/* The dataplane's shape where they overlap (rules, drops, ports);
	 * what only XDP has is under "xdp". */
	for (uint32_t i = 0; s->has_policy && i <= s->n_rules; i++)
		json_array_append_new(rules, json_pack("{s:s, s:s, s:I, s:I}",
			"id", s->rules[i].id,
			"action", sl_action_name(s->rules[i].action),
			"packets", (json_int_t)s->rules[i].packets,
			"bytes", (json_int_t)s->rules[i].bytes));
	for (unsigned int r = 1; r < SL_DROP_MAX; r++)
		json_object_set_new(drops, sl_drop_reason_name(r),
			json_integer((json_int_t)s->drops[r].packets));
	for (size_t i = 0; i < s->n_ports; i++) {
		if (if_indextoname(s->ports[i].ifindex, name) == NULL)
			snprintf(name, sizeof(name), "if%u",
				 s->ports[i].ifindex);
		json_array_append_new(ports, json_pack(
			"{s:s, s:s, s:i, s:I, s:I, s:I, s:I, s:I, s:I}",
			"name", name,	/* as the dataplane's ports */
			"port", name,
			"ifindex", (int)s->ports[i].ifindex,
			"rx_packets", (json_int_t)s->ports[i].rx_packets,
			"rx_bytes", (json_int_t)s->ports[i].rx_bytes,
			"passed", (json_int_t)s->ports[i].passed,
			"dropped", (json_int_t)s->ports[i].dropped,
			"routed", (json_int_t)s->ports[i].routed,
			"steered", (json_int_t)s->ports[i].steered));
	}
	json_object_set_new(root, "backend", json_string("xdp"));
	json_object_set_new(root, "rules", rules);
	json_object_set_new(root, "drops", drops);
	json_object_set_new(root, "ports", ports);
	/* the dataplane's "replication" (dataplane/counters.c), so that
	 * /metrics and sluicectl read both backends alike */
	json_object_set_new(root, "replication", json_pack(
		"{s:I, s:I, s:I, s:I, s:I}",
		"copies", (json_int_t)s->rep[SL_XDP_REP_COPIES].packets,
		"short", (json_int_t)s->rep[SL_XDP_REP_SHORT].packets,
		"failed", (json_int_t)s->rep[SL_XDP_REP_FAILED].packets,
		"stale", (json_int_t)s->rep[SL_XDP_REP_STALE].packets,
		/* as the dataplane's rep_steered: to a port or down a tunnel */
		"steered", (json_int_t)(s->steer[SL_XDP_ST_STEERED].packets +
			s->steer[SL_XDP_ST_ENCAPSULATED].packets)));
	/* Why steered packets went where they did, as `sluice-xdp stats`
	 * says it ("encapsulated": sent down a tunnel target), and what
	 * became of replicate's copies (the tunnel reasons too). */
	steer = json_object();
	for (unsigned int r = 0; r < SL_XDP_ST_MAX; r++)
		json_object_set_new(steer, sl_xdp_st_reason_name(r),
			json_integer((json_int_t)s->steer[r].packets));
	replicate = json_object();
	for (unsigned int r = 0; r < SL_XDP_REP_MAX; r++)
		json_object_set_new(replicate, sl_xdp_rep_reason_name(r),
			json_integer((json_int_t)s->rep[r].packets));
	json_object_set_new(root, "xdp", json_pack("{s:b, s:I, s:s, s:o, s:o}",
		"policy", s->has_policy,
		"generation", (json_int_t)s->generation,
		"routing", s->routing ? "fib" : "pass",
		"steer", steer,
		"replicate", replicate));
	sl_xdp_stats_free(s);
	return root;
}

static json_t *
xdp_status(struct sluiced *sd)
{
	struct sd_xdp *b = sd->backend->priv;
	json_t *devs = json_array();

	for (unsigned int i = 0; i < b->n_devs; i++)
		json_array_append_new(devs, json_pack("{s:s, s:s}",
			"name", b->devs[i],
			"mode", b->mode[i] == SL_XDP_MODE_NATIVE ? "native"
								 : "generic"));
	return json_pack("{s:o, s:s, s:b, s:I, s:s, s:o}",
		"devices", devs,
		"pin_root", sd->opt.xdp_pin_root,
		"adopted", b->adopted,
		"policy_generation", (json_int_t)b->applied_generation,
		"policy_digest", b->applied_digest,
		"last_error", b->last_error[0] ? json_string(b->last_error)
					       : json_null());
}

/* ------------------------------------------------------------------------
 * Trace and capture (POST /v1/trace, /v1/capture): arm the program's
 * trace, gather records from its ring buffer as the loop turns (the ring's
 * epoll fd is in the loop's set while one runs), reply when count records
 * came or at the deadline: the packets as JSON, or a pcapng file of their
 * first SL_XDP_TRACE_SNAP bytes.
 */

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A record from the ring: into the reply of the watch in progress, or
 * dropped (one left over from a watch that ended, or from an earlier
 * sluiced). */
static int
on_trace_rec(void *ctx, const struct sl_xdp_trace_rec *r)
{
	struct sd_xdp *b = ctx;

	if (b->tc == NULL || b->tgot >= b->tcount)
		return 0;
	if (b->tcapture)
		b->trecs[b->tgot] = *r;
	else
		json_array_append_new(b->tpackets, sl_xdp_trace_json(b->x, r));
	b->tgot++;
	return 0;
}

/* The capture's records as the reply's pcapng file. */
static void
capture_reply(struct sd_call *c, struct sd_xdp *b)
{
	uint8_t *buf;
	size_t len;

	if (sl_xdp_trace_pcapng(b->trecs, b->tgot, b->tport, &buf, &len) != 0) {
		sd_fail(c, 503, "out_of_memory", NULL, "out of memory");
		return;
	}
	c->text = (char *)buf;
	c->text_len = len;
	c->status = 200;
	c->content_type = "application/x-pcapng";
	c->disposition = "attachment; filename=\"capture.pcapng\"";
}

static void
watch_clear(struct sd_xdp *b)
{
	json_decref(b->tpackets);
	free(b->trecs);
	b->tpackets = NULL;
	b->trecs = NULL;
	b->tc = NULL;
}

/* Disarm, take what the ring still holds, reply and resume. */
static void
watch_finish(struct sluiced *sd, struct sd_xdp *b)
{
	struct sd_call *c = b->tc;
	uint64_t lost = 0;
	json_t *reply;
	int ret;

	ret = sl_xdp_trace_disarm(b->x, &lost);
	sl_xdp_trace_consume(b->ring);
	sd_loop_del(sd, sl_xdp_trace_epoll_fd(b->ring));
	if (ret != 0) {
		sd_fail(c, 503, "dataplane_error", NULL, "cannot disarm the "
			"XDP trace: %s", strerror(-ret));
	} else if (b->tcapture) {
		capture_reply(c, b);
	} else {
		reply = json_pack("{s:I, s:O}", "generation",
				  (json_int_t)sd->st.policy->generation,
				  "packets", b->tpackets);
		if (lost > 0)
			json_object_set_new(reply, "lost",
					    json_integer((json_int_t)lost));
		sd_reply(c, 200, reply);
	}
	watch_clear(b);
	sd_resume(c);
}

/* port: a capture's port (NULL: a trace). */
static void
watch_start(struct sluiced *sd, struct sd_call *c, json_t *msg,
	    const char *port)
{
	struct sd_xdp *b = sd->backend->priv;
	struct sl_xdp_trace_filter f;
	char err[512], field[64];
	int ret;

	if (b->tc != NULL) {
		sd_fail(c, 409, "busy", NULL, "a %s is in progress (the XDP "
			"backend takes one trace or capture at a time); try "
			"again when it ends, within %lld ms",
			b->tcapture ? "capture" : "trace",
			(long long)(b->tdeadline_ms - mono_ms()));
		return;
	}
	if (sl_xdp_trace_filter(json_object_get(msg, "filter"),
				sd->st.policy, &f, err, sizeof(err)) != 0) {
		/* "filter.dport: ..." names its field */
		size_t n = strcspn(err, ":");

		snprintf(field, sizeof(field), "%.*s", (int)n, err);
		sd_fail(c, 422, "invalid", field, "%s", err);
		return;
	}
	b->tcapture = port != NULL;
	if (port != NULL) {
		unsigned int ifindex = if_nametoindex(port);

		if (ifindex == 0) {
			sd_fail(c, 422, "invalid", "port", "no interface named "
				"%s on this host", port);
			return;
		}
		/* Packets that came in by the port (the filter's in_port,
		 * if it names another, leaves none, as on the DPDK path). */
		if ((f.fields & SL_XDP_TF_IN_PORT) && f.ifindex != ifindex)
			ifindex = 0;
		f.fields |= SL_XDP_TF_IN_PORT;
		f.ifindex = ifindex;
		snprintf(b->tport, sizeof(b->tport), "%s", port);
	}
	if (b->ring == NULL) {
		ret = sl_xdp_trace_open(b->x, on_trace_rec, b, &b->ring);
		if (ret != 0) {
			sd_fail(c, 503, "dataplane_error", NULL, "cannot open "
				"the XDP trace ring: %s", strerror(-ret));
			return;
		}
	}
	sl_xdp_trace_consume(b->ring);	/* leftovers: dropped, b->tc NULL */
	b->tcount = (uint32_t)json_integer_value(json_object_get(msg, "count"));
	b->tgot = 0;
	if (b->tcapture)
		b->trecs = calloc(b->tcount, sizeof(*b->trecs));
	else
		b->tpackets = json_array();
	if (b->tcapture ? b->trecs == NULL : b->tpackets == NULL) {
		watch_clear(b);
		sd_fail(c, 503, "out_of_memory", NULL, "out of memory");
		return;
	}
	ret = sl_xdp_trace_arm(b->x, &f, b->tcount);
	if (ret == 0)
		ret = sd_loop_add(sd, sl_xdp_trace_epoll_fd(b->ring));
	if (ret != 0) {
		sl_xdp_trace_disarm(b->x, NULL);
		watch_clear(b);
		sd_fail(c, 503, "dataplane_error", NULL, "cannot arm the XDP "
			"trace: %s", strerror(-ret));
		return;
	}
	b->tc = c;
	b->tdeadline_ms = mono_ms() + json_integer_value(
		json_object_get(msg, "timeout_ms"));
	sd_suspend(c);
}

/* Stopping: the watch in progress gets the DPDK path's answer to a
 * request the dataplane link dropped. */
static void
xdp_abort(struct sluiced *sd, const char *why)
{
	struct sd_xdp *b = sd->backend->priv;
	struct sd_call *c = b->tc;

	if (c == NULL)
		return;
	sl_xdp_trace_disarm(b->x, NULL);
	sd_loop_del(sd, sl_xdp_trace_epoll_fd(b->ring));
	watch_clear(b);
	sd_fail(c, 504, "timeout", NULL, "%s", why);
	sd_resume(c);
}

static void
xdp_trace(struct sluiced *sd, struct sd_call *c, json_t *msg)
{
	watch_start(sd, c, msg, NULL);
	json_decref(msg);
}

static void
xdp_capture(struct sluiced *sd, struct sd_call *c, json_t *msg)
{
	watch_start(sd, c, msg, json_string_value(json_object_get(msg,
								  "port")));
	json_decref(msg);
}

static int
xdp_tick(struct sluiced *sd)
{
	struct sd_xdp *b = sd->backend->priv;
	int64_t left;

	if (b->tc == NULL)
		return -1;
	sl_xdp_trace_consume(b->ring);
	left = b->tdeadline_ms - mono_ms();
	if (b->tgot >= b->tcount || left <= 0) {
		watch_finish(sd, b);
		return -1;
	}
	return (int)left;
}

static void
xdp_stop(struct sluiced *sd)
{
	struct sd_xdp *b = sd->backend->priv;

	/* xdp_abort() answered the watch in progress; one left here (a
	 * stop without it) ends unanswered, and the program emits nothing
	 * more. */
	if (b->tc != NULL) {
		sl_xdp_trace_disarm(b->x, NULL);
		watch_clear(b);
	}
	sl_xdp_trace_close(b->ring);

	/* Descriptors only: the pinned program, maps and links stay. */
	sl_xdp_close(b->x);
	free(b);
	sd->backend->priv = NULL;
	sd->backend = NULL;
}

static struct sd_backend xdp_backend = {
	.name = "xdp",
	.check = xdp_check,
	.apply = xdp_apply,
	.stats = xdp_stats,
	.status = xdp_status,
	.stop = xdp_stop,
	.trace = xdp_trace,
	.capture = xdp_capture,
	.tick = xdp_tick,
	.abort = xdp_abort,
};

/* --xdp-dev IF[,IF...] into b->devs. */
static int
parse_devs(struct sd_xdp *b, const char *list)
{
	const char *p = list;

	while (*p != '\0') {
		size_t n = strcspn(p, ",");

		if (n == 0 || n >= IF_NAMESIZE) {
			SD_ERR("--xdp-dev %s: want interface names separated "
			       "by commas", list);
			return -EINVAL;
		}
		if (b->n_devs == SD_XDP_DEVS_MAX) {
			SD_ERR("--xdp-dev: at most %d interfaces",
			       SD_XDP_DEVS_MAX);
			return -E2BIG;
		}
		memcpy(b->devs[b->n_devs], p, n);
		b->devs[b->n_devs++][n] = '\0';
		p += n + (p[n] == ',');
	}
	return b->n_devs > 0 ? 0 : -EINVAL;
}

int
sd_xdp_start(struct sluiced *sd)
{
	const struct sl_policy *p = sd->st.policy;
	struct sl_xdp_opts o = {
		.pin_root = sd->opt.xdp_pin_root,
		.ct_size = p->settings.ct_size,
	};
	struct sd_xdp *b = calloc(1, sizeof(*b));
	char err[512];
	int ret;

	if (b == NULL)
		return -ENOMEM;
	ret = parse_devs(b, sd->opt.xdp_devs);
	if (ret != 0)
		goto fail;
	/* The state on disk was accepted by some backend: say early, and
	 * plainly, when this one cannot enforce it.  What it runs is the
	 * effective policy (cluster groups' targets derived, cluster.h);
	 * until etcd answers, the member set is this node. */
	p = sd_push_policy(sd);
	if (sl_xdp_policy_supported(p, err, sizeof(err)) != 0) {
		SD_ERR("xdp: generation %llu cannot run in XDP: %s",
		       (unsigned long long)p->generation, err);
		ret = -ENOTSUP;
		goto fail;
	}
	ret = sl_xdp_open(&o, &b->x, err, sizeof(err));
	if (ret != 0) {
		SD_ERR("xdp: %s", err);
		goto fail;
	}
	b->adopted = sl_xdp_adopted(b->x);
	if (b->adopted)
		SD_INFO("xdp: adopted the program pinned under %s (no "
			"reattach: forwarding goes on)", o.pin_root);
	else
		SD_INFO("xdp: loaded the program%s%s", o.pin_root ?
			", pinned under " : "", o.pin_root ? o.pin_root : "");
	for (unsigned int i = 0; i < b->n_devs; i++) {
		ret = sl_xdp_attach(b->x, b->devs[i], sd->opt.xdp_generic,
				    &b->mode[i], err, sizeof(err));
		if (ret != 0) {
			SD_ERR("xdp: %s", err);
			sl_xdp_close(b->x);
			goto fail;
		}
		if (b->mode[i] == SL_XDP_MODE_GENERIC &&
		    !sd->opt.xdp_generic)
			SD_WARN("xdp: %s runs in generic mode (no native XDP "
				"in its driver): much slower", b->devs[i]);
		SD_INFO("xdp: %s: %s mode%s", b->devs[i],
			b->mode[i] == SL_XDP_MODE_NATIVE ? "native" : "generic",
			b->adopted ? " (pinned attachment adopted)" : "");
	}
	/* A trace an earlier sluiced left armed (killed mid-trace) ends
	 * here: nobody reads its records. */
	sl_xdp_trace_disarm(b->x, NULL);
	xdp_backend.priv = b;
	sd->backend = &xdp_backend;
	ret = xdp_apply(sd, p);
	/* Routing after the policy, so that it starts with the policy in
	 * place (as sluice-xdp attach --route does). */
	if (ret == 0 && sd->opt.xdp_route != NULL) {
		bool fib = strcmp(sd->opt.xdp_route, "fib") == 0;

		ret = sl_xdp_set_routing(b->x, fib, err, sizeof(err));
		if (ret != 0)
			SD_ERR("xdp: %s", err);
		else
			SD_INFO("xdp: routing %s", fib ? "in XDP through the "
				"kernel FIB" : "left to the kernel");
	}
	if (ret == 0)
		SD_INFO("xdp: generation %llu in force on %s",
			(unsigned long long)p->generation, sd->opt.xdp_devs);
	return ret;
fail:
	free(b);
	return ret;
}
