// How a job is written into a stream entry and read back. The drain loop
// decodes entries written by this version, an older one, or anything else
// that can write to Redis: every field is checked, and an entry that does
// not decode is moved aside (sluice:jobs:dead), never run.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/core/header.hpp"
#include "sluice/queue/job_backend.hpp"

namespace sluice::queue {

using EntryFields = std::map<std::string, std::string>;

// The entry's fields as XADD writes them: name, value, name, value...
std::vector<std::string> entry_fields(const JobEntry& job);

// The job an entry of `group`'s streams holds; nullopt when a field is
// missing or unreadable. Linear in the entry's size.
std::optional<JobEntry> decode_entry(const EntryFields& fields, const std::string& group);

// A job's headers as one field: "name:value" lines. Names hold no colon and
// values no line break (the front door refuses both), so the split is
// unambiguous; a line without a name is skipped.
// The whole of `text` as a decimal integer (an optional '-', digits, nothing else).
bool to_int(std::string_view text, std::int64_t& out);

std::string encode_headers(const std::vector<Header>& headers);
std::vector<Header> decode_headers(std::string_view text);

}  // namespace sluice::queue
