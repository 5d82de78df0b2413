// Pipeline: error replies (status, x-should-retry, Retry-After), the stream
// error event, and handle() over scripted providers: routing, model lookup,
// failover on retryable errors only, streaming and embeddings conversion.
#include "sluice/pipeline/pipeline.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "../net/run_coro.hpp"
#include "sluice/core/base64.hpp"

namespace sluice::pipeline {
namespace {

namespace asio = boost::asio;
using json = nlohmann::json;
using test::run_coro;

std::string header(const Reply& r, std::string_view name) {
  std::string value;
  int seen = 0;
  for (const auto& h : r.headers)
    if (h.name == name) {
      value = h.value;
      ++seen;
    }
  EXPECT_LE(seen, 1) << "header repeated: " << name;
  return value;
}

bool has_header(const Reply& r, std::string_view name) {
  for (const auto& h : r.headers)
    if (h.name == name) return true;
  return false;
}

// --- error_reply ----------------------------------------------------------

TEST(ErrorReply, StatusBodyAndShouldRetry) {
  const Reply r = Pipeline::error_reply(make_error(errc::bad_request, "bad thing", "messages"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(header(r, "x-should-retry"), "false");
  EXPECT_FALSE(has_header(r, "retry-after"));
  const json body = json::parse(r.body);
  EXPECT_EQ(body["error"]["message"], "bad thing");
  EXPECT_EQ(body["error"]["type"], "invalid_request_error");
  EXPECT_EQ(body["error"]["param"], "messages");
  ASSERT_TRUE(r.error.has_value());
  EXPECT_EQ(r.error->code, errc::bad_request);
  EXPECT_FALSE(r.stream);
}

TEST(ErrorReply, RetryableErrorSaysSo) {
  const Reply r = Pipeline::error_reply(make_error(errc::upstream_unavailable, "down"));
  EXPECT_EQ(r.status, 502);
  EXPECT_EQ(header(r, "x-should-retry"), "true");
  EXPECT_FALSE(has_header(r, "retry-after"));
}

TEST(ErrorReply, RetryAfterDefaultsToOneOn429And503) {
  for (errc code : {errc::rate_limited, errc::upstream_rate_limited, errc::shutting_down}) {
    const Reply r = Pipeline::error_reply(make_error(code, "later"));
    EXPECT_TRUE(r.status == 429 || r.status == 503) << to_string(code);
    EXPECT_EQ(header(r, "retry-after"), "1") << to_string(code);
    EXPECT_EQ(header(r, "x-should-retry"), "true") << to_string(code);
  }
}

TEST(ErrorReply, RetryAfterUsesTheErrorsValue) {
  Error e = make_error(errc::upstream_rate_limited, "slow down");
  e.retry_after_ms = 17'000;
  EXPECT_EQ(header(Pipeline::error_reply(e), "retry-after"), "17");
  e.retry_after_ms = 0;
  EXPECT_EQ(header(Pipeline::error_reply(e), "retry-after"), "0");
}

TEST(ErrorReply, RetryAfterFollowsAnOverriddenStatus) {
  Error e = make_error(errc::upstream_rejected, "x");
  e.http_status = 503;
  e.retry_after_ms = 3'001;
  const Reply r = Pipeline::error_reply(e);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(header(r, "retry-after"), "4");
  EXPECT_EQ(header(r, "x-should-retry"), "false");
  // No Retry-After on other statuses, even when the error carries one.
  e.http_status = 404;
  EXPECT_FALSE(has_header(Pipeline::error_reply(e), "retry-after"));
}

TEST(ErrorReply, UpstreamBodyIsRelayed) {
  Error e = make_error(errc::upstream_rejected, "x");
  e.http_status = 400;
  e.upstream_body = R"({"error":{"message":"from upstream","type":"invalid_request_error","param":"temperature","code":null}})";
  const Reply r = Pipeline::error_reply(e);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, e.upstream_body);
}

TEST(StreamErrorEvent, IsOneDataEventWithTheErrorBody) {
  const Error e = make_error(errc::upstream_timeout, "provider 'p': idle for 60000 ms\nsecond line");
  const std::string event = Pipeline::stream_error_event(e);
  ASSERT_TRUE(event.starts_with("data: {\"error\":"));
  ASSERT_TRUE(event.ends_with("}\n\n"));
  const std::string payload = event.substr(6, event.size() - 8);
  EXPECT_EQ(payload.find('\n'), std::string::npos) << "the payload must stay on one data line";
  EXPECT_EQ(payload, error_body(e));
  const json j = json::parse(payload);
  EXPECT_EQ(j["error"]["type"], "upstream_error");
  EXPECT_EQ(j["error"]["code"], "upstream_timeout");
  EXPECT_EQ(j["error"]["message"], e.message);
}

// --- handle() over scripted providers ------------------------------------

class FixedStream final : public providers::ChunkStream {
 public:
  explicit FixedStream(std::vector<std::string> events, std::optional<Error> error = std::nullopt)
      : events_(events.begin(), events.end()), error_(std::move(error)) {}
  asio::awaitable<Result<std::string>> next() override {
    if (error_) co_return *std::exchange(error_, std::nullopt);
    if (events_.empty()) co_return std::string{};
    std::string e = std::move(events_.front());
    events_.pop_front();
    co_return e;
  }
  Usage usage() const override { return {}; }

 private:
  std::deque<std::string> events_;
  std::optional<Error> error_;
};

// Answers from a script, one entry per call; records what it was asked.
class ScriptedProvider final : public providers::Provider {
 public:
  explicit ScriptedProvider(std::string name) : name_(std::move(name)) {}

  const std::string& name() const noexcept override { return name_; }

  asio::awaitable<Result<providers::ProviderResponse>> complete(const LlmRequest& req, std::string upstream_model,
                                                                RequestContext&) override {
    calls.push_back({"complete", upstream_model, req.body_for_model(upstream_model)});
    if (!errors.empty()) {
      Error e = errors.front();
      errors.pop_front();
      co_return e;
    }
    co_return response;
  }

  asio::awaitable<Result<providers::StreamStart>> stream(const LlmRequest& req, std::string upstream_model,
                                                         RequestContext&) override {
    calls.push_back({"stream", upstream_model, req.body_for_model(upstream_model)});
    if (!errors.empty()) {
      Error e = errors.front();
      errors.pop_front();
      co_return e;
    }
    providers::StreamStart start;
    start.headers = {{"x-ratelimit-remaining-requests", "9"}};
    start.stream = std::make_unique<FixedStream>(std::vector<std::string>{"data: {}\n\n", "data: [DONE]\n\n"},
                                                 std::exchange(first_event_error, std::nullopt));
    co_return start;
  }

  asio::awaitable<Result<std::vector<std::string>>> list_models(RequestContext&) override {
    ++list_calls;
    if (list_error) co_return *list_error;
    co_return listed;
  }

  struct Call {
    std::string kind, model, body;
  };
  std::vector<std::string> listed;  // what list_models() answers
  std::optional<Error> list_error;
  int list_calls = 0;
  std::vector<Call> calls;
  std::deque<Error> errors;  // returned first, in order
  std::optional<Error> first_event_error;  // the next stream fails on its first next()
  providers::ProviderResponse response{200, R"({"id":"x","object":"chat.completion"})", {{"x-ratelimit-limit-requests", "100"}},
                                       {10, 5, true}};

 private:
  std::string name_;
};

class PipelineHandle : public ::testing::Test {
 protected:
  PipelineHandle() {
    // "a" is the primary of "chat", "b" its fallback: a fixed failover order.
    for (const char* name : {"a", "b"}) {
      ProviderConfig p;
      p.name = name;
      p.type = ProviderType::mock;
      config_.providers.push_back(p);
    }
    DeploymentConfig fallback{"b", "model-b"};
    fallback.priority = 1;
    config_.models = {
        {"chat", {{"a", "model-a"}, fallback}},
        {"solo", {{"b", "model-solo"}}},
        {"embed", {{"a", "emb-a"}}},
    };
    policy_.backoff_base = std::chrono::milliseconds(1);
    auto a = std::make_unique<ScriptedProvider>("a");
    auto b = std::make_unique<ScriptedProvider>("b");
    a_ = a.get();
    b_ = b.get();
    providers_.emplace("a", std::move(a));
    providers_.emplace("b", std::move(b));
  }

  Reply handle(std::string method, std::string path, std::string body = {}) {
    // Kept after the call: a streamed reply settles with the pool when it ends.
    pipeline_ = std::make_unique<Pipeline>(config_, providers_, policy_, 1);
    ctx_ = std::make_unique<RequestContext>();
    ctx_->request_id = "req-1";
    return run_coro(io_, pipeline_->handle(ApiRequest{std::move(method), std::move(path), std::move(body)}, *ctx_));
  }

  static std::string chat(std::string model, bool stream = false) {
    json body = {{"model", model}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}};
    if (stream) body["stream"] = true;
    return body.dump();
  }

  asio::io_context io_;
  GatewayConfig config_;
  pool::PoolPolicy policy_;
  ProviderMap providers_;
  ScriptedProvider* a_ = nullptr;
  ScriptedProvider* b_ = nullptr;
  std::unique_ptr<RequestContext> ctx_;
  std::unique_ptr<Pipeline> pipeline_;
};

TEST_F(PipelineHandle, UnknownPathIs404) {
  const Reply r = handle("POST", "/v1/nothing", "{}");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "unknown_url");
  EXPECT_EQ(header(r, "x-should-retry"), "false");
}

TEST_F(PipelineHandle, WrongMethodIs405) {
  const Reply r = handle("GET", "/v1/chat/completions");
  EXPECT_EQ(r.status, 405);
  EXPECT_TRUE(a_->calls.empty());
}

TEST_F(PipelineHandle, ListsConfiguredModels) {
  const Reply r = handle("GET", "/v1/models");
  EXPECT_EQ(r.status, 200);
  const json j = json::parse(r.body);
  EXPECT_EQ(j["object"], "list");
  ASSERT_EQ(j["data"].size(), 3u);
  EXPECT_EQ(j["data"][0]["id"], "chat");
  EXPECT_EQ(j["data"][0]["object"], "model");
  EXPECT_EQ(j["data"][2]["id"], "embed");
}

TEST_F(PipelineHandle, GetsOneModel) {
  Reply r = handle("GET", "/v1/models/solo");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body)["id"], "solo");
  r = handle("GET", "/v1/models/nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "model_not_found");
  EXPECT_EQ(json::parse(r.body)["error"]["param"], "model");
}

