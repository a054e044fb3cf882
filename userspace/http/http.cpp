// SPDX-License-Identifier: Apache-2.0
#include "http.h"

#include <llhttp.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>

namespace xlb::http {

namespace {

// ASCII only, never the locale: these run for every byte of every head.
constexpr bool digit(unsigned char c) { return c >= '0' && c <= '9'; }
constexpr bool alnum(unsigned char c) { return digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'); }
constexpr bool xdigit(unsigned char c) { return digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f'); }
constexpr unsigned char lower(unsigned char c) { return c >= 'A' && c <= 'Z' ? c | 0x20 : c; }

constexpr std::array<bool, 256> kTchar = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c) t[c] = alnum(c);
  for (unsigned char c : std::string_view("!#$%&'*+-.^_`|~")) t[c] = true;
  return t;
}();

bool tchar(unsigned char c) { return kTchar[c]; }

bool token(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return tchar(c); }); }

// host = reg-name / IPv4address / "[" IPv6 "]", then an optional ":port".
bool validHost(std::string_view h) {
  if (h.empty()) return false;
  std::string_view port;
  if (h.front() == '[') {
    size_t close = h.find(']');
    if (close == std::string_view::npos) return false;
    auto inside = h.substr(1, close - 1);
    if (inside.empty() || !std::all_of(inside.begin(), inside.end(), [](unsigned char c) {
          return xdigit(c) || c == ':' || c == '.';
        }))
      return false;
    auto rest = h.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      port = rest.substr(1);
    }
  } else {
    size_t colon = h.find(':');
    auto name = h.substr(0, colon);
    if (colon != std::string_view::npos) port = h.substr(colon + 1);
    if (name.empty() || !std::all_of(name.begin(), name.end(), [](unsigned char c) {
          return alnum(c) || (c != 0 && std::strchr("-._~!$&'()*+,;=%", c) != nullptr);
        }))
      return false;
  }
  if (h.find(':') != std::string_view::npos && port.empty() && h.front() != '[') return false;
  return std::all_of(port.begin(), port.end(), [](unsigned char c) { return digit(c); }) && port.size() <= 5;
}

}  // namespace

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> listOf(std::string_view v, char sep) {
  std::vector<std::string_view> out;
  eachOf(v, sep, [&](std::string_view part) {
    out.push_back(part);
    return false;
  });
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return lower(static_cast<unsigned char>(x)) == lower(static_cast<unsigned char>(y));
         });
}

namespace {

constexpr std::string_view kSpelling[] = {
    "",        "",           "",        "",        "Host",    "Content-Length",   "Transfer-Encoding",
    "Connection", "Keep-Alive", "TE",   "Trailer", "Upgrade", "HTTP2-Settings",   "Expect",
    "Cookie",  "Set-Cookie", "Cache-Control", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Port",
    "X-Forwarded-Host", "Forwarded", "X-Real-IP"};
static_assert(std::size(kSpelling) == static_cast<size_t>(Name::XRealIP) + 1);

}  // namespace

std::string_view spelling(Name n) { return kSpelling[static_cast<size_t>(n)]; }

Name classify(std::string_view n) {
  // By length first: at most three names share one.
  auto is = [&](Name k) { return iequals(n, kSpelling[static_cast<size_t>(k)]); };
  auto first = [&](std::initializer_list<Name> ks) {
    for (Name k : ks)
      if (is(k)) return k;
    return Name::Other;
  };
  Name k = Name::Other;
  switch (n.size()) {
    case 2: k = first({Name::TE}); break;
    case 4: k = first({Name::Host}); break;
    case 6: k = first({Name::Cookie, Name::Expect}); break;
    case 7: k = first({Name::Upgrade, Name::Trailer}); break;
    case 9: k = first({Name::Forwarded, Name::XRealIP}); break;
    case 10: k = first({Name::Connection, Name::KeepAlive, Name::SetCookie}); break;
    case 13: k = first({Name::CacheControl}); break;
    case 14: k = first({Name::ContentLength, Name::HTTP2Settings}); break;
    case 15: k = first({Name::XForwardedFor}); break;
    case 16: k = first({Name::XForwardedHost, Name::XForwardedPort}); break;
    case 17: k = first({Name::TransferEncoding, Name::XForwardedProto}); break;
    default: break;
  }
  if (k != Name::Other) return k;
  if (n.size() >= 6 && iequals(n.substr(0, 6), "Proxy-")) return Name::OtherProxy;
  if (n.find('_') != std::string_view::npos) return Name::OtherUnderscore;
  return Name::Other;
}

