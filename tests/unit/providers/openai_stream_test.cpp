// Asking a stream for usage on the client's behalf (body_requesting_usage),
// the byte checks on stream events, and the chunk stream's filters, fed by a
// scripted body (no socket).
#include "../../../src/providers/openai_stream.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "support/run_coro.hpp"
#include "support/fixture.hpp"
#include "provider_test_util.hpp"

namespace sluice::providers {
namespace {

namespace asio = boost::asio;
using json = nlohmann::json;
using test::collect;
using test::Collected;
using test::frame;
using test::raw_llm_request;
using test::read_fixture;
using test::run_coro;
using test::ScriptedBody;

const std::string kMsgs = R"("messages":[{"role":"user","content":"hi"}])";

std::string with_usage(const std::string& body, std::string_view upstream_model = "m") {
  auto out = body_requesting_usage(raw_llm_request(body), upstream_model);
  EXPECT_TRUE(out.has_value()) << body;
  if (!out) return {};
  EXPECT_TRUE(json::accept(*out)) << *out;
  return *out;
}

// --- body_requesting_usage -------------------------------------------------

TEST(BodyRequestingUsage, AddsStreamOptionsKeepingEveryOtherByte) {
  const std::string body = R"({"model":"m",)" + kMsgs + R"(,"stream":true,"temperature":0.70})";
  EXPECT_EQ(with_usage(body), R"({"stream_options":{"include_usage":true},"model":"m",)" + kMsgs +
                                  R"(,"stream":true,"temperature":0.70})");
}

TEST(BodyRequestingUsage, ReplacesTheModelToo) {
  const std::string body = R"({"stream":true,)" + kMsgs + R"(,"model":"alias"})";
  EXPECT_EQ(with_usage(body, "gpt-4o"),
            R"({"stream_options":{"include_usage":true},"stream":true,)" + kMsgs + R"(,"model":"gpt-4o"})");
}

TEST(BodyRequestingUsage, RewritesIncludeUsageFalse) {
  const std::string body = R"({"model":"alias","stream":true,"stream_options":{"include_usage":false},)" + kMsgs + "}";
  EXPECT_EQ(with_usage(body, "up"),
            R"({"model":"up","stream":true,"stream_options":{"include_usage":true},)" + kMsgs + "}");
}

TEST(BodyRequestingUsage, InsertsIntoStreamOptionsWithOtherKeys) {
  const std::string body = R"({"model":"m","stream_options":{"continuous_usage_stats":true},"stream":true,)" + kMsgs + "}";
  EXPECT_EQ(with_usage(body),
            R"({"model":"m","stream_options":{"include_usage":true,"continuous_usage_stats":true},"stream":true,)" +
                kMsgs + "}");
  const std::string both = R"({"model":"m","stream_options":{"x":1, "include_usage" : false },"stream":true,)" + kMsgs + "}";
  EXPECT_EQ(with_usage(both),
            R"({"model":"m","stream_options":{"x":1, "include_usage" : true },"stream":true,)" + kMsgs + "}");
}

TEST(BodyRequestingUsage, EmptyOrNullStreamOptions) {
  EXPECT_EQ(with_usage(R"({"model":"m","stream_options":{ },"stream":true})"),
            R"({"model":"m","stream_options":{"include_usage":true },"stream":true})");
  EXPECT_EQ(with_usage(R"({"model":"m","stream_options":null,"stream":true})"),
            R"({"model":"m","stream_options":{"include_usage":true},"stream":true})");
}

TEST(BodyRequestingUsage, StreamOptionsOfAnotherTypeIsLeftAlone) {
  for (const char* body : {R"({"model":"m","stream_options":"yes","stream":true})",
                           R"({"model":"m","stream_options":[true],"stream":true})"})
    EXPECT_FALSE(body_requesting_usage(raw_llm_request(body), "m").has_value()) << body;
}

TEST(BodyRequestingUsage, TheWordInAMessageIsNotTheKey) {
  const std::string body =
      R"({"model":"m","messages":[{"role":"user","content":"what are \"stream_options\"?"}],"stream":true})";
  const json out = json::parse(with_usage(body));
  EXPECT_EQ(out["stream_options"], json({{"include_usage", true}}));
  EXPECT_EQ(out["messages"][0]["content"], "what are \"stream_options\"?");
}

