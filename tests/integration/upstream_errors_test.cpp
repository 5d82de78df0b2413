// What the client sees when an upstream fails, and failover between the
// deployments of one model: retryable failures move on, a 4xx does not.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "gateway_fixture.hpp"
#include "support/fake_upstream.hpp"
#include "support/stdout_capture.hpp"
#include "support/canary.hpp"
#include "support/test_client.hpp"

namespace sluice::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// The OpenAI error shape: {"error":{"message":string,"type":string,"param":..,"code":..}}.
void expect_openai_error(const HttpResponse& res) {
  const json j = parse_json(res.body);
  ASSERT_TRUE(j.is_object()) << res.body;
  ASSERT_TRUE(j.contains("error") && j["error"].is_object()) << res.body;
  const json& e = j["error"];
  EXPECT_TRUE(e["message"].is_string()) << res.body;
  EXPECT_TRUE(e["type"].is_string()) << res.body;
  EXPECT_TRUE(e.contains("param")) << res.body;
  EXPECT_TRUE(e.contains("code")) << res.body;
  EXPECT_EQ(res.headers.count("content-type") ? res.headers.at("content-type") : "", "application/json");
  EXPECT_FALSE(res.headers.count("x-request-id") == 0) << "every response carries x-request-id";
}

HttpResponse chat(uint16_t port, json x_fake, std::chrono::milliseconds timeout = 10s) {
  return http_request(port, "POST", "/v1/chat/completions", chat_body("gpt-test", {{"x_fake", std::move(x_fake)}}), {},
                      timeout);
}

class UpstreamErrors : public ::testing::Test {
 protected:
  FakeUpstream fake;
};

TEST_F(UpstreamErrors, ServerErrorsBecome502AfterTheGatewaysOwnRetries) {
  // One retry layer: the gateway makes 1 + max_retries (2) attempts, then
  // tells the SDK not to multiply them (its own 2 retries would make 9 calls).
  Gateway gw(single_openai_yaml(fake.base_url()));
  ASSERT_TRUE(gw.started());
  for (int status : {500, 503}) {
    const std::size_t before = fake.request_count();
    HttpResponse res = chat(gw.port(), {{"status", status}});
    EXPECT_EQ(res.status, 502) << status << ": " << res.body;
    expect_openai_error(res);
    EXPECT_EQ(fake.request_count() - before, 3u);
    EXPECT_EQ(res.headers["x-should-retry"], "false");
    EXPECT_NE(parse_json(res.body)["error"]["message"].get<std::string>().find("up"), std::string::npos);
  }
}

TEST_F(UpstreamErrors, OpenAiShaped400IsRelayedAsIs) {
  Gateway gw(single_openai_yaml(fake.base_url()));
  ASSERT_TRUE(gw.started());
  const std::string upstream_body =
      R"({"error":{"message":"Invalid 'messages[0].role': unknown role","type":"invalid_request_error","param":"messages[0].role","code":"invalid_value"}})";
  HttpResponse res = chat(gw.port(), {{"status", 400}, {"error_body", upstream_body}});
  EXPECT_EQ(res.status, 400) << res.body;
  EXPECT_EQ(res.body, upstream_body);
  EXPECT_EQ(res.headers["x-should-retry"], "false");
  EXPECT_FALSE(res.headers["x-request-id"].empty());
}

