/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/* The flow table (abi.h): a flow is looked for in its three buckets, in
 * order, and recorded in a free slot of the emptiest, or over the slot seen
 * longest ago. No helper call, no lock: an IPv4 lookup reads one cache line
 * per bucket until it finds the flow; an insert writes one slot.
 *
 * CPUs do not lock a slot: one claims it by swapping its key for a busy
 * mark, writes the record, and swaps the new key in (xlb_flow_write*). A
 * lookup matches the old flow, no flow, or the new flow with its record
 * written; a lookup that matched the old key just before the claim may
 * read the new record for that one packet. Of two CPUs recording flows in
 * the same slot at once, one wins; the other's record is made again by its
 * flow's next sampled packet (lb.h). */
#ifndef XLB_BPF_FLOWS_H
#define XLB_BPF_FLOWS_H

#include "common.h"
#include "maps.h"

/* Load-time setting: buckets per family - 1 (a power of two - 1). */
const volatile __u32 xlb_flow_mask = XLB_DEFAULT_MAX_FLOWS / XLB_FLOW_WAYS - 1;

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

static __always_inline int xlb_flow6_addr_is(const struct xlb_flow6 *s, const struct xlb_probe *pr)
{
	return s->saddr.addr[0] == pr->saddr.addr[0] && s->saddr.addr[1] == pr->saddr.addr[1] &&
	       s->saddr.addr[2] == pr->saddr.addr[2] && s->saddr.addr[3] == pr->saddr.addr[3];
}

static __always_inline int xlb_flow6_is(const struct xlb_flow6 *s, const struct xlb_probe *pr)
{
	return s->port_vip == pr->port_vip && xlb_flow6_addr_is(s, pr);
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
 * the verifier can then merge the paths of the comparisons. *old is the key
 * the slot had when picked. One function per family, same rule. */
static __always_inline struct xlb_flow4 *xlb_pick4(const struct xlb_probe *pr, __u64 *old)
{
	__u32 oldest = 0xffffffffu, most = 0, bucket = 0, way = 0, old_bucket = 0, old_way = 0;
	__u64 old_key = 0;
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
			__u64 k = b->slot[i].key;

			if (!k) {
				n++;
				free_way = i;
			} else if (k != XLB_FLOW4_BUSY && b->slot[i].v.seen < oldest) {
				oldest = b->slot[i].v.seen;
				old_bucket = pr->idx[j];
				old_way = i;
				old_key = k;
			}
		}
		if (n > most) {
			most = n;
			bucket = pr->idx[j];
			way = free_way;
		}
	}
	if (!most) {
		if (!old_key)
			return NULL; /* every slot busy */
		bucket = old_bucket;
		way = old_way;
	}
	*old = most ? 0 : old_key;
	b = bpf_map_lookup_elem(&xlb_flows4, &bucket);
	return b ? &b->slot[way & (XLB_FLOW_WAYS - 1)] : NULL;
}

static __always_inline struct xlb_flow6 *xlb_pick6(const struct xlb_probe *pr, __u32 *old)
{
	__u32 oldest = 0xffffffffu, most = 0, bucket = 0, way = 0, old_bucket = 0, old_way = 0, old_key = 0;
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
			__u32 k = b->slot[i].port_vip;

			if (!k) {
				n++;
				free_way = i;
			} else if (k != XLB_FLOW6_BUSY && b->slot[i].v.seen < oldest) {
				oldest = b->slot[i].v.seen;
				old_bucket = pr->idx[j];
				old_way = i;
				old_key = k;
			}
		}
		if (n > most) {
			most = n;
			bucket = pr->idx[j];
			way = free_way;
		}
	}
	if (!most) {
		if (!old_key)
			return NULL;
		bucket = old_bucket;
		way = old_way;
	}
	*old = most ? 0 : old_key;
	b = bpf_map_lookup_elem(&xlb_flows6, &bucket);
	return b ? &b->slot[way & (XLB_FLOW_WAYS - 1)] : NULL;
}

/* Writes a flow's record into slot s, whose key was old: claimed by one
 * compare-and-swap (a CPU that loses the race leaves the slot to the
 * winner: its record is made again by the flow's next sampled packet),
 * published by an exchange that orders the record before the key. */
static __always_inline int xlb_flow_write4(struct xlb_flow4 *s, __u64 old, __u64 key,
					   const struct xlb_flow_val *val)
{
	if (__sync_val_compare_and_swap(&s->key, old, XLB_FLOW4_BUSY) != old)
		return 0;
	s->v = *val;
	(void)__sync_lock_test_and_set(&s->key, key);
	return 1;
}

static __always_inline int xlb_flow_write6(struct xlb_flow6 *s, __u32 old, const struct xlb_probe *pr,
					   const struct xlb_flow_val *val, int own)
{
	if (__sync_val_compare_and_swap(&s->port_vip, old, XLB_FLOW6_BUSY) != old)
		return 0;
	/* The port/VIP word alone does not name an IPv6 flow: rewriting its
	 * own record, make sure the slot is still this source's. */
	if (own && !xlb_flow6_addr_is(s, pr)) {
		(void)__sync_lock_test_and_set(&s->port_vip, old);
		return 0;
	}
	s->v = *val;
	xlb_addr_copy(&s->saddr, &pr->saddr);
	(void)__sync_lock_test_and_set(&s->port_vip, pr->port_vip);
	return 1;
}

/* Records a flow: over its own record when found (a stale one: same flow,
 * new backend), else where xlb_pick* says. Taking another flow's slot is
 * counted (XLB_EV_FLOW_EVICT): xlbd keeps tables from filling up (the
 * flows seen longest ago go first, table-wide), so that this stays rare. */
static __always_inline void xlb_flow_put(const struct xlb_probe *pr, struct xlb_flow_val *found,
					 const struct xlb_flow_val *val)
{
	if (!pr->v6) {
		struct xlb_flow4 *s;
		__u64 old = pr->key4;

		if (found)
			s = (void *)found - __builtin_offsetof(struct xlb_flow4, v);
		else
			s = xlb_pick4(pr, &old);
		if (s && xlb_flow_write4(s, old, pr->key4, val) && !found && old)
			xlb_event(XLB_EV_FLOW_EVICT);
		return;
	}

	struct xlb_flow6 *s;
	__u32 old = pr->port_vip;

	if (found)
		s = (void *)found - __builtin_offsetof(struct xlb_flow6, v);
	else
		s = xlb_pick6(pr, &old);
	if (s && xlb_flow_write6(s, old, pr, val, found != NULL) && !found && old)
		xlb_event(XLB_EV_FLOW_EVICT);
}

#endif
