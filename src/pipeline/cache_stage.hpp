// The cache stage's parts the pipeline and its tests share.
#pragma once

#include <optional>
#include <string_view>

#include "sluice/core/error.hpp"

namespace sluice::pipeline {

// The request header that raises the semantic tier's threshold for one
// request (a cosine, 0..1); it never lowers the configured one.
inline constexpr std::string_view kCacheThresholdHeader = "x-sluice-cache-threshold";

// The header's value as a similarity: nullopt when absent; bad_request
// when it is not a number in [0, 1].
Result<std::optional<float>> parse_cache_threshold(std::string_view value);

}  // namespace sluice::pipeline
