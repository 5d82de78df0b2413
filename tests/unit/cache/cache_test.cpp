// The in-process cache: both tiers, partitions, TTL, the budgets and the
// embedder checks, with a manual clock, a fake embedding (vectors chosen by
// the test) and a fake verifier.
#include <malloc.h>

#include <atomic>
#include <future>
#include <map>
#include <thread>

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "sluice/cache/cache.hpp"
#include "support/manual_clock.hpp"
#include "support/run_coro.hpp"

namespace sluice::cache {
namespace {

namespace asio = boost::asio;
using test::run_coro;

// Vectors set by the test per prompt (normalised here); others get a vector
// of their own, orthogonal to the set ones.
class FakeEmbedding final : public Embedding {
 public:
  std::string name_ = "fake-v1";
  std::map<std::string, std::vector<float>> vectors;
  bool hang = false;  // never answers, until cancelled
  int calls = 0;

  std::string_view name() const override { return name_; }
  std::size_t dimensions() const override { return 4; }
  asio::awaitable<Result<std::vector<float>>> embed(std::string text) override {
    ++calls;
    if (hang) {
      asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::seconds(30));
      co_await timer.async_wait(asio::use_awaitable);  // throws when cancelled
    }
    auto it = vectors.find(text);
    std::vector<float> v = it != vectors.end() ? it->second : std::vector<float>{0, 0, 0, 1};
    float norm = 0;
    for (float x : v) norm += x * x;
    for (float& x : v) x /= std::sqrt(norm);
    co_return v;
  }
};

struct FakeVerify {
  std::vector<std::pair<std::string, std::string>> calls;
  Verdict operator()(std::string_view stored, std::string_view incoming) {
    calls.emplace_back(stored, incoming);
    if (incoming.find(" not ") != std::string_view::npos) return {false, "negation", ""};
    return {};
  }
};

class CacheTest : public ::testing::Test {
 protected:
  CacheTest() {
    config.enabled = true;
    config.semantic.enabled = true;
    config.semantic.threshold = 0.85;
    config.semantic.max_temperature = 0.3;
  }

  std::unique_ptr<Cache> make(bool semantic = true) {
    CacheParts parts;
    parts.clock = clock;
    if (semantic) {
      parts.embedding = embedding;
      parts.verify = [this](std::string_view a, std::string_view b) { return verify(a, b); };
    }
    return make_cache(config, std::move(parts));
  }

  Key key(std::string prompt, std::string tenant = "acme", std::string system = "Be brief.") {
    LlmRequest r;
    r.model = "gpt-4o";
    r.body = R"({"model":"gpt-4o","temperature":0,"messages":[{"role":"system","content":")" + system +
             R"("},{"role":"user","content":")" + prompt + R"("}]})";
    return make_key(r, tenant, config).value();
  }

  Found lookup(Cache& cache, const Key& k, std::optional<float> min_similarity = std::nullopt) {
    return run_coro(io, cache.lookup(k, min_similarity));
  }
  void store(Cache& cache, const Key& k, std::string body, std::vector<float> vector = {}) {
    Entry e;
    e.body = std::move(body);
    e.usage = Usage{10, 20, true};
    run_coro(io, cache.store(k, std::move(e), std::move(vector)));
  }

  asio::io_context io;
  std::shared_ptr<test::ManualClock> clock = std::make_shared<test::ManualClock>();
  std::shared_ptr<FakeEmbedding> embedding = std::make_shared<FakeEmbedding>();
  FakeVerify verify;
  CacheConfig config;
};

TEST_F(CacheTest, ExactHitThenMiss) {
  auto cache = make(false);
  const Key k = key("What is the capital of France?");
  EXPECT_EQ(lookup(*cache, k).outcome, Outcome::miss);
  store(*cache, k, "Paris");
  const Found hit = lookup(*cache, k);
  ASSERT_EQ(hit.outcome, Outcome::hit_exact);
  EXPECT_EQ(hit.entry->body, "Paris");
  EXPECT_EQ(hit.entry->usage.completion_tokens, 20);
  EXPECT_EQ(hit.entry->id.size(), 16u);
  EXPECT_EQ(hit.entry->expires_at - hit.entry->stored_at, std::chrono::hours(1));
  EXPECT_EQ(lookup(*cache, key("What is the capital of Spain?")).outcome, Outcome::miss);
  EXPECT_EQ(cache->stats().entries, 1u);
}

