/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The helper programs of the XDP benchmark (bench/bench_xdp.py, which
 * compiles this file with clang -target bpf at run time):
 *
 *   bench_send  the sender.  bench_xdp.py runs it through BPF_PROG_RUN with
 *               BPF_F_TEST_XDP_LIVE_FRAMES on the sender's veth: XDP_TX
 *               becomes a redirect out of that veth, so every run puts one
 *               frame on the wire.  A full ring on the peer drops the frame
 *               and the run goes on (trafgen aborts there instead).  Each
 *               run rewrites the template frame into flow k of n_flows
 *               (round robin per CPU): source 10.10.0.0 + k, UDP destination
 *               port 10000 + k, with a correct IPv4 header checksum.
 *   bench_drop  the ceiling: count, XDP_DROP.
 *   bench_pass  count, XDP_PASS: the receiving veth needs an XDP program for
 *               frames redirected into it; this one hands them to the
 *               stack, where nftables' netdev ingress chain sees them.
 *
 * The template frame (built by bench_xdp.py): Ethernet, IPv4 without
 * options, UDP.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define ETH_HDR_LEN 14
#define IP_HDR_LEN 20
#define FLOW_SRC_BASE 0x0a0a0000u	/* 10.10.0.0 */
#define FLOW_DPORT_BASE 10000u

struct bench_cfg {
	__u32 n_flows;		/* 0 counts as 1 */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bench_cfg);
} bench_cfg SEC(".maps");

/* bench_send: the next flow of this CPU; bench_drop/pass: frames seen */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} bench_count SEC(".maps");

static __always_inline __u16
csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

SEC("xdp")
int
bench_send(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u8 *ip = (__u8 *)data + ETH_HDR_LEN;
	__u8 *udp = ip + IP_HDR_LEN;
	struct bench_cfg *cfg;
	__u32 zero = 0, k, src, n, sum = 0;
	__u64 *next;

	if ((void *)(udp + 8) > data_end)
		return XDP_ABORTED;
	cfg = bpf_map_lookup_elem(&bench_cfg, &zero);
	next = bpf_map_lookup_elem(&bench_count, &zero);
	if (cfg == NULL || next == NULL)
		return XDP_ABORTED;
	n = cfg->n_flows ? cfg->n_flows : 1;
	k = (__u32)(*next % n);
	*next += 1;

	src = FLOW_SRC_BASE + k;
	ip[12] = src >> 24;
	ip[13] = src >> 16;
	ip[14] = src >> 8;
	ip[15] = src;
	udp[2] = (FLOW_DPORT_BASE + k) >> 8;
	udp[3] = (FLOW_DPORT_BASE + k);
	/* The whole 20-byte header again: cheaper to reason about than an
	 * incremental update, and still a handful of instructions. */
	ip[10] = 0;
	ip[11] = 0;
#pragma unroll
	for (int i = 0; i < IP_HDR_LEN; i += 2)
		sum += (__u32)ip[i] << 8 | ip[i + 1];
	sum = csum_fold(sum);
	ip[10] = sum >> 8;
	ip[11] = sum;
	return XDP_TX;
}

static __always_inline void
count(void)
{
	__u32 zero = 0;
	__u64 *c = bpf_map_lookup_elem(&bench_count, &zero);

	if (c != NULL)
		*c += 1;
}

SEC("xdp")
int
bench_drop(struct xdp_md *ctx)
{
	(void)ctx;
	count();
	return XDP_DROP;
}

SEC("xdp")
int
bench_pass(struct xdp_md *ctx)
{
	(void)ctx;
	count();
	return XDP_PASS;
}
