// The cache stage in Pipeline::serve, over a fake Cache that records what it
// is asked: where the lookup sits (after the allow-list and budget, before
// the key's buckets and any provider), what a hit answers, and which
// answers are stored (complete 2xx ones only, streams once they end cleanly).
#include "cache_stage.hpp"

#include <deque>

#include "pipeline_fixture.hpp"

namespace sluice::pipeline {
namespace {

using namespace test_support;

class FakeCache final : public cache::Cache {
 public:
  asio::awaitable<cache::Found> lookup(const cache::Key& key, std::optional<float> min_similarity) override {
    lookups.push_back({key, min_similarity});
    if (found.empty()) co_return cache::Found{};
    cache::Found f = std::move(found.front());
    found.pop_front();
    co_return f;
  }

  asio::awaitable<void> store(const cache::Key& key, cache::Entry entry, std::vector<float> vector) override {
    stores.push_back({key, std::move(entry), std::move(vector)});
    co_return;
  }

  Stats stats() const override { return {}; }

  struct Lookup {
    cache::Key key;
    std::optional<float> min_similarity;
  };
  struct Store {
    cache::Key key;
    cache::Entry entry;
    std::vector<float> vector;
  };
  std::vector<Lookup> lookups;
  std::vector<Store> stores;
  std::deque<cache::Found> found;  // answered in order, then misses
};

const std::string kCompletion =
    R"({"id":"chatcmpl-up","object":"chat.completion","created":1,"model":"model-a","choices":[{"index":0,)"
    R"("message":{"role":"assistant","content":"Paris is the capital of France."},"finish_reason":"stop"}],)"
    R"("usage":{"prompt_tokens":10,"completion_tokens":7,"total_tokens":17}})";

cache::Found hit(cache::Outcome outcome = cache::Outcome::hit_exact, std::string body = kCompletion) {
  auto entry = std::make_shared<cache::Entry>();
  entry->format = Endpoint::chat_completions;
  entry->body = std::move(body);
  entry->usage = {10, 7, true};
  entry->id = "00000000000000ab";
  cache::Found f;
  f.outcome = outcome;
  f.entry = std::move(entry);
  f.similarity = 0.93f;
  return f;
}

class CacheStage : public PipelineServe {
 protected:
  CacheStage() {
    config_.cache.enabled = true;
    a_->response.body = kCompletion;
  }

  Result<Answer> serve_cached(Call call, std::string_view key = "") {
    build();
    pipeline_->set_cache(&cache_, config_.cache);
    return serve(std::move(call), key);
  }

  // Reads a stream to its end (or its error); what it yielded.
  std::string drain(ChunkStream& stream) {
    std::string all;
    for (;;) {
      auto next = run_coro(io_, stream.next());
      if (!next || next->empty()) return all;
      all += *next;
    }
  }

  void settle() { io_.poll(); }  // runs the detached store

  void add_key(int rpm, std::vector<std::string> models = {}) {
    GatewayKeyConfig key;
    key.id = "k1";
    key.tenant = "acme";
    key.key = "sk-test-1";
    key.rpm = rpm;
    key.models = std::move(models);
    config_.auth.keys.push_back(key);
  }

