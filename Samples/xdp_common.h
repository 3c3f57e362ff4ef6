/* Shared definitions for the bundled sample XDP programs.
 * Only kernel UAPI headers and libbpf's bpf_helpers.h: no libc headers,
 * so the samples build with the toolchain's clang on any machine. */
#ifndef XDPBATCH_SAMPLES_COMMON_H
#define XDPBATCH_SAMPLES_COMMON_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define ETH_P_8021Q_ 0x8100
#define ETH_P_8021AD_ 0x88A8

struct vlan_hdr_ {
	__be16 tci;
	__be16 encapsulated_proto;
};

#endif
