// SPDX-License-Identifier: Apache-2.0
#include "render.h"

#include <net/if.h>

#include <netinet/in.h>

#include <chrono>
#include <cmath>
#include <cstdio>

namespace xlbctl {

using nlohmann::json;
using namespace xlb;

namespace {

const BackendInfo* findBackend(const std::vector<BackendInfo>& bes, uint32_t id) {
  for (const auto& b : bes)
    if (b.id == id) return &b;
  return nullptr;
}

std::string endpointOf(const xlb_addr& a, uint8_t family, uint16_t portBe) {
  return Endpoint{IpAddr::fromAbi(a, family), ntohs(portBe)}.str();
}

LbCounters counters(const std::map<uint32_t, LbCounters>& m, uint32_t id) {
  auto it = m.find(id);
  return it == m.end() ? LbCounters{} : it->second;
}

double perSecond(uint64_t now, uint64_t before, double seconds) {
  return seconds > 0 && now >= before ? static_cast<double>(now - before) / seconds : 0.0;
}

// "12.0 s", "3 min", "2.5 h", "4 d"
std::string ageStr(uint32_t s) {
  char buf[32];
  if (s < 120)
    std::snprintf(buf, sizeof(buf), "%us", s);
  else if (s < 7200)
    std::snprintf(buf, sizeof(buf), "%um", s / 60);
  else if (s < 172800)
    std::snprintf(buf, sizeof(buf), "%.1fh", s / 3600.0);
  else
    std::snprintf(buf, sizeof(buf), "%ud", s / 86400);
  return buf;
}

}  // namespace

std::string si(double v) {
  const char* units[] = {"", "k", "M", "G", "T"};
  int u = 0;
  while (std::fabs(v) >= 1000 && u < 4) v /= 1000, ++u;
  char buf[32];
  std::snprintf(buf, sizeof(buf), u ? "%.2f %s" : "%.0f %s", v, units[u]);
  return buf;
}

std::string flowKeyStr(const xlb_flow_key& k) {
  return endpointOf(k.src, k.family, k.sport) + " -> " + endpointOf(k.dst, k.family, k.dport) + "/" +
         protoName(k.proto);
}

// xlbd's view of one backend (name, health, admin), if it has one.
static const json* daemonView(const json& health, const VipKey& vip, const IpAddr& addr) {
  if (!health.is_array()) return nullptr;
  for (const auto& v : health)
    if (v.value("vip", "") == vip.str())
      for (const auto& b : v["backends"])
        if (b.value("address", "") == addr.str()) return &b;
  return nullptr;
}

json vipsJson(const std::vector<VipInfo>& vips, const std::vector<BackendInfo>& bes, const json& health) {
  json out = json::array();
  for (const auto& v : vips) {
    json b = json::array();
    for (const auto& be : bes)
      if (be.vipId == v.id) {
        json e{{"address", be.addr.str()}, {"id", be.id}, {"weight", be.weight},
               {"state", be.down ? "down" : be.weight ? "active" : "draining"}};
        if (be.nexthop.ifindex) {
          char mac[18];
          const uint8_t* m = be.nexthop.dmac;
          std::snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
          char ifname[IF_NAMESIZE] = {};
          e["nexthop"] = {{"ifindex", be.nexthop.ifindex},
                          {"interface", if_indextoname(be.nexthop.ifindex, ifname) ? ifname : ""},
                          {"mac", mac}, {"mtu", be.nexthop.mtu}};
        } else {
          e["nexthop"] = nullptr;  // bpf_fib_lookup decides per packet
        }
        if (const json* d = daemonView(health, v.key, be.addr)) {
          e["name"] = d->value("name", "");
          e["health"] = d->value("state", "");
          e["admin"] = d->value("admin", "");
          if (d->contains("config_weight")) e["config_weight"] = (*d)["config_weight"];
        }
        b.push_back(e);
      }
    out.push_back({{"vip", v.key.ep.str()}, {"proto", protoName(v.key.proto)}, {"vip_key", v.key.str()},
                   {"id", v.id}, {"forward", v.l7() ? "http" : forwardName(v.forward)}, {"ring", v.ringSel}, {"backends", b}});
  }
  return out;
}

void printVips(const std::vector<VipInfo>& vips, const std::vector<BackendInfo>& bes, const json& health) {
  if (vips.empty()) {
    std::puts("no VIPs (add one: xlbctl vip add ADDR:PORT --proto tcp)");
    return;
  }
  std::printf("%-4s %-32s %-6s %-6s %s\n", "ID", "VIP", "PROTO", "FWD", "BACKENDS (weight)");
  for (const auto& v : vips) {
    std::string list;
    for (const auto& be : bes)
      if (be.vipId == v.id) {
        const json* d = daemonView(health, v.key, be.addr);
        std::string name = d && d->value("name", "") != be.addr.str() ? " " + d->value("name", "") : "";
        std::string w = be.weight ? std::to_string(be.weight) : std::string("0, draining");
        if (d && d->contains("config_weight") && (*d)["config_weight"].get<uint32_t>() != be.weight)
          w += ", configured " + std::to_string((*d)["config_weight"].get<uint32_t>());
        std::string admin = d && d->value("admin", "enabled") != "enabled" ? ", " + d->value("admin", "") : "";
        list += (list.empty() ? "" : ", ") + be.addr.str() + name + " (" + w + (be.down ? ", down" : "") + admin + ")";
      }
    std::printf("%-4u %-32s %-6s %-6s %s\n", v.id, v.key.ep.str().c_str(), protoName(v.key.proto).c_str(),
                v.l7() ? "http" : forwardName(v.forward),
                v.l7() ? "(xlbd's proxy: see xlbctl health)" : list.empty() ? "-" : list.c_str());
  }
}

json statsJson(const Stats& s, const std::vector<VipInfo>& vips, const std::vector<BackendInfo>& bes,
               const Stats* prev, double seconds) {
  auto rates = [&](const LbCounters& now, const LbCounters& before) {
    return json{{"packets_per_second", perSecond(now.packets, before.packets, seconds)},
                {"bits_per_second", 8 * perSecond(now.bytes, before.bytes, seconds)},
                {"new_flows_per_second", perSecond(now.newFlows, before.newFlows, seconds)}};
  };
  json reasons = json::object();
  for (uint32_t r = 0; r < s.reasons.size(); ++r) {
    json e{{"packets", s.reasons[r].packets}, {"bytes", s.reasons[r].bytes}};
    if (prev) {
      e["packets_per_second"] = perSecond(s.reasons[r].packets, prev->reasons[r].packets, seconds);
      e["bits_per_second"] = 8 * perSecond(s.reasons[r].bytes, prev->reasons[r].bytes, seconds);
    }
    reasons[reasonName(r)] = e;
  }
  json vs = json::array();
  for (const auto& v : vips) {
    LbCounters c = counters(s.vips, v.id);
    json b = json::array();
    for (const auto& be : bes) {
      if (be.vipId != v.id) continue;
      LbCounters bc = counters(s.backends, be.id);
      json e{{"address", be.addr.str()}, {"id", be.id}, {"weight", be.weight},
             {"packets", bc.packets}, {"bytes", bc.bytes}, {"new_flows", bc.newFlows}};
      if (prev) e["rates"] = rates(bc, counters(prev->backends, be.id));
      b.push_back(e);
    }
    json e{{"vip", v.key.ep.str()}, {"proto", protoName(v.key.proto)}, {"vip_key", v.key.str()}, {"id", v.id},
           {"forward", forwardName(v.forward)}, {"packets", c.packets}, {"bytes", c.bytes},
           {"new_flows", c.newFlows}, {"backends", b}};
    if (prev) e["rates"] = rates(c, counters(prev->vips, v.id));
    vs.push_back(e);
  }
  double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  json out{{"schema", kStatsSchema}, {"timestamp", now}, {"reasons", reasons}, {"vips", vs},
           {"nexthop_fallbacks", s.nexthopFallbacks}, {"flow_evictions", s.flowEvictions}};
  if (prev) out["interval_seconds"] = seconds;
  return out;
}

void printStats(const Stats& s, const std::vector<VipInfo>& vips, const std::vector<BackendInfo>& bes,
                const Stats* prev, double seconds) {
  // Totals, or with --watch rates with units: pps, bit/s, flows/s.
  auto pk = [&](uint64_t now, uint64_t before) {
    return prev ? si(perSecond(now, before, seconds)) + "pps" : std::to_string(now);
  };
  auto by = [&](uint64_t now, uint64_t before) {
    return prev ? si(8 * perSecond(now, before, seconds)) + "bit/s" : si(static_cast<double>(now)) + "B";
  };
  auto fl = [&](uint64_t now, uint64_t before) {
    return prev ? si(perSecond(now, before, seconds)) + "/s" : std::to_string(now);
  };
  std::printf("%-20s %16s %16s\n", "REASON", prev ? "PACKETS/s" : "PACKETS", prev ? "BITS/s" : "BYTES");
  for (uint32_t r = 0; r < s.reasons.size(); ++r) {
    uint64_t p0 = prev ? prev->reasons[r].packets : 0, b0 = prev ? prev->reasons[r].bytes : 0;
    if (s.reasons[r].packets == p0 && (prev || s.reasons[r].packets == 0)) continue;
    std::printf("%-20s %16s %16s\n", reasonName(r), pk(s.reasons[r].packets, p0).c_str(),
                by(s.reasons[r].bytes, b0).c_str());
  }
  if (s.nexthopFallbacks != (prev ? prev->nexthopFallbacks : 0))
    std::printf("(%s packets found no resolved next hop and asked bpf_fib_lookup)\n",
                pk(s.nexthopFallbacks, prev ? prev->nexthopFallbacks : 0).c_str());
  if (s.flowEvictions != (prev ? prev->flowEvictions : 0))
    std::printf("(%s new flows took a recorded flow's slot: their buckets were full; see limits.max_flows)\n",
                fl(s.flowEvictions, prev ? prev->flowEvictions : 0).c_str());
  for (const auto& v : vips) {
    if (v.l7()) {  // XDP passes its packets (pass_l7); the proxy's counters are in /metrics
      std::printf("\nVIP %s/%s (http): served by xlbd's proxy, counted in /metrics (xlb_http_*)\n",
                  v.key.ep.str().c_str(), protoName(v.key.proto).c_str());
      continue;
    }
    LbCounters c = counters(s.vips, v.id), c0 = prev ? counters(prev->vips, v.id) : LbCounters{};
    std::printf("\nVIP %s/%s (%s): %s packets, %s, %s new flows\n", v.key.ep.str().c_str(),
                protoName(v.key.proto).c_str(), forwardName(v.forward), pk(c.packets, c0.packets).c_str(),
                by(c.bytes, c0.bytes).c_str(), fl(c.newFlows, c0.newFlows).c_str());
    std::printf("  %-40s %6s %14s %14s %12s %7s\n", "BACKEND", "WEIGHT", prev ? "PACKETS/s" : "PACKETS",
                prev ? "BITS/s" : "BYTES", prev ? "FLOWS/s" : "NEW_FLOWS", "SHARE");
    for (const auto& be : bes) {
      if (be.vipId != v.id) continue;
      LbCounters b = counters(s.backends, be.id), b0 = prev ? counters(prev->backends, be.id) : LbCounters{};
      double flows = static_cast<double>(b.newFlows - b0.newFlows), total = static_cast<double>(c.newFlows - c0.newFlows);
      std::printf("  %-40s %6u %14s %14s %12s %6.1f%%\n", be.addr.str().c_str(), be.weight,
                  pk(b.packets, b0.packets).c_str(), by(b.bytes, b0.bytes).c_str(),
                  fl(b.newFlows, b0.newFlows).c_str(), total > 0 ? 100.0 * flows / total : 0.0);
    }
  }
}

json flowsJson(const std::vector<FlowEntry>& flows, const std::vector<BackendInfo>& bes) {
  json out = json::array();
  uint32_t now = flowClockNow();
  for (const auto& f : flows) {
    const BackendInfo* b = findBackend(bes, f.value.backend_id);
    bool live = b && uint16_t(b->gen) == f.value.gen;
    VipKey vk{Endpoint{IpAddr::fromAbi(f.key.dst, f.key.family), ntohs(f.key.dport)}, f.key.proto};
    out.push_back({{"client", endpointOf(f.key.src, f.key.family, f.key.sport)},
                   {"vip", endpointOf(f.key.dst, f.key.family, f.key.dport)},
                   {"proto", protoName(f.key.proto)},
                   {"vip_key", vk.str()},
                   {"backend", live ? json(b->addr.str()) : json(nullptr)},
                   {"backend_id", f.value.backend_id},
                   {"idle_seconds", now >= f.value.seen ? now - f.value.seen : 0}});
  }
  return out;
}

void printFlows(const FlowList& flows, const std::vector<BackendInfo>& bes, size_t capacity) {
  uint32_t now = flowClockNow();
  std::printf("%-48s %-48s %-5s %6s %s\n", "CLIENT", "VIP", "PROTO", "IDLE", "BACKEND");
  for (const auto& f : flows.entries) {
    const BackendInfo* b = findBackend(bes, f.value.backend_id);
    bool live = b && uint16_t(b->gen) == f.value.gen;
    std::printf("%-48s %-48s %-5s %6s %s\n", endpointOf(f.key.src, f.key.family, f.key.sport).c_str(),
                endpointOf(f.key.dst, f.key.family, f.key.dport).c_str(), protoName(f.key.proto).c_str(),
                ageStr(now >= f.value.seen ? now - f.value.seen : 0).c_str(),
                live ? b->addr.str().c_str() : "(gone: re-balanced on next packet)");
  }
  std::printf("%zu of %zu flows shown (table capacity %zu per family)%s\n", flows.entries.size(), flows.total, capacity,
              flows.entries.size() < flows.total ? "; --limit N shows more" : "");
}

json explainJson(const Explanation& e) {
  json j = {{"vip", e.vip.key.ep.str()}, {"proto", protoName(e.vip.key.proto)}, {"vip_key", e.vip.key.str()},
            {"forward", forwardName(e.vip.forward)}, {"hash", e.hash}, {"slot", e.slot},
            {"flow_entry", e.flow.has_value()}, {"flow_valid", e.flowValid}, {"reason", e.reason},
            {"notes", e.notes}};
  j["backend"] = e.backend ? json(e.backend->addr.str()) : json(nullptr);
  if (e.backend) j["backend_id"] = e.backend->id;
  return j;
}

void printExplain(const Explanation& e) {
  std::printf("vip:      %s (%s, id %u)\n", e.vip.key.str().c_str(), forwardName(e.vip.forward), e.vip.id);
  std::printf("hash:     0x%08x -> ring slot %u\n", e.hash, e.slot);
  std::printf("backend:  %s\n", e.backend ? (e.backend->addr.str() + " (id " + std::to_string(e.backend->id) +
                                             ", weight " + std::to_string(e.backend->weight) + ")").c_str()
                                          : "none");
  std::printf("why:      %s\n", e.reason.c_str());
  for (const auto& n : e.notes) std::printf("note:     %s\n", n.c_str());
}

json decapJson(const DecapStatus& st) {
  json vips = json::array(), reasons = json::object(), ifs = st.interfaces;
  for (const auto& v : st.vips) vips.push_back(v.str());
  for (uint32_t r = 0; r < st.reasons.size(); ++r)
    reasons[decapReasonName(r)] = {{"packets", st.reasons[r].packets}, {"bytes", st.reasons[r].bytes}};
  return {{"interfaces", ifs}, {"vips", vips}, {"reasons", reasons}};
}

void printDecap(const DecapStatus& st) {
  std::string ifs, vips;
  for (const auto& i : st.interfaces) ifs += (ifs.empty() ? "" : ", ") + i;
  for (const auto& v : st.vips) vips += (vips.empty() ? "" : ", ") + v.str();
  std::printf("xlb_decap on: %s\nVIPs:         %s\n\n%-16s %14s %14s\n", ifs.empty() ? "(no interface)" : ifs.c_str(),
              vips.empty() ? "(none: nothing is decapsulated)" : vips.c_str(), "REASON", "PACKETS", "BYTES");
  for (uint32_t r = 0; r < st.reasons.size(); ++r)
    std::printf("%-16s %14llu %14s\n", decapReasonName(r), static_cast<unsigned long long>(st.reasons[r].packets),
                (si(static_cast<double>(st.reasons[r].bytes)) + "B").c_str());
}

void printHealth(const json& vips) {
  if (vips.empty()) {
    std::puts("xlbd has no VIPs");
    return;
  }
  std::printf("%-28s %-26s %-12s %-6s %-9s %6s %-6s %9s %10s  %s\n", "VIP", "BACKEND", "NAME", "STATE", "ADMIN",
              "WEIGHT", "CHECK", "LAST (s)", "LATENCY ms", "LAST ERROR");
  for (const auto& v : vips)
    for (const auto& b : v["backends"]) {
      char last[16] = "-", lat[16] = "-";
      if (b.contains("last_check_seconds_ago")) std::snprintf(last, sizeof(last), "%.1f", b["last_check_seconds_ago"].get<double>());
      if (b.contains("latency_ms")) std::snprintf(lat, sizeof(lat), "%.2f", b["latency_ms"].get<double>());
      std::string w = std::to_string(b.value("weight", 0u));
      if (b.contains("config_weight") && b["config_weight"] != b["weight"]) w += "*";
      std::printf("%-28s %-26s %-12s %-6s %-9s %6s %-6s %9s %10s  %s\n", v.value("vip", "").c_str(),
                  b.value("address", "").c_str(), b.value("name", "").c_str(), b.value("state", "").c_str(),
                  b.value("admin", "").c_str(), w.c_str(), b.value("check", "").c_str(), last, lat,
                  b.value("last_error", "-").c_str());
    }
}

}  // namespace xlbctl
