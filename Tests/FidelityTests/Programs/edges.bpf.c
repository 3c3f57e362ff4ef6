/* Edge cases of the XDP helpers, for the engine-vs-kernel fidelity test.
 * Every program takes its parameters from the frame's destination MAC
 * (bytes 1-5, random in generated frames), so 2,000 frames try 2,000
 * combinations, and writes helper return values into the frame, where the
 * test compares them byte for byte. */
#include "xdp_common.h"

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 8);
} ports SEC(".maps");

/* xdp_adjust_head/meta/tail with offsets in and out of their limits; the
 * return values land in the frame, a pattern in the metadata. */
SEC("xdp")
int edge_bounds(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u8 *p = data;
	int head, meta, tail;
	long rh, rm, rt;

	if (data + 14 > data_end)
		return XDP_ABORTED;
	head = (int)p[1] - 200;
	if (p[5] & 1)
		head *= 4;
	meta = -(int)p[2];
	tail = (int)p[3] - 128;
	if (p[4] & 1)
		tail *= 16;

	rh = bpf_xdp_adjust_head(ctx, head);
	rm = bpf_xdp_adjust_meta(ctx, meta);
	rt = bpf_xdp_adjust_tail(ctx, tail);

	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	void *data_meta = (void *)(long)ctx->data_meta;
	if (data_meta + 4 <= data)
		*(__u32 *)data_meta = 0xa5a5a5a5 ^ (__u32)rm;
	if (data + 14 > data_end)
		return XDP_DROP;
	__u32 *w = data;
	w[0] = (__u32)rh;
	w[1] = (__u32)rm;
	w[2] = (__u32)rt;
	return XDP_PASS;
}

/* bpf_csum_diff with sizes 0-32 (not only multiples of 4) and a seed from
 * the frame; the 64-bit result lands in the frame. */
SEC("xdp")
int edge_csum(struct xdp_md *ctx)
{
	__u8 buf[64];
	__u32 from_size, to_size, seed;
	__s64 sum;

	if (bpf_xdp_load_bytes(ctx, 0, buf, sizeof(buf)) < 0)
		return XDP_ABORTED;
	from_size = buf[1] & 0x3f;
	if (from_size > 32)
		from_size = 32;
	to_size = buf[2] & 0x1f;
	__builtin_memcpy(&seed, &buf[8], sizeof(seed));
	if (buf[3] & 1)
		seed = 0;
	sum = bpf_csum_diff((__be32 *)buf, from_size, (__be32 *)(buf + 32), to_size, seed);

	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	if (data + 14 > data_end)
		return XDP_DROP;
	__builtin_memcpy(data, &sum, sizeof(sum));
	return XDP_PASS;
}

/* xdp_load_bytes and xdp_store_bytes at offsets and lengths in and past
 * the frame's end; the return values land in the frame. */
SEC("xdp")
int edge_bytes(struct xdp_md *ctx)
{
	__u8 head[8], buf[32] = {};
	__u32 offset, length;
	long loaded, stored;

	if (bpf_xdp_load_bytes(ctx, 0, head, sizeof(head)) < 0)
		return XDP_ABORTED;
	offset = head[1] | (__u32)(head[2] & 7) << 8;
	length = (head[3] & 0x1f) + 1;
	loaded = bpf_xdp_load_bytes(ctx, offset, buf, length);
	buf[0] ^= 0xff;
	stored = bpf_xdp_store_bytes(ctx, offset / 2, buf, length);

	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	if (data + 14 > data_end)
		return XDP_DROP;
	__u32 *w = data;
	w[0] = (__u32)loaded;
	w[1] = (__u32)stored;
	return XDP_PASS;
}

/* bpf_redirect with and without flags, and bpf_redirect_map on set and
 * empty DEVMAP slots with every combination of the low six flag bits
 * (fallback action, BPF_F_BROADCAST, BPF_F_EXCLUDE_INGRESS, an unknown
 * bit); returns what the helper returned. */
SEC("xdp")
int edge_redirect(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u8 *p = data;

	if (data + 14 > data_end)
		return XDP_ABORTED;
	if (p[1] & 0x80)
		return bpf_redirect(p[3], (p[1] & 1) ? p[2] : 0);
	return bpf_redirect_map(&ports, p[3] & 15, p[2] & 0x3f);
}

/* Leaves with R0 = (p[1] << 32) | (p[2] & 7) (when not 0): a verdict with
 * upper bits set, which the kernel truncates to 32 bits. */
SEC("xdp")
int edge_wide_return(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u8 *p = data;
	__u64 value;

	if (data + 14 > data_end)
		return XDP_ABORTED;
	value = (__u64)p[1] << 32 | (p[2] & 7);
	asm volatile("if %[v] == 0 goto +2\n\t"
		     "r0 = %[v]\n\t"
		     "exit" ::[v] "r"(value) : "r0");
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
