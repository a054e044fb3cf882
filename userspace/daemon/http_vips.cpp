// SPDX-License-Identifier: Apache-2.0
// xlbd's side of HTTP VIPs: what the proxy's workers get (a snapshot per
// VIP whenever health, operator state or config change), the VIP written to
// the maps so that xlb_xdp passes it to the stack, connect failures the
// workers saw counted against backends, and the proxy's metrics.
#include <openssl/rand.h>

#include <filesystem>
#include <fstream>
#include <iomanip>

#include "daemon.h"
#include "log.h"
#include "opstate.h"
#include "rewrite.h"
#include "tls.h"

namespace xlb {

Result<VipTls> Daemon::tlsFor(const VipConfig& vc) const {
  VipTls t;
  if (vc.mode != VipMode::Http) return t;
  if (!vc.http.certs.empty()) {
    auto s = tls::serverContext(vc.http.certs, vc.http.tlsResumption);
    if (!s) return xlb::unexpected(s.error());
    t.server = *s;
  }
  if (vc.http.backendTls.enabled) {
    auto c = tls::clientContext(vc.http.backendTls.verify, vc.http.backendTls.caFile);
    if (!c.error.empty()) return fail(EINVAL, "backend_tls: " + c.error);
    t.backend = std::shared_ptr<asio::ssl::context>(std::move(c.ctx));
  }
  return t;
}

// The key of persistence cookies: made once per host and kept in the state
// directory, so a backend's cookie means the same after a restart. Nodes
// that must agree share the file.
std::string Daemon::cookieSecret() {
  if (!cookieSecret_.empty()) return cookieSecret_;
  std::string path = (std::filesystem::path(stateDir(cfg_)) / "cookie-secret").string();
  std::ifstream in(path);
  std::string s;
  if (in >> s && s.size() >= 32) return cookieSecret_ = s;
  unsigned char raw[32];
  RAND_bytes(raw, sizeof(raw));
  std::ostringstream hex;
  for (unsigned char c : raw) hex << std::hex << std::setw(2) << std::setfill('0') << static_cast<int>(c);
  cookieSecret_ = hex.str();
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  std::ofstream out(path);
  out << cookieSecret_ << "\n";
  out.close();
  std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write, ec);
  if (!out) log::warn("cannot keep the cookie secret in " + path + ": persistence cookies change at the next restart");
  return cookieSecret_;
}

Result<void> Daemon::startProxy() {
  if (proxy_) return {};
  proxy::Hooks hooks;
  hooks.accessLog = cfg_.accessLog;
  hooks.connectFailed = [this](const VipKey& k, const std::string& b, const std::string& e) { passiveFailure(k, b, e); };
  proxy_ = std::make_unique<proxy::Proxy>(io_, cfg_.proxyWorkers, std::move(hooks));
  proxy_->setMaxConnections(proxyMaxConnections());
  proxy_->start();
  log::info("proxy: " + std::to_string(proxy_->workers()) + " worker threads, at most " +
            std::to_string(proxy_->maxConnections()) + " client connections");
  return {};
}

// proxy.max_connections, else what the descriptors left after checks,
// control and metrics allow: the workers' pools of idle backend connections
// at their fullest, then half of the rest (a client connection may hold a
// backend connection); 16 at least.
int64_t Daemon::proxyMaxConnections() const {
  if (cfg_.proxyMaxConnections) return cfg_.proxyMaxConnections;
  size_t backends = 0;
  for (const auto& v : cfg_.vips)
    if (v.mode == VipMode::Http) backends += v.backends.size();
  size_t pool = proxy::kIdlePerBackend * backends * (proxy_ ? proxy_->workers() : 1);
  size_t rest = spareDescriptors_ > pool ? spareDescriptors_ - pool : 0;
  return std::max<int64_t>(static_cast<int64_t>(rest / 2), 16);
}

