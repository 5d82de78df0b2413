// What the Redis client's tests share: a fixture with its own io_context,
// configs from URLs, and FakeRedis, a server that answers the handshake and
// then never answers, or answers garbage or a huge bulk.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "print_reply.hpp"
#include "sluice/redis/client.hpp"
#include "support/run_coro.hpp"

namespace sluice::redis {

namespace asio = boost::asio;
using namespace std::chrono_literals;
inline constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

inline RedisConfig config_for(const std::string& url) {
  RedisConfig c;
  if (auto bad = parse_redis_url(url, c)) throw std::runtime_error("unusable Redis URL: " + *bad);
  c.connect_timeout = 2s;
  c.command_timeout = 2s;
  return c;
}

inline std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

using Clock = std::chrono::steady_clock;
inline Millis since(Clock::time_point start) { return std::chrono::duration_cast<Millis>(Clock::now() - start); }

// A server that speaks just enough RESP to pass the client's handshake (it
// answers the PING), then does what the test says with the next command.
class FakeRedis {
 public:
  enum class Then { silence, garbage, huge_bulk };

  FakeRedis(asio::io_context& io, Then then, bool answer_ping = true)
      : acceptor_(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), then_(then), answer_ping_(answer_ping) {
    asio::co_spawn(io, accept_loop(this), asio::detached);
  }
  ~FakeRedis() {
    acceptor_.close();
    for (auto& s : sockets_) s->close();
  }

  std::string url() const { return "redis://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()); }
  int connections() const { return connections_; }

 private:
  static asio::awaitable<void> accept_loop(FakeRedis* self) {
    for (;;) {
      auto [ec, socket] = co_await self->acceptor_.async_accept(kAwait);
      if (ec) co_return;
      ++self->connections_;
      auto s = std::make_shared<asio::ip::tcp::socket>(std::move(socket));
      self->sockets_.push_back(s);
      asio::co_spawn(self->acceptor_.get_executor(), serve(s, self->then_, self->answer_ping_), asio::detached);
    }
  }

  static asio::awaitable<void> serve(std::shared_ptr<asio::ip::tcp::socket> s, Then then, bool answer_ping) {
    const std::string ping = "*1\r\n$4\r\nPING\r\n";
    std::string got;
    bool greeted = false;
    char buffer[4096];
    for (;;) {
      auto [ec, n] = co_await s->async_read_some(asio::buffer(buffer), kAwait);
      if (ec) co_return;
      got.append(buffer, n);
      if (!greeted) {
        if (got.size() < ping.size() || !answer_ping) continue;
        greeted = true;
        got.erase(0, ping.size());
        co_await asio::async_write(*s, asio::buffer(std::string("+PONG\r\n")), kAwait);
      }
      if (got.empty()) continue;
      got.clear();
      std::string answer;
      if (then == Then::garbage) answer = "?garbage\r\n";
      if (then == Then::huge_bulk) answer = "$100000\r\n" + std::string(100000, 'x') + "\r\n";
      if (!answer.empty()) co_await asio::async_write(*s, asio::buffer(answer), kAwait);
    }
  }

  asio::ip::tcp::acceptor acceptor_;
  Then then_;
  bool answer_ping_;
  int connections_ = 0;
  std::vector<std::shared_ptr<asio::ip::tcp::socket>> sockets_;
};

class RedisClient : public ::testing::Test {
 protected:
  template <class T>
  T run(asio::awaitable<T> task, Millis timeout = 10s) {
    return test::run_coro(io_, std::move(task), timeout);
  }
  bool wait_until(const std::function<bool()>& done, Millis timeout = 5s) {
    return test::run_until(io_, done, timeout);
  }
  // Keys of this test only, on the shared server.
  std::string key(const std::string& name) const {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    return "sluice-test:" + std::to_string(::getpid()) + ":" + info->name() + ":" + name;
  }
  asio::any_io_executor ex() { return io_.get_executor(); }
  // Runs `task` in the background; `out` is set when it completes.
  template <class T>
  void spawn_into(asio::awaitable<T> task, std::optional<T>& out) {
    asio::co_spawn(io_, test::detail::store_into(std::move(task), &out), asio::detached);
  }

  asio::io_context io_;
};

}  // namespace sluice::redis
