// The streams a client of another dialect pulls: a chat stream translated
// batch by batch (however the batches fall), one that ends too soon or
// breaks, and relayed native streams whose failure events speak the
// client's dialect (a Responses one continuing the upstream's numbering).
#include "dialect_streams.hpp"

#include <gtest/gtest.h>

#include <functional>

#include <boost/asio/io_context.hpp>

#include "anthropic_answer.hpp"
#include "dialect_test_util.hpp"
#include "responses_answer.hpp"
#include "support/fixed_stream.hpp"
#include "support/run_coro.hpp"

namespace sluice::server {
namespace {

using dialect_test::events_of;
using dialect_test::json;
using test::FixedStream;
using test::read_fixture;

struct Drained {
  std::string text;
  std::optional<Error> error;
};

Drained drain(ChunkStream& stream) {
  boost::asio::io_context io;
  Drained d;
  for (;;) {
    auto batch = test::run_coro(io, stream.next());
    if (!batch) {
      d.error = batch.error();
      return d;
    }
    if (batch->empty()) return d;
    d.text += *batch;
  }
}

// The events of a recorded SSE text, in batches of `per_batch` events.
std::vector<std::string> batches(const std::string& text, std::size_t per_batch) {
  std::vector<std::string> out;
  net::SseFramer framer;
  std::size_t n = 0;
  EXPECT_TRUE(framer.feed(text, [&](std::string_view e) {
    if (n++ % per_batch == 0) out.emplace_back();
    out.back() += e;
  }));
  return out;
}

// Each translator over the recorded chat streams, against what each dialect
// must make of them.
TEST(StreamTranslators, RecordedChatStreamsInEachDialect) {
  struct Case {
    std::function<std::unique_ptr<StreamTranslator>()> make;
    std::string chat, expected;
  };
  const auto messages = [] { return std::make_unique<ChatToMessagesStream>("msg_test"); };
  const auto responses = [] {
    return std::make_unique<ChatToResponsesStream>(ResponseDraft{"resp_test", 1700000000, "asked-model", ""});
  };
  const Case cases[] = {
      {messages, "providers/openai/chat.stream.txt", "dialects/anthropic/text.from-chat.stream.txt"},
      {messages, "dialects/chat/tool_calls.stream.txt", "dialects/anthropic/tool.from-chat.stream.txt"},
      {responses, "providers/openai/chat.stream.txt", "dialects/responses/text.from-chat.stream.txt"},
      {responses, "dialects/chat/tool_calls.stream.txt", "dialects/responses/tool.from-chat.stream.txt"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.expected);
    dialect_test::expect_stream_fixture(dialect_test::translate(*c.make(), read_fixture(c.chat)), c.expected);
  }
}

TEST(ReadChatEvent, ChunksDoneCommentsAndWhatBreaks) {
  auto chunk = read_chat_event(
      R"(data: {"model":"m","choices":[{"delta":{"content":"Hi","tool_calls":[{"index":1,"id":"c","function":{"name":"f","arguments":"{"}}]},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1}})"
      "\n\n");
  ASSERT_TRUE(chunk.ok());
  EXPECT_EQ(chunk->kind, ChatEvent::Kind::chunk);
  EXPECT_EQ(chunk->model, "m");
  EXPECT_EQ(chunk->content, "Hi");
  EXPECT_EQ(chunk->finish_reason, "stop");
  EXPECT_EQ(chunk->usage.prompt_tokens, 3);
  ASSERT_EQ(chunk->tool_calls.size(), 1u);
  EXPECT_EQ(chunk->tool_calls[0].index, 1);
  EXPECT_EQ(chunk->tool_calls[0].arguments, "{");
  EXPECT_EQ(read_chat_event("data: [DONE]\n\n")->kind, ChatEvent::Kind::done);
  EXPECT_EQ(read_chat_event(": keep-alive\n\n")->kind, ChatEvent::Kind::nothing);
  EXPECT_EQ(read_chat_event("data: {oops\n\n").error().code, errc::upstream_protocol);
  const auto failed = read_chat_event(R"(data: {"error":{"message":"The server had an error"}})" "\n\n");
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, errc::upstream_unavailable);
  EXPECT_NE(failed.error().message.find("The server had an error"), std::string::npos);
}

TEST(TranslatedStream, TheSameEventsWhateverTheBatches) {
  const std::string chat = read_fixture("dialects/chat/tool_calls.stream.txt");
  std::string first;
  for (std::size_t per : {1u, 2u, 3u, 100u}) {
    auto stream = translated_stream(std::make_unique<FixedStream>(batches(chat, per)),
                                    std::make_unique<ChatToMessagesStream>("msg_test"));
    const Drained d = drain(*stream);
    ASSERT_FALSE(d.error.has_value()) << d.error->message;
    if (first.empty()) first = d.text;
    EXPECT_EQ(d.text, first) << per << " events a batch";
  }
  dialect_test::expect_stream_fixture(first, "dialects/anthropic/tool.from-chat.stream.txt");
}

TEST(TranslatedStream, CommentsGoThroughAtOnceSoAWaitingStreamIsKeptAlive) {
  auto stream = translated_stream(
      std::make_unique<FixedStream>(std::vector<std::string>{
          ": queued\n\n", ": queued\n\n",
          R"(data: {"model":"m","choices":[{"delta":{"content":"hi"}}]})" "\n\ndata: [DONE]\n\n"}),
      std::make_unique<ChatToMessagesStream>("msg_test"));
  boost::asio::io_context io;
  auto first = test::run_coro(io, stream->next());
  ASSERT_TRUE(first);
  EXPECT_EQ(*first, ": queued\n\n") << "not held back until the answer starts";
  const Drained rest = drain(*stream);
  ASSERT_FALSE(rest.error.has_value()) << rest.error->message;
  EXPECT_TRUE(rest.text.starts_with(": queued\n\n"));
  EXPECT_NE(rest.text.find("event: message_start"), std::string::npos);
  EXPECT_NE(rest.text.find("event: message_stop"), std::string::npos);
}

// An event that starts with a comment and goes on with data is an event:
// its data is translated, never relayed in the upstream's dialect.
TEST(TranslatedStream, AnEventWithACommentAndDataIsTranslated) {
  auto stream = translated_stream(
      std::make_unique<FixedStream>(std::vector<std::string>{
          ": note\n" R"(data: {"model":"m","choices":[{"delta":{"content":"hi"}}]})" "\n\n"
          ": bad\ndata: {not json\n\ndata: [DONE]\n\n"}),
      std::make_unique<ChatToMessagesStream>("msg_test"));
  const Drained d = drain(*stream);
  EXPECT_EQ(d.text.find("choices"), std::string::npos) << d.text;
  EXPECT_EQ(d.text.find("not json"), std::string::npos) << d.text;
  EXPECT_NE(d.text.find(R"("text":"hi")"), std::string::npos) << d.text;
  ASSERT_TRUE(d.error.has_value()) << "the event whose data is not JSON breaks the stream";
  EXPECT_EQ(d.error->code, errc::upstream_protocol);
}

TEST(TranslatedStream, UsageComesFromTheChatStream) {
  auto stream = translated_stream(
      std::make_unique<FixedStream>(std::vector<std::string>{
          R"(data: {"model":"m","choices":[{"delta":{"content":"hi"}}]})" "\n\ndata: [DONE]\n\n"},
          std::nullopt, Usage{11, 2, true}),
      std::make_unique<ChatToResponsesStream>(ResponseDraft{"resp_x", 1, "m", ""}));
  const Drained d = drain(*stream);
  ASSERT_FALSE(d.error.has_value());
  EXPECT_EQ(events_of(d.text).back().data["response"]["usage"]["input_tokens"], 11);
  EXPECT_EQ(stream->usage().prompt_tokens, 11) << "and it is the stream's usage for TPM and cost";
}

TEST(TranslatedStream, AChatStreamThatEndsBeforeDoneHasBroken) {
  auto stream = translated_stream(
      std::make_unique<FixedStream>(std::vector<std::string>{R"(data: {"choices":[{"delta":{"content":"hi"}}]})" "\n\n"}),
      std::make_unique<ChatToMessagesStream>("msg_x"));
  const Drained d = drain(*stream);
  ASSERT_TRUE(d.error.has_value());
  EXPECT_EQ(d.error->code, errc::upstream_protocol);
  EXPECT_NE(d.text.find("text_delta"), std::string::npos) << "what was translated went out first";
}

TEST(TranslatedStream, AnUpstreamFailureStaysItselfAndTheFailureEventIsTheDialects) {
  auto stream = translated_stream(
      std::make_unique<FixedStream>(std::vector<std::string>{}, make_error(errc::upstream_timeout, "slow")),
      std::make_unique<ChatToMessagesStream>("msg_x"));
  const Drained d = drain(*stream);
  ASSERT_TRUE(d.error.has_value());
  EXPECT_EQ(d.error->code, errc::upstream_timeout);
  const auto events = events_of(stream->failure_event(*d.error));
  EXPECT_EQ(events.at(0).name, "error");
  EXPECT_EQ(events.at(0).data["error"]["type"], "timeout_error");
}

TEST(TranslatedStream, AGarbledChunkEndsTheStreamAfterWhatCameBefore) {
  auto stream = translated_stream(
      std::make_unique<FixedStream>(std::vector<std::string>{
          R"(data: {"choices":[{"delta":{"content":"ok"}}]})" "\n\ndata: {garbled\n\n"}),
      std::make_unique<ChatToMessagesStream>("msg_x"));
  boost::asio::io_context io;
  auto first = test::run_coro(io, stream->next());
  ASSERT_TRUE(first.ok());
  EXPECT_NE(first->find("\"ok\""), std::string::npos);
  auto second = test::run_coro(io, stream->next());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, errc::upstream_protocol);
}

TEST(NativeMessagesStream, RelaysAndFailsInAnthropicsShape) {
  const std::string upstream = read_fixture("providers/anthropic/text.stream.txt");
  auto stream = native_messages_stream(std::make_unique<FixedStream>(std::vector<std::string>{upstream}));
  EXPECT_EQ(drain(*stream).text, upstream);
  const auto events = events_of(stream->failure_event(make_error(errc::upstream_unavailable, "reset")));
  EXPECT_EQ(events.at(0).name, "error");
  EXPECT_EQ(events.at(0).data, json::parse(R"({"type":"error","error":{"type":"api_error","message":"reset"}})"));
}

TEST(NativeResponsesStream, AFailureContinuesTheUpstreamsSequenceAndNamesItsResponse) {
  const auto all = batches(read_fixture("providers/openai/responses.stream.txt"), 3);
  auto stream = native_responses_stream(std::make_unique<FixedStream>(std::vector<std::string>{all[0], all[1]}));
  const Drained d = drain(*stream);
  EXPECT_EQ(d.text, all[0] + all[1]);
  const auto failed = events_of(stream->failure_event(make_error(errc::upstream_unavailable, "reset")));
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].name, "response.failed");
  EXPECT_EQ(failed[0].data["sequence_number"], 6) << "events 0..5 went out";
  EXPECT_EQ(failed[0].data["response"]["id"], "resp_67c9fdcecf488190bdd9a0409de3a1ec07b8b0ad4e5eb654");
  EXPECT_EQ(failed[0].data["response"]["model"], "gpt-4.1-2025-04-14");
  EXPECT_EQ(failed[0].data["response"]["created_at"], 1741290958);
  EXPECT_EQ(failed[0].data["response"]["status"], "failed");
  EXPECT_EQ(failed[0].data["response"]["error"]["message"], "reset");
}

