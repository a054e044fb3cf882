// SPDX-License-Identifier: Apache-2.0
// xlbd --config FILE: run the daemon.   xlbd --check-config FILE: validate only.
#include <CLI/CLI.hpp>
#include <asio.hpp>
#include <csignal>
#include <cstdio>
#include <iostream>

#include "clidoc.h"
#include "daemon.h"
#include "notify.h"
#include "log.h"

using namespace xlb;

int main(int argc, char** argv) {
  CLI::App app{"xlbd: the xlb daemon (health checks, control socket, metrics)"};
  app.name("xlbd");
  app.set_version_flag("--version", std::string("xlbd ") + XLB_VERSION);
  std::string config = "/etc/xlb/xlb.yaml", checkOnly, generate;
  DaemonOptions opts;
  bool verbose = false;
  app.add_option("--config,-c", config, "configuration file")->capture_default_str();
  app.add_option("--check-config", checkOnly,
                 "validate FILE as xlbd would at start (interfaces included) and exit; touches nothing");
  app.add_flag("--detach-on-exit", opts.detachOnExit, "take xlb off the interfaces when stopping");
  app.add_flag("--verbose,-v", verbose, "log every failed check, not only transitions");
  app.add_option("--generate", generate, "print the man page")->check(CLI::IsMember({"man"}))->group("");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    std::cerr << "(see: xlbd --help)\n";
    return 2;  // a usage error, whatever CLI11's own code for it
  }
  if (!generate.empty()) {
    std::cout << clidoc::manPage(
        app, "8", "the xlb daemon",
        "xlbd owns an xlb instance: it attaches xlb_xdp to the configured interfaces, health-checks the "
        "backends and keeps every VIP's ring equal to its live backends, guards the attachment and the pins, "
        "and serves a control socket (xlbctl) and Prometheus metrics. SIGHUP re-reads the config; a broken "
        "file changes nothing. See /usr/share/doc/xlb/README.md.");
    return 0;
  }
  if (verbose) log::threshold() = log::Level::Debug;

  if (!checkOnly.empty()) {
    auto c = loadConfig(checkOnly);
    if (c) {
      if (auto h = checkHost(*c); !h) c = xlb::unexpected(h.error());
    }
    if (!c) {
      std::fprintf(stderr, "%s\n", c.error().describe().c_str());
      return 1;
    }
    size_t backends = 0;
    for (const auto& v : c->vips) backends += v.backends.size();
    std::printf("%s: OK (%zu interfaces, %zu VIPs, %zu backends)\n", checkOnly.c_str(), c->interfaces.size(),
                c->vips.size(), backends);
    return 0;
  }

  auto c = loadConfig(config);
  if (c) {
    if (auto h = checkHost(*c); !h) c = xlb::unexpected(h.error());
  }
  if (!c) {
    log::error(c.error().describe());
    return 1;
  }
  std::signal(SIGPIPE, SIG_IGN);  // a client that hangs up is an error code, not a signal
  asio::io_context io(1);
  Daemon d(io, std::move(*c), opts);
  if (auto r = d.start(); !r) {
    log::error(r.error().describe());
    return 1;
  }
  notify::startWatchdog(io);
  asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
  std::function<void(const std::error_code&, int)> onSignal = [&](const std::error_code& ec, int sig) {
    if (ec) return;
    if (sig == SIGHUP) {
      log::info("SIGHUP: reloading");
      (void)d.reload();
      signals.async_wait(onSignal);
      return;
    }
    log::info(std::string(sig == SIGINT ? "SIGINT" : "SIGTERM") + ": stopping");
    d.shutdown();
    io.stop();
  };
  signals.async_wait(onSignal);
  io.run();
  return 0;
}
