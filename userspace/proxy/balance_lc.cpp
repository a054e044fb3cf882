// SPDX-License-Identifier: Apache-2.0
// Weighted least connections: the backend with the fewest requests in
// progress (this worker's) per unit of weight; ties go round the ring so
// an idle pool is still spread. Counted per backend, not per index into a
// snapshot: a reload that adds or reorders backends moves no count.
#include "balance.h"

#include <unordered_map>

namespace xlb::proxy {

namespace {

class LeastConn : public Balancer {
 public:
  size_t pick(const ProxyVip& vip, const std::vector<size_t>& cand, std::string_view) override {
    size_t best = cand[next_++ % cand.size()];
    uint64_t bestActive = active(vip, best);
    for (size_t k = 0; k < cand.size(); ++k) {
      size_t i = cand[(next_ + k) % cand.size()];
      uint64_t a = active(vip, i);
      // active/weight < best's, compared without division.
      if (a * vip.backends[best].weight < bestActive * vip.backends[i].weight) {
        best = i;
        bestActive = a;
      }
    }
    ++active_[id(vip, best)];
    return best;
  }
  void chose(const ProxyVip& vip, size_t i) override { ++active_[id(vip, i)]; }
  void done(const ProxyVip& vip, size_t i) override {
    auto it = active_.find(id(vip, i));
    if (it != active_.end() && --it->second == 0) active_.erase(it);
  }

 private:
  // A backend is the same across snapshots as long as its counters are.
  static const void* id(const ProxyVip& vip, size_t i) {
    const ProxyBackend& b = vip.backends[i];
    return b.stats ? static_cast<const void*>(b.stats.get()) : &b;
  }
  uint64_t active(const ProxyVip& vip, size_t i) const {
    auto it = active_.find(id(vip, i));
    return it == active_.end() ? 0 : it->second;
  }
  std::unordered_map<const void*, uint32_t> active_;
  size_t next_ = 0;
};

}  // namespace

std::unique_ptr<Balancer> makeLeastConn() { return std::make_unique<LeastConn>(); }

}  // namespace xlb::proxy
