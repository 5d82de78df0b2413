// TlsStream: the front door's TLS connection, OpenSSL reading and writing
// the socket itself.
//
// Why not asio's ssl::stream (beast::ssl_stream): it runs OpenSSL on a
// memory BIO pair and copies every record through buffers of its own, two
// 17 KiB record buffers in the stream (resident from the first byte) and two
// in the BIO pair, plus OpenSSL's; an idle TLS connection cost 79 KB
// (docs/security.md, "Idle connections"). Here OpenSSL has a socket BIO on
// the non-blocking descriptor and SSL_MODE_RELEASE_BUFFERS, as nginx runs
// it: an idle connection holds OpenSSL's connection state and nothing else,
// and a record is read or written with no copy of ours.
//
// Each operation calls OpenSSL; SSL_ERROR_WANT_READ / WANT_WRITE become a
// wait for the socket to become readable / writable, then the same call
// again (OpenSSL's rule for non-blocking I/O). One read and one write may be
// in flight at once (single-threaded, as OpenSSL allows on one SSL). An
// operation never completes inside its initiating call (asio's rule): one
// that succeeds at once is posted.
//
// Errors as asio's stream gives them, so callers read the same codes: the
// peer's close_notify is asio::error::eof, a close without one
// asio::ssl::error::stream_truncated, an OpenSSL failure an error in
// asio::error::get_ssl_category() (the error queue's first entry), a
// socket failure its errno. Cancel with socket().cancel() or close().
//
// Single-threaded: use on the socket's executor.
#pragma once

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <limits>
#include <memory>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream_base.hpp>

namespace sluice::server {

class TlsStream {
 public:
  using socket_type = boost::asio::ip::tcp::socket;
  using executor_type = socket_type::executor_type;
  using error_code = boost::system::error_code;

  // Gathered writes up to this are copied into one record; a larger first
  // buffer goes out as it is (OpenSSL cuts it into 16 KiB records).
  static constexpr std::size_t kCoalesceBytes = 16 * 1024;

  // Throws std::runtime_error when OpenSSL cannot make the connection's state.
  TlsStream(socket_type socket, boost::asio::ssl::context& context) : socket_(std::move(socket)) {
    ssl_.reset(SSL_new(context.native_handle()));
    if (!ssl_ || SSL_set_fd(ssl_.get(), socket_.native_handle()) != 1) {
      ERR_clear_error();
      throw std::runtime_error("cannot set up a TLS connection (SSL_new / SSL_set_fd failed)");
    }
    SSL_set_mode(ssl_.get(), SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                                 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    error_code ec;
    socket_.non_blocking(true, ec);  // OpenSSL's reads and writes must not block the loop
    if (ec) throw std::runtime_error("cannot make the TLS socket non-blocking: " + ec.message());
  }

  executor_type get_executor() noexcept { return socket_.get_executor(); }
  socket_type& socket() noexcept { return socket_; }
  SSL* native_handle() noexcept { return ssl_.get(); }

  template <class Token>
  auto async_handshake(boost::asio::ssl::stream_base::handshake_type type, Token&& token) {
    if (type == boost::asio::ssl::stream_base::server) SSL_set_accept_state(ssl_.get());
    else SSL_set_connect_state(ssl_.get());
    return run<false>(token, [](SSL* ssl) { return SSL_do_handshake(ssl); });
  }

  // Reads into the first non-empty buffer.
  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    const auto into = first_buffer<boost::asio::mutable_buffer>(buffers);
    return run<true>(token, [into](SSL* ssl) {
      return into.size() == 0 ? kNothingToDo : SSL_read(ssl, into.data(), clamp(into.size()));
    });
  }

  // Writes the first buffer, or the first kCoalesceBytes of several small
  // ones copied together (one record, not one per buffer: a chunk's size
  // line, its data and its CRLF are three buffers).
  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    auto from = first_buffer<boost::asio::const_buffer>(buffers);
    std::unique_ptr<char[]> copy;  // held by the operation until it completes
    if (from.size() < kCoalesceBytes) {
      const std::size_t total = std::min(boost::asio::buffer_size(buffers), kCoalesceBytes);
      if (total > from.size()) {
        copy.reset(new char[total]);
        boost::asio::buffer_copy(boost::asio::buffer(copy.get(), total), buffers);
        from = boost::asio::const_buffer(copy.get(), total);
      }
    }
    return run<true>(token, [from, copy = std::move(copy)](SSL* ssl) {
      return from.size() == 0 ? kNothingToDo : SSL_write(ssl, from.data(), clamp(from.size()));
    });
  }

