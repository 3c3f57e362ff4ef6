/* xdp_calls: bpf-to-bpf calls. Two non-inlined subprograms, one called from
 * the other, each with its own stack frame and its own exit (a return). */
#include "xdp_common.h"

static __noinline __u32 fold_bytes(const __u8 *p, void *data_end, __u32 seed)
{
	__u32 acc = seed;

	#pragma unroll
	for (int i = 0; i < 8; i++) {
		if ((void *)(p + i + 1) > data_end)
			break;
		acc = acc * 31 + p[i];
	}
	return acc;
}

static __noinline __u32 hash_macs(struct ethhdr *eth, void *data_end)
{
	volatile __u32 spill = 0x9e3779b9;

	return fold_bytes(eth->h_dest, data_end, spill) ^
	       fold_bytes(eth->h_source, data_end, spill >> 7);
}

SEC("xdp")
int xdp_calls_prog(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return XDP_ABORTED;
	switch (hash_macs(eth, data_end) & 3) {
	case 0:
		return XDP_DROP;
	case 1:
		return XDP_TX;
	default:
		return XDP_PASS;
	}
}

char _license[] SEC("license") = "GPL";
