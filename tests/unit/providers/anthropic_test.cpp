// AnthropicProvider end to end against a scripted loopback server that
// answers with the recorded Anthropic samples: what goes on the wire (path,
// x-api-key, anthropic-version, the translated body) and what comes back.
#include "../../../src/providers/anthropic.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>

#include "support/run_coro.hpp"
#include "support/fixture.hpp"
#include "provider_test_util.hpp"
#include "scripted_upstream.hpp"

namespace sluice::providers {
namespace {

namespace asio = boost::asio;
using json = nlohmann::json;
using test::collect;
using test::Collected;
using test::frame;
using test::http_response;
using test::make_llm_request;
using test::read_fixture;
using test::run_coro;
using test::ScriptedUpstream;
using test::Seen;
using namespace std::chrono_literals;

ProviderConfig anthropic_config(std::string base_url) {
  ProviderConfig c;
  c.name = "claude";
  c.type = ProviderType::anthropic;
  c.base_url = std::move(base_url);
  c.api_key = "sk-ant-test-key";
  c.anthropic_version = "2023-06-01";
  c.default_max_tokens = 1000;
  c.headers = {{"anthropic-beta", "prompt-caching-2024-07-31"}};
  c.first_byte_timeout = 5s;
  c.idle_timeout = 5s;
  return c;
}

json chat_body(bool stream = false) {
  json body = {{"model", "claude-alias"},
               {"messages", {{{"role", "system"}, {"content", "Be brief."}}, {{"role", "user"}, {"content", "Rivers?"}}}},
               {"x_fake", {{"status", 503}}}};
  if (stream) {
    body["stream"] = true;
    body["stream_options"] = {{"include_usage", true}};
  }
  return body;
}

const std::string kSse = "text/event-stream";
const std::string kJson = "application/json";

class AnthropicProviderTest : public ::testing::Test {
 protected:
  // Built through the registry, so the `type: anthropic` wiring is under test too.
  void make(std::string_view base_path = "") {
    provider_ = make_provider(anthropic_config(upstream_.base_url(base_path)), io_.get_executor());
  }

  Result<ProviderResponse> complete(const json& body, Endpoint endpoint = Endpoint::chat_completions) {
    if (!provider_) make();
    const LlmRequest req = make_llm_request(body, endpoint);
    return run_coro(io_, provider_->complete(req, "claude-sonnet-4-20250514", ctx_));
  }
  Result<StreamStart> stream(const json& body) {
    if (!provider_) make();
    const LlmRequest req = make_llm_request(body);
    return run_coro(io_, provider_->stream(req, "claude-sonnet-4-20250514", ctx_));
  }
  // The error complete() or stream() (of chat_body()) answers with; none when it succeeded.
  std::optional<Error> failure(bool streamed) {
    if (streamed) {
      auto started = stream(chat_body(true));
      if (!started.ok()) return started.error();
    } else {
      auto res = complete(chat_body());
      if (!res.ok()) return res.error();
    }
    return std::nullopt;
  }
  // The stream's events until its end or error; the upstream's whole answer.
  Collected stream_fixture(const std::string& fixture, bool include_usage = true) {
    upstream_.answer(http_response(200, kSse, read_fixture("providers/anthropic/" + fixture)));
    json body = chat_body(true);
    body["stream_options"]["include_usage"] = include_usage;
    auto started = stream(body);
    EXPECT_TRUE(started.ok()) << started.error().message;
    if (!started.ok()) return {};
    stream_ = std::move(started->stream);
    return run_coro(io_, collect(stream_.get()));
  }

