// SPDX-License-Identifier: Apache-2.0
// Who may ask for what, and which backends answer: an HTTP VIP's ACLs and
// routes, decided on the request's normalized path.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "http.h"
#include "xlb/addr.h"
#include "xlb/config.h"

namespace xlb::proxy {

// The path of an origin-form target as the application behind will see
// it, for matching only (the target is forwarded as it came): the query
// cut off, percent-escapes decoded, empty and "." segments dropped, ".."
// segments resolved. Nothing when it cannot be matched safely: a bad
// escape, a decoded control character or NUL, ".." above the root, or a
// target that is not a path. Without this, deny_paths: [/admin/] would let
// /%61dmin/, //admin/ or /x/../admin/ through to a backend that decodes.
std::optional<std::string> normalizePath(std::string_view target);

// Denied by source (deny, or not in a non-empty allow) or by path prefix
// (deny_paths) on the normalized path.
bool allowed(const HttpVip& cfg, const IpAddr& client, std::string_view path);

// The first route whose host (port ignored, any case), path prefix (on the
// normalized path) and header (exact value) all match; cfg.routes.size()
// when none does (the default: every backend).
size_t routeIndex(const HttpVip& cfg, const http::Message& m, std::string_view path);

}  // namespace xlb::proxy
