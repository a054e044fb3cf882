// SPDX-License-Identifier: Apache-2.0
// Prometheus text exposition of xlbd's view: data-plane counters from the
// maps, health from the checkers, config and ring-update figures.
#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iterator>
#include <sstream>

#include "daemon.h"
#include "servers.h"

namespace xlb {

namespace {

// Label values escaped as the text format requires.
std::string esc(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '\\' || c == '"') o += '\\';
    if (c == '\n') {
      o += "\\n";
      continue;
    }
    o += c;
  }
  return o;
}

struct Family {
  std::ostringstream& out;
  Family(std::ostringstream& o, const char* name, const char* type, const char* help) : out(o) {
    out << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
  }
};

// The process_* families every Prometheus exporter has.
void processMetrics(std::ostringstream& o) {
  long tick = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
  std::ifstream statFile("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(statFile)), std::istreambuf_iterator<char>());
  std::istringstream rest(stat.substr(stat.rfind(')') + 2));
  std::vector<std::string> f((std::istream_iterator<std::string>(rest)), std::istream_iterator<std::string>());
  // Fields after the command: state is [0], utime [11], stime [12], starttime [19], rss [21].
  if (f.size() > 21 && tick > 0) {
    Family(o, "process_cpu_seconds_total", "counter", "User and system CPU time spent in seconds.");
    o << "process_cpu_seconds_total " << (std::stod(f[11]) + std::stod(f[12])) / tick << "\n";
    Family(o, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    o << "process_resident_memory_bytes " << std::stoll(f[21]) * page << "\n";
    std::ifstream procStat("/proc/stat");
    std::string key;
    long long btime = 0;
    while (procStat >> key)
      if (key == "btime" && procStat >> btime) break;
    Family(o, "process_start_time_seconds", "gauge", "Start time of the process since the epoch in seconds.");
    o << "process_start_time_seconds " << std::fixed << std::setprecision(2)
      << static_cast<double>(btime) + std::stod(f[19]) / tick << std::defaultfloat << "\n";
  }
  std::error_code ec;
  size_t fds = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec))
    ++fds;
  Family(o, "process_open_fds", "gauge", "Number of open file descriptors.");
  o << "process_open_fds " << fds << "\n";
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    Family(o, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
    o << "process_max_fds " << rl.rlim_cur << "\n";
  }
}

}  // namespace

