// SPDX-License-Identifier: GPL-2.0 OR Apache-2.0
/* xlb_xdp: L4 load balancing on the NIC fast path. The entry point has one
 * exit, which counts the packet under exactly one enum xlb_reason. */
#include "lib/common.h"
#include "lib/maps.h"
#include "lib/parse.h"
#include "lib/lb.h"
#include "lib/icmp.h"
#include "lib/fwd.h"

struct xlb_verdict {
	__u32 reason;
	__u32 ifindex; /* redirect target */
};

/* Returns a reason >= 0; ICMP errors and flows share everything after the
 * flow key is known. */
static __always_inline int xlb_process(struct xdp_md *ctx, struct xlb_verdict *v)
{
	struct xlb_pkt p = {
		.data = (void *)(long)ctx->data,
		.data_end = (void *)(long)ctx->data_end,
	};
	struct xlb_choice c = {};
	struct xlb_egress eg = {};
	struct xlb_vip *vip;
	__u32 out_len, bytes;
	__u64 now;
	int rc, icmp = 0;

	rc = xlb_parse_l2(&p);
	if (XLB_IS_ERR(rc))
		return XLB_REASON(rc);
	if (p.l3_proto == bpf_htons(ETH_P_IP))
		rc = xlb_parse_ipv4(&p);
	else
		rc = xlb_parse_ipv6(&p);
	if (XLB_IS_ERR(rc))
		return XLB_REASON(rc);
	if (rc == IPPROTO_ICMP || rc == IPPROTO_ICMPV6) {
		rc = rc == IPPROTO_ICMP ? xlb_parse_icmp4(&p) : xlb_parse_icmp6(&p);
		if (XLB_IS_ERR(rc))
			return XLB_REASON(rc);
		icmp = 1;
	}

	vip = xlb_vip_lookup(&p.key.dst, p.key.dport, p.key.proto, p.key.family);
	if (!vip)
		return XLB_R_PASS_NOT_VIP;
	if (vip->flags & XLB_VIP_F_L7)
		return XLB_R_PASS_L7;

	now = bpf_ktime_get_coarse_ns(); /* one clock read per VIP packet: flow sampling, next-hop lifetime */
	rc = xlb_choose(&p, vip, &c, !icmp, now);
	if (XLB_IS_ERR(rc))
		return XLB_REASON(rc);
	if (vip->forward == XLB_FWD_IPIP) {
		if (p.key.family == XLB_AF_INET6 && c.be->family == XLB_AF_INET)
			return XLB_R_DROP_BAD_FAMILY;
		out_len = p.l3_len + (c.be->family == XLB_AF_INET ? sizeof(struct iphdr)
								   : sizeof(struct ipv6hdr));
	} else {
		if (p.key.family != c.be->family)
			return XLB_R_DROP_BAD_FAMILY;
		out_len = p.l3_len;
	}
	rc = xlb_fib(ctx, c.be, c.backend_id, out_len, now, &eg);
	if (XLB_IS_ERR(rc)) {
		/* What the kernel is left to decide about goes to its stack; but
		 * where an HTTP VIP made the address local, that stack would
		 * answer the client with a reset as if the VIP were closed. */
		if ((XLB_REASON(rc) == XLB_R_PASS_FIB || XLB_REASON(rc) == XLB_R_PASS_FWD_DISABLED) &&
		    xlb_addr_is_l7(&p.key.dst, p.key.family))
			return XLB_R_DROP_UNFORWARDABLE_LOCAL;
		return XLB_REASON(rc);
	}
	if (vip->forward == XLB_FWD_IPIP) {
		rc = xlb_encap(ctx, &p, c.be, xlb_choice_hash(&c, &p.key));
		if (XLB_IS_ERR(rc))
			return XLB_REASON(rc);
	}
	xlb_set_macs(ctx, &eg);

	bytes = ctx->data_end - ctx->data;
	xlb_count_lb(&xlb_vip_stats, vip->id, bytes, c.new_flow);
	xlb_count_lb(&xlb_be_stats, c.backend_id, bytes, c.new_flow);

	v->ifindex = eg.ifindex;
	if (eg.ifindex == ctx->ingress_ifindex)
		return icmp ? XLB_R_TX_ICMP : c.new_flow ? XLB_R_TX_FLOW_NEW : XLB_R_TX_FLOW_HIT;
	return icmp ? XLB_R_REDIR_ICMP : c.new_flow ? XLB_R_REDIR_FLOW_NEW : XLB_R_REDIR_FLOW_HIT;
}

SEC("xdp")
int xlb_xdp(struct xdp_md *ctx)
{
	__u32 len = ctx->data_end - ctx->data;
	struct xlb_verdict v = {};
	struct xlb_counter *cnt;
	__u32 reason;
	int action;

	reason = xlb_process(ctx, &v);
	if (reason >= XLB_R_MAX)
		reason = XLB_R_DROP_MALFORMED;

	switch (reason) {
	case XLB_R_PASS_NOT_IP:
	case XLB_R_PASS_NOT_VIP:
	case XLB_R_PASS_FIB:
	case XLB_R_PASS_L7:
	case XLB_R_PASS_FWD_DISABLED:
		action = XDP_PASS;
		break;
	case XLB_R_TX_FLOW_HIT:
	case XLB_R_TX_FLOW_NEW:
	case XLB_R_TX_ICMP:
		action = XDP_TX;
		break;
	case XLB_R_REDIR_FLOW_HIT:
	case XLB_R_REDIR_FLOW_NEW:
	case XLB_R_REDIR_ICMP:
		action = bpf_redirect_map(&xlb_tx_ports, v.ifindex, XDP_DROP);
		break;
	default:
		action = XDP_DROP;
	}

	cnt = bpf_map_lookup_elem(&xlb_reasons, &reason);
	if (cnt) {
		cnt->packets++;
		cnt->bytes += len;
	}
	return action;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
