// Evaluation and calibration: the confusion matrix and its rates on a fixed
// set of decisions, the cost estimate from prices, thresholds from target
// shares, and the labelled set read from a file.
#include "sluice/router/evaluation.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sluice/core/labelled_prompts.hpp"

namespace sluice::router {
namespace {

RouterConfig three_tiers() {
  RouterConfig c;
  c.tiers = {{"low", "fast", 0}, {"medium", "mid", 0.3}, {"high", "strong", 0.6}};
  return c;
}

Scored decided(std::size_t label, std::size_t tier, double score = 0.5) {
  Scored s;
  s.label = label;
  s.decided = tier;
  s.score = score;
  s.prompt_tokens = 100;
  return s;
}

TEST(Evaluation, TalliesTheMatrixAndItsRates) {
  const std::vector<Scored> scored{decided(0, 0), decided(0, 0), decided(0, 2), decided(1, 1), decided(1, 0),
                                   decided(2, 2), decided(2, 1), decided(2, 0), decided(2, 2)};
  const Evaluation e = evaluate(three_tiers(), scored);
  EXPECT_EQ(e.matrix, (std::vector<std::vector<int>>{{2, 0, 1}, {1, 1, 0}, {1, 1, 2}}));
  EXPECT_EQ(e.total, 9);
  EXPECT_DOUBLE_EQ(e.accuracy(), 5.0 / 9);
  EXPECT_DOUBLE_EQ(e.quality_loss(), 1.0 / 4) << "one of four high prompts went to low";
  EXPECT_DOUBLE_EQ(e.waste(), 1.0 / 3) << "one of three low prompts went to high";
  EXPECT_EQ(e.under, 3);
  EXPECT_EQ(e.over, 1);
  EXPECT_FALSE(e.routed_usd) << "no configuration: no prices";
  const std::string report = format_evaluation(e);
  EXPECT_NE(report.find("accuracy: 0.556 (5/9)"), std::string::npos) << report;
  EXPECT_NE(report.find("quality loss (high sent to low): 25.0% (1/4)"), std::string::npos) << report;
}

TEST(Evaluation, EstimatesTheCostAgainstAlwaysStrongest) {
  GatewayConfig config;
  config.providers.push_back({});
  config.providers[0].name = "p";
  config.providers[0].type = ProviderType::openai;
  for (const auto& [name, price] : std::vector<std::pair<std::string, double>>{{"fast", 1}, {"mid", 2}, {"strong", 10}}) {
    DeploymentConfig d{"p", name};
    d.price = Price{price, price, price};
    config.models.push_back({name, {d}});
  }
  // 100 prompt + 100 completion tokens a prompt, at $1, $10 per million.
  const Evaluation e = evaluate(three_tiers(), {decided(0, 0), decided(2, 2)}, &config, 100);
  ASSERT_TRUE(e.routed_usd && e.strong_usd);
  EXPECT_DOUBLE_EQ(*e.routed_usd, 200 * 1e-6 + 200 * 10e-6);
  EXPECT_DOUBLE_EQ(*e.strong_usd, 2 * 200 * 10e-6);
}

TEST(Evaluation, OtherThresholdsMoveScoredPromptsButNotRuledOnes) {
  std::vector<Scored> scored{decided(0, 0, 0.1), decided(1, 1, 0.45), decided(2, 2, 0.65)};
  scored.push_back(decided(0, 2));
  scored.back().by_rule = true;
  scored.back().score.reset();
  const auto moved = with_thresholds(scored, {0.5, 0.6});
  EXPECT_EQ(moved[0].decided, 0u);
  EXPECT_EQ(moved[1].decided, 0u);
  EXPECT_EQ(moved[2].decided, 2u);
  EXPECT_EQ(moved[3].decided, 2u) << "a rule's decision stands";
}

TEST(Calibration, ThresholdsGiveTheTargetShares) {
  std::vector<double> scores;
  for (int i = 0; i < 100; ++i) scores.push_back(i / 100.0);  // 0.00 .. 0.99
  auto t = calibrate_thresholds(scores, {0.5, 0.3, 0.2});
  ASSERT_EQ(t.size(), 2u);
  EXPECT_DOUBLE_EQ(t[0], 0.495) << "50 scores below, between 0.49 and 0.50";
  EXPECT_DOUBLE_EQ(t[1], 0.795);
  t = calibrate_thresholds(scores, {0.0, 0.0, 1.0});
  EXPECT_DOUBLE_EQ(t[0], 0.0);
  EXPECT_GT(t[1], t[0]) << "always rising";
  t = calibrate_thresholds(scores, {1.0, 0.0, 0.0});
  EXPECT_GT(t[0], 0.99);
  EXPECT_LE(t[1], 1.0);
  EXPECT_TRUE(calibrate_thresholds(scores, {1.0}).empty()) << "one tier has no threshold";
  // Ties: all the same score; thresholds still rise.
  t = calibrate_thresholds(std::vector<double>(10, 0.4), {0.3, 0.4, 0.3});
  EXPECT_GT(t[1], t[0]);
}

TEST(LabelledPrompts, ReadsPromptsAndMessagesAndNamesBadLines) {
  const auto read = parse_labelled_prompts(
      "{\"prompt\": \"hi\", \"tier\": \"low\"}\n"
      "\n"
      "{\"messages\": [{\"role\": \"system\", \"content\": \"s\"}, {\"role\": \"user\", \"content\": [{\"type\": \"text\", "
      "\"text\": \"a\"}, {\"type\": \"text\", \"text\": \"b\"}]}], \"tier\": \"high\", \"kind\": \"multi-turn\"}\n"
      "not json\n"
      "{\"prompt\": \"x\", \"tier\": \"low\", \"extra\": 1}\n"
      "{\"tier\": \"low\"}\n"
      "{\"prompt\": \"unlabelled is fine\"}\n");
  ASSERT_EQ(read.prompts.size(), 3u);
  EXPECT_EQ(read.prompts[0].messages[0].text, "hi");
  EXPECT_EQ(read.prompts[1].messages[1].text, "a\nb");
  EXPECT_EQ(read.prompts[1].kind, "multi-turn");
  EXPECT_EQ(read.prompts[1].line, 3);
  EXPECT_EQ(read.prompts[2].tier, "");
  EXPECT_EQ(read.problems, (std::vector<std::string>{
                               "line 4: not valid JSON",
                               "line 5: unknown key 'extra' (expected prompt or messages, tier, kind, note)",
                               "line 6: missing 'prompt' or 'messages'"}));
}

}  // namespace
}  // namespace sluice::router
