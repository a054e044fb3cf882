// SPDX-License-Identifier: Apache-2.0
// Turns for a worker's expensive TLS step: at most one handshake's key
// exchange and signature per pass over the worker's ready handlers.
//
// A full handshake costs the server a key share and a signature (about
// 0.3 ms of CPU on the machines xlb is measured on); everything else a
// connection does between two reads costs microseconds. A worker that ran
// every ClientHello as it arrived made the requests of connections already
// past their handshake wait behind all of them: with 50 clients opening a
// connection per request, the time from a request's last segment to the
// answer's first (on the client's wire) was 4.7 ms at the median and 43 ms
// at p99, against HAProxy's 3.0 and 7.7, which runs one such "heavy" step
// per pass too. With turns, work in progress goes first and a handshake
// waits one pass per handshake ahead of it (within its client-header
// timeout, like any other wait). The step taken in turns starts at a whole
// ClientHello (OpenSSL's client-hello callback holds the handshake there),
// so a ClientHello split over segments, or a second one after a
// HelloRetryRequest, cannot skip the line.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <cstdint>
#include <deque>

namespace xlb::tls {

class HandshakeTurns {
 public:
  explicit HandshakeTurns(asio::io_context& io) : io_(io) {}
  HandshakeTurns(const HandshakeTurns&) = delete;
  HandshakeTurns& operator=(const HandshakeTurns&) = delete;

  // Waits for this pass's turn: true once it is the caller's, false when
  // the wait was cancelled (the handshake's timeout, the worker stopping).
  asio::awaitable<bool> take();

  size_t waiting() const { return waiting_.size(); }
  uint64_t given() const { return given_; }  // turns given so far

 private:
  struct Waiter {
    asio::steady_timer timer;
    bool granted = false;
  };
  void pass();  // posted behind the pass's handlers: the next turn

  asio::io_context& io_;
  bool taken_ = false;  // this pass's turn is given
  uint64_t given_ = 0;
  std::deque<Waiter*> waiting_;
};

}  // namespace xlb::tls
