// Requests that reach a provider in their own dialect: the Responses API to
// OpenAI-compatible dialects that speak it (the body forwarded, the answer
// and its events relayed, usage read from the Responses shapes), and the
// Messages API to Anthropic (the body forwarded but for the model, the
// client's anthropic-version / anthropic-beta, the answer and its named
// events relayed as they come). Against recorded samples, no network.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include <boost/asio/io_context.hpp>

#include "../../../src/providers/anthropic.hpp"
#include "../../../src/providers/azure.hpp"
#include "../../../src/providers/ollama.hpp"
#include "../../../src/providers/openai.hpp"
#include "../../../src/providers/openai_stream.hpp"
#include "provider_test_util.hpp"
#include "scripted_upstream.hpp"
#include "support/fixture.hpp"
#include "support/run_coro.hpp"

namespace sluice::providers {
namespace {

namespace asio = boost::asio;
using namespace sluice::test;  // the providers' test helpers
using json = nlohmann::json;

ProviderConfig config(ProviderType type, std::string base_url, std::string api_version = "2024-10-21") {
  ProviderConfig c = test_provider_config("up", type, std::move(base_url), "sk-upstream-key-123");
  c.api_version = std::move(api_version);
  return c;
}

// --- usage in every shape ------------------------------------------------------

TEST(JsonObjectUsage, ReadsTheResponsesApiShape) {
  const auto u = json_object_usage(read_fixture("providers/openai/responses.response.json"));
  ASSERT_TRUE(u.has_value());
  EXPECT_TRUE(u->known);
  EXPECT_EQ(u->prompt_tokens, 36);  // input_tokens counts the cached ones already
  EXPECT_EQ(u->completion_tokens, 87);
  EXPECT_EQ(u->cached_tokens, 4);
}

TEST(JsonObjectUsage, ReadsAnthropicsShapeWithTheCacheInThePrompt) {
  const auto u = json_object_usage(read_fixture("providers/anthropic/message.response.json"));
  ASSERT_TRUE(u.has_value());
  EXPECT_TRUE(u->known);
  const json usage = json::parse(read_fixture("providers/anthropic/message.response.json"))["usage"];
  EXPECT_EQ(u->prompt_tokens, usage["input_tokens"].get<std::int64_t>() +
                                  usage["cache_creation_input_tokens"].get<std::int64_t>() +
                                  usage["cache_read_input_tokens"].get<std::int64_t>());
  EXPECT_EQ(u->completion_tokens, usage["output_tokens"].get<std::int64_t>());
  EXPECT_EQ(u->cached_tokens, usage["cache_read_input_tokens"].get<std::int64_t>());
}

TEST(ResponsesEvent, TypeUsageAndTheEnd) {
  const auto events = frame(read_fixture("providers/openai/responses.stream.txt"));
  ASSERT_GT(events.size(), 5u);
  for (std::size_t i = 0; i + 1 < events.size(); ++i) {
    const auto e = responses_event(net::sse_data(events[i]));
    ASSERT_TRUE(e.has_value()) << i;
    EXPECT_FALSE(e->terminal) << i;
    EXPECT_FALSE(e->usage.known) << i;  // response.created carries "usage":null
  }
  const auto last = responses_event(net::sse_data(events.back()));
  ASSERT_TRUE(last.has_value());
  EXPECT_TRUE(last->terminal);
  EXPECT_EQ(last->usage.prompt_tokens, 37);
  EXPECT_EQ(last->usage.completion_tokens, 11);
  for (const char* type : {"response.failed", "response.incomplete", "error"})
    EXPECT_TRUE(responses_event(std::string(R"({"type":")") + type + "\"}")->terminal) << type;
  EXPECT_FALSE(responses_event("not json").has_value());
}

// --- which dialects speak the Responses API, and where it goes --------------------

TEST(ResponsesTarget, OpenAiSpeaksItUnlessTold) {
  ProviderConfig c = config(ProviderType::openai, "https://api.openai.com/v1");
  EXPECT_EQ(request_target(openai_dialect(c, "/v1"), Endpoint::responses, "gpt-4.1"), "/v1/responses");
  EXPECT_TRUE(OpenAiProvider(c, asio::io_context().get_executor()).speaks(Endpoint::responses));
  c.responses_api = ResponsesApi::translated;
  EXPECT_TRUE(openai_dialect(c, "/v1").responses_target.empty());
  asio::io_context io;
  const OpenAiProvider translated(c, io.get_executor());
  EXPECT_FALSE(translated.speaks(Endpoint::responses));
  EXPECT_TRUE(translated.speaks(Endpoint::chat_completions));
  EXPECT_FALSE(translated.speaks(Endpoint::messages));
}

TEST(ResponsesTarget, AzureByApiVersion) {
  auto target = [](std::string version) {
    return azure_dialect(config(ProviderType::azure, "https://r.openai.azure.com", std::move(version)), "")
        .responses_target;
  };
  EXPECT_EQ(target("v1"), "/openai/v1/responses");
  EXPECT_EQ(target("2025-03-01-preview"), "/openai/responses?api-version=2025-03-01-preview");
  EXPECT_EQ(target("2025-04-01-preview"), "/openai/responses?api-version=2025-04-01-preview");
  EXPECT_EQ(target("2024-10-21"), "") << "the default version predates the Responses API: translated";
  EXPECT_FALSE(azure_has_responses_api("2024-12-01-preview"));
}

TEST(ResponsesTarget, OllamaTranslates) {
  EXPECT_TRUE(ollama_dialect(config(ProviderType::ollama, "http://127.0.0.1:11434"), "").responses_target.empty());
}

// --- OpenAiProvider with a Responses request ----------------------------------

const std::string kResponsesBody = R"({"model":"alias","input":"Tell me a story.","store":true,"stream":true})";

TEST(OpenAiResponses, StreamIsRelayedAsItComesWithTheUsageOfItsLastEvent) {
  asio::io_context io;
  auto seen = std::make_shared<std::string>();
  const std::string upstream = read_fixture("providers/openai/responses.stream.txt");
  OpenAiProvider p(config(ProviderType::openai, test::start_replay(io, upstream, "/v1", seen)), io.get_executor());
  RequestContext ctx;
  const LlmRequest req = raw_llm_request(kResponsesBody, Endpoint::responses);
  auto started = run_coro(io, p.stream(req, "gpt-4.1", ctx));
  ASSERT_TRUE(started.ok()) << started.error().message;
  const Collected c = run_coro(io, collect(started->stream.get()));
  ASSERT_FALSE(c.error.has_value()) << c.error->message;
  EXPECT_EQ(c.text, upstream) << "every byte, event lines included; no [DONE] asked for";
  const Usage u = started->stream->usage();
  EXPECT_EQ(u.prompt_tokens, 37);
  EXPECT_EQ(u.completion_tokens, 11);
  // Forwarded as sent but for the model: store and all, no stream_options.
  EXPECT_EQ(*seen, R"({"model":"gpt-4.1","input":"Tell me a story.","store":true,"stream":true})");
}

TEST(OpenAiResponses, AStreamWithoutItsFinalEventHasBroken) {
  const auto events = frame(read_fixture("providers/openai/responses.stream.txt"));
  std::string cut;
  for (std::size_t i = 0; i + 1 < events.size(); ++i) cut += events[i];
  asio::io_context io;
  auto stream = make_openai_chunk_stream(std::make_unique<ScriptedBody>(ScriptedBody::split(cut, 100)), "up",
                                         StreamFilter{.responses = true});
  const Collected c = run_coro(io, collect(stream.get()));
  ASSERT_TRUE(c.error.has_value());
  EXPECT_EQ(c.error->code, errc::upstream_protocol);
  EXPECT_NE(c.error->message.find("response.completed"), std::string::npos) << c.error->message;
  EXPECT_EQ(c.text, cut);
}

TEST(OpenAiResponses, AnEventThatIsNotJsonEndsTheStream) {
  asio::io_context io;
  const std::string first = frame(read_fixture("providers/openai/responses.stream.txt"))[0];
  auto stream = make_openai_chunk_stream(
      std::make_unique<ScriptedBody>(std::vector<std::string>{first, "event: response.in_progress\ndata: {oops\n\n"}),
      "up", StreamFilter{.responses = true});
  const Collected c = run_coro(io, collect(stream.get()));
  ASSERT_TRUE(c.error.has_value());
  EXPECT_EQ(c.error->code, errc::upstream_protocol);
  EXPECT_EQ(c.text, first);
}

TEST(OpenAiResponses, CompleteReadsTheResponsesUsage) {
  asio::io_context io;
  ScriptedUpstream upstream(io);
  upstream.answer(http_response(200, "application/json", read_fixture("providers/openai/responses.response.json")));
  OpenAiProvider p(config(ProviderType::openai, upstream.base_url("/v1")), io.get_executor());
  RequestContext ctx;
  auto res = run_coro(io, p.complete(raw_llm_request(R"({"model":"alias","input":"hi"})", Endpoint::responses),
                                     "gpt-4.1", ctx));
  ASSERT_TRUE(res.ok()) << res.error().message;
  EXPECT_EQ(upstream.seen().at(0).target, "/v1/responses");
  EXPECT_EQ(upstream.seen().at(0).headers.at("authorization"), "Bearer sk-upstream-key-123");
  EXPECT_EQ(json::parse(res->body)["object"], "response");
  EXPECT_EQ(res->usage.prompt_tokens, 36);
  EXPECT_EQ(res->usage.cached_tokens, 4);
}

// --- AnthropicProvider with a Messages request ----------------------------------

const std::string kMessagesBody =
    R"({"model":"claude-alias","max_tokens":64,"system":[{"type":"text","text":"Be brief.","cache_control":{"type":"ephemeral"}}],)"
    R"("messages":[{"role":"user","content":"Rivers?"}],"thinking":{"type":"enabled","budget_tokens":1024}})";

class AnthropicNativeTest : public ::testing::Test {
 protected:
  AnthropicNativeTest() {
    ProviderConfig c = config(ProviderType::anthropic, upstream_.base_url());
    c.headers = {{"anthropic-beta", "prompt-caching-2024-07-31"}, {"x-team", "weather"}};
    provider_ = make_provider(c, io_.get_executor());
  }
  LlmRequest request(std::string body, Endpoint endpoint = Endpoint::messages) {
    LlmRequest req = raw_llm_request(std::move(body), endpoint);
    req.forward_headers = {{"anthropic-version", "2023-06-01"}, {"anthropic-beta", "interleaved-thinking-2025-05-14"}};
    return req;
  }

