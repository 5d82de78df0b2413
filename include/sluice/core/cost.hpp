// Cost accounting: what a request's tokens cost at its deployment's price,
// and the built-in prices of well-known models, so a configuration needs a
// `price` only for the models this table does not know.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "sluice/core/config.hpp"
#include "sluice/core/request.hpp"

namespace sluice {

// USD for the tokens in `usage` at `price` (per million tokens): cached
// prompt tokens at the cached price, the rest of the prompt at the input price.
double cost_usd(const Price& price, const Usage& usage) noexcept;

// The price of `upstream_model` at a provider of `type`, from the table; a
// dated snapshot ("gpt-4o-2024-08-06", "claude-sonnet-4-20250514") or
// "-latest" has its model's price. Self-hosted types (ollama, mock) cost
// nothing per token. nullopt when the table does not know the model (an
// Azure deployment name, a new model): configure its price.
std::optional<Price> builtin_price(ProviderType type, std::string_view upstream_model) noexcept;

// USD as a header shows it: up to 8 decimals, no trailing zeros ("0.000125").
std::string format_usd(double usd);

// The price a deployment is billed at: its configured price, else the built-in one.
std::optional<Price> deployment_price(ProviderType type, const DeploymentConfig& deployment) noexcept;

}  // namespace sluice
