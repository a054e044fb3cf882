// SPDX-License-Identifier: Apache-2.0
#include "xlb/health.h"

#include "http.h"
#include "tls.h"

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

std::string statusOk(const CheckSpec& spec, int status, const std::string& body) {
  bool ok = false;
  for (const auto& s : spec.expectStatus) ok = ok || (status >= s.lo && status <= s.hi);
  if (!ok) return "status " + std::to_string(status);
  if (!spec.expectBody.empty() && body.find(spec.expectBody) == std::string::npos) return "body mismatch";
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
  // The response, read with the proxy's own parser: at most kMaxResponse
  // of its body is kept for expect_body.
  http::Limits limits;
  limits.headerBytes = 16384;
  http::Parser resp(http::Parser::Kind::Response, limits);
  resp.answering("GET");
  resp.keepBody(true);
  std::string body;
  std::array<char, 4096> buf;
  size_t total = 0;
  bool done = false, head = false;
  while (!done) {
    auto [re, n] = co_await s.async_read_some(asio::buffer(buf), kTuple);
    std::string_view in(buf.data(), n);
    while (!in.empty() && !done) {
      auto st = resp.feed(in);
      if (st.what == http::Parser::Step::Fail) co_return "bad HTTP response: " + resp.failure().why;
      head = head || st.what == http::Parser::Step::Head || resp.message().status;
      if (body.size() < kMaxResponse) body.append(st.payload.substr(0, kMaxResponse - body.size()));
      done = st.what == http::Parser::Step::Done || (st.what == http::Parser::Step::Head && resp.framing() == http::Framing::None);
      in.remove_prefix(st.used);
      if (st.used == 0 && !done) break;
    }
    total += n;
    if (!done && total > kMaxResponse + 16384) co_return "response too large";
    if (re && !done) {
      if (re == asio::error::eof || re == asio::ssl::error::stream_truncated) {
        if (resp.finish().what == http::Parser::Step::Done) break;
        co_return head ? "response cut short" : "connection closed before a response";
      }
      co_return describe(re);
    }
  }
  co_return statusOk(spec, resp.message().status, body);
}

}  // namespace

struct Prober::Impl {
  asio::io_context& io;
  std::map<std::pair<bool, std::string>, tls::ClientContext> contexts;

  tls::ClientContext& context(const CheckSpec& spec) {
    auto& t = contexts[{spec.verify, spec.caFile}];
    if (!t.ctx) t = tls::clientContext(spec.verify, spec.caFile);
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
