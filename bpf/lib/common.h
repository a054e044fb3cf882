/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
#ifndef XLB_BPF_COMMON_H
#define XLB_BPF_COMMON_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "xlb/abi.h"
#include "xlb/hash.h"

#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif

#define ETH_P_8021Q_BE bpf_htons(0x8100)
#define ETH_P_8021AD_BE bpf_htons(0x88A8)
#define IP_MF_BE bpf_htons(0x2000)
#define IP_OFFSET_BE bpf_htons(0x1FFF)
#define IP_DF_BE bpf_htons(0x4000)

struct vlan_hdr {
	__be16 tci;
	__be16 encap_proto;
};

/* Helpers return >= 0 on success, or XLB_ERR(reason) < 0 to end the packet
 * under that reason (reason 0 included); XLB_REASON() decodes it. */
#define XLB_ERR(r) (-(int)(r) - 1)
#define XLB_IS_ERR(x) ((x) < 0)
#define XLB_REASON(x) ((__u32)(-(x) - 1))

static __always_inline void xlb_addr_copy(struct xlb_addr *d, const struct xlb_addr *s)
{
	d->addr[0] = s->addr[0];
	d->addr[1] = s->addr[1];
	d->addr[2] = s->addr[2];
	d->addr[3] = s->addr[3];
}

#endif
