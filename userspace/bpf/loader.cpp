// SPDX-License-Identifier: Apache-2.0
#include "xlb/loader.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <linux/if_link.h>
#include <linux/magic.h>
#include <net/if.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <xdp/libxdp.h>

#include <cstdarg>
#include <cstring>
#include <filesystem>
#include <memory>

#include "xlb/fd.h"
#include "xlb/hash.h"
#include "xlb/maglev.h"
#include "xdp_object.h"
#include "xlb_decap.skel.h"

namespace xlb {
namespace {

namespace fs = std::filesystem;

// The libraries' own chatter (libxdp's dispatcher fallback, libbpf's
// rlimit hints) is noise next to the errors xlb reports itself; set
// XLB_DEBUG_BPF=1 to see it.
int quietPrint(enum libbpf_print_level, const char*, va_list) { return 0; }
int quietXdpPrint(enum libxdp_print_level, const char*, va_list) { return 0; }

void quietLibs() {
  static bool done = false;
  if (done) return;
  done = true;
  if (!getenv("XLB_DEBUG_BPF")) {
    libbpf_set_print(quietPrint);
    libxdp_set_print(quietXdpPrint);
  }
}

Error sysError(int code, const std::string& what) {
  if (code == EPERM || code == EACCES)
    return Error{code, what + ": needs root (CAP_BPF and CAP_NET_ADMIN)"};
  return Error{code, what};
}

Result<int> ifindexOf(const std::string& ifname) {
  unsigned idx = if_nametoindex(ifname.c_str());
  if (idx == 0) return fail(0, "interface '" + ifname + "' not found (see: ip link)");
  return static_cast<int>(idx);
}

enum xdp_attach_mode toXdpMode(AttachMode m) {
  switch (m) {
    case AttachMode::Native: return XDP_MODE_NATIVE;
    case AttachMode::Generic: return XDP_MODE_SKB;
    case AttachMode::Auto: break;
  }
  return XDP_MODE_UNSPEC;
}

Result<Fd> lockDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return fail(errno, "cannot open " + dir);
  Fd f(fd);
  if (flock(f.get(), LOCK_EX) != 0) return fail(errno, "cannot lock " + dir);
  return f;
}

struct MultiprogCloser {
  void operator()(xdp_multiprog* mp) const { xdp_multiprog__close(mp); }
};
using Multiprog = std::unique_ptr<xdp_multiprog, MultiprogCloser>;

// What is attached to ifindex: the program called progName, if any, the
// mode, and in single-program (legacy) mode any other program there.
struct Attached {
  Multiprog mp;
  xdp_program* prog = nullptr;   // progName
  xdp_program* other = nullptr;  // legacy mode: someone else's program
  enum xdp_attach_mode mode = XDP_MODE_UNSPEC;
};

Attached findAttached(int ifindex, const char* progName) {
  Attached a;
  xdp_multiprog* mp = xdp_multiprog__get_from_ifindex(ifindex);
  if (libxdp_get_error(mp) || !mp) return a;
  a.mp.reset(mp);
  a.mode = xdp_multiprog__attach_mode(mp);
  if (xdp_multiprog__is_legacy(mp)) {
    xdp_program* p = xdp_multiprog__main_prog(mp);
    if (p && std::strcmp(xdp_program__name(p), progName) == 0)
      a.prog = p;
    else
      a.other = p;
    return a;
  }
  for (xdp_program* p = xdp_multiprog__next_prog(nullptr, mp); p;
       p = xdp_multiprog__next_prog(p, mp))
    if (std::strcmp(xdp_program__name(p), progName) == 0) a.prog = p;
  return a;
}

// The kernel's id of the map pinned at path, 0 when there is none.
uint32_t pinnedMapId(const std::string& path) {
  int fd = bpf_obj_get(path.c_str());
  if (fd < 0) return 0;
  Fd f(fd);
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  return bpf_obj_get_info_by_fd(f.get(), &info, &len) == 0 ? info.id : 0;
}

// Does the program use the map with this id? (Which maps a program uses is
// what makes it one instance's and not another's: every instance has its
// own pinned maps. Only maps the code touches count: xlb_vip_table for xlb_xdp,
// xlb_dcp_vips for xlb_decap, never xlb_meta, which only userspace reads.)
bool progUsesMap(int progFd, uint32_t mapId) {
  if (progFd < 0 || mapId == 0) return false;
  bpf_prog_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(progFd, &info, &len) != 0 || info.nr_map_ids == 0) return false;
  std::vector<uint32_t> ids(info.nr_map_ids);
  uint32_t n = info.nr_map_ids;
  info = {};
  info.nr_map_ids = n;
  info.map_ids = reinterpret_cast<uint64_t>(ids.data());
  len = sizeof(info);
  if (bpf_obj_get_info_by_fd(progFd, &info, &len) != 0) return false;
  for (uint32_t i = 0; i < std::min(n, info.nr_map_ids); ++i)
    if (ids[i] == mapId) return true;
  return false;
}

