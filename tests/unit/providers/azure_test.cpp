// Azure OpenAI: the dialect (routes, api-key, stream options), the error
// mapping on recorded bodies (tests/fixtures/providers/azure), and the
// provider end to end against FakeUpstream and recorded streams.
#include "../../../src/providers/azure.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "../../../src/providers/openai.hpp"
#include "support/run_coro.hpp"
#include "support/fixture.hpp"
#include "provider_test_util.hpp"
#include "support/fake_upstream.hpp"

namespace sluice::providers {
namespace {

namespace asio = boost::asio;
using json = nlohmann::json;
using test::Collected;
using test::frame;
using test::head_with;
using test::make_llm_request;
using test::read_fixture;
using test::run_coro;
using test::start_replay;
using test::stream_through;
using test::streaming;
using namespace std::chrono_literals;

ProviderConfig azure_config(std::string base_url, std::string api_version = "2024-10-21") {
  ProviderConfig c = test::test_provider_config("az", ProviderType::azure, std::move(base_url), "azure-key-123");
  c.api_version = std::move(api_version);
  return c;
}

// --- the dialect -----------------------------------------------------------

TEST(AzureDialect, DeploymentRoute) {
  const Dialect d = azure_dialect(azure_config("https://res.openai.azure.com"), "");
  EXPECT_EQ(request_target(d, Endpoint::chat_completions, "gpt-4o-prod"),
            "/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21");
  EXPECT_EQ(request_target(d, Endpoint::completions, "instruct"),
            "/openai/deployments/instruct/completions?api-version=2024-10-21");
  EXPECT_EQ(request_target(d, Endpoint::embeddings, "text-embedding-3-small"),
            "/openai/deployments/text-embedding-3-small/embeddings?api-version=2024-10-21");
  EXPECT_EQ(d.auth_header, "api-key");
  EXPECT_EQ(d.auth_value, "azure-key-123");
  EXPECT_TRUE(d.drop_empty_choices);
  EXPECT_TRUE(d.stream_usage);
}

TEST(AzureDialect, BasePathIsKept) {
  const Dialect d = azure_dialect(azure_config("https://gw.example/azure"), "/azure");
  EXPECT_EQ(request_target(d, Endpoint::chat_completions, "d"),
            "/azure/openai/deployments/d/chat/completions?api-version=2024-10-21");
}

TEST(AzureDialect, DeploymentNameIsOnePathSegment) {
  const Dialect d = azure_dialect(azure_config("https://res.openai.azure.com", "2024-10-21&x=1"), "");
  EXPECT_EQ(request_target(d, Endpoint::chat_completions, "my deploy/../x?y#z"),
            "/openai/deployments/my%20deploy%2F..%2Fx%3Fy%23z/chat/completions?api-version=2024-10-21%26x%3D1");
  EXPECT_EQ(request_target(d, Endpoint::chat_completions, ".."),
            "/openai/deployments/%2E%2E/chat/completions?api-version=2024-10-21%26x%3D1");
  EXPECT_EQ(encode_path_segment("gpt-4o.mini_2~x"), "gpt-4o.mini_2~x");
  EXPECT_EQ(encode_path_segment("modèle"), "mod%C3%A8le");
}

TEST(AzureDialect, V1Route) {
  const Dialect d = azure_dialect(azure_config("https://res.openai.azure.com", "v1"), "");
  EXPECT_EQ(request_target(d, Endpoint::chat_completions, "gpt-4o-prod"), "/openai/v1/chat/completions");
  EXPECT_EQ(request_target(d, Endpoint::embeddings, "emb"), "/openai/v1/embeddings");
  EXPECT_FALSE(d.model_in_path);
  EXPECT_TRUE(d.query.empty());
  EXPECT_EQ(d.auth_header, "api-key");
}

TEST(AzureDialect, NoKeyNoHeader) {
  ProviderConfig c = azure_config("https://res.openai.azure.com");
  c.api_key.clear();
  EXPECT_TRUE(azure_dialect(c, "").auth_header.empty());
}

TEST(AzureDialect, StreamOptionsOnlyWhereTheApiVersionKnowsThem) {
  for (const char* v : {"v1", "2024-08-01-preview", "2024-10-21", "2025-04-01-preview"})
    EXPECT_TRUE(azure_accepts_stream_options(v)) << v;
  for (const char* v : {"2024-06-01", "2024-02-15-preview", "2023-05-15", "2024-07-01-preview"})
    EXPECT_FALSE(azure_accepts_stream_options(v)) << v;
  EXPECT_FALSE(azure_dialect(azure_config("https://r", "2024-06-01"), "").stream_usage);
}

// --- map_azure_error -------------------------------------------------------

TEST(MapAzureError, ContentFilterIsAClear400) {
  const std::string body = read_fixture("providers/azure/error.content_filter.json");
  const Error e = map_azure_error("az", Endpoint::chat_completions, 400, body, head_with({}, 400));
  EXPECT_EQ(e.code, errc::upstream_rejected);
  EXPECT_EQ(e.status(), 400);
  EXPECT_FALSE(e.fails_over());
  const json j = json::parse(error_body(e));
  EXPECT_EQ(j["error"]["code"], "content_filter");
  EXPECT_EQ(j["error"]["type"], "invalid_request_error");
  EXPECT_EQ(j["error"]["param"], "messages");
  EXPECT_EQ(j["error"]["message"],
            "Azure's content filter rejected the prompt (filtered: hate, jailbreak, violence); change the prompt and "
            "try again");
  EXPECT_EQ(j["error"].size(), 4u) << "innererror and status are Azure's, not OpenAI's shape";
  EXPECT_EQ(e.message, j["error"]["message"]);
}

TEST(MapAzureError, ContentFilterParamFollowsTheEndpoint) {
  const std::string body = read_fixture("providers/azure/error.content_filter.json");
  EXPECT_EQ(json::parse(error_body(map_azure_error("az", Endpoint::completions, 400, body, head_with({}, 400))))
                ["error"]["param"],
            "prompt");
  EXPECT_EQ(json::parse(error_body(map_azure_error("az", Endpoint::embeddings, 400, body, head_with({}, 400))))
                ["error"]["param"],
            "input");
}

TEST(MapAzureError, ContentFilterWithoutDetails) {
  const std::string body = read_fixture("providers/azure/error.content_filter.no_details.json");
  const Error e = map_azure_error("az", Endpoint::chat_completions, 400, body, head_with({}, 400));
  EXPECT_EQ(e.status(), 400);
  EXPECT_EQ(e.message, "Azure's content filter rejected the prompt; change the prompt and try again");
  EXPECT_EQ(json::parse(error_body(e))["error"]["code"], "content_filter");
}

TEST(MapAzureError, FilteredCategories) {
  EXPECT_EQ(azure_filtered_categories(read_fixture("providers/azure/error.content_filter.json")),
            (std::vector<std::string>{"hate", "jailbreak", "violence"}));
  EXPECT_TRUE(azure_filtered_categories("not json").empty());
  EXPECT_TRUE(azure_filtered_categories(R"({"error":{"innererror":{"content_filter_result":[]}}})").empty());
  EXPECT_EQ(azure_filtered_categories(
                R"({"error":{"innererror":{"content_filter_results":{"sexual":{"filtered":true},"x":3}}}})"),
            (std::vector<std::string>{"sexual"}));
}

TEST(MapAzureError, DeploymentNotFoundIs404WithAzuresMessage) {
  const std::string body = read_fixture("providers/azure/error.404.deployment.json");
  const Error e = map_azure_error("az", Endpoint::chat_completions, 404, body, head_with({}, 404));
  EXPECT_EQ(e.code, errc::upstream_rejected);
  EXPECT_EQ(e.status(), 404);
  EXPECT_FALSE(e.fails_over());
  EXPECT_EQ(e.message,
            "The API deployment for this resource does not exist. If you created the deployment within the last 5 "
            "minutes, please wait a moment and try again.");
  const json j = json::parse(error_body(e));
  EXPECT_EQ(j["error"]["message"], e.message);
  EXPECT_EQ(j["error"]["code"], "DeploymentNotFound");
  EXPECT_EQ(j["error"]["type"], "invalid_request_error");
  EXPECT_TRUE(j["error"].contains("param"));
}

TEST(MapAzureError, RateLimitUsesRetryAfterMs) {
  const std::string body = read_fixture("providers/azure/error.429.json");
  const Error e = map_azure_error("az", Endpoint::chat_completions, 429, body,
                                  head_with({{"retry-after", "6"}, {"retry-after-ms", "5400"}}, 429));
  EXPECT_EQ(e.code, errc::upstream_rate_limited);
  EXPECT_EQ(e.status(), 429);
  EXPECT_TRUE(e.fails_over());
  EXPECT_EQ(e.retry_after_ms, 5400);
  EXPECT_NE(e.message.find("exceeded token rate limit"), std::string::npos) << e.message;
}

TEST(MapAzureError, CredentialErrorsInBothShapesAre502) {
  for (const char* file : {"providers/azure/error.401.json", "providers/azure/error.401.gateway.json"}) {
    const Error e = map_azure_error("az", Endpoint::chat_completions, 401, read_fixture(file), head_with({}, 401));
    EXPECT_EQ(e.code, errc::upstream_auth) << file;
    EXPECT_EQ(e.status(), 502) << file;
    EXPECT_TRUE(e.message.starts_with("provider 'az' answered 401: it refused the gateway's credentials")) << e.message;
  }
}

TEST(MapAzureError, GatewayShapeMessageIsKeptFor4xx) {
  const Error e = map_azure_error("az", Endpoint::chat_completions, 404,
                                  R"({"statusCode":404,"message":"Resource not found"})", head_with({}, 404));
  EXPECT_EQ(e.status(), 404);
  EXPECT_EQ(e.message, "Resource not found");
  EXPECT_EQ(json::parse(error_body(e))["error"]["message"], "Resource not found");
}

TEST(MapAzureError, OpenAiShapedBodiesKeepTheirMessage) {
  const std::string body = read_fixture("providers/azure/error.400.unsupported_param.json");
  const Error e = map_azure_error("az", Endpoint::chat_completions, 400, body, head_with({}, 400));
  EXPECT_EQ(e.status(), 400);
  EXPECT_EQ(e.message, "Unrecognized request argument supplied: stream_options");
  EXPECT_EQ(json::parse(error_body(e)), json::parse(body));
}

TEST(MapAzureError, ContentFilterCodeOnAnotherStatusIsNotARefusal) {
  const std::string body = read_fixture("providers/azure/error.content_filter.json");
  const Error e = map_azure_error("az", Endpoint::chat_completions, 500, body, head_with({}, 500));
  EXPECT_EQ(e.code, errc::upstream_unavailable);
  EXPECT_EQ(e.status(), 502);
}

TEST(MapAzureError, UnreadableBodiesAreMappedLikeOpenAis) {
  for (const char* body : {"", "<html>Bad Gateway</html>", "[]", R"({"error":{"code":"x"}})"}) {
    const Error e = map_azure_error("az", Endpoint::chat_completions, 400, body, head_with({}, 400));
    EXPECT_EQ(e.status(), 400) << body;
    EXPECT_EQ(e.message, "provider 'az' answered 400") << body;
    EXPECT_EQ(json::parse(error_body(e))["error"]["type"], "invalid_request_error") << body;
  }
}

// --- the provider against FakeUpstream --------------------------------------

json chat(json x_fake = nullptr) {
  json body = {{"model", "gpt-4o"}, {"messages", {{{"role", "user"}, {"content", "hello"}}}}};
  if (!x_fake.is_null()) body["x_fake"] = std::move(x_fake);
  return body;
}

class AzureProviderTest : public ::testing::Test {
 protected:
  std::string origin() const { return "http://127.0.0.1:" + std::to_string(fake_.port()); }
  OpenAiProvider provider(std::string api_version = "2024-10-21") {
    return OpenAiProvider(azure_config(origin(), std::move(api_version)), io_.get_executor());
  }

