// Ollama: the dialect (/v1 below the server URL, no key by default), the
// model list from /api/tags and the error mapping on recorded bodies
// (tests/fixtures/providers/ollama), and the provider against FakeUpstream.
#include "../../../src/providers/ollama.hpp"

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

using Names = std::vector<std::string>;

ProviderConfig ollama_config(std::string base_url) {
  ProviderConfig c;
  c.name = "local";
  c.type = ProviderType::ollama;
  c.base_url = std::move(base_url);
  c.first_byte_timeout = 5s;
  c.idle_timeout = 5s;
  return c;
}

// --- the dialect -----------------------------------------------------------

TEST(OllamaDialect, V1BelowTheServerUrl) {
  const Dialect d = ollama_dialect(ollama_config("http://127.0.0.1:11434"), "");
  EXPECT_EQ(request_target(d, Endpoint::chat_completions, "llama3.1:8b"), "/v1/chat/completions");
  EXPECT_EQ(request_target(d, Endpoint::completions, "m"), "/v1/completions");
  EXPECT_EQ(request_target(d, Endpoint::embeddings, "m"), "/v1/embeddings");
  EXPECT_EQ(d.models_path, "/api/tags");
  EXPECT_TRUE(d.auth_header.empty());
  EXPECT_FALSE(d.drop_empty_choices);
  EXPECT_TRUE(d.stream_usage);
  EXPECT_EQ(ollama_dialect(ollama_config("http://gpu-box/ollama"), "/ollama").models_path, "/ollama/api/tags");
}

TEST(OllamaDialect, KeyOnlyWhenConfigured) {
  ProviderConfig c = ollama_config("http://127.0.0.1:11434");
  c.api_key = "proxy-key";
  const Dialect d = ollama_dialect(c, "");
  EXPECT_EQ(d.auth_header, "Authorization");
  EXPECT_EQ(d.auth_value, "Bearer proxy-key");
}

// --- parse_ollama_tags -----------------------------------------------------

TEST(ParseOllamaTags, Fixture) {
  EXPECT_EQ(parse_ollama_tags(read_fixture("providers/ollama/tags.json")),
            (Names{"llama3.1:8b", "nomic-embed-text:latest", "qwen2.5-coder:7b-instruct-q5_K_M"}));
  EXPECT_EQ(parse_ollama_tags(read_fixture("providers/ollama/tags.empty.json")), Names{});
}

TEST(ParseOllamaTags, EntriesWithoutANameUseModelOrAreSkipped) {
  EXPECT_EQ(parse_ollama_tags(R"({"models":[{"model":"a:1"},{"size":3},"b",{"name":""},{"name":"c"}]})"),
            (Names{"a:1", "c"}));
}

TEST(ParseOllamaTags, OtherShapesAreUnreadable) {
  for (const char* body : {"", "garbage", "[]", "{}", R"({"models":{}})", R"({"data":[{"id":"x"}]})"})
    EXPECT_FALSE(parse_ollama_tags(body).has_value()) << body;
}

// --- map_ollama_error ------------------------------------------------------

void expect_unknown_model(const Error& e, const std::string& message) {
  EXPECT_EQ(e.code, errc::upstream_rejected);
  EXPECT_EQ(e.status(), 404);
  EXPECT_FALSE(e.fails_over());
  EXPECT_EQ(e.message, message);
  const json j = json::parse(error_body(e));
  EXPECT_EQ(j["error"]["message"], message);
  EXPECT_EQ(j["error"]["type"], "invalid_request_error");
  EXPECT_EQ(j["error"]["param"], "model");
  EXPECT_EQ(j["error"]["code"], "model_not_found");
}

TEST(MapOllamaError, NativeStringErrorIsOpenAiShaped) {
  const Error e = map_ollama_error("local", Endpoint::chat_completions, 404,
                                   read_fixture("providers/ollama/error.404.native.json"), head_with({}, 404));
  expect_unknown_model(e, "model 'llama9:70b' not found");
}

