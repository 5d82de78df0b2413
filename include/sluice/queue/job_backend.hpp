// JobBackend: where async jobs (Prefer: respond-async) live between their
// 202 and their result, and who runs them. The pipeline submits and looks
// jobs up through it: `queue.backend: memory` is MemoryJobs (memory_jobs.hpp),
// in this process only; `redis` is RedisJobs (redis_jobs.hpp), shared by
// every replica and surviving a restart. Both run a job with the same
// JobRunner (the composition root's: the job's call through the pipeline).
// Held (synchronous) requests never come here: they wait in their own
// replica's WaitLine.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "sluice/core/error.hpp"
#include "sluice/core/header.hpp"

namespace sluice::queue {

// One job as submitted: enough for any replica to re-create the call.
struct JobEntry {
  std::string id;        // "job_" and 32 hex digits
  std::string tenant;
  std::string key_id;    // the key that submitted it ("" without keys)
  std::string group;     // the model group (the stream it waits in)
  int priority = 1;      // 0 low, 1 normal, 2 high
  std::int64_t enqueued_ms = 0;  // unix ms
  std::int64_t deadline_ms = 0;  // unix ms: never run after this
  std::string endpoint;  // to_string(Endpoint)
  std::string body;      // the client's JSON, as received
  // The request headers the stages read (router rules: Call::headers),
  // lower-case names; values never hold a line break (the front door refuses those).
  std::vector<Header> headers;
};

// A job as GET /v1/jobs/{id} shows it.
struct JobState {
  std::string id, tenant, model;
  std::string status;        // queued | running | completed | failed
  std::int64_t created_at = 0;  // unix seconds
  int http_status = 0;
  std::string body;
};

// What running a job gave: the answer's status and body (an error's too).
struct JobOutcome {
  bool completed = false;  // false: failed
  int http_status = 0;
  std::string body;
};

// Runs one job; nullopt when it could not finish here (shutdown): a shared
// backend leaves it for another replica.
using JobRunner = std::function<boost::asio::awaitable<std::optional<JobOutcome>>(const JobEntry&)>;

class JobBackend {
 public:
  virtual ~JobBackend() = default;
  // Stores the job for a drain loop (any replica's). redis_unavailable when
  // it cannot be stored: the job does not exist then.
  virtual boost::asio::awaitable<Status> submit(JobEntry job) = 0;
  // The job if it exists and belongs to `tenant`; redis_unavailable when
  // the store cannot be asked.
  virtual boost::asio::awaitable<Result<std::optional<JobState>>> find(std::string id, std::string tenant) = 0;
};

}  // namespace sluice::queue
