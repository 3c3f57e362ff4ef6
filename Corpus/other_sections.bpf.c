/* Not XDP: run, rewrite and check must refuse these, naming the section. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

SEC("socket")
int socket_filter(struct __sk_buff *skb)
{
	return skb->len > 64 ? 0 : -1;
}

SEC("tc")
int tc_pass(struct __sk_buff *skb)
{
	return TC_ACT_OK;
}

char _license[] SEC("license") = "GPL";
