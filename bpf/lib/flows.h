/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/* The flow table (abi.h): a flow is looked for in its three buckets, in
 * order, and recorded in a free slot of the emptiest, or over the slot seen
 * longest ago. No helper call, no lock: an IPv4 lookup reads one cache line
 * per bucket until it finds the flow; an insert writes one slot.
 *
 * CPUs do not lock a slot. A slot is written key-cleared first, then its
 * record, then its key (ordered stores): a reader on another CPU sees the
 * old flow, no flow, or the new flow whole, never one's key with another's
 * record. Two CPUs recording flows in the same bucket at once may pick the
 * same slot; one record is lost, and made again by its flow's next
 * sampled packet (lb.h). */
#ifndef XLB_BPF_FLOWS_H
#define XLB_BPF_FLOWS_H

#include "common.h"
#include "maps.h"

/* Load-time setting: buckets per family - 1 (a power of two - 1). */
const volatile __u32 xlb_flow_mask = XLB_DEFAULT_MAX_FLOWS / XLB_FLOW_WAYS - 1;

#define xlb_barrier() asm volatile("" ::: "memory")

/* Where a flow is or would be: its buckets (indexes: an array lookup is a
 * bounds check and an add once the verifier inlines it) and its slot key. */
struct xlb_probe {
	__u32 idx[XLB_FLOW_CHOICES];
	__u32 port_vip;
	__u64 key4;
	struct xlb_addr saddr;
	__u8 v6;
};

static __always_inline void xlb_probe_init(struct xlb_probe *pr, const struct xlb_flow_key *k, __u32 vip_id,
					   __u32 hash)
{
	int j;

#pragma unroll
	for (j = 0; j < XLB_FLOW_CHOICES; j++)
		pr->idx[j] = xlb_flow_bucket(hash, j, xlb_flow_mask);
	pr->v6 = k->family == XLB_AF_INET6;
	if (!pr->v6) {
		pr->key4 = xlb_flow4_key(k->src.addr[0], k->sport, vip_id);
	} else {
		xlb_addr_copy(&pr->saddr, &k->src);
		pr->port_vip = xlb_flow6_port_vip(k->sport, vip_id);
	}
}

static __always_inline int xlb_flow6_is(const struct xlb_flow6 *s, const struct xlb_probe *pr)
{
	return s->port_vip == pr->port_vip && s->saddr.addr[0] == pr->saddr.addr[0] &&
	       s->saddr.addr[1] == pr->saddr.addr[1] && s->saddr.addr[2] == pr->saddr.addr[2] &&
	       s->saddr.addr[3] == pr->saddr.addr[3];
}

/* The flow's record, or NULL. */
static __always_inline struct xlb_flow_val *xlb_flow_find(const struct xlb_probe *pr)
{
	int i, j;

#pragma unroll
	for (j = 0; j < XLB_FLOW_CHOICES; j++) {
		if (!pr->v6) {
			struct xlb_bucket4 *b = bpf_map_lookup_elem(&xlb_flows4, &pr->idx[j]);

			if (!b)
				return NULL;
#pragma unroll
			for (i = 0; i < XLB_FLOW_WAYS; i++)
				if (b->slot[i].key == pr->key4)
					return &b->slot[i].v;
		} else {
			struct xlb_bucket6 *b = bpf_map_lookup_elem(&xlb_flows6, &pr->idx[j]);

			if (!b)
				return NULL;
#pragma unroll
			for (i = 0; i < XLB_FLOW_WAYS; i++)
				if (xlb_flow6_is(&b->slot[i], pr))
					return &b->slot[i].v;
		}
	}
	return NULL;
}

/* Where a flow that is in none of its buckets is recorded: a free slot of
 * the bucket with the most free slots (the first such), else the slot of
 * the twelve seen longest ago. Three choices keep buckets evenly filled:
 * filling a table to half its capacity, no flow finds all three full.
 * The pick is kept as bucket and way numbers, not pointers, until the end:
 * the verifier can then merge the paths of the comparisons. One function
 * per family, same rule. */
static __always_inline struct xlb_flow4 *xlb_pick4(const struct xlb_probe *pr)
{
	__u32 oldest = 0xffffffffu, most = 0, bucket = 0, way = 0, old_bucket = 0, old_way = 0;
	struct xlb_bucket4 *b;
	int i, j;

#pragma unroll
	for (j = 0; j < XLB_FLOW_CHOICES; j++) {
		__u32 n = 0, free_way = 0;

		b = bpf_map_lookup_elem(&xlb_flows4, &pr->idx[j]);
		if (!b)
			return NULL;
#pragma unroll
		for (i = 0; i < XLB_FLOW_WAYS; i++) {
			if (!b->slot[i].key) {
				n++;
				free_way = i;
			} else if (b->slot[i].v.seen < oldest) {
				oldest = b->slot[i].v.seen;
				old_bucket = pr->idx[j];
				old_way = i;
			}
		}
		if (n > most) {
			most = n;
			bucket = pr->idx[j];
			way = free_way;
		}
	}
	if (!most) {
		bucket = old_bucket;
		way = old_way;
	}
	b = bpf_map_lookup_elem(&xlb_flows4, &bucket);
	return b ? &b->slot[way & (XLB_FLOW_WAYS - 1)] : NULL;
}

static __always_inline struct xlb_flow6 *xlb_pick6(const struct xlb_probe *pr)
{
	__u32 oldest = 0xffffffffu, most = 0, bucket = 0, way = 0, old_bucket = 0, old_way = 0;
	struct xlb_bucket6 *b;
	int i, j;

#pragma unroll
	for (j = 0; j < XLB_FLOW_CHOICES; j++) {
		__u32 n = 0, free_way = 0;

		b = bpf_map_lookup_elem(&xlb_flows6, &pr->idx[j]);
		if (!b)
			return NULL;
#pragma unroll
		for (i = 0; i < XLB_FLOW_WAYS; i++) {
			if (!b->slot[i].port_vip) {
				n++;
				free_way = i;
			} else if (b->slot[i].v.seen < oldest) {
				oldest = b->slot[i].v.seen;
				old_bucket = pr->idx[j];
				old_way = i;
			}
		}
		if (n > most) {
			most = n;
			bucket = pr->idx[j];
			way = free_way;
		}
	}
	if (!most) {
		bucket = old_bucket;
		way = old_way;
	}
	b = bpf_map_lookup_elem(&xlb_flows6, &bucket);
	return b ? &b->slot[way & (XLB_FLOW_WAYS - 1)] : NULL;
}

static __always_inline void xlb_flow_put(const struct xlb_probe *pr, const struct xlb_flow_val *val)
{
	if (!pr->v6) {
		struct xlb_flow4 *s = xlb_pick4(pr);

		if (!s)
			return;
		s->key = 0;
		xlb_barrier();
		s->v = *val;
		xlb_barrier();
		s->key = pr->key4;
		return;
	}

	struct xlb_flow6 *s = xlb_pick6(pr);

	if (!s)
		return;
	s->port_vip = 0;
	xlb_barrier();
	s->v = *val;
	xlb_addr_copy(&s->saddr, &pr->saddr);
	xlb_barrier();
	s->port_vip = pr->port_vip;
}

#endif
