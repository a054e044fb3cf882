// SPDX-License-Identifier: Apache-2.0
#include "xlb/maglev.h"

#include <gtest/gtest.h>

#include <map>

namespace xlb {
namespace {

constexpr uint32_t kRing = 65537;

IpAddr backendAddr(uint32_t i) {
  auto a = IpAddr::parse("198.18." + std::to_string(1 + i / 250) + "." + std::to_string(1 + i % 250));
  return *a;
}

std::vector<MaglevBackend> makeBackends(uint32_t n, auto weightOf) {
  std::vector<MaglevBackend> bs;
  for (uint32_t i = 0; i < n; ++i) bs.push_back({i + 1, backendAddr(i), weightOf(i)});
  return bs;
}

std::map<uint32_t, uint64_t> counts(const std::vector<uint32_t>& ring) {
  std::map<uint32_t, uint64_t> c;
  for (uint32_t id : ring) ++c[id];
  return c;
}

// Each backend's share of the ring is within 1% (relative) of its weight share.
void expectSharesFollowWeights(const std::vector<MaglevBackend>& bs) {
  auto ring = maglevRing(bs, kRing);
  auto c = counts(ring);
  EXPECT_EQ(c.count(XLB_BACKEND_NONE), 0u);
  double total = 0;
  for (const auto& b : bs) total += b.weight;
  for (const auto& b : bs) {
    double want = kRing * b.weight / total;
    double got = static_cast<double>(c[b.id]);
    EXPECT_NEAR(got, want, want * 0.01) << "backend " << b.id << " of " << bs.size() << " weight " << b.weight;
  }
}

TEST(Maglev, EqualWeightsShareEvenlyFrom2To100Backends) {
  for (uint32_t n = 2; n <= 100; ++n) expectSharesFollowWeights(makeBackends(n, [](uint32_t) { return 1u; }));
}

TEST(Maglev, UnequalWeightsShareByWeight) {
  for (uint32_t n = 2; n <= 100; n += 7)
    expectSharesFollowWeights(makeBackends(n, [](uint32_t i) { return 1u + i % 5; }));
  expectSharesFollowWeights(makeBackends(3, [](uint32_t i) { return i == 0 ? 100u : 1u; }));
}

TEST(Maglev, ZeroWeightGetsNoSlots) {
  auto bs = makeBackends(4, [](uint32_t i) { return i == 2 ? 0u : 1u; });
  auto c = counts(maglevRing(bs, kRing));
  EXPECT_EQ(c.count(3), 0u);
  EXPECT_EQ(c.size(), 3u);
}

TEST(Maglev, NoBackendsMeansEmptyRing) {
  auto c = counts(maglevRing({}, kRing));
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[XLB_BACKEND_NONE], kRing);
  auto zero = makeBackends(3, [](uint32_t) { return 0u; });
  EXPECT_EQ(counts(maglevRing(zero, kRing))[XLB_BACKEND_NONE], kRing);
}

// Removing one of N backends moves at most 1/N + 2% of the slots that
// pointed at the others.
TEST(Maglev, RemovingOneBackendDisturbsFewOthers) {
  for (uint32_t n = 2; n <= 100; n += (n < 10 ? 1 : 9)) {
    auto bs = makeBackends(n, [](uint32_t) { return 1u; });
    auto before = maglevRing(bs, kRing);
    for (uint32_t gone : {0u, n / 2, n - 1}) {
      auto fewer = bs;
      uint32_t goneId = fewer[gone].id;
      fewer.erase(fewer.begin() + gone);
      auto after = maglevRing(fewer, kRing);
      uint64_t others = 0, moved = 0;
      for (uint32_t s = 0; s < kRing; ++s) {
        if (before[s] == goneId) continue;
        ++others;
        moved += before[s] != after[s];
      }
      double limit = 1.0 / n + 0.02;
      EXPECT_LE(static_cast<double>(moved) / others, limit) << "n=" << n << " removed #" << gone;
    }
  }
}

// The ring depends on addresses and weights only: not on ids' order, nor run.
TEST(Maglev, RingIsDeterministic) {
  auto bs = makeBackends(17, [](uint32_t i) { return 1u + i % 3; });
  auto a = maglevRing(bs, kRing);
  auto reversed = bs;
  std::reverse(reversed.begin(), reversed.end());
  EXPECT_EQ(a, maglevRing(reversed, kRing));
  EXPECT_EQ(a, maglevRing(bs, kRing));
  // A pinned fingerprint (FNV-1a over the slots): every machine and every
  // build must produce this ring, or xlb nodes behind ECMP would disagree.
  uint64_t fp = 1469598103934665603ull;
  for (uint32_t id : a) fp = (fp ^ id) * 1099511628211ull;
  EXPECT_EQ(fp, 9253283018937302502ull);
}

TEST(Maglev, PrimeCheck) {
  EXPECT_TRUE(isPrime(65537));
  EXPECT_TRUE(isPrime(1031));
  EXPECT_FALSE(isPrime(65536));
  EXPECT_FALSE(isPrime(1));
}

}  // namespace
}  // namespace xlb
