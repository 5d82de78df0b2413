// POST /v1/messages (Anthropic's Messages API) through the real gateway, in
// front of each kind of upstream: an OpenAI-compatible fake (translated to
// chat completions and back), an Anthropic fake (forwarded natively) and the
// mock. Non-stream and stream answers, a tool round trip, errors in
// Anthropic's shape, a stream that breaks, a client that leaves, and
// count_tokens and the model list as Anthropic's clients read them.
#include <gtest/gtest.h>

#include <string>

#include "dialect_fixture.hpp"

namespace sluice::test {
namespace {

using namespace std::chrono_literals;

const Headers kAnthropic = {{"anthropic-version", "2023-06-01"}, {"anthropic-beta", "token-efficient-tools-2025-02-19"}};

json message_body(json extra = json::object()) {
  json body = {{"model", "m"}, {"max_tokens", 64}, {"messages", {{{"role", "user"}, {"content", "hello"}}}}};
  body.update(extra);
  return body;
}

const json kTools = json::parse(R"([{"name":"get_weather","description":"Weather for a place",
  "input_schema":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}}])");

class Messages : public ::testing::TestWithParam<Upstream> {};

INSTANTIATE_TEST_SUITE_P(EachUpstream, Messages,
                         ::testing::Values(Upstream::openai, Upstream::anthropic, Upstream::mock),
                         [](const auto& info) { return std::string(name_of(info.param)); });

// What needs an upstream that can call tools, fail, or hold a connection: the fakes.
class MessagesThroughFakes : public Messages {};

INSTANTIATE_TEST_SUITE_P(EachFake, MessagesThroughFakes, ::testing::Values(Upstream::openai, Upstream::anthropic),
                         [](const auto& info) { return std::string(name_of(info.param)); });

TEST_P(Messages, AnswerIsAMessageAndItsUsageIsCounted) {
  DialectGateway gw(GetParam());
  ASSERT_TRUE(gw.started());
  StdoutCapture capture;
  const HttpResponse r = http_request(gw.port(), "POST", "/v1/messages?beta=true", message_body().dump(), kAnthropic);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers.at("request-id"), r.headers.at("x-request-id")) << "the Anthropic SDK reads request-id";
  EXPECT_EQ(r.headers.at("x-sluice-provider"), "up");
  const json m = parse_json(r.body);
  EXPECT_EQ(m["type"], "message");
  EXPECT_EQ(m["role"], "assistant");
  ASSERT_EQ(m["content"].size(), 1u) << r.body;
  EXPECT_EQ(m["content"][0]["type"], "text");
  EXPECT_FALSE(m["content"][0]["text"].get<std::string>().empty());
  EXPECT_EQ(m["stop_reason"], "end_turn");
  EXPECT_GT(m["usage"]["input_tokens"].get<int>(), 0);
  EXPECT_GT(m["usage"]["output_tokens"].get<int>(), 0);

  const std::string line = access_line(capture, r.headers.at("x-request-id"));
  EXPECT_EQ(logged_number(line, "prompt_tokens"),
            m["usage"]["input_tokens"].get<int>() + m["usage"].value("cache_read_input_tokens", 0))
      << line;
  EXPECT_EQ(logged_number(line, "completion_tokens"), m["usage"]["output_tokens"].get<int>()) << line;

  if (GetParam() == Upstream::mock) return;
  const Recorded sent = gw.fake.requests().at(0);
  if (GetParam() == Upstream::anthropic) {
    EXPECT_EQ(sent.target, "/v1/messages") << "the query string stays at the gateway";
    json expected = message_body();
    expected["model"] = "up-model";
    EXPECT_EQ(sent.body, expected.dump()) << "forwarded as sent but for the model";
    EXPECT_EQ(sent.headers.at("anthropic-beta"), "token-efficient-tools-2025-02-19");
    EXPECT_EQ(m["id"], "msg_fake_1") << "the upstream's own answer";
  } else {
    EXPECT_EQ(sent.target, "/v1/chat/completions");
    EXPECT_EQ(parse_json(sent.body),
              json::parse(R"({"model":"up-model","messages":[{"role":"user","content":"hello"}],"max_tokens":64})"));
    EXPECT_EQ(m["id"], "msg_" + r.headers.at("x-request-id"));
  }
}

TEST_P(Messages, StreamIsNamedEventsFromMessageStartToMessageStop) {
  DialectGateway gw(GetParam());
  ASSERT_TRUE(gw.started());
  StdoutCapture capture;
  SseReader sse(gw.port(), "/v1/messages", message_body({{"stream", true}}).dump(), kAnthropic);
  ASSERT_EQ(sse.status(), 200);
  EXPECT_EQ(sse.headers().at("content-type"), "text/event-stream");
  EXPECT_EQ(sse.headers().at("request-id"), sse.headers().at("x-request-id"));
  sse.remaining_events();
  EXPECT_TRUE(sse.ended_cleanly());
  const auto events = named_events(sse.body());
  ASSERT_GE(events.size(), 6u) << sse.body();
  EXPECT_EQ(events.front().name, "message_start");
  EXPECT_EQ(events.back().name, "message_stop");
  std::string text;
  for (const auto& e : events) {
    EXPECT_EQ(e.data["type"], e.name) << "every event carries its event: line";
    if (e.name == "content_block_delta") text += e.data["delta"]["text"].get<std::string>();
  }
  EXPECT_FALSE(text.empty());
  if (GetParam() != Upstream::mock) {
    EXPECT_EQ(text, "c0c1c2");
  }
  const json delta = events[events.size() - 2].data;
  EXPECT_EQ(delta["type"], "message_delta");
  EXPECT_EQ(delta["delta"]["stop_reason"], "end_turn");
  const std::string line = access_line(capture, sse.headers().at("x-request-id"));
  EXPECT_GT(logged_number(line, "completion_tokens"), 0) << "a stream's usage counts too: " << line;
  EXPECT_GT(logged_number(line, "prompt_tokens"), 0) << line;
}

