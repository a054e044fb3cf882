/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
#ifndef XLB_BPF_CSUM_H
#define XLB_BPF_CSUM_H

#include "common.h"

/* Internet checksum of a 20-byte IPv4 header whose check field is zero. */
static __always_inline __u16 xlb_ipv4_csum(const struct iphdr *iph)
{
	const __u16 *w = (const __u16 *)iph;
	__u32 sum = 0;

#pragma unroll
	for (int i = 0; i < (int)(sizeof(*iph) / 2); i++)
		sum += w[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

#endif
