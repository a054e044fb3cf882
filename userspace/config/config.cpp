// SPDX-License-Identifier: Apache-2.0
#include "xlb/config.h"

#include <net/if.h>
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

namespace xlb {

const char* balanceName(Balance b) {
  switch (b) {
    case Balance::LeastConn: return "leastconn";
    case Balance::Source: return "source";
    case Balance::Header: return "header";
    case Balance::Cookie: return "cookie";
    default: return "roundrobin";
  }
}

const char* checkTypeName(CheckType t) {
  switch (t) {
    case CheckType::Tcp: return "tcp";
    case CheckType::Http: return "http";
    case CheckType::Https: return "https";
    default: return "none";
  }
}

Result<Millis> parseDuration(const std::string& text) {
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || !std::isfinite(v) || v < 0)
    return fail(0, "'" + text + "' is not a duration (use 500ms, 2s or 1m)");
  std::string unit(end, text.data() + text.size());
  double ms = unit == "ms" ? v : unit == "s" || unit.empty() ? v * 1000 : unit == "m" ? v * 60000 : unit == "h" ? v * 3600000 : -1;
  if (ms < 0) return fail(0, "'" + text + "' has an unknown unit (use ms, s, m or h)");
  // Far beyond any sensible setting, and far from overflowing the clock's
  // arithmetic (a year of milliseconds is 3.2e10).
  if (ms > 7 * 24 * 3600e3) return fail(0, "'" + text + "' is longer than a week");
  return Millis(static_cast<int64_t>(ms));
}

namespace {

// Visible ASCII only: no spaces, no control characters (CR/LF would let a
// value write headers of its own into a check's request).
bool printable(const std::string& t) {
  return !t.empty() && std::all_of(t.begin(), t.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}
bool hostname(const std::string& t) {
  return !t.empty() && t.size() <= 255 && std::all_of(t.begin(), t.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' || c == '[' || c == ']' ||
           c == '_';
  });
}

// A cookie name is a token (RFC 6265).
bool cookieName(const std::string& t) {
  return !t.empty() && std::all_of(t.begin(), t.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
  }) && t.find('\0') == std::string::npos;
}

// An error was recorded: skip the rest of what it was about (one key, one
// list element) and go on, so that one run reports every error in a file.
struct Skip {};

class Parser {
 public:
  explicit Parser(std::string file) : file_(std::move(file)) {}

  const std::vector<std::string>& errors() const { return errors_; }

  // Records "file:line: key: what".
  void note(const YAML::Node& at, const std::string& key, const std::string& what) const {
    errors_.push_back(file_ + ":" + std::to_string(std::max(at.Mark().line, 0) + 1) + ": " + key + ": " + what);
  }
  [[noreturn]] void bad(const YAML::Node& at, const std::string& key, const std::string& what) const {
    note(at, key, what);
    throw Skip{};
  }
  // Runs f; an error inside skips only f.
  template <class F>
  void guard(F&& f) const {
    try {
      f();
    } catch (const Skip&) {
    }
  }

  // A mapping whose keys must all be known; calls on(key, value) for each.
  void mapping(const YAML::Node& n, const std::string& what, std::initializer_list<const char*> known,
               const std::function<void(const std::string&, const YAML::Node&)>& on) const {
    if (!n.IsMap()) bad(n, what, "must be a mapping");
    std::set<std::string> seen;
    for (auto it = n.begin(); it != n.end(); ++it) {
      std::string k = it->first.IsScalar() ? it->first.as<std::string>() : "?";
      bool ok = false;
      for (const char* x : known) ok = ok || k == x;
      if (!ok) {
        std::string list;
        for (const char* x : known) list += std::string(list.empty() ? "" : ", ") + x;
        note(it->first, k, "unknown key in " + what + " (known: " + list + ")");
        continue;
      }
      if (!seen.insert(k).second) {
        note(it->first, k, "given twice");
        continue;
      }
      guard([&] { on(k, it->second); });
    }
  }

