// SPDX-License-Identifier: GPL-2.0 OR Apache-2.0
/* XDP_PASS and nothing else: enables veth NAPI on the peer of an XDP_TX
 * interface in the lab, and is the harness floor in benchmarks. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xlb_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
