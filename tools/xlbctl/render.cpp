// SPDX-License-Identifier: Apache-2.0
#include "render.h"

#include <netinet/in.h>

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

}  // namespace

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
        if (const json* d = daemonView(health, v.key, be.addr)) {
          e["name"] = d->value("name", "");
          e["health"] = d->value("state", "");
          e["admin"] = d->value("admin", "");
        }
        b.push_back(e);
      }
    out.push_back({{"vip", v.key.ep.str()}, {"proto", protoName(v.key.proto)}, {"id", v.id},
                   {"forward", forwardName(v.forward)}, {"ring", v.ringSel}, {"backends", b}});
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
        list += (list.empty() ? "" : ", ") + be.addr.str() + name + " (" +
                (be.weight ? std::to_string(be.weight) : std::string("0, draining")) + (be.down ? ", down" : "") + ")";
      }
    std::printf("%-4u %-32s %-6s %-6s %s\n", v.id, v.key.ep.str().c_str(), protoName(v.key.proto).c_str(),
                forwardName(v.forward), list.empty() ? "-" : list.c_str());
  }
}

json statsJson(const Stats& s, const std::vector<VipInfo>& vips, const std::vector<BackendInfo>& bes) {
  json reasons = json::object();
  for (uint32_t r = 0; r < s.reasons.size(); ++r)
    reasons[reasonName(r)] = {{"packets", s.reasons[r].packets}, {"bytes", s.reasons[r].bytes}};
  json vs = json::array();
  for (const auto& v : vips) {
    auto it = s.vips.find(v.id);
    LbCounters c = it == s.vips.end() ? LbCounters{} : it->second;
    json b = json::array();
    for (const auto& be : bes) {
      if (be.vipId != v.id) continue;
      auto bt = s.backends.find(be.id);
      LbCounters bc = bt == s.backends.end() ? LbCounters{} : bt->second;
      b.push_back({{"address", be.addr.str()}, {"id", be.id}, {"weight", be.weight},
                   {"packets", bc.packets}, {"bytes", bc.bytes}, {"new_flows", bc.newFlows}});
    }
    vs.push_back({{"vip", v.key.ep.str()}, {"proto", protoName(v.key.proto)}, {"id", v.id},
                  {"forward", forwardName(v.forward)}, {"packets", c.packets}, {"bytes", c.bytes},
                  {"new_flows", c.newFlows}, {"backends", b}});
  }
  return {{"reasons", reasons}, {"vips", vs}};
}

void printStats(const Stats& s, const std::vector<VipInfo>& vips, const std::vector<BackendInfo>& bes,
                const Stats* prev, double seconds) {
  auto rate = [&](uint64_t now, uint64_t before) {
    return prev && seconds > 0 ? static_cast<double>(now - before) / seconds : static_cast<double>(now);
  };
  const char* unit = prev ? "/s" : "";
  std::printf("%-20s %14s%s %16s%s\n", "REASON", "PACKETS", unit, "BYTES", unit);
  for (uint32_t r = 0; r < s.reasons.size(); ++r) {
    uint64_t p0 = prev ? prev->reasons[r].packets : 0, b0 = prev ? prev->reasons[r].bytes : 0;
    if (s.reasons[r].packets == 0) continue;
    std::printf("%-20s %14.0f%s %16.0f%s\n", reasonName(r), rate(s.reasons[r].packets, p0), unit,
                rate(s.reasons[r].bytes, b0), unit);
  }
  for (const auto& v : vips) {
    auto get = [](const std::map<uint32_t, LbCounters>& m, uint32_t id) {
      auto it = m.find(id);
      return it == m.end() ? LbCounters{} : it->second;
    };
    LbCounters c = get(s.vips, v.id), c0 = prev ? get(prev->vips, v.id) : LbCounters{};
    std::printf("\nVIP %s/%s (%s): %.0f%s packets, %.0f%s bytes, %.0f%s new flows\n", v.key.ep.str().c_str(),
                protoName(v.key.proto).c_str(), forwardName(v.forward), rate(c.packets, c0.packets), unit,
                rate(c.bytes, c0.bytes), unit, rate(c.newFlows, c0.newFlows), unit);
    std::printf("  %-40s %6s %14s %16s %12s %7s\n", "BACKEND", "WEIGHT", "PACKETS", "BYTES", "NEW_FLOWS", "SHARE");
    for (const auto& be : bes) {
      if (be.vipId != v.id) continue;
      LbCounters b = get(s.backends, be.id), b0 = prev ? get(prev->backends, be.id) : LbCounters{};
      double flows = rate(b.newFlows, b0.newFlows), total = rate(c.newFlows, c0.newFlows);
      std::printf("  %-40s %6u %14.0f %16.0f %12.0f %6.1f%%\n", be.addr.str().c_str(), be.weight,
                  rate(b.packets, b0.packets), rate(b.bytes, b0.bytes), flows,
                  total > 0 ? 100.0 * flows / total : 0.0);
    }
  }
}

