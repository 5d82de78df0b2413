// FakeUpstream driven through the test clients: the fake must answer like the
// OpenAI API and misbehave exactly as steered, or every test built on it lies.
#include "support/fake_upstream.hpp"
#include "support/test_client.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace sluice::test {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string chat_body(json extra = json::object()) {
  json body = {{"model", "gpt-test"}, {"messages", {{{"role", "user"}, {"content", "hello"}}}}};
  body.update(extra);
  return body.dump();
}

std::string stream_body(json extra = json::object()) {
  extra["stream"] = true;
  return chat_body(std::move(extra));
}

std::vector<float> decode_base64_floats(const std::string& text) {
  static const std::string kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string bytes;
  uint32_t bits = 0;
  int count = 0;
  for (char c : text) {
    if (c == '=') break;
    bits = (bits << 6) | static_cast<uint32_t>(kAlphabet.find(c));
    if ((count += 6) >= 8) bytes += char((bits >> (count -= 8)) & 0xff);
  }
  std::vector<float> out;
  for (std::size_t i = 0; i + 4 <= bytes.size(); i += 4) {
    uint32_t word = 0;
    for (int b = 3; b >= 0; --b) word = (word << 8) | uint8_t(bytes[i + b]);
    out.push_back(std::bit_cast<float>(word));
  }
  return out;
}

