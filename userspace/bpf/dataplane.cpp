// SPDX-License-Identifier: Apache-2.0
#include "xlb/dataplane.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <set>

#include "xlb/forwarding.h"
#include "xlb/hash.h"
#include "xlb/loader.h"
#include "xlb/maglev.h"

namespace xlb {

const char* reasonName(uint32_t r) {
  static const char* names[XLB_R_MAX] = {
#define XLB_REASON_NAME(id, name, doc) #name,
      XLB_REASONS(XLB_REASON_NAME)
#undef XLB_REASON_NAME
  };
  return r < XLB_R_MAX ? names[r] : "unknown";
}

const char* reasonHelp(uint32_t r) {
  static const char* docs[XLB_R_MAX] = {
#define XLB_REASON_DOC(id, name, doc) doc,
      XLB_REASONS(XLB_REASON_DOC)
#undef XLB_REASON_DOC
  };
  return r < XLB_R_MAX ? docs[r] : "";
}

namespace {

Result<Fd> openPinned(const std::string& dir, const char* name) {
  std::string path = dir + "/" + name;
  int fd = bpf_obj_get(path.c_str());
  if (fd < 0) {
    int e = errno;
    if (e == ENOENT)
      return fail(0, "xlb is not attached with pin path " + dir +
                         " (run: xlbctl attach IFACE" +
                         (dir == kDefaultPinDir ? std::string() : " --pin-path " + dir) + ")");
    if (e == EPERM || e == EACCES)
      return fail(e, "cannot open " + path + ": needs root (CAP_BPF and CAP_NET_ADMIN)");
    return fail(e, "cannot open " + path);
  }
  return Fd(fd);
}

// A ring half as the data plane stores it (abi.h): chunks of 16-bit ids
// and their moved bits.
std::vector<xlb_ring_chunk> toChunks(const std::vector<uint32_t>& ring) {
  std::vector<xlb_ring_chunk> out(xlb_ring_chunks(ring.size()), xlb_ring_chunk{});
  for (size_t i = 0; i < ring.size(); ++i) {
    xlb_ring_chunk& c = out[i / XLB_RING_CHUNK];
    size_t lane = i % XLB_RING_CHUNK;
    c.id[lane] = static_cast<uint16_t>(ringId(ring[i]));  // ids < max_backends <= 65536
    if (ring[i] & kRingMoved) c.moved |= 1u << lane;
  }
  return out;
}

uint32_t ringEntry(const xlb_ring_chunk& c, size_t lane) {
  return c.id[lane] | ((c.moved >> lane) & 1u ? kRingMoved : 0);
}

int numCpus() {
  static int n = libbpf_num_possible_cpus();
  return n;
}

template <class K, class V>
Result<void> update(const Fd& fd, const K& k, const V& v, uint64_t flags, const char* what) {
  if (bpf_map_update_elem(fd.get(), &k, &v, flags) != 0) return fail(errno, what);
  return {};
}

}  // namespace

Result<Dataplane> Dataplane::open(const std::string& pinDir) {
  Dataplane d;
  d.pinDir_ = pinDir;
  for (auto& [name, fd] : d.maps()) {
    auto f = openPinned(pinDir, name);
    if (!f) return xlb::unexpected(f.error());
    *fd = std::move(*f);
  }
  uint32_t zero = 0;
  if (bpf_map_lookup_elem(d.meta_fd_.get(), &zero, &d.meta_) != 0)
    return fail(errno, "cannot read " + pinDir + "/xlb_meta");
  if (d.meta_.magic != XLB_META_MAGIC || d.meta_.abi_version != XLB_ABI_VERSION)
    return fail(0, "the maps under " + pinDir + " were made by another xlb version (abi " +
                       std::to_string(d.meta_.abi_version) + ", this is " +
                       std::to_string(XLB_ABI_VERSION) + "): detach and attach again");
  auto ft = FlowTable::map(d.flows4_.get(), d.flows6_.get());
  if (!ft) return xlb::unexpected(ft.error());
  d.flows_ = std::move(*ft);
  // Rings are written through a shared mapping: a 65537-slot half is a
  // copy of 2185 chunks, not as many element updates.
  size_t len = size_t{d.meta_.max_vips} * 2 * xlb_ring_chunks(d.meta_.ring_size) * sizeof(xlb_ring_chunk);
  long page = sysconf(_SC_PAGESIZE);
  len = (len + page - 1) / page * page;
  void* mem = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, d.rings_.get(), 0);
  if (mem != MAP_FAILED)
    d.ringMem_ = std::shared_ptr<xlb_ring_chunk>(static_cast<xlb_ring_chunk*>(mem),
                                                 [len](xlb_ring_chunk* p) { munmap(p, len); });
  return d;
}

Result<Fd> Dataplane::lock() const {
  int fd = ::open(pinDir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return fail(errno, "cannot open " + pinDir_);
  Fd f(fd);
  if (flock(f.get(), LOCK_EX) != 0) return fail(errno, "cannot lock " + pinDir_);
  return f;
}

Result<std::vector<VipInfo>> Dataplane::vips() const {
  std::vector<VipInfo> out;
  xlb_vip_key k{}, next{};
  const xlb_vip_key* prev = nullptr;
  while (bpf_map_get_next_key(vips_.get(), prev, &next) == 0) {
    xlb_vip v{};
    if (bpf_map_lookup_elem(vips_.get(), &next, &v) == 0)
      out.push_back(VipInfo{VipKey::fromAbi(next), v.id, v.forward, v.ring_sel, v.flags});
    k = next;
    prev = &k;
  }
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.id < b.id; });
  return out;
}

