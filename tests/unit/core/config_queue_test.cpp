// The `queue` section: defaults, every key, and what is refused.
#include <gtest/gtest.h>

#include <string>

#include "config_test_helpers.hpp"
#include "sluice/core/config.hpp"

namespace sluice {
namespace {

using namespace config_test;

const std::string kValid =
    "providers: [{ name: mock, type: mock }]\n"
    "models: [{ name: m, deployments: [{ provider: mock, model: m }] }]\n";

TEST(ConfigQueue, DefaultsWithoutTheSection) {
  const auto r = load(kValid);
  ASSERT_TRUE(r.config) << listing(r);
  const QueueConfig& q = r.config->queue;
  EXPECT_EQ(q.backend, QueueBackend::memory);
  EXPECT_EQ(q.max_wait, Millis{60'000});
  EXPECT_EQ(q.max_length, 10'000u);
  EXPECT_EQ(q.result_ttl, Millis{3'600'000});
  EXPECT_EQ(q.keepalive_interval, Millis{5'000});
  EXPECT_EQ(q.reclaim_after, Millis{60'000});
}

TEST(ConfigQueue, RedisBackendWithTheRedisSection) {
  const auto r = load(kValid + "queue: { backend: redis, reclaim_after: 5s }\nredis: { url: redis://127.0.0.1:6379 }\n");
  ASSERT_TRUE(r.config) << listing(r);
  EXPECT_EQ(r.config->queue.backend, QueueBackend::redis);
  EXPECT_EQ(r.config->queue.reclaim_after, Millis{5'000});
}

TEST(ConfigQueue, EveryKey) {
  const auto r = load(kValid + "queue: { backend: memory, max_wait: 0s, max_length: 5, result_ttl: 10m, "
                               "keepalive_interval: 250ms }\n");
  ASSERT_TRUE(r.config) << listing(r);
  const QueueConfig& q = r.config->queue;
  EXPECT_EQ(q.max_wait, Millis{0});
  EXPECT_EQ(q.max_length, 5u);
  EXPECT_EQ(q.result_ttl, Millis{600'000});
  EXPECT_EQ(q.keepalive_interval, Millis{250});
}

TEST(ConfigQueue, Refusals) {
  EXPECT_EQ(only_problem(load(kValid + "queue: { backend: redis }\n")).message,
            "queue.backend redis needs the redis section (redis.url)");
  EXPECT_EQ(only_problem(load(kValid + "queue: { reclaim_after: 10ms }\n")).message, "must be between 1s and 1h");
  EXPECT_EQ(only_problem(load(kValid + "queue: { backend: disk }\n")).message,
            "invalid value 'disk'; expected one of: memory, redis");
  EXPECT_EQ(only_problem(load(kValid + "queue: { max_wait: 2h }\n")).message, "must be between 0 and 1h");
  EXPECT_EQ(only_problem(load(kValid + "queue: { max_length: 0 }\n")).message, "must be between 1 and 10000000");
}

TEST(ConfigQueue, AKeysMaxPriority) {
  const auto r = load(kValid + "auth: { keys: [{ key: sk-gw-0123456789abcdef, tenant: a, max_priority: high }] }\n");
  ASSERT_TRUE(r.config) << listing(r);
  EXPECT_EQ(r.config->auth.keys[0].max_priority, Priority::high);
  EXPECT_EQ(only_problem(load(kValid + "auth: { keys: [{ key: sk-gw-0123456789abcdef, tenant: a, max_priority: top }] }\n"))
                .message,
            "invalid value 'top'; expected one of: low, normal, high");
}

}  // namespace
}  // namespace sluice
