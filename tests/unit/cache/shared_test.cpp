// Sharing through Redis: two Cache objects (two replicas) on one real Redis.
// What one stores the other serves, whether it was running then (the feed)
// or started later (the load); tenants stay apart; another embedder's vector
// is never compared; Redis going away leaves each replica a working local
// cache, and sharing resumes when it is back.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "sluice/cache/cache.hpp"
#include "sluice/redis/client.hpp"
#include "support/manual_clock.hpp"
#include "support/redis_server.hpp"
#include "support/run_coro.hpp"

namespace sluice::cache {
namespace {

namespace asio = boost::asio;
using test::run_coro;
using test::run_until;

class TableEmbedding final : public Embedding {
 public:
  explicit TableEmbedding(std::string name) : name_(std::move(name)) {}
  std::map<std::string, std::vector<float>> vectors;
  std::string_view name() const override { return name_; }
  std::size_t dimensions() const override { return 2; }
  asio::awaitable<Result<std::vector<float>>> embed(std::string text) override {
    const auto it = vectors.find(text);
    co_return it != vectors.end() ? it->second : std::vector<float>{0, 1};
  }

 private:
  std::string name_;
};

class SharedCacheTest : public ::testing::Test {
 protected:
  SharedCacheTest() {
    EXPECT_FALSE(parse_redis_url(server.url(), redis));
    config.enabled = true;
    config.semantic.enabled = true;
    clock->set_wall(std::chrono::system_clock::now());
    embedding->vectors["What is the capital of France?"] = {1, 0};
    embedding->vectors["Which city is the capital of France?"] = {0.96f, 0.28f};
    embedding->vectors["Name a number"] = {0.6f, -0.8f};
  }

  struct Replica {
    std::unique_ptr<redis::Client> client;
    std::unique_ptr<Cache> cache;
  };

  Replica replica(std::shared_ptr<Embedding> with = nullptr) {
    Replica r;
    r.client = std::make_unique<redis::Client>(io.get_executor(), redis, redis::Backoff{Millis{50}, Millis{200}});
    CacheParts parts;
    parts.clock = clock;
    parts.embedding = with ? with : embedding;
    parts.verify = [](std::string_view, std::string_view) { return Verdict{}; };
    parts.redis = r.client.get();
    parts.redis_config = redis;
    parts.executor = io.get_executor();
    r.cache = make_cache(config, std::move(parts));
    return r;
  }

  Key key(std::string prompt, std::string tenant = "acme") {
    LlmRequest r;
    r.model = "gpt-4o";
    r.body = R"({"model":"gpt-4o","temperature":0,"messages":[{"role":"user","content":")" + prompt + R"("}]})";
    return make_key(r, tenant, config).value();
  }

  void store(Cache& cache, const Key& k, std::string body) {
    Entry e;
    e.body = std::move(body);
    e.usage = Usage{12, 34, true, 5};
    run_coro(io, cache.store(k, std::move(e), {}));
  }

  Found lookup(Cache& cache, const Key& k) { return run_coro(io, cache.lookup(k, std::nullopt)); }

  bool wait_for_entries(Cache& cache, std::size_t n) {
    return run_until(io, [&] { return cache.stats().entries >= n; }, std::chrono::seconds(10));
  }