  test::FakeUpstream fake_;
  RequestContext ctx_;
  asio::io_context io_;
};

TEST_F(AzureProviderTest, CompleteOnTheDeploymentRoute) {
  OpenAiProvider p = provider();
  const LlmRequest req = make_llm_request(chat());
  auto res = run_coro(io_, p.complete(req, "gpt-4o-prod", ctx_));
  ASSERT_TRUE(res.ok()) << res.error().message;
  EXPECT_TRUE(res->usage.known);
  EXPECT_EQ(json::parse(res->body)["choices"][0]["message"]["role"], "assistant");
  const test::Recorded r = fake_.requests().at(0);
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21");
  EXPECT_EQ(r.headers.at("api-key"), "azure-key-123");
  EXPECT_EQ(r.headers.count("authorization"), 0u);
  EXPECT_EQ(r.headers.at("content-type"), "application/json");
  json expected = chat();
  expected["model"] = "gpt-4o-prod";
  EXPECT_EQ(r.body, expected.dump());
}

TEST_F(AzureProviderTest, CompleteOnTheV1Route) {
  OpenAiProvider p = provider("v1");
  const LlmRequest req = make_llm_request({{"model", "e"}, {"input", "hi"}}, Endpoint::embeddings);
  auto res = run_coro(io_, p.complete(req, "emb-prod", ctx_));
  ASSERT_TRUE(res.ok()) << res.error().message;
  const test::Recorded r = fake_.requests().at(0);
  EXPECT_EQ(r.target, "/openai/v1/embeddings");
  EXPECT_EQ(r.headers.at("api-key"), "azure-key-123");
  EXPECT_EQ(json::parse(r.body)["model"], "emb-prod") << "v1 names the deployment in the body";
}

TEST_F(AzureProviderTest, StreamDropsThePromptFilterChunkAndKeepsAskedUsage) {
  OpenAiProvider p = provider();
  json body = streaming(chat({{"azure_prompt_filter", true}}));
  body["stream_options"] = {{"include_usage", true}};
  const Collected c = stream_through(io_, p, body, "gpt-4o-prod", ctx_);
  ASSERT_FALSE(c.error.has_value()) << c.error->message;
  const auto events = frame(c.text);
  ASSERT_EQ(events.size(), 7u);  // role, c0..c2, finish, usage, [DONE]: the filter chunk is gone
  EXPECT_EQ(json::parse(net::sse_data(events[0]))["choices"][0]["delta"]["role"], "assistant");
  EXPECT_EQ(c.text.find("prompt_filter_results"), std::string::npos);
  EXPECT_TRUE(json::parse(net::sse_data(events[5]))["choices"].empty()) << "asked-for usage chunk relayed";
  EXPECT_TRUE(c.usage.known);
  EXPECT_EQ(fake_.requests().at(0).headers.at("accept"), "text/event-stream");
}

TEST_F(AzureProviderTest, StreamWithoutUsageAsksForItAndHidesIt) {
  OpenAiProvider p = provider();
  const Collected c = stream_through(io_, p, streaming(chat({{"azure_prompt_filter", true}})), "gpt-4o-prod", ctx_);
  ASSERT_FALSE(c.error.has_value()) << c.error->message;
  EXPECT_EQ(json::parse(fake_.requests().at(0).body)["stream_options"], json({{"include_usage", true}}));
  const auto events = frame(c.text);
  ASSERT_EQ(events.size(), 6u);  // role, c0..c2, finish, [DONE]
  for (std::size_t i = 0; i + 1 < events.size(); ++i) {
    const json chunk = json::parse(net::sse_data(events[i]));
    EXPECT_FALSE(chunk["choices"].empty()) << events[i];
    EXPECT_FALSE(chunk.contains("usage")) << events[i];
  }
  EXPECT_EQ(c.usage.completion_tokens, 3);
}

TEST_F(AzureProviderTest, OlderApiVersionsAreNotAskedForUsage) {
  OpenAiProvider p = provider("2024-06-01");
  const Collected c = stream_through(io_, p, streaming(chat()), "dep", ctx_);
  ASSERT_FALSE(c.error.has_value()) << c.error->message;
  EXPECT_FALSE(json::parse(fake_.requests().at(0).body).contains("stream_options"));
  EXPECT_FALSE(c.usage.known);
}

TEST_F(AzureProviderTest, ContentFilterRefusalOnCompleteAndStream) {
  OpenAiProvider p = provider();
  const json x_fake = {{"status", 400}, {"error_body", read_fixture("providers/azure/error.content_filter.json")}};
  const LlmRequest req = make_llm_request(chat(x_fake));
  auto res = run_coro(io_, p.complete(req, "dep", ctx_));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().status(), 400);
  EXPECT_FALSE(res.error().fails_over());
  EXPECT_EQ(json::parse(error_body(res.error()))["error"]["code"], "content_filter");

