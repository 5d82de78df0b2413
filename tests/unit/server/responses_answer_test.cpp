// Chat completions back into the Responses API: whole answers and the
// streamed event sequence against recorded samples, sequence numbers, the
// terminal events, response.failed, and the bound on what a stream holds.
#include "responses_answer.hpp"

#include <gtest/gtest.h>

#include <string>

#include "dialect_test_util.hpp"

namespace sluice::server {
namespace {

using namespace dialect_test;
using test::read_fixture;

ResponseDraft draft() { return ResponseDraft{"resp_test", 1700000000, "asked-model", ""}; }

std::string translate(const std::string& chat_stream, const Usage& usage = {}) {
  return dialect_test::translate(ChatToResponsesStream(draft()), chat_stream, usage);
}

TEST(ChatToResponse, TextAnswer) {
  auto r = chat_to_response(read_fixture("providers/openai/chat.response.json"), draft());
  ASSERT_TRUE(r.ok()) << r.error().message;
  expect_fixture(*r, "dialects/responses/response.from-chat.json");
}

TEST(ChatToResponse, ToolCallsBecomeFunctionCallItems) {
  auto r = chat_to_response(read_fixture("dialects/chat/tool_calls.response.json"), draft());
  ASSERT_TRUE(r.ok()) << r.error().message;
  expect_fixture(*r, "dialects/responses/response-tool.from-chat.json");
}

TEST(ChatToResponse, EchoesTheRequestAndSaysWhyItIsIncomplete) {
  ResponseDraft d = draft();
  d.echo = R"(,"instructions":"Be brief.","tools":[],"tool_choice":"auto","temperature":0.2)";
  auto r = chat_to_response(R"({"model":"m","choices":[{"message":{"content":"par"},"finish_reason":"length"}]})", d);
  ASSERT_TRUE(r.ok());
  const json j = parsed(*r);
  EXPECT_EQ(j["status"], "incomplete");
  EXPECT_EQ(j["incomplete_details"], json::parse(R"({"reason":"max_output_tokens"})"));
  EXPECT_EQ(j["instructions"], "Be brief.");
  EXPECT_EQ(j["temperature"], 0.2);
  EXPECT_TRUE(j["usage"].is_null()) << "the upstream said no usage";
  auto filtered = chat_to_response(R"({"choices":[{"message":{"content":""},"finish_reason":"content_filter"}]})", d);
  EXPECT_EQ(parsed(*filtered)["incomplete_details"]["reason"], "content_filter");
  EXPECT_EQ(parsed(*filtered)["model"], "asked-model") << "no model in the answer: the one asked for";
}

TEST(ChatToResponse, WhatCannotBeAResponseIsAProtocolError) {
  for (const std::string bad : {R"({"choices":[]})", R"({"choices":[{"message":7}]})", "[]", "nope"}) {
    auto r = chat_to_response(bad, draft());
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, errc::upstream_protocol);
  }
}

TEST(ChatToResponsesStream, SequenceNumbersCountEveryEventFromZero) {
  const auto events = events_of(translate(read_fixture("dialects/chat/tool_calls.stream.txt")));
  for (std::size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].data["sequence_number"], i);
    EXPECT_EQ(events[i].data["type"], events[i].name);
  }
}

TEST(ChatToResponsesStream, ALengthCutEndsWithResponseIncomplete) {
  const std::string chat = R"(data: {"model":"m","choices":[{"delta":{"content":"par"}}]})" "\n\n"
                           R"(data: {"model":"m","choices":[{"delta":{},"finish_reason":"length"}]})" "\n\n"
                           "data: [DONE]\n\n";
  const auto events = events_of(translate(chat, Usage{5, 1, true}));
  EXPECT_EQ(events.back().name, "response.incomplete");
  EXPECT_EQ(events.back().data["response"]["incomplete_details"]["reason"], "max_output_tokens");
  EXPECT_EQ(events.back().data["response"]["usage"]["input_tokens"], 5) << "the stream's own usage stands in";
}

TEST(ChatToResponsesStream, FailureIsResponseFailedContinuingTheSequence) {
  ChatToResponsesStream translator(draft());
  std::string out;
  ASSERT_TRUE(translator.feed(read_chat_event(R"(data: {"model":"m","choices":[{"delta":{"content":"Hel"}}]})" "\n\n").value(), {}, out).ok());
  const std::size_t sent = events_of(out).size();
  const auto failed = events_of(translator.failure_event(make_error(errc::upstream_timeout, "provider 'a' did not answer in time")));
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].name, "response.failed");
  EXPECT_EQ(failed[0].data["sequence_number"], sent);
  const json response = failed[0].data["response"];
  EXPECT_EQ(response["status"], "failed");
  EXPECT_EQ(response["error"], json::parse(R"({"code":"upstream_timeout","message":"provider 'a' did not answer in time"})"));
  EXPECT_EQ(response["output"][0]["content"][0]["text"], "Hel") << "what was said so far";
}

TEST(ChatToResponsesStream, HoldsABoundedAnswer) {
  ChatToResponsesStream translator(draft());
  std::string out;
  const std::string piece(1 << 20, 'x');
  const std::string event = R"(data: {"choices":[{"delta":{"content":")" + piece + "\"}}]}\n\n";
  Status s = Ok{};
  for (std::size_t i = 0; i <= ChatToResponsesStream::kMaxHeldBytes / piece.size() && s.ok(); ++i) {
    out.clear();
    s = translator.feed(read_chat_event(event).value(), {}, out);
  }
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, errc::upstream_protocol);
}

TEST(ResponseDraft, DefaultsWhenNothingIsEchoed) {
  const json j = parsed(draft().object("in_progress", ""));
  EXPECT_EQ(j["object"], "response");
  EXPECT_EQ(j["output"], json::array());
  EXPECT_EQ(j["tools"], json::array());
  EXPECT_EQ(j["store"], false);
  EXPECT_EQ(j["parallel_tool_calls"], true);
}

}  // namespace
}  // namespace sluice::server
