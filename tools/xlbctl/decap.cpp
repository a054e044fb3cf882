// SPDX-License-Identifier: Apache-2.0
// xlbctl decap attach | detach | vip add|del | list: xlb_decap on a backend in ipip mode.
#include <cstdio>
#include <iostream>
#include <memory>

#include "cli.h"
#include "render.h"
#include "xlb/loader.h"

namespace xlbctl {

void addDecapCommands(CLI::App& app, Commands& out) {
  struct Args {
    std::string ifname, mode = "auto", addr;
    std::vector<std::string> vips;
    bool force = false, json = false;
  };
  auto a = std::make_shared<Args>();
  // xlb_decap has its own pin path (one per backend): xlbd never owns it.
  auto* decap = app.add_subcommand("decap", "xlb_decap on a backend in ipip mode")->require_subcommand(1);

  auto* attach = decap->add_subcommand("attach", "attach xlb_decap to an interface");
  attach->add_option("iface", a->ifname, "interface")->required();
  attach->add_option("--vip", a->vips, "VIP address to decapsulate for (repeatable)");
  attach->add_option("--mode", a->mode, "native, generic or auto")->capture_default_str();
  attach->add_flag("--force", a->force, "replace whatever XDP program holds the interface");
  out.push_back({attach, Touches::Nothing, "", [a](Context& ctx) {
                   std::vector<xlb::IpAddr> addrs;
                   for (const auto& v : a->vips) addrs.push_back(check(xlb::IpAddr::parse(v)));
                   auto id = check(xlb::decapAttach(ctx.pinDir, a->ifname, check(xlb::parseAttachMode(a->mode)),
                                                    addrs, a->force));
                   std::printf("xlb_decap attached on %s (program id %u, %zu VIPs)\n", a->ifname.c_str(), id,
                               addrs.size());
                 }});

  auto* detach = decap->add_subcommand("detach", "detach xlb_decap");
  detach->add_option("iface", a->ifname, "interface")->required();
  out.push_back({detach, Touches::Nothing, "", [a](Context& ctx) {
                   check(xlb::decapDetach(ctx.pinDir, a->ifname));
                   std::printf("xlb_decap detached from %s\n", a->ifname.c_str());
                 }});

  auto* vip = decap->add_subcommand("vip", "add or remove a decap VIP address")->require_subcommand(1);
  for (bool add : {true, false}) {
    auto* c = vip->add_subcommand(add ? "add" : "del", add ? "decapsulate packets for ADDR" : "stop decapsulating for ADDR");
    c->add_option("addr", a->addr, "VIP address")->required();
    out.push_back({c, Touches::Nothing, "", [a, add](Context& ctx) {
                     auto addr = check(xlb::IpAddr::parse(a->addr));
                     check(xlb::decapVip(ctx.pinDir, addr, add));
                     std::printf("decap VIP %s %s\n", addr.str().c_str(), add ? "added" : "removed");
                   }});
  }

  auto* list = decap->add_subcommand("list", "decap VIPs, interfaces and counters");
  list->add_flag("--json", a->json, "JSON output");
  out.push_back({list, Touches::Nothing, "", [a](Context& ctx) {
                   auto st = check(xlb::decapStatus(ctx.pinDir));
                   if (a->json)
                     std::cout << decapJson(st).dump(2) << "\n";
                   else
                     printDecap(st);
                 }});
}

}  // namespace xlbctl
