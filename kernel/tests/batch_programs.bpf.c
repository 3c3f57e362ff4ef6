// SPDX-License-Identifier: GPL-2.0
/*
 * Hand-written batch XDP programs (BPF_F_XDP_BATCH) for the VM tests of
 * the batch patches: one the verifier must accept, and the mistakes it
 * must refuse. They are in xdp.batch sections, where xdpbatch finds
 * programs written as batch programs (loaded as written). A batch program receives the first record in R1 and the
 * end of the records in R2; records are XDP_RECORD_SIZE bytes apart
 * (sizeof(struct xdp_buff) in the kernel's BTF, passed with -D).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#ifndef XDP_RECORD_SIZE
#error "define XDP_RECORD_SIZE: sizeof(struct xdp_buff) in the kernel's BTF"
#endif

/* struct xdp_md as the patched UAPI has it */
struct xdp_record {
	__u32 data;
	__u32 data_end;
	__u32 data_meta;
	__u32 ingress_ifindex;
	__u32 rx_queue_index;
	__u32 egress_ifindex;
	__u32 act;
};

#define NEXT(r) ((struct xdp_record *)((void *)(r) + XDP_RECORD_SIZE))

#ifndef WITHOUT_KFUNC_CALLS
extern void bpf_xdp_batch_commit(struct xdp_md *ctx) __ksym;
#endif

/* [0]: calls, [1]: records */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 2);
} walked SEC(".maps");

static void count(__u32 key, __u64 n)
{
	__u64 *value = bpf_map_lookup_elem(&walked, &key);

	if (value)
		__sync_fetch_and_add(value, n);
}

/* Drops every frame, counting calls and records. */
SEC("xdp.batch")
int walk(struct xdp_record *rec, void *end)
{
	__u64 records = 0;
	int i;

	for (i = 0; i < 64; i++) {
		if ((void *)rec >= end)
			break;
		rec->act = XDP_DROP;
		records++;
		rec = NEXT(rec);
	}
	count(0, 1);
	count(1, records);
	return 0;
}

/* Decides record 1 without comparing it with the end of the batch. */
SEC("xdp.batch")
int past_end(struct xdp_record *rec, void *end)
{
	rec->act = XDP_PASS;
	NEXT(rec)->act = XDP_PASS;
	return 0;
}

/* Decides record 0 again once record 1 is being processed. */
SEC("xdp.batch")
int other_record(struct xdp_record *rec, void *end)
{
	struct xdp_record *next = NEXT(rec);

	if ((void *)next >= end) {
		rec->act = XDP_PASS;
		return 0;
	}
	next->act = XDP_PASS;
	rec->act = XDP_DROP;
	return 0;
}

/* Reads a packet through record 0's pointer once record 1 is being
 * processed: the pointer was checked against record 0's data_end only.
 */
SEC("xdp.batch")
int stale_packet(struct xdp_record *rec, void *end)
{
	void *data = (void *)(long)rec->data;
	void *data_end = (void *)(long)rec->data_end;
	struct xdp_record *next = NEXT(rec);
	volatile __u8 first;

	if (data + 1 > data_end)
		return 0;
	rec->act = XDP_PASS;
	if ((void *)next >= end)
		return 0;
	first = *(__u8 *)data;
	next->act = first ? XDP_PASS : XDP_DROP;
	return 0;
}

#ifndef WITHOUT_KFUNC_CALLS
/* A per-packet program may not call the batch kernel function. (Built
 * without it, -DWITHOUT_KFUNC_CALLS, the object has no external symbol
 * and xdpbatch's object reader takes it.)
 */
SEC("xdp")
int commit_per_packet(struct xdp_md *ctx)
{
	bpf_xdp_batch_commit(ctx);
	return XDP_PASS;
}
#endif

char _license[] SEC("license") = "GPL";
