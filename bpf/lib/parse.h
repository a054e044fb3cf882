/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/* Header parsing. Nothing here trusts a length field it has not checked:
 * the IP datagram is bounded by the frame (data_end), and every header
 * inside it (TCP, UDP, ICMP and what an ICMP error quotes) by the datagram's
 * own length, never by the frame, whose tail may be Ethernet padding.
 * Headers that disagree with their lengths end as XLB_R_DROP_MALFORMED and
 * never reach a VIP path. */
#ifndef XLB_BPF_PARSE_H
#define XLB_BPF_PARSE_H

#include "common.h"
#include "maps.h"

struct xlb_pkt {
	void *data;
	void *data_end;
	__u32 l3_off;  /* 14, or 18 behind one 802.1Q/802.1ad tag */
	__u32 l4_off;
	__u32 l3_len;  /* IP datagram length: IPv4 tot_len, or 40 + IPv6 payload */
	__u32 l3_end;  /* l3_off + l3_len: where the datagram ends (padding may follow) */
	__be16 l3_proto; /* ethertype of the L3 header, network order */
	__u8 tos;      /* DSCP + ECN */
	__u8 df;       /* IPv4 "don't fragment" */
	__u8 syn;      /* TCP SYN without ACK: a connection's first packet */
	struct xlb_flow_key key; /* filled for TCP/UDP, and for ICMP errors by icmp.h */
};

static __always_inline int xlb_parse_l2(struct xlb_pkt *p)
{
	struct ethhdr *eth = p->data;
	__be16 proto;

	if ((void *)(eth + 1) > p->data_end)
		return XLB_ERR(XLB_R_DROP_MALFORMED);
	proto = eth->h_proto;
	p->l3_off = sizeof(*eth);
	if (proto == ETH_P_8021Q_BE || proto == ETH_P_8021AD_BE) {
		struct vlan_hdr *vh = (void *)(eth + 1);

		if ((void *)(vh + 1) > p->data_end)
			return XLB_ERR(XLB_R_DROP_MALFORMED);
		proto = vh->encap_proto;
		p->l3_off += sizeof(*vh);
	}
	if (proto != bpf_htons(ETH_P_IP) && proto != bpf_htons(ETH_P_IPV6))
		return XLB_ERR(XLB_R_PASS_NOT_IP);
	p->l3_proto = proto;
	return 0;
}

/* What a packet that cannot be balanced (a fragment, an extension header)
 * to addr gets: passed when addr is no VIP's (or an HTTP VIP's: the stack
 * reassembles for the proxy), else `drop`. */
static __always_inline int xlb_unbalanceable(const struct xlb_addr *a, __u8 family, __u32 drop)
{
	struct xlb_addr_key k = {};
	__u32 *v;

	xlb_addr_copy(&k.addr, a);
	k.family = family;
	v = bpf_map_lookup_elem(&xlb_vip_addrs, &k);
	if (!v)
		return XLB_ERR(XLB_R_PASS_NOT_VIP);
	if (*v >> XLB_ADDR_L7_SHIFT)
		return XLB_ERR(XLB_R_PASS_L7);
	return XLB_ERR(drop);
}

/* Does an HTTP VIP use address a (so that it is local to this host)? */
static __always_inline int xlb_addr_is_l7(const struct xlb_addr *a, __u8 family)
{
	struct xlb_addr_key k = {};
	__u32 *v;

	xlb_addr_copy(&k.addr, a);
	k.family = family;
	v = bpf_map_lookup_elem(&xlb_vip_addrs, &k);
	return v && (*v >> XLB_ADDR_L7_SHIFT);
}

/* Is [off, off + len) inside the datagram? (Inside the frame too: the
 * datagram was checked against data_end when it was parsed.) */
static __always_inline int xlb_in_datagram(const struct xlb_pkt *p, __u32 off, __u32 len)
{
	return off + len <= p->l3_end;
}

/* Checks the L4 header for TCP/UDP against the datagram and fills the
 * ports of the flow key. TCP: the data offset covers at least the fixed
 * header and at most the segment. UDP: the length field is the datagram's
 * payload, exactly. */