  const Collected c = stream_through(io_, p, streaming(chat(x_fake)), "dep", ctx_);
  ASSERT_FALSE(c.started);
  EXPECT_EQ(c.error->status(), 400);
  EXPECT_EQ(json::parse(error_body(*c.error))["error"]["param"], "messages");
}

TEST_F(AzureProviderTest, DeploymentNotFound) {
  OpenAiProvider p = provider();
  const LlmRequest req = make_llm_request(
      chat({{"status", 404}, {"error_body", read_fixture("providers/azure/error.404.deployment.json")}}));
  auto res = run_coro(io_, p.complete(req, "missing", ctx_));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().status(), 404);
  EXPECT_EQ(json::parse(error_body(res.error()))["error"]["code"], "DeploymentNotFound");
  EXPECT_EQ(fake_.requests().at(0).target, "/openai/deployments/missing/chat/completions?api-version=2024-10-21");
}

TEST_F(AzureProviderTest, RateLimited) {
  OpenAiProvider p = provider();
  const LlmRequest req = make_llm_request(chat(
      {{"status", 429}, {"retry_after_s", 4}, {"error_body", read_fixture("providers/azure/error.429.json")}}));
  auto res = run_coro(io_, p.complete(req, "dep", ctx_));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, errc::upstream_rate_limited);
  EXPECT_EQ(res.error().retry_after_ms, 4000);
}

