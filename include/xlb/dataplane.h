// SPDX-License-Identifier: Apache-2.0
// The pinned maps of one xlb instance, and every state change made to them.
// All state lives in the maps, so any process (xlbctl, xlbd) can open an
// instance and carry on where the last one stopped.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "xlb/abi.h"
#include "xlb/nexthop.h"
#include "xlb/addr.h"
#include "xlb/error.h"
#include "xlb/flowtable.h"
#include "xlb/fd.h"
#include "xlb/plan.h"
#include "xlb/settings.h"

namespace xlb {

// A ring slot as Dataplane::ringEntries gives it: the backend id, and this
// bit when the slot is marked moved (xlb_ring_chunk.moved, abi.h).
inline constexpr uint32_t kRingMoved = 0x80000000u;
inline constexpr uint32_t ringId(uint32_t entry) { return entry & ~kRingMoved; }

struct VipInfo {
  VipKey key;
  uint32_t id = 0;
  uint8_t forward = XLB_FWD_L2DSR;
  uint8_t ringSel = 0;
  uint32_t flags = 0;  // XLB_VIP_F_*
  bool l7() const { return flags & XLB_VIP_F_L7; }
};

struct BackendInfo {
  uint32_t id = 0;
  IpAddr addr;
  uint32_t vipId = 0;
  uint32_t weight = 0;
  uint32_t gen = 0;
  bool down = false;     // XLB_BE_DOWN: out of the ring, its flows re-balanced
  std::string warning;  // set when the neighbour could not be resolved yet
  xlb_nexthop nexthop{};  // the live one (ifindex 0: bpf_fib_lookup decides)
};

struct LbCounters {
  uint64_t packets = 0, bytes = 0, newFlows = 0;
};

struct Stats {
  std::vector<xlb_counter> reasons;             // by enum xlb_reason
  std::map<uint32_t, LbCounters> vips;          // by VIP id
  std::map<uint32_t, LbCounters> backends;      // by backend id
  uint64_t nexthopFallbacks = 0;                // packets that asked bpf_fib_lookup (no resolved next hop)
  uint64_t flowEvictions = 0;                   // new flows that took a recorded flow's slot
};

struct FlowEntry {
  xlb_flow_key key;
  xlb_flow_val value;
};

struct FlowList {
  std::vector<FlowEntry> entries;  // the first `limit` found
  size_t total = 0;                // entries in the table
};

// Seconds of CLOCK_MONOTONIC_COARSE, the clock of xlb_flow_val.seen.
uint32_t flowClockNow();

struct Explanation {
  VipInfo vip;
  uint32_t hash = 0;
  uint32_t slot = 0;  // ring slot the hash selects
  std::optional<xlb_flow_val> flow;  // flow table entry, if any
  bool flowValid = false;        // its backend is still configured
  std::optional<BackendInfo> backend;  // the backend the data plane would use
  std::string reason;
  std::vector<std::string> notes;  // what else decides the packet's fate (forwarding off, ...)
};

const char* reasonName(uint32_t reason);
const char* reasonHelp(uint32_t reason);  // one line: what the reason means

// Keeps the kernel's neighbour entry for a backend (or its next hop)
// resolved, so the fast path never waits on ARP/ND. Implemented over
// netlink; a fake in tests.
class NeighbourKeeper {
 public:
  virtual ~NeighbourKeeper() = default;
  virtual Result<void> keep(const IpAddr& backend) = 0;
};

struct SyncResult {
  BackendPlan plan;
  bool vipAdded = false, forwardChanged = false, ringFlipped = false;
  size_t flowsRemoved = 0;
  std::vector<std::string> warnings;  // neighbours not resolved yet
};

class Dataplane {
 public:
  // Opens the pinned maps under pinDir; fails with a hint when xlb is not
  // attached there or the caller lacks CAP_BPF.
  static Result<Dataplane> open(const std::string& pinDir);

  const xlb_meta& meta() const { return meta_; }

  Result<VipInfo> addVip(const VipKey& key, uint8_t forward);
  Result<void> delVip(const VipKey& key);
  // An HTTP VIP: in the maps only so that xlb_xdp passes its packets (and
  // fragments to its address) to the stack. An l4 VIP of that key goes.
  Result<VipInfo> setL7Vip(const VipKey& key);
  Result<std::vector<VipInfo>> vips() const;
  Result<VipInfo> vip(const VipKey& key) const;

  Result<BackendInfo> addBackend(const VipKey& vip, const IpAddr& addr, uint32_t weight,
                                 NeighbourKeeper* neigh);
  Result<BackendInfo> setWeight(const VipKey& vip, const IpAddr& addr, uint32_t weight);
  Result<void> delBackend(const VipKey& vip, const IpAddr& addr);
  Result<std::vector<BackendInfo>> backends() const;  // all in use

