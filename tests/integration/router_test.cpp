// The router through the real daemon: an alias is answered by its tier's
// model with x-sluice-tier and x-sluice-route-reason, on every inbound
// dialect there is (chat completions, streamed or not, and legacy
// completions); an explicit model carries neither; a header rule; the alias
// in GET /v1/models; the decision and score in the access log.
#include <gtest/gtest.h>

#include <string>

#include "gateway_fixture.hpp"
#include "support/stdout_capture.hpp"
#include "support/test_client.hpp"

namespace sluice::test {
namespace {

const std::string kEasy = "What is the capital of Australia?";
const std::string kHard = "Prove that every tournament has a Hamiltonian path.";

std::string yaml() {
  return mock_yaml() +
         "router:\n"
         "  alias: auto\n"
         "  tiers: { low: gpt-4o-mini, high: gpt-4o }\n"
         "  rules:\n"
         "    - { name: pinned, header: x-route, header_matches: \"^strong$\", tier: high }\n";
}

TEST(Router, ChatCompletionsCarryTheTierAndTheReason) {
  Gateway gw(yaml());
  ASSERT_TRUE(gw.started());
  HttpResponse r = http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("auto", json::object(), kEasy));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["x-sluice-tier"], "low");
  EXPECT_EQ(r.headers["x-sluice-route-reason"], "simple+brief");
  EXPECT_EQ(r.headers["x-sluice-model"], "gpt-4o-mini");
  EXPECT_EQ(parse_json(r.body)["model"], "gpt-4o-mini");

  r = http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("auto", json::object(), kHard));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["x-sluice-tier"], "high");
  EXPECT_EQ(r.headers["x-sluice-route-reason"], "proof+math");
  EXPECT_EQ(r.headers["x-sluice-model"], "gpt-4o");
}

TEST(Router, StreamsAndLegacyCompletionsCarryThemToo) {
  Gateway gw(yaml());
  ASSERT_TRUE(gw.started());
  HttpResponse r =
      http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("auto", {{"stream", true}}, kHard));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["content-type"], "text/event-stream");
  EXPECT_EQ(r.headers["x-sluice-tier"], "high");
  EXPECT_NE(r.body.find("data: [DONE]"), std::string::npos);

  r = http_request(gw.port(), "POST", "/v1/completions", json{{"model", "auto"}, {"prompt", kEasy}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["x-sluice-tier"], "low");
  EXPECT_EQ(r.headers["x-sluice-model"], "gpt-4o-mini");
}

TEST(Router, TheMessagesAndResponsesDialectsAreRoutedAndCarryTheHeaders) {
  Gateway gw(yaml());
  ASSERT_TRUE(gw.started());
  HttpResponse r = http_request(
      gw.port(), "POST", "/v1/messages",
      json{{"model", "auto"}, {"max_tokens", 64}, {"messages", {{{"role", "user"}, {"content", kHard}}}}}.dump(),
      {{"anthropic-version", "2023-06-01"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["x-sluice-tier"], "high");
  EXPECT_EQ(r.headers["x-sluice-model"], "gpt-4o");
  r = http_request(gw.port(), "POST", "/v1/responses", json{{"model", "auto"}, {"input", kEasy}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["x-sluice-tier"], "low");
  EXPECT_EQ(r.headers["x-sluice-model"], "gpt-4o-mini");
}

TEST(Router, AnExplicitModelIsNotRouted) {
  Gateway gw(yaml());
  ASSERT_TRUE(gw.started());
  HttpResponse r = http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("gpt-4o-mini", json::object(), kHard));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers.count("x-sluice-tier"), 0u);
  EXPECT_EQ(r.headers.count("x-sluice-route-reason"), 0u);
  EXPECT_EQ(r.headers["x-sluice-model"], "gpt-4o-mini");
}

TEST(Router, AHeaderRuleForcesItsTier) {
  Gateway gw(yaml());
  ASSERT_TRUE(gw.started());
  HttpResponse r = http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("auto", json::object(), kEasy),
                                {{"X-Route", "strong"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["x-sluice-tier"], "high");
  EXPECT_EQ(r.headers["x-sluice-route-reason"], "rule:pinned");
  r = http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("auto", json::object(), kEasy),
                   {{"X-Route", "weak"}});
  EXPECT_EQ(r.headers["x-sluice-tier"], "low") << "the value does not match: the score decides";
}

TEST(Router, TheAliasIsListedAmongTheModels) {
  Gateway gw(yaml());
  ASSERT_TRUE(gw.started());
  HttpResponse r = http_request(gw.port(), "GET", "/v1/models");
  ASSERT_EQ(r.status, 200);
  const json list = parse_json(r.body);
  bool listed = false;
  for (const auto& m : list["data"]) listed = listed || m["id"] == "auto";
  EXPECT_TRUE(listed) << r.body;
  r = http_request(gw.port(), "GET", "/v1/models/auto");
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST(Router, TheAccessLogHasTheDecisionAndItsScore) {
  std::string logs;
  HttpResponse routed, direct;
  {
    Gateway gw(yaml(), {.log_level = "info"});
    ASSERT_TRUE(gw.started());
    StdoutCapture capture;
    routed = http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("auto", json::object(), kHard));
    direct = http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("gpt-4o", json::object(), kHard));
    http_request(gw.port(), "GET", "/healthz");  // the lines above are written by then
    logs = capture.contents();
  }
  std::string line = log_line(logs, "request", routed.headers["x-request-id"]);
  EXPECT_NE(line.find("model=auto"), std::string::npos) << line;
  EXPECT_NE(line.find("tier=high"), std::string::npos) << line;
  EXPECT_NE(line.find("route_decision=high"), std::string::npos) << line;
  EXPECT_NE(line.find("route_score=0."), std::string::npos) << line;
  EXPECT_NE(line.find("route_reason=proof+math"), std::string::npos) << line;
  EXPECT_EQ(logs.find(kHard), std::string::npos) << "never the prompt";
  line = log_line(logs, "request", direct.headers["x-request-id"]);
  EXPECT_NE(line.find("route_score=null"), std::string::npos) << line;
}

}  // namespace
}  // namespace sluice::test
