/* Corpus for the rewriter (issue 12): programs whose side effects happen for
 * every frame, even an empty or truncated one, so that a batch form that
 * ran the program on padding records would show it in its maps. */
#include "xdp_common.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 4);
} frame_totals SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 2048);
} length_counts SEC(".maps");

/* Counts every frame and its bytes, before any bounds check. */
SEC("xdp")
int corpus_count_frames(struct xdp_md *ctx)
{
	__u32 key = 0;
	__u64 *frames = bpf_map_lookup_elem(&frame_totals, &key);
	if (frames)
		*frames += 1;
	key = 1;
	__u64 *bytes = bpf_map_lookup_elem(&frame_totals, &key);
	if (bytes)
		*bytes += ctx->data_end - ctx->data;
	return XDP_PASS;
}

/* Counts frames per length in a hash map (a zero-length frame is a key of
 * its own), and a running hash of first bytes, then decides. */
SEC("xdp")
int corpus_hash_lengths(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	__u32 length = data_end - data;
	__u64 one = 1;

	__u64 *count = bpf_map_lookup_elem(&length_counts, &length);
	if (count)
		*count += 1;
	else
		bpf_map_update_elem(&length_counts, &length, &one, BPF_NOEXIST);

	__u32 key = 2;
	__u64 *hash = bpf_map_lookup_elem(&frame_totals, &key);
	if (!hash)
		return XDP_ABORTED;
	__u64 h = *hash * 31 + length;
	if (data + 1 <= data_end)
		h ^= *(__u8 *)data;
	*hash = h;
	return length < 64 ? XDP_DROP : XDP_PASS;
}

char _license[] SEC("license") = "GPL";
