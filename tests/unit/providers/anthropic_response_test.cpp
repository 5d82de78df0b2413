// Anthropic answers -> OpenAI: whole messages, errors, headers, and the
// stream translator on recorded event sequences.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <map>
#include <string>
#include <vector>

#include "../../../src/providers/anthropic.hpp"
#include "support/fixture.hpp"
#include "provider_test_util.hpp"

namespace sluice::providers {
namespace {

using json = nlohmann::json;
using test::frame;
using test::head_with;
using test::read_fixture;

constexpr std::int64_t kCreated = 1'700'000'000;

// --- to_openai_response -----------------------------------------------------

TEST(ToOpenAiResponse, TextMessage) {
  auto res = to_openai_response(read_fixture("providers/anthropic/message.response.json"), kCreated);
  ASSERT_TRUE(res.ok()) << res.error().message;
  const json out = json::parse(res->body);
  EXPECT_EQ(out["id"], "msg_01XFDUDYJgAACzvnptvVoYEL");
  EXPECT_EQ(out["object"], "chat.completion");
  EXPECT_EQ(out["created"], kCreated);
  EXPECT_EQ(out["model"], "claude-sonnet-4-20250514");
  ASSERT_EQ(out["choices"].size(), 1u);
  const json& choice = out["choices"][0];
  EXPECT_EQ(choice["index"], 0);
  EXPECT_EQ(choice["finish_reason"], "stop");
  EXPECT_EQ(choice["message"]["role"], "assistant");
  EXPECT_EQ(choice["message"]["content"], "The Danube, the Rhine and the Loire.");
  EXPECT_FALSE(choice["message"].contains("tool_calls"));
  // Prompt tokens count the whole prompt: input + cache writes + cache reads.
  EXPECT_EQ(out["usage"], json({{"prompt_tokens", 2121},
                                {"completion_tokens", 14},
                                {"total_tokens", 2135},
                                {"prompt_tokens_details", {{"cached_tokens", 2000}}}}));
  EXPECT_TRUE(res->usage.known);
  EXPECT_EQ(res->usage.prompt_tokens, 2121);
  EXPECT_EQ(res->usage.completion_tokens, 14);
}

TEST(ToOpenAiResponse, ToolUseMessage) {
  auto res = to_openai_response(read_fixture("providers/anthropic/tool_use.response.json"), kCreated);
  ASSERT_TRUE(res.ok()) << res.error().message;
  const json out = json::parse(res->body);
  const json& message = out["choices"][0]["message"];
  EXPECT_TRUE(message["content"].is_null()) << "only tool calls: content is null, as OpenAI sends it";
  EXPECT_EQ(out["choices"][0]["finish_reason"], "tool_calls");
  ASSERT_EQ(message["tool_calls"].size(), 2u);
  const json& first = message["tool_calls"][0];
  EXPECT_EQ(first["id"], "toolu_01A09q90qw90lq917835lq9");
  EXPECT_EQ(first["type"], "function");
  EXPECT_EQ(first["function"]["name"], "get_weather");
  ASSERT_TRUE(first["function"]["arguments"].is_string());
  EXPECT_EQ(json::parse(first["function"]["arguments"].get<std::string>()),
            json({{"location", "San Francisco, CA"}, {"unit", "celsius"}}));
  EXPECT_EQ(message["tool_calls"][1]["function"]["arguments"], "{}");
  EXPECT_EQ(res->body.find("thinking"), std::string::npos) << "thinking blocks are not relayed";
  EXPECT_EQ(res->usage.prompt_tokens, 472);
  EXPECT_EQ(res->usage.completion_tokens, 91);
}

TEST(ToOpenAiResponse, TextWithToolCallsKeepsTheText) {
  const std::string body = R"({"type":"message","id":"m","model":"c","stop_reason":"tool_use","content":[
      {"type":"text","text":"Checking."},{"type":"tool_use","id":"t","name":"f","input":{"a":1}}],
      "usage":{"input_tokens":1,"output_tokens":2}})";
  auto res = to_openai_response(body, kCreated);
  ASSERT_TRUE(res.ok());
  const json message = json::parse(res->body)["choices"][0]["message"];
  EXPECT_EQ(message["content"], "Checking.");
  EXPECT_EQ(message["tool_calls"][0]["function"]["arguments"], R"({"a":1})");
}

