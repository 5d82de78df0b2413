// Job: an async request (`Prefer: respond-async`) as GET /v1/jobs/{id}
// shows it: its state, and once finished the answer it got.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::pipeline {

enum class JobStatus { queued, running, completed, failed };

std::string_view to_string(JobStatus status) noexcept;

struct Job {
  std::string id;      // "job_" and 32 hex digits
  std::string tenant;  // only this tenant may read it
  std::string model;
  JobStatus status = JobStatus::queued;
  std::int64_t created_at = 0;  // unix seconds
  int http_status = 0;          // the answer's status, once finished
  std::string body;             // the answer's body (JSON), once finished
};

}  // namespace sluice::pipeline
