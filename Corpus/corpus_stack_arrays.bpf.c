/* Corpus for the rewriter (issue 12): stack arrays indexed by variables the
 * verifier bounds (masks, loop counters, offsets computed into a stack
 * struct). Each program is accepted by the kernel's verifier; the rewriter
 * must batch every variant of each without moving a byte it cannot see. */
#include "xdp_common.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 64);
} slot_hits SEC(".maps");

/* buf[p[i] & 63]: a 64-byte stack table read and written at masked indices. */
SEC("xdp")
int corpus_masked_index(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	__u8 *p = data;
	__u8 buf[64];

	__builtin_memset(buf, 0, sizeof(buf));
	if (data + 16 > data_end)
		return XDP_PASS;
	buf[p[0] & 63] = p[1];
	buf[p[2] & 63] += p[3];
	buf[(p[4] ^ p[5]) & 63] ^= 0x5a;
	__u32 key = p[6] & 63;
	__u8 seen = buf[key];
	__u64 *hits = bpf_map_lookup_elem(&slot_hits, &key);
	if (hits)
		*hits += seen;
	return (buf[p[7] & 63] & 1) ? XDP_DROP : XDP_PASS;
}

/* A histogram on the stack, filled by a loop whose counter indexes it,
 * then searched by another loop: indices bounded by the loop tests. */
SEC("xdp")
int corpus_loop_index(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	__u8 *p = data;
	__u32 counts[16];
	__u32 best = 0, best_count = 0;

#pragma clang loop unroll(disable)
	for (int i = 0; i < 16; i++)
		counts[i] = 0;
#pragma clang loop unroll(disable)
	for (int i = 0; i < 48; i++) {
		if (data + i + 1 > data_end)
			break;
		counts[p[i] & 15]++;
	}
#pragma clang loop unroll(disable)
	for (__u32 i = 0; i < 16; i++) {
		if (counts[i] > best_count) {
			best_count = counts[i];
			best = i;
		}
	}
	__u64 *hits = bpf_map_lookup_elem(&slot_hits, &best);
	if (hits)
		*hits += best_count;
	if (best_count == 0)
		return XDP_ABORTED;
	return best & 1 ? XDP_DROP : XDP_PASS;
}

/* A hash key assembled in a 16-byte stack struct at offsets computed from
 * the packet (indices up to 15, past the struct's 8-byte alignment, so
 * clang adds them to the pointer), then counted in a hash map. */
struct flow_key {
	__u8 bytes[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct flow_key);
	__type(value, __u64);
	__uint(max_entries, 4096);
} flow_counts SEC(".maps");

SEC("xdp")
int corpus_key_struct(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	__u8 *p = data;
	struct flow_key key;
	__u64 one = 1;

	__builtin_memset(&key, 0, sizeof(key));
	if (data + 12 > data_end)
		return XDP_PASS;
	__u32 first = (p[0] & 7) + 8;
	__u32 second = (first + 1 + (p[1] & 3)) & 15;
	key.bytes[first] = p[2] & 3;
	key.bytes[second] = p[3] & 1;
	key.bytes[(p[4] & 3) + 5] |= 0x80;
	__u64 *count = bpf_map_lookup_elem(&flow_counts, &key);
	if (count) {
		*count += 1;
		return XDP_DROP;
	}
	bpf_map_update_elem(&flow_counts, &key, &one, BPF_ANY);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
