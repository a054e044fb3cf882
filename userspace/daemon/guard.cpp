// SPDX-License-Identifier: Apache-2.0
#include "guard.h"

#include <bpf/bpf.h>
#include <net/if.h>
#include <sys/stat.h>

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>

#include "log.h"

namespace xlb {

namespace {
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
constexpr auto kLookEvery = std::chrono::seconds(1);
}  // namespace

DataplaneGuard::DataplaneGuard(asio::io_context& io, Dataplane& dp, std::string pinDir,
                               std::function<void()> repinOwner)
    : io_(io), dp_(dp), pinDir_(std::move(pinDir)), repinOwner_(std::move(repinOwner)), timer_(io) {}

DataplaneGuard::~DataplaneGuard() { stop(); }

Result<void> DataplaneGuard::track(const std::string& name) {
  int ifindex = static_cast<int>(if_nametoindex(name.c_str()));
  if (!ifindex) return fail(ENODEV, "interface '" + name + "' not found");
  XdpState st = xdpState(ifindex, dp_.vipsMapId());
  if (!st.ourProgId) return fail(ENOENT, "xlb_xdp of this instance is not attached to " + name);
  int fd = bpf_prog_get_fd_by_id(st.ourProgId);
  if (fd < 0) return fail(errno, "cannot open xlb_xdp (program id " + std::to_string(st.ourProgId) + ")");
  Iface i;
  i.name = name;
  i.ifindex = ifindex;
  i.mode = st.ourMode;
  i.prog = Fd(fd);
  i.progId = st.ourProgId;
  i.attached = true;
  if (auto old = ifaces_.find(name); old != ifaces_.end()) i.reattaches = old->second.reattaches;
  ifaces_[name] = std::move(i);
  return {};
}

void DataplaneGuard::untrack(const std::string& name) { ifaces_.erase(name); }

Result<void> DataplaneGuard::start() {
  auto lw = LinkWatch::open();
  if (!lw) return xlb::unexpected(lw.error());
  links_.emplace(std::move(*lw));
  linkFd_.emplace(io_, ::dup(links_->fd()));
  asio::co_spawn(io_, watchEvents(), asio::detached);
  asio::co_spawn(io_, watchTimer(), asio::detached);
  return {};
}

void DataplaneGuard::stop() {
  stopped_ = true;
  std::error_code ec;
  if (linkFd_) linkFd_->cancel(ec);
  timer_.cancel();
}

asio::awaitable<void> DataplaneGuard::watchEvents() {
  while (!stopped_) {
    auto [ec] = co_await linkFd_->async_wait(asio::posix::stream_descriptor::wait_read, kTuple);
    if (ec || stopped_) co_return;
    bool overflow = false;
    auto events = links_->drain(overflow);
    if (overflow) {
      checkAll();
      continue;
    }
    for (auto& [name, i] : ifaces_)
      for (const auto& e : events)
        if (e.ifindex == i.ifindex || e.name == name) {
          check(i);
          break;
        }
  }
}

asio::awaitable<void> DataplaneGuard::watchTimer() {
  while (!stopped_) {
    timer_.expires_after(kLookEvery);
    auto [ec] = co_await timer_.async_wait(kTuple);
    if (ec || stopped_) co_return;
    checkAll();
  }
}

void DataplaneGuard::checkAll() {
  checkPins();
  for (auto& [name, i] : ifaces_) check(i);
}

void DataplaneGuard::checkPins() {
  auto pinned = dp_.repin();
  if (!pinned) {
    log::error("cannot pin the maps again under " + pinDir_ + ": " + pinned.error().describe());
    return;
  }
  if (!pinned->empty()) {
    std::string names;
    for (const auto& n : *pinned) names += (names.empty() ? "" : ", ") + n;
    log::error("maps under " + pinDir_ + " were unpinned by someone else; pinned them again: " + names);
  }
  struct stat st {};
  if (::stat((pinDir_ + "/xlb_owner").c_str(), &st) != 0) repinOwner_();
}

void DataplaneGuard::check(Iface& i) {
  int now = static_cast<int>(if_nametoindex(i.name.c_str()));
  auto problem = [&](const std::string& p) {
    if (p != i.problem) log::error(p, {{"INTERFACE", i.name}});
    i.problem = p;
    i.attached = false;
  };
  if (!now) return problem(i.name + ": the interface is gone; xlb_xdp goes back on when it returns");
  if (now != i.ifindex) {
    log::warn(i.name + " came back with ifindex " + std::to_string(now) + " (was " + std::to_string(i.ifindex) + ")");
    i.ifindex = now;
  }
  XdpState st = xdpState(i.ifindex, dp_.vipsMapId());
  if (st.ourProgId) {
    if (!i.attached) log::info("xlb_xdp is on " + i.name + " again (program id " + std::to_string(st.ourProgId) + ")");
    i.attached = true;
    i.problem.clear();
    return;
  }
  if (st.otherProgId) {
    return problem(i.name + " now runs another XDP program, '" + st.otherName + "' (id " +
                   std::to_string(st.otherProgId) +
                   "): xlb forwards nothing there; xlbd does not replace it: remove it (ip link set dev " + i.name +
                   " xdp off) and xlbd attaches xlb_xdp again");
  }
  log::error("xlb_xdp (program id " + std::to_string(i.progId) + ") left " + i.name +
                 ": someone detached it; attaching it again",
             {{"INTERFACE", i.name}});
  if (auto r = reattach(i.prog.get(), i.ifindex, i.mode); !r)
    return problem(i.name + ": cannot attach xlb_xdp again: " + r.error().describe());
  if (auto r = dp_.addTxPort(i.ifindex); !r) log::error(i.name + ": " + r.error().describe());
  ++i.reattaches;
  i.attached = true;
  i.problem.clear();
  log::info("xlb_xdp (program id " + std::to_string(i.progId) + ") attached to " + i.name + " again",
            {{"INTERFACE", i.name}});
}

}  // namespace xlb
