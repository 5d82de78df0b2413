// OpenAI mapping functions on recorded samples (tests/fixtures/providers/openai),
// and OpenAiProvider end to end against FakeUpstream and a replay server.
#include "../../../src/providers/openai.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "support/run_coro.hpp"
#include "support/fixture.hpp"
#include "provider_test_util.hpp"
#include "scripted_upstream.hpp"
#include "sluice/net/sse.hpp"
#include "support/fake_upstream.hpp"

namespace sluice::providers {
namespace {

namespace asio = boost::asio;
using json = nlohmann::json;
using test::collect;
using test::Collected;
using test::frame;
using test::head_with;
using test::make_llm_request;
using test::read_fixture;
using test::run_coro;
using namespace std::chrono_literals;

// --- parse_openai_usage ---------------------------------------------------

TEST(ParseOpenAiUsage, ChatResponse) {
  const Usage u = parse_openai_usage(read_fixture("providers/openai/chat.response.json"));
  EXPECT_TRUE(u.known);
  EXPECT_EQ(u.prompt_tokens, 1117);
  EXPECT_EQ(u.completion_tokens, 46);
}

TEST(ParseOpenAiUsage, EmbeddingsResponseHasNoCompletionTokens) {
  const Usage u = parse_openai_usage(read_fixture("providers/openai/embeddings.response.json"));
  EXPECT_TRUE(u.known);
  EXPECT_EQ(u.prompt_tokens, 5);
  EXPECT_EQ(u.completion_tokens, 0);
}

TEST(ParseOpenAiUsage, StreamChunks) {
  const auto events = frame(read_fixture("providers/openai/chat.stream.txt"));
  ASSERT_EQ(events.size(), 13u);  // role, 9 content, finish, usage, [DONE]
  for (std::size_t i = 0; i + 2 < events.size(); ++i)
    EXPECT_FALSE(parse_openai_usage(net::sse_data(events[i])).known) << "usage:null in chunk " << i;
  const Usage u = parse_openai_usage(net::sse_data(events[11]));
  EXPECT_TRUE(u.known);
  EXPECT_EQ(u.prompt_tokens, 9);
  EXPECT_EQ(u.completion_tokens, 10);
  EXPECT_FALSE(parse_openai_usage(net::sse_data(events[12])).known);  // [DONE]
}

TEST(ParseOpenAiUsage, NullAbsentOrGarbageIsUnknown) {
  for (const char* text : {"", " ", "garbage", "{", "[]", "null", "42", R"({"usage":null})", R"({})",
                           R"({"usage":"12"})", R"({"usage":[1,2]})", R"({"choices":[{"usage":{"prompt_tokens":1}}]})",
                           "[DONE]"}) {
    const Usage u = parse_openai_usage(text);
    EXPECT_FALSE(u.known) << text;
    EXPECT_EQ(u.prompt_tokens, 0) << text;
    EXPECT_EQ(u.completion_tokens, 0) << text;
  }
}

TEST(ParseOpenAiUsage, PartialUsage) {
  const Usage u = parse_openai_usage(R"({"usage":{"prompt_tokens":3,"completion_tokens":"x"}})");
  EXPECT_TRUE(u.known);
  EXPECT_EQ(u.prompt_tokens, 3);
  EXPECT_EQ(u.completion_tokens, 0);
}

TEST(ParseOpenAiUsage, UsageAfterOtherFields) {
  const Usage u =
      parse_openai_usage(R"({"id":"x","choices":[{"usage":{"prompt_tokens":99}}],"usage":{"completion_tokens":4,"prompt_tokens":2}})");
  EXPECT_TRUE(u.known);
  EXPECT_EQ(u.prompt_tokens, 2);
  EXPECT_EQ(u.completion_tokens, 4);
}

// --- json_object_usage: validation and usage in one parse ------------------

TEST(JsonObjectUsage, AgreesWithParseOpenAiUsageOnObjects) {
  for (const std::string& text :
       {read_fixture("providers/openai/chat.response.json"), read_fixture("providers/openai/embeddings.response.json"),
        std::string(R"({"usage":null})"), std::string(R"({})"), std::string(R"({"usage":"12"})"),
        std::string(R"({"usage":{"prompt_tokens":3,"completion_tokens":"x"}})"),
        std::string(R"({"id":"x","choices":[{"usage":{"prompt_tokens":99}}],"usage":{"completion_tokens":4,"prompt_tokens":2}})")}) {
    const auto u = json_object_usage(text);
    ASSERT_TRUE(u.has_value()) << text;
    const Usage expected = parse_openai_usage(text);
    EXPECT_EQ(u->known, expected.known) << text;
    EXPECT_EQ(u->prompt_tokens, expected.prompt_tokens) << text;
    EXPECT_EQ(u->completion_tokens, expected.completion_tokens) << text;
  }
}

TEST(JsonObjectUsage, AnythingButAJsonObjectIsNone) {
  for (const char* text : {"", " ", "garbage", "{", "[]", "null", "42", "[DONE]", "<html>{}</html>", R"({"a":1} x)"})
    EXPECT_FALSE(json_object_usage(text).has_value()) << text;
}

// --- surfaced_headers -----------------------------------------------------

TEST(SurfacedHeaders, KeepsRateLimitAndRetryHeadersOnly) {
  const auto kept = surfaced_headers(head_with({
      {"content-type", "application/json"},
      {"x-ratelimit-limit-requests", "10000"},
      {"openai-organization", "org-secret"},
      {"x-ratelimit-remaining-tokens", "149984"},
      {"set-cookie", "__cf_bm=abc"},
      {"retry-after", "2"},
      {"x-request-id", "req_123"},
      {"retry-after-ms", "1500"},
      {"x-ratelimit-reset-requests", "6ms"},
      {"x-ratelimit", "no dash suffix"},
      {"retry-after-s", "3"},
  }));
  ASSERT_EQ(kept.size(), 5u);
  EXPECT_EQ(kept[0].name, "x-ratelimit-limit-requests");
  EXPECT_EQ(kept[0].value, "10000");
  EXPECT_EQ(kept[1].name, "x-ratelimit-remaining-tokens");
  EXPECT_EQ(kept[2].name, "retry-after");
  EXPECT_EQ(kept[3].name, "retry-after-ms");
  EXPECT_EQ(kept[4].name, "x-ratelimit-reset-requests");
  EXPECT_EQ(kept[4].value, "6ms");
}

TEST(SurfacedHeaders, DropsValuesWithLineBreaks) {
  const auto kept = surfaced_headers(head_with({
      {"x-ratelimit-limit-requests", "1\r\nset-cookie: evil=1"},
      {"retry-after", "2\n"},
      {"retry-after-ms", std::string("1\0", 2)},
      {"x-ratelimit-remaining-requests", "9"},
  }));
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept[0].name, "x-ratelimit-remaining-requests");
}

TEST(SurfacedHeaders, NoHeaders) { EXPECT_TRUE(surfaced_headers(head_with({})).empty()); }

// --- map_upstream_error ---------------------------------------------------

TEST(MapUpstreamError, OpenAiShaped400IsRelayedWithItsStatus) {
  const std::string body = read_fixture("providers/openai/error.400.json");
  const Error e = map_upstream_error("openai", 400, body, head_with({}, 400));
  EXPECT_EQ(e.code, errc::upstream_rejected);
  EXPECT_EQ(e.status(), 400);
  EXPECT_FALSE(e.fails_over());
  EXPECT_EQ(e.upstream_body, body);
  EXPECT_EQ(error_body(e), body);
  EXPECT_EQ(e.message, "Invalid value for 'temperature': expected a number between 0 and 2, got 7.");
}

TEST(MapUpstreamError, OpenAiShaped404IsRelayedWithItsStatus) {
  const std::string body = read_fixture("providers/openai/error.404.json");
  const Error e = map_upstream_error("openai", 404, body, head_with({}, 404));
  EXPECT_EQ(e.code, errc::upstream_rejected);
  EXPECT_EQ(e.status(), 404);
  EXPECT_FALSE(e.fails_over());
  EXPECT_EQ(error_body(e), body);
}

TEST(MapUpstreamError, Other4xxKeepTheirStatus) {
  for (int status : {400, 413, 415, 422}) {
    const Error e = map_upstream_error("p", status, R"({"error":{"message":"nope"}})", head_with({}, status));
    EXPECT_EQ(e.code, errc::upstream_rejected) << status;
    EXPECT_EQ(e.status(), status);
    EXPECT_FALSE(e.fails_over());
  }
}

TEST(MapUpstreamError, CredentialProblemsAre502NotTheClientsFault) {
  const std::string body = read_fixture("providers/openai/error.401.json");
  for (int status : {401, 403}) {
    const Error e = map_upstream_error("openai", status, body, head_with({}, status));
    EXPECT_EQ(e.code, errc::upstream_auth) << status;
    EXPECT_EQ(e.status(), 502);
    EXPECT_TRUE(e.fails_over()) << "another account may serve";
    EXPECT_FALSE(e.client_may_retry()) << "a retry meets the same refusal";
    EXPECT_EQ(e.upstream_status, status);
    EXPECT_TRUE(e.upstream_body.empty()) << "the provider's auth error must not reach the client as its own";
    EXPECT_NE(e.message.find("provider 'openai' answered " + std::to_string(status)), std::string::npos) << e.message;
    EXPECT_NE(e.message.find("refused the gateway's credentials"), std::string::npos) << e.message;
    const json j = json::parse(error_body(e));
    EXPECT_EQ(j["error"]["type"], "upstream_error");
    EXPECT_EQ(j["error"]["code"], "upstream_credentials_refused");
  }
}

TEST(MapUpstreamError, CredentialErrorsNeverQuoteTheProvidersMessage) {
  // OpenAI's 401 message quotes part of the key it was given: the gateway's own.
  const std::string body =
      R"({"error":{"message":"Incorrect API key provided: sk-proj-****abcd.","type":"invalid_request_error","code":"invalid_api_key"}})";
  for (int status : {401, 403}) {
    const Error e = map_upstream_error("openai", status, body, head_with({}, status));
    EXPECT_EQ(e.message.find("sk-"), std::string::npos) << e.message;
    EXPECT_EQ(error_body(e).find("abcd"), std::string::npos) << error_body(e);
  }
}

TEST(MapUpstreamError, HugeRetryAfterIsCappedAtADay) {
  EXPECT_EQ(map_upstream_error("p", 429, "", head_with({{"retry-after-ms", "2147483647"}}, 429)).retry_after_ms, 86'400'000);
  EXPECT_EQ(map_upstream_error("p", 429, "", head_with({{"retry-after", "99999999999"}}, 429)).retry_after_ms, 86'400'000);
  EXPECT_EQ(map_upstream_error("p", 429, "", head_with({{"retry-after", "-5"}}, 429)).retry_after_ms, -1);
}

TEST(MapUpstreamError, RateLimitedWithRetryAfter) {
  const std::string body = read_fixture("providers/openai/error.429.json");
  Error e = map_upstream_error("openai", 429, body, head_with({{"retry-after", "3"}}, 429));
  EXPECT_EQ(e.code, errc::upstream_rate_limited);
  EXPECT_EQ(e.status(), 429);
  EXPECT_TRUE(e.fails_over());
  EXPECT_EQ(e.retry_after_ms, 3000);
  EXPECT_TRUE(e.upstream_body.empty());
  EXPECT_NE(e.message.find("Rate limit reached"), std::string::npos) << e.message;
  EXPECT_EQ(json::parse(error_body(e))["error"]["code"], "rate_limit_exceeded");
}

TEST(MapUpstreamError, RetryAfterMsWins) {
  struct Case {
    std::vector<Header> headers;
    std::int64_t ms;
  };
  const Case cases[] = {
      {{{"retry-after-ms", "1500"}}, 1500},
      {{{"retry-after-ms", "120"}}, 120},
      {{{"retry-after-ms", "2000"}}, 2000},
      {{{"retry-after-ms", "0"}}, 0},
      {{{"retry-after", "7"}, {"retry-after-ms", "100"}}, 100},
      {{{"retry-after-ms", "soon"}, {"retry-after", "4"}}, 4000},
      {{{"retry-after", "Wed, 21 Oct 2015 07:28:00 GMT"}}, -1},
      {{}, -1},
  };
  for (const Case& c : cases) {
    const Error e = map_upstream_error("p", 429, "", head_with(c.headers, 429));
    EXPECT_EQ(e.retry_after_ms, c.ms) << (c.headers.empty() ? "none" : c.headers[0].value);
  }
}

TEST(MapUpstreamError, ServerErrorsAre502) {
  for (int status : {500, 502, 503, 504, 529}) {
    const Error e = map_upstream_error("p", status, R"({"error":{"message":"overloaded"}})", head_with({}, status));
    EXPECT_EQ(e.code, errc::upstream_unavailable) << status;
    EXPECT_EQ(e.status(), 502) << status;
    EXPECT_TRUE(e.fails_over());
    EXPECT_TRUE(e.upstream_body.empty());
    EXPECT_EQ(e.message, "provider 'p' answered " + std::to_string(status) + ": overloaded");
  }
}

TEST(MapUpstreamError, HtmlBodyIsNotRelayed) {
  const std::string html = read_fixture("providers/openai/error.502.html");
  Error e = map_upstream_error("p", 502, html, head_with({{"content-type", "text/html"}}, 502));
  EXPECT_EQ(e.code, errc::upstream_unavailable);
  EXPECT_EQ(e.status(), 502);
  EXPECT_EQ(e.message, "provider 'p' answered 502");
  EXPECT_TRUE(e.upstream_body.empty());
  // A 4xx with an HTML body: the gateway's own OpenAI-shaped body, the upstream status.
  e = map_upstream_error("p", 400, html, head_with({}, 400));
  EXPECT_EQ(e.code, errc::upstream_rejected);
  EXPECT_EQ(e.status(), 400);
  EXPECT_TRUE(e.upstream_body.empty());
  const json j = json::parse(error_body(e));
  EXPECT_EQ(j["error"]["message"], "provider 'p' answered 400");
  EXPECT_EQ(j["error"]["type"], "invalid_request_error");
}

TEST(MapUpstreamError, NonOpenAiJsonIsNotRelayed) {
  for (const char* body : {R"({"detail":"Not Found"})", R"({"error":"plain string"})", R"({"error":{"message":3}})", "[]"}) {
    const Error e = map_upstream_error("p", 404, body, head_with({}, 404));
    EXPECT_EQ(e.code, errc::upstream_rejected) << body;
    EXPECT_EQ(e.status(), 404) << body;
    EXPECT_TRUE(e.upstream_body.empty()) << body;
    EXPECT_EQ(e.message, "provider 'p' answered 404") << body;
  }
}

TEST(MapUpstreamError, ConflictMayBeRetriedElsewhere) {
  const Error e = map_upstream_error("p", 409, R"({"error":{"message":"lock timeout"}})", head_with({}, 409));
  EXPECT_EQ(e.code, errc::upstream_unavailable);
  EXPECT_TRUE(e.fails_over()) << "SDKs retry 409, and so does the pool";
  EXPECT_NE(e.message.find("answered 409: lock timeout"), std::string::npos) << e.message;
}

TEST(MapUpstreamError, RequestTimeoutIsUpstreamTimeout) {
  const Error e = map_upstream_error("p", 408, "", head_with({}, 408));
  EXPECT_EQ(e.code, errc::upstream_timeout);
  EXPECT_EQ(e.status(), 504);
  EXPECT_TRUE(e.fails_over());
}

TEST(MapUpstreamError, UnexpectedNonErrorStatusIs502) {
  const Error e = map_upstream_error("p", 302, "", head_with({{"location", "/elsewhere"}}, 302));
  EXPECT_EQ(e.code, errc::upstream_rejected);
  EXPECT_EQ(e.status(), 502);
}

// --- OpenAiProvider against FakeUpstream ----------------------------------

json chat_body(json x_fake = nullptr, bool stream = false) {
  json body = {{"model", "alias"}, {"messages", {{{"role", "user"}, {"content", "hello"}}}}};
  if (stream) {
    body["stream"] = true;
    body["stream_options"] = {{"include_usage", true}};
  }
  if (!x_fake.is_null()) body["x_fake"] = std::move(x_fake);
  return body;
}

ProviderConfig provider_config(std::string base_url) {
  ProviderConfig c;
  c.name = "up";
  c.type = ProviderType::openai;
  c.base_url = std::move(base_url);
  c.api_key = "sk-test-123";
  c.headers = {{"OpenAI-Organization", "org-1"}};
  c.first_byte_timeout = 5s;
  c.idle_timeout = 5s;
  return c;
}

class OpenAiProviderTest : public ::testing::Test {
 protected:
  OpenAiProviderTest() : provider_(provider_config(fake_.base_url()), io_.get_executor()) {}

