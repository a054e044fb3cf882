// SPDX-License-Identifier: Apache-2.0
// ns per packet of xlb_xdp through BPF_PROG_TEST_RUN, one core, one run per
// syscall (repeat > 1 would re-run on the buffer the program rewrote). The
// floor, an XDP program that only returns XDP_PASS, is measured in the same
// run and subtracted from the medians and p99s.
//   sudo build/tools/bench/xdp_bench [--packets N] [--flows N]
#include <map>
#include <bpf/bpf.h>
#include <sched.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "xdp_world.h"
#include "xlb/nexthop.h"

using namespace xlb;
using namespace xlb::test;

namespace {

struct Figures {
  double median = 0, p99 = 0;
};

Figures summarize(std::vector<long long>& ns) {
  std::sort(ns.begin(), ns.end());
  return {static_cast<double>(ns[ns.size() / 2]), static_cast<double>(ns[ns.size() * 99 / 100])};
}

// A TCP packet client:sport -> dst:80 whose client address and port come
// from index i, written in place (no allocation in the loop).
struct Packet {
  Bytes b;
  explicit Packet(const char* dst) {
    b = eth(kLbMac, mac(0, 1), 0x0800, ipv4(v4("198.18.0.1"), v4(dst), IPPROTO_TCP, tcp(1024, 80, kAck)));
  }
  // New flows are SYNs, hits ACKs: the data plane records a flow at its SYN.
  void flags(uint8_t f) { b[14 + 20 + 13] = f; }
  void set(uint32_t i) {
    uint16_t sport = 1024 + (i % 60000);
    uint32_t host = i / 60000;  // 198.18.128.0/17 + host
    b[14 + 12 + 2] = 128 | ((host >> 8) & 0x7f);
    b[14 + 12 + 3] = host & 0xff;
    b[34] = sport >> 8;
    b[35] = sport & 0xff;
  }
  void dstHost(uint8_t h) { b[14 + 16 + 3] = h; }  // 198.19.0.h
};

// The memory floor under any flow table of that footprint: ns per dependent
// load when chasing a random cycle through `bytes` of 4 KiB pages, one load
// per 64-byte line (a hit must load at least the line holding its entry).
double chaseNs(uint64_t bytes, bool hugePages = false) {
  size_t lines = bytes / 64;
  auto* buf = static_cast<char*>(mmap(nullptr, lines * 64, PROT_READ | PROT_WRITE,
                                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  if (buf == MAP_FAILED) return -1;
  // BPF maps are vmalloc'ed in 4 KiB pages; huge pages show the best case.
  madvise(buf, lines * 64, hugePages ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
  std::vector<uint32_t> perm(lines);
  for (size_t i = 0; i < lines; ++i) perm[i] = static_cast<uint32_t>(i);
  std::shuffle(perm.begin(), perm.end(), std::mt19937(1));
  for (size_t i = 0; i < lines; ++i)
    *reinterpret_cast<void**>(buf + size_t{perm[i]} * 64) = buf + size_t{perm[(i + 1) % lines]} * 64;
  void* p = buf + size_t{perm[0]} * 64;
  constexpr int kLoads = 2000000;
  timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (int i = 0; i < kLoads; ++i) p = *static_cast<void**>(p);
  clock_gettime(CLOCK_MONOTONIC, &b);
  asm volatile("" : : "r"(p));
  munmap(buf, lines * 64);
  return ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / kLoads;
}

void row(const char* name, Figures f, Figures floor, const char* target) {
  std::printf("%-34s %8.0f %8.0f %10.0f %10.0f   %s\n", name, f.median, f.p99, f.median - floor.median,
              f.p99 - floor.p99, target);
}

}  // namespace

int run(int argc, char** argv) {
  uint32_t packets = 200000, flows = 1000000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--packets")) packets = std::strtoul(argv[i + 1], nullptr, 10);
    if (!std::strcmp(argv[i], "--flows")) flows = std::strtoul(argv[i + 1], nullptr, 10);
  }
  if (geteuid() != 0) {
    std::fprintf(stderr, "xdp_bench: needs root (BPF_PROG_TEST_RUN, a private namespace)\n");
    return 2;
  }
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(0, &one);
  sched_setaffinity(0, sizeof(one), &one);

  // An instance as `xlbctl attach` makes it by default (ring of 65537
  // slots, 32 VIPs), with a flow table of 2M slots per family.
  XdpWorld w([](LoadSettings& s) {
    s.ringSize = XLB_DEFAULT_RING_SIZE;
    s.maxVips = XLB_DEFAULT_MAX_VIPS;
    s.maxBackends = XLB_DEFAULT_MAX_BACKENDS;
  });
  auto& dp = w.dp();
  // VIP 198.19.0.1:80 and kVips - 1 more, 198.19.0.2 on, each with the same
  // three backends: the many-VIP case spreads its flows over all of them,
  // so that each packet reads a ring of its own VIP's (kVips live halves of
  // 65537 slots).
  constexpr uint32_t kVips = XLB_DEFAULT_MAX_VIPS;
  VipKey vip{*Endpoint::parse("198.19.0.1:80"), IPPROTO_TCP};
  for (uint32_t v = 1; v <= kVips; ++v) {
    VipKey k{*Endpoint::parse("198.19.0." + std::to_string(v) + ":80"), IPPROTO_TCP};
    if (!dp.addVip(k, XLB_FWD_L2DSR)) return 1;
    for (const char* b : {"198.18.0.11", "198.18.0.12", "198.18.0.13"})
      if (!dp.addBackend(k, *IpAddr::parse(b), 1, nullptr)) return 1;
  }
  // As `xlbctl backend add` leaves it: next hops resolved, and no ring slot
  // marked moved (no flow needs one yet).
  std::map<std::string, std::string> unresolved;
  if (!dp.refreshNexthops(resolveNexthop, std::chrono::hours(1), &unresolved) || !unresolved.empty()) {
    std::fprintf(stderr, "xdp_bench: next hops not resolved\n");
    return 1;
  }
  if (!dp.clearMovedSlots()) return 1;
  uint32_t vipId = dp.vip(vip)->id;

  auto measure = [&](int fd, Packet& p, uint32_t n, auto before) {
    std::vector<long long> ns;
    ns.reserve(n);
    for (uint32_t i = 0; i < n; ++i) {
      before(p, i);
      long long t = w.runNs(fd, p.b);
      if (t < 0) {
        throw std::runtime_error(std::string("BPF_PROG_TEST_RUN: ") + std::strerror(errno));
      }
      ns.push_back(t);
    }
    return summarize(ns);
  };
  auto nothing = [](Packet&, uint32_t) {};

  Packet nonVip("198.18.0.2"), hit("198.19.0.1"), fresh("198.19.0.1");
  // Warm up caches and the CPU's frequency.
  measure(w.passProgFd(), nonVip, packets / 4, nothing);
  measure(w.progFd(), hit, packets / 4, nothing);

  Figures floor = measure(w.passProgFd(), nonVip, packets, nothing);
  Figures pass = measure(w.progFd(), nonVip, packets, nothing);
  hit.set(7);
  hit.flags(kSyn);
  w.runNs(w.progFd(), hit.b);  // records the flow
  hit.flags(kAck);
  Figures hit1 = measure(w.progFd(), hit, packets, nothing);
  // New flow, one flow: the same 5-tuple, its entry deleted before each run
  // (outside the timed part).
  fresh.set(9);
  fresh.flags(kSyn);
  xlb_flow_key k{};
  k.family = XLB_AF_INET;
  k.proto = IPPROTO_TCP;
  std::memcpy(&k.src, &fresh.b[26], 4);
  std::memcpy(&k.dst, &fresh.b[30], 4);
  std::memcpy(&k.sport, &fresh.b[34], 2);
  std::memcpy(&k.dport, &fresh.b[36], 2);
  Figures new1 = measure(w.progFd(), fresh, packets,
                         [&](Packet&, uint32_t) { dp.flowTable().erase(k, vipId); });

  // 1M distinct flows, visited in a shuffled order: the first pass creates
  // them (new flow, table filling up), the second finds them (flow hit).
  std::vector<uint32_t> order(flows);
  for (uint32_t i = 0; i < flows; ++i) order[i] = i + 1000;
  std::shuffle(order.begin(), order.end(), std::mt19937(42));
  Packet many("198.19.0.1");
  auto byOrder = [&](Packet& p, uint32_t i) { p.set(order[i]); };
  many.flags(kSyn);
  Figures newMany = measure(w.progFd(), many, flows, byOrder);
  std::shuffle(order.begin(), order.end(), std::mt19937(7));
  many.flags(kAck);
  Figures hitMany = measure(w.progFd(), many, flows, byOrder);
  auto st = dp.stats();
  uint64_t newFlows = st && st->vips.count(vipId) ? st->vips.at(vipId).newFlows : 0;

  // The same over kVips VIPs: other flows (an empty table first), a VIP
  // picked by flow, so that the rings' share of the cache shows.
  if (!dp.flushFlows()) return 1;
  auto byVip = [&](Packet& p, uint32_t i) {
    p.set(order[i] + 2000000);
    p.dstHost(1 + order[i] % kVips);
  };
  many.flags(kSyn);
  measure(w.progFd(), many, flows, byVip);
  std::shuffle(order.begin(), order.end(), std::mt19937(9));
  many.flags(kAck);
  Figures hitVips = measure(w.progFd(), many, flows, byVip);

  uint64_t tableBytes = uint64_t{dp.flowTable().buckets()} * sizeof(xlb_bucket4);
  double chase = chaseNs(tableBytes);
  // The smallest conceivable table for 1M IPv4 flows: 16 bytes each.
  double packed4k = chaseNs(16ull << 20), packed2m = chaseNs(16ull << 20, true);
  std::printf("xlb_xdp, BPF_PROG_TEST_RUN, one run per call, CPU 0; %u packets per case, %u distinct flows\n",
              packets, flows);
  std::printf("%-34s %8s %8s %10s %10s   %s\n", "case (ns per packet)", "median", "p99", "median-fl",
              "p99-fl", "target (above floor)");
  row("floor: XDP_PASS-only program", floor, floor, "");
  row("non-VIP pass", pass, floor, "<= 40");
  row("VIP flow hit, 1 flow", hit1, floor, "<= 100");
  row("VIP new flow, 1 flow", new1, floor, "<= 250");
  row("VIP new flow, 1M distinct flows", newMany, floor, "<= 250");
  row("VIP flow hit, 1M distinct flows", hitMany, floor, "<= 100");
  row(("VIP flow hit, 1M flows, " + std::to_string(kVips) + " VIPs").c_str(), hitVips, floor, "");
  std::printf("new flows recorded by the VIP counter: %llu\n", static_cast<unsigned long long>(newFlows));
  std::printf("memory floor: one dependent random load over %.0f MiB (the IPv4 flow table's size): %.0f ns\n",
              tableBytes / 1048576.0, chase);
  std::printf("memory floor: one dependent random load over 16 MiB (1M flows x 16 bytes): %.0f ns (4 KiB pages), "
              "%.0f ns (2 MiB pages)\n",
              packed4k, packed2m);
  return 0;
}

// Errors unwind to here, so the namespace and pins of the world are removed.
int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "xdp_bench: %s\n", e.what());
    return 1;
  }
}
