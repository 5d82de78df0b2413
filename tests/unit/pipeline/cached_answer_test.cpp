// Cached answers: streams added up into complete answers (and refused when
// incomplete, broken or too large), stored answers made fresh, and replays
// that add up again to the answer they came from, in each format.
#include "cached_answer.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "support/run_coro.hpp"

namespace sluice::pipeline {
namespace {

using json = nlohmann::json;

std::string data(const json& j) { return "data: " + j.dump() + "\n\n"; }
std::string named(const std::string& name, const json& j) { return "event: " + name + "\n" + data(j); }

json chat_chunk(const json& delta, const json& finish = nullptr) {
  return {{"id", "chatcmpl-1"},
          {"object", "chat.completion.chunk"},
          {"created", 7},
          {"model", "gpt-x"},
          {"choices", {{{"index", 0}, {"delta", delta}, {"finish_reason", finish}}}}};
}

// The data payloads of an SSE text, in order.
std::vector<std::string> payloads(const std::string& events) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while ((at = events.find("data: ", at)) != std::string::npos) {
    const std::size_t end = events.find('\n', at);
    out.push_back(events.substr(at + 6, end - at - 6));
    at = end;
  }
  return out;
}

std::optional<std::string> accumulate(Endpoint format, const std::string& events, std::size_t max = 1 << 20,
                                      Usage usage = {}) {
  AnswerAccumulator acc(format, max);
  acc.feed(events);
  return acc.finish(usage);
}

const std::string kText = "The quick brown fox jumps over the lazy dog, twice: once at dawn and once at dusk.";

TEST(AnswerAccumulator, AddsUpAChatStreamIntoACompletion) {
  AnswerAccumulator acc(Endpoint::chat_completions, 1 << 20);
  acc.feed(data(chat_chunk({{"role", "assistant"}, {"content", ""}})));
  acc.feed(data(chat_chunk({{"content", "Hello"}})) + data(chat_chunk({{"content", ", world"}})));
  acc.feed(data(chat_chunk(json::object(), "stop")));
  acc.feed("data: [DONE]\n\n");
  const auto body = acc.finish(Usage{12, 3, true});
  ASSERT_TRUE(body);
  const json j = json::parse(*body);
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["id"], "chatcmpl-1");
  EXPECT_EQ(j["model"], "gpt-x");
  EXPECT_EQ(j["choices"][0]["message"]["content"], "Hello, world");
  EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(j["usage"]["prompt_tokens"], 12) << "the stream's reported usage when no chunk carried one";
  EXPECT_EQ(j["usage"]["total_tokens"], 15);
}

TEST(AnswerAccumulator, KeepsAToolCallsArgumentsAcrossDeltas) {
  std::string events = data(chat_chunk({{"tool_calls", {{{"index", 0}, {"id", "call_1"}, {"type", "function"},
                                                         {"function", {{"name", "get"}, {"arguments", "{\"ci"}}}}}}}));
  events += data(chat_chunk({{"tool_calls", {{{"index", 0}, {"function", {{"arguments", "ty\":1}"}}}}}}}));
  events += data(chat_chunk(json::object(), "tool_calls")) + "data: [DONE]\n\n";
  const auto body = accumulate(Endpoint::chat_completions, events);
  ASSERT_TRUE(body);
  const json call = json::parse(*body)["choices"][0]["message"]["tool_calls"][0];
  EXPECT_EQ(call["id"], "call_1");
  EXPECT_EQ(call["function"]["name"], "get");
  EXPECT_EQ(call["function"]["arguments"], "{\"city\":1}");
  EXPECT_TRUE(ends_in_tool_calls(Endpoint::chat_completions, *body));
}

TEST(AnswerAccumulator, RefusesAStreamWithoutItsTerminalEvent) {
  EXPECT_FALSE(accumulate(Endpoint::chat_completions, data(chat_chunk({{"content", "Hel"}}))));
  EXPECT_TRUE(accumulate(Endpoint::chat_completions, data(chat_chunk({{"content", "Hel"}})) + "data: [DONE]\n\n"));
}

TEST(AnswerAccumulator, RefusesAStreamThatCarriedAnError) {
  const std::string events = data(chat_chunk({{"content", "Hel"}})) +
                             data({{"error", {{"message", "overloaded"}}}}) + "data: [DONE]\n\n";
  EXPECT_FALSE(accumulate(Endpoint::chat_completions, events));
}

