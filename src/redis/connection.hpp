// One connection to Redis, plain TCP or TLS, and how it is opened: resolve,
// connect, TLS handshake, AUTH, SELECT, PING, all within connect_timeout.
// Private to redis/; the Client owns one at a time.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <tuple>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>

#include "resp.hpp"
#include "sluice/core/config.hpp"

namespace sluice::redis {

// An I/O error in words; the peer's close is "Redis closed the connection".
std::string describe(const boost::system::error_code& ec);

// Held by shared_ptr (open() hands itself to its timer).
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  using tcp = boost::asio::ip::tcp;
  using IoResult = std::tuple<boost::system::error_code, std::size_t>;
  static constexpr std::size_t kReadChunk = 64 * 1024;

  // `tls_context`: null for redis://.
  Connection(const boost::asio::any_io_executor& executor, boost::asio::ssl::context* tls_context,
             std::size_t max_reply_bytes);

  // Opens the connection as `config` says, within its connect_timeout.
  // Returns why it failed (the step, and the system's or Redis's words; never
  // the password), or "" when it is ready for commands.
  boost::asio::awaitable<std::string> open(const RedisConfig& config);

  // Closes the socket: pending reads and writes end with an error. Idempotent.
  void close();
  bool alive() const noexcept { return alive_; }

  // Reads into buffer() and feeds what came to reader().
  boost::asio::awaitable<IoResult> read_some();
  boost::asio::awaitable<IoResult> write(const std::string& bytes);
  ReplyReader& reader() noexcept { return reader_; }

 private:
  tcp::socket& socket() { return tls_ ? tls_->next_layer() : *plain_; }
  boost::asio::awaitable<std::string> open_steps(const RedisConfig& config);
  boost::asio::awaitable<std::string> handshake(const RedisConfig& config);
  boost::asio::awaitable<std::string> read_reply(Reply& out);

  tcp::resolver resolver_;
  std::optional<tcp::socket> plain_;
  std::optional<boost::asio::ssl::stream<tcp::socket>> tls_;
  ReplyReader reader_;
  std::unique_ptr<char[]> buffer_;
  bool alive_ = true;
  bool opening_ = false;    // open() is under way
  bool timed_out_ = false;  // the connect timeout closed it
};

}  // namespace sluice::redis
