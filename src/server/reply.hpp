// Reply: an HTTP answer as the session writes it, and how a pipeline answer
// or an error becomes one. The one place that knows the error shapes on the
// wire (OpenAI's and Anthropic's), x-should-retry, Retry-After and the
// x-sluice-* decision headers.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/core/answer.hpp"
#include "sluice/core/error.hpp"
#include "sluice/core/header.hpp"
#include "sluice/core/request_context.hpp"

namespace sluice::server {

// Whose conventions a route's answers follow: OpenAI's (chat completions,
// completions, embeddings, models, the Responses API) or Anthropic's
// (/v1/messages: its error shape and statuses, a request-id header).
enum class Wire { openai, anthropic };

struct Reply {
  int status = 200;
  std::string_view content_type = "application/json";  // a static string
  std::string body;
  std::vector<Header> headers;
  // When set, the answer is this SSE stream (status 200, body empty): the
  // writer pulls events from it until it ends or fails.
  std::unique_ptr<ChunkStream> stream;
  std::optional<Error> error;  // what went wrong, for the access log
  // Anthropic's: the session adds `request-id` (the SDK's requestID) beside
  // x-request-id, and renders a stream that fails before its first byte in
  // Anthropic's error shape.
  Wire wire = Wire::openai;
};

// A 200 with a JSON body.
Reply json_reply(std::string body);

// The reply for an error in `wire`'s shape: OpenAI's error body and status,
// or Anthropic's (below); x-should-retry; Retry-After (with retry-after-ms)
// on 429, 503 and 529.
Reply error_reply(Error error, Wire wire = Wire::openai);

// Anthropic's error body, {"type":"error","error":{"type","message"}}: the
// type follows the status (anthropic_status), the message names the
// offending field first ("max_tokens: ...") as Anthropic's do.
std::string anthropic_error_body(const Error& error);
// The status an Anthropic client gets: the error's own, except 529
// (overloaded_error) for the gateway's own overload and for an upstream
// that answered 529.
int anthropic_status(const Error& error);

// A pipeline answer as a reply, with what the gateway decided for it:
// x-sluice-provider / x-sluice-model, x-sluice-cost-usd (complete answers
// whose price is known), x-sluice-tier / x-sluice-route-reason (routed), and the model group's limits in x-ratelimit-* in
// place of the upstream's own.
Reply answer_reply(Answer answer, const RequestContext& ctx);

// Adds x-sluice-tier and x-sluice-route-reason when the router routed the
// request (ctx.tier set).
void add_route_headers(Reply& reply, const RequestContext& ctx);

// Adds x-sluice-cache (what the cache stage decided; nothing when the cache
// is off), and on a hit x-sluice-cache-key and, semantic, x-sluice-cache-similarity.
void add_cache_headers(Reply& reply, const RequestContext& ctx);

// Adds the model group's x-ratelimit-* headers (ctx.limits) to `reply`,
// replacing any the upstream sent. Nothing when the group is unlimited.
void add_limit_headers(Reply& reply, const RequestContext& ctx);

}  // namespace sluice::server
