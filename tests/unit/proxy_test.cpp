// SPDX-License-Identifier: Apache-2.0
// The proxy's pieces without a network: every balancing algorithm, header
// rewriting, the cookie codec. (They build and link without BPF.)
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "balance.h"
#include "http.h"
#include "policy.h"
#include "rewrite.h"

namespace xlb::proxy {
namespace {

ProxyVip pool(std::vector<uint32_t> weights) {
  ProxyVip v;
  v.generation = 1;
  for (size_t i = 0; i < weights.size(); ++i) {
    ProxyBackend b;
    b.name = "node" + std::to_string(i + 1);
    b.weight = weights[i];
    b.up = true;
    v.backends.push_back(b);
    v.all.push_back(i);
  }
  return v;
}

TEST(Balance, SmoothWeightedRoundRobinSpreadsByWeight) {
  auto v = pool({5, 1, 1});
  auto rr = makeRoundRobin();
  std::string seq;
  for (int i = 0; i < 7; ++i) seq += static_cast<char>('a' + rr->pick(v, v.all, ""));
  EXPECT_EQ(seq, "aabacaa");  // never five a's in a row
  std::map<size_t, int> n;
  for (int i = 0; i < 7000; ++i) ++n[rr->pick(v, v.all, "")];
  EXPECT_EQ(n[0], 5000);
  EXPECT_EQ(n[1], 1000);
  EXPECT_EQ(n[2], 1000);
  // Only the candidates given.
  for (int i = 0; i < 10; ++i) EXPECT_NE(rr->pick(v, {1, 2}, ""), 0u);
}

TEST(Balance, LeastConnectionsPrefersTheLeastBusyPerWeight) {
  auto v = pool({1, 1, 2});
  auto lc = makeLeastConn();
  std::map<size_t, int> open;
  for (int i = 0; i < 8; ++i) ++open[lc->pick(v, v.all, "")];
  EXPECT_EQ(open[0], 2);
  EXPECT_EQ(open[1], 2);
  EXPECT_EQ(open[2], 4);
  lc->done(v, 0);
  lc->done(v, 0);
  EXPECT_EQ(lc->pick(v, v.all, ""), 0u);  // now the least busy
}

// Counts follow backends, not their places in a snapshot: a reload that
// reorders them moves no count; a sticky request (chosen, not picked) is
// counted, and its end takes only its own count away.
TEST(Balance, LeastConnectionsCountBackendsAcrossSnapshotsAndStickyRequests) {
  auto v = pool({1, 1, 1});
  for (auto& b : v.backends) b.stats = std::make_shared<Counters>();
  auto lc = makeLeastConn();
  size_t a = lc->pick(v, v.all, ""), b = lc->pick(v, v.all, "");
  ASSERT_NE(a, b);
  size_t idle = 3 - a - b;
  lc->chose(v, idle);  // two sticky requests on the third
  lc->chose(v, idle);
  size_t c = lc->pick(v, v.all, "");  // 1, 1, 2: not the third
  EXPECT_NE(c, idle);
  lc->done(v, c);
  lc->done(v, idle);
  // The same backends, reversed in the next snapshot.
  ProxyVip w = v;
  std::reverse(w.backends.begin(), w.backends.end());
  auto at = [&](size_t i) { return 2 - i; };  // v's index i is w's 2 - i
  lc->done(v, a);  // a request of the old snapshot ends
  EXPECT_EQ(lc->pick(w, w.all, ""), at(a));  // a is the only idle one
  lc->done(v, idle);
  lc->done(w, at(a));
  // Now a and the third are idle, b still busy: never b.
  for (int i = 0; i < 4; ++i) {
    size_t p = lc->pick(w, w.all, "");
    EXPECT_NE(p, at(b));
    lc->done(w, p);
  }
}

TEST(Balance, ConsistentHashMovesOnlyTheKeysOfWhatChanged) {
  auto v = pool({1, 1, 1, 1});
  auto h = makeHash();
  std::map<std::string, size_t> before;
  std::map<size_t, int> share;
  for (int i = 0; i < 4000; ++i) {
    std::string key = "198.18." + std::to_string(i / 250) + "." + std::to_string(i % 250);
    before[key] = h->pick(v, v.all, key);
    ++share[before[key]];
    EXPECT_EQ(h->pick(v, v.all, key), before[key]);  // the same key, the same backend
  }
  for (auto [b, n] : share) EXPECT_NEAR(n, 1000, 150) << b;
  // node3 leaves: its keys move, no other key does.
  std::vector<size_t> left{0, 1, 3};
  int moved = 0;
  for (const auto& [key, b] : before) {
    size_t now = h->pick(v, left, key);
    if (b == 2) {
      ++moved;
      EXPECT_NE(now, 2u);
    } else {
      EXPECT_EQ(now, b) << key;
    }
  }
  EXPECT_EQ(moved, share[2]);
  // Weights scale the shares.
  auto w = pool({3, 1});
  std::map<size_t, int> ws;
  for (int i = 0; i < 4000; ++i) ++ws[h->pick(w, w.all, "k" + std::to_string(i))];
  EXPECT_NEAR(ws[0], 3000, 150);
}

TEST(Rewrite, HopByHopHeadersGoFramingAndHostStay) {
  http::Message m;
  m.method = "GET";
  m.target = "/";
  m.headers = {{"Host", "a"},        {"Connection", "keep-alive, X-Secret, Host, Content-Length"},
               {"X-Secret", "1"},    {"Keep-Alive", "timeout=5"},
               {"TE", "trailers"},   {"Trailer", "X"},
               {"Proxy-Authorization", "x"}, {"Upgrade", "h2c"},
               {"HTTP2-Settings", "x"}, {"Content-Length", "0"},
               {"X-Kept", "yes"}};
  stripHopByHop(m, false);
  std::set<std::string> names;
  for (const auto& h : m.headers) names.insert(h.name);
  EXPECT_EQ(names, (std::set<std::string>{"Host", "Content-Length", "X-Kept"}));
  http::Message ws;
  ws.headers = {{"Connection", "Upgrade"}, {"Upgrade", "websocket"}, {"Sec-WebSocket-Key", "k"}};
  stripHopByHop(ws, true);
  EXPECT_EQ(ws.find("Upgrade")->value, "websocket");
  EXPECT_EQ(ws.find("Connection")->value, "Upgrade");
}

// The rewrites find headers by number in a parsed message and by name in
// one built by hand: both ways, the same head goes to the backend.
TEST(Rewrite, ParsedAndHandBuiltHeadsAreRewrittenAlike) {
  const std::vector<std::pair<std::string, std::string>> fields = {
      {"hOST", "awx.example"}, {"connection", "keep-alive, X-Secret"}, {"X-Secret", "1"}, {"KEEP-ALIVE", "5"},
      {"te", "trailers"}, {"Proxy-Connection", "x"}, {"x-forwarded-for", "6.6.6.6"}, {"X_Forwarded_For", "7.7.7.7"},
      {"X-Forwarded_Proto", "https"}, {"forwarded", "for=6.6.6.6"}, {"x-real-ip", "6.6.6.6"},
      {"cookie", "a=1; SERVERID=abc"}, {"Cache-Control", "no-cache"}, {"X-Kept", "yes"}};
  std::string wire = "GET /x HTTP/1.1\r\n";
  http::Message built;
  built.method = "GET";
  built.target = "/x";
  for (const auto& [n, v] : fields) {
    wire += n + ": " + v + "\r\n";
    built.headers.push_back({n, v});
  }
  wire += "\r\n";
  http::Parser p(http::Parser::Kind::Request, {});
  ASSERT_EQ(p.feed(wire).what, http::Parser::Step::Head);
  http::Message& parsed = p.message();
  ASSERT_NE(parsed.headers[0].id, http::Name::Unknown);
  ASSERT_EQ(built.headers[0].id, http::Name::Unknown);
  HttpVip cfg;
  auto client = *IpAddr::parse("198.18.0.1");
  for (http::Message* m : {&parsed, &built}) {
    stripHopByHop(*m, false);
    setForwarded(*m, cfg, client, true, 443);
    removeCookie(*m, "SERVERID");
    privateOnly(*m);
  }
  EXPECT_EQ(parsed.serialize(), built.serialize());
  EXPECT_EQ(parsed.serialize(),
            "GET /x HTTP/1.1\r\nhOST: awx.example\r\ncookie: a=1\r\nX-Kept: yes\r\n"
            "X-Forwarded-For: 198.18.0.1\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Port: 443\r\n"
            "X-Forwarded-Host: awx.example\r\nCache-Control: no-cache, private\r\n\r\n");
}

TEST(Rewrite, XForwardedForIsReplacedUnlessATrustedProxyAppends) {
  HttpVip cfg;
  auto client = *IpAddr::parse("198.18.0.1");
  http::Message m;
  m.headers = {{"Host", "awx.example:8443"}, {"X-Forwarded-For", "6.6.6.6"}, {"X-Forwarded-Proto", "https"}};
  setForwarded(m, cfg, client, false, 80);
  EXPECT_EQ(m.find("X-Forwarded-For")->value, "198.18.0.1");
  EXPECT_EQ(m.count("X-Forwarded-For"), 1u);
  EXPECT_EQ(m.find("X-Forwarded-Proto")->value, "http");
  EXPECT_EQ(m.find("X-Forwarded-Port")->value, "80");
  EXPECT_EQ(m.find("X-Forwarded-Host")->value, "awx.example:8443");
  cfg.forwardedAppend = true;
  cfg.trustedProxies = {*Prefix::parse("198.18.0.0/24")};
  http::Message t;
  t.headers = {{"X-Forwarded-For", "203.0.113.9, 10.0.0.1"}};
  setForwarded(t, cfg, client, true, 443);
  EXPECT_EQ(t.find("X-Forwarded-For")->value, "203.0.113.9, 10.0.0.1, 198.18.0.1");
  // Not from a trusted proxy, or a chain that is not addresses: replaced.
  http::Message u;
  u.headers = {{"X-Forwarded-For", "203.0.113.9"}};
  setForwarded(u, cfg, *IpAddr::parse("198.19.9.9"), true, 443);
  EXPECT_EQ(u.find("X-Forwarded-For")->value, "198.19.9.9");
  http::Message g;
  g.headers = {{"X-Forwarded-For", "<script>"}};
  setForwarded(g, cfg, client, true, 443);
  EXPECT_EQ(g.find("X-Forwarded-For")->value, "198.18.0.1");
}

// What else a client can say about itself: Forwarded and X-Real-IP go
// unless it is a trusted proxy; underscore spellings of all of them (the
// same header to a WSGI application) go from everyone.
TEST(Rewrite, ClientClaimsAboutItselfDoNotReachTheBackend) {
  HttpVip cfg;
  cfg.forwardedAppend = true;
  cfg.trustedProxies = {*Prefix::parse("198.18.0.0/24")};
  auto claims = [] {
    http::Message m;
    m.headers = {{"Host", "a"},
                 {"Forwarded", "for=6.6.6.6"},
                 {"x-real-ip", "6.6.6.6"},
                 {"X_Forwarded_For", "6.6.6.6"},
                 {"x_forwarded-proto", "https"},
                 {"X_Real_IP", "6.6.6.6"},
                 {"X_Forwarded_Host", "evil"},
                 {"X_Custom", "kept"},
                 {"X-Forwarded-Forx", "kept"}};
    return m;
  };
  http::Message u = claims();
  setForwarded(u, cfg, *IpAddr::parse("198.19.9.9"), false, 80);
  for (const char* gone : {"Forwarded", "X-Real-IP", "X_Forwarded_For", "x_forwarded-proto", "X_Real_IP", "X_Forwarded_Host"})
    EXPECT_EQ(u.count(gone), 0u) << gone;
  EXPECT_EQ(u.count("X_Custom"), 1u);
  EXPECT_EQ(u.count("X-Forwarded-Forx"), 1u);
  EXPECT_EQ(u.find("X-Forwarded-For")->value, "198.19.9.9");
  // A trusted proxy's Forwarded and X-Real-IP stay; underscores do not.
  http::Message t = claims();
  setForwarded(t, cfg, *IpAddr::parse("198.18.0.7"), false, 80);
  EXPECT_EQ(t.count("Forwarded"), 1u);
  EXPECT_EQ(t.count("X-Real-IP"), 1u);
  EXPECT_EQ(t.count("X_Forwarded_For"), 0u);
  EXPECT_EQ(t.count("X_Real_IP"), 0u);
  EXPECT_EQ(t.count("X_Custom"), 1u);
}

// nocache: a response setting the persistence cookie is private.
TEST(Rewrite, ACookieSettingResponseIsNeverStoredForOthers) {
  auto cc = [](std::vector<http::Header> h) {
    http::Message m;
    m.headers = std::move(h);
    privateOnly(m);
    EXPECT_EQ(m.count("Cache-Control"), 1u);
    return m.find("Cache-Control")->value;
  };
  EXPECT_EQ(cc({}), "private");
  EXPECT_EQ(cc({{"Cache-Control", "public, max-age=600"}}), "max-age=600, private");
  EXPECT_EQ(cc({{"Cache-Control", "max-age=60, s-maxage=600"}, {"cache-control", "PUBLIC"}}), "max-age=60, private");
  EXPECT_EQ(cc({{"Cache-Control", "no-store"}}), "no-store");
  EXPECT_EQ(cc({{"Cache-Control", "private, max-age=5"}}), "private, max-age=5");
  EXPECT_EQ(cc({{"Cache-Control", "private=\"X-A\", max-age=5"}}), "private=\"X-A\", max-age=5, private");
}

TEST(Rewrite, PersistenceCookieIsReadRemovedAndTellsNoAddress) {
  http::Message m;
  m.headers = {{"Cookie", "a=1; SERVERID=\"abc\"; b=2"}, {"Cookie", "SERVERID=zzz"}};
  EXPECT_EQ(*cookieValue(m, "SERVERID"), "abc");
  EXPECT_FALSE(cookieValue(m, "SERVER"));
  removeCookie(m, "SERVERID");
  ASSERT_EQ(m.count("Cookie"), 1u);  // the one left empty is dropped
  EXPECT_EQ(m.find("Cookie")->value, "a=1; b=2");
  VipKey vip{*Endpoint::parse("198.18.0.100:443"), 6};
  auto t1 = cookieToken("secret-1", vip, "198.18.0.11:80");
  EXPECT_EQ(t1.size(), 16u);
  EXPECT_EQ(t1, cookieToken("secret-1", vip, "198.18.0.11:80"));  // stable
  EXPECT_NE(t1, cookieToken("secret-2", vip, "198.18.0.11:80"));  // keyed
  EXPECT_NE(t1, cookieToken("secret-1", vip, "198.18.0.12:80"));
  EXPECT_EQ(t1.find("198"), std::string::npos);
}

}  // namespace
}  // namespace xlb::proxy

