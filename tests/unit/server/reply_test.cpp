// Reply rendering: error replies (status, x-should-retry, Retry-After), the
// stream error event, and a pipeline answer with the gateway's decisions.
#include "reply.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "support/fixed_stream.hpp"

namespace sluice::server {
namespace {

using json = nlohmann::json;

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

TEST(ErrorReply, StatusBodyAndShouldRetry) {
  const Reply r = error_reply(make_error(errc::bad_request, "bad thing", "messages"));
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
  const Reply r = error_reply(make_error(errc::upstream_unavailable, "down"));
  EXPECT_EQ(r.status, 502);
  EXPECT_EQ(header(r, "x-should-retry"), "true");
  EXPECT_FALSE(has_header(r, "retry-after"));
}

TEST(ErrorReply, RetriesTheGatewaySpentAreNotForTheClientToRepeat) {
  Error e = make_error(errc::upstream_unavailable, "down");
  e.retries_spent = true;
  EXPECT_EQ(header(error_reply(e), "x-should-retry"), "false");
}

TEST(ErrorReply, RetryAfterDefaultsToOneOn429And503) {
  for (errc code : {errc::rate_limited, errc::upstream_rate_limited, errc::shutting_down}) {
    const Reply r = error_reply(make_error(code, "later"));
    EXPECT_TRUE(r.status == 429 || r.status == 503) << to_string(code);
    EXPECT_EQ(header(r, "retry-after"), "1") << to_string(code);
    EXPECT_EQ(header(r, "retry-after-ms"), "1000") << to_string(code);
    EXPECT_EQ(header(r, "x-should-retry"), "true") << to_string(code);
  }
}

TEST(ErrorReply, RetryAfterUsesTheErrorsValueRoundedUp) {
  Error e = make_error(errc::rate_limited, "slow down");
  e.retry_after_ms = 2'500;
  EXPECT_EQ(header(error_reply(e), "retry-after"), "3");
  EXPECT_EQ(header(error_reply(e), "retry-after-ms"), "2500");
  e.retry_after_ms = 17'000;
  EXPECT_EQ(header(error_reply(e), "retry-after"), "17");
  e.retry_after_ms = 0;  // e.g. an upstream's "retry now", relayed after the gateway's own retries
  EXPECT_EQ(header(error_reply(e), "retry-after"), "1") << "never 0: a retry at once meets the same empty bucket";
  EXPECT_EQ(header(error_reply(e), "retry-after-ms"), "0");
}

TEST(ErrorReply, RetryAfterFollowsAnOverriddenStatus) {
  Error e = make_error(errc::upstream_rejected, "x");
  e.http_status = 503;
  e.retry_after_ms = 3'001;
  const Reply r = error_reply(e);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(header(r, "retry-after"), "4");
  EXPECT_EQ(header(r, "x-should-retry"), "false");
  // No Retry-After on other statuses, even when the error carries one.
  e.http_status = 404;
  EXPECT_FALSE(has_header(error_reply(e), "retry-after"));
}

TEST(ErrorReply, UpstreamBodyIsRelayed) {
  Error e = make_error(errc::upstream_rejected, "x");
  e.http_status = 400;
  e.upstream_body = R"({"error":{"message":"from upstream","type":"invalid_request_error","param":"temperature","code":null}})";
  const Reply r = error_reply(e);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, e.upstream_body);
}

TEST(StreamErrorEvent, IsOneDataEventWithTheErrorBody) {
  const Error e = make_error(errc::upstream_timeout, "idle for 60000 ms\nsecond line");
  // An OpenAI stream's failure event: ChunkStream's own rendering.
  const std::string event = test::FixedStream({}).failure_event(e);
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

TEST(AnswerReply, CarriesTheBodyAndTheGatewaysDecisions) {
  RequestContext ctx;
  ctx.provider = "openai";
  ctx.upstream_model = "gpt-4o-2024";
  Answer answer;
  answer.body = R"({"id":"x"})";
  answer.headers = {{"x-ratelimit-remaining-requests", "7"}};
  const Reply r = answer_reply(std::move(answer), ctx);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, R"({"id":"x"})");
  EXPECT_EQ(header(r, "x-sluice-provider"), "openai");
  EXPECT_EQ(header(r, "x-sluice-model"), "gpt-4o-2024");
  EXPECT_EQ(header(r, "x-ratelimit-remaining-requests"), "7") << "an unlimited group relays the upstream's";
  EXPECT_FALSE(r.error);
}

TEST(AnswerReply, AStreamIsAnEventStream) {
  RequestContext ctx;
  Answer answer;
  answer.stream = std::make_unique<test::FixedStream>(std::vector<std::string>{"data: {}\n\n"});
  const Reply r = answer_reply(std::move(answer), ctx);
  EXPECT_EQ(r.content_type, "text/event-stream");
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.body.empty());
}

