/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/* ICMP "fragmentation needed" / ICMPv6 "packet too big" about a VIP flow.
 * The quoted packet is one the backend sent (VIP -> client, DSR), so the
 * flow key is the quoted tuple reversed; the error goes to that flow's
 * backend so path MTU discovery works through DSR. */
#ifndef XLB_BPF_ICMP_H
#define XLB_BPF_ICMP_H

#include "parse.h"

#define XLB_ICMP_DEST_UNREACH 3
#define XLB_ICMP_FRAG_NEEDED 4
#define XLB_ICMPV6_PKT_TOOBIG 2

/* ICMP and ICMPv6 share this 8-byte header layout. */
struct xlb_icmphdr {
	__u8 type;
	__u8 code;
	__be16 check;
	__be32 rest;
};

/* Ports of a quoted TCP/UDP header: only the first 4 bytes are needed. */
struct xlb_ports {
	__be16 src;
	__be16 dst;
};

/* Rewrites p->key into the client -> VIP tuple of the quoted packet.
 * Everything read is bounded by the ICMP datagram's length: the ICMP
 * header, the quoted IP header (version 4, IHL >= 5, not a later fragment,
 * so the ports that follow are its own) and the 4 bytes of ports. The
 * error must be addressed to the quoted packet's source, the VIP.
 * Returns 0, or a negative reason (not about a VIP: pass). */
static __always_inline int xlb_parse_icmp4(struct xlb_pkt *p)
{
	struct xlb_icmphdr *ic = p->data + p->l4_off;
	__u32 in_off = p->l4_off + sizeof(*ic), ports_off;
	struct iphdr *in;
	struct xlb_ports *pt;

	if ((void *)(ic + 1) > p->data_end || !xlb_in_datagram(p, p->l4_off, sizeof(*ic)))
		return XLB_ERR(XLB_R_DROP_MALFORMED);
	if (ic->type != XLB_ICMP_DEST_UNREACH || ic->code != XLB_ICMP_FRAG_NEEDED)
		return XLB_ERR(XLB_R_PASS_NOT_VIP);
	in = (void *)(ic + 1);
	if ((void *)(in + 1) > p->data_end || !xlb_in_datagram(p, in_off, sizeof(*in)))
		return XLB_ERR(XLB_R_DROP_MALFORMED);
	if (in->version != 4 || in->ihl < 5)
		return XLB_ERR(XLB_R_DROP_MALFORMED);
	if (in->protocol != IPPROTO_TCP && in->protocol != IPPROTO_UDP)
		return XLB_ERR(XLB_R_PASS_NOT_VIP);
	if (in->frag_off & IP_OFFSET_BE)
		return XLB_ERR(XLB_R_DROP_MALFORMED); /* a later fragment quotes no ports */
	ports_off = in_off + in->ihl * 4;
	pt = p->data + ports_off;
	if ((void *)(pt + 1) > p->data_end || !xlb_in_datagram(p, ports_off, sizeof(*pt)))
		return XLB_ERR(XLB_R_DROP_MALFORMED);
	if (in->saddr != p->key.dst.addr[0])
		return XLB_ERR(XLB_R_PASS_NOT_VIP);

	p->key.src.addr[0] = in->daddr;
	p->key.dst.addr[0] = in->saddr;
	p->key.sport = pt->dst;
	p->key.dport = pt->src;
	p->key.proto = in->protocol;
	return 0;
}

static __always_inline int xlb_ipv6_addr_eq(const struct in6_addr *a, const struct xlb_addr *b)
{
	return a->in6_u.u6_addr32[0] == b->addr[0] && a->in6_u.u6_addr32[1] == b->addr[1] &&
	       a->in6_u.u6_addr32[2] == b->addr[2] && a->in6_u.u6_addr32[3] == b->addr[3];
}

static __always_inline int xlb_parse_icmp6(struct xlb_pkt *p)
{
	struct xlb_icmphdr *ic = p->data + p->l4_off;
	__u32 in_off = p->l4_off + sizeof(*ic);
	struct ipv6hdr *in;
	struct xlb_ports *pt;

	if ((void *)(ic + 1) > p->data_end || !xlb_in_datagram(p, p->l4_off, sizeof(*ic)))
		return XLB_ERR(XLB_R_DROP_MALFORMED);
	if (ic->type != XLB_ICMPV6_PKT_TOOBIG)
		return XLB_ERR(XLB_R_PASS_NOT_VIP);
	in = (void *)(ic + 1);
	if ((void *)(in + 1) > p->data_end || !xlb_in_datagram(p, in_off, sizeof(*in)))
		return XLB_ERR(XLB_R_DROP_MALFORMED);
	if (in->version != 6)
		return XLB_ERR(XLB_R_DROP_MALFORMED);
	if (in->nexthdr != IPPROTO_TCP && in->nexthdr != IPPROTO_UDP)
		return XLB_ERR(XLB_R_PASS_NOT_VIP);
	pt = (void *)(in + 1);
	if ((void *)(pt + 1) > p->data_end ||
	    !xlb_in_datagram(p, in_off + sizeof(*in), sizeof(*pt)))
		return XLB_ERR(XLB_R_DROP_MALFORMED);
	if (!xlb_ipv6_addr_eq(&in->saddr, &p->key.dst))
		return XLB_ERR(XLB_R_PASS_NOT_VIP);

	__builtin_memcpy(&p->key.src, &in->daddr, sizeof(p->key.src));
	__builtin_memcpy(&p->key.dst, &in->saddr, sizeof(p->key.dst));
	p->key.sport = pt->dst;
	p->key.dport = pt->src;
	p->key.proto = in->nexthdr;
	return 0;
}

#endif
