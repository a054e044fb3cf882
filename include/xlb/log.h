// SPDX-License-Identifier: Apache-2.0
// One event per line on stderr, with a level. Under systemd (JOURNAL_STREAM
// set) lines carry the syslog priority prefix journald understands.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

namespace xlb::log {

enum class Level { Debug = 7, Info = 6, Warn = 4, Error = 3 };

inline Level& threshold() {
  static Level l = Level::Info;
  return l;
}

inline void write(Level l, const std::string& msg) {
  if (static_cast<int>(l) > static_cast<int>(threshold())) return;
  static const bool journal = std::getenv("JOURNAL_STREAM") != nullptr;
  const char* name = l == Level::Debug ? "debug" : l == Level::Info ? "info" : l == Level::Warn ? "warning" : "error";
  // One line per event: a message of several lines (every error of a
  // config file) is several events of the same level.
  for (size_t at = 0; at <= msg.size();) {
    size_t nl = msg.find('\n', at);
    std::string line = msg.substr(at, nl == std::string::npos ? std::string::npos : nl - at);
    if (journal)
      std::fprintf(stderr, "<%d>%s: %s\n", static_cast<int>(l), name, line.c_str());
    else
      std::fprintf(stderr, "xlbd %s: %s\n", name, line.c_str());
    if (nl == std::string::npos) break;
    at = nl + 1;
  }
}

inline void info(const std::string& m) { write(Level::Info, m); }
inline void warn(const std::string& m) { write(Level::Warn, m); }
inline void error(const std::string& m) { write(Level::Error, m); }
inline void debug(const std::string& m) { write(Level::Debug, m); }

}  // namespace xlb::log
