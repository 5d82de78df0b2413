// redis::Client: one connection (TCP or TLS) owned with Asio, commands
// pipelined on it, replies parsed by hiredis's redisReader (resp.hpp) and
// matched in order; reconnects with backoff. See client.hpp for the contract.
//
// Why Asio owns the socket rather than hiredis's async context: hiredis 0.14
// (Debian 12) has no TLS, and rediss:// needs it. With the socket ours, TLS is
// an ssl::stream, timeouts are our timers, and a batch is one write; hiredis
// does what it is good at, parsing replies incrementally.
//
// Shape: one coroutine per client runs the connection's life (open one,
// connection.cpp; read replies until it breaks; back off; again); one
// writer coroutine per connection sends what commands queued; one watcher
// coroutine fails commands whose time is up. A command is a Pending: its
// bytes, how many replies it waits for, and the completion handler of the
// coroutine that awaits it, completed by a post (never inline, so no awaiting
// coroutine runs inside the reader's loop).
#include "sluice/redis/client.hpp"

#include <algorithm>
#include <deque>
#include <random>
#include <tuple>
#include <utility>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "connection.hpp"
#include "resp.hpp"
#include "sluice/core/log.hpp"
#include "sluice/io/tls_client.hpp"

namespace sluice::redis {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;
using Replies = std::vector<Reply>;
using Handler = asio::any_completion_handler<void(Result<Replies>)>;

namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
// The writer's buffer is kept between writes up to this size.
constexpr std::size_t kKeepWriteBuffer = 1 << 20;

}  // namespace

// One command, or a batch: waits for `expected` replies.
struct Pending {
  // The handler is constructed in place: Boost 1.81's
  // any_completion_handler::operator=(any_completion_handler&&) recurses
  // without end (it copies from an lvalue through its converting constructor).
  explicit Pending(Handler h) : handler(std::move(h)) {}

  std::string wire;  // RESP bytes, until written
  std::size_t expected = 1;
  std::size_t received = 0;
  Replies replies;
  Clock::time_point deadline;
  Millis timeout{0};
  Handler handler;  // empty once completed (replied, failed, timed out or cancelled)

  bool done() const noexcept { return !handler; }
};

struct Client::Impl : std::enable_shared_from_this<Client::Impl> {
  enum class State { idle, connecting, connected, backing_off, closed };

  Impl(asio::any_io_executor ex, const RedisConfig& c, Backoff b)
      : executor(std::move(ex)),
        config(c),
        backoff(b),
        address(c.address()),
        wake_writer(executor, Clock::time_point::max()),
        deadlines(executor, Clock::time_point::max()),
        pause(executor),
        random(std::random_device{}()) {
    if (config.tls) tls = io::make_client_tls_context(config.ca_file);
  }

  asio::any_io_executor executor;
  const RedisConfig config;
  const Backoff backoff;
  const std::string address;
  std::unique_ptr<ssl::context> tls;

  State state = State::idle;
  std::optional<bool> reported;  // the state the last log line announced
  std::string last_error;
  std::function<void(bool)> on_change;

  // Shared with a cancellation handler, which may outlive the command.
  std::deque<std::shared_ptr<Pending>> unsent;    // queued, not written yet
  std::deque<std::shared_ptr<Pending>> inflight;  // written; replies come in this order
  std::shared_ptr<Connection> conn;               // the connection (or attempt) under way
  asio::steady_timer wake_writer;                 // the writer waits on it while idle
  bool writer_idle = false;
  asio::steady_timer deadlines;                   // at the earliest deadline of a pending command
  asio::steady_timer pause;                       // the backoff between attempts
  std::mt19937_64 random;

