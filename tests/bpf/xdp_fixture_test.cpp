// SPDX-License-Identifier: Apache-2.0
// xlb_xdp through BPF_PROG_TEST_RUN: for each input packet, the verdict, the
// output bytes (exact), and exactly one reason counter moved by one.
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <unistd.h>

#include <set>

#include "xdp_world.h"
#include "xlb/hash.h"

namespace xlb::test {
namespace {

const auto kClient4 = v4("198.18.0.1");
const auto kClient6 = v6("2001:db8:0:1::1");
const Mac kClientMac = mac(0, 1);

VipKey vk(const char* ep, uint8_t proto = IPPROTO_TCP) { return VipKey{*Endpoint::parse(ep), proto}; }
IpAddr ip(const char* s) { return *IpAddr::parse(s); }

class XdpFixture : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (CAP_BPF, CAP_NET_ADMIN)";
    world_ = new XdpWorld();
    auto& dp = world_->dp();
    auto add = [&](const char* ep, uint8_t fwd, std::initializer_list<const char*> bes,
                   uint8_t proto = IPPROTO_TCP) {
      ASSERT_TRUE(dp.addVip(vk(ep, proto), fwd));
      for (const char* b : bes) ASSERT_TRUE(dp.addBackend(vk(ep, proto), ip(b), 1, nullptr));
    };
    add("198.19.0.1:80", XLB_FWD_L2DSR, {"198.18.0.11", "198.18.0.12", "198.18.0.13"});
    add("198.19.0.2:80", XLB_FWD_IPIP, {"198.18.0.11", "198.18.0.12", "198.18.0.13"});
    add("[2001:db8:100::1]:80", XLB_FWD_L2DSR, {"2001:db8:0:1::11", "2001:db8:0:1::12", "2001:db8:0:1::13"});
    add("[2001:db8:100::2]:80", XLB_FWD_IPIP, {"2001:db8:0:1::11", "2001:db8:0:1::12", "2001:db8:0:1::13"});
    add("198.19.0.3:80", XLB_FWD_IPIP, {"2001:db8:0:1::11"});
    add("198.19.0.1:53", XLB_FWD_L2DSR, {"198.18.0.11", "198.18.0.12"}, IPPROTO_UDP);
    add("198.19.0.9:80", XLB_FWD_L2DSR, {});
    add("198.19.0.4:80", XLB_FWD_L2DSR, {"198.18.1.11"});
    add("198.19.0.6:80", XLB_FWD_L2DSR, {"198.18.0.99"});
    add("198.19.0.7:80", XLB_FWD_L2DSR, {"198.19.200.1"});
    add("198.19.0.8:80", XLB_FWD_L2DSR, {"198.18.0.11", "198.18.0.12", "198.18.0.13"});
    uint32_t ifx = world_->redirIfindex();
    ASSERT_EQ(bpf_map_update_elem(world_->txPortsFd(), &ifx, &ifx, BPF_ANY), 0);
  }
  static void TearDownTestSuite() {
    delete world_;
    world_ = nullptr;
  }
  void SetUp() override {
    if (!world_) GTEST_SKIP() << "needs root (CAP_BPF, CAP_NET_ADMIN)";
    ASSERT_TRUE(world_->dp().flushFlows());
  }

  std::vector<xlb_counter> reasons() {
    auto s = world_->dp().stats();
    EXPECT_TRUE(s);
    return s->reasons;
  }

  // Runs one packet; asserts exactly one reason counter moved, by one packet
  // of this packet's length, and that it is `reason`.
  RunResult run(const Bytes& in, uint32_t reason, int action) {
    auto before = reasons();
    RunResult r = world_->run(in);
    auto after = reasons();
    int moved = 0;
    for (uint32_t i = 0; i < XLB_R_MAX; ++i) {
      uint64_t dp = after[i].packets - before[i].packets;
      if (dp == 0) continue;
      ++moved;
      EXPECT_EQ(dp, 1u) << reasonName(i);
      EXPECT_EQ(after[i].bytes - before[i].bytes, in.size()) << reasonName(i);
      EXPECT_EQ(i, reason) << "counted as " << reasonName(i) << ", expected " << reasonName(reason);
    }
    EXPECT_EQ(moved, 1) << "exactly one reason counter must move";
    EXPECT_EQ(r.action, action);
    return r;
  }

  // The backend the flow was recorded on (by flow table), as an address.
  std::optional<IpAddr> flowBackend(const Bytes& l3, bool v6) {
    xlb_flow_key k = keyOf(l3, v6);
    auto e = world_->dp().explain(k);
    if (!e || !e->backend) return std::nullopt;
    return e->backend->addr;
  }

  static xlb_flow_key keyOf(const Bytes& l3, bool) { return flowKeyOf(l3); }

  static int backendIndex(const IpAddr& a) { return a.isV4() ? a.bytes[3] : macIndex(a.bytes[15]); }

  static XdpWorld* world_;
};

XdpWorld* XdpFixture::world_ = nullptr;

// The outer IPv6 source for flow hash h: 2001:db8:ff::/64 with the flow
// hash in the last 32 bits.
std::array<uint8_t, 16> encapSrc6(uint32_t h) {
  auto src = v6("2001:db8:ff::");
  src[12] = h >> 24, src[13] = h >> 16, src[14] = h >> 8, src[15] = h;
  return src;
}

Bytes synV4(const char* vip, uint16_t sport, uint16_t dport = 80, Ip4Opts o = {}) {
  return ipv4(kClient4, v4(vip), IPPROTO_TCP, tcp(sport, dport), o);
}
Bytes synV6(const char* vip, uint16_t sport) {
  return ipv6(kClient6, v6(vip), IPPROTO_TCP, tcp(sport, 80));
}