  std::string str(const YAML::Node& n, const std::string& key) const {
    if (!n.IsScalar()) bad(n, key, "must be a string");
    return n.as<std::string>();
  }
  int64_t integer(const YAML::Node& n, const std::string& key, int64_t lo, int64_t hi) const {
    std::string s = n.IsScalar() ? n.as<std::string>() : "";
    int64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (!n.IsScalar() || ec != std::errc() || end != s.data() + s.size()) bad(n, key, "must be an integer");
    if (v < lo || v > hi) bad(n, key, std::to_string(v) + " is out of range " + std::to_string(lo) + ".." + std::to_string(hi));
    return v;
  }
  bool boolean(const YAML::Node& n, const std::string& key) const {
    bool b = false;
    if (!n.IsScalar() || !YAML::convert<bool>::decode(n, b)) bad(n, key, "must be true or false");
    return b;
  }
  Millis duration(const YAML::Node& n, const std::string& key, Millis lo, Millis hi) const {
    auto d = parseDuration(str(n, key));
    if (!d) bad(n, key, d.error().message);
    if (*d < lo || *d > hi)
      bad(n, key, "must be from " + std::to_string(lo.count()) + "ms to " + std::to_string(hi.count() / 1000) + "s");
    return *d;
  }
  // An address that can be a VIP, a backend or a check target.
  IpAddr host(const YAML::Node& n, const std::string& key) const {
    auto a = must(IpAddr::parse(str(n, key)), n, key);
    if (auto why = a.unusableReason(); !why.empty()) bad(n, key, a.str() + ": " + why);
    return a;
  }
  template <class T>
  T must(Result<T> r, const YAML::Node& n, const std::string& key) const {
    if (!r) bad(n, key, r.error().message);
    return std::move(*r);
  }

