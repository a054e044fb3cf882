// SPDX-License-Identifier: Apache-2.0
// Backends' next hops in the maps: resolved by the control plane, written
// through the idle copy of each entry and a one-byte flip.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cstring>
#include <ctime>

#include "xlb/dataplane.h"

namespace xlb {

namespace {

xlb_nexthop toAbi(const Nexthop& n) {
  xlb_nexthop a{};
  a.ifindex = static_cast<uint32_t>(n.ifindex);
  a.mtu = n.mtu;
  std::memcpy(a.dmac, n.dmac.data(), 6);
  std::memcpy(a.smac, n.smac.data(), 6);
  return a;
}

bool same(const xlb_nexthop& a, const xlb_nexthop& b) {
  return a.ifindex == b.ifindex && a.mtu == b.mtu && std::memcmp(a.dmac, b.dmac, 6) == 0 &&
         std::memcmp(a.smac, b.smac, 6) == 0;
}

}  // namespace

namespace {

uint64_t coarseNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);  // bpf_ktime_get_coarse_ns's clock
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace

Result<size_t> Dataplane::refreshNexthops(const Resolver& resolve, std::chrono::seconds ttl,
                                          std::map<std::string, std::string>* unresolved) {
  const uint64_t now = coarseNs(), life = static_cast<uint64_t>(ttl.count()) * 1000000000ull;
  auto lk = lock();
  if (!lk) return xlb::unexpected(lk.error());
  auto slots = backendSlots();
  if (!slots) return xlb::unexpected(slots.error());
  std::map<std::string, Nexthop> byAddr;  // one resolution per distinct address
  size_t changed = 0;
  for (uint32_t id = 1; id < meta_.max_backends; ++id) {
    xlb_backend& b = (*slots)[id];
    if (!(b.flags & XLB_BE_IN_USE)) continue;
    IpAddr addr = IpAddr::fromAbi(b.addr, b.family);
    auto key = addr.str();
    auto it = byAddr.find(key);
    if (it == byAddr.end()) {
      auto r = resolve(addr);
      if (!r) return xlb::unexpected(r.error());
      it = byAddr.emplace(key, *r).first;
      if (!r->resolved() && unresolved) (*unresolved)[key] = r->why;
    }
    xlb_nexthop want = toAbi(it->second);
    if (want.ifindex) want.expires_ns = now + life;
    xlb_nexthops cur{};
    if (bpf_map_lookup_elem(nexthops_.get(), &id, &cur) != 0) return fail(errno, "cannot read next hops");
    uint8_t live = b.nh_sel & 1;
    // Unchanged and more than half of its life left: nothing to write.
    if (same(cur.nh[live], want) && (!want.ifindex || cur.nh[live].expires_ns > now + life / 2)) continue;
    // The idle copy first; the live one is never written while live.
    cur.nh[live ^ 1] = want;
    if (bpf_map_update_elem(nexthops_.get(), &id, &cur, BPF_ANY) != 0) return fail(errno, "cannot write a next hop");
    // Then the flip: the same backend entry with one byte changed (read
    // again: only this process writes it under the lock, but be exact).
    xlb_backend now{};
    if (bpf_map_lookup_elem(backends_.get(), &id, &now) != 0) return fail(errno, "cannot read backends");
    if (!(now.flags & XLB_BE_IN_USE) || now.gen != b.gen) continue;
    now.nh_sel = live ^ 1;
    if (bpf_map_update_elem(backends_.get(), &id, &now, BPF_ANY) != 0) return fail(errno, "cannot flip a next hop");
    ++changed;
  }
  return changed;
}

Result<xlb_nexthop> Dataplane::nexthop(uint32_t backendId) const {
  xlb_backend b{};
  xlb_nexthops n{};
  if (bpf_map_lookup_elem(backends_.get(), &backendId, &b) != 0 ||
      bpf_map_lookup_elem(nexthops_.get(), &backendId, &n) != 0)
    return fail(errno, "cannot read next hops");
  return n.nh[b.nh_sel & 1];
}

Result<uint64_t> Dataplane::events(uint32_t ev) const {
  std::vector<uint64_t> per(static_cast<size_t>(libbpf_num_possible_cpus()));
  if (bpf_map_lookup_elem(events_.get(), &ev, per.data()) != 0) return fail(errno, "cannot read xlb_events");
  uint64_t sum = 0;
  for (auto v : per) sum += v;
  return sum;
}

}  // namespace xlb
