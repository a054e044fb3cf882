// SPDX-License-Identifier: Apache-2.0
// Hostile frames through xlb_xdp (BPF_PROG_TEST_RUN), from a fixed seed:
// valid frames of every kind the data plane handles, then mutated (bytes,
// length fields, truncation, padding). A reference classifier written here,
// apart from the BPF code, says what each frame is. For every frame:
//   - exactly one reason counter moved, by one, and it is the one the
//     reference predicts (malformed, fragment, not a VIP, ...);
//   - a passed frame leaves byte-identical;
//   - a forwarded frame was well-formed, and what leaves is well-formed and
//     goes to a backend configured on the frame's VIP: the same datagram
//     with new MACs (l2dsr), or that datagram behind a correct outer header
//     addressed to the backend (ipip).
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <optional>
#include <random>
#include <set>

#include "xdp_world.h"

namespace xlb::test {
namespace {

const Mac kClientMac = mac(0, 1);

struct VipSpec {
  const char* ep;
  uint8_t proto;
  uint8_t fwd;
  std::vector<const char*> backends;
  bool l7 = false;  // an HTTP VIP: passed to the stack
};

const std::vector<VipSpec> kVips = {
    {"198.19.0.1:80", IPPROTO_TCP, XLB_FWD_L2DSR, {"198.18.0.11", "198.18.0.12", "198.18.0.13"}},
    {"198.19.0.2:80", IPPROTO_TCP, XLB_FWD_IPIP, {"198.18.0.11", "198.18.0.12", "198.18.0.13"}},
    {"198.19.0.1:53", IPPROTO_UDP, XLB_FWD_L2DSR, {"198.18.0.11", "198.18.0.12"}},
    {"198.19.0.9:80", IPPROTO_TCP, XLB_FWD_L2DSR, {}},
    {"[2001:db8:100::1]:80", IPPROTO_TCP, XLB_FWD_L2DSR, {"2001:db8:0:1::11", "2001:db8:0:1::12"}},
    {"[2001:db8:100::2]:80", IPPROTO_TCP, XLB_FWD_IPIP, {"2001:db8:0:1::11", "2001:db8:0:1::13"}},
    {"[2001:db8:100::1]:53", IPPROTO_UDP, XLB_FWD_L2DSR, {"2001:db8:0:1::12"}},
    {"198.19.0.1:443", IPPROTO_TCP, 0, {}, true},           // an HTTP VIP on an l4 VIP's address
    {"[2001:db8:100::2]:443", IPPROTO_TCP, 0, {}, true},
};

// ---- the reference classifier ---------------------------------------------

enum class Kind { NotIp, NotVip, Malformed, Fragment, Ipv6Ext, NoBackend, Forward, L7 };

struct Ref {
  Kind kind = Kind::NotIp;
  bool icmp = false;
  const VipSpec* vip = nullptr;
  size_t l3 = 0, l3len = 0;  // where the datagram starts, its length
};

uint16_t be16(const Bytes& b, size_t o) { return static_cast<uint16_t>(b[o] << 8 | b[o + 1]); }

struct Tuple {
  int family = 4;
  std::array<uint8_t, 16> dst{};
  uint16_t dport = 0;
  uint8_t proto = 0;
};

const VipSpec* findVip(const Tuple& t) {
  for (const auto& v : kVips) {
    auto ep = *Endpoint::parse(v.ep);
    if (v.proto != t.proto || ep.port != t.dport || (ep.addr.isV4() ? 4 : 6) != t.family) continue;
    if (std::equal(ep.addr.bytes.begin(), ep.addr.bytes.begin() + (t.family == 4 ? 4 : 16), t.dst.begin()))
      return &v;
  }
  return nullptr;
}

// 0: no VIP has the address; 1: only l4 VIPs; 2: an HTTP VIP too.
int vipAddr(int family, const uint8_t* a) {
  int r = 0;
  for (const auto& v : kVips) {
    auto ep = *Endpoint::parse(v.ep);
    if ((ep.addr.isV4() ? 4 : 6) == family && std::equal(a, a + (family == 4 ? 4 : 16), ep.addr.bytes.begin()))
      r = std::max(r, v.l7 ? 2 : 1);
  }
  return r;
}

// A fragment or extension header to the address: passed, or dropped as `drop`.
Kind unbalanceable(int family, const uint8_t* a, Kind drop) {
  int v = vipAddr(family, a);
  return v == 0 ? Kind::NotVip : v == 2 ? Kind::L7 : drop;
}

Ref forwardOrNot(Ref r, const Tuple& t) {
  r.vip = findVip(t);
  if (!r.vip) {
    r.kind = Kind::NotVip;
    return r;
  }
  r.kind = r.vip->l7 ? Kind::L7 : r.vip->backends.empty() ? Kind::NoBackend : Kind::Forward;
  return r;
}

// TCP/UDP header of the datagram [l3, end): Malformed, or ports into t.
bool l4ok(const Bytes& f, size_t l4, size_t end, uint8_t proto, Tuple& t) {
  size_t seg = end - l4;
  if (proto == IPPROTO_TCP) {
    if (seg < 20) return false;
    size_t doff = f[l4 + 12] >> 4;
    if (doff < 5 || doff * 4 > seg) return false;
  } else {
    if (seg < 8 || be16(f, l4 + 4) != seg) return false;
  }
  t.dport = be16(f, l4 + 2);
  t.proto = proto;
  return true;
}

Ref classify(const Bytes& f) {
  Ref r;
  size_t l3 = 14;
  uint16_t type = be16(f, 12);
  if (type == 0x8100 || type == 0x88a8) {
    if (f.size() < 18) return r.kind = Kind::Malformed, r;
    type = be16(f, 16);
    l3 = 18;
  }
  if (type != 0x0800 && type != 0x86dd) return r;  // NotIp
  r.l3 = l3;
  Tuple t;
  if (type == 0x0800) {
    t.family = 4;
    if (f.size() < l3 + 20 || (f[l3] >> 4) != 4 || (f[l3] & 0xf) < 5) return r.kind = Kind::Malformed, r;
    size_t hlen = (f[l3] & 0xf) * 4, tot = be16(f, l3 + 2);
    if (tot < hlen || l3 + tot > f.size()) return r.kind = Kind::Malformed, r;
    r.l3len = tot;
    size_t end = l3 + tot, l4 = l3 + hlen;
    uint8_t proto = f[l3 + 9];
    std::copy(f.begin() + l3 + 16, f.begin() + l3 + 20, t.dst.begin());
    if (be16(f, l3 + 6) & 0x3fff) return r.kind = unbalanceable(4, &f[l3 + 16], Kind::Fragment), r;
    if (proto == IPPROTO_ICMP) {
      r.icmp = true;
      if (end - l4 < 8) return r.kind = Kind::Malformed, r;
      if (f[l4] != 3 || f[l4 + 1] != 4) return r.kind = Kind::NotVip, r;
      size_t in = l4 + 8;
      if (end - in < 20) return r.kind = Kind::Malformed, r;
      if ((f[in] >> 4) != 4 || (f[in] & 0xf) < 5) return r.kind = Kind::Malformed, r;
      uint8_t ip = f[in + 9];
      if (ip != IPPROTO_TCP && ip != IPPROTO_UDP) return r.kind = Kind::NotVip, r;
      if (be16(f, in + 6) & 0x1fff) return r.kind = Kind::Malformed, r;
      size_t ports = in + (f[in] & 0xf) * 4;
      if (ports + 4 > end) return r.kind = Kind::Malformed, r;
      if (!std::equal(f.begin() + in + 12, f.begin() + in + 16, f.begin() + l3 + 16)) return r.kind = Kind::NotVip, r;
      std::copy(f.begin() + in + 12, f.begin() + in + 16, t.dst.begin());
      t.dport = be16(f, ports);
      t.proto = ip;
      return forwardOrNot(r, t);
    }
    if (proto != IPPROTO_TCP && proto != IPPROTO_UDP) return r.kind = Kind::NotVip, r;
    if (!l4ok(f, l4, end, proto, t)) return r.kind = Kind::Malformed, r;
    return forwardOrNot(r, t);
  }
  t.family = 6;
  if (f.size() < l3 + 40 || (f[l3] >> 4) != 6) return r.kind = Kind::Malformed, r;
  size_t plen = be16(f, l3 + 4);
  if (l3 + 40 + plen > f.size()) return r.kind = Kind::Malformed, r;
  r.l3len = 40 + plen;
  size_t end = l3 + 40 + plen, l4 = l3 + 40;
  uint8_t nh = f[l3 + 6];
  std::copy(f.begin() + l3 + 24, f.begin() + l3 + 40, t.dst.begin());
  if (nh == 0 || nh == 43 || nh == 44 || nh == 60 || nh == 51 || nh == 135 || nh == 139 || nh == 140) {
    return r.kind = unbalanceable(6, &f[l3 + 24], nh == 44 ? Kind::Fragment : Kind::Ipv6Ext), r;
  }
  if (nh == 58) {
    r.icmp = true;
    if (end - l4 < 8) return r.kind = Kind::Malformed, r;
    if (f[l4] != 2) return r.kind = Kind::NotVip, r;
    size_t in = l4 + 8;
    if (end - in < 40) return r.kind = Kind::Malformed, r;
    if ((f[in] >> 4) != 6) return r.kind = Kind::Malformed, r;
    uint8_t ip = f[in + 6];
    if (ip != IPPROTO_TCP && ip != IPPROTO_UDP) return r.kind = Kind::NotVip, r;
    if (in + 40 + 4 > end) return r.kind = Kind::Malformed, r;
    if (!std::equal(f.begin() + in + 8, f.begin() + in + 24, f.begin() + l3 + 24)) return r.kind = Kind::NotVip, r;
    std::copy(f.begin() + in + 8, f.begin() + in + 24, t.dst.begin());
    t.dport = be16(f, in + 40);
    t.proto = ip;
    return forwardOrNot(r, t);
  }
  if (nh != IPPROTO_TCP && nh != IPPROTO_UDP) return r.kind = Kind::NotVip, r;
  if (!l4ok(f, l4, end, nh, t)) return r.kind = Kind::Malformed, r;
  return forwardOrNot(r, t);
}

// ---- frames -----------------------------------------------------------------

// A valid frame and where its length fields are, for targeted mutations.
struct Frame {
  Bytes b;
  std::vector<size_t> fields;  // offsets of bytes worth corrupting (length, version, offset fields)
};

class Generator {
 public:
  explicit Generator(uint32_t seed) : rng_(seed) {}
  uint32_t below(uint32_t n) { return n ? std::uniform_int_distribution<uint32_t>(0, n - 1)(rng_) : 0; }
  bool chance(int pct) { return below(100) < static_cast<uint32_t>(pct); }
  uint8_t byte() { return static_cast<uint8_t>(below(256)); }

