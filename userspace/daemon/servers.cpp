// SPDX-License-Identifier: Apache-2.0
#include "servers.h"

#include <llhttp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>

#include "xlb/control.h"
#include "xlb/fd.h"
#include "xlb/log.h"

namespace xlb {

using nlohmann::json;
namespace {
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
constexpr size_t kMaxRequest = 64 * 1024;

// Accepts connections until the acceptor is closed; each one is served by
// its own coroutine, session(socket).
template <class Acceptor, class Session>
void acceptLoop(asio::io_context& io, Acceptor& acceptor, Session session) {
  asio::co_spawn(
      io,
      [&io, &acceptor, session]() -> asio::awaitable<void> {
        for (;;) {
          auto [ec, sock] = co_await acceptor.async_accept(kTuple);
          if (ec) {
            if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
            continue;
          }
          asio::co_spawn(io, session(std::move(sock)), asio::detached);
        }
      },
      asio::detached);
}
}  // namespace

Daemon::ControlServer::ControlServer(asio::io_context& io, std::string p, Handler h)
    : io(io), path(std::move(p)), handler(std::move(h)), acceptor(io) {}

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
  acceptLoop(io, acceptor, [this](asio::local::stream_protocol::socket s) { return session(std::move(s)); });
  return {};
}

asio::awaitable<void> Daemon::ControlServer::session(asio::local::stream_protocol::socket s) {
  std::string buf;
  auto [re, n] = co_await asio::async_read_until(s, asio::dynamic_buffer(buf, kMaxRequest), '\n', kTuple);
  if (re && buf.empty()) co_return;
  json reply;
  try {
    reply = handler(json::parse(buf.substr(0, n ? n : buf.size())));
  } catch (const json::exception& e) {
    reply = json{{"ok", false}, {"error", std::string("bad request: ") + e.what()}};
  }
  std::string out = reply.dump() + "\n";
  co_await asio::async_write(s, asio::buffer(out), kTuple);
}

void Daemon::ControlServer::stop() {
  std::error_code ec;
  acceptor.close(ec);
  ::unlink(path.c_str());
}

namespace {

// The request line as far as /metrics needs it.
struct Request {
  llhttp_t parser;
  llhttp_settings_t settings;
  std::string url;
  bool headersDone = false;
  Request() {
    llhttp_settings_init(&settings);
    settings.on_url = [](llhttp_t* p, const char* at, size_t n) {
      static_cast<Request*>(p->data)->url.append(at, n);
      return 0;
    };
    settings.on_headers_complete = [](llhttp_t* p) {
      static_cast<Request*>(p->data)->headersDone = true;
      return 0;
    };
    llhttp_init(&parser, HTTP_REQUEST, &settings);
    parser.data = this;
  }
};

std::string response(int status, const char* reason, const std::string& type, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\nContent-Type: " + type +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

}  // namespace

Daemon::MetricsServer::MetricsServer(asio::io_context& io, Endpoint l, std::string p, Render r)
    : io(io), listen(l), path(std::move(p)), render(std::move(r)), acceptor(io) {}

Result<void> Daemon::MetricsServer::start() {
  std::error_code ec;
  asio::ip::tcp::endpoint ep(asio::ip::make_address(listen.addr.str()), listen.port);
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail(ec.value(), "cannot serve metrics on " + listen.str());
  acceptLoop(io, acceptor, [this](asio::ip::tcp::socket s) { return session(std::move(s)); });
  return {};
}

asio::awaitable<void> Daemon::MetricsServer::session(asio::ip::tcp::socket s) {
  Request req;
  std::array<char, 2048> buf;
  size_t total = 0;
  std::string out;
  while (!req.headersDone) {
    auto [re, n] = co_await s.async_read_some(asio::buffer(buf), kTuple);
    if (re) co_return;
    total += n;
    auto e = llhttp_execute(&req.parser, buf.data(), n);
    if ((e != HPE_OK && e != HPE_PAUSED) || total > 16384) {
      out = response(400, "Bad Request", "text/plain", "bad request\n");
      break;
    }
  }
  if (out.empty()) {
    std::string p = req.url.substr(0, req.url.find('?'));
    if (llhttp_get_method(&req.parser) != HTTP_GET)
      out = response(405, "Method Not Allowed", "text/plain", "GET only\n");
    else if (p != path)
      out = response(404, "Not Found", "text/plain", "metrics are at " + path + "\n");
    else
      out = response(200, "OK", "text/plain; version=0.0.4; charset=utf-8", render());
  }
  co_await asio::async_write(s, asio::buffer(out), kTuple);
  std::error_code ignore;
  s.shutdown(asio::ip::tcp::socket::shutdown_send, ignore);
}

void Daemon::MetricsServer::stop() {
  std::error_code ec;
  acceptor.close(ec);
}

}  // namespace xlb
