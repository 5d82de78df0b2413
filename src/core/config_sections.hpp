// The readers of the top-level config sections, one config_<section>.cpp
// each; config_load.cpp's read_root dispatches to them. Private to core.
//
// Each reader fills the struct it is given from `at` and records every
// problem in `r` (see config_reader.hpp for the rules on messages). Defaults
// are whatever the struct holds before a key is read. A new section is one
// new file, one declaration here and one line in read_root.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config_reader.hpp"
#include "sluice/core/config.hpp"

namespace sluice::config_reader {

void read_server(Reader& r, const Slot& at, ServerConfig& c);    // config_server.cpp
void read_logging(Reader& r, const Slot& at, LoggingConfig& c);  // config_logging.cpp
void read_metrics(Reader& r, const Slot& at, MetricsConfig& c);  // config_logging.cpp
void read_queue(Reader& r, const Slot& at, QueueConfig& c);      // config_queue.cpp
void read_redis(Reader& r, const Slot& at, RedisConfig& c);      // config_redis.cpp

// A PEM CA bundle's path (providers[].ca_file, redis.ca_file): it must be a
// readable file; no value means the system store only. config_providers.cpp.
void read_ca_file(Reader& r, const Slot& at, std::string& out);

// config_cache.cpp. What the cache section names, for the checks that need
// the whole file: the embedder's provider (check_provider_refs).
struct CacheRefs;
void read_cache(Reader& r, const Slot& at, CacheConfig& c, CacheRefs& refs);

// config_auth.cpp. What the auth section names, for the checks that need the
// whole file (check_auth_refs) and the duplicate checks between keys.
struct AuthRefs {
  struct ModelRef {
    Name name;
    Slot slot;
    std::size_t key_index;
  };
  struct BudgetRef {
    Slot slot;
    std::size_t key_index;
  };
  std::vector<std::pair<std::string, std::size_t>> keys, digests, ids;  // value, index of its key
  std::vector<ModelRef> models;
  std::vector<BudgetRef> budgets;
};
void read_auth(Reader& r, const Slot& at, AuthConfig& c, AuthRefs& refs);
// Reports allow-listed models that are not configured, and budgeted keys that
// can reach a deployment without a price. Call it after the whole document is read.
void check_auth_refs(Reader& r, const GatewayConfig& config, const AuthRefs& refs);

// config_providers.cpp. One item of `providers`; `names` holds the names of
// the items read before it, for the duplicate check.
// `written_names` gets each provider's name as written in the file, for
// messages that list them.
void read_provider(Reader& r, const Slot& at, ProviderConfig& c, KeyLines& names,
                   std::vector<std::string>& written_names);

// A deployment's provider name, checked once every provider is known.
struct ProviderRef {
  Name name;
  Slot slot;
};

struct CacheRefs {
  std::optional<ProviderRef> embedder_provider;  // semantic.embedder: { provider, model }
  std::optional<Slot> semantic_enabled;
};

// config_models.cpp. One item of `models`; each deployment's provider name is
// appended to `refs` for check_provider_refs.
void read_model(Reader& r, const Slot& at, ModelConfig& c, KeyLines& names,
                std::vector<ProviderRef>& refs);

// Reports each ref naming no configured provider. Call it after the whole
// document is read, and only when `providers` was a list.
void check_provider_refs(Reader& r, const GatewayConfig& config, const std::vector<ProviderRef>& refs,
                         const std::vector<std::string>& written_names);

// config_router.cpp. What the router section names, for check_router_refs.
struct RouterRefs {
  struct Ref {
    Name name;
    Slot slot;
  };
  std::vector<Ref> aliases;      // one per router, in order
  std::vector<Ref> tier_models;  // every tier's model
};
// `router`: one mapping, or a list of them.
void read_routers(Reader& r, const Slot& at, std::vector<RouterConfig>& out, RouterRefs& refs);
// Reports tiers naming no configured model, and aliases that are a model's
// name or another router's alias. Call it after the whole document is read.
void check_router_refs(Reader& r, const GatewayConfig& config, const RouterRefs& refs);

}  // namespace sluice::config_reader
