/* shared_maps: the software datapath's test that its engines and the
 * kernel share one set of maps (issue 25). Every frame is counted into an
 * array, a per-CPU array, a hash map (whose one entry the program
 * creates) and an LPM trie (under its IPv4 source address as a /32, 0 for
 * a frame that is not IPv4; the program creates the entry); the verdict
 * is read from four more: the first non-zero of the verdict of the
 * longest prefix in verdict_trie that holds the source address,
 * verdict_percpu[0], verdict_hash[0] and verdict_array[0], else XDP_DROP.
 * So `xdpbatch map update` of any of them shows in the verdicts, and the
 * counts in `map dump`. */
#include "xdp_common.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 1);
} verdict_array SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 4);
} verdict_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 1);
} verdict_percpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
} count_array SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
} count_percpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 16);
} count_hash SEC(".maps");

/* An IPv4 prefix: its length in bits, then the address (network order). */
struct prefix {
	__u32 prefixlen;
	__u8 address[4];
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct prefix);
	__type(value, __u32);
	__uint(max_entries, 16);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} verdict_trie SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct prefix);
	__type(value, __u64);
	__uint(max_entries, 16);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} count_trie SEC(".maps");

SEC("xdp")
int shared_maps_prog(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct prefix source = { .prefixlen = 32 };
	__u32 zero = 0;
	__u64 one = 1;
	__u64 *count;
	__u32 *verdict;

	if ((void *)(ip + 1) <= data_end && eth->h_proto == bpf_htons(ETH_P_IP))
		__builtin_memcpy(source.address, &ip->saddr, 4);

	count = bpf_map_lookup_elem(&count_array, &zero);
	if (count)
		__sync_fetch_and_add(count, 1);
	count = bpf_map_lookup_elem(&count_percpu, &zero);
	if (count)
		*count += 1;
	count = bpf_map_lookup_elem(&count_hash, &zero);
	if (count) {
		__sync_fetch_and_add(count, 1);
	} else if (bpf_map_update_elem(&count_hash, &zero, &one, BPF_NOEXIST)) {
		/* Created meanwhile on another CPU: count into that entry. */
		count = bpf_map_lookup_elem(&count_hash, &zero);
		if (count)
			__sync_fetch_and_add(count, 1);
	}
	count = bpf_map_lookup_elem(&count_trie, &source);
	if (count) {
		__sync_fetch_and_add(count, 1);
	} else if (bpf_map_update_elem(&count_trie, &source, &one, BPF_NOEXIST)) {
		count = bpf_map_lookup_elem(&count_trie, &source);
		if (count)
			__sync_fetch_and_add(count, 1);
	}

	verdict = bpf_map_lookup_elem(&verdict_trie, &source);
	if (verdict && *verdict)
		return *verdict;
	verdict = bpf_map_lookup_elem(&verdict_percpu, &zero);
	if (verdict && *verdict)
		return *verdict;
	verdict = bpf_map_lookup_elem(&verdict_hash, &zero);
	if (verdict && *verdict)
		return *verdict;
	verdict = bpf_map_lookup_elem(&verdict_array, &zero);
	if (verdict && *verdict)
		return *verdict;
	return XDP_DROP;
}

char _license[] SEC("license") = "GPL";
