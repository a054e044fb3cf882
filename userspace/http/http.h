// SPDX-License-Identifier: Apache-2.0
// xlb's one HTTP/1.x layer, shared by the proxy, the health probes and
// /metrics: the message model, the limits, and a strict incremental parser
// built on llhttp.
//
// Strict, because a proxy that forwards what it did not understand the way
// the backend will is how requests get smuggled. Debian's llhttp (8.1)
// accepts obs-fold, whitespace before the colon, empty header names, extra
// spaces in the request line, HTTP/0.9 and 2.0 request lines, unbounded
// chunk extensions, and enforces no sizes; so a head is first read whole
// (bounded), its bytes checked (line endings, control characters, folding,
// the request line's shape, token names), then parsed by llhttp, then
// checked for meaning (Host, Content-Length, Transfer-Encoding). Bodies are
// delimited by llhttp (chunked) or by counting (Content-Length), and handed
// back raw, so a proxy can forward them as they came.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace xlb::http {

struct Limits {
  size_t requestLine = 8 * 1024;   // 414 above
  size_t headerBytes = 32 * 1024;  // the whole head; 431 above
  size_t headerCount = 100;        // 431 above
  uint64_t body = 0;               // 413 above; 0: no limit
  size_t chunkExtension = 256;     // per chunk; 400 above
};

// The header names the parser and the proxy look for, known by number once
// a message is parsed (or a header added), so that finding one compares a
// byte, not a name: a request is looked through for a dozen names, each
// compared case-insensitively against every header, and that cost more
// than parsing it.
enum class Name : uint8_t {
  Unknown,          // not classified yet (a Header built by hand): compared by name
  Other,            // none of those below
  OtherProxy,       // Proxy-*, other than those below
  OtherUnderscore,  // a name with '_' (X_Forwarded_For is X-Forwarded-For to WSGI)
  Host,
  ContentLength,
  TransferEncoding,
  Connection,
  KeepAlive,
  TE,
  Trailer,
  Upgrade,
  HTTP2Settings,
  Expect,
  Cookie,
  SetCookie,
  CacheControl,
  XForwardedFor,
  XForwardedProto,
  XForwardedPort,
  XForwardedHost,
  Forwarded,
  XRealIP,
};
Name classify(std::string_view name);
// The usual spelling of a known name ("" for the Unknown and Other kinds).
std::string_view spelling(Name n);

struct Header {
  std::string name, value;
  Name id = Name::Unknown;  // classify(name), once known
  // Is this header called `name` (whose kind is `id`)?
  bool is(Name id, std::string_view name) const;
  bool is(Name known) const { return is(known, spelling(known)); }
};

// A request or a response head.
// Optional whitespace (spaces, tabs) off both ends.
std::string_view trim(std::string_view s);
// A header list split at `sep` (',' for lists, ';' for Cookie) into
// trimmed, non-empty elements (RFC 9110 5.6.1: empty elements are allowed
// and mean nothing). eachOf calls f(element) in order until f returns
// true, and says whether one did; it allocates nothing.
template <class F>
bool eachOf(std::string_view v, char sep, F&& f) {
  size_t at = 0;
  while (at <= v.size()) {
    size_t end = v.find(sep, at);
    auto part = trim(v.substr(at, end == std::string_view::npos ? std::string_view::npos : end - at));
    if (!part.empty() && f(part)) return true;
    if (end == std::string_view::npos) break;
    at = end + 1;
  }
  return false;
}
std::vector<std::string_view> listOf(std::string_view v, char sep = ',');

struct Message {
  std::string method, target;  // requests
  int status = 0;              // responses
  std::string reason;
  int minor = 1;  // HTTP/1.minor
  std::vector<Header> headers;

