// SPDX-License-Identifier: Apache-2.0
#include "servers.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>

#include "http.h"
#include "xlb/control.h"
#include "xlb/fd.h"
#include "log.h"

namespace xlb {

using nlohmann::json;
using namespace asio::experimental::awaitable_operators;

namespace {
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
constexpr size_t kMaxRequest = 64 * 1024;

// Out of descriptors or memory: accepting again at once would only fail
// again (and spin the loop); wait instead, longer each time up to 1 s.
bool resourceError(const std::error_code& ec) {
  return ec == asio::error::no_descriptors || ec.value() == ENFILE || ec == asio::error::no_buffer_space ||
         ec == asio::error::no_memory;
}

// Accepts connections until the acceptor is closed; each one is served by
// its own coroutine, session(socket), while fewer than the cap are open;
// above the cap a connection is closed at once.
template <class Acceptor, class Session>
void acceptLoop(asio::io_context& io, Acceptor& acceptor, const char* what, ServerLimits& limits,
                ServerCounters& counters, Session session) {
  asio::co_spawn(
      io,
      [&io, &acceptor, what, &limits, &counters, session]() -> asio::awaitable<void> {
        std::chrono::milliseconds backoff{50};
        asio::steady_timer pause(io);
        for (;;) {
          auto [ec, sock] = co_await acceptor.async_accept(kTuple);
          if (ec) {
            if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
            ++counters.acceptErrors;
            if (resourceError(ec)) {
              if (backoff == std::chrono::milliseconds(50))
                log::error(std::string(what) + ": cannot accept: " + ec.message() + "; pausing new connections");
              pause.expires_after(backoff);
              co_await pause.async_wait(kTuple);
              backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
            }
            continue;
          }
          backoff = std::chrono::milliseconds(50);
          if (counters.active >= limits.maxConnections) {
            ++counters.rejected;
            std::error_code ignore;
            sock.close(ignore);
            continue;
          }
          ++counters.accepted;
          ++counters.active;
          asio::co_spawn(io, session(std::move(sock)), [&counters](std::exception_ptr) { --counters.active; });
        }
      },
      asio::detached);
}

// Writes all of `out` unless the deadline passes first; false on timeout.
template <class Socket>
asio::awaitable<bool> writeBefore(Socket& s, const std::string& out, std::chrono::milliseconds timeout) {
  asio::steady_timer deadline(s.get_executor(), timeout);
  auto r = co_await (asio::async_write(s, asio::buffer(out), kTuple) || deadline.async_wait(kTuple));
  co_return r.index() == 0;
}

}  // namespace

Daemon::ControlServer::ControlServer(asio::io_context& io, std::string p, Handler h, ServerLimits l)
    : io(io), path(std::move(p)), handler(std::move(h)), limits(l), acceptor(io) {}

Result<void> Daemon::ControlServer::start() {
  if (controlAnswers(path)) return fail(EADDRINUSE, "another process answers on " + path);
  ::unlink(path.c_str());  // left by an xlbd that was killed
  std::error_code ec;
  mode_t old = ::umask(0177);  // the socket is created 0600
  acceptor.open(asio::local::stream_protocol(), ec);
  if (!ec) acceptor.bind(asio::local::stream_protocol::endpoint(path), ec);
  ::umask(old);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail(ec.value(), "cannot listen on " + path);
  ::chmod(path.c_str(), 0600);
  acceptLoop(io, acceptor, "control socket", limits, counters,
             [this](asio::local::stream_protocol::socket s) { return session(std::move(s)); });
  return {};
}

asio::awaitable<void> Daemon::ControlServer::session(asio::local::stream_protocol::socket s) {
  std::string buf;
  asio::steady_timer deadline(s.get_executor(), limits.requestTimeout);
  auto r = co_await (asio::async_read_until(s, asio::dynamic_buffer(buf, kMaxRequest), '\n', kTuple) ||
                     deadline.async_wait(kTuple));
  if (r.index() == 1) {
    ++counters.timedOut;
    co_return;
  }
  auto [re, n] = std::get<0>(r);
  if (re && buf.empty()) co_return;
  json reply;
  try {
    reply = handler(json::parse(buf.substr(0, n ? n : buf.size())));
  } catch (const json::exception& e) {
    reply = json{{"ok", false}, {"error", std::string("bad request: ") + e.what()}};
  }
  if (!co_await writeBefore(s, reply.dump() + "\n", limits.writeTimeout)) ++counters.timedOut;
}

void Daemon::ControlServer::stop() {
  std::error_code ec;
  acceptor.close(ec);
  ::unlink(path.c_str());
}

namespace {

std::string response(int status, const char* reason, const std::string& type, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\nContent-Type: " + type +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

}  // namespace

Daemon::MetricsServer::MetricsServer(asio::io_context& io, Endpoint l, std::string p, Render r, ServerLimits lim)
    : io(io), listen(l), path(std::move(p)), render(std::move(r)), limits(lim), acceptor(io) {}

Result<void> Daemon::MetricsServer::start() {
  std::error_code ec;
  asio::ip::tcp::endpoint ep(asio::ip::make_address(listen.addr.str()), listen.port);
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail(ec.value(), "cannot serve metrics on " + listen.str());
  acceptLoop(io, acceptor, "metrics", limits, counters, [this](asio::ip::tcp::socket s) { return session(std::move(s)); });
  return {};
}

asio::awaitable<void> Daemon::MetricsServer::session(asio::ip::tcp::socket s) {
  http::Limits httpLimits;
  httpLimits.headerBytes = 16384;
  http::Parser req(http::Parser::Kind::Request, httpLimits);
  std::array<char, 2048> buf;
  std::string out;
  // The whole request (line and headers) within the deadline: a client
  // that trickles bytes (slowloris) is cut off all the same.
  asio::steady_timer deadline(s.get_executor(), limits.requestTimeout);
  bool head = false;
  while (!head && out.empty()) {
    auto r = co_await (s.async_read_some(asio::buffer(buf), kTuple) || deadline.async_wait(kTuple));
    if (r.index() == 1) {
      ++counters.timedOut;
      co_return;
    }
    auto [re, n] = std::get<0>(r);
    if (re) co_return;
    auto st = req.feed(std::string_view(buf.data(), n));
    if (st.what == http::Parser::Step::Fail)
      out = response(req.failure().status, http::reasonPhrase(req.failure().status), "text/plain", req.failure().why + "\n");
    head = st.what == http::Parser::Step::Head;
  }
  if (out.empty()) {
    const auto& m = req.message();
    std::string p = m.target.substr(0, m.target.find('?'));
    if (m.method != "GET")
      out = response(405, "Method Not Allowed", "text/plain", "GET only\n");
    else if (p != path)
      out = response(404, "Not Found", "text/plain", "metrics are at " + path + "\n");
    else
      out = response(200, "OK", "text/plain; version=0.0.4; charset=utf-8", render());
  }
  if (!co_await writeBefore(s, out, limits.writeTimeout)) {
    ++counters.timedOut;
    co_return;
  }
  std::error_code ignore;
  s.shutdown(asio::ip::tcp::socket::shutdown_send, ignore);
}

void Daemon::MetricsServer::stop() {
  std::error_code ec;
  acceptor.close(ec);
}

}  // namespace xlb
