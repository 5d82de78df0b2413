// The overflow queue's redis backend through real daemons and a private
// redis-server: async jobs (202, polling, tenant isolation, across
// replicas), two daemons sharing the stream with each job run once
// upstream, kill -9 while jobs wait (every accepted job completes once),
// deadline expiry, a malformed entry moved aside, and Redis down (submit
// refused clearly; held and direct requests keep working). Every wait is
// bounded.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "daemon_process.hpp"
#include "gateway_fixture.hpp"
#include "support/fake_upstream.hpp"
#include "support/redis_server.hpp"
#include "support/canary.hpp"
#include "support/test_client.hpp"

namespace sluice::test {
namespace {

using namespace std::chrono_literals;

const std::string kKeyA = test_secret("gw-rqueue-a");
const std::string kKeyB = test_secret("gw-rqueue-b");

class RedisQueue : public ::testing::Test {
 public:
  RedisQueue() : dir_(std::filesystem::temp_directory_path() / ("sluice-rqueue-" + std::to_string(::getpid()))) {
    std::filesystem::create_directories(dir_);
    ::setenv("SLUICE_TEST_RQ_KEY_A", kKeyA.c_str(), 1);
    ::setenv("SLUICE_TEST_RQ_KEY_B", kKeyB.c_str(), 1);
  }
  ~RedisQueue() override { std::filesystem::remove_all(dir_); }

  std::string config(const std::string& queue_extra = "", const std::string& extra = "") {
    const std::string path = (dir_ / ("sluice-" + std::to_string(++configs_) + ".yaml")).string();
    std::ofstream(path) << "server:\n  listen: \"127.0.0.1:0\"\n"
                           "providers:\n  - { name: up, type: openai, base_url: \"" + fake.base_url() +
                               "\", api_key: \"" + test_secret("provider") + "\", cooldown: 1s }\n"
                               "models:\n  - { name: gpt-test, deployments: [{ provider: up, model: gpt-test }] }\n"
                               "  - { name: gpt-strong, deployments: [{ provider: up, model: gpt-strong }] }\n" + extra +
                               "auth:\n  keys:\n    - { key: \"${SLUICE_TEST_RQ_KEY_A}\", tenant: a }\n"
                               "    - { key: \"${SLUICE_TEST_RQ_KEY_B}\", tenant: b }\n"
                               "queue:\n  backend: redis\n  reclaim_after: 1s\n" + queue_extra +
                               "redis:\n  url: \"" + redis.url() + "\"\n"
                               "logging:\n  level: info\n";
    return path;
  }

  static Headers as(const std::string& key, bool async = true) {
    Headers h = {{"Authorization", "Bearer " + key}};
    if (async) h["Prefer"] = "respond-async";
    return h;
  }

  // Submits one async job; its id ("" when not accepted).
  static std::string submit(std::uint16_t port, const std::string& key, const std::string& body) {
    HttpResponse r = http_request(port, "POST", "/v1/chat/completions", body, as(key));
    EXPECT_EQ(r.status, 202) << r.body;
    if (r.status != 202) return "";
    EXPECT_EQ(r.headers["location"], "/v1/jobs/" + std::string(parse_json(r.body)["id"]));
    return parse_json(r.body)["id"];
  }

  // Polls until the job is finished or the timeout; the last job object.
  static json wait_finished(std::uint16_t port, const std::string& key, const std::string& id,
                            std::chrono::milliseconds timeout = 10s) {
    json job;
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      HttpResponse r = http_request(port, "GET", "/v1/jobs/" + id, {}, as(key, false));
      if (r.status == 200) {
        job = parse_json(r.body);
        if (job["status"] == "completed" || job["status"] == "failed") break;
      }
      std::this_thread::sleep_for(50ms);
    }
    return job;
  }

  std::string redis_cli(const std::string& args) {
    const std::string auth = redis.password().empty() ? "" : "REDISCLI_AUTH=" + redis.password() + " ";
    const std::string cmd = auth + "redis-cli -p " + std::to_string(redis.port()) + " " + args + " 2>&1";
    std::string out;
    if (FILE* p = ::popen(cmd.c_str(), "r")) {
      char buf[512];
      while (std::fgets(buf, sizeof buf, p)) out += buf;
      ::pclose(p);
    }
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    return out;
  }

