// SPDX-License-Identifier: Apache-2.0
// xlbd's configuration (YAML). Every error names `file:line: key: what is
// wrong`; a config either loads whole or not at all.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "xlb/addr.h"
#include "xlb/error.h"
#include "xlb/settings.h"

namespace xlb {

using Millis = std::chrono::milliseconds;

struct StatusRange {
  int lo = 200, hi = 399;
  bool operator==(const StatusRange&) const = default;
};

enum class CheckType { None, Tcp, Http, Https };
const char* checkTypeName(CheckType t);

struct CheckSpec {
  CheckType type = CheckType::None;  // None: no checking, the backend counts as up
  std::string path = "/";
  std::string host;                  // Host header; default: the checked address
  std::vector<StatusRange> expectStatus = std::vector<StatusRange>(1);  // one range: 200-399
  std::string expectBody;            // substring the body must contain
  Millis interval{2000}, timeout{1000};
  int rise = 2, fall = 3;
  std::string sni;                   // https: server name sent; default: host
  bool verify = true;                // https: verify the certificate chain and name
  std::string caFile;                // https: trust these CAs instead of the system's
  std::optional<uint16_t> port;      // default: the VIP's port
  std::optional<IpAddr> address;     // default: the backend's address
  bool operator==(const CheckSpec&) const = default;
};

struct BackendConfig {
  IpAddr addr;
  uint32_t weight = 1;
  std::string name;  // default: the address
  CheckSpec check;   // the VIP's check with this backend's overrides
  int line = 0;
  bool operator==(const BackendConfig& o) const {
    return addr == o.addr && weight == o.weight && name == o.name && check == o.check;
  }
};

enum class AllDown { Drop, SendToAll };

struct VipConfig {
  VipKey key;
  uint8_t forward = 0;  // XLB_FWD_*
  AllDown allDown = AllDown::Drop;
  std::vector<BackendConfig> backends;
  int line = 0;
  bool operator==(const VipConfig& o) const {
    return key == o.key && forward == o.forward && allDown == o.allDown && backends == o.backends;
  }
};

struct InterfaceConfig {
  std::string name;
  AttachMode mode = AttachMode::Auto;
  int line = 0;
};

struct Config {
  std::string file;  // where it was read from
  std::string pinPath = kDefaultPinDir;
  std::string controlSocket = "/run/xlb/xlbd.sock";
  std::string stateDir;  // operator states; empty: $STATE_DIRECTORY, else /var/lib/xlb
  std::optional<Endpoint> metricsListen;  // unset: no metrics server
  std::string metricsPath = "/metrics";
  uint32_t metricsMaxConnections = 64;  // more at once are closed at once
  Millis metricsTimeout{5000};          // to send a request; as long again to read the answer
  bool startUp = false;  // initial health state before the first check: down unless set
  LoadSettings load;
  std::vector<InterfaceConfig> interfaces;
  std::vector<VipConfig> vips;
};

// The largest config file read.
inline constexpr long kMaxConfigBytes = 4L * 1024 * 1024;
// Parses YAML text; `file` names it in errors. Every error in the text is
// reported, one `file:line: key: what` per line.
Result<Config> parseConfig(const std::string& text, const std::string& file);
// Reads a regular file of at most kMaxConfigBytes, then parses it.
Result<Config> loadConfig(const std::string& file);
// What the config asks of this host that it lacks (interfaces that do not
// exist), with file:line. xlbd start, reload and --check-config run it.
Result<void> checkHost(const Config& c);

// "2s", "500ms", "1m", or a bare number of seconds.
Result<Millis> parseDuration(const std::string& text);

}  // namespace xlb
