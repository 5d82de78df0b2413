// ScriptedProvider: a Provider that answers from a script, one entry per
// call, and records what it was asked. For the pipeline and front-door tests,
// which need a provider but not HTTP.
#pragma once

#include <algorithm>
#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sluice/providers/provider.hpp"
#include "support/fixed_stream.hpp"

namespace sluice::test {

class ScriptedProvider final : public providers::Provider {
 public:
  explicit ScriptedProvider(std::string name) : name_(std::move(name)) {}

  const std::string& name() const noexcept override { return name_; }

  boost::asio::awaitable<Result<providers::ProviderResponse>> complete(const LlmRequest& req,
                                                                       std::string upstream_model,
                                                                       RequestContext&) override {
    calls.push_back({"complete", upstream_model, req.body_for_model(upstream_model)});
    if (auto e = next_error()) co_return *e;
    co_return response;
  }

  boost::asio::awaitable<Result<providers::StreamStart>> stream(const LlmRequest& req, std::string upstream_model,
                                                                RequestContext&) override {
    calls.push_back({"stream", upstream_model, req.body_for_model(upstream_model)});
    if (auto e = next_error()) co_return *e;
    providers::StreamStart start;
    start.headers = {{"x-ratelimit-remaining-requests", "9"}};
    start.stream = std::make_unique<FixedStream>(events, std::exchange(first_event_error, std::nullopt), stream_usage,
                                                 stream_break);
    co_return start;
  }

  bool speaks(Endpoint endpoint) const noexcept override {
    return std::find(spoken.begin(), spoken.end(), endpoint) != spoken.end();
  }

  boost::asio::awaitable<Result<std::vector<std::string>>> list_models(RequestContext&) override {
    ++list_calls;
    if (list_error) co_return *list_error;
    co_return listed;
  }

  struct Call {
    std::string kind, model, body;
  };
  std::vector<Call> calls;
  std::deque<Error> errors;                 // returned first, in order, one per call
  std::optional<Error> first_event_error;   // the next stream fails on its first next()
  std::optional<Error> stream_break;        // streams fail with this after their events
  std::vector<std::string> events{"data: {}\n\n", "data: [DONE]\n\n"};  // what a stream yields
  Usage stream_usage;
  providers::ProviderResponse response{200, R"({"id":"x","object":"chat.completion"})",
                                       {{"x-ratelimit-limit-requests", "100"}}, {10, 5, true}};
  std::vector<std::string> listed;          // what list_models() answers
  // The APIs it takes in their own shape (Provider::speaks).
  std::vector<Endpoint> spoken{Endpoint::chat_completions, Endpoint::completions, Endpoint::embeddings};
  std::optional<Error> list_error;
  int list_calls = 0;

 private:
  std::optional<Error> next_error() {
    if (errors.empty()) return std::nullopt;
    Error e = std::move(errors.front());
    errors.pop_front();
    return e;
  }

  std::string name_;
};

}  // namespace sluice::test
