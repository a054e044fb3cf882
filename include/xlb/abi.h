/* SPDX-License-Identifier: Apache-2.0 */
/* The one ABI shared by the BPF programs (bpf/) and userspace (userspace/, tools/).
 * Fixed-width kernel types only, explicit padding, no bool: the C++ side
 * static_asserts every size and offset (userspace/bpf/abi_check.cpp). */
#ifndef XLB_ABI_H
#define XLB_ABI_H

#include <linux/types.h>

#define XLB_ABI_VERSION 9
#define XLB_META_MAGIC 0x786c6231u /* "xlb1" */

#define XLB_AF_INET 4
#define XLB_AF_INET6 6

/* Defaults for load-time capacities (xlbctl attach --ring-size ...). */
#define XLB_DEFAULT_RING_SIZE 65537u
#define XLB_DEFAULT_MAX_VIPS 32u
#define XLB_DEFAULT_MAX_BACKENDS 1024u
#define XLB_DEFAULT_MAX_FLOWS 262144u

/* Backend id 0 is "none": an all-zero ring means "no backend". */
#define XLB_BACKEND_NONE 0u

/* xlb_rings: a VIP's two Maglev rings (halves), each in chunks of one
 * cache line: XLB_RING_CHUNK backend ids of 16 bits (ids are < 65536) and a
 * bitmap of those slots whose backend changed since flows on them may have
 * started. Ring slot s of half h of VIP v is id[s % XLB_RING_CHUNK] of
 * element (v * 2 + h) * chunks + s / XLB_RING_CHUNK, chunks being
 * xlb_ring_chunks(ring_size) (hash.h). Only on a moved slot does a TCP
 * packet that is not a SYN consult the flow table (elsewhere the table could
 * only say what the ring says). Userspace sets the bit when a rebuilt ring
 * moves a slot, and clears it once no recorded flow on the slot points
 * elsewhere (to a backend still configured and not down). */
#define XLB_RING_CHUNK 30

struct xlb_ring_chunk {
	__u32 moved; /* bit i: id[i]'s slot moved */
	__u16 id[XLB_RING_CHUNK];
};

enum xlb_forward {
	XLB_FWD_L2DSR = 0, /* rewrite MACs, backend on the same L2 segment */
	XLB_FWD_IPIP = 1,  /* IPv4-in-IPv4, IPv6-in-IPv6 or IPv4-in-IPv6 */
};

/* An address of either family; IPv4 uses addr[0], the rest is zero. */
struct xlb_addr {
	__be32 addr[4];
};

/* xlb_vips key: (address, port, protocol). */
struct xlb_vip_key {
	struct xlb_addr addr;
	__be16 port;
	__u8 proto;  /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 family; /* XLB_AF_INET or XLB_AF_INET6 */
};

/* xlb_vips value. ring_sel names the live half of this VIP's two rings:
 * userspace writes the other half, then flips ring_sel in one update. */
struct xlb_vip {
	__u32 id;      /* index into xlb_rings / xlb_vip_stats, < max_vips */
	__u8 forward;  /* enum xlb_forward */
	__u8 ring_sel; /* 0 or 1 */
	__u8 pad[2];
	__u32 flags;   /* XLB_VIP_F_* */
};

/* xlb_vip_table: the data plane's index of xlb_vips (which stays userspace's
 * record), an array of slots a power of two long. A key lives in one of the
 * XLB_VIP_PROBES slots from xlb_vip_hash() (hash.h) on; a lookup stops at an
 * empty slot (key.family 0) and steps over a deleted one (key.family
 * XLB_VIP_DEAD). Userspace writes a new slot dead first, then live. */
#define XLB_VIP_PROBES 8
#define XLB_VIP_DEAD 0xff

struct xlb_vip_slot {
	struct xlb_vip_key key;
	struct xlb_vip vip;
};

/* An HTTP VIP: xlbd's proxy serves it; xlb_xdp passes its packets to the
 * stack (pass_l7) and never balances them. */
#define XLB_VIP_F_L7 1u

/* xlb_vip_addrs value: how many VIPs use the address, and (above bit 16)
 * how many of them are HTTP VIPs, whose fragments must reach the stack. */
#define XLB_ADDR_L7_SHIFT 16

/* xlb_vip_addrs key; also the key of xlb_dcp_vips (decap side). */
struct xlb_addr_key {
	struct xlb_addr addr;
	__u32 family;
};

#define XLB_BE_IN_USE 1u
/* Failed its health check (or disabled by the operator): not in the ring,
 * and flows recorded for it are re-balanced on their next packet. */