json flowsJson(const std::vector<FlowEntry>& flows, const std::vector<BackendInfo>& bes) {
  json out = json::array();
  for (const auto& f : flows) {
    const BackendInfo* b = findBackend(bes, f.value.backend_id);
    bool live = b && b->gen == f.value.gen;
    out.push_back({{"client", endpointOf(f.key.src, f.key.family, f.key.sport)},
                   {"vip", endpointOf(f.key.dst, f.key.family, f.key.dport)},
                   {"proto", protoName(f.key.proto)},
                   {"backend", live ? json(b->addr.str()) : json(nullptr)},
                   {"backend_id", f.value.backend_id}});
  }
  return out;
}

void printFlows(const std::vector<FlowEntry>& flows, const std::vector<BackendInfo>& bes) {
  std::printf("%-48s %-48s %-5s %s\n", "CLIENT", "VIP", "PROTO", "BACKEND");
  for (const auto& f : flows) {
    const BackendInfo* b = findBackend(bes, f.value.backend_id);
    bool live = b && b->gen == f.value.gen;
    std::printf("%-48s %-48s %-5s %s\n", endpointOf(f.key.src, f.key.family, f.key.sport).c_str(),
                endpointOf(f.key.dst, f.key.family, f.key.dport).c_str(), protoName(f.key.proto).c_str(),
                live ? b->addr.str().c_str() : "(gone: re-balanced on next packet)");
  }
  std::printf("%zu flows\n", flows.size());
}

json explainJson(const Explanation& e) {
  json j = {{"vip", e.vip.key.ep.str()}, {"proto", protoName(e.vip.key.proto)},
            {"forward", forwardName(e.vip.forward)}, {"hash", e.hash}, {"slot", e.slot},
            {"flow_entry", e.flow.has_value()}, {"flow_valid", e.flowValid}, {"reason", e.reason}};
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
}

void printHealth(const json& vips) {
  if (vips.empty()) {
    std::puts("xlbd has no VIPs");
    return;
  }
  std::printf("%-28s %-26s %-12s %-6s %-9s %-6s %9s %10s  %s\n", "VIP", "BACKEND", "NAME", "STATE", "ADMIN", "CHECK",
              "LAST (s)", "LATENCY ms", "LAST ERROR");
  for (const auto& v : vips)
    for (const auto& b : v["backends"]) {
      char last[16] = "-", lat[16] = "-";
      if (b.contains("last_check_seconds_ago")) std::snprintf(last, sizeof(last), "%.1f", b["last_check_seconds_ago"].get<double>());
      if (b.contains("latency_ms")) std::snprintf(lat, sizeof(lat), "%.2f", b["latency_ms"].get<double>());
      std::printf("%-28s %-26s %-12s %-6s %-9s %-6s %9s %10s  %s\n", v.value("vip", "").c_str(),
                  b.value("address", "").c_str(), b.value("name", "").c_str(), b.value("state", "").c_str(),
                  b.value("admin", "").c_str(), b.value("check", "").c_str(), last, lat,
                  b.value("last_error", "-").c_str());
    }
}

}  // namespace xlbctl

