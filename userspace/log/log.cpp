// SPDX-License-Identifier: Apache-2.0
#include "log.h"

#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>

namespace xlb::log {

Level& threshold() {
  static Level l = Level::Info;
  return l;
}

namespace {

// systemd sets JOURNAL_STREAM to the device:inode of the stream it
// connected stderr to; only then is stderr the journal.
bool stderrIsJournal() {
  const char* js = std::getenv("JOURNAL_STREAM");
  if (!js) return false;
  unsigned long long dev = 0, ino = 0;
  if (std::sscanf(js, "%llu:%llu", &dev, &ino) != 2) return false;
  struct stat st {};
  return fstat(2, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
}

const char* levelName(Level l) {
  return l == Level::Debug ? "debug" : l == Level::Info ? "info" : l == Level::Warn ? "warning" : "error";
}

bool validFieldName(const char* n) {
  if (!*n || *n == '_') return false;
  for (const char* p = n; *p; ++p)
    if (!(std::isupper(static_cast<unsigned char>(*p)) || std::isdigit(static_cast<unsigned char>(*p)) || *p == '_'))
      return false;
  return true;
}

}  // namespace

std::vector<std::string> journalEntry(Level l, const std::string& line, Fields fields) {
  std::vector<std::string> out{"MESSAGE=" + line, "PRIORITY=" + std::to_string(static_cast<int>(l)),
                               "SYSLOG_IDENTIFIER=xlbd"};
  for (const auto& f : fields)
    if (validFieldName(f.name) && !f.value.empty()) out.push_back(std::string(f.name) + "=" + f.value);
  return out;
}

void write(Level l, const std::string& msg, Fields fields) {
  if (static_cast<int>(l) > static_cast<int>(threshold())) return;
  static const bool journal = stderrIsJournal();
  // A message of several lines (every error of a config file) is several
  // events of the same level.
  for (size_t at = 0; at <= msg.size();) {
    size_t nl = msg.find('\n', at);
    std::string line = msg.substr(at, nl == std::string::npos ? std::string::npos : nl - at);
    bool sent = false;
    if (journal) {
      auto entry = journalEntry(l, line, fields);
      std::vector<iovec> iov;
      for (auto& e : entry) iov.push_back({e.data(), e.size()});
      sent = sd_journal_sendv(iov.data(), static_cast<int>(iov.size())) == 0;
    }
    if (!sent) std::fprintf(stderr, "xlbd %s: %s\n", levelName(l), line.c_str());
    if (nl == std::string::npos) break;
    at = nl + 1;
  }
}

}  // namespace xlb::log
