// SPDX-License-Identifier: Apache-2.0
#include "xlb/forwarding.h"

#include <fstream>

#include "xlb/abi.h"

namespace xlb {

std::string forwardingProblem(const std::string& ifname, uint8_t family) {
  const char* fam = family == XLB_AF_INET ? "ipv4" : "ipv6";
  std::ifstream in(std::string("/proc/sys/net/") + fam + "/conf/" + ifname + "/forwarding");
  int on = 0;
  if (!(in >> on)) return {};  // no such interface or no procfs: nothing to say here
  if (on) return {};
  // sysctl's dotted form cannot name an interface with a dot in it (VLANs).
  std::string key = ifname.find('.') == std::string::npos
                        ? std::string("net.") + fam + ".conf." + ifname + ".forwarding"
                        : std::string("net/") + fam + "/conf/" + ifname + "/forwarding";
  return std::string(family == XLB_AF_INET ? "IPv4" : "IPv6") + " forwarding is off on " + ifname +
         ": xlb forwards nothing that arrives there for " + (family == XLB_AF_INET ? "IPv4" : "IPv6") +
         " backends (counted as pass_fwd_disabled); run: sysctl -w " + key +
         "=1 (and keep it in /etc/sysctl.d/)";
}

}  // namespace xlb