TEST_F(CacheTest, SemanticHitIsVerifiedAndNearestFirst) {
  embedding->vectors["What is the capital of France?"] = {1, 0, 0, 0};
  embedding->vectors["Which city is the capital of France?"] = {0.95f, 0.31f, 0, 0};
  auto cache = make();
  const Key stored = key("What is the capital of France?");
  store(*cache, stored, "Paris");
  const Found hit = lookup(*cache, key("Which city is the capital of France?"));
  ASSERT_EQ(hit.outcome, Outcome::hit_semantic);
  EXPECT_EQ(hit.entry->body, "Paris");
  EXPECT_NEAR(hit.similarity, 0.95, 0.01);
  ASSERT_EQ(verify.calls.size(), 1u);
  EXPECT_EQ(verify.calls[0].first, "What is the capital of France?");
  EXPECT_EQ(verify.calls[0].second, "Which city is the capital of France?");
  EXPECT_EQ(hit.vector.size(), 4u);
}

TEST_F(CacheTest, VerifierRejectionIsAMissNamingTheRule) {
  embedding->vectors["Is Paris in France?"] = {1, 0, 0, 0};
  embedding->vectors["Is Paris not in France?"] = {1, 0.01f, 0, 0};
  auto cache = make();
  store(*cache, key("Is Paris in France?"), "Yes");
  const Found miss = lookup(*cache, key("Is Paris not in France?"));
  EXPECT_EQ(miss.outcome, Outcome::miss);
  EXPECT_EQ(miss.rejected_by, "negation");
}

TEST_F(CacheTest, TenantsNeverShareAnswers) {
  embedding->vectors["Same words"] = {1, 0, 0, 0};
  auto cache = make();
  store(*cache, key("Same words", "acme"), "acme's answer");
  EXPECT_EQ(lookup(*cache, key("Same words", "globex")).outcome, Outcome::miss);
  EXPECT_TRUE(verify.calls.empty());  // not even a candidate
  EXPECT_EQ(lookup(*cache, key("Same words", "acme")).outcome, Outcome::hit_exact);
}

TEST_F(CacheTest, SemanticTierNeverReturnsAnotherPartitionsNeighbour) {
  embedding->vectors["Q"] = {1, 0, 0, 0};
  embedding->vectors["Q again"] = {1, 0, 0, 0};
  auto cache = make();
  store(*cache, key("Q", "acme", "Be brief."), "brief");
  // Same tenant, another system prompt: another partition, however near.
  EXPECT_EQ(lookup(*cache, key("Q again", "acme", "Be verbose.")).outcome, Outcome::miss);
  EXPECT_TRUE(verify.calls.empty());
  EXPECT_EQ(lookup(*cache, key("Q again", "acme", "Be brief.")).outcome, Outcome::hit_semantic);
}

TEST_F(CacheTest, ThresholdMayBeRaisedPerRequestNeverLowered) {
  embedding->vectors["A"] = {1, 0, 0, 0};
  embedding->vectors["B"] = {0.9f, 0.436f, 0, 0};  // cosine 0.9
  embedding->vectors["C"] = {0.8f, 0.6f, 0, 0};    // cosine 0.8, below 0.85
  auto cache = make();
  store(*cache, key("A"), "a");
  EXPECT_EQ(lookup(*cache, key("B")).outcome, Outcome::hit_semantic);
  EXPECT_EQ(lookup(*cache, key("B"), 0.95f).outcome, Outcome::miss);
  EXPECT_EQ(lookup(*cache, key("C"), 0.5f).outcome, Outcome::miss);
  EXPECT_EQ(lookup(*cache, key("C")).outcome, Outcome::miss);
}

