// ComplexityRouter: aliases route and explicit models bypass; each kind of
// rule forces its tier and beats the score; shadow mode serves the strongest
// tier; step_up goes up past tiers of the same group and never down; knn
// mode votes with a fake embedder.
#include "sluice/router/router.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

namespace sluice::router {
namespace {

RouterConfig three_tiers(std::string alias = "auto") {
  RouterConfig c;
  c.alias = std::move(alias);
  c.tiers = {{"low", "fast", 0}, {"medium", "gpt-4o", kRouterMediumScore}, {"high", "strong", kRouterHighScore}};
  return c;
}

LlmRequest request(std::string model, std::string text, std::string system = "") {
  LlmRequest req;
  req.model = std::move(model);
  if (!system.empty()) req.messages.push_back({"system", std::move(system)});
  req.messages.push_back({"user", std::move(text)});
  return req;
}

const std::vector<Header> kNoHeaders;

TEST(Router, AnAliasIsRoutedAndAnExplicitModelBypasses) {
  const std::vector<RouterConfig> configs{three_tiers()};
  ComplexityRouter router(configs, nullptr);
  EXPECT_EQ(router.aliases(), std::vector<std::string>{"auto"});
  const LlmRequest hard = request("auto", "Prove that every tournament has a Hamiltonian path.");
  auto route = router.route({hard, "", kNoHeaders});
  ASSERT_TRUE(route);
  EXPECT_EQ(route->tier().name, "high");
  EXPECT_EQ(route->tier().model, "strong");
  EXPECT_EQ(route->decided, route->served);
  ASSERT_TRUE(route->score);
  EXPECT_GE(*route->score, kRouterHighScore);
  EXPECT_EQ(route->reason, "proof+math");

  const LlmRequest easy = request("auto", "What is the capital of Australia?");
  route = router.route({easy, "", kNoHeaders});
  ASSERT_TRUE(route);
  EXPECT_EQ(route->tier().model, "fast");
  EXPECT_EQ(route->reason, "simple+brief") << "the cheapest tier names what made it easy";

  EXPECT_FALSE(router.route({request("gpt-4o", "Prove it."), "", kNoHeaders})) << "explicit model: no routing";
  EXPECT_FALSE(router.route({request("Auto", "Prove it."), "", kNoHeaders})) << "aliases are case-sensitive";
  LlmRequest embedding = request("auto", "text");
  embedding.endpoint = Endpoint::embeddings;
  EXPECT_FALSE(router.route({embedding, "", kNoHeaders})) << "tiers are chat models";
}

TEST(Router, SeveralAliasesEachWithItsOwnTiers) {
  RouterConfig code = three_tiers("auto-code");
  code.tiers[0].model = "gpt-4o";
  const std::vector<RouterConfig> configs{three_tiers(), code};
  ComplexityRouter router(configs, nullptr);
  EXPECT_EQ(router.aliases(), (std::vector<std::string>{"auto", "auto-code"}));
  const auto route = router.route({request("auto-code", "hi"), "", kNoHeaders});
  ASSERT_TRUE(route);
  EXPECT_EQ(route->tier().model, "gpt-4o");
}

struct RuleCase {
  const char* name;
  RouterRule rule;
  LlmRequest request;
  std::string tenant;
  std::vector<Header> headers;
  bool applies;
};

RouterRule rule(std::string tier) {
  RouterRule r;
  r.name = "r";
  r.tier = std::move(tier);
  return r;
}
RouterRule with(RouterRule r, auto setter) {
  setter(r);
  return r;
}
LlmRequest with_tools(LlmRequest r) {
  r.tools = 2;
  return r;
}

class Rules : public ::testing::TestWithParam<RuleCase> {};

TEST_P(Rules, ForceTheirTierBeforeAnyScore) {
  const RuleCase& c = GetParam();
  std::vector<RouterConfig> configs{three_tiers()};
  configs[0].rules.push_back(c.rule);
  ComplexityRouter router(configs, nullptr);
  const auto route = router.route({c.request, c.tenant, c.headers});
  ASSERT_TRUE(route);
  if (c.applies) {
    EXPECT_EQ(route->tier().name, c.rule.tier);
    EXPECT_EQ(route->reason, "rule:r");
    EXPECT_FALSE(route->score) << "a rule decides without a score";
  } else {
    EXPECT_NE(route->reason, "rule:r");
  }
}

const std::string kEasy = "What is the capital of Australia?";  // low by score
INSTANTIATE_TEST_SUITE_P(
    Each, Rules,
    ::testing::Values(
        RuleCase{"last_turn", with(rule("high"), [](auto& r) { r.last_turn = "(?i)capital"; }), request("auto", kEasy), "", {}, true},
        RuleCase{"last_turn_miss", with(rule("high"), [](auto& r) { r.last_turn = "(?i)proof"; }), request("auto", kEasy), "", {}, false},
        RuleCase{"system", with(rule("high"), [](auto& r) { r.system = "^You are a lawyer"; }),
                 request("auto", kEasy, "You are a lawyer. Be precise."), "", {}, true},
        RuleCase{"system_absent", with(rule("high"), [](auto& r) { r.system = "lawyer"; }), request("auto", kEasy), "", {}, false},
        RuleCase{"tools", with(rule("medium"), [](auto& r) { r.tools = true; }), with_tools(request("auto", kEasy)), "", {}, true},
        RuleCase{"no_tools", with(rule("medium"), [](auto& r) { r.tools = true; }), request("auto", kEasy), "", {}, false},
        RuleCase{"tools_false", with(rule("medium"), [](auto& r) { r.tools = false; }), request("auto", kEasy), "", {}, true},
        RuleCase{"header_present", with(rule("high"), [](auto& r) { r.header = "x-priority"; }), request("auto", kEasy), "",
                 {{"x-priority", "anything"}}, true},
        RuleCase{"header_value", with(rule("high"), [](auto& r) { r.header = "x-priority"; r.header_matches = "^urgent$"; }),
                 request("auto", kEasy), "", {{"x-priority", "urgent"}}, true},
        RuleCase{"header_value_miss", with(rule("high"), [](auto& r) { r.header = "x-priority"; r.header_matches = "^urgent$"; }),
                 request("auto", kEasy), "", {{"x-priority", "not urgent"}}, false},
        RuleCase{"tenant", with(rule("high"), [](auto& r) { r.tenants = {"vip", "legal"}; }), request("auto", kEasy), "legal", {}, true},
        RuleCase{"tenant_miss", with(rule("high"), [](auto& r) { r.tenants = {"vip"}; }), request("auto", kEasy), "team-a", {}, false},
        RuleCase{"all_conditions", with(rule("high"), [](auto& r) { r.tenants = {"vip"}; r.last_turn = "capital"; }),
                 request("auto", kEasy), "vip", {}, true},
        RuleCase{"one_condition_fails", with(rule("high"), [](auto& r) { r.tenants = {"vip"}; r.last_turn = "nothing"; }),
                 request("auto", kEasy), "vip", {}, false},
        RuleCase{"down_as_well", with(rule("low"), [](auto& r) { r.last_turn = "Prove"; }),
                 request("auto", "Prove that every tournament has a Hamiltonian path."), "", {}, true}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Router, TheFirstMatchingRuleWinsAndRulesSeeBoundedText) {
  std::vector<RouterConfig> configs{three_tiers()};
  configs[0].rules = {with(rule("medium"), [](auto& r) { r.name = "first"; r.last_turn = "needle"; }),
                      with(rule("high"), [](auto& r) { r.name = "second"; r.last_turn = "needle"; })};
  ComplexityRouter router(configs, nullptr);
  auto route = router.route({request("auto", "a needle"), "", kNoHeaders});
  EXPECT_EQ(route->reason, "rule:first");
  // Past kRuleInputBytes, a pattern sees the head and the tail only.
  const std::string middle = std::string(20000, 'x') + "needle" + std::string(20000, 'x');
  route = router.route({request("auto", middle), "", kNoHeaders});
  EXPECT_NE(route->reason.substr(0, 5), "rule:");
  route = router.route({request("auto", std::string(40000, 'x') + "needle"), "", kNoHeaders});
  EXPECT_EQ(route->reason, "rule:first");
}

TEST(Router, HeaderNamesAreThoseRulesRead) {
  std::vector<RouterConfig> configs{three_tiers(), three_tiers("b")};
  configs[0].rules = {with(rule("high"), [](auto& r) { r.header = "x-priority"; })};
  configs[1].rules = {with(rule("high"), [](auto& r) { r.header = "x-priority"; }),
                      with(rule("low"), [](auto& r) { r.header = "x-batch"; })};
  ComplexityRouter router(configs, nullptr);
  EXPECT_EQ(router.header_names(), (std::vector<std::string>{"x-priority", "x-batch"}));
}

TEST(Router, ShadowModeDecidesButServesTheStrongestTier) {
  std::vector<RouterConfig> configs{three_tiers()};
  configs[0].shadow = true;
  ComplexityRouter router(configs, nullptr);
  const auto route = router.route({request("auto", kEasy), "", kNoHeaders});
  ASSERT_TRUE(route);
  EXPECT_EQ(route->decided_tier().name, "low");
  EXPECT_EQ(route->tier().name, "high");
}

TEST(Router, StepUpGoesUpPastTheSameGroupAndNeverDown) {
  RouterConfig c = three_tiers();
  c.tiers = {{"low", "fast", 0}, {"medium", "gpt-4o", 0.2}, {"high", "gpt-4o", 0.7}, {"top", "strong", 0.9}};
  Route route;
  route.router = &c;
  route.served = 0;
  ASSERT_TRUE(ComplexityRouter::step_up(route));
  EXPECT_EQ(route.tier().name, "medium");
  ASSERT_TRUE(ComplexityRouter::step_up(route));
  EXPECT_EQ(route.tier().name, "top") << "high is the same group as medium: it has no capacity either";
  EXPECT_FALSE(ComplexityRouter::step_up(route));
  EXPECT_EQ(route.tier().name, "top") << "nothing above: stays, never goes down";
}

// A fake embedder: one dimension per topic word, so neighbours are chosen by
// the words a test writes.
class TopicEmbedder final : public Embedder {
 public:
  std::string_view name() const override { return "topics"; }
  std::size_t dimensions() const override { return 3; }
  std::vector<float> embed(std::string_view text) const override {
    std::vector<float> v{text.find("weather") != text.npos ? 1.0f : 0.0f, text.find("essay") != text.npos ? 1.0f : 0.0f,
                         text.find("theorem") != text.npos ? 1.0f : 0.0f};
    float norm = std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
    if (norm > 0)
      for (float& x : v) x /= norm;
    return v;
  }
};

LabelledPrompt example(std::string text, std::string tier) {
  return {{{"user", std::move(text)}}, std::move(tier), "", 0};
}

TEST(Router, KnnModeVotesWithTheNearestExamples) {
  std::vector<RouterConfig> configs{three_tiers()};
  configs[0].mode = RouterMode::knn;
  configs[0].k = 3;
  configs[0].example_prompts = {example("weather today", "low"),   example("weather tomorrow", "low"),
                                example("weather in Oslo", "low"), example("an essay on rivers", "medium"),
                                example("an essay on trees", "medium"), example("theorem about primes", "high"),
                                example("theorem about graphs", "high"), example("a theorem", "high"),
                                example("unknown tier", "extreme")};
  TopicEmbedder embedder;
  ComplexityRouter router(configs, &embedder);
  auto route = router.route({request("auto", "what's the weather"), "", kNoHeaders});
  ASSERT_TRUE(route);
  EXPECT_EQ(route->tier().name, "low");
  EXPECT_EQ(route->reason, "knn:3/3");
  EXPECT_DOUBLE_EQ(*route->score, 0.0);
  route = router.route({request("auto", "prove this theorem"), "", kNoHeaders});
  EXPECT_EQ(route->tier().name, "high");
  // A tie goes to the stronger tier: two essays and one theorem would be
  // medium, but "essay theorem" is equally near to both kinds.
  configs[0].k = 4;
  ComplexityRouter four(configs, &embedder);
  route = four.route({request("auto", "an essay or a theorem"), "", kNoHeaders});
  EXPECT_EQ(route->tier().name, "high");
  // Rules still come first.
  configs[0].rules = {with(rule("medium"), [](auto& r) { r.last_turn = "weather"; })};
  ComplexityRouter ruled(configs, &embedder);
  EXPECT_EQ(ruled.route({request("auto", "weather"), "", kNoHeaders})->tier().name, "medium");
}

}  // namespace
}  // namespace sluice::router