TEST(ToOpenAiResponse, EmptyAnswerHasEmptyContentAndNoUsageWhenNoneSent) {
  auto res = to_openai_response(R"({"type":"message","id":"m","model":"c","content":[],"stop_reason":"max_tokens"})", kCreated);
  ASSERT_TRUE(res.ok());
  const json out = json::parse(res->body);
  EXPECT_EQ(out["choices"][0]["message"]["content"], "");
  EXPECT_EQ(out["choices"][0]["finish_reason"], "length");
  EXPECT_FALSE(out.contains("usage"));
  EXPECT_FALSE(res->usage.known);
}

TEST(ToOpenAiResponse, WhatIsNotAMessageIsAProtocolError) {
  for (const std::string& body : {std::string("garbage"), std::string(""), std::string("[]"),
                                  read_fixture("providers/anthropic/error.529.json"),
                                  std::string(R"({"type":"message","content":"text"})"),
                                  std::string(R"({"content":[]})")}) {
    auto res = to_openai_response(body, kCreated);
    ASSERT_FALSE(res.ok()) << body;
    EXPECT_EQ(res.error().code, errc::upstream_protocol) << body;
  }
}

// --- map_anthropic_error ----------------------------------------------------

Error mapped(int status, std::vector<Header> headers = {}) {
  // A CDN's HTML page reads the same in front of any vendor.
  const std::string file = status == 502 ? "openai/error.502.html" : "anthropic/error." + std::to_string(status) + ".json";
  return map_anthropic_error("claude", status, read_fixture("providers/" + file), head_with(std::move(headers), status));
}

TEST(MapAnthropicError, InvalidRequestIsRelayedInOpenAiShape) {
  const Error e = mapped(400);
  EXPECT_EQ(e.code, errc::upstream_rejected);
  EXPECT_EQ(e.status(), 400);
  EXPECT_FALSE(e.fails_over());
  EXPECT_TRUE(e.upstream_body.empty()) << "Anthropic's own body is not OpenAI-shaped";
  const json body = json::parse(error_body(e));
  EXPECT_EQ(body["error"]["type"], "invalid_request_error");
  EXPECT_EQ(body["error"]["message"],
            "messages.1.content.0.image.source.base64.data: The image was specified using the image/jpeg media type, "
            "but does not appear to be a valid jpeg image");
  EXPECT_FALSE(body.contains("type")) << "no top-level Anthropic fields";
}

TEST(MapAnthropicError, CredentialErrorsAre502AndNeverQuoteTheProvider) {
  for (int status : {401, 403}) {
    const Error e = mapped(status);
    EXPECT_EQ(e.code, errc::upstream_auth) << status;
    EXPECT_EQ(e.status(), 502);
    EXPECT_TRUE(e.fails_over());
    EXPECT_FALSE(e.client_may_retry());
    EXPECT_EQ(e.upstream_status, status);
    EXPECT_EQ(error_body(e).find("sk-ant"), std::string::npos) << error_body(e);
    EXPECT_EQ(error_body(e).find("x-api-key"), std::string::npos) << error_body(e);
    EXPECT_NE(e.message.find("provider 'claude' answered " + std::to_string(status)), std::string::npos) << e.message;
  }
}

TEST(MapAnthropicError, NotFoundAndTooLargeKeepTheirStatus) {
  for (int status : {404, 413}) {
    const Error e = mapped(status);
    EXPECT_EQ(e.code, errc::upstream_rejected) << status;
    EXPECT_EQ(e.status(), status);
    EXPECT_FALSE(e.fails_over());
  }
  EXPECT_EQ(mapped(404).message, "model: claude-nonexistent");
}