  std::filesystem::path dir_;
  int configs_ = 0;
  FakeUpstream fake;
  RedisServer redis;
};

// Two daemons on one Redis, started.
struct Replicas {
  explicit Replicas(RedisQueue& t) : one({"--config", t.config()}), two({"--config", t.config()}) {
    p1 = one.wait_for_port();
    p2 = two.wait_for_port();
  }
  DaemonProcess one, two;
  std::uint16_t p1 = 0, p2 = 0;
};

TEST_F(RedisQueue, AsyncJobIs202ThenPolledAndOnlyItsTenantSeesItOnAnyReplica) {
  Replicas replicas(*this);
  const std::uint16_t p1 = replicas.p1, p2 = replicas.p2;
  ASSERT_TRUE(p1 && p2) << replicas.one.output() << replicas.two.output();
  const std::string id = submit(p1, kKeyA, chat_body("gpt-test"));
  ASSERT_FALSE(id.empty());
  const json job = wait_finished(p2, kKeyA, id);  // polled on the other replica
  ASSERT_EQ(job["status"], "completed") << job.dump();
  EXPECT_EQ(job["response"]["status_code"], 200);
  EXPECT_EQ(job["response"]["body"]["choices"][0]["message"]["content"], "fake answer 1");
  EXPECT_EQ(http_request(p1, "GET", "/v1/jobs/" + id, {}, as(kKeyB, false)).status, 404) << "another tenant's job";
  EXPECT_EQ(http_request(p2, "GET", "/v1/jobs/" + id, {}, as(kKeyB, false)).status, 404);
  EXPECT_EQ(http_request(p1, "GET", "/v1/jobs/job_unknown", {}, as(kKeyA, false)).status, 404);
  EXPECT_EQ(fake.request_count(), 1u);
}

TEST_F(RedisQueue, TwoDaemonsShareTheStreamAndEachJobRunsOnce) {
  Replicas replicas(*this);
  const std::uint16_t p1 = replicas.p1, p2 = replicas.p2;
  ASSERT_TRUE(p1 && p2) << replicas.one.output() << replicas.two.output();
  constexpr int kJobs = 40;
  std::vector<std::string> ids;
  for (int i = 0; i < kJobs; ++i) ids.push_back(submit(i % 2 ? p2 : p1, kKeyA, chat_body("gpt-test", {}, "job " + std::to_string(i))));
  for (const auto& id : ids) {
    ASSERT_FALSE(id.empty());
    EXPECT_EQ(wait_finished(p1, kKeyA, id)["status"], "completed") << id;
  }
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(fake.request_count(), std::size_t(kJobs)) << "each job reached the upstream once";
  EXPECT_EQ(redis_cli("EXISTS sluice:jobs:gpt-test:p1:t:a"), "1") << "tenant a's stream of normal priority";
  EXPECT_EQ(redis_cli("XLEN sluice:jobs:gpt-test:p1:t:a"), "0") << "finished entries are deleted";
  EXPECT_EQ(redis_cli("XPENDING sluice:jobs:gpt-test:p1:t:a sluice").substr(0, 1), "0") << "nothing left pending";
}

// A router rule that reads a request header routes the job where it runs:
// the header travels with the job through Redis.
TEST_F(RedisQueue, ARouterRulesHeaderTravelsWithTheJob) {
  DaemonProcess d({"--config", config("", "router:\n  alias: auto\n  tiers: { low: gpt-test, high: gpt-strong }\n"
                                          "  rules:\n    - { name: pinned, header: x-route, header_matches: "
                                          "\"^strong$\", tier: high }\n")});
  const std::uint16_t port = d.wait_for_port();
  ASSERT_NE(port, 0) << d.output();
  Headers h = as(kKeyA);
  h["x-route"] = "strong";
  HttpResponse r = http_request(port, "POST", "/v1/chat/completions", chat_body("auto", {}, "hi"), h);
  ASSERT_EQ(r.status, 202) << r.body;
  const json job = wait_finished(port, kKeyA, parse_json(r.body)["id"]);
  ASSERT_EQ(job["status"], "completed") << job.dump();
  ASSERT_EQ(fake.request_count(), 1u);
  EXPECT_EQ(parse_json(fake.requests()[0].body)["model"], "gpt-strong") << "the rule saw the header: tier high";
}

TEST_F(RedisQueue, KillNineWhileJobsWaitThenAnotherReplicaRunsEveryJobOnce) {
  const std::string cfg = config();
  auto a = std::make_unique<DaemonProcess>(std::vector<std::string>{"--config", cfg});
  const std::uint16_t pa = a->wait_for_port();
  ASSERT_NE(pa, 0) << a->output();
  // The first job meets a 429 with Retry-After: the deployment cools down
  // and the jobs submitted next stay in the stream (no capacity, so A does
  // not read them). The takeover of a job A had read is
  // tests/unit/queue's ADeadReplicasJobIsReclaimedAndRunOnce.
  const std::string first = submit(pa, kKeyA, chat_body("gpt-test", {{"x_fake", {{"status", 429}, {"retry_after_s", 30}, {"status_until", 1}}}}, "first"));
  ASSERT_TRUE(fake.wait_for_requests(1, 5s));
  ASSERT_TRUE(wait_for_cooldown(pa, "up", "gpt-test")) << "the 429 reached the gateway";
  std::vector<std::string> ids = {first};
  for (int i = 0; i < 5; ++i) ids.push_back(submit(pa, kKeyA, chat_body("gpt-test", {}, "queued " + std::to_string(i))));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(fake.request_count(), 1u) << "no capacity: nothing else ran";
  a->signal(SIGKILL);
  a.reset();
  DaemonProcess b({"--config", cfg});
  const std::uint16_t pb = b.wait_for_port();
  ASSERT_NE(pb, 0) << b.output();
  for (const auto& id : ids) EXPECT_EQ(wait_finished(pb, kKeyA, id, 15s)["status"], "completed") << id << b.output();
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(fake.request_count(), ids.size() + 1) << "the 429, then each accepted job once";
}

// kill -9 while a replica RUNS a job (its upstream call in flight): the
// entry stays pending, its run lease lapses, and after reclaim_after the
// other replica takes it over and completes it. The first attempt's answer
// reached nobody; the upstream saw the job twice (at least once, as
// docs/configuration.md says), and the job completed once.
TEST_F(RedisQueue, KillNineWhileAJobRunsThenTheOtherReplicaTakesItOver) {
  const std::string cfg = config();
  auto a = std::make_unique<DaemonProcess>(std::vector<std::string>{"--config", cfg});
  DaemonProcess b({"--config", cfg});
  const std::uint16_t pa = a->wait_for_port(), pb = b.wait_for_port();
  ASSERT_TRUE(pa && pb) << a->output() << b.output();
  // Submitted to A; whichever replica reads it first runs it. Kill that one.
  const std::string id = submit(pa, kKeyA, chat_body("gpt-test", {{"x_fake", {{"delay_ms", 2000}}}}, "slow"));
  ASSERT_TRUE(fake.wait_for_requests(1, 5s));
  ASSERT_EQ(redis_cli("HGET sluice:job:" + id + " status"), "running");
  const std::string runner = redis_cli("GET sluice:job:" + id + ":run");
  ASSERT_FALSE(runner.empty());
  // The lease names the consumer (hostname:pid:random): kill the process whose pid it names.
  const bool killed_a = runner.find(":" + std::to_string(a->pid()) + ":") != std::string::npos;
  DaemonProcess& survivor = killed_a ? b : *a;
  const std::uint16_t ps = killed_a ? pb : pa;
  if (killed_a) a->signal(SIGKILL);
  else b.signal(SIGKILL);
  const json job = wait_finished(ps, kKeyA, id, 15s);
  ASSERT_EQ(job["status"], "completed") << job.dump() << survivor.output();
  EXPECT_NE(survivor.output().find("queue_job_reclaimed"), std::string::npos) << "taken over, not read afresh";
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(fake.request_count(), 2u) << "the killed attempt, then the takeover; no third run";
}

TEST_F(RedisQueue, AJobPastItsDeadlineFailsWithoutRunning) {
  DaemonProcess d({"--config", config("  max_wait: 1s\n")});
  const std::uint16_t port = d.wait_for_port();
  ASSERT_NE(port, 0) << d.output();
  // A held request cools the deployment down for 3 s (and times out itself).
  std::thread held([&] {
    http_request(port, "POST", "/v1/chat/completions",
                 chat_body("gpt-test", {{"x_fake", {{"status", 429}, {"retry_after_s", 3}, {"status_until", 1}}}}),
                 as(kKeyA, false));
  });
  ASSERT_TRUE(fake.wait_for_requests(1, 5s));
  // EXPECT: an ASSERT's return would leave `held` joinable.
  EXPECT_TRUE(wait_for_cooldown(port, "up", "gpt-test")) << "the 429 reached the gateway";
  const std::string id = submit(port, kKeyA, chat_body("gpt-test"));
  const json job = wait_finished(port, kKeyA, id, 10s);
  held.join();
  d.wait_for_line("no such line", 300ms);
  ASSERT_EQ(job["status"], "failed") << job.dump() << d.output().substr(d.output().size() > 3000 ? d.output().size() - 3000 : 0)
                                     << d.output();
  EXPECT_EQ(job["response"]["status_code"], 429);
  EXPECT_NE(job.dump().find("expired"), std::string::npos) << job.dump();
  EXPECT_EQ(fake.request_count(), 1u) << "the expired job never reached the upstream";
  EXPECT_NE(d.output().find("queue_job_expired"), std::string::npos);
}

TEST_F(RedisQueue, AMalformedEntryIsMovedAsideAndTheLoopGoesOn) {
  DaemonProcess d({"--config", config()});
  const std::uint16_t port = d.wait_for_port();
  ASSERT_NE(port, 0) << d.output();
  ASSERT_FALSE(d.wait_for_line("queue_started").empty()) << d.output();
  std::this_thread::sleep_for(300ms);  // the consumer group exists
  redis_cli("XADD sluice:jobs:gpt-test '*' id job_x version 99");
  const std::string id = submit(port, kKeyA, chat_body("gpt-test"));
  EXPECT_EQ(wait_finished(port, kKeyA, id)["status"], "completed");
  EXPECT_EQ(redis_cli("XLEN sluice:jobs:dead"), "1");
  EXPECT_NE(d.output().find("queue_job_malformed"), std::string::npos) << d.output();
}

TEST_F(RedisQueue, RedisKilledAndRestartedWhileHeldRequestsWaitEveryClientGetsAnAnswerByItsDeadline) {
  DaemonProcess d({"--config", config("  max_wait: 5s\n")});
  const std::uint16_t port = d.wait_for_port();
  ASSERT_NE(port, 0) << d.output();
  // A 429 with Retry-After 2 s: the deployment cools down, the requests wait.
  std::vector<std::future<HttpResponse>> waiting;
  waiting.push_back(std::async(std::launch::async, [&] {
    return http_request(port, "POST", "/v1/chat/completions",
                        chat_body("gpt-test", {{"x_fake", {{"status", 429}, {"retry_after_s", 2}, {"status_until", 1}}}}),
                        as(kKeyA, false));
  }));
  ASSERT_TRUE(fake.wait_for_requests(1, 5s));
  ASSERT_TRUE(wait_for_cooldown(port, "up", "gpt-test")) << "the 429 reached the gateway";
  for (int i = 0; i < 5; ++i)
    waiting.push_back(std::async(std::launch::async, [&] {
      return http_request(port, "POST", "/v1/chat/completions", chat_body("gpt-test"), as(kKeyA, false));
    }));
  std::this_thread::sleep_for(200ms);
  const auto start = std::chrono::steady_clock::now();
  redis.kill();
  std::this_thread::sleep_for(500ms);
  redis.start();
  for (auto& w : waiting) {
    ASSERT_EQ(w.wait_for(6s), std::future_status::ready) << "no client hangs past its deadline";
    EXPECT_EQ(w.get().status, 200);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 6s);
}

TEST_F(RedisQueue, SigtermLetsARunningJobFinishAndStoresItsResult) {
  DaemonProcess d({"--config", config()});
  const std::uint16_t port = d.wait_for_port();
  ASSERT_NE(port, 0) << d.output();
  const std::string id = submit(port, kKeyA, chat_body("gpt-test", {{"x_fake", {{"delay_ms", 1000}}}}));
  ASSERT_TRUE(fake.wait_for_requests(1, 5s));
  d.signal(SIGTERM);
  EXPECT_EQ(d.wait_exit(10s), 0) << d.output();
  EXPECT_EQ(redis_cli("HGET sluice:job:" + id + " status"), "completed") << "stored before the process ended";
  EXPECT_EQ(redis_cli("XLEN sluice:jobs:gpt-test:p1:t:a"), "0") << "and acknowledged";
  EXPECT_EQ(fake.request_count(), 1u);
}

TEST_F(RedisQueue, RedisDownSubmitIsRefusedClearlyAndHeldRequestsKeepWorking) {
  DaemonProcess d({"--config", config()});
  const std::uint16_t port = d.wait_for_port();
  ASSERT_NE(port, 0) << d.output();
  redis.kill();
  std::this_thread::sleep_for(200ms);
  HttpResponse r = http_request(port, "POST", "/v1/chat/completions", chat_body("gpt-test"), as(kKeyA));
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_FALSE(r.headers["retry-after"].empty());
  EXPECT_NE(r.body.find("Redis"), std::string::npos) << r.body;
  // The direct path, and a held request that waits for capacity, are served.
  EXPECT_EQ(http_request(port, "POST", "/v1/chat/completions", chat_body("gpt-test"), as(kKeyA, false)).status, 200);
  const auto start = std::chrono::steady_clock::now();
  r = http_request(port, "POST", "/v1/chat/completions",
                   chat_body("gpt-test", {{"x_fake", {{"status", 429}, {"retry_after_s", 1}, {"status_until", 2}}}}),
                   as(kKeyA, false));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_EQ(http_request(port, "GET", "/readyz").status, 200) << "Redis trouble never fails readiness";
  // Back again: jobs are accepted and run.
  redis.start();
  std::string id;
  for (int i = 0; i < 50 && id.empty(); ++i) {
    r = http_request(port, "POST", "/v1/chat/completions", chat_body("gpt-test"), as(kKeyA));
    if (r.status == 202) id = parse_json(r.body)["id"];
    else std::this_thread::sleep_for(100ms);
  }
  ASSERT_FALSE(id.empty()) << r.body;
  EXPECT_EQ(wait_finished(port, kKeyA, id)["status"], "completed") << d.output();
  EXPECT_NE(d.output().find("redis_disconnected"), std::string::npos);
}

}  // namespace
}  // namespace sluice::test