TEST(BodyRequestingUsage, EscapedKeyIsFoundNotDuplicated) {
  const std::string body = R"({"model":"m","stream_\u006fptions":{"include_usage":false},"stream":true})";
  EXPECT_EQ(with_usage(body), R"({"model":"m","stream_\u006fptions":{"include_usage":true},"stream":true})");
}

TEST(BodyRequestingUsage, PrettyPrintedBody) {
  const std::string body = "{\n  \"model\": \"m\",\n  \"stream\": true,\n  \"stream_options\": {\n    \"include_usage\": false\n  }\n}";
  LlmRequest req = raw_llm_request(body);
  req.model_offset = body.find("\"m\"");  // "model": with a space
  const auto out = body_requesting_usage(req, "other");
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(*out, "{\n  \"model\": \"other\",\n  \"stream\": true,\n  \"stream_options\": {\n    \"include_usage\": true\n  }\n}");
}

TEST(BodyRequestingUsage, PaddedBodyIsParsedInPlace) {
  std::string body = R"({"model":"m","stream_options":{"include_usage":false}})";
  body.reserve(body.size() + 128);  // as admission leaves it
  EXPECT_EQ(with_usage(body), R"({"model":"m","stream_options":{"include_usage":true}})");
}

// --- byte checks -----------------------------------------------------------

TEST(EventByteChecks, EmptyChoices) {
  EXPECT_TRUE(has_empty_choices(R"(data: {"choices":[],"id":""})"));
  EXPECT_TRUE(has_empty_choices(R"(data: {"id":"", "choices" : [ ] })"));
  EXPECT_FALSE(has_empty_choices(R"(data: {"choices":[{"index":0}]})"));
  EXPECT_FALSE(has_empty_choices(R"(data: {"id":"x"})"));
  EXPECT_FALSE(has_empty_choices(R"(data: {"choices":[{"delta":{"content":"\"choices\":[]"}}]})"));
  EXPECT_TRUE(has_empty_choices(R"(data: {"x":"\"choices\":[1]","choices":[]})"));
}

TEST(EventByteChecks, UsageObject) {
  EXPECT_TRUE(has_usage_object(R"(data: {"choices":[],"usage":{"prompt_tokens":1}})"));
  EXPECT_TRUE(has_usage_object(R"(data: {"usage" : {"prompt_tokens":1}})"));
  EXPECT_FALSE(has_usage_object(R"(data: {"choices":[],"usage":null})"));
  EXPECT_FALSE(has_usage_object(R"(data: {"choices":[{"delta":{"content":"\"usage\":{"}}]})"));
  EXPECT_FALSE(has_usage_object("data: [DONE]"));
}

TEST(EventByteChecks, FindJsonValue) {
  const std::string_view e = R"({"a":"\"k\":1","k" :  2})";
  const std::size_t p = find_json_value(e, R"("k")");
  ASSERT_NE(p, std::string_view::npos);
  EXPECT_EQ(e.substr(p), "2}");
  EXPECT_EQ(find_json_value(R"({"k"})", R"("k")"), std::string_view::npos);
}

// --- the chunk stream's filters ---------------------------------------------

Collected relay(const std::string& upstream, StreamFilter filter, std::size_t piece_size, Usage* usage = nullptr) {
  asio::io_context io;
  auto stream = make_openai_chunk_stream(std::make_unique<ScriptedBody>(ScriptedBody::split(upstream, piece_size)),
                                         "up", filter);
  Collected c = run_coro(io, collect(stream.get()));
  if (usage) *usage = stream->usage();
  return c;
}

std::string events_without(const std::string& stream, std::vector<std::size_t> dropped) {
  std::string out;
  const auto events = frame(stream);
  for (std::size_t i = 0; i < events.size(); ++i)
    if (std::find(dropped.begin(), dropped.end(), i) == dropped.end()) out += events[i];
  return out;
}

TEST(ChunkStreamFilter, AzurePromptFilterChunkIsDroppedUsageChunkKeptWhenAsked) {
  const std::string azure = read_fixture("providers/azure/chat.stream.txt");
  for (std::size_t piece : {std::size_t{1}, std::size_t{7}, azure.size()}) {
    Usage u;
    const Collected c = relay(azure, {.drop_empty_choices = true}, piece, &u);
    ASSERT_FALSE(c.error.has_value()) << c.error->message;
    EXPECT_EQ(c.text, events_without(azure, {0})) << "piece size " << piece;
    EXPECT_TRUE(u.known);
    EXPECT_EQ(u.prompt_tokens, 18);
    EXPECT_EQ(u.completion_tokens, 7);
  }
}

