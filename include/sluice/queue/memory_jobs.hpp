// MemoryJobs: the `memory` backend of the overflow queue's async jobs (the
// default), for a single gateway without Redis. A job runs as soon as it is
// submitted, through the runner (where it waits for capacity in the
// pipeline's line like any held request, up to its deadline); its state and
// result are kept here for GET /v1/jobs/{id}.
//
// Bounded: at most queue.max_length unfinished jobs (one more is a 429), and
// finished ones for queue.result_ttl, at most max_length of them (oldest
// dropped first). Nothing survives the process: jobs queued or running at
// exit are lost (docs/operations.md says so). Single-threaded: the
// executor's thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>

#include "sluice/core/clock.hpp"
#include "sluice/core/config.hpp"
#include "sluice/queue/job_backend.hpp"

namespace sluice::queue {

struct MemoryJobsCounters {
  std::uint64_t submitted = 0, completed = 0, failed = 0;
};

class MemoryJobs final : public JobBackend {
 public:
  MemoryJobs(boost::asio::any_io_executor executor, const QueueConfig& queue, JobRunner runner,
             std::shared_ptr<const Clock> clock);
  ~MemoryJobs() override;
  MemoryJobs(const MemoryJobs&) = delete;
  MemoryJobs& operator=(const MemoryJobs&) = delete;

  // Refuses new jobs (shutting_down); `done` runs once the jobs running
  // here ended (at once when none does).
  void stop(std::function<void()> done);

  // A configuration reload changed queue.max_length or queue.result_ttl:
  // they apply to what is submitted or finishes from now on.
  void set_limits(const QueueConfig& queue) noexcept;

  boost::asio::awaitable<Status> submit(JobEntry job) override;
  boost::asio::awaitable<Result<std::optional<JobState>>> find(std::string id, std::string tenant) override;

  std::size_t unfinished() const noexcept;
  const MemoryJobsCounters& counters() const noexcept;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace sluice::queue