TEST(MapAnthropicError, RateLimitedWithRetryAfter) {
  const Error e = mapped(429, {{"retry-after", "7"}, {"anthropic-ratelimit-requests-remaining", "0"}});
  EXPECT_EQ(e.code, errc::upstream_rate_limited);
  EXPECT_EQ(e.status(), 429);
  EXPECT_TRUE(e.fails_over());
  EXPECT_EQ(e.retry_after_ms, 7000);
  EXPECT_NE(e.message.find("50 requests per minute"), std::string::npos) << e.message;
  EXPECT_EQ(mapped(429).retry_after_ms, -1) << "no header: the pool's default cooldown applies";
}

TEST(MapAnthropicError, ServerErrorsAndOverloadAreRetryable502s) {
  for (int status : {500, 529, 502}) {
    const Error e = mapped(status);
    EXPECT_EQ(e.code, errc::upstream_unavailable) << status;
    EXPECT_EQ(e.status(), 502) << status;
    EXPECT_TRUE(e.fails_over()) << status;
    EXPECT_TRUE(e.upstream_body.empty());
  }
  EXPECT_EQ(mapped(529).message, "provider 'claude' answered 529: Overloaded");
  EXPECT_EQ(mapped(502).message, "provider 'claude' answered 502") << "HTML bodies say nothing";
}

// --- anthropic_surfaced_headers ---------------------------------------------

TEST(AnthropicSurfacedHeaders, RateLimitHeadersGetOpenAiNames) {
  const auto kept = anthropic_surfaced_headers(head_with({
      {"anthropic-ratelimit-requests-limit", "50"},
      {"anthropic-ratelimit-requests-remaining", "49"},
      {"anthropic-ratelimit-requests-reset", "2025-01-01T00:00:01Z"},
      {"anthropic-ratelimit-tokens-limit", "80000"},
      {"anthropic-ratelimit-tokens-remaining", "1\r\nset-cookie: x=1"},
      {"retry-after", "3"},
      {"request-id", "req_1"},
      {"anthropic-organization-id", "org"},
  }));
  std::vector<std::pair<std::string, std::string>> got;
  for (const auto& h : kept) got.emplace_back(h.name, h.value);
  EXPECT_EQ(got, (std::vector<std::pair<std::string, std::string>>{{"retry-after", "3"},
                                                                  {"x-ratelimit-limit-requests", "50"},
                                                                  {"x-ratelimit-remaining-requests", "49"},
                                                                  {"x-ratelimit-limit-tokens", "80000"}}));
}

// --- AnthropicStreamTranslator ----------------------------------------------

struct Translated {
  std::vector<json> chunks;  // parsed data of each OpenAI event before [DONE]
  bool done = false;         // the last event was data: [DONE]
  std::string raw;
  std::optional<Error> error;
};

// Feeds each event of `stream`, then finish(); stops at the first error.
Translated run(AnthropicStreamTranslator& t, const std::string& stream) {
  Translated out;
  for (const std::string& event : frame(stream)) {
    if (Status s = t.feed(event, out.raw); !s) {
      out.error = s.error();
      break;
    }
  }
  if (!out.error)
    if (Status s = t.finish(); !s) out.error = s.error();
  for (const std::string& event : frame(out.raw)) {
    if (net::is_done_event(event)) {
      out.done = true;
      continue;
    }
    EXPECT_FALSE(out.done) << "nothing after [DONE]";
    out.chunks.push_back(json::parse(net::sse_data(event)));
  }
  return out;
}

std::string joined_content(const Translated& t) {
  std::string text;
  for (const json& c : t.chunks)
    if (!c["choices"].empty() && c["choices"][0]["delta"].contains("content")) text += c["choices"][0]["delta"]["content"];
  return text;
}

