#include "sluice/pipeline/model_catalog.hpp"

#include <algorithm>

#include "sluice/core/log.hpp"

namespace sluice::pipeline {

namespace asio = boost::asio;

ModelCatalog::ModelCatalog(const GatewayConfig& config, ProviderMap& providers, pool::ProviderPool& pool,
                           const Clock& clock)
    : config_(config), providers_(providers), pool_(pool), clock_(clock) {
  for (const ProviderConfig& p : config.providers)
    if (p.type == ProviderType::ollama) listings_.emplace(p.name, Listing{});
}

asio::awaitable<void> ModelCatalog::refresh(RequestContext& ctx) {
  for (auto& [name, listing] : listings_) {
    const auto now = clock_.now();
    if (listing.ever && now - listing.fetched < kRefreshEvery) continue;
    listing.fetched = now;
    listing.ever = true;
    auto it = providers_.find(name);
    if (it == providers_.end()) continue;
    auto models = co_await it->second->list_models(ctx);
    if (!models) {
      // Keep the last good listing: a provider that is briefly down keeps its models.
      log::warn("model_list_failed", {{"request_id", ctx.request_id},
                                      {"provider", name},
                                      {"error", to_string(models.error().code)},
                                      {"detail", models.error().logged()}});
      continue;
    }
    listing.models = std::move(models).value();
  }
}

bool ModelCatalog::listed_only(const std::string& model) const { return config_.find_model(model) == nullptr; }

asio::awaitable<std::vector<ModelEntry>> ModelCatalog::list(RequestContext& ctx) {
  co_await refresh(ctx);
  std::vector<ModelEntry> out;
  out.reserve(config_.models.size());
  for (const ModelConfig& m : config_.models) out.push_back({m.name, "sluice"});
  for (const auto& [provider, listing] : listings_)
    for (const std::string& model : listing.models) {
      if (!listed_only(model)) continue;
      const bool seen = std::any_of(out.begin(), out.end(), [&](const ModelEntry& e) { return e.id == model; });
      if (!seen) out.push_back({model, provider});
    }
  co_return out;
}

asio::awaitable<bool> ModelCatalog::resolve(const std::string& model, RequestContext& ctx) {
  if (pool_.has_group(model)) co_return true;
  if (listings_.empty()) co_return false;
  co_await refresh(ctx);
  for (const auto& [provider, listing] : listings_)
    if (std::find(listing.models.begin(), listing.models.end(), model) != listing.models.end())
      co_return pool_.add_listed_group(model, provider, clock_.now());
  co_return false;
}

}  // namespace sluice::pipeline
