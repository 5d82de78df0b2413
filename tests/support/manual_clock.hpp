// ManualClock: a Clock that moves only when the test says so. Stages that
// decide by time (pool cooldowns, ejection, catalog refresh) are tested by
// advancing it, never by sleeping.
#pragma once

#include "sluice/core/clock.hpp"

namespace sluice::test {

class ManualClock final : public Clock {
 public:
  explicit ManualClock(time_point start = time_point{} + std::chrono::hours(1)) : now_(start) {}
  time_point now() const noexcept override { return now_; }
  void advance(duration d) noexcept { now_ += d; }

 private:
  time_point now_;
};

}  // namespace sluice::test
