// Running a fuzz target's coroutine (a stream's next()) to its end without
// I/O. Separate from fuzz_support.hpp so that targets without coroutines
// need not link Asio.
#pragma once

#include <exception>
#include <optional>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "fuzz_support.hpp"

namespace sluice::fuzz {

// Runs `task` on a private io_context to its end and returns its value.
// The targets' coroutines never wait on I/O, so run() returns once it did.
template <class T>
T run(boost::asio::awaitable<T> task) {
  boost::asio::io_context io;
  std::optional<T> out;
  boost::asio::co_spawn(
      io, [](boost::asio::awaitable<T> t, std::optional<T>* o) -> boost::asio::awaitable<void> {
        o->emplace(co_await std::move(t));
      }(std::move(task), &out),
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  io.run();
  FUZZ_CHECK(out.has_value(), "the coroutine did not finish without I/O");
  return std::move(*out);
}

}  // namespace sluice::fuzz