Result<VipInfo> Dataplane::vip(const VipKey& key) const {
  auto k = key.toAbi();
  xlb_vip v{};
  if (bpf_map_lookup_elem(vips_.get(), &k, &v) != 0)
    return fail(0, "no such VIP " + key.str() + " (see: xlbctl vip list)");
  return VipInfo{key, v.id, v.forward, v.ring_sel, v.flags};
}

// A VIP is written to xlb_vips (userspace's record) and to xlb_vip_table
// (what the data plane reads). A new key is indexed before it is recorded,
// so that a VIP in xlb_vips is always one the data plane finds.
Result<void> Dataplane::putVip(const xlb_vip_key& k, const xlb_vip& v, uint64_t flags, const char* what) {
  xlb_vip was{};
  bool existed = bpf_map_lookup_elem(vips_.get(), &k, &was) == 0;
  if (auto r = indexVip(k, &v); !r) return r;
  if (bpf_map_update_elem(vips_.get(), &k, &v, flags) != 0) {
    int e = errno;
    indexVip(k, existed ? &was : nullptr);  // the index goes back to what xlb_vips says
    return fail(e, what);
  }
  return {};
}

Result<void> Dataplane::dropVip(const xlb_vip_key& k) {
  if (bpf_map_delete_elem(vips_.get(), &k) != 0) return fail(errno, "cannot delete VIP");
  return indexVip(k, nullptr);
}

Result<void> Dataplane::indexVip(const xlb_vip_key& k, const xlb_vip* v) {
  uint32_t slots = vipSlots(meta_.max_vips), mask = slots - 1;
  uint32_t h = xlb_vip_hash(&k.addr, k.port, k.proto, k.family, mask);
  auto read = [&](uint32_t i, xlb_vip_slot* s) -> Result<void> {
    if (bpf_map_lookup_elem(vipTable_.get(), &i, s) != 0) return fail(errno, "cannot read the VIP index");
    return {};
  };
  auto write = [&](uint32_t i, const xlb_vip_slot& s) -> Result<void> {
    return update(vipTable_, i, s, BPF_ANY, "cannot write the VIP index");
  };
  std::optional<uint32_t> room;
  for (uint32_t n = 0; n < XLB_VIP_PROBES; ++n) {
    uint32_t i = (h + n) & mask;
    xlb_vip_slot s{};
    if (auto r = read(i, &s); !r) return r;
    if (s.key.family == k.family && std::memcmp(&s.key, &k, sizeof k) == 0) {
      if (v) {
        s.vip = *v;  // in place: the bytes that change (ring_sel, forward) are whole
        return write(i, s);
      }
      s.key.family = XLB_VIP_DEAD;
      if (auto r = write(i, s); !r) return r;
      // A run of dead slots before an empty one is empty: no lookup needs
      // to step over it.
      xlb_vip_slot after{};
      if (auto r = read((i + 1) & mask, &after); !r) return r;
      if (after.key.family != 0) return {};
      for (uint32_t j = i;; j = (j - 1) & mask) {
        xlb_vip_slot d{};
        if (auto r = read(j, &d); !r) return r;
        if (d.key.family != XLB_VIP_DEAD) return {};
        if (auto r = write(j, xlb_vip_slot{}); !r) return r;
      }
    }
    if ((s.key.family == 0 || s.key.family == XLB_VIP_DEAD) && !room) room = i;
    if (s.key.family == 0) break;  // a key is never past an empty slot
  }
  if (!v) return {};
  if (!room)
    return fail(ENOSPC, "the VIP index has no free slot near " + VipKey::fromAbi(k).str() +
                            ": detach and attach with a larger --max-vips");
  // Dead first (lookups step over it), then live: the data plane never
  // matches a half-written key.
  xlb_vip_slot s{k, *v};
  s.key.family = XLB_VIP_DEAD;
  if (auto r = write(*room, s); !r) return r;
  s.key.family = k.family;
  return write(*room, s);
}

// xlb_vip_addrs counts the VIPs on an address (and above XLB_ADDR_L7_SHIFT
// the HTTP ones); the entry goes when the count does.
Result<void> Dataplane::countVipAddress(const IpAddr& addr, bool l7, int delta) {
  auto ak = addr.toKey();
  uint32_t refs = 0;
  bool had = bpf_map_lookup_elem(vipAddrs_.get(), &ak, &refs) == 0;
  if (delta < 0 && !had) return {};
  uint32_t step = 1 + (l7 ? 1u << XLB_ADDR_L7_SHIFT : 0);
  refs = delta > 0 ? refs + step : refs - step;
  if ((refs & ((1u << XLB_ADDR_L7_SHIFT) - 1)) == 0) {
    bpf_map_delete_elem(vipAddrs_.get(), &ak);
    return {};
  }
  return update(vipAddrs_, ak, refs, BPF_ANY, "cannot update VIP address");
}

Result<void> Dataplane::zeroStats(int fd, uint32_t id) {
  std::vector<xlb_lb_stats> zero(numCpus());
  if (bpf_map_update_elem(fd, &id, zero.data(), BPF_ANY) != 0)
    return fail(errno, "cannot reset counters");
  return {};
}