// An upstream that quotes the request's headers back (a proxy, a debugging
// server) would hand the gateway's own key to whoever asked. Every configured
// secret is taken out of what the upstream says, and the relayed body stays
// the JSON it was.
TEST_F(UpstreamErrors, SecretsTheUpstreamEchoesNeverReachTheClientOrTheLog) {
  const std::string key = test_secret("provider");
  const std::string header_secret = test_secret("tenant-token");
  Gateway gw(single_openai_yaml(fake.base_url(), "gpt-test",
                                {{"api_key", key}, {"headers", "{X-Tenant-Token: " + header_secret + "}"}}),
             {.log_level = "warn"});
  ASSERT_TRUE(gw.started());
  const std::string quoting = "Invalid header 'Authorization: Bearer " + key + "' (x-tenant-token: " + header_secret + ")";
  const std::string upstream_400 = json{{"error", {{"message", quoting}, {"type", "invalid_request_error"},
                                                   {"param", nullptr}, {"code", "bad_header"}}}}.dump();
  const std::string upstream_503 = json{{"error", {{"message", quoting}, {"type", "server_error"}}}}.dump();
  std::string logs;
  std::vector<HttpResponse> answers;
  {
    StdoutCapture capture;
    for (bool stream : {false, true}) {
      answers.push_back(http_request(gw.port(), "POST", "/v1/chat/completions",
                                     chat_body("gpt-test", {{"stream", stream},
                                                            {"x_fake", {{"status", 400}, {"error_body", upstream_400}}}})));
      answers.push_back(http_request(gw.port(), "POST", "/v1/chat/completions",
                                     chat_body("gpt-test", {{"stream", stream},
                                                            {"x_fake", {{"status", 503}, {"error_body", upstream_503}}}})));
    }
    logs = capture.contents();
  }
  for (const HttpResponse& res : answers) {
    EXPECT_TRUE(res.status == 400 || res.status == 502) << res.status << res.body;
    expect_openai_error(res);
    EXPECT_EQ(res.body.find(key), std::string::npos) << res.body;
    EXPECT_EQ(res.body.find(header_secret), std::string::npos) << res.body;
    const std::string message = parse_json(res.body)["error"]["message"];
    EXPECT_NE(message.find("'Authorization: Bearer [redacted]' (x-tenant-token: [redacted])"), std::string::npos)
        << message;
  }
  EXPECT_EQ(parse_json(answers[0].body)["error"]["code"], "bad_header") << "the upstream's body, redacted: " << answers[0].body;
  EXPECT_NE(logs.find("upstream_attempt_failed"), std::string::npos) << logs;
  EXPECT_EQ(logs.find(key), std::string::npos) << logs;
  EXPECT_EQ(logs.find(header_secret), std::string::npos) << logs;
}

TEST_F(UpstreamErrors, UpstreamNotFoundStatusIsPassedThrough) {
  Gateway gw(single_openai_yaml(fake.base_url()));
  ASSERT_TRUE(gw.started());
  HttpResponse res = chat(gw.port(), {{"status", 404}});
  EXPECT_EQ(res.status, 404) << res.body;
  expect_openai_error(res);
}

TEST_F(UpstreamErrors, NonOpenAiErrorBodyIsWrappedInOpenAiShape) {
  Gateway gw(single_openai_yaml(fake.base_url()));
  ASSERT_TRUE(gw.started());
  HttpResponse res = chat(gw.port(), {{"status", 422}, {"error_body", "<html>nope</html>"}});
  EXPECT_EQ(res.status, 422) << res.body;
  expect_openai_error(res);
  EXPECT_EQ(res.body.find("<html>"), std::string::npos);
}

TEST_F(UpstreamErrors, RateLimit429CarriesRetryAfter) {
  Gateway gw(single_openai_yaml(fake.base_url()));
  ASSERT_TRUE(gw.started());
  HttpResponse res = chat(gw.port(), {{"status", 429}, {"retry_after_s", 7}});
  EXPECT_EQ(res.status, 429) << res.body;
  expect_openai_error(res);
  EXPECT_EQ(res.headers["retry-after"], "7");
  EXPECT_EQ(res.headers["x-should-retry"], "true");
}

TEST_F(UpstreamErrors, RateLimit429WithoutRetryAfterStillSaysWhenToRetry) {
  Gateway gw(single_openai_yaml(fake.base_url()));
  ASSERT_TRUE(gw.started());
  HttpResponse res = chat(gw.port(), {{"status", 429}});
  EXPECT_EQ(res.status, 429) << res.body;
  EXPECT_FALSE(res.headers["retry-after"].empty()) << "a 429 without Retry-After makes clients hammer";
}

TEST_F(UpstreamErrors, FirstByteTimeoutGives504) {
  Gateway gw(single_openai_yaml(fake.base_url(), "gpt-test", {{"first_byte_timeout", "300ms"}}));
  ASSERT_TRUE(gw.started());
  const auto t0 = Clock::now();
  HttpResponse res = chat(gw.port(), {{"hang", true}}, 5s);
  const auto elapsed = Clock::now() - t0;
  EXPECT_EQ(res.status, 504) << res.error << res.body;
  expect_openai_error(res);
  EXPECT_EQ(parse_json(res.body)["error"]["message"], "provider 'up' did not answer in time") << res.body;
  EXPECT_EQ(res.headers["x-should-retry"], "false") << "the gateway retried already";
  EXPECT_GE(elapsed, 250ms);
  EXPECT_LT(elapsed, 2s);
  EXPECT_TRUE(fake.wait_for_closed(1, 1s)) << "the timed-out upstream connection is closed, not pooled";
}

