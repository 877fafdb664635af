/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Load or adopt the XDP program, attach it, write policies, read counters
 * (xdp_loader.h).  Setup code only: nothing here runs per packet.
 */
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "sluice/conntrack.h"
#include "sluice/errf.h"
#include "sluice_xdp.skel.h"
#include "xdp_compile.h"
#include "xdp_loader.h"

/* Every map of the program, by its name in the object and under the pin
 * root; the per-set ones come first. */
#define SL_XDP_MAPS(_)                                                         \
	_(A4, "sl_a4")                                                         \
	_(ABM, "sl_abm")                                                       \
	_(SRC6, "sl_src6")                                                     \
	_(DST6, "sl_dst6")                                                     \
	_(BM, "sl_bm")                                                         \
	_(PIDX, "sl_pidx")                                                     \
	_(INPORT, "sl_inport")                                                 \
	_(RULES, "sl_rules")                                                   \
	_(RCNT, "sl_rcnt")                                                     \
	_(GRP, "sl_grp")                                                       \
	_(MAG, "sl_mag")                                                       \
	_(RGRP, "sl_rgrp")                                                     \
	_(RTAB, "sl_rtab")                                                     \
	_(TUN, "sl_tun")                                                       \
	_(CTL, "sl_ctl")                                                       \
	_(DROPS, "sl_drops")                                                   \
	_(PORTS, "sl_ports")                                                   \
	_(CT, "sl_ct")                                                         \
	_(CLOCK, "sl_clock")                                                   \
	_(LAST, "sl_last")                                                     \
	_(TRACE, SL_XDP_PIN_TRACE)                                             \
	_(TRING, SL_XDP_PIN_TRING)                                             \
	_(TX, "sl_tx")                                                         \
	_(RT, "sl_rt")                                                         \
	_(STEER, "sl_steer")                                                   \
	_(REP, "sl_rep")

enum {
#define MAP_ENUM_(e, name) M_##e,
	SL_XDP_MAPS(MAP_ENUM_)
#undef MAP_ENUM_
	M_N,
	M_SET_N = M_CTL,	/* maps M_A4 .. M_TUN are per set */
};

static const char *const map_names[M_N] = {
#define MAP_NAME_(e, name) [M_##e] = name,
	SL_XDP_MAPS(MAP_NAME_)
#undef MAP_NAME_
};

/* The inner maps of each set, as the program's templates declare them
 * (sluice_xdp.bpf.c): the kernel refuses an inner map that differs, in
 * max_entries too unless BPF_F_INNER_MAP (sl_a4, sl_mag, sl_rtab, sl_tun: sized
 * per policy). */
static const struct inner_spec {
	enum bpf_map_type type;
	uint32_t key_size, value_size, max_entries, flags;
} inner_specs[M_SET_N] = {
	[M_A4] = { BPF_MAP_TYPE_ARRAY, 4, 4, SL_XDP_A4_MAX, BPF_F_INNER_MAP },
	[M_ABM] = { BPF_MAP_TYPE_ARRAY, 4, sizeof(struct sl_xdp_bitmap),
		    SL_XDP_ABM_ENTRIES, 0 },
	[M_SRC6] = { BPF_MAP_TYPE_LPM_TRIE, sizeof(struct sl_xdp_lpm6_key),
		     sizeof(struct sl_xdp_bitmap), SL_XDP_PREFIXES_MAX,
		     BPF_F_NO_PREALLOC },
	[M_DST6] = { BPF_MAP_TYPE_LPM_TRIE, sizeof(struct sl_xdp_lpm6_key),
		     sizeof(struct sl_xdp_bitmap), SL_XDP_PREFIXES_MAX,
		     BPF_F_NO_PREALLOC },
	[M_BM] = { BPF_MAP_TYPE_ARRAY, 4, sizeof(struct sl_xdp_bitmap),
		   SL_XDP_BM_ENTRIES, 0 },
	[M_PIDX] = { BPF_MAP_TYPE_ARRAY, 4, 4, SL_XDP_PIDX_ENTRIES, 0 },
	[M_INPORT] = { BPF_MAP_TYPE_HASH, 4, sizeof(struct sl_xdp_bitmap),
		       SL_XDP_INPORT_MAX, 0 },
	[M_RULES] = { BPF_MAP_TYPE_ARRAY, 4, sizeof(struct sl_xdp_rule),
		      SL_XDP_RULES_MAX + 1, 0 },
	[M_RCNT] = { BPF_MAP_TYPE_PERCPU_ARRAY, 4,
		     sizeof(struct sl_xdp_counter), SL_XDP_RULES_MAX + 1, 0 },
	[M_GRP] = { BPF_MAP_TYPE_ARRAY, 4, sizeof(struct sl_xdp_group),
		    SL_XDP_GROUPS_MAX, 0 },
	[M_MAG] = { BPF_MAP_TYPE_ARRAY, 4, sizeof(struct sl_xdp_mag_chunk), 1,
		    BPF_F_INNER_MAP },
	[M_RGRP] = { BPF_MAP_TYPE_ARRAY, 4, sizeof(struct sl_xdp_rep_group),
		     SL_XDP_RTABS_MAX, 0 },
	[M_RTAB] = { BPF_MAP_TYPE_ARRAY, 4, sizeof(struct sl_xdp_mag_chunk), 1,
		     BPF_F_INNER_MAP },
	[M_TUN] = { BPF_MAP_TYPE_ARRAY, 4, sizeof(struct sl_xdp_tunnel), 1,
		    BPF_F_INNER_MAP },
};

#define LINKS_MAX 64

/* xdp_maps.h promises that a flow key is struct sl_flow_key byte for byte */
_Static_assert(sizeof(struct sl_xdp_ct_key) == sizeof(struct sl_flow_key) &&
	       offsetof(struct sl_xdp_ct_key, port_lo) ==
	       offsetof(struct sl_flow_key, port_lo) &&
	       offsetof(struct sl_xdp_ct_key, proto) ==
	       offsetof(struct sl_flow_key, proto) &&
	       offsetof(struct sl_xdp_ct_key, family) ==
	       offsetof(struct sl_flow_key, family), "flow key layout");

struct sl_xdp {
	struct sluice_xdp *skel;	/* NULL when adopted */
	bool adopted;
	int prog_fd;
	int map_fd[M_N];
	char pin_root[PATH_MAX / 2];	/* "" : nothing pinned */
	struct {
		char ifname[IF_NAMESIZE];
		int fd;
	} links[LINKS_MAX];
	unsigned int n_links;
	int ncpus;
	/* Replicate's TC program (sluice_tc_rep), and without a pin root
	 * the interfaces whose clsact qdisc this handle created. */
	int tc_prog_fd;
	unsigned int tcq_ifindex[LINKS_MAX];
	unsigned int n_tcq;
};

