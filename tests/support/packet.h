// SPDX-License-Identifier: Apache-2.0
// A small packet builder for fixtures: headers as data, lengths and IPv4
// header checksums filled in, so tests read as "eth(ipv4(tcp()))".
#pragma once

#include <arpa/inet.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace xlb::test {

using Bytes = std::vector<uint8_t>;
using Mac = std::array<uint8_t, 6>;

inline Mac mac(uint8_t a, uint8_t b) { return {0x02, 0, 0, 0, a, b}; }

inline void put16(Bytes& b, uint16_t v) {
  b.push_back(v >> 8);
  b.push_back(v & 0xff);
}
inline void put32(Bytes& b, uint32_t v) {
  put16(b, v >> 16);
  put16(b, v & 0xffff);
}
inline Bytes cat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}
inline std::array<uint8_t, 4> v4(const char* s) {
  std::array<uint8_t, 4> a{};
  inet_pton(AF_INET, s, a.data());
  return a;
}
inline std::array<uint8_t, 16> v6(const char* s) {
  std::array<uint8_t, 16> a{};
  inet_pton(AF_INET6, s, a.data());
  return a;
}

inline uint16_t csum(const uint8_t* p, size_t n) {
  uint32_t s = 0;
  for (size_t i = 0; i + 1 < n; i += 2) s += (p[i] << 8) | p[i + 1];
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(~s);
}

enum TcpFlags : uint8_t { kFin = 1, kSyn = 2, kRst = 4, kPsh = 8, kAck = 16 };

inline Bytes tcp(uint16_t sport, uint16_t dport, uint8_t flags = kSyn, size_t payload = 0) {
  Bytes b;
  put16(b, sport);
  put16(b, dport);
  put32(b, 1000);  // seq
  put32(b, 0);     // ack
  b.push_back(5 << 4);
  b.push_back(flags);
  put16(b, 65535);
  put16(b, 0);  // checksum: not checked by xlb, left zero
  put16(b, 0);
  b.resize(b.size() + payload, 0xab);
  return b;
}

inline Bytes udp(uint16_t sport, uint16_t dport, size_t payload = 8) {
  Bytes b;
  put16(b, sport);
  put16(b, dport);
  put16(b, 8 + payload);
  put16(b, 0);
  b.resize(b.size() + payload, 0xcd);
  return b;
}

struct Ip4Opts {
  uint8_t tos = 0;
  uint16_t frag = 0x4000;  // DF
  uint8_t ttl = 64;
  Bytes options;           // multiple of 4 bytes
};

inline Bytes ipv4(std::array<uint8_t, 4> src, std::array<uint8_t, 4> dst, uint8_t proto, const Bytes& l4,
                  const Ip4Opts& o = {}) {
  Bytes b;
  size_t hlen = 20 + o.options.size();
  b.push_back(0x40 | (hlen / 4));
  b.push_back(o.tos);
  put16(b, hlen + l4.size());
  put16(b, 0);  // id
  put16(b, o.frag);
  b.push_back(o.ttl);
  b.push_back(proto);
  put16(b, 0);
  b.insert(b.end(), src.begin(), src.end());
  b.insert(b.end(), dst.begin(), dst.end());
  b.insert(b.end(), o.options.begin(), o.options.end());
  uint16_t c = csum(b.data(), hlen);
  b[10] = c >> 8;
  b[11] = c & 0xff;
  return cat(b, l4);
}

inline Bytes ipv6(std::array<uint8_t, 16> src, std::array<uint8_t, 16> dst, uint8_t nh, const Bytes& payload,
                  uint8_t tclass = 0, uint32_t flow = 0) {
  Bytes b;
  put32(b, (6u << 28) | (uint32_t(tclass) << 20) | (flow & 0xfffff));
  put16(b, payload.size());
  b.push_back(nh);
  b.push_back(64);
  b.insert(b.end(), src.begin(), src.end());
  b.insert(b.end(), dst.begin(), dst.end());
  return cat(b, payload);
}

inline Bytes eth(Mac dst, Mac src, uint16_t type, const Bytes& l3, int vlan = -1) {
  Bytes b(dst.begin(), dst.end());
  b.insert(b.end(), src.begin(), src.end());
  if (vlan >= 0) {
    put16(b, 0x8100);
    put16(b, vlan);
  }
  put16(b, type);
  return cat(b, l3);
}

// ICMP (type, code) quoting an original datagram.
inline Bytes icmp(uint8_t type, uint8_t code, uint32_t rest, const Bytes& quoted) {
  Bytes b{type, code, 0, 0};
  put32(b, rest);
  b = cat(b, quoted);
  uint16_t c = csum(b.data(), b.size());
  b[2] = c >> 8;
  b[3] = c & 0xff;
  return b;
}

std::string hexdump(const Bytes& b);

inline Bytes operator+(Bytes a, const Bytes& b) { return cat(std::move(a), b); }

}  // namespace xlb::test