TEST_F(XdpFixture, Ipv4SynL2dsrRewritesMacsOnly) {
  Bytes l3 = synV4("198.19.0.1", 40000);
  auto r = run(eth(kLbMac, kClientMac, 0x0800, l3), XLB_R_TX_FLOW_NEW, XDP_TX);
  auto be = flowBackend(l3, false);
  ASSERT_TRUE(be);
  EXPECT_EQ(r.out, eth(backendMac(backendIndex(*be)), kLbMac, 0x0800, l3)) << hexdump(r.out);
}

TEST_F(XdpFixture, NextPacketOfFlowGoesToSameBackend) {
  Bytes syn = synV4("198.19.0.1", 40001);
  auto first = run(eth(kLbMac, kClientMac, 0x0800, syn), XLB_R_TX_FLOW_NEW, XDP_TX);
  Bytes ack = ipv4(kClient4, v4("198.19.0.1"), IPPROTO_TCP, tcp(40001, 80, kAck, 100));
  auto second = run(eth(kLbMac, kClientMac, 0x0800, ack), XLB_R_TX_FLOW_HIT, XDP_TX);
  EXPECT_TRUE(std::equal(first.out.begin(), first.out.begin() + 6, second.out.begin()));
  EXPECT_EQ(Bytes(second.out.begin() + 14, second.out.end()), ack);
}

TEST_F(XdpFixture, Ipv4SynIpipEncapsulates) {
  Ip4Opts o;
  o.tos = 0xb8;  // DSCP EF
  Bytes l3 = synV4("198.19.0.2", 40002, 80, o);
  auto r = run(eth(kLbMac, kClientMac, 0x0800, l3), XLB_R_TX_FLOW_NEW, XDP_TX);
  auto be = flowBackend(l3, false);
  ASSERT_TRUE(be);
  xlb_flow_key k = keyOf(l3, false);
  uint32_t h = xlb_hash_flow(&k);
  auto src = v4("198.19.255.0");
  src[3] = h & 0xff;
  std::array<uint8_t, 4> dst{};
  std::memcpy(dst.data(), be->bytes.data(), 4);
  Ip4Opts outer;
  outer.tos = 0xb8;
  Bytes want = eth(backendMac(backendIndex(*be)), kLbMac, 0x0800, ipv4(src, dst, 4, l3, outer));
  EXPECT_EQ(r.out, want) << "got\n" << hexdump(r.out) << "\nwant\n" << hexdump(want);
}

TEST_F(XdpFixture, Ipv6SynL2dsr) {
  Bytes l3 = synV6("2001:db8:100::1", 40003);
  auto r = run(eth(kLbMac, kClientMac, 0x86dd, l3), XLB_R_TX_FLOW_NEW, XDP_TX);
  auto be = flowBackend(l3, true);
  ASSERT_TRUE(be);
  EXPECT_EQ(r.out, eth(backendMac(backendIndex(*be)), kLbMac, 0x86dd, l3));
}

TEST_F(XdpFixture, Ipv6SynIpipEncapsulates6in6) {
  Bytes l3 = ipv6(kClient6, v6("2001:db8:100::2"), IPPROTO_TCP, tcp(40004, 80), 0x28);
  auto r = run(eth(kLbMac, kClientMac, 0x86dd, l3), XLB_R_TX_FLOW_NEW, XDP_TX);
  auto be = flowBackend(l3, true);
  ASSERT_TRUE(be);
  xlb_flow_key k = keyOf(l3, true);
  uint32_t h = xlb_hash_flow(&k);
  auto src = encapSrc6(h);
  std::array<uint8_t, 16> dst{};
  std::memcpy(dst.data(), be->bytes.data(), 16);
  Bytes want = eth(backendMac(backendIndex(*be)), kLbMac, 0x86dd, ipv6(src, dst, 41, l3, 0x28, h));
  EXPECT_EQ(r.out, want) << "got\n" << hexdump(r.out) << "\nwant\n" << hexdump(want);
}

TEST_F(XdpFixture, Ipv4VipToIpv6BackendEncapsulates4in6) {
  Bytes l3 = synV4("198.19.0.3", 40005);
  auto r = run(eth(kLbMac, kClientMac, 0x0800, l3), XLB_R_TX_FLOW_NEW, XDP_TX);
  xlb_flow_key k = keyOf(l3, false);
  uint32_t h = xlb_hash_flow(&k);
  auto src = encapSrc6(h);
  Bytes want = eth(backendMac(11), kLbMac, 0x86dd, ipv6(src, v6("2001:db8:0:1::11"), 4, l3, 0, h));
  EXPECT_EQ(r.out, want) << "got\n" << hexdump(r.out) << "\nwant\n" << hexdump(want);
}

TEST_F(XdpFixture, UdpVip) {
  Bytes l3 = ipv4(kClient4, v4("198.19.0.1"), IPPROTO_UDP, udp(5353, 53));
  auto r = run(eth(kLbMac, kClientMac, 0x0800, l3), XLB_R_TX_FLOW_NEW, XDP_TX);
  auto be = flowBackend(l3, false);
  ASSERT_TRUE(be);
  EXPECT_EQ(r.out, eth(backendMac(backendIndex(*be)), kLbMac, 0x0800, l3));
}

