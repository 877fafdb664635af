/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sluice-xdp: run the XDP datapath without sluiced.
 *
 *   sluice-xdp attach --dev IF --policy FILE [--generic] [--route MODE]
 *   sluice-xdp update [--policy FILE] [--route MODE]
 *   sluice-xdp stats [--json]
 *   sluice-xdp detach --dev IF
 *   sluice-xdp run --policy FILE --pcap IN [--out OUT] [--dev IF]
 *
 * Everything is pinned under --pin-root (default /sys/fs/bpf/sluice), so
 * the program keeps filtering after the tool exits and every later call
 * adopts it.  --route fib: accepted packets are routed in XDP through the
 * kernel FIB; --route pass: they get XDP_PASS and the kernel routes them
 * (a fresh program's mode; the mode is kept in the pinned maps).
 * Exit status: 0 done, 1 refused or failed (a message on
 * stderr says why), 2 usage.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "sluice/drop_reason.h"
#include "sluice/policy.h"
#include "sluice_xdp_tool.h"
#include "xdp_compile.h"
#include "xdp_loader.h"

struct args {
	const char *dev;
	const char *policy;
	const char *pin_root;
	const char *pcap;	/* run: frames in */
	const char *out;	/* run: frames not dropped out */
	bool generic;
	int route;		/* -1: leave as is, 0: pass, 1: fib */
	bool json;
	bool verbose;
};

typedef int (*cmd_fn)(const struct args *a);

static int cmd_attach(const struct args *a);
static int cmd_update(const struct args *a);
static int cmd_stats(const struct args *a);
static int cmd_detach(const struct args *a);
static int cmd_run(const struct args *a);

/* The verbs, and the options each needs. */
static const struct command {
	const char *name;
	cmd_fn fn;
	bool needs_dev;
	bool needs_policy;
	const char *help;
} commands[] = {
	{ "attach", cmd_attach, true, true,
	  "attach --dev IF --policy FILE [--generic] [--route fib|pass]: load "
	  "(or adopt) the program, apply the policy, attach to IF" },
	{ "update", cmd_update, false, false,
	  "update [--policy FILE] [--route fib|pass]: switch the attached "
	  "program to a new policy atomically, and/or routing in XDP (fib) "
	  "or by the kernel (pass)" },
	{ "stats", cmd_stats, false, false,
	  "stats [--json]: rule, drop-reason and interface counters" },
	{ "detach", cmd_detach, true, false,
	  "detach --dev IF: detach from IF; the last detach removes the pins" },
	{ "run", cmd_run, false, true,
	  "run --policy FILE --pcap IN [--out OUT] [--dev IF]: each frame of "
	  "a pcap file through a private copy of the program "
	  "(BPF_PROG_TEST_RUN, nothing attached); prints every verdict and "
	  "the counters as JSON, writes the frames not dropped to OUT; --dev: "
	  "the ingress interface the frames seem to come from" },
};

static const struct option options[] = {
	{ "dev", required_argument, NULL, 'd' },
	{ "policy", required_argument, NULL, 'p' },
	{ "pin-root", required_argument, NULL, 'r' },
	{ "generic", no_argument, NULL, 'g' },
	{ "route", required_argument, NULL, 'R' },
	{ "pcap", required_argument, NULL, 'i' },
	{ "out", required_argument, NULL, 'o' },
	{ "json", no_argument, NULL, 'j' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: sluice-xdp COMMAND [options]\n\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %s\n", commands[i].help);
	fprintf(f, "\noptions: --pin-root DIR (default %s), --verbose "
		"(libbpf and verifier messages)\n", SL_XDP_PIN_ROOT_DEFAULT);
}

struct sl_policy *
xdp_tool_load_policy(const char *path)
{
	struct sl_policy_errors errs;
	struct sl_policy *p = NULL;
	char err[256];
	int ret = sl_policy_load_file(path, &p, &errs);

	if (ret != 0) {
		if (ret == -EINVAL)
			sl_policy_errors_print(stderr, path, &errs);
		else
			fprintf(stderr, "sluice-xdp: %s: %s\n", path,
				strerror(-ret));
		return NULL;
	}
	/* Refuse before anything is loaded or attached. */
	if (sl_xdp_policy_supported(p, err, sizeof(err)) != 0) {
		fprintf(stderr, "sluice-xdp: %s: %s\n", path, err);
		sl_policy_free(p);
		return NULL;
	}
	return p;
}

static bool
pinned(const struct args *a)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", a->pin_root, SL_XDP_PIN_PROG);
	return access(path, F_OK) == 0;
}

/* p: the policy about to be applied (sizes the flow table when the
 * program is loaded rather than adopted), or NULL. */
static struct sl_xdp *
open_xdp(const struct args *a, bool must_exist, const struct sl_policy *p)
{
	struct sl_xdp_opts o = { .pin_root = a->pin_root,
				 .verbose = a->verbose };
	struct sl_xdp *x;
	char err[512];
	int ret;

	if (p != NULL && p->settings.ct_enabled)
		o.ct_size = p->settings.ct_size;
	if (must_exist && !pinned(a)) {
		fprintf(stderr, "sluice-xdp: no program pinned under %s: run "
			"sluice-xdp attach first\n", a->pin_root);
		return NULL;
	}
	ret = sl_xdp_open(&o, &x, err, sizeof(err));
	if (ret != 0) {
		fprintf(stderr, "sluice-xdp: %s\n", err);
		return NULL;
	}
	return x;
}

static int
apply(struct sl_xdp *x, const struct sl_policy *p)
{
	char err[512];

	if (sl_xdp_apply(x, p, NULL, err, sizeof(err)) != 0) {
		fprintf(stderr, "sluice-xdp: %s\n", err);
		return 1;
	}
	return 0;
}

/* --route, when given: after the policy (attach, update), so that routing
 * starts with the new policy in place. */
static int
set_route(struct sl_xdp *x, const struct args *a)
{
	char err[512];

	if (a->route < 0)
		return 0;
	if (sl_xdp_set_routing(x, a->route == 1, err, sizeof(err)) != 0) {
		fprintf(stderr, "sluice-xdp: %s\n", err);
		return 1;
	}
	return 0;
}

static int
cmd_attach(const struct args *a)
{
	struct sl_policy *p = xdp_tool_load_policy(a->policy);
	enum sl_xdp_mode mode;
	struct sl_xdp *x;
	char err[512];
	int rc = 1;

	if (p == NULL)
		return 1;
	x = open_xdp(a, false, p);
	if (x == NULL)
		goto out;
	/* The policy first: the first packet after attach is judged. */
	if (apply(x, p) != 0 || set_route(x, a) != 0)
		goto out;
	if (sl_xdp_attach(x, a->dev, a->generic, &mode, err, sizeof(err)) != 0) {
		fprintf(stderr, "sluice-xdp: %s\n", err);
		goto out;
	}
	printf("attached to %s (%s mode, %s program), %zu rules\n", a->dev,
	       mode == SL_XDP_MODE_NATIVE ? "native" : "generic",
	       sl_xdp_adopted(x) ? "adopted pinned" : "new", p->n_rules);
	rc = 0;
out:
	sl_xdp_close(x);
	sl_policy_free(p);
	return rc;
}

static int
cmd_update(const struct args *a)
{
	struct sl_policy *p = NULL;
	struct sl_xdp *x;
	int rc = 1;

	if (a->policy == NULL && a->route < 0) {
		fprintf(stderr, "sluice-xdp update: give --policy, --route or "
			"both\n");
		return 2;
	}
	if (a->policy != NULL && (p = xdp_tool_load_policy(a->policy)) == NULL)
		return 1;
	x = open_xdp(a, true, p);
	if (x == NULL)
		goto out;
	if (p != NULL) {
		if (apply(x, p) != 0)
			goto out;
		printf("policy applied, %zu rules\n", p->n_rules);
	}
	if (set_route(x, a) != 0)
		goto out;
	if (a->route >= 0)
		printf("routing: %s\n", a->route ? "fib (in XDP)"
						 : "pass (by the kernel)");
	rc = 0;
out:
	sl_xdp_close(x);
	sl_policy_free(p);
	return rc;
}

static const char *
ifname_of(uint32_t ifindex, char *buf)
{
	if (if_indextoname(ifindex, buf) == NULL)
		snprintf(buf, IF_NAMESIZE, "if%u", ifindex);
	return buf;
}

json_t *
xdp_tool_stats_json(const struct sl_xdp_stats *s)
{
	json_t *root = json_object(), *rules = json_array(),
	       *drops = json_object(), *ports = json_array(),
	       *route = json_object(), *steer = json_object();
	char name[IF_NAMESIZE];

	json_object_set_new(root, "backend", json_string("xdp"));
	json_object_set_new(root, "policy", json_boolean(s->has_policy));
	json_object_set_new(root, "generation", json_integer((json_int_t)s->generation));
	for (uint32_t i = 0; s->has_policy && i <= s->n_rules; i++)
		json_array_append_new(rules, json_pack("{s:s, s:s, s:I, s:I}",
			"id", s->rules[i].id,
			"action", sl_action_name(s->rules[i].action),
			"packets", (json_int_t)s->rules[i].packets,
			"bytes", (json_int_t)s->rules[i].bytes));
	json_object_set_new(root, "rules", rules);
	for (unsigned int r = 1; r < SL_DROP_MAX; r++)
		json_object_set_new(drops, sl_drop_reason_name(r),
				    json_integer((json_int_t)s->drops[r].packets));
	json_object_set_new(root, "drops", drops);
	json_object_set_new(root, "routing",
			    json_string(s->routing ? "fib" : "pass"));
	for (unsigned int r = 0; r < SL_XDP_RT_MAX; r++)
		json_object_set_new(route, sl_xdp_rt_reason_name(r),
			json_pack("{s:I, s:I}",
				  "packets", (json_int_t)s->route[r].packets,
				  "bytes", (json_int_t)s->route[r].bytes));
	json_object_set_new(root, "route", route);
	for (unsigned int r = 0; r < SL_XDP_ST_MAX; r++)
		json_object_set_new(steer, sl_xdp_st_reason_name(r),
			json_pack("{s:I, s:I}",
				  "packets", (json_int_t)s->steer[r].packets,
				  "bytes", (json_int_t)s->steer[r].bytes));
	json_object_set_new(root, "steer", steer);
	{
		json_t *rep = json_object();

		for (unsigned int r = 0; r < SL_XDP_REP_MAX; r++)
			json_object_set_new(rep, sl_xdp_rep_reason_name(r),
				json_pack("{s:I, s:I}",
					  "packets", (json_int_t)s->rep[r].packets,
					  "bytes", (json_int_t)s->rep[r].bytes));
		json_object_set_new(root, "replicate", rep);
	}
	for (size_t i = 0; i < s->n_ports; i++)
		json_array_append_new(ports, json_pack("{s:i, s:s, s:I, s:I, s:I, s:I, s:I, s:I}",
			"ifindex", (int)s->ports[i].ifindex,
			"name", ifname_of(s->ports[i].ifindex, name),
			"rx_packets", (json_int_t)s->ports[i].rx_packets,
			"rx_bytes", (json_int_t)s->ports[i].rx_bytes,
			"passed", (json_int_t)s->ports[i].passed,
			"dropped", (json_int_t)s->ports[i].dropped,
			"routed", (json_int_t)s->ports[i].routed,
			"steered", (json_int_t)s->ports[i].steered));
	json_object_set_new(root, "ports", ports);
	return root;
}

static void
print_json(const struct sl_xdp_stats *s)
{
	json_t *root = xdp_tool_stats_json(s);
	char *text = json_dumps(root, JSON_INDENT(2));

	printf("%s\n", text);
	free(text);
	json_decref(root);
}

static void
print_text(const struct sl_xdp_stats *s)
{
	char name[IF_NAMESIZE];

	if (!s->has_policy) {
		printf("no policy\n");
	} else {
		printf("policy generation %llu, %u rules\n\n",
		       (unsigned long long)s->generation, s->n_rules);
		printf("%-32s %-8s %14s %16s\n", "RULE", "ACTION", "PACKETS",
		       "BYTES");
		for (uint32_t i = 0; i <= s->n_rules; i++)
			printf("%-32s %-8s %14llu %16llu\n", s->rules[i].id,
			       sl_action_name(s->rules[i].action),
			       (unsigned long long)s->rules[i].packets,
			       (unsigned long long)s->rules[i].bytes);
	}
	printf("\n%-24s %14s\n", "DROP REASON", "PACKETS");
	for (unsigned int r = 1; r < SL_DROP_MAX; r++)
		if (s->drops[r].packets != 0)
			printf("%-24s %14llu\n", sl_drop_reason_name(r),
			       (unsigned long long)s->drops[r].packets);
	printf("\nrouting: %s\n%-24s %14s\n", s->routing ?
	       "fib (in XDP)" : "pass (by the kernel)", "ROUTE", "PACKETS");
	for (unsigned int r = 0; r < SL_XDP_RT_MAX; r++)
		if (s->route[r].packets != 0)
			printf("%-24s %14llu\n", sl_xdp_rt_reason_name(r),
			       (unsigned long long)s->route[r].packets);
	printf("\n%-24s %14s\n", "STEER", "PACKETS");
	for (unsigned int r = 0; r < SL_XDP_ST_MAX; r++)
		if (s->steer[r].packets != 0)
			printf("%-24s %14llu\n", sl_xdp_st_reason_name(r),
			       (unsigned long long)s->steer[r].packets);
	printf("\n%-24s %14s\n", "REPLICATE", "PACKETS");
	for (unsigned int r = 0; r < SL_XDP_REP_MAX; r++)
		if (s->rep[r].packets != 0)
			printf("%-24s %14llu\n", sl_xdp_rep_reason_name(r),
			       (unsigned long long)s->rep[r].packets);
	printf("\n%-16s %14s %16s %14s %14s %14s %14s\n", "INTERFACE",
	       "RX_PACKETS", "RX_BYTES", "PASSED", "DROPPED", "ROUTED",
	       "STEERED");
	for (size_t i = 0; i < s->n_ports; i++)
		printf("%-16s %14llu %16llu %14llu %14llu %14llu %14llu\n",
		       ifname_of(s->ports[i].ifindex, name),
		       (unsigned long long)s->ports[i].rx_packets,
		       (unsigned long long)s->ports[i].rx_bytes,
		       (unsigned long long)s->ports[i].passed,
		       (unsigned long long)s->ports[i].dropped,
		       (unsigned long long)s->ports[i].routed,
		       (unsigned long long)s->ports[i].steered);
}

static int
cmd_stats(const struct args *a)
{
	struct sl_xdp *x = open_xdp(a, true, NULL);
	struct sl_xdp_stats *s;
	int ret;

	if (x == NULL)
		return 1;
	ret = sl_xdp_stats_read(x, &s);
	sl_xdp_close(x);
	if (ret != 0) {
		fprintf(stderr, "sluice-xdp: cannot read the counters: %s\n",
			strerror(-ret));
		return 1;
	}
	if (a->json)
		print_json(s);
	else
		print_text(s);
	sl_xdp_stats_free(s);
	return 0;
}

/* After the last detach nothing should stay pinned: the maps would hold
 * tens of MiB of kernel memory for nobody. */
static int
cmd_run(const struct args *a)
{
	if (a->pcap == NULL) {
		fprintf(stderr, "sluice-xdp run: --pcap IN is needed\n");
		return 2;
	}
	return xdp_tool_run(a->policy, a->pcap, a->out, a->dev, a->verbose);
}

static void
unpin_all_if_unused(const char *root)
{
	DIR *d = opendir(root);
	struct dirent *e;
	char path[PATH_MAX];

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, SL_XDP_PIN_LINK_PREFIX,
			    strlen(SL_XDP_PIN_LINK_PREFIX)) == 0) {
			closedir(d);
			return;		/* still attached somewhere */
		}
	}
	rewinddir(d);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", root, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(root);
}

