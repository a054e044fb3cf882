// SPDX-License-Identifier: Apache-2.0
#include "rewrite.h"

#include <openssl/hmac.h>

#include <algorithm>
#include <cstdio>
#include <vector>

namespace xlb::proxy {

namespace {

using http::listOf;
using http::trim;

// Headers that say who the client is. The proxy sets X-Forwarded-*; the
// others, from a client that is not a trusted proxy, are claims it made
// about itself. Spelled with underscores they are the same header to a
// WSGI or CGI application (X_Forwarded_For and X-Forwarded-For are both
// HTTP_X_FORWARDED_FOR), so those spellings never pass.
constexpr std::string_view kClientHeaders[] = {"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Port",
                                               "X-Forwarded-Host", "Forwarded", "X-Real-IP"};

bool sameWithUnderscores(std::string_view n, std::string_view canonical) {
  return n.size() == canonical.size() && std::equal(n.begin(), n.end(), canonical.begin(), [](char a, char b) {
           char x = a == '_' ? '-' : a;
           return http::iequals(std::string_view(&x, 1), std::string_view(&b, 1));
         });
}

bool framingHeader(std::string_view n) {
  auto k = http::classify(n);
  return k == http::Name::Host || k == http::Name::ContentLength || k == http::Name::TransferEncoding;
}

http::Name kind(const http::Header& h) { return h.id == http::Name::Unknown ? http::classify(h.name) : h.id; }

}  // namespace

void stripHopByHop(http::Message& m, bool keepWebsocket) {
  using http::Name;
  // Headers the Connection header names (close and keep-alive name none
  // that is not dropped anyway: nothing kept, nothing allocated).
  std::vector<std::string> named;
  for (const auto& h : m.headers)
    if (h.is(Name::Connection))
      http::eachOf(h.value, ',', [&](std::string_view t) {
        if (!framingHeader(t) && !http::iequals(t, "upgrade") && !http::iequals(t, "close") &&
            !http::iequals(t, "keep-alive"))
          named.emplace_back(t);
        return false;
      });
  m.headers.erase(std::remove_if(m.headers.begin(), m.headers.end(),
                                 [&](const http::Header& h) {
                                   switch (kind(h)) {
                                     case Name::Connection:
                                     case Name::KeepAlive:
                                     case Name::TE:
                                     case Name::Trailer:
                                     case Name::HTTP2Settings:
                                     case Name::OtherProxy:
                                       return true;
                                     case Name::Upgrade:
                                       return !keepWebsocket;
                                     default:
                                       break;
                                   }
                                   for (const auto& x : named)
                                     if (http::iequals(h.name, x)) return true;
                                   return false;
                                 }),
                  m.headers.end());
  if (keepWebsocket) {
    m.set(Name::Connection, "Upgrade");
    m.set(Name::Upgrade, "websocket");
  }
}

void setForwarded(http::Message& m, const HttpVip& cfg, const IpAddr& client, bool tls, uint16_t vipPort,
                  std::string_view clientText) {
  std::string xff = clientText.empty() ? client.str() : std::string(clientText);
  bool trusted = cfg.forwardedAppend && std::any_of(cfg.trustedProxies.begin(), cfg.trustedProxies.end(),
                                                    [&](const Prefix& p) { return p.contains(client); });
  m.headers.erase(std::remove_if(m.headers.begin(), m.headers.end(),
                                 [&](const http::Header& h) {
                                   auto k = kind(h);
                                   if (k == http::Name::OtherUnderscore)
                                     return std::any_of(std::begin(kClientHeaders), std::end(kClientHeaders),
                                                        [&](std::string_view c) { return sameWithUnderscores(h.name, c); });
                                   return !trusted && (k == http::Name::Forwarded || k == http::Name::XRealIP);
                                 }),
                  m.headers.end());
  if (trusted) {
    // The chain a trusted proxy sent, if every element is an address.
    std::string chain;
    bool valid = true;
    for (const auto& h : m.headers)
      if (h.is(http::Name::XForwardedFor))
        http::eachOf(h.value, ',', [&](std::string_view t) {
          if (!IpAddr::parse(t)) valid = false;
          else chain += (chain.empty() ? "" : ", ") + std::string(t);
          return false;
        });
    if (valid && !chain.empty()) xff = chain + ", " + xff;
  }
  m.set(http::Name::XForwardedFor, xff);
  m.set(http::Name::XForwardedProto, tls ? "https" : "http");
  m.set(http::Name::XForwardedPort, std::to_string(vipPort));
  if (const http::Header* host = m.find(http::Name::Host))
    m.set(http::Name::XForwardedHost, host->value);
  else
    m.remove(http::Name::XForwardedHost);
}

void privateOnly(http::Message& m) {
  std::string cc;
  bool kept = false;  // private or no-store already
  for (const auto& h : m.headers)
    if (h.is(http::Name::CacheControl))
      http::eachOf(h.value, ',', [&](std::string_view t) {
        auto name = trim(t.substr(0, t.find('=')));
        if (http::iequals(name, "public") || http::iequals(name, "s-maxage")) return false;
        // private="field" lets a shared cache store the rest: only bare private counts.
        kept = kept || (http::iequals(name, "private") && t.find('=') == std::string_view::npos) ||
               http::iequals(name, "no-store");
        cc.append(cc.empty() ? "" : ", ").append(t);
        return false;
      });
  if (!kept) cc.append(cc.empty() ? "" : ", ").append("private");
  m.set(http::Name::CacheControl, std::move(cc));
}

std::optional<std::string> cookieValue(const http::Message& m, std::string_view name) {
  for (const auto& h : m.headers) {
    if (!h.is(http::Name::Cookie)) continue;
    for (auto pair : listOf(h.value, ';')) {
      size_t eq = pair.find('=');
      if (eq != std::string_view::npos && trim(pair.substr(0, eq)) == name) {
        auto val = trim(pair.substr(eq + 1));
        if (val.size() >= 2 && val.front() == '"' && val.back() == '"') val = val.substr(1, val.size() - 2);
        return std::string(val);
      }
    }
  }
  return std::nullopt;
}

void removeCookie(http::Message& m, std::string_view name) {
  for (auto& h : m.headers) {
    if (!h.is(http::Name::Cookie)) continue;
    std::string kept;
    for (auto pair : listOf(h.value, ';')) {
      size_t eq = pair.find('=');
      bool ours = eq != std::string_view::npos && trim(pair.substr(0, eq)) == name;
      if (!ours) kept += (kept.empty() ? "" : "; ") + std::string(pair);
    }
    h.value = kept;
  }
  m.headers.erase(std::remove_if(m.headers.begin(), m.headers.end(),
                                 [](const http::Header& h) { return h.is(http::Name::Cookie) && h.value.empty(); }),
                  m.headers.end());
}

std::string cookieToken(std::string_view secret, const VipKey& vip, std::string_view backendName) {
  std::string msg = vip.str() + "|" + std::string(backendName);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), reinterpret_cast<const unsigned char*>(msg.data()),
       msg.size(), out, &len);
  char hex[17];
  for (int i = 0; i < 8; ++i) std::snprintf(hex + 2 * i, 3, "%02x", out[i]);
  return std::string(hex, 16);
}

}  // namespace xlb::proxy
