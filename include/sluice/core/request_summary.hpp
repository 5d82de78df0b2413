// RequestSummary: one request's record, built once when its answer has been
// written, from what every stage decided (RequestContext) and what the front
// door saw. It feeds the access log and the metrics (core/metrics.hpp), so
// both always tell the same story.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include "sluice/core/error.hpp"
#include "sluice/core/request_context.hpp"

namespace sluice {

struct RequestSummary {
  const RequestContext& ctx;
  std::string_view method;
  std::string_view path;
  int status = 0;                 // as written; 499 when the client left first
  bool stream = false;            // answered as an SSE stream
  std::size_t bytes_in = 0;       // request body
  std::size_t bytes_out = 0;      // response body
  const Error* error = nullptr;   // what went wrong, if anything
  RequestContext::Clock::duration total{};  // first byte read -> answer written
  // A stream: request start -> the first event that is not a comment (a
  // queued stream's keep-alives do not count) was written.
  std::optional<RequestContext::Clock::duration> first_token;
  std::string_view provider_type;  // the answering provider's type ("openai", "azure"...), "" when none
};

// What the cache stage decided, as x-sluice-cache and the access log say it:
// hit-exact, hit-semantic, miss, bypass; "" when the cache is off.
std::string_view to_string(CacheDecision decision) noexcept;

// The OpenTelemetry GenAI name of a provider type (gen_ai.provider.name):
// "azure.ai.openai" for azure, the type's own name otherwise.
std::string_view gen_ai_provider_name(std::string_view provider_type) noexcept;

// Writes the access-log line (event "request") when the info level is on.
void log_request(const RequestSummary& summary);

}  // namespace sluice