static __always_inline int xlb_parse_l4(struct xlb_pkt *p)
{
	void *l4 = p->data + p->l4_off;
	__u32 seg = p->l3_end - p->l4_off;

	if (p->key.proto == IPPROTO_TCP) {
		struct tcphdr *th = l4;

		if ((void *)(th + 1) > p->data_end || seg < sizeof(*th) || th->doff < 5 ||
		    th->doff * 4u > seg)
			return XLB_ERR(XLB_R_DROP_MALFORMED);
		p->key.sport = th->source;
		p->key.dport = th->dest;
		p->syn = th->syn && !th->ack;
	} else {
		struct udphdr *uh = l4;

		if ((void *)(uh + 1) > p->data_end || seg < sizeof(*uh) || bpf_ntohs(uh->len) != seg)
			return XLB_ERR(XLB_R_DROP_MALFORMED);
		p->key.sport = uh->source;
		p->key.dport = uh->dest;
	}
	return 0;
}

/* Returns 0 for TCP/UDP (key filled), IPPROTO_ICMP/IPPROTO_ICMPV6 for ICMP
 * (addresses filled), or a negative reason. */
static __always_inline int xlb_parse_ipv4(struct xlb_pkt *p)
{
	struct iphdr *iph = p->data + p->l3_off;
	__u32 hlen, tot;

	if ((void *)(iph + 1) > p->data_end)
		return XLB_ERR(XLB_R_DROP_MALFORMED);
	if (iph->version != 4 || iph->ihl < 5)
		return XLB_ERR(XLB_R_DROP_MALFORMED);
	hlen = iph->ihl * 4;
	tot = bpf_ntohs(iph->tot_len);
	if (tot < hlen || p->data + p->l3_off + tot > p->data_end)
		return XLB_ERR(XLB_R_DROP_MALFORMED);
	p->l3_end = p->l3_off + tot;

	p->key.family = XLB_AF_INET;
	p->key.src.addr[0] = iph->saddr;
	p->key.dst.addr[0] = iph->daddr;
	p->key.proto = iph->protocol;
	p->l3_len = tot;
	p->tos = iph->tos;
	p->df = (iph->frag_off & IP_DF_BE) != 0;
	p->l4_off = p->l3_off + hlen;

	if (iph->frag_off & (IP_MF_BE | IP_OFFSET_BE))
		return xlb_unbalanceable(&p->key.dst, XLB_AF_INET, XLB_R_DROP_FRAGMENT);
	if (iph->protocol == IPPROTO_ICMP)
		return IPPROTO_ICMP;
	if (iph->protocol != IPPROTO_TCP && iph->protocol != IPPROTO_UDP)
		return XLB_ERR(XLB_R_PASS_NOT_VIP);
	return xlb_parse_l4(p);
}

static __always_inline int xlb_ipv6_is_ext(__u8 nh)
{
	switch (nh) {
	case IPPROTO_HOPOPTS:
	case IPPROTO_ROUTING:
	case IPPROTO_FRAGMENT:
	case IPPROTO_DSTOPTS:
	case IPPROTO_AH:
	case IPPROTO_MH:
	case 139: /* HIP */
	case 140: /* Shim6 */
		return 1;
	}
	return 0;
}

static __always_inline int xlb_parse_ipv6(struct xlb_pkt *p)
{
	struct ipv6hdr *ip6 = p->data + p->l3_off;
	__u32 plen;

	if ((void *)(ip6 + 1) > p->data_end || ip6->version != 6)
		return XLB_ERR(XLB_R_DROP_MALFORMED);
	plen = bpf_ntohs(ip6->payload_len);
	if ((void *)(ip6 + 1) + plen > p->data_end)
		return XLB_ERR(XLB_R_DROP_MALFORMED);

	p->l3_end = p->l3_off + sizeof(*ip6) + plen;
	p->key.family = XLB_AF_INET6;
	__builtin_memcpy(&p->key.src, &ip6->saddr, sizeof(p->key.src));
	__builtin_memcpy(&p->key.dst, &ip6->daddr, sizeof(p->key.dst));
	p->key.proto = ip6->nexthdr;
	p->l3_len = sizeof(*ip6) + plen;
	p->tos = (ip6->priority << 4) | (ip6->flow_lbl[0] >> 4);
	p->df = 1;
	p->l4_off = p->l3_off + sizeof(*ip6);

	if (xlb_ipv6_is_ext(ip6->nexthdr))
		return xlb_unbalanceable(&p->key.dst, XLB_AF_INET6,
					 ip6->nexthdr == IPPROTO_FRAGMENT ? XLB_R_DROP_FRAGMENT
									  : XLB_R_DROP_IPV6_EXT);
	if (ip6->nexthdr == IPPROTO_ICMPV6)
		return IPPROTO_ICMPV6;
	if (ip6->nexthdr != IPPROTO_TCP && ip6->nexthdr != IPPROTO_UDP)
		return XLB_ERR(XLB_R_PASS_NOT_VIP);
	return xlb_parse_l4(p);
}

#endif