  Result<ProviderResponse> complete(json body) {
    const LlmRequest req = make_llm_request(std::move(body));
    return run_coro(io_, provider_.complete(req, "gpt-upstream", ctx_));
  }
  Result<StreamStart> stream(json body) {
    const LlmRequest req = make_llm_request(std::move(body));
    return run_coro(io_, provider_.stream(req, "gpt-upstream", ctx_));
  }

  test::FakeUpstream fake_;
  RequestContext ctx_;
  asio::io_context io_;
  OpenAiProvider provider_;
};

TEST_F(OpenAiProviderTest, CompleteSendsTheBodyWithTheUpstreamModel) {
  auto res = complete(chat_body());
  ASSERT_TRUE(res.ok()) << res.error().message;
  EXPECT_EQ(provider_.name(), "up");
  EXPECT_EQ(res->status, 200);
  const json answer = json::parse(res->body);
  EXPECT_EQ(answer["model"], "gpt-upstream");
  EXPECT_TRUE(res->usage.known);
  EXPECT_EQ(res->usage.completion_tokens, 5);
  EXPECT_EQ(res->usage.prompt_tokens, answer["usage"]["prompt_tokens"].get<int>());

  ASSERT_EQ(fake_.request_count(), 1u);
  const test::Recorded r = fake_.requests()[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/v1/chat/completions");
  EXPECT_EQ(r.headers.at("authorization"), "Bearer sk-test-123");
  EXPECT_EQ(r.headers.at("openai-organization"), "org-1");
  EXPECT_EQ(r.headers.at("content-type"), "application/json");
  EXPECT_EQ(r.headers.at("accept"), "application/json");
  json expected = chat_body();
  expected["model"] = "gpt-upstream";
  EXPECT_EQ(r.body, expected.dump()) << "only the model token may change";
}

TEST_F(OpenAiProviderTest, CompleteSurfacesRateLimitHeaders) {
  auto res = complete(chat_body({{"retry_after_s", 5}}));
  ASSERT_TRUE(res.ok()) << res.error().message;
  ASSERT_EQ(res->headers.size(), 1u);
  EXPECT_EQ(res->headers[0].name, "retry-after");
  EXPECT_EQ(res->headers[0].value, "5");
}

TEST_F(OpenAiProviderTest, EmbeddingsGoToTheEmbeddingsPath) {
  const LlmRequest req = make_llm_request({{"model", "alias"}, {"input", "hi"}}, Endpoint::embeddings);
  auto res = run_coro(io_, provider_.complete(req, "emb-up", ctx_));
  ASSERT_TRUE(res.ok()) << res.error().message;
  EXPECT_EQ(fake_.requests().at(0).target, "/v1/embeddings");
  EXPECT_EQ(json::parse(res->body)["model"], "emb-up");
}

TEST_F(OpenAiProviderTest, UpstreamErrorsAreMapped) {
  auto rejected = complete(chat_body({{"status", 400}}));
  ASSERT_FALSE(rejected.ok());
  EXPECT_EQ(rejected.error().code, errc::upstream_rejected);
  EXPECT_EQ(rejected.error().status(), 400);
  EXPECT_EQ(json::parse(rejected.error().upstream_body)["error"]["message"], "fake error 400");

  auto down = complete(chat_body({{"status", 503}}));
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.error().code, errc::upstream_unavailable);
  EXPECT_EQ(down.error().status(), 502);

  auto limited = complete(chat_body({{"status", 429}, {"retry_after_s", 2}}));
  ASSERT_FALSE(limited.ok());
  EXPECT_EQ(limited.error().code, errc::upstream_rate_limited);
  EXPECT_EQ(limited.error().retry_after_ms, 2000);
}

TEST_F(OpenAiProviderTest, StreamRelaysEventsAndReadsUsage) {
  auto started = stream(chat_body(nullptr, true));
  ASSERT_TRUE(started.ok()) << started.error().message;
  EXPECT_EQ(fake_.requests().at(0).headers.at("accept"), "text/event-stream");
  const Collected c = run_coro(io_, collect(started->stream.get()));
  ASSERT_FALSE(c.error.has_value()) << c.error->message;
  const auto events = frame(c.text);
  ASSERT_EQ(events.size(), 7u);  // role, c0, c1, c2, finish, usage, [DONE]
  EXPECT_TRUE(net::is_done_event(events.back()));
  EXPECT_EQ(json::parse(net::sse_data(events[1]))["choices"][0]["delta"]["content"], "c0");
  const Usage u = started->stream->usage();
  EXPECT_TRUE(u.known);
  EXPECT_EQ(u.completion_tokens, 3);
  // After the end, next() keeps answering "".
  auto again = run_coro(io_, started->stream->next());
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->empty());
}