bool Header::is(Name want, std::string_view spelled) const {
  // Two numbered names of different kinds differ; two of one known kind
  // are the same name. Anything else is compared by its letters.
  if (id != Name::Unknown && id != want) return false;
  return (want >= Name::Host && id == want) || iequals(name, spelled);
}

const Header* Message::find(Name id, std::string_view name) const {
  for (const auto& h : headers)
    if (h.is(id, name)) return &h;
  return nullptr;
}

size_t Message::count(Name id, std::string_view name) const {
  return static_cast<size_t>(std::count_if(headers.begin(), headers.end(), [&](const Header& h) { return h.is(id, name); }));
}

void Message::remove(Name id, std::string_view name) {
  headers.erase(std::remove_if(headers.begin(), headers.end(), [&](const Header& h) { return h.is(id, name); }),
                headers.end());
}

void Message::set(Name id, std::string_view name, std::string value) {
  remove(id, name);
  add(id, name, std::move(value));
}

void Message::add(Name id, std::string_view name, std::string value) {
  Header& h = addEmpty();
  h.name.assign(name);
  h.value = std::move(value);
  h.id = id;
}

void Message::classifyAll() {
  for (auto& h : headers)
    if (h.id == Name::Unknown) h.id = classify(h.name);
}

Header& Message::addEmpty() {
  if (spare.empty()) return headers.emplace_back();
  headers.push_back(std::move(spare.back()));
  spare.pop_back();
  Header& h = headers.back();
  h.name.clear();
  h.value.clear();
  h.id = Name::Unknown;
  return h;
}

void Message::clear() {
  method.clear();
  target.clear();
  reason.clear();
  status = 0;
  minor = 1;
  // Only ordinary storage is kept: a client that sends one huge header per
  // request must not leave every spare string that large.
  for (auto& h : headers)
    if (spare.size() < kSpareHeaders && h.name.capacity() <= kSpareBytes && h.value.capacity() <= kSpareBytes)
      spare.push_back(std::move(h));
  headers.clear();
}

bool Message::hasToken(Name known, std::string_view tok) const {
  for (const auto& h : headers)
    if (h.is(known))
      if (eachOf(h.value, ',', [&](std::string_view t) { return iequals(t, tok); })) return true;
  return false;
}

std::string Message::serialize() const {
  std::string out;
  serializeTo(out);
  return out;
}

