// SPDX-License-Identifier: Apache-2.0
// Loading, pinning and attaching xlb's XDP programs (through libxdp, so xlb
// shares an interface with other XDP programs and xdp-loader sees it).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "xlb/abi.h"
#include "xlb/addr.h"
#include "xlb/error.h"
#include "xlb/settings.h"

namespace xlb {


struct AttachResult {
  uint32_t progId = 0;
  bool replaced = false;  // an older xlb_xdp was swapped out on this interface
  xlb_meta meta{};
};

// Loads xlb_xdp with the instance's settings (from its pinned xlb_meta if it
// exists, else from `want` and the defaults), pins its maps under pinDir and
// attaches it to ifname. If this instance's xlb_xdp is already on ifname it
// is replaced without a moment where the interface has no xlb: the new
// program is added first, the old one removed after. Another instance's
// xlb_xdp (one that uses other maps), or any other program owning the
// interface, is refused unless `force`.
Result<AttachResult> attach(const std::string& pinDir, const std::string& ifname, AttachMode mode,
                            const LoadSettings& want, bool force = false);
struct DetachResult {
  bool wasAttached = false;  // false: it was already gone (only the bookkeeping was left)
  bool unpinned = false;     // no interface left: the maps were unpinned
};
// Detaches this instance's xlb_xdp from ifname (never another instance's);
// when no interface is left, unpins the maps.
Result<DetachResult> detach(const std::string& pinDir, const std::string& ifname);
Result<uint32_t> decapAttach(const std::string& pinDir, const std::string& ifname, AttachMode mode,
                             const std::vector<IpAddr>& vips, bool force = false);
Result<void> decapDetach(const std::string& pinDir, const std::string& ifname);
Result<void> decapVip(const std::string& pinDir, const IpAddr& vip, bool add);
struct DecapStatus {
  std::vector<IpAddr> vips;
  std::vector<xlb_counter> reasons;     // by enum xlb_dcp_reason, summed over CPUs
  std::vector<std::string> interfaces;  // where this instance's xlb_decap runs
};
Result<DecapStatus> decapStatus(const std::string& pinDir);
const char* decapReasonName(uint32_t reason);
// The id of the xlb_xdp of this instance (pinDir) attached to ifname, if
// any: a restarted xlbd adopts it instead of attaching again.
Result<std::optional<uint32_t>> attachedProgram(const std::string& pinDir, const std::string& ifname);

// What runs in XDP on an interface, seen from one instance (the one whose
// xlb_vip_table map has id vipsMapId): its own xlb_xdp, if there, and anything
// else that holds the interface.
struct XdpState {
  uint32_t ourProgId = 0;  // 0: this instance's xlb_xdp is not attached
  AttachMode ourMode = AttachMode::Auto;
  uint32_t otherProgId = 0;  // another program holding the interface (0: none)
  std::string otherName;
};
XdpState xdpState(int ifindex, uint32_t vipsMapId);
// Attaches an already loaded xlb_xdp (progFd) to ifindex again, after it was
// removed from there: same program, same maps. Nothing else may hold the
// interface meanwhile (see xdpState): this never replaces a program.
Result<void> reattach(int progFd, int ifindex, AttachMode mode);
// The kernel's id of a map or program fd.
uint32_t objectId(int fd);

// Which xlbd owns an instance's maps: a one-entry map pinned next to them
// (pid, control socket), so xlbctl finds the daemon from --pin-path alone.
struct Owner {
  int pid = 0;
  std::string socket;
};
Result<void> pinOwner(const std::string& pinDir, const std::string& socketPath);
void unpinOwner(const std::string& pinDir);
std::optional<Owner> readOwner(const std::string& pinDir);

// Fails with a clear message unless path is on a bpffs mount.
Result<void> checkBpffs(const std::string& pinDir);


}  // namespace xlb