Result<SyncResult> Daemon::publishHttp(Vip& v) {
  const VipKey& key = v.cfg.key;
  if (auto r = startProxy(); !r) return xlb::unexpected(r.error());
  auto snap = std::make_shared<proxy::ProxyVip>();
  snap->key = key;
  snap->name = key.str();
  snap->cfg = v.cfg.http;
  snap->tls = v.tls.server;
  snap->backendTls = v.tls.backend;
  snap->stats = v.http;
  snap->generation = ++v.generation;
  std::string secret = v.cfg.http.cookie.empty() ? std::string() : cookieSecret();
  size_t usable = 0;
  for (size_t i = 0; i < v.backends.size(); ++i) {
    const auto& b = *v.backends[i];
    proxy::ProxyBackend pb;
    pb.name = b.cfg.name;
    pb.ep = Endpoint{b.cfg.addr, b.cfg.port};
    pb.weight = b.weight();
    pb.up = b.up();
    pb.disabled = b.admin == Admin::Disabled;
    pb.drain = b.admin == Admin::Drain;
    pb.stats = b.http;
    if (!secret.empty()) pb.cookie = proxy::cookieToken(secret, key, b.cfg.name);
    usable += pb.usable();
    snap->all.push_back(i);
    snap->backends.push_back(std::move(pb));
  }
  for (const auto& r : v.cfg.http.routes) {
    std::vector<size_t> idx;
    for (const auto& name : r.backends)
      for (size_t i = 0; i < snap->backends.size(); ++i)
        if (snap->backends[i].name == name) idx.push_back(i);
    snap->routes.push_back(std::move(idx));
  }
  // Counters of routes no longer configured go; the others go on.
  std::map<std::string, std::shared_ptr<proxy::Counters>> routes;
  auto counters = [&](const std::string& name) {
    auto& c = routes[name];
    auto old = v.routes.find(name);
    c = old != v.routes.end() ? old->second : std::make_shared<proxy::Counters>();
    snap->routeStats.push_back(c);
  };
  for (const auto& r : v.cfg.http.routes) counters(r.name);
  counters("default");
  v.routes = std::move(routes);
  // In the maps, so xlb_xdp hands its packets to the stack (pass_l7).
  if (!v.inMaps) {
    if (auto r = dp_->setL7Vip(key); !r) return fail(r.error().code, key.str() + ": " + r.error().message);
    v.inMaps = true;
  }
  if (auto r = proxy_->publish(std::move(snap)); !r) return xlb::unexpected(r.error());
  log::debug(key.str() + ": proxy generation " + std::to_string(v.generation) + ", " + std::to_string(usable) + " of " +
             std::to_string(v.backends.size()) + " backends take new requests");
  return SyncResult{};
}

// A worker could not connect to a backend: counted like a failed check, so
// a backend that refuses connections goes down before its next check (it
// comes back only by passing checks).
void Daemon::passiveFailure(const VipKey& key, const std::string& backend, const std::string& error) {
  auto it = vips_.find(key);
  if (it == vips_.end() || stopping_) return;
  for (auto& b : it->second.backends) {
    if (b->cfg.name != backend || !b->health || !b->up()) continue;
    ProbeResult r{false, false, "passive: " + error, std::chrono::microseconds(0)};
    if (auto t = b->health->observe(r, Clock::now())) {
      ++transitions_;
      log::info(key.str() + " backend " + b->cfg.name + " is down: " + t->reason,
                {{"VIP", key.str()}, {"BACKEND", b->cfg.name}, {"STATE", "down"}});
      apply(key);
    }
  }
}

