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

namespace {

// gen_ai.operation.name for the LLM endpoints; "" elsewhere (the field is then left out).
std::string_view gen_ai_operation(std::string_view path) noexcept {
  if (path == "/v1/chat/completions" || path == "/v1/messages" || path == "/v1/responses") return "chat";
  if (path == "/v1/completions") return "text_completion";
  if (path == "/v1/embeddings") return "embeddings";
  return {};
}

}  // namespace

std::string_view gen_ai_provider_name(std::string_view provider_type) noexcept {
  return provider_type == "azure" ? std::string_view("azure.ai.openai") : provider_type;
}

void log_request(const RequestSummary& s) {
  if (!log::enabled(spdlog::level::info)) return;
  using ms = std::chrono::duration<double, std::milli>;
  const RequestContext& ctx = s.ctx;
  const std::optional<double> cost = ctx.cost_usd();
  const std::string_view operation = gen_ai_operation(s.path);
  // The older field names stay (dashboards and tests read them); the
  // OpenTelemetry GenAI names (gen_ai.*) say the same for OTel-minded
  // pipelines, only where they apply.
  auto gen_ai = [&](std::string_view key, std::string_view value) {
    return value.empty() || operation.empty() ? log::Field(key, std::nullopt) : log::Field(key, value);
  };
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
                        {"cached_tokens", ctx.usage.cached_tokens},
                        gen_ai("gen_ai.operation.name", operation),
                        gen_ai("gen_ai.request.model", ctx.model),
                        gen_ai("gen_ai.response.model", ctx.upstream_model),
                        gen_ai("gen_ai.provider.name", gen_ai_provider_name(s.provider_type)),
                        operation.empty() ? log::Field("gen_ai.usage.input_tokens", std::nullopt)
                                          : log::Field("gen_ai.usage.input_tokens", ctx.usage.prompt_tokens),
                        operation.empty() ? log::Field("gen_ai.usage.output_tokens", std::nullopt)
                                          : log::Field("gen_ai.usage.output_tokens", ctx.usage.completion_tokens),
                        cost ? log::Field("cost_usd", *cost, 8) : log::Field("cost_usd", std::nullopt),
                        {"queued_ms", ms(ctx.queued).count()},
                        {"upstream_ms", ms(ctx.upstream_time).count()},
                        s.first_token ? log::Field("ttft_ms", ms(*s.first_token).count())
                                      : log::Field("ttft_ms", std::nullopt),
                        {"total_ms", ms(s.total).count()},
                        {"error", s.error ? to_string(s.error->code) : std::string_view{}}});
}

}  // namespace sluice
