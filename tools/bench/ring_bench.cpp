// SPDX-License-Identifier: Apache-2.0
// Time from a health transition to the new ring being visible to the data
// plane, for one VIP with N backends: xlbd's path exactly (Dataplane::syncVip
// with the changed state: backend slot written, Maglev ring recomputed,
// written to the spare half, flipped, the down backend's flows deleted).
// Visibility is checked after each transition through the kernel's view of
// the maps (syscalls, not the writer's mapping): the VIP's live half, picked
// by its ring_sel, must equal a ring computed independently for the backends
// that are up, at 1000 random slots.
//   sudo build/tools/bench/ring_bench [--backends 100] [--transitions 400] [--ring 65537] [--flows 10000]
#include <bpf/bpf.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <random>

#include "xdp_world.h"
#include "xlb/hash.h"
#include "xlb/maglev.h"

using namespace xlb;
using namespace xlb::test;

namespace {
uint32_t gRing = 65537, gBackends = 100;
}

int run(int argc, char** argv) {
  uint32_t transitions = 400, flows = 10000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--backends")) gBackends = std::strtoul(argv[i + 1], nullptr, 10);
    if (!std::strcmp(argv[i], "--transitions")) transitions = std::strtoul(argv[i + 1], nullptr, 10);
    if (!std::strcmp(argv[i], "--ring")) gRing = std::strtoul(argv[i + 1], nullptr, 10);
    if (!std::strcmp(argv[i], "--flows")) flows = std::strtoul(argv[i + 1], nullptr, 10);
  }
  if (geteuid() != 0) {
    std::fprintf(stderr, "ring_bench: needs root (BPF maps, a private namespace)\n");
    return 2;
  }
  XdpWorld w([](LoadSettings& s) {
    s.ringSize = gRing;
    s.maxBackends = 4096;  // 4x the default: xlbd reads the whole backend table per sync
    s.maxFlows = 1 << 18;
  });
  auto& dp = w.dp();
  VipKey vip{*Endpoint::parse("198.19.0.1:80"), IPPROTO_TCP};
  std::vector<DesiredBackend> want;
  for (uint32_t i = 0; i < gBackends; ++i)
    want.push_back({*IpAddr::parse("198.18." + std::to_string(2 + i / 250) + "." + std::to_string(1 + i % 250))});
  if (auto r = dp.syncVip(vip, XLB_FWD_L2DSR, want, nullptr); !r) {
    std::fprintf(stderr, "%s\n", r.error().describe().c_str());
    return 1;
  }
  // Fill the flow table as traffic would (the sweep of a down backend's
  // flows walks it): flows spread over the backends.
  auto vinfo = *dp.vip(vip);
  auto bes = *dp.backends();
  for (uint32_t i = 0; i < flows; ++i) {
    xlb_flow_key k{};
    k.family = XLB_AF_INET;
    k.proto = IPPROTO_TCP;
    k.src.addr[0] = htonl(0xc6128000u + i);  // 198.18.128.0/17
    k.dst = vip.ep.addr.toAbi();
    k.sport = htons(1024 + i % 50000);
    k.dport = htons(80);
    const auto& b = bes[i % bes.size()];
    dp.flowTable().put(k, vinfo.id, xlb_flow_val{uint16_t(b.id), uint16_t(b.gen), 0});
  }

  std::mt19937 rng(1);
  std::vector<double> us;
  uint32_t visible = 0;
  for (uint32_t t = 0; t < transitions; ++t) {
    // Each transition flips one backend: down if up, up if down.
    auto& d = want[rng() % want.size()];
    d.down = !d.down;
    auto t0 = std::chrono::steady_clock::now();
    auto r = dp.syncVip(vip, XLB_FWD_L2DSR, want, nullptr);
    auto t1 = std::chrono::steady_clock::now();
    if (!r || !r->ringFlipped) {
      std::fprintf(stderr, "transition %u: %s\n", t, r ? "ring not flipped" : r.error().describe().c_str());
      return 1;
    }
    us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    auto v = *dp.vip(vip);
    std::vector<MaglevBackend> up;
    auto bes = dp.backends();  // alive for the whole loop
    for (const auto& b : bes.value())
      if (b.vipId == v.id && !b.down) up.push_back({b.id, b.addr, b.weight});
    auto expect = maglevRing(up, gRing);
    bool same = true;
    for (int i = 0; i < 1000 && same; ++i) {
      uint32_t slot = rng() % gRing;
      uint32_t key = (v.id * 2 + (v.ringSel & 1)) * xlb_ring_chunks(gRing) + slot / XLB_RING_CHUNK;
      xlb_ring_chunk got{};
      same = bpf_map_lookup_elem(w.ringsFd(), &key, &got) == 0 && got.id[slot % XLB_RING_CHUNK] == expect[slot];
    }
    visible += same;
  }
  std::sort(us.begin(), us.end());
  std::printf("ring update after a health transition: 1 VIP, %u backends, ring %u slots, %u flows in the table, "
              "backend table of 4096 slots\n",
              gBackends, gRing, flows);
  std::printf("%u transitions: median %.0f us, p99 %.0f us, max %.0f us (target < 10000 us)\n", transitions,
              us[us.size() / 2], us[us.size() * 99 / 100], us.back());
  std::printf("the live ring matched the new state after %u of %u transitions\n", visible, transitions);
  (void)vinfo;
  return visible == transitions ? 0 : 1;
}

// Errors unwind to here, so the namespace and pins of the world are removed.
int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ring_bench: %s\n", e.what());
    return 1;
  }
}