namespace xlb::proxy {
namespace {

TEST(Policy, PathsAreMatchedAsTheApplicationWillSeeThem) {
  EXPECT_EQ(normalizePath("/api/v2/ping/?x=1"), "/api/v2/ping/");
  EXPECT_EQ(normalizePath("/"), "/");
  EXPECT_EQ(normalizePath("/%61dmin/"), "/admin/");            // escapes decoded
  EXPECT_EQ(normalizePath("/a%2Fb"), "/a/b");                   // an escaped slash is a slash to a WSGI app
  EXPECT_EQ(normalizePath("//admin//x"), "/admin/x");           // empty segments
  EXPECT_EQ(normalizePath("/./admin/./x/"), "/admin/x/");       // dot segments
  EXPECT_EQ(normalizePath("/x/../admin/"), "/admin/");          // resolved
  EXPECT_EQ(normalizePath("/x/%2e%2e/admin"), "/admin");        // also when escaped
  EXPECT_EQ(normalizePath("/a?/../b"), "/a");                   // a query is not a path
  EXPECT_EQ(normalizePath("/.."), std::nullopt);                // above the root
  EXPECT_EQ(normalizePath("/a/../../b"), std::nullopt);
  EXPECT_EQ(normalizePath("/%zz"), std::nullopt);               // bad escapes
  EXPECT_EQ(normalizePath("/%4"), std::nullopt);
  EXPECT_EQ(normalizePath("/%"), std::nullopt);
  EXPECT_EQ(normalizePath("/a%00b"), std::nullopt);             // decoded NUL or control
  EXPECT_EQ(normalizePath("/a%0d%0aX: y"), std::nullopt);
  EXPECT_EQ(normalizePath("/a%7f"), std::nullopt);
  EXPECT_EQ(normalizePath("*"), std::nullopt);                  // not a path
  EXPECT_EQ(normalizePath("http://h/admin"), std::nullopt);
}

TEST(Policy, AclsBySourceAndByNormalizedPath) {
  HttpVip cfg;
  cfg.deny = {*Prefix::parse("198.18.66.0/24")};
  cfg.denyPaths = {"/api/v2/metrics/"};
  auto ok = [&](const char* addr, const char* target) {
    auto path = normalizePath(target);
    return path && allowed(cfg, *IpAddr::parse(addr), *path);
  };
  EXPECT_TRUE(ok("198.18.0.5", "/api/v2/ping/"));
  EXPECT_FALSE(ok("198.18.66.9", "/api/v2/ping/"));
  for (const char* sneaky : {"/api/v2/metrics/", "/api/v2/metrics/x", "/api/v2/%6detrics/", "//api/v2/metrics/",
                             "/api/v2/./metrics/", "/api/v1/../v2/metrics/", "/x/../api/v2/metrics/", "/api/v2/metrics/?a"})
    EXPECT_FALSE(ok("198.18.0.5", sneaky)) << sneaky;
  EXPECT_TRUE(ok("198.18.0.5", "/api/v2/metricsx"));  // a prefix of the path as written in the config
  // A non-empty allow list admits only its sources; deny still wins.
  cfg.allow = {*Prefix::parse("198.18.0.0/16"), *Prefix::parse("2001:db8::/32")};
  EXPECT_TRUE(ok("2001:db8::7", "/"));
  EXPECT_FALSE(ok("198.19.0.5", "/"));
  EXPECT_FALSE(ok("198.18.66.9", "/"));
}

TEST(Policy, FirstMatchingRouteElseTheDefault) {
  HttpVip cfg;
  Route api;
  api.pathPrefix = "/api/";
  api.host = "awx.lab.test";
  Route canary;
  canary.header = "X-Canary";
  canary.headerValue = "1";
  Route any;
  any.pathPrefix = "/";
  any.host = "other.lab.test";
  cfg.routes = {api, canary, any};
  auto route = [&](const char* host, const char* target, std::vector<http::Header> extra = {}) {
    http::Message m;
    m.method = "GET";
    m.target = target;
    m.headers = std::move(extra);
    if (host) m.add("Host", host);
    return routeIndex(cfg, m, *normalizePath(target));
  };
  EXPECT_EQ(route("awx.lab.test", "/api/v2/ping/"), 0u);
  EXPECT_EQ(route("AWX.lab.test:443", "/api/v2/ping/"), 0u);   // any case, port ignored
  EXPECT_EQ(route("awx.lab.test", "//api/x"), 0u);             // on the normalized path
  EXPECT_EQ(route("awx.lab.test", "/ui/"), 3u);                // default
  EXPECT_EQ(route("awx.lab.test", "/ui/", {{"X-Canary", "1"}}), 1u);
  EXPECT_EQ(route("awx.lab.test", "/api/", {{"X-Canary", "1"}}), 0u);  // the first that matches
  EXPECT_EQ(route("awx.lab.test", "/ui/", {{"X-Canary", "2"}}), 3u);   // the value must be exact
  EXPECT_EQ(route("other.lab.test", "/x"), 2u);
  EXPECT_EQ(route(nullptr, "/x"), 3u);
}

}  // namespace
}  // namespace xlb::proxy
