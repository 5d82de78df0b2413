// The `auth` config section: gateway keys, each mapping to a tenant with its
// own limits, model allow-list, monthly budget and expiry (AuthConfig), and
// the checks that need the whole file: allow-listed models exist, and every
// model a budgeted key may use has a price.
//
// A key is a secret: no message ever shows one, not even as written.
#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>

#include "config_sections.hpp"
#include "config_syntax.hpp"
#include "sluice/core/cost.hpp"

namespace sluice::config_reader {

namespace {

// Long enough that guessing is hopeless; `openssl rand -hex 32` gives 64.
constexpr std::size_t kMinKeyLength = 16;

bool is_sha256_hex(std::string_view text) {
  return text.size() == 64 && std::all_of(text.begin(), text.end(), [](char c) {
           return std::isdigit(static_cast<unsigned char>(c)) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
         });
}

// Tenants and key ids appear in logs and metric labels: plain names only.
void read_label(Reader& r, const Slot& s, std::string& out) {
  Name name;
  if (!r.name(s, name)) return;
  if (!config_syntax::is_name(name.value) || name.value.size() > 64)
    return r.problem(s, "invalid name " + name.shown + ": use up to 64 letters, digits, '.', '_' or '-'");
  out = std::move(name.value);
}

void read_key(Reader& r, const Slot& at, GatewayKeyConfig& c, std::size_t index, AuthRefs& refs) {
  std::optional<Slot> key_slot, digest_slot;
  r.mapping(at, {
      {"key",
       [&](const Slot& s) {
         key_slot = s;
         if (!r.string(s, c.key)) return;
         if (c.key.empty()) return r.problem(s, "must not be empty (is its environment variable set to \"\"?)");
         if (c.key.size() < kMinKeyLength)
           r.problem(s, "a gateway key must be at least " + std::to_string(kMinKeyLength) +
                            " characters; use a long random string (openssl rand -hex 32)");
         for (const auto& [earlier, i] : refs.keys)
           if (earlier == c.key) r.problem(s, "the same key as auth.keys[" + std::to_string(i) + "]");
         refs.keys.emplace_back(c.key, index);
       }},
      {"sha256",
       [&](const Slot& s) {
         digest_slot = s;
         const auto value = r.scalar(s, "a string");
         if (!value) return;
         if (!is_sha256_hex(value->text))
           return r.problem(s, "expected the key's SHA-256 as 64 hex digits (sha256sum of the key, without a newline)");
         c.sha256 = config_syntax::lowercase(value->text);
         for (const auto& [earlier, i] : refs.digests)
           if (earlier == c.sha256) r.problem(s, "the same key as auth.keys[" + std::to_string(i) + "]");
         refs.digests.emplace_back(c.sha256, index);
       }},
      {"id",
       [&](const Slot& s) {
         read_label(r, s, c.id);
         if (c.id.empty()) return;
         for (const auto& [earlier, i] : refs.ids)
           if (earlier == c.id) r.problem(s, "duplicate key id '" + c.id + "' (also auth.keys[" + std::to_string(i) + "])");
         refs.ids.emplace_back(c.id, index);
       }},
      {"tenant", [&](const Slot& s) { read_label(r, s, c.tenant); }, true},
      {"rpm", [&](const Slot& s) { r.integer(s, 0, INT_MAX, c.rpm); }},
      {"tpm", [&](const Slot& s) { r.integer(s, 0, INT_MAX, c.tpm); }},
      {"models",
       [&](const Slot& s) {
         for (const Slot& item : r.list(s)) {
           Name name;
           if (!r.name(item, name)) continue;
           c.models.push_back(name.value);
           refs.models.push_back({std::move(name), item, index});
         }
       }},
      {"monthly_budget_usd",
       [&](const Slot& s) {
         double budget = -1;
         r.number(s, 0.000001, 1e12, budget);
         if (budget > 0) {
           c.monthly_budget_usd = budget;
           refs.budgets.push_back({s, index});
         }
       }},
      {"max_priority",
       [&](const Slot& s) {
         r.choice(s, Choices<Priority>{{"low", Priority::low}, {"normal", Priority::normal}, {"high", Priority::high}},
                  c.max_priority);
       }},
      {"expires",
       [&](const Slot& s) {
         const auto value = r.scalar(s, "a date");
         if (!value) return;
         c.expires = config_syntax::parse_utc_time(value->text);
         if (!c.expires) r.problem(s, "expected a UTC date like 2027-01-31 or 2027-01-31T18:00:00Z");
       }},
  });
  if (key_slot && digest_slot) r.problem(*digest_slot, "give either key or sha256, not both");
  if (!key_slot && !digest_slot && !at.node.IsNull() && at.node.IsMap())
    r.problem(at, "missing key: give the key (key: ${VAR}) or its SHA-256 (sha256: ...)");
}

// Whether a key's allow-list lets it reach the model group `model`: by
// name, or through a router alias whose tiers include it.
bool may_reach(const GatewayKeyConfig& key, const GatewayConfig& config, const std::string& model) {
  if (key.models.empty()) return true;
  for (const std::string& allowed : key.models) {
    if (allowed == model) return true;
    if (const RouterConfig* router = config.find_router(allowed))
      for (const RouterTier& tier : router->tiers)
        if (tier.model == model) return true;
  }
  return false;
}

}  // namespace

void read_auth(Reader& r, const Slot& at, AuthConfig& c, AuthRefs& refs) {
  std::optional<Slot> open;
  r.mapping(at, {
      {"keys",
       [&](const Slot& s) {
         const auto items = r.list(s);
         for (std::size_t i = 0; i < items.size(); ++i) read_key(r, items[i], c.keys.emplace_back(), i, refs);
       }},
      {"allow_unauthenticated",
       [&](const Slot& s) {
         r.boolean(s, c.allow_unauthenticated);
         open = s;
       }},
  });
  if (open && c.allow_unauthenticated && !c.keys.empty())
    r.problem(*open, "allow_unauthenticated applies only when no keys are configured: with keys, every request "
                     "must present one");
}

void check_auth_refs(Reader& r, const GatewayConfig& config, const AuthRefs& refs) {
  // A key may be allowed a router alias: what the client sends is what is checked.
  for (const auto& ref : refs.models) {
    if (config.find_model(ref.name.value) || config.find_router(ref.name.value)) continue;
    std::vector<std::string> names;
    for (const ModelConfig& m : config.models) names.push_back(m.name);
    for (const RouterConfig& router : config.routers) names.push_back(router.alias + " (router)");
    r.problem(ref.slot, "unknown model " + ref.name.shown + "; configured models: " + join_names(names));
  }
  // A budget is only as good as the prices behind it: every deployment a
  // budgeted key can reach must have one.
  for (const auto& budget : refs.budgets) {
    const GatewayKeyConfig& key = config.auth.keys[budget.key_index];
    for (std::size_t i = 0; i < config.models.size(); ++i) {
      const ModelConfig& m = config.models[i];
      if (!may_reach(key, config, m.name)) continue;
      for (std::size_t j = 0; j < m.deployments.size(); ++j) {
        const ProviderConfig* provider = config.find_provider(m.deployments[j].provider);
        if (!provider || deployment_price(provider->type, m.deployments[j])) continue;
        // By position: names may come from the environment, and messages never show those.
        const std::string where = "models[" + std::to_string(i) + "].deployments[" + std::to_string(j) + "]";
        r.problem(budget.slot, "the key has a budget, but " + where + " has no known price; set " + where +
                                   ".price or limit the key's models");
      }
    }
  }
}

}  // namespace sluice::config_reader
