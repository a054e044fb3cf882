// SPDX-License-Identifier: Apache-2.0
// xlbctl health | reload | config show: questions for xlbd.
#include <cstdio>
#include <iostream>

#include "cli.h"
#include "render.h"

namespace xlbctl {

void addDaemonCommands(CLI::App& app, Commands& out) {
  auto json = std::make_shared<bool>(false);
  auto* health =
      app.add_subcommand("health", "(xlbd) health of every backend: state, weight, last check, error, latency");
  health->add_flag("--json", *json, "JSON output");
  out.push_back({health, Touches::Nothing, "", [json](Context& ctx) {
                   auto r = ctx.call({{"cmd", "health"}});
                   if (*json) {
                     std::cout << r["vips"].dump(2) << "\n";
                     return;
                   }
                   for (const auto& i : r.value("interfaces", nlohmann::json::array())) {
                     std::string name = i.value("name", "");
                     if (i.value("attached", false))
                       std::printf("%s: xlb_xdp attached (program id %u%s)\n", name.c_str(), i.value("program_id", 0u),
                                   i.value("reattaches", 0u)
                                       ? (", attached again " + std::to_string(i.value("reattaches", 0u)) + " times").c_str()
                                       : "");
                     else
                       std::printf("%s: NOT ATTACHED: %s\n", name.c_str(), i.value("problem", std::string("?")).c_str());
                   }
                   printHealth(r["vips"]);
                 }});

  auto* reload = app.add_subcommand("reload", "(xlbd) re-read the config file and apply the difference");
  out.push_back({reload, Touches::Nothing, "", [](Context& ctx) {
                   auto r = ctx.call({{"cmd", "reload"}});
                   auto& res = r["result"];
                   std::printf("reloaded: generation %llu, %s\n", res.value("generation", 0ull),
                               res["changes"].empty() ? "no changes" : res["changes"].dump().c_str());
                 }});

  auto* config = app.add_subcommand("config", "(xlbd) the running configuration")->require_subcommand(1);
  auto* show = config->add_subcommand("show", "print the configuration xlbd runs with (JSON)");
  out.push_back({show, Touches::Nothing, "", [](Context& ctx) {
                   auto r = ctx.call({{"cmd", "config"}});
                   std::cout << r["config"].dump(2) << "\n";
                 }});
}

}  // namespace xlbctl
