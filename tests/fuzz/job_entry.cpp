// Fuzz target: decoding a queued job's stream entry on the replica that
// reads it (queue/job_entry.cpp). The entry may have been written by
// another version, truncated, or by anyone with access to Redis. The input
// is the entry's fields, NUL-separated: name, value, name, value...
// Invariants: no crash, deterministic; a decoded job holds exactly the
// fields it was read from, a priority class that exists, headers with a
// name and without a line break; writing it back (entry_fields) and reading
// that again gives the same job.
#include <string>

#include "fuzz_support.hpp"
#include "job_entry.hpp"

namespace {

using sluice::queue::EntryFields;
using sluice::queue::JobEntry;

bool same(const JobEntry& a, const JobEntry& b) {
  if (a.id != b.id || a.tenant != b.tenant || a.key_id != b.key_id || a.group != b.group ||
      a.priority != b.priority || a.enqueued_ms != b.enqueued_ms || a.deadline_ms != b.deadline_ms ||
      a.endpoint != b.endpoint || a.body != b.body || a.headers.size() != b.headers.size())
    return false;
  for (std::size_t i = 0; i < a.headers.size(); ++i)
    if (a.headers[i].name != b.headers[i].name || a.headers[i].value != b.headers[i].value) return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sluice;
  std::string_view input = fuzz::text_of(data, size);
  EntryFields fields;
  while (!input.empty()) {
    const std::size_t name_end = std::min(input.find('\0'), input.size());
    const std::string name(input.substr(0, name_end));
    input.remove_prefix(std::min(name_end + 1, input.size()));
    const std::size_t value_end = std::min(input.find('\0'), input.size());
    fields[name] = std::string(input.substr(0, value_end));
    input.remove_prefix(std::min(value_end + 1, input.size()));
  }

  const auto job = queue::decode_entry(fields, "group");
  const auto again = queue::decode_entry(fields, "group");
  FUZZ_CHECK(job.has_value() == again.has_value() && (!job || same(*job, *again)), "decoding is not deterministic");
  if (!job) return 0;
  FUZZ_CHECK(job->id == fields["id"] && job->tenant == fields["tenant"] && job->key_id == fields["key_id"] &&
                 job->endpoint == fields["endpoint"] && job->body == fields["body"] && job->group == "group",
             "a decoded job differs from its entry's fields");
  FUZZ_CHECK(job->id.starts_with("job_") && !job->body.empty(), "a job without an id or a body was decoded");
  FUZZ_CHECK(job->priority >= 0 && job->priority <= 2, "a priority class that does not exist");
  for (const Header& h : job->headers) {
    FUZZ_CHECK(!h.name.empty() && h.name.find_first_of(":\n") == std::string::npos, "a header name with ':' or a line break");
    FUZZ_CHECK(h.value.find('\n') == std::string::npos, "a header value with a line break");
  }

  const std::vector<std::string> written = queue::entry_fields(*job);
  FUZZ_CHECK(written.size() % 2 == 0, "an odd number of entry fields");
  EntryFields rewritten;
  for (std::size_t i = 0; i + 1 < written.size(); i += 2) rewritten[written[i]] = written[i + 1];
  const auto reread = queue::decode_entry(rewritten, "group");
  FUZZ_CHECK(reread && same(*job, *reread), "a job written back does not read the same");
  return 0;
}