TEST_F(AzureProviderTest, StreamCutShortIsAnError) {
  OpenAiProvider p = provider();
  const Collected c = stream_through(io_, p, streaming(chat({{"azure_prompt_filter", true}, {"drop_after", 1}})), "dep", ctx_);
  ASSERT_TRUE(c.started);
  ASSERT_TRUE(c.error.has_value());
  EXPECT_EQ(c.error->code, errc::upstream_unavailable) << c.error->message;
  EXPECT_EQ(frame(c.text).size(), 2u);  // role, c0
}

// --- recorded streams ------------------------------------------------------

TEST(AzureProviderReplay, RecordedStreamWithoutAskedUsage) {
  const std::string recorded = read_fixture("providers/azure/chat.stream.txt");
  RequestContext ctx;
  asio::io_context io;
  auto seen = std::make_shared<std::string>();
  OpenAiProvider p(azure_config(start_replay(io, recorded, "", seen)), io.get_executor());
  const Collected c = stream_through(io, p, streaming(chat()), "gpt-4o-prod", ctx);
  ASSERT_FALSE(c.error.has_value()) << c.error->message;
  const auto events = frame(recorded);
  EXPECT_EQ(c.text, events[1] + events[2] + events[3] + events[4] + events[6]);
  EXPECT_EQ(c.usage.prompt_tokens, 18);
  EXPECT_EQ(json::parse(*seen)["stream_options"]["include_usage"], true);
}

TEST(AzureProviderReplay, BrokenStream) {
  RequestContext ctx;
  asio::io_context io;
  OpenAiProvider p(azure_config(start_replay(io, read_fixture("providers/azure/broken.stream.txt"), "")),
                   io.get_executor());
  const Collected c = stream_through(io, p, streaming(chat()), "gpt-4o-prod", ctx);
  ASSERT_TRUE(c.started);
  ASSERT_TRUE(c.error.has_value());
  EXPECT_EQ(c.error->code, errc::upstream_protocol);
  EXPECT_EQ(frame(c.text).size(), 2u);
  EXPECT_FALSE(c.usage.known);
}

}  // namespace
}  // namespace sluice::providers