Result<void> ensureDir(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return fail(ec.value(), "cannot create " + dir);
  return {};
}

// Maps already pinned are reused as they are (libbpf's own compatibility
// check trips over flags the kernel adds, such as a devmap's
// BPF_F_RDONLY_PROG); new ones are pinned by libbpf when created.
Result<void> pinMaps(bpf_object* obj, const std::string& pinDir) {
  bpf_map* map;
  bpf_object__for_each_map(map, obj) {
    if (bpf_map__is_internal(map)) continue;
    std::string path = pinDir + "/" + bpf_map__name(map);
    int fd = bpf_obj_get(path.c_str());
    if (fd >= 0) {
      int rc = bpf_map__reuse_fd(map, fd);
      ::close(fd);  // reuse_fd keeps its own duplicate
      if (rc != 0) return fail(-rc, "cannot reuse pinned map " + path);
    } else if (bpf_map__set_pin_path(map, path.c_str()) != 0) {
      return fail(errno, "cannot set pin path " + path);
    }
  }
  return {};
}

uint32_t progIdOf(int fd) {
  bpf_prog_info info{};
  uint32_t len = sizeof(info);
  return bpf_obj_get_info_by_fd(fd, &info, &len) == 0 ? info.id : 0;
}

// libxdp's legacy mode (no dispatcher: it fails to load on some kernels):
// swap the program in one netlink request, XDP_FLAGS_REPLACE naming the
// old one, so the interface is never without xlb.
Result<uint32_t> replaceLegacy(bpf_object* obj, int ifindex, xdp_program* old, enum xdp_attach_mode oldMode) {
  if (int rc = bpf_object__load(obj); rc != 0) return xlb::unexpected(sysError(-rc, "cannot load XDP program"));
  bpf_program* p = bpf_object__next_program(obj, nullptr);
  int fd = p ? bpf_program__fd(p) : -1;
  if (fd < 0) return fail(EINVAL, "XDP program has no fd after load");
  uint32_t flags = XDP_FLAGS_REPLACE | (oldMode == XDP_MODE_SKB ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE);
  LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = xdp_program__fd(old));
  if (int rc = bpf_xdp_attach(ifindex, fd, flags, &opts); rc != 0)
    return xlb::unexpected(sysError(-rc, "cannot replace the attached XDP program"));
  return progIdOf(fd);
}

// Who holds the interface, as far as attaching progName for the instance
// whose identity map has id `mine` goes.
struct Holder {
  Attached a;
  bool ours = false;  // a.prog uses this instance's maps
};

Holder holderOf(int ifindex, const char* progName, uint32_t mine) {
  Holder h;
  h.a = findAttached(ifindex, progName);
  h.ours = h.a.prog && progUsesMap(xdp_program__fd(h.a.prog), mine);
  return h;
}

// Refuses to take an interface from another instance or another program,
// unless forced.
Result<void> mayTake(const Holder& h, const char* progName, const std::string& ifname, bool force) {
  if (force) return {};
  if (h.a.prog && !h.ours)
    return fail(EBUSY, ifname + " already runs " + progName + " (program id " +
                           std::to_string(xdp_program__id(h.a.prog)) +
                           ") of another xlb instance: detach it with that instance's --pin-path, "
                           "or add --force to replace it");
  if (h.a.other)
    return fail(EBUSY, ifname + " already runs the XDP program '" + xdp_program__name(h.a.other) +
                           "' (id " + std::to_string(xdp_program__id(h.a.other)) +
                           "): remove it first (ip link set dev " + ifname +
                           " xdp off), or add --force to replace it");
  return {};
}

