// RedisJobs against a private redis-server: submit and find (tenant
// isolation), a job run once by the drain loop with its result stored and
// its entry deleted, capacity holding the loop back, and a malformed entry
// moved to sluice:jobs:dead while the loop goes on.
#include "sluice/queue/redis_jobs.hpp"

#include <gtest/gtest.h>

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#endif

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "sluice/redis/client.hpp"
#include "support/redis_server.hpp"
#include "support/run_coro.hpp"

namespace sluice::queue {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

class RedisJobsTest : public ::testing::Test {
 protected:
  RedisJobsTest() {
    if (auto bad = parse_redis_url(server.url(), redis)) throw std::runtime_error(*bad);
    queue.max_wait = Millis{60'000};
    queue.reclaim_after = Millis{1'000};
  }
  std::unique_ptr<RedisJobs> make(Clock::duration* wait) {
    return std::make_unique<RedisJobs>(
        io.get_executor(), redis, queue, std::vector<std::string>{"m"},
        [this](const JobEntry& job) -> asio::awaitable<std::optional<JobOutcome>> {
          ran.push_back(job.id);
          co_return JobOutcome{true, 200, "{\"echo\":" + job.body + "}"};
        },
        [wait](const std::string&) { return *wait; });
  }
  JobEntry job(std::string id, std::string tenant) {
    JobEntry j;
    j.id = std::move(id);
    j.tenant = std::move(tenant);
    j.group = "m";
    j.endpoint = "chat_completions";
    j.body = "{\"n\":1}";
    j.enqueued_ms = 1;
    j.deadline_ms = std::numeric_limits<std::int64_t>::max() / 2;
    return j;
  }
  std::optional<JobState> find(RedisJobs& jobs, const std::string& id, const std::string& tenant) {
    auto r = test::run_coro(io, jobs.find(id, tenant));
    EXPECT_TRUE(r);
    return r ? *r : std::nullopt;
  }
  std::int64_t xlen(const std::string& key) {
    redis::Client c(io.get_executor(), redis);
    auto r = test::run_coro(io, c.command("XLEN", key));
    return r && r->is_integer() ? r->as_integer() : -1;
  }

  asio::io_context io;
  test::RedisServer server;
  RedisConfig redis;
  QueueConfig queue;
  std::vector<std::string> ran;
};

TEST_F(RedisJobsTest, ASubmittedJobRunsOnceAndOnlyItsTenantFindsIt) {
  Clock::duration wait = Clock::duration::zero();
  auto jobs = make(&wait);
  jobs->start();
  ASSERT_TRUE(test::run_coro(io, jobs->submit(job("job_a1", "a"))));
  ASSERT_TRUE(test::run_until(io, [&] {
    auto s = find(*jobs, "job_a1", "a");
    return s && s->status == "completed";
  }));
  const auto done = find(*jobs, "job_a1", "a");
  EXPECT_EQ(done->http_status, 200);
  EXPECT_EQ(done->body, "{\"echo\":{\"n\":1}}");
  EXPECT_EQ(done->model, "m");
  EXPECT_FALSE(find(*jobs, "job_a1", "b")) << "another tenant's job is unknown";
  EXPECT_FALSE(find(*jobs, "job_none", "a"));
  EXPECT_EQ(ran, std::vector<std::string>{"job_a1"});
  EXPECT_EQ(xlen("sluice:jobs:m:p1:t:a"), 0) << "the finished entry is deleted";
  EXPECT_EQ(jobs->counters().ran, 1u);
}

TEST_F(RedisJobsTest, NoCapacityNoRead) {
  Clock::duration wait = 10s;
  auto jobs = make(&wait);
  jobs->start();
  ASSERT_TRUE(test::run_coro(io, jobs->submit(job("job_b1", "a"))));
  test::run_until(io, [] { return false; }, 500ms);
  EXPECT_TRUE(ran.empty());
  EXPECT_EQ(find(*jobs, "job_b1", "a")->status, "queued");
  wait = Clock::duration::zero();
  ASSERT_TRUE(test::run_until(io, [&] { return ran.size() == 1; }, 3s)) << "capacity back: read within a second";
}

TEST_F(RedisJobsTest, AFullStreamIs429AndAnUnknownGroup404) {
  queue.max_length = 2;
  Clock::duration wait = 10s;  // nothing is read
  auto jobs = make(&wait);
  jobs->start();
  ASSERT_TRUE(test::run_coro(io, jobs->submit(job("job_f1", "a"))));
  ASSERT_TRUE(test::run_coro(io, jobs->submit(job("job_f2", "a"))));
  auto full = test::run_coro(io, jobs->submit(job("job_f3", "a")));
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().code, errc::rate_limited);
  EXPECT_GT(full.error().retry_after_ms, 0);
  EXPECT_FALSE(find(*jobs, "job_f3", "a")) << "a refused job does not exist";
  JobEntry other = job("job_f4", "a");
  other.group = "not-configured";
  auto unknown = test::run_coro(io, jobs->submit(other));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, errc::model_not_found);
}

TEST_F(RedisJobsTest, AMalformedEntryIsMovedAsideAndTheLoopGoesOn) {
  Clock::duration wait = Clock::duration::zero();
  auto jobs = make(&wait);
  jobs->start();
  test::run_until(io, [] { return false; }, 200ms);  // the group exists
  {
    redis::Client c(io.get_executor(), redis);
    ASSERT_TRUE(test::run_coro(io, c.command("XADD", "sluice:jobs:m", "*", "id", "job_x", "body", "")));
  }
  ASSERT_TRUE(test::run_coro(io, jobs->submit(job("job_c1", "a"))));
  ASSERT_TRUE(test::run_until(io, [&] { return ran.size() == 1 && jobs->counters().malformed == 1; }, 5s));
  EXPECT_EQ(xlen("sluice:jobs:dead"), 1);
  EXPECT_EQ(xlen("sluice:jobs:m"), 0) << "read from the stream of earlier versions too";
}

// A backlog is read by class, highest first, and one entry of each tenant
// per round: tenant a's burst of five does not hold back b's single job,
// and c's high-priority job, sent last, runs first.
TEST_F(RedisJobsTest, TheHighestClassFirstAndTenantsTakeTurns) {
  Clock::duration wait = 10s;  // a backlog builds up
  auto jobs = make(&wait);
  jobs->start();
  for (int i = 1; i <= 5; ++i) ASSERT_TRUE(test::run_coro(io, jobs->submit(job("job_a" + std::to_string(i), "a"))));
  ASSERT_TRUE(test::run_coro(io, jobs->submit(job("job_b1", "b"))));
  JobEntry urgent = job("job_c1", "c");
  urgent.priority = 2;
  ASSERT_TRUE(test::run_coro(io, jobs->submit(urgent)));
  JobEntry later = job("job_d1", "d");
  later.priority = 0;
  ASSERT_TRUE(test::run_coro(io, jobs->submit(later)));
  wait = Clock::duration::zero();
  ASSERT_TRUE(test::run_until(io, [&] { return ran.size() == 8; }, 5s));
  EXPECT_EQ(ran.front(), "job_c1") << "high first";
  const auto b = std::find(ran.begin(), ran.end(), "job_b1") - ran.begin();
  EXPECT_LE(b, 2) << "b's job is read in the first round of normal, beside a's first";
  EXPECT_EQ(ran.back(), "job_d1") << "low last";
  std::vector<std::string> a;
  std::copy_if(ran.begin(), ran.end(), std::back_inserter(a), [](const std::string& id) { return id[4] == 'a'; });
  EXPECT_EQ(a, (std::vector<std::string>{"job_a1", "job_a2", "job_a3", "job_a4", "job_a5"})) << "FIFO per tenant";
}

// A replica that took a job and stopped (its loop frozen, as a process
// killed with -9): after reclaim_after, and once its run lease has lapsed,
// another replica claims the entry and runs the job, once.
TEST_F(RedisJobsTest, ADeadReplicasJobIsReclaimedAndRunOnce) {
  asio::io_context dead_io;
  std::size_t taken = 0;
  Clock::duration wait = Clock::duration::zero();
  {
    auto dead = std::make_unique<RedisJobs>(
        dead_io.get_executor(), redis, queue, std::vector<std::string>{"m"},
        [&](const JobEntry&) -> asio::awaitable<std::optional<JobOutcome>> {
          ++taken;
          asio::steady_timer forever(dead_io, std::chrono::hours(1));
          co_await forever.async_wait(asio::use_awaitable);
          co_return std::nullopt;
        },
        [&](const std::string&) { return wait; });
    dead->start();
    ASSERT_TRUE(test::run_coro(dead_io, dead->submit(job("job_e1", "a"))));
    ASSERT_TRUE(test::run_until(dead_io, [&] { return taken == 1; }, 5s));
    // From here dead_io never runs again: the replica is gone, its lease lapses.
    auto alive = make(&wait);
    alive->start();
    ASSERT_TRUE(test::run_until(io, [&] { return ran.size() == 1; }, 10s)) << "reclaimed within reclaim_after + lease";
    EXPECT_EQ(alive->counters().reclaimed, 1u);
    ASSERT_TRUE(test::run_until(io, [&] {
      auto s = find(*alive, "job_e1", "a");
      return s && s->status == "completed";
    }));
    test::run_until(io, [] { return false; }, 1500ms);
    EXPECT_EQ(ran.size(), 1u) << "run once";
    EXPECT_EQ(xlen("sluice:jobs:m:p1:t:a"), 0);
    // Its frames belong to dead_io, which never runs again: a leak the test
    // accepts, and tells LeakSanitizer so (the object and all it reaches).
    [[maybe_unused]] RedisJobs* gone = dead.release();
#ifdef __SANITIZE_ADDRESS__
    __lsan_ignore_object(gone);
#endif
  }
}

TEST_F(RedisJobsTest, SubmitWithoutRedisIsRedisUnavailable) {
  Clock::duration wait = Clock::duration::zero();
  server.kill();
  auto jobs = make(&wait);
  jobs->start();
  test::run_until(io, [] { return false; }, 100ms);
  auto r = test::run_coro(io, jobs->submit(job("job_d1", "a")));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::redis_unavailable);
  EXPECT_GT(r.error().retry_after_ms, 0);
  EXPECT_NE(r.error().message.find("Redis"), std::string::npos);
}

}  // namespace
}  // namespace sluice::queue