TEST(AnswerAccumulator, StopsPastItsBound) {
  const std::string events = data(chat_chunk({{"content", std::string(200, 'x')}})) + "data: [DONE]\n\n";
  AnswerAccumulator acc(Endpoint::chat_completions, 100);
  acc.feed(events);
  EXPECT_TRUE(acc.abandoned());
  EXPECT_FALSE(acc.finish({}));
  EXPECT_TRUE(accumulate(Endpoint::chat_completions, events, 1000));
}

TEST(AnswerAccumulator, RefusesMoreThanOneChoice) {
  json chunk = chat_chunk({{"content", "a"}});
  chunk["choices"][0]["index"] = 1;
  EXPECT_FALSE(accumulate(Endpoint::chat_completions, data(chunk) + "data: [DONE]\n\n"));
}

TEST(AnswerAccumulator, JoinsAnEventSplitAcrossBatches) {
  const std::string events = data(chat_chunk({{"content", "whole"}})) + "data: [DONE]\n\n";
  AnswerAccumulator acc(Endpoint::chat_completions, 1 << 20);
  acc.feed(events.substr(0, 20));
  acc.feed(events.substr(20));
  const auto body = acc.finish({});
  ASSERT_TRUE(body);
  EXPECT_EQ(json::parse(*body)["choices"][0]["message"]["content"], "whole");
}

std::string messages_stream() {
  std::string s = named("message_start", {{"type", "message_start"},
                                          {"message", {{"id", "msg_1"}, {"type", "message"}, {"role", "assistant"},
                                                       {"model", "claude-x"}, {"content", json::array()},
                                                       {"stop_reason", nullptr}, {"stop_sequence", nullptr},
                                                       {"usage", {{"input_tokens", 9}, {"output_tokens", 1}}}}}});
  s += named("ping", {{"type", "ping"}});
  s += named("content_block_start",
             {{"type", "content_block_start"}, {"index", 0}, {"content_block", {{"type", "text"}, {"text", ""}}}});
  s += named("content_block_delta",
             {{"type", "content_block_delta"}, {"index", 0}, {"delta", {{"type", "text_delta"}, {"text", "Hi "}}}});
  s += named("content_block_delta",
             {{"type", "content_block_delta"}, {"index", 0}, {"delta", {{"type", "text_delta"}, {"text", "there"}}}});
  s += named("content_block_stop", {{"type", "content_block_stop"}, {"index", 0}});
  s += named("content_block_start", {{"type", "content_block_start"}, {"index", 1},
                                     {"content_block", {{"type", "tool_use"}, {"id", "tu_1"}, {"name", "look"},
                                                        {"input", json::object()}}}});
  s += named("content_block_delta", {{"type", "content_block_delta"}, {"index", 1},
                                     {"delta", {{"type", "input_json_delta"}, {"partial_json", "{\"q\":"}}}});
  s += named("content_block_delta", {{"type", "content_block_delta"}, {"index", 1},
                                     {"delta", {{"type", "input_json_delta"}, {"partial_json", "\"x\"}"}}}});
  s += named("content_block_stop", {{"type", "content_block_stop"}, {"index", 1}});
  s += named("message_delta", {{"type", "message_delta"},
                               {"delta", {{"stop_reason", "tool_use"}, {"stop_sequence", nullptr}}},
                               {"usage", {{"output_tokens", 14}}}});
  return s;
}

TEST(AnswerAccumulator, AddsUpAMessagesStreamIntoAMessage) {
  EXPECT_FALSE(accumulate(Endpoint::messages, messages_stream())) << "no message_stop yet";
  const auto body = accumulate(Endpoint::messages, messages_stream() + named("message_stop", {{"type", "message_stop"}}));
  ASSERT_TRUE(body);
  const json j = json::parse(*body);
  EXPECT_EQ(j["id"], "msg_1");
  EXPECT_EQ(j["content"][0], (json{{"type", "text"}, {"text", "Hi there"}}));
  EXPECT_EQ(j["content"][1]["input"], (json{{"q", "x"}}));
  EXPECT_EQ(j["stop_reason"], "tool_use");
  EXPECT_EQ(j["usage"]["input_tokens"], 9);
  EXPECT_EQ(j["usage"]["output_tokens"], 14);
  EXPECT_TRUE(ends_in_tool_calls(Endpoint::messages, *body));
}

