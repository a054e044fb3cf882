// SPDX-License-Identifier: Apache-2.0
// xlbd --config FILE: run the daemon.   xlbd --check-config FILE: validate only.
#include <CLI/CLI.hpp>
#include <asio.hpp>
#include <csignal>
#include <cstdio>

#include "daemon.h"
#include "xlb/log.h"

using namespace xlb;

int main(int argc, char** argv) {
  CLI::App app{"xlbd: the xlb daemon (health checks, control socket, metrics)"};
  std::string config = "/etc/xlb/xlb.yaml", checkOnly;
  DaemonOptions opts;
  bool verbose = false;
  app.add_option("--config,-c", config, "configuration file")->capture_default_str();
  app.add_option("--check-config", checkOnly, "validate FILE and exit (touches nothing)");
  app.add_flag("--detach-on-exit", opts.detachOnExit, "take xlb off the interfaces when stopping");
  app.add_flag("--verbose,-v", verbose, "log every failed check, not only transitions");
  CLI11_PARSE(app, argc, argv);
  if (verbose) log::threshold() = log::Level::Debug;

  if (!checkOnly.empty()) {
    auto c = loadConfig(checkOnly);
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