static int read_ctl(const struct sl_xdp *x, struct sl_xdp_ctl *ctl);
static int tc_attach(struct sl_xdp *x, const char *ifname, char *err,
		     size_t err_size);
static void tc_detach(struct sl_xdp *x, const char *ifname);
static int write_ctl(const struct sl_xdp *x, const struct sl_xdp_ctl *ctl);

static int
quiet_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG || level == LIBBPF_INFO)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* mkdir -p for the pin root (bpffs accepts directories). */
static int
mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (char *s = buf + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(buf, 0700) != 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(buf, 0700) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static void
pin_path(const struct sl_xdp *x, const char *name, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s", x->pin_root, name);
}

static int
adopt(struct sl_xdp *x, char *err, size_t err_size)
{
	char path[PATH_MAX];

	pin_path(x, SL_XDP_PIN_PROG, path, sizeof(path));
	x->prog_fd = bpf_obj_get(path);
	if (x->prog_fd < 0) {
		int ret = -errno;

		sl_errf(err, err_size, "cannot open the pinned program %s: %s",
		     path, strerror(-ret));
		return ret;
	}
	pin_path(x, SL_XDP_PIN_TC_PROG, path, sizeof(path));
	x->tc_prog_fd = bpf_obj_get(path);
	if (x->tc_prog_fd < 0) {
		int ret = -errno;

		sl_errf(err, err_size, "the program pinned under %s has no TC "
		     "program %s (%s): detach it and remove %s, then attach "
		     "again", x->pin_root, SL_XDP_PIN_TC_PROG, strerror(-ret),
		     x->pin_root);
		return ret;
	}
	for (int m = 0; m < M_N; m++) {
		pin_path(x, map_names[m], path, sizeof(path));
		x->map_fd[m] = bpf_obj_get(path);
		if (x->map_fd[m] < 0) {
			int ret = -errno;

			sl_errf(err, err_size, "the program pinned under %s has no "
			     "map %s (%s): detach it and remove %s, then "
			     "attach again", x->pin_root, map_names[m],
			     strerror(-ret), x->pin_root);
			return ret;
		}
	}
	x->adopted = true;
	return 0;
}

static int
load(struct sl_xdp *x, const struct sl_xdp_opts *o, char *err, size_t err_size)
{
	char path[PATH_MAX];
	struct bpf_map *map;
	int ret;

	x->skel = sluice_xdp__open();
	if (x->skel == NULL) {
		ret = -errno;
		sl_errf(err, err_size, "cannot open the XDP object: %s",
		     strerror(-ret));
		return ret;
	}
	x->skel->rodata->sl_cfg_last_verdict = o->last_verdict;
	x->skel->rodata->sl_cfg_test_clock = o->test_clock;
	ret = bpf_map__set_max_entries(x->skel->maps.sl_ct, o->ct_size ?
				       o->ct_size : SL_XDP_CT_DEFAULT_SIZE);
	if (ret != 0) {
		sl_errf(err, err_size, "cannot size the flow table: %s",
		     strerror(-ret));
		return ret;
	}
	if (x->pin_root[0] != '\0') {
		ret = mkdir_p(x->pin_root);
		if (ret != 0) {
			sl_errf(err, err_size, "cannot create the pin root %s: %s",
			     x->pin_root, strerror(-ret));
			return ret;
		}
		/* libbpf reuses maps already pinned there (a program that
		 * was detached but whose maps stayed) or pins new ones.
		 * Only the named maps: .rodata is frozen at load and cannot
		 * be reopened for writing, which reuse would need. */
		for (int m = 0; m < M_N; m++) {
			map = bpf_object__find_map_by_name(x->skel->obj,
							   map_names[m]);
			if (map == NULL)
				continue;	/* reported after the load */
			pin_path(x, map_names[m], path, sizeof(path));
			ret = bpf_map__set_pin_path(map, path);
			if (ret != 0) {
				sl_errf(err, err_size, "cannot pin %s: %s", path,
				     strerror(-ret));
				return ret;
			}
		}
	}
	ret = sluice_xdp__load(x->skel);
	if (ret != 0) {
		sl_errf(err, err_size, "the kernel refused the XDP program: %s%s",
		     strerror(-ret), o->verbose ? "" :
		     " (run with --verbose for the verifier log)");
		return ret;
	}
	x->prog_fd = bpf_program__fd(x->skel->progs.sluice_xdp);
	x->tc_prog_fd = bpf_program__fd(x->skel->progs.sluice_tc_rep);
	for (int m = 0; m < M_N; m++) {
		map = bpf_object__find_map_by_name(x->skel->obj, map_names[m]);
		if (map == NULL) {
			sl_errf(err, err_size, "the XDP object has no map %s",
			     map_names[m]);
			return -ENOENT;
		}
		x->map_fd[m] = bpf_map__fd(map);
	}
	if (x->pin_root[0] != '\0') {
		pin_path(x, SL_XDP_PIN_PROG, path, sizeof(path));
		ret = bpf_program__pin(x->skel->progs.sluice_xdp, path);
		if (ret != 0) {
			sl_errf(err, err_size, "cannot pin the program at %s: %s",
			     path, strerror(-ret));
			return ret;
		}
		/* one left by a root whose "prog" was removed by hand */
		pin_path(x, SL_XDP_PIN_TC_PROG, path, sizeof(path));
		unlink(path);
		ret = bpf_program__pin(x->skel->progs.sluice_tc_rep, path);
		if (ret != 0) {
			sl_errf(err, err_size, "cannot pin the TC program at %s: %s",
			     path, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

int
sl_xdp_open(const struct sl_xdp_opts *o, struct sl_xdp **out, char *err,
	    size_t err_size)
{
	struct sl_xdp *x = calloc(1, sizeof(*x));
	char path[PATH_MAX];
	int ret;

	*out = NULL;
	if (x == NULL)
		return -ENOMEM;
	x->prog_fd = -1;
	x->tc_prog_fd = -1;
	for (int m = 0; m < M_N; m++)
		x->map_fd[m] = -1;
	x->ncpus = libbpf_num_possible_cpus();
	if (x->ncpus <= 0) {
		free(x);
		return -EINVAL;
	}
	libbpf_set_print(o->verbose ? NULL : quiet_print);
	if (o->pin_root != NULL) {
		if (strlen(o->pin_root) >= sizeof(x->pin_root) - 32) {
			free(x);
			sl_errf(err, err_size, "pin root too long");
			return -ENAMETOOLONG;
		}
		snprintf(x->pin_root, sizeof(x->pin_root), "%s", o->pin_root);
	}

	pin_path(x, SL_XDP_PIN_PROG, path, sizeof(path));
	if (x->pin_root[0] != '\0' && access(path, F_OK) == 0)
		ret = adopt(x, err, err_size);
	else
		ret = load(x, o, err, err_size);
	if (ret != 0) {
		sl_xdp_close(x);
		return ret;
	}
	*out = x;
	return 0;
}

void
sl_xdp_close(struct sl_xdp *x)
{
	if (x == NULL)
		return;
	/* Without a pin root nothing outlives the handle: the XDP links go
	 * with their descriptors, the TC filters (netlink objects) must be
	 * taken off. */
	for (unsigned int i = 0; i < x->n_links && x->pin_root[0] == '\0'; i++)
		tc_detach(x, x->links[i].ifname);
	for (unsigned int i = 0; i < x->n_links; i++)
		close(x->links[i].fd);
	if (x->skel != NULL) {
		sluice_xdp__destroy(x->skel);	/* closes its fds */
	} else {
		for (int m = 0; m < M_N; m++)
			if (x->map_fd[m] >= 0)
				close(x->map_fd[m]);
		if (x->prog_fd >= 0)
			close(x->prog_fd);
		if (x->tc_prog_fd >= 0)
			close(x->tc_prog_fd);
	}
	free(x);
}

bool
sl_xdp_adopted(const struct sl_xdp *x)
{
	return x->adopted;
}

int
sl_xdp_prog_fd(const struct sl_xdp *x)
{
	return x->prog_fd;
}

/* ---- attach / detach ---- */

static uint32_t
prog_id_of(int prog_fd)
{
	struct bpf_prog_info info;
	uint32_t len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) != 0)
		return 0;
	return info.id;
}

static enum sl_xdp_mode
mode_of(unsigned int ifindex)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);

	if (bpf_xdp_query((int)ifindex, 0, &q) == 0 &&
	    q.attach_mode == XDP_ATTACHED_SKB)
		return SL_XDP_MODE_GENERIC;
	return SL_XDP_MODE_NATIVE;
}

/* Routed packets may leave by every interface the program is attached
 * to: sl_tx holds exactly those (xdp_maps.h). */
static int
tx_add(const struct sl_xdp *x, unsigned int ifindex, const char *ifname,
       char *err, size_t err_size)
{
	uint32_t key = ifindex, val = ifindex;

	if (bpf_map_update_elem(x->map_fd[M_TX], &key, &val, 0) != 0) {
		int ret = -errno;

		sl_errf(err, err_size, "cannot add %s to the egress map sl_tx: %s",
		     ifname, strerror(-ret));
		return ret;
	}
	return 0;
}

/* A link pinned by an earlier sluice for this interface: keep it, and
 * point it at this handle's program when it runs another (an upgrade). */
static int
adopt_link(struct sl_xdp *x, const char *path, const char *ifname,
	   unsigned int ifindex, enum sl_xdp_mode *mode, char *err,
	   size_t err_size)
{
	struct bpf_link_info info;
	uint32_t len = sizeof(info);
	int fd = bpf_obj_get(path);

	if (fd < 0)
		return -errno;
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0 ||
	    info.type != BPF_LINK_TYPE_XDP || info.xdp.ifindex != ifindex) {
		/* stale: the interface went away and came back */
		close(fd);
		unlink(path);
		return -ENOENT;
	}
	if (info.prog_id != prog_id_of(x->prog_fd) &&
	    bpf_link_update(fd, x->prog_fd, NULL) != 0) {
		int ret = -errno;

		sl_errf(err, err_size, "cannot switch %s to this program: %s",
		     ifname, strerror(-ret));
		close(fd);
		return ret;
	}
	if (mode != NULL)
		*mode = mode_of(ifindex);
	if (tx_add(x, ifindex, ifname, err, err_size) != 0) {
		close(fd);
		return -EIO;
	}
	if (x->n_links < LINKS_MAX) {
		snprintf(x->links[x->n_links].ifname, IF_NAMESIZE, "%s", ifname);
		x->links[x->n_links++].fd = fd;
	} else {
		close(fd);
	}
	return 0;
}