  std::vector<StatusRange> statuses(const YAML::Node& n) const {
    std::vector<StatusRange> out;
    auto one = [&](const YAML::Node& x) {
      std::string s = str(x, "expect_status");
      auto dash = s.find('-');
      int lo = 0, hi = 0;
      auto num = [&](std::string_view t, int& v) {
        auto [e, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
        return ec == std::errc() && e == t.data() + t.size() && v >= 100 && v <= 599;
      };
      std::string_view sv(s);
      bool ok = dash == std::string::npos ? (num(sv, lo) && (hi = lo, true))
                                          : num(sv.substr(0, dash), lo) && num(sv.substr(dash + 1), hi) && lo <= hi;
      if (!ok) bad(x, "expect_status", "'" + s + "' is not a status (100..599) or range like 200-399");
      out.push_back({lo, hi});
    };
    if (n.IsSequence()) {
      if (n.size() == 0) bad(n, "expect_status", "must not be empty");
      for (const auto& x : n) one(x);
    } else {
      one(n);
    }
    return out;
  }

  CheckSpec check(const YAML::Node& n, CheckSpec base) const {
    bool typed = false;
    mapping(n, "check",
            {"type", "path", "host", "expect_status", "expect_body", "interval", "timeout", "rise", "fall",
             "sni", "verify", "ca_file", "port", "address"},
            [&](const std::string& k, const YAML::Node& v) {
              if (k == "type") {
                std::string t = str(v, k);
                if (t == "tcp") base.type = CheckType::Tcp;
                else if (t == "http") base.type = CheckType::Http;
                else if (t == "https") base.type = CheckType::Https;
                else if (t == "none") base.type = CheckType::None;
                else bad(v, k, "'" + t + "' is not a check type (use tcp, http, https or none)");
                typed = true;
              } else if (k == "path") {
                base.path = str(v, k);
                if (base.path.empty() || base.path[0] != '/') bad(v, k, "must start with /");
                if (!printable(base.path)) bad(v, k, "must be printable, without spaces (percent-encode them)");
              } else if (k == "host") {
                base.host = str(v, k);
                if (!hostname(base.host)) bad(v, k, "'" + base.host + "' is not a host name or address");
              } else if (k == "expect_status") {
                base.expectStatus = statuses(v);
              } else if (k == "expect_body") {
                base.expectBody = str(v, k);
              } else if (k == "interval") {
                base.interval = duration(v, k, Millis(10), Millis(24 * 3600 * 1000));
              } else if (k == "timeout") {
                base.timeout = duration(v, k, Millis(10), Millis(3600 * 1000));
              } else if (k == "rise") {
                base.rise = static_cast<int>(integer(v, k, 1, 100));
              } else if (k == "fall") {
                base.fall = static_cast<int>(integer(v, k, 1, 100));
              } else if (k == "sni") {
                base.sni = str(v, k);
                if (!hostname(base.sni)) bad(v, k, "'" + base.sni + "' is not a host name");
              } else if (k == "verify") {
                base.verify = boolean(v, k);
              } else if (k == "ca_file") {
                base.caFile = str(v, k);
                std::error_code ec;
                if (!std::filesystem::is_regular_file(base.caFile, ec))
                  bad(v, k, "no such file " + base.caFile);
              } else if (k == "port") {
                base.port = static_cast<uint16_t>(integer(v, k, 1, 65535));
              } else if (k == "address") {
                base.address = host(v, k);
              }
            });
    if (!typed && base.type == CheckType::None && n.size() > 0) bad(n, "type", "missing (tcp, http or https)");
    // Keys written here that the check in effect would ignore: say so.
    for (auto it = n.begin(); it != n.end(); ++it) {
      std::string k = it->first.IsScalar() ? it->first.as<std::string>() : "";
      bool http = k == "path" || k == "host" || k == "expect_status" || k == "expect_body";
      bool tls = k == "sni" || k == "verify" || k == "ca_file";
      if (base.type == CheckType::None && k != "type")
        note(it->first, k, "means nothing with check type none (no checks run)");
      else if (base.type == CheckType::Tcp && (http || tls))
        note(it->first, k, "means nothing for a tcp check (use type: http or https)");
      else if (base.type == CheckType::Http && tls)
        note(it->first, k, "means nothing for an http check (use type: https)");
    }
    if (base.timeout > base.interval) bad(n, "timeout", "must not be longer than interval");
    return base;
  }

  BackendConfig backend(const YAML::Node& n, const VipConfig& vip, const CheckSpec& vipCheck) const {
    BackendConfig b;
    b.line = n.Mark().line + 1;
    b.check = vipCheck;
    bool haveAddr = false;
    std::optional<YAML::Node> checkNode;
    bool l4 = vip.mode == VipMode::L4;
    mapping(n, "backend", {"address", "port", "weight", "name", "check"}, [&](const std::string& k, const YAML::Node& v) {
      if (k == "address") {
        haveAddr = true;
        b.addr = host(v, k);
        if (l4 && vip.forward == XLB_FWD_L2DSR && b.addr.family != vip.key.ep.addr.family)
          bad(v, k, "an l2dsr VIP's backends must be of its address family");
        if (l4 && vip.forward == XLB_FWD_IPIP && !vip.key.ep.addr.isV4() && b.addr.isV4())
          bad(v, k, "an IPv6 VIP cannot be tunnelled to an IPv4 backend");
      } else if (k == "port") {
        if (l4) bad(v, k, "means nothing for an l4 VIP: direct server return keeps the VIP's port");
        b.port = static_cast<uint16_t>(integer(v, k, 1, 65535));
      } else if (k == "weight") {
        b.weight = static_cast<uint32_t>(integer(v, k, 0, 65535));
      } else if (k == "name") {
        b.name = str(v, k);
      } else if (k == "check") {
        checkNode = v;
      }
    });
    if (!haveAddr) bad(n, "address", "missing in backend");
    if (b.addr == IpAddr{}) throw Skip{};  // its address was wrong: reported above
    if (checkNode) b.check = check(*checkNode, vipCheck);
    if (b.port == 0) b.port = vip.key.ep.port;
    if (b.name.empty()) b.name = l4 ? b.addr.str() : Endpoint{b.addr, b.port}.str();
    return b;
  }

  std::vector<Prefix> prefixes(const YAML::Node& n, const std::string& key) const {
    if (!n.IsSequence()) bad(n, key, "must be a list of ADDR/LEN");
    std::vector<Prefix> out;
    for (const auto& x : n) out.push_back(must(Prefix::parse(str(x, key)), x, key));
    return out;
  }
  std::string file(const YAML::Node& n, const std::string& key) const {
    std::string f = str(n, key);
    std::error_code ec;
    if (!std::filesystem::is_regular_file(f, ec)) bad(n, key, "no such file " + f);
    return f;
  }

  void tls(const YAML::Node& n, HttpVip& h) const {
    auto pair = [&](const YAML::Node& x, bool top) {
      TlsCertFiles t;
      auto on = [&](const std::string& k, const YAML::Node& v) {
        if (k == "resumption") h.tlsResumption = boolean(v, k);
        else (k == "cert_file" ? t.certFile : t.keyFile) = file(v, k);
      };
      if (top) mapping(x, "tls", {"cert_file", "key_file", "resumption"}, on);
      else mapping(x, "tls certificate", {"cert_file", "key_file"}, on);
      if (!x["cert_file"]) bad(x, "cert_file", "missing");
      if (!x["key_file"]) bad(x, "key_file", "missing");
      if (t.certFile.empty() || t.keyFile.empty()) throw Skip{};  // reported above
      h.certs.push_back(t);
    };
    if (n.IsMap() && n["certificates"]) {
      mapping(n, "tls", {"certificates", "resumption"}, [&](const std::string& k, const YAML::Node& v) {
        if (k == "resumption") {
          h.tlsResumption = boolean(v, k);
          return;
        }
        if (!v.IsSequence() || v.size() == 0) bad(v, k, "must be a list of {cert_file, key_file}");
        for (const auto& x : v) guard([&] { pair(x, false); });
      });
    } else {
      pair(n, true);
    }
  }

  // The keys of an http VIP (mode: http), each node as written.
  void http(const std::map<std::string, YAML::Node>& keys, VipConfig& v) const {
    HttpVip& h = v.http;
    for (const auto& [k, n] : keys)
      guard([&] {
        if (k == "tls") {
          tls(n, h);
        } else if (k == "backend_tls") {
          auto& bt = h.backendTls;
          bt.enabled = true;
          mapping(n, "backend_tls", {"verify", "ca_file", "sni"}, [&](const std::string& bk, const YAML::Node& bv) {
            if (bk == "verify") bt.verify = boolean(bv, bk);
            else if (bk == "ca_file") bt.caFile = file(bv, bk);
            else {
              bt.sni = str(bv, bk);
              if (!hostname(bt.sni)) bad(bv, bk, "'" + bt.sni + "' is not a host name");
            }
          });
          if (!bt.verify && !bt.caFile.empty()) bad(n, "ca_file", "means nothing with verify: false");
        } else if (k == "balance") {
          std::string b = str(n, k);
          auto colon = b.find(':');
          std::string kind = b.substr(0, colon), arg = colon == std::string::npos ? "" : b.substr(colon + 1);
          if (kind == "roundrobin") h.balance = Balance::RoundRobin;
          else if (kind == "leastconn") h.balance = Balance::LeastConn;
          else if (kind == "source") h.balance = Balance::Source;
          else if (kind == "header") h.balance = Balance::Header;
          else if (kind == "cookie") h.balance = Balance::Cookie;
          else bad(n, k, "'" + b + "' is not a balance (use roundrobin, leastconn, source, header:NAME or cookie:NAME)");
          bool keyed = h.balance == Balance::Header || h.balance == Balance::Cookie;
          if (keyed != !arg.empty() || (keyed && !printable(arg)))
            bad(n, k, keyed ? "'" + kind + "' needs a name: " + kind + ":NAME" : "'" + kind + "' takes no :NAME");
          h.balanceKey = arg;
        } else if (k == "cookie") {
          mapping(n, "cookie", {"name"}, [&](const std::string& ck, const YAML::Node& cv) {
            h.cookie = str(cv, ck);
            if (!cookieName(h.cookie)) bad(cv, ck, "'" + h.cookie + "' is not a cookie name");
          });
          if (h.cookie.empty()) bad(n, "name", "missing in cookie");
        } else if (k == "redirect") {
          h.redirect = 301;
          mapping(n, "redirect", {"scheme", "code"}, [&](const std::string& rk, const YAML::Node& rv) {
            if (rk == "scheme") {
              if (str(rv, rk) != "https") bad(rv, rk, "only https");
            } else {
              int c = static_cast<int>(integer(rv, rk, 300, 399));
              if (c != 301 && c != 302 && c != 307 && c != 308) bad(rv, rk, "use 301, 302, 307 or 308");
              h.redirect = c;
            }
          });
        } else if (k == "timeouts") {
          auto& t = h.timeouts;
          mapping(n, "timeouts", {"client_header", "client_idle", "connect", "response", "tunnel"},
                  [&](const std::string& tk, const YAML::Node& tv) {
                    Millis d = duration(tv, tk, Millis(100), Millis(7LL * 24 * 3600 * 1000));
                    if (tk == "client_header") t.clientHeader = d;
                    else if (tk == "client_idle") t.clientIdle = d;
                    else if (tk == "connect") t.connect = d;
                    else if (tk == "response") t.response = d;
                    else t.tunnel = d;
                  });
        } else if (k == "forwarded") {
          mapping(n, "forwarded", {"mode", "trusted_proxies"}, [&](const std::string& fk, const YAML::Node& fv) {
            if (fk == "mode") {
              std::string m = str(fv, fk);
              if (m != "append" && m != "replace") bad(fv, fk, "'" + m + "' is not a mode (use replace or append)");
              h.forwardedAppend = m == "append";
            } else {
              h.trustedProxies = prefixes(fv, fk);
            }
          });
        } else if (k == "limits") {
          auto& l = h.limits;
          mapping(n, "limits", {"request_line", "header_bytes", "header_count", "body"},
                  [&](const std::string& lk, const YAML::Node& lv) {
                    if (lk == "request_line") l.requestLine = static_cast<uint32_t>(integer(lv, lk, 64, 65536));
                    else if (lk == "header_bytes") l.headerBytes = static_cast<uint32_t>(integer(lv, lk, 1024, 1 << 20));
                    else if (lk == "header_count") l.headerCount = static_cast<uint32_t>(integer(lv, lk, 1, 1000));
                    else l.body = static_cast<uint64_t>(integer(lv, lk, 0, int64_t(1) << 40));
                  });
        } else if (k == "acl") {
          mapping(n, "acl", {"allow", "deny", "deny_paths"}, [&](const std::string& ak, const YAML::Node& av) {
            if (ak == "allow") h.allow = prefixes(av, ak);
            else if (ak == "deny") h.deny = prefixes(av, ak);
            else {
              if (!av.IsSequence()) bad(av, ak, "must be a list of path prefixes");
              for (const auto& x : av) {
                std::string path = str(x, ak);
                if (path.empty() || path[0] != '/' || !printable(path)) bad(x, ak, "'" + path + "' is not a path prefix");
                h.denyPaths.push_back(path);
              }
            }
          });
        } else if (k == "routes") {
          if (!n.IsSequence()) bad(n, k, "must be a list");
          for (const auto& x : n)
            guard([&] {
              Route r;
              r.line = x.Mark().line + 1;
              mapping(x, "route", {"name", "host", "path_prefix", "header", "backends"}, [&](const std::string& rk, const YAML::Node& rv) {
                if (rk == "name") {
                  r.name = str(rv, rk);
                  bool token = !r.name.empty() && r.name.size() <= 64 && std::all_of(r.name.begin(), r.name.end(), [](char c) {
                    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
                  });
                  if (!token) bad(rv, rk, "'" + r.name + "' must be 1 to 64 letters, digits, '-', '_' or '.'");
                  if (r.name == "default") bad(rv, rk, "'default' names the requests no route matches; choose another");
                  if (std::any_of(h.routes.begin(), h.routes.end(), [&](const Route& o) { return o.name == r.name; }))
                    bad(rv, rk, "another route of this VIP is named '" + r.name + "'");
                } else if (rk == "host") {
                  r.host = str(rv, rk);
                  if (!hostname(r.host)) bad(rv, rk, "'" + r.host + "' is not a host name");
                } else if (rk == "path_prefix") {
                  r.pathPrefix = str(rv, rk);
                  if (r.pathPrefix.empty() || r.pathPrefix[0] != '/' || !printable(r.pathPrefix)) bad(rv, rk, "must start with /");
                } else if (rk == "header") {
                  mapping(rv, "header", {"name", "value"}, [&](const std::string& hk, const YAML::Node& hv) {
                    (hk == "name" ? r.header : r.headerValue) = str(hv, hk);
                  });
                  if (r.header.empty()) bad(rv, "name", "missing in header");
                } else {
                  if (!rv.IsSequence() || rv.size() == 0) bad(rv, rk, "must be a list of backend names");
                  for (const auto& b : rv) {
                    std::string name = str(b, rk);
                    if (std::none_of(v.backends.begin(), v.backends.end(), [&](auto& be) { return be.name == name; }))
                      bad(b, rk, "no backend named '" + name + "' in this VIP");
                    r.backends.push_back(name);
                  }
                }
              });
              if (r.backends.empty()) bad(x, "backends", "missing in route");
              if (r.name.empty()) {
                r.name = std::to_string(h.routes.size() + 1);
                if (std::any_of(h.routes.begin(), h.routes.end(), [&](const Route& o) { return o.name == r.name; }))
                  bad(x, "name", "the route's default name '" + r.name + "' is another route's: name this one");
              }
              h.routes.push_back(r);
            });
        }
      });
    // https://host/ is port 443: a TLS VIP there would redirect to itself
    // for ever (the redirect belongs on the plain VIP).
    if (h.redirect && keys.count("tls") && keys.count("redirect") && v.key.ep.port == 443)
      note(keys.at("redirect"), "redirect", "a TLS VIP on 443 would redirect to itself (put redirect on the plain-HTTP VIP)");
  }

  VipConfig vip(const YAML::Node& n) const {
    VipConfig v;
    v.line = n.Mark().line + 1;
    std::string proto = "tcp";
    std::optional<YAML::Node> addrNode, protoNode, checkNode, backendsNode, forwardNode, allDownNode, modeNode;
    std::map<std::string, YAML::Node> httpKeys;
    mapping(n, "vip",
            {"address", "proto", "mode", "forward", "all_down", "check", "backends", "tls", "balance", "cookie",
             "redirect", "timeouts", "forwarded", "limits", "acl", "routes", "backend_tls"},
            [&](const std::string& k, const YAML::Node& x) {
              if (k == "address") addrNode = x;
              else if (k == "proto") protoNode = x;
              else if (k == "mode") {
                modeNode = x;
                std::string m = str(x, k);
                if (m == "http") v.mode = VipMode::Http;
                else if (m != "l4") bad(x, k, "'" + m + "' is not a mode (use l4 or http)");
              } else if (k == "forward") {
                forwardNode = x;
                v.forward = must(parseForward(str(x, k)), x, k);
              } else if (k == "all_down") {
                allDownNode = x;
                std::string s = str(x, k);
                if (s == "drop") v.allDown = AllDown::Drop;
                else if (s == "send_to_all") v.allDown = AllDown::SendToAll;
                else bad(x, k, "'" + s + "' is not a policy (use drop or send_to_all)");
              } else if (k == "check") checkNode = x;
              else if (k == "backends") backendsNode = x;
              else httpKeys[k] = x;
            });
    if (!addrNode) bad(n, "address", "missing in vip (ADDR:PORT or [ADDR]:PORT)");
    v.key.ep = must(Endpoint::parse(str(*addrNode, "address")), *addrNode, "address");
    if (auto why = v.key.ep.addr.unusableReason(); !why.empty())
      bad(*addrNode, "address", v.key.ep.addr.str() + ": " + why);
    if (protoNode) v.key.proto = must(parseProto(str(*protoNode, "proto")), *protoNode, "proto");
    bool http = v.mode == VipMode::Http;
    if (http) {
      if (v.key.proto != 6 && protoNode) note(*protoNode, "proto", "an http VIP is tcp");
      if (forwardNode) note(*forwardNode, "forward", "means nothing for an http VIP (the proxy connects to backends)");
      if (allDownNode && v.allDown == AllDown::SendToAll)
        note(*allDownNode, "all_down", "send_to_all means nothing for an http VIP (no backend up: 503)");
    } else {
      for (const auto& [k, x] : httpKeys) note(x, k, "means nothing for an l4 VIP (set mode: http)");
    }
    CheckSpec vipCheck;
    if (checkNode) vipCheck = check(*checkNode, CheckSpec{});
    if (!backendsNode) bad(n, "backends", "missing in vip");
    if (!backendsNode->IsSequence()) bad(*backendsNode, "backends", "must be a list");
    std::set<std::pair<IpAddr, uint16_t>> seen;
    std::set<std::string> names;
    for (const auto& b : *backendsNode)
      guard([&] {
        auto be = backend(b, v, vipCheck);
        if (!seen.insert({be.addr, be.port}).second)
          bad(b, "address", "backend " + be.addr.str() + (http ? ":" + std::to_string(be.port) : "") +
                                " is listed twice in this VIP");
        if (!names.insert(be.name).second) bad(b, "name", "backend name '" + be.name + "' is used twice in this VIP");
        v.backends.push_back(std::move(be));
      });
    if (http) this->http(httpKeys, v);
    return v;
  }

  Config top(const YAML::Node& root) const {
    Config c;
    std::optional<YAML::Node> limitsNode;
    c.file = file_;
    c.metricsListen = *Endpoint::parse("127.0.0.1:9120");
    if (!root || root.IsNull()) bad(root, "vips", "the file is empty");
    mapping(root, "the top level",
            {"pin_path", "control_socket", "state_dir", "metrics", "proxy", "initial_state", "limits", "encap",
             "interfaces", "vips"},
            [&](const std::string& k, const YAML::Node& v) {
              if (k == "pin_path") c.pinPath = str(v, k);
              else if (k == "state_dir") c.stateDir = str(v, k);
              else if (k == "control_socket") c.controlSocket = str(v, k);
              else if (k == "initial_state") {
                std::string s = str(v, k);
                if (s != "up" && s != "down") bad(v, k, "'" + s + "' is not a state (use down or up)");
                c.startUp = s == "up";
              } else if (k == "metrics") {
                mapping(v, "metrics", {"listen", "path", "max_connections", "timeout"},
                        [&](const std::string& mk, const YAML::Node& mv) {
                  if (mk == "listen") {
                    std::string s = str(mv, mk);
                    if (s == "off") c.metricsListen.reset();
                    else c.metricsListen = must(Endpoint::parse(s), mv, mk);
                  } else if (mk == "max_connections") {
                    c.metricsMaxConnections = static_cast<uint32_t>(integer(mv, mk, 1, 4096));
                  } else if (mk == "timeout") {
                    c.metricsTimeout = duration(mv, mk, Millis(100), Millis(600 * 1000));
                  } else {
                    c.metricsPath = str(mv, mk);
                    if (c.metricsPath.empty() || c.metricsPath[0] != '/') bad(mv, mk, "must start with /");
                  }
                });
              } else if (k == "proxy") {
                mapping(v, "proxy", {"workers", "access_log", "drain", "max_connections"}, [&](const std::string& pk, const YAML::Node& pv) {
                  if (pk == "workers") c.proxyWorkers = static_cast<uint32_t>(integer(pv, pk, 0, 256));
                  else if (pk == "max_connections") c.proxyMaxConnections = static_cast<uint32_t>(integer(pv, pk, 1, 1 << 24));
                  else if (pk == "access_log") c.accessLog = boolean(pv, pk);
                  else c.proxyDrain = duration(pv, pk, Millis(0), Millis(600 * 1000));
                });
              } else if (k == "limits") {
                limitsNode = v;
                mapping(v, "limits", {"ring_size", "max_vips", "max_backends", "max_flows"},
                        [&](const std::string& lk, const YAML::Node& lv) {
                          auto n = static_cast<uint32_t>(integer(lv, lk, 1, 1u << 30));
                          if (lk == "ring_size") c.load.ringSize = n;
                          else if (lk == "max_vips") c.load.maxVips = n;
                          else if (lk == "max_backends") c.load.maxBackends = n;
                          else c.load.maxFlows = n;
                        });
              } else if (k == "encap") {
                mapping(v, "encap", {"ipv4_source", "ipv6_source"}, [&](const std::string& ek, const YAML::Node& ev) {
                  auto p = must(Prefix::parse(str(ev, ek)), ev, ek);
                  bool v4 = ek == "ipv4_source";
                  if (p.addr.isV4() != v4) bad(ev, ek, std::string("must be an ") + (v4 ? "IPv4" : "IPv6") + " prefix");
                  (v4 ? c.load.encap4 : c.load.encap6) = p;
                });
              } else if (k == "interfaces") {
                if (!v.IsSequence()) bad(v, k, "must be a list");
                for (const auto& i : v) guard([&] {
                  InterfaceConfig ic;
                  ic.line = i.Mark().line + 1;
                  mapping(i, "interface", {"name", "mode"}, [&](const std::string& ik, const YAML::Node& iv) {
                    if (ik == "name") ic.name = str(iv, ik);
                    else ic.mode = must(parseAttachMode(str(iv, ik)), iv, ik);
                  });
                  if (ic.name.empty()) bad(i, "name", "missing in interface");
                  for (const auto& o : c.interfaces)
                    if (o.name == ic.name) bad(i, "name", "interface " + ic.name + " is listed twice");
                  if (ic.name.size() >= 16 || ic.name.find_first_of("/ \t") != std::string::npos)
                    bad(i, "name", "'" + ic.name + "' is not an interface name");
                  c.interfaces.push_back(ic);
                });
              } else if (k == "vips") {
                if (!v.IsSequence()) bad(v, k, "must be a list");
                for (const auto& x : v) guard([&] {
                  auto vc = vip(x);
                  for (const auto& o : c.vips)
                    if (o.key == vc.key)
                      bad(x, "address", "duplicate VIP " + vc.key.str() + " (first at line " + std::to_string(o.line) + ")");
                  c.vips.push_back(std::move(vc));
                });
              }
            });
    if (c.interfaces.empty() && !root["interfaces"]) note(root, "interfaces", "missing: name at least one interface to attach to");
    // What the first attach would refuse, refused here with a line.
    YAML::Node at = limitsNode ? *limitsNode : root;
    if (auto m = makeMeta(c.load); !m) {
      note(at, "limits", m.error().message);
    } else {
      size_t backends = 0;  // in the data plane's table: l4 backends only
      for (const auto& v : c.vips)
        if (v.mode == VipMode::L4) backends += v.backends.size();
      if (c.vips.size() > m->max_vips)
        note(at, "limits", std::to_string(c.vips.size()) + " VIPs, but max_vips is " + std::to_string(m->max_vips));
      if (backends > m->max_backends - 1)
        note(at, "limits", std::to_string(backends) + " backends, but max_backends " +
                               std::to_string(m->max_backends) + " holds " + std::to_string(m->max_backends - 1));
    }
    return c;
  }

 private:
  std::string file_;
  mutable std::vector<std::string> errors_;
};

}  // namespace