Result<void> Dataplane::writeRingHalf(uint32_t vipId, uint32_t half,
                                      const std::vector<uint32_t>& ring) {
  auto chunks = toChunks(ring);
  uint32_t base = (vipId * 2 + half) * xlb_ring_chunks(meta_.ring_size);
  if (ringMem_) {
    // The data plane reads the other half until the flip, a map update
    // (a syscall: every store here is visible before it).
    std::memcpy(ringMem_.get() + base, chunks.data(), chunks.size() * sizeof(xlb_ring_chunk));
    return {};
  }
  std::vector<uint32_t> keys(chunks.size());
  for (uint32_t i = 0; i < chunks.size(); ++i) keys[i] = base + i;
  uint32_t count = chunks.size();
  LIBBPF_OPTS(bpf_map_batch_opts, opts);
  if (bpf_map_update_batch(rings_.get(), keys.data(), chunks.data(), &count, &opts) == 0 &&
      count == chunks.size())
    return {};
  // Older kernels without batch ops on arrays: one element at a time.
  for (uint32_t i = 0; i < chunks.size(); ++i)
    if (bpf_map_update_elem(rings_.get(), &keys[i], &chunks[i], BPF_ANY) != 0)
      return fail(errno, "cannot write ring");
  return {};
}

Result<std::vector<uint32_t>> Dataplane::ring(const VipInfo& vip) const {
  auto ring = ringEntries(vip);
  if (ring)
    for (auto& e : *ring) e = ringId(e);
  return ring;
}

Result<std::vector<uint32_t>> Dataplane::ringEntries(const VipInfo& vip) const {
  uint32_t n = xlb_ring_chunks(meta_.ring_size);
  uint32_t base = (vip.id * 2 + (vip.ringSel & 1)) * n;
  std::vector<xlb_ring_chunk> chunks(n);
  if (ringMem_) {
    std::memcpy(chunks.data(), ringMem_.get() + base, n * sizeof(xlb_ring_chunk));
  } else {
    for (uint32_t i = 0; i < n; ++i) {
      uint32_t k = base + i;
      if (bpf_map_lookup_elem(rings_.get(), &k, &chunks[i]) != 0) return fail(errno, "cannot read ring");
    }
  }
  std::vector<uint32_t> ring(meta_.ring_size);
  for (size_t i = 0; i < ring.size(); ++i) ring[i] = ringEntry(chunks[i / XLB_RING_CHUNK], i % XLB_RING_CHUNK);
  return ring;
}

Result<std::vector<xlb_backend>> Dataplane::backendSlots() const {
  // The whole array in one syscall where the kernel has batch ops.
  std::vector<xlb_backend> slots(meta_.max_backends);
  std::vector<uint32_t> keys(meta_.max_backends);
  uint32_t count = meta_.max_backends, token = 0;
  LIBBPF_OPTS(bpf_map_batch_opts, opts);
  int rc = bpf_map_lookup_batch(backends_.get(), nullptr, &token, keys.data(), slots.data(), &count, &opts);
  if ((rc == 0 || errno == ENOENT) && count == meta_.max_backends) return slots;
  for (uint32_t id = 0; id < meta_.max_backends; ++id)
    if (bpf_map_lookup_elem(backends_.get(), &id, &slots[id]) != 0) return fail(errno, "cannot read backends");
  return slots;
}

Result<std::vector<BackendInfo>> Dataplane::backends() const {
  auto slots = backendSlots();
  if (!slots) return xlb::unexpected(slots.error());
  std::vector<BackendInfo> out;
  for (uint32_t id = 1; id < meta_.max_backends; ++id) {
    const auto& b = (*slots)[id];
    if (b.flags & XLB_BE_IN_USE) {
      out.push_back({id, IpAddr::fromAbi(b.addr, b.family), b.vip_id, b.weight, b.gen,
                     (b.flags & XLB_BE_DOWN) != 0});
      xlb_nexthops nh{};
      if (bpf_map_lookup_elem(nexthops_.get(), &id, &nh) == 0) out.back().nexthop = nh.nh[b.nh_sel & 1];
    }
  }
  return out;
}

Result<void> Dataplane::rebuildRing(const VipInfo& vip) {
  auto all = backends();
  if (!all) return xlb::unexpected(all.error());
  std::vector<MaglevBackend> mb;
  for (const auto& b : *all)
    if (b.vipId == vip.id && !b.down) mb.push_back({b.id, b.addr, b.weight});
  auto ring = maglevRing(mb, meta_.ring_size);
  // A slot whose backend changes may have flows that must stay where they
  // are: marked, so that the data plane consults the flow table there (and
  // stays marked until clearMovedSlots finds no such flow left).
  auto live = ringEntries(vip);
  if (!live) return xlb::unexpected(live.error());
  // Changes to and from "none" count too: with every backend drained the
  // ring is empty, and their flows must still find them through the table.
  for (size_t i = 0; i < ring.size(); ++i) {
    uint32_t was = (*live)[i];
    if (ringId(was) != ring[i] || (was & kRingMoved)) ring[i] |= kRingMoved;
  }
  uint32_t next = (vip.ringSel & 1) ^ 1;
  if (auto r = writeRingHalf(vip.id, next, ring); !r) return r;
  // The flip: one map update switches the data plane to the new half.
  auto k = vip.key.toAbi();
  xlb_vip v{};
  v.id = vip.id;
  v.forward = vip.forward;
  v.ring_sel = next;
  v.flags = vip.flags;
  return putVip(k, v, BPF_EXIST, "cannot flip ring");
}

