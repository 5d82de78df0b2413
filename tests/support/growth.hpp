// "Linear time" asserted as a ratio, not a wall-clock bound: how much longer
// the work takes on four times the input. Linear work grows about 4x (less,
// with fixed costs; a little more when the input leaves the caches), quadratic
// work 16x. A ratio holds on a loaded CI machine and under the sanitizers,
// where an absolute bound either fails or is too loose to catch anything.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>

namespace sluice::test {

// Below this, work on 4n items is taken as linear; quadratic work scores 16.
inline constexpr double kLinearGrowth = 10.0;

// The best of `tries` timings of run(input): the machine's pauses only add.
template <class Input, class Run>
std::chrono::nanoseconds best_time(const Input& input, Run& run, int tries) {
  auto best = std::chrono::nanoseconds::max();
  for (int i = 0; i < tries; ++i) {
    const auto start = std::chrono::steady_clock::now();
    run(input);
    best = std::min(best, std::chrono::nanoseconds(std::chrono::steady_clock::now() - start));
  }
  return best;
}

// time(run(make(4n))) / time(run(make(n))); making the input is not timed.
// Choose n so that a quadratic cost would dominate the fixed ones at n.
template <class Make, class Run>
double growth(Make make, Run run, std::size_t n, int tries = 3) {
  const auto small = make(n);
  const auto large = make(4 * n);
  run(small);  // warms allocators and the thread's buffers
  const auto t_small = best_time(small, run, tries);
  const auto t_large = best_time(large, run, tries);
  return double(t_large.count()) / double(std::max<std::chrono::nanoseconds::rep>(t_small.count(), 1));
}

}  // namespace sluice::test
