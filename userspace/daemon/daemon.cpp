// SPDX-License-Identifier: Apache-2.0
#include "daemon.h"

#include <net/if.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <filesystem>
#include <fstream>
#include <set>

#include "notify.h"
#include "servers.h"
#include "xlb/forwarding.h"
#include "log.h"

namespace xlb {

using nlohmann::json;

namespace {

// The control socket is root's (mode 0600); still, a stuck client must not
// hold it: 16 at once, 5 s to ask and 5 s to take the answer.
constexpr size_t kControlMaxConnections = 16;
constexpr std::chrono::milliseconds kControlTimeout{5000};


std::string label(const VipKey& v, const IpAddr& b) { return v.str() + " backend " + b.str(); }

// Where an operator's choice for a backend is saved: by its address (an
// l4 VIP's backends differ by it), or ADDR:PORT (an http VIP's may share
// an address).
std::string choiceKey(const VipConfig& v, const BackendConfig& b) {
  return v.mode == VipMode::Http ? Endpoint{b.addr, b.port}.str() : b.addr.str();
}

double secondsSince(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

}  // namespace

Daemon::Daemon(asio::io_context& io, Config cfg, DaemonOptions opts)
    : io_(io), cfg_(std::move(cfg)), opts_(opts), prober_(io) {}

Daemon::~Daemon() = default;

// Capacities are fixed when the instance is first attached; a config that
// asks for others is told so instead of silently getting the old ones.
static void warnLimits(const Config& c, const xlb_meta& m) {
  auto check = [&](const std::optional<uint32_t>& want, uint32_t have, const char* key) {
    if (want && *want != have)
      log::warn(c.file + ": limits: " + key + " " + std::to_string(*want) + " does not apply: the instance under " +
                c.pinPath + " was attached with " + std::to_string(have) +
                " (detach it from every interface to change capacities)");
  };
  check(c.load.ringSize, m.ring_size, "ring_size");
  check(c.load.maxVips, m.max_vips, "max_vips");
  check(c.load.maxBackends, m.max_backends, "max_backends");
  check(c.load.maxFlows, m.max_flows, "max_flows");
}

// A config that does not fit the instance is rejected before anything is
// written.
static Result<void> checkCapacity(const Config& c, const xlb_meta& m) {
  size_t backends = 0;  // in the data plane's table: l4 backends only
  for (const auto& v : c.vips)
    if (v.mode == VipMode::L4) backends += v.backends.size();
  if (c.vips.size() > m.max_vips)
    return fail(ENOSPC, c.file + ": " + std::to_string(c.vips.size()) + " VIPs, the instance holds " +
                            std::to_string(m.max_vips) + " (limits: max_vips, at the first attach)");
  if (backends > m.max_backends - 1)
    return fail(ENOSPC, c.file + ": " + std::to_string(backends) + " backends, the instance holds " +
                            std::to_string(m.max_backends - 1) + " (limits: max_backends, at the first attach)");
  return {};
}

// Forwarding off on an interface makes every VIP packet arriving there a
// pass_fwd_disabled: say so at start and reload, with the command to run.
static void warnForwarding(const Config& c) {
  std::set<uint8_t> families;
  for (const auto& v : c.vips)
    for (const auto& b : v.backends) families.insert(b.addr.family);
  for (const auto& i : c.interfaces)
    for (uint8_t f : families)
      if (auto p = forwardingProblem(i.name, f); !p.empty()) log::error(p);
}

// File descriptors: one per running check at most, the listeners' caps,
// and room for maps, netlink and logs. The caps keep clients inside their
// share, so the checks' share stays free; the soft limit goes up to the
// hard one, and a hard limit too small for that budget is said at start.
static size_t ensureDescriptors(const Config& c) {
  size_t checks = 0;
  for (const auto& v : c.vips)
    for (const auto& b : v.backends) checks += b.check.type != CheckType::None;
  size_t need = 64 + checks + kControlMaxConnections + (c.metricsListen ? c.metricsMaxConnections : 0);
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  if (rl.rlim_cur < need)
    log::warn("xlbd may run out of file descriptors: it needs " + std::to_string(need) + " (" +
              std::to_string(checks) + " checks, " + std::to_string(kControlMaxConnections) + " control and " +
              std::to_string(c.metricsListen ? c.metricsMaxConnections : 0) +
              " metrics connections, 64 of its own) and may open " + std::to_string(rl.rlim_cur) +
              ": raise the limit (LimitNOFILE= in the unit, ulimit -n) or lower metrics.max_connections; "
              "checks that cannot open a socket are not counted against backends");
  return rl.rlim_cur > need ? static_cast<size_t>(rl.rlim_cur - need) : 0;
}

Result<void> Daemon::attachInterfaces(const Config& c) {
  for (const auto& i : c.interfaces) {
    auto have = attachedProgram(c.pinPath, i.name);
    if (!have) return xlb::unexpected(have.error());
    if (*have) {
      log::info("adopting xlb_xdp (program id " + std::to_string(**have) + ") on " + i.name);
      continue;
    }
    auto r = attach(c.pinPath, i.name, i.mode, c.load);
    if (!r) return fail(r.error().code, i.name + ": " + r.error().message);
    log::info("attached xlb_xdp (program id " + std::to_string(r->progId) + ") on " + i.name);
  }
  return {};
}

std::shared_ptr<Daemon::Backend> Daemon::makeBackend(const VipKey& vip, const BackendConfig& bc,
                                                     std::optional<bool> initialUp) {
  auto b = std::make_shared<Backend>();
  b->vip = vip;
  b->cfg = bc;
  if (bc.check.type != CheckType::None)
    b->health = std::make_unique<HealthTracker>(bc.check.rise, bc.check.fall, initialUp.value_or(cfg_.startUp),
                                                Clock::now());
  return b;
}

std::vector<DesiredBackend> Daemon::desired(const Vip& v) const {
  bool anyUp = false;
  for (const auto& b : v.backends) anyUp = anyUp || (b->admin != Admin::Disabled && b->up());
  std::vector<DesiredBackend> out;
  for (const auto& b : v.backends) {
    DesiredBackend d;
    d.addr = b->cfg.addr;
    d.weight = b->admin == Admin::Drain ? 0 : b->weight();
    bool healthDown = !b->up() && !(v.cfg.allDown == AllDown::SendToAll && !anyUp);
    d.down = b->admin == Admin::Disabled || healthDown;
    out.push_back(d);
  }
  return out;
}

Result<SyncResult> Daemon::apply(const VipKey& key) {
  auto it = vips_.find(key);
  if (it == vips_.end()) return fail(ENOENT, "no VIP " + key.str());
  if (it->second.cfg.mode == VipMode::Http) return publishHttp(it->second);
  auto t0 = Clock::now();
  auto want = desired(it->second);
  auto r = dp_->syncVip(key, it->second.cfg.forward, want, &neigh_);
  if (!r) {
    log::error(key.str() + ": cannot update the maps: " + r.error().describe());
    return r;
  }
  for (const auto& w : r->warnings) log::warn(key.str() + ": " + w);
  if (nexthops_) nexthops_->poke();  // a new backend's next hop, at once
  if (r->ringFlipped) {
    double s = secondsSince(t0);
    ++ringUpdates_;
    ringUpdateSecondsSum_ += s;
    ringUpdateSecondsLast_ = s;
    size_t live = 0;
    for (const auto& d : want) live += !d.down && d.weight > 0;
    log::info(key.str() + ": ring rebuilt with " + std::to_string(live) + " of " + std::to_string(want.size()) +
              " backends in " + std::to_string(static_cast<int>(s * 1e6)) + " us" +
              (r->flowsRemoved ? ", " + std::to_string(r->flowsRemoved) + " flows of removed or down backends deleted" : "") +
              (live == 0 ? "; no backend takes new flows: they are dropped" : ""),
              {{"VIP", key.str()}});
  }
  return r;
}

void Daemon::startCheck(const std::shared_ptr<Backend>& b) {
  if (!b->health) return;
  asio::co_spawn(io_, checkLoop(b), asio::detached);
}

asio::awaitable<void> Daemon::checkLoop(std::shared_ptr<Backend> b) {
  asio::steady_timer timer(io_);
  const CheckSpec& spec = b->cfg.check;
  Endpoint target{spec.address.value_or(b->cfg.addr), spec.port.value_or(b->cfg.port)};
  auto next = Clock::now() + checkDelay(spec.interval, true, rng_);
  while (b->alive && !stopping_) {
    // Start times snap to a 10 ms grid: checks due in the same 10 ms share
    // one wake-up of the loop (the jitter still spreads them over the
    // interval's 100 slots).
    auto q = std::chrono::duration_cast<std::chrono::milliseconds>(next.time_since_epoch()).count();
    timer.expires_at(Clock::time_point(std::chrono::milliseconds((q + 9) / 10 * 10)));
    co_await timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    if (!b->alive || stopping_) co_return;
    next += checkDelay(spec.interval, false, rng_);
    auto r = co_await prober_.probe(spec, target);
    if (!b->alive || stopping_) co_return;
    if (!r.ok) log::debug(label(b->vip, b->cfg.addr) + ": check failed: " + r.error);
    auto t = b->health->observe(r, Clock::now());
    if (t) {
      ++transitions_;
      log::info(label(b->vip, b->cfg.addr) + " (" + b->cfg.name + ") is " + (t->up ? "up" : "down") + ": " +
                    t->reason,
                {{"VIP", b->vip.str()}, {"BACKEND", b->cfg.addr.str()}, {"BACKEND_NAME", b->cfg.name},
                 {"STATE", t->up ? "up" : "down"}});
      apply(b->vip);
    }
    if (next < Clock::now()) next = Clock::now();
  }
}

void Daemon::saveOperatorStates() const {
  OperatorChoices all;
  for (const auto& [k, v] : vips_)
    for (const auto& b : v.backends) {
      OperatorChoice ch{b->admin, b->weightOverride};
      if (!ch.empty()) all[k.str()][choiceKey(v.cfg, b->cfg)] = ch;
    }
  if (auto r = saveOperatorChoices(cfg_, all); !r)
    log::warn("cannot save the operator's backend states: " + r.error().describe() +
              " (they will not survive a restart)");
}

Result<void> Daemon::start() {
  spareDescriptors_ = ensureDescriptors(cfg_);
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(cfg_.controlSocket).parent_path(), ec);
  if (auto owner = readOwner(cfg_.pinPath); owner && owner->pid != getpid() && kill(owner->pid, 0) == 0 &&
                                            controlAnswers(owner->socket))
    return fail(EBUSY, "another xlbd (pid " + std::to_string(owner->pid) + ") owns " + cfg_.pinPath +
                           " and answers on " + owner->socket);
  if (auto r = attachInterfaces(cfg_); !r) return r;
  warnForwarding(cfg_);
  auto dp = Dataplane::open(cfg_.pinPath);
  if (!dp) return xlb::unexpected(dp.error());
  dp_.emplace(std::move(*dp));
  warnLimits(cfg_, dp_->meta());
  if (auto r = checkCapacity(cfg_, dp_->meta()); !r) return r;

