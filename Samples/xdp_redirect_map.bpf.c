/* xdp_redirect_map: forwards every frame through a DEVMAP, choosing the
 * port by the low bit of the destination MAC, and counts what it forwards. */
#include "xdp_common.h"

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 8);
} tx_port SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
} forwarded SEC(".maps");

SEC("xdp")
int xdp_redirect_map_prog(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct ethhdr *eth = data;
	__u32 key = 0;
	__u64 *count;

	if ((void *)(eth + 1) > data_end)
		return XDP_DROP;

	count = bpf_map_lookup_elem(&forwarded, &key);
	if (count)
		*count += 1;

	return bpf_redirect_map(&tx_port, eth->h_dest[5] & 1, XDP_PASS);
}

char _license[] SEC("license") = "GPL";
