/* xdp_classify: a classifier with several exit instructions that returns
 * each of the five XDP actions depending on the packet:
 *   runt frame (shorter than Ethernet)      -> XDP_ABORTED
 *   IPv4 UDP to port 9 (discard)            -> XDP_DROP
 *   IPv4 UDP to port 7 (echo)               -> XDP_TX
 *   IPv6 TCP                                -> XDP_REDIRECT (to ifindex 1)
 *   everything else                         -> XDP_PASS
 * clang merges returns into one exit, so two checks leave through exits of
 * their own (inline asm), as hand-written BPF often does: the main program
 * then has several exits, and its IPv4 subprogram has its own. */
#include "xdp_common.h"

/* Leaves the program with `action` unless a <= b (unsigned). */
#define EXIT_UNLESS_LE(a, b, action)                                    \
	asm volatile("if %[x] <= %[y] goto +2\n\t"                      \
		     "r0 = %[act]\n\t"                                   \
		     "exit" ::[x] "r"(a), [y] "r"(b), [act] "i"(action)   \
		     : "r0", "memory")

/* Leaves the program with `action` unless a == imm. */
#define EXIT_UNLESS_EQ(a, imm, action)                                  \
	asm volatile("if %[x] == %[k] goto +2\n\t"                      \
		     "r0 = %[act]\n\t"                                   \
		     "exit" ::[x] "r"(a), [k] "i"(imm), [act] "i"(action) \
		     : "r0", "memory")

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 1);
} redirect_ifindex SEC(".maps");

static __noinline int classify_ipv4(struct iphdr *iph, void *data_end)
{
	struct udphdr *udp;

	if ((void *)(iph + 1) > data_end)
		return XDP_ABORTED;
	if (iph->protocol != IPPROTO_UDP)
		return XDP_PASS;
	udp = (void *)iph + sizeof(*iph);
	if ((void *)(udp + 1) > data_end)
		return XDP_ABORTED;
	if (udp->dest == bpf_htons(9))
		return XDP_DROP;
	if (udp->dest == bpf_htons(7))
		return XDP_TX;
	return XDP_PASS;
}

SEC("xdp")
int xdp_classify_prog(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct ethhdr *eth = data;
	struct ipv6hdr *ip6h;
	__u32 key = 0;
	__u32 *ifindex;

	EXIT_UNLESS_LE((void *)(eth + 1), data_end, XDP_ABORTED);

	if (eth->h_proto == bpf_htons(ETH_P_IP))
		return classify_ipv4(data + sizeof(*eth), data_end);

	if (eth->h_proto != bpf_htons(ETH_P_IPV6))
		return XDP_PASS;

	ip6h = data + sizeof(*eth);
	if ((void *)(ip6h + 1) > data_end)
		return XDP_ABORTED;
	EXIT_UNLESS_EQ((__u64)ip6h->nexthdr, IPPROTO_TCP, XDP_PASS);

	ifindex = bpf_map_lookup_elem(&redirect_ifindex, &key);
	if (!ifindex)
		return XDP_ABORTED;
	return bpf_redirect(*ifindex ? *ifindex : 1, 0);
}

char _license[] SEC("license") = "GPL";
