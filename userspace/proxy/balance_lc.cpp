// SPDX-License-Identifier: Apache-2.0
// Weighted least connections: the backend with the fewest requests in
// progress (this worker's) per unit of weight; ties go round the ring so
// an idle pool is still spread.
#include "balance.h"

namespace xlb::proxy {

namespace {

class LeastConn : public Balancer {
 public:
  size_t pick(const ProxyVip& vip, const std::vector<size_t>& cand, std::string_view) override {
    if (active_.size() != vip.backends.size()) active_.resize(vip.backends.size(), 0);
    size_t best = cand[next_++ % cand.size()];
    for (size_t k = 0; k < cand.size(); ++k) {
      size_t i = cand[(next_ + k) % cand.size()];
      // active/weight < best's, compared without division.
      if (static_cast<uint64_t>(active_[i]) * vip.backends[best].weight <
          static_cast<uint64_t>(active_[best]) * vip.backends[i].weight)
        best = i;
    }
    ++active_[best];
    return best;
  }
  void done(size_t i) override {
    if (i < active_.size() && active_[i] > 0) --active_[i];
  }

 private:
  std::vector<uint32_t> active_;
  size_t next_ = 0;
};

}  // namespace

std::unique_ptr<Balancer> makeLeastConn() { return std::make_unique<LeastConn>(); }

}  // namespace xlb::proxy
