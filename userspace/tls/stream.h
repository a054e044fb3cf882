// SPDX-License-Identifier: Apache-2.0
// The server side of a client's TLS connection, for the proxy: OpenSSL
// reads and writes through a BIO of xlb's own over two buffers, which the
// connection's socket fills and drains with asio.
//
// asio::ssl::stream does the same through a BIO pair, at a cost the proxy
// measured: one more copy each way, the error queue cleared twice per
// operation, and a composed operation per read and write; and it cannot
// send a connection's last records, its close_notify and its FIN in one
// segment. Both are what this class is for. One coroutine may read while
// another writes (a websocket tunnel); every method runs on the
// connection's strand (its worker's thread).
#pragma once

#include <openssl/ssl.h>

#include <asio/awaitable.hpp>
#include <asio/buffer.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <vector>

#include "turns.h"

namespace xlb::tls {

class Stream {
 public:
  using tcp = asio::ip::tcp;
  Stream(tcp::socket s, SSL_CTX* ctx);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  tcp::socket& next_layer() { return sock_; }
  tcp::socket& lowest_layer() { return sock_; }
  SSL* native_handle() { return ssl_; }

  // The server's handshake; an error when it fails or the client leaves.
  // With turns, its expensive step waits for the worker's turn.
  asio::awaitable<std::error_code> handshake(HandshakeTurns* turns = nullptr);
  // The server contexts' client-hello callback (serverContext sets it):
  // holds the handshake at each whole ClientHello until it has its turn.
  static int onClientHello(SSL* ssl, int* alert, void* arg);
  // Up to n bytes of application data; asio::error::eof when the client
  // closed (with or without close_notify).
  asio::awaitable<std::tuple<std::error_code, size_t>> readSome(char* p, size_t n);
  // All of data, sent.
  asio::awaitable<std::error_code> write(std::string_view data);
  // data, then close_notify, encrypted into one buffer: what the
  // connection still has to send. Nothing is written after it.
  std::error_code seal(std::string_view data, std::string& wire);

 private:
  static int bioRead(BIO* b, char* out, size_t len, size_t* got);
  static int bioWrite(BIO* b, const char* in, size_t len, size_t* put);
  static long bioCtrl(BIO* b, int cmd, long num, void* ptr);
  enum class Hello : uint8_t { Free, Wait, Go };  // no turns; stop at the next ClientHello; go on
  // Sends what OpenSSL wrote (out_). While another coroutine sends, a
  // writer waits for it (a slow client holds every writer back); a reader
  // leaves its bytes (a key update's answer) to that coroutine, which sends
  // them too, and goes on reading.
  asio::awaitable<std::error_code> flush(bool wait);
  // More bytes from the socket into in_: fill() is room(), a read into
  // it, then filled().
  asio::awaitable<std::error_code> fill();
  asio::mutable_buffer room();
  std::error_code filled(std::error_code ec, size_t n);
  // data as records in out_ (our BIO takes everything: never partial).
  std::error_code encrypt(std::string_view data);

  tcp::socket sock_;
  SSL* ssl_ = nullptr;
  std::vector<char> in_;
  size_t inBegin_ = 0, inEnd_ = 0;
  bool eof_ = false;
  Hello hello_ = Hello::Free;
  std::string out_, sending_;
  bool writing_ = false;
  std::error_code encryptFailed_;  // write()'s, reported by the flush it returns
  asio::steady_timer flushed_;  // a waiting writer's: cancelled when a flush ends
  uint64_t flushes_ = 0;        // flushes ended
};

}  // namespace xlb::tls