const json kResponse = {{"id", "resp_1"},
                        {"object", "response"},
                        {"created_at", 5},
                        {"status", "completed"},
                        {"model", "gpt-x"},
                        {"output", {{{"type", "message"}, {"id", "msg_1"}, {"status", "completed"}, {"role", "assistant"},
                                     {"content", {{{"type", "output_text"}, {"text", kText}, {"annotations", json::array()}}}}}}},
                        {"usage", {{"input_tokens", 4}, {"output_tokens", 20}, {"total_tokens", 24}}}};

TEST(AnswerAccumulator, TakesAResponsesStreamsCompletedResponse) {
  const std::string created = named("response.created", {{"type", "response.created"}, {"response", kResponse}});
  EXPECT_FALSE(accumulate(Endpoint::responses, created));
  const auto body = accumulate(Endpoint::responses,
                               created + named("response.completed", {{"type", "response.completed"}, {"response", kResponse}}));
  ASSERT_TRUE(body);
  EXPECT_EQ(json::parse(*body), kResponse);
  EXPECT_FALSE(accumulate(Endpoint::responses,
                          created + named("response.failed", {{"type", "response.failed"}, {"response", kResponse}})));
}

TEST(CachedAnswer, RefreshesIdTimeAndModel) {
  const auto body = refreshed_body(R"({"id":"old","object":"chat.completion","created":1,"model":"up-1","x":[1]})",
                                   "chatcmpl-new", 99, "alias");
  ASSERT_TRUE(body);
  EXPECT_EQ(json::parse(*body),
            (json{{"id", "chatcmpl-new"}, {"object", "chat.completion"}, {"created", 99}, {"model", "alias"}, {"x", {1}}}));
  EXPECT_FALSE(refreshed_body("[1]", "a", 1, "m"));
  EXPECT_NE(fresh_answer_id(Endpoint::chat_completions, 1), fresh_answer_id(Endpoint::chat_completions, 2));
  EXPECT_TRUE(fresh_answer_id(Endpoint::messages, 1).starts_with("msg_"));
  EXPECT_TRUE(fresh_answer_id(Endpoint::responses, 1).starts_with("resp_"));
}

TEST(CachedAnswer, ReplaysAChatCompletionAsChunksThatAddUpToIt) {
  const json completion = {{"id", "chatcmpl-9"}, {"object", "chat.completion"}, {"created", 3}, {"model", "m"},
                           {"choices", {{{"index", 0}, {"message", {{"role", "assistant"}, {"content", kText}}},
                                         {"finish_reason", "stop"}}}},
                           {"usage", {{"prompt_tokens", 5}, {"completion_tokens", 17}, {"total_tokens", 22}}}};
  const auto events = replay_events(Endpoint::chat_completions, completion.dump(), {5, 17, true}, false);
  ASSERT_TRUE(events);
  const auto chunks = payloads(*events);
  ASSERT_GT(chunks.size(), 5u) << "a few words per chunk";
  EXPECT_EQ(chunks.back(), "[DONE]");
  std::string text;
  for (std::size_t i = 0; i + 1 < chunks.size(); ++i) {
    const json c = json::parse(chunks[i]);
    EXPECT_EQ(c["object"], "chat.completion.chunk");
    EXPECT_EQ(c["id"], "chatcmpl-9");
    EXPECT_FALSE(c.contains("usage")) << "no usage chunk unless asked";
    const std::string piece = c["choices"][0]["delta"].value("content", "");
    EXPECT_LE(std::count(piece.begin(), piece.end(), ' '), 4);
    text += piece;
  }
  EXPECT_EQ(text, kText);
  EXPECT_EQ(json::parse(chunks[chunks.size() - 2])["choices"][0]["finish_reason"], "stop");

  const auto again = accumulate(Endpoint::chat_completions, *events, 1 << 20, {5, 17, true});
  ASSERT_TRUE(again);
  EXPECT_EQ(json::parse(*again)["choices"][0]["message"]["content"], kText);

  const auto with_usage = replay_events(Endpoint::chat_completions, completion.dump(), {5, 17, true}, true);
  const auto usage_chunks = payloads(*with_usage);
  const json last = json::parse(usage_chunks[usage_chunks.size() - 2]);
  EXPECT_TRUE(last["choices"].empty());
  EXPECT_EQ(last["usage"]["completion_tokens"], 17);
}

