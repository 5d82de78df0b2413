// The `router` section: the DESIGN.md shape, several aliases, thresholds and
// their defaults, rules, knn examples, and every problem with its key path
// and line; router aliases on a key's allow-list.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "config_test_helpers.hpp"
#include "sluice/core/config.hpp"

namespace sluice {
namespace {

using namespace config_test;

// Models fast, gpt-4o and strong; 10 lines, so `router:` is on line 11.
const std::string kBase =
    "providers:\n"
    "  - { name: mock, type: mock }\n"
    "models:\n"
    "  - name: fast\n"
    "    deployments: [{ provider: mock, model: mini }]\n"
    "  - name: gpt-4o\n"
    "    deployments: [{ provider: mock, model: gpt-4o }]\n"
    "  - name: strong\n"
    "    deployments: [{ provider: mock, model: o3 }]\n"
    "logging: { level: info }\n";

TEST(ConfigRouter, TheDesignShapeWithDefaults) {
  const auto result = load(kBase + "router:\n  alias: auto\n  tiers: { low: fast, medium: gpt-4o, high: gpt-4o }\n");
  ASSERT_TRUE(result.config) << listing(result);
  ASSERT_EQ(result.config->routers.size(), 1u);
  const RouterConfig& r = result.config->routers[0];
  EXPECT_EQ(r.alias, "auto");
  ASSERT_EQ(r.tiers.size(), 3u);
  EXPECT_EQ(r.tiers[0].name, "low");
  EXPECT_EQ(r.tiers[0].model, "fast");
  EXPECT_EQ(r.tiers[1].min_score, kRouterMediumScore);
  EXPECT_EQ(r.tiers[2].min_score, kRouterHighScore);
  EXPECT_EQ(r.mode, RouterMode::heuristic);
  EXPECT_EQ(r.on_no_capacity, NoCapacityPolicy::queue);
  EXPECT_FALSE(r.shadow);
  EXPECT_EQ(result.config->find_router("auto"), &r);
}

TEST(ConfigRouter, AliasDefaultsToAutoAndTwoTiersGetTheHighThreshold) {
  const auto result = load(kBase + "router: { tiers: { cheap: fast, strong: strong } }\n");
  ASSERT_TRUE(result.config) << listing(result);
  EXPECT_EQ(result.config->routers[0].alias, "auto");
  EXPECT_EQ(result.config->routers[0].tiers[1].min_score, kRouterHighScore);
}

TEST(ConfigRouter, SeveralRoutersWithEverything) {
  const auto result = load(kBase +
                           "router:\n"
                           "  - alias: auto\n"
                           "    tiers: { low: fast, medium: gpt-4o, high: strong }\n"
                           "    thresholds: { medium: 0.3, high: 0.65 }\n"
                           "    on_no_capacity: next_tier_up\n"
                           "    shadow: true\n"
                           "    rules:\n"
                           "      - { name: legal, tenant: [legal, compliance], tier: high }\n"
                           "      - { last_turn: \"(?i)\\\\bprove\\\\b\", tier: high }\n"
                           "      - { header: X-Route-Tier, header_matches: \"^cheap$\", tier: low }\n"
                           "      - { tools: true, system: \"agent\", tier: medium }\n"
                           "  - alias: auto-cheap\n"
                           "    tiers: { low: fast, high: gpt-4o }\n");
  ASSERT_TRUE(result.config) << listing(result);
  ASSERT_EQ(result.config->routers.size(), 2u);
  const RouterConfig& r = result.config->routers[0];
  EXPECT_EQ(r.tiers[1].min_score, 0.3);
  EXPECT_EQ(r.tiers[2].min_score, 0.65);
  EXPECT_EQ(r.on_no_capacity, NoCapacityPolicy::next_tier_up);
  EXPECT_TRUE(r.shadow);
  ASSERT_EQ(r.rules.size(), 4u);
  EXPECT_EQ(r.rules[0].name, "legal");
  EXPECT_EQ(r.rules[0].tenants, (std::vector<std::string>{"legal", "compliance"}));
  EXPECT_EQ(r.rules[1].name, "rule-1");
  EXPECT_EQ(r.rules[1].last_turn, "(?i)\\bprove\\b");
  EXPECT_EQ(r.rules[2].header, "x-route-tier") << "header names are lower-cased";
  EXPECT_EQ(r.rules[3].tools, true);
  EXPECT_EQ(result.config->routers[1].alias, "auto-cheap");
}

TEST(ConfigRouter, KnnReadsItsExamplesAtLoad) {
  const std::string path = ::testing::TempDir() + "router_examples." + std::to_string(::getpid()) + ".jsonl";
  std::ofstream(path) << "{\"prompt\": \"hi\", \"tier\": \"low\"}\n{\"prompt\": \"prove it\", \"tier\": \"high\"}\n";
  auto result = load(kBase + "router:\n  tiers: { low: fast, high: strong }\n  mode: knn\n  examples: " + path +
                     "\n  k: 5\n");
  ASSERT_TRUE(result.config) << listing(result);
  const RouterConfig& r = result.config->routers[0];
  EXPECT_EQ(r.mode, RouterMode::knn);
  EXPECT_EQ(r.k, 5);
  EXPECT_EQ(r.embedder, "hashed");
  ASSERT_EQ(r.example_prompts.size(), 2u);
  EXPECT_EQ(r.example_prompts[1].tier, "high");

  std::ofstream(path) << "{\"prompt\": \"hi\", \"tier\": \"medium\"}\nnot json\n";
  result = load(kBase + "router:\n  tiers: { low: fast, high: strong }\n  mode: knn\n  examples: " + path + "\n");
  EXPECT_EQ(listing(result), "test.yaml:14:13: router.examples: '" + path + "' line 2: not valid JSON\n" +
                                 "test.yaml:14:13: router.examples: line 1: tier 'medium' is not a tier of this router\n");
  std::remove(path.c_str());
}

// Each case: kBase, then the section from its `router:` line on (line 11).
INSTANTIATE_TEST_SUITE_P(
    Router, ConfigRejects,
    ::testing::Values(
        Rejected{kBase + "router: { alias: auto }\n", "router", 11, "missing required key 'tiers'"},
        Rejected{kBase + "router: { tiers: { low: fast, high: nope } }\n", "router.tiers.high", 11,
                 "unknown model 'nope'; configured models: fast, gpt-4o, strong"},
        Rejected{kBase + "router: { alias: fast, tiers: { low: fast } }\n", "router.alias", 11,
                 "alias 'fast' is also a model's name: a client could not ask for that model"},
        Rejected{kBase + "router:\n  - { tiers: { low: fast } }\n  - { tiers: { low: strong } }\n", "router[1]", 13,
                 "duplicate router alias name 'auto' (first defined at line 12)"},
        Rejected{kBase + "router: { tiers: [fast, strong] }\n", "router.tiers", 11,
                 "expected a mapping of tier name to model, cheapest first, e.g. { low: fast, high: gpt-4o }"},
        Rejected{kBase + "router: { tiers: {} }\n", "router.tiers", 11, "at least one tier is required"},
        Rejected{kBase + "router:\n  tiers: { low: fast, high: strong }\n  thresholds: { high: 1.5 }\n", "router.thresholds.high",
                 13, "must be between 0 and 1"},
        Rejected{kBase + "router:\n  tiers: { low: fast, high: strong }\n  thresholds: { hgh: 0.5 }\n", "router.thresholds.hgh", 13,
                 "unknown tier 'hgh'; thresholds are for: high"},
        Rejected{kBase + "router:\n  tiers: { low: fast, high: strong }\n  thresholds: { low: 0.1, high: 0.5 }\n",
                 "router.thresholds.low", 13, "the first tier takes every score below the next one's: it has no threshold"},
        Rejected{kBase + "router:\n  tiers: { a: fast, b: gpt-4o, c: strong }\n  thresholds: { b: 0.6, c: 0.4 }\n",
                 "router.thresholds", 13, "thresholds must rise with the tiers: 'c' must be above 'b'"},
        Rejected{kBase + "router:\n  tiers: { a: fast, b: gpt-4o, c: strong, d: strong }\n", "router", 12,
                 "thresholds are required with more than 3 tiers: give the lowest score of each tier above the first"},
        Rejected{kBase + "router:\n  tiers: { low: fast }\n  rules: [{ last_turn: \"(unclosed\", tier: low }]\n",
                 "router.rules[0].last_turn", 13, "invalid pattern '(unclosed': missing ): (unclosed"},
        Rejected{kBase + "router:\n  tiers: { low: fast }\n  rules: [{ tier: low }]\n", "router.rules[0]", 13,
                 "a rule needs at least one condition: system, last_turn, tools, header or tenant"},
        Rejected{kBase + "router:\n  tiers: { low: fast }\n  rules: [{ tools: true, tier: top }]\n", "router.rules[0].tier", 13,
                 "unknown tier 'top'; this router's tiers: low"},
        Rejected{kBase + "router:\n  tiers: { low: fast }\n  rules: [{ header: Authorization, tier: low }]\n",
                 "router.rules[0].header", 13, "a rule may not read 'authorization': it carries credentials"},
        Rejected{kBase + "router:\n  tiers: { low: fast }\n  rules: [{ tools: true, header_matches: x, tier: low }]\n",
                 "router.rules[0].header_matches", 13, "header_matches needs header"},
        Rejected{kBase + "router:\n  tiers: { low: fast }\n  mode: knn\n", "router.mode", 13,
                 "mode knn needs examples: a file of labelled prompts"},
        Rejected{kBase + "router:\n  tiers: { low: fast }\n  mode: knn\n  examples: /nonexistent/x.jsonl\n", "router.examples", 14,
                 "cannot read examples file '/nonexistent/x.jsonl': No such file or directory"},
        Rejected{kBase + "router:\n  tiers: { low: fast }\n  examples: x.jsonl\n", "router.examples", 13,
                 "examples are used only with mode: knn"},
        Rejected{kBase + "router:\n  tiers: { low: fast }\n  on_no_capacity: down\n", "router.on_no_capacity", 13,
                 "invalid value 'down'; expected one of: queue, next_tier_up"},
        Rejected{kBase + "router:\n  tiers: { low: fast }\n  mode: smart\n", "router.mode", 13,
                 "invalid value 'smart'; expected one of: heuristic, knn"},
        Rejected{kBase + "router:\n  tiers: { low: fast }\n  tier: low\n", "router.tier", 13,
                 "unknown key 'tier'; did you mean 'tiers'?"}),
    [](const auto& info) {
      std::string name = info.param.key_path + "_" + std::to_string(info.index);
      for (char& ch : name)
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      return name;
    });

TEST(ConfigRouter, AKeyMayBeAllowedAnAliasAndItsTiersNeedPricesForABudget) {
  auto result = load(kBase + "router: { alias: auto, tiers: { low: fast, high: strong } }\n" +
                     "auth:\n  keys:\n    - { key: sk-gw-0123456789abcdef, tenant: a, models: [auto] }\n");
  ASSERT_TRUE(result.config) << listing(result);
  EXPECT_EQ(result.config->auth.keys[0].models, std::vector<std::string>{"auto"});
  result = load(kBase + "router: { alias: auto, tiers: { low: fast, high: strong } }\n" +
                "auth:\n  keys:\n    - { key: sk-gw-0123456789abcdef, tenant: a, models: [autoo] }\n");
  EXPECT_EQ(only_problem(result).message, "unknown model 'autoo'; configured models: fast, gpt-4o, strong, auto (router)");
}

}  // namespace
}  // namespace sluice
