// Building one configuration's parts, and telling what a reload changes.
#include "generation.hpp"

#include <algorithm>
#include <filesystem>
#include <set>
#include <stdexcept>
#include <tuple>

#include "sluice/cache/verifier.hpp"
#include "sluice/core/log.hpp"
#include "sluice/embed/use_lite.hpp"
#include "sluice/providers/provider.hpp"

namespace sluice {

namespace {

pipeline::ProviderMap make_providers(boost::asio::io_context& io, const GatewayConfig& config) {
  pipeline::ProviderMap map;
  for (const ProviderConfig& p : config.providers) map.emplace(p.name, providers::make_provider(p, io.get_executor()));
  return map;
}

// The knn routers' embedder: the weightless hashed one, the only
// in-process embedder so far (the semantic cache brings a sentence encoder).
std::unique_ptr<Embedder> make_router_embedder(const GatewayConfig& config) {
  for (const RouterConfig& r : config.routers)
    if (r.mode == RouterMode::knn) return make_hashed_embedder();
  return nullptr;
}

// The verifier the semantic tier checks every candidate with.
cache::Verify make_verify() {
  auto verifier = std::make_shared<const cache::Verifier>(cache::Verifier::load());
  if (!verifier->lexicon_warning().empty())
    log::warn("cache_verifier_lexicon", {{"detail", verifier->lexicon_warning()}});
  return [verifier](std::string_view stored, std::string_view incoming) { return verifier->check(stored, incoming); };
}

// builtin: use-lite when its weights load, else hashed-ngram with a
// warning that says why; use-lite chosen by name must load.
std::shared_ptr<const Embedder> builtin_embedder(const SemanticCacheConfig& c) {
  if (c.embedder == "hashed-ngram") return make_hashed_embedder(kCacheHashedDimensions);
  std::string why;
  const std::vector<std::filesystem::path> dirs =
      c.weights_dir.empty() ? embed::use_lite_search_path() : std::vector<std::filesystem::path>{c.weights_dir};
  for (const std::filesystem::path& dir : dirs) {
    auto loaded = embed::load_use_lite(dir);
    if (loaded) return std::shared_ptr<const Embedder>(std::move(loaded).value());
    why += (why.empty() ? "" : "; ") + loaded.error().message;
  }
  if (dirs.empty()) why = "no directory to look for its weights in";
  if (c.embedder == "use-lite") throw std::runtime_error("cache.semantic.embedder use-lite cannot load: " + why);
  log::warn("cache_embedder_fallback", {{"embedder", "hashed-ngram"}, {"reason", why}});
  return make_hashed_embedder(kCacheHashedDimensions);
}

std::optional<ProviderConfig> embedder_provider(const GatewayConfig& config) {
  const std::string& name = config.cache.semantic.embedder_provider;
  if (!config.cache.enabled || !config.cache.semantic.enabled || name.empty()) return std::nullopt;
  const ProviderConfig* p = config.find_provider(name);
  return p ? std::optional<ProviderConfig>(*p) : std::nullopt;
}

// Names in `before` and `after` by `name_of`, and whether the entries
// with one name are equal.
template <class T, class Name, class Same>
ConfigChanges::Count compare(const std::vector<T>& before, const std::vector<T>& after, Name name_of, Same same) {
  ConfigChanges::Count n;
  for (const T& a : after) {
    auto b = std::find_if(before.begin(), before.end(), [&](const T& x) { return name_of(x) == name_of(a); });
    if (b == before.end()) ++n.added;
    else if (!same(*b, a)) ++n.changed;
  }
  for (const T& b : before)
    if (std::none_of(after.begin(), after.end(), [&](const T& x) { return name_of(x) == name_of(b); })) ++n.removed;
  return n;
}

}  // namespace

// --- AnswerCache ---------------------------------------------------------------

AnswerCache::AnswerCache(boost::asio::io_context& io, const GatewayConfig& config, std::shared_ptr<const Clock> clock)
    : settings(config.cache), redis_settings(config.redis), embedder_settings(embedder_provider(config)) {
  const CacheConfig& c = config.cache;
  if (!c.enabled) return;
  if (config.redis) redis = std::make_unique<redis::Client>(io.get_executor(), *config.redis);
  cache::CacheParts parts;
  parts.clock = std::move(clock);
  if (redis) {  // entries shared with the other replicas through Redis
    parts.redis = redis.get();
    parts.redis_config = config.redis;
    parts.executor = io.get_executor();
  }
  std::string embedder = "none";
  if (c.semantic.enabled) {
    if (auto verify = make_verify()) {
      parts.verify = std::move(verify);
      if (embedder_settings) {
        providers.emplace(embedder_settings->name, providers::make_provider(*embedder_settings, io.get_executor()));
        parts.embedding = pipeline::remote_embedding(providers, c.semantic.embedder_provider, c.semantic.embedder_model,
                                                     c.semantic.embed_timeout);
      } else {
        parts.embedding = cache::on_workers(builtin_embedder(c.semantic), c.semantic.embed_threads);
      }
      embedder = std::string(parts.embedding->name());
    }
  }
  log::info("cache", {{"exact", true},
                      {"semantic", parts.embedding != nullptr},
                      {"embedder", embedder},
                      {"threshold", c.semantic.threshold},
                      {"ttl_ms", c.ttl.count()},
                      {"max_entries", c.max_entries},
                      {"max_bytes", c.max_bytes},
                      {"shared", redis != nullptr}});
  cache = cache::make_cache(c, std::move(parts));
}

bool AnswerCache::same_settings(const GatewayConfig& config) const {
  return settings == config.cache && redis_settings == config.redis && embedder_settings == embedder_provider(config);
}

// --- Generation ----------------------------------------------------------------

Generation::Generation(boost::asio::io_context& io, GatewayConfig cfg, std::shared_ptr<const Clock> c,
                       std::shared_ptr<AnswerCache> answer_cache)
    : config(std::move(cfg)),
      clock(std::move(c)),
      gatekeeper(config.auth, clock),
      embedder(make_router_embedder(config)),
      router(config.routers, embedder.get()),
      providers(make_providers(io, config)),
      pool(config, clock->now()),
      catalog(config, providers, pool, *clock),
      cache(std::move(answer_cache)),
      pipeline(gatekeeper, router, pool, catalog, providers, clock, config.queue) {
  if (cache && cache->cache) pipeline.set_cache(cache->cache.get(), config.cache);
}

std::vector<std::string> Generation::job_groups() const {
  std::vector<std::string> groups;
  for (const ModelConfig& m : config.models) groups.push_back(m.name);
  for (const RouterConfig& r : config.routers) groups.push_back(r.alias);
  return groups;
}

// --- What changed ----------------------------------------------------------------

ConfigChanges config_changes(const GatewayConfig& before, const GatewayConfig& after) {
  ConfigChanges c;
  c.providers = compare(before.providers, after.providers, [](const ProviderConfig& p) { return p.name; },
                        [](const ProviderConfig& a, const ProviderConfig& b) { return a == b; });
  c.models = compare(before.models, after.models, [](const ModelConfig& m) { return m.name; },
                     [](const ModelConfig& a, const ModelConfig& b) {
                       auto target = [](const DeploymentConfig& d) {
                         return std::tie(d.provider, d.model, d.weight, d.priority, d.rpm, d.tpm);
                       };
                       return a.deployments.size() == b.deployments.size() &&
                              std::equal(a.deployments.begin(), a.deployments.end(), b.deployments.begin(),
                                         [&](const DeploymentConfig& x, const DeploymentConfig& y) {
                                           return target(x) == target(y) && x.price.has_value() == y.price.has_value();
                                         });
                     });
  // A key is known by its id, else by its digest or secret (compared here,
  // never logged).
  c.keys = compare(before.auth.keys, after.auth.keys,
                   [](const GatewayKeyConfig& k) { return !k.id.empty() ? k.id : !k.sha256.empty() ? k.sha256 : k.key; },
                   [](const GatewayKeyConfig& a, const GatewayKeyConfig& b) {
                     return std::tie(a.key, a.sha256, a.tenant, a.rpm, a.tpm, a.models, a.monthly_budget_usd, a.expires,
                                     a.max_priority) == std::tie(b.key, b.sha256, b.tenant, b.rpm, b.tpm, b.models,
                                                                 b.monthly_budget_usd, b.expires, b.max_priority);
                   });
  c.routers = compare(before.routers, after.routers, [](const RouterConfig& r) { return r.alias; },
                      [](const RouterConfig&, const RouterConfig&) { return true; });
  return c;
}

std::vector<ConfigProblem> restart_needed(const GatewayConfig& before, const GatewayConfig& after) {
  std::vector<ConfigProblem> out;
  auto need = [&](bool changed, const char* key) {
    if (changed) out.push_back(ConfigProblem{key, 0, 0, "changed; this setting needs a restart (the reload was refused)"});
  };
  need(before.server.listen != after.server.listen, "server.listen");
  need(before.server.max_connections != after.server.max_connections, "server.max_connections");
  need(before.server.max_buffered_body_bytes != after.server.max_buffered_body_bytes, "server.max_buffered_body_bytes");
  need(before.server.tls.has_value() != after.server.tls.has_value(), "server.tls");
  need(before.logging.level != after.logging.level, "logging.level");
  need(before.logging.format != after.logging.format, "logging.format");
  need(before.metrics.enabled != after.metrics.enabled, "metrics.enabled");
  need(before.queue.backend != after.queue.backend, "queue.backend");
  const bool shared_queue = after.queue.backend == QueueBackend::redis && before.queue.backend == QueueBackend::redis;
  need(shared_queue && !(before.queue == after.queue), "queue");
  need(shared_queue && before.redis != after.redis, "redis");
  return out;
}

}  // namespace sluice