TEST(ChunkStreamFilter, InjectedUsageChunkIsDroppedButCounted) {
  const std::string azure = read_fixture("providers/azure/chat.stream.txt");
  Usage u;
  const Collected c = relay(azure, {.drop_empty_choices = true, .strip_usage = true}, 5, &u);
  ASSERT_FALSE(c.error.has_value()) << c.error->message;
  EXPECT_EQ(c.text, events_without(azure, {0, 5}));
  for (const auto& e : frame(c.text)) EXPECT_FALSE(has_empty_choices(e)) << e;
  EXPECT_TRUE(u.known);
  EXPECT_EQ(u.completion_tokens, 7);
}

TEST(ChunkStreamFilter, StripUsageRemovesNullUsageAndTheUsageChunk) {
  const std::string openai = read_fixture("providers/openai/chat.stream.txt");
  Usage u;
  const Collected c = relay(openai, {.strip_usage = true}, 64, &u);
  ASSERT_FALSE(c.error.has_value()) << c.error->message;
  const auto events = frame(c.text);
  ASSERT_EQ(events.size(), 12u);  // 13 minus the usage chunk
  for (const auto& e : events) EXPECT_EQ(e.find("usage"), std::string::npos) << e;
  std::string expected = events_without(openai, {11});
  for (std::size_t p; (p = expected.find(R"(,"usage":null)")) != std::string::npos;) expected.erase(p, 13);
  EXPECT_EQ(c.text, expected);
  EXPECT_EQ(u.prompt_tokens, 9);
  EXPECT_EQ(u.completion_tokens, 10);
}

TEST(ChunkStreamFilter, NoFilterRelaysEveryByte) {
  const std::string azure = read_fixture("providers/azure/chat.stream.txt");
  const Collected c = relay(azure, {}, 3);
  ASSERT_FALSE(c.error.has_value());
  EXPECT_EQ(c.text, azure);
}

TEST(ChunkStreamFilter, EmptyChoicesInTextIsNotAnEmptyChoicesChunk) {
  const std::string stream =
      "data: {\"choices\":[{\"delta\":{\"content\":\"\\\"choices\\\":[]\"}}]}\n\ndata: [DONE]\n\n";
  const Collected c = relay(stream, {.drop_empty_choices = true, .strip_usage = true}, 4);
  ASSERT_FALSE(c.error.has_value());
  EXPECT_EQ(c.text, stream);
}

TEST(ChunkStreamFilter, BrokenAzureStreamRelaysWholeEventsThenFails) {
  const std::string broken = read_fixture("providers/azure/broken.stream.txt");
  const Collected c = relay(broken, {.drop_empty_choices = true, .strip_usage = true}, 16);
  ASSERT_TRUE(c.error.has_value());
  EXPECT_EQ(c.error->code, errc::upstream_protocol);
  const auto events = frame(c.text);
  ASSERT_EQ(events.size(), 2u);  // role and "Hello"; the filter chunk dropped, the cut event never sent
  EXPECT_EQ(json::parse(net::sse_data(events[1]))["choices"][0]["delta"]["content"], "Hello");
}

TEST(ChunkStreamFilter, ReadErrorsPassThrough) {
  asio::io_context io;
  auto stream = make_openai_chunk_stream(
      std::make_unique<ScriptedBody>(std::vector<std::string>{"data: {\"choices\":[]}\n\n"},
                                     make_error(errc::upstream_timeout, "idle")),
      "up", {.drop_empty_choices = true});
  const Collected c = run_coro(io, collect(stream.get()));
  ASSERT_TRUE(c.error.has_value());
  EXPECT_EQ(c.error->code, errc::upstream_timeout);
  EXPECT_EQ(c.calls, 0) << "a dropped chunk is not an empty answer";
}

