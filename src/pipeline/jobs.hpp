// JobStore: the async jobs of `Prefer: respond-async` requests, from 202 to
// their result, for GET /v1/jobs/{id}. This is the memory backend: bounded
// (unfinished jobs by queue.max_length, finished ones kept for
// queue.result_ttl and at most max_length of them, oldest dropped first),
// and gone when the process ends. Private to pipeline.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>

#include "sluice/core/clock.hpp"
#include "sluice/pipeline/job.hpp"

namespace sluice::pipeline {

// "job_" and the 32 hex digits of two random words: the id of an async job,
// whichever backend keeps it.
std::string job_id(std::uint64_t high, std::uint64_t low);

class JobStore {
 public:
  JobStore(std::size_t max_unfinished, Clock::duration result_ttl, std::uint64_t seed);

  // A new queued job of `tenant`; nullopt when max_unfinished jobs are
  // unfinished already.
  std::optional<std::string> create(std::string tenant, std::string model, Clock::time_point now,
                                    std::int64_t created_unix);
  void running(const std::string& id);
  void finish(const std::string& id, JobStatus status, int http_status, std::string body, Clock::time_point now);
  // The job if it exists and belongs to `tenant`.
  std::optional<Job> find(const std::string& id, const std::string& tenant, Clock::time_point now);
  std::size_t unfinished() const noexcept { return unfinished_; }
  // A reload changed queue.max_length or queue.result_ttl: they apply to
  // what is created or finishes from now on.
  void set_limits(std::size_t max_unfinished, Clock::duration result_ttl) noexcept {
    max_unfinished_ = max_unfinished;
    result_ttl_ = result_ttl;
  }

 private:
  void evict(Clock::time_point now);

  std::size_t max_unfinished_;
  Clock::duration result_ttl_;
  std::mt19937_64 random_;
  std::unordered_map<std::string, Job> jobs_;
  std::deque<std::pair<Clock::time_point, std::string>> finished_;  // in finishing order
  std::size_t unfinished_ = 0;
};

}  // namespace sluice::pipeline
