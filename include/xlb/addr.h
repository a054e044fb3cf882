// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "xlb/abi.h"
#include "xlb/error.h"

namespace xlb {

// An IPv4 or IPv6 address in network byte order.
struct IpAddr {
  uint8_t family = XLB_AF_INET;  // XLB_AF_INET or XLB_AF_INET6
  std::array<uint8_t, 16> bytes{};

  static Result<IpAddr> parse(std::string_view text);
  static IpAddr fromAbi(const xlb_addr& a, uint8_t family);
  xlb_addr toAbi() const;
  xlb_addr_key toKey() const;
  std::string str() const;
  bool isV4() const { return family == XLB_AF_INET; }
  // Why this address cannot be a VIP or a backend (unspecified, loopback,
  // multicast, broadcast, reserved, link-local, IPv4-mapped), or empty when
  // it is an ordinary unicast address.
  std::string unusableReason() const;
  auto operator<=>(const IpAddr&) const = default;
};

// ADDR:PORT, or [ADDR]:PORT for IPv6.
struct Endpoint {
  IpAddr addr;
  uint16_t port = 0;

  static Result<Endpoint> parse(std::string_view text);
  std::string str() const;
  auto operator<=>(const Endpoint&) const = default;
};

// ADDR/LEN
struct Prefix {
  IpAddr addr;
  uint8_t len = 0;
  static Result<Prefix> parse(std::string_view text);
  std::string str() const;
  bool contains(const IpAddr& a) const;  // same family, and the first len bits agree
  bool operator==(const Prefix&) const = default;
};

// A VIP: address, port and protocol.
struct VipKey {
  Endpoint ep;
  uint8_t proto = 6;  // IPPROTO_TCP / IPPROTO_UDP
  xlb_vip_key toAbi() const;
  static VipKey fromAbi(const xlb_vip_key& k);
  std::string str() const;  // "198.18.0.100:80/tcp"
  auto operator<=>(const VipKey&) const = default;
};

Result<uint8_t> parseProto(std::string_view text);  // "tcp" | "udp" -> IPPROTO_*
std::string protoName(uint8_t proto);

}  // namespace xlb
