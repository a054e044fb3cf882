// SPDX-License-Identifier: Apache-2.0
// What an xlb instance is set up with, as plain types: where it is pinned,
// how it attaches, its load-time capacities and forwarding modes. No BPF
// library is needed to read or check them (config, xlbctl's parsing, the
// proxy); the loader turns them into a loaded program.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "xlb/abi.h"
#include "xlb/addr.h"
#include "xlb/error.h"

namespace xlb {

inline constexpr const char* kDefaultPinDir = "/sys/fs/bpf/xlb";

enum class AttachMode { Native, Generic, Auto };
Result<AttachMode> parseAttachMode(const std::string& s);

struct LoadSettings {
  std::optional<uint32_t> ringSize, maxVips, maxBackends, maxFlows;
  std::optional<Prefix> encap4, encap6;  // outer source prefixes for ipip
};
// Fills a meta record from the settings and the defaults; checks them (a
// prime ring size, capacities that fit the maps).
Result<xlb_meta> makeMeta(const LoadSettings& want);

inline constexpr uint32_t kMaxFlows = 1u << 26;
// Buckets per family of a flow table for maxFlows flows: the power of two
// whose XLB_FLOW_WAYS slots each hold at least maxFlows.
uint32_t flowBuckets(uint32_t maxFlows);
// Slots of the data plane's VIP index for maxVips VIPs: a power of two, at
// least four per VIP (short probe runs).
uint32_t vipSlots(uint32_t maxVips);

const char* forwardName(uint8_t forward);  // XLB_FWD_* -> "l2dsr" | "ipip"
Result<uint8_t> parseForward(const std::string& s);

}  // namespace xlb