// The client streams without asking for usage: the gateway asks, keeps it for
// the pool, and the client sees the stream it asked for.
TEST_F(OpenAiProviderTest, StreamWithoutUsageAsksForItAndHidesIt) {
  const json body = test::streaming(chat_body());
  const Collected c = test::stream_through(io_, provider_, body, "gpt-upstream", ctx_);
  ASSERT_FALSE(c.error.has_value()) << c.error->message;

  const json sent = json::parse(fake_.requests().at(0).body);
  EXPECT_EQ(sent["stream_options"], json({{"include_usage", true}}));
  json expected = body;  // everything else as the client sent it
  expected["model"] = "gpt-upstream";
  json without = sent;
  without.erase("stream_options");
  EXPECT_EQ(without, expected);

  const auto events = frame(c.text);
  ASSERT_EQ(events.size(), 6u);  // role, c0, c1, c2, finish, [DONE]: no usage chunk
  EXPECT_TRUE(net::is_done_event(events.back()));
  for (std::size_t i = 0; i + 1 < events.size(); ++i) {
    const json chunk = json::parse(net::sse_data(events[i]));
    EXPECT_FALSE(chunk.contains("usage")) << events[i];
    EXPECT_FALSE(chunk["choices"].empty()) << events[i];
  }
  EXPECT_TRUE(c.usage.known);
  EXPECT_EQ(c.usage.completion_tokens, 3);
  EXPECT_GT(c.usage.prompt_tokens, 0);
}

