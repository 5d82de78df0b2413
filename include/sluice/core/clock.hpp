// Clock: where every stage that decides by time (buckets, cooldowns,
// ejection, timings) reads the time. The composition root hands in the
// steady clock; tests hand in a manual one and move it by hand, so nothing
// sleeps to test a timing.
#pragma once

#include <chrono>

namespace sluice {

class Clock {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  using duration = std::chrono::steady_clock::duration;

  virtual ~Clock() = default;
  virtual time_point now() const noexcept = 0;
};

class SteadyClock final : public Clock {
 public:
  time_point now() const noexcept override { return std::chrono::steady_clock::now(); }
};

}  // namespace sluice
