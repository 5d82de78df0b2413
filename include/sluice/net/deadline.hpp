// Deadline: a cheap timeout for socket I/O on the hot path.
//
// A Beast/Asio per-operation timer costs a timer-queue insert and removal and
// a posted completion for the cancelled wait (one more reactor poll) on every
// read and write. A Deadline instead is a time stamp checked by one sweeper
// per event loop, which ticks every kResolution while any deadline is armed:
// arming and disarming are O(1) field writes, and an expired deadline calls
// its handler (typically: cancel or close the socket). Precision is
// kResolution, ample for timeouts measured in seconds.
//
// Single-threaded: all calls on the event loop's thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>

#include <boost/asio/any_io_executor.hpp>

namespace sluice::net {

class DeadlineSweeper;

class Deadline {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr auto kResolution = std::chrono::milliseconds(25);

  // `on_expire` runs on the loop when an armed deadline passes; it must not
  // destroy this Deadline.
  Deadline(const boost::asio::any_io_executor& executor, std::function<void()> on_expire);
  ~Deadline();
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

  // Arms (or re-arms) the deadline `d` from now and clears expired().
  void expire_after(Clock::duration d);
  // Disarms; expired() keeps its value.
  void disarm() noexcept;
  // True once the handler ran for the current arming.
  bool expired() const noexcept { return expired_; }
  bool armed() const noexcept { return slot_ != kNotArmed; }

 private:
  friend class DeadlineSweeper;
  static constexpr std::size_t kNotArmed = static_cast<std::size_t>(-1);

  DeadlineSweeper& sweeper_;
  std::function<void()> on_expire_;
  Clock::time_point at_{};
  std::size_t slot_ = kNotArmed;  // index in the sweeper's armed list
  bool expired_ = false;
};

}  // namespace sluice::net