static int
cmd_detach(const struct args *a)
{
	struct sl_xdp *x = open_xdp(a, true, NULL);
	char err[512];
	int ret;

	if (x == NULL)
		return 1;
	ret = sl_xdp_detach(x, a->dev, err, sizeof(err));
	sl_xdp_close(x);
	if (ret != 0) {
		fprintf(stderr, "sluice-xdp: %s\n", err);
		return 1;
	}
	unpin_all_if_unused(a->pin_root);
	printf("detached from %s\n", a->dev);
	return 0;
}

int
main(int argc, char **argv)
{
	struct args a = { .pin_root = SL_XDP_PIN_ROOT_DEFAULT, .route = -1 };
	const struct command *cmd = NULL;
	int c;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			cmd = &commands[i];
	if (cmd == NULL) {
		fprintf(stderr, "sluice-xdp: unknown command '%s'\n", argv[1]);
		usage(stderr);
		return 2;
	}
	optind = 2;
	while ((c = getopt_long(argc, argv, "d:p:r:gR:i:o:jvh", options, NULL)) != -1) {
		switch (c) {
		case 'd': a.dev = optarg; break;
		case 'p': a.policy = optarg; break;
		case 'r': a.pin_root = optarg; break;
		case 'g': a.generic = true; break;
		case 'R':
			if (strcmp(optarg, "fib") == 0) {
				a.route = 1;
			} else if (strcmp(optarg, "pass") == 0) {
				a.route = 0;
			} else {
				fprintf(stderr, "sluice-xdp: --route takes fib "
					"or pass, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 'i': a.pcap = optarg; break;
		case 'o': a.out = optarg; break;
		case 'j': a.json = true; break;
		case 'v': a.verbose = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc || (cmd->needs_dev && a.dev == NULL) ||
	    (cmd->needs_policy && a.policy == NULL)) {
		fprintf(stderr, "sluice-xdp %s: %s\n", cmd->name, cmd->help);
		return 2;
	}
	return cmd->fn(&a);
}
