/* Corpus for the rewriter (issue 12): bpf_xdp_adjust_head, adjust_tail and
 * adjust_meta before an early exit, so a batch form must leave each
 * record's data, data_end and data_meta where the per-packet form does. */
#include "xdp_common.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 4);
} adjust_results SEC(".maps");

static __always_inline void note(__u32 key)
{
	__u64 *count = bpf_map_lookup_elem(&adjust_results, &key);
	if (count)
		*count += 1;
}

/* Pops a 4-byte tag after the MAC addresses when the frame has one, grows
 * the tail of short frames, and exits early whenever a helper fails. */
SEC("xdp")
int corpus_adjust_early(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	__u8 *p = data;

	if (data + 18 > data_end)
		return XDP_DROP;
	__u8 selector = p[5];
	if (selector & 1) {
		if (bpf_xdp_adjust_head(ctx, 4)) {
			note(0);
			return XDP_ABORTED;
		}
		data = (void *)(long)ctx->data;
		data_end = (void *)(long)ctx->data_end;
		if (data + 14 > data_end)
			return XDP_DROP;
		if (selector & 2)
			return XDP_TX;
	}
	if (selector & 4) {
		if (bpf_xdp_adjust_tail(ctx, selector & 8 ? 16 : -8)) {
			note(1);
			return XDP_PASS;
		}
		if (selector & 16)
			return XDP_DROP;
	}
	if (bpf_xdp_adjust_meta(ctx, -8)) {
		note(2);
		return XDP_PASS;
	}
	void *meta = (void *)(long)ctx->data_meta;
	data = (void *)(long)ctx->data;
	if (meta + 8 > data)
		return XDP_ABORTED;
	*(__u32 *)meta = selector;
	*(__u32 *)(meta + 4) = 0xfeedf00d;
	if (selector & 32)
		return XDP_PASS;
	if (bpf_xdp_adjust_head(ctx, -16)) {
		note(3);
		return XDP_DROP;
	}
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (data + 16 > data_end)
		return XDP_ABORTED;
	__builtin_memset(data, 0xab, 16);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