  // Sends our close_notify; waits for the peer's unless SSL_RECEIVED_SHUTDOWN
  // is set already (SSL_set_shutdown).
  template <class Token>
  auto async_shutdown(Token&& token) {
    return run<false>(token, [](SSL* ssl) {
      int r = SSL_shutdown(ssl);
      if (r == 0) r = SSL_shutdown(ssl);  // ours is out: now theirs
      return r;
    });
  }

 private:
  struct SslFree {
    void operator()(SSL* ssl) const noexcept { SSL_free(ssl); }
  };

  // What a call returns for an empty buffer, without calling OpenSSL.
  static constexpr int kNothingToDo = std::numeric_limits<int>::min();

  static int clamp(std::size_t n) noexcept { return static_cast<int>(std::min<std::size_t>(n, 1u << 30)); }

  template <class Buffer, class Buffers>
  static Buffer first_buffer(const Buffers& buffers) {
    const auto end = boost::asio::buffer_sequence_end(buffers);
    for (auto it = boost::asio::buffer_sequence_begin(buffers); it != end; ++it)
      if (const Buffer b(*it); b.size() != 0) return b;
    return Buffer();
  }

  // What an OpenSSL call's result asks for.
  enum class Want { nothing, read, write };

  // `call(ssl)` until it succeeds or fails. A zero-length read or write
  // succeeds with 0 at once. kSized: completes with the bytes transferred
  // (reads and writes), else with the error only (handshake, shutdown).
  template <bool kSized, class Call>
  struct Op {
    TlsStream& stream;
    Call call;
    enum class State { starting, waiting, posted } state = State::starting;
    error_code ec{};
    std::size_t n = 0;

    template <class Self>
    void operator()(Self& self, error_code wait_ec = {}) {
      if (state == State::posted) return finish(self);
      if (state == State::waiting && wait_ec) {
        ec = wait_ec;
        return finish(self);
      }
      const Want want = stream.attempt(call, ec, n);
      if (want == Want::nothing) {
        if (state == State::waiting) return finish(self);
        state = State::posted;
        return boost::asio::post(stream.socket_.get_executor(), std::move(self));
      }
      state = State::waiting;
      stream.socket_.async_wait(want == Want::read ? socket_type::wait_read : socket_type::wait_write,
                                std::move(self));
    }

    template <class Self>
    void finish(Self& self) {
      if constexpr (kSized) self.complete(ec, ec ? 0 : n);
      else self.complete(ec);
    }
  };

  template <bool kSized, class Token, class Call>
  auto run(Token& token, Call call) {
    using Signature = std::conditional_t<kSized, void(error_code, std::size_t), void(error_code)>;
    return boost::asio::async_compose<Token, Signature>(Op<kSized, Call>{*this, std::move(call)}, token, socket_);
  }

  template <class Call>
  Want attempt(Call& call, error_code& ec, std::size_t& n) {
    ERR_clear_error();  // errors left by another connection are not this one's
    errno = 0;
    const int r = call(ssl_.get());
    ec = {};
    n = 0;
    if (r == kNothingToDo) return Want::nothing;
    if (r > 0) {
      n = static_cast<std::size_t>(r);
      return Want::nothing;
    }
    switch (SSL_get_error(ssl_.get(), r)) {
      case SSL_ERROR_WANT_READ:
        return Want::read;
      case SSL_ERROR_WANT_WRITE:
        return Want::write;
      case SSL_ERROR_ZERO_RETURN:
        ec = boost::asio::error::eof;
        break;
      case SSL_ERROR_SYSCALL:
        ec = errno != 0 ? error_code(errno, boost::system::system_category())
                        : error_code(boost::asio::ssl::error::stream_truncated);
        break;
      case SSL_ERROR_SSL: {
        const unsigned long e = ERR_peek_error();
        if (ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) ec = boost::asio::ssl::error::stream_truncated;
        else ec = error_code(static_cast<int>(e), boost::asio::error::get_ssl_category());
        break;
      }
      default:
        ec = boost::asio::error::operation_not_supported;
        break;
    }
    if (ec == boost::asio::error::eof || ec == boost::asio::ssl::error::stream_truncated) ERR_clear_error();
    return Want::nothing;
  }

  socket_type socket_;
  std::unique_ptr<SSL, SslFree> ssl_;
};

}  // namespace sluice::server