TEST_F(XdpFixture, NonVipAndArpPassUntouched) {
  struct Case {
    const char* name;
    Bytes pkt;
  } cases[] = {
      {"tcp to another address", eth(kLbMac, kClientMac, 0x0800, synV4("198.18.0.2", 40006))},
      {"tcp to a VIP address, other port", eth(kLbMac, kClientMac, 0x0800, synV4("198.19.0.1", 40006, 81))},
      {"udp to a tcp VIP", eth(kLbMac, kClientMac, 0x0800,
                                ipv4(kClient4, v4("198.19.0.1"), IPPROTO_UDP, udp(1, 80)))},
      {"icmp echo to a VIP", eth(kLbMac, kClientMac, 0x0800,
                                  ipv4(kClient4, v4("198.19.0.1"), IPPROTO_ICMP, icmp(8, 0, 1, Bytes(8, 0))))},
      {"ipv6 to another address", eth(kLbMac, kClientMac, 0x86dd, synV6("2001:db8:0:1::2", 1))},
  };
  for (auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = run(c.pkt, XLB_R_PASS_NOT_VIP, XDP_PASS);
    EXPECT_EQ(r.out, c.pkt);
  }
  Bytes arp{0, 1, 8, 0, 6, 4, 0, 1};
  arp.resize(28, 0);
  Bytes arpFrame = eth({0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, kClientMac, 0x0806, arp);
  auto r = run(arpFrame, XLB_R_PASS_NOT_IP, XDP_PASS);
  EXPECT_EQ(r.out, arpFrame);
}

TEST_F(XdpFixture, TruncatedOrInconsistentHeadersAreDroppedAsMalformed) {
  Bytes good = eth(kLbMac, kClientMac, 0x0800, synV4("198.19.0.1", 40007));
  Bytes good6 = eth(kLbMac, kClientMac, 0x86dd, synV6("2001:db8:100::1", 40007));
  Bytes badIhl = good;
  badIhl[14] = 0x44;  // IHL 4 < 5
  Bytes longTot = good;
  longTot[17] += 40;  // tot_len beyond the frame
  Bytes badDoff = good;
  badDoff[14 + 20 + 12] = 0x30;  // TCP doff 3
  struct Case {
    const char* name;
    Bytes pkt;
  } cases[] = {
      {"vlan tag cut", Bytes(good.begin(), good.begin() + 12) + Bytes{0x81, 0x00, 0x00}},
      {"ipv4 header cut", Bytes(good.begin(), good.begin() + 14 + 10)},
      {"tcp header cut", Bytes(good.begin(), good.begin() + 14 + 20 + 10)},
      {"ipv6 header cut", Bytes(good6.begin(), good6.begin() + 14 + 30)},
      {"tcp cut after ipv6", Bytes(good6.begin(), good6.begin() + 14 + 40 + 8)},
      {"ihl below 5", badIhl},
      {"tot_len beyond frame", longTot},
      {"tcp doff below 5", badDoff},
  };
  for (auto& c : cases) {
    SCOPED_TRACE(c.name);
    run(c.pkt, XLB_R_DROP_MALFORMED, XDP_DROP);
  }
}

// Headers are bounded by the datagram's own length, not by the frame: what
// follows the datagram is Ethernet padding, never a header.
TEST_F(XdpFixture, L4HeadersMustLieInsideTheDatagram) {
  auto withTot = [](Bytes l3, uint16_t tot) {  // IPv4 tot_len rewritten, checksum fixed
    l3[2] = tot >> 8, l3[3] = tot & 0xff, l3[10] = l3[11] = 0;
    uint16_t c = csum(l3.data(), 20);
    l3[10] = c >> 8, l3[11] = c & 0xff;
    return l3;
  };
  Bytes syn = synV4("198.19.0.1", 40030);
  Bytes seg20 = ipv4(kClient4, v4("198.19.0.1"), IPPROTO_TCP, tcp(40030, 80));
  Bytes bigDoff = seg20;
  bigDoff[20 + 12] = 0xf0;  // 60-byte TCP header in a 20-byte segment
  Bytes udpShort = ipv4(kClient4, v4("198.19.0.1"), IPPROTO_UDP, udp(5353, 53, 8));
  udpShort[20 + 5] = 8;  // UDP length 8 in a 16-byte payload
  Bytes udpLong = ipv4(kClient4, v4("198.19.0.1"), IPPROTO_UDP, udp(5353, 53, 8));
  udpLong[20 + 5] = 40;  // UDP length beyond the datagram
  Bytes udpTiny = ipv4(kClient4, v4("198.19.0.1"), IPPROTO_UDP, udp(5353, 53, 0));
  udpTiny[20 + 5] = 4;  // below the UDP header itself
  Bytes v6 = synV6("2001:db8:100::1", 40030);
  Bytes v6short = v6;
  v6short[5] = 10;  // payload length 10: the TCP header runs into padding
  struct Case {
    const char* name;
    Bytes pkt;
  } cases[] = {
      {"tcp header in the padding", eth(kLbMac, kClientMac, 0x0800, withTot(syn, 30))},
      {"ip header only, tcp in the padding", eth(kLbMac, kClientMac, 0x0800, withTot(syn, 20))},
      {"tcp data offset beyond the segment", eth(kLbMac, kClientMac, 0x0800, bigDoff)},
      {"udp length shorter than the datagram", eth(kLbMac, kClientMac, 0x0800, udpShort)},
      {"udp length beyond the datagram", eth(kLbMac, kClientMac, 0x0800, udpLong)},
      {"udp length below its header", eth(kLbMac, kClientMac, 0x0800, udpTiny)},
      {"ipv6 tcp header in the padding", eth(kLbMac, kClientMac, 0x86dd, v6short)},
  };
  for (auto& c : cases) {
    SCOPED_TRACE(c.name);
    run(c.pkt, XLB_R_DROP_MALFORMED, XDP_DROP);
  }
  // Real padding after a whole datagram is fine: forwarded as it came.
  Bytes padded = eth(kLbMac, kClientMac, 0x0800, syn) + Bytes(6, 0);
  auto r = run(padded, XLB_R_TX_FLOW_NEW, XDP_TX);
  EXPECT_EQ(Bytes(r.out.begin() + 12, r.out.end()), Bytes(padded.begin() + 12, padded.end()));
}

// An ICMP error is forwarded only when what it quotes is a whole IP header
// of the right version, with its ports, inside the ICMP datagram, and the
// error is addressed to the quoted packet's source (the VIP).
TEST_F(XdpFixture, IcmpErrorsQuotingBadHeadersAreDropped) {
  Bytes quoted = ipv4(v4("198.19.0.1"), kClient4, IPPROTO_TCP, tcp(80, 40031, kAck));
  quoted.resize(28);
  auto err4 = [](const Bytes& q, const char* to = "198.19.0.1") {
    return ipv4(v4("198.18.0.1"), v4(to), IPPROTO_ICMP, icmp(3, 4, 1400, q));
  };
  Bytes wrongVersion = quoted;
  wrongVersion[0] = 0x65;
  Bytes shortIhl = quoted;
  shortIhl[0] = 0x44;
  Bytes longIhl = quoted;
  longIhl[0] = 0x4f;  // 60-byte header: the ports would lie beyond the datagram
  Bytes laterFragment = quoted;
  laterFragment[6] = 0x00, laterFragment[7] = 0x10;
  Bytes cut = quoted;
  cut.resize(22);  // quoted header cut short
  Bytes inPadding = err4(Bytes(quoted.begin(), quoted.begin() + 20));
  Bytes q6 = ipv6(v6("2001:db8:100::1"), kClient6, IPPROTO_TCP, tcp(80, 40031, kAck));
  q6.resize(48);
  Bytes q6v4 = q6;
  q6v4[0] = 0x45;
  struct Case {
    const char* name;
    Bytes pkt;
  } cases[] = {
      {"quoted ip version 6 in icmpv4", eth(kLbMac, kClientMac, 0x0800, err4(wrongVersion))},
      {"quoted ihl below 5", eth(kLbMac, kClientMac, 0x0800, err4(shortIhl))},
      {"quoted ports beyond the datagram", eth(kLbMac, kClientMac, 0x0800, err4(longIhl))},
      {"quoted later fragment", eth(kLbMac, kClientMac, 0x0800, err4(laterFragment))},
      {"quoted header cut", eth(kLbMac, kClientMac, 0x0800, err4(cut))},
      // The ICMP datagram ends inside the quoted header; the rest of the
      // frame (the ports) is padding.
      {"quoted ports in the padding", eth(kLbMac, kClientMac, 0x0800, inPadding) + Bytes{0x00, 0x50, 0x9c, 0x5f}},
      {"quoted ip version 4 in icmpv6", eth(kLbMac, kClientMac, 0x86dd,
                                             ipv6(v6("2001:db8:0:1::1"), v6("2001:db8:100::1"), 58,
                                                  icmp(2, 0, 1280, q6v4)))},
  };
  for (auto& c : cases) {
    SCOPED_TRACE(c.name);
    run(c.pkt, XLB_R_DROP_MALFORMED, XDP_DROP);
  }
  // Well-formed, but addressed elsewhere than the quoted source: not about
  // a VIP flow of ours, the kernel's business.
  Bytes elsewhere = eth(kLbMac, kClientMac, 0x0800, err4(quoted, "198.18.0.2"));
  EXPECT_EQ(run(elsewhere, XLB_R_PASS_NOT_VIP, XDP_PASS).out, elsewhere);
}

// bpf_fib_lookup cannot forward from an interface with forwarding off: the
// packet is passed and counted under its own reason (the kernel drops it).
TEST_F(XdpFixture, ForwardingDisabledOnTheIngressInterfaceIsNamed) {
  ScopedNetns::sh("sysctl -qw net.ipv4.conf.xt0.forwarding=0");
  Bytes in = eth(kLbMac, kClientMac, 0x0800, synV4("198.19.0.1", 40032));
  auto r = run(in, XLB_R_PASS_FWD_DISABLED, XDP_PASS);
  ScopedNetns::sh("sysctl -qw net.ipv4.conf.xt0.forwarding=1");
  EXPECT_EQ(r.out, in);
  run(eth(kLbMac, kClientMac, 0x0800, synV4("198.19.0.1", 40033)), XLB_R_TX_FLOW_NEW, XDP_TX);
}

TEST_F(XdpFixture, Ipv4OptionsAreSkippedNotRejected) {
  Ip4Opts o;
  o.options = {0x01, 0x01, 0x01, 0x00, 0x94, 0x04, 0x00, 0x00};  // NOPs + router alert
  Bytes l3 = synV4("198.19.0.1", 40008, 80, o);
  auto r = run(eth(kLbMac, kClientMac, 0x0800, l3), XLB_R_TX_FLOW_NEW, XDP_TX);
  auto be = flowBackend(l3, false);
  ASSERT_TRUE(be);
  EXPECT_EQ(r.out, eth(backendMac(backendIndex(*be)), kLbMac, 0x0800, l3));
}

TEST_F(XdpFixture, FragmentsAndExtensionHeadersToAVipAreDropped) {
  Ip4Opts mf;
  mf.frag = 0x2000;  // MF
  Ip4Opts off;
  off.frag = 0x0010;  // offset 128
  run(eth(kLbMac, kClientMac, 0x0800, synV4("198.19.0.1", 40009, 80, mf)), XLB_R_DROP_FRAGMENT, XDP_DROP);
  run(eth(kLbMac, kClientMac, 0x0800, ipv4(kClient4, v4("198.19.0.1"), IPPROTO_TCP, Bytes(16, 0), off)),
      XLB_R_DROP_FRAGMENT, XDP_DROP);
  Bytes frag6 = cat(Bytes{IPPROTO_TCP, 0, 0, 1, 0, 0, 0, 7}, tcp(40009, 80));
  run(eth(kLbMac, kClientMac, 0x86dd, ipv6(kClient6, v6("2001:db8:100::1"), 44, frag6)), XLB_R_DROP_FRAGMENT,
      XDP_DROP);
  Bytes hbh = cat(Bytes{IPPROTO_TCP, 0, 1, 4, 0, 0, 0, 0}, tcp(40009, 80));
  run(eth(kLbMac, kClientMac, 0x86dd, ipv6(kClient6, v6("2001:db8:100::1"), 0, hbh)), XLB_R_DROP_IPV6_EXT,
      XDP_DROP);
  // The same to a non-VIP address is the kernel's business.
  Bytes other = eth(kLbMac, kClientMac, 0x0800, synV4("198.18.0.2", 40009, 80, mf));
  EXPECT_EQ(run(other, XLB_R_PASS_NOT_VIP, XDP_PASS).out, other);
}

// An HTTP VIP is xlbd's proxy's: its packets pass to the stack untouched,
// and so do fragments to its address, even where an l4 VIP shares it.
TEST_F(XdpFixture, HttpVipsAndFragmentsToTheirAddressPassToTheStack) {
  auto& dp = world_->dp();
  ASSERT_TRUE(dp.setL7Vip(vk("198.19.0.1:443")));
  Bytes syn = eth(kLbMac, kClientMac, 0x0800, synV4("198.19.0.1", 40040, 443));
  EXPECT_EQ(run(syn, XLB_R_PASS_L7, XDP_PASS).out, syn);
  Ip4Opts mf;
  mf.frag = 0x2000;
  Bytes frag = eth(kLbMac, kClientMac, 0x0800, synV4("198.19.0.1", 40041, 80, mf));
  EXPECT_EQ(run(frag, XLB_R_PASS_L7, XDP_PASS).out, frag);
  // The l4 VIP on that address still balances.
  run(eth(kLbMac, kClientMac, 0x0800, synV4("198.19.0.1", 40042)), XLB_R_TX_FLOW_NEW, XDP_TX);
  // An address with l4 VIPs only still drops its fragments.
  run(eth(kLbMac, kClientMac, 0x0800, synV4("198.19.0.2", 40043, 80, mf)), XLB_R_DROP_FRAGMENT, XDP_DROP);
  ASSERT_TRUE(dp.delVip(vk("198.19.0.1:443")));
  run(frag, XLB_R_DROP_FRAGMENT, XDP_DROP);
}

// Once an HTTP VIP makes an address local, an l4 VIP packet to it that
// cannot be forwarded must not reach the stack: it would answer with a
// reset. Elsewhere such packets still go to the kernel.
TEST_F(XdpFixture, UnforwardableL4PacketsToALocalAddressAreDroppedNotReset) {
  ASSERT_TRUE(world_->dp().setL7Vip(vk("198.19.0.1:443")));
  ScopedNetns::sh("sysctl -qw net.ipv4.conf.xt0.forwarding=0");
  Bytes local = eth(kLbMac, kClientMac, 0x0800, synV4("198.19.0.1", 40050));
  Bytes remote = eth(kLbMac, kClientMac, 0x0800, synV4("198.19.0.2", 40050));
  run(local, XLB_R_DROP_UNFORWARDABLE_LOCAL, XDP_DROP);
  auto b = run(remote, XLB_R_PASS_FWD_DISABLED, XDP_PASS);
  ScopedNetns::sh("sysctl -qw net.ipv4.conf.xt0.forwarding=1");
  EXPECT_EQ(b.out, remote);
  run(eth(kLbMac, kClientMac, 0x0800, synV4("198.19.0.1", 40051)), XLB_R_TX_FLOW_NEW, XDP_TX);
  ASSERT_TRUE(world_->dp().delVip(vk("198.19.0.1:443")));
  ScopedNetns::sh("sysctl -qw net.ipv4.conf.xt0.forwarding=0");
  run(eth(kLbMac, kClientMac, 0x0800, synV4("198.19.0.1", 40052)), XLB_R_PASS_FWD_DISABLED, XDP_PASS);
  ScopedNetns::sh("sysctl -qw net.ipv4.conf.xt0.forwarding=1");
}

TEST_F(XdpFixture, VlanTaggedKeepsItsTag) {
  Bytes l3 = synV4("198.19.0.1", 40010);
  auto r = run(eth(kLbMac, kClientMac, 0x0800, l3, 42), XLB_R_TX_FLOW_NEW, XDP_TX);
  auto be = flowBackend(l3, false);
  ASSERT_TRUE(be);
  EXPECT_EQ(r.out, eth(backendMac(backendIndex(*be)), kLbMac, 0x0800, l3, 42));
  Bytes l3b = synV4("198.19.0.2", 40010);  // ipip behind the tag
  auto r2 = run(eth(kLbMac, kClientMac, 0x0800, l3b, 42), XLB_R_TX_FLOW_NEW, XDP_TX);
  ASSERT_GE(r2.out.size(), 18u + 20u);
  EXPECT_EQ(r2.out[12], 0x81);
  EXPECT_EQ(r2.out[14], 0x00);
  EXPECT_EQ(r2.out[15], 42);
  EXPECT_EQ(r2.out[16], 0x08);
  EXPECT_EQ(r2.out[18], 0x45);
  EXPECT_EQ(r2.out[18 + 9], 4);  // IPPROTO_IPIP
  EXPECT_EQ(Bytes(r2.out.begin() + 38, r2.out.end()), l3b);
}

// Sends n new flows to a VIP; returns backend index -> count.
std::map<int, int> spread(XdpFixture* f, XdpWorld& w, const char* vip, int n, uint16_t base) {
  std::map<int, int> got;
  for (int i = 0; i < n; ++i) {
    auto r = w.run(eth(kLbMac, kClientMac, 0x0800, synV4(vip, base + i)));
    EXPECT_EQ(r.action, XDP_TX);
    got[macIndex(r.out[5])]++;
  }
  (void)f;
  return got;
}

TEST_F(XdpFixture, DrainedBackendKeepsItsFlowsButGetsNoNewOnes) {
  auto& dp = world_->dp();
  Bytes syn = synV4("198.19.0.8", 41000);
  auto r = run(eth(kLbMac, kClientMac, 0x0800, syn), XLB_R_TX_FLOW_NEW, XDP_TX);
  int drained = macIndex(r.out[5]);
  std::string addr = "198.18.0." + std::to_string(drained);
  ASSERT_TRUE(dp.setWeight(vk("198.19.0.8:80"), ip(addr.c_str()), 0));
  Bytes ack = ipv4(kClient4, v4("198.19.0.8"), IPPROTO_TCP, tcp(41000, 80, kAck, 10));
  auto r2 = run(eth(kLbMac, kClientMac, 0x0800, ack), XLB_R_TX_FLOW_HIT, XDP_TX);
  EXPECT_EQ(macIndex(r2.out[5]), drained);
  auto got = spread(this, *world_, "198.19.0.8", 200, 42000);
  EXPECT_EQ(got.count(drained), 0u);
  EXPECT_EQ(got.size(), 2u);
  ASSERT_TRUE(dp.setWeight(vk("198.19.0.8:80"), ip(addr.c_str()), 1));
}

// Where a ring slot has not moved since its flows began, a TCP packet that
// is not a SYN goes by the ring alone (the table could only agree); a slot
// that moved is looked up in the flow table until no recorded flow there
// needs another backend.
TEST_F(XdpFixture, MovedRingSlotsAreConsultedUntilNoFlowNeedsThem) {
  auto& dp = world_->dp();
  auto key = vk("198.19.0.8:80");
  auto moved = [&] {
    auto e = dp.ringEntries(*dp.vip(key));
    EXPECT_TRUE(e);
    return std::count_if(e->begin(), e->end(), [](uint32_t x) { return (x & kRingMoved) != 0; });
  };
  auto frame = [](uint16_t port, uint8_t flags) {
    return eth(kLbMac, kClientMac, 0x0800, ipv4(kClient4, v4("198.19.0.8"), IPPROTO_TCP, tcp(port, 80, flags, 10)));
  };
  ASSERT_TRUE(dp.flushFlows());
  EXPECT_EQ(moved(), 0) << "a flush leaves no flow that would need a moved slot";
  // A stray ACK (its SYN never seen) goes where the ring says; during one
  // ~4 ms window in 16 (chosen by its hash, so at least every 67 ms) its
  // packets take the long way and record it: a flow that goes on is
  // recorded soon. Sent for up to a second, every packet to the ring's pick.
  Bytes strayL3 = ipv4(kClient4, v4("198.19.0.8"), IPPROTO_TCP, tcp(47000, 80, kAck, 10));
  auto ringPick = flowBackend(strayL3, false);
  ASSERT_TRUE(ringPick);
  // (Looked up by its key, not by listing the table: a walk of its 2M
  // slots per family between packets, slow in the sanitizer build, let the
  // packets miss the window.)
  uint32_t vipId = dp.vip(key)->id;
  auto recorded = [&] { return dp.flowTable().find(flowKeyOf(strayL3), vipId).has_value(); };
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while (!recorded() && std::chrono::steady_clock::now() < until) {
    auto r = world_->run(frame(47000, kAck));
    ASSERT_EQ(r.action, XDP_TX);
    EXPECT_EQ(macIndex(r.out[5]), backendIndex(*ringPick));
  }
  EXPECT_EQ(dp.flows(10)->total, 1u);
  ASSERT_TRUE(dp.flushFlows());
  std::map<uint16_t, int> at;
  for (uint16_t p = 47100; p < 47200; ++p)
    at[p] = macIndex(run(eth(kLbMac, kClientMac, 0x0800, synV4("198.19.0.8", p)), XLB_R_TX_FLOW_NEW, XDP_TX).out[5]);
  EXPECT_EQ(dp.flows(0)->total, 100u);
  // A retransmitted SYN is the flow it was: a hit, the same backend.
  EXPECT_EQ(macIndex(run(eth(kLbMac, kClientMac, 0x0800, synV4("198.19.0.8", 47100)), XLB_R_TX_FLOW_HIT, XDP_TX).out[5]),
            at[47100]);
  // Draining a backend moves its slots; its flows stay on it.
  int drained = at[47100];
  std::string addr = "198.18.0." + std::to_string(drained);
  ASSERT_TRUE(dp.setWeight(key, ip(addr.c_str()), 0));
  auto marked = moved();
  EXPECT_GT(marked, static_cast<long>(dp.ringEntries(*dp.vip(key))->size() / 5));  // about a third moved
  auto allStay = [&] {
    for (auto [p, b] : at) EXPECT_EQ(macIndex(run(frame(p, kAck), XLB_R_TX_FLOW_HIT, XDP_TX).out[5]), b) << p;
  };
  allStay();
  // Clearing keeps exactly what those flows need (one slot each at most).
  auto cleared = dp.clearMovedSlots();
  ASSERT_TRUE(cleared);
  auto kept = moved();
  EXPECT_GT(kept, 0);
  EXPECT_LE(kept, std::count_if(at.begin(), at.end(), [&](auto& x) { return x.second == drained; }));
  EXPECT_EQ(static_cast<long>(*cleared), marked - kept);
  allStay();
  // New flows avoid the drained backend, on cleared and kept slots alike.
  EXPECT_EQ(spread(this, *world_, "198.19.0.8", 200, 47300).count(drained), 0u);
  ASSERT_TRUE(dp.setWeight(key, ip(addr.c_str()), 1));
  allStay();
  // Every backend drained: the ring is empty, yet every flow keeps going
  // (the emptied slots are marked too); a new one has nowhere to go.
  std::set<int> all;
  for (auto [p, b] : at) all.insert(b);
  ASSERT_EQ(all.size(), 3u);
  ASSERT_TRUE(dp.flushFlows());
  for (auto [p, b] : at) run(eth(kLbMac, kClientMac, 0x0800, synV4("198.19.0.8", p)), XLB_R_TX_FLOW_NEW, XDP_TX);
  for (int b : all) ASSERT_TRUE(dp.setWeight(key, ip(("198.18.0." + std::to_string(b)).c_str()), 0));
  allStay();
  run(eth(kLbMac, kClientMac, 0x0800, synV4("198.19.0.8", 47900)), XLB_R_DROP_NO_BACKEND, XDP_DROP);
  for (int b : all) ASSERT_TRUE(dp.setWeight(key, ip(("198.18.0." + std::to_string(b)).c_str()), 1));
  allStay();
  ASSERT_TRUE(dp.flushFlows());
  EXPECT_EQ(moved(), 0);
}

TEST_F(XdpFixture, RemovedBackendGetsNoNewFlowsAndItsFlowsMove) {
  auto& dp = world_->dp();
  Bytes syn = synV4("198.19.0.8", 43000);
  auto r = run(eth(kLbMac, kClientMac, 0x0800, syn), XLB_R_TX_FLOW_NEW, XDP_TX);
  int gone = macIndex(r.out[5]);
  std::string addr = "198.18.0." + std::to_string(gone);
  ASSERT_TRUE(dp.delBackend(vk("198.19.0.8:80"), ip(addr.c_str())));
  Bytes ack = ipv4(kClient4, v4("198.19.0.8"), IPPROTO_TCP, tcp(43000, 80, kAck, 10));
  auto r2 = run(eth(kLbMac, kClientMac, 0x0800, ack), XLB_R_TX_FLOW_NEW, XDP_TX);
  EXPECT_NE(macIndex(r2.out[5]), gone);
  auto got = spread(this, *world_, "198.19.0.8", 200, 44000);
  EXPECT_EQ(got.count(gone), 0u);
  ASSERT_TRUE(dp.addBackend(vk("198.19.0.8:80"), ip(addr.c_str()), 1, nullptr));
}

// xlbd's path: syncVip makes a VIP's backends what health says, in one
// step; a down backend leaves the ring and its flows are re-balanced.
TEST_F(XdpFixture, SyncVipTakesADownBackendOutAndBringsItBack) {
  auto& dp = world_->dp();
  auto key = vk("198.19.0.10:80");
  std::vector<DesiredBackend> all{{ip("198.18.0.11")}, {ip("198.18.0.12")}, {ip("198.18.0.13")}};
  auto first = dp.syncVip(key, XLB_FWD_L2DSR, all, nullptr);
  ASSERT_TRUE(first) << first.error().describe();
  EXPECT_TRUE(first->vipAdded);
  EXPECT_TRUE(first->ringFlipped);
  auto r = run(eth(kLbMac, kClientMac, 0x0800, synV4("198.19.0.10", 45000)), XLB_R_TX_FLOW_NEW, XDP_TX);
  int victim = macIndex(r.out[5]);
  auto sel0 = dp.vip(key)->ringSel;

  // The same state again: nothing is written, the ring stays.
  auto same = dp.syncVip(key, XLB_FWD_L2DSR, all, nullptr);
  ASSERT_TRUE(same);
  EXPECT_TRUE(same->plan.empty());
  EXPECT_FALSE(same->ringFlipped);
  EXPECT_EQ(dp.vip(key)->ringSel, sel0);

  auto down = all;
  for (auto& d : down) d.down = d.addr == ip(("198.18.0." + std::to_string(victim)).c_str());
  auto s = dp.syncVip(key, XLB_FWD_L2DSR, down, nullptr);
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->ringFlipped);
  EXPECT_EQ(s->flowsRemoved, 1u);
  EXPECT_NE(dp.vip(key)->ringSel, sel0);
  auto ring = dp.ring(*dp.vip(key));
  ASSERT_TRUE(ring);
  uint32_t victimId = 0;
  auto bes = dp.backends();  // alive for the whole loop
  for (const auto& b : bes.value())
    if (b.addr == ip(("198.18.0." + std::to_string(victim)).c_str()) && b.vipId == dp.vip(key)->id) victimId = b.id;
  EXPECT_EQ(std::count(ring->begin(), ring->end(), victimId), 0);
  // The open flow's next packet is re-balanced; no new flow lands on it.
  Bytes ack = ipv4(kClient4, v4("198.19.0.10"), IPPROTO_TCP, tcp(45000, 80, kAck, 10));
  auto r2 = run(eth(kLbMac, kClientMac, 0x0800, ack), XLB_R_TX_FLOW_NEW, XDP_TX);
  EXPECT_NE(macIndex(r2.out[5]), victim);
  EXPECT_EQ(spread(this, *world_, "198.19.0.10", 200, 46000).count(victim), 0u);

  // Back up: in the ring again.
  auto up = dp.syncVip(key, XLB_FWD_L2DSR, all, nullptr);
  ASSERT_TRUE(up);
  EXPECT_TRUE(up->ringFlipped);
  EXPECT_EQ(up->flowsRemoved, 0u);
  EXPECT_GT(spread(this, *world_, "198.19.0.10", 200, 47000)[victim], 30);
}

