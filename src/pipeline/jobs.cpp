#include "jobs.hpp"

#include <algorithm>

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

JobStore::JobStore(std::size_t max_unfinished, Clock::duration result_ttl, std::uint64_t seed)
    : max_unfinished_(max_unfinished), result_ttl_(result_ttl), random_(seed) {}

std::optional<std::string> JobStore::create(std::string tenant, std::string model, Clock::time_point now,
                                            std::int64_t created_unix) {
  evict(now);
  if (unfinished_ >= max_unfinished_) return std::nullopt;
  const std::uint64_t high = random_();
  std::string id = job_id(high, random_());
  Job& job = jobs_[id];
  job.id = id;
  job.tenant = std::move(tenant);
  job.model = std::move(model);
  job.created_at = created_unix;
  ++unfinished_;
  return id;
}

void JobStore::running(const std::string& id) {
  if (auto it = jobs_.find(id); it != jobs_.end()) it->second.status = JobStatus::running;
}

void JobStore::finish(const std::string& id, JobStatus status, int http_status, std::string body,
                      Clock::time_point now) {
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return;
  it->second.status = status;
  it->second.http_status = http_status;
  it->second.body = std::move(body);
  --unfinished_;
  finished_.emplace_back(now, id);
  evict(now);
}

std::optional<Job> JobStore::find(const std::string& id, const std::string& tenant, Clock::time_point now) {
  evict(now);
  const auto it = jobs_.find(id);
  if (it == jobs_.end() || it->second.tenant != tenant) return std::nullopt;
  return it->second;
}

void JobStore::evict(Clock::time_point now) {
  while (!finished_.empty() && (now - finished_.front().first >= result_ttl_ || finished_.size() > max_unfinished_)) {
    jobs_.erase(finished_.front().second);
    finished_.pop_front();
  }
}

}  // namespace sluice::pipeline