void Message::serializeTo(std::string& out) const {
  out.clear();
  size_t n = 64;
  for (const auto& h : headers) n += h.name.size() + h.value.size() + 4;
  out.reserve(n);
  if (status == 0) {
    out.append(method).append(" ").append(target).append(minor == 0 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n");
  } else {
    out.append(minor == 0 ? "HTTP/1.0 " : "HTTP/1.1 ").append(std::to_string(status)).append(" ").append(reason).append("\r\n");
  }
  for (const auto& h : headers) out.append(h.name).append(": ").append(h.value).append("\r\n");
  out.append("\r\n");
}

// ---- trailers ------------------------------------------------------------------

// The trailer section of a chunked body, checked byte by byte as it
// arrives, by the head's rules: CRLF line endings, no folded lines, token
// names right before the colon, no control characters in values, and the
// head's limits on field count and bytes. (llhttp, even strict, accepts
// folded trailer lines.)
std::optional<Failure> Parser::Trailers::scan(std::string_view bytes, const Limits& lim) {
  for (unsigned char c : bytes) {
    if (++size > lim.headerBytes) return Failure{431, "trailers longer than " + std::to_string(lim.headerBytes) + " bytes"};
    switch (state) {
      case LineStart:
        if (c == '\r') {
          state = EndCr;
        } else if (tchar(c)) {
          if (++fields > lim.headerCount) return Failure{431, "more than " + std::to_string(lim.headerCount) + " trailer fields"};
          state = Name;
        } else {
          return Failure{400, c == ' ' || c == '\t' ? "folded trailer line (obs-fold)" : "trailer name is not a token"};
        }
        break;
      case Name:
        if (c == ':') state = Value;
        else if (!tchar(c)) return Failure{400, "trailer name is not a token"};
        break;
      case Value:
        if (c == '\r') state = Cr;
        else if ((c < 0x20 && c != '\t') || c == 0x7f) return Failure{400, "control character in a trailer"};
        break;
      case Cr:
      case EndCr:
        if (c != '\n') return Failure{400, "bare CR in the trailers"};
        state = state == Cr ? LineStart : End;
        break;
      case End:
        return Failure{400, "bytes after the trailers"};
    }
  }
  return std::nullopt;
}

// ---- llhttp wiring ------------------------------------------------------------

struct Parser::Llhttp {
  llhttp_t p;
  llhttp_settings_t s;
  Parser* owner = nullptr;
  bool inValue = false;  // the last header callback was a value
  bool tooLarge = false, badExtension = false, complete = false;
  size_t extension = 0;
  // Past the head, header callbacks are a chunked body's trailer fields:
  // never added to the message (they are forwarded raw with the body).
  // llhttp pauses at the last chunk, where the trailer section starts.
  bool inBody = false, lastChunk = false;
  Trailers trailers;
  std::string* payload = nullptr;  // where on_body appends, if anywhere
  uint64_t bodyBytes = 0;

  explicit Llhttp(Parser* o, llhttp_type_t type) : owner(o) {
    llhttp_settings_init(&s);
    s.on_method = [](llhttp_t* p, const char* at, size_t n) { return self(p)->owner->msg_.method.append(at, n), 0; };
    s.on_url = [](llhttp_t* p, const char* at, size_t n) { return self(p)->owner->msg_.target.append(at, n), 0; };
    s.on_status = [](llhttp_t* p, const char* at, size_t n) { return self(p)->owner->msg_.reason.append(at, n), 0; };
    s.on_header_field = [](llhttp_t* p, const char* at, size_t n) {
      auto* l = self(p);
      if (l->inBody) return 0;  // a trailer field: checked by Trailers, forwarded raw
      auto& hs = l->owner->msg_.headers;
      if (hs.empty() || l->inValue) l->owner->msg_.addEmpty();
      l->inValue = false;
      hs.back().name.append(at, n);
      return 0;
    };
    s.on_header_value = [](llhttp_t* p, const char* at, size_t n) {
      auto* l = self(p);
      if (l->inBody) return 0;
      l->inValue = true;
      l->owner->msg_.headers.back().value.append(at, n);
      return 0;
    };
    s.on_headers_complete = [](llhttp_t*) { return static_cast<int>(HPE_PAUSED); };
    s.on_chunk_extension_name = [](llhttp_t* p, const char*, size_t n) { return self(p)->ext(n); };
    s.on_chunk_extension_value = [](llhttp_t* p, const char*, size_t n) { return self(p)->ext(n); };
    s.on_chunk_header = [](llhttp_t* p) {
      auto* l = self(p);
      l->extension = 0;
      if (p->content_length != 0) return 0;
      l->lastChunk = true;
      return static_cast<int>(HPE_PAUSED);
    };
    s.on_body = [](llhttp_t* p, const char* at, size_t n) {
      auto* l = self(p);
      l->bodyBytes += n;
      uint64_t max = l->owner->limits_.body;
      if (max && l->bodyBytes > max) return l->tooLarge = true, -1;
      if (l->payload) l->payload->append(at, n);
      return 0;
    };
    s.on_message_complete = [](llhttp_t* p) {
      self(p)->complete = true;
      return static_cast<int>(HPE_PAUSED);
    };
    llhttp_init(&p, type, &s);
    p.data = this;
  }
  static Llhttp* self(llhttp_t* p) { return static_cast<Llhttp*>(p->data); }
  void reset(llhttp_type_t type) {
    llhttp_init(&p, type, &s);
    p.data = this;
    inValue = tooLarge = badExtension = complete = inBody = lastChunk = false;
    extension = 0;
    trailers = {};
    bodyBytes = 0;
  }
  int ext(size_t n) {
    extension += n;
    if (extension > owner->limits_.chunkExtension) return badExtension = true, -1;
    return 0;
  }
};

Parser::Parser(Kind kind, Limits limits) : kind_(kind), limits_(limits) {}
Parser::~Parser() = default;
Parser::Parser(Parser&&) noexcept = default;
Parser& Parser::operator=(Parser&&) noexcept = default;

void Parser::reset() {
  phase_ = Phase::Head;
  head_.clear();
  msg_.clear();  // not replaced: the next message reuses the buffers
  framing_ = Framing::None;
  length_ = seen_ = 0;
  keepAlive_ = true;
  upgrade_ = continue_ = false;
  failure_ = {};
  // ll_ stays allocated: parseHead initialises it again for the next message.
}

Parser::Step Parser::fail(int status, std::string why) {
  phase_ = Phase::Failed;
  failure_ = Failure{kind_ == Kind::Response ? 502 : status, std::move(why)};
  Step s;
  s.what = Step::Fail;
  return s;
}

Parser::Step Parser::feed(std::string_view data) {
  if (phase_ == Phase::Failed) return Step{Step::Fail};
  if (phase_ == Phase::Done) return Step{Step::Done};
  if (phase_ == Phase::Body) return body(data);

  // The head: read whole (bounded), then checked and parsed.
  Step s;
  size_t taken = 0;
  // Empty lines before a request line are skipped (RFC 9112 2.2).
  while (head_.empty() && kind_ == Kind::Request && taken + 1 < data.size() && data[taken] == '\r' &&
         data[taken + 1] == '\n')
    taken += 2;
  size_t before = head_.size();
  size_t max = limits_.requestLine + limits_.headerBytes;
  size_t room = max + 4 - std::min(max + 4, before);
  auto chunk = data.substr(taken, room);
  head_.append(chunk);
  size_t from = before >= 3 ? before - 3 : 0;
  size_t end = head_.find("\r\n\r\n", from);
  if (end == std::string::npos) {
    // A bare CR or LF fails as soon as it arrives: a head with bare LF line
    // endings would otherwise wait for a CRLFCRLF that never comes. (A
    // complete head is checked line by line by checkRaw.)
    for (size_t i = before ? before - 1 : 0; i < head_.size(); ++i) {
      bool cr = head_[i] == '\r', lf = head_[i] == '\n';
      if ((cr && i + 1 < head_.size() && head_[i + 1] != '\n') || (lf && (i == 0 || head_[i - 1] != '\r'))) {
        auto f = fail(400, "bare CR or LF in the head");
        f.used = taken + chunk.size();
        return f;
      }
    }
    s.used = taken + chunk.size();
    size_t firstLine = head_.find("\r\n");
    if (kind_ == Kind::Request && (firstLine == std::string::npos ? head_.size() : firstLine) > limits_.requestLine) {
      auto f = fail(414, "request line longer than " + std::to_string(limits_.requestLine) + " bytes");
      f.used = s.used;
      return f;
    }
    if (head_.size() > max) {
      auto f = fail(431, "head longer than " + std::to_string(max) + " bytes");
      f.used = s.used;
      return f;
    }
    return s;  // NeedMore
  }
  end += 4;
  head_.resize(end);  // what follows the head is the body's: not taken here
  Step h = parseHead(end);
  h.used = taken + (end - before);
  return h;
}

Parser::Step Parser::parseHead(size_t end) {
  std::string_view head(head_.data(), end);
  if (!checkRaw(head)) return Step{Step::Fail};
  if (!ll_) ll_ = std::make_unique<Llhttp>(this, kind_ == Kind::Request ? HTTP_REQUEST : HTTP_RESPONSE);
  ll_->reset(kind_ == Kind::Request ? HTTP_REQUEST : HTTP_RESPONSE);
  auto e = llhttp_execute(&ll_->p, head.data(), head.size());
  if (e != HPE_PAUSED) {
    if (e == HPE_INVALID_METHOD) return fail(501, "method not implemented");
    return fail(400, std::string("malformed head: ") + llhttp_errno_name(e) + " (" + llhttp_get_error_reason(&ll_->p) + ")");
  }
  msg_.minor = ll_->p.http_minor;
  if (kind_ == Kind::Response) msg_.status = ll_->p.status_code;
  msg_.classifyAll();
  if (!checkMeaning()) return Step{Step::Fail};
  // llhttp delimits chunked bodies: it must read the head's framing as we do.
  bool llChunked = (ll_->p.flags & F_CHUNKED) != 0;
  if (llChunked != (framing_ == Framing::Chunked) && !(framing_ == Framing::None && kind_ == Kind::Response))
    return fail(400, "Transfer-Encoding read two ways");
  // What is forwarded says the framing one way only: one Transfer-Encoding:
  // chunked, whatever its spelling. (Content-Length is one plain number
  // already: llhttp refuses lists and repeats, even agreeing ones.)
  if (framing_ == Framing::Chunked &&
      (msg_.count(Name::TransferEncoding) != 1 || msg_.find(Name::TransferEncoding)->value != "chunked"))
    msg_.set(Name::TransferEncoding, "chunked");
  Step s;
  s.what = Step::Head;
  phase_ = framing_ == Framing::None ? Phase::Done : Phase::Body;
  if (framing_ == Framing::Chunked) {
    ll_->inBody = true;
    ll_->inValue = false;
    llhttp_resume(&ll_->p);
  }
  return s;
}

// Byte-level checks of a whole head: CRLF line endings only, no control
// characters, no folded lines, header names that are tokens, sizes.
bool Parser::checkRaw(std::string_view head) {
  size_t lineNo = 0, count = 0, at = 0;
  while (at < head.size()) {
    size_t eol = head.find("\r\n", at);
    auto line = head.substr(at, eol - at);
    at = eol + 2;
    // A bare CR or LF in a line is reported as such, whatever else is wrong.
    auto bare = [&] { return line.find('\n') != std::string_view::npos || line.find('\r') != std::string_view::npos; };
    auto refuse = [&](std::string why) { return fail(400, bare() ? "bare CR or LF in the head" : why), false; };
    if (lineNo++ == 0) {
      if (bare()) return refuse("");
      if (kind_ == Kind::Request) {
        if (line.size() > limits_.requestLine) return fail(414, "request line too long"), false;
        if (!checkRequestLine(line)) return false;
      } else if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || !digit(static_cast<unsigned char>(line[9]))) {
        return fail(502, "bad status line"), false;
      }
      continue;
    }
    if (line.empty()) break;  // the end of the head
    // Header lines: a CR or LF is a control character to the checks below;
    // refuse() names it.
    if (line.front() == ' ' || line.front() == '\t') return refuse("folded header line (obs-fold)");
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return refuse("header line without a colon");
    if (!token(line.substr(0, colon))) return refuse("header name is not a token: '" + std::string(line.substr(0, colon)) + "'");
    for (unsigned char c : line.substr(colon + 1))
      if ((c < 0x20 && c != '\t') || c == 0x7f) return refuse("control character in a header value");
    if (++count > limits_.headerCount) return fail(431, "more than " + std::to_string(limits_.headerCount) + " headers"), false;
  }
  size_t firstLine = head.find("\r\n") + 2;
  if (head.size() - firstLine > limits_.headerBytes)
    return fail(431, "headers longer than " + std::to_string(limits_.headerBytes) + " bytes"), false;
  return true;
}

