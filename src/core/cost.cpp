#include "sluice/core/cost.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>

namespace sluice {

namespace {

struct Listed {
  std::string_view model;
  Price price;
};

// Public list prices, USD per million tokens (input, output, cached input),
// as of 2026-12. A configured `price` overrides any of them; docs/configuration.md
// says how to check them. Anthropic's cached input is its cache-read price.
constexpr Listed kPrices[] = {
    {"gpt-4o", {2.50, 10.00, 1.25}},
    {"gpt-4o-mini", {0.15, 0.60, 0.075}},
    {"gpt-4.1", {2.00, 8.00, 0.50}},
    {"gpt-4.1-mini", {0.40, 1.60, 0.10}},
    {"gpt-4.1-nano", {0.10, 0.40, 0.025}},
    {"gpt-3.5-turbo", {0.50, 1.50, 0.50}},
    {"o1", {15.00, 60.00, 7.50}},
    {"o1-mini", {1.10, 4.40, 0.55}},
    {"o3", {2.00, 8.00, 0.50}},
    {"o3-mini", {1.10, 4.40, 0.55}},
    {"o4-mini", {1.10, 4.40, 0.275}},
    {"text-embedding-3-small", {0.02, 0, 0.02}},
    {"text-embedding-3-large", {0.13, 0, 0.13}},
    {"text-embedding-ada-002", {0.10, 0, 0.10}},
    {"claude-3-haiku", {0.25, 1.25, 0.03}},
    {"claude-3-5-haiku", {0.80, 4.00, 0.08}},
    {"claude-haiku-4-5", {1.00, 5.00, 0.10}},
    {"claude-3-5-sonnet", {3.00, 15.00, 0.30}},
    {"claude-3-7-sonnet", {3.00, 15.00, 0.30}},
    {"claude-sonnet-4", {3.00, 15.00, 0.30}},
    {"claude-sonnet-4-5", {3.00, 15.00, 0.30}},
    {"claude-3-opus", {15.00, 75.00, 1.50}},
    {"claude-opus-4", {15.00, 75.00, 1.50}},
    {"claude-opus-4-1", {15.00, 75.00, 1.50}},
    {"claude-opus-4-5", {5.00, 25.00, 0.50}},
};

bool digits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
}

// The model name without a snapshot suffix: "-latest", "-20241022" or
// "-2024-08-06". Anything else ("o3-pro", "gpt-4o-audio-preview") is another
// model with its own price.
std::string_view without_snapshot(std::string_view model) {
  if (model.ends_with("-latest")) return model.substr(0, model.size() - 7);
  if (model.size() > 9 && model[model.size() - 9] == '-' && digits(model.substr(model.size() - 8)))
    return model.substr(0, model.size() - 9);
  if (model.size() > 11) {
    const std::string_view date = model.substr(model.size() - 10);  // 2024-08-06
    if (model[model.size() - 11] == '-' && date[4] == '-' && date[7] == '-' && digits(date.substr(0, 4)) &&
        digits(date.substr(5, 2)) && digits(date.substr(8, 2)))
      return model.substr(0, model.size() - 11);
  }
  return model;
}

}  // namespace

double cost_usd(const Price& price, const Usage& usage) noexcept {
  const auto cached = std::clamp<std::int64_t>(usage.cached_tokens, 0, usage.prompt_tokens);
  const double micro = static_cast<double>(usage.prompt_tokens - cached) * price.input +
                       static_cast<double>(cached) * price.cached_input +
                       static_cast<double>(usage.completion_tokens) * price.output;
  return micro / 1e6;
}

std::optional<Price> builtin_price(ProviderType type, std::string_view upstream_model) noexcept {
  if (type == ProviderType::ollama || type == ProviderType::mock) return Price{};
  const std::string_view model = without_snapshot(upstream_model);
  for (const Listed& listed : kPrices)
    if (listed.model == model) return listed.price;
  return std::nullopt;
}

std::string format_usd(double usd) {
  char text[32];
  const int n = std::snprintf(text, sizeof text, "%.8f", usd);
  std::string out(text, n > 0 ? static_cast<std::size_t>(n) : 0);
  // 0.00012500 -> 0.000125; 2.00000000 -> 2
  while (out.size() > 1 && out.back() == '0') out.pop_back();
  if (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

std::optional<Price> deployment_price(ProviderType type, const DeploymentConfig& deployment) noexcept {
  if (deployment.price) return deployment.price;
  return builtin_price(type, deployment.model);
}

}  // namespace sluice
