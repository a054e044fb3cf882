// SPDX-License-Identifier: Apache-2.0
#include "stream.h"

#include <openssl/err.h>

#include <asio/experimental/as_tuple.hpp>
#include <asio/post.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <cstring>
#include <utility>

namespace xlb::tls {

namespace {

constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
constexpr size_t kInput = 17 * 1024;  // a whole record (16 kB and its overhead)

std::error_code protocolError() { return std::make_error_code(std::errc::protocol_error); }

// SSL_get_error() reads the thread's error queue, which other connections
// of the worker may have left entries in; OpenSSL wants it empty before a
// call, and clearing it before every call costs a thread-local lookup each.
// Instead a failure that says "library error" is checked once more with
// the queue cleared: a stale entry then shows as the WANT_READ it was.
// Where a Stream finds itself from its SSL (its own index: app data is
// asio::ssl's on other connections).
int streamIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

struct StaleErrors {
  bool retried = false;
  bool retry() {
    if (retried) return false;
    retried = true;
    ERR_clear_error();
    return true;
  }
};

}  // namespace

asio::awaitable<bool> HandshakeTurns::take() {
  if (!taken_) {
    taken_ = true;
    ++given_;
    asio::post(io_, [this] { pass(); });
    co_return true;
  }
  Waiter w{asio::steady_timer(io_, asio::steady_timer::time_point::max())};
  waiting_.push_back(&w);
  co_await w.timer.async_wait(kTuple);  // cancelled by pass(), or by the caller's cancellation
  if (!w.granted) {
    std::erase(waiting_, &w);
    co_return false;
  }
  // Granted, but the handshake may have timed out in the same pass: its
  // turn is then left unused rather than spent on a connection that is gone.
  auto cs = co_await asio::this_coro::cancellation_state;
  co_return cs.cancelled() == asio::cancellation_type::none;
}

void HandshakeTurns::pass() {
  taken_ = false;
  if (waiting_.empty()) return;
  taken_ = true;
  ++given_;
  waiting_.front()->granted = true;
  waiting_.front()->timer.cancel();
  waiting_.pop_front();
  asio::post(io_, [this] { pass(); });
}

int Stream::bioRead(BIO* b, char* out, size_t len, size_t* got) {
  auto* s = static_cast<Stream*>(BIO_get_data(b));
  BIO_clear_retry_flags(b);
  *got = 0;
  size_t avail = s->inEnd_ - s->inBegin_;
  if (avail == 0) {
    if (!s->eof_) BIO_set_retry_read(b);
    return 0;
  }
  size_t n = std::min(len, avail);
  std::memcpy(out, s->in_.data() + s->inBegin_, n);
  s->inBegin_ += n;
  if (s->inBegin_ == s->inEnd_) s->inBegin_ = s->inEnd_ = 0;
  *got = n;
  return 1;
}

int Stream::bioWrite(BIO* b, const char* in, size_t len, size_t* put) {
  auto* s = static_cast<Stream*>(BIO_get_data(b));
  BIO_clear_retry_flags(b);
  s->out_.append(in, len);
  *put = len;
  return 1;
}

long Stream::bioCtrl(BIO* b, int cmd, long, void*) {
  auto* s = static_cast<Stream*>(BIO_get_data(b));
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;
    case BIO_CTRL_PENDING:
      return static_cast<long>(s->inEnd_ - s->inBegin_);
    case BIO_CTRL_WPENDING:
      return static_cast<long>(s->out_.size());
    case BIO_CTRL_EOF:
      return s->eof_ && s->inEnd_ == s->inBegin_;
    default:
      return 0;
  }
}

namespace {
BIO_METHOD* method() {
  static BIO_METHOD* m = [] {
    BIO_METHOD* x = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "xlb tls stream");
    return x;
  }();
  return m;
}
}  // namespace

Stream::Stream(tcp::socket s, SSL_CTX* ctx) : sock_(std::move(s)), in_(kInput), flushed_(sock_.get_executor()) {
  static const bool methods = [] {
    BIO_METHOD* m = method();
    BIO_meth_set_read_ex(m, &Stream::bioRead);
    BIO_meth_set_write_ex(m, &Stream::bioWrite);
    BIO_meth_set_ctrl(m, &Stream::bioCtrl);
    return true;
  }();
  (void)methods;
  ssl_ = SSL_new(ctx);
  if (!ssl_) return;  // every operation then fails
  BIO* b = BIO_new(method());
  BIO_set_data(b, this);
  BIO_set_init(b, 1);
  SSL_set_bio(ssl_, b, b);
  SSL_set_accept_state(ssl_);
  SSL_set_ex_data(ssl_, streamIndex(), this);
}

Stream::~Stream() {
  if (ssl_) SSL_free(ssl_);
}

asio::mutable_buffer Stream::room() {
  if (inEnd_ == in_.size()) {  // compact; a record never needs more than the buffer
    std::memmove(in_.data(), in_.data() + inBegin_, inEnd_ - inBegin_);
    inEnd_ -= inBegin_;
    inBegin_ = 0;
    if (inEnd_ == in_.size()) in_.resize(in_.size() * 2);
  }
  return asio::buffer(in_.data() + inEnd_, in_.size() - inEnd_);
}

std::error_code Stream::filled(std::error_code ec, size_t n) {
  if (ec == asio::error::eof) {
    eof_ = true;
    return {};
  }
  if (ec) return ec;
  inEnd_ += n;
  return {};
}

