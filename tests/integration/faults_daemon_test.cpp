// Fault injection against the daemon as a process, for what only a process
// shows: its file descriptors (/proc/PID/fd) after a client left in each
// phase of a request, SIGTERM with 200 streams in flight or with jobs queued
// in Redis, and Redis paused, killed and restarted under load. Every wait is
// a condition with a deadline; docs/security.md lists what each test proves.
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "daemon_process.hpp"
#include "gateway_fixture.hpp"
#include "support/fake_upstream.hpp"
#include "support/redis_server.hpp"
#include "support/test_client.hpp"

namespace sluice::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Polls `done` every 10 ms until it holds or the timeout passes.
bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto end = Clock::now() + timeout;
  for (;;) {
    if (done()) return true;
    if (Clock::now() >= end) return false;
    std::this_thread::sleep_for(10ms);
  }
}

int open_fds(pid_t pid) {
  int n = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    ++n;
  return n;
}

// True once the daemon answers /healthz on `port` (within 10 s).
bool up(std::uint16_t port) {
  return eventually([&] { return http_request(port, "GET", "/healthz", {}, {}, 500ms).status == 200; }, 10s);
}

// One sample of the daemon's /metrics: `series` is the name with its labels
// as exposed, e.g. sluice_queue_depth{queue="requests"}; -1 when absent.
double metric(std::uint16_t port, const std::string& series) {
  const HttpResponse res = http_request(port, "GET", "/metrics", {}, {}, 3s);
  const std::string needle = "\n" + series + " ";
  const std::size_t at = res.body.find(needle);
  if (res.status != 200 || at == std::string::npos) return -1;
  return std::stod(res.body.substr(at + needle.size()));
}

class TempDir {
 public:
  TempDir()
      : path_(std::filesystem::temp_directory_path() /
              ("sluice-faults-" + std::to_string(::getpid()) + "-" + std::to_string(++count_))) {
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string write(const std::string& name, const std::string& text) const {
    const auto path = path_ / name;
    std::ofstream(path) << text;
    return path.string();
  }

 private:
  static inline int count_ = 0;
  std::filesystem::path path_;
};

// ---------------------------------------------------------------------------
// A client that goes away, in each phase of its request: the upstream
// connection closes within 1 s, the daemon's file descriptors and gauges
// return to their baseline, and the next request is admitted.

class Disconnect : public ::testing::Test {
 protected:
  // Starts the daemon: model gpt-test on the fake (and model stuck on
  // `stuck_url` when given), a queue of one held request.
  void start(const std::string& stuck_url = "") {
    // Warn level: the scrapes' access-log lines would fill the pipe nobody
    // reads; so the port is picked here rather than read from the log.
    port = static_cast<std::uint16_t>(free_loopback_port());
    std::string yaml = "server:\n  listen: \"127.0.0.1:" + std::to_string(port) + "\"\n"
                       "providers:\n  - { name: up, type: openai, base_url: \"" + fake.base_url() + "\" }\n";
    if (!stuck_url.empty())
      yaml += "  - { name: stuck, type: openai, base_url: \"" + stuck_url + "\", connect_timeout: 10s, max_retries: 0 }\n";
    yaml += "models:\n  - { name: gpt-test, deployments: [{ provider: up, model: gpt-test }] }\n";
    if (!stuck_url.empty()) yaml += "  - { name: stuck, deployments: [{ provider: stuck, model: m, rpm: 1 }] }\n";
    yaml += "queue:\n  max_length: 1\n  max_wait: 30s\nlogging:\n  level: warn\n";
    daemon = std::make_unique<DaemonProcess>(std::vector<std::string>{"--config", dir.write("sluice.yaml", yaml)});
    ASSERT_TRUE(up(port)) << daemon->output();
    // Warm up every lazily made resource (the resolver, the upstream
    // client) with a request whose upstream connection is not kept.
    const HttpResponse warm = http_request(port, "POST", "/v1/chat/completions",
                                           chat_body("gpt-test", {{"x_fake", {{"close_after_response", true}}}}));
    ASSERT_EQ(warm.status, 200) << warm.body;
    ASSERT_TRUE(fake.wait_for_closed(1, 2s));
    ASSERT_NO_FATAL_FAILURE(measure_baseline());
    fake.reset_records();
  }