TEST(AnthropicStream, TextStreamWithUsageChunk) {
  AnthropicStreamTranslator t("claude", true, kCreated);
  const Translated out = run(t, read_fixture("providers/anthropic/text.stream.txt"));
  ASSERT_FALSE(out.error) << out.error->message;
  EXPECT_TRUE(out.done);
  EXPECT_TRUE(t.done());
  ASSERT_EQ(out.chunks.size(), 5u);  // role, 2 deltas, finish, usage (the ping made none)
  for (const json& c : out.chunks) {
    EXPECT_EQ(c["id"], "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY");
    EXPECT_EQ(c["object"], "chat.completion.chunk");
    EXPECT_EQ(c["created"], kCreated);
    EXPECT_EQ(c["model"], "claude-sonnet-4-20250514");
  }
  EXPECT_EQ(out.chunks[0]["choices"][0]["delta"], json({{"role", "assistant"}, {"content", ""}}));
  EXPECT_TRUE(out.chunks[0]["choices"][0]["finish_reason"].is_null());
  EXPECT_EQ(joined_content(out), "Hello, \"world\"\n!");
  EXPECT_EQ(out.chunks[3]["choices"][0]["delta"], json::object());
  EXPECT_EQ(out.chunks[3]["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(out.chunks[4]["choices"], json::array());
  EXPECT_EQ(out.chunks[4]["usage"], json({{"prompt_tokens", 35},
                                          {"completion_tokens", 15},
                                          {"total_tokens", 50},
                                          {"prompt_tokens_details", {{"cached_tokens", 10}}}}));
  EXPECT_TRUE(t.usage().known);
  EXPECT_EQ(t.usage().prompt_tokens, 35);
  EXPECT_EQ(t.usage().completion_tokens, 15);
}

TEST(AnthropicStream, WithoutIncludeUsageNoUsageChunkButUsageIsKnown) {
  AnthropicStreamTranslator t("claude", false, kCreated);
  const Translated out = run(t, read_fixture("providers/anthropic/text.stream.txt"));
  ASSERT_FALSE(out.error) << out.error->message;
  EXPECT_TRUE(out.done);
  ASSERT_EQ(out.chunks.size(), 4u);
  for (const json& c : out.chunks) EXPECT_FALSE(c.contains("usage")) << c;
  EXPECT_EQ(out.chunks.back()["choices"][0]["finish_reason"], "stop");
  EXPECT_TRUE(t.usage().known) << "the pool settles token budgets with it";
  EXPECT_EQ(t.usage().prompt_tokens, 35);
  EXPECT_EQ(t.usage().completion_tokens, 15);
}

TEST(AnthropicStream, ToolUseStreamReassemblesIntoToolCalls) {
  AnthropicStreamTranslator t("claude", true, kCreated);
  const Translated out = run(t, read_fixture("providers/anthropic/tool_use.stream.txt"));
  ASSERT_FALSE(out.error) << out.error->message;
  EXPECT_TRUE(out.done);
  EXPECT_EQ(out.raw.find("look up the weather"), std::string::npos) << "thinking is not relayed";
  EXPECT_EQ(out.raw.find("EqQBCgIYAhIM"), std::string::npos) << "nor its signature";
  EXPECT_EQ(joined_content(out), "Okay, let's check the weather for San Francisco, CA:");

  // Reassemble as an OpenAI client does: by tool_calls[].index.
  std::map<int, json> calls;
  for (const json& c : out.chunks) {
    if (c["choices"].empty() || !c["choices"][0]["delta"].contains("tool_calls")) continue;
    for (const json& d : c["choices"][0]["delta"]["tool_calls"]) {
      json& call = calls[d["index"].get<int>()];
      if (d.contains("id")) {
        EXPECT_FALSE(call.contains("id")) << "id and name come once, on the first delta";
        call["id"] = d["id"];
        call["type"] = d["type"];
        call["name"] = d["function"]["name"];
        call["arguments"] = "";
      }
      call["arguments"] = call["arguments"].get<std::string>() + d["function"]["arguments"].get<std::string>();
    }
  }
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0]["id"], "toolu_01T1x1fJ34qAmk2tNTrN7Up6");
  EXPECT_EQ(calls[0]["type"], "function");
  EXPECT_EQ(calls[0]["name"], "get_weather");
  EXPECT_EQ(json::parse(calls[0]["arguments"].get<std::string>()),
            json({{"location", "San Francisco, CA"}, {"unit", "fahrenheit"}}));
  EXPECT_EQ(calls[1]["name"], "get_time");
  EXPECT_EQ(calls[1]["arguments"], "{}") << "a tool without input still gets parseable arguments";
  const json& finish = out.chunks[out.chunks.size() - 2];
  EXPECT_EQ(finish["choices"][0]["finish_reason"], "tool_calls");
  EXPECT_EQ(out.chunks.back()["usage"]["completion_tokens"], 89);
}

