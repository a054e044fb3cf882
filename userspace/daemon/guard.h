// SPDX-License-Identifier: Apache-2.0
// Keeps the data plane that xlbd owns in place: xlb_xdp attached to every
// configured interface and the instance's maps pinned. Link events from the
// kernel (and a look every second as a backstop) tell it within a second
// when its program left an interface (ip link set dev X xdp off, a foreign
// detach) or pins vanished; it says so at error level, attaches the same
// program again (maps and flows intact) and pins again. A program that
// someone else put on the interface is never replaced: that is reported.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "xlb/dataplane.h"
#include "xlb/fd.h"
#include "xlb/linkwatch.h"
#include "xlb/loader.h"

namespace xlb {

class DataplaneGuard {
 public:
  struct Iface {
    std::string name;
    int ifindex = 0;
    AttachMode mode = AttachMode::Auto;
    Fd prog;              // our xlb_xdp on this interface, held open to attach it again
    uint32_t progId = 0;
    bool attached = false;
    uint64_t reattaches = 0;
    std::string problem;  // why it is not attached, as last logged
  };

  // repinOwner: pins xlbd's owner record again when it vanished.
  DataplaneGuard(asio::io_context& io, Dataplane& dp, std::string pinDir, std::function<void()> repinOwner);
  ~DataplaneGuard();

  // Starts guarding an interface xlb_xdp of this instance is attached to now.
  Result<void> track(const std::string& name);
  void untrack(const std::string& name);
  Result<void> start();
  void stop();
  const std::map<std::string, Iface>& interfaces() const { return ifaces_; }

 private:
  asio::awaitable<void> watchEvents();
  asio::awaitable<void> watchTimer();
  void checkAll();
  void check(Iface& i);
  void checkPins();

  asio::io_context& io_;
  Dataplane& dp_;
  std::string pinDir_;
  std::function<void()> repinOwner_;
  std::map<std::string, Iface> ifaces_;
  std::optional<LinkWatch> links_;
  std::optional<asio::posix::stream_descriptor> linkFd_;
  asio::steady_timer timer_;
  bool stopped_ = false;
};

}  // namespace xlb