Result<VipInfo> Dataplane::addVip(const VipKey& key, uint8_t forward) {
  auto lk = lock();
  if (!lk) return xlb::unexpected(lk.error());
  return addVipLocked(key, forward);
}

Result<VipInfo> Dataplane::addVipLocked(const VipKey& key, uint8_t forward, uint32_t flags) {
  if (auto why = key.ep.addr.unusableReason(); !why.empty())
    return fail(EINVAL, "VIP " + key.ep.addr.str() + ": " + why);
  if (forward != XLB_FWD_L2DSR && forward != XLB_FWD_IPIP) return fail(EINVAL, "unknown forwarding mode");
  auto all = vips();
  if (!all) return xlb::unexpected(all.error());
  std::set<uint32_t> used;
  for (const auto& v : *all) {
    if (v.key == key) return fail(EEXIST, "VIP " + key.str() + " exists (delete it first: xlbctl vip del)");
    used.insert(v.id);
  }
  uint32_t id = 0;
  while (used.count(id)) ++id;
  if (id >= meta_.max_vips)
    return fail(ENOSPC, "VIP table is full (" + std::to_string(meta_.max_vips) +
                            "): detach and attach with a larger --max-vips");
  std::vector<uint32_t> empty(meta_.ring_size, XLB_BACKEND_NONE);
  for (uint32_t half = 0; half < 2; ++half)
    if (auto r = writeRingHalf(id, half, empty); !r) return xlb::unexpected(r.error());
  if (auto r = zeroStats(vipStats_.get(), id); !r) return xlb::unexpected(r.error());

  bool l7 = flags & XLB_VIP_F_L7;
  if (auto r = countVipAddress(key.ep.addr, l7, +1); !r) return xlb::unexpected(r.error());
  xlb_vip v{};
  v.id = id;
  v.forward = forward;
  v.flags = flags;
  auto k = key.toAbi();
  if (auto r = putVip(k, v, BPF_NOEXIST, "cannot add VIP"); !r) {
    countVipAddress(key.ep.addr, l7, -1);  // not added: the address keeps the count it had
    return xlb::unexpected(r.error());
  }
  return VipInfo{key, id, forward, 0, flags};
}

// The 5-tuple of a recorded flow: its slot gives the source, its VIP the
// rest.
static xlb_flow_key flowKey(const FlowSlot& f, const VipInfo& v) {
  auto vk = v.key.toAbi();
  xlb_flow_key k{};
  k.src = f.src;
  k.dst = vk.addr;
  k.sport = f.sport;
  k.dport = vk.port;
  k.proto = vk.proto;
  k.family = vk.family;
  return k;
}

static bool sameGen(uint32_t backendGen, uint16_t flowGen) { return uint16_t(backendGen) == flowGen; }

Result<void> Dataplane::delVip(const VipKey& key) {
  auto lk = lock();
  if (!lk) return xlb::unexpected(lk.error());
  return delVipLocked(key);
}

Result<VipInfo> Dataplane::setL7Vip(const VipKey& key) {
  auto lk = lock();
  if (!lk) return xlb::unexpected(lk.error());
  if (auto v = vip(key)) {
    if (v->l7()) return v;
    if (auto r = delVipLocked(key); !r) return xlb::unexpected(r.error());
  }
  return addVipLocked(key, XLB_FWD_L2DSR, XLB_VIP_F_L7);
}

Result<void> Dataplane::delVipLocked(const VipKey& key) {
  auto v = vip(key);
  if (!v) return xlb::unexpected(v.error());
  auto k = key.toAbi();
  if (auto r = dropVip(k); !r) return r;
  auto all = backends();
  if (!all) return xlb::unexpected(all.error());
  for (const auto& b : *all) {
    if (b.vipId != v->id) continue;
    xlb_backend be{};
    be.gen = b.gen;
    if (auto r = update(backends_, b.id, be, BPF_ANY, "cannot delete backend"); !r) return r;
  }
  if (auto r = countVipAddress(key.ep.addr, v->l7(), -1); !r) return r;
  std::vector<uint32_t> empty(meta_.ring_size, XLB_BACKEND_NONE);
  for (uint32_t half = 0; half < 2; ++half)
    if (auto r = writeRingHalf(v->id, half, empty); !r) return r;
  flows_.eraseIf([&](const FlowSlot& f) { return f.vipId == v->id; });
  return {};
}

static Result<void> checkWeight(uint32_t w) {
  if (w > kMaxWeight) return fail(EINVAL, "weight " + std::to_string(w) + " is above the maximum " + std::to_string(kMaxWeight));
  return {};
}

static Result<void> checkFamilies(const VipInfo& v, const IpAddr& be) {
  if (auto why = be.unusableReason(); !why.empty()) return fail(EINVAL, "backend " + be.str() + ": " + why);
  if (v.forward == XLB_FWD_L2DSR && v.key.ep.addr.family != be.family)
    return fail(0, "backend " + be.str() + " is not of the VIP's address family (l2dsr keeps the packet as it is; use --forward ipip for IPv4-in-IPv6)");
  if (v.forward == XLB_FWD_IPIP && !v.key.ep.addr.isV4() && be.isV4())
    return fail(0, "an IPv6 VIP cannot be tunnelled to an IPv4 backend " + be.str());
  return {};
}

