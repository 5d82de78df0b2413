// POST /v1/responses (OpenAI's Responses API, stateless) through the real
// gateway, in front of each kind of upstream: an OpenAI fake that speaks it
// (forwarded natively), the same fake told to translate (responses_api:
// translated), an Anthropic fake (translated to chat completions, then to
// Messages) and the mock. Non-stream and stream answers, a function-call
// round trip, what a translation refuses, errors, a stream that breaks, a
// client that leaves.
#include <gtest/gtest.h>

#include <string>

#include "dialect_fixture.hpp"

namespace sluice::test {
namespace {

using namespace std::chrono_literals;

json response_body(json extra = json::object()) {
  json body = {{"model", "m"}, {"input", "Tell me a story."}, {"max_output_tokens", 64}};
  body.update(extra);
  return body;
}

const json kTools = json::parse(R"([{"type":"function","name":"get_weather","description":"Weather for a place",
  "parameters":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}}])");

// The kinds of upstream, and whether each serves the Responses API natively.
struct Route {
  Upstream kind;
  bool native;
  const char* name;
};

class Responses : public ::testing::TestWithParam<Route> {
 protected:
  YamlPairs extra() const {
    YamlPairs pairs = {{"max_retries", "0"}};
    if (GetParam().kind == Upstream::openai && !GetParam().native) pairs.push_back({"responses_api", "translated"});
    return pairs;
  }
};

INSTANTIATE_TEST_SUITE_P(EachUpstream, Responses,
                         ::testing::Values(Route{Upstream::openai, true, "openai_native"},
                                           Route{Upstream::openai, false, "openai_translated"},
                                           Route{Upstream::anthropic, false, "anthropic"},
                                           Route{Upstream::mock, false, "mock"}),
                         [](const auto& info) { return std::string(info.param.name); });

// What needs an upstream that can call tools, fail, or hold a connection: the fakes.
class ResponsesThroughFakes : public Responses {};

INSTANTIATE_TEST_SUITE_P(EachFake, ResponsesThroughFakes,
                         ::testing::Values(Route{Upstream::openai, true, "openai_native"},
                                           Route{Upstream::openai, false, "openai_translated"},
                                           Route{Upstream::anthropic, false, "anthropic"}),
                         [](const auto& info) { return std::string(info.param.name); });

std::string output_text(const json& response) {
  std::string text;
  for (const json& item : response["output"])
    if (item["type"] == "message")
      for (const json& part : item["content"]) text += part.value("text", "");
  return text;
}

TEST_P(Responses, AnswerIsAResponseAndItsUsageIsCounted) {
  DialectGateway gw(GetParam().kind, extra());
  ASSERT_TRUE(gw.started());
  StdoutCapture capture;
  const HttpResponse r = http_request(gw.port(), "POST", "/v1/responses", response_body().dump());
  ASSERT_EQ(r.status, 200) << r.body;
  const json resp = parse_json(r.body);
  EXPECT_EQ(resp["object"], "response");
  EXPECT_EQ(resp["status"], "completed");
  EXPECT_FALSE(output_text(resp).empty()) << r.body;
  EXPECT_GT(resp["usage"]["input_tokens"].get<int>(), 0);
  EXPECT_GT(resp["usage"]["output_tokens"].get<int>(), 0);
  const std::string line = access_line(capture, r.headers.at("x-request-id"));
  EXPECT_EQ(logged_number(line, "prompt_tokens"), resp["usage"]["input_tokens"].get<int>()) << line;
  EXPECT_EQ(logged_number(line, "completion_tokens"), resp["usage"]["output_tokens"].get<int>()) << line;

  if (GetParam().kind == Upstream::mock) return;
  const Recorded sent = gw.fake.requests().at(0);
  if (GetParam().native) {
    EXPECT_EQ(sent.target, "/v1/responses");
    json expected = response_body();
    expected["model"] = "up-model";
    EXPECT_EQ(sent.body, expected.dump());
    EXPECT_EQ(resp["id"], "resp_fake_1") << "the upstream's own answer";
  } else {
    EXPECT_EQ(sent.target, GetParam().kind == Upstream::anthropic ? "/v1/messages" : "/v1/chat/completions");
    EXPECT_EQ(resp["id"], "resp_" + r.headers.at("x-request-id"));
    EXPECT_EQ(resp["max_output_tokens"], 64) << "the request's parameters are repeated";
  }
}

