// SPDX-License-Identifier: GPL-2.0 OR Apache-2.0
/* xlb_decap: runs on a backend in ipip mode. Strips the outer IPv4/IPv6
 * header of a tunnelled packet whose inner destination is one of this
 * backend's VIPs (xlb_dcp_vips), and passes the inner packet up the stack.
 * Everything else passes untouched. */
#include "lib/common.h"

#ifndef IPPROTO_IPIP
#define IPPROTO_IPIP 4
#endif

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct xlb_addr_key);
	__type(value, __u32);
} xlb_dcp_vips SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XLB_DCP_MAX);
	__type(key, __u32);
	__type(value, struct xlb_counter);
} xlb_dcp_stats SEC(".maps");

static __always_inline int dcp_inner_is_vip(void *inner, void *data_end, __u8 inner_proto)
{
	struct xlb_addr_key k = {};

	if (inner_proto == IPPROTO_IPIP) {
		struct iphdr *ih = inner;

		if ((void *)(ih + 1) > data_end || ih->version != 4)
			return -1;
		k.family = XLB_AF_INET;
		k.addr.addr[0] = ih->daddr;
	} else {
		struct ipv6hdr *ih = inner;

		if ((void *)(ih + 1) > data_end || ih->version != 6)
			return -1;
		k.family = XLB_AF_INET6;
		__builtin_memcpy(&k.addr, &ih->daddr, sizeof(k.addr));
	}
	return bpf_map_lookup_elem(&xlb_dcp_vips, &k) != NULL;
}

static __always_inline __u32 dcp_process(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u32 olen;
	__u8 inner_proto;
	int is_vip;

	if ((void *)(eth + 1) > data_end)
		return XLB_DCP_DROP_MALFORMED;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *oh = (void *)(eth + 1);

		if ((void *)(oh + 1) > data_end)
			return XLB_DCP_DROP_MALFORMED;
		if (oh->protocol != IPPROTO_IPIP && oh->protocol != IPPROTO_IPV6)
			return XLB_DCP_PASS_NOT_ENCAP;
		if (oh->ihl != 5 || (oh->frag_off & (IP_MF_BE | IP_OFFSET_BE)))
			return XLB_DCP_PASS_NOT_ENCAP; /* options or fragments: the kernel's business */
		olen = sizeof(*oh);
		inner_proto = oh->protocol;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *oh = (void *)(eth + 1);

		if ((void *)(oh + 1) > data_end)
			return XLB_DCP_DROP_MALFORMED;
		if (oh->nexthdr != IPPROTO_IPIP && oh->nexthdr != IPPROTO_IPV6)
			return XLB_DCP_PASS_NOT_ENCAP;
		olen = sizeof(*oh);
		inner_proto = oh->nexthdr;
	} else {
		return XLB_DCP_PASS_NOT_ENCAP;
	}

	is_vip = dcp_inner_is_vip((void *)(eth + 1) + olen, data_end, inner_proto);
	if (is_vip < 0)
		return XLB_DCP_DROP_MALFORMED;
	if (!is_vip)
		return XLB_DCP_PASS_NOT_VIP;

	/* Move the Ethernet header forward over the outer IP header. */
	{
		struct ethhdr *neth = (void *)eth + olen;

		if ((void *)(neth + 1) > data_end)
			return XLB_DCP_DROP_MALFORMED;
		__builtin_memmove(neth->h_source, eth->h_source, ETH_ALEN);
		__builtin_memmove(neth->h_dest, eth->h_dest, ETH_ALEN);
		neth->h_proto = inner_proto == IPPROTO_IPIP ? bpf_htons(ETH_P_IP)
							    : bpf_htons(ETH_P_IPV6);
	}
	if (bpf_xdp_adjust_head(ctx, (int)olen))
		return XLB_DCP_DROP_ADJUST;
	return XLB_DCP_DECAP;
}

SEC("xdp")
int xlb_decap(struct xdp_md *ctx)
{
	__u32 len = ctx->data_end - ctx->data;
	__u32 reason = dcp_process(ctx);
	struct xlb_counter *cnt = bpf_map_lookup_elem(&xlb_dcp_stats, &reason);

	if (cnt) {
		cnt->packets++;
		cnt->bytes += len;
	}
	return reason == XLB_DCP_DROP_MALFORMED || reason == XLB_DCP_DROP_ADJUST ? XDP_DROP
										   : XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
