#include "sluice/core/anthropic_api.hpp"

#include <array>
#include <utility>

namespace sluice::anthropic {

namespace {

// Anthropic's documented error types (API reference, "Errors").
constexpr std::array<std::pair<std::string_view, int>, 10> kErrorTypes = {{
    {"invalid_request_error", 400},
    {"authentication_error", 401},
    {"billing_error", 402},
    {"permission_error", 403},
    {"not_found_error", 404},
    {"request_too_large", 413},
    {"rate_limit_error", 429},
    {"api_error", 500},
    {"timeout_error", 504},
    {"overloaded_error", 529},
}};

}  // namespace

std::string_view to_openai_finish_reason(std::string_view stop_reason) noexcept {
  if (stop_reason == "max_tokens" || stop_reason == "model_context_window_exceeded") return "length";
  if (stop_reason == "tool_use") return "tool_calls";
  if (stop_reason == "refusal") return "content_filter";
  return "stop";  // end_turn, stop_sequence, pause_turn, and whatever comes next
}

std::string_view to_stop_reason(std::string_view finish_reason) noexcept {
  if (finish_reason == "length") return "max_tokens";
  if (finish_reason == "tool_calls" || finish_reason == "function_call") return "tool_use";
  if (finish_reason == "content_filter") return "refusal";
  return "end_turn";
}

int status_of_error_type(std::string_view type) noexcept {
  for (const auto& [name, status] : kErrorTypes)
    if (name == type) return status;
  return 500;
}

std::string_view error_type_of_status(int status) noexcept {
  for (const auto& [name, s] : kErrorTypes)
    if (s == status) return name;
  return status >= 500 ? "api_error" : "invalid_request_error";
}

}  // namespace sluice::anthropic