TEST_P(Responses, StreamRunsFromResponseCreatedToResponseCompleted) {
  DialectGateway gw(GetParam().kind, extra());
  ASSERT_TRUE(gw.started());
  StdoutCapture capture;
  SseReader sse(gw.port(), "/v1/responses", response_body({{"stream", true}}).dump());
  ASSERT_EQ(sse.status(), 200);
  sse.remaining_events();
  EXPECT_TRUE(sse.ended_cleanly());
  const auto events = named_events(sse.body());
  ASSERT_GE(events.size(), 6u) << sse.body();
  EXPECT_EQ(events.front().name, "response.created");
  EXPECT_EQ(events[1].name, "response.in_progress");
  EXPECT_EQ(events.back().name, "response.completed");
  std::string deltas;
  for (std::size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].data["type"], events[i].name);
    EXPECT_EQ(events[i].data["sequence_number"], i) << "numbered from 0, one by one";
    if (events[i].name == "response.output_text.delta") deltas += events[i].data["delta"].get<std::string>();
  }
  const json final = events.back().data["response"];
  EXPECT_EQ(output_text(final), deltas);
  if (GetParam().kind != Upstream::mock) {
    EXPECT_EQ(deltas, "c0c1c2");
  }
  EXPECT_GT(final["usage"]["output_tokens"].get<int>(), 0);
  const std::string line = access_line(capture, sse.headers().at("x-request-id"));
  EXPECT_EQ(logged_number(line, "completion_tokens"), final["usage"]["output_tokens"].get<int>()) << line;
}