  Frame valid() {
    static const char* v4dst[] = {"198.19.0.1", "198.19.0.2", "198.19.0.9", "198.18.0.2"};
    static const char* v6dst[] = {"2001:db8:100::1", "2001:db8:100::2", "2001:db8:0:1::2"};
    uint16_t sport = static_cast<uint16_t>(1024 + below(60000));
    bool tcp = chance(70);
    uint16_t dport = tcp ? (chance(20) ? 443 : 80) : 53;
    Bytes payload(below(48), 0x5a);
    int vlan = chance(15) ? static_cast<int>(below(4095)) : -1;
    Frame fr;
    auto l4 = [&]() { return tcp ? tcp_(sport, dport, payload.size()) : udp(sport, dport, payload.size()); };
    switch (below(6)) {
      case 0:
      case 1: {  // IPv4 TCP/UDP, sometimes with options
        Ip4Opts o;
        if (chance(20)) o.options = Bytes(4 * (1 + below(3)), 0x01);
        Bytes l3 = ipv4(v4("198.18.0.1"), v4(v4dst[below(4)]), tcp ? IPPROTO_TCP : IPPROTO_UDP, l4(), o);
        size_t h = 20 + o.options.size();
        fr = {eth(kLbMac, kClientMac, 0x0800, l3, vlan), {0, 2, 3, 6, 7, h + 4, h + 5, h + 12}};
        break;
      }
      case 2: {  // IPv6 TCP/UDP
        Bytes l3 = ipv6(v6("2001:db8:0:1::1"), v6(v6dst[below(3)]), tcp ? IPPROTO_TCP : IPPROTO_UDP, l4());
        fr = {eth(kLbMac, kClientMac, 0x86dd, l3, vlan), {0, 4, 5, 6, 44, 45, 52}};
        break;
      }
      case 3: {  // ICMP frag needed quoting a VIP's reply (VIP -> client)
        const char* vip = below(2) ? "198.19.0.1" : "198.19.0.2";
        Bytes quoted = ipv4(v4(vip), v4("198.18.0.1"), IPPROTO_TCP, tcp_(80, sport, 0));
        quoted.resize(20 + 8 + below(20));
        Bytes l3 = ipv4(v4("198.18.0.254"), v4(vip), IPPROTO_ICMP, icmp(3, 4, 1400, quoted));
        fr = {eth(kLbMac, kClientMac, 0x0800, l3, vlan), {2, 3, 20, 21, 28, 30, 31, 34, 35, 37, 41, 48}};
        break;
      }
      case 4: {  // ICMPv6 packet too big quoting a VIP's reply
        const char* vip = below(2) ? "2001:db8:100::1" : "2001:db8:100::2";
        Bytes quoted = ipv6(v6(vip), v6("2001:db8:0:1::1"), IPPROTO_TCP, tcp_(80, sport, 0));
        quoted.resize(48 + below(20));
        Bytes l3 = ipv6(v6("2001:db8:0:1::fe"), v6(vip), 58, icmp(2, 0, 1280, quoted));
        fr = {eth(kLbMac, kClientMac, 0x86dd, l3, vlan), {4, 5, 6, 40, 48, 52, 53, 54, 60, 88}};
        break;
      }
      default: {  // not IP, or IP fragments and extension headers
        if (chance(30)) {
          Bytes arp{0, 1, 8, 0, 6, 4, 0, 1};
          arp.resize(28, 0);
          fr = {eth(kLbMac, kClientMac, 0x0806, arp, vlan), {}};
        } else if (chance(50)) {
          Ip4Opts o;
          o.frag = chance(50) ? 0x2000 : 0x0010;
          Bytes l3 = ipv4(v4("198.18.0.1"), v4(v4dst[below(4)]), IPPROTO_TCP, tcp_(sport, 80, 0), o);
          fr = {eth(kLbMac, kClientMac, 0x0800, l3, vlan), {0, 2, 3, 6, 7}};
        } else {
          uint8_t nh = chance(50) ? 44 : 0;
          Bytes ext = cat(Bytes{IPPROTO_TCP, 0, 0, 1, 0, 0, 0, 7}, tcp_(sport, 80, 0));
          Bytes l3 = ipv6(v6("2001:db8:0:1::1"), v6(v6dst[below(3)]), nh, ext);
          fr = {eth(kLbMac, kClientMac, 0x86dd, l3, vlan), {0, 4, 5, 6}};
        }
      }
    }
    // Field offsets above are relative to the IP header.
    size_t l3 = vlan >= 0 ? 18 : 14;
    for (auto& o : fr.fields) o += l3;
    if (chance(30)) fr.b.resize(fr.b.size() + below(24), byte());  // Ethernet padding after the datagram
    return fr;
  }

