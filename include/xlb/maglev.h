// SPDX-License-Identifier: Apache-2.0
// Weighted Maglev consistent hashing (Eisenbud et al., NSDI 2016).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "xlb/addr.h"

namespace xlb {

struct MaglevBackend {
  uint32_t id = 0;   // what the ring stores (never XLB_BACKEND_NONE)
  IpAddr addr;       // identity: the permutation depends on it alone
  uint32_t weight = 1;
};

// Fills a ring of ringSize slots (a prime) with backend ids. A backend's
// share of the slots follows its weight; weight 0 gets none. The ring
// depends only on the backends' addresses and weights, not on ids' order of
// insertion nor the machine: nodes behind ECMP agree slot for slot.
// With no backend of positive weight every slot is XLB_BACKEND_NONE.
std::vector<uint32_t> maglevRing(std::span<const MaglevBackend> backends, uint32_t ringSize);

bool isPrime(uint32_t n);

}  // namespace xlb
