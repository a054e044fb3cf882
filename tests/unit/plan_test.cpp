// SPDX-License-Identifier: Apache-2.0
// The backend diff behind every map update of xlbd: what changes, whether
// the ring must be rebuilt and flipped, whose flows go.
#include "xlb/plan.h"

#include <gtest/gtest.h>

#include "xlb/dataplane.h"

namespace xlb {
namespace {

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

BackendInfo cur(uint32_t id, const char* a, uint32_t w = 1, bool down = false) {
  BackendInfo b;
  b.id = id;
  b.addr = ip(a);
  b.weight = w;
  b.down = down;
  return b;
}

std::vector<BackendInfo> three() {
  return {cur(1, "198.18.0.11"), cur(2, "198.18.0.12"), cur(3, "198.18.0.13")};
}

std::vector<DesiredBackend> want(std::initializer_list<DesiredBackend> d) { return d; }

TEST(Plan, IdenticalStateChangesNothing) {
  auto p = planBackends(three(), want({{ip("198.18.0.11")}, {ip("198.18.0.12")}, {ip("198.18.0.13")}}));
  EXPECT_TRUE(p.empty());
  EXPECT_FALSE(p.ringChanged);
  EXPECT_TRUE(p.dropFlowsOf.empty());
}

TEST(Plan, DownRebuildsTheRingAndDropsItsFlows) {
  auto p = planBackends(three(), want({{ip("198.18.0.11")}, {ip("198.18.0.12"), 1, true}, {ip("198.18.0.13")}}));
  ASSERT_EQ(p.change.size(), 1u);
  EXPECT_EQ(p.change[0].id, 2u);
  EXPECT_TRUE(p.change[0].down);
  EXPECT_TRUE(p.ringChanged);
  EXPECT_EQ(p.dropFlowsOf, std::vector<uint32_t>{2});
}

TEST(Plan, DrainRebuildsTheRingButKeepsFlows) {
  auto p = planBackends(three(), want({{ip("198.18.0.11")}, {ip("198.18.0.12"), 0}, {ip("198.18.0.13")}}));
  ASSERT_EQ(p.change.size(), 1u);
  EXPECT_EQ(p.change[0].weight, 0u);
  EXPECT_TRUE(p.ringChanged);
  EXPECT_TRUE(p.dropFlowsOf.empty());
}

TEST(Plan, ComingBackUpRebuildsWithoutDroppingFlows) {
  auto c = three();
  c[1].down = true;
  auto p = planBackends(c, want({{ip("198.18.0.11")}, {ip("198.18.0.12")}, {ip("198.18.0.13")}}));
  ASSERT_EQ(p.change.size(), 1u);
  EXPECT_FALSE(p.change[0].down);
  EXPECT_TRUE(p.ringChanged);
  EXPECT_TRUE(p.dropFlowsOf.empty());
}

TEST(Plan, ADownBackendsWeightChangeLeavesTheRingAlone) {
  auto c = three();
  c[2].down = true;
  auto p = planBackends(c, want({{ip("198.18.0.11")}, {ip("198.18.0.12")}, {ip("198.18.0.13"), 5, true}}));
  ASSERT_EQ(p.change.size(), 1u);
  EXPECT_FALSE(p.ringChanged);  // it is not in the ring either way
}

TEST(Plan, AddAndRemove) {
  auto p = planBackends(three(), want({{ip("198.18.0.11")}, {ip("198.18.0.13")}, {ip("198.18.0.14"), 2}}));
  EXPECT_EQ(p.remove, std::vector<uint32_t>{2});
  EXPECT_EQ(p.dropFlowsOf, std::vector<uint32_t>{2});
  ASSERT_EQ(p.add.size(), 1u);
  EXPECT_EQ(p.add[0].addr, ip("198.18.0.14"));
  EXPECT_EQ(p.add[0].weight, 2u);
  EXPECT_TRUE(p.ringChanged);
}

TEST(Plan, AddingADownBackendLeavesTheRingAlone) {
  auto p = planBackends(three(), want({{ip("198.18.0.11")}, {ip("198.18.0.12")}, {ip("198.18.0.13")},
                                       {ip("198.18.0.14"), 1, true}}));
  EXPECT_EQ(p.add.size(), 1u);
  EXPECT_FALSE(p.ringChanged);
}

}  // namespace
}  // namespace xlb
