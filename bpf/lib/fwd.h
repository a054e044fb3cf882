/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/* Forwarding to a backend: FIB lookup for next hop and MACs, optional
 * IPIP encapsulation, then XDP_TX (same NIC) or a devmap redirect. */
#ifndef XLB_BPF_FWD_H
#define XLB_BPF_FWD_H

#include "parse.h"
#include "csum.h"

#ifndef IPPROTO_IPIP
#define IPPROTO_IPIP 4
#endif

/* Outer source prefixes for IPIP; the host bits vary with the flow hash so
 * the backend's RSS spreads flows over its queues. */
const volatile __be32 xlb_encap4_net = 0;
const volatile __be32 xlb_encap4_hostmask = 0;
const volatile __be32 xlb_encap6_net[4] = {};
const volatile __be32 xlb_encap6_hostmask = 0;

struct xlb_egress {
	__u32 ifindex;
	__u8 smac[ETH_ALEN];
	__u8 dmac[ETH_ALEN];
};

/* Resolves the next hop towards the backend for a datagram of out_len
 * bytes: the one the control plane resolved (xlb_nexthops), else
 * bpf_fib_lookup. Nothing is written to the packet here, so a failure
 * leaves it as it arrived. */
static __always_inline int xlb_fib(struct xdp_md *ctx, const struct xlb_backend *be, __u32 be_id,
				   __u32 out_len, __u64 now, struct xlb_egress *eg)
{
	struct bpf_fib_lookup fib = {};
	struct xlb_nexthops *nhs;
	int rc;

	nhs = bpf_map_lookup_elem(&xlb_nexthops, &be_id);
	if (nhs) {
		const struct xlb_nexthop *nh = &nhs->nh[be->nh_sel & 1];

		if (nh->ifindex && now < nh->expires_ns) {
			if (out_len > nh->mtu)
				return XLB_ERR(XLB_R_DROP_TOO_BIG);
			if (nh->ifindex != ctx->ingress_ifindex &&
			    !bpf_map_lookup_elem(&xlb_tx_ports, &nh->ifindex))
				return XLB_ERR(XLB_R_DROP_NO_TXPORT);
			eg->ifindex = nh->ifindex;
			__builtin_memcpy(eg->smac, nh->smac, ETH_ALEN);
			__builtin_memcpy(eg->dmac, nh->dmac, ETH_ALEN);
			return 0;
		}
	}
	xlb_event(XLB_EV_NH_FALLBACK);

	fib.ifindex = ctx->ingress_ifindex;
	fib.tot_len = out_len;
	if (be->family == XLB_AF_INET) {
		fib.family = AF_INET;
		fib.ipv4_dst = be->addr.addr[0];
	} else {
		fib.family = AF_INET6;
		__builtin_memcpy(fib.ipv6_dst, &be->addr, sizeof(fib.ipv6_dst));
	}
	rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), 0);
	switch (rc) {
	case BPF_FIB_LKUP_RET_SUCCESS:
		break;
	case BPF_FIB_LKUP_RET_NO_NEIGH:
		return XLB_ERR(XLB_R_DROP_NO_NEIGH);
	case BPF_FIB_LKUP_RET_FRAG_NEEDED:
		return XLB_ERR(XLB_R_DROP_TOO_BIG);
	case BPF_FIB_LKUP_RET_FWD_DISABLED:
		return XLB_ERR(XLB_R_PASS_FWD_DISABLED);
	default:
		return XLB_ERR(XLB_R_PASS_FIB);
	}
	if (fib.ifindex != ctx->ingress_ifindex &&
	    !bpf_map_lookup_elem(&xlb_tx_ports, &fib.ifindex))
		return XLB_ERR(XLB_R_DROP_NO_TXPORT);
	eg->ifindex = fib.ifindex;
	__builtin_memcpy(eg->smac, fib.smac, ETH_ALEN);
	__builtin_memcpy(eg->dmac, fib.dmac, ETH_ALEN);
	return 0;
}

