// SPDX-License-Identifier: Apache-2.0
// The data plane's flow table (abi.h, bpf/lib/flows.h) from userspace:
// both families' bucket arrays, memory-mapped. Listing, expiring and
// flushing are loops over memory, not a syscall per flow; a removal is one
// store of a zero key, which the data plane reads as an empty slot.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "xlb/abi.h"
#include "xlb/error.h"

namespace xlb {

// One recorded flow: what its slot holds, decoded.
struct FlowSlot {
  uint8_t family = 0;  // XLB_AF_INET or XLB_AF_INET6
  xlb_addr src{};
  uint16_t sport = 0;  // network byte order, as on the wire
  uint32_t vipId = 0;
  xlb_flow_val v{};
};

class FlowTable {
 public:
  // Maps xlb_flows4 and xlb_flows6 (BPF_F_MMAPABLE arrays of buckets).
  static Result<FlowTable> map(int fd4, int fd6);

  uint32_t buckets() const { return buckets_; }  // per family
  size_t capacity() const { return size_t{buckets_} * XLB_FLOW_WAYS; }  // flows per family

  // Every recorded flow, IPv4 first; visit returns false to stop.
  void forEach(const std::function<bool(const FlowSlot&)>& visit) const;
  // Empties the slots of the flows pred picks; returns how many.
  size_t eraseIf(const std::function<bool(const FlowSlot&)>& pred);
  // The record of a flow (its 5-tuple, on the VIP vipId), as the data plane
  // would find it.
  std::optional<xlb_flow_val> find(const xlb_flow_key& k, uint32_t vipId) const;
  // Records a flow where the data plane would (a free slot of the emptiest
  // of its three buckets, else the slot seen longest ago), or over its own
  // record. For tests and benchmarks: the data plane records its own.
  void put(const xlb_flow_key& k, uint32_t vipId, const xlb_flow_val& v);
  // Which of its buckets (0 to XLB_FLOW_CHOICES - 1) holds a flow.
  std::optional<int> choiceOf(const xlb_flow_key& k, uint32_t vipId) const;
  // Empties the slot of one flow; false if it was not recorded.
  bool erase(const xlb_flow_key& k, uint32_t vipId);

  // Keeps the tables from filling up, so that the data plane rarely has to
  // evict (it can only take the oldest of a new flow's twelve candidate
  // slots, which may be a live flow while older idle ones sit elsewhere).
  // When a family's table is more than `high` full, its flows are removed
  // table-wide, the ones seen longest ago first, until it is `low` full;
  // never a flow seen in the last minIdle seconds (if those fill the table,
  // it is too small: the data plane's eviction counter says so). now:
  // flowClockNow(). A sample of 4096 buckets decides whether a table is
  // read at all; one that is, is read twice (ages counted, then cleared).
  struct Relief {
    double high = 0.5, low = 0.4;
    uint32_t minIdle = 60;
  };
  struct Relieved {
    size_t removed = 0;
    bool stillOver = false;  // a table is still more than `high` full (of recent flows)
  };
  Relieved relieve(uint32_t now, const Relief& r);

 private:
  xlb_bucket4* b4(uint32_t i) const { return static_cast<xlb_bucket4*>(mem4_.get()) + i; }
  xlb_bucket6* b6(uint32_t i) const { return static_cast<xlb_bucket6*>(mem6_.get()) + i; }
  std::array<uint32_t, XLB_FLOW_CHOICES> bucketsOf(const xlb_flow_key& k) const;
  // The slot of a flow, in its buckets: an xlb_flow4 or xlb_flow6.
  void* slotOf(const xlb_flow_key& k, uint32_t vipId, int* choice = nullptr) const;

  uint32_t buckets_ = 0;
  std::shared_ptr<void> mem4_, mem6_;
};

}  // namespace xlb
