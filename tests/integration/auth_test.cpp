// Gateway keys through the real daemon: no key, wrong key, right key in
// either header, the allow-list, a key's own RPM while the provider has room,
// a monthly budget, expiry, the tenant and key id in the access log; and the
// upstream's safety: no request field or header steers where provider keys
// go, a client's Authorization never reaches the upstream, provider
// internals in response headers are not relayed, and a canary provider key
// is in no response and no log line.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "gateway_fixture.hpp"
#include "support/canary.hpp"
#include "support/fake_upstream.hpp"
#include "support/stdout_capture.hpp"
#include "support/test_client.hpp"

namespace sluice::test {
namespace {

const std::string kKeyA = test_secret("gw-team-a");
const std::string kKeyB = test_secret("gw-team-b");
const std::string kCanary = test_secret("provider");

Headers bearer(const std::string& key) { return {{"Authorization", "Bearer " + key}}; }

class Auth : public ::testing::Test {
 protected:
  Auth() {
    ::setenv("SLUICE_TEST_KEY_A", kKeyA.c_str(), 1);
    ::setenv("SLUICE_TEST_KEY_B", kKeyB.c_str(), 1);
    ::setenv("SLUICE_TEST_CANARY", kCanary.c_str(), 1);
  }
  ~Auth() override {
    ::unsetenv("SLUICE_TEST_KEY_A");
    ::unsetenv("SLUICE_TEST_KEY_B");
    ::unsetenv("SLUICE_TEST_CANARY");
  }

  // Provider "up" (the fake upstream, canary key, priced) serves "gpt-test"
  // and "other"; `auth` is the auth section's body.
  std::string yaml(const std::string& auth) {
    return ConfigBuilder()
               .openai_provider("up", fake.base_url(), {{"api_key", "${SLUICE_TEST_CANARY}"}})
               .model_with("gpt-test", {{"up", "gpt-test", {{"price", "{ input: 1000, output: 2000 }"}}}})
               .model("other", {{"up", "other"}})
               .yaml() +
           "auth:\n" + auth;
  }

  FakeUpstream fake;
};

const std::string kTwoKeys =
    "  keys:\n"
    "    - key: ${SLUICE_TEST_KEY_A}\n"
    "      tenant: team-a\n"
    "      models: [gpt-test]\n"
    "    - key: ${SLUICE_TEST_KEY_B}\n"
    "      tenant: team-b\n"
    "      id: team-b-ci\n";

TEST_F(Auth, NoKeyWrongKeyRightKey) {
  Gateway gw(yaml(kTwoKeys));
  ASSERT_TRUE(gw.started());
  HttpResponse r = http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("gpt-test"));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(parse_json(r.body)["error"]["type"], "authentication_error");
  EXPECT_EQ(r.headers["www-authenticate"], "Bearer");
  r = http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("gpt-test"), bearer(kKeyA + "x"));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(parse_json(r.body)["error"]["message"], "Invalid gateway key.");
  EXPECT_EQ(fake.request_count(), 0u) << "nothing reached the provider";

  r = http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("gpt-test"), bearer(kKeyA));
  EXPECT_EQ(r.status, 200) << r.body;
  r = http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("gpt-test"), {{"x-api-key", kKeyB}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(fake.request_count(), 2u);
}

TEST_F(Auth, TheAllowListIsA403AndTheModelListFollowsIt) {
  Gateway gw(yaml(kTwoKeys));
  ASSERT_TRUE(gw.started());
  HttpResponse r = http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("other"), bearer(kKeyA));
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(parse_json(r.body)["error"]["code"], "model_not_allowed");
  EXPECT_EQ(fake.request_count(), 0u);
  r = http_request(gw.port(), "GET", "/v1/models", {}, bearer(kKeyA));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(parse_json(r.body)["data"].size(), 1u);
  r = http_request(gw.port(), "GET", "/v1/models", {}, bearer(kKeyB));
  EXPECT_EQ(parse_json(r.body)["data"].size(), 2u) << "team-b's key has no allow-list";
}

TEST_F(Auth, AKeysOwnRpmIsA429WithRetryAfterWhileTheProviderHasRoom) {
  Gateway gw(yaml("  keys:\n    - { key: \"${SLUICE_TEST_KEY_A}\", tenant: a, rpm: 2 }\n"
                  "    - { key: \"${SLUICE_TEST_KEY_B}\", tenant: b }\n"));
  ASSERT_TRUE(gw.started());
  for (int i = 0; i < 2; ++i)
    EXPECT_EQ(http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("gpt-test"), bearer(kKeyA)).status, 200);
  HttpResponse r = http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("gpt-test"), bearer(kKeyA));
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(parse_json(r.body)["error"]["code"], "rate_limit_exceeded");
  EXPECT_FALSE(r.headers["retry-after"].empty());
  EXPECT_LE(std::stoi(r.headers["retry-after"]), 30);
  EXPECT_EQ(r.headers["x-should-retry"], "true");
  EXPECT_EQ(fake.request_count(), 2u);
  EXPECT_EQ(http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("gpt-test"), bearer(kKeyB)).status, 200)
      << "another key's bucket is its own";
}

