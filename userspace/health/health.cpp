// SPDX-License-Identifier: Apache-2.0
#include "xlb/health.h"

#include <llhttp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ssl.hpp>

namespace xlb {

std::optional<Transition> HealthTracker::observe(const ProbeResult& r, Clock::time_point now) {
  if (r.local) {  // not the backend's doing: neither a pass nor a failure
    ++localErrors_;
    lastError_ = r.error;
    return std::nullopt;
  }
  ++checks_;
  lastCheck_ = now;
  last_ = r;
  if (!r.ok) {
    ++failures_;
    lastError_ = r.error;
  }
  if (r.ok == up_) {
    streak_ = 0;
    return std::nullopt;
  }
  if (++streak_ < (up_ ? fall_ : rise_)) return std::nullopt;
  up_ = r.ok;
  streak_ = 0;
  since_ = now;
  if (up_) return Transition{true, "passed " + std::to_string(rise_) + " checks in a row"};
  return Transition{false, r.error + " (" + std::to_string(fall_) + " failures in a row)"};
}

Millis checkDelay(Millis interval, bool first, std::mt19937& rng) {
  auto ms = static_cast<double>(interval.count());
  if (first) return Millis(static_cast<int64_t>(std::uniform_real_distribution<double>(0, ms)(rng)));
  return Millis(static_cast<int64_t>(ms * std::uniform_real_distribution<double>(0.9, 1.1)(rng)));
}

namespace {

using asio::ip::tcp;
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
constexpr size_t kMaxResponse = 64 * 1024;  // read at most this much of a response

// The HTTP response as far as a check needs it, parsed by llhttp.
struct Response {
  llhttp_t parser;
  llhttp_settings_t settings;
  std::string body;
  bool complete = false;
  int status = 0;

  Response() {
    llhttp_settings_init(&settings);
    settings.on_body = [](llhttp_t* p, const char* at, size_t n) {
      auto* self = static_cast<Response*>(p->data);
      if (self->body.size() < kMaxResponse) self->body.append(at, std::min(n, kMaxResponse - self->body.size()));
      return 0;
    };
    settings.on_headers_complete = [](llhttp_t* p) {
      static_cast<Response*>(p->data)->status = llhttp_get_status_code(p);
      return 0;
    };
    settings.on_message_complete = [](llhttp_t* p) {
      static_cast<Response*>(p->data)->complete = true;
      return static_cast<int>(HPE_PAUSED);
    };
    llhttp_init(&parser, HTTP_RESPONSE, &settings);
    parser.data = this;
  }
  // Returns an error text, or empty.
  std::string feed(const char* data, size_t n) {
    auto e = llhttp_execute(&parser, data, n);
    if (e == HPE_OK || e == HPE_PAUSED) return {};
    return std::string("bad HTTP response: ") + llhttp_errno_name(e);
  }
  std::string finish() {
    if (complete) return {};
    llhttp_finish(&parser);  // a body delimited by the connection's end completes here
    if (complete) return {};
    if (status) return "response cut short";
    return "connection closed before a response";
  }
};

// Errors of this host, not of the backend checked.
bool localError(const std::error_code& ec) {
  return ec == asio::error::no_descriptors || ec.value() == ENFILE || ec == asio::error::no_buffer_space ||
         ec == asio::error::no_memory || ec.value() == EADDRNOTAVAIL;
}

std::string describe(const std::error_code& ec) {
  if (ec == asio::error::connection_refused) return "connection refused";
  if (ec == asio::error::connection_reset) return "connection reset";
  if (ec == asio::error::host_unreachable || ec == asio::error::network_unreachable) return "unreachable";
  if (ec.category() == asio::error::get_ssl_category() || ec == asio::ssl::error::stream_truncated) {
    std::string m = ec.message();
    return "TLS error: " + m;
  }
  return ec.message();
}

std::string statusOk(const CheckSpec& spec, const Response& r) {
  bool ok = false;
  for (const auto& s : spec.expectStatus) ok = ok || (r.status >= s.lo && r.status <= s.hi);
  if (!ok) return "status " + std::to_string(r.status);
  if (!spec.expectBody.empty() && r.body.find(spec.expectBody) == std::string::npos) return "body mismatch";
  return {};
}

std::string request(const CheckSpec& spec, const Endpoint& target) {
  std::string host = spec.host.empty() ? target.str() : spec.host;
  return "GET " + spec.path + " HTTP/1.1\r\nHost: " + host +
         "\r\nUser-Agent: xlbd-health\r\nAccept: */*\r\nConnection: close\r\n\r\n";
}

// Sends the request and reads the response on any stream; returns an error
// text, or empty on a matching response.
template <class Stream>
asio::awaitable<std::string> exchange(Stream& s, const CheckSpec& spec, const Endpoint& target) {
  std::string req = request(spec, target);
  auto [we, wn] = co_await asio::async_write(s, asio::buffer(req), kTuple);
  if (we) co_return describe(we);
  Response resp;
  std::array<char, 4096> buf;
  size_t total = 0;
  while (!resp.complete) {
    auto [re, n] = co_await s.async_read_some(asio::buffer(buf), kTuple);
    if (n) {
      if (auto e = resp.feed(buf.data(), n); !e.empty()) co_return e;
      total += n;
      if (total > kMaxResponse + 16384 && !resp.complete) co_return "response too large";
    }
    if (re) {
      if (re == asio::error::eof || re == asio::ssl::error::stream_truncated) {
        if (auto e = resp.finish(); !e.empty()) co_return e;
        break;
      }
      co_return describe(re);
    }
  }
  co_return statusOk(spec, resp);
}

}  // namespace

struct Prober::Impl {
  struct Tls {
    std::unique_ptr<asio::ssl::context> ctx;
    std::string error;  // the CA file could not be loaded: every check says so
  };
  asio::io_context& io;
  std::map<std::pair<bool, std::string>, Tls> tls;

