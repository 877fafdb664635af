/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sluice-xdp run: what the XDP program does with each frame of a pcap
 * file, without attaching to anything.
 *
 * A private copy of the program is loaded (nothing pinned, nothing
 * attached), the policy is applied to it, and every frame goes through
 * BPF_PROG_TEST_RUN in file order.  This is the XDP half of the parity
 * test against the DPDK dataplane in pcap mode (--oneshot): the same
 * frames, the same policy, and for each frame what each datapath did
 * (tests/system/test_xdp_dpdk_parity.py).  For an operator it answers
 * "what would this policy do with this traffic" before it is attached.
 *
 * Input: a classic pcap file (microsecond or nanosecond, either byte
 * order) with Ethernet frames.  pcapng is refused: convert it with
 * `editcap -F pcap`.  A frame shorter than 14 bytes cannot go through
 * BPF_PROG_TEST_RUN (and never reaches an XDP program on a real NIC), so
 * it is reported as skipped.  A frame cut short by the capture's snap
 * length is run as it is and counted as truncated.
 *
 * Output (stdout, JSON): "packets", one object per frame (xdp action,
 * rule id, rule action, drop reason, routing and steer reason), and
 * "stats", what `sluice-xdp stats --json` prints for the private program.
 * With --out, the frames the program did not drop, as it left them, go to a
 * pcap file in input order.
 *
 * Connection tracking runs on the kernel's clock, so the frames of a file
 * are as close in time as the program can run them: no flow expires within
 * a run.
 */
#include <errno.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <linux/bpf.h>

#include "sluice/drop_reason.h"
#include "sluice/policy.h"
#include "sluice_xdp_tool.h"
#include "xdp_loader.h"

#define PCAP_MAGIC_US		0xa1b2c3d4u
#define PCAP_MAGIC_NS		0xa1b23c4du
#define PCAP_LINKTYPE_ETHERNET	1
#define PCAP_HDR_LEN		24
#define PCAP_REC_LEN		16
/* The largest frame run: a linear XDP buffer holds at most a page less
 * the kernel's headroom and tailroom. */
#define RUN_FRAME_MAX		3520
#define ETH_HDR_LEN		14

struct pcap_in {
	FILE *f;
	const char *path;
	bool swapped;		/* written on a host of the other byte order */
	uint32_t snaplen;
};

static uint32_t
pcap_u32(const struct pcap_in *in, const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return in->swapped ? __builtin_bswap32(v) : v;
}

