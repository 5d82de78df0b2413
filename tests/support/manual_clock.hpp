// ManualClock: a Clock that moves only when the test says so. Stages that
// decide by time (pool cooldowns, ejection, catalog refresh) are tested by
// advancing it, never by sleeping.
#pragma once

#include "sluice/core/clock.hpp"

namespace sluice::test {

class ManualClock final : public Clock {
 public:
  // The wall clock starts at 2026-12-06T12:00:00Z and moves with the steady one.
  explicit ManualClock(time_point start = time_point{} + std::chrono::hours(1)) : now_(start), start_(start) {}
  time_point now() const noexcept override { return now_; }
  wall_time wall() const noexcept override {
    return wall_start_ + std::chrono::duration_cast<wall_time::duration>(now_ - start_);
  }
  void advance(duration d) noexcept { now_ += d; }
  void set_wall(wall_time at) noexcept { wall_start_ = at - std::chrono::duration_cast<wall_time::duration>(now_ - start_); }

 private:
  time_point now_, start_;
  wall_time wall_start_ = std::chrono::sys_days{std::chrono::year{2026} / 12 / 6} + std::chrono::hours(12);
};

}  // namespace sluice::test