TEST(MapOllamaError, V1UnknownModel) {
  const Error e = map_ollama_error("local", Endpoint::chat_completions, 404,
                                   read_fixture("providers/ollama/error.404.v1.json"), head_with({}, 404));
  expect_unknown_model(e, "model \"llama9:70b\" not found, try pulling it first");
}

TEST(MapOllamaError, V1BadRequestKeepsItsMessage) {
  const Error e = map_ollama_error("local", Endpoint::chat_completions, 400,
                                   read_fixture("providers/ollama/error.400.v1.json"), head_with({}, 400));
  EXPECT_EQ(e.status(), 400);
  EXPECT_NE(e.message.find("cannot unmarshal"), std::string::npos) << e.message;
  const json j = json::parse(error_body(e));
  EXPECT_EQ(j["error"]["type"], "invalid_request_error");
  EXPECT_TRUE(j["error"]["param"].is_null());
}

TEST(MapOllamaError, ServerErrorIs502WithTheReason) {
  const Error e = map_ollama_error("local", Endpoint::chat_completions, 500,
                                   read_fixture("providers/ollama/error.500.native.json"), head_with({}, 500));
  EXPECT_EQ(e.code, errc::upstream_unavailable);
  EXPECT_EQ(e.status(), 502);
  EXPECT_TRUE(e.fails_over());
  EXPECT_EQ(e.message, "provider 'local' answered 500: llama runner process has terminated: exit status 2");
}

TEST(MapOllamaError, PlainTextIsMappedByStatus) {
  const Error e = map_ollama_error("local", Endpoint::chat_completions, 404, "404 page not found", head_with({}, 404));
  EXPECT_EQ(e.status(), 404);
  EXPECT_EQ(e.message, "provider 'local' answered 404");
  const Error limited =
      map_ollama_error("local", Endpoint::chat_completions, 429, R"({"error":"busy"})", head_with({{"retry-after", "2"}}, 429));
  EXPECT_EQ(limited.code, errc::upstream_rate_limited);
  EXPECT_EQ(limited.retry_after_ms, 2000);
}

TEST(MapOllamaError, AnAuthenticatingProxyRefusingTheKeyIsUpstreamAuth) {
  // Ollama has no keys of its own; a proxy in front of it may refuse the gateway's.
  for (int status : {401, 403}) {
    const Error e = map_ollama_error("local", Endpoint::chat_completions, status,
                                     R"({"error":"invalid token sk-local-0123456789"})", head_with({}, status));
    EXPECT_EQ(e.code, errc::upstream_auth) << status;
    EXPECT_EQ(e.status(), 502);
    EXPECT_FALSE(e.client_may_retry());
    EXPECT_EQ(error_body(e).find("sk-local"), std::string::npos) << error_body(e);
  }
}

// --- the provider against FakeUpstream --------------------------------------

class OllamaProviderTest : public ::testing::Test {
 protected:
  OllamaProviderTest()
      : provider_(ollama_config("http://127.0.0.1:" + std::to_string(fake_.port())), io_.get_executor()) {}

  test::FakeUpstream fake_;
  RequestContext ctx_;
  asio::io_context io_;
  OpenAiProvider provider_;
};

json chat(json x_fake = nullptr) {
  json body = {{"model", "fast"}, {"messages", {{{"role", "user"}, {"content", "hello"}}}}};
  if (!x_fake.is_null()) body["x_fake"] = std::move(x_fake);
  return body;
}

TEST_F(OllamaProviderTest, CompleteGoesToV1WithoutAKey) {
  const LlmRequest req = make_llm_request(chat());
  auto res = run_coro(io_, provider_.complete(req, "llama3.1:8b", ctx_));
  ASSERT_TRUE(res.ok()) << res.error().message;
  const test::Recorded r = fake_.requests().at(0);
  EXPECT_EQ(r.target, "/v1/chat/completions");
  EXPECT_EQ(r.headers.count("authorization"), 0u);
  EXPECT_EQ(r.headers.count("api-key"), 0u);
  EXPECT_EQ(json::parse(r.body)["model"], "llama3.1:8b");
  EXPECT_EQ(json::parse(res->body)["model"], "llama3.1:8b");
}

