// Private to pipeline: the id of an async job.
#pragma once

#include <cstdint>
#include <string>

namespace sluice::pipeline {

// "job_" and the 32 hex digits of two random words: the id of an async job,
// whichever backend keeps it.
std::string job_id(std::uint64_t high, std::uint64_t low);

}  // namespace sluice::pipeline