  asio::io_context io_;
  ScriptedUpstream upstream_{io_};
  RequestContext ctx_;
  std::unique_ptr<Provider> provider_;
};

TEST_F(AnthropicNativeTest, SpeaksMessagesAndCountTokens) {
  EXPECT_TRUE(provider_->speaks(Endpoint::messages));
  EXPECT_TRUE(provider_->speaks(Endpoint::count_tokens));
  EXPECT_TRUE(provider_->speaks(Endpoint::chat_completions));
  EXPECT_FALSE(provider_->speaks(Endpoint::responses));
  EXPECT_FALSE(provider_->speaks(Endpoint::embeddings));
}

TEST_F(AnthropicNativeTest, TheBodyGoesAsSentButForTheModelAndTheAnswerComesBackAsItWas) {
  const std::string answer = read_fixture("providers/anthropic/message.response.json");
  upstream_.answer(http_response(200, "application/json", answer));
  auto res = run_coro(io_, provider_->complete(request(kMessagesBody), "claude-sonnet-4-5", ctx_));
  ASSERT_TRUE(res.ok()) << res.error().message;
  const test::Seen& sent = upstream_.seen().at(0);
  EXPECT_EQ(sent.target, "/v1/messages");
  std::string expected = kMessagesBody;
  expected.replace(expected.find("claude-alias"), 12, "claude-sonnet-4-5");
  EXPECT_EQ(sent.body, expected) << "cache_control and thinking reach Anthropic untouched";
  EXPECT_EQ(sent.headers.at("x-api-key"), "sk-upstream-key-123");
  EXPECT_EQ(sent.headers.at("anthropic-version"), "2023-06-01");
  EXPECT_EQ(sent.headers.at("anthropic-beta"), "prompt-caching-2024-07-31,interleaved-thinking-2025-05-14");
  EXPECT_EQ(sent.headers.at("x-team"), "weather");
  EXPECT_EQ(res->body, answer);
  EXPECT_TRUE(res->usage.known);
  EXPECT_GT(res->usage.prompt_tokens, 0);
}

TEST_F(AnthropicNativeTest, TheClientsVersionWinsAndTheConfiguredOneStandsIn) {
  upstream_.answer(http_response(200, "application/json", read_fixture("providers/anthropic/message.response.json")));
  LlmRequest req = request(kMessagesBody);
  req.forward_headers = {{"anthropic-version", "2024-01-01"}};
  ASSERT_TRUE(run_coro(io_, provider_->complete(req, "m", ctx_)).ok());
  EXPECT_EQ(upstream_.seen().at(0).headers.at("anthropic-version"), "2024-01-01");
  EXPECT_EQ(upstream_.seen().at(0).headers.at("anthropic-beta"), "prompt-caching-2024-07-31");
}

TEST_F(AnthropicNativeTest, CountTokensGoesToItsOwnPath) {
  upstream_.answer(http_response(200, "application/json", R"({"input_tokens":14})"));
  auto res = run_coro(io_, provider_->complete(request(R"({"model":"a","messages":[{"role":"user","content":"Hi"}]})",
                                                       Endpoint::count_tokens),
                                               "claude-sonnet-4-5", ctx_));
  ASSERT_TRUE(res.ok()) << res.error().message;
  EXPECT_EQ(upstream_.seen().at(0).target, "/v1/messages/count_tokens");
  EXPECT_EQ(res->body, R"({"input_tokens":14})");
  EXPECT_FALSE(res->usage.known) << "counting generates nothing";
}

TEST_F(AnthropicNativeTest, AnAnswerThatIsNotJsonIsAProtocolError) {
  upstream_.answer(http_response(200, "text/html", "<html>oops</html>"));
  auto res = run_coro(io_, provider_->complete(request(kMessagesBody), "m", ctx_));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, errc::upstream_protocol);
}

TEST_F(AnthropicNativeTest, StreamIsRelayedEventByEventWithItsNamesAndPings) {
  const std::string upstream = read_fixture("providers/anthropic/tool_use.stream.txt");
  upstream_.answer(http_response(200, "text/event-stream", upstream));
  LlmRequest req = request(kMessagesBody);
  req.stream = true;
  auto started = run_coro(io_, provider_->stream(req, "m", ctx_));
  ASSERT_TRUE(started.ok()) << started.error().message;
  const Collected c = run_coro(io_, collect(started->stream.get()));
  ASSERT_FALSE(c.error.has_value()) << c.error->message;
  EXPECT_EQ(c.text, upstream);
  EXPECT_TRUE(started->stream->usage().known);
  EXPECT_GT(started->stream->usage().completion_tokens, 0);
}

TEST_F(AnthropicNativeTest, AnErrorEventOrACutEndsTheStreamWithAnError) {
  for (const char* fixture : {"error_event.stream.txt", "broken.stream.txt"}) {
    upstream_.answer(http_response(200, "text/event-stream", read_fixture(std::string("providers/anthropic/") + fixture)));
    LlmRequest req = request(kMessagesBody);
    req.stream = true;
    auto started = run_coro(io_, provider_->stream(req, "m", ctx_));
    ASSERT_TRUE(started.ok()) << fixture;
    const Collected c = run_coro(io_, collect(started->stream.get()));
    ASSERT_TRUE(c.error.has_value()) << fixture;
    EXPECT_NE(c.text.find("event: message_start"), std::string::npos) << "what came before is relayed";
    EXPECT_EQ(c.text.find("\"type\":\"error\""), std::string::npos) << "the error event itself is the front door's to render";
  }
}

// The relay mode of the translator, on its own.
TEST(AnthropicRelay, PassesEveryEventAndKeepsTheBookkeeping) {
  AnthropicStreamTranslator relay("up", false, 0, AnthropicStreamTranslator::Mode::relay);
  std::string out;
  const std::string text = read_fixture("providers/anthropic/text.stream.txt");
  for (const std::string& event : frame(text)) ASSERT_TRUE(relay.feed(event, out).ok());
  EXPECT_EQ(out, text);
  EXPECT_TRUE(relay.done());
  EXPECT_TRUE(relay.finish().ok());
  EXPECT_TRUE(relay.usage().known);
}

TEST(AnthropicRelay, OrderIsStillChecked) {
  AnthropicStreamTranslator relay("up", false, 0, AnthropicStreamTranslator::Mode::relay);
  std::string out;
  EXPECT_TRUE(relay.feed("event: ping\ndata: {\"type\":\"ping\"}\n\n", out).ok());
  EXPECT_TRUE(relay.feed("event: something_new\ndata: {\"type\":\"something_new\"}\n\n", out).ok());
  const Status early = relay.feed("event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0}\n\n", out);
  ASSERT_FALSE(early.ok());
  EXPECT_EQ(early.error().code, errc::upstream_protocol);
  EXPECT_FALSE(relay.finish().ok()) << "no message_stop";
}

}  // namespace
}  // namespace sluice::providers
