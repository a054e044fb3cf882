// SPDX-License-Identifier: Apache-2.0
// The xlb_xdp skeleton configured for an instance: rodata and capacities
// from its xlb_meta, maps pinned (or reused) under pinDir. Not yet loaded:
// the loader hands it to libxdp, the BPF tests and benchmark load it
// themselves for BPF_PROG_TEST_RUN.
#pragma once

#include <memory>
#include <string>

#include "xlb/abi.h"
#include "xlb/error.h"
#include "xlb_xdp.skel.h"

namespace xlb {

using XdpSkel = std::unique_ptr<xlb_xdp, void (*)(xlb_xdp*)>;

Result<XdpSkel> openXlbXdp(const xlb_meta& meta, const std::string& pinDir);

}  // namespace xlb
