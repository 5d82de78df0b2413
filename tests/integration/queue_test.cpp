// The overflow queue through the real daemon (memory backend): requests that
// find no capacity wait and are answered when it returns (with
// x-sluice-queued-ms), a burst over a provider's RPM is served whole without
// the upstream going over its limit, deadlines, a full queue, a client that
// leaves while waiting, a stream kept alive while it waits, async jobs (202,
// polling, tenant isolation), and shutdown. Capacity is taken away by a
// 429 with Retry-After (the deployment cools down for that long) or by a
// small RPM; every wait is bounded.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "gateway_fixture.hpp"
#include "support/fake_upstream.hpp"
#include "support/canary.hpp"
#include "support/test_client.hpp"

namespace sluice::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

int queued_ms(const HttpResponse& r) {
  const auto it = r.headers.find("x-sluice-queued-ms");
  return it == r.headers.end() ? -1 : std::stoi(it->second);
}

class Queue : public ::testing::Test {
 protected:
  // The first request to the fake gets a 429 with Retry-After `seconds`:
  // the only deployment cools down, and what comes next waits.
  HttpResponse cool_down(Gateway& gw, int seconds) {
    return http_request(gw.port(), "POST", "/v1/chat/completions",
                        chat_body("gpt-test", {{"x_fake", {{"status", 429}, {"retry_after_s", seconds}, {"status_until", 1}}}},
                                  "first"));
  }
  // cool_down() in the background; returns once the gateway has had the 429
  // (its deployment's cooldown shows in /metrics).
  std::future<HttpResponse> start_cool_down(Gateway& gw, int seconds) {
    auto answer = std::async(std::launch::async, [&gw, this, seconds] { return cool_down(gw, seconds); });
    EXPECT_TRUE(fake.wait_for_requests(1, 2s));
    EXPECT_TRUE(wait_for_cooldown(gw.port(), "up", "gpt-test")) << "the gateway never had the 429";
    return answer;
  }
  std::string yaml(YamlPairs queue = {}) {
    ConfigBuilder b;
    b.openai_provider("up", fake.base_url(), {{"cooldown", "1s"}}).model("gpt-test", {{"up", "gpt-test"}});
    for (auto& [k, v] : queue) b.queue(k, v);
    return b.yaml();
  }
  FakeUpstream fake;
};

TEST_F(Queue, ARequestThatFindsNoCapacityWaitsAndIsAnswered) {
  Gateway gw(yaml());
  ASSERT_TRUE(gw.started());
  const auto start = Clock::now();
  const HttpResponse first = cool_down(gw, 1);  // itself waits out the cooldown it caused
  EXPECT_EQ(first.status, 200) << first.body;
  EXPECT_GE(Clock::now() - start, 900ms);
  EXPECT_GE(queued_ms(first), 800);
  EXPECT_EQ(fake.request_count(), 2u) << "the 429, then the answer";
  const HttpResponse direct = http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("gpt-test"));
  EXPECT_EQ(direct.status, 200);
  EXPECT_EQ(queued_ms(direct), -1) << "a request that did not wait says nothing";
}

TEST_F(Queue, WithMaxWaitZeroNoCapacityIsA429AtOnce) {
  Gateway gw(yaml({{"max_wait", "0s"}}));
  ASSERT_TRUE(gw.started());
  HttpResponse r = cool_down(gw, 5);
  EXPECT_EQ(r.status, 429);
  EXPECT_FALSE(r.headers["retry-after"].empty());
}

TEST_F(Queue, ADeadlinePassedIsA429ThatSaysSo) {
  Gateway gw(yaml({{"max_wait", "1s"}}));
  ASSERT_TRUE(gw.started());
  const auto start = Clock::now();
  HttpResponse r = cool_down(gw, 30);
  EXPECT_LT(Clock::now() - start, 5s);
  EXPECT_EQ(r.status, 429);
  EXPECT_NE(parse_json(r.body)["error"]["message"].get<std::string>().find("in the overflow queue"), std::string::npos)
      << r.body;
  EXPECT_GE(std::stoi(r.headers["retry-after"]), 20) << "until the cooldown ends";
  EXPECT_EQ(r.headers["x-should-retry"], "true");
}

