// SPDX-License-Identifier: Apache-2.0
// xlbctl attach | detach: xlb_xdp on an interface.
#include <cstdio>
#include <memory>

#include "cli.h"
#include "xlb/dataplane.h"
#include "xlb/forwarding.h"
#include "xlb/loader.h"

namespace xlbctl {

void addAttachCommands(CLI::App& app, Commands& out) {
  struct Args {
    std::string ifname, mode = "auto", encap4, encap6;
    xlb::LoadSettings load;
    bool force = false;
  };
  auto a = std::make_shared<Args>();

  auto* attach = app.add_subcommand("attach", "load, pin and attach xlb_xdp to an interface");
  attach->add_option("iface", a->ifname, "interface")->required();
  attach->add_option("--mode", a->mode, "native, generic or auto")->capture_default_str();
  attach->add_option("--ring-size", a->load.ringSize, "Maglev ring size, a prime (default 65537)");
  attach->add_option("--max-vips", a->load.maxVips, "VIP capacity (default 32)")->check(CLI::Range(1, 65535));
  attach->add_option("--max-backends", a->load.maxBackends, "backend capacity (default 1024)")
      ->check(CLI::Range(2, 65536));
  attach->add_option("--max-flows", a->load.maxFlows, "flow table capacity (default 262144; rounded up to 4 x a power of two)")
      ->check(CLI::Range(1, 1 << 26));
  attach->add_option("--encap-src4", a->encap4, "outer IPv4 source prefix for ipip (default 172.16.0.0/16)");
  attach->add_option("--encap-src6", a->encap6, "outer IPv6 source prefix for ipip (default fd00::/96)");
  attach->add_flag("--force", a->force,
                   "replace whatever XDP program holds the interface (another xlb instance's, or any other)");
  out.push_back({attach, Touches::Instance,
                 "xlbd attaches the interfaces of its config: add the interface there and run 'xlbctl reload'",
                 [a](Context& ctx) {
                   if (!a->encap4.empty()) a->load.encap4 = check(xlb::Prefix::parse(a->encap4));
                   if (!a->encap6.empty()) a->load.encap6 = check(xlb::Prefix::parse(a->encap6));
                   auto r = check(xlb::attach(ctx.pinDir, a->ifname, check(xlb::parseAttachMode(a->mode)), a->load,
                                              a->force));
                   std::printf("xlb_xdp %s on %s (program id %u, ring size %u, pinned at %s)\n",
                               r.replaced ? "replaced" : "attached", a->ifname.c_str(), r.progId, r.meta.ring_size,
                               ctx.pinDir.c_str());
                   for (uint8_t fam : {XLB_AF_INET, XLB_AF_INET6})
                     if (auto p = xlb::forwardingProblem(a->ifname, fam); !p.empty())
                       std::fprintf(stderr, "warning: %s\n", p.c_str());
                 }});

  auto* detach = app.add_subcommand("detach", "detach xlb_xdp; unpin the maps when no interface is left");
  detach->add_option("iface", a->ifname, "interface")->required();
  out.push_back({detach, Touches::Instance,
                 "remove the interface from xlbd's config and run 'xlbctl reload', or stop xlbd "
                 "(xlbd --detach-on-exit takes xlb off when it stops)",
                 [a](Context& ctx) {
                   auto r = check(xlb::detach(ctx.pinDir, a->ifname));
                   if (r.wasAttached)
                     std::printf("xlb_xdp detached from %s\n", a->ifname.c_str());
                   else
                     std::printf("xlb_xdp was no longer attached to %s; removed it from the instance\n",
                                 a->ifname.c_str());
                   if (r.unpinned) std::printf("no interface left: maps under %s unpinned\n", ctx.pinDir.c_str());
                 }});
}

}  // namespace xlbctl
