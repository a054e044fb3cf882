// SPDX-License-Identifier: Apache-2.0
// A backend's next hop as the control plane resolves it (route, neighbour,
// egress link), so that the data plane need not ask bpf_fib_lookup for
// every packet.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "xlb/addr.h"
#include "xlb/error.h"

namespace xlb {

struct Nexthop {
  int ifindex = 0;  // 0: not resolved (the data plane falls back to bpf_fib_lookup)
  uint32_t mtu = 0;
  std::array<uint8_t, 6> dmac{}, smac{};
  std::string why;  // when not resolved: why not
  bool resolved() const { return ifindex != 0; }
  bool sameAs(const Nexthop& o) const {
    return ifindex == o.ifindex && mtu == o.mtu && dmac == o.dmac && smac == o.smac;
  }
};

// Asks the kernel (rtnetlink) for the route to the backend, the neighbour
// entry of its next hop and the egress link. Unresolved (with why) when
// there is no unicast route, the neighbour has no valid link-layer address
// (incomplete, failed, none yet), the link is not Ethernet, or forwarding
// is off on the egress interface (bpf_fib_lookup, which then decides,
// names that case: pass_fwd_disabled). Fails only when rtnetlink does.
Result<Nexthop> resolveNexthop(const IpAddr& backend);

}  // namespace xlb