TEST_P(ResponsesThroughFakes, FunctionCallRoundTrip) {
  DialectGateway gw(GetParam().kind, extra());
  ASSERT_TRUE(gw.started());
  gw.fake.set_behaviour(Behaviour{.tool_calls = true});
  const json first = response_body({{"tools", kTools}, {"input", {{{"role", "user"}, {"content", "Weather in Paris?"}}}}});
  HttpResponse r = http_request(gw.port(), "POST", "/v1/responses", first.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  const json call = parse_json(r.body)["output"].back();
  ASSERT_EQ(call["type"], "function_call") << r.body;
  EXPECT_EQ(call["name"], "get_weather");
  EXPECT_EQ(parse_json(call["arguments"]), json::parse(R"({"location":"Paris"})"));

  json second = first;
  second["input"].push_back(call);
  second["input"].push_back({{"type", "function_call_output"}, {"call_id", call["call_id"]}, {"output", "18°C"}});
  r = http_request(gw.port(), "POST", "/v1/responses", second.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(output_text(parse_json(r.body)).empty()) << r.body;
  const json sent = parse_json(gw.fake.requests().at(1).body);
  if (GetParam().native) {
    EXPECT_EQ(sent["input"].back()["type"], "function_call_output") << "native: as the client sent it";
  } else if (GetParam().kind == Upstream::anthropic) {
    const json result = sent["messages"].back()["content"][0];
    EXPECT_EQ(result["type"], "tool_result") << sent.dump();
    EXPECT_EQ(result["tool_use_id"], call["call_id"]);
    EXPECT_EQ(result["content"], "18°C");
  } else {
    EXPECT_EQ(sent["messages"].back(), json({{"role", "tool"}, {"tool_call_id", call["call_id"]}, {"content", "18°C"}}));
  }
}

TEST_P(ResponsesThroughFakes, StreamedFunctionCall) {
  DialectGateway gw(GetParam().kind, extra());
  ASSERT_TRUE(gw.started());
  gw.fake.set_behaviour(Behaviour{.tool_calls = true});
  SseReader sse(gw.port(), "/v1/responses", response_body({{"tools", kTools}, {"stream", true}}).dump());
  ASSERT_EQ(sse.status(), 200);
  sse.remaining_events();
  std::string arguments;
  for (const auto& e : named_events(sse.body()))
    if (e.name == "response.function_call_arguments.delta") arguments += e.data["delta"].get<std::string>();
  EXPECT_EQ(parse_json(arguments), json::parse(R"({"location":"Paris"})")) << sse.body();
  const json final = named_events(sse.body()).back().data["response"];
  EXPECT_EQ(final["output"].back()["type"], "function_call");
  EXPECT_EQ(final["output"].back()["arguments"], arguments);
}

TEST_P(ResponsesThroughFakes, WhatOnlyTheResponsesApiKeepsIsRefusedWhereItIsTranslated) {
  DialectGateway gw(GetParam().kind, extra());
  ASSERT_TRUE(gw.started());
  for (const json& extra : {json{{"store", true}}, json{{"previous_response_id", "resp_123"}},
                            json{{"tools", {{{"type", "web_search_preview"}}}}}, json{{"background", true}}}) {
    gw.fake.reset_records();
    const HttpResponse r = http_request(gw.port(), "POST", "/v1/responses", response_body(extra).dump());
    if (GetParam().native) {
      EXPECT_EQ(r.status, 200) << extra.dump() << " passes through to an upstream that keeps it";
      EXPECT_EQ(gw.fake.request_count(), 1u);
    } else {
      EXPECT_EQ(r.status, 400) << extra.dump();
      EXPECT_EQ(parse_json(r.body)["error"]["param"].get<std::string>().substr(0, extra.begin().key().size()),
                extra.begin().key());
      EXPECT_EQ(gw.fake.request_count(), 0u) << "nothing is sent";
    }
  }
}

TEST_P(ResponsesThroughFakes, UpstreamErrorsInOpenAisShape) {
  DialectGateway gw(GetParam().kind, extra());
  ASSERT_TRUE(gw.started());
  for (const auto& [upstream, status] : std::vector<std::pair<int, int>>{{400, 400}, {500, 502}, {429, 429}}) {
    Behaviour failing;
    failing.status = upstream;
    failing.retry_after_s = upstream == 429 ? 2 : -1;
    gw.fake.set_behaviour(failing);
    const HttpResponse r = http_request(gw.port(), "POST", "/v1/responses", response_body().dump());
    EXPECT_EQ(r.status, status) << upstream << " " << r.body;
    EXPECT_TRUE(parse_json(r.body)["error"].is_object()) << r.body;
    if (upstream == 429) {
      EXPECT_EQ(r.headers.at("retry-after"), "2");
    }
  }
}

TEST_P(ResponsesThroughFakes, AStreamThatBreaksEndsWithResponseFailed) {
  DialectGateway gw(GetParam().kind, extra());
  ASSERT_TRUE(gw.started());
  gw.fake.set_behaviour(Behaviour{.drop_after = 1});
  SseReader sse(gw.port(), "/v1/responses", response_body({{"stream", true}}).dump());
  ASSERT_EQ(sse.status(), 200);
  sse.remaining_events(5s);
  const auto events = named_events(sse.body());
  ASSERT_GE(events.size(), 2u) << sse.body();
  const NamedEvent& failed = events.back();
  EXPECT_EQ(failed.name, "response.failed") << sse.body();
  EXPECT_EQ(failed.data["sequence_number"], events.size() - 1) << "it continues the sequence";
  EXPECT_EQ(failed.data["response"]["status"], "failed");
  EXPECT_FALSE(failed.data["response"]["error"]["message"].get<std::string>().empty());
  EXPECT_EQ(failed.data["response"]["id"], events.front().data["response"]["id"]);
}

TEST_P(ResponsesThroughFakes, AClientThatLeavesTakesTheUpstreamRequestWithIt) {
  DialectGateway gw(GetParam().kind, extra());
  ASSERT_TRUE(gw.started());
  gw.fake.set_behaviour(Behaviour{.chunk_delay_ms = 10'000});
  SseReader sse(gw.port(), "/v1/responses", response_body({{"stream", true}}).dump());
  ASSERT_EQ(sse.status(), 200);
  ASSERT_TRUE(sse.next_event(2s).has_value());
  sse.disconnect();
  EXPECT_TRUE(gw.fake.wait_for_closed(1, 2s)) << "upstream still connected after the client left";
}

TEST(ResponsesOnAzure, TheV1RouteSpeaksItAndOldVersionsTranslate) {
  for (const auto& [version, target] : std::vector<std::pair<std::string, std::string>>{
           {"v1", "/openai/v1/responses"},
           {"2025-04-01-preview", "/openai/responses?api-version=2025-04-01-preview"},
           {"2024-10-21", "/openai/deployments/up-model/chat/completions?api-version=2024-10-21"}}) {
    FakeUpstream fake;
    Gateway gw(ConfigBuilder()
                   .provider("az", "azure", "http://127.0.0.1:" + std::to_string(fake.port()), {{"api_version", version}})
                   .model("m", {{"az", "up-model"}})
                   .yaml());
    ASSERT_TRUE(gw.started());
    const HttpResponse r = http_request(gw.port(), "POST", "/v1/responses", response_body().dump());
    EXPECT_EQ(r.status, 200) << version << " " << r.body;
    EXPECT_EQ(parse_json(r.body)["object"], "response");
    EXPECT_EQ(fake.requests().at(0).target, target) << version;
  }
}

}  // namespace
}  // namespace sluice::test
