/* shared_maps: the software datapath's test that its engines and the
 * kernel share one set of maps (issue 25). Every frame is counted into an
 * array, a per-CPU array and a hash map (whose one entry the program
 * creates); the verdict is read from three more: the first non-zero of
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

SEC("xdp")
int shared_maps_prog(struct xdp_md *ctx)
{
	__u32 zero = 0;
	__u64 one = 1;
	__u64 *count;
	__u32 *verdict;

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
