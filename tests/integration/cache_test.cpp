// The answer cache through the real daemon: exact hits and misses with the
// headers a client sees, what partitions the cache (tenant, system prompt,
// temperature, tools, response format), what is never stored (non-2xx
// answers, broken or abandoned streams, no-store), streams and complete
// answers served from one entry either way, a hit that costs no rate-limit
// tokens, Cache-Control, expiry, the access log, and the semantic tier
// (a paraphrase hits; changed meanings miss) when this build has a verifier.
#include <gtest/gtest.h>

#include <cstdlib>
#include <regex>
#include <string>
#include <thread>

#include "dialect_fixture.hpp"
#include "gateway_fixture.hpp"
#include "support/canary.hpp"
#include "support/fake_upstream.hpp"
#include "support/redis_server.hpp"
#include "support/stdout_capture.hpp"
#include "support/test_client.hpp"

namespace sluice::test {
namespace {

const std::string kKeyA = test_secret("gw-cache-a");
const std::string kKeyB = test_secret("gw-cache-b");

Headers bearer(const std::string& key) { return {{"Authorization", "Bearer " + key}}; }

std::string answer_text(const HttpResponse& r) {
  const json j = parse_json(r.body);
  if (j.is_discarded() || !j.contains("choices")) return "<" + r.body + ">";
  return j["choices"][0]["message"]["content"].get<std::string>();
}

// The text of a chat stream's content deltas.
std::string streamed_text(const std::vector<std::string>& events) {
  std::string text;
  for (const std::string& e : events) {
    if (e == "[DONE]") continue;
    const json j = parse_json(e);
    if (j.is_discarded() || !j.contains("choices") || j["choices"].empty()) continue;
    text += j["choices"][0]["delta"].value("content", "");
  }
  return text;
}

class Cache : public ::testing::Test {
 protected:
  Cache() {
    ::setenv("SLUICE_TEST_CACHE_KEY_A", kKeyA.c_str(), 1);
    ::setenv("SLUICE_TEST_CACHE_KEY_B", kKeyB.c_str(), 1);
  }
  ~Cache() override {
    ::unsetenv("SLUICE_TEST_CACHE_KEY_A");
    ::unsetenv("SLUICE_TEST_CACHE_KEY_B");
  }

  // Provider "up" (the fake upstream) serving gpt-test, with `cache` as the
  // cache section's body and `extra` appended (auth...).
  std::string yaml(const std::string& cache = "  enabled: true\n", const std::string& extra = "") {
    return ConfigBuilder().openai_provider("up", fake.base_url()).model("gpt-test", {{"up", "gpt-test"}}).yaml() +
           (cache.empty() ? "" : "cache:\n" + cache) + extra;
  }

  HttpResponse chat(const Gateway& gw, json extra = json::object(), const std::string& prompt = "hello",
                    Headers headers = {}) {
    return http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("gpt-test", std::move(extra), prompt),
                        std::move(headers));
  }

  FakeUpstream fake;
};

TEST_F(Cache, AnIdenticalRequestIsAnExactHit) {
  Gateway gw(yaml());
  ASSERT_TRUE(gw.started());
  HttpResponse first = chat(gw, {}, "What is the capital of France?");
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.headers["x-sluice-cache"], "miss");
  EXPECT_EQ(first.headers.count("x-sluice-cache-key"), 0u);

  HttpResponse second = chat(gw, {}, "What is the capital of France?");
  ASSERT_EQ(second.status, 200) << second.body;
  EXPECT_EQ(second.headers["x-sluice-cache"], "hit-exact");
  EXPECT_TRUE(std::regex_match(second.headers["x-sluice-cache-key"], std::regex("[0-9a-f]{16}")));
  EXPECT_EQ(second.headers.count("x-sluice-cache-similarity"), 0u);
  EXPECT_EQ(second.headers.count("x-sluice-provider"), 0u) << "no provider answered";
  EXPECT_EQ(answer_text(second), answer_text(first));
  const json a = parse_json(first.body), b = parse_json(second.body);
  EXPECT_NE(a["id"], b["id"]) << "a fresh id";
  EXPECT_EQ(b["model"], "gpt-test");
  EXPECT_EQ(b["usage"], a["usage"]);
  EXPECT_EQ(fake.request_count(), 1u);