// The overflow queue's keep-alive comments go out before the upstream's
// first event, and may share its batch.
TEST(NativeResponsesStream, AKeepAliveCommentBeforeResponseCreatedHidesNothing) {
  const auto all = batches(read_fixture("providers/openai/responses.stream.txt"), 3);
  for (const bool alone : {true, false}) {
    std::vector<std::string> upstream{": queued\n\n", all[0], all[1]};
    if (!alone) upstream = {": queued\n\n" + all[0], all[1]};
    auto stream = native_responses_stream(std::make_unique<FixedStream>(upstream));
    (void)drain(*stream);
    const auto failed = events_of(stream->failure_event(make_error(errc::upstream_unavailable, "reset")));
    ASSERT_EQ(failed.size(), 1u);
    EXPECT_EQ(failed[0].data["response"]["id"], "resp_67c9fdcecf488190bdd9a0409de3a1ec07b8b0ad4e5eb654") << alone;
    EXPECT_EQ(failed[0].data["response"]["created_at"], 1741290958) << alone;
    EXPECT_EQ(failed[0].data["sequence_number"], 6) << alone;
  }
}

TEST(NativeResponsesStream, TheLargestSequenceNumberDoesNotOverflow) {
  auto stream = native_responses_stream(std::make_unique<FixedStream>(std::vector<std::string>{
      "event: response.created\n"
      R"(data: {"type":"response.created","sequence_number":9223372036854775807,"response":{"id":"resp_1"}})" "\n\n"}));
  (void)drain(*stream);
  const auto failed = events_of(stream->failure_event(make_error(errc::upstream_unavailable, "reset")));
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].data["sequence_number"], 9223372036854775807LL);
}

TEST(NamedEvent, EventLineThenData) {
  EXPECT_EQ(named_event("ping", R"({"type":"ping"})"), "event: ping\ndata: {\"type\":\"ping\"}\n\n");
}

}  // namespace
}  // namespace sluice::server