  asio::io_context io;
  test::RedisServer server;
  RedisConfig redis;
  CacheConfig config;
  std::shared_ptr<test::ManualClock> clock = std::make_shared<test::ManualClock>();
  std::shared_ptr<TableEmbedding> embedding = std::make_shared<TableEmbedding>("table-v1");
};

TEST_F(SharedCacheTest, WhatOneReplicaStoresTheOtherServes) {
  auto a = replica(), b = replica();
  run_until(io, [&] { return a.client->connected() && b.client->connected(); });
  store(*a.cache, key("What is the capital of France?"), "Paris");
  ASSERT_TRUE(wait_for_entries(*b.cache, 1));
  const Found exact = lookup(*b.cache, key("What is the capital of France?"));
  ASSERT_EQ(exact.outcome, Outcome::hit_exact);
  EXPECT_EQ(exact.entry->body, "Paris");
  EXPECT_EQ(exact.entry->usage.completion_tokens, 34);
  EXPECT_EQ(exact.entry->usage.cached_tokens, 5);
  EXPECT_EQ(exact.entry->embedder, "table-v1");
  const Found semantic = lookup(*b.cache, key("Which city is the capital of France?"));
  ASSERT_EQ(semantic.outcome, Outcome::hit_semantic);
  EXPECT_EQ(semantic.entry->body, "Paris");
  // Another tenant, byte for byte the same prompt: never.
  EXPECT_EQ(lookup(*b.cache, key("What is the capital of France?", "globex")).outcome, Outcome::miss);
  EXPECT_EQ(lookup(*b.cache, key("Which city is the capital of France?", "globex")).outcome, Outcome::miss);
  // The entry expires in Redis with the cache's ttl.
  auto pttl = run_coro(io, a.client->command("PTTL", "sluice:cache:e:" + exact.entry->id));
  ASSERT_TRUE(pttl && pttl->is_integer());
  EXPECT_GT(pttl->as_integer(), 3'500'000);
  EXPECT_LE(pttl->as_integer(), 3'600'000);
}

TEST_F(SharedCacheTest, AReplicaStartedLaterLoadsTheLiveEntries) {
  auto a = replica();
  store(*a.cache, key("What is the capital of France?"), "Paris");
  store(*a.cache, key("Name a colour"), "Blue");
  run_until(io, [&] { return false; }, std::chrono::milliseconds(100));  // the writes land
  auto c = replica();
  ASSERT_TRUE(wait_for_entries(*c.cache, 2));
  EXPECT_EQ(lookup(*c.cache, key("Name a colour")).outcome, Outcome::hit_exact);
  EXPECT_EQ(lookup(*c.cache, key("Which city is the capital of France?")).outcome, Outcome::hit_semantic);
}

TEST_F(SharedCacheTest, AnotherEmbeddersVectorsServeTheExactTierOnly) {
  auto a = replica();
  auto other = std::make_shared<TableEmbedding>("other-v1");
  other->vectors = embedding->vectors;
  auto b = replica(other);
  run_until(io, [&] { return b.client->connected(); });
  store(*a.cache, key("What is the capital of France?"), "Paris");
  ASSERT_TRUE(wait_for_entries(*b.cache, 1));
  EXPECT_EQ(lookup(*b.cache, key("What is the capital of France?")).outcome, Outcome::hit_exact);
  EXPECT_EQ(lookup(*b.cache, key("Which city is the capital of France?")).outcome, Outcome::miss);
  EXPECT_EQ(b.cache->stats().partitions, 0u);
}

TEST_F(SharedCacheTest, DamagedOrForeignEntriesAreSkipped) {
  auto b = replica();
  run_until(io, [&] { return b.client->connected(); });
  redis::Client raw(io.get_executor(), redis);
  // Another version's entry (fields missing), one with a vector of a size no
  // float array has, and a feed item naming nothing.
  ASSERT_TRUE(run_coro(io, raw.command("HSET", "sluice:cache:e:00000000000000ff", "tenant", "acme", "body", "x")));
  ASSERT_TRUE(run_coro(io, raw.command("XADD", "sluice:cache:feed", "*", "id", "00000000000000ff", "stored", "1")));
  ASSERT_TRUE(run_coro(io, raw.command("XADD", "sluice:cache:feed", "*", "id", "not-hex")));
  auto a = replica();
  store(*a.cache, key("Name a colour"), "Blue");
  ASSERT_TRUE(wait_for_entries(*b.cache, 1));
  run_until(io, [&] { return false; }, std::chrono::milliseconds(100));
  EXPECT_EQ(b.cache->stats().entries, 1u);
  EXPECT_EQ(lookup(*b.cache, key("Name a colour")).outcome, Outcome::hit_exact);
  auto c = replica();  // loads at start: the damaged hash is skipped there too
  ASSERT_TRUE(wait_for_entries(*c.cache, 1));
  run_until(io, [&] { return false; }, std::chrono::milliseconds(100));
  EXPECT_EQ(c.cache->stats().entries, 1u);
}

TEST_F(SharedCacheTest, RedisTroubleLeavesALocalCacheAndSharingResumes) {
  auto a = replica(), b = replica();
  run_until(io, [&] { return a.client->connected() && b.client->connected(); });
  server.kill();
  const auto started = std::chrono::steady_clock::now();
  store(*a.cache, key("Name a colour"), "Blue");
  EXPECT_EQ(lookup(*a.cache, key("Name a colour")).outcome, Outcome::hit_exact);
  EXPECT_EQ(lookup(*a.cache, key("Name a number")).outcome, Outcome::miss);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(200)) << "nothing waits on Redis";
  run_until(io, [&] { return false; }, std::chrono::milliseconds(300));
  server.start();
  ASSERT_TRUE(run_until(io, [&] { return a.client->connected(); }));
  // Written after the outage: B learns it once its feed is back.
  store(*a.cache, key("What is the capital of France?"), "Paris");
  ASSERT_TRUE(run_until(io, [&] {
    return b.cache->stats().entries >= 1;
  }, std::chrono::seconds(10)));
  EXPECT_EQ(lookup(*b.cache, key("What is the capital of France?")).outcome, Outcome::hit_exact);
}

}  // namespace
}  // namespace sluice::cache
