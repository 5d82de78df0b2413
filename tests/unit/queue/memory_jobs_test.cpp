// MemoryJobs: a submitted job runs at once through the runner and its
// result is found by its tenant only; the bound on unfinished jobs is a 429;
// finished jobs leave after result_ttl; stop() refuses new jobs, waits for
// those running, and fails a job the runner could not finish.
#include "sluice/queue/memory_jobs.hpp"

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "support/manual_clock.hpp"
#include "support/run_coro.hpp"

namespace sluice::queue {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

class MemoryJobsTest : public ::testing::Test {
 protected:
  MemoryJobsTest() {
    queue.max_length = 2;
    queue.result_ttl = Millis{60'000};
  }
  // Jobs whose body is "hold" wait until release() (or the timer is cancelled); others answer at once.
  std::unique_ptr<MemoryJobs> make() {
    return std::make_unique<MemoryJobs>(
        io.get_executor(), queue,
        [this](const JobEntry& job) -> asio::awaitable<std::optional<JobOutcome>> {
          ran.push_back(job.id);
          if (job.body == "hold") {
            co_await hold.async_wait(asio::as_tuple(asio::use_awaitable));
            if (give_up) co_return std::nullopt;
          }
          co_return JobOutcome{job.body != "fail", job.body == "fail" ? 502 : 200, "{\"echo\":\"" + job.body + "\"}"};
        },
        clock);
  }
  JobEntry job(std::string id, std::string tenant, std::string body = "ok") {
    JobEntry j;
    j.id = std::move(id);
    j.tenant = std::move(tenant);
    j.group = "m";
    j.endpoint = "chat_completions";
    j.body = std::move(body);
    j.enqueued_ms = 1'765'000'000'000;
    j.deadline_ms = j.enqueued_ms + 60'000;
    return j;
  }
  std::optional<JobState> find(MemoryJobs& jobs, const std::string& id, const std::string& tenant) {
    auto r = test::run_coro(io, jobs.find(id, tenant));
    EXPECT_TRUE(r);
    return r ? *r : std::nullopt;
  }
  void release() {
    hold.cancel();
    io.poll();
  }

  asio::io_context io;
  asio::steady_timer hold{io, asio::steady_timer::time_point::max()};
  bool give_up = false;
  std::shared_ptr<test::ManualClock> clock = std::make_shared<test::ManualClock>();
  QueueConfig queue;
  std::vector<std::string> ran;
};

TEST_F(MemoryJobsTest, AJobRunsAtOnceAndOnlyItsTenantSeesTheResult) {
  auto jobs = make();
  ASSERT_TRUE(test::run_coro(io, jobs->submit(job("job_a", "a"))));
  io.poll();
  EXPECT_EQ(ran, std::vector<std::string>{"job_a"});
  auto found = find(*jobs, "job_a", "a");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->status, "completed");
  EXPECT_EQ(found->http_status, 200);
  EXPECT_EQ(found->body, "{\"echo\":\"ok\"}");
  EXPECT_EQ(found->model, "m");
  EXPECT_EQ(found->created_at, 1'765'000'000);
  EXPECT_FALSE(find(*jobs, "job_a", "b")) << "another tenant's job";
  EXPECT_FALSE(find(*jobs, "job_x", "a"));
  EXPECT_EQ(jobs->counters().completed, 1u);
  EXPECT_EQ(jobs->unfinished(), 0u);
}

TEST_F(MemoryJobsTest, AFailedRunIsAFailedJobWithItsError) {
  auto jobs = make();
  ASSERT_TRUE(test::run_coro(io, jobs->submit(job("job_f", "a", "fail"))));
  io.poll();
  auto found = find(*jobs, "job_f", "a");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->status, "failed");
  EXPECT_EQ(found->http_status, 502);
  EXPECT_EQ(jobs->counters().failed, 1u);
}

TEST_F(MemoryJobsTest, UnfinishedJobsAreBoundedByMaxLength) {
  auto jobs = make();
  ASSERT_TRUE(test::run_coro(io, jobs->submit(job("job_1", "a", "hold"))));
  ASSERT_TRUE(test::run_coro(io, jobs->submit(job("job_2", "b", "hold"))));
  EXPECT_EQ(find(*jobs, "job_1", "a")->status, "running");
  EXPECT_EQ(jobs->unfinished(), 2u);
  auto full = test::run_coro(io, jobs->submit(job("job_3", "a")));
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().code, errc::rate_limited);
  EXPECT_EQ(full.error().retry_after_ms, 1000);
  EXPECT_NE(full.error().message.find("2 jobs wait already"), std::string::npos) << full.error().message;
  release();
  EXPECT_EQ(jobs->unfinished(), 0u);
  EXPECT_TRUE(test::run_coro(io, jobs->submit(job("job_3", "a")))) << "room again once they finished";
}