// METHOD SP request-target SP HTTP/1.x, single spaces, nothing else.
bool Parser::checkRequestLine(std::string_view line) {
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos)
    return fail(400, "request line is not METHOD TARGET VERSION with single spaces"), false;
  auto method = line.substr(0, sp1), target = line.substr(sp1 + 1, sp2 - sp1 - 1), version = line.substr(sp2 + 1);
  if (!token(method)) return fail(400, "method is not a token"), false;
  if (version != "HTTP/1.1" && version != "HTTP/1.0") return fail(400, "version " + std::string(version) + " is not HTTP/1.0 or 1.1"), false;
  if (method == "CONNECT") return fail(400, "CONNECT is not proxied"), false;
  if (target.empty()) return fail(400, "empty target"), false;
  for (unsigned char c : target)
    if (c <= 0x20 || c >= 0x7f || c == '#') return fail(400, "target has a character it may not have"), false;
  bool origin = target.front() == '/';
  bool asterisk = target == "*" && method == "OPTIONS";
  bool absolute = target.size() > 7 && (iequals(target.substr(0, 7), "http://") ||
                                         (target.size() > 8 && iequals(target.substr(0, 8), "https://")));
  if (!origin && !asterisk && !absolute) return fail(400, "target is not origin-form, absolute-form or *"), false;
  return true;
}