// The data plane itself refuses a down backend's flow entry, so a flow
// recorded in the instant before the flows were swept cannot stick to it.
TEST_F(XdpFixture, FlowEntryOfADownBackendIsNotFollowed) {
  auto& dp = world_->dp();
  auto key = vk("198.19.0.11:80");
  std::vector<DesiredBackend> all{{ip("198.18.0.11")}, {ip("198.18.0.12")}};
  ASSERT_TRUE(dp.syncVip(key, XLB_FWD_L2DSR, all, nullptr));
  all[0].down = true;
  ASSERT_TRUE(dp.syncVip(key, XLB_FWD_L2DSR, all, nullptr));
  BackendInfo downBe;
  auto bes = dp.backends();  // alive for the whole loop
  for (const auto& b : bes.value())
    if (b.vipId == dp.vip(key)->id && b.down) downBe = b;
  ASSERT_EQ(downBe.addr, ip("198.18.0.11"));
  Bytes syn = synV4("198.19.0.11", 48000);
  xlb_flow_key k = keyOf(syn, false);
  dp.flowTable().put(k, dp.vip(key)->id, xlb_flow_val{uint16_t(downBe.id), uint16_t(downBe.gen), 0});
  ASSERT_TRUE(dp.flowTable().find(k, dp.vip(key)->id));
  auto r = run(eth(kLbMac, kClientMac, 0x0800, syn), XLB_R_TX_FLOW_NEW, XDP_TX);
  EXPECT_EQ(macIndex(r.out[5]), 12);
}