Result<BackendInfo> Dataplane::addBackend(const VipKey& vk, const IpAddr& addr, uint32_t weight,
                                          NeighbourKeeper* neigh) {
  auto lk = lock();
  if (!lk) return xlb::unexpected(lk.error());
  auto v = vip(vk);
  if (!v) return xlb::unexpected(v.error());
  if (v->l7()) return fail(EINVAL, vk.str() + " is an HTTP VIP: xlbd's proxy serves it, its backends are in xlbd's config");
  if (auto r = checkFamilies(*v, addr); !r) return xlb::unexpected(r.error());
  if (auto r = checkWeight(weight); !r) return xlb::unexpected(r.error());
  uint32_t freeId = 0;
  xlb_backend slot{};
  auto slots = backendSlots();
  if (!slots) return xlb::unexpected(slots.error());
  for (uint32_t id = 1; id < meta_.max_backends; ++id) {
    const xlb_backend& b = (*slots)[id];
    if (b.flags & XLB_BE_IN_USE) {
      if (b.vip_id == v->id && IpAddr::fromAbi(b.addr, b.family) == addr)
        return fail(EEXIST, "backend " + addr.str() + " is already in " + vk.str() +
                                " (change its weight with: xlbctl backend set)");
    } else if (!freeId) {
      freeId = id;
      slot = b;
    }
  }
  if (!freeId)
    return fail(ENOSPC, "backend table is full (" + std::to_string(meta_.max_backends - 1) +
                            "): detach and attach with a larger --max-backends");
  std::string warning;
  if (neigh) {
    // Resolve before the backend can be picked, so its first packets find
    // the neighbour entry; a failure is reported but does not block.
    if (auto r = neigh->keep(addr); !r) warning = r.error().describe();
  }
  auto b = writeNewBackend(freeId, slot.gen, v->id, addr, weight, false);
  if (!b) return xlb::unexpected(b.error());
  if (auto r = rebuildRing(*v); !r) return xlb::unexpected(r.error());
  b->warning = warning;
  return b;
}

Result<BackendInfo> Dataplane::writeNewBackend(uint32_t id, uint32_t oldGen, uint32_t vipId,
                                               const IpAddr& addr, uint32_t weight, bool down) {
  if (auto r = zeroStats(beStats_.get(), id); !r) return xlb::unexpected(r.error());
  // A reused slot must not inherit its previous backend's next hop: none
  // until it is resolved (bpf_fib_lookup meanwhile).
  xlb_nexthops none{};
  if (auto r = update(nexthops_, id, none, BPF_ANY, "cannot clear the next hop"); !r)
    return xlb::unexpected(r.error());
  xlb_backend b{};
  b.addr = addr.toAbi();
  b.family = addr.family;
  b.vip_id = vipId;
  b.weight = weight;
  b.gen = oldGen + 1;
  b.flags = XLB_BE_IN_USE | (down ? XLB_BE_DOWN : 0);
  if (auto r = update(backends_, id, b, BPF_ANY, "cannot add backend"); !r)
    return xlb::unexpected(r.error());
  return BackendInfo{id, addr, vipId, weight, b.gen, down};
}