int
sl_xdp_attach(struct sl_xdp *x, const char *ifname, bool generic_only,
	      enum sl_xdp_mode *mode, char *err, size_t err_size)
{
	unsigned int ifindex = if_nametoindex(ifname);
	char path[PATH_MAX];
	enum sl_xdp_mode got = SL_XDP_MODE_NATIVE;
	int fd;

	if (ifindex == 0) {
		sl_errf(err, err_size, "no interface %s", ifname);
		return -ENODEV;
	}
	for (unsigned int i = 0; i < x->n_links; i++)
		if (strcmp(x->links[i].ifname, ifname) == 0)
			return 0;
	if (x->n_links == LINKS_MAX) {
		sl_errf(err, err_size, "at most %d interfaces per handle",
		     LINKS_MAX);
		return -ENOSPC;
	}
	if (x->pin_root[0] != '\0') {
		int ret;

		snprintf(path, sizeof(path), "%s/%s%s", x->pin_root,
			 SL_XDP_PIN_LINK_PREFIX, ifname);
		ret = adopt_link(x, path, ifname, ifindex, mode, err, err_size);
		if (ret == 0)	/* the filter too, and on this program */
			return tc_attach(x, ifname, err, err_size);
		if (ret != -ENOENT)
			return ret;
	}

	for (int attempt = generic_only ? 1 : 0; attempt < 2; attempt++) {
		LIBBPF_OPTS(bpf_link_create_opts, lo,
			    .flags = attempt == 0 ? XDP_FLAGS_DRV_MODE
						  : XDP_FLAGS_SKB_MODE);

		got = attempt == 0 ? SL_XDP_MODE_NATIVE : SL_XDP_MODE_GENERIC;
		fd = bpf_link_create(x->prog_fd, (int)ifindex, BPF_XDP, &lo);
		if (fd >= 0)
			break;
		fd = -errno;
		if (fd == -EBUSY || fd == -EEXIST) {
			sl_errf(err, err_size, "another XDP program is attached to "
			     "%s (ip link set dev %s xdp off removes it)",
			     ifname, ifname);
			return -EBUSY;
		}
		if (attempt == 0)
			fprintf(stderr, "sluice-xdp: warning: native XDP on %s "
				"failed (%s): falling back to generic mode, "
				"which is much slower\n", ifname,
				strerror(-fd));
	}
	if (fd < 0) {
		sl_errf(err, err_size, "cannot attach to %s: %s", ifname,
		     strerror(-fd));
		return fd;
	}
	if (x->pin_root[0] != '\0' && bpf_obj_pin(fd, path) != 0) {
		int ret = -errno;

		sl_errf(err, err_size, "cannot pin the attachment at %s: %s",
		     path, strerror(-ret));
		bpf_link_detach(fd);
		close(fd);
		return ret;
	}
	if (tx_add(x, ifindex, ifname, err, err_size) != 0) {
		if (x->pin_root[0] != '\0')
			unlink(path);
		bpf_link_detach(fd);
		close(fd);
		return -EIO;
	}
	snprintf(x->links[x->n_links].ifname, IF_NAMESIZE, "%s", ifname);
	x->links[x->n_links++].fd = fd;
	if (mode != NULL)
		*mode = got;
	if (tc_attach(x, ifname, err, err_size) != 0) {
		/* all or nothing: replicate needs both programs */
		sl_xdp_detach(x, ifname, NULL, 0);
		return -EIO;
	}
	return 0;
}