  Tls& context(const CheckSpec& spec) {
    auto& t = tls[{spec.verify, spec.caFile}];
    if (!t.ctx) {
      t.ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
      if (spec.verify) {
        t.ctx->set_verify_mode(asio::ssl::verify_peer);
        std::error_code ec;
        if (spec.caFile.empty())
          t.ctx->set_default_verify_paths(ec);
        else
          t.ctx->load_verify_file(spec.caFile, ec);
        if (ec)
          t.error = "TLS error: cannot load " + (spec.caFile.empty() ? std::string("the system CAs") : spec.caFile) +
                    ": " + ec.message();
      } else {
        t.ctx->set_verify_mode(asio::ssl::verify_none);
      }
    }
    return t;
  }
};

Prober::Prober(asio::io_context& io) : impl_(std::make_unique<Impl>(Impl{io, {}})) {}
Prober::~Prober() = default;

asio::awaitable<ProbeResult> Prober::probe(const CheckSpec& spec, Endpoint target) {
  auto ex = co_await asio::this_coro::executor;
  auto start = Clock::now();
  tcp::endpoint ep(asio::ip::make_address(target.addr.str()), target.port);

  // The timeout closes the socket, which ends whatever step is pending.
  struct Shared {
    tcp::socket sock;
    std::optional<asio::ssl::stream<tcp::socket&>> tls;
    asio::steady_timer timer;
    bool timedOut = false;
    explicit Shared(asio::any_io_executor e) : sock(e), timer(e) {}
  };
  auto sh = std::make_shared<Shared>(ex);
  sh->timer.expires_after(spec.timeout);
  sh->timer.async_wait([sh](std::error_code ec) {
    if (ec) return;
    sh->timedOut = true;
    std::error_code ignore;
    sh->sock.close(ignore);
  });

  std::string err;
  bool local = false;
  auto [ce] = co_await sh->sock.async_connect(ep, kTuple);
  if (ce && localError(ce)) {
    local = true;
    err = "cannot run the check here (" + ce.message() + "): not counted";
  } else if (ce) {
    err = describe(ce);
  } else if (spec.type == CheckType::Http) {
    err = co_await exchange(sh->sock, spec, target);
  } else if (spec.type == CheckType::Https && !impl_->context(spec).error.empty()) {
    err = impl_->context(spec).error;
  } else if (spec.type == CheckType::Https) {
    sh->tls.emplace(sh->sock, *impl_->context(spec).ctx);
    SSL* ssl = sh->tls->native_handle();
    std::string name = !spec.sni.empty() ? spec.sni : spec.host;
    std::error_code notIp;
    asio::ip::make_address(name, notIp);
    if (!notIp) name.clear();  // an address: no SNI, the certificate is checked for the IP
    if (!name.empty()) SSL_set_tlsext_host_name(ssl, name.c_str());
    if (spec.verify) {
      X509_VERIFY_PARAM* p = SSL_get0_param(ssl);
      if (!name.empty())
        X509_VERIFY_PARAM_set1_host(p, name.c_str(), 0);
      else
        X509_VERIFY_PARAM_set1_ip_asc(p, target.addr.str().c_str());
    }
    auto [he] = co_await sh->tls->async_handshake(asio::ssl::stream_base::client, kTuple);
    if (he) {
      err = describe(he);
      long v = SSL_get_verify_result(ssl);
      if (v != X509_V_OK) err = std::string("TLS error: ") + X509_verify_cert_error_string(v);
    } else {
      err = co_await exchange(*sh->tls, spec, target);
    }
  }
  sh->timer.cancel();
  if (sh->timedOut) err = "timeout";
  std::error_code ignore;
  sh->sock.close(ignore);
  co_return ProbeResult{err.empty(), local && !sh->timedOut, err,
                        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start)};
}

}  // namespace xlb
