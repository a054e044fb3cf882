// SPDX-License-Identifier: Apache-2.0
// xlbctl vip add | del | list
#include <cstdio>
#include <iostream>
#include <memory>

#include "cli.h"
#include "render.h"
#include "xlb/control.h"
#include "xlb/dataplane.h"

namespace xlbctl {

void addVipCommands(CLI::App& app, Commands& out) {
  struct Args {
    std::string endpoint, proto, forward = "l2dsr";
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  auto* vip = app.add_subcommand("vip", "manage VIPs")->require_subcommand(1);
  auto vipArgs = [&](CLI::App* c) {
    c->add_option("vip", a->endpoint, "VIP as ADDR:PORT or [ADDR]:PORT")->required();
    c->add_option("--proto", a->proto, "tcp or udp")->required();
  };
  const char* viaConfig = "edit its config file and run 'xlbctl reload'";

  auto* add = vip->add_subcommand("add", "add a VIP");
  vipArgs(add);
  add->add_option("--forward", a->forward, "l2dsr or ipip")->capture_default_str();
  out.push_back({add, Touches::Instance, viaConfig, [a](Context& ctx) {
                   auto key = vipKey(a->endpoint, a->proto);
                   auto fwd = check(xlb::parseForward(a->forward));
                   auto dp = check(xlb::Dataplane::open(ctx.pinDir));
                   auto v = check(dp.addVip(key, fwd));
                   std::printf("VIP %s added (id %u, %s)\n", key.str().c_str(), v.id, xlb::forwardName(v.forward));
                   for (const auto& p : dp.forwardingProblems(key.ep.addr.family))
                     std::fprintf(stderr, "warning: %s\n", p.c_str());
                 }});

  auto* del = vip->add_subcommand("del", "delete a VIP, its backends and flows");
  vipArgs(del);
  out.push_back({del, Touches::Instance, viaConfig, [a](Context& ctx) {
                   auto key = vipKey(a->endpoint, a->proto);
                   auto dp = check(xlb::Dataplane::open(ctx.pinDir));
                   check(dp.delVip(key));
                   std::printf("VIP %s deleted\n", key.str().c_str());
                 }});

  auto* list = vip->add_subcommand("list", "list VIPs and their backends");
  list->add_flag("--json", a->json, "JSON output");
  out.push_back({list, Touches::Nothing, "", [a](Context& ctx) {
                   auto dp = check(xlb::Dataplane::open(ctx.pinDir));
                   auto vs = check(dp.vips());
                   auto bs = check(dp.backends());
                   // With xlbd running, its names, check and operator states join the maps' view.
                   nlohmann::json health = nullptr;
                   if (ctx.daemon)
                     if (auto r = xlb::controlCall(*ctx.daemon, {{"cmd", "health"}}); r && r->value("ok", false))
                       health = (*r)["vips"];
                   if (a->json)
                     std::cout << vipsJson(vs, bs, health).dump(2) << "\n";
                   else
                     printVips(vs, bs, health);
                 }});
}

}  // namespace xlbctl
