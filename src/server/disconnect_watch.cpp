// DisconnectWatch (contract in disconnect_watch.hpp).
#include "disconnect_watch.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>

namespace sluice::server {

namespace asio = boost::asio;
using boost::system::error_code;

struct DisconnectWatch::State {
  asio::cancellation_signal signal;  // lives as long as the pending wait
  bool active = true;                // false once the watch is gone
};

DisconnectWatch::DisconnectWatch(asio::ip::tcp::socket& socket, Cancellation& cancel)
    : socket_(socket), cancel_(cancel), timer_(socket.get_executor(), [this] {
        if (bytes_pending_) check_hangup();
        else arm();
      }) {
  timer_.expire_after(kWatchAfter);
}

DisconnectWatch::~DisconnectWatch() {
  if (!state_) return;
  state_->active = false;
  state_->signal.emit(asio::cancellation_type::all);
}

void DisconnectWatch::arm() {
  state_ = std::make_shared<State>();
  socket_.async_wait(asio::ip::tcp::socket::wait_read,
                     asio::bind_cancellation_slot(state_->signal.slot(), [this, st = state_](error_code ec) {
                       if (ec || !st->active) return;  // inactive: `this` is gone
                       char byte;
                       const ssize_t n = ::recv(socket_.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
                       if (n > 0) {
                         bytes_pending_ = true;
                         check_hangup();
                       } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
                         cancel_.cancel();
                       } else {
                         arm();  // woken for nothing
                       }
                     }));
}

// Readability says nothing more while the bytes stay unread, so poll: a FIN
// or reset behind them shows as POLLRDHUP / POLLHUP / POLLERR.
void DisconnectWatch::check_hangup() {
  pollfd p{socket_.native_handle(), POLLRDHUP, 0};
  if (::poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
    cancel_.cancel();
    return;
  }
  timer_.expire_after(kWatchAfter);
}

}  // namespace sluice::server