TEST(FakeUpstream, NonStreamChatHasOpenAiShapeAndIsRecorded) {
  FakeUpstream fake;
  EXPECT_EQ(fake.base_url(), "http://127.0.0.1:" + std::to_string(fake.port()) + "/v1");
  const std::string body = chat_body();
  HttpResponse res = http_request(fake.port(), "POST", "/v1/chat/completions", body,
                                  {{"Authorization", "Bearer sk-test"}});
  ASSERT_EQ(res.status, 200) << res.error;
  EXPECT_EQ(res.headers["content-type"], "application/json");
  const json j = json::parse(res.body);
  EXPECT_EQ(j["id"], "chatcmpl-fake-1");
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["model"], "gpt-test");
  EXPECT_TRUE(j["created"].is_number_integer());
  EXPECT_EQ(j["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(j["choices"][0]["message"]["content"], "fake answer 1");
  EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");
  const int prompt = static_cast<int>(body.size() / 4);
  EXPECT_EQ(j["usage"]["prompt_tokens"], prompt);
  EXPECT_EQ(j["usage"]["completion_tokens"], 5);
  EXPECT_EQ(j["usage"]["total_tokens"], prompt + 5);

  ASSERT_EQ(fake.request_count(), 1u);
  const Recorded r = fake.requests()[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/v1/chat/completions");
  EXPECT_EQ(r.headers.at("authorization"), "Bearer sk-test");
  EXPECT_EQ(r.body, body);
  EXPECT_EQ(r.connection_id, 1);
  EXPECT_EQ(fake.connections_accepted(), 1);
}

TEST(FakeUpstream, KeepAliveServesSeveralRequestsOnOneConnection) {
  FakeUpstream fake;
  Connection connection(fake.port());
  HttpResponse models = connection.request("GET", "/v1/models");
  ASSERT_EQ(models.status, 200) << models.error;
  EXPECT_FALSE(models.connection_closed);
  EXPECT_EQ(json::parse(models.body)["data"][0]["id"], "fake-model");
  HttpResponse missing = connection.request("GET", "/v1/nothing");
  EXPECT_EQ(missing.status, 404);
  EXPECT_TRUE(json::parse(missing.body)["error"]["message"].is_string());
  HttpResponse closing = connection.request("POST", "/v1/chat/completions",
                                            chat_body({{"x_fake", {{"close_after_response", true}}}}));
  EXPECT_EQ(closing.status, 200);
  EXPECT_TRUE(closing.connection_closed);
  EXPECT_TRUE(connection.closed_by_peer(1s));
  EXPECT_TRUE(fake.wait_for_closed(1, 1s));
  for (const Recorded& r : fake.requests()) EXPECT_EQ(r.connection_id, 1);
  EXPECT_EQ(fake.connections_accepted(), 1);
}

TEST(FakeUpstream, StreamSendsRoleContentFinishThenDone) {
  FakeUpstream fake;
  SseReader sse(fake.port(), "/v1/chat/completions", stream_body());
  ASSERT_EQ(sse.status(), 200);
  EXPECT_EQ(sse.headers().at("content-type"), "text/event-stream");
  EXPECT_EQ(sse.headers().at("transfer-encoding"), "chunked");
  const std::vector<std::string> events = sse.remaining_events();
  ASSERT_EQ(events.size(), 6u);  // role, c0, c1, c2, finish, [DONE]
  EXPECT_TRUE(sse.ended_cleanly());
  EXPECT_EQ(events.back(), "[DONE]");
  const json role = json::parse(events[0]);
  EXPECT_EQ(role["object"], "chat.completion.chunk");
  EXPECT_EQ(role["id"], "chatcmpl-fake-1");
  EXPECT_EQ(role["model"], "gpt-test");
  EXPECT_EQ(role["choices"][0]["delta"]["role"], "assistant");
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(json::parse(events[1 + i])["choices"][0]["delta"]["content"], "c" + std::to_string(i));
  }
  const json finish = json::parse(events[4]);
  EXPECT_EQ(finish["choices"][0]["finish_reason"], "stop");
  EXPECT_TRUE(finish["choices"][0]["delta"].empty());
  EXPECT_FALSE(finish.contains("usage"));
}

TEST(FakeUpstream, IncludeUsageAddsUsageChunkBeforeDone) {
  FakeUpstream fake;
  SseReader sse(fake.port(), "/v1/chat/completions",
                stream_body({{"stream_options", {{"include_usage", true}}},
                             {"x_fake", {{"stream_chunks", 2}}}}));
  const std::vector<std::string> events = sse.remaining_events();
  ASSERT_EQ(events.size(), 6u);  // role, c0, c1, finish, usage, [DONE]
  const json usage = json::parse(events[4]);
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"]["completion_tokens"], 2);
  EXPECT_GT(usage["usage"]["prompt_tokens"], 0);
  EXPECT_TRUE(json::parse(events[1])["usage"].is_null());
  EXPECT_EQ(events[5], "[DONE]");
}

TEST(FakeUpstream, StreamEventsArriveAsTheyAreWritten) {
  FakeUpstream fake;
  SseReader sse(fake.port(), "/v1/chat/completions",
                stream_body({{"x_fake", {{"chunk_delay_ms", 250}}}}));
  ASSERT_TRUE(sse.next_event());  // role
  ASSERT_TRUE(sse.next_event());  // c0
  ASSERT_TRUE(sse.next_event());  // c1
  const auto& times = sse.arrival_times();
  EXPECT_GE(times[2] - times[1], 200ms);
  // The next chunk is 250 ms away: a short wait times out and may be retried.
  EXPECT_FALSE(sse.next_event(20ms));
  EXPECT_TRUE(sse.timed_out());
  EXPECT_EQ(sse.remaining_events().size(), 3u);  // c2, finish, [DONE]
  EXPECT_TRUE(sse.ended_cleanly());
}

TEST(FakeUpstream, NoDoneEndsCleanlyWithoutDoneEvent) {
  FakeUpstream fake;
  SseReader sse(fake.port(), "/v1/chat/completions", stream_body({{"x_fake", {{"no_done", true}}}}));
  const std::vector<std::string> events = sse.remaining_events();
  ASSERT_EQ(events.size(), 5u);
  EXPECT_NE(events.back(), "[DONE]");
  EXPECT_TRUE(sse.ended_cleanly());
}

TEST(FakeUpstream, DropAfterClosesMidStream) {
  FakeUpstream fake;
  SseReader sse(fake.port(), "/v1/chat/completions", stream_body({{"x_fake", {{"drop_after", 2}}}}));
  const std::vector<std::string> events = sse.remaining_events();
  ASSERT_EQ(events.size(), 3u);  // role, c0, c1
  EXPECT_EQ(json::parse(events[2])["choices"][0]["delta"]["content"], "c1");
  EXPECT_FALSE(sse.ended_cleanly());
  EXPECT_FALSE(sse.timed_out());
  EXPECT_TRUE(fake.wait_for_closed(1, 1s));
}

TEST(FakeUpstream, StatusOverrideCarriesRetryAfterAndErrorJson) {
  FakeUpstream fake;
  HttpResponse res = http_request(fake.port(), "POST", "/v1/chat/completions",
                                  chat_body({{"x_fake", {{"status", 503}, {"retry_after_s", 7}}}}));
  ASSERT_EQ(res.status, 503) << res.error;
  EXPECT_EQ(res.headers["retry-after"], "7");
  const json error = json::parse(res.body)["error"];
  EXPECT_EQ(error["message"], "fake error 503");
  EXPECT_TRUE(error["type"].is_string());
  EXPECT_TRUE(error.contains("param") && error.contains("code"));

  // Server default, then a per-request override back to success.
  Behaviour behaviour;
  behaviour.status = 429;
  behaviour.error_body = R"({"error":"custom"})";
  fake.set_behaviour(behaviour);
  res = http_request(fake.port(), "GET", "/v1/models");
  EXPECT_EQ(res.status, 429);
  EXPECT_EQ(res.body, R"({"error":"custom"})");
  EXPECT_EQ(res.headers.count("retry-after"), 0u);
  res = http_request(fake.port(), "POST", "/v1/chat/completions", chat_body({{"x_fake", {{"status", 200}}}}));
  EXPECT_EQ(res.status, 200);
}

TEST(FakeUpstream, UnknownXFakeFieldIsRejected) {
  FakeUpstream fake;
  HttpResponse res = http_request(fake.port(), "POST", "/v1/chat/completions",
                                  chat_body({{"x_fake", {{"stauts", 503}}}}));
  EXPECT_EQ(res.status, 400);
  EXPECT_NE(res.body.find("stauts"), std::string::npos);
  res = http_request(fake.port(), "POST", "/v1/chat/completions", "{not json");
  EXPECT_EQ(res.status, 400);
}

TEST(FakeUpstream, DelayHoldsTheResponseHead) {
  FakeUpstream fake;
  const auto start = Clock::now();
  HttpResponse res = http_request(fake.port(), "POST", "/v1/chat/completions",
                                  chat_body({{"x_fake", {{"delay_ms", 200}}}}));
  EXPECT_EQ(res.status, 200);
  EXPECT_GE(Clock::now() - start, 190ms);
  res = http_request(fake.port(), "POST", "/v1/chat/completions",
                     chat_body({{"x_fake", {{"delay_ms", 2000}}}}), {}, 100ms);
  EXPECT_EQ(res.status, 0);
  EXPECT_TRUE(res.timed_out);
}

TEST(FakeUpstream, HangingRequestNoticesClientDisconnect) {
  FakeUpstream fake;
  Connection connection(fake.port());
  ASSERT_TRUE(connection.send_raw("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                                  "Content-Type: application/json\r\nContent-Length: " +
                                  std::to_string(chat_body({{"x_fake", {{"hang", true}}}}).size()) +
                                  "\r\n\r\n" + chat_body({{"x_fake", {{"hang", true}}}})));
  ASSERT_TRUE(fake.wait_for_requests(1, 2s));
  EXPECT_FALSE(connection.closed_by_peer(100ms));  // still hanging
  EXPECT_EQ(fake.connections_closed(), 0);
  const auto start = Clock::now();
  connection.close();
  EXPECT_TRUE(fake.wait_for_closed(1, 1s));
  EXPECT_LT(Clock::now() - start, 1s);
}

TEST(FakeUpstream, ChunkDelayNoticesClientDisconnect) {
  FakeUpstream fake;
  SseReader sse(fake.port(), "/v1/chat/completions",
                stream_body({{"x_fake", {{"chunk_delay_ms", 10000}}}}));
  ASSERT_TRUE(sse.next_event());  // role chunk; c0 is 10 s away
  const auto start = Clock::now();
  sse.disconnect();
  EXPECT_TRUE(fake.wait_for_closed(1, 1s));
  EXPECT_LT(Clock::now() - start, 1s);
}

TEST(FakeUpstream, DestructorReturnsWithHangingConnections) {
  auto fake = std::make_unique<FakeUpstream>();
  Behaviour hang;
  hang.hang = true;
  fake->set_behaviour(hang);
  SseReader sse(fake->port(), "/v1/chat/completions", stream_body(), {}, 200ms);
  EXPECT_EQ(sse.status(), 0);
  Connection idle(fake->port());
  ASSERT_TRUE(fake->wait_for_requests(1, 2s));
  const auto start = Clock::now();
  fake.reset();
  EXPECT_LT(Clock::now() - start, 1s);
  EXPECT_TRUE(idle.closed_by_peer(1s));
}

TEST(FakeUpstream, EmbeddingsAnswerFloatsOrBase64AsAskedOrForced) {
  FakeUpstream fake;
  auto embed = [&](json extra) {
    json body = {{"model", "emb"}, {"input", {"a", "b"}}};
    body.update(extra);
    HttpResponse res = http_request(fake.port(), "POST", "/v1/embeddings", body.dump());
    EXPECT_EQ(res.status, 200) << res.body;
    return json::parse(res.body);
  };
  const json floats = embed(json::object());
  EXPECT_EQ(floats["object"], "list");
  EXPECT_EQ(floats["model"], "emb");
  ASSERT_EQ(floats["data"].size(), 2u);
  EXPECT_EQ(floats["data"][1]["index"], 1);
  EXPECT_EQ(floats["data"][1]["embedding"], json({0.25, -0.5, 0.125, 1.0}));
  EXPECT_GT(floats["usage"]["prompt_tokens"], 0);

  const json b64 = embed({{"encoding_format", "base64"}});
  ASSERT_TRUE(b64["data"][1]["embedding"].is_string());
  EXPECT_EQ(decode_base64_floats(b64["data"][1]["embedding"]), (std::vector<float>{0.25f, -0.5f, 0.125f, 1.0f}));

  EXPECT_TRUE(embed({{"encoding_format", "base64"}, {"x_fake", {{"embed_floats_always", true}}}})
                  ["data"][0]["embedding"].is_array());
  EXPECT_TRUE(embed({{"x_fake", {{"embed_base64", true}}}})["data"][0]["embedding"].is_string());

  json single = {{"input", "one"}};
  HttpResponse res = http_request(fake.port(), "POST", "/v1/embeddings", single.dump());
  EXPECT_EQ(json::parse(res.body)["data"].size(), 1u);
}

TEST(FakeUpstream, TextCompletionsStreamAndNonStream) {
  FakeUpstream fake;
  HttpResponse res = http_request(fake.port(), "POST", "/v1/completions", R"({"model":"m","prompt":"x"})");
  ASSERT_EQ(res.status, 200);
  const json j = json::parse(res.body);
  EXPECT_EQ(j["object"], "text_completion");
  EXPECT_TRUE(j["choices"][0]["text"].is_string());
  SseReader sse(fake.port(), "/v1/completions", R"({"model":"m","prompt":"x","stream":true})");
  const std::vector<std::string> events = sse.remaining_events();
  ASSERT_EQ(events.size(), 5u);  // c0, c1, c2, finish, [DONE]
  EXPECT_EQ(json::parse(events[0])["choices"][0]["text"], "c0");
  EXPECT_EQ(events.back(), "[DONE]");
}

TEST(FakeUpstream, RawRequestReportsCloseWithoutResponse) {
  FakeUpstream fake;
  HttpResponse res = raw_request(fake.port(), "GARBAGE\r\n\r\n");
  EXPECT_EQ(res.status, 400);
  EXPECT_TRUE(res.connection_closed);
  // A chunked request body is accepted.
  res = raw_request(fake.port(),
                    "POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "e\r\n{\"input\":\"ab\"}\r\n0\r\n\r\n");
  EXPECT_EQ(res.status, 200) << res.error;
  // Non-stream drop_after: head and a few body bytes, then the close.
  res = http_request(fake.port(), "POST", "/v1/chat/completions",
                     chat_body({{"x_fake", {{"drop_after", 3}}}}));
  EXPECT_EQ(res.status, 0);
  EXPECT_TRUE(res.connection_closed);
  EXPECT_FALSE(res.timed_out);
}

TEST(FakeUpstream, TlsVerifiesForLocalhostOnly) {
  std::string ca_file;
  {
    FakeUpstream fake({.tls = true});
    ca_file = fake.ca_file();
    ASSERT_TRUE(std::filesystem::exists(ca_file));
    EXPECT_EQ(fake.base_url(), "https://localhost:" + std::to_string(fake.port()) + "/v1");
    HttpResponse ok = https_request("localhost", fake.port(), ca_file, "POST", "/v1/chat/completions",
                                    chat_body());
    ASSERT_EQ(ok.status, 200) << ok.error;
    EXPECT_EQ(json::parse(ok.body)["choices"][0]["message"]["content"], "fake answer 1");

    HttpResponse by_ip = https_request("127.0.0.1", fake.port(), ca_file, "GET", "/v1/models");
    EXPECT_EQ(by_ip.status, 0);
    EXPECT_NE(by_ip.error.find("mismatch"), std::string::npos) << by_ip.error;

    EXPECT_TRUE(fake.wait_for_closed(2, 1s));  // both connections, the rejected one included
    fake.reset_records();
    EXPECT_EQ(fake.request_count(), 0u);
  }
  EXPECT_FALSE(std::filesystem::exists(ca_file));
}

TEST(FakeUpstream, RecordsCanBeResetAndWaitedFor) {
  FakeUpstream fake;
  EXPECT_FALSE(fake.wait_for_requests(1, 50ms));
  std::thread client([port = fake.port()] { http_request(port, "GET", "/v1/models"); });
  EXPECT_TRUE(fake.wait_for_requests(1, 2s));
  client.join();
  fake.reset_records();
  EXPECT_EQ(fake.request_count(), 0u);
  EXPECT_EQ(fake.connections_accepted(), 0);
}

}  // namespace
}  // namespace sluice::test
