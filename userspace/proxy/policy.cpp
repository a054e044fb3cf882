// SPDX-License-Identifier: Apache-2.0
#include "policy.h"

#include <algorithm>
#include <vector>

namespace xlb::proxy {

namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool startsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

}  // namespace

std::optional<std::string> normalizePath(std::string_view target) {
  if (target.empty() || target.front() != '/') return std::nullopt;  // '*' and absolute forms are not matched here
  target = target.substr(0, target.find('?'));
  // Most paths are normal already: no escape, no control character, no
  // segment that is empty or starts with a dot.
  bool plain = true;
  for (size_t i = 0; i < target.size() && plain; ++i) {
    auto u = static_cast<unsigned char>(target[i]);
    plain = u != '%' && u >= 0x20 && u != 0x7f && !(u == '/' && i + 1 < target.size() && (target[i + 1] == '/' || target[i + 1] == '.'));
  }
  if (plain) return std::string(target);
  std::string decoded;
  decoded.reserve(target.size());
  for (size_t i = 0; i < target.size(); ++i) {
    char c = target[i];
    if (c == '%') {
      if (i + 2 >= target.size()) return std::nullopt;
      int hi = hexValue(target[i + 1]), lo = hexValue(target[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    }
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return std::nullopt;
    decoded.push_back(c);
  }
  // Segments: "" (from //) and "." vanish, ".." takes the last one back.
  std::vector<std::string_view> segs;
  std::string_view rest(decoded);
  bool trailing = !rest.empty() && rest.back() == '/';
  while (!rest.empty()) {
    rest.remove_prefix(1);  // the '/'
    size_t slash = rest.find('/');
    std::string_view seg = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
    if (seg.empty() || seg == ".") continue;
    if (seg == "..") {
      if (segs.empty()) return std::nullopt;
      segs.pop_back();
      continue;
    }
    segs.push_back(seg);
  }
  std::string out;
  for (auto s : segs) out.append("/").append(s);
  if (out.empty() || trailing) out.push_back('/');
  return out;
}

bool allowed(const HttpVip& cfg, const IpAddr& client, std::string_view path) {
  auto in = [&](const std::vector<Prefix>& l) {
    return std::any_of(l.begin(), l.end(), [&](const Prefix& p) { return p.contains(client); });
  };
  if (in(cfg.deny)) return false;
  if (!cfg.allow.empty() && !in(cfg.allow)) return false;
  for (const auto& p : cfg.denyPaths)
    if (startsWith(path, p)) return false;
  return true;
}

size_t routeIndex(const HttpVip& cfg, const http::Message& m, std::string_view path) {
  for (size_t r = 0; r < cfg.routes.size(); ++r) {
    const Route& rt = cfg.routes[r];
    if (!rt.host.empty()) {
      const http::Header* h = m.find(http::Name::Host);
      std::string_view host = h ? std::string_view(h->value) : std::string_view();
      if (auto colon = host.rfind(':'); colon != std::string_view::npos && host.find(']') == std::string_view::npos)
        host = host.substr(0, colon);
      if (!http::iequals(host, rt.host)) continue;
    }
    if (!rt.pathPrefix.empty() && !startsWith(path, rt.pathPrefix)) continue;
    if (!rt.header.empty()) {
      const http::Header* h = m.find(rt.header);
      if (!h || h->value != rt.headerValue) continue;
    }
    return r;
  }
  return cfg.routes.size();
}

}  // namespace xlb::proxy