Result<SyncResult> Dataplane::syncVip(const VipKey& vk, uint8_t forward,
                                      std::span<const DesiredBackend> desired, NeighbourKeeper* neigh) {
  auto lk = lock();
  if (!lk) return xlb::unexpected(lk.error());
  SyncResult res;
  auto v = vip(vk);
  if (v && v->l7()) {  // was an HTTP VIP: an l4 one now
    if (auto r = delVipLocked(vk); !r) return xlb::unexpected(r.error());
    v = vip(vk);
  }
  if (!v) {
    v = addVipLocked(vk, forward);
    if (!v) return xlb::unexpected(v.error());
    res.vipAdded = true;
  } else if (v->forward != forward) {
    auto k = vk.toAbi();
    xlb_vip x{};
    x.id = v->id;
    x.forward = forward;
    x.ring_sel = v->ringSel;
    x.flags = v->flags;
    if (auto r = putVip(k, x, BPF_EXIST, "cannot change forwarding"); !r) return xlb::unexpected(r.error());
    v->forward = forward;
    res.forwardChanged = true;
  }
  for (const auto& d : desired) {
    if (auto r = checkFamilies(*v, d.addr); !r) return xlb::unexpected(r.error());
    if (auto r = checkWeight(d.weight); !r) return xlb::unexpected(r.error());
  }

  // One pass over the backend table: this VIP's backends and the free slots.
  std::vector<BackendInfo> mine;
  std::vector<std::pair<uint32_t, uint32_t>> freeSlots;  // id, gen
  auto slots = backendSlots();
  if (!slots) return xlb::unexpected(slots.error());
  for (uint32_t id = 1; id < meta_.max_backends; ++id) {
    const xlb_backend& b = (*slots)[id];
    if (!(b.flags & XLB_BE_IN_USE))
      freeSlots.push_back({id, b.gen});
    else if (b.vip_id == v->id)
      mine.push_back({id, IpAddr::fromAbi(b.addr, b.family), b.vip_id, b.weight, b.gen,
                      (b.flags & XLB_BE_DOWN) != 0});
  }
  res.plan = planBackends(mine, desired);
  const auto& plan = res.plan;
  if (plan.add.size() > freeSlots.size() + plan.remove.size())
    return fail(ENOSPC, "backend table is full (" + std::to_string(meta_.max_backends - 1) +
                            "): detach and attach with a larger max_backends");

  for (uint32_t id : plan.remove) {
    xlb_backend be{};
    bpf_map_lookup_elem(backends_.get(), &id, &be);
    xlb_backend gone{};
    gone.gen = be.gen;
    if (auto r = update(backends_, id, gone, BPF_ANY, "cannot delete backend"); !r) return xlb::unexpected(r.error());
    freeSlots.push_back({id, be.gen});
  }
  for (const auto& c : plan.change) {
    xlb_backend be{};
    if (bpf_map_lookup_elem(backends_.get(), &c.id, &be) != 0) return fail(errno, "cannot read backends");
    be.weight = c.weight;
    be.flags = XLB_BE_IN_USE | (c.down ? XLB_BE_DOWN : 0);
    if (auto r = update(backends_, c.id, be, BPF_ANY, "cannot update backend"); !r) return xlb::unexpected(r.error());
  }
  size_t next = 0;
  for (const auto& a : plan.add) {
    if (neigh)
      if (auto r = neigh->keep(a.addr); !r) res.warnings.push_back(r.error().describe());
    auto [id, gen] = freeSlots[next++];
    auto b = writeNewBackend(id, gen, v->id, a.addr, a.weight, a.down);
    if (!b) return xlb::unexpected(b.error());
  }
  if (plan.ringChanged || res.vipAdded) {
    if (auto r = rebuildRing(*v); !r) return xlb::unexpected(r.error());
    res.ringFlipped = true;
  }
  if (!plan.dropFlowsOf.empty()) {
    // By id and the generation it had before this call: a removed backend's
    // slot may already hold a new backend, whose fresh flows stay.
    res.flowsRemoved = flows_.eraseIf([&](const FlowSlot& f) {
      uint32_t id = f.v.backend_id;
      return id < slots->size() && sameGen((*slots)[id].gen, f.v.gen) &&
             std::find(plan.dropFlowsOf.begin(), plan.dropFlowsOf.end(), id) != plan.dropFlowsOf.end();
    });
  }
  return res;
}

Result<BackendInfo> Dataplane::setWeight(const VipKey& vk, const IpAddr& addr, uint32_t weight) {
  if (auto r = checkWeight(weight); !r) return xlb::unexpected(r.error());
  auto lk = lock();
  if (!lk) return xlb::unexpected(lk.error());
  auto v = vip(vk);
  if (!v) return xlb::unexpected(v.error());
  auto all = backends();
  if (!all) return xlb::unexpected(all.error());
  for (auto b : *all) {
    if (b.vipId != v->id || b.addr != addr) continue;
    xlb_backend be{};
    bpf_map_lookup_elem(backends_.get(), &b.id, &be);
    be.weight = weight;
    if (auto r = update(backends_, b.id, be, BPF_ANY, "cannot set weight"); !r)
      return xlb::unexpected(r.error());
    if (auto r = rebuildRing(*v); !r) return xlb::unexpected(r.error());
    b.weight = weight;
    return b;
  }
  return fail(ENOENT, "no backend " + addr.str() + " in " + vk.str() + " (see: xlbctl vip list)");
}

Result<void> Dataplane::delBackend(const VipKey& vk, const IpAddr& addr) {
  auto lk = lock();
  if (!lk) return xlb::unexpected(lk.error());
  auto v = vip(vk);
  if (!v) return xlb::unexpected(v.error());
  auto all = backends();
  if (!all) return xlb::unexpected(all.error());
  for (const auto& b : *all) {
    if (b.vipId != v->id || b.addr != addr) continue;
    xlb_backend be{};
    be.gen = b.gen;  // keep the generation: a reused slot must differ from it
    if (auto r = update(backends_, b.id, be, BPF_ANY, "cannot delete backend"); !r) return r;
    if (auto r = rebuildRing(*v); !r) return r;
    // Its flows would be re-balanced on their next packet anyway; removing
    // them now frees the table.
    flows_.eraseIf([&](const FlowSlot& f) { return f.v.backend_id == b.id; });
    return {};
  }
  return fail(ENOENT, "no backend " + addr.str() + " in " + vk.str() + " (see: xlbctl vip list)");
}

std::vector<std::pair<const char*, Fd*>> Dataplane::maps() {
  return {{"xlb_meta", &meta_fd_},       {"xlb_vips", &vips_},         {"xlb_vip_table", &vipTable_},
          {"xlb_vip_addrs", &vipAddrs_},
          {"xlb_backends", &backends_},  {"xlb_rings", &rings_},       {"xlb_flows4", &flows4_},
          {"xlb_flows6", &flows6_},
          {"xlb_reasons", &reasons_},    {"xlb_vip_stats", &vipStats_}, {"xlb_be_stats", &beStats_},
          {"xlb_tx_ports", &txPorts_},   {"xlb_nexthops", &nexthops_}, {"xlb_events", &events_}};
}

uint32_t Dataplane::vipsMapId() const { return objectId(vipTable_.get()); }

