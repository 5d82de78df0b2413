// The one table from error code to HTTP status, OpenAI error type and the
// two retry notions (client, failover), and the OpenAI error body rendered from it.
#include "sluice/core/error.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <ostream>
#include <set>
#include <string>

namespace sluice {
namespace {

using json = nlohmann::json;

struct Row {
  errc code;
  std::string_view name;
  int status;
  std::string_view type;
  std::string_view code_text;  // "" = null
  bool client_retry;
  bool fails_over;
};

// What each code must mean on the wire. Written out independently of the
// table in error.cpp so that a changed row fails here.
constexpr Row kExpected[] = {
    {errc::bad_request, "bad_request", 400, "invalid_request_error", "", false, false},
    {errc::unsupported_encoding, "unsupported_encoding", 400, "invalid_request_error", "unsupported_transfer_encoding", false, false},
    {errc::unauthorized, "unauthorized", 401, "authentication_error", "invalid_api_key", false, false},
    {errc::peer_not_allowed, "peer_not_allowed", 403, "permission_error", "peer_not_allowed", false, false},
    {errc::model_not_allowed, "model_not_allowed", 403, "permission_error", "model_not_allowed", false, false},
    {errc::budget_exceeded, "budget_exceeded", 403, "insufficient_quota", "budget_exceeded", false, false},
    {errc::not_found, "not_found", 404, "invalid_request_error", "unknown_url", false, false},
    {errc::model_not_found, "model_not_found", 404, "invalid_request_error", "model_not_found", false, false},
    {errc::method_not_allowed, "method_not_allowed", 405, "invalid_request_error", "method_not_allowed", false, false},
    {errc::request_timeout, "request_timeout", 408, "invalid_request_error", "request_timeout", true, false},
    {errc::payload_too_large, "payload_too_large", 413, "invalid_request_error", "request_too_large", false, false},
    {errc::headers_too_large, "headers_too_large", 431, "invalid_request_error", "headers_too_large", false, false},
    {errc::rate_limited, "rate_limited", 429, "rate_limit_exceeded", "rate_limit_exceeded", true, false},
    {errc::upstream_rejected, "upstream_rejected", 400, "invalid_request_error", "", false, false},
    {errc::upstream_rate_limited, "upstream_rate_limited", 429, "rate_limit_exceeded", "rate_limit_exceeded", true, true},
    {errc::upstream_unavailable, "upstream_unavailable", 502, "upstream_error", "upstream_unavailable", true, true},
    {errc::upstream_timeout, "upstream_timeout", 504, "upstream_error", "upstream_timeout", true, true},
    {errc::upstream_protocol, "upstream_protocol", 502, "upstream_error", "upstream_protocol_error", true, true},
    {errc::upstream_auth, "upstream_auth", 502, "upstream_error", "upstream_credentials_refused", false, true},
    {errc::cancelled, "cancelled", 499, "request_cancelled", "", false, false},
    {errc::overloaded, "overloaded", 503, "server_error", "overloaded", true, false},
    {errc::shutting_down, "shutting_down", 503, "server_error", "shutting_down", true, false},
    {errc::redis_unavailable, "redis_unavailable", 503, "server_error", "redis_unavailable", true, false},
    {errc::internal, "internal", 500, "server_error", "internal_error", true, false},
};

void PrintTo(const Row& r, std::ostream* os) { *os << r.name; }

class ErrorTable : public ::testing::TestWithParam<Row> {};

TEST_P(ErrorTable, TraitsMatch) {
  const Row& r = GetParam();
  const ErrorTraits& t = traits(r.code);
  EXPECT_EQ(t.http_status, r.status) << r.name;
  EXPECT_EQ(t.type, r.type) << r.name;
  EXPECT_EQ(t.code, r.code_text) << r.name;
  EXPECT_EQ(t.client_retry, r.client_retry) << r.name;
  EXPECT_EQ(t.fails_over, r.fails_over) << r.name;
  EXPECT_EQ(to_string(r.code), r.name);
}

TEST_P(ErrorTable, ErrorUsesTheTable) {
  const Row& r = GetParam();
  const Error e = make_error(r.code, "m");
  EXPECT_EQ(e.status(), r.status) << r.name;
  EXPECT_EQ(e.client_may_retry(), r.client_retry) << r.name;
  EXPECT_EQ(e.fails_over(), r.fails_over) << r.name;
}

TEST_P(ErrorTable, BodyIsOpenAiShaped) {
  const Row& r = GetParam();
  const json body = json::parse(error_body(make_error(r.code, "what happened")));
  ASSERT_TRUE(body.is_object());
  ASSERT_EQ(body.size(), 1u);
  const json& e = body.at("error");
  ASSERT_EQ(e.size(), 4u) << e.dump();
  EXPECT_EQ(e.at("message"), "what happened");
  EXPECT_EQ(e.at("type"), std::string(r.type));
  EXPECT_TRUE(e.at("param").is_null());
  if (r.code_text.empty()) EXPECT_TRUE(e.at("code").is_null()) << r.name;
  else EXPECT_EQ(e.at("code"), std::string(r.code_text));
}

INSTANTIATE_TEST_SUITE_P(EveryCode, ErrorTable, ::testing::ValuesIn(kExpected),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(ErrorTable, CoversEveryCodeOnceWithDistinctNames) {
  // errc::internal is the last enumerator; every code up to it has a row.
  std::set<std::string_view> names;
  for (int i = 0; i <= static_cast<int>(errc::internal); ++i) {
    const auto code = static_cast<errc>(i);
    names.insert(to_string(code));
    EXPECT_EQ(kExpected[i].code, code) << "expected table out of order at " << i;
  }
  EXPECT_EQ(names.size(), std::size(kExpected));
}

TEST(Error, HttpStatusOverridesTheTable) {
  Error e = make_error(errc::upstream_rejected, "nope");
  e.http_status = 422;
  EXPECT_EQ(e.status(), 422);
  EXPECT_FALSE(e.client_may_retry());
  EXPECT_FALSE(e.fails_over());
}

TEST(Error, RetriesSpentByTheGatewayAreNotTheClientsToRepeat) {
  Error e = make_error(errc::upstream_unavailable, "down");
  EXPECT_TRUE(e.client_may_retry());
  e.retries_spent = true;
  EXPECT_FALSE(e.client_may_retry());
  EXPECT_TRUE(e.fails_over()) << "what the gateway may still do is a separate question";
}

TEST(Error, RefusedCredentialsFailOverButAreNeverTheClientsToRetry) {
  // Another deployment has other credentials; the client's retry would meet the same refusal.
  const Error e = make_error(errc::upstream_auth, "refused");
  EXPECT_TRUE(e.fails_over());
  EXPECT_FALSE(e.client_may_retry());
  EXPECT_EQ(e.status(), 502) << "the gateway's credentials, not the client's: never a 401";
}

// Retry-After is whole seconds rounded up and never 0: a client told "0"
// or told a second early retries into the same empty bucket.
TEST(RetryAfter, RoundsUpAndNeverSaysZero) {
  using namespace std::chrono_literals;
  EXPECT_EQ(retry_after_ms(0ns), 1);
  EXPECT_EQ(retry_after_ms(-5ms), 1);
  EXPECT_EQ(retry_after_ms(1ns), 1);
  EXPECT_EQ(retry_after_ms(1001us), 2);
  EXPECT_EQ(retry_after_ms(2500ms), 2500);
  EXPECT_EQ(retry_after_seconds(std::int64_t{0}), 1);
  EXPECT_EQ(retry_after_seconds(std::int64_t{1000}), 1);
  EXPECT_EQ(retry_after_seconds(std::int64_t{1001}), 2);
  EXPECT_EQ(retry_after_seconds(59'001ms), 60);
  EXPECT_EQ(retry_after_seconds(60s), 60);
}

TEST(Error, ABugInTheGatewayIsNeverFailedOver) {
  EXPECT_FALSE(make_error(errc::internal, "provider 'x' is not running").fails_over());
}

TEST(ErrorBody, ParamIsAStringWhenSet) {
  const json body = json::parse(error_body(make_error(errc::bad_request, "bad", "messages[0].role")));
  EXPECT_EQ(body["error"]["param"], "messages[0].role");
  EXPECT_TRUE(body["error"]["code"].is_null());
}

TEST(ErrorBody, MessageIsEscaped) {
  const std::string message = "quote \" backslash \\ newline \n tab \t cr \r nul " + std::string(1, '\0') + " \x1f end";
  const std::string text = error_body(make_error(errc::internal, message, "a\"b"));
  EXPECT_EQ(text.find('\n'), std::string::npos);
  const json body = json::parse(text);
  EXPECT_EQ(body["error"]["message"], message);
  EXPECT_EQ(body["error"]["param"], "a\"b");
}

TEST(ErrorBody, EmptyMessageIsAnEmptyString) {
  const json body = json::parse(error_body(make_error(errc::internal, "")));
  EXPECT_EQ(body["error"]["message"], "");
}

TEST(ErrorBody, UpstreamBodyIsRelayedVerbatim) {
  Error e = make_error(errc::upstream_rejected, "ignored", "ignored");
  e.upstream_body = "{\"error\": {\"message\": \"bad  model\",\n \"type\": \"x\", \"extra\": [1, 2]}}";
  EXPECT_EQ(error_body(e), e.upstream_body);
}

TEST(Result, HoldsValueOrError) {
  Result<int> good = 7;
  ASSERT_TRUE(good.ok());
  EXPECT_TRUE(static_cast<bool>(good));
  EXPECT_EQ(*good, 7);
  Result<int> bad = make_error(errc::not_found, "gone");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, errc::not_found);
  EXPECT_EQ(bad.error().message, "gone");
  Result<std::string> moved = std::string("abc");
  EXPECT_EQ(moved->size(), 3u);
  std::string taken = std::move(moved).value();
  EXPECT_EQ(taken, "abc");
}

}  // namespace
}  // namespace sluice