Result<uint32_t> attachProgram(bpf_object* obj, int ifindex, const std::string& ifname, AttachMode mode,
                               const char* progName, uint32_t mine, bool force, bool* replaced) {
  Holder h = holderOf(ifindex, progName, mine);
  if (auto r = mayTake(h, progName, ifname, force); !r) return xlb::unexpected(r.error());
  const Attached& old = h.a;
  xdp_program* legacyOld = old.prog ? old.prog : old.other;
  if (legacyOld && xdp_multiprog__is_legacy(old.mp.get())) {
    if (mode != AttachMode::Auto && toXdpMode(mode) != old.mode)
      return fail(0, std::string(xdp_program__name(legacyOld)) + " is attached to " + ifname +
                         " in another mode: detach it first to change modes");
    *replaced = true;
    return replaceLegacy(obj, ifindex, legacyOld, old.mode);
  }

  xdp_program* prog = xdp_program__from_bpf_obj(obj, "xdp");
  if (long err = libxdp_get_error(prog); err || !prog)
    return xlb::unexpected(sysError(err ? -static_cast<int>(err) : EINVAL, "cannot prepare XDP program"));
  std::unique_ptr<xdp_program, void (*)(xdp_program*)> guard(prog, xdp_program__close);
  enum xdp_attach_mode m = toXdpMode(mode);
  if (old.prog && m == XDP_MODE_UNSPEC) m = old.mode;
  // Dispatcher mode: the new program first, the old one after; at every
  // moment one of them runs.
  int rc = xdp_program__attach(prog, ifindex, m, 0);
  if (rc != 0) {
    if (rc == -EEXIST || rc == -EBUSY)
      return fail(-rc, "cannot attach: another XDP program owns " + ifname + " (see: xdp-loader status)");
    return xlb::unexpected(sysError(-rc, "cannot attach XDP program"));
  }
  uint32_t id = xdp_program__id(prog);
  if (old.prog) {
    rc = xdp_program__detach(old.prog, ifindex, old.mode, 0);
    if (rc != 0) return xlb::unexpected(sysError(-rc, "attached the new program, but cannot detach the old one"));
    *replaced = true;
  }
  return id;
}

// Detaches this instance's progName from ifname. Another instance's
// program is never touched; false when none of ours was attached.
Result<bool> detachProgram(int ifindex, const char* progName, const std::string& ifname, uint32_t mine) {
  Holder h = holderOf(ifindex, progName, mine);
  if (h.a.prog && !h.ours)
    return fail(EBUSY, "the " + std::string(progName) + " on " + ifname + " (program id " +
                           std::to_string(xdp_program__id(h.a.prog)) +
                           ") belongs to another xlb instance: detach it with that instance's --pin-path");
  if (!h.a.prog) return false;
  int rc = xdp_program__detach(h.a.prog, ifindex, h.a.mode, 0);
  if (rc != 0) return xlb::unexpected(sysError(-rc, "cannot detach from " + ifname));
  return true;
}


}  // namespace

Result<XdpSkel> openXlbXdp(const xlb_meta& meta, const std::string& pinDir) {
  quietLibs();
  XdpSkel skel(xlb_xdp__open(), xlb_xdp__destroy);
  if (!skel) return xlb::unexpected(sysError(errno, "cannot open the xlb_xdp object"));
  skel->rodata->xlb_ring_size = meta.ring_size;
  skel->rodata->xlb_ring_nchunks = xlb_ring_chunks(meta.ring_size);
  skel->rodata->xlb_encap4_net = meta.encap4_net;
  skel->rodata->xlb_encap4_hostmask = meta.encap4_hostmask;
  for (int i = 0; i < 4; ++i) skel->rodata->xlb_encap6_net[i] = meta.encap6_net[i];
  skel->rodata->xlb_encap6_hostmask = meta.encap6_hostmask;
  bpf_map__set_max_entries(skel->maps.xlb_vips, meta.max_vips);
  skel->rodata->xlb_vip_mask = vipSlots(meta.max_vips) - 1;
  bpf_map__set_max_entries(skel->maps.xlb_vip_table, vipSlots(meta.max_vips));
  bpf_map__set_max_entries(skel->maps.xlb_vip_addrs, meta.max_vips);
  bpf_map__set_max_entries(skel->maps.xlb_vip_stats, meta.max_vips);
  bpf_map__set_max_entries(skel->maps.xlb_rings, meta.max_vips * 2 * xlb_ring_chunks(meta.ring_size));
  bpf_map__set_max_entries(skel->maps.xlb_backends, meta.max_backends);
  bpf_map__set_max_entries(skel->maps.xlb_nexthops, meta.max_backends);
  bpf_map__set_max_entries(skel->maps.xlb_be_stats, meta.max_backends);
  skel->rodata->xlb_flow_mask = flowBuckets(meta.max_flows) - 1;
  bpf_map__set_max_entries(skel->maps.xlb_flows4, flowBuckets(meta.max_flows));
  bpf_map__set_max_entries(skel->maps.xlb_flows6, flowBuckets(meta.max_flows));
  if (auto r = pinMaps(skel->obj, pinDir); !r) return xlb::unexpected(r.error());
  return skel;
}