  FakeCache cache_;
};

TEST_F(CacheStage, AMissIsServedAndStored) {
  const auto r = serve_cached(chat_call("chat"));
  ASSERT_TRUE(r);
  EXPECT_EQ(a_->calls.size(), 1u);
  EXPECT_EQ(ctx_->cache, CacheDecision::miss);
  ASSERT_EQ(cache_.lookups.size(), 1u);
  EXPECT_FALSE(cache_.lookups[0].min_similarity);
  settle();
  ASSERT_EQ(cache_.stores.size(), 1u);
  const cache::Entry& entry = cache_.stores[0].entry;
  EXPECT_EQ(entry.body, kCompletion);
  EXPECT_EQ(entry.format, Endpoint::chat_completions);
  EXPECT_EQ(entry.usage.completion_tokens, 5) << "the usage the provider reported";
  EXPECT_EQ(entry.id.size(), 16u);
  EXPECT_EQ(cache_.stores[0].key.exact, cache_.lookups[0].key.exact);
}

TEST_F(CacheStage, AHitIsServedWithoutAProviderAndFresh) {
  cache_.found.push_back(hit());
  const auto r = serve_cached(chat_call("chat"));
  ASSERT_TRUE(r);
  EXPECT_TRUE(a_->calls.empty());
  EXPECT_TRUE(b_->calls.empty());
  const json body = json::parse(r->body);
  EXPECT_EQ(body["choices"][0]["message"]["content"], "Paris is the capital of France.");
  EXPECT_EQ(body["model"], "chat") << "the model as the request named it";
  EXPECT_NE(body["id"], "chatcmpl-up");
  EXPECT_NE(body["created"], 1);
  EXPECT_EQ(ctx_->cache, CacheDecision::hit_exact);
  EXPECT_EQ(ctx_->cache_key, "00000000000000ab");
  EXPECT_EQ(ctx_->cache_saved.completion_tokens, 7);
  EXPECT_FALSE(ctx_->cache_similarity);
  EXPECT_TRUE(ctx_->provider.empty());
  settle();
  EXPECT_TRUE(cache_.stores.empty()) << "a hit is not stored again";
}

TEST_F(CacheStage, ASemanticHitSaysHowSimilar) {
  cache_.found.push_back(hit(cache::Outcome::hit_semantic));
  const auto r = serve_cached(chat_call("chat"));
  ASSERT_TRUE(r);
  EXPECT_EQ(ctx_->cache, CacheDecision::hit_semantic);
  ASSERT_TRUE(ctx_->cache_similarity);
  EXPECT_FLOAT_EQ(*ctx_->cache_similarity, 0.93f);
}

TEST_F(CacheStage, AHitReplaysAsAStreamForAStreamingRequest) {
  cache_.found.push_back(hit());
  auto r = serve_cached(chat_call("chat", true));
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->streamed());
  const std::string events = drain(*r->stream);
  EXPECT_NE(events.find("\"object\":\"chat.completion.chunk\""), std::string::npos);
  EXPECT_NE(events.find("\"model\":\"chat\""), std::string::npos);
  EXPECT_TRUE(events.ends_with("data: [DONE]\n\n"));
  EXPECT_TRUE(a_->calls.empty());
}

TEST_F(CacheStage, AHitCostsNoRateLimitTokens) {
  add_key(1);
  cache_.found.push_back(hit());
  cache_.found.push_back(hit());
  EXPECT_TRUE(serve_cached(chat_call("chat"), "sk-test-1"));
  EXPECT_TRUE(serve_cached(chat_call("chat"), "sk-test-1"));
  EXPECT_TRUE(serve_cached(chat_call("chat"), "sk-test-1")) << "a miss: the one request of the minute";
  const auto limited = serve_cached(chat_call("chat"), "sk-test-1");
  ASSERT_FALSE(limited);
  EXPECT_EQ(limited.error().code, errc::rate_limited);
}

TEST_F(CacheStage, AKeyThatMayNotUseTheModelNeverGetsItsCachedAnswer) {
  add_key(0, {"solo"});
  cache_.found.push_back(hit());
  const auto r = serve_cached(chat_call("chat"), "sk-test-1");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::model_not_allowed);
  EXPECT_TRUE(cache_.lookups.empty());
}

TEST_F(CacheStage, KeysAreTheCallersTenants) {
  add_key(0);
  ASSERT_TRUE(serve_cached(chat_call("chat"), "sk-test-1"));
  ASSERT_EQ(cache_.lookups.size(), 1u);
  EXPECT_EQ(cache_.lookups[0].key.tenant, "acme");
}

TEST_F(CacheStage, NoCacheSkipsTheLookupButStores) {
  Call call = chat_call("chat");
  call.cache = CacheDirective::no_cache;
  ASSERT_TRUE(serve_cached(std::move(call)));
  EXPECT_TRUE(cache_.lookups.empty());
  EXPECT_EQ(ctx_->cache, CacheDecision::bypass);
  settle();
  EXPECT_EQ(cache_.stores.size(), 1u);
}

TEST_F(CacheStage, NoStoreSkipsBoth) {
  Call call = chat_call("chat");
  call.cache = CacheDirective::no_store;
  ASSERT_TRUE(serve_cached(std::move(call)));
  EXPECT_TRUE(cache_.lookups.empty());
  EXPECT_EQ(ctx_->cache, CacheDecision::bypass);
  settle();
  EXPECT_TRUE(cache_.stores.empty());
}

TEST_F(CacheStage, TheThresholdHeaderReachesTheLookup) {
  Call call = chat_call("chat");
  call.headers.push_back({std::string(kCacheThresholdHeader), "0.97"});
  ASSERT_TRUE(serve_cached(std::move(call)));
  ASSERT_EQ(cache_.lookups.size(), 1u);
  ASSERT_TRUE(cache_.lookups[0].min_similarity);
  EXPECT_FLOAT_EQ(*cache_.lookups[0].min_similarity, 0.97f);

  Call bad = chat_call("chat");
  bad.headers.push_back({std::string(kCacheThresholdHeader), "high"});
  const auto r = serve_cached(std::move(bad));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::bad_request);
}