TEST_F(OpenAiProviderTest, StreamWithUsageFalseIsRewrittenAndOtherOptionsKept) {
  for (const json& options : {json{{"include_usage", false}}, json{{"continuous_usage_stats", false}},
                              json{{"include_usage", false}, {"continuous_usage_stats", false}}}) {
    fake_.reset_records();
    json body = test::streaming(chat_body());
    body["stream_options"] = options;
    const Collected c = test::stream_through(io_, provider_, body, "gpt-upstream", ctx_);
    ASSERT_FALSE(c.error.has_value()) << c.error->message;
    json want = options;
    want["include_usage"] = true;
    EXPECT_EQ(json::parse(fake_.requests().at(0).body)["stream_options"], want) << options;
    EXPECT_EQ(c.text.find("\"usage\""), std::string::npos) << options;
    EXPECT_EQ(frame(c.text).size(), 6u) << options;
    EXPECT_TRUE(c.usage.known) << options;
  }
}

TEST_F(OpenAiProviderTest, StreamWithUsageAskedIsRelayedAndNotRewritten) {
  const json body = chat_body(nullptr, true);
  const Collected c = test::stream_through(io_, provider_, body, "gpt-upstream", ctx_);
  ASSERT_FALSE(c.error.has_value());
  json expected = body;
  expected["model"] = "gpt-upstream";
  EXPECT_EQ(fake_.requests().at(0).body, expected.dump()) << "only the model token may change";
  const auto events = frame(c.text);
  ASSERT_EQ(events.size(), 7u);
  EXPECT_TRUE(json::parse(net::sse_data(events[5]))["choices"].empty());
  EXPECT_EQ(json::parse(net::sse_data(events[5]))["usage"]["completion_tokens"], 3);
  EXPECT_TRUE(json::parse(net::sse_data(events[0])).contains("usage")) << "usage:null relayed as the upstream sent it";
}

