// SPDX-License-Identifier: Apache-2.0
// xlbctl backend add | set | del | refresh (the maps, no daemon) and
// weight | enable | disable | drain (xlbd's operator states).
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>

#include "cli.h"
#include "xlb/dataplane.h"
#include "xlb/neigh.h"
#include "xlb/nexthop.h"
#include "xlb/plan.h"

namespace xlbctl {

// Without xlbd nothing follows a neighbour's or a route's change: next hops
// xlbctl writes give way to bpf_fib_lookup after ten minutes, unless
// `backend refresh` runs again (a timer can run it).
constexpr std::chrono::seconds kBareNexthopTtl{600};

void addBackendCommands(CLI::App& app, Commands& out) {
  struct Args {
    std::string endpoint, proto, backend;
    uint32_t weight = 1;
  };
  auto a = std::make_shared<Args>();
  auto* backend = app.add_subcommand("backend", "manage a VIP's backends")->require_subcommand(1);
  auto common = [&](CLI::App* c, bool protoRequired) {
    c->add_option("vip", a->endpoint, "VIP as ADDR:PORT or [ADDR]:PORT")->required();
    auto* p = c->add_option("--proto", a->proto, "tcp or udp");
    if (protoRequired) p->required();
    c->add_option("backend", a->backend, "backend address")->required();
  };
  auto weightCheck = finiteRange(0, xlb::kMaxWeight);
  const char* viaConfig = "edit its config file and run 'xlbctl reload'";

  auto* add = backend->add_subcommand("add", "add a backend to a VIP");
  common(add, true);
  add->add_option("--weight", a->weight, "weight 0..65535 (0 = draining)")->capture_default_str()->check(weightCheck);
  out.push_back({add, Touches::Instance, viaConfig, [a](Context& ctx) {
                   auto key = vipKey(a->endpoint, a->proto);
                   auto addr = check(xlb::IpAddr::parse(a->backend));
                   auto dp = check(xlb::Dataplane::open(ctx.pinDir));
                   xlb::NetlinkNeighbours neigh;
                   auto b = check(dp.addBackend(key, addr, a->weight, &neigh));
                   if (!b.warning.empty()) std::fprintf(stderr, "warning: %s\n", b.warning.c_str());
                   // Its next hop into the maps (and any other that moved):
                   // the data plane then needs no route lookup per packet.
                   std::map<std::string, std::string> unresolved;
                   check(dp.refreshNexthops(xlb::resolveNexthop, kBareNexthopTtl, &unresolved));
                   check(dp.clearMovedSlots());  // slots no recorded flow needs marked
                   if (auto u = unresolved.find(addr.str()); u != unresolved.end())
                     std::fprintf(stderr, "warning: next hop of %s not resolved (%s): its packets ask bpf_fib_lookup\n",
                                  addr.str().c_str(), u->second.c_str());
                   std::printf("backend %s added to %s (id %u, weight %u)\n", addr.str().c_str(), key.str().c_str(),
                               b.id, b.weight);
                   for (const auto& p : dp.forwardingProblems(addr.family)) std::fprintf(stderr, "warning: %s\n", p.c_str());
                 }});

  auto* set = backend->add_subcommand("set", "change a backend's weight (0 drains it)");
  common(set, true);
  set->add_option("--weight", a->weight, "weight 0..65535 (0 = draining)")->required()->check(weightCheck);
  out.push_back({set, Touches::Instance,
                 "use 'xlbctl backend weight VIP BACKEND N' (kept across restarts), or edit its config file and "
                 "run 'xlbctl reload'",
                 [a](Context& ctx) {
                   auto key = vipKey(a->endpoint, a->proto);
                   auto addr = check(xlb::IpAddr::parse(a->backend));
                   auto dp = check(xlb::Dataplane::open(ctx.pinDir));
                   check(dp.setWeight(key, addr, a->weight));
                   check(dp.clearMovedSlots());
                   std::printf("backend %s in %s: weight %u%s\n", addr.str().c_str(), key.str().c_str(), a->weight,
                               a->weight ? "" : " (draining: no new flows, existing flows continue)");
                 }});

  auto* refresh = backend->add_subcommand(
      "refresh", "resolve every backend's next hop again (route, neighbour, link) and renew it for ten minutes");
  out.push_back({refresh, Touches::Instance, "nothing: xlbd keeps next hops current itself", [](Context& ctx) {
                   auto dp = check(xlb::Dataplane::open(ctx.pinDir));
                   std::map<std::string, std::string> unresolved;
                   auto n = check(dp.refreshNexthops(xlb::resolveNexthop, kBareNexthopTtl, &unresolved));
                   std::printf("%zu next hops written\n", n);
                   for (const auto& [addr, why] : unresolved)
                     std::fprintf(stderr, "warning: next hop of %s not resolved (%s): its packets ask bpf_fib_lookup\n",
                                  addr.c_str(), why.c_str());
                 }});

  auto* del = backend->add_subcommand("del", "remove a backend from a VIP");
  common(del, true);
  out.push_back({del, Touches::Instance, viaConfig, [a](Context& ctx) {
                   auto key = vipKey(a->endpoint, a->proto);
                   auto addr = check(xlb::IpAddr::parse(a->backend));
                   auto dp = check(xlb::Dataplane::open(ctx.pinDir));
                   check(dp.delBackend(key, addr));
                   check(dp.clearMovedSlots());
                   std::printf("backend %s removed from %s\n", addr.str().c_str(), key.str().c_str());
                 }});

  // xlbd's operator states: they survive health changes and restarts.
  auto* weight = backend->add_subcommand(
      "weight", "(xlbd) set a backend's weight at run time, kept across restarts (HAProxy's set weight)");
  common(weight, false);
  weight->add_option("weight", a->weight, "weight 0..65535 (0 drains)")->required()->check(weightCheck);
  out.push_back({weight, Touches::Nothing, "", [a](Context& ctx) {
                   std::string proto = a->proto.empty() ? "tcp" : a->proto;
                   check(xlb::parseProto(proto));
                   auto r = ctx.call({{"cmd", "backend"}, {"action", "weight"}, {"weight", a->weight},
                                      {"vip", a->endpoint}, {"proto", proto}, {"backend", a->backend}});
                   std::printf("backend %s of %s/%s: weight %u (configured %u)\n", a->backend.c_str(),
                               a->endpoint.c_str(), proto.c_str(), r.value("weight", 0u),
                               r.value("config_weight", 0u));
                 }});
  struct Admin {
    const char* verb;
    const char* help;
  };
  for (Admin ad : {Admin{"enable", "(xlbd) let health decide again"},
                   Admin{"disable", "(xlbd) take out of service: no new flows, its flows re-balanced"},
                   Admin{"drain", "(xlbd) no new flows; existing flows continue"}}) {
    auto* c = backend->add_subcommand(ad.verb, ad.help);
    common(c, false);
    std::string verb = ad.verb;
    out.push_back({c, Touches::Nothing, "", [a, verb](Context& ctx) {
                     std::string proto = a->proto.empty() ? "tcp" : a->proto;
                     check(xlb::parseProto(proto));
                     auto r = ctx.call({{"cmd", "backend"}, {"action", verb}, {"vip", a->endpoint}, {"proto", proto},
                                        {"backend", a->backend}});
                     size_t moved = r.value("flows_removed", 0u);
                     std::printf("backend %s of %s/%s: %s (health: %s%s)\n", a->backend.c_str(), a->endpoint.c_str(),
                                 proto.c_str(), r.value("admin", "").c_str(), r.value("state", "").c_str(),
                                 moved ? (", " + std::to_string(moved) + " flows re-balanced").c_str() : "");
                   }});
  }
}

}  // namespace xlbctl
