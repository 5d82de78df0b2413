// Pipeline::serve over scripted providers, a real pool and a manual clock:
// model lookup, failover on failures that may fail over only, retries within
// the provider's budget (and what the client is told after them), capacity
// refusals, streams, and the model catalog behind models().
#include "pipeline_fixture.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "support/manual_clock.hpp"
#include "support/run_coro.hpp"
#include "support/scripted_provider.hpp"

namespace sluice::pipeline {
namespace {

namespace asio = boost::asio;
using json = nlohmann::json;
using test::run_coro;
using test::ScriptedProvider;

using namespace test_support;

TEST_F(PipelineServe, UnknownModelIsModelNotFound) {
  const auto r = serve(chat_call("gpt-9"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::model_not_found);
  EXPECT_EQ(r.error().param, "model");
  EXPECT_NE(r.error().message.find("gpt-9"), std::string::npos);
  EXPECT_EQ(ctx_->model, "gpt-9");
  EXPECT_EQ(ctx_->attempts, 0);
}

TEST_F(PipelineServe, FirstDeploymentAnswers) {
  const auto r = serve(chat_call("chat"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, a_->response.body);
  EXPECT_FALSE(r->streamed());
  EXPECT_EQ(header(r->headers, "x-ratelimit-limit-requests"), "100");
  EXPECT_EQ(r->usage.prompt_tokens, 10);
  ASSERT_EQ(a_->calls.size(), 1u);
  EXPECT_EQ(a_->calls[0].kind, "complete");
  EXPECT_EQ(a_->calls[0].model, "model-a");
  EXPECT_EQ(json::parse(a_->calls[0].body)["model"], "model-a");
  EXPECT_TRUE(b_->calls.empty());
  EXPECT_EQ(ctx_->model, "chat");
  EXPECT_EQ(ctx_->group, "chat");
  EXPECT_EQ(ctx_->provider, "a");
  EXPECT_EQ(ctx_->upstream_model, "model-a");
  EXPECT_EQ(ctx_->attempts, 1);
  EXPECT_EQ(ctx_->usage.prompt_tokens, 10);
  EXPECT_TRUE(ctx_->usage.known);
}

TEST_F(PipelineServe, AFailureThatMayFailOverMovesToTheNextDeployment) {
  a_->errors.push_back(make_error(errc::upstream_unavailable, "a is down"));
  const auto r = serve(chat_call("chat"));
  ASSERT_TRUE(r);
  EXPECT_EQ(a_->calls.size(), 1u);
  ASSERT_EQ(b_->calls.size(), 1u);
  EXPECT_EQ(b_->calls[0].model, "model-b");
  EXPECT_EQ(ctx_->attempts, 2);
  EXPECT_EQ(ctx_->provider, "b");
  EXPECT_EQ(ctx_->upstream_model, "model-b");
}

TEST_F(PipelineServe, ARefusedRequestIsAnsweredAtOnce) {
  Error rejected = make_error(errc::upstream_rejected, "bad temperature");
  rejected.http_status = 422;
  a_->errors.push_back(rejected);
  const auto r = serve(chat_call("chat"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().status(), 422);
  EXPECT_FALSE(r.error().client_may_retry());
  EXPECT_TRUE(b_->calls.empty());
  EXPECT_EQ(ctx_->attempts, 1);
}

TEST_F(PipelineServe, AGatewayBugIsNeverFailedOver) {
  a_->errors.push_back(make_error(errc::internal, "adapter bug"));
  const auto r = serve(chat_call("chat"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::internal);
  EXPECT_TRUE(b_->calls.empty()) << "a bug fails the same way on every deployment";
}

TEST_F(PipelineServe, AProviderThatIsNotRunningIsABugNotAnOutage) {
  providers_.erase("a");
  const auto r = serve(chat_call("chat"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::internal);
  EXPECT_TRUE(b_->calls.empty());
}

TEST_F(PipelineServe, CancelledIsNotRetried) {
  a_->errors.push_back(make_error(errc::cancelled, "gone"));
  const auto r = serve(chat_call("chat"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::cancelled);
  EXPECT_TRUE(b_->calls.empty());
}

// A client that leaves while the upstream is being connected to: the
// request never went out, so its reservation goes back (a request and its
// tokens); one that leaves after it went out keeps them charged (the
// upstream may bill it).
TEST_F(PipelineServe, CancelledBeforeSendingGivesItsCapacityBackAfterKeepsIt) {
  config_.models[1].deployments[0].rpm = 10;
  config_.models[1].deployments[0].tpm = 100'000;
  Error unsent = make_error(errc::cancelled, "gone while connecting");
  unsent.unsent = true;
  b_->errors.push_back(unsent);
  auto r = serve(chat_call("solo"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::cancelled);
  auto limits = pool_->limits("solo", clock_->now());
  EXPECT_EQ(limits.remaining_requests, 10) << "nothing was sent: the request went back";
  EXPECT_EQ(limits.remaining_tokens, 100'000) << "and its tokens";
  b_->errors.push_back(make_error(errc::cancelled, "gone mid-answer"));
  r = serve(chat_call("solo"));
  ASSERT_FALSE(r);
  limits = pool_->limits("solo", clock_->now());
  EXPECT_EQ(limits.remaining_requests, 9) << "sent: the request stays charged";
  EXPECT_LT(limits.remaining_tokens, 100'000) << "and its estimate";
}

TEST_F(PipelineServe, AFailedDeploymentIsRetriedWithinTheBudgetThenItsErrorAnswers) {
  for (int i = 0; i < 3; ++i) a_->errors.push_back(make_error(errc::upstream_unavailable, "a is down"));
  Error limited = make_error(errc::upstream_rate_limited, "b is busy");
  limited.retry_after_ms = 9'000;
  b_->errors.push_back(limited);
  const auto r = serve(chat_call("chat"));
  // a fails, b is rate limited (cooling), a is retried twice (max_retries 2).
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::upstream_unavailable);
  EXPECT_EQ(r.error().message, "a is down");
  EXPECT_EQ(a_->calls.size(), 3u);
  EXPECT_EQ(b_->calls.size(), 1u);
  EXPECT_EQ(ctx_->attempts, 4);
  EXPECT_EQ(ctx_->retries, 2);
  EXPECT_EQ(ctx_->cooldowns, 1);
}

TEST_F(PipelineServe, RefusedCredentialsGoToAnotherAccountAtOnceAndTakeTheDeploymentOut) {
  a_->errors.push_back(make_error(errc::upstream_auth, "a refused the gateway's key"));
  const auto r = serve(chat_call("chat"));
  ASSERT_TRUE(r);
  EXPECT_EQ(ctx_->provider, "b");
  EXPECT_EQ(ctx_->retries, 0) << "not a retry of a: failover to another account";
  EXPECT_TRUE(serve(chat_call("chat")));
  EXPECT_EQ(a_->calls.size(), 1u) << "a is out until its key is fixed";
  EXPECT_EQ(b_->calls.size(), 2u);
}

TEST_F(PipelineServe, RefusedCredentialsAreNeverRetriedOnTheSameDeployment) {
  for (int i = 0; i < 3; ++i) b_->errors.push_back(make_error(errc::upstream_auth, "b refused the gateway's key"));
  const auto r = serve(chat_call("solo"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::upstream_auth);
  EXPECT_EQ(r.error().status(), 502);
  EXPECT_FALSE(r.error().client_may_retry());
  EXPECT_EQ(b_->calls.size(), 1u);
  EXPECT_EQ(ctx_->retries, 0);
}

TEST_F(PipelineServe, AfterItsOwnRetriesTheGatewayTellsTheClientNotToRetry) {
  // 3 gateway attempts x 3 SDK attempts would be 9 upstream calls.
  for (int i = 0; i < 3; ++i) b_->errors.push_back(make_error(errc::upstream_timeout, "slow"));
  const auto r = serve(chat_call("solo"));
  ASSERT_FALSE(r);
  EXPECT_EQ(b_->calls.size(), 3u);
  EXPECT_TRUE(r.error().retries_spent);
  EXPECT_FALSE(r.error().client_may_retry());
}

TEST_F(PipelineServe, WithoutGatewayRetriesTheClientMayRetry) {
  config_.providers[1].max_retries = 0;
  b_->errors.push_back(make_error(errc::upstream_timeout, "slow"));
  const auto r = serve(chat_call("solo"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().status(), 504);
  EXPECT_EQ(b_->calls.size(), 1u);
  EXPECT_TRUE(r.error().client_may_retry());
}

TEST_F(PipelineServe, ARetrySucceedsOnTheSameDeploymentWhenItIsTheOnlyOne) {
  b_->errors.push_back(make_error(errc::upstream_timeout, "slow"));
  const auto r = serve(chat_call("solo"));
  ASSERT_TRUE(r);
  EXPECT_EQ(b_->calls.size(), 2u);
  EXPECT_EQ(ctx_->retries, 1);
}

TEST_F(PipelineServe, EveryDeploymentRateLimitedIsRateLimitedWithTheEarliestRetry) {
  Error a_limited = make_error(errc::upstream_rate_limited, "a is busy");
  a_limited.retry_after_ms = 9'000;
  Error b_limited = make_error(errc::upstream_rate_limited, "b is busy");
  b_limited.retry_after_ms = 2'500;
  a_->errors.push_back(a_limited);
  b_->errors.push_back(b_limited);
  const auto r = serve(chat_call("chat"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::rate_limited);
  EXPECT_EQ(r.error().retry_after_ms, 2'500) << "b's cooldown ends first; the manual clock has not moved";
  EXPECT_TRUE(r.error().client_may_retry());
  EXPECT_EQ(ctx_->attempts, 2);
  EXPECT_EQ(ctx_->cooldowns, 2);
}

TEST_F(PipelineServe, ACooledDownDeploymentServesAgainOnceItsRetryAfterHasPassed) {
  Error limited = make_error(errc::upstream_rate_limited, "busy");
  limited.retry_after_ms = 2'000;
  b_->errors.push_back(limited);
  EXPECT_EQ(serve(chat_call("solo")).error().code, errc::rate_limited);
  clock_->advance(std::chrono::milliseconds(1'999));
  EXPECT_EQ(serve(chat_call("solo")).error().retry_after_ms, 1);
  clock_->advance(std::chrono::milliseconds(1));
  EXPECT_TRUE(serve(chat_call("solo")));
  EXPECT_EQ(b_->calls.size(), 2u);
}

TEST_F(PipelineServe, AModelOverItsLimitsIsRefusedWithoutCallingAnyone) {
  config_.models[1].deployments[0].rpm = 1;
  EXPECT_TRUE(serve(chat_call("solo")));
  EXPECT_EQ(ctx_->limits.limit_requests, 1);
  EXPECT_EQ(ctx_->limits.remaining_requests, 0);
  const auto r = serve(chat_call("solo"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::rate_limited);
  EXPECT_EQ(r.error().retry_after_ms, 60'000);
  EXPECT_EQ(ctx_->limits.limit_requests, 1);
  EXPECT_EQ(ctx_->limits.remaining_requests, 0);
  EXPECT_EQ(b_->calls.size(), 1u);
  EXPECT_EQ(ctx_->attempts, 0);
}

TEST_F(PipelineServe, TheGroupsLimitsAreReportedAfterTheAnswer) {
  config_.providers[0].rpm = 100;
  config_.providers[0].tpm = 5'000;
  config_.models[2].deployments[0].rpm = 30;
  a_->response.body = R"({"object":"list","data":[]})";
  ASSERT_TRUE(serve(chat_call("embed", false, Endpoint::embeddings)));
  EXPECT_EQ(ctx_->limits.limit_requests, 30);
  EXPECT_EQ(ctx_->limits.remaining_requests, 29);
  EXPECT_EQ(ctx_->limits.limit_tokens, 5'000);
  EXPECT_EQ(ctx_->limits.remaining_tokens, 4'985);  // the provider reported 15 tokens used
}

TEST_F(PipelineServe, AStreamRequestGetsAStream) {
  const auto r = serve(chat_call("chat", true));
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->streamed());
  EXPECT_TRUE(r->body.empty());
  EXPECT_EQ(header(r->headers, "x-ratelimit-remaining-requests"), "9");
  EXPECT_EQ(ctx_->provider, "a");
  ASSERT_EQ(a_->calls.size(), 1u);
  EXPECT_EQ(a_->calls[0].kind, "stream");
  auto first = run_coro(io_, r->stream->next());
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(*first, "data: {}\n\n");
}

TEST_F(PipelineServe, AStreamSettlesItsReservationWithTheRealUsageWhenItEnds) {
  config_.models[1].deployments[0].tpm = 1'000;
  b_->stream_usage = {100, 50, true};
  Call call = chat_call("solo", true);
  call.request.max_tokens = 400;
  auto r = serve(std::move(call));
  ASSERT_TRUE(r);
  EXPECT_LT(*ctx_->limits.remaining_tokens, 600) << "the estimate (prompt + max_tokens) is reserved";
  while (!run_coro(io_, r->stream->next())->empty()) {
  }
  r->stream.reset();
  EXPECT_EQ(pool_->limits("solo", clock_->now()).remaining_tokens, 850);
}

TEST_F(PipelineServe, AStreamFailingBeforeItsFirstEventFailsOver) {
  a_->first_event_error = make_error(errc::upstream_protocol, "stream ended before data: [DONE]");
  const auto r = serve(chat_call("chat", true));
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->streamed());
  EXPECT_EQ(ctx_->provider, "b");
  EXPECT_EQ(ctx_->attempts, 2);
  auto first = run_coro(io_, r->stream->next());
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(*first, "data: {}\n\n");
}

TEST_F(PipelineServe, AStreamThatFailsToStartFailsOver) {
  a_->errors.push_back(make_error(errc::upstream_timeout, "slow"));
  const auto r = serve(chat_call("chat", true));
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->streamed());
  EXPECT_EQ(ctx_->provider, "b");
  EXPECT_EQ(b_->calls.at(0).kind, "stream");
}

TEST_F(PipelineServe, EmbeddingsNeverStream) {
  const auto r = serve(chat_call("embed", true, Endpoint::embeddings));
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->streamed());
  ASSERT_EQ(a_->calls.size(), 1u);
  EXPECT_EQ(a_->calls[0].kind, "complete");
}

// --- the model catalog behind models() and model lookup --------------------

TEST_F(PipelineServe, ModelsAreTheConfiguredGroups) {
  const auto list = models();
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].id, "chat");
  EXPECT_EQ(list[0].owned_by, "sluice");
  EXPECT_EQ(list[2].id, "embed");
}

TEST_F(PipelineServe, TheModelsAnOllamaProviderServesComeAfterTheConfiguredOnes) {
  config_.providers[1].type = ProviderType::ollama;
  b_->listed = {"llama3.1:8b", "chat"};
  const auto list = models();
  ASSERT_EQ(list.size(), 4u);
  EXPECT_EQ(list[3].id, "llama3.1:8b");
  EXPECT_EQ(list[3].owned_by, "b");
  EXPECT_EQ(a_->list_calls, 0) << "only ollama providers are asked";
}

TEST_F(PipelineServe, AListedModelIsServedByTheProviderThatListsIt) {
  config_.providers[1].type = ProviderType::ollama;
  b_->listed = {"llama3.1:8b"};
  ASSERT_TRUE(serve(chat_call("llama3.1:8b")));
  EXPECT_EQ(ctx_->provider, "b");
  ASSERT_EQ(b_->calls.size(), 1u);
  EXPECT_EQ(b_->calls[0].model, "llama3.1:8b");
}

TEST_F(PipelineServe, UnknownModelsDoNotMakeTheGatewayAskAgainAndAgain) {
  config_.providers[1].type = ProviderType::ollama;
  for (int i = 0; i < 3; ++i) EXPECT_EQ(serve(chat_call("gpt-9")).error().code, errc::model_not_found);
  EXPECT_EQ(b_->list_calls, 1);
  clock_->advance(ModelCatalog::kRefreshEvery);
  EXPECT_EQ(serve(chat_call("gpt-9")).error().code, errc::model_not_found);
  EXPECT_EQ(b_->list_calls, 2) << "the listing is refreshed once it is kRefreshEvery old";
}

TEST_F(PipelineServe, AProviderThatCannotListLeavesTheConfiguredModels) {
  config_.providers[1].type = ProviderType::ollama;
  b_->list_error = make_error(errc::upstream_unavailable, "connection refused");
  EXPECT_EQ(models().size(), 3u);
}

// --- the key stage: authentication, the key's own limits, cost -------------

constexpr std::string_view kKey = "sk-team-a-0123456789abcdef";

class PipelineKeys : public PipelineServe {
 protected:
  PipelineKeys() {
    GatewayKeyConfig key;
    key.key = std::string(kKey);
    key.tenant = "team-a";
    config_.auth.keys.push_back(key);
    // "a" bills 2 USD per million input tokens and 10 per million output.
    config_.models[0].deployments[0].price = Price{2, 10, 1};
  }
  GatewayKeyConfig& key() { return config_.auth.keys[0]; }
};

TEST_F(PipelineKeys, TheCallerIsAuthenticatedFirstAndItsTenantGoesWithTheRequest) {
  EXPECT_EQ(serve(chat_call("chat"), "").error().code, errc::unauthorized);
  EXPECT_EQ(serve(chat_call("chat"), "sk-team-a-0123456789abcdeX").error().code, errc::unauthorized);
  EXPECT_TRUE(a_->calls.empty());
  ASSERT_TRUE(serve(chat_call("chat"), kKey));
  EXPECT_EQ(ctx_->tenant, "team-a");
  EXPECT_TRUE(ctx_->key_id.starts_with("sha256:")) << ctx_->key_id;
  EXPECT_EQ(ctx_->key_id.size(), 19u);
}

TEST_F(PipelineKeys, AModelOffTheAllowListIsRefusedBeforeAnyProviderIsAsked) {
  key().models = {"solo"};
  const auto r = serve(chat_call("chat"), kKey);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::model_not_allowed);
  EXPECT_EQ(r.error().status(), 403);
  EXPECT_EQ(r.error().param, "model");
  EXPECT_TRUE(a_->calls.empty());
  EXPECT_TRUE(serve(chat_call("solo"), kKey));
  EXPECT_EQ(serve(chat_call("gpt-9"), kKey).error().code, errc::model_not_allowed)
      << "a model that does not exist is not revealed as such";
}

TEST_F(PipelineKeys, ModelsListsOnlyWhatTheKeyMayUse) {
  key().models = {"solo", "embed"};
  const auto list = models(kKey);
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].id, "solo");
  EXPECT_EQ(list[1].id, "embed");
}

TEST_F(PipelineKeys, TheKeysOwnRpmAnswers429WhileTheProviderHasRoom) {
  key().rpm = 2;
  ASSERT_TRUE(serve(chat_call("chat"), kKey));
  ASSERT_TRUE(serve(chat_call("chat"), kKey));
  const auto r = serve(chat_call("chat"), kKey);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::rate_limited);
  EXPECT_GT(r.error().retry_after_ms, 0);
  EXPECT_LE(r.error().retry_after_ms, 30'000) << "one request's worth refills in 30 s at 2 per minute";
  EXPECT_NE(r.error().message.find("This key's limit of 2 requests per minute"), std::string::npos);
  EXPECT_EQ(a_->calls.size(), 2u) << "the provider was not asked the third time";
  clock_->advance(std::chrono::seconds(30));
  EXPECT_TRUE(serve(chat_call("chat"), kKey));
}

TEST_F(PipelineKeys, TheKeysTpmIsSettledWithTheRealUsage) {
  key().tpm = 100;
  Call big = chat_call("chat");
  big.request.max_tokens = 90;
  ASSERT_TRUE(serve(std::move(big), kKey));  // reserves about 91, uses 15 (the scripted usage)
  Call again = chat_call("chat");
  again.request.max_tokens = 80;
  EXPECT_TRUE(serve(std::move(again), kKey)) << "the unused reservation came back";
  Call third = chat_call("chat");
  third.request.max_tokens = 80;
  const auto r = serve(std::move(third), kKey);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("tokens per minute"), std::string::npos);
}

TEST_F(PipelineKeys, AFailedRequestGivesTheKeysTokensBack) {
  key().tpm = 100;
  a_->errors.push_back(make_error(errc::upstream_rejected, "bad"));
  Call call = chat_call("chat");
  call.request.max_tokens = 90;
  ASSERT_FALSE(serve(std::move(call), kKey));
  Call again = chat_call("chat");
  again.request.max_tokens = 90;
  EXPECT_TRUE(serve(std::move(again), kKey));
}

// The key's tokens come back for a request that never left; the request
// still counts against the key's RPM (the client made it).
TEST_F(PipelineKeys, AClientGoneBeforeTheRequestWasSentGivesTheKeysTokensBack) {
  key().tpm = 100;
  Error unsent = make_error(errc::cancelled, "gone while connecting");
  unsent.unsent = true;
  a_->errors.push_back(unsent);
  a_->errors.push_back(make_error(errc::cancelled, "gone mid-answer"));
  auto big = [] {
    Call call = chat_call("chat");
    call.request.max_tokens = 90;  // about 91 with the prompt
    return call;
  };
  ASSERT_FALSE(serve(big(), kKey));
  const auto sent = serve(big(), kKey);
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().code, errc::cancelled) << "admitted: the unsent request's tokens came back";
  const auto third = serve(big(), kKey);
  ASSERT_FALSE(third);
  EXPECT_EQ(third.error().code, errc::rate_limited) << "a request cancelled after it was sent keeps its estimate";
  EXPECT_EQ(a_->calls.size(), 2u);
}

TEST_F(PipelineKeys, AnUnsentRequestStillCountsAgainstTheKeysRpm) {
  key().rpm = 1;
  Error unsent = make_error(errc::cancelled, "gone while connecting");
  unsent.unsent = true;
  a_->errors.push_back(unsent);
  ASSERT_FALSE(serve(chat_call("chat"), kKey));
  const auto r = serve(chat_call("chat"), kKey);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::rate_limited);
  EXPECT_NE(r.error().message.find("requests per minute"), std::string::npos) << r.error().message;
}

TEST_F(PipelineKeys, TheCostComesFromTheDeploymentsPrice) {
  a_->response.usage = {1'000, 500, true};
  ASSERT_TRUE(serve(chat_call("chat"), kKey));
  ASSERT_TRUE(ctx_->cost_usd());
  EXPECT_DOUBLE_EQ(*ctx_->cost_usd(), 1'000 * 2e-6 + 500 * 10e-6);
  ASSERT_TRUE(serve(chat_call("solo"), kKey));
  EXPECT_EQ(ctx_->cost_usd(), 0.0) << "mock deployments cost nothing per token";
}

TEST_F(PipelineKeys, OverItsMonthlyBudgetAKeyIsRefusedUntilTheMonthTurns) {
  key().monthly_budget_usd = 0.01;
  a_->response.usage = {1'000, 500, true};  // 0.007 USD a request
  ASSERT_TRUE(serve(chat_call("chat"), kKey));
  ASSERT_TRUE(serve(chat_call("chat"), kKey));  // 0.007 spent: under the budget still
  const auto r = serve(chat_call("chat"), kKey);  // 0.014 spent
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::budget_exceeded);
  EXPECT_EQ(r.error().status(), 403);
  EXPECT_NE(r.error().message.find("monthly budget of $0.01"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("renews on 2027-01-01"), std::string::npos) << r.error().message;
  EXPECT_EQ(a_->calls.size(), 2u);
  clock_->set_wall(std::chrono::sys_days{std::chrono::year{2027} / 1 / 1});
  EXPECT_TRUE(serve(chat_call("chat"), kKey));
}

TEST_F(PipelineKeys, AStreamsCostCountsAgainstTheBudgetWhenItEnds) {
  key().monthly_budget_usd = 0.001;
  a_->stream_usage = {1'000, 0, true};  // 0.002 USD
  auto r = serve(chat_call("chat", true), kKey);
  ASSERT_TRUE(r);
  EXPECT_TRUE(serve(chat_call("chat"), kKey)) << "nothing is spent while the stream runs";
  while (!run_coro(io_, r->stream->next())->empty()) {
  }
  EXPECT_EQ(serve(chat_call("chat"), kKey).error().code, errc::budget_exceeded);
}

TEST_F(PipelineKeys, AnExpiredKeyIsRefused) {
  key().expires = std::chrono::sys_days{std::chrono::year{2026} / 12 / 7};
  ASSERT_TRUE(serve(chat_call("chat"), kKey));
  clock_->advance(std::chrono::hours(12));
  const auto r = serve(chat_call("chat"), kKey);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::unauthorized);
  EXPECT_EQ(r.error().message, "This gateway key expired at 2026-12-07T00:00:00Z.");
}

// --- the routing stage: an alias -> a tier's group -------------------------

constexpr std::string_view kEasy = "What is the capital of Australia?";
constexpr std::string_view kHard = "Prove that every tournament has a Hamiltonian path.";

class PipelineRouting : public PipelineKeys {
 protected:
  // Alias "auto": low -> "solo" (provider b), high -> "chat" (a, then b).
  PipelineRouting() {
    RouterConfig router;
    router.tiers = {{"low", "solo", 0}, {"high", "chat", kRouterHighScore}};
    config_.routers.push_back(router);
    config_.auth.keys.clear();
  }
  RouterConfig& router() { return config_.routers[0]; }

  static Call routed(std::string_view text, std::string model = "auto") {
    Call call = chat_call(std::move(model));
    call.request.messages = {{"user", std::string(text)}};
    return call;
  }
};

TEST_F(PipelineRouting, AnAliasIsServedByItsTiersGroup) {
  ASSERT_TRUE(serve(routed(kEasy)));
  EXPECT_EQ(ctx_->model, "auto");
  EXPECT_EQ(ctx_->group, "solo");
  EXPECT_EQ(ctx_->tier, "low");
  EXPECT_EQ(ctx_->route_decision, "low");
  EXPECT_EQ(ctx_->route_reason, "simple+brief");
  ASSERT_TRUE(ctx_->route_score);
  ASSERT_EQ(b_->calls.size(), 1u);
  EXPECT_EQ(b_->calls[0].model, "model-solo");
  EXPECT_EQ(json::parse(b_->calls[0].body)["model"], "model-solo") << "the alias never reaches an upstream";

  ASSERT_TRUE(serve(routed(kHard)));
  EXPECT_EQ(ctx_->group, "chat");
  EXPECT_EQ(ctx_->tier, "high");
  EXPECT_EQ(a_->calls.size(), 1u);
}

TEST_F(PipelineRouting, AnExplicitModelBypassesTheRouter) {
  ASSERT_TRUE(serve(routed(kHard, "solo")));
  EXPECT_EQ(ctx_->group, "solo");
  EXPECT_EQ(ctx_->tier, "");
  EXPECT_EQ(ctx_->route_reason, "");
  EXPECT_FALSE(ctx_->route_score);
}

TEST_F(PipelineRouting, NextTierUpTakesTheStrongerTierWhenTheChosenOneHasNoCapacity) {
  router().on_no_capacity = NoCapacityPolicy::next_tier_up;
  config_.models[1].deployments[0].rpm = 1;  // "solo": one request a minute
  ASSERT_TRUE(serve(routed(kEasy)));
  ASSERT_TRUE(serve(routed(kEasy)));
  EXPECT_EQ(ctx_->route_decision, "low");
  EXPECT_EQ(ctx_->tier, "high");
  EXPECT_EQ(ctx_->group, "chat");
  EXPECT_EQ(a_->calls.size(), 1u);
  EXPECT_EQ(b_->calls.size(), 1u);
}

TEST_F(PipelineRouting, QueueLeavesANoCapacityTierToTheQueueA429ForNow) {
  config_.models[1].deployments[0].rpm = 1;
  ASSERT_TRUE(serve(routed(kEasy)));
  const auto r = serve(routed(kEasy));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::rate_limited);
  EXPECT_EQ(ctx_->tier, "low");
  EXPECT_TRUE(a_->calls.empty());
}

TEST_F(PipelineRouting, NextTierUpNeverGoesDown) {
  router().tiers = {{"low", "chat", 0}, {"high", "solo", kRouterHighScore}};
  router().on_no_capacity = NoCapacityPolicy::next_tier_up;
  config_.models[1].deployments[0].rpm = 1;
  ASSERT_TRUE(serve(routed(kHard)));
  const auto r = serve(routed(kHard));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::rate_limited) << "the strongest tier is full: wait, never a weaker model";
  EXPECT_EQ(ctx_->tier, "high");
  EXPECT_TRUE(a_->calls.empty());
}

TEST_F(PipelineRouting, ShadowModeServesTheStrongestTierAndRecordsTheDecision) {
  router().shadow = true;
  ASSERT_TRUE(serve(routed(kEasy)));
  EXPECT_EQ(ctx_->route_decision, "low");
  EXPECT_EQ(ctx_->tier, "high");
  EXPECT_EQ(a_->calls.size(), 1u);
  EXPECT_TRUE(b_->calls.empty());
}

TEST_F(PipelineRouting, TheAllowListSeesTheAliasTheClientSent) {
  GatewayKeyConfig key;
  key.key = std::string(kKey);
  key.tenant = "team-a";
  key.models = {"auto"};
  config_.auth.keys.push_back(key);
  ASSERT_TRUE(serve(routed(kEasy), kKey)) << "solo is not on the list, but auto is";
  EXPECT_EQ(serve(routed(kEasy, "solo"), kKey).error().code, errc::model_not_allowed);
}

TEST_F(PipelineRouting, AnAliasOffTheAllowListIsRefused) {
  GatewayKeyConfig key;
  key.key = std::string(kKey);
  key.tenant = "team-a";
  key.models = {"solo", "chat"};
  config_.auth.keys.push_back(key);
  EXPECT_EQ(serve(routed(kEasy), kKey).error().code, errc::model_not_allowed);
  EXPECT_TRUE(b_->calls.empty());
}

TEST_F(PipelineRouting, ModelsListTheAliases) {
  const auto list = models();
  ASSERT_EQ(list.size(), 4u);
  EXPECT_EQ(list[3].id, "auto");
  EXPECT_EQ(list[3].owned_by, "sluice");
}

TEST_F(PipelineRouting, RulesSeeTheTenantAndTheHeadersOfTheCall) {
  RouterRule rule;
  rule.name = "vip";
  rule.header = "x-priority";
  rule.tier = "high";
  router().rules.push_back(rule);
  Call call = routed(kEasy);
  call.headers = {{"x-priority", "1"}};
  ASSERT_TRUE(serve(std::move(call)));
  EXPECT_EQ(ctx_->tier, "high");
  EXPECT_EQ(ctx_->route_reason, "rule:vip");
  EXPECT_FALSE(ctx_->route_score);
  build();
  EXPECT_EQ(pipeline_->header_names(), (std::vector<std::string>{"x-priority", "x-sluice-cache-threshold"}));
}

// --- inbound dialects -------------------------------------------------------------

// A call in another dialect (a Messages or Responses request), with its
// chat-completions translation, or the refusal a translation met.
Call dialect_call(Endpoint endpoint, std::string model, bool stream = false, bool translatable = true) {
  Call call;
  LlmRequest& req = call.request;
  req.endpoint = endpoint;
  req.model = model;
  req.body = R"({"model":)" + json(model).dump() + R"(,"dialect":"own"})";
  req.model_offset = 9;
  req.model_length = json(model).dump().size();
  req.stream = stream;
  req.messages = {{"user", "hi"}};
  if (translatable) {
    auto chat = std::make_shared<LlmRequest>(chat_call(model, stream).request);
    chat->body = R"({"model":)" + json(model).dump() + R"(,"dialect":"chat"})";
    chat->model_offset = 9;
    chat->model_length = json(model).dump().size();
    req.as_chat = std::move(chat);
  } else {
    req.untranslatable = make_error(errc::bad_request, "store: true cannot be honoured", "store");
  }
  return call;
}

TEST_F(PipelineServe, ADialectTheProviderSpeaksGoesAsItCame) {
  a_->spoken.push_back(Endpoint::messages);
  auto r = serve(dialect_call(Endpoint::messages, "chat"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->format, Endpoint::messages);
  ASSERT_EQ(a_->calls.size(), 1u);
  EXPECT_EQ(a_->calls[0].body, R"({"model":"model-a","dialect":"own"})");
}

TEST_F(PipelineServe, ADialectTheProviderDoesNotSpeakGoesAsChatCompletions) {
  auto r = serve(dialect_call(Endpoint::responses, "chat", true));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->format, Endpoint::chat_completions) << "the front door translates the answer back";
  ASSERT_TRUE(r->streamed());
  ASSERT_EQ(a_->calls.size(), 1u);
  EXPECT_EQ(a_->calls[0].kind, "stream");
  EXPECT_EQ(a_->calls[0].body, R"({"model":"model-a","dialect":"chat"})");
}

TEST_F(PipelineServe, FailoverMayCrossFromNativeToTranslated) {
  a_->spoken.push_back(Endpoint::responses);
  a_->errors.push_back(make_error(errc::upstream_unavailable, "down"));
  auto r = serve(dialect_call(Endpoint::responses, "chat"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->format, Endpoint::chat_completions);
  EXPECT_EQ(a_->calls.at(0).body, R"({"model":"model-a","dialect":"own"})");
  EXPECT_EQ(b_->calls.at(0).body, R"({"model":"model-b","dialect":"chat"})");
}

TEST_F(PipelineServe, AnUntranslatableRequestIsRefusedWhereItWouldBeTranslated) {
  auto r = serve(dialect_call(Endpoint::responses, "solo", false, false));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::bad_request);
  EXPECT_EQ(r.error().param, "store");
  EXPECT_TRUE(b_->calls.empty()) << "nothing goes upstream";
  b_->spoken.push_back(Endpoint::responses);
  EXPECT_TRUE(serve(dialect_call(Endpoint::responses, "solo", false, false))) << "a native route passes it through";
}

class PipelineCountTokens : public PipelineServe {
 protected:
  Result<std::optional<Answer>> count(std::string model) {
    build();
    ctx_ = std::make_unique<RequestContext>();
    auto caller = pipeline_->authenticate("", asio::ip::make_address("127.0.0.1"), *ctx_);
    Call call = dialect_call(Endpoint::count_tokens, std::move(model), false, false);
    call.request.untranslatable.reset();
    return run_coro(io_, pipeline_->count_tokens(*caller, std::move(call), *ctx_));
  }
};

TEST_F(PipelineCountTokens, AProviderThatCountsIsAsked) {
  b_->spoken.push_back(Endpoint::count_tokens);
  b_->response.body = R"({"input_tokens":14})";
  auto r = count("chat");
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_TRUE(r->has_value()) << "b counts, though a comes first for messages";
  EXPECT_EQ((*r)->body, R"({"input_tokens":14})");
  EXPECT_EQ((*r)->format, Endpoint::count_tokens);
  EXPECT_EQ(ctx_->provider, "b");
  EXPECT_TRUE(a_->calls.empty());
  EXPECT_EQ(b_->calls.at(0).body, R"({"model":"model-b","dialect":"own"})");
}

TEST_F(PipelineCountTokens, NoProviderThatCountsLeavesItToTheFrontDoor) {
  auto r = count("chat");
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->has_value());
  EXPECT_TRUE(a_->calls.empty());
  EXPECT_TRUE(b_->calls.empty());
}

TEST_F(PipelineCountTokens, AnUnknownModelAndAProvidersErrorAreErrors) {
  EXPECT_EQ(count("nope").error().code, errc::model_not_found);
  b_->spoken.push_back(Endpoint::count_tokens);
  b_->errors.push_back(make_error(errc::upstream_rejected, "bad"));
  EXPECT_EQ(count("solo").error().code, errc::upstream_rejected);
}

}  // namespace
}  // namespace sluice::pipeline
