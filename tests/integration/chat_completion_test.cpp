// Non-streaming chat completions end to end: the real gateway in front of the
// fake OpenAI upstream. What the client gets, what the upstream receives, the
// request id contract, keep-alive on both sides, and the discovery endpoints.
#include <gtest/gtest.h>

#include <string>

#include "gateway_fixture.hpp"
#include "support/fake_upstream.hpp"
#include "support/canary.hpp"
#include "support/test_client.hpp"

namespace sluice::test {
namespace {

using namespace std::chrono_literals;

TEST(ChatCompletion, RoundTripRelaysUpstreamAnswerAndSetsDecisionHeaders) {
  FakeUpstream fake;
  Gateway gw(ConfigBuilder()
                 .openai_provider("up", fake.base_url(), {{"api_key", test_secret("provider")}})
                 .model("gpt-4o", {{"up", "gpt-4o-2024-08-06"}})
                 .yaml());
  ASSERT_TRUE(gw.started());

  const std::string body = chat_body("gpt-4o", {{"x_fake", json::object()}, {"foo", {{"bar", {1, 2}}}}});
  HttpResponse res = http_request(gw.port(), "POST", "/v1/chat/completions", body);
  ASSERT_EQ(res.status, 200) << res.error << res.body;

  const json answer = parse_json(res.body);
  ASSERT_TRUE(answer.is_object()) << res.body;
  EXPECT_EQ(answer["object"], "chat.completion");
  EXPECT_EQ(answer["choices"][0]["message"]["content"], "fake answer 1");
  EXPECT_EQ(answer["model"], "gpt-4o-2024-08-06") << "the upstream's answer is relayed as is";
  EXPECT_EQ(res.headers["content-type"], "application/json");
  EXPECT_FALSE(res.headers["x-request-id"].empty());
  EXPECT_EQ(res.headers["x-sluice-provider"], "up");
  EXPECT_EQ(res.headers["x-sluice-model"], "gpt-4o-2024-08-06");

  ASSERT_EQ(fake.request_count(), 1u);
  Recorded up = fake.requests()[0];
  EXPECT_EQ(up.method, "POST");
  EXPECT_EQ(up.target, "/v1/chat/completions");
  EXPECT_EQ(up.headers["authorization"], "Bearer " + test_secret("provider"));
  const json sent = parse_json(up.body);
  ASSERT_TRUE(sent.is_object()) << up.body;
  EXPECT_EQ(sent["model"], "gpt-4o-2024-08-06") << "model replaced by the deployment's upstream name";
  EXPECT_EQ(sent["x_fake"], json::object()) << "unknown fields pass through untouched";
  EXPECT_EQ(sent["foo"], json({{"bar", {1, 2}}}));
  EXPECT_EQ(sent["messages"], parse_json(body)["messages"]);
  // Only the model token changes: the rest of the body is byte for byte the client's.
  std::string expected = body;
  expected.replace(expected.find("\"gpt-4o\""), 8, "\"gpt-4o-2024-08-06\"");
  EXPECT_EQ(up.body, expected);
}

TEST(ChatCompletion, SameModelNameForwardsBodyUnchangedAndNoAuthWithoutKey) {
  FakeUpstream fake;
  Gateway gw(single_openai_yaml(fake.base_url(), "gpt-test", {{"api_key", "\"\""}}));
  ASSERT_TRUE(gw.started());
  const std::string body = R"({"model":"gpt-test","messages":[{"role":"user","content":"hi"}],"temperature":0.5,"x_fake":{}})";
  HttpResponse res = http_request(gw.port(), "POST", "/v1/chat/completions", body);
  ASSERT_EQ(res.status, 200) << res.error << res.body;
  ASSERT_EQ(fake.request_count(), 1u);
  Recorded up = fake.requests()[0];
  EXPECT_EQ(up.body, body);
  EXPECT_EQ(up.headers.count("authorization"), 0u);
}

TEST(ChatCompletion, ConfiguredExtraHeadersAreSentUpstream) {
  FakeUpstream fake;
  Gateway gw(ConfigBuilder()
                 .openai_provider("up", fake.base_url(), {{"headers", "{ OpenAI-Organization: org-42 }"}})
                 .model("gpt-test", {{"up", "gpt-test"}})
                 .yaml());
  ASSERT_TRUE(gw.started());
  HttpResponse res = http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("gpt-test"));
  ASSERT_EQ(res.status, 200) << res.error << res.body;
  ASSERT_EQ(fake.request_count(), 1u);
  EXPECT_EQ(fake.requests()[0].headers["openai-organization"], "org-42");
}

TEST(ChatCompletion, LargeRequestBodyIsForwardedIntact) {
  FakeUpstream fake;
  Gateway gw(single_openai_yaml(fake.base_url()));
  ASSERT_TRUE(gw.started());
  std::string prompt;
  for (int i = 0; prompt.size() < (1u << 20); ++i) prompt += "line " + std::to_string(i) + " \u00e9\u4e2d\n";
  const std::string body = chat_body("gpt-test", {{"x_fake", json::object()}}, prompt);
  HttpResponse res = http_request(gw.port(), "POST", "/v1/chat/completions", body);
  ASSERT_EQ(res.status, 200) << res.error << res.body;
  ASSERT_EQ(fake.request_count(), 1u);
  EXPECT_TRUE(fake.requests()[0].body == body) << "1 MiB body changed on the way";
}

// ---------------------------------------------------------------------------
// x-request-id

TEST(RequestId, SafeClientIdIsEchoed) {
  Gateway gw(mock_yaml());
  ASSERT_TRUE(gw.started());
  const std::string id = "req_Abc-123.x:y/z+=";
  HttpResponse res = http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("gpt-4o-mini"),
                                  {{"x-request-id", id}});
  ASSERT_EQ(res.status, 200) << res.error << res.body;
  EXPECT_EQ(res.headers["x-request-id"], id);
}

