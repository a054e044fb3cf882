// SPDX-License-Identifier: Apache-2.0
#include "xdp_world.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <net/if.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "xlb/loader.h"

namespace xlb::test {

std::string hexdump(const Bytes& b) {
  std::string s;
  char buf[4];
  for (size_t i = 0; i < b.size(); ++i) {
    std::snprintf(buf, sizeof(buf), "%02x", b[i]);
    s += buf;
    s += (i % 16 == 15) ? "\n" : " ";
  }
  return s;
}

xlb_flow_key flowKeyOf(const Bytes& l3) {
  xlb_flow_key k{};
  size_t l4;
  if ((l3[0] >> 4) == 6) {
    k.family = XLB_AF_INET6;
    std::memcpy(&k.src, &l3[8], 16);
    std::memcpy(&k.dst, &l3[24], 16);
    k.proto = l3[6];
    l4 = 40;
  } else {
    k.family = XLB_AF_INET;
    std::memcpy(&k.src, &l3[12], 4);
    std::memcpy(&k.dst, &l3[16], 4);
    k.proto = l3[9];
    l4 = (l3[0] & 0xf) * 4;
  }
  std::memcpy(&k.sport, &l3[l4], 2);
  std::memcpy(&k.dport, &l3[l4 + 2], 2);
  return k;
}

namespace {

// A one-instruction XDP program returning XDP_PASS: the harness floor.
int loadPassProg() {
  struct bpf_insn insns[] = {
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, XDP_PASS},
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
  return bpf_prog_load(BPF_PROG_TYPE_XDP, "xlb_floor", "GPL", insns, 2, nullptr);
}

}  // namespace

XdpWorld::XdpWorld(void (*tune)(LoadSettings&)) {
  try {
    build(tune);
  } catch (...) {
    // A half-built world still owns a namespace and maybe pins: remove them.
    cleanup();
    throw;
  }
}

void XdpWorld::build(void (*tune)(LoadSettings&)) {
  ns_ = std::make_unique<ScopedNetns>();
  const char* setup[] = {
      "ip link add xt0 type veth peer name xt1",
      "ip link set xt0 address 02:00:00:00:00:02 up",
      "ip link set xt1 address 02:00:00:00:00:01 up",
      "ip addr add 198.18.0.2/24 dev xt0",
      "ip -6 addr add 2001:db8:0:1::2/64 dev xt0 nodad",
      "ip link add xr0 type veth peer name xr1",
      "ip link set xr0 address 02:00:00:00:01:02 up",
      "ip link set xr1 up",
      "ip addr add 198.18.1.2/24 dev xr0",
      "sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1",
      "ip neigh add 198.18.1.11 lladdr 02:00:00:00:01:11 dev xr0 nud permanent",
  };
  for (const char* c : setup) ScopedNetns::sh(c);
  for (int i = 11; i <= 13; ++i) {
    std::string n = std::to_string(i);
    ScopedNetns::sh("ip neigh add 198.18.0." + n + " lladdr 02:00:00:00:00:" + n + " dev xt0 nud permanent");
    ScopedNetns::sh("ip -6 neigh add 2001:db8:0:1::" + n + " lladdr 02:00:00:00:00:" + n +
                    " dev xt0 nud permanent");
  }
  ifXt0_ = static_cast<int>(if_nametoindex("xt0"));
  ifXr0_ = static_cast<int>(if_nametoindex("xr0"));

  pinDir_ = "/sys/fs/bpf/" + ns_->name();
  LoadSettings s;
  s.ringSize = kTestRing;
  s.maxVips = 16;
  s.maxBackends = 64;
  s.maxFlows = 1 << 21;
  s.encap4 = *Prefix::parse("198.19.255.0/24");
  s.encap6 = *Prefix::parse("2001:db8:ff::/64");
  if (tune) tune(s);
  auto m = makeMeta(s);
  if (!m) throw std::runtime_error(m.error().describe());
  meta_ = *m;
  if (auto r = checkBpffs("/sys/fs/bpf"); !r) throw std::runtime_error(r.error().describe());
  std::filesystem::create_directories(pinDir_);
  auto skel = openXlbXdp(meta_, pinDir_);
  if (!skel) throw std::runtime_error(skel.error().describe());
  skel_ = std::move(*skel);
  if (int rc = xlb_xdp__load(skel_.get()); rc != 0)
    throw std::runtime_error("cannot load xlb_xdp: " + std::string(strerror(-rc)));
  uint32_t zero = 0;
  bpf_map__update_elem(skel_->maps.xlb_meta, &zero, sizeof(zero), &meta_, sizeof(meta_), 0);
  auto dp = Dataplane::open(pinDir_);
  if (!dp) throw std::runtime_error(dp.error().describe());
  dp_ = std::make_unique<Dataplane>(std::move(*dp));
  passFd_ = loadPassProg();
  if (passFd_ < 0) throw std::runtime_error("cannot load the floor program");
}

XdpWorld::~XdpWorld() { cleanup(); }

void XdpWorld::cleanup() {
  dp_.reset();
  skel_.reset();
  if (passFd_ >= 0) ::close(passFd_);
  passFd_ = -1;
  std::error_code ec;
  if (!pinDir_.empty()) std::filesystem::remove_all(pinDir_, ec);
  pinDir_.clear();
  ns_.reset();
}

int XdpWorld::progFd() const { return bpf_program__fd(skel_->progs.xlb_xdp); }
int XdpWorld::txPortsFd() const { return bpf_map__fd(skel_->maps.xlb_tx_ports); }
int XdpWorld::reasonsFd() const { return bpf_map__fd(skel_->maps.xlb_reasons); }
int XdpWorld::ringsFd() const { return bpf_map__fd(skel_->maps.xlb_rings); }

RunResult XdpWorld::run(const Bytes& in) const {
  RunResult r;
  r.out.resize(in.size() + 256);
  xdp_md ctx{};
  ctx.data_end = in.size();
  ctx.ingress_ifindex = ifXt0_;
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in.data(), .data_out = r.out.data(),
              .data_size_in = static_cast<uint32_t>(in.size()),
              .data_size_out = static_cast<uint32_t>(r.out.size()), .ctx_in = &ctx,
              .ctx_size_in = sizeof(ctx), .repeat = 1);
  if (bpf_prog_test_run_opts(progFd(), &opts) != 0)
    throw std::runtime_error("BPF_PROG_TEST_RUN failed: " + std::string(strerror(errno)));
  r.action = static_cast<int>(opts.retval);
  r.out.resize(opts.data_size_out);
  return r;
}

long long XdpWorld::runNs(int fd, const Bytes& in) const {
  Bytes out(in.size() + 256);
  xdp_md ctx{};
  ctx.data_end = in.size();
  ctx.ingress_ifindex = ifXt0_;
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in.data(), .data_out = out.data(),
              .data_size_in = static_cast<uint32_t>(in.size()),
              .data_size_out = static_cast<uint32_t>(out.size()), .ctx_in = &ctx,
              .ctx_size_in = sizeof(ctx), .repeat = 1);
  if (bpf_prog_test_run_opts(fd, &opts) != 0) return -1;
  return opts.duration;
}

}  // namespace xlb::test
