// SPDX-License-Identifier: Apache-2.0
// xlbctl: manage xlb's pinned maps directly (xlbctl NOUN VERB).
#include <linux/capability.h>
#include <netinet/in.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <thread>

#include "render.h"
#include "xlb/control.h"
#include "xlb/dataplane.h"
#include "xlb/loader.h"
#include "xlb/neigh.h"

using namespace xlb;
using nlohmann::json;

namespace {

// A failed command: message on stderr, exit status 1.
struct CommandError {
  std::string message;
};

template <class T>
T check(Result<T> r) {
  if (!r) throw CommandError{r.error().describe()};
  if constexpr (!std::is_void_v<T>) return std::move(*r);
}

struct VipArgs {
  std::string endpoint;
  std::string proto;
  VipKey key() const {
    auto ep = check(Endpoint::parse(endpoint));
    return VipKey{ep, check(parseProto(proto))};
  }
};

void addVipArgs(CLI::App* cmd, VipArgs& a) {
  cmd->add_option("vip", a.endpoint, "VIP as ADDR:PORT or [ADDR]:PORT")->required();
  cmd->add_option("--proto", a.proto, "tcp or udp")->required();
}

volatile std::sig_atomic_t stopWatch = 0;

bool hasCap(int cap) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (syscall(SYS_capget, &hdr, data) != 0) return false;
  return data[cap / 32].effective & (1u << (cap % 32));
}