int
sl_xdp_detach(struct sl_xdp *x, const char *ifname, char *err,
	      size_t err_size)
{
	char path[PATH_MAX];
	int fd = -1;
	bool found = false;

	for (unsigned int i = 0; i < x->n_links; i++) {
		if (strcmp(x->links[i].ifname, ifname) != 0)
			continue;
		fd = x->links[i].fd;
		x->links[i] = x->links[--x->n_links];
		found = true;
		break;
	}
	if (x->pin_root[0] != '\0') {
		snprintf(path, sizeof(path), "%s/%s%s", x->pin_root,
			 SL_XDP_PIN_LINK_PREFIX, ifname);
		if (fd < 0)
			fd = bpf_obj_get(path);
		if (unlink(path) == 0)
			found = true;
	}
	if (!found || fd < 0) {
		sl_errf(err, err_size, "sluice is not attached to %s", ifname);
		if (fd >= 0)
			close(fd);
		return -ENOENT;
	}
	/* Out of sl_tx first: routing to it stops (those packets pass to
	 * the kernel) before the program leaves it. */
	{
		uint32_t key = if_nametoindex(ifname);

		if (key != 0)
			bpf_map_delete_elem(x->map_fd[M_TX], &key);
	}
	/* Detach now, whoever else holds the link. */
	bpf_link_detach(fd);
	close(fd);
	tc_detach(x, ifname);
	return 0;
}

/* ---- replicate's TC program (sluice_tc_rep) on clsact ingress ---- */

/*
 * Whether sluice created the clsact qdisc of ifname, so that the last
 * one to detach removes it: with a pin root, a pin named tcq_<ifname>
 * (bpffs holds nothing but BPF objects, so it pins the TC program again),
 * which a later process sees; without one, this handle's list.
 */
static void
tcq_path(const struct sl_xdp *x, const char *ifname, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s%s", x->pin_root, SL_XDP_PIN_TCQ_PREFIX,
		 ifname);
}

static void
tcq_mark(struct sl_xdp *x, unsigned int ifindex, const char *ifname)
{
	char path[PATH_MAX];

	if (x->pin_root[0] != '\0') {
		tcq_path(x, ifname, path, sizeof(path));
		bpf_obj_pin(x->tc_prog_fd, path);	/* EEXIST: marked */
	} else if (x->n_tcq < LINKS_MAX) {
		x->tcq_ifindex[x->n_tcq++] = ifindex;
	}
}

/* Forget the mark; returns whether there was one. */
static bool
tcq_unmark(struct sl_xdp *x, unsigned int ifindex, const char *ifname)
{
	char path[PATH_MAX];

	if (x->pin_root[0] != '\0') {
		tcq_path(x, ifname, path, sizeof(path));
		return unlink(path) == 0;
	}
	for (unsigned int i = 0; i < x->n_tcq; i++) {
		if (x->tcq_ifindex[i] == ifindex) {
			x->tcq_ifindex[i] = x->tcq_ifindex[--x->n_tcq];
			return true;
		}
	}
	return false;
}

/* libbpf prints the kernel's netlink error at warning level; a query for
 * a filter that is not there (yet) is no warning. */
static int
silent_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

/*
 * sluice_tc_rep as a direct-action filter (SL_XDP_TC_HANDLE,
 * SL_XDP_TC_PRIO) on ifname's clsact ingress, creating the qdisc when
 * there is none.  A filter already there that runs this handle's program
 * (an adopted attachment) is kept; one that runs another (an older build)
 * is replaced in one step.
 */
static int
tc_attach(struct sl_xdp *x, const char *ifname, char *err, size_t err_size)
{
	unsigned int ifindex = if_nametoindex(ifname);
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)ifindex,
		    .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, q, .handle = SL_XDP_TC_HANDLE,
		    .priority = SL_XDP_TC_PRIO);
	LIBBPF_OPTS(bpf_tc_opts, a, .handle = SL_XDP_TC_HANDLE,
		    .priority = SL_XDP_TC_PRIO, .prog_fd = x->tc_prog_fd,
		    .flags = BPF_TC_F_REPLACE);
	int ret;

	if (ifindex == 0) {
		sl_errf(err, err_size, "no interface %s", ifname);
		return -ENODEV;
	}
	ret = bpf_tc_hook_create(&hook);
	if (ret == 0) {
		tcq_mark(x, ifindex, ifname);
	} else if (ret == -EEXIST) {
		libbpf_print_fn_t was = libbpf_set_print(silent_print);

		ret = bpf_tc_query(&hook, &q);
		libbpf_set_print(was);
		if (ret == 0 && q.prog_id == prog_id_of(x->tc_prog_fd))
			return 0;
	} else {
		sl_errf(err, err_size, "cannot add a clsact qdisc to %s for the "
		     "replicate TC program: %s", ifname, strerror(-ret));
		return ret;
	}
	ret = bpf_tc_attach(&hook, &a);
	if (ret != 0) {
		sl_errf(err, err_size, "cannot attach the replicate TC program "
		     "to %s ingress: %s", ifname, strerror(-ret));
		return ret;
	}
	return 0;
}

/* Take sluice's filter off ifname, and the clsact qdisc if sluice
 * created it.  Nothing to do when the interface is gone. */