TEST_F(OpenAiProviderTest, NonStreamBodiesAreNeverRewritten) {
  auto res = complete(chat_body());
  ASSERT_TRUE(res.ok());
  EXPECT_FALSE(json::parse(fake_.requests().at(0).body).contains("stream_options"));
}

TEST_F(OpenAiProviderTest, OpenAiHasNoModelList) {
  auto models = run_coro(io_, provider_.list_models(ctx_));
  ASSERT_TRUE(models.ok());
  EXPECT_TRUE(models->empty());
  EXPECT_EQ(fake_.request_count(), 0u);
}

TEST_F(OpenAiProviderTest, StreamWithoutDoneIsAProtocolError) {
  auto started = stream(chat_body({{"no_done", true}}, true));
  ASSERT_TRUE(started.ok()) << started.error().message;
  const Collected c = run_coro(io_, collect(started->stream.get()));
  ASSERT_TRUE(c.error.has_value());
  EXPECT_EQ(c.error->code, errc::upstream_protocol);
  EXPECT_NE(c.error->message.find("[DONE]"), std::string::npos);
  EXPECT_NE(c.text.find("\"usage\""), std::string::npos) << "events before the end are still relayed";
}

TEST_F(OpenAiProviderTest, StreamCutShortIsUpstreamUnavailable) {
  auto started = stream(chat_body({{"drop_after", 1}}, true));
  ASSERT_TRUE(started.ok()) << started.error().message;
  const Collected c = run_coro(io_, collect(started->stream.get()));
  ASSERT_TRUE(c.error.has_value());
  EXPECT_EQ(c.error->code, errc::upstream_unavailable) << c.error->message;
  EXPECT_EQ(frame(c.text).size(), 2u);  // role, c0
}

