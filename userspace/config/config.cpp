// SPDX-License-Identifier: Apache-2.0
#include "xlb/config.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

namespace xlb {

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
  if (ec != std::errc() || v < 0) return fail(0, "'" + text + "' is not a duration (use 500ms, 2s or 1m)");
  std::string unit(end, text.data() + text.size());
  double ms = unit == "ms" ? v : unit == "s" || unit.empty() ? v * 1000 : unit == "m" ? v * 60000 : -1;
  if (ms < 0) return fail(0, "'" + text + "' has an unknown unit (use ms, s or m)");
  return Millis(static_cast<int64_t>(ms));
}

namespace {

// A config error at a node: "file:line: key: what".
struct Bad {
  std::string text;
};

class Parser {
 public:
  explicit Parser(std::string file) : file_(std::move(file)) {}

  [[noreturn]] void bad(const YAML::Node& at, const std::string& key, const std::string& what) const {
    throw Bad{file_ + ":" + std::to_string(std::max(at.Mark().line, 0) + 1) + ": " + key + ": " + what};
  }

  // A mapping whose keys must all be known; calls on(key, value) for each.
  void mapping(const YAML::Node& n, const std::string& what, std::initializer_list<const char*> known,
               const std::function<void(const std::string&, const YAML::Node&)>& on) const {
    if (!n.IsMap()) bad(n, what, "must be a mapping");
    std::set<std::string> seen;
    for (auto it = n.begin(); it != n.end(); ++it) {
      std::string k = it->first.as<std::string>();
      bool ok = false;
      for (const char* x : known) ok = ok || k == x;
      if (!ok) {
        std::string list;
        for (const char* x : known) list += std::string(list.empty() ? "" : ", ") + x;
        bad(it->first, k, "unknown key in " + what + " (known: " + list + ")");
      }
      if (!seen.insert(k).second) bad(it->first, k, "given twice");
      on(k, it->second);
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
  Millis duration(const YAML::Node& n, const std::string& key) const {
    auto d = parseDuration(str(n, key));
    if (!d) bad(n, key, d.error().message);
    if (d->count() <= 0) bad(n, key, "must be positive");
    return *d;
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
              } else if (k == "host") {
                base.host = str(v, k);
              } else if (k == "expect_status") {
                base.expectStatus = statuses(v);
              } else if (k == "expect_body") {
                base.expectBody = str(v, k);
              } else if (k == "interval") {
                base.interval = duration(v, k);
              } else if (k == "timeout") {
                base.timeout = duration(v, k);
              } else if (k == "rise") {
                base.rise = static_cast<int>(integer(v, k, 1, 100));
              } else if (k == "fall") {
                base.fall = static_cast<int>(integer(v, k, 1, 100));
              } else if (k == "sni") {
                base.sni = str(v, k);
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
                base.address = must(IpAddr::parse(str(v, k)), v, k);
              }
            });
    if (!typed && base.type == CheckType::None && n.size() > 0) bad(n, "type", "missing (tcp, http or https)");
    if (base.timeout > base.interval) bad(n, "timeout", "must not be longer than interval");
    return base;
  }

  BackendConfig backend(const YAML::Node& n, const VipConfig& vip, const CheckSpec& vipCheck) const {
    BackendConfig b;
    b.line = n.Mark().line + 1;
    b.check = vipCheck;
    bool haveAddr = false;
    std::optional<YAML::Node> checkNode;
    mapping(n, "backend", {"address", "weight", "name", "check"}, [&](const std::string& k, const YAML::Node& v) {
      if (k == "address") {
        b.addr = must(IpAddr::parse(str(v, k)), v, k);
        haveAddr = true;
        if (vip.forward == XLB_FWD_L2DSR && b.addr.family != vip.key.ep.addr.family)
          bad(v, k, "an l2dsr VIP's backends must be of its address family");
        if (vip.forward == XLB_FWD_IPIP && !vip.key.ep.addr.isV4() && b.addr.isV4())
          bad(v, k, "an IPv6 VIP cannot be tunnelled to an IPv4 backend");
      } else if (k == "weight") {
        b.weight = static_cast<uint32_t>(integer(v, k, 0, 65535));
      } else if (k == "name") {
        b.name = str(v, k);
      } else if (k == "check") {
        checkNode = v;
      }
    });
    if (!haveAddr) bad(n, "address", "missing in backend");
    if (checkNode) b.check = check(*checkNode, vipCheck);
    if (b.name.empty()) b.name = b.addr.str();
    return b;
  }