  Bytes mutate(Frame fr) {
    Bytes& b = fr.b;
    int n = 1 + static_cast<int>(below(3));
    for (int i = 0; i < n; ++i) {
      switch (below(5)) {
        case 0:  // a length/version/offset field gets a random or nearby value
          if (!fr.fields.empty()) {
            size_t o = fr.fields[below(fr.fields.size())];
            if (o < b.size()) b[o] = chance(50) ? byte() : static_cast<uint8_t>(b[o] + static_cast<int>(below(9)) - 4);
          }
          break;
        case 1:  // any header byte
          b[below(std::min<size_t>(b.size(), 96))] = byte();
          break;
        case 2:  // truncated (a frame has at least 14 bytes)
          b.resize(14 + below(static_cast<uint32_t>(b.size() - 13)));
          break;
        case 3:  // grown: random tail
          for (uint32_t k = below(40); k; --k) b.push_back(byte());
          break;
        default:  // one bit
          b[below(static_cast<uint32_t>(b.size()))] ^= static_cast<uint8_t>(1u << below(8));
      }
    }
    return b;
  }

 private:
  static Bytes tcp_(uint16_t s, uint16_t d, size_t payload) { return tcp(s, d, kSyn | kAck, payload); }
  std::mt19937 rng_;
};

// ---- output checks ----------------------------------------------------------

// Which backend of the VIP a MAC belongs to (the world's 02:00:00:00:00:NN).
std::optional<IpAddr> backendOfMac(const VipSpec& v, const uint8_t* m) {
  for (const char* b : v.backends) {
    auto a = *IpAddr::parse(b);
    int idx = a.isV4() ? a.bytes[3] : macIndex(a.bytes[15]);
    if (std::equal(m, m + 6, backendMac(idx).begin())) return a;
  }
  return std::nullopt;
}

// Empty when `out` is a well-formed frame of `in`'s datagram to a backend
// of its VIP; otherwise what is wrong.
std::string checkForwarded(const Bytes& in, const Ref& ref, const Bytes& out) {
  auto be = backendOfMac(*ref.vip, out.data());
  if (!be) return "destination MAC is no backend of the VIP";
  if (!std::equal(kLbMac.begin(), kLbMac.end(), out.begin() + 6)) return "source MAC is not the load balancer's";
  if (!std::equal(in.begin() + 12, in.begin() + ref.l3 - 2, out.begin() + 12)) return "VLAN tag changed";
  if (ref.vip->fwd == XLB_FWD_L2DSR) {
    if (out.size() != in.size() || !std::equal(in.begin() + 12, in.end(), out.begin() + 12))
      return "l2dsr changed more than the MACs";
    return {};
  }
  size_t o = ref.l3;
  if (be->isV4()) {
    if (be16(out, o - 2) != 0x0800 || out.size() < o + 20) return "no outer IPv4 header";
    if (out[o] != 0x45 || out[o + 9] != 4 || be16(out, o + 2) != ref.l3len + 20) return "bad outer IPv4 header";
    if (csum(&out[o], 20) != 0) return "bad outer IPv4 checksum";
    if (!std::equal(be->bytes.begin(), be->bytes.begin() + 4, out.begin() + o + 16)) return "outer destination is not the MAC's backend";
    o += 20;
  } else {
    if (be16(out, o - 2) != 0x86dd || out.size() < o + 40) return "no outer IPv6 header";
    if ((out[o] >> 4) != 6 || out[o + 6] != 41 || be16(out, o + 4) != ref.l3len) return "bad outer IPv6 header";
    if (!std::equal(be->bytes.begin(), be->bytes.end(), out.begin() + o + 24)) return "outer destination is not the MAC's backend";
    o += 40;
  }
  if (out.size() - o != in.size() - ref.l3 || !std::equal(in.begin() + ref.l3, in.end(), out.begin() + o))
    return "inner datagram differs from the input";
  return {};
}

uint32_t expectedReason(const Ref& r) {
  switch (r.kind) {
    case Kind::NotIp: return XLB_R_PASS_NOT_IP;
    case Kind::NotVip: return XLB_R_PASS_NOT_VIP;
    case Kind::Malformed: return XLB_R_DROP_MALFORMED;
    case Kind::Fragment: return XLB_R_DROP_FRAGMENT;
    case Kind::Ipv6Ext: return XLB_R_DROP_IPV6_EXT;
    case Kind::NoBackend: return XLB_R_DROP_NO_BACKEND;
    case Kind::L7: return XLB_R_PASS_L7;
    case Kind::Forward: return r.icmp ? XLB_R_TX_ICMP : XLB_R_TX_FLOW_NEW;  // or a hit: see below
  }
  return XLB_R_MAX;
}

std::vector<uint64_t> readReasons(int fd) {
  int cpus = libbpf_num_possible_cpus();
  std::vector<xlb_counter> per(cpus);
  std::vector<uint64_t> out(XLB_R_MAX);
  for (uint32_t r = 0; r < XLB_R_MAX; ++r) {
    if (bpf_map_lookup_elem(fd, &r, per.data()) != 0) throw std::runtime_error("cannot read xlb_reasons");
    for (const auto& c : per) out[r] += c.packets;
  }
  return out;
}

class ParserFuzz : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (CAP_BPF, CAP_NET_ADMIN)";
    world_ = std::make_unique<XdpWorld>();
    auto& dp = world_->dp();
    for (const auto& v : kVips) {
      VipKey k{*Endpoint::parse(v.ep), v.proto};
      if (v.l7) {
        ASSERT_TRUE(dp.setL7Vip(k));
        continue;
      }
      ASSERT_TRUE(dp.addVip(k, v.fwd));
      for (const char* b : v.backends) ASSERT_TRUE(dp.addBackend(k, *IpAddr::parse(b), 1, nullptr));
    }
  }
  std::unique_ptr<XdpWorld> world_;
};

