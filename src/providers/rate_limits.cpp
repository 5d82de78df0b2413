#include "sluice/providers/rate_limits.hpp"

#include <algorithm>
#include <charconv>
#include <cctype>
#include <cmath>
#include <cstdint>

namespace sluice::providers {

namespace {

using std::chrono::milliseconds;

constexpr milliseconds kMaxWait{86'400'000};  // a larger value is a provider bug, not a plan

std::optional<std::int64_t> parse_int(std::string_view v) {
  std::int64_t out = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc{} || end != v.data() + v.size()) {
    // from_chars saturates nothing: an out-of-range value is still a (huge) wait
    if (ec == std::errc::result_out_of_range) return INT64_MAX;
    return std::nullopt;
  }
  return out;
}

std::optional<double> parse_count(std::string_view v) {
  double out = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc{} || end != v.data() + v.size() || !(out >= 0)) return std::nullopt;
  return out;
}

milliseconds capped(std::int64_t ms) { return milliseconds(std::min<std::int64_t>(ms, kMaxWait.count())); }

}  // namespace

std::optional<milliseconds> parse_reset_duration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  double total_ms = 0;
  while (!text.empty()) {
    double value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || !(value >= 0)) return std::nullopt;
    text.remove_prefix(static_cast<std::size_t>(end - text.data()));
    std::size_t unit_len = 0;
    while (unit_len < text.size() && std::isalpha(static_cast<unsigned char>(text[unit_len]))) ++unit_len;
    const std::string_view unit = text.substr(0, unit_len);
    text.remove_prefix(unit_len);
    if (unit == "h") total_ms += value * 3'600'000;
    else if (unit == "m") total_ms += value * 60'000;
    else if (unit == "s") total_ms += value * 1000;
    else if (unit == "ms") total_ms += value;
    else if (unit == "us") total_ms += value / 1000;
    else if (unit == "ns") total_ms += value / 1e6;
    else return std::nullopt;
  }
  return capped(static_cast<std::int64_t>(std::min(std::ceil(total_ms), 1e15)));
}

RateLimitInfo parse_rate_limits(const net::ResponseHead& head) {
  RateLimitInfo info;
  auto header = [&](std::string_view name) { return head.header(name); };
  info.remaining_requests = parse_count(header("x-ratelimit-remaining-requests"));
  if (!info.remaining_requests) info.remaining_requests = parse_count(header("anthropic-ratelimit-requests-remaining"));
  info.remaining_tokens = parse_count(header("x-ratelimit-remaining-tokens"));
  if (!info.remaining_tokens) info.remaining_tokens = parse_count(header("anthropic-ratelimit-tokens-remaining"));

  if (auto ms = parse_int(header("retry-after-ms")); ms && *ms >= 0) {
    info.retry_after = capped(*ms);
  } else if (auto s = parse_int(header("retry-after")); s && *s >= 0) {
    info.retry_after = capped(*s > kMaxWait.count() / 1000 ? kMaxWait.count() : *s * 1000);
  } else {
    const auto reset_requests = parse_reset_duration(header("x-ratelimit-reset-requests"));
    const auto reset_tokens = parse_reset_duration(header("x-ratelimit-reset-tokens"));
    const bool requests_out = info.remaining_requests && *info.remaining_requests < 1;
    const bool tokens_out = info.remaining_tokens && *info.remaining_tokens < 1;
    milliseconds wait{-1};
    if (requests_out && reset_requests) wait = std::max(wait, *reset_requests);
    if (tokens_out && reset_tokens) wait = std::max(wait, *reset_tokens);
    if (wait.count() < 0 && head.status == 429) {
      if (reset_requests) wait = std::max(wait, *reset_requests);
      if (reset_tokens) wait = std::max(wait, *reset_tokens);
    }
    info.retry_after = wait;
  }
  return info;
}

}  // namespace sluice::providers
