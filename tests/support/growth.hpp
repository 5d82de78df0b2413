// "Linear time" asserted as a ratio, not a wall-clock bound: how much longer
// the work takes on sixteen times the input, against how much longer a
// control that is linear by construction (e.g. a plain JSON parse of the
// same bytes) takes on the same two inputs. Linear work scores about 1;
// quadratic work about 16. The control absorbs what is not the algorithm's:
// the larger input leaving the caches, or another process thrashing them
// (on a loaded machine the plain growth of linear work was seen at 3.5x its
// quiet value). A ratio holds on a loaded CI machine and under the
// sanitizers, where an absolute bound either fails or is too loose to catch
// anything. Times are the thread's CPU time, so waiting for a core is not counted.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <ctime>

namespace sluice::test {

inline constexpr std::size_t kGrowthFactor = 16;
// Below this the work is taken as linear; quadratic work scores about 16.
inline constexpr double kLinearGrowth = 5.0;

// The calling thread's CPU time: a try the scheduler preempts is not
// charged for the time it waited (on a shared core the wall clock of the
// large run, milliseconds long, took every preemption while the small runs
// escaped them: growth 11.7 for linear work, seen 3 times in 120 runs).
inline std::chrono::nanoseconds thread_cpu_time() {
  timespec t{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return std::chrono::seconds(t.tv_sec) + std::chrono::nanoseconds(t.tv_nsec);
}

// This try's time of f(input), if better than `best`.
template <class Input, class F>
void time_best(const Input& input, F& f, std::chrono::nanoseconds& best) {
  const auto start = thread_cpu_time();
  f(input);
  best = std::min(best, thread_cpu_time() - start);
}

// [run(make(16n)) / run(make(n))] / [control(make(16n)) / control(make(n))],
// each the best of `tries` (the machine's pauses only add), the four runs of
// a try interleaved so that each sees the same machine. Making the input is
// not timed. Choose n so that a quadratic cost would dominate at n.
template <class Make, class Run, class Control>
double growth(Make make, Run run, Control control, std::size_t n, int tries = 5) {
  const auto small = make(n);
  const auto large = make(kGrowthFactor * n);
  run(small);  // warms allocators and the thread's buffers
  control(small);
  using std::chrono::nanoseconds;
  nanoseconds run_small = nanoseconds::max(), run_large = run_small, control_small = run_small,
              control_large = run_small;
  for (int i = 0; i < tries; ++i) {
    time_best(small, run, run_small);
    time_best(small, control, control_small);
    time_best(large, run, run_large);
    time_best(large, control, control_large);
  }
  const auto ratio = [](nanoseconds large, nanoseconds small) {
    return double(large.count()) / double(std::max<nanoseconds::rep>(small.count(), 1));
  };
  return ratio(run_large, run_small) / ratio(control_large, control_small);
}

}  // namespace sluice::test
