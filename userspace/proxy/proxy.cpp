// SPDX-License-Identifier: Apache-2.0
#include "proxy.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ssl.hpp>

#include "log.h"
#include "worker.h"

namespace xlb::proxy {

namespace {
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
constexpr auto kIdleFor = std::chrono::seconds(15);  // below the usual backend keep-alive (nginx: 75 s)
constexpr auto kPeekAfter = std::chrono::milliseconds(100);
}  // namespace

// ---- the pool ---------------------------------------------------------------

std::unique_ptr<BackendConn> BackendPool::take(const Endpoint& ep, SSL_CTX* tls, Clock::time_point now) {
  auto it = idle_.find({ep, tls});
  if (it == idle_.end()) return nullptr;
  while (!it->second.empty()) {
    Idle i = std::move(it->second.back());
    it->second.pop_back();
    if (now - i.since > kIdleFor) continue;
    // Back in use at once (the busy case): a backend does not close a
    // connection it has just kept alive, and if it raced us anyway the
    // request is retried as for any reused connection. Idle for longer:
    // closed by the backend meanwhile (or it sent something unasked, a TLS
    // close_notify included)? That costs a system call, so only then.
    if (now - i.since < kPeekAfter) return std::move(i.conn);
    char c;
    ssize_t n = ::recv(i.conn->socket().native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return std::move(i.conn);
  }
  return nullptr;
}

void BackendPool::put(const Endpoint& ep, std::unique_ptr<BackendConn> c, Clock::time_point now) {
  auto& v = idle_[{ep, c->tlsContext()}];
  if (v.size() >= kIdlePerBackend) return;
  v.push_back({std::move(c), now});
}

// ---- workers ------------------------------------------------------------------

// Every socket of a worker is used by its thread only (listeners are opened
// elsewhere but handed over through post), so the reactor needs no per-socket
// locks; the scheduler keeps its own for what other threads post.
Worker::Worker(Proxy& owner, unsigned index) : owner_(owner), index_(index), io_(ASIO_CONCURRENCY_HINT_UNSAFE_IO), work_(io_.get_executor()) {}

Worker::~Worker() {
  io_.stop();
  join();
}

void Worker::start() {
  thread_ = std::thread([this] { io_.run(); });
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

Result<void> Worker::listen(const std::shared_ptr<Slot>& slot, const VipKey& key) {
  auto acc = std::make_shared<tcp::acceptor>(io_);
  tcp::endpoint ep(asio::ip::make_address(key.ep.addr.str()), key.ep.port);
  std::error_code ec;
  acc->open(ep.protocol(), ec);
  if (!ec) acc->set_option(asio::socket_base::reuse_address(true), ec);
  int one = 1;
  if (!ec && setsockopt(acc->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0)
    ec = std::error_code(errno, std::system_category());
  // The VIP address may come up after xlbd (or be on lo only): bind anyway.
  if (!ec) setsockopt(acc->native_handle(), key.ep.addr.isV4() ? IPPROTO_IP : IPPROTO_IPV6,
                      key.ep.addr.isV4() ? IP_FREEBIND : IPV6_FREEBIND, &one, sizeof(one));
  if (!ec) acc->bind(ep, ec);
  if (!ec) acc->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail(ec.value(), "cannot listen on " + key.ep.str());
  asio::post(io_, [this, acc, slot, key] {
    listeners_[key] = acc;
    asio::co_spawn(io_, acceptLoop(acc, slot), asio::detached);
  });
  return {};
}

void Worker::unlisten(const VipKey& key) {
  asio::post(io_, [this, key] {
    if (auto it = listeners_.find(key); it != listeners_.end()) {
      std::error_code ec;
      it->second->close(ec);
      listeners_.erase(it);
    }
    balancers_.erase(key);
  });
}

void Worker::stopAccepting() {
  asio::post(io_, [this] {
    // Connections waiting for their next request end now; those with a
    // request in progress end after its response (Connection: close).
    stopping_ = true;
    for (auto& c : conns_)
      if (c.idle) (*c.cancel)();
    for (auto& [k, a] : listeners_) {
      std::error_code ec;
      a->close(ec);
    }
    listeners_.clear();
    pool_.clear();
  });
}

asio::awaitable<void> Worker::acceptLoop(std::shared_ptr<tcp::acceptor> acc, std::shared_ptr<Slot> slot) {
  std::chrono::milliseconds backoff{20};
  asio::steady_timer pause(io_);
  for (;;) {
    if (!owner_.reserve()) {  // at the cap: the kernel keeps the next ones waiting
      owner_.paused();
      do {
        pause.expires_after(std::chrono::milliseconds(10));
        co_await pause.async_wait(kTuple);
        if (!acc->is_open()) co_return;
      } while (!owner_.reserve());
    }
    auto [ec, sock] = co_await acc->async_accept(kTuple);
    if (ec) {
      owner_.closed();  // the reserved slot back
      if (ec == asio::error::operation_aborted || !acc->is_open()) co_return;
      // Out of descriptors: wait, do not spin.
      pause.expires_after(backoff);
      co_await pause.async_wait(kTuple);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
      continue;
    }
    backoff = std::chrono::milliseconds(20);
    auto vip = slot->current.load();
    std::error_code ignore;
    sock.set_option(tcp::no_delay(true), ignore);
    vip->stats->connections.fetch_add(1, std::memory_order_relaxed);
    // The reserved slot is the connection's: closed() when its coroutine ends.
    if (vip->tls)
      asio::co_spawn(io_, serveTls(std::move(sock), slot), asio::detached);
    else
      asio::co_spawn(io_, servePlain(std::move(sock), slot), asio::detached);
  }
}

std::shared_ptr<Balancer> Worker::balancer(const ProxyVip& vip) {
  auto& b = balancers_[vip.key];
  if (!b.second || b.first != vip.cfg.balance) b = {vip.cfg.balance, makeBalancer(vip.cfg.balance)};
  return b.second;
}

// ---- the proxy ----------------------------------------------------------------

Proxy::Proxy(asio::io_context& control, unsigned workers, Hooks hooks) : control_(control), hooks_(std::move(hooks)) {
  if (workers == 0) workers = std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < workers; ++i) workers_.push_back(std::make_unique<Worker>(*this, i));
}

Proxy::~Proxy() {
  for (auto& w : workers_) w->stopLoop();
  for (auto& w : workers_) w->join();
}

void Proxy::start() {
  if (started_) return;
  started_ = true;
  for (auto& w : workers_) w->start();
}

Result<void> Proxy::publish(std::shared_ptr<const ProxyVip> vip) {
  auto it = slots_.find(vip->key);
  if (it != slots_.end()) {
    it->second->current.store(std::move(vip));
    return {};
  }
  auto slot = std::make_shared<Slot>();
  slot->current.store(vip);
  for (auto& w : workers_)
    if (auto r = w->listen(slot, vip->key); !r) {
      for (auto& x : workers_) x->unlisten(vip->key);
      return r;
    }
  slots_[vip->key] = slot;
  return {};
}

void Proxy::remove(const VipKey& key) {
  if (slots_.erase(key) == 0) return;
  for (auto& w : workers_) w->unlisten(key);
}

void Proxy::stop(std::chrono::milliseconds drain) {
  for (auto& w : workers_) w->stopAccepting();
  auto until = Clock::now() + drain;
  auto busy = [&] {
    int64_t n = 0;
    for (auto& w : workers_) n += w->busy();
    return n;
  };
  while (busy() > 0 && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (busy() > 0) log::warn("proxy: stopping with " + std::to_string(busy()) + " requests still in progress");
  for (auto& w : workers_) w->stopLoop();
  for (auto& w : workers_) w->join();
  slots_.clear();
}

std::shared_ptr<const ProxyVip> Proxy::current(const VipKey& key) const {
  auto it = slots_.find(key);
  return it == slots_.end() ? nullptr : it->second->current.load();
}

std::vector<VipKey> Proxy::vips() const {
  std::vector<VipKey> out;
  for (const auto& [k, s] : slots_) out.push_back(k);
  return out;
}

void Proxy::reportConnectFailure(const VipKey& key, const std::string& backend, const std::string& error) {
  asio::post(control_, [this, key, backend, error] {
    if (hooks_.connectFailed) hooks_.connectFailed(key, backend, error);
  });
}

}  // namespace xlb::proxy