TEST_F(Queue, TheClientsMaxWaitHeaderLowersTheWaitNeverRaisesIt) {
  Gateway gw(yaml({{"max_wait", "2s"}}));
  ASSERT_TRUE(gw.started());
  ASSERT_EQ(cool_down(gw, 30).status, 429);  // waited its 2 s
  auto start = Clock::now();
  HttpResponse r = http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("gpt-test"),
                                {{"x-sluice-max-wait", "200ms"}});
  EXPECT_EQ(r.status, 429);
  EXPECT_LT(Clock::now() - start, 1500ms);
  start = Clock::now();
  r = http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("gpt-test"), {{"x-sluice-max-wait", "1h"}});
  EXPECT_EQ(r.status, 429);
  EXPECT_LT(Clock::now() - start, 4s) << "capped by queue.max_wait";
  r = http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("gpt-test"), {{"x-sluice-max-wait", "soon"}});
  EXPECT_EQ(r.status, 400);
  r = http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("gpt-test"), {{"x-sluice-priority", "urgent"}});
  EXPECT_EQ(r.status, 400);
}

TEST_F(Queue, AFullQueueIsA429AtOnce) {
  Gateway gw(yaml({{"max_length", "1"}, {"max_wait", "3s"}}));
  ASSERT_TRUE(gw.started());
  auto waiting = start_cool_down(gw, 2);  // the first request is in the line now
  const auto start = Clock::now();
  const HttpResponse r = http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("gpt-test"));
  EXPECT_EQ(r.status, 429);
  EXPECT_LT(Clock::now() - start, 500ms);
  EXPECT_NE(r.body.find("overflow queue is full"), std::string::npos) << r.body;
  EXPECT_EQ(waiting.get().status, 200);
}

TEST_F(Queue, AClientThatLeavesWhileWaitingNeverReachesTheUpstream) {
  Gateway gw(yaml());
  ASSERT_TRUE(gw.started());
  auto first = start_cool_down(gw, 2);
  {
    RawSocket client(gw.port());
    const std::string body = chat_body("gpt-test", {}, "the client who left");
    ASSERT_TRUE(client.send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                            "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body));
    std::this_thread::sleep_for(200ms);
  }  // closed while waiting
  EXPECT_EQ(first.get().status, 200);
  std::this_thread::sleep_for(300ms);
  for (const Recorded& r : fake.requests()) EXPECT_EQ(r.body.find("the client who left"), std::string::npos);
  EXPECT_EQ(fake.request_count(), 2u);
}

// `n` requests at once against a provider limited to 60 RPM (a bucket of 60,
// then one a second): every one is answered (none 429), each reaches the
// upstream once, and the upstream never sees more than its limit allows:
// the k-th request (k > 60) arrives no sooner than k - 60 seconds after the first.
void burst_over_60_rpm(FakeUpstream& fake, int n) {
  Gateway gw(ConfigBuilder()
                 .openai_provider("up", fake.base_url(), {{"rpm", "60"}})
                 .model("gpt-test", {{"up", "gpt-test"}})
                 .queue("max_wait", std::to_string(n) + "s")
                 .yaml());
  ASSERT_TRUE(gw.started());
  const auto deadline = std::chrono::seconds(n);
  std::vector<std::future<HttpResponse>> answers;
  for (int i = 0; i < n; ++i)
    answers.push_back(std::async(std::launch::async, [&, i] {
      return http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("gpt-test", {}, "n" + std::to_string(i)),
                          {}, deadline + 10s);
    }));
  int ok = 0, queued = 0;
  for (auto& f : answers) {
    const HttpResponse r = f.get();
    ok += r.status == 200;
    queued += queued_ms(r) > 0;
  }
  EXPECT_EQ(ok, n) << "none 429";
  EXPECT_GE(queued, n - 60);
  const auto seen = fake.requests();
  ASSERT_EQ(seen.size(), std::size_t(n)) << "each request reached the upstream once";
  for (int k = 60; k < n; ++k)
    EXPECT_GE(seen[k].at - seen[0].at, std::chrono::seconds(k - 60) - 100ms) << "request " << k + 1 << " came early";
}

TEST_F(Queue, ABurstOverTheProvidersRpmIsServedWholeAndTheUpstreamStaysUnderItsLimit) {
  burst_over_60_rpm(fake, 64);  // the last four wait about a second each
}

// The size: 300 requests over 60 RPM take four minutes, so this runs
// as its own ctest test (queue_burst_300, tests/CMakeLists.txt), beside the rest.
TEST_F(Queue, DISABLED_ABurstOf300Over60RpmIsServedWhole) { burst_over_60_rpm(fake, 300); }