TEST(ChunkStreamLimit, OversizeEventEndsTheStreamAfterTheEventsBeforeIt) {
  const std::string first = "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n";
  const std::string huge = "data: {\"choices\":[{\"delta\":{\"content\":\"" +
                           std::string(net::SseFramer::kDefaultMaxEventBytes, 'x') + "\"}}]}\n\n";
  asio::io_context io;
  auto stream = make_openai_chunk_stream(
      std::make_unique<ScriptedBody>(ScriptedBody::split(first + huge + "data: [DONE]\n\n", 64u << 10)), "up", {});
  const Collected c = run_coro(io, collect(stream.get()));
  EXPECT_EQ(c.text, first);
  ASSERT_TRUE(c.error.has_value());
  EXPECT_EQ(c.error->code, errc::upstream_protocol);
  EXPECT_EQ(c.error->message, "provider 'up': upstream sent an SSE event larger than 4194304 bytes");
  auto again = run_coro(io, stream->next());
  ASSERT_FALSE(again.ok()) << "the stream stays broken";
  EXPECT_EQ(again.error().code, errc::upstream_protocol);
}


// --- events whose data is not JSON ------------------------------------------

const std::string kChunk = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n";

TEST(ChunkStreamMalformed, NonJsonDataEndsTheStreamAfterTheEventsBeforeIt) {
  for (const std::string bad : {"data: <html>\n\n", "data: {\"choices\":[\n\n", "data: Hello\n\n", "data: [1,2]\n\n",
                                "data: null\n\n", "data: {\"a\":1}\ndata: x\n\n"}) {
    const std::string upstream = kChunk + kChunk + bad + kChunk + "data: [DONE]\n\n";
    for (std::size_t piece : {std::size_t{1}, std::size_t{7}, upstream.size()}) {
      const Collected c = relay(upstream, {}, piece);
      ASSERT_TRUE(c.error.has_value()) << bad << " piece " << piece;
      EXPECT_EQ(c.error->code, errc::upstream_protocol) << bad;
      EXPECT_EQ(c.error->message, "provider 'up': the upstream sent a stream event whose data is not JSON");
      EXPECT_EQ(c.text, kChunk + kChunk) << bad << " piece " << piece;
    }
  }
}

TEST(ChunkStreamMalformed, FirstEventNotJsonIsAnErrorWithNothingRelayed) {
  asio::io_context io;
  auto stream = make_openai_chunk_stream(
      std::make_unique<ScriptedBody>(std::vector<std::string>{"data: oops\n\n" + kChunk + "data: [DONE]\n\n"}), "up", {});
  auto first = run_coro(io, stream->next());
  ASSERT_FALSE(first.ok()) << "relayed: " << *first;
  EXPECT_EQ(first.error().code, errc::upstream_protocol);
  auto again = run_coro(io, stream->next());
  ASSERT_FALSE(again.ok()) << "the stream stays broken";
  EXPECT_EQ(again.error().code, errc::upstream_protocol);
}

TEST(ChunkStreamMalformed, FilteredEventsAreCheckedBeforeTheyAreDropped) {
  // A cut-off Azure prompt-filter chunk still has "choices":[] in its bytes.
  const std::string cut = "data: {\"choices\":[],\"prompt_filter_results\":[{\"prompt_index\":0\n\n";
  const Collected c = relay(cut + kChunk + "data: [DONE]\n\n", {.drop_empty_choices = true, .strip_usage = true}, 5);
  ASSERT_TRUE(c.error.has_value());
  EXPECT_EQ(c.error->code, errc::upstream_protocol);
  EXPECT_EQ(c.text, "");
}

TEST(ChunkStreamMalformed, EndWithoutDoneAfterAMalformedEventReportsTheMalformedEvent) {
  const Collected c = relay(kChunk + "data: {\n\n", {}, 3);
  ASSERT_TRUE(c.error.has_value());
  EXPECT_NE(c.error->message.find("not JSON"), std::string::npos) << c.error->message;
  EXPECT_EQ(c.text, kChunk);
}

TEST(ChunkStreamMalformed, RecordedStreamsStayValid) {
  for (const char* fixture : {"providers/openai/chat.stream.txt", "providers/azure/chat.stream.txt",
                              "providers/ollama/chat.stream.txt"}) {
    const std::string recorded = read_fixture(fixture);
    const Collected c = relay(recorded, {}, 11);
    ASSERT_FALSE(c.error.has_value()) << fixture << ": " << c.error->message;
    EXPECT_EQ(c.text, recorded) << fixture;
  }
}

}  // namespace
}  // namespace sluice::providers
