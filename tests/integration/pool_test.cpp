// The provider pool end to end: weighted traffic split, cooldown after a 429,
// ejection of a provider that is down, RPM limits under a burst, and the
// headers and errors a client sees. Real daemon, fake upstreams on loopback.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "gateway_fixture.hpp"
#include "support/fake_upstream.hpp"
#include "support/test_client.hpp"

namespace sluice::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

HttpResponse chat(uint16_t port) {
  return http_request(port, "POST", "/v1/chat/completions", chat_body("pooled"), {}, 10s);
}

class Pool : public ::testing::Test {
 protected:
  // Providers "a" and "b" (OpenAI type, at the two fakes) serving model "pooled".
  std::string two_providers(YamlPairs a_extra, YamlPairs b_extra,
                            std::vector<ConfigBuilder::DeploymentYaml> deployments = {}) {
    if (deployments.empty()) deployments = {{"a", "m-a", {}}, {"b", "m-b", {}}};
    return ConfigBuilder()
        .openai_provider("a", a.base_url(), std::move(a_extra))
        .openai_provider("b", b.base_url(), std::move(b_extra))
        .model_with("pooled", std::move(deployments))
        .yaml();
  }

  static void answer(FakeUpstream& fake, int status, int retry_after_s = -1) {
    Behaviour behaviour;
    behaviour.status = status;
    behaviour.retry_after_s = retry_after_s;
    fake.set_behaviour(behaviour);
  }

  FakeUpstream a, b;
};

TEST_F(Pool, Weights3To1SplitTheTraffic) {
  Gateway gw(two_providers({{"weight", "3"}}, {{"weight", "1"}}));
  ASSERT_TRUE(gw.started());
  constexpr int kRequests = 800;
  for (int i = 0; i < kRequests; ++i) ASSERT_EQ(chat(gw.port()).status, 200) << i;
  const double share_a = static_cast<double>(a.request_count()) / kRequests;
  EXPECT_EQ(a.request_count() + b.request_count(), static_cast<std::size_t>(kRequests));
  // Binomial(800, 0.75): the standard deviation is 1.5 points; 6 is four of them.
  EXPECT_NEAR(share_a, 0.75, 0.06) << a.request_count() << " vs " << b.request_count();
}

TEST_F(Pool, DeploymentWeightsOverrideProviderWeights) {
  Gateway gw(two_providers({{"weight", "1"}}, {{"weight", "1"}},
                           {{"a", "m-a", {{"weight", "1"}}}, {"b", "m-b", {{"weight", "9"}}}}));
  ASSERT_TRUE(gw.started());
  for (int i = 0; i < 400; ++i) ASSERT_EQ(chat(gw.port()).status, 200);
  EXPECT_NEAR(static_cast<double>(b.request_count()) / 400, 0.9, 0.06);
}

TEST_F(Pool, RateLimitedProviderGetsNoTrafficForItsRetryAfter) {
  answer(a, 429, 2);
  Gateway gw(two_providers({}, {}));
  ASSERT_TRUE(gw.started());
  // Until a has been asked once (and answered 429), every client request still succeeds.
  for (int i = 0; i < 200 && a.request_count() == 0; ++i) ASSERT_EQ(chat(gw.port()).status, 200);
  ASSERT_EQ(a.request_count(), 1u);
  const auto limited_at = Clock::now();
  answer(a, 200);  // a has recovered, but the gateway must keep away for 2 s
  int served = 0;
  // Until 1.5 s: limited_at is later than the gateway's cooldown start by
  // the 429's way back, and a stalled machine could stretch that.
  while (Clock::now() - limited_at < 1500ms && served < 2000) {
    const HttpResponse res = chat(gw.port());
    ASSERT_EQ(res.status, 200) << res.body;
    EXPECT_EQ(res.headers.at("x-sluice-provider"), "b");
    ++served;
  }
  EXPECT_EQ(a.request_count(), 1u) << "traffic reached a during its cooldown";
  EXPECT_GT(served, 10);
  std::this_thread::sleep_until(limited_at + 2100ms);
  for (int i = 0; i < 200 && a.request_count() == 1; ++i) ASSERT_EQ(chat(gw.port()).status, 200);
  EXPECT_GT(a.request_count(), 1u) << "a should be back after its cooldown";
}

TEST_F(Pool, ProviderThatIsDownIsEjectedAndClientsSeeNoErrors) {
  answer(a, 503);
  Gateway gw(two_providers({}, {}));
  ASSERT_TRUE(gw.started());
  for (int i = 0; i < 200; ++i) {
    const HttpResponse res = chat(gw.port());
    ASSERT_EQ(res.status, 200) << i << ": " << res.body;
    EXPECT_EQ(res.headers.at("x-sluice-provider"), "b");
  }
  // Three consecutive failures eject a for 5 s; the test is over long before.
  EXPECT_EQ(a.request_count(), 3u);
  EXPECT_EQ(b.request_count(), 200u);
}

TEST_F(Pool, UnreachableProviderIsEjectedToo) {
  const std::uint16_t port = closed_port();
  Gateway gw(ConfigBuilder()
                 .openai_provider("dead", "http://127.0.0.1:" + std::to_string(port) + "/v1")
                 .openai_provider("b", b.base_url())
                 .model("pooled", {{"dead", "m"}, {"b", "m"}})
                 .yaml());
  ASSERT_TRUE(gw.started());
  for (int i = 0; i < 100; ++i) ASSERT_EQ(chat(gw.port()).status, 200) << i;
  EXPECT_EQ(b.request_count(), 100u);
}

