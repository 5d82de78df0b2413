// The recorded metric families: bounded label tables built once from the
// configuration, series keyed by packed label indices, and the text they
// render to on a scrape.
#include "sluice/core/metrics.hpp"

#include <array>
#include <chrono>
#include <unordered_map>

namespace sluice {

namespace {

using Type = Exposition::Type;

// Bucket bounds, in seconds unless said otherwise. Chosen for an LLM
// gateway: answers take from milliseconds (a cache hit) to minutes.
constexpr double kDuration[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};
constexpr double kFirstToken[] = {0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30};
constexpr double kPerToken[] = {0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.2, 0.5};
constexpr double kQueueWait[] = {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};
constexpr double kSimilarity[] = {0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.88, 0.9, 0.92, 0.94, 0.96, 0.98, 0.99, 1};

// The route label: the front door's endpoints (server/routes.cpp), those
// with a path parameter by their pattern; any other path is "other".
constexpr std::string_view kRoutes[] = {
    "other",          "/v1/chat/completions",      "/v1/completions", "/v1/embeddings",
    "/v1/models",     "/v1/models/{id}",           "/v1/jobs/{id}",   "/v1/messages",
    "/v1/messages/count_tokens", "/v1/responses",  "/healthz",        "/readyz",
    "/metrics",       "job"};
// An async job's run on this replica (RequestSummary::method "JOB"): its
// 202 was counted under the route it was submitted to.
constexpr std::uint32_t kJobRoute = 13;

std::uint32_t route_index(std::string_view path) noexcept {
  if (path.starts_with("/v1/models/") && path.size() > 11) return 5;
  if (path.starts_with("/v1/jobs/") && path.size() > 9) return 6;
  for (std::uint32_t i = 1; i < std::size(kRoutes); ++i)
    if (kRoutes[i] == path) return i;
  return 0;
}

constexpr std::string_view kCacheResults[] = {"none", "bypass", "miss", "hit_exact", "hit_semantic"};

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

// The values one label may take: 0 is "" (not applicable), 1 is "other"
// (a name the configuration does not know), then the configured names.
class Names {
 public:
  static constexpr std::uint32_t kNone = 0, kOther = 1;

  void add(std::string_view name) {
    if (name.empty() || index_.find(name) != index_.end() || names_.size() >= 0xffff) return;
    index_.emplace(std::string(name), static_cast<std::uint32_t>(names_.size()));
    names_.emplace_back(name);
  }
  std::uint32_t find(std::string_view name) const {
    if (name.empty()) return kNone;
    const auto it = index_.find(name);
    return it == index_.end() ? kOther : it->second;
  }
  std::string_view name(std::uint64_t i) const { return names_[i]; }

 private:
  std::vector<std::string> names_{"", "other"};
  std::unordered_map<std::string, std::uint32_t, StringHash, std::equal_to<>> index_;
};

// Up to four 16-bit label indices in one key.
constexpr std::uint64_t key(std::uint64_t a, std::uint64_t b = 0, std::uint64_t c = 0, std::uint64_t d = 0) {
  return a | b << 16 | c << 32 | d << 48;
}
constexpr std::uint64_t part(std::uint64_t k, int i) { return (k >> (16 * i)) & 0xffff; }

double seconds(RequestContext::Clock::duration d) { return std::chrono::duration<double>(d).count(); }

struct Upstream {
  std::uint64_t attempts = 0, retries = 0, cooldowns = 0;
};

struct Spend {
  std::uint64_t prompt = 0, completion = 0, cached = 0;
  double cost_usd = 0;
};

template <class Value>
using Series = std::unordered_map<std::uint64_t, Value>;

Histogram& histogram(Series<Histogram>& series, std::uint64_t k, std::span<const double> bounds) {
  return series.try_emplace(k, bounds).first->second;
}

}  // namespace

struct Metrics::Tables {
  Names models;     // model groups and router aliases
  Names providers;
  Names tenants;
  Names tiers;      // every router's tier names

