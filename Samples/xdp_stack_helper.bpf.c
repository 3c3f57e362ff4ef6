/* xdp_stack_helper: passes pointers into its stack frame to helpers. Copies
 * the first 32 bytes of the frame to the stack with bpf_xdp_load_bytes,
 * checksums them with bpf_csum_diff, and keeps a per-checksum-bucket count
 * in a hash map keyed from the stack. */
#include "xdp_common.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 64);
} buckets SEC(".maps");

SEC("xdp")
int xdp_stack_helper_prog(struct xdp_md *ctx)
{
	__u32 head[8];
	__u64 one = 1, *count;
	__u32 bucket;
	__s64 csum;

	if (bpf_xdp_load_bytes(ctx, 0, head, sizeof(head)) < 0)
		return XDP_PASS;

	csum = bpf_csum_diff(0, 0, head, sizeof(head), 0);
	if (csum < 0)
		return XDP_ABORTED;
	bucket = (__u32)csum & 63;

	count = bpf_map_lookup_elem(&buckets, &bucket);
	if (count)
		__sync_fetch_and_add(count, 1);
	else
		bpf_map_update_elem(&buckets, &bucket, &one, BPF_NOEXIST);

	return (bucket & 1) ? XDP_PASS : XDP_DROP;
}

char _license[] SEC("license") = "GPL";