TEST(RequestId, GeneratedWhenAbsentAndDifferentPerRequest) {
  Gateway gw(mock_yaml());
  ASSERT_TRUE(gw.started());
  HttpResponse a = http_request(gw.port(), "GET", "/healthz");
  HttpResponse b = http_request(gw.port(), "GET", "/v1/models");
  HttpResponse c = http_request(gw.port(), "POST", "/v1/chat/completions", "{not json");
  ASSERT_EQ(a.status, 200) << a.error;
  ASSERT_EQ(b.status, 200) << b.error;
  ASSERT_EQ(c.status, 400) << c.error;
  EXPECT_TRUE(is_hex32(a.headers["x-request-id"])) << a.headers["x-request-id"];
  EXPECT_TRUE(is_hex32(b.headers["x-request-id"])) << b.headers["x-request-id"];
  EXPECT_TRUE(is_hex32(c.headers["x-request-id"])) << "error answers carry an id too";
  EXPECT_NE(a.headers["x-request-id"], b.headers["x-request-id"]);
}

TEST(RequestId, UnsafeClientIdsAreReplacedByFreshIds) {
  Gateway gw(mock_yaml());
  ASSERT_TRUE(gw.started());
  const std::string unsafe[] = {"has spaces inside", "\"quoted\"", std::string(129, 'a'), "semi;colon",
                                "abc%0d%0aInjected: yes", "<script>"};
  for (const std::string& id : unsafe) {
    HttpResponse res = http_request(gw.port(), "GET", "/healthz", {}, {{"x-request-id", id}});
    ASSERT_EQ(res.status, 200) << id << ": " << res.error;
    EXPECT_TRUE(is_hex32(res.headers["x-request-id"])) << id << " -> " << res.headers["x-request-id"];
    EXPECT_EQ(res.headers.count("injected"), 0u);
  }
  // 128 characters is still fine.
  const std::string longest(128, 'b');
  HttpResponse ok = http_request(gw.port(), "GET", "/healthz", {}, {{"x-request-id", longest}});
  EXPECT_EQ(ok.headers["x-request-id"], longest);
}

TEST(RequestId, BareCarriageReturnCannotInjectAHeader) {
  Gateway gw(mock_yaml());
  ASSERT_TRUE(gw.started());
  RawSocket s(gw.port());
  ASSERT_TRUE(s.connected());
  ASSERT_TRUE(s.send("GET /healthz HTTP/1.1\r\nHost: x\r\nx-request-id: abc\rInjected: yes\r\nConnection: close\r\n\r\n"));
  EXPECT_TRUE(s.wait_closed(3s));
  const std::string& raw = s.received();
  // Refused (400) or answered with a fresh id: either way no header of ours
  // carries the client's bytes after the CR.
  const std::string head = raw.substr(0, raw.find("\r\n\r\n"));
  EXPECT_EQ(head.find("Injected"), std::string::npos) << raw;
  EXPECT_EQ(head.find("abc\r"), std::string::npos) << raw;
  EXPECT_TRUE(raw.starts_with("HTTP/1.1 400") || raw.starts_with("HTTP/1.1 200")) << raw;
}

// ---------------------------------------------------------------------------
// Keep-alive

TEST(KeepAlive, ManyRequestsShareOneClientAndOneUpstreamConnection) {
  FakeUpstream fake;
  Gateway gw(single_openai_yaml(fake.base_url()));
  ASSERT_TRUE(gw.started());
  Connection client(gw.port());
  ASSERT_TRUE(client.is_open());
  for (int i = 0; i < 5; ++i) {
    HttpResponse res = client.request("POST", "/v1/chat/completions", chat_body("gpt-test"));
    ASSERT_EQ(res.status, 200) << "request " << i << ": " << res.error << res.body;
    EXPECT_FALSE(res.connection_closed) << "request " << i;
    EXPECT_EQ(parse_json(res.body)["choices"][0]["message"]["content"], "fake answer " + std::to_string(i + 1));
  }
  EXPECT_TRUE(client.is_open());
  EXPECT_EQ(fake.request_count(), 5u);
  EXPECT_EQ(fake.connections_accepted(), 1) << "upstream keep-alive connection reused";
  for (const Recorded& r : fake.requests()) EXPECT_EQ(r.connection_id, 1);
}

