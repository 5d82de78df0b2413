// What the cache keeps of one answer, in the process and (shared.cpp) in
// Redis: the entry, where it belongs, and its vector. Private to the cache.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sluice/cache/cache.hpp"

namespace sluice::cache {

struct Record {
  std::uint64_t exact = 0;
  std::uint64_t partition = 0;
  std::string tenant;
  Endpoint endpoint = Endpoint::chat_completions;
  std::shared_ptr<const Entry> entry;
  std::vector<float> vector;  // empty: the exact tier only
};

// xxh64 as 16 lowercase hex digits: an entry's id.
std::string hex_id(std::uint64_t hash);

}  // namespace sluice::cache