#define XLB_BE_DOWN 2u

/* xlb_backends value, indexed by backend id (1..max_backends-1).
 * One slot per (VIP, backend address). weight 0 = draining: not in the
 * ring, but flows already on it keep going. gen changes whenever a slot is
 * reused, so a flow entry can tell "my backend" from "a new one in my slot". */
struct xlb_backend {
	struct xlb_addr addr;
	__u32 vip_id;
	__u32 weight;
	__u32 gen;
	__u8 family;
	__u8 flags;  /* XLB_BE_* */
	__u8 nh_sel; /* which of xlb_nexthops[id].nh[] is live (0 or 1) */
	__u8 pad;
};

/* Where a backend's packets go, resolved by the control plane (route,
 * neighbour, egress link) instead of bpf_fib_lookup on every packet.
 * ifindex 0 or expired: the data plane asks bpf_fib_lookup (counted). */
struct xlb_nexthop {
	__u32 ifindex;
	__u32 mtu;
	__u8 dmac[6];
	__u8 smac[6];
	__u8 pad[4];
	/* CLOCK_MONOTONIC_COARSE ns after which the entry is not used (the
	 * kernel may know better by then): xlbd renews its entries, a bare
	 * xlbctl's last ten minutes. */
	__u64 expires_ns;
};

/* xlb_nexthops value, indexed like xlb_backends. Userspace writes the copy
 * that is not live, then flips xlb_backend.nh_sel (one byte): a packet
 * never sees half of an old next hop and half of a new one. */
struct xlb_nexthops {
	struct xlb_nexthop nh[2];
};

/* xlb_events (per-CPU counters): things that are not a packet's verdict. */
enum xlb_event {
	XLB_EV_NH_FALLBACK, /* no resolved next hop: bpf_fib_lookup asked */
	XLB_EV_FLOW_EVICT,  /* a new flow took the slot of a recorded one (all its buckets full) */
	XLB_EV_MAX,
};

/* A flow's 5-tuple as seen on the wire, client -> VIP: what the flow hash
 * and the ring slot are computed from. */
struct xlb_flow_key {
	struct xlb_addr src;
	struct xlb_addr dst;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 family;
	__u8 pad[2];
};

/* The flow table: two arrays of buckets, xlb_flows4 and xlb_flows6, each
 * a power of two long. A flow lives in one of the XLB_FLOW_CHOICES buckets
 * its flow hash picks (xlb_flow_bucket in hash.h), in one of XLB_FLOW_WAYS
 * slots. A slot
 * holds what tells flows of one VIP apart: source address and port, and the
 * VIP's id + 1 (0 marks an empty slot); the VIP gives destination, port
 * and protocol back. An IPv4 bucket is one 64-byte cache line. */
#define XLB_FLOW_WAYS 4
#define XLB_FLOW_CHOICES 3

/* What a slot records: the backend the flow was given. */
struct xlb_flow_val {
	__u16 backend_id;
	__u16 gen;  /* low 16 bits of xlb_backend.gen at assignment */
	__u32 seen; /* seconds of CLOCK_MONOTONIC_COARSE, when a packet last found it */
};

/* A slot one CPU is writing: neither free nor any flow's key (a real key's
 * VIP field is never 0). The data plane claims a slot by swapping its key
 * for this, writes the record, then swaps in the new key. */
#define XLB_FLOW4_BUSY 1ull
#define XLB_FLOW6_BUSY 0x10000u

struct xlb_flow4 {
	__u64 key; /* xlb_flow4_key(): source address, port, VIP id + 1; 0: empty */
	struct xlb_flow_val v;
};

struct xlb_flow6 {
	struct xlb_addr saddr;
	__u32 port_vip; /* xlb_flow6_port_vip(): source port, VIP id + 1; 0: empty */
	__u32 pad;
	struct xlb_flow_val v;
};

struct xlb_bucket4 {
	struct xlb_flow4 slot[XLB_FLOW_WAYS];
};

struct xlb_bucket6 {
	struct xlb_flow6 slot[XLB_FLOW_WAYS];
};

/* Per-CPU counters, summed by userspace. */
struct xlb_counter {
	__u64 packets;
	__u64 bytes;
};

struct xlb_lb_stats {
	__u64 packets;
	__u64 bytes;
	__u64 new_flows;
	__u64 pad;
};

/* Every packet the xlb_xdp program sees ends under exactly one reason.
 * X(ENUM, name, what it means): the enum, the names xlbctl and /metrics
 * print, and their help text all come from this one list. */