static void
tc_detach(struct sl_xdp *x, const char *ifname)
{
	unsigned int ifindex = if_nametoindex(ifname);
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)ifindex,
		    .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, q, .handle = SL_XDP_TC_HANDLE,
		    .priority = SL_XDP_TC_PRIO);

	if (ifindex == 0) {
		tcq_unmark(x, 0, ifname);
		return;
	}
	{
		libbpf_print_fn_t was = libbpf_set_print(silent_print);

		bpf_tc_detach(&hook, &q);	/* -ENOENT: not there */
		libbpf_set_print(was);
	}
	if (tcq_unmark(x, ifindex, ifname)) {
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&hook);
	}
}

/* ---- routing ---- */

int
sl_xdp_set_routing(struct sl_xdp *x, bool on, char *err, size_t err_size)
{
	struct sl_xdp_ctl ctl;
	int ret = read_ctl(x, &ctl);

	if (ret == 0) {
		if (on)
			ctl.flags |= SL_XDP_CTL_ROUTE;
		else
			ctl.flags &= ~SL_XDP_CTL_ROUTE;
		ret = write_ctl(x, &ctl);
	}
	if (ret != 0)
		sl_errf(err, err_size, "cannot write sl_ctl: %s", strerror(-ret));
	return ret;
}

int
sl_xdp_routing(struct sl_xdp *x, bool *on)
{
	struct sl_xdp_ctl ctl;
	int ret = read_ctl(x, &ctl);

	if (ret == 0)
		*on = (ctl.flags & SL_XDP_CTL_ROUTE) != 0;
	return ret;
}

/* ---- policy ---- */

/* max_entries 0: the template's */
static int
create_inner(int m, uint32_t max_entries)
{
	const struct inner_spec *s = &inner_specs[m];
	LIBBPF_OPTS(bpf_map_create_opts, mo, .map_flags = s->flags);
	char name[16];

	snprintf(name, sizeof(name), "%s_i", map_names[m]);
	return bpf_map_create(s->type, name, s->key_size, s->value_size,
			      max_entries ? max_entries : s->max_entries, &mo);
}

/* keys 0 .. n-1 of an array, from values; batched where the kernel can */
static int
fill_array(int fd, const void *values, size_t value_size, uint32_t n)
{
	uint32_t *keys, count = n;
	int ret;

	if (n == 0)
		return 0;
	keys = malloc(sizeof(*keys) * n);
	if (keys == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++)
		keys[i] = i;
	ret = bpf_map_update_batch(fd, keys, values, &count, NULL);
	if (ret != 0) {
		ret = 0;
		for (uint32_t i = 0; i < n && ret == 0; i++)
			if (bpf_map_update_elem(fd, &i, (const char *)values +
						(size_t)i * value_size, 0) != 0)
				ret = -errno;
	}
	free(keys);
	return ret;
}

static int
fill_set(const struct sl_xdp_image *img, const int *fd)
{
	int ret = 0;

	for (unsigned int t = SL_XDP_TRIE_SRC6; t <= SL_XDP_TRIE_DST6 && ret == 0;
	     t++) {
		int m = t == SL_XDP_TRIE_SRC6 ? M_SRC6 : M_DST6;

		for (size_t k = 0; k < img->n_trie[t] && ret == 0; k++) {
			const struct sl_xdp_trie_entry *e = &img->trie[t][k];
			struct sl_xdp_lpm6_key key = { .prefixlen = e->len };

			memcpy(key.addr, e->addr, 16);
			if (bpf_map_update_elem(fd[m], &key, &e->bm, 0) != 0)
				ret = -errno;
		}
	}
	/* IPv4 prefix bitmaps: source entries, then destination entries */
	for (unsigned int t = SL_XDP_TRIE_SRC4; t <= SL_XDP_TRIE_DST4 && ret == 0;
	     t++) {
		uint32_t base = t == SL_XDP_TRIE_SRC4 ? 0 : SL_XDP_ABM_DST;

		for (uint32_t k = 0; k < img->n_trie[t] && ret == 0; k++) {
			uint32_t key = base + k;

			if (bpf_map_update_elem(fd[M_ABM], &key,
						&img->trie[t][k].bm, 0) != 0)
				ret = -errno;
		}
	}
	if (ret == 0)
		ret = fill_array(fd[M_A4], img->a4, sizeof(*img->a4), img->n_a4);
	if (ret == 0)
		ret = fill_array(fd[M_BM], img->bm, sizeof(*img->bm), img->n_bm);
	if (ret == 0)
		ret = fill_array(fd[M_PIDX], img->pidx, sizeof(*img->pidx),
				 SL_XDP_PIDX_ENTRIES);
	for (size_t k = 0; k < img->n_inport && ret == 0; k++)
		if (bpf_map_update_elem(fd[M_INPORT], &img->inport[k].ifindex,
					&img->inport[k].bm, 0) != 0)
			ret = -errno;
	if (ret == 0)
		ret = fill_array(fd[M_RULES], img->rules, sizeof(*img->rules),
				 img->n_rules + 1);
	if (ret == 0)
		ret = fill_array(fd[M_GRP], img->groups, sizeof(*img->groups),
				 img->n_groups);
	if (ret == 0)
		ret = fill_array(fd[M_MAG], img->mag, sizeof(*img->mag),
				 img->n_mag);
	if (ret == 0)
		ret = fill_array(fd[M_RGRP], img->rgroups,
				 sizeof(*img->rgroups), img->n_rgroups);
	if (ret == 0)
		ret = fill_array(fd[M_RTAB], img->rtab, sizeof(*img->rtab),
				 img->n_rtab);
	if (ret == 0)
		ret = fill_array(fd[M_TUN], img->tun, sizeof(*img->tun),
				 img->n_tun);
	return ret;
}

static int
read_ctl(const struct sl_xdp *x, struct sl_xdp_ctl *ctl)
{
	uint32_t zero = 0;

	return bpf_map_lookup_elem(x->map_fd[M_CTL], &zero, ctl) == 0 ? 0
								       : -errno;
}

static int
write_ctl(const struct sl_xdp *x, const struct sl_xdp_ctl *ctl)
{
	uint32_t zero = 0;

	return bpf_map_update_elem(x->map_fd[M_CTL], &zero, ctl, 0) == 0
		? 0 : -errno;
}

/* The inner map installed in slot set of outer map m, or -errno. */
static int
inner_fd(const struct sl_xdp *x, int m, uint32_t set)
{
	uint32_t id;
	int fd;

	if (bpf_map_lookup_elem(x->map_fd[m], &set, &id) != 0)
		return -errno;
	fd = bpf_map_get_fd_by_id(id);
	return fd < 0 ? -errno : fd;
}

