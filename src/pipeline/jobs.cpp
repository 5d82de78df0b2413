#include "jobs.hpp"

#include "sluice/pipeline/job.hpp"

namespace sluice::pipeline {

std::string_view to_string(JobStatus status) noexcept {
  switch (status) {
    case JobStatus::queued: return "queued";
    case JobStatus::running: return "running";
    case JobStatus::completed: return "completed";
    case JobStatus::failed: return "failed";
  }
  return "failed";
}

std::string job_id(std::uint64_t high, std::uint64_t low) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = "job_";
  for (std::uint64_t bits : {high, low})
    for (int i = 0; i < 16; ++i, bits >>= 4) id.push_back(kHex[bits & 15]);
  return id;
}

}  // namespace sluice::pipeline