  HttpResponse other = chat(gw, {}, "What is the capital of Spain?");
  EXPECT_EQ(other.headers["x-sluice-cache"], "miss");
  EXPECT_NE(answer_text(other), answer_text(first));
  EXPECT_EQ(fake.request_count(), 2u);
}

TEST_F(Cache, WithoutTheCacheThereIsNoCacheHeader) {
  Gateway gw(yaml(""));
  ASSERT_TRUE(gw.started());
  chat(gw);
  HttpResponse r = chat(gw);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.headers.count("x-sluice-cache"), 0u);
  EXPECT_EQ(fake.request_count(), 2u);
}

TEST_F(Cache, OneTenantsAnswerIsNeverServedToAnother) {
  const std::string auth =
      "auth:\n  keys:\n"
      "    - key: ${SLUICE_TEST_CACHE_KEY_A}\n      tenant: team-a\n"
      "    - key: ${SLUICE_TEST_CACHE_KEY_B}\n      tenant: team-b\n";
  Gateway gw(yaml("  enabled: true\n", auth));
  ASSERT_TRUE(gw.started());
  HttpResponse a = chat(gw, {}, "Summarise our Q3 plan", bearer(kKeyA));
  HttpResponse b = chat(gw, {}, "Summarise our Q3 plan", bearer(kKeyB));
  ASSERT_EQ(b.status, 200) << b.body;
  EXPECT_EQ(b.headers["x-sluice-cache"], "miss") << "a byte-identical prompt of another tenant";
  EXPECT_NE(answer_text(a), answer_text(b));
  EXPECT_EQ(chat(gw, {}, "Summarise our Q3 plan", bearer(kKeyA)).headers["x-sluice-cache"], "hit-exact");
  EXPECT_EQ(fake.request_count(), 2u);
}

TEST_F(Cache, WhatChangesTheAnswerIsAMiss) {
  Gateway gw(yaml());
  ASSERT_TRUE(gw.started());
  const std::string prompt = "List three primes";
  ASSERT_EQ(chat(gw, {}, prompt).headers["x-sluice-cache"], "miss");
  const json tools = json::array({{{"type", "function"}, {"function", {{"name", "calc"}, {"parameters", {{"type", "object"}}}}}}});
  const std::vector<json> variants = {
      {{"messages", {{{"role", "system"}, {"content", "Answer in French."}}, {{"role", "user"}, {"content", prompt}}}}},
      {{"temperature", 0.2}},
      {{"tools", tools}},
      {{"response_format", {{"type", "json_object"}}}},
      {{"max_tokens", 12}},
  };
  for (const json& extra : variants) {
    HttpResponse r = chat(gw, extra, prompt);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.headers["x-sluice-cache"], "miss") << extra.dump();
  }
  EXPECT_EQ(fake.request_count(), 1u + variants.size());
  EXPECT_EQ(chat(gw, {{"temperature", 0.2}}, prompt).headers["x-sluice-cache"], "hit-exact");
}

TEST_F(Cache, AHitCostsNoRateLimitTokens) {
  const std::string auth = "auth:\n  keys:\n    - key: ${SLUICE_TEST_CACHE_KEY_A}\n      tenant: team-a\n      rpm: 1\n";
  Gateway gw(yaml("  enabled: true\n", auth));
  ASSERT_TRUE(gw.started());
  HttpResponse first = chat(gw, {}, "hello", bearer(kKeyA));
  HttpResponse second = chat(gw, {}, "hello", bearer(kKeyA));
  ASSERT_EQ(first.status, 200) << first.body;
  ASSERT_EQ(second.status, 200) << second.body;
  EXPECT_EQ(second.headers["x-sluice-cache"], "hit-exact");
  EXPECT_EQ(second.headers.count("x-ratelimit-remaining-requests"), 0u) << "a hit says nothing of the group's capacity";
  EXPECT_EQ(chat(gw, {}, "something else", bearer(kKeyA)).status, 429) << "the key's one request was the first";
}