  void measure_baseline() {
    inflight_baseline = metric(port, "sluice_inflight_requests");  // counts the scrape itself
    ASSERT_GE(inflight_baseline, 0);
    // The descriptors: the count once it stopped moving for 200 ms (the
    // scrape's connection closing on the daemon's side; a loaded machine
    // can take longer than one 10 ms poll to get to it).
    int last = -1, same = 0;
    ASSERT_TRUE(eventually([&] {
      const int now = open_fds(daemon->pid());
      same = now == last ? same + 1 : 0;
      last = now;
      return same >= 20;
    }, 5s));
    fd_baseline = last;
  }

  // Everything the request held is back: descriptors, in-flight and queue
  // gauges; and the next request is served.
  void expect_all_returned() {
    int fds = 0;
    EXPECT_TRUE(eventually([&] { return (fds = open_fds(daemon->pid())) == fd_baseline; }, 1s))
        << fds << " descriptors open, " << fd_baseline << " before the request";
    EXPECT_EQ(metric(port, "sluice_inflight_requests"), inflight_baseline);
    EXPECT_EQ(metric(port, "sluice_open_connections"), 1) << "only the scrape's";
    EXPECT_EQ(metric(port, "sluice_queue_depth{queue=\"requests\"}"), 0);
    const HttpResponse next = http_request(port, "POST", "/v1/chat/completions", chat_body("gpt-test"), {}, 5s);
    EXPECT_EQ(next.status, 200) << next.body;
    daemon->output();  // keep its pipe drained
  }

  // Sends `body` (with `headers`, each ending in CRLF) and returns the open
  // socket once `sent` holds.
  std::unique_ptr<Connection> send(const std::string& body, const std::function<bool()>& sent,
                                   const std::string& headers = "") {
    auto client = std::make_unique<Connection>(port);
    std::string request = raw_chat_post(body);
    request.insert(request.find("\r\n") + 2, headers);
    EXPECT_TRUE(client->send_raw(request));
    EXPECT_TRUE(eventually(sent, 3s)) << "the request did not reach the phase under test";
    return client;
  }

