// redis::Client's commands against real redis-server processes on loopback
// (the shared one of the test command, REDIS_URL, and private ones a test may
// kill) and against fake servers that never answer or answer garbage:
// replies, pipelining, timeouts, bad replies, reconnecting, cancellation.
// Opening connections (AUTH, SELECT, TLS, connect failures) is
// connection_test.cpp. Every wait is bounded.
#include "sluice/redis/client.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>

#include "redis_fixture.hpp"
#include "support/redis_server.hpp"
#include "support/stdout_capture.hpp"

namespace sluice::redis {
namespace {

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

// --- failures -----------------------------------------------------------------

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
  // Connected first: a command's timeout counts from its submission, so the
  // connect and its setup would count against the 50 ms.
  ASSERT_TRUE(run(redis.timed_command(2s, "PING")));
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
    // Far below the 2 s command_timeout: nothing waits (the bound is loose
    // for a loaded machine; the failure itself is one event-loop turn).
    EXPECT_LT(slowest, 500ms) << "commands fail fast while Redis is down";

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
