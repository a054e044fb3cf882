// SPDX-License-Identifier: Apache-2.0
// One proxy worker: a thread, its io_context, its listeners (one per HTTP
// VIP, SO_REUSEPORT), its balancers and its pool of idle keep-alive
// connections to backends. Only its own thread touches these.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "balance.h"
#include "proxy.h"
#include "snapshot.h"

namespace xlb::proxy {

using Clock = std::chrono::steady_clock;
using tcp = asio::ip::tcp;

// Idle keep-alive connections to backends, by address.
class BackendPool {
 public:
  // A connection the backend has not closed meanwhile, if one is idle.
  std::unique_ptr<tcp::socket> take(const Endpoint& ep);
  void put(const Endpoint& ep, std::unique_ptr<tcp::socket> s);
  void clear() { idle_.clear(); }

 private:
  struct Idle {
    std::unique_ptr<tcp::socket> sock;
    Clock::time_point since;
  };
  std::map<Endpoint, std::vector<Idle>> idle_;
};

struct ClientInfo {
  IpAddr addr;
  uint16_t port = 0;
  bool tls = false;
  std::string text;  // addr.str(), made once per connection
};

class Worker {
 public:
  Worker(Proxy& owner, unsigned index);
  ~Worker();
  void start();
  void join();

  // Control thread: listen on the VIP (the acceptor is made and bound here,
  // so errors reach the caller) and hand the listener to the worker.
  Result<void> listen(const std::shared_ptr<Slot>& slot, const VipKey& key);
  void unlisten(const VipKey& key);  // posted to the worker
  void stopAccepting();
  int64_t busy() const { return sessions_.load(); }
  void stopLoop() { io_.stop(); }

  asio::io_context& io() { return io_; }

 private:
  asio::awaitable<void> acceptLoop(std::shared_ptr<tcp::acceptor> acc, std::shared_ptr<Slot> slot);
  template <class Stream>
  asio::awaitable<void> serve(Stream& client, const ClientInfo& ci, std::shared_ptr<Slot> slot);  // ci outlives the call
  asio::awaitable<void> servePlain(tcp::socket s, std::shared_ptr<Slot> slot);
  asio::awaitable<void> serveTls(tcp::socket s, std::shared_ptr<Slot> slot);
  Balancer& balancer(const ProxyVip& vip);

  Proxy& owner_;
  unsigned index_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
  std::map<VipKey, std::shared_ptr<tcp::acceptor>> listeners_;
  std::map<VipKey, std::pair<Balance, std::unique_ptr<Balancer>>> balancers_;
  BackendPool pool_;
  std::atomic<int64_t> sessions_{0};
};

}  // namespace xlb::proxy
