/* xdp_stack: uses more than 400 bytes of stack. Builds a 416-byte table on
 * the stack from the packet's first bytes and decides from a sum over it. */
#include "xdp_common.h"

#define TABLE_WORDS 52 /* 52 * 8 = 416 bytes */

SEC("xdp")
int xdp_stack_prog(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	volatile __u64 table[TABLE_WORDS];
	__u8 *p = data;
	__u64 sum = 0;

	if (data + 16 > data_end)
		return XDP_ABORTED;

	#pragma unroll
	for (int i = 0; i < TABLE_WORDS; i++)
		table[i] = (__u64)p[i & 15] * (i + 1);

	#pragma unroll
	for (int i = 0; i < TABLE_WORDS; i += 3)
		sum += table[i];

	return (sum & 1) ? XDP_PASS : XDP_DROP;
}

char _license[] SEC("license") = "GPL";
