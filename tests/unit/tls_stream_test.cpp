// SPDX-License-Identifier: Apache-2.0
// tls::Stream against a real OpenSSL client over loopback: the handshake
// with the VIP's server context, a tunnel's shape (one coroutine reading
// while another writes a megabyte), a key update the client asks for in the
// middle of it (the reader then has OpenSSL's answer to send while the
// writer is sending), and the sealed end (last bytes and close_notify).
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <cstdio>
#include <functional>
#include <string>
#include <thread>

#include "stream.h"
#include "tls.h"

namespace xlb {
namespace {

using namespace asio::experimental::awaitable_operators;
using tcp = asio::ip::tcp;
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);

// A self-signed P-256 certificate and its key, written where serverContext reads them.
TlsCertFiles makeCertificate() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), 0);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("stream.test"), -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509_set_pubkey(x, key);
  X509_sign(x, key, EVP_sha256());
  // Per process: the sanitizer build runs the same test alongside.
  std::string base = ::testing::TempDir() + "stream-test-" + std::to_string(::getpid());
  TlsCertFiles f{base + ".pem", base + ".key"};
  FILE* c = std::fopen(f.certFile.c_str(), "w");
  PEM_write_X509(c, x);
  std::fclose(c);
  FILE* k = std::fopen(f.keyFile.c_str(), "w");
  PEM_write_PrivateKey(k, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(k);
  X509_free(x);
  EVP_PKEY_free(key);
  return f;
}

char patternAt(size_t i) { return static_cast<char>('a' + i % 26); }

struct ClientResult {
  std::string error, received;
  bool closeNotify = false;
};

// A blocking OpenSSL client: sends "hello", asks for a key update, sends
// "world" and "END", then reads everything until the server's close_notify.
ClientResult runClient(uint16_t port) {
  ClientResult r;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{10, 0};  // bounded: a hang fails the test instead of blocking it
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  int small = 4096;  // the server's writer has to wait for this client to read
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    r.error = "connect failed";
    ::close(fd);
    return r;
  }
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  if (SSL_connect(ssl) != 1) {
    r.error = "handshake failed";
  } else {
    SSL_write(ssl, "hello", 5);
    SSL_key_update(ssl, SSL_KEY_UPDATE_REQUESTED);  // sent with the next write
    SSL_write(ssl, "world", 5);
    SSL_write(ssl, "END", 3);
    char buf[16384];
    for (;;) {
      int n = SSL_read(ssl, buf, sizeof(buf));
      if (n > 0) {
        r.received.append(buf, n);
        continue;
      }
      int e = SSL_get_error(ssl, n);
      r.closeNotify = e == SSL_ERROR_ZERO_RETURN;
      if (!r.closeNotify) r.error = "read ended with SSL error " + std::to_string(e);
      break;
    }
  }
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  ::close(fd);
  return r;
}

TEST(TlsStream, TunnelShapeKeyUpdateAndSealedEnd) {
  auto ctx = tls::serverContext({makeCertificate()});
  ASSERT_TRUE(ctx) << ctx.error().message;
  asio::io_context io;
  tls::HandshakeTurns turns(io);
  tcp::acceptor acc(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  const size_t total = 1 << 20;
  std::string got;
  std::string failure;
  auto server = [&]() -> asio::awaitable<void> {
    auto [aec, sock] = co_await acc.async_accept(kTuple);
    if (aec) {
      failure = "accept: " + aec.message();
      co_return;
    }
    sock.set_option(asio::socket_base::send_buffer_size(4096));
    tls::Stream s(std::move(sock), (*ctx)->native_handle());
    if (auto ec = co_await s.handshake(&turns)) {
      failure = "handshake: " + ec.message();
      co_return;
    }
    auto reader = [&]() -> asio::awaitable<void> {
      char buf[4096];
      while (got.find("END") == std::string::npos) {
        auto [ec, n] = co_await s.readSome(buf, sizeof(buf));
        if (ec) {
          failure = "read: " + ec.message();
          co_return;
        }
        got.append(buf, n);
      }
    };
    auto writer = [&]() -> asio::awaitable<void> {
      std::string chunk(16384, 0);
      for (size_t at = 0; at < total; at += chunk.size()) {
        for (size_t i = 0; i < chunk.size(); ++i) chunk[i] = patternAt(at + i);
        if (auto ec = co_await s.write(chunk)) {
          failure = "write: " + ec.message();
          co_return;
        }
      }
    };
    co_await (reader() && writer());
    std::string wire;
    if (auto ec = s.seal("bye", wire)) {
      failure = "seal: " + ec.message();
      co_return;
    }
    co_await asio::async_write(s.next_layer(), asio::buffer(wire), kTuple);
    std::error_code ignore;
    s.next_layer().shutdown(tcp::socket::shutdown_send, ignore);
  };
  asio::co_spawn(io, server(), asio::detached);
  ClientResult client;
  std::thread t([&] { client = runClient(acc.local_endpoint().port()); });
  io.run_for(std::chrono::seconds(20));
  t.join();
  EXPECT_EQ(failure, "");
  EXPECT_EQ(got, "helloworldEND");
  EXPECT_EQ(client.error, "");
  EXPECT_TRUE(client.closeNotify);
  ASSERT_EQ(client.received.size(), total + 3);
  bool same = true;
  for (size_t i = 0; i < total && same; ++i) same = client.received[i] == patternAt(i);
  EXPECT_TRUE(same) << "the megabyte came back altered";
  EXPECT_EQ(client.received.substr(total), "bye");
  EXPECT_EQ(turns.given(), 1u) << "the handshake did not wait for a turn at its ClientHello";
}

}  // namespace
}  // namespace xlb