  asio::io_context io_;
  ScriptedUpstream upstream_{io_};
  RequestContext ctx_;
  std::unique_ptr<Provider> provider_;
  std::unique_ptr<ChunkStream> stream_;
};

TEST_F(AnthropicProviderTest, CompleteSendsTheTranslatedRequestWithAnthropicHeaders) {
  upstream_.answer(http_response(200, kJson, read_fixture("providers/anthropic/message.response.json"),
                                 "anthropic-ratelimit-requests-remaining: 49\r\nanthropic-ratelimit-tokens-remaining: 7000\r\n"));
  auto res = complete(chat_body());
  ASSERT_TRUE(res.ok()) << res.error().message;
  EXPECT_EQ(provider_->name(), "claude");

  ASSERT_EQ(upstream_.seen().size(), 1u);
  const Seen& sent = upstream_.seen()[0];
  EXPECT_EQ(sent.method, "POST");
  EXPECT_EQ(sent.target, "/v1/messages");
  EXPECT_EQ(sent.headers.at("x-api-key"), "sk-ant-test-key");
  EXPECT_EQ(sent.headers.at("anthropic-version"), "2023-06-01");
  EXPECT_EQ(sent.headers.at("anthropic-beta"), "prompt-caching-2024-07-31");
  EXPECT_EQ(sent.headers.at("content-type"), "application/json");
  EXPECT_EQ(sent.headers.at("accept"), "application/json");
  EXPECT_FALSE(sent.headers.contains("authorization")) << "Anthropic takes the key in x-api-key only";
  EXPECT_EQ(json::parse(sent.body),
            json({{"model", "claude-sonnet-4-20250514"},
                  {"max_tokens", 1000},
                  {"system", "Be brief."},
                  {"messages", {{{"role", "user"}, {"content", {{{"type", "text"}, {"text", "Rivers?"}}}}}}}}))
      << "x_fake and the other OpenAI-only fields stay behind";

  EXPECT_EQ(res->status, 200);
  const json answer = json::parse(res->body);
  EXPECT_EQ(answer["object"], "chat.completion");
  EXPECT_EQ(answer["choices"][0]["message"]["content"], "The Danube, the Rhine and the Loire.");
  EXPECT_GT(answer["created"].get<std::int64_t>(), 1'600'000'000);
  EXPECT_TRUE(res->usage.known);
  EXPECT_EQ(res->usage.prompt_tokens, 2121);
  EXPECT_EQ(res->usage.completion_tokens, 14);
  ASSERT_TRUE(res->limits.remaining_requests.has_value());
  EXPECT_EQ(*res->limits.remaining_requests, 49);
  EXPECT_EQ(*res->limits.remaining_tokens, 7000);
  ASSERT_EQ(res->headers.size(), 2u);
  EXPECT_EQ(res->headers[0].name, "x-ratelimit-remaining-requests");
  EXPECT_EQ(res->headers[1].name, "x-ratelimit-remaining-tokens");
}

TEST_F(AnthropicProviderTest, BaseUrlPathIsKeptInFrontOfV1Messages) {
  make("/anthropic-proxy");
  upstream_.answer(http_response(200, kJson, read_fixture("providers/anthropic/message.response.json")));
  ASSERT_TRUE(complete(chat_body()).ok());
  EXPECT_EQ(upstream_.seen().at(0).target, "/anthropic-proxy/v1/messages");
}

TEST_F(AnthropicProviderTest, CompleteWithAnAnswerThatIsNoMessageIsAProtocolError) {
  upstream_.answer(http_response(200, kJson, R"({"hello":"world"})"));
  auto res = complete(chat_body());
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, errc::upstream_protocol);
  EXPECT_TRUE(res.error().message.starts_with("provider 'claude': ")) << res.error().message;
}

TEST_F(AnthropicProviderTest, UpstreamErrorsAreMappedForCompleteAndStream) {
  struct Case {
    int status;
    std::string headers;
    errc code;
    int client_status;
    std::int64_t retry_after_ms;
  };
  const Case cases[] = {
      {400, "", errc::upstream_rejected, 400, -1},
      {401, "", errc::upstream_auth, 502, -1},
      {403, "", errc::upstream_auth, 502, -1},
      {404, "", errc::upstream_rejected, 404, -1},
      {413, "", errc::upstream_rejected, 413, -1},
      {429, "retry-after: 4\r\n", errc::upstream_rate_limited, 429, 4000},
      {500, "", errc::upstream_unavailable, 502, -1},
      {529, "", errc::upstream_unavailable, 502, -1},
  };
  for (const Case& c : cases) {
    for (bool streamed : {false, true}) {
      const std::string body = read_fixture("providers/anthropic/error." + std::to_string(c.status) + ".json");
      upstream_.answer(http_response(c.status, kJson, body, c.headers));
      const std::optional<Error> e = failure(streamed);
      ASSERT_TRUE(e.has_value()) << c.status;
      EXPECT_EQ(e->code, c.code) << c.status << (streamed ? " stream" : "");
      EXPECT_EQ(e->status(), c.client_status) << c.status;
      EXPECT_EQ(e->retry_after_ms, c.retry_after_ms) << c.status;
      EXPECT_TRUE(e->upstream_body.empty());
      EXPECT_EQ(error_body(*e).find("sk-ant"), std::string::npos);
    }
  }
}

TEST_F(AnthropicProviderTest, StreamTranslatesEventsAndReportsUsage) {
  const Collected c = stream_fixture("text.stream.txt");
  ASSERT_FALSE(c.error.has_value()) << c.error->message;
  const Seen& sent = upstream_.seen().at(0);
  EXPECT_EQ(sent.headers.at("accept"), "text/event-stream");
  EXPECT_EQ(json::parse(sent.body)["stream"], true);
  const auto events = frame(c.text);
  ASSERT_EQ(events.size(), 6u);  // role, 2 deltas, finish, usage, [DONE]
  EXPECT_TRUE(net::is_done_event(events.back()));
  EXPECT_EQ(json::parse(net::sse_data(events[1]))["choices"][0]["delta"]["content"], "Hello");
  EXPECT_EQ(json::parse(net::sse_data(events[4]))["usage"]["prompt_tokens"], 35);
  EXPECT_EQ(stream_->usage().completion_tokens, 15);
  auto again = run_coro(io_, stream_->next());
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->empty()) << "after the end, next() keeps answering \"\"";
}

TEST_F(AnthropicProviderTest, StreamWithoutIncludeUsageStillReportsUsage) {
  const Collected c = stream_fixture("text.stream.txt", false);
  ASSERT_FALSE(c.error.has_value()) << c.error->message;
  EXPECT_EQ(c.text.find("\"usage\""), std::string::npos);
  EXPECT_EQ(frame(c.text).size(), 5u);
  EXPECT_TRUE(stream_->usage().known);
  EXPECT_EQ(stream_->usage().prompt_tokens, 35);
}

TEST_F(AnthropicProviderTest, ToolUseStreamCarriesToolCalls) {
  const Collected c = stream_fixture("tool_use.stream.txt");
  ASSERT_FALSE(c.error.has_value()) << c.error->message;
  std::string arguments;
  for (const std::string& e : frame(c.text)) {
    if (net::is_done_event(e)) continue;
    const json chunk = json::parse(net::sse_data(e));
    if (!chunk["choices"].empty() && chunk["choices"][0]["delta"].contains("tool_calls") &&
        chunk["choices"][0]["delta"]["tool_calls"][0]["index"] == 0)
      arguments += chunk["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].get<std::string>();
  }
  EXPECT_EQ(json::parse(arguments), json({{"location", "San Francisco, CA"}, {"unit", "fahrenheit"}}));
}

TEST_F(AnthropicProviderTest, ErrorEventEndsTheStreamWithAnErrorAfterTheTextBeforeIt) {
  const Collected c = stream_fixture("error_event.stream.txt");
  ASSERT_TRUE(c.error.has_value());
  EXPECT_EQ(c.error->code, errc::upstream_unavailable);
  EXPECT_NE(c.text.find("Partial"), std::string::npos) << "what came before the error was relayed";
  EXPECT_EQ(c.text.find("[DONE]"), std::string::npos);
  auto again = run_coro(io_, stream_->next());
  ASSERT_FALSE(again.ok()) << "a broken stream stays broken";
  EXPECT_EQ(again.error().code, errc::upstream_unavailable);
}

TEST_F(AnthropicProviderTest, SecretsTheUpstreamEchoesAreRedacted) {
  // anthropic_config sends x-api-key: sk-ant-test-key and an anthropic-beta header.
  const std::string quoting = R"({"type":"error","error":{"type":"invalid_request_error","message":)"
                              R"("x-api-key sk-ant-test-key cannot use anthropic-beta: prompt-caching-2024-07-31"}})";
  for (bool streamed : {false, true}) {
    upstream_.answer(http_response(400, kJson, quoting));
    const std::optional<Error> e = failure(streamed);
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->message, "x-api-key [redacted] cannot use anthropic-beta: [redacted]") << streamed;
  }
  // In a stream: the text before an error event, and the error event's words.
  std::string events = read_fixture("providers/anthropic/error_event.stream.txt");
  events.replace(events.find("\"Partial\""), 9, "\"Partial sk-ant-test-key\"");
  events.replace(events.find("\"Overloaded\""), 12, "\"Overloaded for sk-ant-test-key\"");
  upstream_.answer(http_response(200, kSse, events));
  auto started = stream(chat_body(true));
  ASSERT_TRUE(started.ok()) << started.error().message;
  const Collected c = run_coro(io_, collect(started->stream.get()));
  ASSERT_TRUE(c.error.has_value());
  EXPECT_NE(c.text.find("Partial [redacted]"), std::string::npos) << c.text;
  EXPECT_EQ(c.text.find("sk-ant-test-key"), std::string::npos) << c.text;
  EXPECT_NE(c.error->message.find("Overloaded for [redacted]"), std::string::npos) << c.error->message;
}

TEST_F(AnthropicProviderTest, StreamEndingWithoutMessageStopIsAProtocolError) {
  const Collected c = stream_fixture("broken.stream.txt");
  ASSERT_TRUE(c.error.has_value());
  EXPECT_EQ(c.error->code, errc::upstream_protocol);
  EXPECT_EQ(c.text.find("[DONE]"), std::string::npos);
  for (const std::string& e : frame(c.text)) EXPECT_TRUE(json::accept(net::sse_data(e))) << e;
}

TEST_F(AnthropicProviderTest, OversizeEventIsAProtocolErrorAfterTheEventsBeforeIt) {
  const std::string events = read_fixture("providers/anthropic/text.stream.txt");
  const std::size_t first_end = events.find("\n\n") + 2;  // message_start
  const std::string huge = "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
                           "\"delta\":{\"type\":\"text_delta\",\"text\":\"" +
                           std::string(net::SseFramer::kDefaultMaxEventBytes, 'x') + "\"}}\n\n";
  upstream_.answer(http_response(200, kSse, events.substr(0, first_end) + huge + events.substr(first_end)));
  auto started = stream(chat_body(true));
  ASSERT_TRUE(started.ok()) << started.error().message;
  const Collected c = run_coro(io_, collect(started->stream.get()));
  ASSERT_TRUE(c.error.has_value());
  EXPECT_EQ(c.error->code, errc::upstream_protocol);
  EXPECT_EQ(c.error->message, "provider 'claude': upstream sent an SSE event larger than 4194304 bytes");
  const auto sent = frame(c.text);
  ASSERT_EQ(sent.size(), 1u) << "the role chunk from message_start, nothing of the oversize event";
  EXPECT_EQ(json::parse(net::sse_data(sent[0]))["choices"][0]["delta"]["role"], "assistant");
}

TEST_F(AnthropicProviderTest, HtmlWithStatus200IsAProtocolErrorThatFailsOver) {
  upstream_.answer(http_response(200, "text/html", read_fixture("providers/openai/error.502.html")));
  auto res = complete(chat_body());
  ASSERT_FALSE(res.ok()) << res->body;
  EXPECT_EQ(res.error().code, errc::upstream_protocol);
  EXPECT_EQ(res.error().status(), 502);
  EXPECT_TRUE(res.error().fails_over());
  EXPECT_EQ(res.error().message.find("<html>"), std::string::npos) << res.error().message;
}

TEST_F(AnthropicProviderTest, NonJsonEventFirstOrLaterEndsTheStreamThere) {
  const std::string events = read_fixture("providers/anthropic/text.stream.txt");
  const std::size_t first_end = events.find("\n\n") + 2;  // message_start
  const std::string garbage = "event: content_block_delta\ndata: <html>Bad Gateway</html>\n\n";
  for (const std::size_t at : {std::size_t{0}, first_end}) {
    upstream_.answer(http_response(200, kSse, events.substr(0, at) + garbage + events.substr(at)));
    auto started = stream(chat_body(true));
    ASSERT_TRUE(started.ok()) << started.error().message;
    const Collected c = run_coro(io_, collect(started->stream.get()));
    ASSERT_TRUE(c.error.has_value()) << at;
    EXPECT_EQ(c.error->code, errc::upstream_protocol) << at;
    EXPECT_EQ(frame(c.text).size(), at == 0 ? 0u : 1u) << "only the role chunk of message_start, if it came first";
    EXPECT_EQ(c.text.find("<html>"), std::string::npos);
  }
}

TEST_F(AnthropicProviderTest, StreamCutByTheConnectionIsUpstreamUnavailable) {
  const std::string events = read_fixture("providers/anthropic/text.stream.txt");
  // The head promises the whole stream; the connection closes after half of it.
  std::string response = http_response(200, kSse, events);
  response.resize(response.size() - events.size() / 2);
  upstream_.answer(std::move(response));
  auto started = stream(chat_body(true));
  ASSERT_TRUE(started.ok()) << started.error().message;
  const Collected c = run_coro(io_, collect(started->stream.get()));
  ASSERT_TRUE(c.error.has_value());
  EXPECT_EQ(c.error->code, errc::upstream_unavailable) << c.error->message;
}

TEST_F(AnthropicProviderTest, OtherEndpointsAreRefusedWithoutAnUpstreamCall) {
  for (Endpoint endpoint : {Endpoint::embeddings, Endpoint::completions}) {
    const json body = endpoint == Endpoint::embeddings ? json{{"model", "claude-alias"}, {"input", "hi"}}
                                                       : json{{"model", "claude-alias"}, {"prompt", "hi"}};
    auto res = complete(body, endpoint);
    ASSERT_FALSE(res.ok());
    EXPECT_EQ(res.error().code, errc::bad_request);
    EXPECT_EQ(res.error().status(), 400);
    EXPECT_EQ(res.error().param, "model");
    EXPECT_NE(res.error().message.find("provider 'claude'"), std::string::npos) << res.error().message;
    EXPECT_NE(res.error().message.find("/v1" + std::string(upstream_path(endpoint))), std::string::npos)
        << res.error().message;
  }
  EXPECT_TRUE(upstream_.seen().empty());
}

TEST_F(AnthropicProviderTest, UntranslatableRequestsAreRefusedWithoutAnUpstreamCall) {
  json body = chat_body(true);
  body["n"] = 3;
  auto started = stream(body);
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.error().code, errc::bad_request);
  EXPECT_EQ(started.error().param, "n");
  EXPECT_TRUE(upstream_.seen().empty());
}

}  // namespace
}  // namespace sluice::providers
