// The Anthropic terms both translation directions share: stop reasons, token
// counts and error types, each table checked both ways.
#include "sluice/core/anthropic_api.hpp"

#include <gtest/gtest.h>

#include <string_view>
#include <utility>

namespace sluice::anthropic {
namespace {

TEST(StopReasons, BothTables) {
  const std::pair<std::string_view, std::string_view> to_openai[] = {
      {"end_turn", "stop"},     {"stop_sequence", "stop"}, {"pause_turn", "stop"},
      {"max_tokens", "length"}, {"model_context_window_exceeded", "length"},
      {"tool_use", "tool_calls"}, {"refusal", "content_filter"}, {"", "stop"}, {"something_new", "stop"}};
  for (const auto& [stop, finish] : to_openai) EXPECT_EQ(to_openai_finish_reason(stop), finish) << stop;
  const std::pair<std::string_view, std::string_view> to_anthropic[] = {
      {"stop", "end_turn"},     {"length", "max_tokens"}, {"tool_calls", "tool_use"}, {"function_call", "tool_use"},
      {"content_filter", "refusal"}, {"", "end_turn"},  {"something_new", "end_turn"}};
  for (const auto& [finish, stop] : to_anthropic) EXPECT_EQ(to_stop_reason(finish), stop) << finish;
}

TEST(StopReasons, RoundTripFromOpenAi) {
  for (std::string_view finish : {"stop", "length", "tool_calls", "content_filter"})
    EXPECT_EQ(to_openai_finish_reason(to_stop_reason(finish)), finish);
}

TEST(Tokens, ToUsageCountsTheWholePrompt) {
  const Usage u = Tokens{20, 3, 5, 12, true}.to_usage();
  EXPECT_EQ(u.prompt_tokens, 28);
  EXPECT_EQ(u.completion_tokens, 12);
  EXPECT_EQ(u.cached_tokens, 5);
  EXPECT_TRUE(u.known);
}

TEST(Tokens, OfUsageSplitsOffTheCachedPart) {
  const Tokens t = Tokens::of(Usage{28, 12, true, 5});
  EXPECT_EQ(t.input, 23);
  EXPECT_EQ(t.cache_read, 5);
  EXPECT_EQ(t.cache_creation, 0);
  EXPECT_EQ(t.output, 12);
  EXPECT_TRUE(t.known);
  // A cached count larger than the prompt (a confused upstream) never makes input negative.
  EXPECT_EQ(Tokens::of(Usage{3, 1, true, 9}).input, 0);
  EXPECT_EQ(Tokens::of(Usage{3, 1, true, 9}).cache_read, 3);
}

TEST(ErrorTypes, StatusAndTypeAgree) {
  for (std::string_view type : {"invalid_request_error", "authentication_error", "billing_error", "permission_error",
                                "not_found_error", "request_too_large", "rate_limit_error", "api_error",
                                "timeout_error", "overloaded_error"})
    EXPECT_EQ(error_type_of_status(status_of_error_type(type)), type);
  EXPECT_EQ(status_of_error_type("overloaded_error"), 529);
  EXPECT_EQ(status_of_error_type("something_new"), 500);
  EXPECT_EQ(error_type_of_status(422), "invalid_request_error");
  EXPECT_EQ(error_type_of_status(502), "api_error");
  EXPECT_EQ(error_type_of_status(503), "api_error");
}

}  // namespace
}  // namespace sluice::anthropic
