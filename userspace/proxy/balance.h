// SPDX-License-Identifier: Apache-2.0
// Balancing algorithms, one file each behind one interface (as HAProxy's
// lb_fwrr.c, lb_fwlc.c, lb_chash.c): smooth weighted round-robin, weighted
// least connections, and consistent hashing on a key (the source address,
// a header, a cookie). Each worker thread has its own instances: their
// state needs no lock.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>
#include <vector>

#include "snapshot.h"

namespace xlb::proxy {

class Balancer {
 public:
  virtual ~Balancer() = default;
  // Picks one of candidates (indexes into vip.backends, every one usable,
  // at least one). key: what hashing balancers hash; others ignore it.
  virtual size_t pick(const ProxyVip& vip, const std::vector<size_t>& candidates, std::string_view key) = 0;
  // A request went to backend i without a pick (its sticky cookie named it).
  virtual void chose(const ProxyVip&, size_t) {}
  // A request picked or chosen ended (least connections counts them). vip:
  // the same snapshot as at the pick; a reload may have made another since.
  virtual void done(const ProxyVip&, size_t) {}
};

std::unique_ptr<Balancer> makeRoundRobin();
std::unique_ptr<Balancer> makeLeastConn();
std::unique_ptr<Balancer> makeHash();
std::unique_ptr<Balancer> makeBalancer(Balance b);

}  // namespace xlb::proxy
