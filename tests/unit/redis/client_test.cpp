// redis::Client against real redis-server processes on loopback (the shared
// one of the test command, REDIS_URL, and private ones a test may kill, give
// a password or TLS) and against fake servers in the test that never answer
// or answer garbage. Every wait is bounded.
#include "sluice/redis/client.hpp"

#include <gtest/gtest.h>

#include "print_reply.hpp"
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "support/fake_upstream.hpp"
#include "support/redis_server.hpp"
#include "support/run_coro.hpp"
#include "support/stdout_capture.hpp"

namespace sluice::redis {

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

RedisConfig config_for(const std::string& url) {
  RedisConfig c;
  if (auto bad = parse_redis_url(url, c)) throw std::runtime_error("unusable Redis URL: " + *bad);
  c.connect_timeout = 2s;
  c.command_timeout = 2s;
  return c;
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

Millis since(Clock::time_point start) { return std::chrono::duration_cast<Millis>(Clock::now() - start); }

// A server that speaks just enough RESP to pass the client's handshake (it
// answers the PING), then does what the test says with the next command.
class FakeRedis {
 public:
  enum class Then { silence, garbage, huge_bulk };

  FakeRedis(asio::io_context& io, Then then, bool answer_ping = true)
      : acceptor_(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), then_(then), answer_ping_(answer_ping) {
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
      auto s = std::make_shared<tcp::socket>(std::move(socket));
      self->sockets_.push_back(s);
      asio::co_spawn(self->acceptor_.get_executor(), serve(s, self->then_, self->answer_ping_), asio::detached);
    }
  }

  static asio::awaitable<void> serve(std::shared_ptr<tcp::socket> s, Then then, bool answer_ping) {
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

  tcp::acceptor acceptor_;
  Then then_;
  bool answer_ping_;
  int connections_ = 0;
  std::vector<std::shared_ptr<tcp::socket>> sockets_;
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

// --- replies ------------------------------------------------------------------

TEST_F(RedisClient, RepliesOfEveryType) {
  Client redis(ex(), config_for(test::shared_redis_url()));
  const std::string k = key("k"), list = key("list");
  const std::string binary("a\0b\r\nc", 6);

  auto set = run(redis.command("SET", k, binary));
  ASSERT_TRUE(set) << set.error().detail;
  EXPECT_TRUE(set->is_status());
  EXPECT_EQ(set->as_string(), "OK");

  auto get = run(redis.command("GET", k));
  ASSERT_TRUE(get);
  EXPECT_TRUE(get->is_string());
  EXPECT_EQ(get->as_string(), binary) << "binary-safe both ways";

  auto missing = run(redis.command("GET", key("none")));
  ASSERT_TRUE(missing);
  EXPECT_TRUE(missing->is_nil());

  auto error = run(redis.command("INCR", k));
  ASSERT_TRUE(error) << "an error reply is a reply, not a failure";
  EXPECT_TRUE(error->is_error());
  EXPECT_EQ(error->as_string(), "ERR value is not an integer or out of range");

  const std::vector<std::string> push = {"RPUSH", list, "a", "b", "c"};
  auto pushed = run(redis.command(push));
  ASSERT_TRUE(pushed);
  EXPECT_EQ(pushed->as_integer(), 3);

  auto range = run(redis.command("LRANGE", list, "0", "-1"));
  ASSERT_TRUE(range);
  EXPECT_EQ(*range, Reply::array({Reply::string("a"), Reply::string("b"), Reply::string("c")}));

  auto nested = run(redis.command("EVAL", "return {1, {'x', false}, redis.status_reply('fine')}", "0"));
  ASSERT_TRUE(nested);
  EXPECT_EQ(nested->to_string(), "[(integer) 1, [\"x\", (nil)], fine]");

  auto unknown = run(redis.command("NO-SUCH-COMMAND"));
  ASSERT_TRUE(unknown);
  EXPECT_TRUE(unknown->is_error());
  EXPECT_TRUE(run(redis.command("DEL", k, list)));
}

TEST_F(RedisClient, ThePipelineAnswersTenThousandCommandsInOrder) {
  Client redis(ex(), config_for(test::shared_redis_url()));
  const std::string counter = key("counter");
  Batch batch;
  for (int i = 0; i < 10'000; ++i) batch.add("INCR", counter);
  EXPECT_EQ(batch.size(), 10'000u);
  auto replies = run(redis.pipeline(std::move(batch)));
  ASSERT_TRUE(replies) << replies.error().detail;
  ASSERT_EQ(replies->size(), 10'000u);
  for (int i = 0; i < 10'000; ++i) ASSERT_EQ((*replies)[i].as_integer(), i + 1) << "reply " << i;
  EXPECT_TRUE(run(redis.command("DEL", counter)));
}

TEST_F(RedisClient, AnErrorReplyInAPipelineIsOneOfItsReplies) {
  Client redis(ex(), config_for(test::shared_redis_url()));
  const std::string k = key("k");
  Batch batch;
  batch.add("SET", k, "v").add("INCR", k).add(std::vector<std::string>{"GET", k}).add("DEL", k);
  auto replies = run(redis.pipeline(std::move(batch)));
  ASSERT_TRUE(replies);
  ASSERT_EQ(replies->size(), 4u);
  EXPECT_EQ((*replies)[0], Reply::status("OK"));
  EXPECT_TRUE((*replies)[1].is_error());
  EXPECT_EQ((*replies)[2], Reply::string("v"));
  EXPECT_EQ((*replies)[3], Reply::integer(1));

  auto none = run(redis.pipeline(Batch{}));
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

asio::awaitable<void> increment(Client& redis, std::string counter, int times, int& ok) {
  for (int i = 0; i < times; ++i) {
    auto r = co_await redis.command("INCR", counter);
    if (r && r->is_integer()) ++ok;
  }
}

TEST_F(RedisClient, ManyCoroutinesShareOneConnection) {
  test::RedisServer server;  // private: its connection count is ours alone
  Client redis(ex(), config_for(server.url()));
  const std::string counter = key("counter");
  int ok = 0;
  for (int i = 0; i < 100; ++i) asio::co_spawn(io_, increment(redis, counter, 100, ok), asio::detached);
  ASSERT_TRUE(wait_until([&] { return ok == 10'000; }, 20s)) << ok;
  auto total = run(redis.command("GET", counter));
  ASSERT_TRUE(total);
  EXPECT_EQ(total->as_string(), "10000");
  auto stats = run(redis.command("INFO", "stats"));
  ASSERT_TRUE(stats);
  // Two: the server's readiness probe, and the client's one connection.
  EXPECT_NE(stats->as_string().find("total_connections_received:2\r\n"), std::string::npos) << stats->as_string();
}

TEST_F(RedisClient, SelectsTheDatabaseOfTheUrl) {
  RedisConfig db5 = config_for(test::shared_redis_url()), db0 = db5;
  db5.db = 5;
  db0.db = 0;
  Client in5(ex(), db5), in0(ex(), db0);
  const std::string k = key("k");
  ASSERT_TRUE(run(in5.command("SET", k, "five")));
  auto from0 = run(in0.command("GET", k));
  ASSERT_TRUE(from0);
  EXPECT_TRUE(from0->is_nil());
  auto from5 = run(in5.command("GET", k));
  ASSERT_TRUE(from5);
  EXPECT_EQ(from5->as_string(), "five");
  EXPECT_TRUE(run(in5.command("DEL", k)));
}

// --- failures -----------------------------------------------------------------

TEST_F(RedisClient, UnreachableRedisFailsFastWithAClearErrorAndOneLogLine) {
  RedisConfig c = config_for("redis://127.0.0.1:" + std::to_string(test::free_loopback_port()));
  std::string lines;
  Result<Reply> first = Reply(), later = Reply();
  Millis first_took{}, later_took{};
  {
    test::StdoutCapture capture;
    Client redis(ex(), c, Backoff{20ms, 40ms});
    auto start = Clock::now();
    first = run(redis.command("PING"));  // waits for the first attempt, which fails
    first_took = since(start);
    for (int i = 0; i < 20; ++i) {
      start = Clock::now();
      later = run(redis.command("PING"));
      later_took = std::max(later_took, since(start));
      test::run_until(io_, [] { return false; }, 10ms);  // let attempts come and go
    }
    EXPECT_FALSE(redis.connected());
    EXPECT_EQ(redis.last_error(), "connect: Connection refused");
    lines = capture.contents();
  }
  ASSERT_FALSE(first);
  EXPECT_EQ(first.error().code, errc::redis_unavailable);
  EXPECT_EQ(first.error().message, "could not connect to Redis: connect: Connection refused");
  EXPECT_LT(first_took, 1s);
  ASSERT_FALSE(later);
  EXPECT_EQ(later.error().code, errc::redis_unavailable);
  EXPECT_EQ(later.error().message, "Redis is not connected: connect: Connection refused");
  EXPECT_NE(later.error().detail.find("redis 127.0.0.1:"), std::string::npos) << later.error().detail;
  EXPECT_LT(later_took, 50ms) << "fails at once while disconnected";
  EXPECT_EQ(count(lines, "redis_disconnected"), 1u) << lines;
  EXPECT_EQ(count(lines, "redis_connected"), 0u) << lines;
}

TEST_F(RedisClient, ConnectTimeoutBoundsAServerThatNeverAnswers) {
  FakeRedis fake(io_, FakeRedis::Then::silence, /*answer_ping=*/false);
  RedisConfig c = config_for(fake.url());
  c.connect_timeout = 200ms;
  Client redis(ex(), c);
  const auto start = Clock::now();
  auto r = run(redis.timed_command(5s, "PING"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "could not connect to Redis: no connection within 200 ms (redis.connect_timeout)");
  EXPECT_GE(since(start), 150ms);
  EXPECT_LT(since(start), 1s);
}

TEST_F(RedisClient, ACommandWithoutAnswerTimesOutAndTheConnectionIsReplaced) {
  FakeRedis fake(io_, FakeRedis::Then::silence);
  RedisConfig c = config_for(fake.url());
  c.command_timeout = 200ms;
  Client redis(ex(), c);
  redis.start();
  ASSERT_TRUE(wait_until([&] { return redis.connected(); }));

  std::optional<Result<Reply>> first, second;
  const auto start = Clock::now();
  spawn_into(redis.command("GET", "a"), first);
  spawn_into(redis.timed_command(5s, "GET", "b"), second);  // behind the first: lost with the connection
  ASSERT_TRUE(wait_until([&] { return first && second; }));
  EXPECT_GE(since(start), 150ms);
  EXPECT_LT(since(start), 1s);
  ASSERT_FALSE(*first);
  EXPECT_EQ(first->error().code, errc::redis_unavailable);
  EXPECT_EQ(first->error().message, "Redis did not answer within 200 ms");
  ASSERT_FALSE(*second);
  EXPECT_EQ(second->error().message, "the connection to Redis was lost: Redis did not answer within 200 ms");
  // Replies would now come out of order: a new connection replaces the old.
  EXPECT_TRUE(wait_until([&] { return fake.connections() == 2 && redis.connected(); }));
}

TEST_F(RedisClient, ATimeoutOnRealRedisReconnectsAndServesAgain) {
  Client redis(ex(), config_for(test::shared_redis_url()));
  // BLPOP blocks for a second; the client waits 100 ms for it.
  auto blocked = run(redis.timed_command(100ms, "BLPOP", key("empty"), "1"));
  ASSERT_FALSE(blocked);
  EXPECT_EQ(blocked.error().message, "Redis did not answer within 100 ms");
  auto after = run(redis.command("PING"));
  ASSERT_TRUE(after) << after.error().detail;
  EXPECT_EQ(after->as_string(), "PONG");
}

TEST_F(RedisClient, APerCallTimeoutMayBeLongerThanTheDefault) {
  RedisConfig c = config_for(test::shared_redis_url());
  c.command_timeout = 50ms;
  Client redis(ex(), c);
  ASSERT_TRUE(run(redis.command("PING")));
  auto waited = run(redis.timed_command(2s, "BLPOP", key("empty"), "0.2"));
  ASSERT_TRUE(waited) << waited.error().detail;
  EXPECT_TRUE(waited->is_nil());
}

TEST_F(RedisClient, AMalformedReplyBreaksTheConnectionNotTheProcess) {
  FakeRedis fake(io_, FakeRedis::Then::garbage);
  Client redis(ex(), config_for(fake.url()));
  auto r = run(redis.command("GET", "a"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::redis_unavailable);
  EXPECT_EQ(r.error().message,
            "the connection to Redis was lost: malformed reply: Protocol error, got \"?\" as reply type byte");
  EXPECT_TRUE(wait_until([&] { return fake.connections() == 2 && redis.connected(); }));
  auto again = run(redis.command("GET", "a"));
  EXPECT_FALSE(again) << "the fake answers garbage every time";
}

TEST_F(RedisClient, AReplyOverTheLimitIsRefused) {
  FakeRedis fake(io_, FakeRedis::Then::huge_bulk);
  RedisConfig c = config_for(fake.url());
  c.max_reply_bytes = 4096;
  Client redis(ex(), c);
  auto r = run(redis.command("GET", "a"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "the connection to Redis was lost: a reply larger than 4096 bytes (redis.max_reply_bytes)");
  EXPECT_TRUE(wait_until([&] { return fake.connections() == 2; }));
}

TEST_F(RedisClient, TheReplyLimitAppliesToRealValues) {
  RedisConfig small = config_for(test::shared_redis_url()), large = small;
  small.max_reply_bytes = 64 * 1024;
  Client limited(ex(), small), unlimited(ex(), large);
  const std::string k = key("big");
  const std::string value(1 << 20, 'v');
  ASSERT_TRUE(run(unlimited.command("SET", k, value)));
  auto refused = run(limited.command("GET", k));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message,
            "the connection to Redis was lost: a reply larger than 65536 bytes (redis.max_reply_bytes)");
  auto got = run(unlimited.command("GET", k));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->as_string().size(), value.size());
  ASSERT_TRUE(run(limited.command("DEL", k))) << "the limited client reconnected";
}

// --- reconnect ----------------------------------------------------------------

TEST_F(RedisClient, ReconnectsByItselfWhenRedisComesBack) {
  test::RedisServer server;
  std::vector<bool> changes;
  std::string lines;
  {
    test::StdoutCapture capture;
    Client redis(ex(), config_for(server.url()), Backoff{50ms, 400ms});
    redis.on_state_change([&](bool up) { changes.push_back(up); });
    auto before = run(redis.command("PING"));
    ASSERT_TRUE(before);

    server.kill();
    ASSERT_TRUE(wait_until([&] { return !redis.connected(); }));
    Millis slowest{0};
    for (int i = 0; i < 20; ++i) {
      const auto start = Clock::now();
      auto down = run(redis.command("PING"));
      slowest = std::max(slowest, since(start));
      ASSERT_FALSE(down);
      EXPECT_EQ(down.error().code, errc::redis_unavailable);
    }
    EXPECT_LT(slowest, 100ms) << "commands fail fast while Redis is down";

    server.start();
    EXPECT_TRUE(wait_until([&] { return redis.connected(); }, 3s)) << "back within the backoff (at most 400 ms)";
    auto after = run(redis.command("PING"));
    ASSERT_TRUE(after) << after.error().detail;
    test::run_until(io_, [&] { return changes.size() == 3; }, 1s);
    lines = capture.contents();
  }
  EXPECT_EQ(changes, (std::vector<bool>{true, false, true}));
  EXPECT_EQ(count(lines, "redis_connected"), 2u) << lines;
  EXPECT_EQ(count(lines, "redis_disconnected"), 1u) << "one line per state change, not per failed command\n" << lines;
}

// --- AUTH ---------------------------------------------------------------------

constexpr const char* kPassword = "pw-Right-4711";

TEST_F(RedisClient, AuthenticatesWithThePasswordOfTheUrl) {
  test::RedisServer server({.args = {"--requirepass", kPassword}});
  Client redis(ex(), config_for("redis://:" + std::string(kPassword) + "@127.0.0.1:" + std::to_string(server.port())));
  auto r = run(redis.command("PING"));
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->as_string(), "PONG");
}

TEST_F(RedisClient, AuthenticatesAsANamedUser) {
  test::RedisServer server({.args = {"--user", "alice", "on", ">alice-Secret-99", "~*", "&*", "+@all"}});
  Client redis(ex(), config_for("redis://alice:alice-Secret-99@127.0.0.1:" + std::to_string(server.port())));
  auto r = run(redis.command("ACL", "WHOAMI"));
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->as_string(), "alice");
}

TEST_F(RedisClient, AWrongPasswordIsAClearErrorThatNeverShowsIt) {
  test::RedisServer server({.args = {"--requirepass", kPassword}});
  const std::string wrong = "pw-Wrong-0815";
  std::string lines, last_error;
  Result<Reply> r = Reply();
  {
    test::StdoutCapture capture;
    Client redis(ex(), config_for("redis://:" + wrong + "@127.0.0.1:" + std::to_string(server.port())));
    r = run(redis.command("PING"));
    last_error = redis.last_error();
    lines = capture.contents();
  }
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::redis_unavailable);
  EXPECT_EQ(r.error().message,
            "could not connect to Redis: Redis refused the credentials: WRONGPASS invalid username-password pair or "
            "user is disabled.");
  for (const std::string& text : {r.error().message, r.error().detail, last_error, lines}) {
    EXPECT_EQ(text.find(wrong), std::string::npos) << text;
    EXPECT_EQ(text.find(kPassword), std::string::npos) << text;
  }
  EXPECT_EQ(count(lines, "redis_disconnected"), 1u) << lines;
}

TEST_F(RedisClient, NoPasswordForARedisThatWantsOneSaysSo) {
  test::RedisServer server({.args = {"--requirepass", kPassword}});
  Client redis(ex(), config_for(server.url()));
  auto r = run(redis.command("PING"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "could not connect to Redis: Redis refused PING: NOAUTH Authentication required.");
}

// --- TLS ----------------------------------------------------------------------

// A private Redis serving TLS only, with a certificate for DNS:localhost made
// for the test (its own CA).
class RedisTls : public RedisClient {
 protected:
  RedisTls() : dir_(::testing::TempDir() + "sluice-redis-tls-" + std::to_string(::getpid())) {
    std::filesystem::create_directories(dir_);
    const test::LocalhostCertificate pem = test::make_localhost_certificate();
    std::ofstream(cert_file()) << pem.cert;
    std::ofstream(dir_ + "/key.pem") << pem.key;
    server_ = std::make_unique<test::RedisServer>(test::RedisServer::Options{
        .args = {"--tls-cert-file", cert_file(), "--tls-key-file", dir_ + "/key.pem", "--tls-ca-cert-file",
                 cert_file(), "--tls-auth-clients", "no"},
        .tls = true});
  }
  ~RedisTls() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::string cert_file() const { return dir_ + "/cert.pem"; }
  RedisConfig config(const std::string& host) {
    RedisConfig c = config_for("rediss://" + host + ":" + std::to_string(server_->port()));
    c.ca_file = cert_file();
    return c;
  }

  std::string dir_;
  std::unique_ptr<test::RedisServer> server_;
};

TEST_F(RedisTls, ServesCommandsOverTls) {
  Client redis(ex(), config("localhost"));
  auto set = run(redis.command("SET", "k", "over tls"));
  ASSERT_TRUE(set) << set.error().detail;
  auto get = run(redis.command("GET", "k"));
  ASSERT_TRUE(get);
  EXPECT_EQ(get->as_string(), "over tls");
}

TEST_F(RedisTls, AnUntrustedCertificateIsRefused) {
  RedisConfig c = config("localhost");
  c.ca_file.clear();  // the system store does not know the test's CA
  Client redis(ex(), c);
  auto r = run(redis.command("PING"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "could not connect to Redis: TLS handshake failed: certificate verification failed: self-signed "
            "certificate");
}

TEST_F(RedisTls, TheHostNameIsChecked) {
  Client redis(ex(), config("127.0.0.1"));  // the certificate names DNS:localhost only
  auto r = run(redis.command("PING"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "could not connect to Redis: TLS handshake failed: certificate verification failed: IP address mismatch");
}

// --- cancellation and close ---------------------------------------------------

asio::awaitable<void> race_with_timer(Client& redis, Millis after) {
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer timer(co_await asio::this_coro::executor, after);
  co_await (redis.timed_command(5s, "GET", "a") || timer.async_wait(asio::use_awaitable));
}

TEST_F(RedisClient, ACancelledCommandCompletesAtOnce) {
  FakeRedis fake(io_, FakeRedis::Then::silence);
  Client redis(ex(), config_for(fake.url()));
  redis.start();
  ASSERT_TRUE(wait_until([&] { return redis.connected(); }));
  const auto start = Clock::now();
  run(race_with_timer(redis, 100ms));  // || waits for the loser to finish: fast only if it was cancelled
  EXPECT_LT(since(start), 1s);
  EXPECT_TRUE(redis.connected());
}

TEST_F(RedisClient, CloseFailsWhatIsPendingAndEverythingAfter) {
  FakeRedis fake(io_, FakeRedis::Then::silence);
  Client redis(ex(), config_for(fake.url()));
  std::optional<Result<Reply>> pending;
  spawn_into(redis.timed_command(5s, "GET", "a"), pending);
  ASSERT_TRUE(wait_until([&] { return redis.connected(); }));
  redis.close();
  ASSERT_TRUE(wait_until([&] { return pending.has_value(); }, 1s));
  ASSERT_FALSE(*pending);
  EXPECT_EQ(pending->error().message, "the Redis client was closed");
  EXPECT_FALSE(redis.connected());
  auto after = run(redis.command("PING"), 1s);
  ASSERT_FALSE(after);
  EXPECT_EQ(after.error().message, "the Redis client was closed");
}

}  // namespace
}  // namespace sluice::redis
