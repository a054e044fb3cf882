// SPDX-License-Identifier: Apache-2.0
// systemd's service notifications (Type=notify): READY when the data plane
// is attached and the first sync is done, RELOADING/READY around reloads,
// STATUS lines, and WATCHDOG keep-alives from the event loop itself, so a
// loop that stalls stops them and systemd restarts xlbd. Without systemd
// (no NOTIFY_SOCKET) every call does nothing.
#pragma once

#include <asio/io_context.hpp>
#include <string>

namespace xlb::notify {

void ready(const std::string& status);
void reloading(const std::string& status);
void status(const std::string& status);
// WATCHDOG=1 every half of WatchdogSec= (WATCHDOG_USEC), if systemd asks.
void startWatchdog(asio::io_context& io);

}  // namespace xlb::notify
