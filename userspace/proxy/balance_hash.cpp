// SPDX-License-Identifier: Apache-2.0
// Consistent hashing on a key (source address, a header, a cookie), by
// weighted rendezvous hashing: each backend scores the key, the highest
// wins. A backend that goes away moves only its own keys; one that comes
// back takes back about its share; weights scale the shares. Every worker
// and every xlb node agrees, since the score depends on names only.
#include <cmath>

#include "balance.h"

namespace xlb::proxy {

namespace {

uint64_t fnv1a(std::string_view a, std::string_view b) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : a) h = (h ^ c) * 0x100000001b3ull;
  h = (h ^ 0xff) * 0x100000001b3ull;
  for (unsigned char c : b) h = (h ^ c) * 0x100000001b3ull;
  // A final mix (splitmix64): FNV's low bits alone are weak.
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}

class Hash : public Balancer {
 public:
  size_t pick(const ProxyVip& vip, const std::vector<size_t>& cand, std::string_view key) override {
    if (key.empty()) return cand[next_++ % cand.size()];  // nothing to hash: spread
    size_t best = cand.front();
    double top = -1;
    for (size_t i : cand) {
      // u in (0,1); -w/ln(u) is the weighted rendezvous score.
      double u = (static_cast<double>(fnv1a(key, vip.backends[i].name) >> 11) + 0.5) / 9007199254740992.0;
      double score = -static_cast<double>(vip.backends[i].weight) / std::log(u);
      if (score > top) top = score, best = i;
    }
    return best;
  }

 private:
  size_t next_ = 0;
};

}  // namespace

std::unique_ptr<Balancer> makeHash() { return std::make_unique<Hash>(); }

}  // namespace xlb::proxy
