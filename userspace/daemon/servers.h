// SPDX-License-Identifier: Apache-2.0
// xlbd's two listeners: the control socket (one JSON request per line, one
// JSON answer) and the Prometheus endpoint (HTTP/1.1 GET, parsed by llhttp).
// Both are open to clients xlbd does not trust to behave: each caps its
// concurrent connections (the rest are closed at once), gives a client a
// deadline to send its request and another to take the answer, and backs off
// when the process runs out of file descriptors instead of spinning, so
// neither can take the descriptors the health checks need.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/local/stream_protocol.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "daemon.h"
#include "xlb/addr.h"
#include "xlb/control.h"
#include "xlb/error.h"

namespace xlb {

struct ServerLimits {
  size_t maxConnections = 64;
  std::chrono::milliseconds requestTimeout{5000};  // to send a whole request
  std::chrono::milliseconds writeTimeout{10000};   // to take the whole answer
};

struct ServerCounters {
  size_t active = 0;
  uint64_t accepted = 0, rejected = 0, timedOut = 0, acceptErrors = 0;
};

struct Daemon::ControlServer {
  using Handler = std::function<nlohmann::json(const nlohmann::json&)>;
  ControlServer(asio::io_context& io, std::string path, Handler h, ServerLimits limits);
  Result<void> start();  // socket mode 0600
  void stop();
  asio::awaitable<void> session(asio::local::stream_protocol::socket s);

  asio::io_context& io;
  std::string path;
  Handler handler;
  ServerLimits limits;
  ServerCounters counters;
  asio::local::stream_protocol::acceptor acceptor;
};

struct Daemon::MetricsServer {
  using Render = std::function<std::string()>;
  MetricsServer(asio::io_context& io, Endpoint listen, std::string path, Render r, ServerLimits limits);
  Result<void> start();
  void stop();
  asio::awaitable<void> session(asio::ip::tcp::socket s);

  asio::io_context& io;
  Endpoint listen;
  std::string path;
  Render render;
  ServerLimits limits;
  ServerCounters counters;
  asio::ip::tcp::acceptor acceptor;
};

}  // namespace xlb