TEST_F(Auth, OverItsBudgetAKeyGets403UntilTheMonthTurns) {
  // The fake answers with 5 completion tokens and a prompt of a few: at
  // 1000 / 2000 USD per million, each answer costs about 0.02 USD.
  Gateway gw(yaml("  keys:\n    - { key: \"${SLUICE_TEST_KEY_A}\", tenant: a, monthly_budget_usd: 0.015, models: [gpt-test] }\n"));
  ASSERT_TRUE(gw.started());
  HttpResponse r = http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("gpt-test"), bearer(kKeyA));
  ASSERT_EQ(r.status, 200) << r.body;
  const double cost = std::stod(r.headers["x-sluice-cost-usd"]);
  EXPECT_GT(cost, 0.015);
  r = http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("gpt-test"), bearer(kKeyA));
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(parse_json(r.body)["error"]["code"], "budget_exceeded");
  EXPECT_NE(parse_json(r.body)["error"]["message"].get<std::string>().find("monthly budget of $0.01"), std::string::npos)
      << r.body;
  EXPECT_EQ(fake.request_count(), 1u);
}

TEST_F(Auth, AnExpiredKeyIs401) {
  Gateway gw(yaml("  keys:\n    - { key: \"${SLUICE_TEST_KEY_A}\", tenant: a, expires: 2020-01-01 }\n"));
  ASSERT_TRUE(gw.started());
  const HttpResponse r = http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("gpt-test"), bearer(kKeyA));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(parse_json(r.body)["error"]["message"], "This gateway key expired at 2020-01-01T00:00:00Z.");
}

TEST_F(Auth, TheAccessLogNamesTenantAndKeyIdNeverTheKey) {
  std::string logs;
  HttpResponse r;
  {
    Gateway gw(yaml(kTwoKeys), {.log_level = "info"});
    ASSERT_TRUE(gw.started());
    StdoutCapture capture;
    r = http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("gpt-test"), bearer(kKeyB));
    http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("gpt-test"), bearer(kKeyA + "-wrong"));
    logs = capture.contents();
  }
  ASSERT_EQ(r.status, 200);
  const std::string line = log_line(logs, "request", r.headers["x-request-id"]);
  EXPECT_NE(line.find("tenant=team-b"), std::string::npos) << line;
  EXPECT_NE(line.find("key_id=team-b-ci"), std::string::npos) << line;
  EXPECT_NE(line.find("cost_usd=0.0"), std::string::npos) << line;
  EXPECT_EQ(logs.find(kKeyB), std::string::npos);
  EXPECT_EQ(logs.find(kKeyA + "-wrong"), std::string::npos) << "not even a wrong key";
}

// Without keys, loopback clients are served: 127.0.0.2 is loopback too. (A
// non-loopback peer cannot be made on a loopback-only test machine; the
// decision on such addresses is tested in routes_test and gatekeeper_test.)
TEST_F(Auth, WithoutKeysASecondLoopbackAddressIsServed) {
  Gateway gw(ConfigBuilder().openai_provider("up", fake.base_url()).model("gpt-test", {{"up", "gpt-test"}}).yaml());
  ASSERT_TRUE(gw.started());
  RawSocket client(gw.port(), std::chrono::seconds(5), "127.0.0.2");
  ASSERT_TRUE(client.connected());
  const std::string body = chat_body("gpt-test");
  ASSERT_TRUE(client.send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body));
  ASSERT_TRUE(client.read_until("fake answer", std::chrono::seconds(5))) << client.received();
  EXPECT_TRUE(client.received().starts_with("HTTP/1.1 200")) << client.received();
}

