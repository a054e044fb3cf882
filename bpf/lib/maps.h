/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/* Maps of xlb_xdp. Capacities are placeholders: the loader sets them from
 * xlb_meta before load (bpf_map__set_max_entries), and pins every map. */
#ifndef XLB_BPF_MAPS_H
#define XLB_BPF_MAPS_H

#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XLB_DEFAULT_MAX_VIPS);
	__type(key, struct xlb_vip_key);
	__type(value, struct xlb_vip);
} xlb_vips SEC(".maps");

/* The data plane's VIP lookup (abi.h); sized by the loader. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XLB_DEFAULT_MAX_VIPS * 4);
	__type(key, __u32);
	__type(value, struct xlb_vip_slot);
} xlb_vip_table SEC(".maps");

/* VIP addresses (any port), to recognise fragments and extension headers
 * addressed to a VIP; the value counts the VIPs on the address. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XLB_DEFAULT_MAX_VIPS);
	__type(key, struct xlb_addr_key);
	__type(value, __u32);
} xlb_vip_addrs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XLB_DEFAULT_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct xlb_backend);
} xlb_backends SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XLB_DEFAULT_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct xlb_nexthops);
} xlb_nexthops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XLB_EV_MAX);
	__type(key, __u32);
	__type(value, __u64);
} xlb_events SEC(".maps");

static __always_inline void xlb_event(__u32 ev)
{
	__u64 *n = bpf_map_lookup_elem(&xlb_events, &ev);

	if (n)
		(*n)++;
}

/* Two rings per VIP, in chunks of one cache line (abi.h): element
 * (vip_id * 2 + sel) * xlb_ring_nchunks + slot / XLB_RING_CHUNK. Memory-mapped
 * by userspace, which rewrites a spare half in place. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, XLB_DEFAULT_MAX_VIPS * 2 * ((XLB_DEFAULT_RING_SIZE + XLB_RING_CHUNK - 1) / XLB_RING_CHUNK));
	__type(key, __u32);
	__type(value, struct xlb_ring_chunk);
} xlb_rings SEC(".maps");

/* The flow table (abi.h): buckets of slots, one array per family. Memory-
 * mapped (which also puts every bucket on a cache-line boundary): userspace
 * lists, expires and flushes flows in place. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, XLB_DEFAULT_MAX_FLOWS / XLB_FLOW_WAYS);
	__type(key, __u32);
	__type(value, struct xlb_bucket4);
} xlb_flows4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, XLB_DEFAULT_MAX_FLOWS / XLB_FLOW_WAYS);
	__type(key, __u32);
	__type(value, struct xlb_bucket6);
} xlb_flows6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XLB_R_MAX);
	__type(key, __u32);
	__type(value, struct xlb_counter);
} xlb_reasons SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XLB_DEFAULT_MAX_VIPS);
	__type(key, __u32);
	__type(value, struct xlb_lb_stats);
} xlb_vip_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XLB_DEFAULT_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct xlb_lb_stats);
} xlb_be_stats SEC(".maps");

/* Interfaces xlb may redirect to, keyed by ifindex. */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} xlb_tx_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xlb_meta);
} xlb_meta SEC(".maps");

#endif
