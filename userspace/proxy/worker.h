// SPDX-License-Identifier: Apache-2.0
// One proxy worker: a thread, its io_context, its listeners (one per HTTP
// VIP, SO_REUSEPORT), its balancers and its pool of idle keep-alive
// connections to backends. Only its own thread touches these.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/steady_timer.hpp>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <list>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "balance.h"
#include "proxy.h"
#include "snapshot.h"
#include "turns.h"

namespace xlb::proxy {

using Clock = std::chrono::steady_clock;
using tcp = asio::ip::tcp;

// A connection to a backend, plain or TLS (backend_tls): one stream type
// for the session either way.
class BackendConn {
 public:
  using executor_type = tcp::socket::executor_type;
  explicit BackendConn(asio::io_context& io) : sock_(io) {}
  tcp::socket& socket() { return tls_ ? tls_->next_layer() : sock_; }
  executor_type get_executor() { return sock_.get_executor(); }
  // Wraps the connected socket in TLS (the handshake is the caller's).
  asio::ssl::stream<tcp::socket>& startTls(asio::ssl::context& ctx) {
    tls_ = std::make_unique<asio::ssl::stream<tcp::socket>>(std::move(sock_), ctx);
    return *tls_;
  }
  void releaseTlsBuffers() {
    if (tls_) SSL_set_mode(tls_->native_handle(), SSL_MODE_RELEASE_BUFFERS);
  }
  // The TLS context a pooled connection was made with (null: plain).
  SSL_CTX* tlsContext() const { return tls_ ? SSL_get_SSL_CTX(tls_->native_handle()) : nullptr; }
  template <class Buffers, class Token>
  auto async_read_some(const Buffers& b, Token&& t) {
    if (tls_) return tls_->async_read_some(b, std::forward<Token>(t));
    return sock_.async_read_some(b, std::forward<Token>(t));
  }
  template <class Buffers, class Token>
  auto async_write_some(const Buffers& b, Token&& t) {
    if (tls_) return tls_->async_write_some(b, std::forward<Token>(t));
    return sock_.async_write_some(b, std::forward<Token>(t));
  }

 private:
  tcp::socket sock_;  // moved into tls_ by startTls
  std::unique_ptr<asio::ssl::stream<tcp::socket>> tls_;
};

// Idle keep-alive connections to backends, by address and TLS context.
class BackendPool {
 public:
  // A connection the backend has not closed meanwhile, if one is idle.
  // now: the caller's clock reading of the moment (it has one).
  std::unique_ptr<BackendConn> take(const Endpoint& ep, SSL_CTX* tls, Clock::time_point now);
  void put(const Endpoint& ep, std::unique_ptr<BackendConn> c, Clock::time_point now);
  void clear() { idle_.clear(); }

 private:
  struct Idle {
    std::unique_ptr<BackendConn> conn;
    Clock::time_point since;
  };
  // A pooled TLS connection holds a reference to its SSL_CTX: the pointer
  // is not reused while the connection waits here.
  std::map<std::pair<Endpoint, SSL_CTX*>, std::vector<Idle>> idle_;
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
  struct Open;
  asio::awaitable<void> servePlain(tcp::socket s, std::shared_ptr<Slot> slot);
  asio::awaitable<void> serveTls(tcp::socket s, std::shared_ptr<Slot> slot);
  // Shared with the requests that use it: a reload that changes the VIP's
  // balance replaces it here while they finish with the old one.
  std::shared_ptr<Balancer> balancer(const ProxyVip& vip);

  Proxy& owner_;
  unsigned index_;
  // Declared before io_, so destroyed after it: connections still open at
  // exit end when io_ destroys their coroutines, and those leave these.
  std::atomic<int64_t> sessions_{0};
  // Stopping (this thread's view), and the client connections: what
  // cancels their wait, and whether they are idle between requests now.
  // Registered once per connection, not per request.
  struct Conn {
    std::function<void()>* cancel;
    bool idle = false;
  };
  bool stopping_ = false;
  std::list<Conn> conns_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
  std::map<VipKey, std::shared_ptr<tcp::acceptor>> listeners_;
  std::map<VipKey, std::pair<Balance, std::shared_ptr<Balancer>>> balancers_;
  BackendPool pool_;
  tls::HandshakeTurns turns_{io_};
};

}  // namespace xlb::proxy