TEST(AnthropicStream, StreamWithoutMessageStopIsAProtocolError) {
  AnthropicStreamTranslator t("claude", true, kCreated);
  const Translated out = run(t, read_fixture("providers/anthropic/broken.stream.txt"));
  ASSERT_TRUE(out.error);
  EXPECT_EQ(out.error->code, errc::upstream_protocol);
  EXPECT_NE(out.error->message.find("message_stop"), std::string::npos) << out.error->message;
  EXPECT_NE(out.error->message.find("provider 'claude'"), std::string::npos) << out.error->message;
  EXPECT_FALSE(out.done) << "never a [DONE] for a broken stream";
  EXPECT_EQ(joined_content(out), "Hello");
  EXPECT_FALSE(t.done());
}

TEST(AnthropicStream, ErrorEventFailsTheStreamAfterWhatCameBefore) {
  AnthropicStreamTranslator t("claude", true, kCreated);
  const Translated out = run(t, read_fixture("providers/anthropic/error_event.stream.txt"));
  ASSERT_TRUE(out.error);
  EXPECT_EQ(out.error->code, errc::upstream_unavailable);
  EXPECT_TRUE(out.error->fails_over());
  EXPECT_NE(out.error->message.find("overloaded_error"), std::string::npos) << out.error->message;
  EXPECT_NE(out.error->message.find("Overloaded"), std::string::npos) << out.error->message;
  EXPECT_EQ(joined_content(out), "Partial");
  EXPECT_FALSE(out.done);
}

std::string start_event() {
  return "event: message_start\ndata: "
         R"({"type":"message_start","message":{"id":"m","model":"c","usage":{"input_tokens":3,"output_tokens":1}}})"
         "\n\n";
}
std::string data_event(const std::string& data) { return "data: " + data + "\n\n"; }

TEST(AnthropicStream, ErrorEventTypesMapToTheirCodes) {
  struct Case {
    const char* type;
    errc code;
  };
  for (const Case c : {Case{"api_error", errc::upstream_unavailable}, Case{"overloaded_error", errc::upstream_unavailable},
                       Case{"rate_limit_error", errc::upstream_rate_limited},
                       Case{"invalid_request_error", errc::upstream_rejected},
                       Case{"authentication_error", errc::upstream_auth},
                       Case{"permission_error", errc::upstream_auth},
                       Case{"brand_new_error", errc::upstream_unavailable}}) {
    AnthropicStreamTranslator t("claude", false, kCreated);
    const Translated out = run(t, start_event() + data_event(std::string(R"({"type":"error","error":{"type":")") +
                                                             c.type + R"(","message":"key sk-ant-123 said no"}})"));
    ASSERT_TRUE(out.error) << c.type;
    EXPECT_EQ(out.error->code, c.code) << c.type;
    if (c.code == errc::upstream_auth) {
      EXPECT_EQ(out.error->message.find("sk-ant"), std::string::npos) << out.error->message;
      EXPECT_EQ(out.error->upstream_status, std::string(c.type) == "authentication_error" ? 401 : 403);
    }
  }
}

