// SPDX-License-Identifier: Apache-2.0
// The data plane's VIP index (xlb_vip_table): VIPs whose keys start at the
// same slot, added and deleted in turns, are each found by xlb_xdp exactly
// while they exist.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <unistd.h>

#include "xdp_world.h"
#include "xlb/hash.h"

namespace xlb::test {
namespace {

const Mac kClientMac = mac(0, 1);

class VipIndexTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (CAP_BPF, CAP_NET_ADMIN)";
    world_ = new XdpWorld([](LoadSettings& s) { s.maxVips = 4; });
  }
  static void TearDownTestSuite() {
    delete world_;
    world_ = nullptr;
  }
  void SetUp() override {
    if (!world_) GTEST_SKIP() << "needs root (CAP_BPF, CAP_NET_ADMIN)";
  }

  // Addresses in 198.19.1.0/24 whose VIP key (port 80, TCP) starts at the
  // same slot as the first one found.
  static std::vector<std::string> colliding(size_t n) {
    uint32_t mask = vipSlots(4) - 1;
    std::vector<std::string> out;
    std::optional<uint32_t> home;
    for (int i = 1; i < 255 && out.size() < n; ++i) {
      std::string a = "198.19.1." + std::to_string(i);
      auto k = VipKey{*Endpoint::parse(a + ":80"), IPPROTO_TCP}.toAbi();
      uint32_t h = xlb_vip_hash(&k.addr, k.port, k.proto, k.family, mask);
      if (!home) home = h;
      if (h == *home) out.push_back(a);
    }
    return out;
  }
  static VipKey key(const std::string& a) { return VipKey{*Endpoint::parse(a + ":80"), IPPROTO_TCP}; }
  static void add(const std::string& a) {
    ASSERT_TRUE(world_->dp().addVip(key(a), XLB_FWD_L2DSR));
    ASSERT_TRUE(world_->dp().addBackend(key(a), *IpAddr::parse("198.18.0.11"), 1, nullptr));
  }
  static void del(const std::string& a) { ASSERT_TRUE(world_->dp().delVip(key(a))); }
  // What xlb_xdp does with a SYN to a:80.
  static int verdict(const std::string& a) {
    Bytes l3 = ipv4(v4("198.18.0.1"), v4(a.c_str()), IPPROTO_TCP, tcp(40000, 80));
    return world_->run(eth(kLbMac, kClientMac, 0x0800, l3)).action;
  }

  static XdpWorld* world_;
};

XdpWorld* VipIndexTest::world_ = nullptr;

TEST_F(VipIndexTest, VipsSharingAStartSlotAreFoundExactlyWhileTheyExist) {
  auto a = colliding(3);
  ASSERT_EQ(a.size(), 3u) << "no three colliding keys in 198.19.1.0/24";
  std::set<std::string> live;
  auto check = [&](const char* step) {
    for (const auto& x : a)
      EXPECT_EQ(verdict(x), live.count(x) ? XDP_TX : XDP_PASS) << step << ": " << x;
  };
  for (const auto& x : a) {
    add(x);
    live.insert(x);
  }
  check("three added");
  del(a[1]);  // the middle of the run: a[2] must still be found past it
  live.erase(a[1]);
  check("middle deleted");
  add(a[1]);  // takes the deleted slot back
  live.insert(a[1]);
  check("middle added again");
  for (const auto& x : {a[2], a[0], a[1]}) {
    del(x);
    live.erase(x);
    check("deleted one more");
  }
  // Everything deleted, then all three added again.
  for (const auto& x : a) add(x);
  live.insert(a.begin(), a.end());
  check("added again after all were deleted");
  for (const auto& x : a) del(x);
}

}  // namespace
}  // namespace xlb::test