// Every command reads or writes BPF objects; say so up front rather than
// as a puzzling "not attached" (an unprivileged user cannot see the pins).
bool privileged() {
  return (hasCap(CAP_BPF) || hasCap(CAP_SYS_ADMIN)) && hasCap(CAP_NET_ADMIN);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"xlbctl: manage the xlb XDP load balancer"};
  app.require_subcommand(1);
  std::string pinDir = kDefaultPinDir;
  app.add_option("--pin-path", pinDir, "bpffs directory of this xlb instance")->capture_default_str();

  // attach / detach
  std::string ifname, modeStr = "auto";
  LoadSettings load;
  std::string encap4, encap6;
  auto* attach = app.add_subcommand("attach", "load, pin and attach xlb_xdp to an interface");
  attach->add_option("iface", ifname, "interface")->required();
  attach->add_option("--mode", modeStr, "native, generic or auto")->capture_default_str();
  attach->add_option("--ring-size", load.ringSize, "Maglev ring size, a prime (default 65537)");
  attach->add_option("--max-vips", load.maxVips, "VIP capacity (default 32)");
  attach->add_option("--max-backends", load.maxBackends, "backend capacity (default 1024)");
  attach->add_option("--max-flows", load.maxFlows, "flow table capacity (default 262144)");
  attach->add_option("--encap-src4", encap4, "outer IPv4 source prefix for ipip (default 172.16.0.0/16)");
  attach->add_option("--encap-src6", encap6, "outer IPv6 source prefix for ipip (default fd00::/96)");
  auto* detach = app.add_subcommand("detach", "detach xlb_xdp; unpin the maps when no interface is left");
  detach->add_option("iface", ifname, "interface")->required();

  // vip
  auto* vip = app.add_subcommand("vip", "manage VIPs")->require_subcommand(1);
  VipArgs va;
  std::string forward = "l2dsr";
  bool asJson = false;
  auto* vipAdd = vip->add_subcommand("add", "add a VIP");
  addVipArgs(vipAdd, va);
  vipAdd->add_option("--forward", forward, "l2dsr or ipip")->capture_default_str();
  auto* vipDel = vip->add_subcommand("del", "delete a VIP, its backends and flows");
  addVipArgs(vipDel, va);
  auto* vipList = vip->add_subcommand("list", "list VIPs and their backends");
  vipList->add_flag("--json", asJson, "JSON output");

  // backend
  auto* backend = app.add_subcommand("backend", "manage a VIP's backends")->require_subcommand(1);
  std::string beAddr;
  uint32_t weight = 1;
  auto* beAdd = backend->add_subcommand("add", "add a backend to a VIP");
  addVipArgs(beAdd, va);
  beAdd->add_option("backend", beAddr, "backend address")->required();
  beAdd->add_option("--weight", weight, "weight (0 = draining)")->capture_default_str();
  auto* beSet = backend->add_subcommand("set", "change a backend's weight (0 drains it)");
  addVipArgs(beSet, va);
  beSet->add_option("backend", beAddr, "backend address")->required();
  beSet->add_option("--weight", weight, "weight (0 = draining)")->required();
  auto* beDel = backend->add_subcommand("del", "remove a backend from a VIP");
  addVipArgs(beDel, va);
  beDel->add_option("backend", beAddr, "backend address")->required();
  // Administrative state, kept by xlbd across health changes and restarts.
  std::string adminProto = "tcp";
  CLI::App* beAdmin[3];
  const char* adminVerbs[3] = {"enable", "disable", "drain"};
  const char* adminHelp[3] = {"(xlbd) let health decide again", "(xlbd) take out of service: no new flows, its flows re-balanced",
                              "(xlbd) no new flows; existing flows continue"};
  for (int i = 0; i < 3; ++i) {
    beAdmin[i] = backend->add_subcommand(adminVerbs[i], adminHelp[i]);
    beAdmin[i]->add_option("vip", va.endpoint, "VIP as ADDR:PORT or [ADDR]:PORT")->required();
    beAdmin[i]->add_option("backend", beAddr, "backend address")->required();
    beAdmin[i]->add_option("--proto", adminProto, "tcp or udp")->capture_default_str();
  }

  // daemon-only commands
  auto* health = app.add_subcommand("health", "(xlbd) health of every backend: state, last check, error, latency");
  health->add_flag("--json", asJson, "JSON output");
  auto* reload = app.add_subcommand("reload", "(xlbd) re-read the config file and apply the difference");
  auto* configCmd = app.add_subcommand("config", "(xlbd) the running configuration")->require_subcommand(1);
  auto* configShow = configCmd->add_subcommand("show", "print the configuration xlbd runs with (JSON)");

  // stats
  double watch = 0;
  unsigned count = 0;
  auto* stats = app.add_subcommand("stats", "counters by reason, VIP and backend");
  stats->add_flag("--json", asJson, "JSON output");
  stats->add_option("--watch", watch, "print rates every SECONDS until interrupted")->check(CLI::PositiveNumber);
  stats->add_option("--count", count, "with --watch: stop after N reports");

  // flows
  auto* flows = app.add_subcommand("flows", "the flow table")->require_subcommand(1);
  size_t limit = 100;
  auto* flowsList = flows->add_subcommand("list", "list flows");
  flowsList->add_option("--limit", limit, "at most N flows")->capture_default_str();
  flowsList->add_flag("--json", asJson, "JSON output");
  auto* flowsFlush = flows->add_subcommand("flush", "delete every flow (they are re-balanced by the ring)");

  // explain
  std::string src, dst, proto;
  auto* explain = app.add_subcommand("explain", "which backend a flow gets, and why");
  explain->add_option("--proto", proto, "tcp or udp")->required();
  explain->add_option("src", src, "client ADDR:PORT")->required();
  explain->add_option("dst", dst, "VIP ADDR:PORT")->required();
  explain->add_flag("--json", asJson, "JSON output");

  // decap
  auto* decap = app.add_subcommand("decap", "xlb_decap on a backend in ipip mode")->require_subcommand(1);
  std::vector<std::string> decapVips;
  auto* decapAttachCmd = decap->add_subcommand("attach", "attach xlb_decap to an interface");
  decapAttachCmd->add_option("iface", ifname, "interface")->required();
  decapAttachCmd->add_option("--vip", decapVips, "VIP address to decapsulate for (repeatable)");
  decapAttachCmd->add_option("--mode", modeStr, "native, generic or auto")->capture_default_str();
  auto* decapDetachCmd = decap->add_subcommand("detach", "detach xlb_decap");
  decapDetachCmd->add_option("iface", ifname, "interface")->required();
  auto* decapVipCmd = decap->add_subcommand("vip", "add or remove a decap VIP address")->require_subcommand(1);
  std::string decapAddr;
  auto* decapVipAdd = decapVipCmd->add_subcommand("add", "decapsulate packets for ADDR");
  decapVipAdd->add_option("addr", decapAddr)->required();
  auto* decapVipDel = decapVipCmd->add_subcommand("del", "stop decapsulating for ADDR");
  decapVipDel->add_option("addr", decapAddr)->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    std::cerr << "(see: xlbctl --help, or xlbctl COMMAND --help)\n";
    return 2;
  }

  if (!privileged()) {
    std::fprintf(stderr, "xlbctl: needs root (CAP_BPF and CAP_NET_ADMIN): run it with sudo\n");
    return 1;
  }
  try {
    // With xlbd running, it is the only writer of the maps.
    auto daemon = daemonSocket(pinDir);
    bool edits = *attach || *vipAdd || *vipDel || *beAdd || *beSet || *beDel || *flowsFlush;
    if (daemon && edits)
      throw CommandError{"xlbd owns the maps under " + pinDir + " (control socket " + *daemon +
                         "): edit its config file and run 'xlbctl reload', or use 'xlbctl backend enable|disable|drain VIP BACKEND'"};
    auto call = [&](const json& req) {
      if (!daemon)
        throw CommandError{"xlbd is not running for " + pinDir +
                           " (this command needs the daemon: start it with xlbd --config FILE)"};
      auto r = check(controlCall(*daemon, req));
      if (!r.value("ok", false)) throw CommandError{r.value("error", std::string("xlbd refused"))};
      return r;
    };
    int admin = -1;
    for (int i = 0; i < 3; ++i)
      if (beAdmin[i]->parsed()) admin = i;
    if (admin >= 0) {
      check(parseProto(adminProto));
      auto r = call({{"cmd", "backend"}, {"action", adminVerbs[admin]}, {"vip", va.endpoint}, {"proto", adminProto},
                     {"backend", beAddr}});
      std::printf("backend %s of %s/%s: %s (health: %s%s)\n", beAddr.c_str(), va.endpoint.c_str(), adminProto.c_str(),
                  r.value("admin", "").c_str(), r.value("state", "").c_str(),
                  r.value("flows_removed", 0) ? (", " + std::to_string(r.value("flows_removed", 0)) + " flows re-balanced").c_str() : "");
      return 0;
    }
    if (*health) {
      auto r = call({{"cmd", "health"}});
      if (asJson)
        std::cout << r["vips"].dump(2) << "\n";
      else
        xlbctl::printHealth(r["vips"]);
      return 0;
    }
    if (*reload) {
      auto r = call({{"cmd", "reload"}});
      auto& res = r["result"];
      std::printf("reloaded: generation %llu, %s\n", res.value("generation", 0ull),
                  res["changes"].empty() ? "no changes" : res["changes"].dump().c_str());
      return 0;
    }
    if (*configShow) {
      auto r = call({{"cmd", "config"}});
      std::cout << r["config"].dump(2) << "\n";
      return 0;
    }
    if (*attach) {
      if (!encap4.empty()) load.encap4 = check(Prefix::parse(encap4));
      if (!encap6.empty()) load.encap6 = check(Prefix::parse(encap6));
      auto r = check(xlb::attach(pinDir, ifname, check(parseAttachMode(modeStr)), load));
      std::printf("xlb_xdp %s on %s (program id %u, ring size %u, pinned at %s)\n",
                  r.replaced ? "replaced" : "attached", ifname.c_str(), r.progId, r.meta.ring_size,
                  pinDir.c_str());
    } else if (*detach) {
      check(xlb::detach(pinDir, ifname));
      std::printf("xlb_xdp detached from %s\n", ifname.c_str());
    } else if (*vip) {
      if (*vipList) {
        auto dp = check(Dataplane::open(pinDir));
        auto vs = check(dp.vips());
        auto bs = check(dp.backends());
        // With xlbd running, its names and check states join the maps' view.
        json health = nullptr;
        if (daemon)
          if (auto r = controlCall(*daemon, {{"cmd", "health"}}); r && r->value("ok", false)) health = (*r)["vips"];
        if (asJson)
          std::cout << xlbctl::vipsJson(vs, bs, health).dump(2) << "\n";
        else
          xlbctl::printVips(vs, bs, health);
      } else {
        VipKey key = va.key();
        auto dp = check(Dataplane::open(pinDir));
        if (*vipAdd) {
          auto v = check(dp.addVip(key, check(parseForward(forward))));
          std::printf("VIP %s added (id %u, %s)\n", key.str().c_str(), v.id, forwardName(v.forward));
        } else {
          check(dp.delVip(key));
          std::printf("VIP %s deleted\n", key.str().c_str());
        }
      }
    } else if (*backend) {
      VipKey key = va.key();
      IpAddr addr = check(IpAddr::parse(beAddr));
      auto dp = check(Dataplane::open(pinDir));
      if (*beAdd) {
        NetlinkNeighbours neigh;
        auto b = check(dp.addBackend(key, addr, weight, &neigh));
        if (!b.warning.empty()) std::fprintf(stderr, "warning: %s\n", b.warning.c_str());
        std::printf("backend %s added to %s (id %u, weight %u)\n", addr.str().c_str(), key.str().c_str(), b.id,
                    b.weight);
      } else if (*beSet) {
        check(dp.setWeight(key, addr, weight));
        std::printf("backend %s in %s: weight %u%s\n", addr.str().c_str(), key.str().c_str(), weight,
                    weight ? "" : " (draining: no new flows, existing flows continue)");
      } else {
        check(dp.delBackend(key, addr));
        std::printf("backend %s removed from %s\n", addr.str().c_str(), key.str().c_str());
      }
    } else if (*stats) {
      auto dp = check(Dataplane::open(pinDir));
      if (watch <= 0) {
        auto s = check(dp.stats());
        auto vs = check(dp.vips());
        auto bs = check(dp.backends());
        if (asJson)
          std::cout << xlbctl::statsJson(s, vs, bs).dump(2) << "\n";
        else
          xlbctl::printStats(s, vs, bs, nullptr, 0);
      } else {
        std::signal(SIGINT, [](int) { stopWatch = 1; });
        std::signal(SIGTERM, [](int) { stopWatch = 1; });
        auto prev = check(dp.stats());
        auto t0 = std::chrono::steady_clock::now();
        for (unsigned n = 0; !stopWatch && (count == 0 || n < count); ++n) {
          std::this_thread::sleep_for(std::chrono::duration<double>(watch));
          if (stopWatch) break;
          auto s = check(dp.stats());
          auto t1 = std::chrono::steady_clock::now();
          double secs = std::chrono::duration<double>(t1 - t0).count();
          auto vs = check(dp.vips());
          auto bs = check(dp.backends());
          if (asJson) {
            std::cout << xlbctl::statsJson(s, vs, bs).dump() << std::endl;
          } else {
            std::printf("--- %.1fs ---\n", secs);
            xlbctl::printStats(s, vs, bs, &prev, secs);
            std::fflush(stdout);
          }
          prev = std::move(s);
          t0 = t1;
        }
      }
    } else if (*flows) {
      auto dp = check(Dataplane::open(pinDir));
      if (*flowsList) {
        auto fl = check(dp.flows(limit));
        auto bs = check(dp.backends());
        if (asJson)
          std::cout << xlbctl::flowsJson(fl, bs).dump(2) << "\n";
        else
          xlbctl::printFlows(fl, bs);
      } else if (*flowsFlush) {
        auto n = check(dp.flushFlows());
        std::printf("%zu flows deleted\n", n);
      }
    } else if (*explain) {
      auto s = check(Endpoint::parse(src));
      auto d = check(Endpoint::parse(dst));
      if (s.addr.family != d.addr.family) throw CommandError{"source and destination must be of one address family"};
      xlb_flow_key k{};
      k.src = s.addr.toAbi();
      k.dst = d.addr.toAbi();
      k.sport = htons(s.port);
      k.dport = htons(d.port);
      k.proto = check(parseProto(proto));
      k.family = s.addr.family;
      auto dp = check(Dataplane::open(pinDir));
      auto e = check(dp.explain(k));
      if (asJson)
        std::cout << xlbctl::explainJson(e).dump(2) << "\n";
      else
        xlbctl::printExplain(e);
    } else if (*decap) {
      if (*decapAttachCmd) {
        std::vector<IpAddr> addrs;
        for (const auto& v : decapVips) addrs.push_back(check(IpAddr::parse(v)));
        auto id = check(decapAttach(pinDir, ifname, check(parseAttachMode(modeStr)), addrs));
        std::printf("xlb_decap attached on %s (program id %u, %zu VIPs)\n", ifname.c_str(), id, addrs.size());
      } else if (*decapDetachCmd) {
        check(decapDetach(pinDir, ifname));
        std::printf("xlb_decap detached from %s\n", ifname.c_str());
      } else {
        auto addr = check(IpAddr::parse(decapAddr));
        check(decapVip(pinDir, addr, decapVipAdd->parsed()));
        std::printf("decap VIP %s %s\n", addr.str().c_str(), decapVipAdd->parsed() ? "added" : "removed");
      }
    }
  } catch (const CommandError& e) {
    std::fprintf(stderr, "xlbctl: %s\n", e.message.c_str());
    return 1;
  }
  return 0;
}