asio::awaitable<std::error_code> Stream::fill() {
  auto [ec, n] = co_await sock_.async_read_some(room(), kTuple);
  co_return filled(ec, n);
}

asio::awaitable<std::error_code> Stream::flush(bool wait) {
  // In a tunnel one coroutine reads (and may have OpenSSL's answer to a key
  // update to send) while another writes. A writer that comes second waits
  // for the first to finish sending, so a client that does not read holds
  // it back instead of letting out_ grow; a reader never waits (it must
  // keep reading while the client's window is full).
  if (wait && encryptFailed_) co_return std::exchange(encryptFailed_, {});
  if (writing_ && !wait) co_return std::error_code();
  while (writing_) {
    uint64_t seen = flushes_;
    flushed_.expires_at(asio::steady_timer::time_point::max());
    co_await flushed_.async_wait(kTuple);
    if (flushes_ == seen) co_return asio::error::operation_aborted;  // cancelled, not woken
  }
  writing_ = true;
  std::error_code ec;
  while (!out_.empty() && !ec) {
    sending_.swap(out_);
    auto [e, n] = co_await asio::async_write(sock_, asio::buffer(sending_), kTuple);
    ec = e;
    sending_.clear();
  }
  writing_ = false;
  ++flushes_;
  flushed_.cancel();
  co_return ec;
}

int Stream::onClientHello(SSL* ssl, int*, void*) {
  auto* s = static_cast<Stream*>(SSL_get_ex_data(ssl, streamIndex()));
  if (!s || s->hello_ == Hello::Free) return SSL_CLIENT_HELLO_SUCCESS;
  if (s->hello_ == Hello::Wait) return SSL_CLIENT_HELLO_RETRY;  // handshake() takes a turn first
  s->hello_ = Hello::Wait;  // a second ClientHello (after a HelloRetryRequest) waits again
  return SSL_CLIENT_HELLO_SUCCESS;
}

asio::awaitable<std::error_code> Stream::handshake(HandshakeTurns* turns) {
  if (!ssl_) co_return protocolError();
  StaleErrors stale;
  // OpenSSL stops at each whole ClientHello (onClientHello): the step after
  // it is the expensive one, and waits for the worker's turn.
  hello_ = turns ? Hello::Wait : Hello::Free;
  for (;;) {
    int r = SSL_do_handshake(ssl_);
    if (!out_.empty()) {  // the next flight, or the alert of a failure
      if (auto ec = co_await flush(false)) co_return ec;
    }
    if (r == 1) co_return std::error_code();
    int e = SSL_get_error(ssl_, r);
    if (e == SSL_ERROR_WANT_CLIENT_HELLO_CB && turns) {
      if (!co_await turns->take()) co_return asio::error::operation_aborted;
      hello_ = Hello::Go;
      continue;
    }
    if (e == SSL_ERROR_WANT_READ) {
      if (eof_) co_return asio::error::eof;
      if (auto ec = co_await fill()) co_return ec;
      stale.retried = false;
      continue;
    }
    if ((e == SSL_ERROR_SSL || e == SSL_ERROR_SYSCALL) && stale.retry()) continue;
    ERR_clear_error();
    co_return eof_ ? asio::error::eof : protocolError();
  }
}

asio::awaitable<std::tuple<std::error_code, size_t>> Stream::readSome(char* p, size_t n) {
  using R = std::tuple<std::error_code, size_t>;
  if (!ssl_) co_return R{protocolError(), 0};
  StaleErrors stale;
  for (;;) {
    size_t got = 0;
    int r = SSL_read_ex(ssl_, p, n, &got);
    if (!out_.empty()) {  // a key update's answer
      if (auto ec = co_await flush(false)) co_return R{ec, 0};
    }
    if (r == 1) co_return R{std::error_code(), got};
    int e = SSL_get_error(ssl_, r);
    if (e == SSL_ERROR_WANT_READ) {
      if (eof_) co_return R{asio::error::eof, 0};
      // fill(), without a coroutine frame of its own: this runs per request.
      auto [rec, rn] = co_await sock_.async_read_some(room(), kTuple);
      if (auto ec = filled(rec, rn)) co_return R{ec, 0};
      stale.retried = false;
      continue;
    }
    if (e == SSL_ERROR_ZERO_RETURN) co_return R{asio::error::eof, 0};
    if ((e == SSL_ERROR_SSL || e == SSL_ERROR_SYSCALL) && stale.retry()) continue;
    ERR_clear_error();
    co_return R{eof_ ? asio::error::eof : protocolError(), 0};
  }
}

std::error_code Stream::encrypt(std::string_view data) {
  if (!ssl_) return protocolError();
  StaleErrors stale;
  while (!data.empty()) {
    size_t put = 0;
    if (SSL_write_ex(ssl_, data.data(), data.size(), &put) != 1) {
      if (stale.retry()) continue;
      ERR_clear_error();
      return protocolError();
    }
    data.remove_prefix(put);
  }
  return {};
}

// Not a coroutine of its own (one frame less per response): encrypts now,
// and the flush it returns reports a failure to encrypt first.
asio::awaitable<std::error_code> Stream::write(std::string_view data) {
  encryptFailed_ = encrypt(data);
  return flush(true);
}

std::error_code Stream::seal(std::string_view data, std::string& wire) {
  if (auto ec = encrypt(data)) return ec;
  if (SSL_shutdown(ssl_) < 0) ERR_clear_error();
  wire.swap(out_);
  out_.clear();
  return {};
}

}  // namespace xlb::tls
