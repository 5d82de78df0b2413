#include "reply.hpp"

#include "sluice/core/anthropic_api.hpp"
#include "sluice/core/cost.hpp"
#include "sluice/core/json_text.hpp"
#include "sluice/core/request_summary.hpp"

#include <cstdio>

namespace sluice::server {

Reply json_reply(std::string body) {
  Reply reply;
  reply.body = std::move(body);
  return reply;
}

Reply error_reply(Error error, Wire wire) {
  Reply reply;
  reply.wire = wire;
  if (wire == Wire::anthropic) {
    reply.status = anthropic_status(error);
    reply.body = anthropic_error_body(error);
  } else {
    reply.status = error.status();
    reply.body = error_body(error);
  }
  reply.headers.push_back({"x-should-retry", error.client_may_retry() ? "true" : "false"});
  if (error.code == errc::unauthorized) reply.headers.push_back({"www-authenticate", "Bearer"});
  if (reply.status == 429 || reply.status == 503 || reply.status == 529) {
    // Whole seconds for Retry-After (rounded up: never invite a retry too
    // early); the OpenAI SDKs prefer the exact retry-after-ms when present.
    const std::int64_t ms = error.retry_after_ms >= 0 ? error.retry_after_ms : 1000;
    reply.headers.push_back({"retry-after", std::to_string(retry_after_seconds(ms))});
    reply.headers.push_back({"retry-after-ms", std::to_string(ms)});
  }
  reply.error = std::move(error);
  return reply;
}

int anthropic_status(const Error& error) {
  if (error.code == errc::overloaded || (error.code == errc::upstream_unavailable && error.upstream_status == 529))
    return 529;
  return error.status();
}

std::string anthropic_error_body(const Error& error) {
  std::string out = R"({"type":"error","error":{"type":)";
  append_json_string(out, anthropic::error_type_of_status(anthropic_status(error)));
  out += R"(,"message":)";
  append_json_string(out, error.param.empty() ? error.message : error.param + ": " + error.message);
  out += "}}";
  return out;
}

Reply answer_reply(Answer answer, const RequestContext& ctx) {
  Reply reply;
  reply.status = answer.status;
  reply.headers = std::move(answer.headers);
  reply.headers.reserve(reply.headers.size() + 13);  // ours: provider, model, cost, queued, tier, reason, up to 4 limits, 3 cache
  if (answer.stream) {
    reply.content_type = "text/event-stream";
    reply.stream = std::move(answer.stream);
  } else {
    reply.body = std::move(answer.body);
  }
  // A stream that waited in the queue past its keep-alive interval got its
  // head before any provider was chosen: the access log has the decisions.
  if (!ctx.provider.empty()) {
    reply.headers.push_back({"x-sluice-provider", ctx.provider});
    reply.headers.push_back({"x-sluice-model", ctx.upstream_model});
  }
  if (ctx.queued.count() > 0)
    reply.headers.push_back(
        {"x-sluice-queued-ms", std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(ctx.queued).count())});
  // A stream's cost is known only at its end, after the head: the access log has it.
  if (!reply.stream)
    if (const auto cost = ctx.cost_usd()) reply.headers.push_back({"x-sluice-cost-usd", format_usd(*cost)});
  add_limit_headers(reply, ctx);
  add_route_headers(reply, ctx);
  add_cache_headers(reply, ctx);
  return reply;
}

void add_cache_headers(Reply& reply, const RequestContext& ctx) {
  if (ctx.cache == CacheDecision::none) return;
  reply.headers.push_back({"x-sluice-cache", std::string(to_string(ctx.cache))});
  if (ctx.cache_key.empty()) return;
  reply.headers.push_back({"x-sluice-cache-key", ctx.cache_key});  // hex: header-safe
  if (ctx.cache_similarity) {
    char similarity[16];
    std::snprintf(similarity, sizeof similarity, "%.4f", static_cast<double>(*ctx.cache_similarity));
    reply.headers.push_back({"x-sluice-cache-similarity", similarity});
  }
}

void add_route_headers(Reply& reply, const RequestContext& ctx) {
  if (ctx.tier.empty()) return;
  // Tier names are config names; reasons are built from cue and rule names:
  // neither can carry a line break.
  reply.headers.push_back({"x-sluice-tier", ctx.tier});
  reply.headers.push_back({"x-sluice-route-reason", ctx.route_reason});
}

void add_limit_headers(Reply& reply, const RequestContext& ctx) {
  const GroupLimits& limits = ctx.limits;
  if (!limits.limit_requests && !limits.limit_tokens) return;
  // The group's limits replace the upstream's own: a client of the gateway
  // sees the capacity of the model group, not of one account behind it.
  std::erase_if(reply.headers, [](const Header& h) { return h.name.starts_with("x-ratelimit-"); });
  auto add = [&](const char* name, std::optional<std::int64_t> value) {
    if (value) reply.headers.push_back({name, std::to_string(*value)});
  };
  add("x-ratelimit-limit-requests", limits.limit_requests);
  add("x-ratelimit-remaining-requests", limits.remaining_requests);
  add("x-ratelimit-limit-tokens", limits.limit_tokens);
  add("x-ratelimit-remaining-tokens", limits.remaining_tokens);
}

}  // namespace sluice::server
