/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/* VIP lookup, flow table and Maglev ring selection. */
#ifndef XLB_BPF_LB_H
#define XLB_BPF_LB_H

#include "common.h"
#include "maps.h"

/* Load-time settings (xlb_meta mirrors them for userspace). */
const volatile __u32 xlb_ring_size = XLB_DEFAULT_RING_SIZE;

static __always_inline struct xlb_vip *xlb_vip_lookup(const struct xlb_addr *addr, __be16 port,
						      __u8 proto, __u8 family)
{
	struct xlb_vip_key k = {};

	xlb_addr_copy(&k.addr, addr);
	k.port = port;
	k.proto = proto;
	k.family = family;
	return bpf_map_lookup_elem(&xlb_vips, &k);
}

struct xlb_choice {
	__u32 backend_id;
	struct xlb_backend *be;
	__u32 hash;
	__u8 new_flow;
	__u8 have_hash;
};

static __always_inline __u32 xlb_choice_hash(struct xlb_choice *c, const struct xlb_flow_key *k)
{
	if (!c->have_hash) {
		c->hash = xlb_hash_flow(k);
		c->have_hash = 1;
	}
	return c->hash;
}

/* The flow's backend while it is still configured and not down (weight 0
 * included);
 * otherwise the ring's pick, recorded in the flow table when record is set.
 * Returns 0 or -XLB_R_DROP_NO_BACKEND. */
static __always_inline int xlb_choose(const struct xlb_flow_key *key, const struct xlb_vip *vip,
				      struct xlb_choice *c, int record)
{
	struct xlb_flow *flow = bpf_map_lookup_elem(&xlb_flows, key);
	struct xlb_backend *be;
	__u32 idx, *slot;

	if (flow) {
		__u32 id = flow->backend_id;

		be = bpf_map_lookup_elem(&xlb_backends, &id);
		if (be && (be->flags & (XLB_BE_IN_USE | XLB_BE_DOWN)) == XLB_BE_IN_USE &&
		    be->gen == flow->gen &&
		    be->vip_id == vip->id) {
			c->backend_id = id;
			c->be = be;
			c->new_flow = 0;
			return 0;
		}
	}

	idx = (vip->id * 2 + (vip->ring_sel & 1)) * xlb_ring_size +
	      xlb_choice_hash(c, key) % xlb_ring_size;
	slot = bpf_map_lookup_elem(&xlb_rings, &idx);
	if (!slot || *slot == XLB_BACKEND_NONE)
		return XLB_ERR(XLB_R_DROP_NO_BACKEND);
	idx = *slot;
	be = bpf_map_lookup_elem(&xlb_backends, &idx);
	if (!be || !(be->flags & XLB_BE_IN_USE))
		return XLB_ERR(XLB_R_DROP_NO_BACKEND);

	c->backend_id = idx;
	c->be = be;
	c->new_flow = 1;
	if (record) {
		struct xlb_flow nf = {
			.backend_id = idx,
			.gen = be->gen,
			.created = (__u32)(bpf_ktime_get_coarse_ns() / 1000000000ull),
		};

		bpf_map_update_elem(&xlb_flows, key, &nf, BPF_ANY);
	}
	return 0;
}

static __always_inline void xlb_count_lb(void *map, __u32 id, __u32 bytes, __u8 new_flow)
{
	struct xlb_lb_stats *s = bpf_map_lookup_elem(map, &id);

	if (s) {
		s->packets++;
		s->bytes += bytes;
		s->new_flows += new_flow;
	}
}

#endif