Result<Config> parseConfig(const std::string& text, const std::string& file) {
  Parser p(file);
  std::optional<Config> c;
  try {
    p.guard([&] { c = p.top(YAML::Load(text)); });
  } catch (const YAML::Exception& e) {
    return fail(0, file + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  if (p.errors().empty() && c) return std::move(*c);
  // Every error, one per line, in the order of the file.
  std::string all;
  for (const auto& e : p.errors()) all += (all.empty() ? "" : "\n") + e;
  return fail(0, all);
}

Result<Config> loadConfig(const std::string& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) return fail(errno, "cannot read " + file);
  if (S_ISDIR(st.st_mode)) return fail(0, file + " is a directory, not a config file");
  if (!S_ISREG(st.st_mode)) return fail(0, file + " is not a regular file (a device, pipe or socket): give a YAML file");
  if (st.st_size > kMaxConfigBytes)
    return fail(0, file + " is " + std::to_string(st.st_size) + " bytes; a config may have at most " +
                       std::to_string(kMaxConfigBytes / (1024 * 1024)) + " MiB");
  std::ifstream in(file);
  if (!in) return fail(errno, "cannot read " + file);
  std::string text(static_cast<size_t>(kMaxConfigBytes) + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > static_cast<size_t>(kMaxConfigBytes)) return fail(0, file + " grew beyond the limit while read");
  return parseConfig(text, file);
}

Result<void> checkHost(const Config& c) {
  std::string all;
  for (const auto& i : c.interfaces)
    if (!if_nametoindex(i.name.c_str()))
      all += (all.empty() ? "" : "\n") + c.file + ":" + std::to_string(i.line) + ": name: interface '" + i.name +
             "' not found on this host (see: ip link)";
  if (!all.empty()) return fail(0, all);
  return {};
}

}  // namespace xlb