TEST(CacheThreshold, ParsesSimilaritiesOnly) {
  EXPECT_FALSE(parse_cache_threshold("").value());
  EXPECT_FLOAT_EQ(parse_cache_threshold("0.9").value().value(), 0.9f);
  EXPECT_FLOAT_EQ(parse_cache_threshold("1").value().value(), 1.0f);
  EXPECT_FALSE(parse_cache_threshold("1.5"));
  EXPECT_FALSE(parse_cache_threshold("-0.1"));
  EXPECT_FALSE(parse_cache_threshold("0.9x"));
  EXPECT_FALSE(parse_cache_threshold("nan"));
}

TEST_F(CacheStage, TheCachesHeaderIsAskedFor) {
  build();
  const auto& names = pipeline_->header_names();
  EXPECT_NE(std::find(names.begin(), names.end(), kCacheThresholdHeader), names.end());
}

TEST_F(CacheStage, AnUpstreamErrorIsNotStored) {
  Error rejected = make_error(errc::upstream_rejected, "bad temperature");
  rejected.http_status = 422;
  a_->errors.push_back(rejected);
  EXPECT_FALSE(serve_cached(chat_call("chat")));
  settle();
  EXPECT_TRUE(cache_.stores.empty());
}

TEST_F(CacheStage, AnAnswerEndingInToolCallsIsStoredOnlyWhenAllowed) {
  a_->response.body =
      R"({"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant",)"
      R"("content":null,"tool_calls":[{"id":"t","type":"function","function":{"name":"f","arguments":"{}"}}]},)"
      R"("finish_reason":"tool_calls"}]})";
  ASSERT_TRUE(serve_cached(chat_call("chat")));
  settle();
  EXPECT_TRUE(cache_.stores.empty());
  config_.cache.tool_calls = true;
  ASSERT_TRUE(serve_cached(chat_call("chat")));
  settle();
  EXPECT_EQ(cache_.stores.size(), 1u);
}

TEST_F(CacheStage, AnAnswerOverTheEntryBoundIsNotStored) {
  config_.cache.max_entry_bytes = 64;
  ASSERT_TRUE(serve_cached(chat_call("chat")));
  settle();
  EXPECT_TRUE(cache_.stores.empty());
}

std::vector<std::string> chat_stream_events() {
  return {R"(data: {"id":"s","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"Par"},"finish_reason":null}]})"
          "\n\n",
          R"(data: {"id":"s","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"is."},"finish_reason":"stop"}]})"
          "\n\n",
          "data: [DONE]\n\n"};
}

TEST_F(CacheStage, ACompleteStreamIsStoredAsTheWholeAnswer) {
  a_->events = chat_stream_events();
  a_->stream_usage = {4, 2, true};
  auto r = serve_cached(chat_call("chat", true));
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->streamed());
  drain(*r->stream);
  settle();
  ASSERT_EQ(cache_.stores.size(), 1u);
  const json body = json::parse(cache_.stores[0].entry.body);
  EXPECT_EQ(body["choices"][0]["message"]["content"], "Paris.");
  EXPECT_EQ(cache_.stores[0].entry.usage.prompt_tokens, 4);
}

TEST_F(CacheStage, AStreamThatBreaksIsNotStored) {
  a_->events = chat_stream_events();
  a_->events.pop_back();
  a_->stream_break = make_error(errc::upstream_unavailable, "reset");
  auto r = serve_cached(chat_call("chat", true));
  ASSERT_TRUE(r);
  drain(*r->stream);
  settle();
  EXPECT_TRUE(cache_.stores.empty());
}

TEST_F(CacheStage, AnAbandonedStreamIsNotStored) {
  a_->events = chat_stream_events();
  auto r = serve_cached(chat_call("chat", true));
  ASSERT_TRUE(r);
  ASSERT_TRUE(run_coro(io_, r->stream->next()));
  r->stream.reset();  // the client left
  settle();
  EXPECT_TRUE(cache_.stores.empty());
}

TEST_F(CacheStage, EmbeddingsAreNeverCached) {
  ASSERT_TRUE(serve_cached(chat_call("embed", false, Endpoint::embeddings)));
  EXPECT_TRUE(cache_.lookups.empty());
  EXPECT_EQ(ctx_->cache, CacheDecision::bypass);
  settle();
  EXPECT_TRUE(cache_.stores.empty());
}

TEST_F(CacheStage, WithoutACacheNothingIsDecided) {
  ASSERT_TRUE(serve(chat_call("chat")));
  EXPECT_EQ(ctx_->cache, CacheDecision::none);
}

}  // namespace
}  // namespace sluice::pipeline
