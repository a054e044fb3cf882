// SPDX-License-Identifier: Apache-2.0
#include "xlb/maglev.h"

#include <algorithm>
#include <cstring>

#include "xlb/hash.h"

namespace xlb {
namespace {

uint32_t hashAddr(const IpAddr& a, uint32_t seed) {
  uint32_t words[4];
  std::memcpy(words, a.bytes.data(), sizeof(words));
  uint32_t h = seed;
  for (uint32_t w : words) h = xlb_hash_mix(h, w);
  h = xlb_hash_mix(h, a.family);
  return xlb_hash_final(h, 17);
}

constexpr uint32_t kOffsetSeed = 0x2c1b3c6du;
constexpr uint32_t kSkipSeed = 0x297a2d39u;

}  // namespace

bool isPrime(uint32_t n) {
  if (n < 2) return false;
  for (uint64_t d = 2; d * d <= n; ++d)
    if (n % d == 0) return false;
  return true;
}

std::vector<uint32_t> maglevRing(std::span<const MaglevBackend> input, uint32_t ringSize) {
  std::vector<uint32_t> ring(ringSize, XLB_BACKEND_NONE);
  std::vector<MaglevBackend> bs;
  for (const auto& b : input)
    if (b.weight > 0) bs.push_back(b);
  if (bs.empty() || ringSize == 0) return ring;
  // Order by identity, so the same set gives the same ring whatever the ids.
  std::sort(bs.begin(), bs.end(), [](const auto& x, const auto& y) { return x.addr < y.addr; });

  // A backend's permutation is offset, offset+skip, offset+2*skip, ...
  // (mod ringSize); pos walks it by addition, no division per probe.
  struct Perm {
    uint32_t pos, skip;
  };
  std::vector<Perm> perm;
  perm.reserve(bs.size());
  for (const auto& b : bs) {
    uint32_t offset = hashAddr(b.addr, kOffsetSeed) % ringSize;
    uint32_t skip = ringSize > 1 ? hashAddr(b.addr, kSkipSeed) % (ringSize - 1) + 1 : 1;
    perm.push_back({offset, skip % ringSize});
  }
  uint64_t maxWeight = 0;
  for (const auto& b : bs) maxWeight = std::max<uint64_t>(maxWeight, b.weight);

  // Round r gives backend i a turn when floor(r*w_i/W) steps up, so after r
  // rounds it has claimed about r*w_i/W slots: shares follow weights.
  uint32_t filled = 0;
  for (uint64_t round = 1;; ++round) {
    for (size_t i = 0; i < bs.size(); ++i) {
      if ((round * bs[i].weight) / maxWeight == ((round - 1) * bs[i].weight) / maxWeight) continue;
      Perm& p = perm[i];
      uint32_t slot;
      do {
        slot = p.pos;
        p.pos += p.skip;  // < 2 * ringSize < 2^32: ringSize is at most 2^30
        if (p.pos >= ringSize) p.pos -= ringSize;
      } while (ring[slot] != XLB_BACKEND_NONE);
      ring[slot] = bs[i].id;
      if (++filled == ringSize) return ring;
    }
  }
}

}  // namespace xlb
