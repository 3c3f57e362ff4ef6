/* Corpus for the software datapath's trace readout (issue 23): one
 * bpf_printk line per frame, numbered from 1 by a counter in an array map,
 * so a reader can tell which lines it got and which were dropped. */
#include "xdp_common.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
} printed SEC(".maps");

SEC("xdp")
int trace_every_frame(struct xdp_md *ctx)
{
	__u32 key = 0;
	__u64 *count = bpf_map_lookup_elem(&printed, &key);

	if (!count)
		return XDP_ABORTED;
	__u64 number = __sync_fetch_and_add(count, 1) + 1;
	bpf_printk("frame %llu len %u", number, (__u32)(ctx->data_end - ctx->data));
	return XDP_DROP;
}

char _license[] SEC("license") = "GPL";
