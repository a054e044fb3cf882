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
  uint16_t port = 0;  // http VIPs: where the backend listens (default: the VIP's port); l4: the VIP's
  uint32_t weight = 1;
  std::string name;  // default: the address
  CheckSpec check;   // the VIP's check with this backend's overrides
  int line = 0;
  bool operator==(const BackendConfig& o) const {
    return addr == o.addr && port == o.port && weight == o.weight && name == o.name && check == o.check;
  }
};

enum class AllDown { Drop, SendToAll };

// An HTTP VIP (mode: http): xlbd's L7 proxy serves it.
enum class VipMode { L4, Http };
enum class Balance { RoundRobin, LeastConn, Source, Header, Cookie };
const char* balanceName(Balance b);

struct TlsCertFiles {
  std::string certFile, keyFile;
  bool operator==(const TlsCertFiles&) const = default;
};

struct HttpTimeouts {
  Millis clientHeader{10000};  // to send a request head (408 after)
  Millis clientIdle{60000};    // keep-alive between requests
  Millis connect{3000};        // to a backend
  Millis response{60000};      // for the backend's response head (504 after)
  Millis tunnel{3600000};      // a websocket tunnel with nothing moving
  bool operator==(const HttpTimeouts&) const = default;
};

struct HttpLimits {
  uint32_t requestLine = 8192, headerBytes = 32768, headerCount = 100;
  uint64_t body = 0;  // 0: no limit
  bool operator==(const HttpLimits&) const = default;
};

// Ordered; the first that matches picks the backends (by name) the request
// is balanced over. No route matches: every backend of the VIP.
struct Route {
  std::string name;        // in metrics and the access log; default: its position, from 1
  std::string host;        // exact, case-insensitive; empty: any
  std::string pathPrefix;  // empty: any
  std::string header, headerValue;  // a header that must have this value; empty: any
  std::vector<std::string> backends;
  int line = 0;
  bool operator==(const Route& o) const {
    return name == o.name && host == o.host && pathPrefix == o.pathPrefix && header == o.header && headerValue == o.headerValue &&
           backends == o.backends;
  }
};

// TLS from the proxy to a VIP's backends.
struct BackendTls {
  bool enabled = false;
  bool verify = true;   // the backend's chain (ca_file, else the system's CAs) and, with sni, its name
  std::string caFile;
  std::string sni;      // sent and verified; empty: none sent, the chain only
  bool operator==(const BackendTls&) const = default;
};

struct HttpVip {
  std::vector<TlsCertFiles> certs;  // empty: plain HTTP; several: chosen by SNI
  bool tlsResumption = true;        // session tickets (and the session cache); false: a full handshake every time
  BackendTls backendTls;
  Balance balance = Balance::RoundRobin;
  std::string balanceKey;           // balance header:NAME / cookie:NAME
  std::string cookie;               // insert-mode persistence cookie; empty: none
  int redirect = 0;                 // 301 or 308: every request redirected to https
  HttpTimeouts timeouts;
  bool forwardedAppend = false;     // X-Forwarded-For: append for trusted proxies, else replace
  std::vector<Prefix> trustedProxies;
  HttpLimits limits;
  std::vector<Prefix> allow, deny;  // by source; allow empty: everyone not denied
  std::vector<std::string> denyPaths;  // path prefixes answered 403
  std::vector<Route> routes;
  bool operator==(const HttpVip&) const = default;
};

struct VipConfig {
  VipKey key;
  VipMode mode = VipMode::L4;
  uint8_t forward = 0;  // XLB_FWD_*
  AllDown allDown = AllDown::Drop;
  HttpVip http;         // mode http
  std::vector<BackendConfig> backends;
  int line = 0;
  bool operator==(const VipConfig& o) const {
    return key == o.key && mode == o.mode && forward == o.forward && allDown == o.allDown && http == o.http &&
           backends == o.backends;
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
  // The L7 proxy (HTTP VIPs): worker threads (0: one per core), an access
  // log line per request, how long stopping waits for requests in flight.
  uint32_t proxyWorkers = 0;
  uint32_t proxyMaxConnections = 0;  // client connections, all HTTP VIPs together; 0: half the spare descriptors
  bool accessLog = true;
  Millis proxyDrain{5000};
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