  VipConfig vip(const YAML::Node& n) const {
    VipConfig v;
    v.line = n.Mark().line + 1;
    std::string proto = "tcp";
    std::optional<YAML::Node> addrNode, protoNode, checkNode, backendsNode;
    mapping(n, "vip", {"address", "proto", "forward", "all_down", "check", "backends"},
            [&](const std::string& k, const YAML::Node& x) {
              if (k == "address") addrNode = x;
              else if (k == "proto") protoNode = x;
              else if (k == "forward") v.forward = must(parseForward(str(x, k)), x, k);
              else if (k == "all_down") {
                std::string s = str(x, k);
                if (s == "drop") v.allDown = AllDown::Drop;
                else if (s == "send_to_all") v.allDown = AllDown::SendToAll;
                else bad(x, k, "'" + s + "' is not a policy (use drop or send_to_all)");
              } else if (k == "check") checkNode = x;
              else if (k == "backends") backendsNode = x;
            });
    if (!addrNode) bad(n, "address", "missing in vip (ADDR:PORT or [ADDR]:PORT)");
    v.key.ep = must(Endpoint::parse(str(*addrNode, "address")), *addrNode, "address");
    if (protoNode) v.key.proto = must(parseProto(str(*protoNode, "proto")), *protoNode, "proto");
    CheckSpec vipCheck;
    if (checkNode) vipCheck = check(*checkNode, CheckSpec{});
    if (!backendsNode) bad(n, "backends", "missing in vip");
    if (!backendsNode->IsSequence()) bad(*backendsNode, "backends", "must be a list");
    std::set<IpAddr> seen;
    for (const auto& b : *backendsNode) {
      auto be = backend(b, v, vipCheck);
      if (!seen.insert(be.addr).second) bad(b, "address", "backend " + be.addr.str() + " is listed twice in this VIP");
      v.backends.push_back(std::move(be));
    }
    return v;
  }

  Config top(const YAML::Node& root) const {
    Config c;
    c.file = file_;
    c.metricsListen = *Endpoint::parse("127.0.0.1:9120");
    if (!root || root.IsNull()) bad(root, "vips", "the file is empty");
    mapping(root, "the top level",
            {"pin_path", "control_socket", "metrics", "initial_state", "limits", "encap", "interfaces", "vips"},
            [&](const std::string& k, const YAML::Node& v) {
              if (k == "pin_path") c.pinPath = str(v, k);
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
                    c.metricsTimeout = duration(mv, mk);
                  } else {
                    c.metricsPath = str(mv, mk);
                    if (c.metricsPath.empty() || c.metricsPath[0] != '/') bad(mv, mk, "must start with /");
                  }
                });
              } else if (k == "limits") {
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
                  (ek == "ipv4_source" ? c.load.encap4 : c.load.encap6) = p;
                });
              } else if (k == "interfaces") {
                if (!v.IsSequence()) bad(v, k, "must be a list");
                for (const auto& i : v) {
                  InterfaceConfig ic;
                  ic.line = i.Mark().line + 1;
                  mapping(i, "interface", {"name", "mode"}, [&](const std::string& ik, const YAML::Node& iv) {
                    if (ik == "name") ic.name = str(iv, ik);
                    else ic.mode = must(parseAttachMode(str(iv, ik)), iv, ik);
                  });
                  if (ic.name.empty()) bad(i, "name", "missing in interface");
                  for (const auto& o : c.interfaces)
                    if (o.name == ic.name) bad(i, "name", "interface " + ic.name + " is listed twice");
                  c.interfaces.push_back(ic);
                }
              } else if (k == "vips") {
                if (!v.IsSequence()) bad(v, k, "must be a list");
                for (const auto& x : v) {
                  auto vc = vip(x);
                  for (const auto& o : c.vips)
                    if (o.key == vc.key)
                      bad(x, "address", "duplicate VIP " + vc.key.str() + " (first at line " + std::to_string(o.line) + ")");
                  c.vips.push_back(std::move(vc));
                }
              }
            });
    if (c.interfaces.empty()) bad(root, "interfaces", "missing: name at least one interface to attach to");
    return c;
  }

 private:
  std::string file_;
};

}  // namespace

Result<Config> parseConfig(const std::string& text, const std::string& file) {
  Parser p(file);
  try {
    return p.top(YAML::Load(text));
  } catch (const Bad& b) {
    return fail(0, b.text);
  } catch (const YAML::Exception& e) {
    return fail(0, file + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
}

Result<Config> loadConfig(const std::string& file) {
  std::ifstream in(file);
  if (!in) return fail(errno, "cannot read " + file);
  std::stringstream ss;
  ss << in.rdbuf();
  return parseConfig(ss.str(), file);
}

}  // namespace xlb