// The tool round trip an agent makes: the model calls a tool, the client
// runs it and sends the result, the model answers.
TEST_P(MessagesThroughFakes, ToolUseRoundTrip) {
  DialectGateway gw(GetParam());
  ASSERT_TRUE(gw.started());
  gw.fake.set_behaviour(Behaviour{.tool_calls = true});
  const json first = message_body({{"tools", kTools}});
  HttpResponse r = http_request(gw.port(), "POST", "/v1/messages", first.dump(), kAnthropic);
  ASSERT_EQ(r.status, 200) << r.body;
  const json call = parse_json(r.body);
  EXPECT_EQ(call["stop_reason"], "tool_use");
  const json use = call["content"].back();
  ASSERT_EQ(use["type"], "tool_use") << r.body;
  EXPECT_EQ(use["name"], "get_weather");
  EXPECT_EQ(use["input"], json::parse(R"({"location":"Paris"})"));

  json second = first;
  second["messages"].push_back({{"role", "assistant"}, {"content", call["content"]}});
  second["messages"].push_back(
      {{"role", "user"}, {"content", {{{"type", "tool_result"}, {"tool_use_id", use["id"]}, {"content", "18°C"}}}}});
  r = http_request(gw.port(), "POST", "/v1/messages", second.dump(), kAnthropic);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(parse_json(r.body)["stop_reason"], "end_turn");
  const json sent = parse_json(gw.fake.requests().at(1).body);
  if (GetParam() == Upstream::anthropic) {
    EXPECT_EQ(sent["messages"][2]["content"][0]["type"], "tool_result") << "native: as the client sent it";
  } else {
    EXPECT_EQ(sent["messages"][1]["tool_calls"][0]["function"]["name"], "get_weather");
    EXPECT_EQ(sent["messages"][2], json({{"role", "tool"}, {"tool_call_id", use["id"]}, {"content", "18°C"}}));
  }
}

TEST_P(MessagesThroughFakes, StreamedToolUseAssemblesToTheSameInput) {
  DialectGateway gw(GetParam());
  ASSERT_TRUE(gw.started());
  gw.fake.set_behaviour(Behaviour{.tool_calls = true});
  SseReader sse(gw.port(), "/v1/messages", message_body({{"tools", kTools}, {"stream", true}}).dump(), kAnthropic);
  ASSERT_EQ(sse.status(), 200);
  sse.remaining_events();
  std::string partial;
  json start;
  for (const auto& e : named_events(sse.body())) {
    if (e.name == "content_block_start" && e.data["content_block"]["type"] == "tool_use") start = e.data["content_block"];
    if (e.name == "content_block_delta" && e.data["delta"]["type"] == "input_json_delta")
      partial += e.data["delta"]["partial_json"].get<std::string>();
    if (e.name == "message_delta") {
      EXPECT_EQ(e.data["delta"]["stop_reason"], "tool_use");
    }
  }
  EXPECT_EQ(start["name"], "get_weather") << sse.body();
  EXPECT_EQ(parse_json(partial), json::parse(R"({"location":"Paris"})"));
}

TEST_P(MessagesThroughFakes, AStreamThatBreaksEndsWithAnErrorEvent) {
  DialectGateway gw(GetParam(), {{"max_retries", "0"}});
  ASSERT_TRUE(gw.started());
  gw.fake.set_behaviour(Behaviour{.drop_after = 1});
  SseReader sse(gw.port(), "/v1/messages", message_body({{"stream", true}}).dump(), kAnthropic);
  ASSERT_EQ(sse.status(), 200);
  sse.remaining_events(5s);
  const auto events = named_events(sse.body());
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().name, "error") << sse.body();
  EXPECT_EQ(events.back().data["type"], "error");
  EXPECT_FALSE(events.back().data["error"]["message"].get<std::string>().empty());
  for (const auto& e : events) EXPECT_NE(e.name, "message_stop") << "never a clean end";
}

