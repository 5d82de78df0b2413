// The route table and its handlers over a real pipeline with scripted
// providers: 404 / 405, HEAD, health and readiness, the OpenAI endpoints from
// body to reply (400 before any provider, errors and limits rendered,
// embeddings in the asked encoding), the model list, and the request headers
// a call takes.
#include "routes.hpp"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include <boost/asio/io_context.hpp>

#include "reply_fields.hpp"
#include "sluice/core/base64.hpp"
#include "support/manual_clock.hpp"
#include "support/run_coro.hpp"
#include "support/scripted_provider.hpp"

namespace sluice::server {
namespace {

using json = nlohmann::json;
using test::ScriptedProvider;

using test_fields::Headers;
using test_fields::header;
using test_fields::lookup;

std::string chat(std::string model) {
  return json{{"model", model}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}}.dump();
}

class RoutesTest : public ::testing::Test {
 protected:
  RoutesTest() {
    ProviderConfig p;
    p.name = "a";
    p.type = ProviderType::mock;
    config_.providers.push_back(p);
    config_.models = {{"chat", {{"a", "model-a"}}}, {"meta-llama/Llama-3.1-8B", {{"a", "llama"}}}};
    auto a = std::make_unique<ScriptedProvider>("a");
    a_ = a.get();
    providers_.emplace("a", std::move(a));
  }

  Reply handle(std::string method, std::string path, std::string body = {}, Headers headers = {}) {
    if (!routes_) {
      gatekeeper_ = std::make_unique<auth::Gatekeeper>(config_.auth, clock_);
      pool_ = std::make_unique<pool::ProviderPool>(config_, clock_->now(), pool::PoolPolicy{}, 1);
      catalog_ = std::make_unique<pipeline::ModelCatalog>(config_, providers_, *pool_, *clock_);
      router_ = std::make_unique<router::ComplexityRouter>(config_.routers, nullptr);
      pipeline_ = std::make_unique<pipeline::Pipeline>(*gatekeeper_, *router_, *pool_, *catalog_, providers_, clock_, queue_, 1);
      if (metrics_on_) metrics_ = std::make_unique<Metrics>(config_);
      routes_ = std::make_unique<Routes>(*pipeline_, draining_, config_.server.cors, metrics_.get(), metrics_require_key_);
    }
    headers_ = std::move(headers);
    Inbound inbound{method, path, lookup(headers_), std::move(body), peer_};
    ctx_ = std::make_unique<RequestContext>();
    return test::run_coro(io_, routes_->handle(inbound, *ctx_));
  }

  boost::asio::io_context io_;
  GatewayConfig config_;
  std::shared_ptr<test::ManualClock> clock_ = std::make_shared<test::ManualClock>();
  pipeline::ProviderMap providers_;
  ScriptedProvider* a_ = nullptr;
  std::unique_ptr<auth::Gatekeeper> gatekeeper_;
  std::unique_ptr<pool::ProviderPool> pool_;
  std::unique_ptr<pipeline::ModelCatalog> catalog_;
  std::unique_ptr<router::ComplexityRouter> router_;
  std::unique_ptr<pipeline::Pipeline> pipeline_;
  boost::asio::ip::address peer_ = boost::asio::ip::make_address("127.0.0.1");
  std::optional<QueueConfig> queue_;  // none: no capacity is a 429 at once
  bool draining_ = false;
  bool metrics_on_ = true;
  bool metrics_require_key_ = false;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<Routes> routes_;
  Headers headers_;
  std::unique_ptr<RequestContext> ctx_;
};

TEST_F(RoutesTest, UnknownPathIs404) {
  const Reply r = handle("POST", "/v1/nothing", "{}");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "unknown_url");
  EXPECT_EQ(header(r, "x-should-retry"), "false");
}

TEST_F(RoutesTest, AKnownPathWithAnotherMethodIs405ThatSaysWhichMethodsAreAllowed) {
  Reply r = handle("GET", "/v1/chat/completions");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(header(r, "allow"), "POST");
  EXPECT_TRUE(a_->calls.empty());
  r = handle("POST", "/healthz");
  EXPECT_EQ(r.status, 405) << "health is GET (and HEAD) only";
  EXPECT_EQ(header(r, "allow"), "GET, HEAD");
}

