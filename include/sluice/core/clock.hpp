// Clock: where every stage that decides by time (buckets, cooldowns,
// ejection, timings, key expiry, monthly budgets) reads the time. The
// composition root hands in the system's clocks; tests hand in a manual one
// and move it by hand, so nothing sleeps to test a timing.
#pragma once

#include <chrono>

namespace sluice {

class Clock {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  using duration = std::chrono::steady_clock::duration;

  using wall_time = std::chrono::system_clock::time_point;

  virtual ~Clock() = default;
  // Monotonic: for intervals (buckets, timeouts, cooldowns).
  virtual time_point now() const noexcept = 0;
  // The calendar (UTC): for what the configuration dates (key expiry, the
  // month a budget counts in). It may jump; never measure intervals with it.
  virtual wall_time wall() const noexcept = 0;
};

class SteadyClock final : public Clock {
 public:
  time_point now() const noexcept override { return std::chrono::steady_clock::now(); }
  wall_time wall() const noexcept override { return std::chrono::system_clock::now(); }
};

}  // namespace sluice
