// ProviderPool::carry_over: what a configuration reload keeps of the pool's
// state (bucket levels, cooldowns, ejections, reservations in flight), by
// provider name and (provider, upstream model).
#include "sluice/pool/provider_pool.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace sluice::pool {
namespace {

using namespace std::chrono_literals;

const Clock::time_point t0 = Clock::time_point{} + 1h;

ProviderConfig provider(std::string name, int rpm = 0, int tpm = 0) {
  ProviderConfig p;
  p.name = std::move(name);
  p.type = ProviderType::mock;
  p.rpm = rpm;
  p.tpm = tpm;
  p.default_max_tokens = 100;
  return p;
}

DeploymentConfig deployment(std::string provider, std::string model, int rpm = 0, int tpm = 0) {
  DeploymentConfig d{std::move(provider), std::move(model)};
  d.rpm = rpm;
  d.tpm = tpm;
  return d;
}

GatewayConfig config(std::vector<ProviderConfig> providers, std::vector<ModelConfig> models) {
  GatewayConfig c;
  c.providers = std::move(providers);
  c.models = std::move(models);
  return c;
}

const Demand kOne{0, 1, true};  // one token: only the RPM buckets matter

Deployment* find(ProviderPool& pool, std::string_view provider, std::string_view model) {
  for (const auto& d : pool.deployments())
    if (d->provider_name() == provider && d->model == model) return d.get();
  return nullptr;
}

TEST(PoolReload, AnRpmLimitReachedBeforeTheReloadIsStillReachedAfter) {
  const GatewayConfig before = config({provider("a")}, {ModelConfig{"m", {deployment("a", "m", 2)}}});
  ProviderPool old(before, t0, {}, 1);
  Lease first = old.acquire("m", kOne, t0), second = old.acquire("m", kOne, t0);
  ASSERT_TRUE(first && second);
  ASSERT_FALSE(old.acquire("m", kOne, t0));

  const GatewayConfig after = before;  // the same file again
  ProviderPool fresh(after, t0, {}, 1);
  EXPECT_EQ(fresh.carry_over(old, t0), 1u);
  EXPECT_FALSE(fresh.acquire("m", kOne, t0 + 1s)) << "the level carried over; a fresh bucket would be full";
  EXPECT_TRUE(fresh.acquire("m", kOne, t0 + 30s)) << "and refills as before";
}

TEST(PoolReload, ALoweredLimitClampsTheLevelARaisedOneDoesNotRefillIt) {
  const GatewayConfig ten = config({provider("a")}, {ModelConfig{"m", {deployment("a", "m", 10)}}});
  ProviderPool old(ten, t0, {}, 1);
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(old.acquire("m", kOne, t0));  // 8 left

  const GatewayConfig five = config({provider("a")}, {ModelConfig{"m", {deployment("a", "m", 5)}}});
  ProviderPool lowered(five, t0, {}, 1);
  lowered.carry_over(old, t0);
  EXPECT_DOUBLE_EQ(find(lowered, "a", "m")->rpm.available(t0), 5.0);
  EXPECT_DOUBLE_EQ(find(lowered, "a", "m")->rpm.capacity(), 5.0);

  const GatewayConfig twenty = config({provider("a")}, {ModelConfig{"m", {deployment("a", "m", 20)}}});
  ProviderPool raised(twenty, t0, {}, 1);
  raised.carry_over(lowered, t0);
  EXPECT_DOUBLE_EQ(find(raised, "a", "m")->rpm.available(t0), 5.0);
  EXPECT_DOUBLE_EQ(find(raised, "a", "m")->rpm.capacity(), 20.0);
}

TEST(PoolReload, CooldownsAndEjectionsCarryOver) {
  const GatewayConfig cfg = config({provider("a"), provider("b")},
                                   {ModelConfig{"m", {deployment("a", "m"), deployment("b", "m")}}});
  PoolPolicy policy;
  policy.eject_after_failures = 1;
  ProviderPool old(cfg, t0, policy, 1);
  old.acquire("m", kOne, t0, std::vector<Deployment*>{find(old, "b", "m")}).rate_limited(30s, t0);
  old.acquire("m", kOne, t0, std::vector<Deployment*>{find(old, "a", "m")}).failed(t0);
  ASSERT_TRUE(find(old, "a", "m")->cooling(t0));
  ASSERT_TRUE(find(old, "b", "m")->ejected(t0));

  ProviderPool fresh(cfg, t0, policy, 1);
  fresh.carry_over(old, t0);
  EXPECT_TRUE(find(fresh, "a", "m")->cooling(t0 + 1s));
  EXPECT_TRUE(find(fresh, "b", "m")->ejected(t0 + 1s));
  EXPECT_TRUE(fresh.candidates("m", kOne, t0 + 1s).empty()) << "a fresh pool would offer both";
  const auto after_ejection = fresh.candidates("m", kOne, t0 + 6s);  // the first ejection lasts 5 s
  ASSERT_EQ(after_ejection.size(), 1u);
  EXPECT_EQ(after_ejection[0]->provider_name(), "b");
  EXPECT_EQ(fresh.candidates("m", kOne, t0 + 31s).size(), 2u) << "the cooldown ends when it would have";
}

TEST(PoolReload, AReservationInFlightSettlesOnTheBucketsTheNewPoolUses) {
  const GatewayConfig cfg = config({provider("a", 0, 1000)}, {ModelConfig{"m", {deployment("a", "m", 0, 1000)}}});
  ProviderPool old(cfg, t0, {}, 1);
  Lease lease = old.acquire("m", Demand{400, 100, true}, t0);  // 500 reserved
  ASSERT_TRUE(lease);

  ProviderPool fresh(cfg, t0, {}, 1);
  fresh.carry_over(old, t0);
  Deployment* d = find(fresh, "a", "m");
  EXPECT_DOUBLE_EQ(d->tpm.available(t0), 500.0) << "the reservation counts in the new pool";
  Usage usage;
  usage.known = true;
  usage.prompt_tokens = 80;
  usage.completion_tokens = 20;
  lease.succeeded(usage, std::nullopt, std::nullopt, t0);
  EXPECT_DOUBLE_EQ(d->tpm.available(t0), 900.0) << "settled with the real usage on the shared bucket";
  EXPECT_DOUBLE_EQ(d->provider->tpm.available(t0), 900.0) << "the account's bucket too";
}

TEST(PoolReload, ProviderAccountsCarryOverByName) {
  const GatewayConfig before = config({provider("a", 1)}, {ModelConfig{"m", {deployment("a", "m")}}});
  ProviderPool old(before, t0, {}, 1);
  ASSERT_TRUE(old.acquire("m", kOne, t0));
  // The account's model moved: a new deployment, the same account.
  const GatewayConfig after = config({provider("a", 1)}, {ModelConfig{"m", {deployment("a", "m-2")}}});
  ProviderPool fresh(after, t0, {}, 1);
  EXPECT_EQ(fresh.carry_over(old, t0), 0u);
  EXPECT_FALSE(fresh.acquire("m", kOne, t0 + 1s)) << "the account's RPM is spent whichever deployment asks";
  EXPECT_EQ(find(fresh, "a", "m-2")->provider.get(), find(old, "a", "m")->provider.get());
}

TEST(PoolReload, NewDeploymentsStartFreshAndRemovedOnesStayWithTheOldPool) {
  const GatewayConfig before = config({provider("a"), provider("b")},
                                      {ModelConfig{"m", {deployment("a", "m", 1)}}, ModelConfig{"gone", {deployment("b", "g", 1)}}});
  ProviderPool old(before, t0, {}, 1);
  ASSERT_TRUE(old.acquire("m", kOne, t0));
  Lease held = old.acquire("gone", kOne, t0);
  ASSERT_TRUE(held);
  const GatewayConfig after = config({provider("a"), provider("c")},
                                     {ModelConfig{"m", {deployment("a", "m", 1)}}, ModelConfig{"new", {deployment("c", "n", 1)}}});
  ProviderPool fresh(after, t0, {}, 1);
  EXPECT_EQ(fresh.carry_over(old, t0), 1u);
  EXPECT_FALSE(fresh.has_group("gone"));
  EXPECT_EQ(find(fresh, "b", "g"), nullptr);
  EXPECT_TRUE(fresh.acquire("new", kOne, t0)) << "a new deployment starts with a full bucket";
  EXPECT_FALSE(fresh.acquire("m", kOne, t0));
  ASSERT_NE(find(old, "b", "g"), nullptr) << "the old pool keeps what its requests in flight use";
  held.rejected(t0);
}

}  // namespace
}  // namespace sluice::pool
