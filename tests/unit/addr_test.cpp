// SPDX-License-Identifier: Apache-2.0
#include "xlb/addr.h"

#include <gtest/gtest.h>
#include <netinet/in.h>

#include <map>
#include <set>

#include "xlb/hash.h"

namespace xlb {
namespace {

TEST(Addr, ParsesBothFamilies) {
  auto a = IpAddr::parse("198.18.0.10");
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->isV4());
  EXPECT_EQ(a->str(), "198.18.0.10");
  auto b = IpAddr::parse("2001:db8::10");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->family, XLB_AF_INET6);
  EXPECT_EQ(b->str(), "2001:db8::10");
}

TEST(Addr, RejectsGarbageWithAHint) {
  auto a = IpAddr::parse("198.18.0.300");
  ASSERT_FALSE(a);
  EXPECT_NE(a.error().message.find("invalid address"), std::string::npos);
}

TEST(Addr, OnlyOrdinaryUnicastIsAHost) {
  for (const char* ok : {"198.18.0.10", "10.1.2.3", "2001:db8::10", "fd00::1"})
    EXPECT_EQ(IpAddr::parse(ok)->unusableReason(), "") << ok;
  for (const char* bad : {"0.0.0.0", "0.1.2.3", "127.0.0.1", "224.0.0.1", "239.255.255.255", "255.255.255.255",
                          "240.0.0.1", "::", "::1", "ff02::1", "fe80::1", "::ffff:198.18.0.1"})
    EXPECT_NE(IpAddr::parse(bad)->unusableReason(), "") << bad;
}

TEST(Endpoint, ParsesV4AndBracketedV6) {
  auto e = Endpoint::parse("198.18.0.10:80");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->port, 80);
  auto f = Endpoint::parse("[2001:db8::1]:443");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->port, 443);
  EXPECT_EQ(f->str(), "[2001:db8::1]:443");
}

TEST(Endpoint, RejectsBadInput) {
  for (const char* bad : {"198.18.0.10", "198.18.0.10:0", "198.18.0.10:70000", "2001:db8::1:80",
                          "[2001:db8::1]80", "x:80", "198.18.0.10:8a"})
    EXPECT_FALSE(Endpoint::parse(bad)) << bad;
}

TEST(Prefix, Parses) {
  auto p = Prefix::parse("198.19.255.0/24");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->len, 24);
  EXPECT_FALSE(Prefix::parse("198.19.255.0/33"));
  EXPECT_FALSE(Prefix::parse("198.19.255.0"));
}

TEST(Proto, Parses) {
  EXPECT_EQ(*parseProto("tcp"), IPPROTO_TCP);
  EXPECT_EQ(*parseProto("udp"), IPPROTO_UDP);
  EXPECT_FALSE(parseProto("sctp"));
}

// The flow hash is shared with the BPF program; pin its value so a change
// that would make xlbctl explain disagree with the data plane is caught.
TEST(FlowHash, IsStableAndSensitiveToEveryField) {
  xlb_flow_key k{};
  k.family = XLB_AF_INET;
  k.proto = IPPROTO_TCP;
  k.src.addr[0] = htonl(0xc6120001);
  k.dst.addr[0] = htonl(0xc6130064);
  k.sport = htons(40000);
  k.dport = htons(80);
  uint32_t h = xlb_hash_flow(&k);
  EXPECT_EQ(h, 2064714526u);
  auto k2 = k;
  k2.sport = htons(40001);
  EXPECT_NE(h, xlb_hash_flow(&k2));
  k2 = k;
  k2.proto = IPPROTO_UDP;
  EXPECT_NE(h, xlb_hash_flow(&k2));
  k2 = k;
  k2.dst.addr[0] = htonl(0xc6130065);
  EXPECT_NE(h, xlb_hash_flow(&k2));
  // IPv6: every word of both addresses counts.
  xlb_flow_key s{};
  s.family = XLB_AF_INET6;
  s.proto = IPPROTO_TCP;
  s.src.addr[0] = htonl(0x20010db8);
  s.src.addr[3] = htonl(1);
  s.dst.addr[0] = htonl(0x20010db8);
  s.dst.addr[3] = htonl(0x100);
  s.sport = htons(40000);
  s.dport = htons(80);
  uint32_t h6 = xlb_hash_flow(&s);
  EXPECT_EQ(h6, 2101581991u);
  for (int w = 0; w < 4; ++w) {
    auto s2 = s;
    s2.src.addr[w] ^= htonl(0x10);
    EXPECT_NE(h6, xlb_hash_flow(&s2)) << w;
    s2 = s;
    s2.dst.addr[w] ^= htonl(0x10);
    EXPECT_NE(h6, xlb_hash_flow(&s2)) << w;
  }
}

}  // namespace
}  // namespace xlb

// The VIP index's start slot: VIPs an operator would configure side by side
// (a grid of neighbouring addresses and ports) must not pile up on a few
// slots, or a ninth VIP on one of them is refused whatever --max-vips is.
TEST(VipHash, NeighbouringAddressesAndPortsSpreadOverTheSlots) {
  for (bool v6 : {false, true}) {
    uint32_t mask = 1023;
    std::set<uint32_t> starts;
    std::map<uint32_t, int> per;
    for (uint32_t a = 1; a <= 16; ++a)
      for (uint16_t p = 8080; p < 8096; ++p) {
        xlb_addr x{};
        if (v6) {
          x.addr[0] = htonl(0x20010db8);
          x.addr[3] = htonl(a);
        } else {
          x.addr[0] = htonl(0x0a000000 + a);
        }
        uint32_t h = xlb_vip_hash(&x, htons(p), IPPROTO_TCP, v6 ? XLB_AF_INET6 : XLB_AF_INET, mask);
        starts.insert(h);
        ++per[h];
      }
    // 256 keys in 1024 slots: about 226 distinct starts if spread at random.
    EXPECT_GT(starts.size(), 200u) << (v6 ? "IPv6" : "IPv4");
    int most = 0;
    for (auto& [h, n] : per) most = std::max(most, n);
    EXPECT_LE(most, 4) << (v6 ? "IPv6" : "IPv4");
  }
}

// The data plane finds a ring slot's chunk by a multiply and a shift; it
// must be the division exactly, for every slot a ring can have (settings
// keep max VIPs x 2 x ring size below 2^30) and at the top of the range.
TEST(RingChunk, MultiplyAndShiftIsTheDivision) {
  for (uint32_t s = 0; s < (1u << 26); ++s)
    ASSERT_EQ(xlb_ring_chunk_of(s), s / XLB_RING_CHUNK) << s;
  for (uint32_t s = 0xffffffffu; s > 0xffffffffu - (1u << 20); --s)
    ASSERT_EQ(xlb_ring_chunk_of(s), s / XLB_RING_CHUNK) << s;
  EXPECT_EQ(xlb_ring_chunks(65537), 2185u);  // 65537 = 2184 * 30 + 17
  EXPECT_EQ(xlb_ring_chunks(30), 1u);
  EXPECT_EQ(xlb_ring_chunks(31), 2u);
}