TEST_F(XdpFixture, SyncVipAllDownDropsNewFlows) {
  auto& dp = world_->dp();
  auto key = vk("198.19.0.12:80");
  std::vector<DesiredBackend> none{{ip("198.18.0.11"), 1, true}, {ip("198.18.0.12"), 1, true}};
  ASSERT_TRUE(dp.syncVip(key, XLB_FWD_L2DSR, none, nullptr));
  run(eth(kLbMac, kClientMac, 0x0800, synV4("198.19.0.12", 49000)), XLB_R_DROP_NO_BACKEND, XDP_DROP);
}

TEST_F(XdpFixture, VipWithoutBackendsDrops) {
  run(eth(kLbMac, kClientMac, 0x0800, synV4("198.19.0.9", 40011)), XLB_R_DROP_NO_BACKEND, XDP_DROP);
}

TEST_F(XdpFixture, IcmpFragNeededGoesToTheFlowsBackend) {
  Bytes syn = synV4("198.19.0.1", 40012);
  auto r = run(eth(kLbMac, kClientMac, 0x0800, syn), XLB_R_TX_FLOW_NEW, XDP_TX);
  // A router on the return path quotes the backend's packet VIP -> client.
  Bytes quoted = ipv4(v4("198.19.0.1"), kClient4, IPPROTO_TCP, tcp(80, 40012, kAck));
  quoted.resize(20 + 8);
  Bytes err = ipv4(v4("198.18.0.1"), v4("198.19.0.1"), IPPROTO_ICMP, icmp(3, 4, 1400, quoted));
  auto r2 = run(eth(kLbMac, kClientMac, 0x0800, err), XLB_R_TX_ICMP, XDP_TX);
  EXPECT_EQ(Bytes(r2.out.begin(), r2.out.begin() + 6), Bytes(r.out.begin(), r.out.begin() + 6));
  EXPECT_EQ(Bytes(r2.out.begin() + 14, r2.out.end()), err);
  // ICMPv6 packet too big, same idea.
  Bytes syn6 = synV6("2001:db8:100::1", 40012);
  auto r3 = run(eth(kLbMac, kClientMac, 0x86dd, syn6), XLB_R_TX_FLOW_NEW, XDP_TX);
  Bytes q6 = ipv6(v6("2001:db8:100::1"), kClient6, IPPROTO_TCP, tcp(80, 40012, kAck));
  q6.resize(48);
  Bytes err6 = ipv6(v6("2001:db8:0:1::1"), v6("2001:db8:100::1"), 58, icmp(2, 0, 1280, q6));
  auto r4 = run(eth(kLbMac, kClientMac, 0x86dd, err6), XLB_R_TX_ICMP, XDP_TX);
  EXPECT_EQ(Bytes(r4.out.begin(), r4.out.begin() + 6), Bytes(r3.out.begin(), r3.out.begin() + 6));
}