Result<void> checkBpffs(const std::string& pinDir) {
  fs::path p = pinDir;
  while (!p.empty() && !fs::exists(p)) p = p.parent_path();
  struct statfs st {};
  if (p.empty() || statfs(p.c_str(), &st) != 0 || st.f_type != BPF_FS_MAGIC)
    return fail(0, pinDir + " is not on a bpf filesystem (mount one: mount -t bpf bpf /sys/fs/bpf)");
  return {};
}

Result<AttachResult> attach(const std::string& pinDir, const std::string& ifname, AttachMode mode,
                            const LoadSettings& want, bool force) {
  quietLibs();
  auto ifindex = ifindexOf(ifname);
  if (!ifindex) return xlb::unexpected(ifindex.error());
  if (auto r = checkBpffs(pinDir); !r) return xlb::unexpected(r.error());
  if (auto r = ensureDir(pinDir); !r) return xlb::unexpected(r.error());
  auto lk = lockDir(pinDir);
  if (!lk) return xlb::unexpected(lk.error());

  // An existing instance keeps its settings: its maps are sized by them.
  xlb_meta meta{};
  bool existing = false;
  {
    int fd = bpf_obj_get((pinDir + "/xlb_meta").c_str());
    if (fd >= 0) {
      Fd f(fd);
      uint32_t zero = 0;
      if (bpf_map_lookup_elem(f.get(), &zero, &meta) == 0 && meta.magic == XLB_META_MAGIC) {
        existing = true;
        if (meta.abi_version != XLB_ABI_VERSION)
          return fail(0, "the instance under " + pinDir + " has ABI version " +
                             std::to_string(meta.abi_version) + ": detach it from every interface first");
        if ((want.ringSize && *want.ringSize != meta.ring_size) ||
            (want.maxVips && *want.maxVips != meta.max_vips) ||
            (want.maxBackends && *want.maxBackends != meta.max_backends) ||
            (want.maxFlows && *want.maxFlows != meta.max_flows))
          return fail(0, "the instance under " + pinDir +
                             " was loaded with other capacities; detach it from every interface to change them");
      }
    } else if (errno == EPERM || errno == EACCES) {
      return xlb::unexpected(sysError(errno, "cannot open " + pinDir));
    }
  }
  if (!existing) {
    auto m = makeMeta(want);
    if (!m) return xlb::unexpected(m.error());
    meta = *m;
  }

  auto skel = openXlbXdp(meta, pinDir);
  if (!skel) return xlb::unexpected(skel.error());

  AttachResult res;
  auto id = attachProgram((*skel)->obj, *ifindex, ifname, mode, "xlb_xdp", pinnedMapId(pinDir + "/xlb_vip_table"), force,
                          &res.replaced);
  if (!id) return xlb::unexpected(id.error());
  res.progId = *id;

  uint32_t zero = 0;
  if (!existing && bpf_map__update_elem((*skel)->maps.xlb_meta, &zero, sizeof(zero), &meta, sizeof(meta), 0) != 0)
    return fail(errno, "cannot write xlb_meta");
  uint32_t ifx = static_cast<uint32_t>(*ifindex);
  if (bpf_map__update_elem((*skel)->maps.xlb_tx_ports, &ifx, sizeof(ifx), &ifx, sizeof(ifx), 0) != 0)
    return fail(errno, "cannot add " + ifname + " to xlb_tx_ports");
  res.meta = meta;
  return res;
}

