// SPDX-License-Identifier: Apache-2.0
// Probes against canned servers on 127.0.0.1: what passes, and the reason
// text of each way to fail.
#include <gtest/gtest.h>

#include <asio.hpp>
#include <sys/resource.h>
#include <unistd.h>

#include <thread>

#include "xlb/health.h"

namespace xlb {
namespace {

using namespace std::chrono_literals;
using asio::ip::tcp;

// Accepts one connection on an ephemeral loopback port and runs `serve` on it.
struct CannedServer {
  asio::io_context& io;
  tcp::acceptor acc;
  std::function<void(tcp::socket&)> serve;
  std::vector<std::shared_ptr<tcp::socket>> held;
  CannedServer(asio::io_context& io, std::function<void(tcp::socket&)> f)
      : io(io), acc(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), serve(std::move(f)) {
    acc.async_accept([this](std::error_code ec, tcp::socket s) {
      if (ec) return;
      auto sp = std::make_shared<tcp::socket>(std::move(s));
      held.push_back(sp);
      serve(*sp);
    });
  }
  Endpoint ep() const { return *Endpoint::parse("127.0.0.1:" + std::to_string(acc.local_endpoint().port())); }
};

// Reads the request, then writes `reply` and closes.
std::function<void(tcp::socket&)> replying(std::string reply) {
  return [reply](tcp::socket& s) {
    auto buf = std::make_shared<std::string>();
    auto data = std::make_shared<std::string>(reply);
    asio::async_read_until(s, asio::dynamic_buffer(*buf), "\r\n\r\n", [&s, buf, data](std::error_code ec, size_t) {
      if (ec) return;
      asio::async_write(s, asio::buffer(*data), [&s, data](std::error_code, size_t) {
        std::error_code e;
        s.shutdown(tcp::socket::shutdown_both, e);
      });
    });
  };
}

ProbeResult run(asio::io_context& io, const CheckSpec& spec, Endpoint target) {
  Prober p(io);
  std::optional<ProbeResult> out;
  asio::co_spawn(io, p.probe(spec, target), [&](std::exception_ptr e, ProbeResult r) {
    if (e) std::rethrow_exception(e);
    out = r;
    io.stop();  // done: servers still waiting for connections do not hold the test
  });
  io.run_for(5s);
  EXPECT_TRUE(out) << "probe did not finish";
  return out.value_or(ProbeResult{false, false, "did not finish", {}});
}

CheckSpec http(std::string body = "") {
  CheckSpec s;
  s.type = CheckType::Http;
  s.path = "/api/v2/ping/";
  s.expectStatus = {{200, 200}};
  s.expectBody = std::move(body);
  s.timeout = 300ms;
  return s;
}

const char* kOk = "HTTP/1.1 200 OK\r\nContent-Length: 14\r\n\r\n{\"ha\": true}\r\n";

TEST(Probe, HttpPassesOnStatusAndBody) {
  asio::io_context io;
  CannedServer srv(io, replying(kOk));
  auto r = run(io, http("\"ha\": true"), srv.ep());
  EXPECT_TRUE(r.ok) << r.error;
}

TEST(Probe, HttpStatusMismatchNamesTheStatus) {
  asio::io_context io;
  CannedServer srv(io, replying("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"));
  auto r = run(io, http(), srv.ep());
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "status 503");
}

TEST(Probe, HttpBodyMismatch) {
  asio::io_context io;
  CannedServer srv(io, replying(kOk));
  auto r = run(io, http("\"ha\": false"), srv.ep());
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "body mismatch");
}

TEST(Probe, HttpBodyUntilCloseAndChunked) {
  {
    asio::io_context io;
    CannedServer srv(io, replying("HTTP/1.0 200 OK\r\n\r\nstatus UP"));
    auto r = run(io, http("UP"), srv.ep());
    EXPECT_TRUE(r.ok) << r.error;
  }
  {
    asio::io_context io;
    CannedServer srv(io, replying("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nst U\r\n1\r\nP\r\n0\r\n\r\n"));
    auto r = run(io, http("st UP"), srv.ep());
    EXPECT_TRUE(r.ok) << r.error;
  }
}

TEST(Probe, GarbageIsABadResponse) {
  asio::io_context io;
  CannedServer srv(io, replying("SSH-2.0-OpenSSH_9.2\r\n\r\n"));
  auto r = run(io, http(), srv.ep());
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error.rfind("bad HTTP response", 0), 0u) << r.error;
}

TEST(Probe, ClosedWithoutAnswer) {
  asio::io_context io;
  CannedServer srv(io, replying(""));
  auto r = run(io, http(), srv.ep());
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "connection closed before a response");
}

TEST(Probe, SilentServerTimesOut) {
  asio::io_context io;
  CannedServer srv(io, [](tcp::socket&) {});  // accepts, never answers
  auto t0 = Clock::now();
  auto r = run(io, http(), srv.ep());
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "timeout");
  EXPECT_GE(Clock::now() - t0, 300ms);
  EXPECT_LT(Clock::now() - t0, 2s);
}

TEST(Probe, TcpConnectAndRefused) {
  asio::io_context io;
  CannedServer srv(io, [](tcp::socket&) {});
  CheckSpec s;
  s.type = CheckType::Tcp;
  s.timeout = 300ms;
  EXPECT_TRUE(run(io, s, srv.ep()).ok);
  // A port nothing listens on: take one, close it, probe it.
  uint16_t port;
  {
    asio::io_context tmp;
    tcp::acceptor a(tmp, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = a.local_endpoint().port();
  }
  asio::io_context io2;
  auto r = run(io2, s, *Endpoint::parse("127.0.0.1:" + std::to_string(port)));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "connection refused");
}

// Out of file descriptors here: the probe says it could not run (local),
// which the tracker does not count against the backend.
TEST(Probe, NoDescriptorsLeftIsALocalErrorNotAFailure) {
  asio::io_context io;
  CannedServer srv(io, [](tcp::socket&) {});
  CheckSpec s;
  s.type = CheckType::Tcp;
  s.timeout = 300ms;
  rlimit old{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
  std::vector<int> filler;
  rlimit low = old;
  low.rlim_cur = 64;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  for (int fd; (fd = ::dup(0)) >= 0;) filler.push_back(fd);
  ASSERT_EQ(errno, EMFILE);
  auto r = run(io, s, srv.ep());
  for (int fd : filler) ::close(fd);
  setrlimit(RLIMIT_NOFILE, &old);
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(r.local) << r.error;
  EXPECT_NE(r.error.find("not counted"), std::string::npos) << r.error;
}

TEST(Probe, UnloadableCaFileIsATlsErrorNotASilentPass) {
  asio::io_context io;
  CannedServer srv(io, [](tcp::socket&) {});
  std::string ca = ::testing::TempDir() + "xlb_probe_not_a_ca.pem";
  std::FILE* f = std::fopen(ca.c_str(), "w");
  ASSERT_TRUE(f);
  std::fputs("not a certificate\n", f);
  std::fclose(f);
  CheckSpec s;
  s.type = CheckType::Https;
  s.verify = true;
  s.caFile = ca;
  s.timeout = 300ms;
  auto r = run(io, s, srv.ep());
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error.rfind("TLS error: cannot load " + ca, 0), 0u) << r.error;
  std::remove(ca.c_str());
}

}  // namespace
}  // namespace xlb
