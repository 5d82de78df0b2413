// The `auth` section (gateway keys, posture) and deployment prices: what
// loads, what is refused with which message, and that no key ever appears
// in a message.
#include <gtest/gtest.h>

#include <string>

#include "config_test_helpers.hpp"
#include "sluice/core/config.hpp"
#include "sluice/core/cost.hpp"

namespace sluice {
namespace {

using namespace config_test;

const std::string kModels =
    "providers:\n"
    "  - { name: mock, type: mock }\n"
    "  - { name: up, type: openai, base_url: \"http://127.0.0.1:9/v1\" }\n"
    "models:\n"
    "  - name: m\n"
    "    deployments: [{ provider: mock, model: m }]\n"
    "  - name: gpt\n"
    "    deployments: [{ provider: up, model: gpt-4o-2024-08-06 }]\n"
    "  - name: house\n"
    "    deployments: [{ provider: up, model: house-model }]\n";  // 10 lines

std::string with_auth(const std::string& auth) { return kModels + "auth:\n" + auth; }  // auth: on line 11

constexpr const char* kKey = "sk-gw-0123456789abcdef";

TEST(ConfigAuth, KeysLoadWithEveryField) {
  const auto r = load(with_auth("  keys:\n"
                                "    - key: ${TEAM_A_KEY}\n"
                                "      tenant: team-a\n"
                                "      id: team-a-ci\n"
                                "      rpm: 60\n"
                                "      tpm: 10000\n"
                                "      models: [m, gpt]\n"
                                "      monthly_budget_usd: 12.5\n"
                                "      expires: 2027-01-31\n"
                                "    - sha256: C871F067542D565C57EBB8B54F99AFE326644DCEEB5C05FC2209A8161A52875E\n"
                                "      tenant: team-b\n"
                                "      expires: 2027-01-31T18:30:00Z\n"),
                      {{"TEAM_A_KEY", kKey}});
  ASSERT_TRUE(r.config) << listing(r);
  const auto& keys = r.config->auth.keys;
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0].key, kKey);
  EXPECT_EQ(keys[0].tenant, "team-a");
  EXPECT_EQ(keys[0].id, "team-a-ci");
  EXPECT_EQ(keys[0].rpm, 60);
  EXPECT_EQ(keys[0].tpm, 10000);
  EXPECT_EQ(keys[0].models, (std::vector<std::string>{"m", "gpt"}));
  EXPECT_EQ(keys[0].monthly_budget_usd, 12.5);
  EXPECT_EQ(keys[0].expires, std::chrono::sys_days{std::chrono::year{2027} / 1 / 31});
  EXPECT_EQ(keys[1].sha256, "c871f067542d565c57ebb8b54f99afe326644dceeb5c05fc2209a8161a52875e");
  EXPECT_EQ(keys[1].expires, std::chrono::sys_days{std::chrono::year{2027} / 1 / 31} + std::chrono::hours(18) +
                                 std::chrono::minutes(30));
  EXPECT_FALSE(r.config->auth.allow_unauthenticated);
}

// The clock holds 1677 to 2262: "9999-12-31" (never, as people write it)
// is its last instant and "0001-01-01" its first; converting them as they
// were overflowed (UBSan; found by fuzz_config_yaml).
TEST(ConfigAuth, AnExpiryPastWhatTheClockHoldsIsItsLastInstant) {
  const auto r = load(with_auth("  keys:\n"
                                "    - key: ${A}\n      tenant: a\n      expires: 9999-12-31T23:59:59Z\n"
                                "    - key: ${B}\n      tenant: b\n      expires: 0001-01-01\n"
                                "    - key: ${C}\n      tenant: c\n      expires: 2262-01-01\n"),
                      {{"A", kKey}, {"B", "sk-gw-fedcba9876543210"}, {"C", "sk-gw-00112233445566778899"}});
  ASSERT_TRUE(r.config) << listing(r);
  const auto& keys = r.config->auth.keys;
  ASSERT_EQ(keys.size(), 3u);
  EXPECT_EQ(keys[0].expires, std::chrono::system_clock::time_point::max());
  EXPECT_EQ(keys[1].expires, std::chrono::system_clock::time_point::min());
  EXPECT_EQ(keys[2].expires, std::chrono::sys_days{std::chrono::year{2262} / 1 / 1});
}

