// SPDX-License-Identifier: Apache-2.0
// Smooth weighted round-robin: every pick adds each candidate's weight to
// its running credit and takes the largest, which then pays the total back.
// Weights 5,1,1 give a,a,b,a,c,a,a: spread, never in bursts.
#include "balance.h"

namespace xlb::proxy {

namespace {

class RoundRobin : public Balancer {
 public:
  size_t pick(const ProxyVip& vip, const std::vector<size_t>& cand, std::string_view) override {
    if (credit_.size() != vip.backends.size() || generation_ != vip.generation) {
      credit_.assign(vip.backends.size(), 0);
      generation_ = vip.generation;
    }
    int64_t total = 0;
    size_t best = cand.front();
    for (size_t i : cand) {
      credit_[i] += vip.backends[i].weight;
      total += vip.backends[i].weight;
      if (credit_[i] > credit_[best]) best = i;
    }
    credit_[best] -= total;
    return best;
  }

 private:
  std::vector<int64_t> credit_;
  uint64_t generation_ = 0;
};

}  // namespace

std::unique_ptr<Balancer> makeRoundRobin() { return std::make_unique<RoundRobin>(); }

std::unique_ptr<Balancer> makeBalancer(Balance b) {
  switch (b) {
    case Balance::LeastConn: return makeLeastConn();
    case Balance::Source:
    case Balance::Header:
    case Balance::Cookie: return makeHash();
    default: return makeRoundRobin();
  }
}

}  // namespace xlb::proxy