TEST_F(RoutesTest, HeadIsAnsweredLikeGet) {
  const Reply r = handle("HEAD", "/v1/models");
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(r.body.empty()) << "the session sends the head with this body's Content-Length";
}

TEST_F(RoutesTest, HealthAndReadiness) {
  EXPECT_EQ(handle("GET", "/healthz").body, R"({"status":"ok"})");
  EXPECT_EQ(handle("GET", "/readyz").status, 200);
  draining_ = true;
  const Reply r = handle("GET", "/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(header(r, "retry-after"), "1");
  EXPECT_EQ(handle("GET", "/healthz").status, 200) << "a draining gateway is still alive";
}

TEST_F(RoutesTest, WithCorsOffAPreflightIsJustAnotherMethod) {
  const Reply r = handle("OPTIONS", "/v1/chat/completions", {},
                         {{"origin", "https://app.example"}, {"access-control-request-method", "POST"}});
  EXPECT_EQ(r.status, 405);
  EXPECT_TRUE(header(r, "access-control-allow-origin").empty());
}

TEST_F(RoutesTest, WithCorsOnPreflightsAreAnsweredBeforeTheRouteTable) {
  config_.server.cors.allowed_origins = {"https://app.example"};
  const Reply pre = handle("OPTIONS", "/v1/nothing-here", {},
                           {{"origin", "https://app.example"}, {"access-control-request-method", "POST"}});
  EXPECT_EQ(pre.status, 204);
  EXPECT_EQ(header(pre, "access-control-allow-origin"), "https://app.example");
  // Not a preflight: the route table answers, with the CORS headers.
  const Reply plain = handle("OPTIONS", "/v1/chat/completions", {}, {{"origin", "https://app.example"}});
  EXPECT_EQ(plain.status, 405);
  EXPECT_EQ(header(plain, "access-control-allow-origin"), "https://app.example");
  const Reply error = handle("POST", "/v1/chat/completions", "{oops", {{"origin", "https://app.example"}});
  EXPECT_EQ(error.status, 400);
  EXPECT_EQ(header(error, "access-control-allow-origin"), "https://app.example");
  EXPECT_TRUE(a_->calls.empty());
}

TEST_F(RoutesTest, ChatCompletionIsServedAndCarriesTheDecisions) {
  const Reply r = handle("POST", "/v1/chat/completions", chat("chat"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, a_->response.body);
  EXPECT_EQ(header(r, "x-sluice-provider"), "a");
  EXPECT_EQ(header(r, "x-sluice-model"), "model-a");
  ASSERT_EQ(a_->calls.size(), 1u);
  EXPECT_EQ(json::parse(a_->calls[0].body)["model"], "model-a");
}

TEST_F(RoutesTest, AnInvalidBodyIs400BeforeAnyProvider) {
  const Reply r = handle("POST", "/v1/chat/completions", R"({"model":"chat"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json::parse(r.body)["error"]["param"], "messages");
  EXPECT_TRUE(a_->calls.empty());
  EXPECT_EQ(ctx_->attempts, 0);
}

TEST_F(RoutesTest, AnUnknownModelIs404) {
  const Reply r = handle("POST", "/v1/chat/completions", chat("gpt-9"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "model_not_found");
}

TEST_F(RoutesTest, NoCapacityIsA429WithRetryAfterAndTheGroupsLimits) {
  config_.models[0].deployments[0].rpm = 1;
  EXPECT_EQ(handle("POST", "/v1/chat/completions", chat("chat")).status, 200);
  const Reply r = handle("POST", "/v1/chat/completions", chat("chat"));
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(header(r, "retry-after"), "60");
  EXPECT_EQ(header(r, "x-should-retry"), "true");
  EXPECT_EQ(header(r, "x-ratelimit-limit-requests"), "1");
  EXPECT_EQ(header(r, "x-ratelimit-remaining-requests"), "0");
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "rate_limit_exceeded");
}

TEST_F(RoutesTest, AfterTheGatewaysOwnRetriesTheClientIsToldNotToRetry) {
  for (int i = 0; i < 3; ++i) a_->errors.push_back(make_error(errc::upstream_unavailable, "down"));
  const Reply r = handle("POST", "/v1/chat/completions", chat("chat"));
  EXPECT_EQ(r.status, 502);
  EXPECT_EQ(header(r, "x-should-retry"), "false");
  EXPECT_EQ(a_->calls.size(), 3u);
}

TEST_F(RoutesTest, EmbeddingsAreAnsweredInTheEncodingAskedFor) {
  config_.models.push_back({"embed", {{"a", "emb-a"}}});
  a_->response.body = R"({"object":"list","data":[{"object":"embedding","index":0,"embedding":[1.0,-0.5]}]})";
  Reply r = handle("POST", "/v1/embeddings", R"({"model":"embed","input":"x","encoding_format":"base64"})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body)["data"][0]["embedding"], floats_to_base64({1.0f, -0.5f}));
  r = handle("POST", "/v1/embeddings", R"({"model":"embed","input":"x","encoding_format":"float"})");
  EXPECT_EQ(r.body, a_->response.body) << "already in the asked format: relayed verbatim";
}

TEST_F(RoutesTest, ListsTheModels) {
  const Reply r = handle("GET", "/v1/models");
  EXPECT_EQ(r.status, 200);
  const json j = json::parse(r.body);
  EXPECT_EQ(j["object"], "list");
  ASSERT_EQ(j["data"].size(), 2u);
  EXPECT_EQ(j["data"][0]["id"], "chat");
  EXPECT_EQ(j["data"][0]["object"], "model");
  EXPECT_EQ(j["data"][0]["owned_by"], "sluice");
}

TEST_F(RoutesTest, GetsOneModel) {
  Reply r = handle("GET", "/v1/models/chat");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body)["id"], "chat");
  r = handle("GET", "/v1/models/nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "model_not_found");
  EXPECT_EQ(json::parse(r.body)["error"]["param"], "model");
}

TEST_F(RoutesTest, AModelIdIsPercentDecoded) {
  // client.models.retrieve('meta-llama/Llama-3.1-8B') in the OpenAI SDKs.
  const Reply r = handle("GET", "/v1/models/meta-llama%2FLlama-3.1-8B");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["id"], "meta-llama/Llama-3.1-8B");
  EXPECT_EQ(handle("GET", "/v1/models/bad%2").status, 400);
}

// --- the gateway key at the front door ----------------------------------------

constexpr const char* kKey = "sk-gw-team-a-0123456789";

class RoutesWithKeys : public RoutesTest {
 protected:
  RoutesWithKeys() {
    GatewayKeyConfig key;
    key.key = kKey;
    key.tenant = "team-a";
    key.models = {"chat"};
    config_.auth.keys.push_back(key);
  }
};

TEST_F(RoutesWithKeys, NoKeyIs401WithTheOpenAiShapeAndWwwAuthenticate) {
  const Reply r = handle("POST", "/v1/chat/completions", chat("chat"));
  EXPECT_EQ(r.status, 401);
  const json body = json::parse(r.body);
  EXPECT_EQ(body["error"]["type"], "authentication_error");
  EXPECT_EQ(body["error"]["code"], "invalid_api_key");
  EXPECT_NE(body["error"]["message"].get<std::string>().find("Authorization: Bearer"), std::string::npos);
  EXPECT_EQ(header(r, "www-authenticate"), "Bearer");
  EXPECT_EQ(header(r, "x-should-retry"), "false");
  EXPECT_TRUE(a_->calls.empty());
}

TEST_F(RoutesWithKeys, AWrongKeyIs401AndNeverEchoed) {
  const Reply r = handle("POST", "/v1/chat/completions", chat("chat"), {{"authorization", "Bearer sk-wrong-key-123456"}});
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.body.find("sk-wrong"), std::string::npos);
}

TEST_F(RoutesWithKeys, TheKeyIsCheckedBeforeTheBodyIsParsed) {
  EXPECT_EQ(handle("POST", "/v1/chat/completions", "{not json").status, 401);
  EXPECT_EQ(handle("POST", "/v1/chat/completions", "{not json", {{"x-api-key", kKey}}).status, 400);
}

TEST_F(RoutesWithKeys, TheRightKeyInEitherHeaderIsServedAsItsTenant) {
  Reply r = handle("POST", "/v1/chat/completions", chat("chat"), {{"authorization", std::string("Bearer ") + kKey}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(ctx_->tenant, "team-a");
  r = handle("POST", "/v1/chat/completions", chat("chat"), {{"x-api-key", kKey}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(header(r, "x-sluice-cost-usd"), "0") << "a mock deployment costs nothing";
}

TEST_F(RoutesWithKeys, AModelOffTheAllowListIs403) {
  const Reply r = handle("POST", "/v1/chat/completions", chat("meta-llama/Llama-3.1-8B"), {{"x-api-key", kKey}});
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "model_not_allowed");
}

TEST_F(RoutesWithKeys, TheModelListNeedsAKeyAndShowsWhatItAllows) {
  EXPECT_EQ(handle("GET", "/v1/models").status, 401);
  EXPECT_EQ(handle("GET", "/v1/models/chat").status, 401);
  const Reply r = handle("GET", "/v1/models", {}, {{"x-api-key", kKey}});
  ASSERT_EQ(r.status, 200);
  const json body = json::parse(r.body);
  ASSERT_EQ(body["data"].size(), 1u);
  EXPECT_EQ(body["data"][0]["id"], "chat");
  EXPECT_EQ(handle("GET", "/v1/models/meta-llama%2FLlama-3.1-8B", {}, {{"x-api-key", kKey}}).status, 404);
}

TEST_F(RoutesWithKeys, HealthNeedsNoKey) {
  EXPECT_EQ(handle("GET", "/healthz").status, 200);
  EXPECT_EQ(handle("GET", "/readyz").status, 200);
}

TEST_F(RoutesTest, WithoutKeysOnlyLoopbackClientsAreServed) {
  for (const char* address : {"127.0.0.1", "127.0.0.2", "::1", "::ffff:127.0.0.1"}) {
    peer_ = boost::asio::ip::make_address(address);
    EXPECT_EQ(handle("POST", "/v1/chat/completions", chat("chat")).status, 200) << address;
  }
  for (const char* address : {"10.0.0.7", "192.168.1.2", "::ffff:10.0.0.7", "2001:db8::1", "0.0.0.0"}) {
    peer_ = boost::asio::ip::make_address(address);
    const Reply r = handle("POST", "/v1/chat/completions", chat("chat"));
    EXPECT_EQ(r.status, 403) << address;
    EXPECT_EQ(json::parse(r.body)["error"]["code"], "peer_not_allowed");
    EXPECT_NE(json::parse(r.body)["error"]["message"].get<std::string>().find("allow_unauthenticated"),
              std::string::npos);
    EXPECT_EQ(handle("GET", "/v1/models").status, 403) << address;
  }
  EXPECT_EQ(handle("GET", "/healthz").status, 200) << "probes come from the kubelet, off loopback";
}

TEST_F(RoutesTest, AllowUnauthenticatedServesAnyone) {
  config_.auth.allow_unauthenticated = true;
  peer_ = boost::asio::ip::make_address("10.0.0.7");
  EXPECT_EQ(handle("POST", "/v1/chat/completions", chat("chat")).status, 200);
  EXPECT_EQ(ctx_->tenant, "anonymous");
}

// --- the Anthropic Messages and Responses routes ------------------------------------

const std::string kMessages = R"({"model":"chat","max_tokens":32,"messages":[{"role":"user","content":"hi"}]})";
const std::string kResponses = R"({"model":"chat","input":"hi"})";
const std::string kChatAnswer =
    R"({"id":"c1","object":"chat.completion","model":"model-a","choices":[{"index":0,"message":{"role":"assistant","content":"Hello!"},"finish_reason":"stop"}],)"
    R"("usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}})";

TEST_F(RoutesTest, MessagesServedThroughChatCompletionsComeBackAsAMessage) {
  a_->response.body = kChatAnswer;
  const Reply r = handle("POST", "/v1/messages", kMessages, {{"anthropic-version", "2023-06-01"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.wire, Wire::anthropic) << "the session adds request-id";
  const json body = json::parse(r.body);
  EXPECT_EQ(body["type"], "message");
  EXPECT_EQ(body["id"], "msg_" + ctx_->request_id);
  EXPECT_EQ(body["content"], json::parse(R"([{"type":"text","text":"Hello!"}])"));
  EXPECT_EQ(body["usage"]["input_tokens"], 5);
  EXPECT_EQ(header(r, "x-sluice-provider"), "a");
  ASSERT_EQ(a_->calls.size(), 1u);
  EXPECT_EQ(json::parse(a_->calls[0].body)["messages"][0]["content"], "hi") << "sent as chat completions";
}

TEST_F(RoutesTest, MessagesGoAsTheyCameToAProviderThatSpeaksThem) {
  a_->spoken.push_back(Endpoint::messages);
  a_->response.body = R"({"id":"msg_up","type":"message","content":[]})";
  const Reply r = handle("POST", "/v1/messages", kMessages,
                         {{"anthropic-version", "2023-06-01"}, {"anthropic-beta", "tools-2024-04-04"}});
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body, a_->response.body) << "relayed as it came";
  EXPECT_EQ(a_->calls.at(0).body, R"({"model":"model-a","max_tokens":32,"messages":[{"role":"user","content":"hi"}]})");
}

TEST_F(RoutesTest, MessagesStreamsAreTranslatedOrRelayed) {
  a_->events = {R"(data: {"model":"m","choices":[{"delta":{"content":"Hi"}}]})" "\n\n", "data: [DONE]\n\n"};
  Reply r = handle("POST", "/v1/messages", R"({"model":"chat","max_tokens":8,"stream":true,"messages":[{"role":"user","content":"hi"}]})");
  ASSERT_EQ(r.status, 200);
  ASSERT_TRUE(r.stream);
  EXPECT_EQ(r.content_type, "text/event-stream");
  auto first = test::run_coro(io_, r.stream->next());
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(first->starts_with("event: message_start\n")) << *first;
  EXPECT_NE(r.stream->failure_event(make_error(errc::upstream_timeout, "t")).find("event: error"), std::string::npos);
}

TEST_F(RoutesTest, MessagesErrorsAreInAnthropicsShape) {
  Reply r = handle("POST", "/v1/messages", R"({"model":"chat","messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.wire, Wire::anthropic);
  EXPECT_EQ(json::parse(r.body)["error"]["message"], "max_tokens: 'max_tokens' is required");
  r = handle("POST", "/v1/messages", R"({"model":"nope","max_tokens":1,"messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(json::parse(r.body)["error"]["type"], "not_found_error");
  a_->errors.push_back(make_error(errc::upstream_rate_limited, "slow down"));
  r = handle("POST", "/v1/messages", kMessages);
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(json::parse(r.body)["error"]["type"], "rate_limit_error");
  EXPECT_FALSE(header(r, "retry-after").empty());
  r = handle("GET", "/v1/messages");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(json::parse(r.body)["type"], "error");
}

TEST_F(RoutesTest, AnUntranslatableMessagesRequestNamesWhatCannotBeHonoured) {
  const Reply r = handle("POST", "/v1/messages",
                         R"({"model":"chat","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"mcp_servers":[{"type":"url","url":"https://x","name":"x"}]})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(json::parse(r.body)["error"]["message"].get<std::string>().find("mcp_servers: "), std::string::npos);
  EXPECT_TRUE(a_->calls.empty());
}

TEST_F(RoutesTest, CountTokensAsksAProviderThatCountsElseEstimates) {
  const std::string body = R"({"model":"chat","messages":[{"role":"user","content":"Hello, Claude"}]})";
  Reply r = handle("POST", "/v1/messages/count_tokens", body);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body), json::parse(R"({"input_tokens":7})"));
  EXPECT_EQ(header(r, "x-sluice-token-count"), "estimated");
  EXPECT_TRUE(a_->calls.empty());
  a_->spoken.push_back(Endpoint::count_tokens);
  a_->response.body = R"({"input_tokens":12})";
  r = handle("POST", "/v1/messages/count_tokens", body);
  EXPECT_EQ(r.body, R"({"input_tokens":12})");
  EXPECT_TRUE(header(r, "x-sluice-token-count").empty());
  EXPECT_EQ(a_->calls.size(), 1u);
}

