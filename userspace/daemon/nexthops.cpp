// SPDX-License-Identifier: Apache-2.0
#include "nexthops.h"

#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

#include "log.h"
#include "xlb/nexthop.h"

namespace xlb {

namespace {
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
constexpr auto kMinGap = std::chrono::milliseconds(10);
constexpr auto kBackstop = std::chrono::seconds(5);
constexpr auto kTtl = std::chrono::seconds(30);  // renewed after 15 s: a dead xlbd's entries soon give way
}  // namespace

NexthopKeeper::NexthopKeeper(asio::io_context& io, Dataplane& dp) : io_(io), dp_(dp), backstop_(io), soon_(io) {}

Result<void> NexthopKeeper::start() {
  auto w = LinkWatch::openRouting();
  if (!w) return xlb::unexpected(w.error());
  events_.emplace(std::move(*w));
  eventFd_.emplace(io_, ::dup(events_->fd()));
  refresh();
  // The first sync wrote every ring from nothing (every slot marked moved):
  // unmark what no recorded flow needs now, not 5 s from now.
  if (auto c = dp_.clearMovedSlots()) movedCleared_ += *c;
  asio::co_spawn(io_, watchEvents(), asio::detached);
  asio::co_spawn(io_, watchTimer(), asio::detached);
  return {};
}

void NexthopKeeper::stop() {
  stopped_ = true;
  std::error_code ec;
  if (eventFd_) eventFd_->cancel(ec);
  backstop_.cancel();
  soon_.cancel();
}

void NexthopKeeper::poke() {
  if (stopped_ || pending_) return;
  auto now = std::chrono::steady_clock::now();
  if (now - last_ >= kMinGap) {
    refresh();
    return;
  }
  // Just refreshed: once more when the gap has passed, for what came since.
  pending_ = true;
  soon_.expires_at(last_ + kMinGap);
  soon_.async_wait([this](std::error_code ec) {
    pending_ = false;
    if (!ec && !stopped_) refresh();
  });
}

void NexthopKeeper::refresh() {
  last_ = std::chrono::steady_clock::now();
  std::map<std::string, std::string> unresolved;
  auto n = dp_.refreshNexthops(resolveNexthop, kTtl, &unresolved);
  if (!n) {
    log::error("cannot refresh next hops: " + n.error().describe());
    return;
  }
  updates_ += *n;
  for (const auto& [addr, why] : unresolved)
    if (auto it = unresolved_.find(addr); it == unresolved_.end() || it->second != why)
      log::warn("next hop of backend " + addr + " not resolved (" + why + "): its packets ask bpf_fib_lookup");
  for (const auto& [addr, why] : unresolved_)
    if (!unresolved.count(addr)) log::info("next hop of backend " + addr + " resolved");
  unresolved_ = std::move(unresolved);
}

asio::awaitable<void> NexthopKeeper::watchEvents() {
  while (!stopped_) {
    auto [ec] = co_await eventFd_->async_wait(asio::posix::stream_descriptor::wait_read, kTuple);
    if (ec || stopped_) co_return;
    bool overflow = false;
    if (events_->discard(overflow) || overflow) poke();
  }
}

void NexthopKeeper::relieveFlows() {
  if (reliefSkip_ > 0) {
    --reliefSkip_;
    return;
  }
  // Before the data plane has to evict: the oldest idle flows, table-wide.
  auto r = dp_.flowTable().relieve(flowClockNow(), {});
  flowsRelieved_ += r.removed;
  unlogged_ += r.removed;
  // Still more than half full of recent flows (the table is too small):
  // each look reads it whole, so look again less often, up to once a minute.
  reliefBackoff_ = r.stillOver ? std::min(reliefBackoff_ * 2 + 1, 11) : 0;
  reliefSkip_ = reliefBackoff_;
  auto now = std::chrono::steady_clock::now();
  if ((unlogged_ || r.stillOver) && now - lastReliefLog_ >= std::chrono::minutes(1)) {
    lastReliefLog_ = now;
    log::info("flow table more than half full: removed the " + std::to_string(unlogged_) +
              " flows seen longest ago" + (r.stillOver ? "; still more than half full of flows seen in the last "
                                                         "minute (raise limits.max_flows)" : ""));
    unlogged_ = 0;
  }
}

asio::awaitable<void> NexthopKeeper::watchTimer() {
  while (!stopped_) {
    backstop_.expires_after(kBackstop);
    auto [ec] = co_await backstop_.async_wait(kTuple);
    if (ec || stopped_) co_return;
    poke();
    // Ring slots marked moved whose old flows are gone: the data plane goes
    // by the ring alone there again (no flow table lookup).
    if (auto c = dp_.clearMovedSlots(); !c)
      log::error("cannot clear moved ring slots: " + c.error().describe());
    else
      movedCleared_ += *c;
    relieveFlows();
  }
}

}  // namespace xlb