TEST_F(PipelineHandle, ListsTheModelsAnOllamaProviderServesAfterTheConfiguredOnes) {
  config_.providers[1].type = ProviderType::ollama;
  b_->listed = {"llama3.1:8b", "chat"};
  const Reply r = handle("GET", "/v1/models");
  EXPECT_EQ(r.status, 200);
  const json j = json::parse(r.body);
  ASSERT_EQ(j["data"].size(), 4u) << r.body;
  EXPECT_EQ(j["data"][0]["id"], "chat");
  EXPECT_EQ(j["data"][0]["owned_by"], "sluice");
  EXPECT_EQ(j["data"][3]["id"], "llama3.1:8b");
  EXPECT_EQ(j["data"][3]["owned_by"], "b");
  EXPECT_EQ(a_->list_calls, 0) << "only ollama providers are asked";
}

TEST_F(PipelineHandle, AListedModelIsServedByTheProviderThatListsIt) {
  config_.providers[1].type = ProviderType::ollama;
  b_->listed = {"llama3.1:8b"};
  Reply r = handle("POST", "/v1/chat/completions", chat("llama3.1:8b"));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(header(r, "x-sluice-provider"), "b");
  ASSERT_EQ(b_->calls.size(), 1u);
  EXPECT_EQ(b_->calls[0].model, "llama3.1:8b");
  r = run_coro(io_, pipeline_->handle(ApiRequest{"GET", "/v1/models/llama3.1:8b", ""}, *ctx_));
  EXPECT_EQ(json::parse(r.body)["owned_by"], "b");
}