std::string Daemon::metrics() {
  std::ostringstream o;
  auto stats = dp_->stats();
  auto vips = dp_->vips();
  auto bes = dp_->backends();
  std::map<VipKey, uint32_t> vipId;
  std::map<std::pair<uint32_t, IpAddr>, uint32_t> beId;
  if (vips)
    for (const auto& v : *vips) vipId[v.key] = v.id;
  if (bes)
    for (const auto& b : *bes) beId[{b.vipId, b.addr}] = b.id;

  if (stats) {
    Family(o, "xlb_datapath_packets_total", "counter", "Packets seen by xlb_xdp, by verdict reason.");
    for (uint32_t r = 0; r < stats->reasons.size(); ++r)
      o << "xlb_datapath_packets_total{reason=\"" << reasonName(r) << "\"} " << stats->reasons[r].packets << "\n";
    Family(o, "xlb_datapath_bytes_total", "counter", "Bytes seen by xlb_xdp, by verdict reason.");
    for (uint32_t r = 0; r < stats->reasons.size(); ++r)
      o << "xlb_datapath_bytes_total{reason=\"" << reasonName(r) << "\"} " << stats->reasons[r].bytes << "\n";
  }

  struct Row {
    std::string vipLabels, beLabels;
    const LbCounters* vipC = nullptr;
    const LbCounters* beC = nullptr;
    const Backend* be = nullptr;
  };
  std::vector<std::pair<std::string, const LbCounters*>> vipRows;
  std::vector<Row> beRows;
  for (const auto& [k, v] : vips_) {
    std::string vl = "vip=\"" + esc(k.ep.str()) + "\",proto=\"" + protoName(k.proto) + "\"";
    const LbCounters* vc = nullptr;
    auto id = vipId.find(k);
    if (stats && id != vipId.end())
      if (auto s = stats->vips.find(id->second); s != stats->vips.end()) vc = &s->second;
    vipRows.push_back({vl, vc});
    for (const auto& b : v.backends) {
      Row r;
      r.beLabels = vl + ",backend=\"" + esc(b->cfg.addr.str()) + "\",name=\"" + esc(b->cfg.name) + "\"";
      r.be = b.get();
      if (stats && id != vipId.end())
        if (auto bi = beId.find({id->second, b->cfg.addr}); bi != beId.end())
          if (auto s = stats->backends.find(bi->second); s != stats->backends.end()) r.beC = &s->second;
      beRows.push_back(r);
    }
  }
  auto lb = [&](const char* name, const char* help, auto field) {
    Family(o, (std::string("xlb_vip_") + name).c_str(), "counter", help);
    for (const auto& [l, c] : vipRows) o << "xlb_vip_" << name << "{" << l << "} " << (c ? c->*field : 0) << "\n";
    Family(o, (std::string("xlb_backend_") + name).c_str(), "counter", help);
    for (const auto& r : beRows) o << "xlb_backend_" << name << "{" << r.beLabels << "} " << (r.beC ? r.beC->*field : 0) << "\n";
  };
  lb("packets_total", "Packets forwarded by xlb_xdp.", &LbCounters::packets);
  lb("bytes_total", "Bytes forwarded by xlb_xdp.", &LbCounters::bytes);
  lb("new_flows_total", "Flows assigned by the Maglev ring.", &LbCounters::newFlows);

  Family(o, "xlb_backend_weight", "gauge", "The backend's weight now (the config's, or one set with xlbctl backend weight).");
  for (const auto& r : beRows) o << "xlb_backend_weight{" << r.beLabels << "} " << r.be->weight() << "\n";
  Family(o, "xlb_backend_last_change_timestamp_seconds", "gauge", "When the backend last went up or down (or xlbd started).");
  {
    auto wallNow = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    for (const auto& r : beRows)
      if (r.be->health)
        o << "xlb_backend_last_change_timestamp_seconds{" << r.beLabels << "} " << std::fixed << std::setprecision(3)
          << wallNow - std::chrono::duration<double>(Clock::now() - r.be->health->since()).count()
          << std::defaultfloat << "\n";
  }
  Family(o, "xlb_backend_up", "gauge", "1 when the backend passes its health check (or has none).");
  for (const auto& r : beRows) o << "xlb_backend_up{" << r.beLabels << "} " << (r.be->up() ? 1 : 0) << "\n";
  Family(o, "xlb_backend_admin_state", "gauge", "The operator's state for the backend (enabled, disabled, drain).");
  for (const auto& r : beRows)
    for (Admin a : {Admin::Enabled, Admin::Disabled, Admin::Drain})
      o << "xlb_backend_admin_state{" << r.beLabels << ",state=\"" << adminName(a) << "\"} " << (r.be->admin == a) << "\n";
  Family(o, "xlb_backend_check_latency_seconds", "gauge", "Duration of the last health check.");
  for (const auto& r : beRows)
    if (r.be->health && r.be->health->lastCheck())
      o << "xlb_backend_check_latency_seconds{" << r.beLabels << "} " << r.be->health->last().latency.count() / 1e6 << "\n";
  Family(o, "xlb_backend_checks_total", "counter", "Health checks run.");
  for (const auto& r : beRows)
    if (r.be->health) o << "xlb_backend_checks_total{" << r.beLabels << "} " << r.be->health->checks() << "\n";
  Family(o, "xlb_backend_check_failures_total", "counter", "Health checks failed.");
  for (const auto& r : beRows)
    if (r.be->health) o << "xlb_backend_check_failures_total{" << r.beLabels << "} " << r.be->health->failures() << "\n";

  // Counting the flow table walks it: at most every 10 s.
  if (!flowCountAt_ || Clock::now() - *flowCountAt_ > std::chrono::seconds(10)) {
    if (auto f = dp_->flows(0)) flowCount_ = f->total;
    flowCountAt_ = Clock::now();
  }
  Family(o, "xlb_flow_table_entries", "gauge", "Flows in the flow table (counted at most every 10 s).");
  o << "xlb_flow_table_entries " << flowCount_ << "\n";
  Family(o, "xlb_flow_table_capacity", "gauge",
         "Flows the table has slots for, per address family (full buckets evict the flow seen longest ago).");
  o << "xlb_flow_table_capacity " << dp_->flowCapacity() << "\n";

  if (guard_) {
    Family(o, "xlb_dataplane_attached", "gauge", "1 while xlb_xdp is attached to the interface.");
    for (const auto& [name, i] : guard_->interfaces())
      o << "xlb_dataplane_attached{interface=\"" << esc(name) << "\"} " << (i.attached ? 1 : 0) << "\n";
    Family(o, "xlb_dataplane_reattach_total", "counter",
           "Times xlbd attached xlb_xdp again after someone removed it from the interface.");
    for (const auto& [name, i] : guard_->interfaces())
      o << "xlb_dataplane_reattach_total{interface=\"" << esc(name) << "\"} " << i.reattaches << "\n";
  }

  if (nexthops_) {
    Family(o, "xlb_nexthop_updates_total", "counter",
           "Backend next hops rewritten in the maps (a neighbour's MAC, a route or a link changed).");
    o << "xlb_nexthop_updates_total " << nexthops_->updates() << "\n";
    Family(o, "xlb_nexthop_unresolved", "gauge",
           "Backend addresses whose next hop could not be resolved: their packets ask bpf_fib_lookup.");
    o << "xlb_nexthop_unresolved " << nexthops_->unresolved().size() << "\n";
    Family(o, "xlb_ring_moved_slots_cleared_total", "counter",
           "Ring slots whose moved mark was cleared: no recorded flow needed the flow table there any more.");
    o << "xlb_ring_moved_slots_cleared_total " << nexthops_->movedCleared() << "\n";
    Family(o, "xlb_flow_table_relieved_total", "counter",
           "Flows removed, those seen longest ago first (none seen in the last 60 s), to keep a flow table at most "
           "half full.");
    o << "xlb_flow_table_relieved_total " << nexthops_->flowsRelieved() << "\n";
    if (auto st = dp_->stats(); st) {
      Family(o, "xlb_nexthop_fallbacks_total", "counter",
             "Packets that found no resolved next hop in the maps and asked bpf_fib_lookup.");
      o << "xlb_nexthop_fallbacks_total " << st->nexthopFallbacks << "\n";
      Family(o, "xlb_flow_evictions_total", "counter",
             "New flows that took a recorded flow's slot (all three of their buckets full): a burst of new flows "
             "between xlbd's 5 s reliefs, or a table too small for the flows seen in the last minute.");
      o << "xlb_flow_evictions_total " << st->flowEvictions << "\n";
    }
  }

  Family(o, "xlb_backend_check_local_errors_total", "counter",
         "Health checks that could not run on this host (no descriptors, memory or ports); not counted.");
  for (const auto& r : beRows)
    if (r.be->health) o << "xlb_backend_check_local_errors_total{" << r.beLabels << "} " << r.be->health->localErrors() << "\n";

  auto server = [&](const char* name, const ServerCounters& c) {
    o << "xlb_server_connections{server=\"" << name << "\"} " << c.active << "\n";
  };
  auto serverTotal = [&](const char* metric, const char* name, uint64_t v) {
    o << metric << "{server=\"" << name << "\"} " << v << "\n";
  };
  Family(o, "xlb_server_connections", "gauge", "Open connections to xlbd's control socket and metrics endpoint.");
  if (control_) server("control", control_->counters);
  if (metricsServer_) server("metrics", metricsServer_->counters);
  Family(o, "xlb_server_connections_rejected_total", "counter", "Connections closed at once: the server was at its cap.");
  if (control_) serverTotal("xlb_server_connections_rejected_total", "control", control_->counters.rejected);
  if (metricsServer_) serverTotal("xlb_server_connections_rejected_total", "metrics", metricsServer_->counters.rejected);
  Family(o, "xlb_server_timeouts_total", "counter", "Connections closed because the client was too slow to ask or read.");
  if (control_) serverTotal("xlb_server_timeouts_total", "control", control_->counters.timedOut);
  if (metricsServer_) serverTotal("xlb_server_timeouts_total", "metrics", metricsServer_->counters.timedOut);
  Family(o, "xlb_server_accept_errors_total", "counter", "Failed accepts (out of descriptors: accepting pauses).");
  if (control_) serverTotal("xlb_server_accept_errors_total", "control", control_->counters.acceptErrors);
  if (metricsServer_) serverTotal("xlb_server_accept_errors_total", "metrics", metricsServer_->counters.acceptErrors);

  Family(o, "xlb_health_transitions_total", "counter", "Backends going up or down.");
  o << "xlb_health_transitions_total " << transitions_ << "\n";
  Family(o, "xlb_ring_update_seconds", "summary", "Time from a state change to the flipped ring in the maps.");
  o << "xlb_ring_update_seconds_sum " << ringUpdateSecondsSum_ << "\nxlb_ring_update_seconds_count " << ringUpdates_ << "\n";
  Family(o, "xlb_config_generation", "gauge", "Config generation: 1 at start, +1 per applied reload.");
  o << "xlb_config_generation " << generation_ << "\n";
  Family(o, "xlb_config_reloads_total", "counter", "Reloads by result.");
  o << "xlb_config_reloads_total{result=\"ok\"} " << reloadsOk_ << "\nxlb_config_reloads_total{result=\"error\"} "
    << reloadsFailed_ << "\n";
  Family(o, "xlb_config_last_reload_ok", "gauge", "0 when the last reload was rejected.");
  o << "xlb_config_last_reload_ok " << (lastReloadError_.empty() ? 1 : 0) << "\n";
  httpMetrics(o);
  Family(o, "xlb_build_info", "gauge", "xlbd's version and the data plane ABI it speaks.");
  o << "xlb_build_info{version=\"" << XLB_VERSION << "\",abi=\"" << XLB_ABI_VERSION << "\"} 1\n";
  processMetrics(o);
  return o.str();
}

}  // namespace xlb
