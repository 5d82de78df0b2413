// DisconnectWatch: notices that a client went away while the gateway waits on
// an upstream or relays a stream, and fires the request's cancellation, which
// closes the upstream socket, so no provider keeps generating for nobody.
// Bytes arriving instead (a pipelined request) end the watch without firing.
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

  void arm();  // wait for the socket to become readable

  boost::asio::ip::tcp::socket& socket_;
  Cancellation& cancel_;
  std::shared_ptr<State> state_;  // set once armed; outlives this while a wait is pending
  net::Deadline timer_;           // last member: disarmed before the rest goes
};

}  // namespace sluice::server
