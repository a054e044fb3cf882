// SPDX-License-Identifier: Apache-2.0
// The strict HTTP/1.x parser: every ambiguous or malformed request is
// refused with the right status, case by case, and good messages parse
// with the framing their headers say, fed whole or a byte at a time.
#include "http.h"

#include <gtest/gtest.h>

#include <cctype>

namespace xlb::http {
namespace {

struct Outcome {
  bool ok = false;
  int status = 0;
  std::string why;
  Parser::Step::What last = Parser::Step::NeedMore;
};

// Feeds `text` (whole, or in pieces of `piece` bytes) to a request parser
// until the head is done or it fails.
Outcome head(const std::string& text, size_t piece = 0, Limits limits = {}) {
  Parser p(Parser::Kind::Request, limits);
  Outcome o;
  size_t at = 0;
  while (at < text.size()) {
    size_t n = piece ? std::min(piece, text.size() - at) : text.size() - at;
    auto s = p.feed(std::string_view(text).substr(at, n));
    o.last = s.what;
    if (s.what == Parser::Step::Fail) {
      o.status = p.failure().status;
      o.why = p.failure().why;
      return o;
    }
    if (s.what == Parser::Step::Head) {
      o.ok = true;
      return o;
    }
    at += s.used;
    if (s.used == 0 && n > 0 && s.what == Parser::Step::NeedMore) at += 0;  // all taken below
  }
  return o;
}

struct Bad {
  const char* name;
  std::string request;
  int status;
};

TEST(HttpParser, RefusesEveryAmbiguousOrMalformedRequest) {
  const std::string ok = "GET / HTTP/1.1\r\nHost: a.example\r\n";
  const Bad cases[] = {
      {"obs-fold", ok + "X-A: 1\r\n  continued\r\n\r\n", 400},
      {"obs-fold with tab", ok + "X-A: 1\r\n\tcontinued\r\n\r\n", 400},
      {"space before colon", ok + "X-A : 1\r\n\r\n", 400},
      {"tab before colon", ok + "X-A\t: 1\r\n\r\n", 400},
      {"empty header name", ok + ": 1\r\n\r\n", 400},
      {"non-token header name", ok + "X(A): 1\r\n\r\n", 400},
      {"header line without colon", ok + "X-A 1\r\n\r\n", 400},
      {"missing Host", "GET / HTTP/1.1\r\n\r\n", 400},
      {"two Hosts", ok + "Host: b.example\r\n\r\n", 400},
      {"empty Host", "GET / HTTP/1.1\r\nHost: \r\n\r\n", 400},
      {"Host with a space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
      {"Host with a slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400},
      {"Host with an at", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400},
      {"Host with bad port", "GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n", 400},
      {"two spaces after method", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"two spaces before version", "GET /  HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"trailing space", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400},
      {"tab in request line", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"HTTP/0.9", "GET /\r\n\r\n", 400},
      {"HTTP/2.0 line", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 400},
      {"HTTP/1.2", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", 400},
      {"lower-case version", "GET / http/1.1\r\nHost: a\r\n\r\n", 400},
      {"CONNECT", "CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n", 400},
      {"fragment in target", "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"target not a path", "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"asterisk with GET", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"raw UTF-8 in target", "GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"DEL in target", "GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"CL and TE", ok + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
      {"TE and CL", ok + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400},
      {"two differing CL", ok + "Content-Length: 3\r\nContent-Length: 4\r\n\r\n", 400},
      {"CL list that differs", ok + "Content-Length: 3, 4\r\n\r\n", 400},
      {"CL with sign", ok + "Content-Length: +3\r\n\r\n", 400},
      {"CL negative", ok + "Content-Length: -3\r\n\r\n", 400},
      {"CL hex", ok + "Content-Length: 0x3\r\n\r\n", 400},
      {"CL empty", ok + "Content-Length: \r\n\r\n", 400},
      {"CL huge", ok + "Content-Length: 99999999999999999999999\r\n\r\n", 400},
      {"CL with space inside", ok + "Content-Length: 1 2\r\n\r\n", 400},
      {"TE gzip", ok + "Transfer-Encoding: gzip\r\n\r\n", 501},
      {"TE unknown", ok + "Transfer-Encoding: xchunked\r\n\r\n", 501},
      {"TE chunked then gzip", ok + "Transfer-Encoding: chunked, gzip\r\n\r\n", 400},
      {"TE gzip then chunked", ok + "Transfer-Encoding: gzip, chunked\r\n\r\n", 501},
      {"TE chunked twice", ok + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
      {"TE identity", ok + "Transfer-Encoding: identity\r\n\r\n", 501},
      {"TE empty", ok + "Transfer-Encoding: \r\n\r\n", 400},
      {"TE with a vertical tab", ok + "Transfer-Encoding: \x0b" "chunked\r\n\r\n", 400},
      {"TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
      {"NUL in a value", ok + std::string("X-A: a\0b\r\n\r\n", 12), 400},
      {"control character in a value", ok + "X-A: a\x01" "b\r\n\r\n", 400},
      {"DEL in a value", ok + "X-A: a\x7f" "b\r\n\r\n", 400},
      {"escape in a value", ok + "X-A: \x1b[31m\r\n\r\n", 400},
      {"bare CR in a value", ok + "X-A: a\rb\r\n\r\n", 400},
      {"bare LF line end", "GET / HTTP/1.1\nHost: a\r\n\r\n", 400},
      {"bare LF between headers", ok + "X-A: 1\nX-B: 2\r\n\r\n", 400},
      {"NUL in the method", std::string("GE\0T / HTTP/1.1\r\nHost: a\r\n\r\n", 29), 400},
      {"unknown method", "BREW / HTTP/1.1\r\nHost: a\r\n\r\n", 501},
      {"Expect unknown", ok + "Expect: 200-ok\r\n\r\n", 417},
      {"request line too long", "GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n", 414},
      {"too many headers", ok + [] {
         std::string s;
         for (int i = 0; i < 101; ++i) s += "X-" + std::to_string(i) + ": v\r\n";
         return s + "\r\n";
       }(), 431},
      {"head too large", ok + "X-Big: " + std::string(40000, 'v') + "\r\n\r\n", 431},
  };
  int n = 0;
  for (const auto& c : cases) {
    for (size_t piece : {size_t{0}, size_t{1}, size_t{7}}) {
      auto o = head(c.request, piece);
      EXPECT_FALSE(o.ok) << c.name << " (pieces of " << piece << "): accepted";
      EXPECT_EQ(o.status, c.status) << c.name << " (pieces of " << piece << "): " << o.why;
    }
    ++n;
  }
  EXPECT_GE(n, 55);
}

TEST(HttpParser, AcceptsGoodRequestsWithTheirFraming) {
  {
    Parser p(Parser::Kind::Request, {});
    std::string r = "\r\nPOST /api/v2/ping/?a=1 HTTP/1.1\r\nHost: [2001:db8::1]:443\r\nContent-Length: 5\r\nX-A: v\t w\r\n\r\nhello"
                    "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    auto s = p.feed(r);
    ASSERT_EQ(s.what, Parser::Step::Head) << p.failure().why;
    EXPECT_EQ(p.message().method, "POST");
    EXPECT_EQ(p.message().target, "/api/v2/ping/?a=1");
    EXPECT_EQ(p.framing(), Framing::Length);
    EXPECT_EQ(p.contentLength(), 5u);
    EXPECT_TRUE(p.keepAlive());
    EXPECT_EQ(p.message().find("x-a")->value, "v\t w");
    auto b = p.feed(std::string_view(r).substr(s.used));
    EXPECT_EQ(b.what, Parser::Step::Done);
    EXPECT_EQ(b.raw, "hello");
    p.reset();
    auto g = p.feed(std::string_view(r).substr(s.used + b.used));
    EXPECT_EQ(g.what, Parser::Step::Head);
    EXPECT_EQ(p.framing(), Framing::None);
    // The second message reuses the first one's header storage and shows
    // nothing of it.
    ASSERT_EQ(p.message().headers.size(), 1u);
    EXPECT_EQ(p.message().headers[0].name, "Host");
    EXPECT_EQ(p.message().headers[0].value, "a");
    EXPECT_EQ(p.message().spare.size(), 2u);
    EXPECT_EQ(p.message().method, "GET");
    EXPECT_EQ(p.message().target, "/");
    EXPECT_EQ(p.message().find("x-a"), nullptr);
    http::Message m = p.message();
    m.add("X-Forwarded-Proto", "https");  // on spare storage, whole
    EXPECT_EQ(m.find("x-forwarded-proto")->value, "https");
    EXPECT_EQ(m.serialize(), "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-Proto: https\r\n\r\n");
    // A huge header's storage is not kept: a client cannot make every
    // idle connection hold its largest headers.
    m.add("X-Big", std::string(10000, 'x'));
    m.spare.clear();
    m.clear();
    EXPECT_EQ(m.spare.size(), 2u);  // Host and X-Forwarded-Proto, not X-Big
    for (const auto& h : m.spare) EXPECT_LE(h.value.capacity(), http::Message::kSpareBytes);
  }
  {  // chunked, raw bytes kept as they came (extensions and trailers included), a byte at a time
    Parser p(Parser::Kind::Request, {});
    p.keepBody(true);
    std::string body = "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n";
    std::string r = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + body + "GET";
    auto s = p.feed(r);
    ASSERT_EQ(s.what, Parser::Step::Head);
    EXPECT_EQ(p.framing(), Framing::Chunked);
    std::string raw, payload;
    size_t at = s.used;
    Parser::Step st;
    do {
      st = p.feed(std::string_view(r).substr(at, 1));
      ASSERT_NE(st.what, Parser::Step::Fail) << p.failure().why;
      raw += st.raw;
      payload += st.payload;
      at += st.used;
    } while (st.what != Parser::Step::Done);
    EXPECT_EQ(raw, body);
    EXPECT_EQ(payload, "hello world");
    EXPECT_EQ(r.substr(at), "GET");
  }
  for (const char* good : {"GET http://a.example/x HTTP/1.1\r\nHost: a.example\r\n\r\n",
                           "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", "GET / HTTP/1.0\r\n\r\n",
                           "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
                           "GET / HTTP/1.1\r\nHost: 198.18.0.1:8080\r\nX-Utf8: \xc3\xa9\r\n\r\n",
                           "GET /chat HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"}) {
    auto o = head(good);
    EXPECT_TRUE(o.ok) << good << ": " << o.why;
  }
}

TEST(HttpParser, BadChunkedBodiesAndLimitsFail) {
  // The failure's status; 0: the whole body taken and forwarded raw, done.
  auto body = [](const std::string& chunks, Limits l = {}) {
    Parser p(Parser::Kind::Request, l);
    std::string r = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks;
    auto s = p.feed(r);
    if (s.what != Parser::Step::Head) return -1;
    auto b = p.feed(std::string_view(r).substr(s.used));
    if (b.what == Parser::Step::Fail) return p.failure().status;
    return b.what == Parser::Step::Done && b.used == chunks.size() && b.raw == chunks ? 0 : -1;
  };
  EXPECT_EQ(body("z\r\nhello\r\n0\r\n\r\n"), 400);
  EXPECT_EQ(body("5\r\nhelloX0\r\n\r\n"), 400);
  EXPECT_EQ(body("ffffffffffffffffff\r\n"), 400);
  EXPECT_EQ(body("5;" + std::string(300, 'e') + "\r\nhello\r\n0\r\n\r\n"), 400);
  // Chunk framing is CRLF exactly: a parser that skips "any two bytes"
  // after the data, or any byte after a size line's CR, reads a different
  // body than a strict backend does.
  EXPECT_EQ(body("5\r\nhelloXY0\r\n\r\n"), 400);
  EXPECT_EQ(body("5\r\nhello\rX0\r\n\r\n"), 400);
  EXPECT_EQ(body("5\rXhello\r\n0\r\n\r\n"), 400);
  EXPECT_EQ(body("5\nhello\r\n0\r\n\r\n"), 400);
  EXPECT_EQ(body("5\r\nhello\n0\r\n\r\n"), 400);
  EXPECT_EQ(body("5 \r\nhello\r\n0\r\n\r\n"), 400);
  EXPECT_EQ(body("-5\r\nhello\r\n0\r\n\r\n"), 400);
  EXPECT_EQ(body("0x5\r\nhello\r\n0\r\n\r\n"), 400);
  // Trailers: the head's rules (CRLF, no folding, token names, no control
  // characters) and its limits.
  EXPECT_EQ(body("0\r\nX-T: 1\r\n\r\n"), 0);
  EXPECT_EQ(body("0\r\nX-T: 1\r\n ff\r\n\r\n"), 400);
  EXPECT_EQ(body("0\r\nX-T: 1\nX-U: 2\r\n\r\n"), 400);
  EXPECT_EQ(body("0\r\nX-T: 1\r\nX-U: 2\n\r\n"), 400);
  EXPECT_EQ(body("0\r\nX T: 1\r\n\r\n"), 400);
  EXPECT_EQ(body("0\r\nX-T : 1\r\n\r\n"), 400);
  EXPECT_EQ(body(std::string("0\r\nX-T: a\0b\r\n\r\n", 16)), 400);
  EXPECT_EQ(body("0\r\nX-T: a\x7f\r\n\r\n"), 400);
  Limits few;
  few.headerCount = 3;
  EXPECT_EQ(body("0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", few), 0);
  EXPECT_EQ(body("0\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", few), 431);
  Limits narrow;
  narrow.headerBytes = 64;
  EXPECT_EQ(body("0\r\nA: " + std::string(40, 'a') + "\r\n\r\n", narrow), 0);
  EXPECT_EQ(body("0\r\nA: " + std::string(70, 'a') + "\r\n\r\n", narrow), 431);
  Limits small;
  small.body = 8;
  EXPECT_EQ(body("5\r\nhello\r\n5\r\nhello\r\n0\r\n\r\n", small), 413);
  auto o = head("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9\r\n\r\n", 0, small);
  EXPECT_EQ(o.status, 413);
}

// Trailers fed a byte at a time are bounded too (a client streaming
// trailer lines forever is cut off at the head's byte limit), and they do
// not become part of the forwarded message's headers.
TEST(HttpParser, TrailersFedByteByByteAreBoundedAndKeptOutOfTheHead) {
  Limits l;
  l.headerBytes = 1024;
  Parser p(Parser::Kind::Request, l);
  auto s = p.feed("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
  ASSERT_EQ(s.what, Parser::Step::Head);
  size_t headers = p.message().headers.size();
  std::string good = "3\r\nabc\r\n0\r\nX-Sum: 1\r\n\r\n";
  Parser::Step last;
  std::string forwarded;
  for (char c : good) {
    last = p.feed(std::string_view(&c, 1));
    ASSERT_NE(last.what, Parser::Step::Fail) << p.failure().why;
    ASSERT_EQ(last.used, 1u);
    forwarded.append(last.raw);
  }
  EXPECT_EQ(last.what, Parser::Step::Done);
  EXPECT_EQ(forwarded, good);  // trailers included, as they came
  EXPECT_EQ(p.message().headers.size(), headers);

  Parser q(Parser::Kind::Request, l);
  ASSERT_EQ(q.feed("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n").what, Parser::Step::Head);
  ASSERT_EQ(q.feed("0\r\n").what, Parser::Step::Body);
  std::string line = "X-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
  int failedAt = 0;
  for (int i = 0; i < 1000 && !failedAt; ++i)
    for (char c : line)
      if (q.feed(std::string_view(&c, 1)).what == Parser::Step::Fail) {
        failedAt = i + 1;
        break;
      }
  EXPECT_GT(failedAt, 0);
  EXPECT_LE(failedAt * line.size(), 1024 + line.size());
  EXPECT_EQ(q.failure().status, 431);
}

// A head with bare LF line endings is refused when its first bare LF
// arrives, not left waiting for a CRLFCRLF that never comes (which would
// have answered 408 at the header timeout).
TEST(HttpParser, BareLineFeedsInAHeadFailAtOnce) {
  for (const char* text : {"GET / HTTP/1.1\nHost: a\n\n", "GET / HTTP/1.1\r\nHost: a\n\n", "GET / HTTP/1.1\rHost: a\r\n\r\n"}) {
    auto o = head(text);
    EXPECT_EQ(o.last, Parser::Step::Fail) << text;
    EXPECT_EQ(o.status, 400) << text;
    auto b = head(text, 1);
    EXPECT_EQ(b.last, Parser::Step::Fail) << text;
  }
  // At once: no CRLFCRLF has come yet.
  for (const char* partial : {"GET / HTTP/1.1\rX", "GET / HTTP/1.1\nHost: a", "GET / HTTP/1.1\r\nHost: a\n"}) {
    Parser p(Parser::Kind::Request, {});
    EXPECT_EQ(p.feed(partial).what, Parser::Step::Fail) << partial;
  }
  Parser r(Parser::Kind::Response, {});
  EXPECT_EQ(r.feed("HTTP/1.1 200 OK\nContent-Length: 0\n\n").what, Parser::Step::Fail);
}

// The framing headers forwarded say one thing one way: a Transfer-Encoding
// list with empty elements is refused (parsers disagree on it), a chunked
// one accepted is forwarded as one plain header, and Content-Length is a
// single plain number.
TEST(HttpParser, FramingHeadersAreForwardedInOneSpelling) {
  for (const char* te : {"chunked, ", ", chunked", "chunked,,", " , chunked"}) {
    auto o = head(std::string("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ") + te + "\r\n\r\n");
    EXPECT_EQ(o.status, 400) << te;
  }
  Parser p(Parser::Kind::Request, {});
  ASSERT_EQ(p.feed("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked \r\n\r\n").what, Parser::Step::Head);
  EXPECT_EQ(p.message().count("Transfer-Encoding"), 1u);
  EXPECT_EQ(p.message().find("Transfer-Encoding")->value, "chunked");
  // Content-Length: one plain number, never a list or a repeat, even agreeing.
  EXPECT_EQ(head("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\n").status, 400);
  EXPECT_EQ(head("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n").status, 400);
  Parser r(Parser::Kind::Response, {});
  r.answering("HEAD");
  EXPECT_EQ(r.feed("HTTP/1.1 200 OK\r\nContent-Length: 7, 7\r\n\r\n").what, Parser::Step::Fail);
  EXPECT_EQ(r.failure().status, 502);
}

// Headers are looked up by number once parsed or added, by name when built
// by hand; both ways find the same headers, whatever their case.
TEST(HttpMessage, KnownNamesAreFoundByNumberAndByName) {
  for (Name k : {Name::Host, Name::ContentLength, Name::TransferEncoding, Name::Connection, Name::KeepAlive, Name::TE,
                 Name::Trailer, Name::Upgrade, Name::HTTP2Settings, Name::Expect, Name::Cookie, Name::SetCookie,
                 Name::CacheControl, Name::XForwardedFor, Name::XForwardedProto, Name::XForwardedPort,
                 Name::XForwardedHost, Name::Forwarded, Name::XRealIP}) {
    std::string upper(spelling(k)), lower(spelling(k));
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    EXPECT_EQ(classify(spelling(k)), k) << spelling(k);
    EXPECT_EQ(classify(upper), k) << upper;
    EXPECT_EQ(classify(lower), k) << lower;
  }
  EXPECT_EQ(classify("Hostx"), Name::Other);
  EXPECT_EQ(classify("Hos"), Name::Other);
  EXPECT_EQ(classify("X-Forwarded-Fox"), Name::Other);
  EXPECT_EQ(classify("proxy-authorization"), Name::OtherProxy);
  EXPECT_EQ(classify("X_Forwarded_For"), Name::OtherUnderscore);
  EXPECT_EQ(classify("X-Forwarded_For"), Name::OtherUnderscore);

  Parser p(Parser::Kind::Request, {});
  auto s = p.feed("GET / HTTP/1.1\r\nhOST: a\r\nX-Thing: 1\r\nconnection: keep-alive\r\nproxy-x: 2\r\n\r\n");
  ASSERT_EQ(s.what, Parser::Step::Head);
  Message& m = p.message();
  for (const auto& h : m.headers) EXPECT_NE(h.id, Name::Unknown) << h.name;
  ASSERT_NE(m.find(Name::Host), nullptr);
  EXPECT_EQ(m.find(Name::Host)->value, "a");
  EXPECT_EQ(m.find("HOST"), m.find(Name::Host));
  EXPECT_EQ(m.find("x-thing"), &m.headers[1]);
  EXPECT_EQ(m.find("Proxy-X"), &m.headers[3]);
  EXPECT_EQ(m.find(Name::Cookie), nullptr);
  EXPECT_TRUE(m.hasToken(Name::Connection, "Keep-Alive"));
  // The next request on the connection reuses the headers' storage, not their numbers.
  p.reset();
  ASSERT_EQ(p.feed("GET / HTTP/1.1\r\nX-Thing: 1\r\nHost: b\r\n\r\n").what, Parser::Step::Head);
  ASSERT_NE(p.message().find(Name::Host), nullptr);
  EXPECT_EQ(p.message().find(Name::Host)->value, "b");
  EXPECT_EQ(p.message().find(Name::Connection), nullptr);

  // Built by hand (not numbered) and added (numbered), side by side.
  Message b;
  b.headers = {{"host", "one"}, {"X-Forwarded-For", "6.6.6.6"}, {"x-thing", "1"}};
  b.add("X-FORWARDED-FOR", "7.7.7.7");
  b.add(Name::Host, "two");
  EXPECT_EQ(b.headers.back().id, Name::Host);
  EXPECT_EQ(b.count(Name::Host), 2u);
  EXPECT_EQ(b.count("HOST"), 2u);
  EXPECT_EQ(b.count(Name::XForwardedFor), 2u);
  EXPECT_EQ(b.find("X-Thing"), &b.headers[2]);
  b.set(Name::XForwardedFor, "8.8.8.8");
  ASSERT_EQ(b.count("x-forwarded-for"), 1u);
  EXPECT_EQ(b.find(Name::XForwardedFor)->value, "8.8.8.8");
  b.remove("Host");
  EXPECT_EQ(b.find(Name::Host), nullptr);
  EXPECT_EQ(b.headers.size(), 2u);
  b.classifyAll();
  EXPECT_EQ(b.find("x-thing")->id, Name::Other);
  EXPECT_EQ(b.find("X-Thing"), &b.headers[0]);
}

TEST(HttpParser, ResponsesFramedByStatusMethodAndHeaders) {
  auto framing = [](const std::string& r, const char* method = "GET") {
    Parser p(Parser::Kind::Response, {});
    p.answering(method);
    auto s = p.feed(r);
    EXPECT_EQ(s.what, Parser::Step::Head) << r << p.failure().why;
    return p.framing();
  };
  EXPECT_EQ(framing("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n"), Framing::Length);
  EXPECT_EQ(framing("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", "HEAD"), Framing::None);
  EXPECT_EQ(framing("HTTP/1.1 204 No Content\r\n\r\n"), Framing::None);
  EXPECT_EQ(framing("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n"), Framing::None);
  EXPECT_EQ(framing("HTTP/1.1 100 Continue\r\n\r\n"), Framing::None);
  EXPECT_EQ(framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), Framing::Chunked);
  EXPECT_EQ(framing("HTTP/1.0 200 OK\r\n\r\n"), Framing::UntilClose);
  Parser p(Parser::Kind::Response, {});
  auto s = p.feed("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n");
  EXPECT_EQ(s.what, Parser::Step::Fail);
  EXPECT_EQ(p.failure().status, 502);
}

}  // namespace
}  // namespace xlb::http
