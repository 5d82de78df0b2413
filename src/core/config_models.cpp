// The `models` config section: each client-visible model name and the
// deployments (provider + upstream model) that serve it (ModelConfig), and
// the check that every deployment names a configured provider.
#include <algorithm>
#include <string>
#include <vector>

#include "config_sections.hpp"

namespace sluice::config_reader {

namespace {

// USD per million tokens; cached_input defaults to input.
void read_price(Reader& r, const Slot& at, std::optional<Price>& out) {
  Price price;
  double cached = -1;
  r.mapping(at, {
      {"input", [&](const Slot& s) { r.number(s, 0, 1e6, price.input); }, true},
      {"output", [&](const Slot& s) { r.number(s, 0, 1e6, price.output); }, true},
      {"cached_input", [&](const Slot& s) { r.number(s, 0, 1e6, cached); }},
  });
  price.cached_input = cached >= 0 ? cached : price.input;
  out = price;
}

void read_deployment(Reader& r, const Slot& at, DeploymentConfig& c, std::vector<ProviderRef>& refs) {
  r.mapping(at, {
      {"provider",
       [&](const Slot& s) {
         Name name;
         if (!r.name(s, name)) return;
         c.provider = name.value;
         refs.push_back({std::move(name), s});
       },
       true},
      {"model", [&](const Slot& s) { r.non_empty_string(s, c.model); }, true},
      {"weight", [&](const Slot& s) { r.integer(s, 1, 1000, c.weight); }},
      {"priority", [&](const Slot& s) { r.integer(s, 0, 1000, c.priority); }},
      {"rpm", [&](const Slot& s) { r.integer(s, 0, INT_MAX, c.rpm); }},
      {"tpm", [&](const Slot& s) { r.integer(s, 0, INT_MAX, c.tpm); }},
      {"price", [&](const Slot& s) { read_price(r, s, c.price); }},
  });
}

}  // namespace

void read_model(Reader& r, const Slot& at, ModelConfig& c, KeyLines& names,
                std::vector<ProviderRef>& refs) {
  r.mapping(at, {
      {"name",
       [&](const Slot& s) {
         Name name;
         if (!r.name(s, name)) return;
         c.name = name.value;
         check_unique(r, s, name, "model", names);
       },
       true},
      {"deployments",
       [&](const Slot& s) {
         const auto items = r.list(s);
         if (items.empty() && (s.node.IsNull() || s.node.IsSequence())) {
           r.problem(s, "must list at least one deployment");
         }
         for (const auto& item : items) read_deployment(r, item, c.deployments.emplace_back(), refs);
       },
       true},
  });
}

// Skipped when there are no providers or some provider's name could not be
// read: that problem is reported already, and one more per deployment would
// only bury it.
void check_provider_refs(Reader& r, const GatewayConfig& config, const std::vector<ProviderRef>& refs,
                         const std::vector<std::string>& written_names) {
  if (written_names.size() != config.providers.size()) return;  // some name could not be read
  std::vector<std::string> names;
  for (std::size_t i = 0; i < config.providers.size(); ++i) {
    if (config.providers[i].name.empty()) return;
    if (std::find(names.begin(), names.end(), written_names[i]) == names.end()) names.push_back(written_names[i]);
  }
  for (const auto& ref : refs) {
    if (names.empty() || config.find_provider(ref.name.value)) continue;
    r.problem(ref.slot, "unknown provider " + ref.name.shown + "; configured providers: " + join_names(names));
  }
}

}  // namespace sluice::config_reader
