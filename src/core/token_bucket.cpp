#include "sluice/core/token_bucket.hpp"

#include <algorithm>
#include <cmath>

namespace sluice {

namespace {

double rate_of(double capacity, TokenBucket::Clock::duration period) {
  return capacity > 0 && period.count() > 0 ? capacity / static_cast<double>(std::chrono::nanoseconds(period).count())
                                            : 0.0;
}

}  // namespace

TokenBucket::TokenBucket(double capacity, Clock::duration period, Clock::time_point now)
    : capacity_(capacity), rate_per_ns_(rate_of(capacity, period)), level_(std::max(capacity, 0.0)), last_(now) {}

void TokenBucket::refill(Clock::time_point now) {
  if (now <= last_) return;  // time never runs backwards for a bucket
  const auto elapsed = static_cast<double>(std::chrono::nanoseconds(now - last_).count());
  level_ = std::min(capacity_, level_ + elapsed * rate_per_ns_);
  last_ = now;
}

bool TokenBucket::try_take(double n, Clock::time_point now) {
  if (unlimited()) return true;
  refill(now);
  if (level_ < n) return false;
  level_ -= n;
  return true;
}

void TokenBucket::give_back(double n, Clock::time_point now) {
  if (unlimited() || n <= 0) return;
  refill(now);
  level_ = std::min(capacity_, level_ + n);
}

void TokenBucket::charge(double n, Clock::time_point now) {
  if (unlimited() || n <= 0) return;
  refill(now);
  level_ -= n;
}

double TokenBucket::available(Clock::time_point now) {
  if (unlimited()) return INFINITY;
  refill(now);
  return level_;
}

TokenBucket::Clock::duration TokenBucket::time_until(double n, Clock::time_point now) {
  if (unlimited()) return Clock::duration::zero();
  refill(now);
  const double target = std::min(n, capacity_);
  if (level_ >= target) return Clock::duration::zero();
  const double ns = std::ceil((target - level_) / rate_per_ns_);
  return std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(static_cast<long long>(ns)));
}

void TokenBucket::set_available(double remaining, Clock::time_point now) {
  if (unlimited()) return;
  refill(now);
  level_ = std::clamp(remaining, -capacity_, capacity_);
}

void TokenBucket::set_capacity(double capacity, Clock::duration period, Clock::time_point now) {
  if (capacity == capacity_ && rate_of(capacity, period) == rate_per_ns_) return;
  const bool was_unlimited = unlimited();
  refill(now);
  capacity_ = capacity;
  rate_per_ns_ = rate_of(capacity, period);
  if (unlimited()) return;
  level_ = was_unlimited ? capacity_ : std::min(level_, capacity_);
  last_ = std::max(last_, now);
}

}  // namespace sluice
