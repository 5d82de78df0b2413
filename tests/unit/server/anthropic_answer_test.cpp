// Chat completions back into Anthropic Messages: whole answers and streams
// against recorded samples, the failure event, and what an upstream may
// send that cannot be translated.
#include "anthropic_answer.hpp"

#include <gtest/gtest.h>

#include <string>

#include "dialect_test_util.hpp"
#include "reply.hpp"

namespace sluice::server {
namespace {

using namespace dialect_test;
using test::read_fixture;

// The stream translated event by event, as the upstream cut it.
std::string translate(const std::string& chat_stream, const Usage& usage = {}) {
  return dialect_test::translate(ChatToMessagesStream("msg_test"), chat_stream, usage);
}

TEST(ChatToMessage, TextAnswer) {
  auto m = chat_to_message(read_fixture("providers/openai/chat.response.json"), "msg_test");
  ASSERT_TRUE(m.ok()) << m.error().message;
  expect_fixture(*m, "dialects/anthropic/message.from-chat.json");
}

TEST(ChatToMessage, ToolCallsBecomeToolUseBlocksWithParsedInput) {
  auto m = chat_to_message(read_fixture("dialects/chat/tool_calls.response.json"), "msg_test");
  ASSERT_TRUE(m.ok()) << m.error().message;
  expect_fixture(*m, "dialects/anthropic/message-tool.from-chat.json");
}

TEST(ChatToMessage, RefusalsLengthAndCachedTokens) {
  auto m = chat_to_message(
      R"({"id":"c","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":null,"refusal":"I can't help with that."},"finish_reason":"stop"}],)"
      R"("usage":{"prompt_tokens":100,"completion_tokens":7,"prompt_tokens_details":{"cached_tokens":64}}})",
      "msg_x");
  ASSERT_TRUE(m.ok());
  const json j = parsed(*m);
  EXPECT_EQ(j["content"], json::parse(R"([{"type":"text","text":"I can't help with that."}])"));
  EXPECT_EQ(j["stop_reason"], "refusal");
  EXPECT_EQ(j["usage"], json::parse(R"({"input_tokens":36,"cache_creation_input_tokens":0,"cache_read_input_tokens":64,"output_tokens":7})"));
  auto cut = chat_to_message(R"({"model":"m","choices":[{"message":{"content":"par"},"finish_reason":"length"}]})", "msg_x");
  ASSERT_TRUE(cut.ok());
  EXPECT_EQ(parsed(*cut)["stop_reason"], "max_tokens");
  EXPECT_EQ(parsed(*cut)["usage"]["output_tokens"], 0) << "no usage: zeros, never a missing object";
}

TEST(ChatToMessage, WhatCannotBeAMessageIsAProtocolError) {
  for (const std::string bad : {R"({"choices":[]})", R"({"choices":[{"message":"x"}]})", "[1]", "not json",
                                R"({"choices":[{"message":{"tool_calls":[{"id":"t","function":{"name":"f","arguments":"{broken"}}]}}]})",
                                R"({"choices":[{"message":{"tool_calls":[{"id":"t","function":{"name":"f","arguments":"[1,2]"}}]}}]})"}) {
    auto m = chat_to_message(bad, "msg_x");
    ASSERT_FALSE(m.ok()) << bad;
    EXPECT_EQ(m.error().code, errc::upstream_protocol) << bad;
  }
}

TEST(ChatToMessagesStream, EveryEventHasItsNameAndTheNameIsItsType) {
  for (const auto& e : events_of(translate(read_fixture("dialects/chat/tool_calls.stream.txt")))) {
    ASSERT_FALSE(e.name.empty()) << "the Anthropic SDK drops events without an event: line";
    EXPECT_EQ(e.data["type"], e.name);
  }
}

TEST(ChatToMessagesStream, UsageTheChunksLackComesFromTheStream) {
  // A provider that took the usage chunk out still knows the usage.
  std::string no_usage;
  for (const auto& e : events_of(read_fixture("providers/openai/chat.stream.txt")))
    if (e.data != "[DONE]" && e.data["choices"].empty()) continue;
    else no_usage += e.data == "[DONE]" ? "data: [DONE]\n\n" : "data: " + e.data.dump() + "\n\n";
  const auto events = events_of(translate(no_usage, Usage{40, 12, true, 8}));
  const json delta = events.at(events.size() - 2).data;
  EXPECT_EQ(delta["type"], "message_delta");
  EXPECT_EQ(delta["usage"], json::parse(R"({"input_tokens":32,"cache_creation_input_tokens":0,"cache_read_input_tokens":8,"output_tokens":12})"));
}

TEST(ChatToMessagesStream, AnEmptyStreamStillMakesAWholeMessage) {
  const auto events = events_of(translate("data: [DONE]\n\n"));
  std::vector<std::string> names;
  for (const auto& e : events) names.push_back(e.name);
  EXPECT_EQ(names, (std::vector<std::string>{"message_start", "ping", "message_delta", "message_stop"}));
}

TEST(ChatToMessagesStream, FailureIsAnErrorEventInAnthropicsShape) {
  ChatToMessagesStream translator("msg_x");
  Error overloaded = make_error(errc::upstream_unavailable, "provider 'a' answered 529: Overloaded");
  overloaded.upstream_status = 529;
  const auto events = events_of(translator.failure_event(overloaded));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].name, "error");
  EXPECT_EQ(events[0].data, json::parse(R"({"type":"error","error":{"type":"overloaded_error","message":"provider 'a' answered 529: Overloaded"}})"));
}

TEST(AnthropicModelObject, TheShapeModelsListReads) {
  EXPECT_EQ(parsed(anthropic_model_object("claude-sonnet")),
            json::parse(R"({"type":"model","id":"claude-sonnet","display_name":"claude-sonnet","created_at":"1970-01-01T00:00:00Z"})"));
}

}  // namespace
}  // namespace sluice::server
