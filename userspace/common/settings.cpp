// SPDX-License-Identifier: Apache-2.0
#include "xlb/settings.h"

#include <arpa/inet.h>

#include <cstring>

#include "xlb/maglev.h"

namespace xlb {

namespace {
uint32_t hostMask4(uint8_t len) { return len >= 32 ? 0 : htonl(0xffffffffu >> len); }
uint32_t hostMask6(uint8_t len) { return len >= 128 ? 0 : len <= 96 ? 0xffffffffu : htonl(0xffffffffu >> (len - 96)); }
}  // namespace

Result<AttachMode> parseAttachMode(const std::string& s) {
  if (s == "native") return AttachMode::Native;
  if (s == "generic") return AttachMode::Generic;
  if (s == "auto") return AttachMode::Auto;
  return fail(0, "invalid mode '" + s + "' (use native, generic or auto)");
}

Result<xlb_meta> makeMeta(const LoadSettings& w) {
  xlb_meta m{};
  m.magic = XLB_META_MAGIC;
  m.abi_version = XLB_ABI_VERSION;
  m.ring_size = w.ringSize.value_or(XLB_DEFAULT_RING_SIZE);
  m.max_vips = w.maxVips.value_or(XLB_DEFAULT_MAX_VIPS);
  m.max_backends = w.maxBackends.value_or(XLB_DEFAULT_MAX_BACKENDS);
  m.max_flows = w.maxFlows.value_or(XLB_DEFAULT_MAX_FLOWS);
  if (!isPrime(m.ring_size) || m.ring_size < 3)
    return fail(0, "ring size " + std::to_string(m.ring_size) + " is not a prime (try 65537, 16381 or 1031)");
  if (m.max_vips == 0 || uint64_t(m.max_vips) * 2 * m.ring_size > 0xffffffffull / 4)
    return fail(0, "max VIPs × 2 × ring size is too large for one ring map");
  // Flow records keep 16-bit VIP and backend ids (abi.h).
  if (m.max_vips > 65535) return fail(0, "max VIPs must be at most 65535");
  if (m.max_backends < 2 || m.max_backends > 65536) return fail(0, "max backends must be 2 to 65536");
  if (m.max_flows < 1 || m.max_flows > kMaxFlows)
    return fail(0, "max flows must be 1 to " + std::to_string(kMaxFlows));
  if (w.encap4) {
    if (!w.encap4->addr.isV4()) return fail(0, "--encap-src4 needs an IPv4 prefix");
    std::memcpy(&m.encap4_net, w.encap4->addr.bytes.data(), 4);
    m.encap4_hostmask = hostMask4(w.encap4->len);
    m.encap4_net &= ~m.encap4_hostmask;
  } else {
    m.encap4_net = htonl(0xac100000u);  // 172.16.0.0/16
    m.encap4_hostmask = hostMask4(16);
  }
  if (w.encap6) {
    if (w.encap6->addr.isV4()) return fail(0, "--encap-src6 needs an IPv6 prefix");
    std::memcpy(m.encap6_net, w.encap6->addr.bytes.data(), 16);
    m.encap6_hostmask = hostMask6(w.encap6->len);
    m.encap6_net[3] &= ~m.encap6_hostmask;
  } else {
    m.encap6_net[0] = htonl(0xfd00u << 16);  // fd00::/96 (a ULA prefix)
    m.encap6_hostmask = 0xffffffffu;
  }
  return m;
}

uint32_t flowBuckets(uint32_t maxFlows) {
  uint32_t n = 1;
  while (uint64_t(n) * XLB_FLOW_WAYS < maxFlows) n <<= 1;
  return n;
}

uint32_t vipSlots(uint32_t maxVips) {
  uint32_t n = 16;
  while (n < uint64_t(maxVips) * 4) n <<= 1;
  return n;
}

const char* forwardName(uint8_t f) { return f == XLB_FWD_IPIP ? "ipip" : "l2dsr"; }

Result<uint8_t> parseForward(const std::string& s) {
  if (s == "l2dsr") return static_cast<uint8_t>(XLB_FWD_L2DSR);
  if (s == "ipip") return static_cast<uint8_t>(XLB_FWD_IPIP);
  return fail(0, "invalid forwarding mode '" + s + "' (use l2dsr or ipip)");
}

}  // namespace xlb