void Daemon::httpMetrics(std::ostringstream& o) const {
  auto esc = [](const std::string& s) {
    std::string r;
    for (char c : s) {
      if (c == '\\' || c == '"') r += '\\';
      if (c == '\n') {
        r += "\\n";
        continue;
      }
      r += c;
    }
    return r;
  };
  auto family = [&](const char* name, const char* type, const char* help) {
    o << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
  };
  struct Row {
    std::string labels;
    const proxy::Counters* c;
  };
  std::vector<Row> vipRows, beRows, routeRows;
  for (const auto& [k, v] : vips_) {
    if (v.cfg.mode != VipMode::Http) continue;
    std::string vl = "vip=\"" + esc(k.ep.str()) + "\"";
    vipRows.push_back({vl, v.http.get()});
    for (const auto& [name, c] : v.routes) routeRows.push_back({vl + ",route=\"" + esc(name) + "\"", c.get()});
    for (const auto& b : v.backends)
      beRows.push_back({vl + ",backend=\"" + esc(Endpoint{b->cfg.addr, b->cfg.port}.str()) + "\",name=\"" +
                            esc(b->cfg.name) + "\"",
                        b->http.get()});
  }
  if (vipRows.empty()) return;
  static const char* cls[] = {"none", "1xx", "2xx", "3xx", "4xx", "5xx"};
  family("xlb_http_responses_total", "counter", "HTTP responses of an HTTP VIP by status class (none: none sent).");
  for (const auto& r : vipRows)
    for (int i = 0; i < 6; ++i)
      o << "xlb_http_responses_total{" << r.labels << ",class=\"" << cls[i] << "\"} " << r.c->byClass[i].load() << "\n";
  family("xlb_http_route_responses_total", "counter",
         "HTTP responses to the requests a route took (default: no route matched) by status class.");
  for (const auto& r : routeRows)
    for (int i = 1; i < 6; ++i)
      o << "xlb_http_route_responses_total{" << r.labels << ",class=\"" << cls[i] << "\"} " << r.c->byClass[i].load()
        << "\n";
  family("xlb_http_backend_responses_total", "counter", "HTTP responses from a backend by status class.");
  for (const auto& r : beRows)
    for (int i = 1; i < 6; ++i)
      o << "xlb_http_backend_responses_total{" << r.labels << ",class=\"" << cls[i] << "\"} " << r.c->byClass[i].load()
        << "\n";
  auto histogram = [&](const char* name, const char* help, const std::vector<Row>& rows) {
    family(name, "histogram", help);
    for (const auto& r : rows) {
      uint64_t cum = 0;
      for (size_t b = 0; b <= proxy::kBuckets; ++b) {
        cum += r.c->latency[b].load();
        o << name << "_bucket{" << r.labels << ",le=\"";
        if (b < proxy::kBuckets)
          o << proxy::kLatencyBuckets[b];
        else
          o << "+Inf";
        o << "\"} " << cum << "\n";
      }
      o << name << "_sum{" << r.labels << "} " << r.c->latencyMicros.load() / 1e6 << "\n";
      o << name << "_count{" << r.labels << "} " << cum << "\n";
    }
  };
  histogram("xlb_http_request_duration_seconds", "From the first byte of a request to the end of its response.", vipRows);
  histogram("xlb_http_route_request_duration_seconds", "The same, of the requests a route took.", routeRows);
  auto simple = [&](const char* name, const char* type, const char* help, const std::vector<Row>& rows, auto get) {
    family(name, type, help);
    for (const auto& r : rows) o << name << "{" << r.labels << "} " << get(*r.c) << "\n";
  };
  simple("xlb_http_active_requests", "gauge", "Requests (and websocket tunnels) in progress.", vipRows,
         [](const proxy::Counters& c) { return c.active.load(); });
  simple("xlb_http_backend_active_requests", "gauge", "Requests in progress on a backend.", beRows,
         [](const proxy::Counters& c) { return c.active.load(); });
  simple("xlb_http_connections_total", "counter", "Client connections accepted.", vipRows,
         [](const proxy::Counters& c) { return c.connections.load(); });
  simple("xlb_http_retries_total", "counter", "Requests tried again on another backend or connection.", vipRows,
         [](const proxy::Counters& c) { return c.retries.load(); });
  simple("xlb_http_backend_connect_failures_total", "counter", "Connections to a backend that failed.", beRows,
         [](const proxy::Counters& c) { return c.connectFailures.load(); });
  simple("xlb_http_tls_handshakes_total", "counter", "TLS handshakes completed.", vipRows,
         [](const proxy::Counters& c) { return c.tlsHandshakes.load(); });
  simple("xlb_http_tls_failures_total", "counter", "TLS handshakes that failed or took too long.", vipRows,
         [](const proxy::Counters& c) { return c.tlsFailures.load(); });
  simple("xlb_http_received_bytes_total", "counter", "Bytes received from clients.", vipRows,
         [](const proxy::Counters& c) { return c.bytesIn.load(); });
  simple("xlb_http_sent_bytes_total", "counter", "Bytes sent to clients.", vipRows,
         [](const proxy::Counters& c) { return c.bytesOut.load(); });
  if (proxy_) {
    family("xlb_http_open_connections", "gauge", "Client connections open on all HTTP VIPs.");
    o << "xlb_http_open_connections " << proxy_->connections() << "\n";
    family("xlb_http_max_connections", "gauge", "The most client connections the proxy keeps open (proxy.max_connections).");
    o << "xlb_http_max_connections " << proxy_->maxConnections() << "\n";
    family("xlb_http_accept_pauses_total", "counter", "Times a worker stopped accepting because the proxy was at its connection cap.");
    o << "xlb_http_accept_pauses_total " << proxy_->acceptPauses() << "\n";
  }
}

}  // namespace xlb
