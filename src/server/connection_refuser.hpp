// ConnectionRefuser: what happens to a connection accepted while the server
// is at server.max_connections. Leaving it in the listen backlog would make
// the client wait an unbounded time (and the kernel's backlog would then drop
// SYNs: connect timeouts instead of an answer). Instead it is refused
// quickly and cheaply:
//
// - plain HTTP: a fixed 503 in the OpenAI error shape (code "overloaded",
//   Retry-After: 1, Connection: close) is written at once with one
//   non-blocking write, before the request is even read (a fresh socket's
//   send buffer always takes it), then our side is shut down;
// - TLS: the connection is closed without a handshake (a handshake costs the
//   server a private-key operation: the point is to spend nothing);
// - then what the client sends meanwhile (its request) is read and dropped
//   for at most kLinger and kMaxDrop bytes, so that closing a socket with
//   unread bytes does not reset the connection and destroy the 503 before
//   the client reads it. At most kMaxLingering connections linger at once;
//   beyond that one is closed after dropping what has arrived already.
//
// Nothing here waits on the accept loop: refuse() returns at once.
// Single-threaded, on the server's executor.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

#include <boost/asio/ip/tcp.hpp>

namespace sluice::server {

class ConnectionRefuser {
 public:
  static constexpr auto kLinger = std::chrono::milliseconds(250);
  static constexpr std::size_t kMaxDrop = 64u << 10;
  static constexpr std::size_t kMaxLingering = 1024;

  ConnectionRefuser() : state_(std::make_shared<State>()) {}

  // Answers (plain) or drops (tls) `socket` and closes it, now or within kLinger.
  void refuse(boost::asio::ip::tcp::socket socket, bool tls);

  // Connections refused so far (sluice_connections_refused_total).
  std::uint64_t refused() const noexcept { return state_->refused; }
  // Refused connections still being read before their close.
  std::size_t lingering() const noexcept { return state_->lingering; }

 private:
  struct State {
    std::uint64_t refused = 0;
    std::size_t lingering = 0;
  };
  std::shared_ptr<State> state_;  // shared with the lingering coroutines, which may outlive this
};

}  // namespace sluice::server