  // --- errors -------------------------------------------------------------
  // The message says what happened, without the address; the detail, for
  // the operator, adds it. Neither ever holds the password.
  Error unavailable(std::string message, const std::string& why) const {
    Error e = make_error(errc::redis_unavailable, std::move(message));
    e.detail = "redis " + address + ": " + (why.empty() ? e.message : why);
    return e;
  }
  Error timed_out(const Pending& p) const {
    const std::string what = "Redis did not answer within " + std::to_string(p.timeout.count()) + " ms";
    return unavailable(what, what);
  }

  // --- completing commands ------------------------------------------------
  // `from_slot`: called by the cancellation handler itself, which must not
  // be destroyed while it runs (it stays assigned, harmless: see below).
  void complete(Pending& p, Result<Replies> result, bool from_slot = false) {
    if (p.done()) return;
    Handler handler = std::move(p.handler);
    p.handler = nullptr;
    if (!from_slot) asio::get_associated_cancellation_slot(handler).clear();
    // Every caller runs on this executor's one thread (client.hpp).
    asio::post(executor, [h = std::move(handler), r = std::move(result)]() mutable { std::move(h)(std::move(r)); });
  }

  void fail_all(const Error& e) {
    for (auto* queue : {&inflight, &unsent}) {
      for (auto& p : *queue) complete(*p, e);
      queue->clear();
    }
    rearm_deadlines();
  }

  // --- state and its log lines --------------------------------------------
  void report(bool connected_now, const std::string& reason) {
    if (reported == connected_now) return;
    reported = connected_now;
    if (connected_now) {
      log::info("redis_connected", {{"address", address}, {"tls", config.tls}, {"db", config.db}});
    } else {
      log::warn("redis_disconnected", {{"address", address}, {"reason", reason}});
    }
    if (on_change) asio::post(executor, [callback = on_change, connected_now] { callback(connected_now); });
  }

  // Ends `c` (once): every command on it or waiting for it fails; the
  // connection loop notices and reconnects.
  void break_connection(const std::shared_ptr<Connection>& c, const std::string& reason) {
    if (!c->alive()) return;
    c->close();
    wake_writer.cancel();
    if (state == State::closed) return;
    last_error = reason;
    if (state == State::connected) {
      state = State::connecting;
      report(false, reason);
    }
    fail_all(unavailable("the connection to Redis was lost: " + reason, reason));
  }

  // --- submitting ---------------------------------------------------------
  void submit(std::shared_ptr<Pending> p) {
    if (p->expected == 0) return complete(*p, Replies{});
    if (state == State::idle) start();
    switch (state) {
      case State::closed:
        return complete(*p, unavailable("the Redis client was closed", ""));
      case State::backing_off:
        return complete(*p, unavailable("Redis is not connected: " + last_error, last_error));
      case State::idle:
      case State::connecting:
      case State::connected:
        break;
    }
    p->deadline = Clock::now() + p->timeout;
    watch_cancellation(p);
    if (p->deadline < deadlines.expiry()) deadlines.expires_at(p->deadline);  // wakes the watcher
    unsent.push_back(std::move(p));
    if (state == State::connected && writer_idle) {
      writer_idle = false;
      wake_writer.cancel();
    }
  }

  // A cancelled command completes at once. Its bytes are not sent if they
  // are still queued; if they were, the reply is read and dropped. The
  // handler holds weak references: it may run after the command completed
  // (it stays in the caller's slot until the caller's next operation).
  void watch_cancellation(const std::shared_ptr<Pending>& p) {
    auto slot = asio::get_associated_cancellation_slot(p->handler);
    if (!slot.is_connected()) return;
    slot.assign([weak = weak_from_this(), pending = std::weak_ptr<Pending>(p)](asio::cancellation_type) {
      auto self = weak.lock();
      auto command = pending.lock();
      if (self && command)
        self->complete(*command, make_error(errc::cancelled, "the Redis command was cancelled"), true);
    });
  }

  // --- deadlines ----------------------------------------------------------
  void rearm_deadlines() {
    Clock::time_point next = Clock::time_point::max();
    for (auto* queue : {&inflight, &unsent})
      for (const auto& p : *queue)
        if (!p->done() || queue == &inflight) next = std::min(next, p->deadline);
    if (next != deadlines.expiry()) deadlines.expires_at(next);
  }