TEST(ConfigAuth, NoAuthSectionMeansLoopbackOnly) {
  const auto r = load(kModels);
  ASSERT_TRUE(r.config) << listing(r);
  EXPECT_TRUE(r.config->auth.keys.empty());
  EXPECT_FALSE(r.config->auth.allow_unauthenticated);
}

class ConfigAuthRefuses : public ::testing::TestWithParam<Refused> {};

TEST_P(ConfigAuthRefuses, WithAClearMessage) {
  const Refused& c = GetParam();
  const auto r = load(with_auth(c.section), {{"SHORT", "sk-short"}, {"KEY", kKey}, {"EMPTY", ""}});
  expect_refused(r, c);
  EXPECT_EQ(listing(r).find("sk-"), std::string::npos) << "no key in any message:\n" << listing(r);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ConfigAuthRefuses,
    ::testing::Values(
        Refused{"NoTenant", "  keys:\n    - key: \"${KEY}\"\n", 13, "auth.keys[0]", "missing required key 'tenant'"},
        Refused{"NoKey", "  keys:\n    - tenant: a\n", 13, "auth.keys[0]",
                "missing key: give the key (key: ${VAR}) or its SHA-256 (sha256: ...)"},
        Refused{"Both", "  keys:\n    - { key: \"${KEY}\", sha256: " + std::string(64, 'a') + ", tenant: a }\n", 13,
                "auth.keys[0].sha256", "give either key or sha256, not both"},
        Refused{"ShortKey", "  keys:\n    - { key: \"${SHORT}\", tenant: a }\n", 13, "auth.keys[0].key",
                "a gateway key must be at least 16 characters; use a long random string (openssl rand -hex 32)"},
        Refused{"EmptyKey", "  keys:\n    - { key: \"${EMPTY}\", tenant: a }\n", 13, "auth.keys[0].key",
                "must not be empty (is its environment variable set to \"\"?)"},
        Refused{"BadDigest", "  keys:\n    - { sha256: abc, tenant: a }\n", 13, "auth.keys[0].sha256",
                "expected the key's SHA-256 as 64 hex digits (sha256sum of the key, without a newline)"},
        Refused{"SameKeyTwice", "  keys:\n    - { key: \"${KEY}\", tenant: a }\n    - { key: \"${KEY}\", tenant: b }\n", 14,
                "auth.keys[1].key", "the same key as auth.keys[0]"},
        Refused{"SameIdTwice",
                "  keys:\n    - { key: \"${KEY}\", tenant: a, id: x }\n    - { sha256: " + std::string(64, 'b') +
                    ", tenant: b, id: x }\n",
                14, "auth.keys[1].id", "duplicate key id 'x' (also auth.keys[0])"},
        Refused{"BadTenant", "  keys:\n    - { key: \"${KEY}\", tenant: \"team a\" }\n", 13, "auth.keys[0].tenant",
                "invalid name 'team a': use up to 64 letters, digits, '.', '_' or '-'"},
        Refused{"UnknownModel", "  keys:\n    - { key: \"${KEY}\", tenant: a, models: [m, gpt-9] }\n", 13,
                "auth.keys[0].models[1]", "unknown model 'gpt-9'; configured models: m, gpt, house"},
        Refused{"BadExpiry", "  keys:\n    - { key: \"${KEY}\", tenant: a, expires: 2027-02-30 }\n", 13,
                "auth.keys[0].expires", "expected a UTC date like 2027-01-31 or 2027-01-31T18:00:00Z"},
        Refused{"NegativeBudget", "  keys:\n    - { key: \"${KEY}\", tenant: a, monthly_budget_usd: -1 }\n", 13,
                "auth.keys[0].monthly_budget_usd", "must be between 1e-06 and 1e+12"},
        Refused{"BudgetWithoutPrice", "  keys:\n    - { key: \"${KEY}\", tenant: a, monthly_budget_usd: 5 }\n", 13,
                "auth.keys[0].monthly_budget_usd",
                "the key has a budget, but models[2].deployments[0] has no known price; set "
                "models[2].deployments[0].price or limit the key's models"},
        Refused{"OpenWithKeys", "  allow_unauthenticated: true\n  keys:\n    - { key: \"${KEY}\", tenant: a }\n", 12,
                "auth.allow_unauthenticated",
                "allow_unauthenticated applies only when no keys are configured: with keys, every request must "
                "present one"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(ConfigAuth, ABudgetNeedsPricesOnlyForTheModelsTheKeyMayUse) {
  const auto r = load(with_auth("  keys:\n    - { key: \"${KEY}\", tenant: a, monthly_budget_usd: 5, models: [m, gpt] }\n"),
                      {{"KEY", kKey}});
  EXPECT_TRUE(r.config) << listing(r);
}

TEST(ConfigPrice, ADeploymentsPriceIsReadPerMillionTokens) {
  const auto r = load(
      "providers: [{ name: up, type: openai, base_url: \"http://127.0.0.1:9/v1\" }]\n"
      "models:\n"
      "  - name: house\n"
      "    deployments:\n"
      "      - { provider: up, model: house-model, price: { input: 0.5, output: 1.5 } }\n"
      "      - { provider: up, model: other, price: { input: 3, output: 15, cached_input: 0.3 } }\n");
  ASSERT_TRUE(r.config) << listing(r);
  const auto& d = r.config->models[0].deployments;
  ASSERT_TRUE(d[0].price);
  EXPECT_EQ(d[0].price->input, 0.5);
  EXPECT_EQ(d[0].price->output, 1.5);
  EXPECT_EQ(d[0].price->cached_input, 0.5) << "cached input costs what input costs unless told";
  EXPECT_EQ(d[1].price->cached_input, 0.3);
}

TEST(ConfigPrice, APriceNeedsInputAndOutputAndPlainNumbers) {
  const std::string head =
      "providers: [{ name: up, type: openai, base_url: \"http://127.0.0.1:9/v1\" }]\n"
      "models: [{ name: m, deployments: [{ provider: up, model: x, price: ";
  EXPECT_EQ(only_problem(load(head + "{ input: 1 } }] }]\n")).message, "missing required key 'output'");
  EXPECT_EQ(only_problem(load(head + "{ input: 1e3, output: 1 } }] }]\n")).message, "expected a number");
  EXPECT_EQ(only_problem(load(head + "{ input: .nan, output: 1 } }] }]\n")).message, "expected a number");
  EXPECT_EQ(only_problem(load(head + "{ input: -2, output: 1 } }] }]\n")).message, "must be between 0 and 1e+06");
}

TEST(BuiltinPrice, KnownModelsAndTheirSnapshots) {
  const auto gpt4o = builtin_price(ProviderType::openai, "gpt-4o");
  ASSERT_TRUE(gpt4o);
  EXPECT_EQ(gpt4o->input, 2.5);
  EXPECT_EQ(builtin_price(ProviderType::azure, "gpt-4o-2024-08-06")->output, 10);
  EXPECT_EQ(builtin_price(ProviderType::openai, "gpt-4o-mini")->input, 0.15) << "not gpt-4o's price";
  EXPECT_EQ(builtin_price(ProviderType::anthropic, "claude-sonnet-4-20250514")->input, 3);
  EXPECT_EQ(builtin_price(ProviderType::anthropic, "claude-3-5-haiku-latest")->output, 4);
  EXPECT_FALSE(builtin_price(ProviderType::openai, "o3-pro")) << "another model, not o3";
  EXPECT_FALSE(builtin_price(ProviderType::azure, "my-deployment"));
  EXPECT_EQ(builtin_price(ProviderType::ollama, "llama3.1:8b")->input, 0) << "self-hosted: no per-token price";
}

TEST(Cost, CachedPromptTokensAtTheCachedPrice) {
  const Price price{2, 10, 0.5};
  EXPECT_DOUBLE_EQ(cost_usd(price, {1'000'000, 0, true}), 2.0);
  EXPECT_DOUBLE_EQ(cost_usd(price, {1'000'000, 100'000, true, 400'000}), 0.6 * 2 + 0.4 * 0.5 + 0.1 * 10);
  EXPECT_EQ(format_usd(0.000125), "0.000125");
  EXPECT_EQ(format_usd(2.0), "2");
  EXPECT_EQ(format_usd(0), "0");
}

}  // namespace
}  // namespace sluice