TEST_F(UpstreamErrors, StreamFirstByteTimeoutGives504) {
  Gateway gw(single_openai_yaml(fake.base_url(), "gpt-test", {{"first_byte_timeout", "300ms"}}));
  ASSERT_TRUE(gw.started());
  HttpResponse res = http_request(gw.port(), "POST", "/v1/chat/completions",
                                  chat_body("gpt-test", {{"stream", true}, {"x_fake", {{"hang", true}}}}), {}, 5s);
  EXPECT_EQ(res.status, 504) << res.error << res.body;
  expect_openai_error(res);
}

TEST_F(UpstreamErrors, IdleTimeoutMidStreamEndsWithErrorEvent) {
  Gateway gw(single_openai_yaml(fake.base_url(), "gpt-test", {{"idle_timeout", "300ms"}}), {.log_level = "warn"});
  ASSERT_TRUE(gw.started());
  std::string logs, request_id;
  std::vector<std::string> events;
  {
    StdoutCapture capture;
    SseReader sse(gw.port(), "/v1/chat/completions",
                  chat_body("gpt-test", {{"stream", true}, {"x_fake", {{"chunk_delay_ms", 5'000}}}}), {}, 5s);
    ASSERT_EQ(sse.status(), 200);
    request_id = sse.headers().at("x-request-id");
    const auto t0 = Clock::now();
    events = sse.remaining_events(3s);
    EXPECT_FALSE(sse.timed_out());
    EXPECT_LT(Clock::now() - t0, 2s);
    logs = capture.contents();
  }
  ASSERT_FALSE(events.empty());
  ASSERT_TRUE(is_error_event(events.back())) << events.back();
  EXPECT_EQ(parse_json(events.back())["error"]["code"], "upstream_timeout");
  // The client learns what happened; where the upstream lives stays in the log.
  const std::string address = "127.0.0.1:" + std::to_string(fake.port());
  EXPECT_EQ(events.back().find(address), std::string::npos) << events.back();
  const std::string line = log_line(logs, "upstream_attempt_failed", request_id);
  EXPECT_NE(line.find(address), std::string::npos) << logs;
  EXPECT_NE(line.find("300 ms"), std::string::npos) << line;
}

TEST_F(UpstreamErrors, StreamFailingBeforeItsFirstEventGetsARealStatus) {
  // Nothing reached the client yet, so the status can still say what happened:
  // a 502 in the OpenAI error shape, not a 200 followed by an error event.
  Gateway gw(single_openai_yaml(fake.base_url(), "gpt-test"));
  ASSERT_TRUE(gw.started());
  HttpResponse res = http_request(gw.port(), "POST", "/v1/chat/completions",
                                  chat_body("gpt-test", {{"stream", true}, {"x_fake", {{"drop_before_events", true}}}}));
  EXPECT_EQ(res.status, 502) << res.body;
  expect_openai_error(res);
  EXPECT_EQ(res.headers["x-should-retry"], "false") << "the gateway retried already";
  EXPECT_FALSE(res.headers["x-request-id"].empty());
}

TEST_F(UpstreamErrors, UnreachableUpstreamGives502WithoutItsAddress) {
  // The client is told which (logical) provider could not be reached, not
  // where it lives; the address and the system's words go to the log, under
  // the request id.
  const std::uint16_t port = closed_port();
  const std::string address = "127.0.0.1:" + std::to_string(port);
  Gateway gw(ConfigBuilder()
                 .openai_provider("deadprov", "http://" + address + "/v1")
                 .model("gpt-test", {{"deadprov", "gpt-test"}})
                 .yaml(),
             {.log_level = "warn"});
  ASSERT_TRUE(gw.started());
  std::string logs;
  HttpResponse res;
  {
    StdoutCapture capture;
    res = http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("gpt-test"));
    logs = capture.contents();
  }
  EXPECT_EQ(res.status, 502) << res.body;
  expect_openai_error(res);
  EXPECT_EQ(parse_json(res.body)["error"]["message"], "the connection to provider 'deadprov' failed") << res.body;
  EXPECT_EQ(res.body.find("127.0.0.1"), std::string::npos) << res.body;
  EXPECT_EQ(res.body.find(std::to_string(port)), std::string::npos) << res.body;
  EXPECT_EQ(res.headers["x-should-retry"], "false") << "the gateway retried already";
  const std::string line = log_line(logs, "upstream_attempt_failed", res.headers["x-request-id"]);
  EXPECT_NE(line.find(address), std::string::npos) << logs;
  EXPECT_NE(line.find("connect"), std::string::npos) << line;
  EXPECT_NE(line.find("deadprov"), std::string::npos) << line;
}

TEST_F(UpstreamErrors, WithoutGatewayRetriesTheClientIsInvitedToRetry) {
  Gateway gw(single_openai_yaml(fake.base_url(), "gpt-test", {{"max_retries", "0"}}));
  ASSERT_TRUE(gw.started());
  HttpResponse res = chat(gw.port(), {{"status", 503}});
  EXPECT_EQ(res.status, 502) << res.body;
  EXPECT_EQ(fake.request_count(), 1u);
  EXPECT_EQ(res.headers["x-should-retry"], "true");
}

// The provider refused the gateway's own key: the client can do nothing about
// it, and neither can a retry on the same deployment. One upstream call, a
// 502 that says why without naming a host or the key, x-should-retry: false,
// and an error line for the operator.
TEST_F(UpstreamErrors, RefusedCredentialsAreNeverRetried) {
  const std::string key = test_secret("provider-refused");
  Gateway gw(single_openai_yaml(fake.base_url(), "gpt-test", {{"api_key", key}}), {.log_level = "warn"});
  ASSERT_TRUE(gw.started());
  std::string logs;
  std::vector<HttpResponse> answers;
  std::vector<std::size_t> calls;
  const int statuses[] = {401, 403};
  {
    StdoutCapture capture;
    for (int status : statuses) {
      const std::size_t before = fake.request_count();
      answers.push_back(chat(gw.port(), {{"status", status}}));
      calls.push_back(fake.request_count() - before);
    }
    logs = capture.contents();
  }
  for (std::size_t i = 0; i < answers.size(); ++i) {
    const HttpResponse& res = answers[i];
    EXPECT_EQ(res.status, 502) << res.body;
    expect_openai_error(res);
    EXPECT_EQ(calls[i], 1u) << "not retried by the gateway";
    EXPECT_EQ(res.headers.at("x-should-retry"), "false") << "nor by the client";
    const json error = parse_json(res.body)["error"];
    EXPECT_EQ(error["code"], "upstream_credentials_refused") << res.body;
    EXPECT_NE(error["message"].get<std::string>().find("credentials"), std::string::npos) << res.body;
    EXPECT_EQ(res.body.find(key), std::string::npos) << res.body;
    EXPECT_EQ(res.body.find("127.0.0.1"), std::string::npos) << res.body;
    // An error line for the operator, naming the provider and the status.
    const std::string line = log_line(logs, "upstream_credentials_refused", res.headers.at("x-request-id"));
    EXPECT_NE(line.find(" error "), std::string::npos) << logs;
    EXPECT_NE(line.find("provider=up"), std::string::npos) << line;
    EXPECT_NE(line.find("status=" + std::to_string(statuses[i])), std::string::npos) << line;
  }
  EXPECT_EQ(logs.find(key), std::string::npos) << "never the key: " << logs;
}

TEST_F(UpstreamErrors, TruncatedNonStreamBodyGives502) {
  Gateway gw(single_openai_yaml(fake.base_url()));
  ASSERT_TRUE(gw.started());
  HttpResponse res = chat(gw.port(), {{"drop_after", 10}});
  EXPECT_EQ(res.status, 502) << res.body;
  expect_openai_error(res);
}

// What a CDN in front of an upstream answers in place of the answer.
const std::string kHtmlPage = "<html>\n<head><title>502 Bad Gateway</title></head>\n<body>cloudflare</body>\n</html>\n";

TEST_F(UpstreamErrors, Html200Becomes502NotAnAnswer) {
  Gateway gw(single_openai_yaml(fake.base_url()));
  ASSERT_TRUE(gw.started());
  HttpResponse res = chat(gw.port(), {{"success_body", kHtmlPage}, {"content_type", "text/html"}});
  EXPECT_EQ(res.status, 502) << res.body;
  expect_openai_error(res);
  EXPECT_EQ(res.body.find("<html>"), std::string::npos) << res.body;
  const json error = parse_json(res.body)["error"];
  EXPECT_EQ(error["code"], "upstream_protocol_error");
  EXPECT_NE(error["message"].get<std::string>().find("not JSON"), std::string::npos) << res.body;
  EXPECT_EQ(fake.request_count(), 3u) << "an upstream protocol error is retried like an outage";
  EXPECT_EQ(res.headers["x-should-retry"], "false");
}

TEST_F(UpstreamErrors, NonJsonStreamEventFirstGets502) {
  Gateway gw(single_openai_yaml(fake.base_url()));
  ASSERT_TRUE(gw.started());
  HttpResponse res = http_request(gw.port(), "POST", "/v1/chat/completions",
                                  chat_body("gpt-test", {{"stream", true}, {"x_fake", {{"garbage_event_at", 0}}}}));
  EXPECT_EQ(res.status, 502) << res.body;
  expect_openai_error(res);
  EXPECT_EQ(parse_json(res.body)["error"]["code"], "upstream_protocol_error");
}

TEST_F(UpstreamErrors, NonJsonStreamEventLaterEndsWithErrorEvent) {
  Gateway gw(single_openai_yaml(fake.base_url()));
  ASSERT_TRUE(gw.started());
  // Events: role, c0, then the broken one.
  SseReader sse(gw.port(), "/v1/chat/completions",
                chat_body("gpt-test", {{"stream", true}, {"x_fake", {{"garbage_event_at", 2}}}}), {}, 5s);
  ASSERT_EQ(sse.status(), 200);
  const auto events = sse.remaining_events(3s);
  EXPECT_FALSE(sse.timed_out());
  ASSERT_EQ(events.size(), 3u) << sse.body();
  EXPECT_EQ(parse_json(events[1])["choices"][0]["delta"]["content"], "c0");
  ASSERT_TRUE(is_error_event(events.back())) << events.back();
  EXPECT_EQ(parse_json(events.back())["error"]["code"], "upstream_protocol_error");
  EXPECT_EQ(sse.body().find("<html>"), std::string::npos) << sse.body();
}

// ---------------------------------------------------------------------------
// Failover

class Failover : public ::testing::Test {
 protected:
  // "first" is the primary, "second" the fallback.
  std::string two_deployments(YamlPairs provider_extra = {}) {
    return ConfigBuilder()
        .openai_provider("first", first.base_url(), provider_extra)
        .openai_provider("second", second.base_url(), provider_extra)
        .model_with("gpt-test", {{"first", "m1", {}}, {"second", "m2", {{"priority", "1"}}}})
        .yaml();
  }
  // A streamed request through two_deployments() is answered whole by "second".
  void expect_stream_served_by_second() {
    Gateway gw(two_deployments());
    ASSERT_TRUE(gw.started());
    SseReader sse(gw.port(), "/v1/chat/completions", chat_body("gpt-test", {{"stream", true}}));
    ASSERT_EQ(sse.status(), 200);
    EXPECT_EQ(sse.headers().at("x-sluice-provider"), "second");
    const auto events = sse.remaining_events();
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.back(), "[DONE]");
  }
  void first_answers(int status) {
    Behaviour b;
    b.status = status;
    first.set_behaviour(b);
  }
  FakeUpstream first, second;
};

TEST_F(Failover, Retryable503MovesToTheNextDeployment) {
  first_answers(503);
  Gateway gw(two_deployments());
  ASSERT_TRUE(gw.started());
  HttpResponse res = http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("gpt-test"));
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(res.headers["x-sluice-provider"], "second");
  EXPECT_EQ(res.headers["x-sluice-model"], "m2");
  EXPECT_EQ(first.request_count(), 1u);
  ASSERT_EQ(second.request_count(), 1u);
  EXPECT_EQ(parse_json(second.requests()[0].body)["model"], "m2");
}

TEST_F(Failover, StreamingRequestFailsOverBeforeTheFirstByte) {
  first_answers(500);
  expect_stream_served_by_second();
}

TEST_F(Failover, StreamBreakingBeforeItsFirstEventFailsOver) {
  // The 200 head arrived, but no event reached the client yet: still free to go elsewhere.
  Behaviour broken;
  broken.drop_before_events = true;
  first.set_behaviour(broken);
  expect_stream_served_by_second();
  EXPECT_EQ(first.request_count(), 1u);
  EXPECT_EQ(second.request_count(), 1u);
}

TEST_F(Failover, Html200MovesToTheNextDeployment) {
  Behaviour html;
  html.success_body = kHtmlPage;
  html.content_type = "text/html";
  first.set_behaviour(html);
  Gateway gw(two_deployments());
  ASSERT_TRUE(gw.started());
  HttpResponse res = http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("gpt-test"));
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(res.headers["x-sluice-provider"], "second");
  EXPECT_EQ(parse_json(res.body)["model"], "m2");
  EXPECT_EQ(first.request_count(), 1u);
  EXPECT_EQ(second.request_count(), 1u);
}

TEST_F(Failover, StreamWhoseFirstEventIsNotJsonFailsOver) {
  Behaviour garbage;
  garbage.garbage_event_at = 0;
  first.set_behaviour(garbage);
  expect_stream_served_by_second();
  EXPECT_EQ(first.request_count(), 1u);
}

TEST_F(Failover, UnreachableFirstDeploymentMovesOn) {
  const std::uint16_t port = closed_port();
  Gateway gw(ConfigBuilder()
                 .openai_provider("dead", "http://127.0.0.1:" + std::to_string(port) + "/v1")
                 .openai_provider("second", second.base_url())
                 .model_with("gpt-test", {{"dead", "m1", {}}, {"second", "m2", {{"priority", "1"}}}})
                 .yaml());
  ASSERT_TRUE(gw.started());
  HttpResponse res = http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("gpt-test"));
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(res.headers["x-sluice-provider"], "second");
}

TEST_F(Failover, RateLimitedFirstDeploymentMovesOn) {
  first_answers(429);
  Gateway gw(two_deployments());
  ASSERT_TRUE(gw.started());
  HttpResponse res = http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("gpt-test"));
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(res.headers["x-sluice-provider"], "second");
}

