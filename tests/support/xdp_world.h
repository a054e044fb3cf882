// SPDX-License-Identifier: Apache-2.0
// xlb_xdp loaded for BPF_PROG_TEST_RUN inside a private namespace whose
// routes and (permanent) neighbours make bpf_fib_lookup deterministic:
//   xt0 02:00:00:00:00:02  198.18.0.2/24  2001:db8:0:1::2/64
//       backends 198.18.0.11-13, 2001:db8:0:1::11-13 -> 02:00:00:00:00:11-13
//       198.18.0.99 has no neighbour entry
//   xr0 02:00:00:00:01:02  198.18.1.2/24; 198.18.1.11 -> 02:00:00:00:01:11
// Maps are pinned in a unique bpffs directory, removed with the world.
#pragma once

#include <memory>
#include <string>

#include "netns.h"
#include "packet.h"
#include "xdp_object.h"
#include "xlb/dataplane.h"
#include "xlb/loader.h"

namespace xlb::test {

inline constexpr uint32_t kTestRing = 1031;
inline const Mac kLbMac = mac(0, 2), kRedirMac = mac(1, 2);
// Backend 198.18.0.NN has MAC 02:00:00:00:00:NN (NN read as hex digits).
inline Mac backendMac(int i) { return mac(0, static_cast<uint8_t>((i / 10) * 16 + i % 10)); }
inline int macIndex(uint8_t b) { return (b >> 4) * 10 + (b & 0xf); }

// The flow key of an IPv4 or IPv6 TCP/UDP datagram (no extension headers).
xlb_flow_key flowKeyOf(const Bytes& l3);

struct RunResult {
  int action = -1;
  Bytes out;
};

class XdpWorld {
 public:
  // throws std::runtime_error when the world cannot be built; `tune` may
  // change the load settings (ring size, capacities) before the load.
  explicit XdpWorld(void (*tune)(LoadSettings&) = nullptr);
  ~XdpWorld();

  Dataplane& dp() { return *dp_; }
  const xlb_meta& meta() const { return meta_; }
  int ifindex() const { return ifXt0_; }
  int redirIfindex() const { return ifXr0_; }
  int progFd() const;
  int passProgFd() const { return passFd_; }
  int txPortsFd() const;
  int reasonsFd() const;
  int ringsFd() const;

  RunResult run(const Bytes& in) const;                     // xlb_xdp, ingress xt0
  long long runNs(int progFd, const Bytes& in) const;       // one run, kernel-timed ns

 private:
  void build(void (*tune)(LoadSettings&));
  void cleanup();  // idempotent: the destructor, and a constructor that throws

  std::unique_ptr<ScopedNetns> ns_;
  std::string pinDir_;
  xlb_meta meta_{};
  XdpSkel skel_{nullptr, xlb_xdp__destroy};
  std::unique_ptr<Dataplane> dp_;
  int ifXt0_ = 0, ifXr0_ = 0, passFd_ = -1;
};

}  // namespace xlb::test