  TempDir dir;
  FakeUpstream fake;
  std::unique_ptr<DaemonProcess> daemon;
  std::uint16_t port = 0;
  int fd_baseline = 0;
  double inflight_baseline = 0;
};

TEST_F(Disconnect, WhileQueuedTheQueueSlotIsFreedAndTheUpstreamNeverSeesIt) {
  ASSERT_NO_FATAL_FAILURE(start());
  // A 429 with Retry-After 30 s takes the only deployment's capacity away;
  // its own client does not wait (x-sluice-max-wait 0).
  const HttpResponse limited = http_request(
      port, "POST", "/v1/chat/completions",
      chat_body("gpt-test", {{"x_fake", {{"status", 429}, {"retry_after_s", 30}, {"close_after_response", true}}}}),
      {{"x-sluice-max-wait", "0s"}});
  ASSERT_EQ(limited.status, 429) << limited.body;
  auto client = send(chat_body("gpt-test", {}, "the client who left"),
                     [&] { return metric(port, "sluice_queue_depth{queue=\"requests\"}") == 1; });
  client->close();
  EXPECT_TRUE(eventually([&] { return metric(port, "sluice_queue_depth{queue=\"requests\"}") == 0; }, 1s));
  EXPECT_EQ(metric(port, "sluice_queue_requests_total{result=\"cancelled\"}"), 1);
  // The queue holds one request: the slot is free again, so the next one
  // waits its (short) turn rather than finding the queue full.
  const HttpResponse next = http_request(port, "POST", "/v1/chat/completions", chat_body("gpt-test"),
                                         {{"x-sluice-max-wait", "300ms"}});
  EXPECT_EQ(next.status, 429);
  EXPECT_EQ(next.body.find("queue is full"), std::string::npos) << next.body;
  EXPECT_EQ(fake.request_count(), 1u) << "only the 429: the queued request never reached the upstream";
  int fds = 0;
  EXPECT_TRUE(eventually([&] { return (fds = open_fds(daemon->pid())) == fd_baseline; }, 1s)) << fds;
  EXPECT_EQ(metric(port, "sluice_inflight_requests"), inflight_baseline);
}

TEST_F(Disconnect, WhileConnectingUpstreamTheConnectIsAbandoned) {
  SilentListener stuck(0, /*fill_backlog=*/true);  // a connect to it hangs
  ASSERT_NO_FATAL_FAILURE(start(stuck.base_url()));
  // The client's socket and the upstream socket still connecting: two more.
  const auto connecting = [&] { return open_fds(daemon->pid()) == fd_baseline + 2; };
  auto client = send(chat_body("stuck"), connecting);
  client->close();
  expect_all_returned();
  // Not a byte was sent, so the deployment's one request a minute came
  // back: the next request connects too. Had it stayed charged, this one
  // would be answered 429 at once (it may not wait) and never connect.
  ASSERT_NO_FATAL_FAILURE(measure_baseline());  // the check's request left a kept-alive upstream connection
  client = send(chat_body("stuck"), connecting, "x-sluice-max-wait: 0s\r\n");
  client->close();
  expect_all_returned();
}

TEST_F(Disconnect, BeforeTheFirstTokenTheUpstreamConnectionIsClosed) {
  ASSERT_NO_FATAL_FAILURE(start());
  auto client = send(chat_body("gpt-test", {{"stream", true}, {"x_fake", {{"delay_ms", 10'000}}}}),
                     [&] { return fake.request_count() == 1; });
  client->close();
  EXPECT_TRUE(fake.wait_for_closed(1, 1s)) << "upstream still connected 1 s after the client left";
  expect_all_returned();
}

TEST_F(Disconnect, MidStreamTheUpstreamConnectionIsClosed) {
  ASSERT_NO_FATAL_FAILURE(start());
  SseReader sse(port, "/v1/chat/completions",
                chat_body("gpt-test", {{"stream", true}, {"x_fake", {{"stream_chunks", 3}, {"chunk_delay_ms", 10'000}}}}));
  ASSERT_EQ(sse.status(), 200);
  ASSERT_TRUE(sse.next_event(2s).has_value());  // the role event; c0 is 10 s away
  sse.disconnect();
  EXPECT_TRUE(fake.wait_for_closed(1, 1s)) << "upstream still connected 1 s after the client left";
  expect_all_returned();
}

// ---------------------------------------------------------------------------
// SIGTERM with 200 streams in flight: each finishes with its [DONE] within
// the grace period, and the process exits 0.

TEST(SigtermUnderLoad, TwoHundredStreamsInFlightAllFinishAndTheExitIsZero) {
  constexpr int kStreams = 200;
  FakeUpstream fake;
  TempDir dir;
  // Warn level: 200 access-log lines would fill the pipe nobody reads while
  // the streams are read. So the port is chosen here, not read from the log.
  const int port = free_loopback_port();
  DaemonProcess daemon({"--config", dir.write("sluice.yaml",
                                              "server:\n  listen: \"127.0.0.1:" + std::to_string(port) +
                                                  "\"\n  shutdown_grace: 10s\n"
                                                  "providers:\n  - { name: up, type: openai, base_url: \"" +
                                                  fake.base_url() + "\" }\n"
                                                  "models:\n  - { name: gpt-test, deployments: [{ provider: up, "
                                                  "model: gpt-test }] }\nlogging:\n  level: warn\n")});
  const auto p = static_cast<std::uint16_t>(port);
  ASSERT_TRUE(up(p)) << daemon.output();
  // Each stream: its head and role event at once, then two chunks 2.5 s apart.
  const std::string body =
      chat_body("gpt-test", {{"stream", true}, {"x_fake", {{"stream_chunks", 2}, {"chunk_delay_ms", 2500}}}});
  std::vector<std::unique_ptr<SseReader>> streams(kStreams);
  std::atomic<int> opened{0};
  std::vector<std::thread> openers;
  const auto first_opened = Clock::now();
  for (int t = 0; t < 8; ++t)
    openers.emplace_back([&, t] {
      for (int i = t; i < kStreams; i += 8) {
        streams[i] = std::make_unique<SseReader>(p, "/v1/chat/completions", body, Headers{}, 20s);
        if (streams[i]->status() == 200) ++opened;
      }
    });
  for (auto& t : openers) t.join();
  ASSERT_EQ(opened.load(), kStreams);
  daemon.signal(SIGTERM);
  const auto signalled = Clock::now();
  ASSERT_LT(signalled - first_opened, 5s) << "the first streams may have ended before the signal: not a test of 200";
  EXPECT_TRUE(eventually([&] { return connection_refused(p, 200ms); }, 2s)) << "a draining daemon accepts no one";
  int clean = 0;
  for (int i = 0; i < kStreams; ++i) {
    const auto events = streams[i]->remaining_events(12s);
    const bool done = !events.empty() && events.back() == "[DONE]" && streams[i]->ended_cleanly();
    clean += done;
    EXPECT_TRUE(done) << "stream " << i << ": " << streams[i]->body().substr(0, 400);
  }
  EXPECT_EQ(clean, kStreams);
  EXPECT_EQ(daemon.wait_exit(10s), 0) << daemon.output();
  EXPECT_LT(Clock::now() - signalled, 10s) << "within the grace period";
  EXPECT_EQ(fake.request_count(), std::size_t(kStreams));
}

// ---------------------------------------------------------------------------
// Redis: queued jobs survive a SIGTERM; Redis paused, killed and restarted
// under load hangs no client and loses or duplicates no job.

const std::string kKey = "sk-faults-tenant-0123456789";

class RedisFaults : public ::testing::Test {
 protected:
  RedisFaults() { ::setenv("SLUICE_TEST_FAULTS_KEY", kKey.c_str(), 1); }
  ~RedisFaults() override { ::unsetenv("SLUICE_TEST_FAULTS_KEY"); }

  // Warn level, or the access log of the scrapes and the load would fill
  // the pipe nobody reads; so the test picks the port.
  std::string config(int port) {
    return dir.write("sluice-" + std::to_string(++configs_) + ".yaml",
                     "server:\n  listen: \"127.0.0.1:" + std::to_string(port) + "\"\n"
                     "providers:\n  - { name: up, type: openai, base_url: \"" + fake.base_url() +
                         "\", cooldown: 1s }\n"
                         "models:\n  - { name: gpt-test, deployments: [{ provider: up, model: gpt-test }] }\n"
                         "auth:\n  keys:\n    - { key: \"${SLUICE_TEST_FAULTS_KEY}\", tenant: a }\n"
                         "queue:\n  backend: redis\n  reclaim_after: 1s\n  max_wait: 30s\n"
                         "redis:\n  url: \"" + redis.url() + "\"\n  connect_timeout: 300ms\n  command_timeout: 300ms\n" +
                         "logging:\n  level: warn\n");
  }

  static Headers as_key(bool async) {
    Headers h = {{"Authorization", "Bearer " + kKey}};
    if (async) h["Prefer"] = "respond-async";
    return h;
  }

  // Polls until the job is completed or failed, or the deadline; its status.
  static std::string wait_finished(std::uint16_t port, const std::string& id, Clock::time_point deadline) {
    std::string status;
    eventually([&] {
      const HttpResponse r = http_request(port, "GET", "/v1/jobs/" + id, {}, as_key(false), 2s);
      if (r.status == 200) status = parse_json(r.body).value("status", "");
      return status == "completed" || status == "failed";
    }, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
    return status;
  }

  // How many times the upstream saw each prompt.
  std::map<std::string, int> calls_per_prompt() const {
    std::map<std::string, int> calls;
    for (const Recorded& r : fake.requests()) {
      const json body = parse_json(r.body);
      if (body.is_object() && body.contains("messages")) ++calls[body["messages"][0].value("content", "")];
    }
    return calls;
  }

  TempDir dir;
  FakeUpstream fake;
  // Every write reaches the disk before Redis answers it: a kill -9 of Redis
  // loses nothing it acknowledged (as production should run it, see
  // docs/operations.md).
  RedisServer redis{RedisServer::Options{.args = {"--appendonly", "yes", "--appendfsync", "always"}}};
  int configs_ = 0;
};

TEST_F(RedisFaults, SigtermWithJobsQueuedLeavesThemForAnotherReplicaWhichRunsEachOnce) {
  const auto pa = static_cast<std::uint16_t>(free_loopback_port());
  auto a = std::make_unique<DaemonProcess>(std::vector<std::string>{"--config", config(pa)});
  ASSERT_TRUE(up(pa)) << a->output();
  // The first job meets a 429 with Retry-After 30 s: replica A has no
  // capacity, so the jobs submitted next stay queued in Redis.
  auto submit = [&](std::uint16_t port, const std::string& prompt, json x_fake = json::object()) {
    const HttpResponse r = http_request(port, "POST", "/v1/chat/completions",
                                        chat_body("gpt-test", {{"x_fake", x_fake}}, prompt), as_key(true));
    EXPECT_EQ(r.status, 202) << r.body;
    return r.status == 202 ? parse_json(r.body)["id"].get<std::string>() : std::string();
  };
  std::vector<std::string> ids = {
      submit(pa, "first", {{"status", 429}, {"retry_after_s", 30}, {"status_until", 1}})};
  ASSERT_TRUE(eventually([&] {
    return metric(pa, "sluice_deployment_cooldown_seconds{provider=\"up\",model=\"gpt-test\"}") > 1;
  }, 5s)) << a->output();
  for (int i = 0; i < 5; ++i) ids.push_back(submit(pa, "queued " + std::to_string(i)));
  a->signal(SIGTERM);
  EXPECT_EQ(a->wait_exit(10s), 0) << a->output();
  a.reset();
  EXPECT_EQ(fake.request_count(), 1u) << "no capacity on A: nothing but the 429 ran";

  const auto pb = static_cast<std::uint16_t>(free_loopback_port());
  DaemonProcess b({"--config", config(pb)});
  ASSERT_TRUE(up(pb)) << b.output();
  const auto deadline = Clock::now() + 15s;
  for (const auto& id : ids) {
    ASSERT_FALSE(id.empty());
    EXPECT_EQ(wait_finished(pb, id, deadline), "completed") << id << b.output();
  }
  // Nothing runs a second time (the window is bounded: a late duplicate
  // would come from a reclaim, after reclaim_after = 1 s).
  EXPECT_FALSE(fake.wait_for_requests(ids.size() + 2, 1500ms));
  const auto calls = calls_per_prompt();
  EXPECT_EQ(calls.at("first"), 2) << "the 429, then its run on B";
  for (int i = 0; i < 5; ++i) EXPECT_EQ(calls.at("queued " + std::to_string(i)), 1) << i;
}

TEST_F(RedisFaults, PausedKilledAndRestartedUnderLoadNoClientHangsNoJobIsLostOrRunTwice) {
  const auto port = static_cast<std::uint16_t>(free_loopback_port());
  DaemonProcess d({"--config", config(port)});
  ASSERT_TRUE(up(port)) << d.output();

  struct Submission {
    std::string prompt;
    int status = 0;
    std::string id;
    bool retry_after = false;
    std::chrono::milliseconds took{};
  };
  std::mutex mutex;
  std::vector<Submission> submissions;
  std::atomic<int> accepted{0}, direct_failed{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> load;
  for (int t = 0; t < 3; ++t)  // async jobs, each a prompt of its own
    load.emplace_back([&, t] {
      for (int i = 0; !stop; ++i) {
        Submission s{"job " + std::to_string(t) + "-" + std::to_string(i)};
        const auto t0 = Clock::now();
        const HttpResponse r =
            http_request(port, "POST", "/v1/chat/completions", chat_body("gpt-test", {}, s.prompt), as_key(true), 5s);
        s.took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
        s.status = r.status;
        s.retry_after = r.headers.count("retry-after") > 0;
        if (r.status == 202) {
          s.id = parse_json(r.body)["id"];
          ++accepted;
        }
        {
          std::lock_guard lock(mutex);
          submissions.push_back(std::move(s));
        }
        std::this_thread::sleep_for(10ms);  // pacing, so that a 2-core machine keeps up
      }
    });
  load.emplace_back([&] {  // held requests: they never need Redis
    for (int i = 0; !stop; ++i) {
      const HttpResponse r = http_request(port, "POST", "/v1/chat/completions",
                                          chat_body("gpt-test", {}, "direct " + std::to_string(i)), as_key(false), 5s);
      if (r.status != 200) ++direct_failed;
      std::this_thread::sleep_for(10ms);
    }
  });
  auto more_accepted = [&](int n) {
    const int target = accepted + n;
    return eventually([&] { return accepted >= target; }, 10s);
  };

  EXPECT_TRUE(more_accepted(10));
  redis.pause();  // SIGSTOP: connections open, nothing answered
  std::this_thread::sleep_for(1s);  // the length of the outage, not a wait for a condition
  redis.resume();
  EXPECT_TRUE(more_accepted(10)) << "jobs are accepted again once Redis answers";
  redis.kill();
  std::this_thread::sleep_for(500ms);  // the outage
  redis.start();
  EXPECT_TRUE(more_accepted(10)) << "and once it is back after a crash" << d.output();
  stop = true;
  for (auto& t : load) t.join();

  // No hung client: every submission got its answer well within 5 s, a
  // 202, or a 503 that says when to retry.
  int refused = 0;
  for (const Submission& s : submissions) {
    EXPECT_TRUE(s.status == 202 || (s.status == 503 && s.retry_after)) << s.prompt << ": " << s.status;
    EXPECT_LT(s.took, 4s) << s.prompt;
    refused += s.status == 503;
  }
  EXPECT_EQ(direct_failed.load(), 0) << "held requests do not depend on Redis";
  // No lost job: every accepted one completes; none runs twice. A refused
  // submit may still have reached Redis before its reply was lost: it runs
  // at most once.
  const auto deadline = Clock::now() + 20s;
  for (const Submission& s : submissions) {
    if (s.status == 202) {
      EXPECT_EQ(wait_finished(port, s.id, deadline), "completed") << s.prompt;
    }
  }
  const std::size_t direct = fake.request_count();  // settle: a late duplicate comes after reclaim_after
  fake.wait_for_requests(direct + 1, 1500ms);
  const auto calls = calls_per_prompt();
  for (const Submission& s : submissions) {
    const auto it = calls.find(s.prompt);
    const int n = it == calls.end() ? 0 : it->second;
    if (s.status == 202) {
      EXPECT_EQ(n, 1) << s.prompt << " ran " << n << " times";
    } else {
      EXPECT_LE(n, 1) << s.prompt << " ran " << n << " times";
    }
  }
  RecordProperty("submissions", static_cast<int>(submissions.size()));
  RecordProperty("refused", refused);
}

}  // namespace
}  // namespace sluice::test
