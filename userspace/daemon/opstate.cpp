// SPDX-License-Identifier: Apache-2.0
#include "opstate.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "log.h"
#include "xlb/plan.h"

namespace xlb {

using nlohmann::json;
namespace fs = std::filesystem;

const char* adminName(Admin a) {
  switch (a) {
    case Admin::Disabled: return "disabled";
    case Admin::Drain: return "drain";
    default: return "enabled";
  }
}

std::optional<Admin> parseAdmin(const std::string& s) {
  if (s == "enabled" || s == "enable") return Admin::Enabled;
  if (s == "disabled" || s == "disable") return Admin::Disabled;
  if (s == "drain") return Admin::Drain;
  return std::nullopt;
}

std::string stateDir(const Config& c) {
  if (!c.stateDir.empty()) return c.stateDir;
  if (const char* d = std::getenv("STATE_DIRECTORY"); d && *d) {
    std::string first(d);
    return first.substr(0, first.find(':'));
  }
  return "/var/lib/xlb";
}

std::string operatorStateFile(const Config& c) { return (fs::path(stateDir(c)) / "operator-states.json").string(); }

namespace {

// Before the state directory, the states lived next to the control socket.
std::string legacyFile(const Config& c) {
  return (fs::path(c.controlSocket).parent_path() / "xlbd-admin.json").string();
}

}  // namespace

OperatorChoices loadOperatorChoices(const Config& c) {
  OperatorChoices out;
  std::string path = operatorStateFile(c);
  std::error_code ec;
  if (!fs::exists(path, ec) && fs::exists(legacyFile(c), ec)) path = legacyFile(c);
  std::ifstream in(path);
  if (!in) return out;
  try {
    json j = json::parse(in);
    for (auto& [vip, bs] : j.items())
      for (auto& [be, st] : bs.items()) {
        OperatorChoice ch;
        if (st.is_string()) {  // the legacy file: the admin state alone
          ch.admin = parseAdmin(st.get<std::string>()).value_or(Admin::Enabled);
        } else {
          ch.admin = parseAdmin(st.value("admin", "enabled")).value_or(Admin::Enabled);
          if (st.contains("weight")) {
            auto w = st["weight"].get<uint64_t>();
            if (w <= kMaxWeight) ch.weight = static_cast<uint32_t>(w);
          }
        }
        if (!ch.empty()) out[vip][be] = ch;
      }
  } catch (const std::exception& e) {
    log::warn("ignoring " + path + ": " + e.what());
  }
  return out;
}

Result<void> saveOperatorChoices(const Config& c, const OperatorChoices& choices) {
  json j = json::object();
  for (const auto& [vip, bs] : choices)
    for (const auto& [be, ch] : bs) {
      if (ch.empty()) continue;
      json e{{"admin", adminName(ch.admin)}};
      if (ch.weight) e["weight"] = *ch.weight;
      j[vip][be] = e;
    }
  std::string path = operatorStateFile(c), tmp = path + ".tmp";
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  {
    std::ofstream out(tmp);
    out << j.dump(2) << "\n";
    out.close();
    if (!out) return fail(errno, "cannot write " + tmp);
  }
  fs::rename(tmp, path, ec);
  if (ec) return fail(ec.value(), "cannot rename " + tmp + " to " + path);
  fs::remove(legacyFile(c), ec);  // carried over: the old file would only mislead
  return {};
}

}  // namespace xlb
