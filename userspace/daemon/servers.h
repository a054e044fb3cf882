// SPDX-License-Identifier: Apache-2.0
// xlbd's two listeners: the control socket (one JSON request per line, one
// JSON answer) and the Prometheus endpoint (HTTP/1.1 GET, parsed by llhttp).
#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/ip/tcp.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "daemon.h"
#include "xlb/addr.h"
#include "xlb/control.h"
#include "xlb/error.h"

namespace xlb {

struct Daemon::ControlServer {
  using Handler = std::function<nlohmann::json(const nlohmann::json&)>;
  ControlServer(asio::io_context& io, std::string path, Handler h);
  Result<void> start();  // socket mode 0600
  void stop();
  asio::awaitable<void> session(asio::local::stream_protocol::socket s);

  asio::io_context& io;
  std::string path;
  Handler handler;
  asio::local::stream_protocol::acceptor acceptor;
};

struct Daemon::MetricsServer {
  using Render = std::function<std::string()>;
  MetricsServer(asio::io_context& io, Endpoint listen, std::string path, Render r);
  Result<void> start();
  void stop();
  asio::awaitable<void> session(asio::ip::tcp::socket s);

  asio::io_context& io;
  Endpoint listen;
  std::string path;
  Render render;
  asio::ip::tcp::acceptor acceptor;
};

}  // namespace xlb