  // Commands not sent yet fail alone when their time is up. A sent one (even
  // one whose caller left) that has no reply in time means that every reply
  // behind it is late too: the connection is broken.
  static asio::awaitable<void> watch_deadlines(std::shared_ptr<Impl> self) {
    while (self->state != State::closed) {
      co_await self->deadlines.async_wait(kAwait);
      if (self->state == State::closed) break;
      const auto now = Clock::now();
      for (auto& p : self->unsent)
        if (!p->done() && p->deadline <= now) self->complete(*p, self->timed_out(*p));
      const auto late = std::find_if(self->inflight.begin(), self->inflight.end(),
                                     [&](const auto& p) { return p->deadline <= now; });
      if (late != self->inflight.end()) {
        const Error e = self->timed_out(**late);
        self->complete(**late, e);
        if (self->conn) self->break_connection(self->conn, e.message);
      }
      self->rearm_deadlines();
    }
  }

  // --- the connection's life ----------------------------------------------
  void start() {
    if (state != State::idle) return;
    state = State::connecting;
    asio::co_spawn(executor, run(shared_from_this()), asio::detached);
    asio::co_spawn(executor, watch_deadlines(shared_from_this()), asio::detached);
  }

  void close() {
    if (state == State::closed) return;
    state = State::closed;
    on_change = nullptr;  // the owner is going away: no callback after close()
    if (conn) conn->close();
    pause.cancel();
    wake_writer.cancel();
    deadlines.cancel();
    fail_all(unavailable("the Redis client was closed", ""));
  }

  Millis next_pause(Millis& delay) {
    const auto d = delay.count();
    delay = std::min(delay * 2, backoff.max);
    return Millis(std::uniform_int_distribution<std::int64_t>(d / 2, d)(random));
  }

  static asio::awaitable<void> run(std::shared_ptr<Impl> self) {
    Millis delay = self->backoff.min;
    while (self->state != State::closed) {
      self->state = State::connecting;
      auto c = std::make_shared<Connection>(self->executor, self->tls.get(), self->config.max_reply_bytes);
      self->conn = c;
      const std::string failed = co_await c->open(self->config);
      if (self->state == State::closed) break;
      if (!failed.empty()) {
        c->close();
        self->conn.reset();
        self->last_error = failed;
        self->state = State::backing_off;
        self->report(false, failed);
        self->fail_all(self->unavailable("could not connect to Redis: " + failed, failed));
        self->pause.expires_after(self->next_pause(delay));
        co_await self->pause.async_wait(kAwait);
        continue;
      }
      delay = self->backoff.min;
      self->state = State::connected;
      self->last_error.clear();
      self->report(true, "");
      self->writer_idle = false;
      asio::co_spawn(self->executor, write_loop(self, c), asio::detached);
      const std::string why = co_await self->read_loop(c);
      self->break_connection(c, why);
      self->conn.reset();
      // Reconnect at once: a dropped connection says little about the next
      // attempt, which backs off if it fails.
    }
  }

  // Reads replies and hands each to the oldest command waiting, until the
  // connection breaks; returns why it broke.
  asio::awaitable<std::string> read_loop(std::shared_ptr<Connection> c) {
    for (;;) {
      auto [ec, n] = co_await c->read_some();
      if (ec || !c->alive()) co_return ec ? describe(ec) : "closed";
      for (;;) {
        auto next = c->reader().next();
        if (!next) co_return next.error().detail;
        if (!*next) break;
        if (inflight.empty()) co_return "Redis sent a reply to no command";
        Pending& p = *inflight.front();
        if (!p.done()) p.replies.push_back(std::move(**next));
        if (++p.received < p.expected) continue;
        complete(p, std::move(p.replies));
        inflight.pop_front();
      }
    }
  }