TEST_F(OpenAiProviderTest, StreamErrorStatusFailsBeforeTheStream) {
  auto started = stream(chat_body({{"status", 429}, {"retry_after_s", 1}}, true));
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.error().code, errc::upstream_rate_limited);
  EXPECT_EQ(started.error().retry_after_ms, 1000);
  EXPECT_NE(started.error().message.find("fake error 429"), std::string::npos) << started.error().message;
}

TEST_F(OpenAiProviderTest, ConnectionIsReusedAcrossRequests) {
  ASSERT_TRUE(complete(chat_body()).ok());
  auto started = stream(chat_body(nullptr, true));
  ASSERT_TRUE(started.ok());
  ASSERT_FALSE(run_coro(io_, collect(started->stream.get())).error.has_value());
  ASSERT_TRUE(complete(chat_body()).ok());
  EXPECT_EQ(fake_.connections_accepted(), 1);
}

// --- OpenAiProvider on recorded streams -----------------------------------

// Points `upstream` at `body`, replayed as an SSE answer; its base URL.
std::string start_replay(test::ScriptedUpstream& upstream, const std::string& body) {
  upstream.answer(test::http_response(200, "text/event-stream", body, "x-ratelimit-remaining-requests: 499\r\n"));
  return upstream.base_url("/v1");
}

TEST(OpenAiProviderReplay, RecordedStreamIsRelayedByteForByte) {
  const std::string recorded = read_fixture("providers/openai/chat.stream.txt");
  RequestContext ctx;
  asio::io_context io;
  test::ScriptedUpstream upstream(io);
  OpenAiProvider provider(provider_config(start_replay(upstream, recorded)), io.get_executor());
  const LlmRequest req = make_llm_request(chat_body(nullptr, true));
  auto started = run_coro(io, provider.stream(req, "gpt-4o-mini", ctx));
  ASSERT_TRUE(started.ok()) << started.error().message;
  ASSERT_EQ(started->headers.size(), 1u);
  EXPECT_EQ(started->headers[0].name, "x-ratelimit-remaining-requests");
  const Collected c = run_coro(io, collect(started->stream.get()));
  ASSERT_FALSE(c.error.has_value()) << c.error->message;
  EXPECT_EQ(c.text, recorded);
  const Usage u = started->stream->usage();
  EXPECT_TRUE(u.known);
  EXPECT_EQ(u.prompt_tokens, 9);
  EXPECT_EQ(u.completion_tokens, 10);
}

TEST(OpenAiProviderReplay, BrokenStreamRelaysWholeEventsThenFails) {
  const std::string broken = read_fixture("providers/openai/broken.stream.txt");
  RequestContext ctx;
  asio::io_context io;
  test::ScriptedUpstream upstream(io);
  OpenAiProvider provider(provider_config(start_replay(upstream, broken)), io.get_executor());
  const LlmRequest req = make_llm_request(chat_body(nullptr, true));
  auto started = run_coro(io, provider.stream(req, "gpt-4o-mini", ctx));
  ASSERT_TRUE(started.ok()) << started.error().message;
  const Collected c = run_coro(io, collect(started->stream.get()));
  ASSERT_TRUE(c.error.has_value());
  EXPECT_EQ(c.error->code, errc::upstream_protocol);
  // Only complete events went out: never half an event.
  const auto events = frame(c.text);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events.back().back(), '\n');
  EXPECT_TRUE(broken.starts_with(c.text));
  EXPECT_LT(c.text.size(), broken.size());
  for (const auto& e : events) EXPECT_TRUE(json::accept(net::sse_data(e))) << e;
  EXPECT_FALSE(started->stream->usage().known);
}

TEST(OpenAiProviderReplay, SecretsTheUpstreamEchoesInAStreamAreRedacted) {
  // provider_config sends "Bearer sk-test-123" (too short to be taken for a
  // secret: see Redactor) and OpenAI-Organization: org-1; these have keys worth the name.
  const std::string key = "sk-live-0123456789abcdef";
  const std::string org = "org-0123456789";
  const std::string body = "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\n"
                           "data: {\"error\":{\"message\":\"Bearer " + key + " (org " + org + ") expired\"}}\n\n"
                           "data: [DONE]\n\n";
  RequestContext ctx;
  asio::io_context io;
  test::ScriptedUpstream upstream(io);
  ProviderConfig config = provider_config(start_replay(upstream, body));
  config.api_key = key;
  config.headers = {{"OpenAI-Organization", org}};
  OpenAiProvider provider(config, io.get_executor());
  const LlmRequest req = make_llm_request(chat_body(nullptr, true));
  auto started = run_coro(io, provider.stream(req, "m", ctx));
  ASSERT_TRUE(started.ok()) << started.error().message;
  const Collected c = run_coro(io, collect(started->stream.get()));
  ASSERT_FALSE(c.error.has_value()) << c.error->message;
  const auto events = frame(c.text);
  ASSERT_EQ(events.size(), 3u) << c.text;
  EXPECT_EQ(json::parse(net::sse_data(events[1]))["error"]["message"], "Bearer [redacted] (org [redacted]) expired");
  EXPECT_EQ(c.text.find(key), std::string::npos);
}