TEST_F(RoutesTest, ResponsesServedThroughChatCompletionsComeBackAsAResponse) {
  a_->response.body = kChatAnswer;
  const Reply r = handle("POST", "/v1/responses", R"({"model":"chat","input":"hi","instructions":"Be kind."})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.wire, Wire::openai);
  const json body = json::parse(r.body);
  EXPECT_EQ(body["object"], "response");
  EXPECT_EQ(body["id"], "resp_" + ctx_->request_id);
  EXPECT_EQ(body["output"][0]["content"][0]["text"], "Hello!");
  EXPECT_EQ(body["instructions"], "Be kind.");
  EXPECT_EQ(body["usage"]["total_tokens"], 7);
}

TEST_F(RoutesTest, ResponsesRefusalsAndNativePassThrough) {
  Reply r = handle("POST", "/v1/responses", R"({"model":"chat","input":"hi","previous_response_id":"resp_1"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json::parse(r.body)["error"]["param"], "previous_response_id");
  EXPECT_TRUE(a_->calls.empty());
  a_->spoken.push_back(Endpoint::responses);
  a_->response.body = R"({"id":"resp_up","object":"response"})";
  r = handle("POST", "/v1/responses", R"({"model":"chat","input":"hi","previous_response_id":"resp_1"})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, a_->response.body);
  EXPECT_EQ(json::parse(a_->calls.at(0).body)["previous_response_id"], "resp_1");
}

TEST_F(RoutesTest, TheModelListInAnthropicsShapeWhenAnthropicVersionIsSent) {
  const Reply r = handle("GET", "/v1/models", {}, {{"anthropic-version", "2023-06-01"}});
  ASSERT_EQ(r.status, 200);
  const json body = json::parse(r.body);
  EXPECT_EQ(body["data"][0]["type"], "model");
  EXPECT_EQ(body["data"][0]["id"], "chat");
  EXPECT_EQ(body["has_more"], false);
  EXPECT_EQ(body["first_id"], "chat");
  EXPECT_EQ(body["last_id"], "meta-llama/Llama-3.1-8B");
  EXPECT_FALSE(body.contains("object"));
  const Reply one = handle("GET", "/v1/models/chat", {}, {{"anthropic-version", "2023-06-01"}});
  EXPECT_EQ(json::parse(one.body)["type"], "model");
}

TEST_F(RoutesWithKeys, AnthropicClientsGetAnthropicsAuthenticationError) {
  for (const char* path : {"/v1/messages", "/v1/messages/count_tokens"}) {
    const Reply r = handle("POST", path, kMessages, {{"x-api-key", "sk-ant-wrong-000000"}, {"anthropic-version", "2023-06-01"}});
    EXPECT_EQ(r.status, 401) << path;
    EXPECT_EQ(json::parse(r.body)["error"]["type"], "authentication_error") << path;
    EXPECT_EQ(json::parse(r.body)["type"], "error");
  }
  const Reply models = handle("GET", "/v1/models", {}, {{"anthropic-version", "2023-06-01"}});
  EXPECT_EQ(models.status, 401);
  EXPECT_EQ(json::parse(models.body)["type"], "error");
  const Reply responses = handle("POST", "/v1/responses", kResponses);
  EXPECT_EQ(json::parse(responses.body)["error"]["type"], "authentication_error") << "OpenAI's shape";
}

TEST(WireOfPath, MessagesAndBelowAreAnthropics) {
  EXPECT_EQ(wire_of_path("/v1/messages"), Wire::anthropic);
  EXPECT_EQ(wire_of_path("/v1/messages/count_tokens"), Wire::anthropic);
  EXPECT_EQ(wire_of_path("/v1/messagesx"), Wire::openai);
  EXPECT_EQ(wire_of_path("/v1/responses"), Wire::openai);
  EXPECT_EQ(wire_of_path("/v1/chat/completions"), Wire::openai);
}

TEST(RequestPath, OriginFormLosesItsQuery) {
  EXPECT_EQ(request_path("/v1/models"), "/v1/models");
  EXPECT_EQ(request_path("/v1/chat/completions?api-version=1"), "/v1/chat/completions");
  EXPECT_EQ(request_path("/"), "/");
}

TEST(RequestPath, AbsoluteFormGivesItsPath) {
  EXPECT_EQ(request_path("http://127.0.0.1:8080/v1/models"), "/v1/models");
  EXPECT_EQ(request_path("HTTPS://gateway.example/v1/chat/completions?x=1"), "/v1/chat/completions");
  EXPECT_EQ(request_path("http://[::1]:8080/healthz"), "/healthz");
  EXPECT_EQ(request_path("http://host"), "/");
  EXPECT_EQ(request_path("http://host?x=/v1/models"), "/");
}

TEST(RequestPath, OtherFormsAreLeftForTheRouteTableToRefuse) {
  EXPECT_EQ(request_path("*"), "*");                    // asterisk-form: 404
  EXPECT_EQ(request_path("host:443"), "host:443");      // authority-form (CONNECT): 404
  EXPECT_EQ(request_path("://x/v1/models"), "://x/v1/models");
}

TEST(PercentDecode, DecodesEscapesAndRefusesBrokenOnes) {
  EXPECT_EQ(percent_decode("a%2Fb%20c"), "a/b c");
  EXPECT_EQ(percent_decode("a%2fb"), "a/b");
  EXPECT_EQ(percent_decode("plain+text"), "plain+text");
  EXPECT_EQ(percent_decode("%"), std::nullopt);
  EXPECT_EQ(percent_decode("%4"), std::nullopt);
  EXPECT_EQ(percent_decode("%zz"), std::nullopt);
  EXPECT_EQ(percent_decode("a%00b"), std::nullopt);
  EXPECT_EQ(percent_decode("a%0Ab"), std::nullopt);
}

TEST(PresentedKey, TheGatewayKeyComesFromBearerOrXApiKey) {
  EXPECT_EQ(presented_key(lookup({{"authorization", "Bearer sk-gw-1"}, {"x-api-key", "other"}})), "sk-gw-1");
  EXPECT_EQ(presented_key(lookup({{"authorization", "bearer sk-gw-2"}})), "sk-gw-2") << "the scheme is case-insensitive";
  EXPECT_EQ(presented_key(lookup({{"x-api-key", "sk-ant-3"}})), "sk-ant-3") << "the Anthropic SDKs' header";
  EXPECT_EQ(presented_key(lookup({{"authorization", "Basic dXNlcg=="}})), "");
  EXPECT_EQ(presented_key(lookup({})), "");
}

TEST(ReadCallHeaders, CacheControlAndPrefer) {
  Call call;
  read_call_headers(lookup({}), call);
  EXPECT_EQ(call.cache, CacheDirective::normal);
  EXPECT_FALSE(call.respond_async);
  read_call_headers(lookup({{"cache-control", "max-age=0, No-Cache"}}), call);
  EXPECT_EQ(call.cache, CacheDirective::no_cache);
  call = {};
  read_call_headers(lookup({{"cache-control", "no-cache, no-store"}}), call);
  EXPECT_EQ(call.cache, CacheDirective::no_store) << "no-store is the stronger";
  call = {};
  read_call_headers(lookup({{"cache-control", "no-cachex"}}), call);
  EXPECT_EQ(call.cache, CacheDirective::normal) << "whole tokens only";
  read_call_headers(lookup({{"prefer", "return=minimal, respond-async; wait=10"}}), call);
  EXPECT_TRUE(call.respond_async);
}

// --- GET /metrics -------------------------------------------------------------

TEST_F(RoutesTest, MetricsAreServedInTheExpositionFormat) {
  const Reply r = handle("GET", "/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(r.body.find("# TYPE sluice_requests_total counter\n"), std::string::npos);
  EXPECT_EQ(handle("POST", "/metrics").status, 405);
}

TEST_F(RoutesTest, MetricsOffIs404) {
  metrics_on_ = false;
  EXPECT_EQ(handle("GET", "/metrics").status, 404);
}

TEST_F(RoutesWithKeys, MetricsNeedNoKeyUnlessRequired) {
  peer_ = boost::asio::ip::make_address("10.1.2.3");
  EXPECT_EQ(handle("GET", "/metrics").status, 200);
}

TEST_F(RoutesWithKeys, RequiredKeyGuardsMetricsBeyondLoopbackOnly) {
  metrics_require_key_ = true;
  EXPECT_EQ(handle("GET", "/metrics").status, 200) << "loopback needs no key";
  peer_ = boost::asio::ip::make_address("10.1.2.3");
  EXPECT_EQ(handle("GET", "/metrics").status, 401);
  EXPECT_EQ(handle("GET", "/metrics", {}, {{"authorization", "Bearer sk-wrong-key-123456"}}).status, 401);
  EXPECT_EQ(handle("GET", "/metrics", {}, {{"authorization", std::string("Bearer ") + kKey}}).status, 200);
}

}  // namespace
}  // namespace sluice::server
