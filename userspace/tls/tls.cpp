// SPDX-License-Identifier: Apache-2.0
#include "tls.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>

#include "stream.h"

namespace xlb::tls {

namespace {

// Mozilla's "intermediate" configuration (TLS 1.2 suites; TLS 1.3's are
// OpenSSL's defaults, all of them acceptable).
constexpr const char* kCiphers12 =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";

std::string sslError() {
  unsigned long e = ERR_get_error();
  if (!e) return "unknown error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  ERR_clear_error();
  return buf;
}

// ALPN: http/1.1 is what is served; a client offering only h2 gets no ALPN
// (and speaks HTTP/1.1 or fails), never a protocol the proxy does not speak.
int selectAlpn(SSL*, const unsigned char** out, unsigned char* outLen, const unsigned char* in, unsigned inLen, void*) {
  for (unsigned i = 0; i + 1 <= inLen;) {
    unsigned n = in[i];
    if (i + 1 + n > inLen) break;
    if (n == 8 && std::memcmp(in + i + 1, "http/1.1", 8) == 0) {
      *out = in + i + 1;
      *outLen = 8;
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + n;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

// Session ticket keys: a new one every hour; the one before still opens
// tickets it issued. Shared by every context of the process.
class TicketKeys {
 public:
  static TicketKeys& get() {
    static TicketKeys k;
    return k;
  }
  struct Key {
    unsigned char name[16], aes[32], hmac[32];
  };
  // The current key, rotated when it is an hour old; the previous one.
  void keys(Key& current, Key& previous) {
    std::lock_guard<std::mutex> lk(mu_);  // a handshake's cost dwarfs this
    auto now = std::chrono::steady_clock::now();
    if (!born_ || now - *born_ > std::chrono::hours(1)) {
      prev_ = cur_;
      RAND_bytes(reinterpret_cast<unsigned char*>(&cur_), sizeof(cur_));
      if (!born_) prev_ = cur_;
      born_ = now;
    }
    current = cur_;
    previous = prev_;
  }

 private:
  std::mutex mu_;
  Key cur_{}, prev_{};
  std::optional<std::chrono::steady_clock::time_point> born_;
};

int ticketKey(SSL*, unsigned char name[16], unsigned char iv[EVP_MAX_IV_LENGTH], EVP_CIPHER_CTX* ctx, EVP_MAC_CTX* hctx,
              int enc) {
  TicketKeys::Key cur, prev;
  TicketKeys::get().keys(cur, prev);
  const TicketKeys::Key* k = &cur;
  if (enc) {
    std::memcpy(name, cur.name, 16);
    if (RAND_bytes(iv, 16) != 1) return -1;
  } else if (std::memcmp(name, cur.name, 16) != 0) {
    if (std::memcmp(name, prev.name, 16) != 0) return 0;  // unknown: a full handshake
    k = &prev;
  }
  OSSL_PARAM params[3];
  params[0] = OSSL_PARAM_construct_octet_string("key", const_cast<unsigned char*>(k->hmac), 32);
  params[1] = OSSL_PARAM_construct_utf8_string("digest", const_cast<char*>("sha256"), 0);
  params[2] = OSSL_PARAM_construct_end();
  if (EVP_MAC_CTX_set_params(hctx, params) != 1) return -1;
  if (enc) return EVP_EncryptInit_ex(ctx, EVP_aes_256_cbc(), nullptr, k->aes, iv) == 1 ? 1 : -1;
  if (EVP_DecryptInit_ex(ctx, EVP_aes_256_cbc(), nullptr, k->aes, iv) != 1) return -1;
  // 2: valid, and a fresh ticket is issued. TLS 1.3 clients use a ticket
  // once (RFC 8446 C.4); answering 1 made OpenSSL send none after a
  // resumption, so every second connection of a client was a full
  // handshake (seen with wrk: full, resumed, full, ...).
  return 2;
}

Result<void> harden(SSL_CTX* c, bool resumption) {
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_set_cipher_list(c, kCiphers12) != 1) return fail(0, "cannot set ciphers: " + sslError());
  SSL_CTX_set_alpn_select_cb(c, selectAlpn, nullptr);
  SSL_CTX_set_client_hello_cb(c, Stream::onClientHello, nullptr);
  if (resumption) {
    SSL_CTX_set_tlsext_ticket_key_evp_cb(c, ticketKey);
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_SERVER);
  } else {
    SSL_CTX_set_options(c, SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(c, 0);
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
  }
  return {};
}

Result<void> loadPair(SSL_CTX* c, const TlsCertFiles& f) {
  if (SSL_CTX_use_certificate_chain_file(c, f.certFile.c_str()) != 1)
    return fail(0, "cannot load certificate " + f.certFile + ": " + sslError());
  if (SSL_CTX_use_PrivateKey_file(c, f.keyFile.c_str(), SSL_FILETYPE_PEM) != 1)
    return fail(0, "cannot load key " + f.keyFile + ": " + sslError());
  if (SSL_CTX_check_private_key(c) != 1) return fail(0, f.keyFile + " is not the key of " + f.certFile);
  return {};
}

// Every context after the first, by which SNI picks among them.
struct Sni {
  std::vector<SSL_CTX*> others;  // owned by the asio contexts kept below
  std::vector<std::unique_ptr<asio::ssl::context>> keep;
};

int pickBySni(SSL* ssl, int*, void* arg) {
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (!name) return SSL_TLSEXT_ERR_OK;
  auto* sni = static_cast<Sni*>(arg);
  for (SSL_CTX* c : sni->others) {
    X509* leaf = SSL_CTX_get0_certificate(c);
    if (leaf && X509_check_host(leaf, name, 0, 0, nullptr) == 1) {
      SSL_set_SSL_CTX(ssl, c);
      return SSL_TLSEXT_ERR_OK;
    }
  }
  return SSL_TLSEXT_ERR_OK;  // the default (first) certificate
}

}  // namespace

Result<std::shared_ptr<asio::ssl::context>> serverContext(const std::vector<TlsCertFiles>& certs, bool resumption) {
  if (certs.empty()) return fail(EINVAL, "no certificate");
  auto main = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  if (auto r = harden(main->native_handle(), resumption); !r) return xlb::unexpected(r.error());
  if (auto r = loadPair(main->native_handle(), certs[0]); !r) return xlb::unexpected(r.error());
  if (certs.size() > 1) {
    auto sni = std::make_shared<Sni>();
    for (size_t i = 1; i < certs.size(); ++i) {
      auto c = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
      if (auto r = harden(c->native_handle(), resumption); !r) return xlb::unexpected(r.error());
      if (auto r = loadPair(c->native_handle(), certs[i]); !r) return xlb::unexpected(r.error());
      sni->others.push_back(c->native_handle());
      sni->keep.push_back(std::move(c));
    }
    // The first certificate answers too when its names match.
    sni->others.insert(sni->others.begin(), main->native_handle());
    SSL_CTX_set_tlsext_servername_callback(main->native_handle(), pickBySni);
    SSL_CTX_set_tlsext_servername_arg(main->native_handle(), sni.get());
    // The SNI table lives as long as the main context.
    return std::shared_ptr<asio::ssl::context>(main.get(), [main, sni](asio::ssl::context*) {});
  }
  return main;
}

std::vector<std::string> certificateNames(const std::string& certFile) {
  std::vector<std::string> out;
  FILE* f = std::fopen(certFile.c_str(), "r");
  if (!f) return out;
  X509* x = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  if (!x) return out;
  if (auto* sans = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr))) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* g = sk_GENERAL_NAME_value(sans, i);
      if (g->type == GEN_DNS)
        out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(g->d.dNSName)), ASN1_STRING_length(g->d.dNSName));
    }
    GENERAL_NAMES_free(sans);
  }
  if (out.empty()) {
    char cn[256] = {};
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn)) > 0) out.push_back(cn);
  }
  X509_free(x);
  return out;
}

ClientContext clientContext(bool verify, const std::string& caFile) {
  ClientContext c;
  c.ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(c.ctx->native_handle(), TLS1_2_VERSION);
  if (verify) {
    c.ctx->set_verify_mode(asio::ssl::verify_peer);
    std::error_code ec;
    if (caFile.empty())
      c.ctx->set_default_verify_paths(ec);
    else
      c.ctx->load_verify_file(caFile, ec);
    if (ec)
      c.error = "TLS error: cannot load " + (caFile.empty() ? std::string("the system CAs") : caFile) + ": " + ec.message();
  } else {
    c.ctx->set_verify_mode(asio::ssl::verify_none);
  }
  return c;
}

}  // namespace xlb::tls