TEST_F(OpenAiProviderTest, SecretsQuotedInAnErrorAreRedactedForCompleteAndStream) {
  const std::string key = "sk-live-0123456789abcdef";
  ProviderConfig config = provider_config(fake_.base_url());
  config.api_key = key;
  OpenAiProvider provider(config, io_.get_executor());
  const std::string quoting =
      json{{"error", {{"message", "Invalid header: Bearer " + key}, {"type", "invalid_request_error"}}}}.dump();
  for (bool streamed : {false, true}) {
    const LlmRequest req = make_llm_request(chat_body({{"status", 400}, {"error_body", quoting}}, streamed));
    std::optional<Error> e;
    if (streamed) {
      auto r = run_coro(io_, provider.stream(req, "m", ctx_));
      if (!r.ok()) e = r.error();
    } else {
      auto r = run_coro(io_, provider.complete(req, "m", ctx_));
      if (!r.ok()) e = r.error();
    }
    ASSERT_TRUE(e.has_value()) << streamed;
    EXPECT_EQ(e->status(), 400);
    EXPECT_EQ(json::parse(e->upstream_body)["error"]["message"], "Invalid header: Bearer [redacted]") << streamed;
    EXPECT_EQ(e->message, "Invalid header: Bearer [redacted]") << streamed;
  }
}

TEST(OpenAiProviderReplay, SecretsInAnAnswerAreRedacted) {
  const std::string key = "sk-live-0123456789abcdef";
  RequestContext ctx;
  asio::io_context io;
  test::ScriptedUpstream upstream(io);
  upstream.answer(test::http_response(200, "application/json",
                                      R"({"choices":[{"message":{"content":"you sent )" + key + R"("}}]})"));
  ProviderConfig config = provider_config(upstream.base_url("/v1"));
  config.api_key = key;
  OpenAiProvider provider(config, io.get_executor());
  auto res = run_coro(io, provider.complete(make_llm_request(chat_body()), "m", ctx));
  ASSERT_TRUE(res.ok()) << res.error().message;
  EXPECT_EQ(json::parse(res->body)["choices"][0]["message"]["content"], "you sent [redacted]");
}

TEST(OpenAiProviderReplay, NothingIsRelayedAfterDone) {
  const std::string body = "data: {\"a\":1}\n\ndata: [DONE]\n\ndata: {\"late\":true}\n\n";
  RequestContext ctx;
  asio::io_context io;
  test::ScriptedUpstream upstream(io);
  OpenAiProvider provider(provider_config(start_replay(upstream, body)), io.get_executor());
  const LlmRequest req = make_llm_request(chat_body(nullptr, true));
  auto started = run_coro(io, provider.stream(req, "m", ctx));
  ASSERT_TRUE(started.ok()) << started.error().message;
  const Collected c = run_coro(io, collect(started->stream.get()));
  ASSERT_FALSE(c.error.has_value()) << c.error->message;
  EXPECT_EQ(c.text, "data: {\"a\":1}\n\ndata: [DONE]\n\n");
}


// --- malformed 2xx answers ------------------------------------------------
//
// A 2xx whose body is not what the protocol promises is the upstream's fault
// (a CDN's page, a proxy's text, a cut-off body): upstream_protocol, which
// fails over and ends as 502, never relayed as if it were an answer.

class OpenAiProviderMalformed : public ::testing::Test {
 protected:
  OpenAiProviderMalformed() : provider_(provider_config(upstream_.base_url("/v1")), io_.get_executor()) {}

  Result<ProviderResponse> complete_with(std::string raw_response, Endpoint endpoint = Endpoint::chat_completions) {
    upstream_.answer(std::move(raw_response));
    const json body = endpoint == Endpoint::embeddings ? json{{"model", "alias"}, {"input", "hi"}}
                      : endpoint == Endpoint::completions ? json{{"model", "alias"}, {"prompt", "hi"}}
                                                            : chat_body();
    const LlmRequest req = make_llm_request(body, endpoint);
    return run_coro(io_, provider_.complete(req, "gpt-upstream", ctx_));
  }
  // Streams `sse` (a 200 text/event-stream answer) to its end or error.
  Collected stream_with(const std::string& sse) {
    upstream_.answer(test::http_response(200, "text/event-stream", sse));
    return test::stream_through(io_, provider_, chat_body(nullptr, true), "gpt-upstream", ctx_);
  }

  RequestContext ctx_;
  asio::io_context io_;
  test::ScriptedUpstream upstream_{io_};
  OpenAiProvider provider_;
};

void expect_not_json(const Result<ProviderResponse>& res, std::string_view what, int status = 200) {
  ASSERT_FALSE(res.ok()) << what << ": relayed as " << res->body;
  EXPECT_EQ(res.error().code, errc::upstream_protocol) << what;
  EXPECT_EQ(res.error().status(), 502) << what;
  EXPECT_TRUE(res.error().fails_over()) << what;
  EXPECT_TRUE(res.error().upstream_body.empty()) << what;
  EXPECT_TRUE(res.error().message.starts_with("provider 'up': the upstream answered " + std::to_string(status) +
                                              " with a body that is not JSON ("))
      << what << ": " << res.error().message;
}