/* Sum one per-CPU counter. */
static int
read_percpu(const struct sl_xdp *x, int fd, uint32_t key,
	    struct sl_xdp_counter *sum)
{
	struct sl_xdp_counter v[x->ncpus];

	memset(sum, 0, sizeof(*sum));
	if (bpf_map_lookup_elem(fd, &key, v) != 0)
		return -errno;
	for (int c = 0; c < x->ncpus; c++) {
		sum->packets += v[c].packets;
		sum->bytes += v[c].bytes;
	}
	return 0;
}

/* Totals of every rule of set `set` (carried + per-CPU), by index. */
static int
read_set_rules(const struct sl_xdp *x, uint32_t set, uint32_t n,
	       struct sl_xdp_rule *rules, struct sl_xdp_counter *total)
{
	int rfd = inner_fd(x, M_RULES, set), cfd = inner_fd(x, M_RCNT, set);
	int ret = 0;

	if (rfd < 0 || cfd < 0) {
		ret = rfd < 0 ? rfd : cfd;
		goto out;
	}
	for (uint32_t i = 0; i <= n && ret == 0; i++) {
		if (bpf_map_lookup_elem(rfd, &i, &rules[i]) != 0) {
			ret = -errno;
			break;
		}
		ret = read_percpu(x, cfd, i, &total[i]);
		total[i].packets += rules[i].carried_packets;
		total[i].bytes += rules[i].carried_bytes;
	}
out:
	if (rfd >= 0)
		close(rfd);
	if (cfd >= 0)
		close(cfd);
	return ret;
}

static uint32_t
id_hash(const char *s)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

/*
 * Give each rule of the new set the counts of the old rule with the same
 * id.  Runs after the flip and a grace period, so the old counters no
 * longer move and nothing is lost or counted twice.
 */
static int
carry_counters(const struct sl_xdp *x, const struct sl_xdp_ctl *ctl,
	       uint32_t old, const struct sl_xdp_image *img, int new_rules_fd)
{
	uint32_t n_old = ctl->set[old].n_rules;
	struct sl_xdp_rule *orules = calloc(n_old + 1, sizeof(*orules));
	struct sl_xdp_counter *ototal = calloc(n_old + 1, sizeof(*ototal));
	uint32_t slots = 1;
	int32_t *index = NULL;
	int ret;

	while (slots < 2 * (img->n_rules + 1))
		slots <<= 1;
	index = malloc(sizeof(*index) * slots);
	if (orules == NULL || ototal == NULL || index == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	ret = read_set_rules(x, old, n_old, orules, ototal);
	if (ret != 0)
		goto out;
	memset(index, 0xff, sizeof(*index) * slots);
	for (uint32_t i = 0; i <= img->n_rules; i++) {
		uint32_t h = id_hash(img->rules[i].id);

		while (index[h & (slots - 1)] >= 0)
			h++;
		index[h & (slots - 1)] = (int32_t)i;
	}
	for (uint32_t r = 0; r <= n_old && ret == 0; r++) {
		uint32_t h = id_hash(orules[r].id);
		int32_t i;

		if (ototal[r].packets == 0 && ototal[r].bytes == 0)
			continue;
		for (; (i = index[h & (slots - 1)]) >= 0; h++) {
			struct sl_xdp_rule v;
			uint32_t key = (uint32_t)i;

			if (strcmp(img->rules[i].id, orules[r].id) != 0)
				continue;
			v = img->rules[i];
			v.carried_packets = ototal[r].packets;
			v.carried_bytes = ototal[r].bytes;
			if (bpf_map_update_elem(new_rules_fd, &key, &v, 0) != 0)
				ret = -errno;
			break;
		}
	}
out:
	free(orules);
	free(ototal);
	free(index);
	return ret;
}

/* The timeout table of dataplane/conntrack.c (set_timeouts), in seconds:
 * classes TCP, UDP, ICMP, other; states sl_ct_state. */
static void
set_ct_timeouts(struct sl_xdp_set_cfg *c, const struct sl_ct_timeouts *to)
{
	enum { TCP, UDP, ICMP, OTHER };
	uint32_t (*s)[SL_XDP_CT_STATES] = c->ct_timeout;

	_Static_assert(SL_XDP_CT_STATES == SL_CTS_MAX, "ct states");
	memset(c->ct_timeout, 0, sizeof(c->ct_timeout));
	s[TCP][SL_CTS_SYN_SENT] = to->tcp_syn;
	s[TCP][SL_CTS_SYN_RECV] = to->tcp_syn_ack;
	s[TCP][SL_CTS_ESTABLISHED] = to->tcp_established;
	s[TCP][SL_CTS_FIN_WAIT] = to->tcp_closing;
	s[TCP][SL_CTS_CLOSING] = to->tcp_closing;
	s[TCP][SL_CTS_TIME_WAIT] = to->tcp_closing;
	s[TCP][SL_CTS_CLOSE] = to->tcp_closed;
	s[UDP][SL_CTS_OPEN] = to->udp_new;
	s[UDP][SL_CTS_REPLIED] = to->udp_established;
	s[ICMP][SL_CTS_OPEN] = to->icmp;
	s[ICMP][SL_CTS_REPLIED] = to->icmp;
	s[OTHER][SL_CTS_OPEN] = to->other;
	s[OTHER][SL_CTS_REPLIED] = to->other;
}

static int
resolve_ports(const struct sl_policy *p, uint32_t **out)
{
	uint32_t *ifx = calloc(p->n_ports + 1, sizeof(*ifx));

	if (ifx == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < p->n_ports; i++)
		ifx[i] = if_nametoindex(p->ports[i].name);
	*out = ifx;
	return 0;
}

int
sl_xdp_apply(struct sl_xdp *x, const struct sl_policy *p,
	     const uint32_t *ifindex_of, char *err, size_t err_size)
{
	struct sl_xdp_image *img = NULL;
	uint32_t *resolved = NULL;
	struct sl_xdp_ctl ctl;
	int fd[M_SET_N];
	uint32_t next, old;
	bool had_policy;
	int ret;

	for (int m = 0; m < M_SET_N; m++)
		fd[m] = -1;
	if (ifindex_of == NULL) {
		ret = resolve_ports(p, &resolved);
		if (ret != 0)
			goto out;
		ifindex_of = resolved;
	}
	ret = sl_xdp_compile(p, ifindex_of, &img, err, err_size);
	if (ret != 0)
		goto out;
	ret = read_ctl(x, &ctl);
	if (ret != 0) {
		sl_errf(err, err_size, "cannot read sl_ctl: %s", strerror(-ret));
		goto out;
	}
	old = ctl.active & 1;
	next = old ^ 1;
	had_policy = ctl.set[old].state == SL_XDP_SET_READY;

	/* 1. the inactive set, whole, in fresh maps */
	for (int m = 0; m < M_SET_N; m++) {
		/* sl_mag holds one chunk at least, sl_tun one tunnel: an
		 * array map has entries */
		fd[m] = create_inner(m, m == M_A4 ? img->n_a4 :
				     m == M_MAG ? (img->n_mag ? img->n_mag : 1) :
				     m == M_RTAB ? (img->n_rtab ? img->n_rtab : 1) :
				     m == M_TUN ? (img->n_tun ? img->n_tun : 1) : 0);
		if (fd[m] < 0) {
			ret = -errno;
			sl_errf(err, err_size, "cannot create map %s: %s",
			     map_names[m], strerror(-ret));
			goto out;
		}
	}
	ret = fill_set(img, fd);
	if (ret != 0) {
		sl_errf(err, err_size, "cannot write the policy maps: %s",
		     strerror(-ret));
		goto out;
	}
	for (int m = 0; m < M_SET_N; m++) {
		if (bpf_map_update_elem(x->map_fd[m], &next, &fd[m], 0) != 0) {
			ret = -errno;
			sl_errf(err, err_size, "cannot install map %s: %s",
			     map_names[m], strerror(-ret));
			goto out;
		}
	}
	ctl.set[next] = (struct sl_xdp_set_cfg){
		.state = SL_XDP_SET_READY,
		.n_rules = img->n_rules,
		.n_words = (img->n_rules + 63) / 64,
		.ct_enabled = p->settings.ct_enabled,
		.generation = img->generation,
		.flow_hash_seed = p->settings.flow_hash_seed,
	};
	set_ct_timeouts(&ctl.set[next], &p->settings.ct_timeouts);
	ret = write_ctl(x, &ctl);
	/* 2. the flip: one 32-bit store packets read once each */
	if (ret == 0) {
		ctl.active = next;
		ret = write_ctl(x, &ctl);
	}
	if (ret != 0) {
		sl_errf(err, err_size, "cannot write sl_ctl: %s", strerror(-ret));
		goto out;
	}
	/* 3. a grace period: writing an outer map slot makes the kernel wait
	 * until every program run that started before has ended, so no
	 * packet is still judged by the old set. */
	if (bpf_map_update_elem(x->map_fd[M_RULES], &next, &fd[M_RULES], 0) != 0) {
		ret = -errno;
		sl_errf(err, err_size, "cannot wait for the switch: %s",
		     strerror(-ret));
		goto out;
	}
	/* 4. counters of rules that stay */
	if (had_policy)
		ret = carry_counters(x, &ctl, old, img, fd[M_RULES]);
	if (ret != 0)
		sl_errf(err, err_size, "policy applied, but carrying the rule "
		     "counters failed: %s", strerror(-ret));
out:
	for (int m = 0; m < M_SET_N; m++)
		if (fd[m] >= 0)
			close(fd[m]);
	sl_xdp_image_free(img);
	free(resolved);
	return ret;
}

/* ---- counters ---- */

void
sl_xdp_stats_free(struct sl_xdp_stats *s)
{
	if (s == NULL)
		return;
	free(s->rules);
	free(s->ports);
	free(s);
}

static int
read_ports(const struct sl_xdp *x, struct sl_xdp_stats *s)
{
	struct sl_xdp_port_counter v[x->ncpus];
	uint32_t key, next, *prev = NULL;
	size_t cap = 0;

	while (bpf_map_get_next_key(x->map_fd[M_PORTS], prev, &next) == 0) {
		struct sl_xdp_port_stats *ps;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(x->map_fd[M_PORTS], &key, v) != 0)
			continue;
		if (s->n_ports == cap) {
			void *n;

			cap = cap ? 2 * cap : 8;
			n = realloc(s->ports, cap * sizeof(*s->ports));
			if (n == NULL)
				return -ENOMEM;
			s->ports = n;
		}
		ps = &s->ports[s->n_ports++];
		memset(ps, 0, sizeof(*ps));
		ps->ifindex = key;
		for (int c = 0; c < x->ncpus; c++) {
			ps->rx_packets += v[c].rx_packets;
			ps->rx_bytes += v[c].rx_bytes;
			ps->passed += v[c].passed;
			ps->dropped += v[c].dropped;
			ps->routed += v[c].routed;
			ps->steered += v[c].steered;
		}
	}
	return 0;
}