Result<std::vector<std::string>> Dataplane::repin() {
  std::vector<std::string> done;
  std::error_code ec;
  std::filesystem::create_directories(pinDir_, ec);
  for (const auto& [name, fd] : maps()) {
    std::string path = pinDir_ + "/" + name;
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) continue;
    if (bpf_obj_pin(fd->get(), path.c_str()) != 0) return fail(errno, "cannot pin " + path);
    done.push_back(name);
  }
  return done;
}

Result<void> Dataplane::addTxPort(int ifindex) {
  uint32_t ifx = static_cast<uint32_t>(ifindex);
  return update(txPorts_, ifx, ifx, BPF_ANY, "cannot add the interface to xlb_tx_ports");
}

Result<std::vector<std::string>> Dataplane::interfaces() const {
  std::vector<std::string> out;
  uint32_t key = 0, next = 0;
  const uint32_t* prev = nullptr;
  while (bpf_map_get_next_key(txPorts_.get(), prev, &next) == 0) {
    char name[IF_NAMESIZE] = {};
    if (if_indextoname(next, name)) out.push_back(name);
    key = next;
    prev = &key;
  }
  return out;
}

std::vector<std::string> Dataplane::forwardingProblems(uint8_t family) const {
  std::vector<std::string> out;
  if (auto ifs = interfaces())
    for (const auto& i : *ifs)
      if (auto p = forwardingProblem(i, family); !p.empty()) out.push_back(p);
  return out;
}

Result<Stats> Dataplane::stats() const {
  Stats s;
  int n = numCpus();
  std::vector<xlb_counter> per(n);
  for (uint32_t r = 0; r < XLB_R_MAX; ++r) {
    if (bpf_map_lookup_elem(reasons_.get(), &r, per.data()) != 0) return fail(errno, "cannot read counters");
    xlb_counter sum{};
    for (const auto& c : per) {
      sum.packets += c.packets;
      sum.bytes += c.bytes;
    }
    s.reasons.push_back(sum);
  }
  std::vector<xlb_lb_stats> lb(n);
  auto sumLb = [&](const Fd& fd, uint32_t id) -> Result<LbCounters> {
    if (bpf_map_lookup_elem(fd.get(), &id, lb.data()) != 0) return fail(errno, "cannot read counters");
    LbCounters c;
    for (const auto& x : lb) {
      c.packets += x.packets;
      c.bytes += x.bytes;
      c.newFlows += x.new_flows;
    }
    return c;
  };
  auto vs = vips();
  if (!vs) return xlb::unexpected(vs.error());
  for (const auto& v : *vs) {
    auto c = sumLb(vipStats_, v.id);
    if (!c) return xlb::unexpected(c.error());
    s.vips[v.id] = *c;
  }
  auto bs = backends();
  if (!bs) return xlb::unexpected(bs.error());
  for (const auto& b : *bs) {
    auto c = sumLb(beStats_, b.id);
    if (!c) return xlb::unexpected(c.error());
    s.backends[b.id] = *c;
  }
  auto fb = events(XLB_EV_NH_FALLBACK), ev = events(XLB_EV_FLOW_EVICT);
  if (!fb) return xlb::unexpected(fb.error());
  if (!ev) return xlb::unexpected(ev.error());
  s.nexthopFallbacks = *fb;
  s.flowEvictions = *ev;
  return s;
}

Result<FlowList> Dataplane::flows(size_t limit) const {
  auto vs = vips();
  if (!vs) return xlb::unexpected(vs.error());
  std::map<uint32_t, VipInfo> byId;
  for (const auto& v : *vs) byId.emplace(v.id, v);
  FlowList out;
  flows_.forEach([&](const FlowSlot& f) {
    auto v = byId.find(f.vipId);
    if (v == byId.end()) return true;  // its VIP was just deleted
    if (out.entries.size() < limit) out.entries.push_back({flowKey(f, v->second), f.v});
    ++out.total;
    return true;
  });
  return out;
}

uint32_t flowClockNow() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<uint32_t>(ts.tv_sec);
}

Result<size_t> Dataplane::flushFlows() {
  size_t n = flows_.eraseIf([](const FlowSlot&) { return true; });
  if (auto c = clearMovedSlots(); !c) return xlb::unexpected(c.error());  // no flow left to keep anywhere
  return n;
}