  // Makes one VIP's backends what `desired` says (adding the VIP if
  // missing), in one locked step: slots written first, then one ring
  // rebuild and flip if the ring's inputs changed, then the flows of
  // removed or newly-down backends deleted. Unchanged VIPs are untouched.
  Result<SyncResult> syncVip(const VipKey& vip, uint8_t forward, std::span<const DesiredBackend> desired,
                             NeighbourKeeper* neigh);

  // The kernel's id of xlb_vip_table (the VIP map xlb_xdp reads): which
  // programs use it says whose they are.
  uint32_t vipsMapId() const;
  // Pins again, from the maps this object holds open, whatever someone
  // unpinned under the pin path; returns the names pinned again.
  Result<std::vector<std::string>> repin();
  // An interface xlb_xdp may send out of (XDP_TX needs none; redirects do).
  Result<void> addTxPort(int ifindex);
  // The interfaces xlb_xdp of this instance is attached to (its tx ports).
  Result<std::vector<std::string>> interfaces() const;
  // Forwarding problems (see forwarding.h) for a family on every attached
  // interface: one line each.
  std::vector<std::string> forwardingProblems(uint8_t family) const;
  Result<Stats> stats() const;

  // Next hops (nexthop.cpp). Resolves every backend in use with `resolve`
  // (one call per distinct address) and writes the entries that changed,
  // each through its idle copy and a one-byte flip. Returns how many
  // changed; `unresolved` gets address -> why for those left to
  // bpf_fib_lookup.
  // Entries live `ttl` (then the data plane falls back to bpf_fib_lookup)
  // and are rewritten once half of it has passed.
  using Resolver = std::function<Result<Nexthop>(const IpAddr&)>;
  Result<size_t> refreshNexthops(const Resolver& resolve, std::chrono::seconds ttl,
                                 std::map<std::string, std::string>* unresolved = nullptr);
  // The live next hop of a backend slot (ifindex 0: not resolved).
  Result<xlb_nexthop> nexthop(uint32_t backendId) const;
  // Data-plane events (next-hop fallbacks, flow evictions).
  Result<uint64_t> events(uint32_t ev) const;  // xlb_events[ev] (enum xlb_event), summed over CPUs
  Result<FlowList> flows(size_t limit) const;
  size_t flowCapacity() const { return flows_.capacity(); }  // per family
  FlowTable& flowTable() { return flows_; }
  Result<size_t> flushFlows();
  // Clears the moved mark of every slot on which no recorded flow
  // points to another live backend (the data plane then goes by the ring
  // alone there); returns how many slots it cleared.
  Result<size_t> clearMovedSlots();
  Result<Explanation> explain(const xlb_flow_key& key) const;

  // The live ring of a VIP, as the data plane sees it.
  Result<std::vector<uint32_t>> ring(const VipInfo& vip) const;         // backend ids
  Result<std::vector<uint32_t>> ringEntries(const VipInfo& vip) const;  // with kRingMoved bits

 private:
  Result<void> rebuildRing(const VipInfo& vip);
  Result<std::vector<xlb_backend>> backendSlots() const;  // the whole table, by id
  Result<VipInfo> addVipLocked(const VipKey& key, uint8_t forward, uint32_t flags = 0);
  Result<void> delVipLocked(const VipKey& key);
  Result<BackendInfo> writeNewBackend(uint32_t id, uint32_t oldGen, uint32_t vipId, const IpAddr& addr,
                                      uint32_t weight, bool down);
  Result<void> writeRingHalf(uint32_t vipId, uint32_t half, const std::vector<uint32_t>& ring);
  Result<void> zeroStats(int fd, uint32_t id);
  Result<Fd> lock() const;
  std::vector<std::pair<const char*, Fd*>> maps();  // every map held, by its pinned name

  std::string pinDir_;
  xlb_meta meta_{};
  // xlb_vips and its data-plane index xlb_vip_table, written together.
  Result<void> putVip(const xlb_vip_key& k, const xlb_vip& v, uint64_t flags, const char* what);
  Result<void> dropVip(const xlb_vip_key& k);
  Result<void> indexVip(const xlb_vip_key& k, const xlb_vip* v);  // null: remove
  Result<void> countVipAddress(const IpAddr& addr, bool l7, int delta);  // delta: +1 or -1

  Fd vips_, vipTable_, vipAddrs_, backends_, rings_, flows4_, flows6_, reasons_, vipStats_, beStats_, txPorts_, meta_fd_, nexthops_,
      events_;
  FlowTable flows_;                    // xlb_flows4/6, mapped
  std::shared_ptr<xlb_ring_chunk> ringMem_;  // xlb_rings mapped (BPF_F_MMAPABLE); null: syscalls
};

}  // namespace xlb