TEST_F(Cache, ANonSuccessIsNeverStored) {
  Behaviour refused;
  refused.status = 400;
  refused.status_until = 1;
  fake.set_behaviour(refused);
  Gateway gw(yaml());
  ASSERT_TRUE(gw.started());
  EXPECT_EQ(chat(gw).status, 400);
  HttpResponse retry = chat(gw);
  ASSERT_EQ(retry.status, 200) << retry.body;
  EXPECT_EQ(retry.headers["x-sluice-cache"], "miss");
  EXPECT_EQ(chat(gw).headers["x-sluice-cache"], "hit-exact");
  EXPECT_EQ(fake.request_count(), 2u);
}

TEST_F(Cache, ACompleteStreamIsServedToAPlainRequestAndBack) {
  Gateway gw(yaml());
  ASSERT_TRUE(gw.started());
  SseReader streamed(gw.port(), "/v1/chat/completions", chat_body("gpt-test", {{"stream", true}}, "stream me"));
  ASSERT_EQ(streamed.status(), 200);
  EXPECT_EQ(streamed.headers().at("x-sluice-cache"), "miss");
  const std::string text = streamed_text(streamed.remaining_events());
  ASSERT_TRUE(streamed.ended_cleanly());
  ASSERT_EQ(text, "c0c1c2");

  HttpResponse plain = chat(gw, {}, "stream me");
  ASSERT_EQ(plain.status, 200) << plain.body;
  EXPECT_EQ(plain.headers["x-sluice-cache"], "hit-exact");
  EXPECT_EQ(answer_text(plain), text);

  HttpResponse complete = chat(gw, {}, "answer me whole");
  ASSERT_EQ(complete.status, 200);
  SseReader replay(gw.port(), "/v1/chat/completions",
                   chat_body("gpt-test", {{"stream", true}, {"stream_options", {{"include_usage", true}}}},
                             "answer me whole"));
  ASSERT_EQ(replay.status(), 200);
  EXPECT_EQ(replay.headers().at("x-sluice-cache"), "hit-exact");
  EXPECT_EQ(replay.headers().at("content-type"), "text/event-stream");
  const auto events = replay.remaining_events();
  ASSERT_GE(events.size(), 4u);
  EXPECT_EQ(events.back(), "[DONE]");
  EXPECT_EQ(streamed_text(events), answer_text(complete));
  const json usage = parse_json(events[events.size() - 2]);
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"], parse_json(complete.body)["usage"]);
  EXPECT_EQ(fake.request_count(), 2u);
}

TEST_F(Cache, AStreamThatBreaksIsNotStored) {
  Behaviour breaking;
  breaking.drop_after = 1;
  fake.set_behaviour(breaking);
  Gateway gw(yaml());
  ASSERT_TRUE(gw.started());
  SseReader broken(gw.port(), "/v1/chat/completions", chat_body("gpt-test", {{"stream", true}}, "fragile"));
  ASSERT_EQ(broken.status(), 200);
  const auto events = broken.remaining_events();
  ASSERT_FALSE(events.empty());
  EXPECT_TRUE(is_error_event(events.back())) << events.back();
  fake.set_behaviour({});
  HttpResponse after = chat(gw, {}, "fragile");
  ASSERT_EQ(after.status, 200);
  EXPECT_EQ(after.headers["x-sluice-cache"], "miss");
  EXPECT_EQ(fake.request_count(), 2u);
}

TEST_F(Cache, AnAbandonedStreamIsNotStored) {
  Behaviour slow;
  slow.stream_chunks = 5;
  slow.chunk_delay_ms = 300;
  fake.set_behaviour(slow);
  Gateway gw(yaml());
  ASSERT_TRUE(gw.started());
  {
    SseReader reader(gw.port(), "/v1/chat/completions", chat_body("gpt-test", {{"stream", true}}, "left early"));
    ASSERT_EQ(reader.status(), 200);
    ASSERT_TRUE(reader.next_event());
    reader.disconnect();
  }
  ASSERT_TRUE(fake.wait_for_closed(1, std::chrono::seconds(5))) << "the gateway dropped the upstream stream";
  fake.set_behaviour({});
  HttpResponse after = chat(gw, {}, "left early");
  ASSERT_EQ(after.status, 200);
  EXPECT_EQ(after.headers["x-sluice-cache"], "miss");
}

