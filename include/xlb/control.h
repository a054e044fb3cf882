// SPDX-License-Identifier: Apache-2.0
// The client side of xlbd's control socket: one JSON request, one JSON
// answer per connection.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "xlb/error.h"

namespace xlb {

inline constexpr const char* kDefaultControlSocket = "/run/xlb/xlbd.sock";

// True when something accepts connections on the Unix socket at path.
bool controlAnswers(const std::string& path);

// Sends request, returns xlbd's answer (which carries "ok" and maybe "error").
Result<nlohmann::json> controlCall(const std::string& path, const nlohmann::json& request, int timeoutMs = 10000);

// The control socket of the xlbd that owns the instance at pinDir, if one
// is running.
std::optional<std::string> daemonSocket(const std::string& pinDir);

}  // namespace xlb
