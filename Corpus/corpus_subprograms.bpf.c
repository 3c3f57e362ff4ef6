/* Corpus for the rewriter (issue 12): several bpf-to-bpf subprograms, each
 * with early exits of its own, and a main program that returns early on
 * their answers. Only scalars and packet pointers are passed (stack
 * pointers passed to subprograms: corpus_stack_to_subprogram.bpf.c). */
#include "xdp_common.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 8);
} stage_counts SEC(".maps");

static __noinline int count_stage(__u32 stage)
{
	__u64 *count = bpf_map_lookup_elem(&stage_counts, &stage);
	if (!count)
		return -1;
	*count += 1;
	return 0;
}

static __noinline int ether_kind(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct ethhdr *eth = data;

	if (data + sizeof(*eth) > data_end)
		return -1;
	if (eth->h_proto == bpf_htons(ETH_P_IP))
		return 4;
	if (eth->h_proto == bpf_htons(ETH_P_IPV6))
		return 6;
	if (eth->h_dest[0] & 1)
		return 1;
	return 0;
}

static __noinline int ip_protocol(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct iphdr *ip = data + sizeof(struct ethhdr);

	if ((void *)(ip + 1) > data_end)
		return -1;
	if (ip->ihl < 5)
		return -2;
	if (ip->ttl <= 1)
		return -3;
	return ip->protocol;
}

static __noinline int port_class(struct xdp_md *ctx, int protocol)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct udphdr *l4 = data + sizeof(struct ethhdr) + sizeof(struct iphdr);

	if (protocol != IPPROTO_UDP && protocol != IPPROTO_TCP)
		return 0;
	if ((void *)(l4 + 1) > data_end)
		return -1;
	__u16 port = bpf_ntohs(l4->dest);
	if (port < 1024)
		return 1;
	if (port == 4789 || port == 8472)
		return 2;
	return 3;
}

SEC("xdp")
int corpus_subprograms(struct xdp_md *ctx)
{
	int kind = ether_kind(ctx);
	if (kind < 0) {
		count_stage(0);
		return XDP_ABORTED;
	}
	if (kind == 1) {
		count_stage(1);
		return XDP_PASS;
	}
	if (kind != 4) {
		count_stage(2);
		return kind == 6 ? XDP_PASS : XDP_DROP;
	}
	int protocol = ip_protocol(ctx);
	if (protocol < 0) {
		count_stage(3);
		return XDP_DROP;
	}
	int class = port_class(ctx, protocol);
	if (class < 0)
		return XDP_ABORTED;
	count_stage(4 + (class & 3));
	return class == 2 ? XDP_TX : XDP_PASS;
}

char _license[] SEC("license") = "GPL";