Result<std::optional<uint32_t>> attachedProgram(const std::string& pinDir, const std::string& ifname) {
  quietLibs();
  auto ifindex = ifindexOf(ifname);
  if (!ifindex) return xlb::unexpected(ifindex.error());
  Holder h = holderOf(*ifindex, "xlb_xdp", pinnedMapId(pinDir + "/xlb_vip_table"));
  if (!h.ours) return std::optional<uint32_t>();  // none, or another instance's
  return std::optional<uint32_t>(xdp_program__id(h.a.prog));
}

namespace {
constexpr const char* kOwnerPin = "xlb_owner";
struct OwnerRecord {
  uint32_t pid;
  char socket[124];
};
}  // namespace

Result<void> pinOwner(const std::string& pinDir, const std::string& socketPath) {
  OwnerRecord rec{};
  rec.pid = static_cast<uint32_t>(getpid());
  if (socketPath.size() >= sizeof(rec.socket)) return fail(ENAMETOOLONG, "control socket path too long");
  std::memcpy(rec.socket, socketPath.data(), socketPath.size());
  int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, kOwnerPin, sizeof(uint32_t), sizeof(rec), 1, nullptr);
  if (fd < 0) return xlb::unexpected(sysError(errno, "cannot create the owner record"));
  Fd f(fd);
  uint32_t zero = 0;
  if (bpf_map_update_elem(f.get(), &zero, &rec, BPF_ANY) != 0) return fail(errno, "cannot write the owner record");
  std::string path = pinDir + "/" + kOwnerPin;
  ::unlink(path.c_str());
  if (bpf_obj_pin(f.get(), path.c_str()) != 0) return fail(errno, "cannot pin " + path);
  return {};
}

void unpinOwner(const std::string& pinDir) { ::unlink((pinDir + "/" + kOwnerPin).c_str()); }

std::optional<Owner> readOwner(const std::string& pinDir) {
  int fd = bpf_obj_get((pinDir + "/" + kOwnerPin).c_str());
  if (fd < 0) return std::nullopt;
  Fd f(fd);
  OwnerRecord rec{};
  uint32_t zero = 0;
  if (bpf_map_lookup_elem(f.get(), &zero, &rec) != 0) return std::nullopt;
  rec.socket[sizeof(rec.socket) - 1] = 0;
  return Owner{static_cast<int>(rec.pid), rec.socket};
}

// Unpins every map of a program's object (by the names the object
// declares), and the directory if nothing else is left in it.
template <class Skel>
static Result<void> unpinMapsOf(Skel* skel, const std::string& pinDir, std::initializer_list<const char*> extra = {}) {
  std::vector<std::string> names(extra.begin(), extra.end());
  bpf_map* map;
  bpf_object__for_each_map(map, skel->obj) {
    if (!bpf_map__is_internal(map)) names.push_back(bpf_map__name(map));
  }
  for (const auto& n : names) {
    std::string p = pinDir + "/" + n;
    if (::unlink(p.c_str()) != 0 && errno != ENOENT) return fail(errno, "cannot unpin " + p);
  }
  ::rmdir(pinDir.c_str());  // only if empty: other instances' pins stay
  return {};
}

Result<DetachResult> detach(const std::string& pinDir, const std::string& ifname) {
  quietLibs();
  auto ifindex = ifindexOf(ifname);
  if (!ifindex) return xlb::unexpected(ifindex.error());
  auto lk = lockDir(pinDir);
  if (!lk) return xlb::unexpected(lk.error());
  DetachResult res;
  auto was = detachProgram(*ifindex, "xlb_xdp", ifname, pinnedMapId(pinDir + "/xlb_vip_table"));
  if (!was) return xlb::unexpected(was.error());
  res.wasAttached = *was;
  int fd = bpf_obj_get((pinDir + "/xlb_tx_ports").c_str());
  if (fd < 0) {
    if (!res.wasAttached) return fail(ENOENT, "xlb_xdp of the instance under " + pinDir + " is not attached to " + ifname);
    return res;
  }
  Fd ports(fd);
  uint32_t ifx = static_cast<uint32_t>(*ifindex), next = 0;
  bool listed = bpf_map_delete_elem(ports.get(), &ifx) == 0;
  if (!res.wasAttached && !listed)
    return fail(ENOENT, "xlb_xdp of the instance under " + pinDir + " is not attached to " + ifname);
  if (bpf_map_get_next_key(ports.get(), nullptr, &next) == 0) return res;  // still attached elsewhere
  std::unique_ptr<xlb_xdp, void (*)(xlb_xdp*)> skel(xlb_xdp__open(), xlb_xdp__destroy);
  if (!skel) return xlb::unexpected(sysError(errno, "cannot open the xlb_xdp object"));
  if (auto r = unpinMapsOf(skel.get(), pinDir, {kOwnerPin}); !r) return xlb::unexpected(r.error());
  res.unpinned = true;
  return res;
}