TEST_F(CacheTest, EntriesExpireAfterTtl) {
  config.ttl = Millis{60'000};
  embedding->vectors["A"] = {1, 0, 0, 0};
  embedding->vectors["A'"] = {1, 0.05f, 0, 0};
  auto cache = make();
  store(*cache, key("A"), "a");
  clock->advance(std::chrono::seconds(59));
  EXPECT_EQ(lookup(*cache, key("A")).outcome, Outcome::hit_exact);
  EXPECT_EQ(lookup(*cache, key("A'")).outcome, Outcome::hit_semantic);
  clock->advance(std::chrono::seconds(1));
  EXPECT_EQ(lookup(*cache, key("A'")).outcome, Outcome::miss);
  EXPECT_EQ(lookup(*cache, key("A")).outcome, Outcome::miss);
  EXPECT_EQ(cache->stats().entries, 0u);
  EXPECT_EQ(cache->stats().partitions, 0u);
  EXPECT_EQ(cache->stats().bytes, 0u) << "every byte counted in is counted out";
}

TEST_F(CacheTest, LeastRecentlyUsedGoFirstByCount) {
  config.max_entries = 2;
  auto cache = make(false);
  store(*cache, key("one"), "1");
  store(*cache, key("two"), "2");
  EXPECT_EQ(lookup(*cache, key("one")).outcome, Outcome::hit_exact);  // two is now the oldest
  store(*cache, key("three"), "3");
  EXPECT_EQ(lookup(*cache, key("two")).outcome, Outcome::miss);
  EXPECT_EQ(lookup(*cache, key("one")).outcome, Outcome::hit_exact);
  EXPECT_EQ(lookup(*cache, key("three")).outcome, Outcome::hit_exact);
  EXPECT_EQ(cache->stats().evictions, 1u);
}

TEST_F(CacheTest, LeastRecentlyUsedGoFirstByBytes) {
  config.max_bytes = 50'000;
  auto cache = make(false);
  for (int i = 0; i < 10; ++i) store(*cache, key("prompt " + std::to_string(i)), std::string(10'000, 'x'));
  const auto stats = cache->stats();
  EXPECT_LE(stats.bytes, config.max_bytes);
  EXPECT_EQ(stats.entries, 4u);
  EXPECT_EQ(lookup(*cache, key("prompt 9")).outcome, Outcome::hit_exact);
  EXPECT_EQ(lookup(*cache, key("prompt 5")).outcome, Outcome::miss);
}

TEST_F(CacheTest, LargerThanMaxEntryBytesIsNotStored) {
  config.max_entry_bytes = 1'000;
  auto cache = make(false);
  store(*cache, key("big"), std::string(2'000, 'x'));
  EXPECT_EQ(lookup(*cache, key("big")).outcome, Outcome::miss);
  store(*cache, key("small"), std::string(500, 'x'));
  EXPECT_EQ(lookup(*cache, key("small")).outcome, Outcome::hit_exact);
}

TEST_F(CacheTest, AnotherEmbeddersEntriesAreAMiss) {
  embedding->vectors["A"] = {1, 0, 0, 0};
  embedding->vectors["A'"] = {1, 0.05f, 0, 0};
  auto cache = make();
  store(*cache, key("A"), "a");
  embedding->name_ = "fake-v2";  // same dimensions, another embedder
  EXPECT_EQ(lookup(*cache, key("A'")).outcome, Outcome::miss);
  EXPECT_EQ(lookup(*cache, key("A")).outcome, Outcome::hit_exact);  // the exact tier needs no vector
}

TEST_F(CacheTest, AVectorFromTheLookupIsNotEmbeddedAgain) {
  embedding->vectors["A"] = {1, 0, 0, 0};
  auto cache = make();
  const Key k = key("A");
  const Found miss = lookup(*cache, k);
  ASSERT_EQ(embedding->calls, 1);
  store(*cache, k, "a", miss.vector);
  EXPECT_EQ(embedding->calls, 1);
  embedding->vectors["A'"] = {1, 0.05f, 0, 0};
  EXPECT_EQ(lookup(*cache, key("A'")).outcome, Outcome::hit_semantic);
}

TEST_F(CacheTest, AnEmbeddingTimeoutIsAMiss) {
  config.semantic.embed_timeout = Millis{20};
  auto cache = make();
  embedding->hang = true;
  const auto started = std::chrono::steady_clock::now();
  const Found found = lookup(*cache, key("A"));
  EXPECT_EQ(found.outcome, Outcome::miss);
  EXPECT_TRUE(found.vector.empty());
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  // Stored without a vector: the exact tier still works.
  store(*cache, key("A"), "a");
  EXPECT_EQ(lookup(*cache, key("A")).outcome, Outcome::hit_exact);
}

// A flood of unique prompts, each its own partition (new conversations) and
// all in one partition (one system prompt): the estimate stays under the
// budget, and so does the heap really in use.
TEST_F(CacheTest, AFloodOfUniquePromptsStaysUnderMaxBytes) {
  config.max_bytes = 4u << 20;
  config.max_entries = 1'000'000;
  config.semantic.candidates = 4;
  auto cache = make();
  const auto heap_before = mallinfo2().uordblks;
  for (int i = 0; i < 12'000; ++i) {
    const std::string n = std::to_string(i);
    embedding->vectors["q" + n] = {float(i % 7) + 1, float(i % 11), float(i % 13), 1};
    store(*cache, key("q" + n, "acme", i % 2 ? "Be brief." : "system " + n), std::string(400, 'x'));
  }
  const auto stats = cache->stats();
  EXPECT_LE(stats.bytes, config.max_bytes);
  EXPECT_GT(stats.evictions, 0u);
  EXPECT_GT(stats.entries, 1'000u);
  const auto heap_after = mallinfo2().uordblks;
  EXPECT_LT(heap_after - std::min(heap_before, heap_after), 2 * config.max_bytes);
}

class InlineHashed final : public Embedding {
 public:
  std::shared_ptr<const Embedder> e = make_hashed_embedder(64);
  std::string_view name() const override { return e->name(); }
  std::size_t dimensions() const override { return e->dimensions(); }
  asio::awaitable<Result<std::vector<float>>> embed(std::string text) override { co_return e->embed(text); }
};

// The semantic tier on the hashed embedder with a verifier that accepts
// (the index is under test), threshold 0.8; keys in one partition.
struct GraphCache {
  CacheConfig config;
  std::shared_ptr<test::ManualClock> clock = std::make_shared<test::ManualClock>();
  std::unique_ptr<Cache> cache;

  explicit GraphCache(std::size_t max_entries) {
    config.enabled = true;
    config.semantic.enabled = true;
    config.semantic.threshold = 0.8;
    config.max_entries = max_entries;
    CacheParts parts;
    parts.clock = clock;
    parts.embedding = std::make_shared<InlineHashed>();
    parts.verify = [](std::string_view, std::string_view) { return Verdict{}; };
    cache = make_cache(config, std::move(parts));
  }
  Key key(const std::string& prompt) const {
    LlmRequest r;
    r.model = "m";
    r.body = R"({"model":"m","temperature":0,"messages":[{"role":"user","content":")" + prompt + R"("}]})";
    return make_key(r, "t", config).value();
  }
};

// One partition past the flat size, turned over twice: the graph's reused
// slots (evicted entries' slots, revived for new vectors) are still found.
TEST(CacheGraph, ReusedSlotsAreFoundAfterChurn) {
  asio::io_context io;
  GraphCache g(1'500);
  auto& cache = g.cache;
  auto& clock = g.clock;
  const auto key = [&](const std::string& prompt) { return g.key(prompt); };
  const auto prompt = [](int i) {
    return "order " + std::to_string(i) + " of widget " + std::to_string(i * 7919 % 10007) + " shipped to depot " +
           std::to_string(i * 104729 % 1009);
  };
  for (int i = 0; i < 4'500; ++i) run_coro(io, cache->store(key(prompt(i)), Entry{.body = std::to_string(i)}, {}));
  EXPECT_EQ(cache->stats().entries, 1'500u);
  int found = 0;
  for (int i = 3'000; i < 4'500; ++i) {
    const Found f = run_coro(io, cache->lookup(key(prompt(i) + " today"), std::nullopt));
    found += f.outcome == Outcome::hit_semantic && f.entry->body == std::to_string(i);
  }
  EXPECT_GE(found, 1'425) << "of 1500";  // 95%: an approximate index, but not a lost one
  // Expired, every entry goes, and every byte with them.
  clock->advance(std::chrono::hours(2));
  for (int i = 3'000; i < 4'500; ++i) run_coro(io, cache->lookup(key(prompt(i)), std::nullopt));
  EXPECT_EQ(cache->stats().entries, 0u);
  EXPECT_EQ(cache->stats().bytes, 0u);
}

// A partition passing the flat size turns into a graph a few vectors a
// store (VectorIndex::kMigrateStep): lookups in between find every entry,
// those already in the graph and those still flat.
TEST(CacheGraph, LookupsDuringTheConversionFindEveryEntry) {
  asio::io_context io;
  GraphCache g(100'000);
  auto& cache = g.cache;
  const auto key = [&](const std::string& prompt) { return g.key(prompt); };
  const auto prompt = [](int i) {
    return "invoice " + std::to_string(i) + " for customer " + std::to_string(i * 7919 % 10007) + " in region " +
           std::to_string(i * 104729 % 1009);
  };
  int stored = 0;
  for (; stored < 520; ++stored) run_coro(io, cache->store(key(prompt(stored)), Entry{.body = std::to_string(stored)}, {}));
  // 512 flat + 8 stores past it: 8 of them in the graph, the rest flat.
  for (int round = 0; round < 70; ++round) {
    for (int i = round % 5; i < stored; i += 23) {
      const Found f = run_coro(io, cache->lookup(key(prompt(i) + " please"), std::nullopt));
      ASSERT_EQ(f.outcome, Outcome::hit_semantic) << "entry " << i << " after " << stored << " stores";
      ASSERT_EQ(f.entry->body, std::to_string(i));
    }
    run_coro(io, cache->store(key(prompt(stored)), Entry{.body = std::to_string(stored)}, {}));
    ++stored;
  }
  EXPECT_EQ(cache->stats().entries, static_cast<std::size_t>(stored));
}

// An embedder stuck on its worker: the cache's embed_timeout abandons it, the
// lookup is a miss at once, and the vector that comes later is dropped.
TEST(OnWorkers, AnAbandonedEmbeddingCompletesAtOnce) {
  struct Stuck final : Embedder {
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    std::atomic<int> started{0}, finished{0};
    std::string_view name() const override { return "stuck"; }
    std::size_t dimensions() const override { return 4; }
    std::vector<float> embed(std::string_view) const override {
      const_cast<std::atomic<int>&>(started) += 1;
      released.wait();
      const_cast<std::atomic<int>&>(finished) += 1;
      return {1, 0, 0, 0};
    }
  };
  asio::io_context io;
  auto stuck = std::make_shared<Stuck>();
  CacheConfig config;
  config.enabled = true;
  config.semantic.enabled = true;
  config.semantic.embed_timeout = Millis{300};
  CacheParts parts;
  parts.clock = std::make_shared<test::ManualClock>();
  parts.embedding = on_workers(stuck, 1);
  parts.verify = [](std::string_view, std::string_view) { return Verdict{}; };
  auto cache = make_cache(config, std::move(parts));
  LlmRequest r;
  r.model = "m";
  r.body = R"({"model":"m","temperature":0,"messages":[{"role":"user","content":"hello"}]})";
  const Key key = make_key(r, "t", config).value();
  std::optional<Found> result;
  asio::co_spawn(io, cache->lookup(key, std::nullopt), [&](std::exception_ptr, Found f) { result = std::move(f); });
  ASSERT_TRUE(test::run_until(io, [&] { return stuck->started.load() == 1; }, std::chrono::seconds(5)));
  ASSERT_TRUE(test::run_until(io, [&] { return result.has_value(); }, std::chrono::seconds(5)));
  const Found& found = *result;
  EXPECT_EQ(found.outcome, Outcome::miss);
  EXPECT_TRUE(found.vector.empty());
  EXPECT_EQ(stuck->finished.load(), 0);
  stuck->release.set_value();
  cache.reset();  // joins the worker, which finishes and drops its vector
  EXPECT_EQ(stuck->finished.load(), 1);
  io.restart();
  io.poll();  // nothing left to resume
}

TEST(OnWorkers, EmbedsOffTheLoopAndResumesOnIt) {
  asio::io_context io;
  auto embedding = on_workers(std::shared_ptr<const Embedder>(make_hashed_embedder(64)), 2);
  EXPECT_EQ(embedding->dimensions(), 64u);
  const auto caller = std::this_thread::get_id();
  std::thread::id resumed;
  auto vector = run_coro(io, [&]() -> asio::awaitable<Result<std::vector<float>>> {
    auto v = co_await embedding->embed("the capital of France");
    resumed = std::this_thread::get_id();
    co_return v;
  }());
  ASSERT_TRUE(vector);
  EXPECT_EQ(vector->size(), 64u);
  EXPECT_EQ(resumed, caller);
  EXPECT_EQ(*vector, make_hashed_embedder(64)->embed("the capital of France"));
}

// A cheap embedder (hashed-ngram) embeds a short text at once, on the
// caller's thread, with the vector embed() gives; a long text, or an
// embedder with a model, goes to the workers.
TEST(OnWorkers, ACheapEmbedderEmbedsAShortTextAtOnce) {
  const std::shared_ptr<const Embedder> hashed = make_hashed_embedder(64);
  EXPECT_TRUE(hashed->cheap());
  auto embedding = on_workers(hashed, 1);
  const auto at_once = embedding->embed_at_once("the capital of France");
  ASSERT_TRUE(at_once.has_value());
  EXPECT_EQ(*at_once, hashed->embed("the capital of France"));
  EXPECT_FALSE(embedding->embed_at_once(std::string(9 * 1024, 'a')).has_value());
  struct Costly final : Embedder {
    std::string_view name() const override { return "costly"; }
    std::size_t dimensions() const override { return 4; }
    std::vector<float> embed(std::string_view) const override { return {1, 0, 0, 0}; }
  };
  EXPECT_FALSE(on_workers(std::make_shared<Costly>(), 1)->embed_at_once("hello").has_value());
}

}  // namespace
}  // namespace sluice::cache