  // By name, case-insensitively; or, cheaper, by a known name's number.
  const Header* find(std::string_view name) const { return find(classify(name), name); }
  const Header* find(Name known) const { return find(known, spelling(known)); }
  size_t count(std::string_view name) const { return count(classify(name), name); }
  size_t count(Name known) const { return count(known, spelling(known)); }
  void remove(std::string_view name) { remove(classify(name), name); }
  void remove(Name known) { remove(known, spelling(known)); }
  // set replaces every header of that name.
  void set(std::string_view name, std::string value) { set(classify(name), name, std::move(value)); }
  void set(Name known, std::string value) { set(known, spelling(known), std::move(value)); }
  void add(std::string_view name, std::string value) { add(classify(name), name, std::move(value)); }
  void add(Name known, std::string value) { add(known, spelling(known), std::move(value)); }
  // Numbers the headers not numbered yet (the parser's, once a head is read).
  void classifyAll();
  // A new last header, name and value empty, on storage a cleared one left.
  Header& addEmpty();
  // Empties the message; the headers' storage stays for the next one (a
  // connection's parser fills the same message request after request).
  void clear();
  std::vector<Header> spare;  // cleared headers: storage, not part of the message
  static constexpr size_t kSpareHeaders = 32, kSpareBytes = 256;
  // Does the comma-separated list in every `known` header contain token?
  bool hasToken(Name known, std::string_view token) const;
  // The head as bytes on the wire; serializeTo replaces out's content (and
  // keeps its capacity).
  std::string serialize() const;
  void serializeTo(std::string& out) const;

 private:
  const Header* find(Name id, std::string_view name) const;
  size_t count(Name id, std::string_view name) const;
  void remove(Name id, std::string_view name);
  void set(Name id, std::string_view name, std::string value);
  void add(Name id, std::string_view name, std::string value);
};

bool iequals(std::string_view a, std::string_view b);

// How the body of a message is delimited.
enum class Framing { None, Length, Chunked, UntilClose };

struct Failure {
  int status = 400;  // what to answer: 400, 413, 414, 431, 501 (502 for a backend's bad response)
  std::string why;   // for the log
};

class Parser {
 public:
  enum class Kind { Request, Response };
  Parser(Kind kind, Limits limits);
  ~Parser();
  Parser(Parser&&) noexcept;
  Parser& operator=(Parser&&) noexcept;

  // Responses: the method of the request answered (HEAD: no body).
  void answering(std::string_view method) { requestMethod_ = method; }
  // Keep the decoded body of Body steps (health checks); the proxy forwards raw bytes.
  void keepBody(bool on) { keepBody_ = on; }

  struct Step {
    enum What { NeedMore, Head, Body, Done, Fail } what = NeedMore;
    size_t used = 0;       // bytes of the input this step took
    std::string_view raw;  // Body/Done: those bytes, for forwarding as they came
    std::string payload;   // Body/Done with keepBody: the decoded body bytes
  };
  // Feeds input; returns after taking what makes one step: the head
  // complete, some body, the message's end, or all input taken (NeedMore).
  Step feed(std::string_view data);
  // The peer closed: ends an until-close body (Done); anything else cut
  // short is a Fail.
  Step finish();

  const Message& message() const { return msg_; }
  Message& message() { return msg_; }
  Framing framing() const { return framing_; }
  uint64_t contentLength() const { return length_; }
  bool keepAlive() const { return keepAlive_; }
  bool upgrade() const { return upgrade_; }   // a websocket upgrade (request) / 101 (response)
  bool expectContinue() const { return continue_; }
  const Failure& failure() const { return failure_; }
  // Ready for the next message on the same connection.
  void reset();
  void setLimits(const Limits& l) { limits_ = l; }

 private:
  Step fail(int status, std::string why);
  Step parseHead(size_t end);
  bool checkRaw(std::string_view head);
  bool checkRequestLine(std::string_view line);
  bool checkMeaning();
  Step body(std::string_view data);

  struct Trailers {
    enum State { LineStart, Name, Value, Cr, EndCr, End } state = LineStart;
    size_t size = 0, fields = 0;
    std::optional<Failure> scan(std::string_view bytes, const Limits& limits);
  };
  struct Llhttp;
  Kind kind_;
  Limits limits_;
  std::string requestMethod_;
  bool keepBody_ = false;
  enum class Phase { Head, Body, Done, Failed } phase_ = Phase::Head;
  std::string head_;  // the head's bytes so far
  Message msg_;
  Framing framing_ = Framing::None;
  uint64_t length_ = 0, seen_ = 0;
  bool keepAlive_ = true, upgrade_ = false, continue_ = false;
  Failure failure_;
  std::unique_ptr<Llhttp> ll_;
};

// "HTTP/1.1 400 Bad Request" and its reason phrases.
const char* reasonPhrase(int status);
// A small complete response (an error page, a redirect), Connection: close
// unless keepAlive.
std::string simpleResponse(int status, std::string_view body, bool keepAlive = false,
                           const std::vector<Header>& extra = {});

}  // namespace xlb::http
