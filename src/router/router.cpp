// ComplexityRouter (router.hpp): rules first, then the score or the vote,
// then shadow mode. Each router alias is compiled once: its rules' RE2
// patterns and, in knn mode, its examples' embeddings.
#include "sluice/router/router.hpp"

#include <algorithm>
#include <cstdio>

#include <re2/re2.h>

#include "knn.hpp"
#include "sluice/router/complexity.hpp"

namespace sluice::router {

namespace {

std::unique_ptr<RE2> compile(const std::string& pattern) {
  if (pattern.empty()) return nullptr;
  RE2::Options options;
  options.set_log_errors(false);
  return std::make_unique<RE2>(pattern, options);
}

// RE2 is linear in its input; the input is bounded too, so a rule costs
// the same on a 1 MB prompt as on a 16 KB one: its head and its tail.
bool matches(const RE2& re, std::string_view text) {
  constexpr std::size_t kHalf = RouterRule::kRuleInputBytes / 2;
  if (text.size() <= RouterRule::kRuleInputBytes) return RE2::PartialMatch(text, re);
  return RE2::PartialMatch(text.substr(0, kHalf), re) || RE2::PartialMatch(text.substr(text.size() - kHalf), re);
}

std::string_view last_user_turn(const LlmRequest& req) {
  for (auto it = req.messages.rbegin(); it != req.messages.rend(); ++it)
    if (it->role == "user") return it->text;
  return req.inputs.empty() ? std::string_view{} : std::string_view(req.inputs.front());
}

std::size_t tier_for_score(const RouterConfig& config, double score) {
  std::size_t tier = 0;
  for (std::size_t i = 1; i < config.tiers.size(); ++i)
    if (score >= config.tiers[i].min_score) tier = i;
  return tier;
}

}  // namespace

struct ComplexityRouter::Compiled {
  struct Rule {
    const RouterRule* config;
    std::unique_ptr<RE2> system, last_turn, header_value;
    std::size_t tier;
  };

  const RouterConfig& config;
  std::vector<Rule> rules;
  std::unique_ptr<KnnVoter> knn;

  // Whether every condition `rule` gives holds.
  bool holds(const Rule& rule, const RouteInput& in) const {
    const RouterRule& c = *rule.config;
    if (!c.tenants.empty() && std::find(c.tenants.begin(), c.tenants.end(), in.tenant) == c.tenants.end()) return false;
    if (c.tools && (in.request.tools > 0) != *c.tools) return false;
    if (!c.header.empty()) {
      const auto h = std::find_if(in.headers.begin(), in.headers.end(), [&](const Header& x) { return x.name == c.header; });
      if (h == in.headers.end()) return false;
      if (rule.header_value && !matches(*rule.header_value, h->value)) return false;
    }
    if (rule.last_turn && !matches(*rule.last_turn, last_user_turn(in.request))) return false;
    if (rule.system) {
      bool any = false;
      for (const Message& m : in.request.messages)
        if (m.role == "system" || m.role == "developer") any = any || matches(*rule.system, m.text);
      if (!any) return false;
    }
    return true;
  }
};

ComplexityRouter::ComplexityRouter(const std::vector<RouterConfig>& routers, const Embedder* embedder)
    : embedder_(embedder) {
  for (const RouterConfig& config : routers) {
    auto compiled = std::make_unique<Compiled>(Compiled{config, {}, nullptr});
    for (const RouterRule& rule : config.rules) {
      const auto tier = std::find_if(config.tiers.begin(), config.tiers.end(),
                                     [&](const RouterTier& t) { return t.name == rule.tier; });
      compiled->rules.push_back({&rule, compile(rule.system), compile(rule.last_turn), compile(rule.header_matches),
                                 static_cast<std::size_t>(tier - config.tiers.begin())});
      if (!rule.header.empty() &&
          std::find(header_names_.begin(), header_names_.end(), rule.header) == header_names_.end())
        header_names_.push_back(rule.header);
    }
    if (config.mode == RouterMode::knn && embedder_)
      compiled->knn = std::make_unique<KnnVoter>(config.example_prompts, config.tiers, config.k, *embedder_);
    routers_.push_back(std::move(compiled));
  }
}

ComplexityRouter::~ComplexityRouter() = default;

std::vector<std::string> ComplexityRouter::aliases() const {
  std::vector<std::string> out;
  for (const auto& r : routers_) out.push_back(r->config.alias);
  return out;
}

std::optional<Route> ComplexityRouter::route(const RouteInput& in) const {
  // Tiers are chat models: an embedding request never goes through a router.
  if (in.request.endpoint == Endpoint::embeddings) return std::nullopt;
  const auto it = std::find_if(routers_.begin(), routers_.end(),
                               [&](const auto& r) { return r->config.alias == in.request.model; });
  if (it == routers_.end()) return std::nullopt;
  const Compiled& r = **it;
  Route route;
  route.router = &r.config;

  const auto rule = std::find_if(r.rules.begin(), r.rules.end(), [&](const auto& x) { return r.holds(x, in); });
  if (rule != r.rules.end()) {
    route.decided = rule->tier;
    route.reason = "rule:" + rule->config->name;
  } else if (r.knn) {
    const Vote vote = r.knn->vote(knn_text(in.request));
    route.decided = vote.tier;
    route.score = vote.position;
    route.reason = "knn:" + std::to_string(vote.agreeing) + "/" + std::to_string(vote.neighbours);
  } else {
    const Assessment a = assess(in.request);
    route.decided = tier_for_score(r.config, a.score);
    route.score = a.score;
    route.reason = reason(a, route.decided == 0 && r.config.tiers.size() > 1);
  }
  // Shadow: the decision is recorded, the strongest tier serves (what the
  // alias would cost without a router).
  route.served = r.config.shadow ? r.config.tiers.size() - 1 : route.decided;
  return route;
}

bool ComplexityRouter::step_up(Route& route) {
  const auto& tiers = route.router->tiers;
  for (std::size_t i = route.served + 1; i < tiers.size(); ++i) {
    if (tiers[i].model == tiers[route.served].model) continue;  // the same group has no more capacity
    route.served = i;
    return true;
  }
  return false;
}

}  // namespace sluice::router