TEST_F(Cache, CacheControlNoCacheAndNoStore) {
  Gateway gw(yaml());
  ASSERT_TRUE(gw.started());
  HttpResponse fresh = chat(gw, {}, "hello", {{"Cache-Control", "no-cache"}});
  EXPECT_EQ(fresh.headers["x-sluice-cache"], "bypass");
  EXPECT_EQ(chat(gw).headers["x-sluice-cache"], "hit-exact") << "no-cache still stores";
  EXPECT_EQ(chat(gw, {}, "hello", {{"Cache-Control", "no-cache"}}).headers["x-sluice-cache"], "bypass");
  EXPECT_EQ(fake.request_count(), 2u);

  HttpResponse secret = chat(gw, {}, "private", {{"Cache-Control", "no-store"}});
  EXPECT_EQ(secret.headers["x-sluice-cache"], "bypass");
  EXPECT_EQ(chat(gw, {}, "private").headers["x-sluice-cache"], "miss") << "no-store is never stored";
}

TEST_F(Cache, AnswersExpireAfterTheirTtl) {
  Gateway gw(yaml("  enabled: true\n  ttl: 1s\n"));
  ASSERT_TRUE(gw.started());
  chat(gw);
  EXPECT_EQ(chat(gw).headers["x-sluice-cache"], "hit-exact");
  // The daemon's clock is the real one; the cache's own tests drive ttl
  // with a manual clock. One second is the smallest ttl the config takes.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_EQ(chat(gw).headers["x-sluice-cache"], "miss");
  EXPECT_EQ(fake.request_count(), 2u);
}

