// Connection: opening one (TCP, TLS, AUTH, SELECT, PING) and its reads and
// writes, plain or TLS. See connection.hpp.
#include "connection.hpp"

#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "sluice/io/tls_client.hpp"

namespace sluice::redis {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using boost::system::error_code;

namespace {
constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
}  // namespace

std::string describe(const error_code& ec) {
  if (ec == asio::error::eof || ec == ssl::error::stream_truncated) return "Redis closed the connection";
  return ec.message();
}

Connection::Connection(const asio::any_io_executor& ex, ssl::context* tls_context, std::size_t max_reply_bytes)
    : resolver_(ex), reader_(max_reply_bytes), buffer_(new char[kReadChunk]) {
  if (tls_context) tls_.emplace(ex, *tls_context);
  else plain_.emplace(ex);
}

void Connection::close() {
  alive_ = false;
  resolver_.cancel();
  error_code ignored;
  socket().close(ignored);
}

asio::awaitable<Connection::IoResult> Connection::read_some() {
  const auto into = asio::buffer(buffer_.get(), kReadChunk);
  auto [ec, n] = tls_ ? co_await tls_->async_read_some(into, kAwait) : co_await plain_->async_read_some(into, kAwait);
  if (!ec) reader_.feed(buffer_.get(), n);
  co_return IoResult{ec, n};
}

asio::awaitable<Connection::IoResult> Connection::write(const std::string& bytes) {
  if (tls_) co_return co_await asio::async_write(*tls_, asio::buffer(bytes), kAwait);
  co_return co_await asio::async_write(*plain_, asio::buffer(bytes), kAwait);
}

asio::awaitable<std::string> Connection::open(const RedisConfig& config) {
  opening_ = true;
  asio::steady_timer timer(resolver_.get_executor(), config.connect_timeout);
  // The handler may run after open() returned (its completion was queued
  // already): only an attempt still under way is cut.
  timer.async_wait([self = shared_from_this()](error_code ec) {
    if (ec || !self->opening_) return;
    self->timed_out_ = true;
    self->close();
  });
  std::string failed = co_await open_steps(config);
  opening_ = false;
  timer.cancel();
  if (!failed.empty() && timed_out_)
    co_return "no connection within " + std::to_string(config.connect_timeout.count()) + " ms (redis.connect_timeout)";
  co_return failed;
}

asio::awaitable<std::string> Connection::open_steps(const RedisConfig& config) {
  error_code ec;
  std::vector<tcp::endpoint> endpoints;
  const auto ip = asio::ip::make_address(config.host, ec);
  if (!ec) {
    endpoints.emplace_back(ip, config.port);
  } else {
    auto [rec, results] = co_await resolver_.async_resolve(config.host, std::to_string(config.port), kAwait);
    if (rec) co_return "resolving " + config.host + ": " + describe(rec);
    for (const auto& entry : results) endpoints.push_back(entry.endpoint());
  }
  auto [cec, endpoint] = co_await asio::async_connect(socket(), endpoints, kAwait);
  if (cec) co_return "connect: " + describe(cec);
  socket().set_option(tcp::no_delay(true), ec);
  if (tls_) {
    if (Status s = io::prepare_tls_session(tls_->native_handle(), config.host); !s) co_return s.error().message;
    auto [hec] = co_await tls_->async_handshake(ssl::stream_base::client, kAwait);
    if (hec) co_return "TLS handshake failed: " + io::describe_tls_failure(tls_->native_handle(), describe(hec));
  }
  co_return co_await handshake(config);
}

// AUTH and SELECT as configured, and a PING that proves the connection
// serves commands (it answers NOAUTH when Redis wants a password we lack).
// Redis's error replies never quote the password.
asio::awaitable<std::string> Connection::handshake(const RedisConfig& config) {
  std::string wire;
  std::vector<std::string> steps;
  if (!config.password.empty()) {
    if (config.username.empty()) append_command(wire, {"AUTH", config.password});
    else append_command(wire, {"AUTH", config.username, config.password});
    steps.push_back("Redis refused the credentials");
  }
  if (config.db != 0) {
    append_command(wire, {"SELECT", std::to_string(config.db)});
    steps.push_back("Redis refused SELECT " + std::to_string(config.db));
  }
  append_command(wire, {"PING"});
  steps.push_back("Redis refused PING");
  auto [wec, written] = co_await write(wire);
  if (wec) co_return "write: " + describe(wec);
  for (const std::string& step : steps) {
    Reply reply;
    if (std::string failed = co_await read_reply(reply); !failed.empty()) co_return failed;
    if (reply.is_error()) co_return step + ": " + reply.as_string();
  }
  co_return "";
}

asio::awaitable<std::string> Connection::read_reply(Reply& out) {
  for (;;) {
    auto next = reader_.next();
    if (!next) co_return next.error().detail;
    if (*next) {
      out = std::move(**next);
      co_return "";
    }
    auto [ec, n] = co_await read_some();
    if (ec) co_return "read: " + describe(ec);
  }
}

}  // namespace sluice::redis