// Everything a client controls, aimed at another host: the canary key must
// only ever reach the configured upstream, at its configured path.
TEST_F(Auth, NoRequestFieldOrHeaderSteersTheUpstream) {
  FakeUpstream evil;
  const std::string evil_url = evil.base_url();
  Gateway gw(yaml(kTwoKeys));
  ASSERT_TRUE(gw.started());
  const json fields = {{"base_url", evil_url}, {"api_base", evil_url}, {"api_key", test_secret("client-body-key")},
                       {"url", evil_url}, {"endpoint", evil_url}, {"azure_endpoint", evil_url},
                       {"extra_headers", {{"Host", "127.0.0.1:" + std::to_string(evil.port())}}},
                       {"user", evil_url}, {"metadata", {{"base_url", evil_url}}}};
  Headers headers = bearer(kKeyB);
  for (const char* name : {"x-api-base", "api-base", "x-base-url", "x-forwarded-host", "x-forwarded-proto",
                           "x-upstream", "x-original-url", "x-rewrite-url", "openai-base-url", "x-provider-url"})
    headers[name] = evil_url;
  headers["x-api-key"] = test_secret("client-x-api-key");
  headers["api-key"] = test_secret("client-azure-key");
  headers["openai-organization"] = "org-client";
  HttpResponse r = http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("gpt-test", fields), headers);
  EXPECT_EQ(r.status, 200) << r.body;
  SseReader sse(gw.port(), "/v1/chat/completions", chat_body("gpt-test", {{"stream", true}, {"base_url", evil_url}}),
                headers);
  EXPECT_EQ(sse.status(), 200);
  sse.remaining_events();
  // Model names that look like URLs or paths are names, nothing more.
  for (const std::string& model : std::vector<std::string>{evil_url + "/chat/completions", "../../../v1/models", "gpt-test/../../x",
                                  "//127.0.0.1:" + std::to_string(evil.port()), "gpt-test?x=1", "gpt-test#f"})
    EXPECT_EQ(http_request(gw.port(), "POST", "/v1/chat/completions", chat_body(model), bearer(kKeyB)).status, 404)
        << model;
  // An absolute-form request target names a host too.
  r = http_request(gw.port(), "POST", evil_url + "/chat/completions", chat_body("gpt-test"), bearer(kKeyB));
  EXPECT_EQ(r.status, 200) << "served by the configured upstream: " << r.body;

  EXPECT_EQ(evil.request_count(), 0u);
  EXPECT_EQ(evil.connections_accepted(), 0);
  const auto seen = fake.requests();
  ASSERT_EQ(seen.size(), 3u);
  for (const Recorded& req : seen) {
    EXPECT_EQ(req.target, "/v1/chat/completions");
    EXPECT_EQ(req.headers.at("authorization"), "Bearer " + kCanary) << "the provider's key, not the client's";
    EXPECT_EQ(req.headers.count("x-api-key"), 0u);
    EXPECT_EQ(req.headers.count("api-key"), 0u);
    EXPECT_EQ(req.headers.count("openai-organization"), 0u);
    EXPECT_EQ(req.headers.count("x-forwarded-host"), 0u);
    EXPECT_EQ(req.headers.at("host"), "127.0.0.1:" + std::to_string(fake.port()));
  }
}

TEST_F(Auth, ProviderInternalsInResponseHeadersAreNotRelayed) {
  Behaviour b;
  b.response_headers = {{"set-cookie", "__cf_bm=secret; path=/"}, {"openai-organization", "org-internal"},
                        {"openai-project", "proj_internal"}, {"x-request-id", "req_upstream"},
                        {"openai-processing-ms", "12"}, {"x-ratelimit-remaining-requests", "99"}};
  fake.set_behaviour(b);
  Gateway gw(yaml(kTwoKeys));
  ASSERT_TRUE(gw.started());
  HttpResponse r = http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("gpt-test"), bearer(kKeyB));
  ASSERT_EQ(r.status, 200);
  for (const char* name : {"set-cookie", "openai-organization", "openai-project", "openai-processing-ms"})
    EXPECT_EQ(r.headers.count(name), 0u) << name;
  EXPECT_NE(r.headers["x-request-id"], "req_upstream") << "the gateway's own request id";
  SseReader sse(gw.port(), "/v1/chat/completions", chat_body("gpt-test", {{"stream", true}}), bearer(kKeyB));
  ASSERT_EQ(sse.status(), 200);
  EXPECT_EQ(sse.headers().count("set-cookie"), 0u);
  EXPECT_EQ(sse.headers().count("openai-organization"), 0u);
}

// The canary provider key travels only to its provider: not into any
// answer, error or log line, whatever the upstream says back.
TEST_F(Auth, TheCanaryProviderKeyIsInNoResponseAndNoLogLine) {
  std::string logs, bodies;
  {
    Gateway gw(yaml(kTwoKeys), {.log_level = "debug"});
    ASSERT_TRUE(gw.started());
    StdoutCapture capture;
    const auto ask = [&](json fake_behaviour, bool stream = false) {
      json extra = {{"x_fake", fake_behaviour}};
      if (stream) extra["stream"] = true;
      const HttpResponse r =
          http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("gpt-test", extra), bearer(kKeyB));
      bodies += std::to_string(r.status) + " " + r.body + "\n";
      for (const auto& [name, value] : r.headers) bodies += name + ": " + value + "\n";
    };
    const std::string quoting = "Incorrect API key provided: " + kCanary + ". You can find your API key at ...";
    ask(json::object());
    ask(json::object(), true);
    ask({{"status", 401}, {"error_body", R"({"error":{"message":")" + quoting + R"(","type":"invalid_request_error"}})"}});
    ask({{"status", 400}, {"error_body", R"({"error":{"message":"bad header Authorization: Bearer )" + kCanary +
                                             R"(","type":"invalid_request_error","param":null,"code":null}})"}});
    ask({{"status", 500}, {"error_body", "upstream debug: Authorization: Bearer " + kCanary}});
    ask({{"status", 429}, {"error_body", "slow down " + kCanary}, {"retry_after_s", 0}});
    ask({{"status", 200}, {"success_body", "<html>" + kCanary + "</html>"}, {"content_type", "text/html"}});
    logs = capture.contents();
  }
  EXPECT_EQ(bodies.find(kCanary), std::string::npos) << bodies;
  EXPECT_EQ(logs.find(kCanary), std::string::npos) << logs;
  EXPECT_EQ(logs.find(kKeyB), std::string::npos);
}

}  // namespace
}  // namespace sluice::test
