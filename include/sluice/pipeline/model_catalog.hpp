// ModelCatalog: the models clients may ask for. The configured model groups,
// plus the models a provider lists itself (Ollama: GET /api/tags), which are
// served under their own names by that provider, unless a configured group
// has the name. Listings are fetched when a client lists the models or asks
// for a name no group has, at most every kRefreshEvery per provider; a
// provider that cannot list is left out with a warning, never failing the
// request.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "sluice/core/config.hpp"
#include "sluice/core/clock.hpp"
#include "sluice/core/request_context.hpp"
#include "sluice/pool/provider_pool.hpp"
#include "sluice/providers/provider.hpp"

namespace sluice::pipeline {

// The running providers by name; only the pipeline maps the pool's provider
// names to adapters.
using ProviderMap = std::map<std::string, std::unique_ptr<providers::Provider>, std::less<>>;

struct ModelEntry {
  std::string id;
  std::string owned_by;  // "sluice" for a configured group, else the provider's name
};

class ModelCatalog {
 public:
  static constexpr auto kRefreshEvery = std::chrono::seconds(10);

  // All references must outlive the catalog.
  ModelCatalog(const GatewayConfig& config, ProviderMap& providers, pool::ProviderPool& pool, const Clock& clock);

  // Configured groups first (in configuration order), then listed models.
  boost::asio::awaitable<std::vector<ModelEntry>> list(RequestContext& ctx);

  // Whether `model` can be served: a configured or already discovered group,
  // or a model a provider lists (which then becomes a group of the pool).
  boost::asio::awaitable<bool> resolve(const std::string& model, RequestContext& ctx);

 private:
  struct Listing {
    std::vector<std::string> models;
    Clock::time_point fetched{};
    bool ever = false;
  };

  boost::asio::awaitable<void> refresh(RequestContext& ctx);
  bool listed_only(const std::string& model) const;

  const GatewayConfig& config_;
  ProviderMap& providers_;
  pool::ProviderPool& pool_;
  const Clock& clock_;
  std::map<std::string, Listing, std::less<>> listings_;  // per listing provider
};

}  // namespace sluice::pipeline
