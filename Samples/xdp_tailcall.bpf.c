/* xdp_tailcall: dispatches through a PROG_ARRAY with bpf_tail_call. A tail
 * call never returns, so this program cannot be batched: the rewriter must
 * refuse it with a clear error. */
#include "xdp_common.h"

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
	__uint(max_entries, 4);
} jump_table SEC(".maps");

SEC("xdp")
int xdp_tailcall_prog(struct xdp_md *ctx)
{
	bpf_tail_call(ctx, &jump_table, ctx->rx_queue_index & 3);
	return XDP_PASS;
}

SEC("xdp")
int xdp_tailcall_target(struct xdp_md *ctx)
{
	return XDP_DROP;
}

char _license[] SEC("license") = "GPL";
