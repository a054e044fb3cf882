// SPDX-License-Identifier: Apache-2.0
// IP forwarding on the interfaces xlb runs on. bpf_fib_lookup refuses to
// forward from an interface whose forwarding sysctl is off (the Linux
// default), so every VIP packet arriving there would only be passed to the
// kernel (pass_fwd_disabled) and dropped.
#pragma once

#include <cstdint>
#include <string>

namespace xlb {

// Empty when forwarding is on for `family` (XLB_AF_INET/XLB_AF_INET6) on
// ifname; otherwise what is wrong and the exact command that fixes it.
// Reads /proc/sys/net (the calling process's network namespace).
std::string forwardingProblem(const std::string& ifname, uint8_t family);

}  // namespace xlb
