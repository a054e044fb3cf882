// SPDX-License-Identifier: Apache-2.0
// xlb's one TLS layer (OpenSSL; contexts as asio::ssl contexts), shared by
// the proxy and the health probes: server contexts for an HTTP VIP's
// certificates, client contexts for checks and backends. The client side
// of a VIP's connections is a tls::Stream (stream.h); probes and backend
// connections use asio::ssl::stream.
#pragma once

#include <asio/ssl/context.hpp>
#include <memory>
#include <string>
#include <vector>

#include "xlb/config.h"
#include "xlb/error.h"

namespace xlb::tls {

// A VIP's server side: TLS 1.2 and 1.3 only, Mozilla's "intermediate"
// cipher suites, ALPN http/1.1 (room for h2 later), session tickets whose
// keys are replaced every hour (the previous key still decrypts for
// another hour), and with several certificates the one whose names match
// the client's SNI (the first when none does, or when no SNI is sent). A
// ticket that opens is answered with a fresh one (TLS 1.3 clients use each
// ticket once). Without resumption: no tickets, no session cache, a full
// handshake for every connection.
Result<std::shared_ptr<asio::ssl::context>> serverContext(const std::vector<TlsCertFiles>& certs,
                                                          bool resumption = true);

// The names (subject alternative names, else the CN) a certificate file's
// leaf answers to; for logs and errors.
std::vector<std::string> certificateNames(const std::string& certFile);

// A client side for checks: peer verification against ca_file (or the
// system's CAs) when verify, none otherwise. error() says why a CA file
// could not be loaded.
struct ClientContext {
  std::unique_ptr<asio::ssl::context> ctx;
  std::string error;
};
ClientContext clientContext(bool verify, const std::string& caFile);

}  // namespace xlb::tls