static int
pcap_open(struct pcap_in *in, const char *path)
{
	uint8_t h[PCAP_HDR_LEN];
	uint32_t magic, linktype;

	memset(in, 0, sizeof(*in));
	in->path = path;
	in->f = fopen(path, "rb");
	if (in->f == NULL) {
		fprintf(stderr, "sluice-xdp: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fread(h, 1, sizeof(h), in->f) != sizeof(h)) {
		fprintf(stderr, "sluice-xdp: %s: shorter than a pcap file "
			"header (24 bytes)\n", path);
		return -1;
	}
	memcpy(&magic, h, 4);
	if (magic == __builtin_bswap32(PCAP_MAGIC_US) ||
	    magic == __builtin_bswap32(PCAP_MAGIC_NS)) {
		in->swapped = true;
		magic = __builtin_bswap32(magic);
	}
	if (magic == 0x0a0d0d0au) {
		fprintf(stderr, "sluice-xdp: %s: a pcapng file; convert it "
			"with: editcap -F pcap %s OUT.pcap\n", path, path);
		return -1;
	}
	if (magic != PCAP_MAGIC_US && magic != PCAP_MAGIC_NS) {
		fprintf(stderr, "sluice-xdp: %s: not a pcap file (magic "
			"0x%08x)\n", path, magic);
		return -1;
	}
	in->snaplen = pcap_u32(in, h + 16);
	linktype = pcap_u32(in, h + 20);
	if (linktype != PCAP_LINKTYPE_ETHERNET) {
		fprintf(stderr, "sluice-xdp: %s: link type %u; only Ethernet "
			"(1) frames can go through XDP\n", path, linktype);
		return -1;
	}
	return 0;
}

/* The next frame: 1 with *len and *orig_len set, 0 at the end, -1 on a
 * damaged file (said on stderr). */
static int
pcap_next_frame(struct pcap_in *in, uint8_t *buf, uint32_t *len,
		uint32_t *orig_len, unsigned long index)
{
	uint8_t r[PCAP_REC_LEN];
	size_t got = fread(r, 1, sizeof(r), in->f);

	if (got == 0 && feof(in->f))
		return 0;
	if (got != sizeof(r)) {
		fprintf(stderr, "sluice-xdp: %s: frame %lu: record header cut "
			"short\n", in->path, index);
		return -1;
	}
	*len = pcap_u32(in, r + 8);
	*orig_len = pcap_u32(in, r + 12);
	if (*len > RUN_FRAME_MAX) {
		fprintf(stderr, "sluice-xdp: %s: frame %lu: %u bytes, above "
			"the %u an XDP buffer holds\n", in->path, index, *len,
			RUN_FRAME_MAX);
		return -1;
	}
	if (fread(buf, 1, *len, in->f) != *len) {
		fprintf(stderr, "sluice-xdp: %s: frame %lu: data cut short\n",
			in->path, index);
		return -1;
	}
	return 1;
}

static FILE *
pcap_create(const char *path)
{
	uint32_t h[6] = { PCAP_MAGIC_US, 2 | (4u << 16), 0, 0, 65535,
			  PCAP_LINKTYPE_ETHERNET };
	FILE *f = fopen(path, "wb");

	if (f == NULL) {
		fprintf(stderr, "sluice-xdp: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	fwrite(h, 1, sizeof(h), f);
	return f;
}

static void
pcap_write_frame(FILE *f, const uint8_t *frame, uint32_t len)
{
	uint32_t r[4] = { 0, 0, len, len };

	fwrite(r, 1, sizeof(r), f);
	fwrite(frame, 1, len, f);
}

static const char *
xdp_action_name(uint32_t action)
{
	switch (action) {
	case XDP_ABORTED: return "aborted";
	case XDP_DROP: return "drop";
	case XDP_PASS: return "pass";
	case XDP_TX: return "tx";
	case XDP_REDIRECT: return "redirect";
	default: return "unknown";
	}
}

/* One frame's verdict as JSON; ids: the rule ids by index (stats). */
static json_t *
verdict_json(const struct sl_xdp_test_result *res,
	     const struct sl_xdp_stats *ids, uint32_t len, bool truncated)
{
	const struct sl_xdp_verdict *v = &res->v;
	json_t *j = json_pack("{s:s, s:i}", "xdp",
			      xdp_action_name(res->xdp_action), "len",
			      (int)len);

	if (v->rule != SL_XDP_NO_RULE && ids->has_policy &&
	    v->rule <= ids->n_rules) {
		json_object_set_new(j, "rule",
				    json_string(ids->rules[v->rule].id));
		json_object_set_new(j, "action",
				    json_string(sl_action_name(v->action)));
	} else {
		json_object_set_new(j, "rule", json_null());
	}
	json_object_set_new(j, "drop", json_string(
		sl_drop_reason_name(v->reason)));
	if (v->route != SL_XDP_RT_NONE)
		json_object_set_new(j, "route", json_string(
			sl_xdp_rt_reason_name(v->route)));
	if (v->steer != SL_XDP_RT_NONE)
		json_object_set_new(j, "steer", json_string(
			sl_xdp_st_reason_name(v->steer)));
	if (truncated)
		json_object_set_new(j, "truncated", json_true());
	return j;
}

/* Every frame of in through x; the verdicts appended to packets, the
 * frames not dropped written to out (may be NULL).  0, or -1 (said). */
static int
run_frames(struct sl_xdp *x, struct pcap_in *in, FILE *out,
	   uint32_t ifindex, const struct sl_xdp_stats *ids, json_t *packets)
{
	static uint8_t frame[RUN_FRAME_MAX], left[RUN_FRAME_MAX];
	uint32_t len, orig_len, left_len;
	unsigned long index = 0;
	int ret;

	while ((ret = pcap_next_frame(in, frame, &len, &orig_len, index)) == 1) {
		struct sl_xdp_test_result res;
		int err;

		if (len < ETH_HDR_LEN) {
			json_array_append_new(packets, json_pack(
				"{s:s, s:i}", "skipped",
				"shorter than an Ethernet header", "len",
				(int)len));
			index++;
			continue;
		}
		err = sl_xdp_test_run_frame(x, frame, len, ifindex, left,
					    sizeof(left), &left_len, &res);
		if (err != 0) {
			fprintf(stderr, "sluice-xdp: frame %lu: "
				"BPF_PROG_TEST_RUN: %s\n", index,
				strerror(-err));
			return -1;
		}
		json_array_append_new(packets, verdict_json(&res, ids, len,
							    orig_len > len));
		if (out != NULL && res.xdp_action != XDP_DROP &&
		    res.xdp_action != XDP_ABORTED)
			pcap_write_frame(out, left, left_len);
		index++;
	}
	return ret < 0 ? -1 : 0;
}

int
xdp_tool_run(const char *policy_path, const char *pcap_path,
	     const char *out_path, const char *in_dev, bool verbose)
{
	struct sl_xdp_opts o = { .last_verdict = true, .verbose = verbose };
	struct sl_xdp_stats *ids = NULL, *s = NULL;
	json_t *root = NULL, *packets = json_array();
	struct sl_policy *p = NULL;
	struct sl_xdp *x = NULL;
	struct pcap_in in = { 0 };
	uint32_t ifindex = 0;
	FILE *out = NULL;
	char err[512];
	int rc = 1;

	if (in_dev != NULL) {
		ifindex = if_nametoindex(in_dev);
		if (ifindex == 0) {
			fprintf(stderr, "sluice-xdp: --dev %s: no such "
				"interface\n", in_dev);
			goto out;
		}
	}
	p = xdp_tool_load_policy(policy_path);
	if (p == NULL || pcap_open(&in, pcap_path) != 0)
		goto out;
	if (p->settings.ct_enabled)
		o.ct_size = p->settings.ct_size;
	if (sl_xdp_open(&o, &x, err, sizeof(err)) != 0 ||
	    sl_xdp_apply(x, p, NULL, err, sizeof(err)) != 0) {
		fprintf(stderr, "sluice-xdp: %s\n", err);
		goto out;
	}
	if (out_path != NULL && (out = pcap_create(out_path)) == NULL)
		goto out;
	/* The rule ids by index, before any packet: the same policy. */
	if (sl_xdp_stats_read(x, &ids) != 0) {
		fprintf(stderr, "sluice-xdp: cannot read the program's "
			"counters\n");
		goto out;
	}
	if (run_frames(x, &in, out, ifindex, ids, packets) != 0)
		goto out;
	if (sl_xdp_stats_read(x, &s) != 0) {
		fprintf(stderr, "sluice-xdp: cannot read the program's "
			"counters\n");
		goto out;
	}
	root = json_pack("{s:O, s:o}", "packets", packets, "stats",
			 xdp_tool_stats_json(s));
	if (json_dumpf(root, stdout, JSON_INDENT(1)) == 0) {
		fputc('\n', stdout);
		rc = 0;
	}
out:
	if (out != NULL && fclose(out) != 0) {
		fprintf(stderr, "sluice-xdp: %s: %s\n", out_path,
			strerror(errno));
		rc = 1;
	}
	if (in.f != NULL)
		fclose(in.f);
	json_decref(root);
	json_decref(packets);
	if (s != NULL)
		sl_xdp_stats_free(s);
	if (ids != NULL)
		sl_xdp_stats_free(ids);
	if (x != NULL)
		sl_xdp_close(x);
	sl_policy_free(p);
	return rc;
}
