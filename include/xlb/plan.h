// SPDX-License-Identifier: Apache-2.0
// The difference between a VIP's backends as the maps hold them and as they
// should be (config + health + operator), and whether its ring must change.
// Pure: the daemon and its tests use it without BPF.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "xlb/addr.h"

namespace xlb {

struct BackendInfo;

// The largest backend weight (HAProxy's 0..256 fits; Maglev's share of a
// ring follows the weights, so they stay small).
inline constexpr uint32_t kMaxWeight = 65535;

struct DesiredBackend {
  IpAddr addr;
  uint32_t weight = 1;  // 0 drains: no new flows, existing flows stay
  bool down = false;    // out of the ring, its flows re-balanced
};

struct BackendPlan {
  struct Change {
    uint32_t id;
    uint32_t weight;
    bool down;
  };
  std::vector<DesiredBackend> add;
  std::vector<uint32_t> remove;       // backend ids
  std::vector<Change> change;         // weight or down flag differs
  std::vector<uint32_t> dropFlowsOf;  // ids removed or newly down: their flows go
  bool ringChanged = false;           // the ring's inputs differ: rebuild and flip
  bool empty() const { return add.empty() && remove.empty() && change.empty(); }
};

// current: the VIP's backends in the maps; desired: what they should be
// (one entry per address).
BackendPlan planBackends(std::span<const BackendInfo> current, std::span<const DesiredBackend> desired);

}  // namespace xlb