TEST_F(Cache, AThresholdThatIsNotASimilarityIsRefused) {
  Gateway gw(yaml());
  ASSERT_TRUE(gw.started());
  HttpResponse r = chat(gw, {}, "hello", {{"x-sluice-cache-threshold", "very"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("x-sluice-cache-threshold"), std::string::npos) << r.body;
  EXPECT_EQ(chat(gw, {}, "hello", {{"x-sluice-cache-threshold", "0.99"}}).status, 200);
}

TEST_F(Cache, TheAccessLogSaysWhatTheCacheDidAndSaved) {
  std::string logs;
  HttpResponse hit;
  {
    Gateway gw(yaml(), {.log_level = "info"});
    ASSERT_TRUE(gw.started());
    StdoutCapture capture;
    chat(gw);
    hit = chat(gw);
    // The line is written once the answer went out: one more exchange
    // lets the loop get there before the log is read.
    http_request(gw.port(), "GET", "/v1/models");
    logs = capture.contents();
  }
  ASSERT_EQ(hit.headers["x-sluice-cache"], "hit-exact");
  const std::string line = log_line(logs, "request", hit.headers["x-request-id"]);
  EXPECT_NE(line.find("cache=hit-exact"), std::string::npos) << line;
  const json usage = parse_json(hit.body)["usage"];
  const int saved = usage["prompt_tokens"].get<int>() + usage["completion_tokens"].get<int>();
  EXPECT_NE(line.find("tokens_saved=" + std::to_string(saved)), std::string::npos) << line;
}

TEST_F(Cache, AnthropicClientsGetTheirDialectFromTheCache) {
  Gateway gw(yaml());
  ASSERT_TRUE(gw.started());
  const json body = {{"model", "gpt-test"}, {"max_tokens", 64}, {"messages", {{{"role", "user"}, {"content", "hi there"}}}}};
  HttpResponse first = http_request(gw.port(), "POST", "/v1/messages", body.dump());
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.headers["x-sluice-cache"], "miss");
  json streaming = body;
  streaming["stream"] = true;
  SseReader replay(gw.port(), "/v1/messages", streaming.dump());
  ASSERT_EQ(replay.status(), 200);
  EXPECT_EQ(replay.headers().at("x-sluice-cache"), "hit-exact");
  const auto events = replay.remaining_events();
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(parse_json(events.front())["type"], "message_start");
  EXPECT_EQ(parse_json(events.back())["type"], "message_stop");
  std::string text;
  for (const std::string& e : events) {
    const json j = parse_json(e);
    if (j["type"] == "content_block_delta") text += j["delta"].value("text", "");
  }
  EXPECT_EQ(text, parse_json(first.body)["content"][0]["text"]);
  EXPECT_EQ(fake.request_count(), 1u);
}

TEST_F(Cache, ReplicasShareEntriesThroughRedis) {
  RedisServer redis;
  const std::string shared = "redis:\n  url: \"" + redis.url() + "\"\n";
  // B's own upstream refuses everything (and a refusal is never stored), so
  // a 200 from B can only be A's answer, learnt through Redis.
  FakeUpstream refusing;
  Behaviour refuse;
  refuse.status = 400;
  refusing.set_behaviour(refuse);
  Gateway a(yaml("  enabled: true\n", shared));
  Gateway b(ConfigBuilder().openai_provider("up", refusing.base_url()).model("gpt-test", {{"up", "gpt-test"}}).yaml() +
            "cache:\n  enabled: true\n" + shared);
  ASSERT_TRUE(a.started());
  ASSERT_TRUE(b.started());
  HttpResponse stored = chat(a, {}, "shared question");
  ASSERT_EQ(stored.status, 200);
  HttpResponse learnt;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  do {  // B follows the feed in the background: ask until it has learnt the entry
    learnt = chat(b, {}, "shared question");
    if (learnt.status == 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  } while (std::chrono::steady_clock::now() < deadline);
  ASSERT_EQ(learnt.status, 200) << learnt.body;
  EXPECT_EQ(learnt.headers["x-sluice-cache"], "hit-exact");
  EXPECT_EQ(answer_text(learnt), answer_text(stored));
  EXPECT_EQ(fake.request_count(), 1u);
}

// An answer in the deployment's own dialect (Anthropic's Messages, OpenAI's
// Responses API): a stream is added up from that dialect's events, and
// replayed as them.
struct NativeCase {
  Upstream kind;
  const char* path;
  const char* name;
};

class CacheNative : public ::testing::TestWithParam<NativeCase> {
 protected:
  json body(bool stream) const {
    json b = {{"model", "m"}, {"max_tokens", 64}};
    if (std::string(GetParam().path) == "/v1/messages") b["messages"] = {{{"role", "user"}, {"content", "hi there"}}};
    else b = {{"model", "m"}, {"input", "hi there"}};
    if (stream) b["stream"] = true;
    return b;
  }
  // The text of a complete answer, or of a stream's text deltas.
  static std::string text_of(const json& answer) {
    std::string text;
    if (answer.contains("content"))
      for (const json& block : answer["content"]) text += block.value("text", "");
    if (answer.contains("output"))
      for (const json& item : answer["output"])
        if (item["type"] == "message")
          for (const json& part : item["content"]) text += part.value("text", "");
    return text;
  }
  static std::string streamed(const std::vector<std::string>& events) {
    std::string text;
    for (const std::string& e : events) {
      const json j = parse_json(e);
      if (j.is_discarded()) continue;
      if (j["type"] == "content_block_delta") text += j["delta"].value("text", "");
      if (j["type"] == "response.output_text.delta") text += j["delta"].get<std::string>();
    }
    return text;
  }
  FakeUpstream fake;
};

INSTANTIATE_TEST_SUITE_P(EachDialect, CacheNative,
                         ::testing::Values(NativeCase{Upstream::anthropic, "/v1/messages", "messages"},
                                           NativeCase{Upstream::openai, "/v1/responses", "responses"}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST_P(CacheNative, AStreamInTheDeploymentsDialectIsStoredAndReplayed) {
  Gateway gw(dialect_yaml(GetParam().kind, fake) + "cache:\n  enabled: true\n");
  ASSERT_TRUE(gw.started());
  SseReader first(gw.port(), GetParam().path, body(true).dump());
  ASSERT_EQ(first.status(), 200);
  EXPECT_EQ(first.headers().at("x-sluice-cache"), "miss");
  const std::string text = streamed(first.remaining_events());
  ASSERT_TRUE(first.ended_cleanly());
  ASSERT_FALSE(text.empty());

  HttpResponse whole = http_request(gw.port(), "POST", GetParam().path, body(false).dump());
  ASSERT_EQ(whole.status, 200) << whole.body;
  EXPECT_EQ(whole.headers["x-sluice-cache"], "hit-exact");
  EXPECT_EQ(text_of(parse_json(whole.body)), text);

  SseReader replay(gw.port(), GetParam().path, body(true).dump());
  ASSERT_EQ(replay.status(), 200);
  EXPECT_EQ(replay.headers().at("x-sluice-cache"), "hit-exact");
  const auto events = replay.remaining_events();
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(streamed(events), text);
  const std::string last = parse_json(events.back())["type"];
  EXPECT_TRUE(last == "message_stop" || last == "response.completed") << last;
  EXPECT_EQ(fake.request_count(), 1u);
}

// The semantic tier serves requests sampled at most semantic.max_temperature
// hot; one that does not say counts as the providers' default, 1.
const json kCold = {{"temperature", 0}};
const std::string kSemantic = "  enabled: true\n  semantic:\n    enabled: true\n    embedder: hashed-ngram\n    threshold: 0.5\n";

TEST_F(Cache, MissingWeightsFallBackToHashedNgramWithAWarning) {
  std::string logs;
  {
    StdoutCapture capture;
    Gateway gw(yaml("  enabled: true\n  semantic:\n    enabled: true\n    weights_dir: /nonexistent/use-lite\n"),
               {.log_level = "info"});
    ASSERT_TRUE(gw.started());
    EXPECT_EQ(chat(gw, kCold).status, 200);
    logs = capture.contents();
  }
  EXPECT_NE(logs.find("cache_embedder_fallback"), std::string::npos) << logs;
  EXPECT_NE(logs.find("semantic=true embedder=hashed-ngram"), std::string::npos) << logs;
}

TEST_F(Cache, AParaphraseIsASemanticHit) {
  Gateway gw(yaml(kSemantic));
  ASSERT_TRUE(gw.started());
  HttpResponse first = chat(gw, kCold, "How do I reverse a list in Python?");
  ASSERT_EQ(first.headers["x-sluice-cache"], "miss");
  HttpResponse again = chat(gw, kCold, "How can I reverse a list in Python?");
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.headers["x-sluice-cache"], "hit-semantic");
  EXPECT_TRUE(std::regex_match(again.headers["x-sluice-cache-key"], std::regex("[0-9a-f]{16}")));
  const double similarity = std::stod(again.headers["x-sluice-cache-similarity"]);
  EXPECT_GE(similarity, 0.5);
  EXPECT_LE(similarity, 1.0);
  EXPECT_EQ(answer_text(again), answer_text(first));
  EXPECT_EQ(fake.request_count(), 1u);
}

TEST_F(Cache, ChangedMeaningsAreSemanticMisses) {
  Gateway gw(yaml(kSemantic));
  ASSERT_TRUE(gw.started());
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {"Is it safe to take ibuprofen with alcohol?", "Is it not safe to take ibuprofen with alcohol?"},
      {"Convert 5 miles to kilometers", "Convert 50 miles to kilometers"},
      {"What is the population of France?", "What is the population of Germany?"},
      {"How do I get from Paris to Lyon by train?", "How do I get from Lyon to Paris by train?"},
  };
  std::size_t expected = 0;
  for (const auto& [stored, incoming] : pairs) {
    chat(gw, kCold, stored);
    HttpResponse r = chat(gw, kCold, incoming);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.headers["x-sluice-cache"], "miss") << stored << " / " << incoming;
    expected += 2;
  }
  EXPECT_EQ(fake.request_count(), expected);
}

TEST_F(Cache, AClientMayRaiseTheThresholdNeverLowerIt) {
  {
    Gateway gw(yaml(kSemantic));
    ASSERT_TRUE(gw.started());
    chat(gw, kCold, "How do I reverse a list in Python?");
    HttpResponse strict = chat(gw, kCold, "How can I reverse a list in Python?", {{"x-sluice-cache-threshold", "0.9999"}});
    EXPECT_EQ(strict.headers["x-sluice-cache"], "miss");
  }
  std::string strict = kSemantic;
  strict.replace(strict.find("threshold: 0.5"), 14, "threshold: 0.9999");
  Gateway gw(yaml(strict));
  ASSERT_TRUE(gw.started());
  chat(gw, kCold, "How do I reverse a list in Python?");
  HttpResponse loose = chat(gw, kCold, "How can I reverse a list in Python?", {{"x-sluice-cache-threshold", "0.5"}});
  EXPECT_EQ(loose.headers["x-sluice-cache"], "miss") << "the configured threshold still holds";
}

}  // namespace
}  // namespace sluice::test
