// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "xlb/dataplane.h"

namespace xlb {

// Asks the kernel (rtnetlink) for the route to a backend, then creates a
// kernel-managed neighbour entry (NTF_EXT_MANAGED) for its next hop and
// triggers resolution (NTF_USE). Managed entries are kept resolved by the
// kernel itself and never garbage-collected, so bpf_fib_lookup in the fast
// path finds a MAC without any packet having gone through the stack first.
// wait: block up to 1 s for resolution (xlbctl, so `backend add` returns
// with the backend ready); xlbd does not, its event loop must not stall:
// the kernel resolves managed entries on its own.
class NetlinkNeighbours : public NeighbourKeeper {
 public:
  explicit NetlinkNeighbours(bool wait = true) : wait_(wait) {}
  Result<void> keep(const IpAddr& backend) override;

 private:
  bool wait_;
};

}  // namespace xlb
