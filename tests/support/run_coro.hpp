// Driving Asio coroutines from a GoogleTest body: run an awaitable on the
// test's own io_context (on the test thread) until it finishes, with a bound.
#pragma once

#include <chrono>
#include <exception>
#include <optional>
#include <stdexcept>
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

namespace sluice::test {

// Runs handlers on `io` until `done()` is true; false when `timeout` passed first.
template <class Pred>
bool run_until(boost::asio::io_context& io, Pred done,
               std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    if (io.stopped()) io.restart();
    io.run_one_for(std::min<std::chrono::steady_clock::duration>(deadline - now, std::chrono::milliseconds(50)));
  }
  return true;
}

namespace detail {
// Result<T> has no default constructor, which co_spawn's completion needs;
// park the value in an optional instead.
template <class T>
boost::asio::awaitable<void> store_into(boost::asio::awaitable<T> task, std::optional<T>* out) {
  out->emplace(co_await std::move(task));
}
}  // namespace detail

// Runs `task` to completion on `io` and returns its value; rethrows what it
// threw. Throws std::runtime_error when it has not finished within `timeout`
// (the test then fails; the io_context dies with the test).
template <class T>
T run_coro(boost::asio::io_context& io, boost::asio::awaitable<T> task,
           std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  std::optional<T> result;
  bool done = false;
  std::exception_ptr error;
  boost::asio::co_spawn(io, detail::store_into(std::move(task), &result), [&](std::exception_ptr e) {
    error = e;
    done = true;
  });
  if (!run_until(io, [&] { return done; }, timeout)) throw std::runtime_error("run_coro: coroutine timed out");
  if (error) std::rethrow_exception(error);
  return std::move(*result);
}

inline void run_coro(boost::asio::io_context& io, boost::asio::awaitable<void> task,
                     std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  bool done = false;
  std::exception_ptr error;
  boost::asio::co_spawn(io, std::move(task), [&](std::exception_ptr e) {
    error = e;
    done = true;
  });
  if (!run_until(io, [&] { return done; }, timeout)) throw std::runtime_error("run_coro: coroutine timed out");
  if (error) std::rethrow_exception(error);
}

}  // namespace sluice::test