static __always_inline void xlb_outer_ipv4(struct iphdr *oh, const struct xlb_pkt *p,
					   const struct xlb_backend *be, __u32 hash)
{
	oh->version = 4;
	oh->ihl = 5;
	oh->tos = p->tos;
	oh->tot_len = bpf_htons(p->l3_len + sizeof(*oh));
	oh->id = 0;
	oh->frag_off = p->df ? IP_DF_BE : 0;
	oh->ttl = 64;
	oh->protocol = IPPROTO_IPIP;
	oh->check = 0;
	oh->saddr = xlb_encap4_net | (bpf_htonl(hash) & xlb_encap4_hostmask);
	oh->daddr = be->addr.addr[0];
	oh->check = xlb_ipv4_csum(oh);
}

static __always_inline void xlb_outer_ipv6(struct ipv6hdr *oh, const struct xlb_pkt *p,
					   const struct xlb_backend *be, __u32 hash)
{
	__u32 first = (6u << 28) | ((__u32)p->tos << 20) | (hash & 0xFFFFF);

	*(__be32 *)oh = bpf_htonl(first);
	oh->payload_len = bpf_htons(p->l3_len);
	oh->nexthdr = p->key.family == XLB_AF_INET ? IPPROTO_IPIP : IPPROTO_IPV6;
	oh->hop_limit = 64;
	oh->saddr.in6_u.u6_addr32[0] = xlb_encap6_net[0];
	oh->saddr.in6_u.u6_addr32[1] = xlb_encap6_net[1];
	oh->saddr.in6_u.u6_addr32[2] = xlb_encap6_net[2];
	oh->saddr.in6_u.u6_addr32[3] = xlb_encap6_net[3] | (bpf_htonl(hash) & xlb_encap6_hostmask);
	__builtin_memcpy(&oh->daddr, &be->addr, sizeof(oh->daddr));
}

/* Pushes an outer IP header between the L2 header (kept, VLAN tag
 * included) and the packet's IP header. */
static __always_inline int xlb_encap(struct xdp_md *ctx, const struct xlb_pkt *p,
				     const struct xlb_backend *be, __u32 hash)
{
	__u32 olen = be->family == XLB_AF_INET ? sizeof(struct iphdr) : sizeof(struct ipv6hdr);
	__be16 oproto = be->family == XLB_AF_INET ? bpf_htons(ETH_P_IP) : bpf_htons(ETH_P_IPV6);
	void *data, *data_end;
	struct ethhdr *eth;
	void *outer;

	if (bpf_xdp_adjust_head(ctx, -(int)olen))
		return XLB_ERR(XLB_R_DROP_ENCAP);
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;

	if (p->l3_off == sizeof(struct ethhdr) + sizeof(struct vlan_hdr)) {
		struct vlan_hdr *vh = (void *)(eth + 1);
		struct vlan_hdr *old_vh;

		if (data + olen + sizeof(*eth) + sizeof(*vh) > data_end)
			return XLB_ERR(XLB_R_DROP_ENCAP);
		old_vh = data + olen + sizeof(*eth);
		eth->h_proto = ((struct ethhdr *)(data + olen))->h_proto;
		vh->tci = old_vh->tci;
		vh->encap_proto = oproto;
		outer = vh + 1;
	} else {
		if (data + olen + sizeof(*eth) > data_end)
			return XLB_ERR(XLB_R_DROP_ENCAP);
		eth->h_proto = oproto;
		outer = eth + 1;
	}
	if (be->family == XLB_AF_INET) {
		if (outer + sizeof(struct iphdr) > data_end)
			return XLB_ERR(XLB_R_DROP_ENCAP);
		xlb_outer_ipv4(outer, p, be, hash);
	} else {
		if (outer + sizeof(struct ipv6hdr) > data_end)
			return XLB_ERR(XLB_R_DROP_ENCAP);
		xlb_outer_ipv6(outer, p, be, hash);
	}
	return 0;
}

static __always_inline void xlb_set_macs(struct xdp_md *ctx, const struct xlb_egress *eg)
{
	void *data = (void *)(long)ctx->data;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > (void *)(long)ctx->data_end)
		return;
	__builtin_memcpy(eth->h_dest, eg->dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, eg->smac, ETH_ALEN);
}

#endif