TEST_F(Queue, AStreamThatWaitsIsKeptAliveThenGetsItsEvents) {
  Gateway gw(yaml({{"keepalive_interval", "200ms"}}));
  ASSERT_TRUE(gw.started());
  auto first = start_cool_down(gw, 2);
  RawSocket client(gw.port());
  const std::string body = chat_body("gpt-test", {{"stream", true}});
  ASSERT_TRUE(client.send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body));
  ASSERT_TRUE(client.read_until(": queued", 1s)) << client.received();
  EXPECT_TRUE(client.received().starts_with("HTTP/1.1 200")) << client.received();
  ASSERT_TRUE(client.read_until("[DONE]", 5s)) << client.received();
  EXPECT_NE(client.received().find("\"content\""), std::string::npos);
  EXPECT_EQ(first.get().status, 200);
}

TEST_F(Queue, AsyncJobsAre202ThenPolledAndOnlyTheirTenantSeesThem) {
  const std::string key_a = test_secret("gw-queue-a"), key_b = test_secret("gw-queue-b");
  ::setenv("SLUICE_TEST_QKEY_A", key_a.c_str(), 1);
  ::setenv("SLUICE_TEST_QKEY_B", key_b.c_str(), 1);
  Gateway gw(yaml() + "auth:\n  keys:\n    - { key: \"${SLUICE_TEST_QKEY_A}\", tenant: a }\n"
                      "    - { key: \"${SLUICE_TEST_QKEY_B}\", tenant: b }\n");
  ASSERT_TRUE(gw.started());
  const Headers a = {{"Authorization", "Bearer " + key_a}, {"Prefer", "respond-async"}};
  const Headers b = {{"Authorization", "Bearer " + key_b}};
  HttpResponse r = http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("gpt-test"), a);
  ASSERT_EQ(r.status, 202) << r.body;
  const std::string id = parse_json(r.body)["id"];
  EXPECT_EQ(r.headers["location"], "/v1/jobs/" + id);
  EXPECT_EQ(r.headers["preference-applied"], "respond-async");
  json job;
  for (int i = 0; i < 50; ++i) {
    r = http_request(gw.port(), "GET", "/v1/jobs/" + id, {}, a);
    ASSERT_EQ(r.status, 200) << r.body;
    job = parse_json(r.body);
    if (job["status"] == "completed") break;
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_EQ(job["status"], "completed") << job.dump();
  EXPECT_EQ(job["response"]["status_code"], 200);
  EXPECT_EQ(job["response"]["body"]["choices"][0]["message"]["content"], "fake answer 1");
  EXPECT_EQ(http_request(gw.port(), "GET", "/v1/jobs/" + id, {}, b).status, 404) << "another tenant's job";
  EXPECT_EQ(http_request(gw.port(), "GET", "/v1/jobs/" + id).status, 401);
  EXPECT_EQ(http_request(gw.port(), "GET", "/v1/jobs/job_unknown", {}, a).status, 404);
  r = http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("gpt-test", {{"stream", true}}), a);
  EXPECT_EQ(r.status, 400) << "a job's answer is kept whole";
  ::unsetenv("SLUICE_TEST_QKEY_A");
  ::unsetenv("SLUICE_TEST_QKEY_B");
}

TEST_F(Queue, AnAsyncJobWaitsForCapacityLikeAnyRequest) {
  Gateway gw(yaml());
  ASSERT_TRUE(gw.started());
  auto first = start_cool_down(gw, 1);
  HttpResponse r = http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("gpt-test"),
                                {{"Prefer", "respond-async"}});
  ASSERT_EQ(r.status, 202);
  const std::string id = parse_json(r.body)["id"];
  r = http_request(gw.port(), "GET", "/v1/jobs/" + id);
  EXPECT_EQ(parse_json(r.body)["status"], "running") << "waiting in the queue";
  EXPECT_EQ(r.headers["retry-after"], "1");
  EXPECT_EQ(first.get().status, 200);
  for (int i = 0; i < 100 && parse_json(r.body)["status"] != "completed"; ++i) {
    std::this_thread::sleep_for(20ms);
    r = http_request(gw.port(), "GET", "/v1/jobs/" + id);
  }
  EXPECT_EQ(parse_json(r.body)["status"], "completed") << r.body;
}

TEST_F(Queue, AtShutdownWaitingRequestsAre503SoTheirRetryFindsAnotherReplica) {
  Gateway gw(yaml());
  ASSERT_TRUE(gw.started());
  auto waiting = start_cool_down(gw, 30);
  gw.begin_shutdown();
  HttpResponse r = waiting.get();
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(parse_json(r.body)["error"]["code"], "shutting_down");
  EXPECT_TRUE(gw.wait_shutdown(5s));
}

}  // namespace
}  // namespace sluice::test
