// SPDX-License-Identifier: Apache-2.0
// The operator's decisions about backends (enable/disable/drain, a weight
// set at run time), kept in xlbd's state directory so that they outlive
// restarts and reboots: StateDirectory= under systemd (/var/lib/xlb),
// or `state_dir` in the config.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "xlb/config.h"
#include "xlb/error.h"

namespace xlb {

enum class Admin { Enabled, Disabled, Drain };
const char* adminName(Admin a);
std::optional<Admin> parseAdmin(const std::string& s);

struct OperatorChoice {
  Admin admin = Admin::Enabled;
  std::optional<uint32_t> weight;  // set with `xlbctl backend weight`; unset: the config's
  bool empty() const { return admin == Admin::Enabled && !weight; }
};

// By VIP ("198.18.0.100:80/tcp"), then backend address.
using OperatorChoices = std::map<std::string, std::map<std::string, OperatorChoice>>;

// The directory: the config's state_dir, else systemd's $STATE_DIRECTORY,
// else /var/lib/xlb.
std::string stateDir(const Config& c);
std::string operatorStateFile(const Config& c);

// Reads the file (and, once, the file older xlbds kept next to the control
// socket); what cannot be read is logged and ignored.
OperatorChoices loadOperatorChoices(const Config& c);
// Writes atomically (temporary file, then rename).
Result<void> saveOperatorChoices(const Config& c, const OperatorChoices& choices);

}  // namespace xlb
