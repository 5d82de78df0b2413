// Generation: everything the gateway builds from one configuration, the
// unit a reload replaces. Private to app.
//
// The App holds the current generation by shared_ptr; the server's Front
// for it holds another, so every request keeps the generation it started
// with to its end, stream included. What outlives a generation (the
// listener, the event loop, the metrics, the shared job queue) is the App's.
// The answer cache sits in a holder of its own so that a reload that leaves
// its settings alone keeps it, entries and all.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "sluice/auth/gatekeeper.hpp"
#include "sluice/cache/cache.hpp"
#include "sluice/core/clock.hpp"
#include "sluice/core/config.hpp"
#include "sluice/core/embedder.hpp"
#include "sluice/pipeline/model_catalog.hpp"
#include "sluice/pipeline/pipeline.hpp"
#include "sluice/pool/provider_pool.hpp"
#include "sluice/redis/client.hpp"
#include "sluice/router/router.hpp"

namespace sluice {

// The answer cache with what it needs besides the configuration: its own
// Redis connection (when shared through Redis) and, for a remote embedder,
// its own adapter of that provider. Null `cache`: caching is off.
struct AnswerCache {
  // Builds it from `config`'s cache section (nothing when cache.enabled is
  // false). Throws std::runtime_error when a chosen embedder cannot load.
  AnswerCache(boost::asio::io_context& io, const GatewayConfig& config, std::shared_ptr<const Clock> clock);

  // Whether `config` would build the same cache: its section, the Redis
  // settings and the remote embedder's provider are unchanged.
  bool same_settings(const GatewayConfig& config) const;

  CacheConfig settings;
  std::optional<RedisConfig> redis_settings;
  std::optional<ProviderConfig> embedder_settings;  // cache.semantic.embedder_provider's
  pipeline::ProviderMap providers;                  // that provider's adapter, the cache's own
  std::unique_ptr<redis::Client> redis;             // entries shared with other replicas
  std::unique_ptr<cache::Cache> cache;
  bool started = false;                             // its Redis connection was started
};

struct Generation {
  // Builds every part from `config`, taking `cache` as the answer cache.
  // Throws std::runtime_error when a part cannot be built.
  Generation(boost::asio::io_context& io, GatewayConfig config, std::shared_ptr<const Clock> clock,
             std::shared_ptr<AnswerCache> cache);

  // The streams async jobs wait in: every model group and router alias a
  // client may name.
  std::vector<std::string> job_groups() const;

  GatewayConfig config;
  std::shared_ptr<const Clock> clock;
  auth::Gatekeeper gatekeeper;
  std::unique_ptr<Embedder> embedder;  // the knn routers'
  router::ComplexityRouter router;
  pipeline::ProviderMap providers;
  pool::ProviderPool pool;
  pipeline::ModelCatalog catalog;
  std::shared_ptr<AnswerCache> cache;  // may be shared with the generations before and after
  pipeline::Pipeline pipeline;
};

// What a reload changes, for its log line: names added, removed and changed.
struct ConfigChanges {
  struct Count {
    std::size_t added = 0, removed = 0, changed = 0;
  };
  Count providers, models, keys, routers;
};
ConfigChanges config_changes(const GatewayConfig& before, const GatewayConfig& after);

// The settings `after` changes that take a restart (the listener, TLS on
// or off, the shared job queue's Redis, logging, metrics on or off), each as
// a problem naming its key: "needs a restart".
std::vector<ConfigProblem> restart_needed(const GatewayConfig& before, const GatewayConfig& after);

}  // namespace sluice
