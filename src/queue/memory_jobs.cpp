#include "sluice/queue/memory_jobs.hpp"

#include <deque>
#include <unordered_map>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>

namespace sluice::queue {

namespace asio = boost::asio;

struct MemoryJobs::Impl {
  Impl(asio::any_io_executor ex, const QueueConfig& q, JobRunner r, std::shared_ptr<const Clock> c)
      : executor(std::move(ex)), max_unfinished(q.max_length), result_ttl(q.result_ttl), runner(std::move(r)),
        clock(std::move(c)) {}

  asio::any_io_executor executor;
  std::size_t max_unfinished;
  Clock::duration result_ttl;
  JobRunner runner;
  std::shared_ptr<const Clock> clock;
  std::unordered_map<std::string, JobState> jobs;
  std::deque<std::pair<Clock::time_point, std::string>> finished;  // in finishing order
  std::size_t unfinished = 0;
  std::size_t running = 0;
  bool stopping = false;
  std::function<void()> on_done;
  MemoryJobsCounters counters;

  // Drops finished jobs past result_ttl, and the oldest beyond max_unfinished of them.
  void evict(Clock::time_point now) {
    while (!finished.empty() && (now - finished.front().first >= result_ttl || finished.size() > max_unfinished)) {
      jobs.erase(finished.front().second);
      finished.pop_front();
    }
  }

  void finish(const std::string& id, const std::optional<JobOutcome>& outcome) {
    const auto it = jobs.find(id);
    if (it != jobs.end()) {
      JobState& job = it->second;
      if (outcome) {
        job.status = outcome->completed ? "completed" : "failed";
        job.http_status = outcome->http_status;
        job.body = outcome->body;
      } else {  // not finished here (shutdown): nobody will run it again
        const Error e = make_error(errc::shutting_down, "The gateway shut down before the job finished.");
        job.status = "failed";
        job.http_status = e.status();
        job.body = error_body(e);
      }
      ++(job.status == "completed" ? counters.completed : counters.failed);
      --unfinished;
      const auto now = clock->now();
      finished.emplace_back(now, id);
      evict(now);
    }
    if (--running == 0 && on_done) asio::post(executor, std::exchange(on_done, nullptr));
  }

  static asio::awaitable<void> run(std::shared_ptr<Impl> self, JobEntry job) {
    if (auto it = self->jobs.find(job.id); it != self->jobs.end()) it->second.status = "running";
    std::optional<JobOutcome> outcome = co_await self->runner(job);
    self->finish(job.id, outcome);
  }
};

MemoryJobs::MemoryJobs(asio::any_io_executor executor, const QueueConfig& queue, JobRunner runner,
                       std::shared_ptr<const Clock> clock)
    : impl_(std::make_shared<Impl>(std::move(executor), queue, std::move(runner), std::move(clock))) {}

MemoryJobs::~MemoryJobs() = default;

void MemoryJobs::stop(std::function<void()> done) {
  impl_->stopping = true;
  if (impl_->running == 0) {
    if (done) done();
  } else {
    impl_->on_done = std::move(done);
  }
}

void MemoryJobs::set_limits(const QueueConfig& queue) noexcept {
  impl_->max_unfinished = queue.max_length;
  impl_->result_ttl = queue.result_ttl;
}

asio::awaitable<Status> MemoryJobs::submit(JobEntry job) {
  Impl& s = *impl_;
  if (s.stopping) co_return make_error(errc::shutting_down, "The gateway is shutting down; retry on another replica.");
  s.evict(s.clock->now());
  if (s.unfinished >= s.max_unfinished) {
    Error full = make_error(errc::rate_limited, "The overflow queue is full (" + std::to_string(s.max_unfinished) +
                                                    " jobs wait already); retry later.");
    full.retry_after_ms = 1000;
    co_return full;
  }
  JobState& state = s.jobs[job.id];
  state = JobState{.id = job.id, .tenant = job.tenant, .model = job.group, .status = "queued",
                   .created_at = job.enqueued_ms / 1000};
  ++s.unfinished;
  ++s.running;
  ++s.counters.submitted;
  asio::co_spawn(s.executor, Impl::run(impl_, std::move(job)), asio::detached);
  co_return Ok{};
}

asio::awaitable<Result<std::optional<JobState>>> MemoryJobs::find(std::string id, std::string tenant) {
  Impl& s = *impl_;
  s.evict(s.clock->now());
  const auto it = s.jobs.find(id);
  if (it == s.jobs.end() || it->second.tenant != tenant) co_return std::optional<JobState>{};
  co_return std::optional<JobState>(it->second);
}

std::size_t MemoryJobs::unfinished() const noexcept { return impl_->unfinished; }
const MemoryJobsCounters& MemoryJobs::counters() const noexcept { return impl_->counters; }

}  // namespace sluice::queue
