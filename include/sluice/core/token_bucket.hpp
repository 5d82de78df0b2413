// TokenBucket: the capacity arithmetic behind a provider's RPM and TPM limits.
// Pure: time is passed in, so tests drive it without sleeping, and the
// caller (the pool) reads the clock.
//
// A bucket holds up to `capacity` tokens and refills continuously at
// `capacity / period`. Reserve first, settle after: take() is all-or-nothing,
// so concurrent requests can never overshoot together (the classic
// check-then-act bug); once the real cost is known, the difference is given
// back or charged as debt (the level may go below zero, delaying later takes).
#pragma once

#include <chrono>

#include "sluice/core/clock.hpp"

namespace sluice {

class TokenBucket {
 public:
  using Clock = sluice::Clock;

  // capacity <= 0 means unlimited: every take succeeds.
  TokenBucket(double capacity, Clock::duration period, Clock::time_point now);

  bool unlimited() const noexcept { return capacity_ <= 0; }
  double capacity() const noexcept { return capacity_; }

  // Takes n tokens if they are all there; false (and nothing taken) otherwise.
  bool try_take(double n, Clock::time_point now);
  // Returns unused tokens (never above capacity).
  void give_back(double n, Clock::time_point now);
  // Charges n tokens even if the bucket goes below zero (usage above the estimate).
  void charge(double n, Clock::time_point now);
  // Tokens available now (may be negative while in debt).
  double available(Clock::time_point now);
  // How long until n tokens are available: zero if they are; for n above
  // capacity, the time to refill completely.
  Clock::duration time_until(double n, Clock::time_point now);
  // Re-calibrates from a provider's own count (x-ratelimit-remaining-*):
  // the provider knows what other clients of the account used.
  void set_available(double remaining, Clock::time_point now);
  // A configuration reload changed the limit: the new capacity and refill
  // rate apply from `now`, and the level is kept, clamped to the new
  // capacity (a lowered limit takes effect at once; a raised one does not
  // hand out the difference). A bucket that was unlimited starts full.
  void set_capacity(double capacity, Clock::duration period, Clock::time_point now);

 private:
  void refill(Clock::time_point now);

  double capacity_;
  double rate_per_ns_;
  double level_;
  Clock::time_point last_;
};

}  // namespace sluice
