// SPDX-License-Identifier: Apache-2.0
// What the proxy's workers read: one immutable snapshot per HTTP VIP (its
// config, its backends as health, operator and config make them, its TLS
// context), made by the control thread and swapped whole when anything
// changes. Workers take a reference per request and never lock; counters
// are atomics the control thread reads for /metrics.
#pragma once

#include <asio/ssl/context.hpp>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "xlb/addr.h"
#include "xlb/config.h"

namespace xlb::proxy {

// Latency buckets (seconds) of the request histogram.
inline constexpr double kLatencyBuckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
inline constexpr size_t kBuckets = sizeof(kLatencyBuckets) / sizeof(kLatencyBuckets[0]);

struct Counters {
  std::atomic<uint64_t> byClass[6] = {};  // responses by status class: 1xx..5xx; [0]: none sent
  std::atomic<uint64_t> bytesIn{0}, bytesOut{0};
  std::atomic<int64_t> active{0};  // requests (or tunnels) in progress
  std::atomic<uint64_t> retries{0}, connectFailures{0}, tlsHandshakes{0}, tlsFailures{0}, connections{0};
  std::atomic<uint64_t> latency[kBuckets + 1] = {};  // cumulative counts are made when read
  std::atomic<uint64_t> latencyMicros{0};

  void response(int status, double seconds) {
    int c = status >= 100 && status < 600 ? status / 100 : 0;
    byClass[c].fetch_add(1, std::memory_order_relaxed);
    size_t b = 0;
    while (b < kBuckets && seconds > kLatencyBuckets[b]) ++b;
    latency[b].fetch_add(1, std::memory_order_relaxed);
    latencyMicros.fetch_add(static_cast<uint64_t>(seconds * 1e6), std::memory_order_relaxed);
  }
};

struct ProxyBackend {
  std::string name;
  Endpoint ep;
  uint32_t weight = 1;  // in effect: the operator's or the config's
  bool up = false;      // health
  bool disabled = false, drain = false;
  std::string cookie;   // the persistence cookie's value naming it (not its address)
  std::shared_ptr<Counters> stats;
  // Takes new sessions.
  bool usable() const { return up && !disabled && !drain && weight > 0; }
  // Keeps the sessions that stick to it (a drained backend does).
  bool sticky() const { return up && !disabled; }
};

struct ProxyVip {
  VipKey key;
  std::string name;  // key.str(), for logs
  HttpVip cfg;
  std::vector<ProxyBackend> backends;
  std::vector<std::vector<size_t>> routes;  // per cfg.routes: indexes into backends
  // Per cfg.routes, then one for the requests no route matched.
  std::vector<std::shared_ptr<Counters>> routeStats;
  std::vector<size_t> all;                  // every backend's index
  std::shared_ptr<asio::ssl::context> tls;         // null: plain HTTP
  std::shared_ptr<asio::ssl::context> backendTls;  // null: plain to the backends
  std::shared_ptr<Counters> stats;
  uint64_t generation = 0;
};

// Where a worker finds the VIP's snapshot of the moment.
struct Slot {
  std::atomic<std::shared_ptr<const ProxyVip>> current;
};

}  // namespace xlb::proxy