TEST_P(MessagesThroughFakes, AClientThatLeavesTakesTheUpstreamRequestWithIt) {
  DialectGateway gw(GetParam());
  ASSERT_TRUE(gw.started());
  gw.fake.set_behaviour(Behaviour{.chunk_delay_ms = 10'000});
  SseReader sse(gw.port(), "/v1/messages", message_body({{"stream", true}}).dump(), kAnthropic);
  ASSERT_EQ(sse.status(), 200);
  ASSERT_TRUE(sse.next_event(2s).has_value());
  sse.disconnect();
  EXPECT_TRUE(gw.fake.wait_for_closed(1, 2s)) << "upstream still connected after the client left";
}

TEST_P(MessagesThroughFakes, UpstreamErrorsInAnthropicsShape) {
  DialectGateway gw(GetParam(), {{"max_retries", "0"}});
  ASSERT_TRUE(gw.started());
  struct Case {
    int upstream;
    int status;
    std::string type;
  };
  // 429 last: it cools the one deployment down, and the gateway answers its own 429 meanwhile.
  std::vector<Case> cases = {{400, 400, "invalid_request_error"}, {500, 502, "api_error"}};
  if (GetParam() == Upstream::anthropic) cases.push_back({529, 529, "overloaded_error"});
  cases.push_back({429, 429, "rate_limit_error"});
  for (const Case& c : cases) {
    Behaviour failing;
    failing.status = c.upstream;
    failing.retry_after_s = c.upstream == 429 ? 3 : -1;
    gw.fake.set_behaviour(failing);
    const HttpResponse r = http_request(gw.port(), "POST", "/v1/messages", message_body().dump(), kAnthropic);
    EXPECT_EQ(r.status, c.status) << c.upstream << " " << r.body;
    const json body = parse_json(r.body);
    EXPECT_EQ(body["type"], "error") << r.body;
    EXPECT_EQ(body["error"]["type"], c.type) << c.upstream;
    EXPECT_FALSE(r.headers.at("request-id").empty());
    if (c.upstream == 429) {
      EXPECT_EQ(r.headers.at("retry-after"), "3");
    }
    if (c.upstream == 400) {
      EXPECT_NE(r.body.find("fake error 400"), std::string::npos) << "the upstream's words";
    }
  }
}

TEST(MessagesFrontDoor, MalformedAndOversizedRequestsAreRefusedInAnthropicsShape) {
  FakeUpstream fake;
  Gateway gw(ConfigBuilder()
                 .server("max_body_bytes", "2048")
                 .openai_provider("up", fake.base_url())
                 .model("m", {{"up", "up-model"}})
                 .yaml());
  ASSERT_TRUE(gw.started());
  HttpResponse r = http_request(gw.port(), "POST", "/v1/messages", R"({"model":"m","messages":[]})", kAnthropic);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(parse_json(r.body)["error"]["type"], "invalid_request_error");
  r = http_request(gw.port(), "POST", "/v1/messages", message_body({{"pad", std::string(4096, 'x')}}).dump(), kAnthropic);
  EXPECT_EQ(r.status, 413) << "refused by the session, before the route table";
  EXPECT_EQ(parse_json(r.body)["error"]["type"], "request_too_large") << r.body;
  EXPECT_FALSE(r.headers["request-id"].empty());
  EXPECT_EQ(fake.request_count(), 0u);
}

TEST(MessagesFrontDoor, CountTokensFromAnthropicElseEstimated) {
  FakeUpstream fake;
  const std::string body = R"({"model":"m","system":"You are a scientist","messages":[{"role":"user","content":"Hello, Claude"}]})";
  {
    Gateway gw(dialect_yaml(Upstream::anthropic, fake));
    ASSERT_TRUE(gw.started());
    HttpResponse r = http_request(gw.port(), "POST", "/v1/messages/count_tokens?beta=true", body, kAnthropic);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_TRUE(r.headers["x-sluice-token-count"].empty());
    EXPECT_EQ(fake.requests().at(0).target, "/v1/messages/count_tokens");
    EXPECT_EQ(parse_json(fake.requests().at(0).body)["model"], "up-model");
    EXPECT_GT(parse_json(r.body)["input_tokens"].get<int>(), 0);
  }
  fake.reset_records();
  Gateway gw(dialect_yaml(Upstream::openai, fake));
  ASSERT_TRUE(gw.started());
  HttpResponse r = http_request(gw.port(), "POST", "/v1/messages/count_tokens", body, kAnthropic);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["x-sluice-token-count"], "estimated");
  EXPECT_EQ(parse_json(r.body), json::parse(R"({"input_tokens":14})"));
  EXPECT_EQ(fake.request_count(), 0u) << "nothing to ask an OpenAI upstream";
}

TEST(MessagesFrontDoor, TheModelListInAnthropicsShape) {
  FakeUpstream fake;
  Gateway gw(dialect_yaml(Upstream::openai, fake));
  ASSERT_TRUE(gw.started());
  const HttpResponse r = http_request(gw.port(), "GET", "/v1/models?limit=20", "", kAnthropic);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(parse_json(r.body),
            json::parse(R"({"data":[{"type":"model","id":"m","display_name":"m","created_at":"1970-01-01T00:00:00Z"}],
                            "has_more":false,"first_id":"m","last_id":"m"})"));
  EXPECT_EQ(parse_json(http_request(gw.port(), "GET", "/v1/models").body)["object"], "list") << "OpenAI's otherwise";
}

}  // namespace
}  // namespace sluice::test