int
sl_xdp_stats_read(struct sl_xdp *x, struct sl_xdp_stats **out)
{
	struct sl_xdp_stats *s = calloc(1, sizeof(*s));
	struct sl_xdp_ctl ctl;
	int ret;

	*out = NULL;
	if (s == NULL)
		return -ENOMEM;
	ret = read_ctl(x, &ctl);
	if (ret != 0)
		goto fail;
	for (uint32_t r = 0; r < SL_DROP_MAX; r++)
		read_percpu(x, x->map_fd[M_DROPS], r, &s->drops[r]);
	for (uint32_t r = 0; r < SL_XDP_RT_MAX; r++)
		read_percpu(x, x->map_fd[M_RT], r, &s->route[r]);
	for (uint32_t r = 0; r < SL_XDP_ST_MAX; r++)
		read_percpu(x, x->map_fd[M_STEER], r, &s->steer[r]);
	for (uint32_t r = 0; r < SL_XDP_REP_MAX; r++)
		read_percpu(x, x->map_fd[M_REP], r, &s->rep[r]);
	s->routing = (ctl.flags & SL_XDP_CTL_ROUTE) != 0;
	ret = read_ports(x, s);
	if (ret != 0)
		goto fail;
	if (ctl.set[ctl.active & 1].state == SL_XDP_SET_READY) {
		uint32_t set = ctl.active & 1, n = ctl.set[set].n_rules;
		struct sl_xdp_rule *rules = calloc(n + 1, sizeof(*rules));
		struct sl_xdp_counter *tot = calloc(n + 1, sizeof(*tot));

		s->rules = calloc(n + 1, sizeof(*s->rules));
		ret = rules && tot && s->rules
			? read_set_rules(x, set, n, rules, tot) : -ENOMEM;
		for (uint32_t i = 0; ret == 0 && i <= n; i++) {
			memcpy(s->rules[i].id, rules[i].id, sizeof(rules[i].id));
			s->rules[i].id[sizeof(s->rules[i].id) - 1] = '\0';
			s->rules[i].action = rules[i].action;
			s->rules[i].packets = tot[i].packets;
			s->rules[i].bytes = tot[i].bytes;
		}
		free(rules);
		free(tot);
		if (ret != 0)
			goto fail;
		s->has_policy = true;
		s->n_rules = n;
		s->generation = ctl.set[set].generation;
	}
	*out = s;
	return 0;
fail:
	sl_xdp_stats_free(s);
	return ret;
}