// What the head means: Host, Content-Length, Transfer-Encoding, Expect,
// Upgrade; and from them how the body is delimited.
bool Parser::checkMeaning() {
  const Message& m = msg_;
  bool request = kind_ == Kind::Request;
  if (request) {
    size_t hosts = m.count(Name::Host);
    if (m.minor == 1 && hosts != 1) return fail(400, hosts ? "more than one Host" : "no Host"), false;
    if (hosts > 1) return fail(400, "more than one Host"), false;
    if (hosts && !validHost(trim(m.find(Name::Host)->value))) return fail(400, "invalid Host"), false;
  }
  // Content-Length: digits only; several must agree.
  std::optional<uint64_t> cl;
  for (const auto& h : m.headers) {
    if (!h.is(Name::ContentLength)) continue;
    const char* bad = nullptr;
    eachOf(h.value, ',', [&](std::string_view v) {
      uint64_t n = 0;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (v.size() > 18 || ec != std::errc() || p != v.data() + v.size() || !digit(static_cast<unsigned char>(v[0])))
        bad = "invalid Content-Length";
      else if (cl && *cl != n)
        bad = "Content-Length values differ";
      cl = n;
      return bad != nullptr;
    });
    if (bad) return fail(400, bad), false;
    if (trim(h.value).empty()) return fail(400, "empty Content-Length"), false;
  }

  bool hasTe = m.count(Name::TransferEncoding) > 0;
  if (hasTe) {
    if (cl) return fail(400, "both Content-Length and Transfer-Encoding"), false;
    if (request && m.minor == 0) return fail(400, "Transfer-Encoding in an HTTP/1.0 request"), false;
    std::vector<std::string_view> codings;
    for (const auto& h : m.headers)
      if (h.is(Name::TransferEncoding)) {
        // "chunked," or ", chunked": parsers disagree on whether that is chunked.
        std::string_view all = h.value;
        size_t commas = static_cast<size_t>(std::count(all.begin(), all.end(), ','));
        auto parts = listOf(all);
        if (parts.size() != commas + 1) return fail(400, "empty element in Transfer-Encoding"), false;
        for (auto v : parts) codings.push_back(v);
      }
    if (codings.empty()) return fail(400, "empty Transfer-Encoding"), false;
    for (size_t i = 0; i < codings.size(); ++i) {
      bool chunked = iequals(codings[i], "chunked");
      if (chunked && i + 1 != codings.size()) return fail(400, "chunked is not the final transfer coding"), false;
      if (!chunked) return fail(501, "transfer coding '" + std::string(codings[i]) + "' is not implemented"), false;
    }
  }
  if (request) {
    if (const Header* ex = m.find(Name::Expect)) {
      if (!iequals(trim(ex->value), "100-continue") || m.count(Name::Expect) > 1) return fail(417, "unknown Expect"), false;
      continue_ = true;
    }
    upgrade_ = m.hasToken(Name::Connection, "upgrade") && m.find(Name::Upgrade) && iequals(trim(m.find(Name::Upgrade)->value), "websocket");
    keepAlive_ = m.minor == 1 ? !m.hasToken(Name::Connection, "close") : m.hasToken(Name::Connection, "keep-alive");
    if (cl && limits_.body && *cl > limits_.body) return fail(413, "body larger than " + std::to_string(limits_.body) + " bytes"), false;
    framing_ = hasTe ? Framing::Chunked : cl && *cl ? Framing::Length : Framing::None;
    length_ = cl.value_or(0);
    return true;
  }
  // Responses.
  int st = m.status;
  upgrade_ = st == 101;
  keepAlive_ = m.minor == 1 ? !m.hasToken(Name::Connection, "close") : m.hasToken(Name::Connection, "keep-alive");
  if (requestMethod_ == "HEAD" || (st >= 100 && st < 200) || st == 204 || st == 304) {
    framing_ = Framing::None;
  } else if (hasTe) {
    framing_ = Framing::Chunked;
  } else if (cl) {
    framing_ = *cl ? Framing::Length : Framing::None;
    length_ = *cl;
  } else {
    framing_ = Framing::UntilClose;
    keepAlive_ = false;
  }
  return true;
}