// Without the overflow queue (max_wait 0): what the pool itself does. The
// queue's own test of a burst is in queue_test.cpp.
TEST_F(Pool, RpmLimitIsNeverExceededUnderABurst) {
  Gateway gw(ConfigBuilder()
                 .openai_provider("a", a.base_url(), {{"rpm", "60"}})
                 .model("pooled", {{"a", "m"}})
                 .queue("max_wait", "0s")
                 .yaml());
  ASSERT_TRUE(gw.started());
  constexpr int kThreads = 20, kPerThread = 25;  // 500 requests at once
  std::atomic<int> ok{0}, limited{0}, other{0}, bad_retry_after{0};
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        const HttpResponse res = chat(gw.port());
        if (res.status == 200) {
          ++ok;
        } else if (res.status == 429) {
          ++limited;
          const auto it = res.headers.find("retry-after");
          if (it == res.headers.end() || std::stoi(it->second) < 1 || res.headers.count("x-should-retry") == 0 ||
              res.headers.at("x-should-retry") != "true")
            ++bad_retry_after;
        } else {
          ++other;
        }
      }
    });
  for (auto& t : threads) t.join();
  const auto elapsed_s = std::chrono::duration<double>(Clock::now() - start).count();
  // A burst of 60, then one more per second the burst lasted.
  EXPECT_LE(static_cast<double>(a.request_count()), 60 + elapsed_s + 1) << "in " << elapsed_s << " s";
  EXPECT_GE(a.request_count(), 60u);
  EXPECT_EQ(static_cast<std::size_t>(ok.load()), a.request_count()) << "every request upstream was answered 200";
  EXPECT_EQ(ok + limited, kThreads * kPerThread);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(bad_retry_after.load(), 0) << "a 429 must say when to retry";
}

TEST_F(Pool, EverythingRateLimitedGivesA429WithTheEarliestCooldown) {
  answer(a, 429, 7);
  answer(b, 429, 3);
  Gateway gw(two_providers({}, {}) + "queue: { max_wait: 0s }\n");
  ASSERT_TRUE(gw.started());
  HttpResponse res = chat(gw.port());
  EXPECT_EQ(res.status, 429) << res.body;
  EXPECT_EQ(res.headers["retry-after"], "3");
  EXPECT_EQ(res.headers["x-should-retry"], "true");
  EXPECT_EQ(parse_json(res.body)["error"]["code"], "rate_limit_exceeded");
  EXPECT_EQ(a.request_count(), 1u);
  EXPECT_EQ(b.request_count(), 1u);
  // While both cool down, the gateway answers without bothering them.
  res = chat(gw.port());
  EXPECT_EQ(res.status, 429);
  EXPECT_EQ(a.request_count() + b.request_count(), 2u);
}

TEST_F(Pool, ResponsesSayWhoAnsweredAndWhatCapacityIsLeft) {
  Gateway gw(two_providers({{"rpm", "100"}, {"tpm", "100000"}}, {{"rpm", "50"}, {"tpm", "20000"}},
                           {{"a", "m-a", {{"rpm", "10"}}}, {"b", "m-b", {}}}));
  ASSERT_TRUE(gw.started());
  const HttpResponse res = chat(gw.port());
  ASSERT_EQ(res.status, 200) << res.body;
  const std::string provider = res.headers.at("x-sluice-provider");
  EXPECT_TRUE(provider == "a" || provider == "b") << provider;
  EXPECT_EQ(res.headers.at("x-sluice-model"), provider == "a" ? "m-a" : "m-b");
  EXPECT_EQ(res.headers.at("x-ratelimit-limit-requests"), "60");  // a: 10 (its deployment), b: 50
  EXPECT_EQ(res.headers.at("x-ratelimit-remaining-requests"), "59");
  EXPECT_EQ(res.headers.at("x-ratelimit-limit-tokens"), "120000");
}

TEST_F(Pool, OllamaModelsAreListedAndServedUnderTheirOwnNames) {
  Behaviour tags;
  tags.tags = {"llama3.1:8b", "qwen2.5:7b"};
  a.set_behaviour(tags);
  std::string server = a.base_url();
  server.resize(server.size() - 3);  // an Ollama base_url names the server, without /v1
  Gateway gw(ConfigBuilder()
                 .provider("local", "ollama", server)
                 .mock_provider("mock")
                 .model("mock-chat", {{"mock", "mock-chat"}})
                 .yaml());
  ASSERT_TRUE(gw.started());
  HttpResponse res = http_request(gw.port(), "GET", "/v1/models", "");
  ASSERT_EQ(res.status, 200) << res.body;
  const json models = parse_json(res.body)["data"];
  ASSERT_EQ(models.size(), 3u) << res.body;
  EXPECT_EQ(models[0]["id"], "mock-chat");
  EXPECT_EQ(models[1]["id"], "llama3.1:8b");
  EXPECT_EQ(models[1]["owned_by"], "local");
  EXPECT_EQ(models[2]["id"], "qwen2.5:7b");

  res = http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("qwen2.5:7b"));
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(res.headers["x-sluice-provider"], "local");
  const auto requests = a.requests();
  ASSERT_FALSE(requests.empty());
  EXPECT_EQ(requests.back().target, "/v1/chat/completions");
  EXPECT_EQ(parse_json(requests.back().body)["model"], "qwen2.5:7b");

  res = http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("mistral:7b"));
  EXPECT_EQ(res.status, 404) << "a model nobody serves is still unknown";
}

}  // namespace
}  // namespace sluice::test