/* ---- tests ---- */

int
sl_xdp_test_run(struct sl_xdp *x, const void *pkt, uint32_t len,
		uint32_t ingress_ifindex, struct sl_xdp_test_result *res)
{
	return sl_xdp_test_run_frame(x, pkt, len, ingress_ifindex, NULL, 0,
				     NULL, res);
}

int
sl_xdp_test_run_frame(struct sl_xdp *x, const void *pkt, uint32_t len,
		      uint32_t ingress_ifindex, void *out, uint32_t out_size,
		      uint32_t *out_len, struct sl_xdp_test_result *res)
{
	struct xdp_md ctx = {
		.data = 0,
		.data_end = len,
		.ingress_ifindex = ingress_ifindex,
	};
	LIBBPF_OPTS(bpf_test_run_opts, o,
		    .data_in = pkt,
		    .data_size_in = len,
		    .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx),
		    .data_out = out,
		    .data_size_out = out_size,
		    .repeat = 1);
	uint32_t zero = 0;

	memset(res, 0, sizeof(*res));
	if (bpf_prog_test_run_opts(x->prog_fd, &o) != 0)
		return -errno;
	if (out_len != NULL)
		*out_len = o.data_size_out;
	res->xdp_action = o.retval;
	if (bpf_map_lookup_elem(x->map_fd[M_LAST], &zero, &res->v) != 0)
		return -errno;
	return 0;
}

int
sl_xdp_set_test_clock(struct sl_xdp *x, uint64_t ns)
{
	uint32_t zero = 0;

	return bpf_map_update_elem(x->map_fd[M_CLOCK], &zero, &ns, 0) == 0
		? 0 : -errno;
}

int
sl_xdp_ct_flush(struct sl_xdp *x)
{
	struct sl_xdp_ct_key key, next;
	void *prev = NULL;

	/* Delete the key after reading the next one: deleting first would
	 * restart the walk at the table's start each time. */
	while (bpf_map_get_next_key(x->map_fd[M_CT], prev, &next) == 0) {
		if (prev != NULL)
			bpf_map_delete_elem(x->map_fd[M_CT], &key);
		key = next;
		prev = &key;
	}
	if (prev != NULL)
		bpf_map_delete_elem(x->map_fd[M_CT], &key);
	return 0;
}

const char *
sl_xdp_st_reason_name(unsigned int reason)
{
	static const char *const names[SL_XDP_ST_MAX] = {
#define ST_NAME_(e, name) [SL_XDP_ST_##e] = name,
		SL_XDP_ST_REASONS(ST_NAME_)
#undef ST_NAME_
	};

	return reason < SL_XDP_ST_MAX ? names[reason] : "?";
}

const char *
sl_xdp_rt_reason_name(unsigned int reason)
{
	static const char *const names[SL_XDP_RT_MAX] = {
#define RT_NAME_(e, name) [SL_XDP_RT_##e] = name,
		SL_XDP_RT_REASONS(RT_NAME_)
#undef RT_NAME_
	};

	return reason < SL_XDP_RT_MAX ? names[reason] : "?";
}

const char *
sl_xdp_rep_reason_name(unsigned int reason)
{
	static const char *const names[SL_XDP_REP_MAX] = {
#define REP_NAME_(e, name) [SL_XDP_REP_##e] = name,
		SL_XDP_REP_REASONS(REP_NAME_)
#undef REP_NAME_
	};

	return reason < SL_XDP_REP_MAX ? names[reason] : "?";
}

/* ---- trace (xdp_trace.c) ---- */

void
sl_xdp_trace_fds(const struct sl_xdp *x, int *ctl_fd, int *ring_fd)
{
	*ctl_fd = x->map_fd[M_TRACE];
	*ring_fd = x->map_fd[M_TRING];
}

int
sl_xdp_rule_id(struct sl_xdp *x, uint32_t set, uint64_t generation,
	       uint32_t rule, char id[64])
{
	struct sl_xdp_ctl ctl;
	struct sl_xdp_rule r;
	int fd, ret;

	ret = read_ctl(x, &ctl);
	if (ret != 0)
		return ret;
	set &= 1;
	if (ctl.set[set].state != SL_XDP_SET_READY ||
	    ctl.set[set].generation != generation ||
	    rule > ctl.set[set].n_rules)
		return -ESTALE;
	fd = inner_fd(x, M_RULES, set);
	if (fd < 0)
		return fd;
	ret = bpf_map_lookup_elem(fd, &rule, &r) == 0 ? 0 : -errno;
	close(fd);
	if (ret == 0)
		snprintf(id, 64, "%.*s", (int)sizeof(r.id), r.id);
	return ret;
}

int
sl_xdp_steer_ifindex(struct sl_xdp *x, uint32_t set, uint64_t generation,
		     uint32_t rule, uint32_t target, uint32_t *ifindex)
{
	struct sl_xdp_group g;
	struct sl_xdp_ctl ctl;
	struct sl_xdp_rule r;
	uint32_t group;
	int fd, ret;

	ret = read_ctl(x, &ctl);
	if (ret != 0)
		return ret;
	set &= 1;
	if (ctl.set[set].state != SL_XDP_SET_READY ||
	    ctl.set[set].generation != generation ||
	    rule > ctl.set[set].n_rules || target >= SL_XDP_TARGETS_MAX)
		return -ESTALE;
	fd = inner_fd(x, M_RULES, set);
	if (fd < 0)
		return fd;
	ret = bpf_map_lookup_elem(fd, &rule, &r) == 0 ? 0 : -errno;
	close(fd);
	if (ret != 0)
		return ret;
	group = r.group;
	fd = inner_fd(x, M_GRP, set);
	if (fd < 0)
		return fd;
	ret = bpf_map_lookup_elem(fd, &group, &g) == 0 ? 0 : -errno;
	close(fd);
	if (ret == 0 && (g.ifindex[target] & SL_XDP_TUN) != 0)
		ret = -ENOENT;	/* a tunnel: sl_tun[k], no interface */
	if (ret == 0)
		*ifindex = g.ifindex[target];
	return ret;
}
