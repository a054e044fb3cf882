// SPDX-License-Identifier: Apache-2.0
// What the proxy changes in the messages it forwards: hop-by-hop headers
// out, X-Forwarded-* in, its persistence cookie read, removed and set.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "http.h"
#include "xlb/addr.h"
#include "xlb/config.h"

namespace xlb::proxy {

// Connection and every header it names (never Host nor the framing
// headers), Keep-Alive, TE, Trailer, Proxy-*, HTTP2-Settings, and Upgrade
// unless it is a websocket upgrade that is kept (then Connection: Upgrade
// and Upgrade: websocket stay).
void stripHopByHop(http::Message& m, bool keepWebsocket);

// X-Forwarded-For (replaced, or appended to when the client is a trusted
// proxy and the VIP says append), -Proto, -Port and -Host. From any other
// client, Forwarded and X-Real-IP are removed too; from every client, the
// spellings of these headers with underscores (the same header to WSGI).
// clientText: client.str() when the caller has it already (it costs a printf).
void setForwarded(http::Message& m, const HttpVip& cfg, const IpAddr& client, bool tls, uint16_t vipPort,
                  std::string_view clientText = {});

// nocache, for a response that sets the persistence cookie: a shared cache
// must not store it for others. Cache-Control gains `private` (unless it
// has private or no-store) and loses `public` and `s-maxage`.
void privateOnly(http::Message& m);

// The value of cookie `name` in the request's Cookie headers.
std::optional<std::string> cookieValue(const http::Message& m, std::string_view name);
// Removes cookie `name` from the Cookie headers (the backend never sees the
// proxy's own cookie); drops a Cookie header left empty.
void removeCookie(http::Message& m, std::string_view name);
// The persistence cookie's value for a backend: 16 hex digits of an HMAC
// of the VIP and the backend's name under a secret, so it names the
// backend without telling its address, and stays the same across restarts
// (and across nodes that share the secret).
std::string cookieToken(std::string_view secret, const VipKey& vip, std::string_view backendName);

}  // namespace xlb::proxy