TEST_F(ParserFuzz, HostileFramesAreCountedOnceAndNeverForwardedHalfUnderstood) {
  const char* env = std::getenv("XLB_FUZZ_FRAMES");
  const int frames = env ? std::atoi(env) : 100000;
  Generator gen(0x5eed1e55);
  auto before = readReasons(world_->reasonsFd());
  std::map<uint32_t, int> seen;  // reason -> frames
  int mutated = 0, failures = 0;
  auto report = [&](const Bytes& f, const std::string& what) {
    if (++failures <= 8) ADD_FAILURE() << what << "\nframe:\n" << hexdump(f);
  };
  for (int i = 0; i < frames; ++i) {
    Frame fr = gen.valid();
    Bytes f = fr.b;
    if (!gen.chance(15)) {
      f = gen.mutate(fr);
      ++mutated;
    }
    Ref ref = classify(f);
    RunResult r = world_->run(f);
    auto after = readReasons(world_->reasonsFd());
    int moved = 0;
    uint32_t reason = XLB_R_MAX;
    for (uint32_t k = 0; k < XLB_R_MAX; ++k)
      if (after[k] != before[k]) {
        moved += static_cast<int>(after[k] - before[k]);
        reason = k;
      }
    before = std::move(after);
    if (moved != 1) {
      report(f, "reason counters moved by " + std::to_string(moved) + ", not exactly one");
      continue;
    }
    ++seen[reason];
    uint32_t want = expectedReason(ref);
    bool hitOk = ref.kind == Kind::Forward && !ref.icmp && reason == XLB_R_TX_FLOW_HIT;
    if (reason != want && !hitOk) {
      report(f, std::string("counted as ") + reasonName(reason) + ", the reference says " + reasonName(want));
      continue;
    }
    if (r.action == XDP_PASS && r.out != f) report(f, "passed but changed");
    if (r.action == XDP_TX) {
      if (ref.kind != Kind::Forward) {
        report(f, "forwarded a frame the reference does not forward");
        continue;
      }
      if (auto e = checkForwarded(f, ref, r.out); !e.empty()) report(f, "forwarded: " + e + "\noutput:\n" + hexdump(r.out));
    }
  }
  EXPECT_EQ(failures, 0);
  // The run covers what it claims to: most frames hostile, every kind seen.
  EXPECT_GT(mutated, frames * 8 / 10);
  for (uint32_t k : {XLB_R_PASS_NOT_IP, XLB_R_PASS_NOT_VIP, XLB_R_PASS_L7, XLB_R_DROP_MALFORMED, XLB_R_DROP_FRAGMENT,
                     XLB_R_DROP_IPV6_EXT, XLB_R_DROP_NO_BACKEND, XLB_R_TX_FLOW_NEW, XLB_R_TX_ICMP})
    EXPECT_GT(seen[k], frames / 1000) << reasonName(k);
  std::string summary;
  for (auto [k, n] : seen) summary += std::string(reasonName(k)) + "=" + std::to_string(n) + " ";
  std::printf("%d frames (%d mutated): %s\n", frames, mutated, summary.c_str());
}

}  // namespace
}  // namespace xlb::test
