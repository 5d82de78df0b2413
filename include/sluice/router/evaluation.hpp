// Measuring a router on labelled prompts, and calibrating its thresholds:
// what sluice-router-eval and sluice-router-calibrate print, as pure
// functions their tests call directly.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "sluice/core/config.hpp"
#include "sluice/router/router.hpp"

namespace sluice::router {

// One labelled prompt as the router saw it.
struct Scored {
  std::size_t label = 0;          // the labelled tier (index into the router's tiers)
  std::size_t decided = 0;        // the tier the router chose (shadow mode ignored)
  std::optional<double> score;    // none when a rule decided
  bool by_rule = false;
  std::int64_t prompt_tokens = 0; // estimated
};

// Routes each prompt through `router`'s alias `config.alias`. Prompts whose
// tier is not one of the router's are left out and counted in `unlabelled`.
std::vector<Scored> score_prompts(const ComplexityRouter& router, const RouterConfig& config,
                                  const std::vector<LabelledPrompt>& prompts, std::size_t* unlabelled = nullptr);

// The decisions again with other thresholds (`min_scores[i]` for tier i+1):
// scored prompts that no rule decided move to the tier their score reaches.
std::vector<Scored> with_thresholds(std::vector<Scored> scored, const std::vector<double>& min_scores);

struct Evaluation {
  std::vector<std::string> tiers;
  std::vector<std::vector<int>> matrix;  // [labelled][routed]
  int total = 0, correct = 0;
  int top = 0, top_to_bottom = 0;     // labelled strongest / of those routed to the cheapest tier
  int bottom = 0, bottom_to_top = 0;  // labelled cheapest / of those routed to the strongest tier
  int under = 0, over = 0;            // routed below / above their label, by any distance
  std::optional<double> routed_usd, strong_usd;  // estimated cost, and always-strongest; unset without prices

  double accuracy() const { return total ? static_cast<double>(correct) / total : 0; }
  // Quality loss: the share of strongest-tier prompts sent to the cheapest
  // tier ("high sent below medium" with three tiers).
  double quality_loss() const { return top ? static_cast<double>(top_to_bottom) / top : 0; }
  // Waste: the share of cheapest-tier prompts sent to the strongest tier.
  double waste() const { return bottom ? static_cast<double>(bottom_to_top) / bottom : 0; }
};

// Tallies the decisions. With `config` naming prices (the tiers' model
// groups, first deployment each) the cost is estimated: each prompt's
// estimated tokens plus `completion_tokens`, against sending all to the
// strongest tier.
Evaluation evaluate(const RouterConfig& router, const std::vector<Scored>& scored, const GatewayConfig* config = nullptr,
                    std::int64_t completion_tokens = 400);

// The report: confusion matrix, accuracy, quality loss, waste, cost.
std::string format_evaluation(const Evaluation& e);

// Thresholds that send the share `shares[i]` of `scores` to tier i (shares
// of all tiers, summing to 1; the RouteLLM way: a target share of strong-
// model calls): for each tier above the first, the score between the last
// one below the cut and the first one above it. Always rising.
std::vector<double> calibrate_thresholds(std::vector<double> scores, const std::vector<double>& shares);

}  // namespace sluice::router