TEST_F(MemoryJobsTest, FinishedJobsLeaveAfterResultTtlAndBeyondTheBound) {
  auto jobs = make();
  ASSERT_TRUE(test::run_coro(io, jobs->submit(job("job_1", "a"))));
  io.poll();
  clock->advance(59s);
  EXPECT_TRUE(find(*jobs, "job_1", "a"));
  clock->advance(1s);
  EXPECT_FALSE(find(*jobs, "job_1", "a")) << "result_ttl passed";
  for (const char* id : {"job_2", "job_3", "job_4"}) {
    ASSERT_TRUE(test::run_coro(io, jobs->submit(job(id, "a"))));
    io.poll();
  }
  EXPECT_FALSE(find(*jobs, "job_2", "a")) << "the oldest of more than max_length finished jobs";
  EXPECT_TRUE(find(*jobs, "job_3", "a"));
  EXPECT_TRUE(find(*jobs, "job_4", "a"));
}

TEST_F(MemoryJobsTest, AReloadsNewLimitsApplyFromNowOn) {
  auto jobs = make();
  ASSERT_TRUE(test::run_coro(io, jobs->submit(job("job_1", "a", "hold"))));
  ASSERT_TRUE(test::run_coro(io, jobs->submit(job("job_2", "a", "hold"))));
  QueueConfig bigger = queue;
  bigger.max_length = 3;
  bigger.result_ttl = Millis{1'000};
  jobs->set_limits(bigger);
  EXPECT_TRUE(test::run_coro(io, jobs->submit(job("job_3", "a", "hold")))) << "room for a third";
  EXPECT_FALSE(test::run_coro(io, jobs->submit(job("job_4", "a"))));
  release();
  clock->advance(1s);
  EXPECT_FALSE(find(*jobs, "job_1", "a")) << "the new result_ttl";
}

TEST_F(MemoryJobsTest, StopRefusesNewJobsAndWaitsForThoseRunning) {
  auto jobs = make();
  ASSERT_TRUE(test::run_coro(io, jobs->submit(job("job_1", "a", "hold"))));
  bool stopped = false;
  jobs->stop([&] { stopped = true; });
  auto refused = test::run_coro(io, jobs->submit(job("job_2", "a")));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, errc::shutting_down);
  io.poll();
  EXPECT_FALSE(stopped) << "job_1 still runs";
  give_up = true;  // the runner could not finish it (its wait was cut by the shutdown)
  release();
  EXPECT_TRUE(stopped);
  auto found = find(*jobs, "job_1", "a");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->status, "failed");
  EXPECT_EQ(found->http_status, 503);
  EXPECT_NE(found->body.find("shut down"), std::string::npos) << found->body;
}

TEST_F(MemoryJobsTest, StopWithNothingRunningIsDoneAtOnce) {
  auto jobs = make();
  bool stopped = false;
  jobs->stop([&] { stopped = true; });
  EXPECT_TRUE(stopped);
}

}  // namespace
}  // namespace sluice::queue
