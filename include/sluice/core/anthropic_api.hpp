// Terms of Anthropic's Messages API that both directions of translation
// share: the Anthropic provider (OpenAI chat requests sent to Anthropic) and
// the front door's /v1/messages (Anthropic requests served by any provider).
// Stop reasons against OpenAI finish reasons, token counts against Usage,
// error types against HTTP statuses. Pure and allocation-free.
#pragma once

#include <cstdint>
#include <string_view>

#include "sluice/core/request.hpp"

namespace sluice::anthropic {

// OpenAI's finish_reason for an Anthropic stop_reason ("stop" when unknown):
// max_tokens and model_context_window_exceeded -> length, tool_use ->
// tool_calls, refusal -> content_filter; end_turn, stop_sequence, pause_turn
// and whatever comes next -> stop.
std::string_view to_openai_finish_reason(std::string_view stop_reason) noexcept;

// The Anthropic stop_reason for an OpenAI finish_reason: length ->
// max_tokens, tool_calls and function_call -> tool_use, content_filter ->
// refusal, anything else (stop, unknown) -> end_turn.
std::string_view to_stop_reason(std::string_view finish_reason) noexcept;

// Anthropic's token counts as a message reports them. OpenAI's prompt_tokens
// is the whole prompt: input plus cache writes plus cache reads.
struct Tokens {
  std::int64_t input = 0;
  std::int64_t cache_creation = 0;
  std::int64_t cache_read = 0;
  std::int64_t output = 0;
  bool known = false;

  Usage to_usage() const noexcept { return Usage{input + cache_creation + cache_read, output, known, cache_read}; }
  // The other way: the prompt's cached part becomes cache reads, the rest
  // input (OpenAI does not report cache writes).
  static Tokens of(const Usage& usage) noexcept {
    const std::int64_t cached = usage.cached_tokens < usage.prompt_tokens ? usage.cached_tokens : usage.prompt_tokens;
    return Tokens{usage.prompt_tokens - cached, 0, cached, usage.completion_tokens, usage.known};
  }
};

// Anthropic's error types and the HTTP status each comes with (the SDKs map
// the status to their exception classes; 529 is overloaded_error).
// Unknown types are api_error's 500.
int status_of_error_type(std::string_view type) noexcept;
// The error type for an HTTP status: 400 (and other 4xx without a type of
// their own) invalid_request_error, 401 authentication_error, 402
// billing_error, 403 permission_error, 404 not_found_error, 413
// request_too_large, 429 rate_limit_error, 504 timeout_error, 529
// overloaded_error, other 5xx api_error.
std::string_view error_type_of_status(int status) noexcept;

}  // namespace sluice::anthropic