  Series<std::uint64_t> requests;         // route, model, provider, status
  Series<std::uint64_t> errors;           // route, errc + 1
  Series<Histogram> duration;             // route, model
  Series<Upstream> upstream;              // model, provider
  Series<Histogram> upstream_duration;    // provider
  Series<Histogram> first_token;          // model, provider
  Series<Histogram> per_token;            // model, provider
  Series<Spend> spend;                    // tenant, model
  std::array<std::uint64_t, std::size(kCacheResults)> cache{};
  Histogram similarity{kSimilarity};
  Series<std::uint64_t> router;           // router alias (a model), tier
  Series<Histogram> queue_wait;           // model
  std::array<std::uint64_t, 2> reloads{};  // success, failure
  double start_time = 0;
};

Metrics::Metrics(const GatewayConfig& config) : t_(std::make_unique<Tables>()) {
  t_->tenants.add("anonymous");  // callers without a key (loopback, open posture)
  add_names(config);
  t_->start_time = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

Metrics::~Metrics() = default;

void Metrics::add_names(const GatewayConfig& config) {
  for (const ModelConfig& m : config.models) t_->models.add(m.name);
  for (const RouterConfig& r : config.routers) {
    t_->models.add(r.alias);
    for (const RouterTier& tier : r.tiers) t_->tiers.add(tier.name);
  }
  for (const ProviderConfig& p : config.providers) t_->providers.add(p.name);
  for (const auto& k : config.auth.keys) t_->tenants.add(k.tenant);
}

void Metrics::reconfigure(const GatewayConfig& config) {
  add_names(config);
  collectors_.clear();
}

void Metrics::record(const RequestSummary& s) {
  Tables& t = *t_;
  const RequestContext& ctx = s.ctx;
  const std::uint32_t route = s.method == "JOB" ? kJobRoute : route_index(s.path);
  // The group that served (an alias's tier group), else what was asked for.
  const std::uint32_t model = t.models.find(ctx.group.empty() ? ctx.model : ctx.group);
  const std::uint32_t provider = t.providers.find(ctx.provider);
  const auto status = static_cast<std::uint64_t>(s.status) & 0xffff;

  ++t.requests[key(route, model, provider, status)];
  histogram(t.duration, key(route, model), kDuration).observe(seconds(s.total));
  if (s.error) ++t.errors[key(route, static_cast<std::uint64_t>(s.error->code) + 1)];

  if (ctx.attempts > 0) {
    Upstream& u = t.upstream[key(model, provider)];
    u.attempts += static_cast<std::uint64_t>(ctx.attempts);
    u.retries += static_cast<std::uint64_t>(ctx.retries);
    u.cooldowns += static_cast<std::uint64_t>(ctx.cooldowns);
    if (provider != Names::kNone)
      histogram(t.upstream_duration, key(provider), kDuration).observe(seconds(ctx.upstream_time));
  }

  if (s.first_token) {
    histogram(t.first_token, key(model, provider), kFirstToken).observe(seconds(*s.first_token));
    // The tokens after the first, over the time they took to arrive.
    const std::int64_t later_tokens = ctx.usage.completion_tokens - 1;
    if (later_tokens > 0 && s.total > *s.first_token)
      histogram(t.per_token, key(model, provider), kPerToken)
          .observe(seconds(s.total - *s.first_token) / static_cast<double>(later_tokens));
  }

  const std::optional<double> cost = ctx.cost_usd();
  if (ctx.usage.prompt_tokens || ctx.usage.completion_tokens || cost) {
    Spend& spend = t.spend[key(t.tenants.find(ctx.tenant), model)];
    spend.prompt += static_cast<std::uint64_t>(std::max<std::int64_t>(0, ctx.usage.prompt_tokens));
    spend.completion += static_cast<std::uint64_t>(std::max<std::int64_t>(0, ctx.usage.completion_tokens));
    spend.cached += static_cast<std::uint64_t>(std::max<std::int64_t>(0, ctx.usage.cached_tokens));
    if (cost) spend.cost_usd += *cost;
  }

  if (!ctx.model.empty()) {  // an LLM call: the cache stage had its say
    ++t.cache[static_cast<std::size_t>(ctx.cache)];
    if (ctx.cache == CacheDecision::hit_semantic && ctx.cache_similarity) t.similarity.observe(*ctx.cache_similarity);
  }
  if (!ctx.route_decision.empty()) ++t.router[key(t.models.find(ctx.model), t.tiers.find(ctx.route_decision))];
  if (ctx.queued > RequestContext::Clock::duration::zero())
    histogram(t.queue_wait, key(model), kQueueWait).observe(seconds(ctx.queued));
}

void Metrics::count_reload(bool succeeded) noexcept { ++t_->reloads[succeeded ? 0 : 1]; }

void Metrics::add_collector(Collector collector) { collectors_.push_back(std::move(collector)); }

std::string Metrics::scrape() const {
  const Tables& t = *t_;
  Exposition out;
  auto model = [&](std::uint64_t k, int i) { return Label{"model", t.models.name(part(k, i))}; };
  auto provider = [&](std::uint64_t k, int i) { return Label{"provider", t.providers.name(part(k, i))}; };
  auto route = [&](std::uint64_t k) { return Label{"route", kRoutes[part(k, 0)]}; };

  out.family("sluice_requests_total", "Requests answered, by route, model group, provider and HTTP status.",
             Type::counter);
  for (const auto& [k, n] : t.requests) {
    const std::string status = std::to_string(part(k, 3));
    out.sample("sluice_requests_total", {route(k), model(k, 1), provider(k, 2), {"status", status}},
               static_cast<double>(n));
  }
  out.family("sluice_request_errors_total", "Requests that ended in an error, by route and error code.",
             Type::counter);
  for (const auto& [k, n] : t.errors)
    out.sample("sluice_request_errors_total", {route(k), {"reason", to_string(static_cast<errc>(part(k, 1) - 1))}},
               static_cast<double>(n));
  out.family("sluice_request_duration_seconds", "Time from the request's first byte to its answer's last.",
             Type::histogram);
  for (const auto& [k, h] : t.duration) out.histogram("sluice_request_duration_seconds", {route(k), model(k, 1)}, h);

  out.family("sluice_upstream_attempts_total", "Upstream calls made, by model group and the provider that answered.",
             Type::counter);
  for (const auto& [k, u] : t.upstream)
    out.sample("sluice_upstream_attempts_total", {model(k, 0), provider(k, 1)}, static_cast<double>(u.attempts));
  out.family("sluice_upstream_retries_total",
             "Upstream calls made after a failure (5xx, timeout, connect error) of an earlier one.", Type::counter);
  for (const auto& [k, u] : t.upstream)
    out.sample("sluice_upstream_retries_total", {model(k, 0), provider(k, 1)}, static_cast<double>(u.retries));
  out.family("sluice_upstream_cooldowns_total", "Deployments put into cooldown by an upstream 429.", Type::counter);
  for (const auto& [k, u] : t.upstream)
    out.sample("sluice_upstream_cooldowns_total", {model(k, 0), provider(k, 1)}, static_cast<double>(u.cooldowns));
  out.family("sluice_upstream_duration_seconds",
             "Time from sending the upstream request to its response head (a stream's first byte).", Type::histogram);
  for (const auto& [k, h] : t.upstream_duration) out.histogram("sluice_upstream_duration_seconds", {provider(k, 0)}, h);

  out.family("sluice_time_to_first_token_seconds",
             "Streams: time from the request's first byte to its first SSE event written to the client "
             "(queued keep-alives do not count).",
             Type::histogram);
  for (const auto& [k, h] : t.first_token)
    out.histogram("sluice_time_to_first_token_seconds", {model(k, 0), provider(k, 1)}, h);
  out.family("sluice_time_per_output_token_seconds",
             "Streams: time after the first token divided by the completion tokens after the first.", Type::histogram);
  for (const auto& [k, h] : t.per_token)
    out.histogram("sluice_time_per_output_token_seconds", {model(k, 0), provider(k, 1)}, h);

  out.family("sluice_tokens_total", "Tokens the providers reported, by tenant, model group and type "
                                    "(prompt, completion, cached: the part of prompt served from a prompt cache).",
             Type::counter);
  for (const auto& [k, s] : t.spend) {
    const Label tenant{"tenant", t.tenants.name(part(k, 0))};
    out.sample("sluice_tokens_total", {tenant, model(k, 1), {"type", "prompt"}}, static_cast<double>(s.prompt));
    out.sample("sluice_tokens_total", {tenant, model(k, 1), {"type", "completion"}}, static_cast<double>(s.completion));
    out.sample("sluice_tokens_total", {tenant, model(k, 1), {"type", "cached"}}, static_cast<double>(s.cached));
  }
  out.family("sluice_cost_usd_total", "What the requests cost at their deployments' prices, in USD, by tenant and "
                                      "model group (deployments without a known price add nothing).",
             Type::counter);
  for (const auto& [k, s] : t.spend)
    out.sample("sluice_cost_usd_total", {{"tenant", t.tenants.name(part(k, 0))}, model(k, 1)}, s.cost_usd);

  out.family("sluice_cache_lookups_total", "LLM requests by what the answer cache decided "
                                           "(none: not consulted; bypass: Cache-Control or not cacheable).",
             Type::counter);
  for (std::size_t i = 0; i < t.cache.size(); ++i)
    out.sample("sluice_cache_lookups_total", {{"result", kCacheResults[i]}}, static_cast<double>(t.cache[i]));
  out.family("sluice_cache_hit_similarity", "Semantic cache hits: the cosine similarity of the entry served.",
             Type::histogram);
  out.histogram("sluice_cache_hit_similarity", {}, t.similarity);

  out.family("sluice_router_decisions_total", "Requests to a router alias, by the tier the router chose.",
             Type::counter);
  for (const auto& [k, n] : t.router)
    out.sample("sluice_router_decisions_total",
               {{"router", t.models.name(part(k, 0))}, {"tier", t.tiers.name(part(k, 1))}}, static_cast<double>(n));

  out.family("sluice_queue_wait_seconds", "Time requests waited in the overflow queue for capacity, by model group.",
             Type::histogram);
  for (const auto& [k, h] : t.queue_wait) out.histogram("sluice_queue_wait_seconds", {model(k, 0)}, h);

  out.family("sluice_config_reloads_total", "Configuration reloads, by result.", Type::counter);
  out.sample("sluice_config_reloads_total", {{"result", "success"}}, static_cast<double>(t.reloads[0]));
  out.sample("sluice_config_reloads_total", {{"result", "failure"}}, static_cast<double>(t.reloads[1]));
  out.family("sluice_build_info", "The running build (always 1).", Type::gauge);
  out.sample("sluice_build_info", {{"version", SLUICE_VERSION}}, 1);
  out.family("sluice_start_time_seconds", "When the process started, in seconds since the Unix epoch.", Type::gauge);
  out.sample("sluice_start_time_seconds", {}, t.start_time);

  for (const Collector& collect : collectors_) collect(out);
  return out.take();
}

}  // namespace sluice