TEST_F(OpenAiProviderMalformed, HtmlBodyWithStatus200IsAProtocolError) {
  const std::string html = read_fixture("providers/openai/error.502.html");
  auto res = complete_with(test::http_response(200, "text/html", html));
  expect_not_json(res, "html");
  ASSERT_FALSE(res.ok());
  // What came instead, for the operator; never the body itself.
  EXPECT_EQ(res.error().message, "provider 'up': the upstream answered 200 with a body that is not JSON (text/html, " +
                                     std::to_string(html.size()) + " bytes)");
}

TEST_F(OpenAiProviderMalformed, NonJsonBodiesAreProtocolErrorsWhateverTheirContentType) {
  const std::string chat = read_fixture("providers/openai/chat.response.json");
  for (const std::string& body : {std::string("<html><body>Bad Gateway</body></html>"), std::string(""),
                                  std::string("OK"), chat.substr(0, chat.size() / 2), std::string("[]"),
                                  std::string("\"text\""), std::string("null"), std::string("{\"a\":1} trailing"),
                                  std::string("{\"a\":\"\xff\"}")}) {
    expect_not_json(complete_with(test::http_response(200, "application/json", body)), body);
  }
  expect_not_json(complete_with(test::http_response(201, "application/json", "created")), "201", 201);
}

TEST_F(OpenAiProviderMalformed, JsonWithAnotherContentTypeIsRelayed) {
  // What matters is the body: some servers label JSON text/plain or not at all.
  const std::string chat = read_fixture("providers/openai/chat.response.json");
  auto res = complete_with(test::http_response(200, "text/plain; charset=utf-8", chat));
  ASSERT_TRUE(res.ok()) << res.error().message;
  EXPECT_EQ(res->body, chat);
  EXPECT_TRUE(res->usage.known);
}

TEST_F(OpenAiProviderMalformed, EmbeddingsAndCompletionsBodiesAreCheckedToo) {
  const std::string html = read_fixture("providers/openai/error.502.html");
  for (Endpoint endpoint : {Endpoint::embeddings, Endpoint::completions})
    expect_not_json(complete_with(test::http_response(200, "text/html", html), endpoint), html);
  auto res = complete_with(
      test::http_response(200, "application/json", read_fixture("providers/openai/embeddings.response.json")),
      Endpoint::embeddings);
  ASSERT_TRUE(res.ok()) << res.error().message;
}

const std::string kRole = R"(data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]})" "\n\n";
const std::string kHello = R"(data: {"choices":[{"index":0,"delta":{"content":"Hello"}}]})" "\n\n";
const std::string kDone = "data: [DONE]\n\n";

TEST_F(OpenAiProviderMalformed, NonJsonFirstEventFailsTheStreamBeforeAnythingIsRelayed) {
  // Before the first event went out, the pipeline can still fail over.
  const Collected c = stream_with("data: <html>Bad Gateway</html>\n\n" + kRole + kHello + kDone);
  ASSERT_TRUE(c.started);
  ASSERT_TRUE(c.error.has_value()) << c.text;
  EXPECT_EQ(c.error->code, errc::upstream_protocol);
  EXPECT_TRUE(c.error->fails_over());
  EXPECT_EQ(c.error->message, "provider 'up': the upstream sent a stream event whose data is not JSON");
  EXPECT_EQ(c.text, "") << "nothing of a broken stream reaches the client";
  EXPECT_EQ(c.calls, 0);
}

TEST_F(OpenAiProviderMalformed, NonJsonLaterEventEndsTheStreamAfterTheEventsBeforeIt) {
  const std::string truncated = R"(data: {"choices":[{"index":0,"delta":{"content":"Wor)" "\n\n";
  const Collected c = stream_with(kRole + kHello + truncated + kHello + kDone);
  ASSERT_TRUE(c.error.has_value()) << c.text;
  EXPECT_EQ(c.error->code, errc::upstream_protocol);
  EXPECT_EQ(c.text, kRole + kHello) << "whole events before it, nothing from it on";
}

TEST_F(OpenAiProviderMalformed, HtmlInsteadOfAnEventStreamIsAnError) {
  upstream_.answer(test::http_response(200, "text/html", read_fixture("providers/openai/error.502.html")));
  const Collected c = test::stream_through(io_, provider_, chat_body(nullptr, true), "gpt-upstream", ctx_);
  ASSERT_TRUE(c.error.has_value()) << c.text;
  EXPECT_EQ(c.error->code, errc::upstream_protocol);
  EXPECT_EQ(c.text, "");
}

TEST_F(OpenAiProviderMalformed, CommentsAndEventsWithoutDataAreRelayed) {
  const std::string multi_line = "data: {\"choices\":[{\"index\":0,\n"
                                 "data: \"delta\":{\"content\":\"!\"}}]}\n\n";
  const std::string stream = ": ping\n\n" + kRole + "event: keepalive\n\n" + "id: 7\nretry: 100\n\n" + kHello +
                             multi_line + ": OPENROUTER PROCESSING\n\n" + kDone;
  const Collected c = stream_with(stream);
  ASSERT_FALSE(c.error.has_value()) << c.error->message;
  EXPECT_EQ(c.text, stream);
}

}  // namespace
}  // namespace sluice::providers