TEST_F(Failover, ClientError400IsNotRetried) {
  first_answers(400);
  Gateway gw(two_deployments());
  ASSERT_TRUE(gw.started());
  HttpResponse res = http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("gpt-test"));
  EXPECT_EQ(res.status, 400) << res.body;
  EXPECT_EQ(first.request_count(), 1u);
  EXPECT_EQ(second.request_count(), 0u) << "a 4xx would fail the same way elsewhere";
  EXPECT_EQ(res.headers["x-should-retry"], "false");
}

TEST_F(Failover, RefusedCredentialsMoveToAnotherAccountAndTakeTheDeploymentOut) {
  // Another provider account has another key: it may serve. The refused
  // deployment is out for later requests too, instead of being asked again.
  first_answers(401);
  Gateway gw(two_deployments());
  ASSERT_TRUE(gw.started());
  for (int i = 0; i < 3; ++i) {
    HttpResponse res = http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("gpt-test"));
    ASSERT_EQ(res.status, 200) << res.body;
    EXPECT_EQ(res.headers["x-sluice-provider"], "second");
  }
  EXPECT_EQ(first.request_count(), 1u);
  EXPECT_EQ(second.request_count(), 3u);
}

TEST_F(Failover, AllDeploymentsFailingGivesTheLastError) {
  first_answers(503);
  Behaviour b;
  b.status = 500;
  second.set_behaviour(b);
  Gateway gw(two_deployments({{"max_retries", "1"}}));
  ASSERT_TRUE(gw.started());
  HttpResponse res = http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("gpt-test"));
  EXPECT_EQ(res.status, 502) << res.body;
  expect_openai_error(res);
  EXPECT_EQ(first.request_count(), 1u);
  EXPECT_EQ(second.request_count(), 1u);
  EXPECT_NE(parse_json(res.body)["error"]["message"].get<std::string>().find("second"), std::string::npos) << res.body;
}

}  // namespace
}  // namespace sluice::test
