// SPDX-License-Identifier: Apache-2.0
// The BPF side sees these structs through the same header; these checks pin
// their layout so a change that would shift a field fails the build instead
// of corrupting maps at run time.
#include <cstddef>

#include "xlb/abi.h"

#define XLB_CHECK(type, size) static_assert(sizeof(type) == (size), #type " size changed")
#define XLB_OFF(type, field, off) static_assert(offsetof(type, field) == (off), #type "." #field " moved")

XLB_CHECK(xlb_addr, 16);
XLB_CHECK(xlb_vip_key, 20);
XLB_OFF(xlb_vip_key, port, 16);
XLB_OFF(xlb_vip_key, proto, 18);
XLB_OFF(xlb_vip_key, family, 19);
XLB_CHECK(xlb_vip, 12);
XLB_OFF(xlb_vip, forward, 4);
XLB_OFF(xlb_vip, ring_sel, 5);
XLB_OFF(xlb_vip, flags, 8);
XLB_CHECK(xlb_ring_chunk, 64);
XLB_OFF(xlb_ring_chunk, id, 4);
XLB_CHECK(xlb_addr_key, 20);
XLB_OFF(xlb_addr_key, family, 16);
XLB_CHECK(xlb_backend, 32);
XLB_OFF(xlb_backend, vip_id, 16);
XLB_OFF(xlb_backend, weight, 20);
XLB_OFF(xlb_backend, gen, 24);
XLB_OFF(xlb_backend, family, 28);
XLB_OFF(xlb_backend, flags, 29);
XLB_OFF(xlb_backend, nh_sel, 30);
XLB_CHECK(xlb_nexthop, 32);
XLB_OFF(xlb_nexthop, expires_ns, 24);
XLB_OFF(xlb_nexthop, mtu, 4);
XLB_OFF(xlb_nexthop, dmac, 8);
XLB_OFF(xlb_nexthop, smac, 14);
XLB_CHECK(xlb_nexthops, 64);
XLB_CHECK(xlb_flow_key, 40);
XLB_OFF(xlb_flow_key, dst, 16);
XLB_OFF(xlb_flow_key, sport, 32);
XLB_OFF(xlb_flow_key, dport, 34);
XLB_OFF(xlb_flow_key, proto, 36);
XLB_OFF(xlb_flow_key, family, 37);
XLB_CHECK(xlb_vip_slot, 32);
XLB_OFF(xlb_vip_slot, vip, 20);
XLB_CHECK(xlb_flow_val, 8);
XLB_OFF(xlb_flow_val, seen, 4);
XLB_CHECK(xlb_flow4, 16);
XLB_OFF(xlb_flow4, v, 8);
XLB_CHECK(xlb_flow6, 32);
XLB_OFF(xlb_flow6, port_vip, 16);
XLB_OFF(xlb_flow6, v, 24);
XLB_CHECK(xlb_bucket4, 64);
XLB_CHECK(xlb_bucket6, 128);
XLB_CHECK(xlb_counter, 16);
XLB_CHECK(xlb_lb_stats, 32);
XLB_CHECK(xlb_meta, 56);
XLB_OFF(xlb_meta, encap4_net, 24);
XLB_OFF(xlb_meta, encap6_net, 32);
XLB_OFF(xlb_meta, encap6_hostmask, 48);
