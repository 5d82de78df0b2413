// DisconnectWatch: notices that a client went away while the gateway waits on
// an upstream or relays a stream, and fires the request's cancellation, which
// closes the upstream socket, so no provider keeps generating for nobody.
//
// It watches the connection's TCP socket, whatever runs over it: a peer that
// closed (FIN) or reset fires the cancellation. Bytes arriving instead (a
// pipelined request; over TLS also the client's close_notify, which cannot be
// told from data without decrypting) are left for the session to read, and
// the watch then polls for the FIN behind them every kWatchAfter.
//
// The watch starts only once the wait has lasted kWatchAfter: most requests
// are answered sooner, and arming a socket wait (and cancelling it) costs more
// than the rest of the request's bookkeeping. Disconnects are still seen
// within a fraction of a second.
//
// Single-threaded: construct, use and destroy on the socket's executor.
#pragma once

#include <chrono>
#include <memory>

#include <boost/asio/ip/tcp.hpp>

#include "sluice/core/request_context.hpp"
#include "sluice/net/deadline.hpp"

namespace sluice::server {

class DisconnectWatch {
 public:
  static constexpr auto kWatchAfter = std::chrono::milliseconds(50);

  DisconnectWatch(boost::asio::ip::tcp::socket& socket, Cancellation& cancel);
  ~DisconnectWatch();
  DisconnectWatch(const DisconnectWatch&) = delete;
  DisconnectWatch& operator=(const DisconnectWatch&) = delete;

 private:
  struct State;

  void arm();           // wait for the socket to become readable
  void check_hangup();  // bytes are pending: has the peer closed behind them?

  boost::asio::ip::tcp::socket& socket_;
  Cancellation& cancel_;
  std::shared_ptr<State> state_;  // set once armed; outlives this while a wait is pending
  bool bytes_pending_ = false;
  net::Deadline timer_;           // last member: disarmed before the rest goes
};

}  // namespace sluice::server
