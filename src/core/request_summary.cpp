#include "sluice/core/request_summary.hpp"

#include "sluice/core/log.hpp"

namespace sluice {

std::string_view to_string(CacheDecision decision) noexcept {
  switch (decision) {
    case CacheDecision::none: return "";
    case CacheDecision::bypass: return "bypass";
    case CacheDecision::miss: return "miss";
    case CacheDecision::hit_exact: return "hit-exact";
    case CacheDecision::hit_semantic: return "hit-semantic";
  }
  return "";
}

void log_request(const RequestSummary& s) {
  if (!log::enabled(spdlog::level::info)) return;
  using ms = std::chrono::duration<double, std::milli>;
  const RequestContext& ctx = s.ctx;
  const std::optional<double> cost = ctx.cost_usd();
  log::info("request", {{"request_id", ctx.request_id},
                        {"method", s.method},
                        {"path", s.path},
                        {"status", s.status},
                        {"tenant", ctx.tenant},
                        {"key_id", ctx.key_id},
                        {"model", ctx.model},
                        {"tier", ctx.tier},
                        {"route_decision", ctx.route_decision},
                        ctx.route_score ? log::Field("route_score", *ctx.route_score, 3)
                                        : log::Field("route_score", std::nullopt),
                        {"route_reason", ctx.route_reason},
                        {"cache", to_string(ctx.cache)},
                        ctx.cache_similarity ? log::Field("cache_similarity", double(*ctx.cache_similarity), 4)
                                             : log::Field("cache_similarity", std::nullopt),
                        {"tokens_saved", ctx.cache_saved.prompt_tokens + ctx.cache_saved.completion_tokens},
                        {"provider", ctx.provider},
                        {"upstream_model", ctx.upstream_model},
                        {"stream", s.stream},
                        {"attempts", ctx.attempts},
                        {"retries", ctx.retries},
                        {"cooldowns", ctx.cooldowns},
                        {"bytes_in", s.bytes_in},
                        {"bytes_out", s.bytes_out},
                        {"prompt_tokens", ctx.usage.prompt_tokens},
                        {"completion_tokens", ctx.usage.completion_tokens},
                        cost ? log::Field("cost_usd", *cost, 8) : log::Field("cost_usd", std::nullopt),
                        {"queued_ms", ms(ctx.queued).count()},
                        {"upstream_ms", ms(ctx.upstream_time).count()},
                        {"total_ms", ms(s.total).count()},
                        {"error", s.error ? to_string(s.error->code) : std::string_view{}}});
}

}  // namespace sluice