Result<uint32_t> decapAttach(const std::string& pinDir, const std::string& ifname, AttachMode mode,
                             const std::vector<IpAddr>& vips, bool force) {
  quietLibs();
  auto ifindex = ifindexOf(ifname);
  if (!ifindex) return xlb::unexpected(ifindex.error());
  if (auto r = checkBpffs(pinDir); !r) return xlb::unexpected(r.error());
  if (auto r = ensureDir(pinDir); !r) return xlb::unexpected(r.error());
  auto lk = lockDir(pinDir);
  if (!lk) return xlb::unexpected(lk.error());
  std::unique_ptr<xlb_decap, void (*)(xlb_decap*)> skel(xlb_decap__open(), xlb_decap__destroy);
  if (!skel) return xlb::unexpected(sysError(errno, "cannot open the xlb_decap object"));
  uint32_t mine = pinnedMapId(pinDir + "/xlb_dcp_vips");
  if (auto r = pinMaps(skel->obj, pinDir); !r) return xlb::unexpected(r.error());
  bool replaced = false;
  auto id = attachProgram(skel->obj, *ifindex, ifname, mode, "xlb_decap", mine, force, &replaced);
  if (!id) return xlb::unexpected(id.error());
  for (const auto& v : vips) {
    auto k = v.toKey();
    uint32_t one = 1;
    if (bpf_map__update_elem(skel->maps.xlb_dcp_vips, &k, sizeof(k), &one, sizeof(one), 0) != 0)
      return fail(errno, "cannot add decap VIP " + v.str());
  }
  return *id;
}

Result<void> decapDetach(const std::string& pinDir, const std::string& ifname) {
  quietLibs();
  auto ifindex = ifindexOf(ifname);
  if (!ifindex) return xlb::unexpected(ifindex.error());
  auto was = detachProgram(*ifindex, "xlb_decap", ifname, pinnedMapId(pinDir + "/xlb_dcp_vips"));
  if (!was) return xlb::unexpected(was.error());
  if (!*was) return fail(ENOENT, "xlb_decap of the instance under " + pinDir + " is not attached to " + ifname);
  std::unique_ptr<xlb_decap, void (*)(xlb_decap*)> skel(xlb_decap__open(), xlb_decap__destroy);
  if (!skel) return xlb::unexpected(sysError(errno, "cannot open the xlb_decap object"));
  return unpinMapsOf(skel.get(), pinDir);
}

Result<void> decapVip(const std::string& pinDir, const IpAddr& vip, bool add) {
  std::string path = pinDir + "/xlb_dcp_vips";
  int fd = bpf_obj_get(path.c_str());
  if (fd < 0) {
    if (errno == ENOENT) return fail(0, "xlb_decap is not attached with pin path " + pinDir + " (run: xlbctl decap attach IFACE)");
    return xlb::unexpected(sysError(errno, "cannot open " + path));
  }
  Fd f(fd);
  auto k = vip.toKey();
  uint32_t one = 1;
  int rc = add ? bpf_map_update_elem(f.get(), &k, &one, BPF_ANY) : bpf_map_delete_elem(f.get(), &k);
  if (rc != 0) return fail(errno, std::string(add ? "cannot add " : "cannot remove ") + vip.str());
  return {};
}

}  // namespace xlb