TEST(AnswerReply, TheGroupsLimitsReplaceTheUpstreamsOwn) {
  RequestContext ctx;
  ctx.limits = {30, 29, 5'000, 4'985};
  Answer answer;
  answer.headers = {{"x-ratelimit-limit-requests", "100"}, {"x-ratelimit-remaining-tokens", "1"}, {"x-other", "y"}};
  const Reply r = answer_reply(std::move(answer), ctx);
  EXPECT_EQ(header(r, "x-ratelimit-limit-requests"), "30");
  EXPECT_EQ(header(r, "x-ratelimit-remaining-requests"), "29");
  EXPECT_EQ(header(r, "x-ratelimit-limit-tokens"), "5000");
  EXPECT_EQ(header(r, "x-ratelimit-remaining-tokens"), "4985");
  EXPECT_EQ(header(r, "x-other"), "y");
}

TEST(AddLimitHeaders, OnlyTheLimitsAGroupHas) {
  RequestContext ctx;
  ctx.limits.limit_requests = 10;
  ctx.limits.remaining_requests = 0;
  Reply r = error_reply(make_error(errc::rate_limited, "busy"));
  add_limit_headers(r, ctx);
  EXPECT_EQ(header(r, "x-ratelimit-limit-requests"), "10");
  EXPECT_EQ(header(r, "x-ratelimit-remaining-requests"), "0");
  EXPECT_FALSE(has_header(r, "x-ratelimit-limit-tokens"));
}


// --- Anthropic's conventions ------------------------------------------------------

TEST(AnthropicErrorReply, ShapeTypeAndTheFieldInTheMessage) {
  const Reply r = error_reply(make_error(errc::bad_request, "Field required", "max_tokens"), Wire::anthropic);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.wire, Wire::anthropic);
  EXPECT_EQ(json::parse(r.body),
            json::parse(R"({"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: Field required"}})"));
  EXPECT_EQ(header(r, "x-should-retry"), "false");
}

TEST(AnthropicErrorReply, StatusesAndTypesTheSdkMaps) {
  struct Case {
    errc code;
    int status;
    std::string type;
  };
  const Case cases[] = {
      {errc::unauthorized, 401, "authentication_error"},   {errc::peer_not_allowed, 403, "permission_error"},
      {errc::model_not_allowed, 403, "permission_error"},  {errc::budget_exceeded, 403, "permission_error"},
      {errc::model_not_found, 404, "not_found_error"},     {errc::not_found, 404, "not_found_error"},
      {errc::payload_too_large, 413, "request_too_large"}, {errc::rate_limited, 429, "rate_limit_error"},
      {errc::upstream_unavailable, 502, "api_error"},      {errc::upstream_timeout, 504, "timeout_error"},
      {errc::overloaded, 529, "overloaded_error"},         {errc::internal, 500, "api_error"},
  };
  for (const Case& c : cases) {
    const Reply r = error_reply(make_error(c.code, "m"), Wire::anthropic);
    EXPECT_EQ(r.status, c.status) << to_string(c.code);
    EXPECT_EQ(json::parse(r.body)["error"]["type"], c.type) << to_string(c.code);
  }
}

TEST(AnthropicErrorReply, AnUpstreamOverloadIs529WithRetryAfter) {
  Error e = make_error(errc::upstream_unavailable, "provider 'claude' answered 529: Overloaded");
  e.upstream_status = 529;
  const Reply r = error_reply(e, Wire::anthropic);
  EXPECT_EQ(r.status, 529);
  EXPECT_EQ(json::parse(r.body)["error"]["type"], "overloaded_error");
  EXPECT_EQ(header(r, "retry-after"), "1");
  EXPECT_EQ(error_reply(e).status, 502) << "OpenAI's clients keep the gateway status";
}

TEST(AnthropicErrorReply, RateLimitsCarryRetryAfter) {
  Error e = make_error(errc::rate_limited, "busy");
  e.retry_after_ms = 2500;
  const Reply r = error_reply(e, Wire::anthropic);
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(header(r, "retry-after"), "3");
  EXPECT_EQ(header(r, "retry-after-ms"), "2500");
}

}  // namespace
}  // namespace sluice::server
