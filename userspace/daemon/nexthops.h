// SPDX-License-Identifier: Apache-2.0
// Keeps every backend's next hop in the maps current: resolved again at
// once when rtnetlink says a neighbour, route, link or forwarding setting
// changed (at most every 10 ms under a storm of events), and every 5 s as
// a backstop. A backend whose next hop cannot be resolved is left to
// bpf_fib_lookup in the data plane, which counts it. On the same 5 s beat
// it clears the "moved" mark of ring slots that no recorded flow needs any
// more (Dataplane::clearMovedSlots), and keeps the flow tables at most half
// full, the flows seen longest ago going first (FlowTable::relieve).
#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <map>
#include <optional>
#include <string>

#include "xlb/dataplane.h"
#include "xlb/linkwatch.h"

namespace xlb {

class NexthopKeeper {
 public:
  NexthopKeeper(asio::io_context& io, Dataplane& dp);
  Result<void> start();
  void stop();
  // Backends were added or changed: resolve soon.
  void poke();

  uint64_t updates() const { return updates_; }  // entries rewritten since start
  uint64_t movedCleared() const { return movedCleared_; }  // ring slots unmarked since start
  uint64_t flowsRelieved() const { return flowsRelieved_; }  // idle flows removed since start
  const std::map<std::string, std::string>& unresolved() const { return unresolved_; }  // address -> why

 private:
  asio::awaitable<void> watchEvents();
  asio::awaitable<void> watchTimer();
  void refresh();
  void relieveFlows();

  asio::io_context& io_;
  Dataplane& dp_;
  std::optional<LinkWatch> events_;
  std::optional<asio::posix::stream_descriptor> eventFd_;
  asio::steady_timer backstop_, soon_;
  std::chrono::steady_clock::time_point last_{};
  bool pending_ = false, stopped_ = false;
  uint64_t updates_ = 0, movedCleared_ = 0, flowsRelieved_ = 0, unlogged_ = 0;
  int reliefBackoff_ = 0, reliefSkip_ = 0;  // 5 s beats between looks at a full table
  std::chrono::steady_clock::time_point lastReliefLog_{};
  std::map<std::string, std::string> unresolved_;
};

}  // namespace xlb