  // Sends whatever is queued, all of it in one write, while the connection
  // lives. Commands whose caller left before they were sent are dropped.
  static asio::awaitable<void> write_loop(std::shared_ptr<Impl> self, std::shared_ptr<Connection> c) {
    std::string out;
    while (c->alive()) {
      out.clear();
      while (!self->unsent.empty()) {
        std::shared_ptr<Pending> p = std::move(self->unsent.front());
        self->unsent.pop_front();
        if (p->done()) continue;
        out += p->wire;
        p->wire = std::string();
        self->inflight.push_back(std::move(p));
      }
      if (out.empty()) {
        self->writer_idle = true;
        self->wake_writer.expires_at(Clock::time_point::max());
        co_await self->wake_writer.async_wait(kAwait);
        continue;
      }
      auto [ec, n] = co_await c->write(out);
      if (ec) {
        self->break_connection(c, "write failed: " + describe(ec));
        co_return;
      }
      if (out.capacity() > kKeepWriteBuffer) std::string().swap(out);
    }
  }

  // The awaitable that queues `wire` when awaited (not before) and completes
  // with `count` replies.
  static asio::awaitable<Result<Replies>> send(std::shared_ptr<Impl> impl, std::string wire, std::size_t count,
                                               Millis timeout) {
    return asio::async_initiate<decltype(asio::use_awaitable), void(Result<Replies>)>(
        [impl = std::move(impl), count, timeout](auto handler, std::string bytes) {
          auto p = std::make_shared<Pending>(Handler(std::move(handler)));
          p->wire = std::move(bytes);
          p->expected = count;
          p->timeout = timeout;
          impl->submit(std::move(p));
        },
        asio::use_awaitable, std::move(wire));
  }
};

// --- Batch --------------------------------------------------------------------

Batch& Batch::add_views(std::span<const std::string_view> args) {
  append_command(wire_, args);
  ++count_;
  return *this;
}

Batch& Batch::add(std::span<const std::string> args) {
  append_command(wire_, args);
  ++count_;
  return *this;
}

// --- Client -------------------------------------------------------------------

namespace {

asio::awaitable<Result<Reply>> first_reply(asio::awaitable<Result<Replies>> replies) {
  Result<Replies> r = co_await std::move(replies);
  if (!r) co_return std::move(r).error();
  co_return std::move(r->front());
}

}  // namespace

Client::Client(asio::any_io_executor executor, const RedisConfig& config, Backoff backoff)
    : impl_(std::make_shared<Impl>(std::move(executor), config, backoff)) {}

Client::~Client() { impl_->close(); }

void Client::start() { impl_->start(); }
void Client::close() { impl_->close(); }

bool Client::connected() const noexcept { return impl_->state == Impl::State::connected; }
void Client::on_state_change(std::function<void(bool)> callback) {
  if (impl_->state != Impl::State::closed) impl_->on_change = std::move(callback);
}
std::string Client::last_error() const { return impl_->last_error; }
const std::string& Client::address() const noexcept { return impl_->address; }

asio::awaitable<Result<Reply>> Client::command_views(std::span<const std::string_view> args,
                                                     std::optional<Millis> timeout) {
  std::string wire;
  append_command(wire, args);
  return first_reply(Impl::send(impl_, std::move(wire), 1, timeout.value_or(impl_->config.command_timeout)));
}

asio::awaitable<Result<Reply>> Client::command(std::span<const std::string> args, std::optional<Millis> timeout) {
  std::string wire;
  append_command(wire, args);
  return first_reply(Impl::send(impl_, std::move(wire), 1, timeout.value_or(impl_->config.command_timeout)));
}

asio::awaitable<Result<Replies>> Client::pipeline(Batch batch, std::optional<Millis> timeout) {
  return Impl::send(impl_, std::move(batch.wire_), batch.count_, timeout.value_or(impl_->config.command_timeout));
}

}  // namespace sluice::redis