TEST_F(XdpFixture, BackendOnAnotherInterfaceIsRedirected) {
  Bytes l3 = synV4("198.19.0.4", 40013);
  auto r = run(eth(kLbMac, kClientMac, 0x0800, l3), XLB_R_REDIR_FLOW_NEW, XDP_REDIRECT);
  EXPECT_EQ(r.out, eth(mac(1, 0x11), kRedirMac, 0x0800, l3));
  uint32_t ifx = world_->redirIfindex();
  ASSERT_EQ(bpf_map_delete_elem(world_->txPortsFd(), &ifx), 0);
  Bytes l3b = synV4("198.19.0.4", 40014);
  Bytes in = eth(kLbMac, kClientMac, 0x0800, l3b);
  EXPECT_EQ(run(in, XLB_R_DROP_NO_TXPORT, XDP_DROP).out, in);
  ASSERT_EQ(bpf_map_update_elem(world_->txPortsFd(), &ifx, &ifx, BPF_ANY), 0);
}

TEST_F(XdpFixture, UnresolvedNeighbourAndUnroutableBackendAreCounted) {
  Bytes a = eth(kLbMac, kClientMac, 0x0800, synV4("198.19.0.6", 40015));
  EXPECT_EQ(run(a, XLB_R_DROP_NO_NEIGH, XDP_DROP).out, a);
  Bytes b = eth(kLbMac, kClientMac, 0x0800, synV4("198.19.0.7", 40016));
  EXPECT_EQ(run(b, XLB_R_PASS_FIB, XDP_PASS).out, b);
}

TEST_F(XdpFixture, ExplainAgreesWithTheDataPlane) {
  for (uint16_t sport = 45000; sport < 45050; ++sport) {
    Bytes l3 = synV4("198.19.0.1", sport);
    xlb_flow_key k = keyOf(l3, false);
    auto before = world_->dp().explain(k);
    ASSERT_TRUE(before && before->backend);
    EXPECT_FALSE(before->flow);
    auto r = world_->run(eth(kLbMac, kClientMac, 0x0800, l3));
    EXPECT_EQ(macIndex(r.out[5]), backendIndex(before->backend->addr));
    auto after = world_->dp().explain(k);
    ASSERT_TRUE(after && after->flowValid);
    EXPECT_EQ(after->backend->addr, before->backend->addr);
  }
}

}  // namespace
}  // namespace xlb::test
