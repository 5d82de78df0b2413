// DisconnectWatch (contract in disconnect_watch.hpp).
#include "disconnect_watch.hpp"

#include <sys/socket.h>

#include <cerrno>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>

namespace sluice::server {

namespace asio = boost::asio;
using boost::system::error_code;

struct DisconnectWatch::State {
  asio::cancellation_signal signal;  // lives as long as the pending wait
  Cancellation* cancel = nullptr;
  bool active = true;                // false once the watch is gone
};

DisconnectWatch::DisconnectWatch(asio::ip::tcp::socket& socket, Cancellation& cancel)
    : socket_(socket), cancel_(cancel), timer_(socket.get_executor(), [this] { arm(); }) {
  timer_.expire_after(kWatchAfter);
}

DisconnectWatch::~DisconnectWatch() {
  if (!state_) return;
  state_->active = false;
  state_->signal.emit(asio::cancellation_type::all);
}

void DisconnectWatch::arm() {
  state_ = std::make_shared<State>();
  state_->cancel = &cancel_;
  const int fd = socket_.native_handle();
  socket_.async_wait(asio::ip::tcp::socket::wait_read,
                     asio::bind_cancellation_slot(state_->signal.slot(), [st = state_, fd](error_code ec) {
                       if (ec || !st->active) return;
                       char byte;
                       const ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
                       if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) st->cancel->cancel();
                     }));
}

}  // namespace sluice::server
