// SPDX-License-Identifier: Apache-2.0
#include "xlb/plan.h"

#include <algorithm>
#include <utility>

#include "xlb/dataplane.h"

namespace xlb {

namespace {

// What the ring is computed from: addresses and weights of the backends
// that take new flows. Ids matter too (the ring stores them).
using RingInput = std::vector<std::pair<std::string, std::pair<uint32_t, uint32_t>>>;

void addInput(RingInput& in, const IpAddr& a, uint32_t id, uint32_t weight, bool down) {
  if (!down && weight > 0) in.push_back({a.str(), {id, weight}});
}

}  // namespace

BackendPlan planBackends(std::span<const BackendInfo> current, std::span<const DesiredBackend> desired) {
  BackendPlan p;
  RingInput before, after;
  for (const auto& c : current) {
    addInput(before, c.addr, c.id, c.weight, c.down);
    auto d = std::find_if(desired.begin(), desired.end(), [&](const DesiredBackend& x) { return x.addr == c.addr; });
    if (d == desired.end()) {
      p.remove.push_back(c.id);
      p.dropFlowsOf.push_back(c.id);
      continue;
    }
    addInput(after, c.addr, c.id, d->weight, d->down);
    if (d->weight != c.weight || d->down != c.down) {
      p.change.push_back({c.id, d->weight, d->down});
      if (d->down && !c.down) p.dropFlowsOf.push_back(c.id);
    }
  }
  for (const auto& d : desired) {
    bool known = std::any_of(current.begin(), current.end(), [&](const BackendInfo& c) { return c.addr == d.addr; });
    if (known) continue;
    p.add.push_back(d);
    addInput(after, d.addr, 0, d.weight, d.down);
  }
  std::sort(before.begin(), before.end());
  std::sort(after.begin(), after.end());
  p.ringChanged = before != after;
  return p;
}

}  // namespace xlb
