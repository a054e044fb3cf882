/* SPDX-License-Identifier: Apache-2.0 */
/* The flow hash, shared by the data plane and by `xlbctl explain`: both must
 * pick the same ring slot for the same 5-tuple, on every machine. It is the
 * MurmurHash3 (x86, 32-bit) block and finalizer over the flow key's words,
 * with a fixed seed, so several xlb nodes behind ECMP agree. */
#ifndef XLB_HASH_H
#define XLB_HASH_H

#include "abi.h"

#ifdef __cplusplus
#define XLB_HASH_INLINE static inline
#else
#define XLB_HASH_INLINE static __always_inline
#endif

#define XLB_HASH_SEED 0x9e3779b9u

XLB_HASH_INLINE __u32 xlb_rotl32(__u32 x, int r)
{
	return (x << r) | (x >> (32 - r));
}

XLB_HASH_INLINE __u32 xlb_hash_mix(__u32 h, __u32 k)
{
	k *= 0xcc9e2d51u;
	k = xlb_rotl32(k, 15);
	k *= 0x1b873593u;
	h ^= k;
	h = xlb_rotl32(h, 13);
	return h * 5u + 0xe6546b64u;
}

XLB_HASH_INLINE __u32 xlb_hash_final(__u32 h, __u32 len)
{
	h ^= len;
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

/* Address words are read as stored (network byte order) into host
 * integers: nodes that must agree have to share an endianness (all
 * little-endian today). Ports and protocol are folded into words explicitly. */
XLB_HASH_INLINE __u32 xlb_hash_flow(const struct xlb_flow_key *k)
{
	__u32 h = XLB_HASH_SEED;

	if (k->family == XLB_AF_INET) {
		/* IPv4: the other address words are zero; four rounds, not ten
		 * (this runs for every packet). */
		h = xlb_hash_mix(h, k->src.addr[0]);
		h = xlb_hash_mix(h, k->dst.addr[0]);
		h = xlb_hash_mix(h, ((__u32)k->sport << 16) | k->dport);
		h = xlb_hash_mix(h, ((__u32)k->proto << 8) | k->family);
		return xlb_hash_final(h, 16);
	}
	h = xlb_hash_mix(h, k->src.addr[0]);
	h = xlb_hash_mix(h, k->src.addr[1]);
	h = xlb_hash_mix(h, k->src.addr[2]);
	h = xlb_hash_mix(h, k->src.addr[3]);
	h = xlb_hash_mix(h, k->dst.addr[0]);
	h = xlb_hash_mix(h, k->dst.addr[1]);
	h = xlb_hash_mix(h, k->dst.addr[2]);
	h = xlb_hash_mix(h, k->dst.addr[3]);
	h = xlb_hash_mix(h, ((__u32)k->sport << 16) | k->dport);
	h = xlb_hash_mix(h, ((__u32)k->proto << 8) | k->family);
	return xlb_hash_final(h, 40);
}

/* The first xlb_vip_table slot of a VIP key (mask: slots - 1): each word
 * mixed in, so that no two fields cancel (an IPv4 address needs one word). */
XLB_HASH_INLINE __u32 xlb_vip_hash(const struct xlb_addr *a, __be16 port, __u8 proto, __u8 family, __u32 mask)
{
	__u32 h = XLB_HASH_SEED;

	h = xlb_hash_mix(h, a->addr[0]);
	if (family != XLB_AF_INET) {
		h = xlb_hash_mix(h, a->addr[1]);
		h = xlb_hash_mix(h, a->addr[2]);
		h = xlb_hash_mix(h, a->addr[3]);
	}
	h = xlb_hash_mix(h, (__u32)port << 16 | (__u32)proto << 8 | family);
	return xlb_hash_final(h, 20) & mask;
}

/* The flow table's buckets for a flow hash (mask: buckets - 1), choice 0
 * to XLB_FLOW_CHOICES - 1. The first is the hash's low bits; the others
 * remixes of it, so that flows crowding one bucket spread over different
 * other ones. */
XLB_HASH_INLINE __u32 xlb_flow_bucket(__u32 hash, int choice, __u32 mask)
{
	if (choice == 0)
		return hash & mask;
	return xlb_hash_final(hash ^ (XLB_HASH_SEED * (__u32)choice), 4) & mask;
}

/* Slot keys (abi.h): never 0, which marks an empty slot. Addresses and
 * ports as stored (network byte order). */
XLB_HASH_INLINE __u64 xlb_flow4_key(__be32 saddr, __be16 sport, __u32 vip_id)
{
	return (__u64)saddr | (__u64)sport << 32 | (__u64)((vip_id + 1) & 0xffff) << 48;
}

XLB_HASH_INLINE __u32 xlb_flow6_port_vip(__be16 sport, __u32 vip_id)
{
	return (__u32)sport << 16 | ((vip_id + 1) & 0xffff);
}

/* Ring chunks (abi.h): how many a ring half of ring_size slots takes, and
 * which one holds a slot. slot / XLB_RING_CHUNK by a multiply and a shift
 * (a division costs tens of cycles on every packet): exact for every
 * 32-bit slot, since 0x88888889 = ceil(2^36 / 30). */
XLB_HASH_INLINE __u32 xlb_ring_chunks(__u32 ring_size)
{
	return (ring_size + XLB_RING_CHUNK - 1) / XLB_RING_CHUNK;
}

XLB_HASH_INLINE __u32 xlb_ring_chunk_of(__u32 slot)
{
	return (__u32)(((__u64)slot * 0x88888889ull) >> 36);
}

#endif /* XLB_HASH_H */
