// ConnectionRefuser (see connection_refuser.hpp).
#include "connection_refuser.hpp"

#include <array>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "http1.hpp"
#include "request_id.hpp"
#include "sluice/net/deadline.hpp"

namespace sluice::server {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

// The 503's bytes; a new request id each.
std::string overloaded_response() {
  const Reply reply = error_reply(
      make_error(errc::overloaded, "the gateway is at its connection limit (server.max_connections); retry shortly"));
  return response_head(reply.status, reply, new_request_id(), false, false,
                       ContentLength(reply.body.size()).view()) + reply.body;
}

// Reads and drops what is readable now, without waiting. False when the
// client closed (or reset) the connection, or sent more than `budget` allows.
bool drop_readable(tcp::socket& socket, std::size_t& dropped) {
  thread_local std::array<char, 16384> scratch;  // contents never looked at
  for (;;) {
    error_code ec;
    const std::size_t n = socket.read_some(asio::buffer(scratch), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) return true;
    if (ec || n == 0) return false;
    dropped += n;
    if (dropped >= ConnectionRefuser::kMaxDrop) return false;
  }
}

struct LingerCount {
  explicit LingerCount(std::size_t& n) : n_(n) { ++n_; }
  ~LingerCount() { --n_; }
  std::size_t& n_;
};

template <class State>
asio::awaitable<void> linger(tcp::socket socket, std::shared_ptr<State> state) {
  const LingerCount counted(state->lingering);
  net::Deadline deadline(socket.get_executor(), [&socket] {
    error_code ignored;
    socket.cancel(ignored);
  });
  deadline.expire_after(ConnectionRefuser::kLinger);
  std::size_t dropped = 0;
  for (;;) {
    auto [ec] = co_await socket.async_wait(tcp::socket::wait_read, asio::as_tuple(asio::use_awaitable));
    if (ec || !drop_readable(socket, dropped)) break;
  }
  deadline.disarm();
  error_code ignored;
  socket.close(ignored);
}

}  // namespace

void ConnectionRefuser::refuse(tcp::socket socket, bool tls) {
  ++state_->refused;
  error_code ec;
  if (tls) {  // nothing was sent that a reset could destroy
    socket.close(ec);
    return;
  }
  socket.non_blocking(true, ec);
  const std::string response = overloaded_response();
  if (!ec) socket.write_some(asio::buffer(response), ec);
  if (!ec) socket.shutdown(tcp::socket::shutdown_send, ec);
  std::size_t dropped = 0;
  if (ec || !drop_readable(socket, dropped) || state_->lingering >= kMaxLingering) {
    socket.close(ec);
    return;
  }
  const auto executor = socket.get_executor();
  asio::co_spawn(executor, linger(std::move(socket), state_), asio::detached);
}

}  // namespace sluice::server
