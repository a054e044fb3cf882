// SPDX-License-Identifier: Apache-2.0
#include "xlb/flowtable.h"

#include <bpf/bpf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <array>
#include <type_traits>
#include <vector>

#include "xlb/hash.h"

namespace xlb {

namespace {

// Keys are read and cleared whole while the data plane writes slots on
// other CPUs (it stores key 0, the record, then the key).
template <class T>
T loadKey(const T& k) {
  return __atomic_load_n(&k, __ATOMIC_ACQUIRE);
}
template <class T>
void storeKey(T& k, std::type_identity_t<T> v) {
  __atomic_store_n(&k, v, __ATOMIC_RELEASE);
}

Result<std::shared_ptr<void>> mapArray(int fd, size_t valueSize, uint32_t* entries, const char* name) {
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) return fail(errno, std::string("cannot inspect ") + name);
  if (info.value_size != valueSize || !(info.map_flags & BPF_F_MMAPABLE) || info.max_entries == 0 ||
      (info.max_entries & (info.max_entries - 1)))
    return fail(0, std::string(name) + " is not a flow table of this xlb version: detach and attach again");
  size_t bytes = size_t{info.max_entries} * valueSize;
  long page = sysconf(_SC_PAGESIZE);
  bytes = (bytes + page - 1) / page * page;
  void* mem = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (mem == MAP_FAILED) return fail(errno, std::string("cannot map ") + name);
  *entries = info.max_entries;
  return std::shared_ptr<void>(mem, [bytes](void* p) { munmap(p, bytes); });
}

bool sameAddr(const xlb_addr& a, const xlb_addr& b) { return std::memcmp(&a, &b, sizeof a) == 0; }

FlowSlot decode4(uint64_t key, const xlb_flow_val& v) {
  FlowSlot f;
  f.family = XLB_AF_INET;
  f.src.addr[0] = static_cast<uint32_t>(key);
  f.sport = static_cast<uint16_t>(key >> 32);
  f.vipId = static_cast<uint32_t>(key >> 48) - 1;
  f.v = v;
  return f;
}

FlowSlot decode6(uint32_t portVip, const xlb_flow6& s) {
  FlowSlot f;
  f.family = XLB_AF_INET6;
  f.src = s.saddr;
  f.sport = static_cast<uint16_t>(portVip >> 16);
  f.vipId = (portVip & 0xffff) - 1;
  f.v = s.v;
  return f;
}

// Where the data plane records a new flow (bpf/lib/flows.h): a free slot of
// the bucket with the most free slots (the first such), else the slot seen
// longest ago; never a busy one. Null when every slot is busy; *seen is the
// key the slot had when picked.
template <class Slot, class KeyOf, class K>
Slot* victimOf(const std::array<Slot*, XLB_FLOW_CHOICES>& buckets, KeyOf keyOf, K busy, K* seen) {
  Slot *victim = nullptr, *free = nullptr;
  K victimKey = 0;
  int most = 0;
  for (Slot* bucket : buckets) {
    Slot* f = nullptr;
    int n = 0;
    for (int i = 0; i < XLB_FLOW_WAYS; ++i) {
      Slot& s = bucket[i];
      K k = keyOf(s);
      if (!k) {
        ++n;
        f = &s;
      } else if (k != busy && (!victim || s.v.seen < victim->v.seen)) {
        victim = &s;
        victimKey = k;
      }
    }
    if (n > most) {
      most = n;
      free = f;
    }
  }
  *seen = free ? 0 : victimKey;
  return free ? free : victim;
}

// As xlb_flow_write*: claim (the key it was picked with -> busy), record,
// publish the key. False when another writer got there first.
template <class K, class Write>
bool claimAndWrite(K& key, K old, K busy, K now, Write write) {
  if (old == busy || !__atomic_compare_exchange_n(&key, &old, busy, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
    return false;
  write();
  storeKey(key, now);
  return true;
}

}  // namespace

Result<FlowTable> FlowTable::map(int fd4, int fd6) {
  FlowTable t;
  uint32_t n4 = 0, n6 = 0;
  auto m4 = mapArray(fd4, sizeof(xlb_bucket4), &n4, "xlb_flows4");
  if (!m4) return xlb::unexpected(m4.error());
  auto m6 = mapArray(fd6, sizeof(xlb_bucket6), &n6, "xlb_flows6");
  if (!m6) return xlb::unexpected(m6.error());
  if (n4 != n6) return fail(0, "xlb_flows4 and xlb_flows6 differ in size: detach and attach again");
  t.buckets_ = n4;
  t.mem4_ = std::move(*m4);
  t.mem6_ = std::move(*m6);
  return t;
}

void FlowTable::forEach(const std::function<bool(const FlowSlot&)>& visit) const {
  for (uint32_t b = 0; b < buckets_; ++b)
    for (auto& s : b4(b)->slot)
      if (uint64_t key = loadKey(s.key); key && key != XLB_FLOW4_BUSY && !visit(decode4(key, s.v))) return;
  for (uint32_t b = 0; b < buckets_; ++b)
    for (auto& s : b6(b)->slot)
      if (uint32_t pv = loadKey(s.port_vip); pv && pv != XLB_FLOW6_BUSY && !visit(decode6(pv, s))) return;
}

size_t FlowTable::eraseIf(const std::function<bool(const FlowSlot&)>& pred) {
  // Compare-and-clear: a slot the data plane reused meanwhile stays.
  size_t n = 0;
  for (uint32_t b = 0; b < buckets_; ++b)
    for (auto& s : b4(b)->slot)
      if (__u64 key = loadKey(s.key); key && key != XLB_FLOW4_BUSY && pred(decode4(key, s.v)))
        n += __atomic_compare_exchange_n(&s.key, &key, __u64{0}, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
  for (uint32_t b = 0; b < buckets_; ++b)
    for (auto& s : b6(b)->slot)
      if (__u32 pv = loadKey(s.port_vip); pv && pv != XLB_FLOW6_BUSY && pred(decode6(pv, s)))
        n += __atomic_compare_exchange_n(&s.port_vip, &pv, __u32{0}, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
  return n;
}

namespace {

// Flow ages in seconds, one bin each; older flows share the last bin.
constexpr uint32_t kAgeBins = 1u << 16;

uint32_t ageBin(uint32_t now, uint32_t seen) { return std::min<uint32_t>(now > seen ? now - seen : 0, kAgeBins - 1); }

// relieve() for one family's table: a pass counting its flows by age, then,
// if it is over `high`, a pass clearing the oldest. key(slot): the slot's
// key word, busy: its busy mark.
template <class Bucket, class Key, class K>
FlowTable::Relieved relieveFamily(Bucket* t, uint32_t buckets, Key key, K busy, uint32_t now,
                                  const FlowTable::Relief& r) {
  size_t cap = size_t{buckets} * XLB_FLOW_WAYS, used = 0;
  std::vector<uint32_t> byAge(kAgeBins);
  for (uint32_t b = 0; b < buckets; ++b)
    for (auto& s : t[b].slot)
      if (K k = loadKey(key(s)); k && k != busy) {
        ++used;
        ++byAge[ageBin(now, s.v.seen)];
      }
  if (used <= r.high * cap) return {};
  // The youngest age that goes: that of the k-th oldest flow (k brings the
  // table down to `low`), or minIdle if that is younger. Flows of the same
  // second as the k-th go with it.
  size_t k = used - static_cast<size_t>(r.low * cap), acc = 0;
  uint32_t minAge = kAgeBins;
  while (minAge > 0 && acc < k) acc += byAge[--minAge];
  minAge = std::max(minAge, r.minIdle);
  size_t removed = 0;
  for (uint32_t b = 0; b < buckets; ++b)
    for (auto& s : t[b].slot)
      if (K k = loadKey(key(s)); k && k != busy && ageBin(now, s.v.seen) >= minAge)
        removed += __atomic_compare_exchange_n(&key(s), &k, K{0}, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
  return {removed, used - removed > r.high * cap};
}

}  // namespace

FlowTable::Relieved FlowTable::relieve(uint32_t now, const Relief& r) {
  // A sample of buckets first (evenly spread; flows are placed by hash):
  // relieving reads a whole table twice, gigabytes at the largest sizes.
  uint32_t n = std::min<uint32_t>(buckets_, 4096);
  size_t sampled4 = 0, sampled6 = 0;
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t b = static_cast<uint32_t>(uint64_t{i} * buckets_ / n);
    for (const auto& s : b4(b)->slot) sampled4 += loadKey(s.key) != 0;
    for (const auto& s : b6(b)->slot) sampled6 += loadKey(s.port_vip) != 0;
  }
  // 5 points of the sample: many times its error (16384 slots sampled).
  double limit = (r.high - 0.05) * n * XLB_FLOW_WAYS;
  Relieved out;
  auto add = [&](Relieved x) {
    out.removed += x.removed;
    out.stillOver = out.stillOver || x.stillOver;
  };
  if (sampled4 > limit)
    add(relieveFamily(b4(0), buckets_, [](xlb_flow4& s) -> __u64& { return s.key; }, __u64{XLB_FLOW4_BUSY}, now, r));
  if (sampled6 > limit)
    add(relieveFamily(b6(0), buckets_, [](xlb_flow6& s) -> __u32& { return s.port_vip; }, __u32{XLB_FLOW6_BUSY}, now, r));
  return out;
}

std::array<uint32_t, XLB_FLOW_CHOICES> FlowTable::bucketsOf(const xlb_flow_key& k) const {
  std::array<uint32_t, XLB_FLOW_CHOICES> out{};
  uint32_t h = xlb_hash_flow(&k);
  for (int j = 0; j < XLB_FLOW_CHOICES; ++j) out[j] = xlb_flow_bucket(h, j, buckets_ - 1);
  return out;
}

void* FlowTable::slotOf(const xlb_flow_key& k, uint32_t vipId, int* choice) const {
  if (!buckets_) return nullptr;
  auto idx = bucketsOf(k);
  for (int j = 0; j < XLB_FLOW_CHOICES; ++j) {
    if (choice) *choice = j;
    if (k.family == XLB_AF_INET) {
      uint64_t key = xlb_flow4_key(k.src.addr[0], k.sport, vipId);
      for (auto& s : b4(idx[j])->slot)
        if (loadKey(s.key) == key) return &s;
    } else {
      uint32_t pv = xlb_flow6_port_vip(k.sport, vipId);
      for (auto& s : b6(idx[j])->slot)
        if (loadKey(s.port_vip) == pv && sameAddr(s.saddr, k.src)) return &s;
    }
  }
  return nullptr;
}

std::optional<int> FlowTable::choiceOf(const xlb_flow_key& k, uint32_t vipId) const {
  int c = 0;
  if (!slotOf(k, vipId, &c)) return std::nullopt;
  return c;
}

std::optional<xlb_flow_val> FlowTable::find(const xlb_flow_key& k, uint32_t vipId) const {
  void* s = slotOf(k, vipId);
  if (!s) return std::nullopt;
  return k.family == XLB_AF_INET ? static_cast<xlb_flow4*>(s)->v : static_cast<xlb_flow6*>(s)->v;
}

bool FlowTable::erase(const xlb_flow_key& k, uint32_t vipId) {
  void* s = slotOf(k, vipId);
  if (!s) return false;
  // Compare-and-clear, from the key it was found by: never a slot a
  // writer has claimed meanwhile.
  if (k.family == XLB_AF_INET) {
    __u64 key = xlb_flow4_key(k.src.addr[0], k.sport, vipId);
    return __atomic_compare_exchange_n(&static_cast<xlb_flow4*>(s)->key, &key, __u64{0}, false, __ATOMIC_ACQ_REL,
                                       __ATOMIC_RELAXED);
  }
  __u32 pv = xlb_flow6_port_vip(k.sport, vipId);
  return __atomic_compare_exchange_n(&static_cast<xlb_flow6*>(s)->port_vip, &pv, __u32{0}, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_RELAXED);
}

void FlowTable::put(const xlb_flow_key& k, uint32_t vipId, const xlb_flow_val& v) {
  if (!buckets_) return;
  auto idx = bucketsOf(k);
  if (k.family == XLB_AF_INET) {
    __u64 key = xlb_flow4_key(k.src.addr[0], k.sport, vipId), old = key;
    auto* s = static_cast<xlb_flow4*>(slotOf(k, vipId));
    if (!s) {
      std::array<xlb_flow4*, XLB_FLOW_CHOICES> bs;
      for (int j = 0; j < XLB_FLOW_CHOICES; ++j) bs[j] = b4(idx[j])->slot;
      s = victimOf(bs, [](const xlb_flow4& x) { return loadKey(x.key); }, XLB_FLOW4_BUSY, &old);
    }
    if (s) claimAndWrite<__u64>(s->key, old, XLB_FLOW4_BUSY, key, [&] { s->v = v; });
    return;
  }
  __u32 pv = xlb_flow6_port_vip(k.sport, vipId), old = pv;
  auto* s = static_cast<xlb_flow6*>(slotOf(k, vipId));
  if (!s) {
    std::array<xlb_flow6*, XLB_FLOW_CHOICES> bs;
    for (int j = 0; j < XLB_FLOW_CHOICES; ++j) bs[j] = b6(idx[j])->slot;
    s = victimOf(bs, [](const xlb_flow6& x) { return loadKey(x.port_vip); }, XLB_FLOW6_BUSY, &old);
  }
  if (s)
    claimAndWrite<__u32>(s->port_vip, old, XLB_FLOW6_BUSY, pv, [&] {
      s->v = v;
      s->saddr = k.src;
    });
}

}  // namespace xlb