TEST_F(PipelineHandle, UnknownModelsDoNotMakeTheGatewayAskAgainAndAgain) {
  config_.providers[1].type = ProviderType::ollama;
  Pipeline pipeline(config_, providers_, policy_, 1);
  for (int i = 0; i < 3; ++i) {
    RequestContext ctx;
    EXPECT_EQ(run_coro(io_, pipeline.handle(ApiRequest{"POST", "/v1/chat/completions", chat("gpt-9")}, ctx)).status, 404);
  }
  EXPECT_EQ(b_->list_calls, 1);
}

TEST_F(PipelineHandle, AProviderThatCannotListLeavesTheConfiguredModels) {
  config_.providers[1].type = ProviderType::ollama;
  b_->list_error = make_error(errc::upstream_unavailable, "connection refused");
  const Reply r = handle("GET", "/v1/models");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body)["data"].size(), 3u);
}

TEST_F(PipelineHandle, InvalidBodyIs400BeforeAnyProvider) {
  const Reply r = handle("POST", "/v1/chat/completions", R"({"model":"chat"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json::parse(r.body)["error"]["param"], "messages");
  EXPECT_TRUE(a_->calls.empty());
  EXPECT_EQ(ctx_->attempts, 0);
}

TEST_F(PipelineHandle, UnknownModelIs404) {
  const Reply r = handle("POST", "/v1/chat/completions", chat("gpt-9"));
  EXPECT_EQ(r.status, 404);
  const json j = json::parse(r.body);
  EXPECT_EQ(j["error"]["code"], "model_not_found");
  EXPECT_EQ(j["error"]["param"], "model");
  EXPECT_NE(j["error"]["message"].get<std::string>().find("gpt-9"), std::string::npos);
  EXPECT_EQ(ctx_->model, "gpt-9");
}

TEST_F(PipelineHandle, FirstDeploymentAnswers) {
  const Reply r = handle("POST", "/v1/chat/completions", chat("chat"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, a_->response.body);
  EXPECT_EQ(header(r, "x-sluice-provider"), "a");
  EXPECT_EQ(header(r, "x-sluice-model"), "model-a");
  EXPECT_EQ(header(r, "x-ratelimit-limit-requests"), "100");
  EXPECT_FALSE(r.error.has_value());
  ASSERT_EQ(a_->calls.size(), 1u);
  EXPECT_EQ(a_->calls[0].kind, "complete");
  EXPECT_EQ(a_->calls[0].model, "model-a");
  EXPECT_EQ(json::parse(a_->calls[0].body)["model"], "model-a");
  EXPECT_TRUE(b_->calls.empty());
  EXPECT_EQ(ctx_->model, "chat");
  EXPECT_EQ(ctx_->provider, "a");
  EXPECT_EQ(ctx_->upstream_model, "model-a");
  EXPECT_EQ(ctx_->attempts, 1);
  EXPECT_EQ(ctx_->usage.prompt_tokens, 10);
  EXPECT_TRUE(ctx_->usage.known);
}

TEST_F(PipelineHandle, RetryableFailureMovesToTheNextDeployment) {
  a_->errors.push_back(make_error(errc::upstream_unavailable, "a is down"));
  const Reply r = handle("POST", "/v1/chat/completions", chat("chat"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(header(r, "x-sluice-provider"), "b");
  EXPECT_EQ(header(r, "x-sluice-model"), "model-b");
  EXPECT_EQ(a_->calls.size(), 1u);
  ASSERT_EQ(b_->calls.size(), 1u);
  EXPECT_EQ(b_->calls[0].model, "model-b");
  EXPECT_EQ(ctx_->attempts, 2);
  EXPECT_EQ(ctx_->provider, "b");
}

TEST_F(PipelineHandle, NonRetryableFailureIsAnsweredAtOnce) {
  Error rejected = make_error(errc::upstream_rejected, "bad temperature");
  rejected.http_status = 422;
  rejected.upstream_body = R"({"error":{"message":"bad temperature","type":"invalid_request_error","param":null,"code":null}})";
  a_->errors.push_back(rejected);
  const Reply r = handle("POST", "/v1/chat/completions", chat("chat"));
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(r.body, rejected.upstream_body);
  EXPECT_EQ(header(r, "x-should-retry"), "false");
  EXPECT_TRUE(b_->calls.empty());
  EXPECT_EQ(ctx_->attempts, 1);
}

TEST_F(PipelineHandle, CancelledIsNotRetried) {
  a_->errors.push_back(make_error(errc::cancelled, "gone"));
  const Reply r = handle("POST", "/v1/chat/completions", chat("chat"));
  EXPECT_EQ(r.status, 499);
  EXPECT_TRUE(b_->calls.empty());
}

TEST_F(PipelineHandle, AFailedDeploymentIsRetriedWithinTheBudgetThenItsErrorAnswers) {
  for (int i = 0; i < 3; ++i) a_->errors.push_back(make_error(errc::upstream_unavailable, "a is down"));
  Error limited = make_error(errc::upstream_rate_limited, "b is busy");
  limited.retry_after_ms = 9'000;
  b_->errors.push_back(limited);
  const Reply r = handle("POST", "/v1/chat/completions", chat("chat"));
  // a fails, b is rate limited (cooling), a is retried twice (max_retries 2).
  EXPECT_EQ(r.status, 502);
  EXPECT_EQ(json::parse(r.body)["error"]["message"], "a is down");
  EXPECT_EQ(header(r, "x-should-retry"), "true");
  EXPECT_EQ(a_->calls.size(), 3u);
  EXPECT_EQ(b_->calls.size(), 1u);
  EXPECT_EQ(ctx_->attempts, 4);
  EXPECT_EQ(ctx_->retries, 2);
  EXPECT_EQ(ctx_->cooldowns, 1);
}

TEST_F(PipelineHandle, ARetrySucceedsOnTheSameDeploymentWhenItIsTheOnlyOne) {
  b_->errors.push_back(make_error(errc::upstream_timeout, "slow"));
  const Reply r = handle("POST", "/v1/chat/completions", chat("solo"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(b_->calls.size(), 2u);
  EXPECT_EQ(ctx_->retries, 1);
}

TEST_F(PipelineHandle, NoRetriesWhenTheProviderAllowsNone) {
  config_.providers[1].max_retries = 0;
  b_->errors.push_back(make_error(errc::upstream_timeout, "slow"));
  const Reply r = handle("POST", "/v1/chat/completions", chat("solo"));
  EXPECT_EQ(r.status, 504);
  EXPECT_EQ(b_->calls.size(), 1u);
}

TEST_F(PipelineHandle, EveryDeploymentRateLimitedGivesA429WithTheEarliestRetry) {
  Error a_limited = make_error(errc::upstream_rate_limited, "a is busy");
  a_limited.retry_after_ms = 9'000;
  Error b_limited = make_error(errc::upstream_rate_limited, "b is busy");
  b_limited.retry_after_ms = 2'500;
  a_->errors.push_back(a_limited);
  b_->errors.push_back(b_limited);
  const Reply r = handle("POST", "/v1/chat/completions", chat("chat"));
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(header(r, "retry-after"), "3");  // b's cooldown ends first; rounded up
  const int ms = std::stoi(header(r, "retry-after-ms"));
  EXPECT_GT(ms, 2'000);
  EXPECT_LE(ms, 2'500);
  EXPECT_EQ(header(r, "x-should-retry"), "true");
  const json j = json::parse(r.body);
  EXPECT_EQ(j["error"]["code"], "rate_limit_exceeded");
  EXPECT_EQ(j["error"]["type"], "rate_limit_exceeded");
  EXPECT_EQ(ctx_->attempts, 2);
  EXPECT_EQ(ctx_->cooldowns, 2);
  ASSERT_TRUE(r.error.has_value());
  EXPECT_EQ(r.error->code, errc::rate_limited);
}

TEST_F(PipelineHandle, AModelOverItsLimitsIsRefusedWithoutCallingAnyone) {
  config_.models[1].deployments[0].rpm = 1;
  Pipeline pipeline(config_, providers_, policy_, 1);
  RequestContext first, second;
  EXPECT_EQ(run_coro(io_, pipeline.handle(ApiRequest{"POST", "/v1/chat/completions", chat("solo")}, first)).status, 200);
  const Reply r = run_coro(io_, pipeline.handle(ApiRequest{"POST", "/v1/chat/completions", chat("solo")}, second));
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(header(r, "retry-after"), "60");
  EXPECT_EQ(header(r, "x-ratelimit-limit-requests"), "1");
  EXPECT_EQ(header(r, "x-ratelimit-remaining-requests"), "0");
  EXPECT_EQ(b_->calls.size(), 1u);
  EXPECT_EQ(second.attempts, 0);
}

TEST_F(PipelineHandle, GroupLimitsReplaceTheUpstreamsRateLimitHeaders) {
  config_.providers[0].rpm = 100;
  config_.providers[0].tpm = 5'000;
  config_.models[2].deployments[0].rpm = 30;
  a_->response.body = R"({"object":"list","data":[]})";
  const Reply r = handle("POST", "/v1/embeddings", R"({"model":"embed","input":"x"})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(header(r, "x-ratelimit-limit-requests"), "30");
  EXPECT_EQ(header(r, "x-ratelimit-remaining-requests"), "29");
  EXPECT_EQ(header(r, "x-ratelimit-limit-tokens"), "5000");
  EXPECT_EQ(header(r, "x-ratelimit-remaining-tokens"), "4985");  // the provider reported 15 tokens used
  int count = 0;
  for (const auto& h : r.headers) count += h.name == "x-ratelimit-limit-requests";
  EXPECT_EQ(count, 1) << "the upstream's own x-ratelimit-* header must not be relayed too";
}

TEST_F(PipelineHandle, StreamRequestGetsAStream) {
  const Reply r = handle("POST", "/v1/chat/completions", chat("chat", true));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/event-stream");
  ASSERT_TRUE(r.stream);
  EXPECT_TRUE(r.body.empty());
  EXPECT_EQ(header(r, "x-ratelimit-remaining-requests"), "9");
  EXPECT_EQ(header(r, "x-sluice-provider"), "a");
  ASSERT_EQ(a_->calls.size(), 1u);
  EXPECT_EQ(a_->calls[0].kind, "stream");
  auto first = run_coro(io_, r.stream->next());
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(*first, "data: {}\n\n");
}

TEST_F(PipelineHandle, StreamFailingBeforeItsFirstEventFailsOver) {
  a_->first_event_error = make_error(errc::upstream_protocol, "stream ended before data: [DONE]");
  const Reply r = handle("POST", "/v1/chat/completions", chat("chat", true));
  ASSERT_TRUE(r.stream);
  EXPECT_EQ(header(r, "x-sluice-provider"), "b");
  EXPECT_EQ(ctx_->attempts, 2);
  auto first = run_coro(io_, r.stream->next());
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(*first, "data: {}\n\n");
}

TEST_F(PipelineHandle, StreamStartFailureFailsOver) {
  a_->errors.push_back(make_error(errc::upstream_timeout, "slow"));
  const Reply r = handle("POST", "/v1/chat/completions", chat("chat", true));
  ASSERT_TRUE(r.stream);
  EXPECT_EQ(header(r, "x-sluice-provider"), "b");
  EXPECT_EQ(b_->calls.at(0).kind, "stream");
}

TEST_F(PipelineHandle, EmbeddingsNeverStreamAndAreConvertedToTheAskedFormat) {
  a_->response.body = R"({"object":"list","data":[{"object":"embedding","index":0,"embedding":[1.0,-0.5]}],"model":"emb-a"})";
  const Reply r = handle("POST", "/v1/embeddings",
                         R"({"model":"embed","input":"x","encoding_format":"base64","stream":true})");
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(r.stream);
  ASSERT_EQ(a_->calls.size(), 1u);
  EXPECT_EQ(a_->calls[0].kind, "complete");
  EXPECT_EQ(json::parse(r.body)["data"][0]["embedding"], floats_to_base64({1.0f, -0.5f}));
}

TEST_F(PipelineHandle, EmbeddingsAlreadyInTheAskedFormatAreRelayedVerbatim) {
  a_->response.body = R"({"object":"list","data":[{"object":"embedding","index":0,"embedding":[1.0, -0.5]}]})";
  const Reply r = handle("POST", "/v1/embeddings", R"({"model":"embed","input":"x","encoding_format":"float"})");
  EXPECT_EQ(r.body, a_->response.body);
}

}  // namespace
}  // namespace sluice::pipeline