Parser::Step Parser::body(std::string_view data) {
  Step s;
  s.what = Step::Body;
  switch (framing_) {
    case Framing::Length: {
      uint64_t take = std::min<uint64_t>(length_ - seen_, data.size());
      seen_ += take;
      s.used = take;
      s.raw = data.substr(0, take);
      if (keepBody_) s.payload.assign(s.raw);
      if (seen_ == length_) {
        s.what = Step::Done;
        phase_ = Phase::Done;
      }
      return s;
    }
    case Framing::UntilClose:
      s.used = data.size();
      s.raw = data;
      if (keepBody_) s.payload.assign(data);
      seen_ += data.size();
      return s;
    case Framing::Chunked: {
      ll_->payload = keepBody_ ? &s.payload : nullptr;
      const char* at = data.data();
      const char* stop = data.data() + data.size();
      // Where this input's trailer bytes start, once the last chunk is seen.
      const char* trailers = ll_->lastChunk ? at : nullptr;
      auto e = llhttp_execute(&ll_->p, at, data.size());
      if (e == HPE_PAUSED && ll_->lastChunk && !ll_->complete && !trailers) {
        trailers = llhttp_get_error_pos(&ll_->p);
        llhttp_resume(&ll_->p);
        e = llhttp_execute(&ll_->p, trailers, static_cast<size_t>(stop - trailers));
      }
      ll_->payload = nullptr;
      if (e == HPE_OK) {
        s.used = data.size();
      } else if (e == HPE_PAUSED && ll_->complete) {
        stop = llhttp_get_error_pos(&ll_->p);
        s.used = static_cast<size_t>(stop - data.data());
        s.what = Step::Done;
        phase_ = Phase::Done;
      } else {
        if (ll_->tooLarge) return fail(413, "body larger than " + std::to_string(limits_.body) + " bytes");
        if (ll_->badExtension) return fail(400, "chunk extension too long");
        if (trailers && e != HPE_PAUSED) stop = llhttp_get_error_pos(&ll_->p);
        if (auto f = trailers ? ll_->trailers.scan({trailers, static_cast<size_t>(stop - trailers)}, limits_) : std::nullopt)
          return fail(f->status, f->why);
        return fail(400, std::string("bad chunked body: ") + llhttp_errno_name(e));
      }
      if (trailers)
        if (auto f = ll_->trailers.scan({trailers, static_cast<size_t>(stop - trailers)}, limits_)) return fail(f->status, f->why);
      s.raw = data.substr(0, s.used);
      return s;
    }
    case Framing::None:
      break;
  }
  phase_ = Phase::Done;
  s.what = Step::Done;
  return s;
}

Parser::Step Parser::finish() {
  if (phase_ == Phase::Body && framing_ == Framing::UntilClose) {
    phase_ = Phase::Done;
    return Step{Step::Done};
  }
  if (phase_ == Phase::Done) return Step{Step::Done};
  if (phase_ == Phase::Head && head_.empty()) return fail(400, "closed before a message");
  return fail(400, "closed in the middle of a message");
}

const char* reasonPhrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 417: return "Expectation Failed";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
  }
}

std::string simpleResponse(int status, std::string_view body, bool keepAlive, const std::vector<Header>& extra) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + reasonPhrase(status) + "\r\n";
  for (const auto& h : extra) out += h.name + ": " + h.value + "\r\n";
  out += "Content-Type: text/plain; charset=utf-8\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  out += keepAlive ? "" : "Connection: close\r\n";
  out += "\r\n";
  out.append(body);
  return out;
}

}  // namespace xlb::http
