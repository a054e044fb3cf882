// SPDX-License-Identifier: Apache-2.0
// xlbctl's command table: each noun (attach.cpp, vip.cpp, backend.cpp, ...)
// registers its verbs with what they touch, so main() can refuse, in one
// place, a direct edit of an instance that xlbd owns.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "xlb/addr.h"
#include "xlb/error.h"

namespace xlbctl {

// A failed command: the message goes to stderr; code is the exit status.
struct CommandError {
  std::string message;
  int code = 1;
};

template <class T>
T check(xlb::Result<T> r) {
  if (!r) throw CommandError{r.error().describe()};
  if constexpr (!std::is_void_v<T>) return std::move(*r);
}

struct Context {
  std::string pinDir;
  std::string socketOpt;              // --socket: talk to this xlbd
  std::optional<std::string> daemon;  // the control socket of the xlbd owning pinDir, if one runs
  // One request to xlbd; throws CommandError when it is not running or refuses.
  nlohmann::json call(const nlohmann::json& request) const;
};

enum class Touches {
  Nothing,   // reads the maps, or asks xlbd
  Instance,  // changes the instance's maps or attachment directly: refused while xlbd owns it
};

struct Command {
  CLI::App* app;
  Touches touches;
  std::string underDaemon;  // Touches::Instance: what to do instead while xlbd runs
  std::function<void(Context&)> run;
};

using Commands = std::vector<Command>;

void addAttachCommands(CLI::App& app, Commands& out);   // attach, detach
void addVipCommands(CLI::App& app, Commands& out);      // vip add|del|list
void addBackendCommands(CLI::App& app, Commands& out);  // backend add|set|del|weight|enable|disable|drain
void addStatsCommands(CLI::App& app, Commands& out);    // stats, flows, explain
void addDecapCommands(CLI::App& app, Commands& out);    // decap attach|detach|vip|list
void addDaemonCommands(CLI::App& app, Commands& out);   // health, reload, config show

// Shared argument parsing, with errors that say what to do instead.
xlb::VipKey vipKey(const std::string& endpoint, const std::string& proto);
// Numbers that must be finite and within [lo, hi] (CLI11's ranges let NaN through).
CLI::Validator finiteRange(double lo, double hi);

}  // namespace xlbctl
