// redis::Client: an asynchronous Redis client on Asio coroutines, over one
// connection (plain TCP, or TLS for rediss://) that it keeps open by itself.
//
//   redis::Client redis(io.get_executor(), config.redis.value());
//   redis.start();                                   // optional: the first command starts it
//   Result<Reply> n = co_await redis.command("INCR", key);
//   redis::Batch batch;
//   batch.add("XADD", stream, "*", "job", body).add("EXPIRE", stream, "3600");
//   Result<std::vector<Reply>> both = co_await redis.pipeline(std::move(batch));
//
// Arguments are anything a std::string_view can be made from, each one
// argument of the command (binary-safe); std::span<const std::string> takes a
// command built at run time. (There is no std::initializer_list overload:
// g++ 12 rejects a braced list inside a co_await expression, "array used as
// initializer", and that is where a command is written.)
//
// Threading: single-threaded. Construct, call and destroy it on the thread
// that runs `executor`'s io_context; commands may come from any number of
// coroutines there. Commands in flight together are pipelined on the one
// connection: whatever is issued while a write is under way goes out in the
// next write, and replies are matched to commands in order.
//
// Failures are Errors with errc::redis_unavailable (503, a retry may help);
// an error *reply* ("-ERR ...", "-WRONGTYPE ...") is not a failure but a
// Reply (Reply::is_error). A command fails with redis_unavailable when:
//   - the client is not connected (it is waiting to reconnect): at once, it
//     never waits for a connection that may not come. Commands issued while a
//     connection attempt is under way (at start, or a reconnect) wait for it,
//     within their own timeout;
//   - no reply came within its timeout. Replies are matched by order, so the
//     connection is then broken, and every other command in flight on it fails
//     too ("connection lost"); the client reconnects;
//   - the connection broke (closed, reset, a malformed reply, a reply larger
//     than max_reply_bytes) before its reply came.
// A command cancelled by its caller (Asio per-operation cancellation, e.g. the
// losing side of `a || b`) completes at once with errc::cancelled; a command
// already written still runs in Redis, and its reply is dropped.
//
// Connection: on every (re)connect, AUTH when the URL has a password, SELECT
// when db is not 0, and a PING; connect_timeout covers all of it with the
// name lookup, TCP and TLS. A failed attempt is retried after a backoff
// (Backoff); a connection that drops is replaced at once. Each change of state is one log line, `redis_connected` (info)
// or `redis_disconnected` (warn, with the reason), never one per failed
// command. The password never appears in a log line or an Error.
//
// Blocking commands (BLPOP, XREAD ... BLOCK) hold up every command behind them
// on the connection: give them a Client of their own, and a timeout longer
// than the time they block.
#pragma once

#include <array>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "sluice/core/config.hpp"
#include "sluice/core/error.hpp"
#include "sluice/redis/reply.hpp"

namespace sluice::redis {

// The pause before reconnecting: the first after `min`, doubling after each
// failed attempt up to `max`, back to `min` once connected. Each pause is
// drawn uniformly from [d/2, d] (jitter), so that replicas that lost Redis
// together do not come back in step.
struct Backoff {
  Millis min{100};
  Millis max{5'000};
};

template <class... Args>
concept CommandArgs = sizeof...(Args) > 0 && (std::convertible_to<const Args&, std::string_view> && ...);

// Commands sent together as one pipeline: one write, replies in order.
class Batch {
 public:
  template <class... Args>
    requires CommandArgs<Args...>
  Batch& add(const Args&... args) {
    const std::array<std::string_view, sizeof...(Args)> list{std::string_view(args)...};
    return add_views(list);
  }
  Batch& add(std::span<const std::string> args);
  Batch& add_views(std::span<const std::string_view> args);
  std::size_t size() const noexcept { return count_; }
  bool empty() const noexcept { return count_ == 0; }

 private:
  friend class Client;
  std::string wire_;  // the commands, RESP-encoded
  std::size_t count_ = 0;
};

class Client {
 public:
  // Nothing happens until start() or the first command. Throws
  // std::runtime_error when a rediss:// client cannot load config.ca_file.
  Client(boost::asio::any_io_executor executor, const RedisConfig& config, Backoff backoff = {});
  ~Client();  // close()
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Connects in the background and keeps reconnecting. Idempotent.
  void start();
  // Fails every pending command (redis_unavailable, "the Redis client was
  // closed"), closes the connection and stops reconnecting. Idempotent; a
  // closed client fails every command at once.
  void close();

  // One command: its name and its arguments. They are encoded before the
  // call returns, so they need not outlive it; the command is sent when the
  // result is awaited. Its reply must come within command_timeout.
  template <class... Args>
    requires CommandArgs<Args...>
  boost::asio::awaitable<Result<Reply>> command(const Args&... args) {
    const std::array<std::string_view, sizeof...(Args)> list{std::string_view(args)...};
    return command_views(list, std::nullopt);
  }
  // The same, with `timeout` instead of command_timeout (e.g. for a command
  // that blocks in Redis for a while).
  template <class... Args>
    requires CommandArgs<Args...>
  boost::asio::awaitable<Result<Reply>> timed_command(Millis timeout, const Args&... args) {
    const std::array<std::string_view, sizeof...(Args)> list{std::string_view(args)...};
    return command_views(list, timeout);
  }
  boost::asio::awaitable<Result<Reply>> command(std::span<const std::string> args,
                                                std::optional<Millis> timeout = std::nullopt);
  boost::asio::awaitable<Result<Reply>> command_views(std::span<const std::string_view> args,
                                                      std::optional<Millis> timeout = std::nullopt);

  // The batch's commands in one write; their replies in order (error replies
  // included), or one Error for the whole batch. `timeout` bounds the wait
  // for the last reply. An empty batch completes at once with no replies.
  boost::asio::awaitable<Result<std::vector<Reply>>> pipeline(Batch batch,
                                                              std::optional<Millis> timeout = std::nullopt);

  // True between a successful handshake and the connection's end.
  bool connected() const noexcept;
  // Called with the new value of connected() at each change, after its log
  // line, on the executor's thread (posted). Replaces an earlier callback;
  // never called after close().
  void on_state_change(std::function<void(bool connected)> callback);
  // Why the client is not connected ("connect: Connection refused", "Redis
  // refused the credentials: WRONGPASS ..."); empty while connected.
  std::string last_error() const;
  // host:port, as log lines name it.
  const std::string& address() const noexcept;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace sluice::redis
