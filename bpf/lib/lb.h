/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/* VIP lookup, flow table and Maglev ring selection. */
#ifndef XLB_BPF_LB_H
#define XLB_BPF_LB_H

#include "common.h"
#include "maps.h"
#include "flows.h"

#define XLB_SAMPLE 16u

/* Load-time settings (xlb_meta mirrors them for userspace). */
const volatile __u32 xlb_ring_size = XLB_DEFAULT_RING_SIZE;
const volatile __u32 xlb_ring_nchunks = (XLB_DEFAULT_RING_SIZE + XLB_RING_CHUNK - 1) / XLB_RING_CHUNK;
const volatile __u32 xlb_vip_mask = XLB_DEFAULT_MAX_VIPS * 4 - 1; /* xlb_vip_table slots - 1 */

/* The VIP of (address, port, protocol), through xlb_vip_table: an array
 * probe or a few, not a hash map's lookup (its hash, its bucket walk and
 * its function calls were about half of a flow hit's cost). */
static __always_inline struct xlb_vip *xlb_vip_lookup(const struct xlb_addr *addr, __be16 port,
						      __u8 proto, __u8 family)
{
	__u32 h = xlb_vip_hash(addr, port, proto, family, xlb_vip_mask);
	int n;

#pragma unroll
	for (n = 0; n < XLB_VIP_PROBES; n++) {
		__u32 i = (h + n) & xlb_vip_mask;
		struct xlb_vip_slot *s = bpf_map_lookup_elem(&xlb_vip_table, &i);

		if (!s || !s->key.family)
			return NULL;
		if (s->key.family == family && s->key.port == port && s->key.proto == proto &&
		    s->key.addr.addr[0] == addr->addr[0] && s->key.addr.addr[1] == addr->addr[1] &&
		    s->key.addr.addr[2] == addr->addr[2] && s->key.addr.addr[3] == addr->addr[3])
			return &s->vip;
	}
	return NULL;
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

/* Is this recorded flow's backend still the one it was given, configured
 * and not down (draining included)? */
static __always_inline struct xlb_backend *xlb_flow_backend(const struct xlb_flow_val *flow,
							    const struct xlb_vip *vip)
{
	__u32 id = flow->backend_id;
	struct xlb_backend *be = bpf_map_lookup_elem(&xlb_backends, &id);

	if (be && (be->flags & (XLB_BE_IN_USE | XLB_BE_DOWN)) == XLB_BE_IN_USE && (__u16)be->gen == flow->gen &&
	    be->vip_id == vip->id)
		return be;
	return NULL;
}

static __always_inline __u32 xlb_seconds(__u64 now)
{
	return (__u32)(now / 1000000000ull);
}

/* A recorded flow goes on to its backend; a packet that finds it keeps it
 * recent (one store a second at most). */
static __always_inline int xlb_keep(struct xlb_flow_val *flow, struct xlb_backend *be, struct xlb_choice *c,
				    __u64 now)
{
	__u32 sec = xlb_seconds(now);

	if (flow->seen != sec)
		flow->seen = sec;
	c->backend_id = flow->backend_id;
	c->be = be;
	c->new_flow = 0;
	return 0;
}

/* The ring's pick for a new flow, recorded in the flow table when record
 * is set. A flow already there (a retransmitted SYN, another CPU first)
 * keeps its backend and counts as a hit; a stale one is replaced. pr is the
 * flow's probe when xlb_choose already looked (found: what it found), else
 * NULL. */
static __always_inline int xlb_assign(const struct xlb_flow_key *key, const struct xlb_vip *vip, __u32 id,
				      struct xlb_choice *c, int record, __u64 now, struct xlb_probe *pr,
				      struct xlb_flow_val *found)
{
	struct xlb_backend *be = bpf_map_lookup_elem(&xlb_backends, &id);
	struct xlb_probe mine;

	if (!be || !(be->flags & XLB_BE_IN_USE))
		return XLB_ERR(XLB_R_DROP_NO_BACKEND);
	c->backend_id = id;
	c->be = be;
	c->new_flow = 1;
	if (!record)
		return 0;
	if (!pr) {
		struct xlb_backend *fb;

		xlb_probe_init(&mine, key, vip->id, xlb_choice_hash(c, key));
		pr = &mine;
		found = xlb_flow_find(pr);
		if (found && (fb = xlb_flow_backend(found, vip)))
			return xlb_keep(found, fb, c, now);
	}

	struct xlb_flow_val nf = {
		.backend_id = (__u16)id,
		.gen = (__u16)be->gen,
		.seen = xlb_seconds(now),
	};

	xlb_flow_put(pr, found, &nf);
	return 0;
}

/* The backend of a packet. The ring slot first (one hash, one cache line
 * of 30 slots): where it has not moved since its flows began, a TCP packet
 * that is not a SYN goes where the ring says, which is where the table
 * would send it; a SYN is recorded there for later ring changes. Where it
 * moved (and for UDP), the flow's recorded backend while it is still
 * configured and not down (draining included), else the ring's pick,
 * recorded. Returns 0 or -XLB_R_DROP_NO_BACKEND. */
static __always_inline int xlb_choose(const struct xlb_pkt *p, const struct xlb_vip *vip,
				      struct xlb_choice *c, int record, __u64 now)
{
	const struct xlb_flow_key *key = &p->key;
	struct xlb_flow_val *flow;
	struct xlb_ring_chunk *ch;
	struct xlb_backend *be;
	struct xlb_probe pr;
	__u32 idx, slot, lane, id, moved;

	slot = xlb_choice_hash(c, key) % xlb_ring_size;
	idx = xlb_ring_chunk_of(slot);
	lane = slot - idx * XLB_RING_CHUNK;
	idx += (vip->id * 2 + (vip->ring_sel & 1)) * xlb_ring_nchunks;
	ch = bpf_map_lookup_elem(&xlb_rings, &idx);
	if (!ch || lane >= XLB_RING_CHUNK)
		return XLB_ERR(XLB_R_DROP_NO_BACKEND);
	id = ch->id[lane];
	moved = ch->moved & (1u << lane);
	if (id == XLB_BACKEND_NONE && !moved)
		return XLB_ERR(XLB_R_DROP_NO_BACKEND);

	/* A flow's packets take the long way even here during one time window
	 * in XLB_SAMPLE (windows of 2^22 ns, about 4 ms, picked by the flow
	 * hash: at least once every 67 ms for a flow that keeps sending). The
	 * lookup keeps a long-lived flow's record recent, so that it is not
	 * the one evicted, and records a flow whose SYN xlb never saw (or
	 * whose record a flush removed), so a later ring change cannot move
	 * it. (The clock is read anyway, for the next hop's lifetime: no
	 * helper call of its own.) */
	if (!moved && key->proto == IPPROTO_TCP &&
	    (p->syn || (((__u32)(now >> 22) ^ c->hash) & (XLB_SAMPLE - 1)))) {
		if (p->syn)
			return xlb_assign(key, vip, id, c, record, now, NULL, NULL);
		be = bpf_map_lookup_elem(&xlb_backends, &id);
		if (!be || !(be->flags & XLB_BE_IN_USE))
			return XLB_ERR(XLB_R_DROP_NO_BACKEND);
		c->backend_id = id;
		c->be = be;
		c->new_flow = 0;
		return 0;
	}

	xlb_probe_init(&pr, key, vip->id, c->hash);
	flow = xlb_flow_find(&pr);
	if (flow) {
		be = xlb_flow_backend(flow, vip);
		if (be)
			return xlb_keep(flow, be, c, now);
		/* Stale (its backend gone or down): replaced by xlb_assign. */
	}
	return xlb_assign(key, vip, id, c, record, now, &pr, flow);
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