#define XLB_REASONS(X)                                                                            \
	X(PASS_NOT_IP, pass_not_ip, "not IPv4/IPv6 (ARP, LLDP, ...): passed untouched")            \
	X(PASS_NOT_VIP, pass_not_vip, "IP, but not to a VIP: passed untouched")                   \
	X(PASS_FIB, pass_fib_kernel, "no route, blackhole or similar: the kernel decides")         \
	X(PASS_L7, pass_l7, "to an HTTP VIP (or a fragment to its address): passed to xlbd's proxy") \
	X(PASS_FWD_DISABLED, pass_fwd_disabled,                                                    \
	  "forwarding is off on the ingress interface (sysctl net.ipv4.conf.IFACE.forwarding / "   \
	  "net.ipv6.conf.IFACE.forwarding): the kernel drops it")                                 \
	X(TX_FLOW_HIT, tx_flow_hit, "known flow, sent back out the ingress NIC")                   \
	X(TX_FLOW_NEW, tx_flow_new, "new flow (ring), sent back out the ingress NIC")             \
	X(REDIR_FLOW_HIT, redirect_flow_hit, "known flow, redirected to another NIC")              \
	X(REDIR_FLOW_NEW, redirect_flow_new, "new flow, redirected to another NIC")                \
	X(TX_ICMP, tx_icmp, "ICMP too-big about a VIP flow, to its backend (ingress NIC)")         \
	X(REDIR_ICMP, redirect_icmp, "ICMP too-big about a VIP flow, to its backend (other NIC)")  \
	X(DROP_MALFORMED, drop_malformed,                                                          \
	  "headers truncated or inconsistent with the datagram's own lengths")                     \
	X(DROP_FRAGMENT, drop_fragment, "IPv4/IPv6 fragment to a VIP address")                    \
	X(DROP_IPV6_EXT, drop_ipv6_ext, "IPv6 extension header to a VIP address")                 \
	X(DROP_NO_BACKEND, drop_no_backend, "VIP whose ring is empty (no backend up)")            \
	X(DROP_NO_NEIGH, drop_no_neigh, "route found but no neighbour entry for the next hop")     \
	X(DROP_ENCAP, drop_encap, "could not grow the packet for encapsulation")                  \
	X(DROP_TOO_BIG, drop_too_big, "forwarded packet exceeds the egress MTU")                   \
	X(DROP_NO_TXPORT, drop_no_txport, "egress NIC has no xlb tx port (attach xlb to it)")     \
	X(DROP_BAD_FAMILY, drop_bad_family, "backend family cannot carry this packet")            \
	X(DROP_UNFORWARDABLE_LOCAL, drop_unforwardable_local,                                      \
	  "l4 VIP packet that could not be forwarded (no route, forwarding off) to an address an " \
	  "HTTP VIP makes local: passed, the host's own stack would answer it with a reset")

enum xlb_reason {
#define XLB_REASON_ENUM(id, name, doc) XLB_R_##id,
	XLB_REASONS(XLB_REASON_ENUM)
#undef XLB_REASON_ENUM
	XLB_R_MAX,
};

/* xlb_decap's reasons, the same way. */
#define XLB_DCP_REASONS(X)                                                             \
	X(PASS_NOT_ENCAP, pass_not_encap, "not IPIP / IPv6 tunnel traffic")             \
	X(PASS_NOT_VIP, pass_not_vip, "encapsulated, inner destination not a local VIP") \
	X(DECAP, decap, "outer header stripped, inner packet passed up")                \
	X(DROP_MALFORMED, drop_malformed, "truncated or inconsistent headers")          \
	X(DROP_ADJUST, drop_adjust, "bpf_xdp_adjust_head failed")

enum xlb_dcp_reason {
#define XLB_DCP_REASON_ENUM(id, name, doc) XLB_DCP_##id,
	XLB_DCP_REASONS(XLB_DCP_REASON_ENUM)
#undef XLB_DCP_REASON_ENUM
	XLB_DCP_MAX,
};

/* xlb_meta[0]: what this instance was loaded with, so any later xlbctl can
 * recompute rings and reload the program with the same settings. */
struct xlb_meta {
	__u32 magic;
	__u32 abi_version;
	__u32 ring_size;
	__u32 max_vips;
	__u32 max_backends;
	__u32 max_flows;
	__be32 encap4_net;     /* outer IPv4 source prefix ... */
	__be32 encap4_hostmask;/* ... and the host bits varied by flow hash */
	__be32 encap6_net[4];  /* outer IPv6 source prefix; the last 32 bits ... */
	__be32 encap6_hostmask;/* ... are varied under this mask */
	__u32 pad;
};

#endif /* XLB_ABI_H */