Result<size_t> Dataplane::clearMovedSlots() {
  auto lk = lock();
  if (!lk) return xlb::unexpected(lk.error());
  auto vs = vips();
  if (!vs) return xlb::unexpected(vs.error());
  struct Marked {
    VipInfo vip;
    std::vector<uint32_t> entries;
    std::vector<bool> keep;
  };
  std::map<uint32_t, Marked> marked;  // by VIP id, only VIPs with a moved slot
  for (const auto& v : *vs) {
    if (v.l7()) continue;
    auto e = ringEntries(v);
    if (!e) return xlb::unexpected(e.error());
    if (std::none_of(e->begin(), e->end(), [](uint32_t x) { return x & kRingMoved; })) continue;
    marked[v.id] = Marked{v, std::move(*e), std::vector<bool>(meta_.ring_size, false)};
  }
  if (marked.empty()) return size_t{0};
  auto slots = backendSlots();
  if (!slots) return xlb::unexpected(slots.error());
  // A moved slot stays marked while a recorded flow on it points to another
  // backend that is still configured and not down: that flow must keep it.
  flows_.forEach([&](const FlowSlot& f) {
    auto it = marked.find(f.vipId);
    if (it == marked.end()) return true;
    Marked& m = it->second;
    xlb_flow_key k = flowKey(f, m.vip);
    uint32_t slot = xlb_hash_flow(&k) % meta_.ring_size;
    uint32_t id = f.v.backend_id;
    if (!(m.entries[slot] & kRingMoved) || id >= slots->size()) return true;
    const xlb_backend& b = (*slots)[id];
    bool valid = (b.flags & (XLB_BE_IN_USE | XLB_BE_DOWN)) == XLB_BE_IN_USE && sameGen(b.gen, f.v.gen) &&
                 b.vip_id == m.vip.id;
    if (valid && id != ringId(m.entries[slot])) m.keep[slot] = true;
    return true;
  });
  size_t cleared = 0;
  for (auto& [k, m] : marked) {
    size_t before = cleared;
    for (size_t i = 0; i < m.entries.size(); ++i)
      if ((m.entries[i] & kRingMoved) && !m.keep[i]) {
        m.entries[i] = ringId(m.entries[i]);
        ++cleared;
      }
    if (cleared == before) continue;
    // Like a rebuild: the idle half, then the flip. A flow recorded on a
    // moved slot meanwhile got the ring's backend, which stays.
    uint32_t next = (m.vip.ringSel & 1) ^ 1;
    if (auto w = writeRingHalf(m.vip.id, next, m.entries); !w) return xlb::unexpected(w.error());
    auto vk = m.vip.key.toAbi();
    xlb_vip x{};
    x.id = m.vip.id;
    x.forward = m.vip.forward;
    x.ring_sel = next;
    x.flags = m.vip.flags;
    if (auto u = putVip(vk, x, BPF_EXIST, "cannot flip ring"); !u) return xlb::unexpected(u.error());
  }
  return cleared;
}

Result<Explanation> Dataplane::explain(const xlb_flow_key& key) const {
  VipKey vk{Endpoint{IpAddr::fromAbi(key.dst, key.family), ntohs(key.dport)}, key.proto};
  auto v = vip(vk);
  if (!v) return fail(0, vk.str() + " is not a VIP: the packet passes to the kernel untouched");
  Explanation e;
  e.vip = *v;
  e.hash = xlb_hash_flow(&key);
  e.slot = e.hash % meta_.ring_size;
  auto lookupBackend = [&](uint32_t id) -> std::optional<BackendInfo> {
    xlb_backend b{};
    if (bpf_map_lookup_elem(backends_.get(), &id, &b) != 0 || !(b.flags & XLB_BE_IN_USE))
      return std::nullopt;
    return BackendInfo{id, IpAddr::fromAbi(b.addr, b.family), b.vip_id, b.weight, b.gen,
                       (b.flags & XLB_BE_DOWN) != 0};
  };
  uint32_t idx = (v->id * 2 + (v->ringSel & 1)) * xlb_ring_chunks(meta_.ring_size) + e.slot / XLB_RING_CHUNK;
  xlb_ring_chunk chunk{};
  if (bpf_map_lookup_elem(rings_.get(), &idx, &chunk) != 0) return fail(errno, "cannot read ring");
  uint32_t entry = ringEntry(chunk, e.slot % XLB_RING_CHUNK);
  std::string where = "ring slot " + std::to_string(e.slot) + " of " + std::to_string(meta_.ring_size) +
                      " (ring half " + std::to_string(v->ringSel) + ")";
  e.flow = flows_.find(key, v->id);
  bool haveFlow = e.flow.has_value();
  xlb_flow_val f = e.flow.value_or(xlb_flow_val{});
  // As the data plane: a TCP packet that is not a SYN, on a slot that has
  // not moved since its flows began, goes by the ring alone.
  if (!(entry & kRingMoved) && key.proto == IPPROTO_TCP) {
    e.backend = entry ? lookupBackend(entry) : std::nullopt;
    if (haveFlow) {
      auto b = lookupBackend(f.backend_id);
      e.flowValid = b && !b->down && sameGen(b->gen, f.gen) && b->vipId == v->id;
    }
    e.reason = where + ", unmoved since its flows began: the flow table is not consulted" +
               (e.flowValid ? " (the flow is recorded there too, for later ring changes)" : "");
    if (!e.backend) e.reason += "; the ring is empty, the packet is dropped (drop_no_backend)";
    else e.notes = forwardingProblems(e.backend->addr.family);
    return e;
  }
  if (haveFlow) {
    auto b = lookupBackend(f.backend_id);
    if (b && !b->down && sameGen(b->gen, f.gen) && b->vipId == v->id) {
      e.flowValid = true;
      e.backend = b;
      e.reason = "flow table entry (backend " + std::to_string(f.backend_id) + ")";
      e.notes = forwardingProblems(b->addr.family);
      return e;
    }
  }
  uint32_t id = ringId(entry);
  e.backend = id ? lookupBackend(id) : std::nullopt;
  std::string prefix = e.flow ? "stale flow entry (its backend is gone or down); " : "no flow entry; ";
  e.reason = prefix + where + (entry & kRingMoved ? ", moved" : "");
  if (!e.backend) e.reason += ": the ring is empty, the packet is dropped (drop_no_backend)";
  else e.notes = forwardingProblems(e.backend->addr.family);
  return e;
}

}  // namespace xlb