namespace xlb {
namespace {

// One handshake's expensive step per pass over the worker's ready
// handlers: a ticker that re-posts itself counts passes, and each of three
// handshakes that ask for a turn in the same pass gets it in a later pass
// than the one before, in order. A waiter whose handshake is cancelled
// (its timeout) while in line leaves it and is never granted; one
// cancelled after its turn came but before it ran does not use it; and
// once the line is empty the next handshake goes at once (no turn lost).
TEST(TlsStream, HandshakeTurnsOnePerPassInOrderAndCancellable) {
  asio::io_context io;
  tls::HandshakeTurns turns(io);
  int passes = 0;
  bool ticking = true;
  std::function<void()> tick = [&] {
    ++passes;
    if (ticking) asio::post(io, tick);
  };
  asio::post(io, tick);
  std::vector<std::pair<char, int>> granted;  // who, at which pass
  std::string refused;
  auto take = [&](char who) -> asio::awaitable<void> {
    if (co_await turns.take())
      granted.emplace_back(who, passes);
    else
      refused += who;
  };
  auto runUntil = [&](auto done) {
    for (int i = 0; i < 10000 && !done(); ++i) io.run_one();
    return done();
  };
  for (char c : {'a', 'b', 'c'}) asio::co_spawn(io, take(c), asio::detached);
  // d waits behind them, and its handshake is cancelled before its turn.
  asio::cancellation_signal cancelD;
  asio::co_spawn(io, take('d'), asio::bind_cancellation_slot(cancelD.slot(), asio::detached));
  ASSERT_TRUE(runUntil([&] { return turns.waiting() == 3; }));  // b, c, d in line; a has this pass's turn
  cancelD.emit(asio::cancellation_type::terminal);
  ASSERT_TRUE(runUntil([&] { return granted.size() == 3 && refused == "d"; }));
  ASSERT_EQ(granted.size(), 3u);
  EXPECT_EQ(granted[0].first, 'a');
  EXPECT_EQ(granted[1].first, 'b');
  EXPECT_EQ(granted[2].first, 'c');
  EXPECT_LT(granted[0].second, granted[1].second);  // a pass apart at least
  EXPECT_LT(granted[1].second, granted[2].second);
  EXPECT_EQ(turns.waiting(), 0u);

  // f is given its turn, and its handshake times out before it runs.
  asio::co_spawn(io, take('e'), asio::detached);
  asio::cancellation_signal cancelF;
  asio::co_spawn(io, take('f'), asio::bind_cancellation_slot(cancelF.slot(), asio::detached));
  ASSERT_TRUE(runUntil([&] { return turns.waiting() == 1; }));  // f behind e
  ASSERT_TRUE(runUntil([&] { return turns.waiting() == 0; }));  // f granted, not yet resumed
  cancelF.emit(asio::cancellation_type::terminal);
  ASSERT_TRUE(runUntil([&] { return refused == "df"; }));
  EXPECT_EQ(granted.back().first, 'e');

  // Nothing in line: the next one goes in the same pass.
  ASSERT_TRUE(runUntil([&] { return turns.waiting() == 0 && granted.size() == 4; }));
  for (int i = 0; i < 10; ++i) io.run_one();  // every pending turn handed on
  int before = passes;
  bool now = false;
  auto last = [&]() -> asio::awaitable<void> {
    int at = passes;
    bool ok = co_await turns.take();
    now = ok && passes == at;
  };
  asio::co_spawn(io, last(), asio::detached);
  ASSERT_TRUE(runUntil([&] { return passes > before + 2; }));
  EXPECT_TRUE(now) << "a free turn was not given at once";
  ticking = false;
  io.run_for(std::chrono::milliseconds(20));
  EXPECT_EQ(turns.given(), 6u);  // a, b, c, e, f (unused) and the last
}

}  // namespace
}  // namespace xlb