TEST(AnthropicStream, GarbageIsAProtocolError) {
  for (const char* data : {"{not json", "[1,2]", "\"text\"", "[DONE]"}) {
    AnthropicStreamTranslator t("claude", true, kCreated);
    const Translated out = run(t, start_event() + data_event(data));
    ASSERT_TRUE(out.error) << data;
    EXPECT_EQ(out.error->code, errc::upstream_protocol) << data;
    EXPECT_FALSE(out.done);
  }
}

TEST(AnthropicStream, OutOfOrderEventsAreProtocolErrors) {
  const std::string text_delta = data_event(R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"}})");
  const std::string cases[] = {
      text_delta,                                        // before message_start
      start_event() + text_delta,                        // a delta for a block never started
      start_event() + start_event(),                     // two messages in one stream
      start_event() + data_event(R"({"type":"content_block_stop","index":4})"),
      data_event(R"({"type":"message_stop"})"),
      start_event() + data_event(R"({"type":"content_block_start","index":0})"),
  };
  for (const std::string& stream : cases) {
    AnthropicStreamTranslator t("claude", true, kCreated);
    const Translated out = run(t, stream);
    ASSERT_TRUE(out.error) << stream;
    EXPECT_EQ(out.error->code, errc::upstream_protocol) << stream;
  }
}

TEST(AnthropicStream, PingsCommentsAndUnknownEventsAddNothing) {
  AnthropicStreamTranslator t("claude", false, kCreated);
  std::string out;
  ASSERT_TRUE(t.feed(start_event(), out).ok());
  const std::size_t after_start = out.size();
  for (const std::string& event : {data_event(R"({"type":"ping"})"), std::string(": keep-alive\n\n"),
                                   std::string("event: something\n\n"), data_event(R"({"type":"citations_summary"})")}) {
    ASSERT_TRUE(t.feed(event, out).ok()) << event;
  }
  EXPECT_EQ(out.size(), after_start);
}

TEST(AnthropicStream, NothingFollowsMessageStop) {
  AnthropicStreamTranslator t("claude", false, kCreated);
  std::string out;
  ASSERT_TRUE(t.feed(start_event(), out).ok());
  ASSERT_TRUE(t.feed(data_event(R"({"type":"message_stop"})"), out).ok());
  const std::string before = out;
  ASSERT_TRUE(t.feed(data_event(R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"late"}})"), out).ok());
  ASSERT_TRUE(t.feed(data_event(R"({"type":"error","error":{"type":"api_error","message":"late"}})"), out).ok());
  EXPECT_EQ(out, before);
  EXPECT_TRUE(net::is_done_event(frame(out).back()));
  EXPECT_EQ(json::parse(net::sse_data(frame(out)[1]))["choices"][0]["finish_reason"], "stop")
      << "no message_delta: the finish reason is stop";
}

TEST(AnthropicStream, MessageDeltaUsageUpdatesCumulatively) {
  AnthropicStreamTranslator t("claude", true, kCreated);
  std::string out;
  ASSERT_TRUE(t.feed(start_event(), out).ok());
  EXPECT_EQ(t.usage().prompt_tokens, 3);
  EXPECT_EQ(t.usage().completion_tokens, 1);
  ASSERT_TRUE(t.feed(data_event(R"({"type":"message_delta","delta":{"stop_reason":"max_tokens"},"usage":{"output_tokens":9}})"), out).ok());
  ASSERT_TRUE(t.feed(data_event(R"({"type":"message_delta","delta":{},"usage":{"input_tokens":4,"output_tokens":12}})"), out).ok());
  EXPECT_EQ(t.usage().prompt_tokens, 4);
  EXPECT_EQ(t.usage().completion_tokens, 12);
  ASSERT_TRUE(t.feed(data_event(R"({"type":"message_stop"})"), out).ok());
  const auto events = frame(out);
  EXPECT_EQ(json::parse(net::sse_data(events[1]))["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(json::parse(net::sse_data(events[2]))["usage"]["total_tokens"], 16);
}

}  // namespace
}  // namespace sluice::providers