namespace xlb {

uint32_t objectId(int fd) {
  // bpf_prog_info and bpf_map_info both start with type, id.
  bpf_prog_info info{};
  uint32_t len = sizeof(info);
  return bpf_obj_get_info_by_fd(fd, &info, &len) == 0 ? info.id : 0;
}

static AttachMode fromXdpMode(enum xdp_attach_mode m) {
  switch (m) {
    case XDP_MODE_NATIVE: return AttachMode::Native;
    case XDP_MODE_SKB: return AttachMode::Generic;
    default: return AttachMode::Auto;
  }
}

XdpState xdpState(int ifindex, uint32_t vipsMapId) {
  quietLibs();
  XdpState st;
  Holder h = holderOf(ifindex, "xlb_xdp", vipsMapId);
  if (h.ours) {
    st.ourProgId = xdp_program__id(h.a.prog);
    st.ourMode = fromXdpMode(h.a.mode);
  } else if (h.a.prog || h.a.other) {
    xdp_program* p = h.a.prog ? h.a.prog : h.a.other;
    st.otherProgId = xdp_program__id(p);
    st.otherName = xdp_program__name(p);
  }
  return st;
}

Result<void> reattach(int progFd, int ifindex, AttachMode mode) {
  quietLibs();
  int fd = ::dup(progFd);  // the xdp_program owns (and closes) its fd
  if (fd < 0) return fail(errno, "dup");
  xdp_program* prog = xdp_program__from_fd(fd);
  if (long err = libxdp_get_error(prog); err || !prog) {
    ::close(fd);
    return xlb::unexpected(sysError(err ? -static_cast<int>(err) : EINVAL, "cannot prepare XDP program"));
  }
  std::unique_ptr<xdp_program, void (*)(xdp_program*)> guard(prog, xdp_program__close);
  if (int rc = xdp_program__attach(prog, ifindex, toXdpMode(mode), 0); rc != 0)
    return xlb::unexpected(sysError(-rc, "cannot attach XDP program again"));
  return {};
}

const char* decapReasonName(uint32_t r) {
  static const char* names[XLB_DCP_MAX] = {
#define XLB_DCP_REASON_NAME(id, name, doc) #name,
      XLB_DCP_REASONS(XLB_DCP_REASON_NAME)
#undef XLB_DCP_REASON_NAME
  };
  return r < XLB_DCP_MAX ? names[r] : "unknown";
}

Result<DecapStatus> decapStatus(const std::string& pinDir) {
  quietLibs();
  DecapStatus st;
  int vfd = bpf_obj_get((pinDir + "/xlb_dcp_vips").c_str());
  if (vfd < 0) {
    if (errno == ENOENT)
      return fail(0, "xlb_decap is not attached with pin path " + pinDir + " (run: xlbctl decap attach IFACE)");
    return xlb::unexpected(sysError(errno, "cannot open " + pinDir + "/xlb_dcp_vips"));
  }
  Fd vips(vfd);
  xlb_addr_key k{}, next{};
  const xlb_addr_key* prev = nullptr;
  while (bpf_map_get_next_key(vips.get(), prev, &next) == 0) {
    st.vips.push_back(IpAddr::fromAbi(next.addr, static_cast<uint8_t>(next.family)));
    k = next;
    prev = &k;
  }
  int sfd = bpf_obj_get((pinDir + "/xlb_dcp_stats").c_str());
  if (sfd < 0) return xlb::unexpected(sysError(errno, "cannot open " + pinDir + "/xlb_dcp_stats"));
  Fd stats(sfd);
  std::vector<xlb_counter> per(libbpf_num_possible_cpus());
  for (uint32_t r = 0; r < XLB_DCP_MAX; ++r) {
    xlb_counter sum{};
    if (bpf_map_lookup_elem(stats.get(), &r, per.data()) == 0)
      for (const auto& c : per) sum.packets += c.packets, sum.bytes += c.bytes;
    st.reasons.push_back(sum);
  }
  uint32_t mine = pinnedMapId(pinDir + "/xlb_dcp_vips");
  if (struct if_nameindex* ifs = if_nameindex()) {
    for (auto* i = ifs; i->if_index; ++i)
      if (holderOf(static_cast<int>(i->if_index), "xlb_decap", mine).ours) st.interfaces.push_back(i->if_name);
    if_freenameindex(ifs);
  }
  return st;
}

}  // namespace xlb
