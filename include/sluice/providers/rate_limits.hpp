// What a provider's response headers say about the account's limits:
// OpenAI and Azure send x-ratelimit-remaining-{requests,tokens} and
// x-ratelimit-reset-{requests,tokens} ("6m0s"), Anthropic sends
// anthropic-ratelimit-{requests,tokens}-remaining, and a 429 usually carries
// Retry-After (seconds) or retry-after-ms. The pool uses this to re-calibrate
// its buckets and to time a cooldown.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

#include "sluice/net/http_client.hpp"

namespace sluice::providers {

struct RateLimitInfo {
  std::optional<double> remaining_requests;
  std::optional<double> remaining_tokens;
  // How long the provider asks us to wait: retry-after-ms, else Retry-After,
  // else the x-ratelimit-reset-* of an exhausted limit (on a 429: the longer
  // reset when neither is marked exhausted). Negative: not said. Capped at a day.
  std::chrono::milliseconds retry_after{-1};
};

RateLimitInfo parse_rate_limits(const net::ResponseHead& head);

// Parses the Go-style durations of x-ratelimit-reset-*: "1s", "6m0s", "20ms",
// "1h2m3.5s". nullopt when malformed.
std::optional<std::chrono::milliseconds> parse_reset_duration(std::string_view text);

}  // namespace sluice::providers
