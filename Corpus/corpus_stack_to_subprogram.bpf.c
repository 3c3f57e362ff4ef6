/* Corpus for the rewriter (issue 23): pointers into the main program's
 * stack frame passed to bpf-to-bpf subprograms. A window of the packet is
 * copied into a stack buffer in a loop and classified by a subprogram that
 * reads it through its pointer; a second subprogram writes into a counter
 * array of the caller's frame at an index it bounds; a third passes the
 * pointer on. The verifier checks each callee with its caller's state and
 * accepts them; the rewriter follows the pointers into the callees the
 * same way, per call site, in both stack strategies. */
#include "xdp_common.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 4);
} class_counts SEC(".maps");

#define WINDOW 16

static __noinline int classify(const __u8 *window, int length)
{
	int odd = 0, high = 0;

	for (int i = 0; i < WINDOW; i++) {
		if (i >= length)
			break;
		odd += window[i] & 1;
		if (window[i] >= 0x80)
			high++;
	}
	if (length < 14)
		return 0;
	if (high > odd)
		return 1;
	if (odd > 4)
		return 2;
	return 3;
}

static __noinline int tally(__u64 *counts, int class)
{
	counts[class & 3] += 1;
	return class & 3;
}

static __noinline int tally_twice(__u64 *counts, int class)
{
	tally(counts, class);
	return tally(counts, class ^ 1);
}

SEC("xdp")
int corpus_stack_to_subprogram(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	__u8 window[WINDOW];
	__u64 counts[4] = {};
	int length = 0;

	__builtin_memset(window, 0, sizeof(window));
	for (int i = 0; i < WINDOW; i++) {
		__u8 *byte = data + i;

		if ((void *)(byte + 1) > data_end)
			break;
		window[i] = *byte;
		length++;
	}
	int class = classify(window, length);
	int other = tally_twice(counts, class);
	__u32 key = class & 3;
	__u64 *count = bpf_map_lookup_elem(&class_counts, &key);

	if (count)
		*count += counts[class & 3] + counts[other & 3];
	switch (class) {
	case 0:
		return XDP_DROP;
	case 2:
		return XDP_TX;
	default:
		return XDP_PASS;
	}
}