  // What the maps already hold: a restarted xlbd carries on from it.
  std::map<std::pair<VipKey, IpAddr>, bool> wasUp;
  std::map<uint32_t, VipKey> vipById;
  auto existing = dp_->vips();
  if (!existing) return xlb::unexpected(existing.error());
  for (const auto& v : *existing) vipById[v.id] = v.key;
  if (auto bs = dp_->backends(); bs)
    for (const auto& b : *bs) wasUp[{vipById[b.vipId], b.addr}] = !b.down;
  auto choices = loadOperatorChoices(cfg_);

  for (const auto& v : *existing) {
    bool keep = std::any_of(cfg_.vips.begin(), cfg_.vips.end(), [&](const VipConfig& c) { return c.key == v.key; });
    if (!keep) {
      log::info(v.key.str() + ": not in the config, removed");
      if (auto r = dp_->delVip(v.key); !r) return r;
    }
  }
  for (const auto& vc : cfg_.vips) {
    Vip v;
    v.cfg = vc;
    auto tls = tlsFor(vc);
    if (!tls) return xlb::unexpected(tls.error());
    v.tls = *tls;
    for (const auto& bc : vc.backends) {
      std::optional<bool> up;
      if (auto w = wasUp.find({vc.key, bc.addr}); w != wasUp.end()) up = w->second;
      auto b = makeBackend(vc.key, bc, up);
      auto& mine = choices[vc.key.str()];
      auto a = mine.find(choiceKey(vc, bc));
      if (a == mine.end()) a = mine.find(bc.addr.str());  // a file from before HTTP backends had ports
      if (a != mine.end()) {
        b->admin = a->second.admin;
        b->weightOverride = a->second.weight;
      }
      v.backends.push_back(b);
    }
    vips_[vc.key] = std::move(v);
    if (auto r = apply(vc.key); !r) return xlb::unexpected(r.error());
  }
  if (auto r = pinOwner(cfg_.pinPath, cfg_.controlSocket); !r) return r;
  guard_ = std::make_unique<DataplaneGuard>(io_, *dp_, cfg_.pinPath, [this] {
    if (auto r = pinOwner(cfg_.pinPath, cfg_.controlSocket); r)
      log::error("xlbd's owner record under " + cfg_.pinPath + " was unpinned; pinned it again");
  });
  for (const auto& i : cfg_.interfaces)
    if (auto r = guard_->track(i.name); !r) return r;
  if (auto r = guard_->start(); !r) return r;
  nexthops_ = std::make_unique<NexthopKeeper>(io_, *dp_);
  if (auto r = nexthops_->start(); !r) return r;
  control_ = std::make_unique<ControlServer>(io_, cfg_.controlSocket, [this](const json& j) { return handle(j); },
                                             ServerLimits{kControlMaxConnections, kControlTimeout, kControlTimeout});
  if (auto r = control_->start(); !r) return r;
  if (cfg_.metricsListen) {
    metricsServer_ = std::make_unique<MetricsServer>(
        io_, *cfg_.metricsListen, cfg_.metricsPath, [this] { return metrics(); },
        ServerLimits{cfg_.metricsMaxConnections, cfg_.metricsTimeout, cfg_.metricsTimeout});
    if (auto r = metricsServer_->start(); !r) return r;
  }
  for (auto& [k, v] : vips_)
    for (auto& b : v.backends) startCheck(b);
  notify::ready("running: " + std::to_string(vips_.size()) + " VIPs, control socket " + cfg_.controlSocket);
  log::info("running: " + std::to_string(vips_.size()) + " VIPs from " + cfg_.file + ", control socket " +
            cfg_.controlSocket +
            (cfg_.metricsListen ? ", metrics on http://" + cfg_.metricsListen->str() + cfg_.metricsPath : ""));
  return {};
}

void Daemon::shutdown() {
  stopping_ = true;
  if (guard_) guard_->stop();  // before any detach below: it would attach xlb again
  if (nexthops_) nexthops_->stop();
  if (proxy_) proxy_->stop(cfg_.proxyDrain);
  if (control_) control_->stop();
  if (metricsServer_) metricsServer_->stop();
  unpinOwner(cfg_.pinPath);
  if (opts_.detachOnExit) {
    for (const auto& i : cfg_.interfaces) {
      if (auto r = detach(cfg_.pinPath, i.name); !r)
        log::error("cannot detach from " + i.name + ": " + r.error().describe());
      else
        log::info("detached xlb_xdp from " + i.name);
    }
  } else {
    log::info("stopping; xlb_xdp stays attached and forwards with the last state");
  }
}

Result<void> Daemon::removeVip(const VipKey& key) {
  auto it = vips_.find(key);
  if (proxy_) proxy_->remove(key);
  if (it != vips_.end()) {
    for (auto& b : it->second.backends) b->alive = false;
    vips_.erase(it);
  }
  if (dp_->vip(key)) return dp_->delVip(key);
  return {};
}

Result<json> Daemon::reload() {
  notify::reloading("reloading " + cfg_.file);
  auto nc = loadConfig(cfg_.file);
  auto bad = [&](const std::string& m) -> Result<json> {
    ++reloadsFailed_;
    lastReloadError_ = m;
    log::error("reload rejected, nothing changed: " + m);
    notify::ready("running generation " + std::to_string(generation_) + "; the last reload was rejected: " +
                  m.substr(0, m.find('\n')));
    return fail(0, m);
  };
  if (!nc) return bad(nc.error().describe());
  if (nc->pinPath != cfg_.pinPath) return bad(cfg_.file + ": pin_path changed: restart xlbd to move the instance");
  if (nc->controlSocket != cfg_.controlSocket)
    return bad(cfg_.file + ": control_socket changed: restart xlbd to move it");
  if (auto h = checkHost(*nc); !h) return bad(h.error().message);
  if (auto r = checkCapacity(*nc, dp_->meta()); !r) return bad(r.error().message);
  // Certificates and keys of HTTP VIPs load before anything changes (and
  // again on every reload: renewed files are picked up).
  std::map<VipKey, VipTls> tlsOf;
  for (const auto& vc : nc->vips) {
    auto t = tlsFor(vc);
    if (!t) return bad(cfg_.file + ":" + std::to_string(vc.line) + ": tls: " + t.error().describe());
    tlsOf[vc.key] = *t;
  }

  warnLimits(*nc, dp_->meta());
  warnForwarding(*nc);
  json changes = json::array();
  // Interfaces: attach the new, detach the dropped.
  Config onlyNew = *nc;
  onlyNew.interfaces.clear();
  for (const auto& i : nc->interfaces)
    if (std::none_of(cfg_.interfaces.begin(), cfg_.interfaces.end(), [&](auto& o) { return o.name == i.name; }))
      onlyNew.interfaces.push_back(i);
  if (auto r = attachInterfaces(onlyNew); !r) return bad(r.error().describe());
  for (const auto& i : onlyNew.interfaces) {
    if (auto r = guard_->track(i.name); !r) log::error(r.error().describe());
    changes.push_back("attached " + i.name);
  }
  for (const auto& o : cfg_.interfaces)
    if (std::none_of(nc->interfaces.begin(), nc->interfaces.end(), [&](auto& i) { return o.name == i.name; })) {
      guard_->untrack(o.name);
      if (auto r = detach(cfg_.pinPath, o.name); !r) log::error("cannot detach from " + o.name + ": " + r.error().describe());
      changes.push_back("detached " + o.name);
    }

  // VIPs: only the difference.
  std::vector<VipKey> gone;
  for (const auto& [k, v] : vips_)
    if (std::none_of(nc->vips.begin(), nc->vips.end(), [&](auto& c) { return c.key == k; })) gone.push_back(k);
  for (const auto& k : gone) {
    if (auto r = removeVip(k); !r) log::error(k.str() + ": " + r.error().describe());
    changes.push_back("removed VIP " + k.str());
  }
  std::string oldFile = cfg_.file;
  bool oldStartUp = cfg_.startUp;
  for (const auto& vc : nc->vips) {
    auto it = vips_.find(vc.key);
    if (it != vips_.end() && it->second.cfg == vc) {  // unchanged: flows and ring untouched
      if (vc.mode == VipMode::Http && tlsOf[vc.key]) {
        it->second.tls = tlsOf[vc.key];
        apply(vc.key);
      }
      continue;
    }
    Vip v;
    v.cfg = vc;
    v.tls = tlsOf[vc.key];
    if (it != vips_.end() && it->second.cfg.mode == vc.mode) {
      v.http = it->second.http;  // the counters go on
      v.routes = it->second.routes;
      v.inMaps = it->second.inMaps;
    } else if (it != vips_.end() && proxy_) {
      proxy_->remove(vc.key);  // l4 now: its listeners go
    }
    for (const auto& bc : vc.backends) {
      // The backend it was: the same address and port. Else its port
      // changed: among the old backends on its address that no new one
      // has the address and port of, the one of the same name, or the only
      // one when it is the only new backend on that address without its
      // old self. (HTTP backends may share an address on different ports.)
      std::shared_ptr<Backend> old;
      if (it != vips_.end()) {
        auto& was = it->second.backends;
        auto same = [](const auto& x, const auto& y) { return x.addr == y.addr && x.port == y.port; };
        for (auto& b : was)
          if (same(b->cfg, bc)) old = b;
        std::vector<std::shared_ptr<Backend>> moved;
        if (!old)
          for (auto& b : was)
            if (b->cfg.addr == bc.addr &&
                std::none_of(vc.backends.begin(), vc.backends.end(), [&](const BackendConfig& x) { return same(x, b->cfg); }))
              moved.push_back(b);
        for (auto& b : moved)
          if (b->cfg.name == bc.name) old = b;
        size_t newcomers = std::count_if(vc.backends.begin(), vc.backends.end(), [&](const BackendConfig& x) {
          return x.addr == bc.addr && std::none_of(was.begin(), was.end(), [&](const auto& b) { return same(b->cfg, x); });
        });
        if (!old && moved.size() == 1 && newcomers == 1) old = moved[0];
      }
      if (old && old->cfg.check == bc.check && old->cfg.port == bc.port) {
        old->cfg = bc;  // weight or name changed: health carries over
        v.backends.push_back(old);
        continue;
      }
      std::optional<bool> up;
      if (old) {
        up = old->up();
        old->alive = false;
      }
      auto b = makeBackend(vc.key, bc, up ? up : std::optional<bool>(oldStartUp));
      if (old) {
        b->admin = old->admin;
        b->weightOverride = old->weightOverride;
        b->http = old->http;
      }
      v.backends.push_back(b);
      startCheck(b);
    }
    if (it != vips_.end())
      for (auto& b : it->second.backends)
        if (std::none_of(v.backends.begin(), v.backends.end(), [&](auto& x) { return x == b; })) b->alive = false;
    changes.push_back((it == vips_.end() ? "added VIP " : "changed VIP ") + vc.key.str());
    vips_[vc.key] = std::move(v);
    if (auto r = apply(vc.key); !r) log::error(vc.key.str() + ": " + r.error().describe());
  }
  cfg_ = std::move(*nc);
  cfg_.file = oldFile;
  if (proxy_) proxy_->setMaxConnections(proxyMaxConnections());
  ++generation_;
  ++reloadsOk_;
  lastReloadError_.clear();
  saveOperatorStates();
  notify::ready("running generation " + std::to_string(generation_));
  log::info("reloaded " + cfg_.file + " (generation " + std::to_string(generation_) + "): " +
            (changes.empty() ? std::string("no changes") : changes.dump()));
  return json{{"generation", generation_}, {"changes", changes}};
}

std::shared_ptr<Daemon::Backend> Daemon::find(const std::string& vip, const std::string& proto,
                                              const std::string& backend, std::string& err) {
  auto ep = Endpoint::parse(vip);
  auto pr = parseProto(proto.empty() ? "tcp" : proto);
  if (!ep) return err = ep.error().message, nullptr;
  if (!pr) return err = pr.error().message, nullptr;
  auto it = vips_.find(VipKey{*ep, *pr});
  if (it == vips_.end()) return err = "no VIP " + VipKey{*ep, *pr}.str() + " in the config", nullptr;
  // BACKEND is its address, ADDR:PORT, or its name.
  auto addr = IpAddr::parse(backend);
  auto bep = Endpoint::parse(backend);
  std::vector<std::shared_ptr<Backend>> hits;
  for (auto& b : it->second.backends)
    if ((addr && b->cfg.addr == *addr) || (bep && b->cfg.addr == bep->addr && b->cfg.port == bep->port) ||
        b->cfg.name == backend)
      hits.push_back(b);
  if (hits.size() == 1) return hits[0];
  if (hits.size() > 1)
    return err = "several backends of " + it->first.str() + " have the address " + backend +
                 ": name one as ADDR:PORT or by its name",
           nullptr;
  if (!addr && !bep && it->second.cfg.mode == VipMode::L4) return err = IpAddr::parse(backend).error().message, nullptr;
  err = "no backend " + backend + " in " + it->first.str();
  return nullptr;
}

json Daemon::healthJson() const {
  json out = json::array();
  auto now = Clock::now();
  for (const auto& [k, v] : vips_) {
    json bs = json::array();
    for (const auto& b : v.backends) {
      json j{{"address", b->cfg.addr.str()}, {"port", b->cfg.port}, {"name", b->cfg.name}, {"weight", b->weight()},
             {"config_weight", b->cfg.weight},
             {"admin", adminName(b->admin)}, {"check", checkTypeName(b->cfg.check.type)},
             {"state", b->up() ? "up" : "down"}};
      if (b->health) {
        const auto& h = *b->health;
        j["since_seconds"] = std::chrono::duration<double>(now - h.since()).count();
        j["checks"] = h.checks();
        j["failures"] = h.failures();
        j["local_errors"] = h.localErrors();
        if (h.lastCheck()) {
          j["last_check_seconds_ago"] = std::chrono::duration<double>(now - *h.lastCheck()).count();
          j["last_result"] = h.last().ok ? "ok" : h.last().error;
          j["latency_ms"] = h.last().latency.count() / 1000.0;
        }
        if (!h.lastError().empty()) j["last_error"] = h.lastError();
      }
      bs.push_back(j);
    }
    out.push_back({{"vip", k.str()}, {"vip_key", k.str()}, {"endpoint", k.ep.str()}, {"proto", protoName(k.proto)},
                   {"mode", v.cfg.mode == VipMode::Http ? "http" : "l4"},
                   {"forward", v.cfg.mode == VipMode::Http ? "http" : forwardName(v.cfg.forward)}, {"backends", bs}});
  }
  return out;
}

json Daemon::interfacesJson() const {
  json out = json::array();
  if (!guard_) return out;
  for (const auto& [name, i] : guard_->interfaces()) {
    json j{{"name", name}, {"attached", i.attached}, {"program_id", i.progId}, {"reattaches", i.reattaches}};
    if (!i.problem.empty()) j["problem"] = i.problem;
    out.push_back(j);
  }
  return out;
}

json Daemon::configJson() const {
  json vs = json::array();
  for (const auto& [k, v] : vips_) {
    json bs = json::array();
    for (const auto& b : v.cfg.backends) {
      const auto& c = b.check;
      json chk{{"type", checkTypeName(c.type)}};
      if (c.type != CheckType::None) {
        chk["interval_ms"] = c.interval.count();
        chk["timeout_ms"] = c.timeout.count();
        chk["rise"] = c.rise;
        chk["fall"] = c.fall;
        if (c.port) chk["port"] = *c.port;
        if (c.address) chk["address"] = c.address->str();
        if (c.type != CheckType::Tcp) {
          chk["path"] = c.path;
          if (!c.host.empty()) chk["host"] = c.host;
          json st = json::array();
          for (auto s : c.expectStatus) st.push_back(s.lo == s.hi ? std::to_string(s.lo) : std::to_string(s.lo) + "-" + std::to_string(s.hi));
          chk["expect_status"] = st;
          if (!c.expectBody.empty()) chk["expect_body"] = c.expectBody;
        }
        if (c.type == CheckType::Https) {
          chk["verify"] = c.verify;
          if (!c.sni.empty()) chk["sni"] = c.sni;
          if (!c.caFile.empty()) chk["ca_file"] = c.caFile;
        }
      }
      bs.push_back({{"address", b.addr.str()}, {"name", b.name}, {"weight", b.weight}, {"check", chk}});
    }
    vs.push_back({{"address", k.ep.str()}, {"proto", protoName(k.proto)}, {"forward", forwardName(v.cfg.forward)},
                  {"all_down", v.cfg.allDown == AllDown::Drop ? "drop" : "send_to_all"}, {"backends", bs}});
  }
  json ifs = json::array();
  for (const auto& i : cfg_.interfaces) ifs.push_back(i.name);
  return {{"file", cfg_.file}, {"generation", generation_}, {"pin_path", cfg_.pinPath},
          {"control_socket", cfg_.controlSocket}, {"interfaces", ifs}, {"vips", vs}};
}

json Daemon::handle(const json& req) {
  std::string cmd = req.value("cmd", "");
  auto error = [](const std::string& m) { return json{{"ok", false}, {"error", m}}; };
  try {
    if (cmd == "status")
      return {{"ok", true}, {"pid", getpid()}, {"pin_path", cfg_.pinPath}, {"generation", generation_},
              {"interfaces", interfacesJson()}};
    if (cmd == "health") return {{"ok", true}, {"vips", healthJson()}, {"interfaces", interfacesJson()}};
    if (cmd == "config") return {{"ok", true}, {"config", configJson()}};
    if (cmd == "reload") {
      auto r = reload();
      if (!r) return error(r.error().describe());
      return {{"ok", true}, {"result", *r}};
    }
    if (cmd == "backend") {
      std::string err;
      auto b = find(req.value("vip", ""), req.value("proto", "tcp"), req.value("backend", ""), err);
      if (!b) return error(err);
      std::string action = req.value("action", "");
      if (action == "weight") {
        if (!req.contains("weight") || !req["weight"].is_number_unsigned() || req["weight"].get<uint64_t>() > kMaxWeight)
          return error("weight must be a number from 0 to " + std::to_string(kMaxWeight));
        auto w = static_cast<uint32_t>(req["weight"].get<uint64_t>());
        // The config's own weight again: the override goes.
        if (w == b->cfg.weight) b->weightOverride.reset();
        else b->weightOverride = w;
        log::info(label(b->vip, b->cfg.addr) + ": weight " + std::to_string(w) + " (configured " +
                  std::to_string(b->cfg.weight) + ")");
      } else {
        auto a = parseAdmin(action);
        if (!a) return error("unknown action '" + action + "' (use enable, disable, drain or weight)");
        b->admin = *a;
        log::info(label(b->vip, b->cfg.addr) + ": administratively " + adminName(*a));
      }
      saveOperatorStates();
      auto r = apply(b->vip);
      if (!r) return error(r.error().describe());
      return {{"ok", true}, {"admin", adminName(b->admin)}, {"state", b->up() ? "up" : "down"},
              {"weight", b->weight()}, {"config_weight", b->cfg.weight}, {"flows_removed", r->flowsRemoved}};
    }
  } catch (const std::exception& e) {
    return error(std::string("bad request: ") + e.what());
  }
  return error("unknown command '" + cmd + "'");
}

}  // namespace xlb