TEST(CachedAnswer, ReplaysToolCalls) {
  const json completion = {
      {"id", "c"}, {"object", "chat.completion"}, {"created", 3}, {"model", "m"},
      {"choices", {{{"index", 0},
                    {"message", {{"role", "assistant"}, {"content", nullptr},
                                 {"tool_calls", {{{"id", "call_1"}, {"type", "function"},
                                                  {"function", {{"name", "f"}, {"arguments", "{\"a\":1}"}}}}}}}},
                    {"finish_reason", "tool_calls"}}}}};
  const auto events = replay_events(Endpoint::chat_completions, completion.dump(), {}, false);
  ASSERT_TRUE(events);
  const auto again = accumulate(Endpoint::chat_completions, *events);
  ASSERT_TRUE(again);
  const json j = json::parse(*again);
  EXPECT_EQ(j["choices"][0]["message"]["tool_calls"], completion["choices"][0]["message"]["tool_calls"]);
  EXPECT_EQ(j["choices"][0]["finish_reason"], "tool_calls");
}

TEST(CachedAnswer, ReplaysAMessageAsTheMessagesEventSequence) {
  const auto stored = accumulate(Endpoint::messages, messages_stream() + named("message_stop", {{"type", "message_stop"}}));
  ASSERT_TRUE(stored);
  const auto events = replay_events(Endpoint::messages, *stored, {}, false);
  ASSERT_TRUE(events);
  EXPECT_TRUE(events->starts_with("event: message_start\n"));
  EXPECT_TRUE(events->ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"));
  const auto again = accumulate(Endpoint::messages, *events);
  ASSERT_TRUE(again);
  EXPECT_EQ(json::parse(*again), json::parse(*stored));
}

TEST(CachedAnswer, ReplaysAResponseFromCreatedToCompleted) {
  const auto events = replay_events(Endpoint::responses, kResponse.dump(), {}, false);
  ASSERT_TRUE(events);
  const auto all = payloads(*events);
  ASSERT_GE(all.size(), 8u);
  std::string text;
  for (std::size_t i = 0; i < all.size(); ++i) {
    const json e = json::parse(all[i]);
    EXPECT_EQ(e["sequence_number"], i);
    if (e["type"] == "response.output_text.delta") text += e["delta"].get<std::string>();
  }
  EXPECT_EQ(json::parse(all.front())["type"], "response.created");
  EXPECT_EQ(json::parse(all.front())["response"]["status"], "in_progress");
  EXPECT_EQ(json::parse(all.back())["type"], "response.completed");
  EXPECT_EQ(text, kText);
  const auto again = accumulate(Endpoint::responses, *events);
  ASSERT_TRUE(again);
  EXPECT_EQ(json::parse(*again), kResponse);
}

TEST(CachedAnswer, AnEntryOfAnotherShapeIsNotReplayed) {
  EXPECT_FALSE(replay_events(Endpoint::messages, kResponse.dump(), {}, false));
  EXPECT_FALSE(replay_events(Endpoint::chat_completions, "{}", {}, false));
}

TEST(CachedAnswer, AReplayStreamYieldsEverythingThenEnds) {
  boost::asio::io_context io;
  std::string events;
  for (int i = 0; i < 2000; ++i) events += "data: {\"n\":" + std::to_string(i) + "}\n\n";
  auto stream = replay_stream(events, {1, 2, true});
  std::string seen;
  for (int batches = 0;; ++batches) {
    auto next = test::run_coro(io, stream->next());
    ASSERT_TRUE(next);
    if (next->empty()) {
      EXPECT_GT(batches, 1) << "large replays go out in batches";
      break;
    }
    EXPECT_TRUE(next->ends_with("\n\n")) << "whole events only";
    seen += *next;
  }
  EXPECT_EQ(seen, events);
  EXPECT_EQ(stream->usage().completion_tokens, 2);
}

}  // namespace
}  // namespace sluice::pipeline
