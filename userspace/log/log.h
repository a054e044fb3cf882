// SPDX-License-Identifier: Apache-2.0
// xlbd's log: one event per line. Under systemd (stderr is the journal's
// stream) each event goes to journald with its priority and structured
// fields (VIP=, BACKEND=, INTERFACE=), so `journalctl VIP=...` finds them;
// elsewhere it is a line on stderr.
#pragma once

#include <initializer_list>
#include <string>
#include <vector>

namespace xlb::log {

enum class Level { Debug = 7, Info = 6, Warn = 4, Error = 3 };
Level& threshold();

struct Field {
  const char* name;  // upper case, as journald wants (VIP, BACKEND, ...)
  std::string value;
};
using Fields = std::initializer_list<Field>;

void write(Level l, const std::string& msg, Fields fields = {});
inline void info(const std::string& m, Fields f = {}) { write(Level::Info, m, f); }
inline void warn(const std::string& m, Fields f = {}) { write(Level::Warn, m, f); }
inline void error(const std::string& m, Fields f = {}) { write(Level::Error, m, f); }
inline void debug(const std::string& m, Fields f = {}) { write(Level::Debug, m, f); }

// The journal entry of one line: MESSAGE=, PRIORITY=, SYSLOG_IDENTIFIER=,
// then the fields (names that journald would refuse are dropped).
std::vector<std::string> journalEntry(Level l, const std::string& line, Fields fields);

}  // namespace xlb::log
