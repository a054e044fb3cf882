// SPDX-License-Identifier: Apache-2.0
// xlbctl stats | flows list | flows flush | explain: reading the data plane.
#include <netinet/in.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <memory>
#include <thread>

#include "cli.h"
#include "render.h"
#include "xlb/dataplane.h"

namespace xlbctl {

namespace {
volatile std::sig_atomic_t stopWatch = 0;
}

void addStatsCommands(CLI::App& app, Commands& out) {
  struct Args {
    bool json = false;
    double watch = 0;
    uint64_t count = 0;
    uint64_t limit = 100;
    std::string src, dst, proto;
  };
  auto a = std::make_shared<Args>();

  auto* stats = app.add_subcommand("stats", "counters by reason, VIP and backend");
  stats->add_flag("--json", a->json, "JSON output");
  stats->add_option("--watch", a->watch, "print rates every SECONDS (0.1 to 3600) until interrupted")
      ->check(finiteRange(0.1, 3600));
  stats->add_option("--count", a->count, "with --watch: stop after N reports (1 to 1000000)")
      ->check(finiteRange(1, 1e6));
  out.push_back({stats, Touches::Nothing, "", [a](Context& ctx) {
                   auto dp = check(xlb::Dataplane::open(ctx.pinDir));
                   if (a->watch <= 0) {
                     auto s = check(dp.stats());
                     auto vs = check(dp.vips());
                     auto bs = check(dp.backends());
                     if (a->json)
                       std::cout << statsJson(s, vs, bs).dump(2) << "\n";
                     else
                       printStats(s, vs, bs, nullptr, 0);
                     return;
                   }
                   std::signal(SIGINT, [](int) { stopWatch = 1; });
                   std::signal(SIGTERM, [](int) { stopWatch = 1; });
                   auto prev = check(dp.stats());
                   auto t0 = std::chrono::steady_clock::now();
                   for (uint64_t n = 0; !stopWatch && (a->count == 0 || n < a->count); ++n) {
                     std::this_thread::sleep_for(std::chrono::duration<double>(a->watch));
                     if (stopWatch) break;
                     auto s = check(dp.stats());
                     auto t1 = std::chrono::steady_clock::now();
                     double secs = std::chrono::duration<double>(t1 - t0).count();
                     auto vs = check(dp.vips());
                     auto bs = check(dp.backends());
                     if (a->json) {
                       std::cout << statsJson(s, vs, bs, &prev, secs).dump() << std::endl;
                     } else {
                       std::printf("--- %.1fs ---\n", secs);
                       printStats(s, vs, bs, &prev, secs);
                       std::fflush(stdout);
                     }
                     prev = std::move(s);
                     t0 = t1;
                   }
                 }});

  auto* flows = app.add_subcommand("flows", "the flow table")->require_subcommand(1);
  auto* list = flows->add_subcommand("list", "list flows");
  list->add_option("--limit", a->limit, "at most N flows (1 to 100000000)")->capture_default_str()->check(finiteRange(1, 1e8));
  list->add_flag("--json", a->json, "JSON output");
  out.push_back({list, Touches::Nothing, "", [a](Context& ctx) {
                   auto dp = check(xlb::Dataplane::open(ctx.pinDir));
                   auto fl = check(dp.flows(a->limit));
                   auto bs = check(dp.backends());
                   if (a->json)
                     std::cout << flowsJson(fl.entries, bs).dump(2) << "\n";
                   else
                     printFlows(fl, bs, dp.flowCapacity());
                 }});
  auto* flush = flows->add_subcommand("flush", "delete every flow (they are re-balanced by the ring)");
  out.push_back({flush, Touches::Instance,
                 "xlbd manages the flow table (a backend's flows move when it is disabled: "
                 "'xlbctl backend disable VIP BACKEND'); to change the config, edit it and run 'xlbctl reload'",
                 [](Context& ctx) {
                   auto dp = check(xlb::Dataplane::open(ctx.pinDir));
                   std::printf("%zu flows deleted\n", check(dp.flushFlows()));
                 }});

  auto* explain = app.add_subcommand("explain", "which backend a flow gets, and why");
  explain->add_option("--proto", a->proto, "tcp or udp")->required();
  explain->add_option("src", a->src, "client ADDR:PORT")->required();
  explain->add_option("dst", a->dst, "VIP ADDR:PORT")->required();
  explain->add_flag("--json", a->json, "JSON output");
  out.push_back({explain, Touches::Nothing, "", [a](Context& ctx) {
                   auto s = check(xlb::Endpoint::parse(a->src));
                   auto d = check(xlb::Endpoint::parse(a->dst));
                   if (s.addr.family != d.addr.family)
                     throw CommandError{"source and destination must be of one address family"};
                   xlb_flow_key k{};
                   k.src = s.addr.toAbi();
                   k.dst = d.addr.toAbi();
                   k.sport = htons(s.port);
                   k.dport = htons(d.port);
                   k.proto = check(xlb::parseProto(a->proto));
                   k.family = s.addr.family;
                   auto dp = check(xlb::Dataplane::open(ctx.pinDir));
                   auto e = check(dp.explain(k));
                   if (a->json)
                     std::cout << explainJson(e).dump(2) << "\n";
                   else
                     printExplain(e);
                 }});
}

}  // namespace xlbctl
