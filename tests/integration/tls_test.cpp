// HTTPS upstreams: the certificate and the host name are verified; a CA file
// from the configuration is trusted in addition to the system store.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <string>

#include "gateway_fixture.hpp"
#include "support/fake_upstream.hpp"
#include "support/stdout_capture.hpp"
#include "support/canary.hpp"
#include "support/test_client.hpp"

namespace sluice::test {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// A chat request, and the upstream_attempt_failed line the gateway logged for it.
struct Answered {
  HttpResponse response;
  std::string attempt_log;
};

Answered request_logged(Gateway& gw) {
  Answered a;
  std::string logs;
  {
    StdoutCapture capture;
    a.response = http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("gpt-test"));
    logs = capture.contents();
  }
  a.attempt_log = log_line(logs, "upstream_attempt_failed", a.response.headers["x-request-id"]);
  return a;
}

class Tls : public ::testing::Test {
 protected:
  FakeUpstream fake{FakeUpstreamOptions{.tls = true}};
  std::string url(const std::string& host) { return "https://" + host + ":" + std::to_string(fake.port()) + "/v1"; }
  std::string ca_file_yaml() {
    std::string quoted(1, '"');  // (not "\"" + ...: g++ 12 warns falsely with -Wrestrict)
    quoted += fake.ca_file();
    quoted += '"';
    return quoted;
  }
};

TEST_F(Tls, TrustedCertificateForLocalhostWorks) {
  ASSERT_EQ(fake.base_url(), url("localhost"));
  Gateway gw(single_openai_yaml(fake.base_url(), "gpt-test", {{"ca_file", ca_file_yaml()}}));
  ASSERT_TRUE(gw.started());
  HttpResponse res = http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("gpt-test"));
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(parse_json(res.body)["choices"][0]["message"]["content"], "fake answer 1");
  ASSERT_EQ(fake.request_count(), 1u);
  EXPECT_EQ(fake.requests()[0].headers["host"], "localhost:" + std::to_string(fake.port()));

  // Streams over TLS too, and the TLS connection is pooled.
  SseReader sse(gw.port(), "/v1/chat/completions", chat_body("gpt-test", {{"stream", true}}));
  ASSERT_EQ(sse.status(), 200);
  const auto events = sse.remaining_events();
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back(), "[DONE]");
  EXPECT_EQ(fake.connections_accepted(), 1);
}

TEST_F(Tls, HostNameMismatchIsRefused) {
  Gateway gw(single_openai_yaml(url("127.0.0.1"), "gpt-test", {{"ca_file", ca_file_yaml()}}), {.log_level = "warn"});
  ASSERT_TRUE(gw.started());
  const Answered a = request_logged(gw);
  EXPECT_EQ(a.response.status, 502) << a.response.body;
  EXPECT_EQ(parse_json(a.response.body)["error"]["message"], "the connection to provider 'up' failed") << a.response.body;
  const std::string line = lower(a.attempt_log);
  EXPECT_TRUE(line.find("certificate") != std::string::npos || line.find("host") != std::string::npos ||
              line.find("verif") != std::string::npos)
      << a.attempt_log;
  EXPECT_EQ(fake.request_count(), 0u) << "nothing may be sent to an unverified peer";
}

TEST_F(Tls, SelfSignedCertificateWithoutCaFileIsRefused) {
  const std::string key = test_secret("provider");
  Gateway gw(single_openai_yaml(fake.base_url(), "gpt-test", {{"api_key", key}}), {.log_level = "warn"});
  ASSERT_TRUE(gw.started());
  const Answered a = request_logged(gw);
  EXPECT_EQ(a.response.status, 502) << a.response.body;
  EXPECT_NE(lower(a.attempt_log).find("certificate"), std::string::npos) << a.attempt_log;
  EXPECT_EQ(a.response.body.find(key), std::string::npos);
  EXPECT_EQ(a.attempt_log.find(key), std::string::npos);
  EXPECT_EQ(fake.request_count(), 0u);
}

TEST_F(Tls, PlainHttpToATlsPortFails) {
  Gateway gw(single_openai_yaml("http://127.0.0.1:" + std::to_string(fake.port()) + "/v1", "gpt-test",
                                {{"first_byte_timeout", "2s"}}));
  ASSERT_TRUE(gw.started());
  HttpResponse res = http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("gpt-test"));
  EXPECT_GE(res.status, 502) << res.error << res.body;
  EXPECT_LE(res.status, 504) << res.body;
}

}  // namespace
}  // namespace sluice::test
