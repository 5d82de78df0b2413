// Legacy text completions (/v1/completions), stream and non-stream, through
// an OpenAI-compatible upstream and through the mock provider.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "gateway_fixture.hpp"
#include "support/fake_upstream.hpp"
#include "support/test_client.hpp"

namespace sluice::test {
namespace {

std::string completion_body(const std::string& model, json extra = json::object()) {
  json body = {{"model", model}, {"prompt", "Say this is a test"}};
  body.update(extra);
  return body.dump();
}

std::string texts(const std::vector<std::string>& events) {
  std::string out;
  for (const auto& e : events) {
    const json j = parse_json(e);
    if (j.is_object() && !j["choices"].empty() && j["choices"][0]["text"].is_string())
      out += j["choices"][0]["text"].get<std::string>();
  }
  return out;
}

TEST(Completions, NonStreamThroughUpstream) {
  FakeUpstream fake;
  Gateway gw(ConfigBuilder().openai_provider("up", fake.base_url()).model("davinci", {{"up", "gpt-3.5-turbo-instruct"}}).yaml());
  ASSERT_TRUE(gw.started());
  HttpResponse res = http_request(gw.port(), "POST", "/v1/completions", completion_body("davinci", {{"suffix", "!"}}));
  ASSERT_EQ(res.status, 200) << res.body;
  const json j = parse_json(res.body);
  EXPECT_EQ(j["object"], "text_completion");
  EXPECT_EQ(j["choices"][0]["text"], "fake answer 1");
  EXPECT_EQ(res.headers["x-sluice-provider"], "up");
  EXPECT_EQ(res.headers["x-sluice-model"], "gpt-3.5-turbo-instruct");
  ASSERT_EQ(fake.request_count(), 1u);
  const Recorded up = fake.requests()[0];
  EXPECT_EQ(up.target, "/v1/completions");
  const json sent = parse_json(up.body);
  EXPECT_EQ(sent["model"], "gpt-3.5-turbo-instruct");
  EXPECT_EQ(sent["prompt"], "Say this is a test");
  EXPECT_EQ(sent["suffix"], "!");
}

TEST(Completions, StreamThroughUpstream) {
  FakeUpstream fake;
  Gateway gw(single_openai_yaml(fake.base_url(), "davinci"));
  ASSERT_TRUE(gw.started());
  SseReader sse(gw.port(), "/v1/completions", completion_body("davinci", {{"stream", true}}));
  ASSERT_EQ(sse.status(), 200);
  EXPECT_EQ(sse.headers().at("x-sluice-provider"), "up");
  const auto events = sse.remaining_events();
  EXPECT_TRUE(sse.ended_cleanly());
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back(), "[DONE]");
  EXPECT_EQ(texts(events), "c0c1c2");
  EXPECT_EQ(parse_json(events[0])["object"], "text_completion");
}

TEST(Completions, MissingPromptIs400) {
  Gateway gw(mock_yaml());
  ASSERT_TRUE(gw.started());
  HttpResponse res = http_request(gw.port(), "POST", "/v1/completions", R"({"model":"gpt-4o-mini"})");
  EXPECT_EQ(res.status, 400) << res.body;
  EXPECT_EQ(parse_json(res.body)["error"]["param"], "prompt");
}

TEST(Completions, NonStreamThroughMock) {
  Gateway gw(mock_yaml({{"completion_tokens", "12"}}));
  ASSERT_TRUE(gw.started());
  HttpResponse res = http_request(gw.port(), "POST", "/v1/completions", completion_body("gpt-4o-mini"));
  ASSERT_EQ(res.status, 200) << res.body;
  const json j = parse_json(res.body);
  EXPECT_EQ(j["object"], "text_completion");
  EXPECT_EQ(j["model"], "gpt-4o-mini");
  const std::string text = j["choices"][0]["text"];
  EXPECT_FALSE(text.empty());
  EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(j["usage"]["completion_tokens"], 12);
  EXPECT_EQ(res.headers["x-sluice-provider"], "mock");
}

TEST(Completions, StreamThroughMockMatchesNonStreamText) {
  Gateway gw(mock_yaml({{"completion_tokens", "12"}, {"stream_chunks", "4"}}));
  ASSERT_TRUE(gw.started());
  HttpResponse whole = http_request(gw.port(), "POST", "/v1/completions", completion_body("gpt-4o-mini"));
  ASSERT_EQ(whole.status, 200) << whole.body;
  SseReader sse(gw.port(), "/v1/completions", completion_body("gpt-4o-mini", {{"stream", true}}));
  ASSERT_EQ(sse.status(), 200);
  const auto events = sse.remaining_events();
  EXPECT_TRUE(sse.ended_cleanly());
  ASSERT_EQ(events.size(), 6u) << sse.body();  // 4 text chunks, finish, [DONE]
  EXPECT_EQ(events.back(), "[DONE]");
  EXPECT_EQ(texts(events), parse_json(whole.body)["choices"][0]["text"].get<std::string>());
  EXPECT_EQ(parse_json(events[4])["choices"][0]["finish_reason"], "stop");
  for (std::size_t i = 0; i + 1 < events.size(); ++i) EXPECT_EQ(parse_json(events[i])["object"], "text_completion");
}

}  // namespace
}  // namespace sluice::test
