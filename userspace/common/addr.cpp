// SPDX-License-Identifier: Apache-2.0
#include "xlb/addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace xlb {

Result<IpAddr> IpAddr::parse(std::string_view text) {
  std::string s(text);
  IpAddr a;
  if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) {
    a.family = XLB_AF_INET;
    std::fill(a.bytes.begin() + 4, a.bytes.end(), 0);
    return a;
  }
  if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) {
    a.family = XLB_AF_INET6;
    return a;
  }
  return fail(0, "invalid address '" + s + "' (expected IPv4 like 198.18.0.10 or IPv6 like 2001:db8::10)");
}

IpAddr IpAddr::fromAbi(const xlb_addr& x, uint8_t family) {
  IpAddr a;
  a.family = family;
  std::memcpy(a.bytes.data(), x.addr, family == XLB_AF_INET ? 4 : 16);
  return a;
}

xlb_addr IpAddr::toAbi() const {
  xlb_addr x{};
  std::memcpy(x.addr, bytes.data(), isV4() ? 4 : 16);
  return x;
}

xlb_addr_key IpAddr::toKey() const {
  xlb_addr_key k{};
  k.addr = toAbi();
  k.family = family;
  return k;
}

std::string IpAddr::unusableReason() const {
  const auto& b = bytes;
  if (isV4()) {
    if (b[0] == 0) return "0.0.0.0/8 is 'this network', not a host";
    if (b[0] == 127) return "a loopback address never leaves this host";
    if (b[0] >= 224 && b[0] <= 239) return "a multicast address is not a host";
    if (b[0] == 255 && b[1] == 255 && b[2] == 255 && b[3] == 255) return "the broadcast address is not a host";
    if (b[0] >= 240) return "240.0.0.0/4 is reserved";
    return {};
  }
  bool zero12 = std::all_of(b.begin(), b.begin() + 10, [](uint8_t x) { return x == 0; });
  if (zero12 && b[10] == 0 && b[11] == 0 && b[12] == 0 && b[13] == 0 && b[14] == 0 && b[15] <= 1)
    return b[15] == 0 ? "the unspecified address :: is not a host" : "a loopback address never leaves this host";
  if (zero12 && b[10] == 0xff && b[11] == 0xff) return "an IPv4-mapped address: write the IPv4 address itself";
  if (b[0] == 0xff) return "a multicast address is not a host";
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return "a link-local address needs an interface scope, which xlb does not take";
  return {};
}

std::string IpAddr::str() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(isV4() ? AF_INET : AF_INET6, bytes.data(), buf, sizeof(buf));
  return buf;
}

static Result<uint16_t> parsePort(std::string_view p, std::string_view whole) {
  unsigned v = 0;
  auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
  if (p.empty() || ec != std::errc() || ptr != p.data() + p.size() || v == 0 || v > 65535)
    return fail(0, "invalid port in '" + std::string(whole) + "' (expected 1..65535)");
  return static_cast<uint16_t>(v);
}

Result<Endpoint> Endpoint::parse(std::string_view text) {
  std::string_view host, port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return fail(0, "invalid endpoint '" + std::string(text) + "' (IPv6 is written [ADDR]:PORT)");
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos)
      return fail(0, "invalid endpoint '" + std::string(text) + "' (expected ADDR:PORT or [ADDR]:PORT)");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos)
      return fail(0, "invalid endpoint '" + std::string(text) + "' (IPv6 is written [ADDR]:PORT)");
  }
  auto addr = IpAddr::parse(host);
  if (!addr) return xlb::unexpected(addr.error());
  auto p = parsePort(port, text);
  if (!p) return xlb::unexpected(p.error());
  return Endpoint{*addr, *p};
}

std::string Endpoint::str() const {
  return addr.isV4() ? addr.str() + ":" + std::to_string(port)
                     : "[" + addr.str() + "]:" + std::to_string(port);
}

Result<Prefix> Prefix::parse(std::string_view text) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos)
    return fail(0, "invalid prefix '" + std::string(text) + "' (expected ADDR/LEN)");
  auto addr = IpAddr::parse(text.substr(0, slash));
  if (!addr) return xlb::unexpected(addr.error());
  unsigned len = 0;
  auto l = text.substr(slash + 1);
  auto [ptr, ec] = std::from_chars(l.data(), l.data() + l.size(), len);
  unsigned max = addr->isV4() ? 32 : 128;
  if (l.empty() || ec != std::errc() || ptr != l.data() + l.size() || len > max)
    return fail(0, "invalid prefix length in '" + std::string(text) + "' (0.." + std::to_string(max) + ")");
  return Prefix{*addr, static_cast<uint8_t>(len)};
}

bool Prefix::contains(const IpAddr& a) const {
  if (a.family != addr.family) return false;
  size_t full = len / 8;
  if (!std::equal(addr.bytes.begin(), addr.bytes.begin() + full, a.bytes.begin())) return false;
  if (len % 8 == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - len % 8));
  return (addr.bytes[full] & mask) == (a.bytes[full] & mask);
}

std::string Prefix::str() const { return addr.str() + "/" + std::to_string(len); }

xlb_vip_key VipKey::toAbi() const {
  xlb_vip_key k{};
  k.addr = ep.addr.toAbi();
  k.port = htons(ep.port);
  k.proto = proto;
  k.family = ep.addr.family;
  return k;
}

VipKey VipKey::fromAbi(const xlb_vip_key& k) {
  return VipKey{Endpoint{IpAddr::fromAbi(k.addr, k.family), ntohs(k.port)}, k.proto};
}

std::string VipKey::str() const { return ep.str() + "/" + protoName(proto); }

Result<uint8_t> parseProto(std::string_view text) {
  if (text == "tcp") return static_cast<uint8_t>(IPPROTO_TCP);
  if (text == "udp") return static_cast<uint8_t>(IPPROTO_UDP);
  return fail(0, "invalid protocol '" + std::string(text) + "' (use tcp or udp)");
}

std::string protoName(uint8_t proto) {
  if (proto == IPPROTO_TCP) return "tcp";
  if (proto == IPPROTO_UDP) return "udp";
  return std::to_string(proto);
}

}  // namespace xlb
