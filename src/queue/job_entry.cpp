#include "job_entry.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>

namespace sluice::queue {

namespace {

const std::string* field(const EntryFields& f, const char* name) {
  auto it = f.find(name);
  return it == f.end() ? nullptr : &it->second;
}

}  // namespace

bool to_int(std::string_view text, std::int64_t& out) {
  const char* end = text.data() + text.size();
  const auto [at, ec] = std::from_chars(text.data(), end, out);
  return !text.empty() && ec == std::errc() && at == end;
}

std::vector<std::string> entry_fields(const JobEntry& job) {
  return {"id",          job.id,
          "tenant",      job.tenant,
          "key_id",      job.key_id,
          "priority",    std::to_string(job.priority),
          "enqueued_ms", std::to_string(job.enqueued_ms),
          "deadline_ms", std::to_string(job.deadline_ms),
          "endpoint",    job.endpoint,
          "body",        job.body,
          "headers",     encode_headers(job.headers)};
}

std::string encode_headers(const std::vector<Header>& headers) {
  std::string out;
  for (const Header& h : headers) out.append(h.name).append(1, ':').append(h.value).append(1, '\n');
  return out;
}

std::vector<Header> decode_headers(std::string_view text) {
  std::vector<Header> headers;
  while (!text.empty()) {
    const auto eol = std::min(text.find('\n'), text.size());
    const std::string_view line = text.substr(0, eol);
    text.remove_prefix(std::min(eol + 1, text.size()));
    if (const auto colon = line.find(':'); colon != std::string_view::npos && colon > 0)
      headers.push_back({std::string(line.substr(0, colon)), std::string(line.substr(colon + 1))});
  }
  return headers;
}

std::optional<JobEntry> decode_entry(const EntryFields& f, const std::string& group) {
  JobEntry job;
  job.group = group;
  for (auto [name, out] : {std::pair{"id", &job.id}, {"tenant", &job.tenant}, {"key_id", &job.key_id},
                           {"endpoint", &job.endpoint}, {"body", &job.body}}) {
    const std::string* v = field(f, name);
    if (!v) return std::nullopt;
    *out = *v;
  }
  std::int64_t priority = 0;
  const std::string *p = field(f, "priority"), *e = field(f, "enqueued_ms"), *d = field(f, "deadline_ms");
  if (!p || !e || !d || !to_int(*p, priority) || !to_int(*e, job.enqueued_ms) || !to_int(*d, job.deadline_ms))
    return std::nullopt;
  if (!job.id.starts_with("job_") || job.body.empty() || priority < 0 || priority > 2) return std::nullopt;
  job.priority = static_cast<int>(priority);
  if (const std::string* h = field(f, "headers")) job.headers = decode_headers(*h);  // absent in earlier versions' entries
  return job;
}

}  // namespace sluice::queue
