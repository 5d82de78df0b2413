// Reply: an HTTP answer as the session writes it, and how a pipeline answer
// or an error becomes one. The one place that knows the OpenAI error shape on
// the wire, x-should-retry, Retry-After and the x-sluice-* decision headers.
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

struct Reply {
  int status = 200;
  std::string_view content_type = "application/json";  // a static string
  std::string body;
  std::vector<Header> headers;
  // When set, the answer is this SSE stream (status 200, body empty): the
  // writer pulls events from it until it ends or fails.
  std::unique_ptr<ChunkStream> stream;
  std::optional<Error> error;  // what went wrong, for the access log
};

// A 200 with a JSON body.
Reply json_reply(std::string body);

// The reply for an error: OpenAI error body, status, x-should-retry, and
// Retry-After (with retry-after-ms) on 429 and 503.
Reply error_reply(Error error);

// The SSE event that ends a stream that failed after its first byte.
std::string stream_error_event(const Error& error);

// A pipeline answer as a reply, with what the gateway decided for it:
// x-sluice-provider / x-sluice-model, x-sluice-cost-usd (complete answers
// whose price is known), x-sluice-tier / x-sluice-route-reason (routed), and the model group's limits in x-ratelimit-* in
// place of the upstream's own.
Reply answer_reply(Answer answer, const RequestContext& ctx);

// Adds x-sluice-tier and x-sluice-route-reason when the router routed the
// request (ctx.tier set).
void add_route_headers(Reply& reply, const RequestContext& ctx);

// Adds the model group's x-ratelimit-* headers (ctx.limits) to `reply`,
// replacing any the upstream sent. Nothing when the group is unlimited.
void add_limit_headers(Reply& reply, const RequestContext& ctx);

}  // namespace sluice::server
