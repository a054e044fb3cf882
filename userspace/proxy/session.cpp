// SPDX-License-Identifier: Apache-2.0
// A client connection, request by request: the head read (bounded in size
// and time) and checked by the strict parser; the VIP's policy (ACL,
// redirect); a backend chosen (its sticky cookie, else the route's
// balancer); the request forwarded with hop-by-hop headers replaced by
// X-Forwarded-*, its body streamed as it came; the response streamed back
// the same way; keep-alive on both sides; websocket upgrades turned into
// tunnels. Nothing is sent to a backend before the whole head is
// understood.
#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ssl.hpp>
#include <algorithm>
#include <type_traits>

#include "http.h"
#include "log.h"
#include "policy.h"
#include "rewrite.h"
#include "stream.h"
#include "worker.h"

namespace xlb::proxy {

using namespace asio::experimental::awaitable_operators;

namespace {

constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
constexpr size_t kRead = 16384;
constexpr int kAttempts = 3;  // backends tried for one request

using ReadResult = std::tuple<std::error_code, size_t>;

// One timer per connection, armed lazily: an operation only records its
// deadline (no system call); the watchdog wakes when the earliest deadline
// it was told of comes, and cancels what the connection waits on if that
// deadline has really passed. (A timer raced against every read and write
// with an awaitable || cost more than the proxying around it.)
struct Deadline {
  explicit Deadline(asio::io_context& io) : timer(io) {}
  asio::steady_timer timer;
  Clock::time_point at = Clock::time_point::max(), armed = Clock::time_point::max();
  // When the connection's last read completed: the clock is read once per
  // read, and a write right after it times itself from there.
  Clock::time_point now = Clock::now();
  bool fired = false, stopped = false;
  std::function<void()> cancel;  // cancels the connection's pending operations
  void set(Clock::time_point d) {
    at = d;
    fired = false;
    if (d < armed) timer.cancel();  // the watchdog sleeps too long: wake it to re-arm
  }
  // Nothing is timed until the next set(): a stale deadline must not cut
  // what follows (a tunnel keeps its own idle watchdog).
  void clear() { at = Clock::time_point::max(); }
  // A read, once done (after set()): timed_out if the deadline cut it.
  // (Not a coroutine around the read: a frame per read costs.)
  ReadResult read(ReadResult r) {
    now = Clock::now();
    if (fired) return {asio::error::timed_out, 0};
    return r;
  }
  void stop() {
    stopped = true;
    cancel = nullptr;
    timer.cancel();
  }
};

asio::awaitable<void> watch(std::shared_ptr<Deadline> dl) {
  for (;;) {
    dl->armed = dl->at;
    dl->timer.expires_at(dl->at);
    co_await dl->timer.async_wait(kTuple);
    if (dl->stopped) co_return;
    if (Clock::now() >= dl->at) {
      dl->fired = true;
      dl->at = Clock::time_point::max();
      if (dl->cancel) dl->cancel();
    }
  }
}

// One read and one whole write on any of the connection's streams: a
// socket, a backend connection (plain or asio TLS), a client's TLS stream.
// (Not coroutines of their own where asio's operation is awaitable as it
// is: a coroutine frame per read and write cost a few percent of a request.)
template <class S>
asio::awaitable<ReadResult> readFrom(S& s, char* buf, size_t n) {
  return s.async_read_some(asio::buffer(buf, n), kTuple);
}
asio::awaitable<ReadResult> readFrom(tls::Stream& s, char* buf, size_t n) { return s.readSome(buf, n); }
template <class S>
asio::awaitable<std::error_code> writeTo(S& s, std::string_view data) {
  auto [ec, n] = co_await asio::async_write(s, asio::buffer(data.data(), data.size()), kTuple);
  co_return ec;
}
asio::awaitable<std::error_code> writeTo(tls::Stream& s, std::string_view data) { return s.write(data); }

template <class S>
asio::awaitable<bool> writeAll(S& s, std::string_view data, Deadline& dl, std::chrono::milliseconds timeout) {
  if (data.empty()) co_return true;
  dl.set(dl.now + timeout);
  std::error_code ec;
  if constexpr (std::is_same_v<S, tls::Stream>)
    ec = co_await s.write(data);
  else
    ec = std::get<0>(co_await asio::async_write(s, asio::buffer(data.data(), data.size()), kTuple));
  co_return !ec && !dl.fired;
}

// The last bytes of a connection the proxy ends go out at once, with its
// FIN in the same segment (MSG_MORE holds the tail of the data until the
// shutdown tacks the FIN on). Left to an asynchronous write, the FIN waited
// for the coroutine's next turn; the client had read the response and
// closed first by then, and every connection held one of the client's ports
// in TIME_WAIT for a minute (wrk at 15k connections/s fell to a few hundred
// requests/s once its ports ran short; a FIN in a segment of its own still
// lost that race on a third of the connections). What the socket cannot
// take at once follows asynchronously.
asio::awaitable<bool> sendLast(tcp::socket& s, std::string_view data, Deadline& dl, std::chrono::milliseconds timeout) {
  std::error_code ec;
  s.non_blocking(true, ec);
  if (!ec && !data.empty()) data.remove_prefix(s.send(asio::buffer(data.data(), data.size()), MSG_MORE, ec));
  if (ec && ec != asio::error::would_block) co_return false;
  if (!data.empty() && !co_await writeAll(s, data, dl, timeout)) co_return false;
  s.shutdown(tcp::socket::shutdown_send, ec);
  co_return true;
}

// A TLS connection also says it ends (close_notify), as a client needs to
// tell a response framed by the close from a cut one: the last records and
// the alert, encrypted together, go out like a plain connection's last
// bytes.
asio::awaitable<bool> sendLast(tls::Stream& s, std::string_view data, Deadline& dl, std::chrono::milliseconds timeout) {
  std::string wire;
  if (s.seal(data, wire)) co_return false;
  co_return co_await sendLast(s.next_layer(), wire, dl, timeout);
}

// Anything else (a backend) ends like it writes.
template <class S>
asio::awaitable<bool> sendLast(S& s, std::string_view data, Deadline& dl, std::chrono::milliseconds timeout) {
  co_return co_await writeAll(s, data, dl, timeout);
}

template <class S>
void closeStream(S& s) {
  std::error_code ec;
  s.lowest_layer().close(ec);
}

bool idempotent(std::string_view m) {
  return m == "GET" || m == "HEAD" || m == "OPTIONS" || m == "PUT" || m == "DELETE" || m == "TRACE";
}

// One line per request, as HAProxy's httplog says it: who, what, where it
// went, how it ended and how long each part took.
struct AccessLog {
  std::string vip, client, request, route = "-", backend = "-", termination = "--";
  int status = 0;
  uint64_t bytesOut = 0;
  Clock::time_point start, headAt, backendAt;
  int retries = 0;
  void write() const {
    auto ms = [](Clock::duration d) {
      char b[32];
      std::snprintf(b, sizeof(b), "%.3f", std::chrono::duration<double, std::milli>(d).count());
      return std::string(b);
    };
    auto end = Clock::now();
    log::info("access " + vip + " " + client + " \"" + request + "\" " + std::to_string(status) + " " +
                  std::to_string(bytesOut) + " route=" + route + " backend=" + backend + " retries=" + std::to_string(retries) +
                  " t_head=" + ms(headAt - start) + "ms t_backend=" +
                  (backendAt.time_since_epoch().count() ? ms(backendAt - headAt) : std::string("-")) +
                  "ms t_total=" + ms(end - start) + "ms term=" + termination,
              {{"VIP", vip}, {"BACKEND", backend}, {"STATUS", std::to_string(status)}});
  }
};

// asio's TLS stream (backends) sets SSL_MODE_RELEASE_BUFFERS: OpenSSL then
// frees its 17 kB record buffers after every read and write and allocates
// them again for the next, which costs more than the proxying of a small
// request. Kept while requests flow (a client's tls::Stream never sets it);
// released on both sides for a websocket tunnel, which mostly idles.
void keepTlsBuffers(SSL* ssl) { SSL_clear_mode(ssl, SSL_MODE_RELEASE_BUFFERS); }
void releaseTlsBuffers(tcp::socket&) {}
void releaseTlsBuffers(tls::Stream& s) { SSL_set_mode(s.native_handle(), SSL_MODE_RELEASE_BUFFERS); }

ClientInfo clientInfo(const tcp::endpoint& peer, bool tls) {
  auto a = peer.address();
  if (a.is_v6() && a.to_v6().is_v4_mapped()) a = asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
  ClientInfo ci{*IpAddr::parse(a.to_string()), peer.port(), tls, {}};
  ci.text = ci.addr.str();
  return ci;
}

}  // namespace

// The proxy's count of open client connections, left when one ends.
struct Worker::Open {
  Proxy& p;
  ~Open() { p.closed(); }
};

asio::awaitable<void> Worker::servePlain(tcp::socket s, std::shared_ptr<Slot> slot) {
  Open open{owner_};
  std::error_code ec;
  auto peer = s.remote_endpoint(ec);
  if (ec) co_return;
  ClientInfo ci = clientInfo(peer, false);
  co_await serve(s, ci, slot);
}

asio::awaitable<void> Worker::serveTls(tcp::socket s, std::shared_ptr<Slot> slot) {
  Open open{owner_};
  std::error_code ec;
  auto peer = s.remote_endpoint(ec);
  if (ec) co_return;
  ClientInfo ci = clientInfo(peer, true);
  auto vip = slot->current.load();
  tls::Stream tls(std::move(s), vip->tls->native_handle());
  asio::steady_timer t(io_, vip->cfg.timeouts.clientHeader);
  auto r = co_await (tls.handshake(&turns_) || t.async_wait(kTuple));
  if (r.index() == 1 || std::get<0>(r)) {
    vip->stats->tlsFailures.fetch_add(1, std::memory_order_relaxed);
    closeStream(tls);
    co_return;
  }
  vip->stats->tlsHandshakes.fetch_add(1, std::memory_order_relaxed);
  co_await serve(tls, ci, slot);
}

template <class Stream>
asio::awaitable<void> Worker::serve(Stream& client, const ClientInfo& ci, std::shared_ptr<Slot> slot) {
  ++sessions_;
  struct Leave {
    std::atomic<int64_t>& n;
    ~Leave() { --n; }
  } leave{sessions_};
  std::string in;  // bytes from the client not consumed yet (pipelining)
  std::vector<char> buf(kRead);
  std::unique_ptr<BackendConn> bs;  // the backend connection of the request in progress
  auto dl = std::make_shared<Deadline>(io_);
  Deadline& timer = *dl;
  dl->cancel = [&client, &bs] {
    std::error_code ignore;
    client.lowest_layer().cancel(ignore);
    if (bs) bs->socket().cancel(ignore);
  };
  asio::co_spawn(io_, watch(dl), asio::detached);
  struct StopWatch {
    Deadline& d;
    ~StopWatch() { d.stop(); }
  } stopWatch{*dl};
  struct Registered {
    std::list<Conn>& all;
    std::list<Conn>::iterator it;
    ~Registered() { all.erase(it); }
  } reg{conns_, conns_.insert(conns_.end(), Conn{&dl->cancel})};
  bool first = true;
  const bool logging = owner_.hooks().accessLog;
  std::string clientName;
  if (logging)
    clientName = ci.addr.isV4() ? ci.text + ":" + std::to_string(ci.port) : "[" + ci.text + "]:" + std::to_string(ci.port);
  // Reused by every request of the connection (their capacity with them).
  std::string head, rhead, back;
  std::vector<size_t> candidates, left;
  http::Parser req(http::Parser::Kind::Request, {});
  http::Parser resp(http::Parser::Kind::Response, http::Limits{8192, 65536, 200, 0, 256});

  for (;; first = false) {
    auto vip = slot->current.load();  // this request's view, whatever changes meanwhile
    const HttpVip& cfg = vip->cfg;
    auto& vstats = *vip->stats;
    http::Limits limits;
    limits.requestLine = cfg.limits.requestLine;
    limits.headerBytes = cfg.limits.headerBytes;
    limits.headerCount = cfg.limits.headerCount;
    limits.body = cfg.limits.body;
    req.reset();
    req.setLimits(limits);
    AccessLog al;
    Counters* rstats = nullptr;  // the route's, once routed
    if (logging) {
      al.vip = vip->name;
      al.client = clientName;
    }

    // 1. The head: an idle keep-alive connection waits client_idle for a
    // first byte, then (as a new connection at once) client_header for the
    // whole head.
    bool bytes = !in.empty();
    al.start = Clock::now();  // a pipelined request's; a new one starts with its first byte
    timer.now = al.start;     // the last read may be a response's, before a long write to the client
    auto deadline = al.start + (bytes || first ? cfg.timeouts.clientHeader : cfg.timeouts.clientIdle);
    http::Parser::Step st;
    bool readHere = false;  // some of the head came by a read of this request's (not pipelined before)
    for (;;) {
      if (!in.empty()) {
        st = req.feed(in);
        in.erase(0, st.used);
        if (st.what != http::Parser::Step::NeedMore) break;
      }
      // Idle between requests, a connection is ended by a stop at once.
      bool idle = !bytes && !first;
      if (idle && stopping_) {
        closeStream(client);
        co_return;
      }
      reg.it->idle = idle;
      timer.set(deadline);
      auto [ec, n] = timer.read(co_await readFrom(client, buf.data(), buf.size()));
      reg.it->idle = false;
      if (ec == asio::error::timed_out) {
        if (bytes) {  // a slow head: 408, and gone
          co_await sendLast(client, http::simpleResponse(408, "request head not received in time\n"), timer,
                            cfg.timeouts.clientHeader);
          al.status = 408;
          al.termination = "cR";
          if (logging) al.write();
          vstats.response(408, 0);
        } else {  // an idle keep-alive connection: the FIN (and close_notify) only
          co_await sendLast(client, {}, timer, cfg.timeouts.clientHeader);
        }
        closeStream(client);
        co_return;
      }
      if (ec || n == 0) {
        closeStream(client);
        co_return;
      }
      readHere = true;
      if (!bytes) {
        bytes = true;
        al.start = timer.now;
        deadline = al.start + cfg.timeouts.clientHeader;
      }
      vstats.bytesIn.fetch_add(n, std::memory_order_relaxed);
      in.append(buf.data(), n);
    }
    al.headAt = readHere ? timer.now : al.start;
    auto respond = [&](int status, std::string body, std::vector<http::Header> extra = {}) -> asio::awaitable<bool> {
      // A local answer; the connection stays only if nothing of the request is left to read.
      bool keep = st.what != http::Parser::Step::Fail && req.framing() == http::Framing::None && req.keepAlive();
      std::string out = http::simpleResponse(status, body, keep, extra);
      al.status = status;
      al.bytesOut = out.size();
      double secs = std::chrono::duration<double>(Clock::now() - al.start).count();
      vstats.response(status, secs);
      if (rstats) rstats->response(status, secs);
      vstats.bytesOut.fetch_add(out.size(), std::memory_order_relaxed);
      bool ok = keep ? co_await writeAll(client, out, timer, cfg.timeouts.clientIdle)
                     : co_await sendLast(client, out, timer, cfg.timeouts.clientIdle);
      if (logging) al.write();
      co_return ok && keep;
    };
    if (st.what == http::Parser::Step::Fail) {
      al.request = "-";
      al.termination = "PR";
      co_await respond(req.failure().status, std::string(http::reasonPhrase(req.failure().status)) + ": " +
                                                 req.failure().why + "\n");
      closeStream(client);
      co_return;
    }
    http::Message& m = req.message();
    if (logging) al.request = m.method + " " + m.target.substr(0, 256) + (m.minor ? " HTTP/1.1" : " HTTP/1.0");
    const int clientMinor = m.minor;

    // 2. Policy: who may ask, and plain VIPs that only redirect; both on
    // the path as the application will see it.
    auto path = normalizePath(m.target);
    if (!path) {
      al.termination = "PR";
      co_await respond(400, "Bad Request: the path cannot be normalized (bad escape, control character or ..)\n");
      closeStream(client);
      co_return;
    }
    if (!allowed(cfg, ci.addr, *path)) {
      al.termination = "PD";
      if (!co_await respond(403, "Forbidden\n")) break;
      continue;
    }
    if (cfg.redirect) {
      const http::Header* host = m.find(http::Name::Host);
      std::string h = host ? host->value : vip->key.ep.addr.str();
      if (auto colon = h.rfind(':'); colon != std::string::npos && h.find(']') == std::string::npos) h.resize(colon);
      std::string target = m.target.front() == '/' ? m.target : "/";
      al.termination = "PR";
      // Built apart: GCC 12 cannot keep an initializer list across a co_await.
      std::vector<http::Header> location(1, http::Header{"Location", "https://" + h + target});
      if (!co_await respond(cfg.redirect, "", std::move(location))) break;
      continue;
    }

    // 3. Which backends: the route's usable ones; a sticky cookie first.
    size_t route = routeIndex(cfg, m, *path);
    const std::vector<size_t>& pool = route < vip->routes.size() ? vip->routes[route] : vip->all;
    if (logging) al.route = route < vip->routes.size() ? cfg.routes[route].name : "default";
    rstats = vip->routeStats.size() > route ? vip->routeStats[route].get() : nullptr;
    candidates.clear();
    for (size_t i : pool)
      if (vip->backends[i].usable()) candidates.push_back(i);
    std::optional<size_t> sticky;
    if (!cfg.cookie.empty())
      if (auto c = cookieValue(m, cfg.cookie))
        for (size_t i : pool)
          if (vip->backends[i].cookie == *c && vip->backends[i].sticky()) sticky = i;
    std::string hashKey;
    if (cfg.balance == Balance::Source) hashKey = ci.text;
    else if (cfg.balance == Balance::Header) {
      if (const http::Header* h = m.find(cfg.balanceKey)) hashKey = h->value;
    } else if (cfg.balance == Balance::Cookie) {
      if (auto c = cookieValue(m, cfg.balanceKey)) hashKey = *c;
    }

    // 4. The head the backend gets.
    bool upgrade = req.upgrade();
    const std::string method = m.method;
    http::Message& out = m;  // rewritten in place: the client's head is not needed as it was
    stripHopByHop(out, upgrade);
    // HTTP/1.0 may leave Host out; the backend gets HTTP/1.1, which may not.
    if (!out.find(http::Name::Host)) out.add(http::Name::Host, vip->key.ep.str());
    setForwarded(out, cfg, ci.addr, ci.tls, vip->key.ep.port, ci.text);
    if (!cfg.cookie.empty()) removeCookie(out, cfg.cookie);
    bool expect = req.expectContinue() && clientMinor == 1;  // HTTP/1.0: the expectation is ignored (RFC 9110 10.1.1)
    out.remove(http::Name::Expect);  // the proxy answers 100 itself when it starts reading the body
    out.minor = 1;
    out.serializeTo(head);

    // 5. A backend connection, the request sent. Connect failures move on
    // to another backend; a reused connection the backend had closed is
    // retried on a new one while nothing of a body was sent.
    struct {
      size_t at[kAttempts];
      int n = 0;
      bool count(size_t i) const { return std::find(at, at + n, i) != at + n; }
      void insert(size_t i) {
        if (!count(i)) at[n++] = i;
      }
    } tried;
    bs.reset();
    std::optional<size_t> chosen;
    resp.reset();
    resp.keepBody(false);
    resp.answering(method);
    // Bytes from the backend not consumed yet; a large response head's
    // storage is not kept while the connection idles.
    if (back.capacity() > 2 * kRead) std::string().swap(back);
    back.clear();
    bool bodySent = false, gotResponse = false;
    std::shared_ptr<Balancer> bal = balancer(*vip);
    for (int attempt = 0; attempt < kAttempts && !gotResponse; ++attempt) {
      size_t idx;
      if (sticky && !tried.count(*sticky)) {
        idx = *sticky;
        bal->chose(*vip, idx);
      } else {
        left.clear();
        for (size_t i : candidates)
          if (!tried.count(i)) left.push_back(i);
        if (left.empty()) break;
        idx = bal->pick(*vip, left, hashKey);
      }
      chosen = idx;
      const ProxyBackend& be = vip->backends[idx];
      al.backend = be.name;
      if (attempt) {
        ++al.retries;
        vstats.retries.fetch_add(1, std::memory_order_relaxed);
      }
      bool reused = false;
      bs = pool_.take(be.ep, vip->backendTls ? vip->backendTls->native_handle() : nullptr, timer.now);
      if (bs) {
        reused = true;
      } else {
        bs = std::make_unique<BackendConn>(io_);
        tcp::endpoint ep(asio::ip::make_address(be.ep.addr.str()), be.ep.port);
        timer.set(Clock::now() + cfg.timeouts.connect);
        auto [cec] = co_await bs->socket().async_connect(ep, kTuple);
        std::string why = cec ? cec.message() : "";
        if (!cec) {
          std::error_code ignore;
          bs->socket().set_option(tcp::no_delay(true), ignore);
        }
        if (!cec && vip->backendTls) {
          // TLS to the backend, within the same connect timeout.
          auto& tls = bs->startTls(*vip->backendTls);
          keepTlsBuffers(tls.native_handle());
          const BackendTls& bt = cfg.backendTls;
          if (!bt.sni.empty()) SSL_set_tlsext_host_name(tls.native_handle(), bt.sni.c_str());
          // Verified, the certificate must name the backend: the SNI name
          // when there is one, else the address connected to (a chain that
          // is merely trusted could be any site's).
          if (bt.verify && !bt.sni.empty()) X509_VERIFY_PARAM_set1_host(SSL_get0_param(tls.native_handle()), bt.sni.c_str(), 0);
          if (bt.verify && bt.sni.empty())
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(tls.native_handle()), be.ep.addr.str().c_str());
          auto [hec] = co_await tls.async_handshake(asio::ssl::stream_base::client, kTuple);
          if (hec && !timer.fired) {
            cec = hec;
            long v = SSL_get_verify_result(tls.native_handle());
            why = "TLS: " + (v != X509_V_OK ? std::string(X509_verify_cert_error_string(v)) : hec.message());
          }
        }
        timer.now = Clock::now();  // the request's writes time themselves from the connection made
        if (timer.fired) cec = asio::error::timed_out, why = "connect timeout";
        if (cec) {
          be.stats->connectFailures.fetch_add(1, std::memory_order_relaxed);
          owner_.reportConnectFailure(vip->key, be.name, why);
          bal->done(*vip, idx);
          tried.insert(idx);
          bs.reset();
          continue;
        }
      }
      if (!co_await writeAll(*bs, head, timer, cfg.timeouts.response)) {
        bal->done(*vip, idx);
        bs.reset();
        if (reused) {
          --attempt;  // not the backend's failure: a stale pooled connection
          continue;
        }
        tried.insert(idx);
        continue;
      }
      // The body, as it came, with a 100 Continue for a client that waits for one.
      if (req.framing() != http::Framing::None) {
        if (expect && !bodySent) {
          co_await writeAll(client, "HTTP/1.1 100 Continue\r\n\r\n", timer, cfg.timeouts.clientIdle);
          expect = false;
        }
        if (bodySent) {  // cannot replay a streamed body
          break;
        }
        bodySent = true;
        bool done = false, broken = false, bad = false;
        while (!done && !broken) {
          if (!in.empty()) {
            auto b = req.feed(in);
            if (b.what == http::Parser::Step::Fail) {
              broken = bad = true;
              break;
            }
            if (!co_await writeAll(*bs, b.raw, timer, cfg.timeouts.response)) {
              broken = true;
              break;
            }
            in.erase(0, b.used);
            done = b.what == http::Parser::Step::Done;
            if (done) break;
            if (b.used) continue;
          }
          timer.set(Clock::now() + cfg.timeouts.clientIdle);
          auto [ec, n] = timer.read(co_await readFrom(client, buf.data(), buf.size()));
          if (ec || n == 0) {
            broken = true;
            break;
          }
          vstats.bytesIn.fetch_add(n, std::memory_order_relaxed);
          in.append(buf.data(), n);
        }
        if (broken) {
          bal->done(*vip, idx);
          if (bad) {  // a malformed or oversized body: the backend's connection is spoiled, the client told
            al.termination = "PB";
            co_await respond(req.failure().status, std::string(http::reasonPhrase(req.failure().status)) + ": " +
                                                       req.failure().why + "\n");
          } else {
            al.termination = "CD";  // the client went away in the middle of its body
            if (logging) al.write();
          }
          closeStream(client);
          co_return;
        }
      }
      // The response head (interim 1xx passed on).
      auto rdeadline = Clock::now() + cfg.timeouts.response;
      bool any = false, failed = false, timedOut = false;
      for (;;) {
        if (!back.empty()) {
          auto r = resp.feed(back);
          back.erase(0, r.used);
          if (r.what == http::Parser::Step::Fail) {
            failed = true;
            break;
          }
          if (r.what == http::Parser::Step::Head || r.what == http::Parser::Step::Done) {
            int s = resp.message().status;
            if (s >= 100 && s < 200 && s != 101) {  // interim: forwarded (never to HTTP/1.0), then the next head
              if (clientMinor == 1) {
                http::Message im = resp.message();
                stripHopByHop(im, false);
                co_await writeAll(client, im.serialize(), timer, cfg.timeouts.clientIdle);
              }
              resp.reset();
              resp.answering(method);
              continue;
            }
            gotResponse = true;
            break;
          }
          if (r.used) continue;
        }
        timer.set(rdeadline);
        auto [ec, n] = timer.read(co_await readFrom(*bs, buf.data(), buf.size()));
        if (ec == asio::error::timed_out) {
          timedOut = true;
          break;
        }
        if (ec || n == 0) {
          failed = true;
          break;
        }
        any = true;
        back.append(buf.data(), n);
      }
      if (gotResponse) break;
      bal->done(*vip, idx);
      bs.reset();
      if (timedOut) {
        al.termination = "sH";
        co_await respond(504, "the backend did not answer in time\n");
        closeStream(client);
        co_return;
      }
      // Closed before answering: a reused connection raced the backend's
      // close; retried on a new connection what can be replayed. (A new
      // connection closed with the request on it is the backend failing
      // this request: 502, not the same work sent to every backend.)
      if (failed && !any && reused && !bodySent && idempotent(method)) {
        --attempt;
        resp.reset();
        resp.answering(method);
        back.clear();
        continue;
      }
      al.termination = "SH";
      co_await respond(502, "the backend's response was cut off or malformed\n");
      closeStream(client);
      co_return;
    }
    if (!gotResponse) {
      al.termination = "SC";
      bool keep = co_await respond(503, candidates.empty() ? "no backend is available\n" : "no backend could be reached\n");
      if (!keep) {
        closeStream(client);
        co_return;
      }
      continue;
    }
    al.backendAt = timer.now;  // the read that completed the response head
    // The balancer learns the request ended on every way out from here (a
    // tunnel's end included).
    struct Ended {
      Balancer& bal;
      const ProxyVip& vip;
      size_t i;
      ~Ended() { bal.done(vip, i); }
    } ended{*bal, *vip, *chosen};
    const ProxyBackend& be = vip->backends[*chosen];
    be.stats->active.fetch_add(1, std::memory_order_relaxed);
    vstats.active.fetch_add(1, std::memory_order_relaxed);
    struct Active {
      Counters &a, &b;
      ~Active() {
        a.active.fetch_sub(1, std::memory_order_relaxed);
        b.active.fetch_sub(1, std::memory_order_relaxed);
      }
    } active{*be.stats, vstats};

    // 6. The response head the client gets.
    http::Message& rm = resp.message();
    bool tunnel = upgrade && rm.status == 101;
    stripHopByHop(rm, tunnel);
    // An HTTP/1.0 client cannot read chunked: it gets the body decoded,
    // delimited by the close (its trailers dropped).
    const bool dechunk = clientMinor == 0 && resp.framing() == http::Framing::Chunked;
    if (clientMinor == 0) rm.remove(http::Name::TransferEncoding);  // HEAD, 204, 304 may say it too
    if (dechunk) resp.keepBody(true);
    bool keep = req.keepAlive() && resp.framing() != http::Framing::UntilClose && !tunnel && !dechunk && !stopping_;
    if (!cfg.cookie.empty() && sticky != chosen && rm.status < 400) {
      rm.add(http::Name::SetCookie, cfg.cookie + "=" + be.cookie + "; Path=/; HttpOnly" + (ci.tls ? "; Secure" : ""));
      privateOnly(rm);  // nocache: a response that sets the cookie is never cached for others
    }
    if (!keep && !tunnel) rm.set(http::Name::Connection, "close");
    else if (keep && clientMinor == 0) rm.set(http::Name::Connection, "keep-alive");
    rm.minor = 1;
    rm.serializeTo(rhead);
    al.status = rm.status;
    // What of the body has come already goes in the same write as the head.
    bool done = resp.framing() == http::Framing::None;
    if (!tunnel && !done && !back.empty()) {
      auto b = resp.feed(back);
      if (b.what != http::Parser::Step::Fail) {
        rhead.append(dechunk ? std::string_view(b.payload) : b.raw);
        back.erase(0, b.used);
        done = b.what == http::Parser::Step::Done;
      }
    }
    bool sealed = done && !keep && !tunnel;  // the last bytes went with the FIN (and close_notify)
    bool ok = sealed ? co_await sendLast(client, rhead, timer, cfg.timeouts.clientIdle)
                     : co_await writeAll(client, rhead, timer, cfg.timeouts.clientIdle);
    uint64_t sent = rhead.size();

    // 7. The body, as it came; or the tunnel.
    bool backOk = true;
    if (ok && tunnel) {
      releaseTlsBuffers(client);
      bs->releaseTlsBuffers();
      double secs = std::chrono::duration<double>(Clock::now() - al.start).count();
      vstats.response(101, secs);
      be.stats->response(101, secs);
      if (rstats) rstats->response(101, secs);
      if (logging) al.write();
      if (!back.empty()) co_await writeAll(client, back, timer, cfg.timeouts.tunnel);
      if (!in.empty()) co_await writeAll(*bs, in, timer, cfg.timeouts.tunnel);
      timer.clear();
      auto last = std::make_shared<Clock::time_point>(Clock::now());
      auto pump = [last](auto& from, auto& to) -> asio::awaitable<void> {
        std::vector<char> b(kRead);
        for (;;) {
          auto [ec, n] = co_await readFrom(from, b.data(), b.size());
          if (ec || n == 0) co_return;
          *last = Clock::now();
          if (co_await writeTo(to, std::string_view(b.data(), n))) co_return;
        }
      };
      auto watchdog = [last, this](std::chrono::milliseconds idle) -> asio::awaitable<void> {
        asio::steady_timer t(io_);
        for (;;) {
          t.expires_at(*last + idle);
          co_await t.async_wait(kTuple);
          if (Clock::now() >= *last + idle) co_return;
        }
      };
      co_await (pump(client, *bs) || pump(*bs, client) || watchdog(cfg.timeouts.tunnel));
      closeStream(client);
      co_return;
    }
    while (ok && !done) {
      if (!back.empty()) {
        auto b = resp.feed(back);
        if (b.what == http::Parser::Step::Fail) {
          backOk = ok = false;
          break;
        }
        sealed = !keep && b.what == http::Parser::Step::Done;
        std::string_view piece = dechunk ? std::string_view(b.payload) : b.raw;
        if (!(sealed ? co_await sendLast(client, piece, timer, cfg.timeouts.clientIdle)
                     : co_await writeAll(client, piece, timer, cfg.timeouts.clientIdle))) {
          ok = false;
          break;
        }
        sent += piece.size();
        back.erase(0, b.used);
        done = b.what == http::Parser::Step::Done;
        if (done || b.used) continue;
      }
      timer.set(Clock::now() + cfg.timeouts.response);
      auto [ec, n] = timer.read(co_await readFrom(*bs, buf.data(), buf.size()));
      if (ec || n == 0) {
        if (!ec || ec == asio::error::eof) done = resp.finish().what == http::Parser::Step::Done;
        backOk = false;
        if (!done) ok = false;
        break;
      }
      back.append(buf.data(), n);
    }
    double secs = std::chrono::duration<double>(Clock::now() - al.start).count();
    vstats.response(rm.status, secs);
    be.stats->response(rm.status, secs);
    if (rstats) rstats->response(rm.status, secs);
    vstats.bytesOut.fetch_add(sent, std::memory_order_relaxed);
    be.stats->bytesOut.fetch_add(sent, std::memory_order_relaxed);
    al.bytesOut = sent;
    if (!ok) al.termination = backOk ? "CD" : "SD";
    if (logging) al.write();
    if (backOk && done && resp.keepAlive() && back.empty())
      pool_.put(be.ep, std::move(bs), timer.now);  // when its response's last bytes came
    if (!ok || !keep) {
      // A response framed by the backend's close ends here: its end is the
      // FIN, and on TLS the close_notify that says it was not cut.
      if (ok && !sealed) co_await sendLast(client, {}, timer, cfg.timeouts.clientIdle);
      closeStream(client);
      co_return;
    }
  }
  closeStream(client);
}

template asio::awaitable<void> Worker::serve(tcp::socket&, const ClientInfo&, std::shared_ptr<Slot>);
template asio::awaitable<void> Worker::serve(tls::Stream&, const ClientInfo&, std::shared_ptr<Slot>);

}  // namespace xlb::proxy
