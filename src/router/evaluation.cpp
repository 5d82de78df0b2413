// Router evaluation and calibration (evaluation.hpp).
#include "sluice/router/evaluation.hpp"

#include <algorithm>
#include <cstdio>

#include "sluice/core/cost.hpp"
#include "sluice/core/labelled_prompts.hpp"

namespace sluice::router {

namespace {

std::optional<Price> tier_price(const GatewayConfig& config, const RouterTier& tier) {
  const ModelConfig* model = config.find_model(tier.model);
  if (!model || model->deployments.empty()) return std::nullopt;
  const ProviderConfig* provider = config.find_provider(model->deployments.front().provider);
  if (!provider) return std::nullopt;
  return deployment_price(provider->type, model->deployments.front());
}

std::string percent(int part, int whole) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f%% (%d/%d)", whole ? 100.0 * part / whole : 0.0, part, whole);
  return text;
}

}  // namespace

std::vector<Scored> score_prompts(const ComplexityRouter& router, const RouterConfig& config,
                                  const std::vector<LabelledPrompt>& prompts, std::size_t* unlabelled) {
  std::vector<Scored> out;
  const std::vector<Header> no_headers;
  for (const LabelledPrompt& prompt : prompts) {
    const RouterTier* tier = config.find_tier(prompt.tier);
    if (!tier) {
      if (unlabelled) ++*unlabelled;
      continue;
    }
    LlmRequest req = request_of(prompt);
    req.model = config.alias;
    const std::optional<Route> route = router.route({req, "", no_headers});
    if (!route) continue;
    Scored s;
    s.label = static_cast<std::size_t>(tier - config.tiers.data());
    s.decided = route->decided;
    s.by_rule = route->reason.starts_with("rule:");
    if (!s.by_rule) s.score = route->score;
    s.prompt_tokens = estimate_tokens(req.prompt_chars());
    out.push_back(s);
  }
  return out;
}

std::vector<Scored> with_thresholds(std::vector<Scored> scored, const std::vector<double>& min_scores) {
  for (Scored& s : scored) {
    if (s.by_rule || !s.score) continue;
    s.decided = 0;
    for (std::size_t i = 0; i < min_scores.size(); ++i)
      if (*s.score >= min_scores[i]) s.decided = i + 1;
  }
  return scored;
}

Evaluation evaluate(const RouterConfig& router, const std::vector<Scored>& scored, const GatewayConfig* config,
                    std::int64_t completion_tokens) {
  Evaluation e;
  const std::size_t n = router.tiers.size();
  for (const RouterTier& t : router.tiers) e.tiers.push_back(t.name);
  e.matrix.assign(n, std::vector<int>(n, 0));
  std::vector<std::optional<Price>> prices(n);
  bool priced = config != nullptr;
  for (std::size_t i = 0; i < n && config; ++i) {
    prices[i] = tier_price(*config, router.tiers[i]);
    priced = priced && prices[i].has_value();
  }
  double routed = 0, strong = 0;
  for (const Scored& s : scored) {
    ++e.matrix[s.label][s.decided];
    ++e.total;
    if (s.label == s.decided) ++e.correct;
    if (s.decided < s.label) ++e.under;
    if (s.decided > s.label) ++e.over;
    if (s.label == n - 1) {
      ++e.top;
      if (s.decided == 0 && n > 1) ++e.top_to_bottom;
    }
    if (s.label == 0) {
      ++e.bottom;
      if (s.decided == n - 1 && n > 1) ++e.bottom_to_top;
    }
    if (priced) {
      const Usage usage{s.prompt_tokens, completion_tokens, true, 0};
      routed += cost_usd(*prices[s.decided], usage);
      strong += cost_usd(*prices[n - 1], usage);
    }
  }
  if (priced) {
    e.routed_usd = routed;
    e.strong_usd = strong;
  }
  return e;
}

std::string format_evaluation(const Evaluation& e) {
  std::string out = "confusion matrix (rows: labelled tier, columns: routed tier)\n";
  char cell[64];
  std::snprintf(cell, sizeof cell, "%-12s", "");
  out += cell;
  for (const auto& t : e.tiers) {
    std::snprintf(cell, sizeof cell, "%10s", t.c_str());
    out += cell;
  }
  out += '\n';
  for (std::size_t i = 0; i < e.tiers.size(); ++i) {
    std::snprintf(cell, sizeof cell, "%-12s", e.tiers[i].c_str());
    out += cell;
    for (int v : e.matrix[i]) {
      std::snprintf(cell, sizeof cell, "%10d", v);
      out += cell;
    }
    out += '\n';
  }
  const std::string top = e.tiers.empty() ? "" : e.tiers.back(), bottom = e.tiers.empty() ? "" : e.tiers.front();
  std::snprintf(cell, sizeof cell, "%.3f", e.accuracy());
  out += "accuracy: " + std::string(cell) + " (" + std::to_string(e.correct) + "/" + std::to_string(e.total) + ")\n";
  out += "quality loss (" + top + " sent to " + bottom + "): " + percent(e.top_to_bottom, e.top) + "\n";
  out += "waste (" + bottom + " sent to " + top + "): " + percent(e.bottom_to_top, e.bottom) + "\n";
  out += "under-routed (any tier below its label): " + percent(e.under, e.total) + "\n";
  out += "over-routed (any tier above its label): " + percent(e.over, e.total) + "\n";
  if (e.routed_usd && e.strong_usd && *e.strong_usd > 0) {
    std::snprintf(cell, sizeof cell, "$%.4f vs $%.4f always-%s: %.1f%%", *e.routed_usd, *e.strong_usd, top.c_str(),
                  100.0 * *e.routed_usd / *e.strong_usd);
    out += "estimated cost: " + std::string(cell) + "\n";
  } else {
    out += "estimated cost: unknown (a tier's model group has no price)\n";
  }
  return out;
}

std::vector<double> calibrate_thresholds(std::vector<double> scores, const std::vector<double>& shares) {
  std::vector<double> out;
  if (shares.size() < 2) return out;
  std::sort(scores.begin(), scores.end());
  const std::size_t n = scores.size();
  double below = 0, previous = 0;
  for (std::size_t tier = 1; tier < shares.size(); ++tier) {
    below += shares[tier - 1];
    const auto cut = std::min(n, static_cast<std::size_t>(below * static_cast<double>(n) + 0.5));
    double t;
    if (n == 0) t = static_cast<double>(tier) / static_cast<double>(shares.size());
    else if (cut == 0) t = scores.front();
    else if (cut >= n) t = std::min(1.0, scores.back() + 1e-6);
    else t = (scores[cut - 1] + scores[cut]) / 2;
    t = std::clamp(t, 0.0, 1.0);
    if (tier > 1 && t <= previous) t = std::min(1.0, previous + 1e-4);
    out.push_back(t);
    previous = t;
  }
  return out;
}

}  // namespace sluice::router