TEST(KeepAlive, StreamedAnswersAlsoReuseTheUpstreamConnection) {
  FakeUpstream fake;
  Gateway gw(single_openai_yaml(fake.base_url()));
  ASSERT_TRUE(gw.started());
  for (int i = 0; i < 3; ++i) {
    SseReader sse(gw.port(), "/v1/chat/completions", chat_body("gpt-test", {{"stream", true}}));
    ASSERT_EQ(sse.status(), 200);
    auto events = sse.remaining_events();
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.back(), "[DONE]");
  }
  EXPECT_EQ(fake.request_count(), 3u);
  EXPECT_EQ(fake.connections_accepted(), 1);
}

TEST(KeepAlive, UpstreamThatClosesAfterEachAnswerStillWorks) {
  FakeUpstream fake;
  Behaviour b;
  b.close_after_response = true;
  fake.set_behaviour(b);
  Gateway gw(single_openai_yaml(fake.base_url()));
  ASSERT_TRUE(gw.started());
  Connection client(gw.port());
  for (int i = 0; i < 3; ++i) {
    HttpResponse res = client.request("POST", "/v1/chat/completions", chat_body("gpt-test"));
    ASSERT_EQ(res.status, 200) << "request " << i << ": " << res.error << res.body;
  }
  EXPECT_EQ(fake.request_count(), 3u);
  EXPECT_EQ(fake.connections_accepted(), 3);
}

TEST(KeepAlive, NoIdlePoolMeansAFreshUpstreamConnectionPerRequest) {
  FakeUpstream fake;
  Gateway gw(single_openai_yaml(fake.base_url(), "gpt-test", {{"max_idle_connections", "0"}}));
  ASSERT_TRUE(gw.started());
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("gpt-test")).status, 200);
  EXPECT_EQ(fake.connections_accepted(), 3);
  EXPECT_TRUE(fake.wait_for_closed(3, 1s)) << "connections are closed, not kept, when the pool holds none";
}

TEST(KeepAlive, Http10ClientGetsConnectionClose) {
  Gateway gw(mock_yaml());
  ASSERT_TRUE(gw.started());
  HttpResponse res = raw_request(gw.port(), "GET /healthz HTTP/1.0\r\n\r\n", 3s);
  EXPECT_EQ(res.status, 200) << res.error;
  EXPECT_TRUE(res.connection_closed);
}

TEST(KeepAlive, ClientConnectionCloseIsHonoured) {
  Gateway gw(mock_yaml());
  ASSERT_TRUE(gw.started());
  Connection client(gw.port());
  HttpResponse res = client.request("GET", "/healthz", {}, {{"Connection", "close"}});
  ASSERT_EQ(res.status, 200) << res.error;
  EXPECT_TRUE(res.connection_closed);
  EXPECT_TRUE(client.closed_by_peer(1s));
}

// ---------------------------------------------------------------------------
// Discovery and health

TEST(Discovery, ModelsListsConfiguredModelNames) {
  FakeUpstream fake;
  Gateway gw(ConfigBuilder()
                 .openai_provider("up", fake.base_url())
                 .mock_provider("mock")
                 .model("gpt-4o", {{"up", "gpt-4o-2024-08-06"}})
                 .model("fast", {{"mock", "m"}, {"up", "gpt-4o-mini"}})
                 .model("text-embedding-3-small", {{"mock", "e"}})
                 .yaml());
  ASSERT_TRUE(gw.started());
  HttpResponse res = http_request(gw.port(), "GET", "/v1/models");
  ASSERT_EQ(res.status, 200) << res.error;
  const json j = parse_json(res.body);
  ASSERT_TRUE(j.is_object()) << res.body;
  EXPECT_EQ(j["object"], "list");
  std::vector<std::string> ids;
  for (const auto& m : j["data"]) {
    EXPECT_EQ(m["object"], "model");
    ids.push_back(m["id"]);
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"gpt-4o", "fast", "text-embedding-3-small"}));
  EXPECT_EQ(fake.request_count(), 0u) << "answered by the gateway, not an upstream";

  HttpResponse one = http_request(gw.port(), "GET", "/v1/models/fast");
  ASSERT_EQ(one.status, 200) << one.error;
  EXPECT_EQ(parse_json(one.body)["id"], "fast");
  HttpResponse missing = http_request(gw.port(), "GET", "/v1/models/nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(parse_json(missing.body)["error"]["code"], "model_not_found");
}

TEST(Discovery, HealthAndReadiness) {
  Gateway gw(mock_yaml());
  ASSERT_TRUE(gw.started());
  HttpResponse health = http_request(gw.port(), "GET", "/healthz");
  EXPECT_EQ(health.status, 200) << health.error;
  EXPECT_EQ(parse_json(health.body)["status"], "ok");
  HttpResponse ready = http_request(gw.port(), "GET", "/readyz");
  EXPECT_EQ(ready.status, 200) << ready.error;
  EXPECT_EQ(parse_json(ready.body)["status"], "ready");
  EXPECT_FALSE(ready.headers["x-request-id"].empty());
}

}  // namespace
}  // namespace sluice::test
