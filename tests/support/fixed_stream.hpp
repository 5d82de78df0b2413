// FixedStream: a ChunkStream that yields the events it was given, then the
// clean end (or an error first, or in place of the clean end, to test a
// stream that breaks).
#pragma once

#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sluice/core/answer.hpp"

namespace sluice::test {

class FixedStream final : public ChunkStream {
 public:
  explicit FixedStream(std::vector<std::string> events, std::optional<Error> error = std::nullopt, Usage usage = {},
                       std::optional<Error> end_error = std::nullopt)
      : events_(events.begin(), events.end()), error_(std::move(error)), usage_(usage),
        end_error_(std::move(end_error)) {}

  boost::asio::awaitable<Result<std::string>> next() override {
    if (error_) co_return *std::exchange(error_, std::nullopt);
    if (events_.empty()) {
      if (end_error_) co_return *end_error_;
      co_return std::string{};
    }
    std::string e = std::move(events_.front());
    events_.pop_front();
    co_return e;
  }
  Usage usage() const override { return usage_; }

 private:
  std::deque<std::string> events_;
  std::optional<Error> error_;
  Usage usage_;
  std::optional<Error> end_error_;
};

}  // namespace sluice::test
