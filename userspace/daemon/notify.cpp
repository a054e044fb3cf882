// SPDX-License-Identifier: Apache-2.0
#include "notify.h"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>

namespace xlb::notify {

void ready(const std::string& st) { sd_notify(0, ("READY=1\nSTATUS=" + st).c_str()); }

void reloading(const std::string& st) {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  uint64_t usec = static_cast<uint64_t>(ts.tv_sec) * 1000000 + static_cast<uint64_t>(ts.tv_nsec) / 1000;
  sd_notify(0, ("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec) + "\nSTATUS=" + st).c_str());
}

void status(const std::string& st) { sd_notify(0, ("STATUS=" + st).c_str()); }

void startWatchdog(asio::io_context& io) {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return;
  auto timer = std::make_shared<asio::steady_timer>(io);
  auto every = std::chrono::microseconds(usec / 2);
  auto tick = std::make_shared<std::function<void(std::error_code)>>();
  *tick = [timer, every, tick](std::error_code ec) {
    if (ec) return;
    sd_notify(0, "WATCHDOG=1");
    timer->expires_after(every);
    timer->async_wait(*tick);
  };
  sd_notify(0, "WATCHDOG=1");
  timer->expires_after(every);
  timer->async_wait(*tick);
}

}  // namespace xlb::notify
