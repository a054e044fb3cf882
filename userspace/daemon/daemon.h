// SPDX-License-Identifier: Apache-2.0
// xlbd: owns an xlb instance's maps, health-checks the backends and keeps
// each VIP's ring equal to its live backends; serves the control socket and
// /metrics. Everything runs on one Asio event loop.
#pragma once

#include <asio/io_context.hpp>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>

#include "xlb/config.h"
#include "xlb/dataplane.h"
#include "xlb/health.h"
#include "xlb/neigh.h"

#include "guard.h"
#include "nexthops.h"
#include "proxy.h"
#include "opstate.h"

namespace xlb {


struct DaemonOptions {
  bool detachOnExit = false;
};

// An HTTP VIP's TLS contexts: its certificates (server side) and, with
// backend_tls, the client side towards its backends; null when unused.
struct VipTls {
  std::shared_ptr<asio::ssl::context> server, backend;
  explicit operator bool() const { return server || backend; }
};

class Daemon {
 public:
  Daemon(asio::io_context& io, Config cfg, DaemonOptions opts);
  ~Daemon();

  // Attaches (or adopts what is attached), writes the config into the maps,
  // starts checks, the control socket and metrics.
  Result<void> start();
  // Stops checking; the program and maps stay unless --detach-on-exit.
  void shutdown();

  // Re-reads the config file; applies only the difference. On error nothing
  // changes.
  Result<nlohmann::json> reload();

  nlohmann::json handle(const nlohmann::json& request);  // the control API
  std::string metrics();

 private:
  struct Backend {
    VipKey vip;
    BackendConfig cfg;
    std::unique_ptr<HealthTracker> health;  // null: no check, always up
    Admin admin = Admin::Enabled;
    std::optional<uint32_t> weightOverride;  // xlbctl backend weight
    uint32_t weight() const { return weightOverride.value_or(cfg.weight); }
    bool alive = true;  // false once removed: its check loop ends
    bool up() const { return !health || health->up(); }
    std::shared_ptr<proxy::Counters> http = std::make_shared<proxy::Counters>();  // http VIPs
  };
  struct Vip {
    VipConfig cfg;
    std::vector<std::shared_ptr<Backend>> backends;
    // http VIPs (http_vips.cpp):
    std::shared_ptr<proxy::Counters> http = std::make_shared<proxy::Counters>();
    // Per route by name, and "default": kept across reloads by name.
    std::map<std::string, std::shared_ptr<proxy::Counters>> routes;
    VipTls tls;
    bool inMaps = false;  // written to the maps as an L7 VIP
    uint64_t generation = 0;
  };

  Result<void> attachInterfaces(const Config& c);
  std::shared_ptr<Backend> makeBackend(const VipKey& vip, const BackendConfig& bc, std::optional<bool> initialUp);
  void startCheck(const std::shared_ptr<Backend>& b);
  asio::awaitable<void> checkLoop(std::shared_ptr<Backend> b);
  Result<SyncResult> apply(const VipKey& vip);
  // http_vips.cpp: HTTP VIPs and the proxy.
  Result<SyncResult> publishHttp(Vip& v);
  Result<VipTls> tlsFor(const VipConfig& vc) const;
  Result<void> startProxy();
  void passiveFailure(const VipKey& key, const std::string& backend, const std::string& error);
  void httpMetrics(std::ostringstream& o) const;
  std::string cookieSecret();
  std::vector<DesiredBackend> desired(const Vip& v) const;
  Result<void> removeVip(const VipKey& vip);
  std::shared_ptr<Backend> find(const std::string& vip, const std::string& proto, const std::string& backend,
                                std::string& err);
  void saveOperatorStates() const;
  nlohmann::json healthJson() const;
  nlohmann::json configJson() const;
  nlohmann::json interfacesJson() const;

  asio::io_context& io_;
  Config cfg_;
  DaemonOptions opts_;
  std::optional<Dataplane> dp_;
  NetlinkNeighbours neigh_{false};
  Prober prober_;
  std::mt19937 rng_{std::random_device{}()};
  std::map<VipKey, Vip> vips_;
  bool stopping_ = false;

  struct ControlServer;
  struct MetricsServer;
  std::unique_ptr<DataplaneGuard> guard_;
  std::unique_ptr<NexthopKeeper> nexthops_;
  std::unique_ptr<proxy::Proxy> proxy_;
  size_t spareDescriptors_ = 0;  // what the descriptor limit leaves after checks, control and metrics
  int64_t proxyMaxConnections() const;
  std::string cookieSecret_;
  std::unique_ptr<ControlServer> control_;
  std::unique_ptr<MetricsServer> metricsServer_;

  // Observability.
  uint64_t generation_ = 1, reloadsOk_ = 0, reloadsFailed_ = 0;
  uint64_t ringUpdates_ = 0, transitions_ = 0;
  double ringUpdateSecondsSum_ = 0, ringUpdateSecondsLast_ = 0;
  std::string lastReloadError_;
  size_t flowCount_ = 0;
  std::optional<Clock::time_point> flowCountAt_;
};

}  // namespace xlb
