// SPDX-License-Identifier: Apache-2.0
// xlbd's L7 proxy for HTTP VIPs. The control thread (xlbd's event loop)
// publishes one snapshot per VIP; N worker threads, each with its own
// io_context and its own SO_REUSEPORT listener per VIP, serve clients from
// whatever snapshot is current when a request starts, keep pooled
// keep-alive connections to backends, and report what they see (a backend
// refusing connections) back to the control thread. Nothing on the request
// path takes a lock.
#pragma once

#include <asio/io_context.hpp>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "snapshot.h"
#include "xlb/error.h"

namespace xlb::proxy {

// Idle keep-alive connections a worker keeps per backend.
constexpr size_t kIdlePerBackend = 64;

struct Hooks {
  // On the control thread: connecting to a backend failed (passive health).
  std::function<void(const VipKey&, const std::string& backend, const std::string& error)> connectFailed;
  bool accessLog = true;  // one line per request
};

class Worker;

class Proxy {
 public:
  Proxy(asio::io_context& control, unsigned workers, Hooks hooks);
  ~Proxy();

  void start();
  // Adds or replaces an HTTP VIP. The first publish of a VIP opens its
  // listeners (one per worker); later ones swap the snapshot: requests in
  // flight and websocket tunnels keep the one they started with.
  Result<void> publish(std::shared_ptr<const ProxyVip> vip);
  // Closes a VIP's listeners; what is in flight finishes.
  void remove(const VipKey& key);
  // Stops accepting, waits up to `drain` for requests in flight, stops the workers.
  void stop(std::chrono::milliseconds drain);

  std::shared_ptr<const ProxyVip> current(const VipKey& key) const;
  std::vector<VipKey> vips() const;
  unsigned workers() const { return static_cast<unsigned>(workers_.size()); }

  // What workers call: on the control thread.
  void reportConnectFailure(const VipKey& key, const std::string& backend, const std::string& error);
  const Hooks& hooks() const { return hooks_; }

  // Client connections open on every HTTP VIP together, and the most there
  // may be: at the cap the workers stop accepting (new connections wait in
  // the kernel's backlog) until one ends, so clients cannot take the
  // descriptors health checks and the control socket need.
  void setMaxConnections(int64_t n) { max_.store(n, std::memory_order_relaxed); }
  int64_t maxConnections() const { return max_.load(std::memory_order_relaxed); }
  int64_t connections() const { return open_.load(std::memory_order_relaxed); }
  uint64_t acceptPauses() const { return pauses_.load(std::memory_order_relaxed); }
  // Workers: an accept loop reserves the slot of the connection it waits
  // for (false at the cap), so the loops of every worker and VIP together
  // never hold more than the cap; closed() gives a slot back (the
  // connection's end, or an accept that failed).
  bool reserve() {
    int64_t n = open_.load(std::memory_order_relaxed);
    while (n < max_.load(std::memory_order_relaxed))
      if (open_.compare_exchange_weak(n, n + 1, std::memory_order_relaxed)) return true;
    return false;
  }
  void closed() { open_.fetch_sub(1, std::memory_order_relaxed); }
  void paused() { pauses_.fetch_add(1, std::memory_order_relaxed); }

 private:
  asio::io_context& control_;
  Hooks hooks_;
  // Before the workers: their sessions' ends count down open_ as they go.
  std::atomic<int64_t> open_{0}, max_{INT64_MAX};
  std::atomic<uint64_t> pauses_{0};
  std::vector<std::unique_ptr<Worker>> workers_;
  std::map<VipKey, std::shared_ptr<Slot>> slots_;
  bool started_ = false;
};

}  // namespace xlb::proxy