TEST_F(OllamaProviderTest, ListModelsReadsApiTags) {
  test::Behaviour b;
  b.tags = {"llama3.1:8b", "qwen2.5:0.5b"};
  fake_.set_behaviour(b);
  auto models = run_coro(io_, provider_.list_models(ctx_));
  ASSERT_TRUE(models.ok()) << models.error().message;
  EXPECT_EQ(*models, (Names{"llama3.1:8b", "qwen2.5:0.5b"}));
  const test::Recorded r = fake_.requests().at(0);
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.target, "/api/tags");
  EXPECT_TRUE(r.body.empty());
}

TEST_F(OllamaProviderTest, ListModelsErrors) {
  test::Behaviour b;
  b.status = 503;
  fake_.set_behaviour(b);
  auto down = run_coro(io_, provider_.list_models(ctx_));
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.error().code, errc::upstream_unavailable);
  EXPECT_EQ(down.error().message, "provider 'local' answered 503: fake error 503");
}

TEST_F(OllamaProviderTest, UnknownModelIs404) {
  const LlmRequest req = make_llm_request(
      chat({{"status", 404}, {"error_body", read_fixture("providers/ollama/error.404.native.json")}}));
  auto res = run_coro(io_, provider_.complete(req, "llama9:70b", ctx_));
  ASSERT_FALSE(res.ok());
  expect_unknown_model(res.error(), "model 'llama9:70b' not found");
}

TEST_F(OllamaProviderTest, StreamWithoutUsageAsksForItAndHidesIt) {
  const Collected c = stream_through(io_, provider_, streaming(chat()), "llama3.1:8b", ctx_);
  ASSERT_FALSE(c.error.has_value()) << c.error->message;
  EXPECT_EQ(json::parse(fake_.requests().at(0).body)["stream_options"]["include_usage"], true);
  EXPECT_EQ(frame(c.text).size(), 6u);
  EXPECT_EQ(c.text.find("usage"), std::string::npos);
  EXPECT_EQ(c.usage.completion_tokens, 3);
}

TEST(OllamaProviderReplay, RecordedStreamWithAskedUsage) {
  const std::string recorded = read_fixture("providers/ollama/chat.stream.txt");
  RequestContext ctx;
  asio::io_context io;
  OpenAiProvider p(ollama_config(start_replay(io, recorded, "")), io.get_executor());
  json body = streaming(chat());
  body["stream_options"] = {{"include_usage", true}};
  const Collected c = stream_through(io, p, body, "llama3.1:8b", ctx);
  ASSERT_FALSE(c.error.has_value()) << c.error->message;
  EXPECT_EQ(c.text, recorded) << "asked-for usage: relayed byte for byte";
  EXPECT_EQ(c.usage.prompt_tokens, 26);
  EXPECT_EQ(c.usage.completion_tokens, 3);
}

TEST(OllamaProviderReplay, BrokenStream) {
  RequestContext ctx;
  asio::io_context io;
  OpenAiProvider p(ollama_config(start_replay(io, read_fixture("providers/ollama/broken.stream.txt"), "")),
                   io.get_executor());
  const Collected c = stream_through(io, p, streaming(chat()), "llama3.1:8b", ctx);
  ASSERT_TRUE(c.started);
  ASSERT_TRUE(c.error.has_value());
  EXPECT_EQ(c.error->code, errc::upstream_protocol);
  const auto recorded = frame(read_fixture("providers/ollama/chat.stream.txt"));
  EXPECT_EQ(c.text, recorded[0] + recorded[1]);
}

}  // namespace
}  // namespace sluice::providers
