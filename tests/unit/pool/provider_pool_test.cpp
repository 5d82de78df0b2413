#include "sluice/pool/provider_pool.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

namespace sluice::pool {
namespace {

using namespace std::chrono_literals;

const Clock::time_point t0 = Clock::time_point{} + 1h;  // after kNoTimePassed

ProviderConfig provider(std::string name, int rpm = 0, int tpm = 0, int weight = 1) {
  ProviderConfig p;
  p.name = std::move(name);
  p.type = ProviderType::mock;
  p.rpm = rpm;
  p.tpm = tpm;
  p.weight = weight;
  p.default_max_tokens = 100;
  return p;
}

DeploymentConfig deployment(std::string provider, std::string model, int weight = 0, int rpm = 0, int tpm = 0) {
  DeploymentConfig d{std::move(provider), std::move(model)};
  d.weight = weight;
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

Demand demand(double prompt, std::optional<std::int64_t> max_tokens = std::nullopt) {
  return Demand{prompt, max_tokens, true};
}

std::vector<std::string> names(const std::vector<Deployment*>& ds) {
  std::vector<std::string> out;
  for (const Deployment* d : ds) out.push_back(d->provider_name() + "/" + d->model);
  return out;
}

// A two-provider group "m" over deployments a/m and b/m.
struct Pair {
  explicit Pair(int weight_a = 1, int weight_b = 1, PoolPolicy policy = {})
      : cfg(config({provider("a", 0, 0, weight_a), provider("b", 0, 0, weight_b)},
                   {ModelConfig{"m", {deployment("a", "m"), deployment("b", "m")}}})),
        pool(cfg, t0, policy, 42) {}
  GatewayConfig cfg;
  ProviderPool pool;
};

// --- Demand -------------------------------------------------------------------

TEST(Demand, PromptPlusMaxTokensOrTheProvidersDefault) {
  LlmRequest req;
  req.messages.push_back({"user", std::string(400, 'x')});
  const ProviderConfig p = provider("p");
  EXPECT_DOUBLE_EQ(Demand::of(req).tokens_on(p), 100 + 100);
  req.max_tokens = 7;
  EXPECT_DOUBLE_EQ(Demand::of(req).tokens_on(p), 100 + 7);
  req.endpoint = Endpoint::embeddings;
  req.messages.clear();
  req.inputs = {std::string(40, 'y')};
  EXPECT_DOUBLE_EQ(Demand::of(req).tokens_on(p), 10);
}

// --- Weighted choice ----------------------------------------------------------

// Pearson's chi-square of observed counts against expected proportions.
double chi_square(const std::vector<int>& observed, const std::vector<double>& weights) {
  double total_weight = 0;
  int total = 0;
  for (double w : weights) total_weight += w;
  for (int o : observed) total += o;
  double chi = 0;
  for (std::size_t i = 0; i < observed.size(); ++i) {
    const double expected = total * weights[i] / total_weight;
    chi += (observed[i] - expected) * (observed[i] - expected) / expected;
  }
  return chi;
}

TEST(WeightedChoice, FirstCandidateFollowsTheWeights) {
  const GatewayConfig cfg = config({provider("a", 0, 0, 5), provider("b", 0, 0, 3), provider("c", 0, 0, 2)},
                                   {ModelConfig{"m", {deployment("a", "x"), deployment("b", "y"), deployment("c", "z")}}});
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    ProviderPool pool(cfg, t0, {}, seed);
    std::vector<int> counts(3);
    for (int i = 0; i < 10'000; ++i) {
      const auto order = pool.candidates("m", demand(10), t0);
      ASSERT_EQ(order.size(), 3u);
      ++counts[order[0]->model[0] - 'x'];
    }
    // Critical value of chi-square with 2 degrees of freedom at p = 0.001.
    EXPECT_LT(chi_square(counts, {5, 3, 2}), 13.82) << counts[0] << " " << counts[1] << " " << counts[2];
    // And a plainly wrong expectation is rejected, so the test can fail.
    EXPECT_GT(chi_square(counts, {1, 1, 1}), 13.82);
  }
}

TEST(WeightedChoice, AcquireTakesTheHeadOfTheCandidateOrder) {
  const GatewayConfig cfg = config({provider("a", 0, 0, 5), provider("b", 0, 0, 3), provider("c", 0, 0, 2)},
                                   {ModelConfig{"m", {deployment("a", "x"), deployment("b", "y"), deployment("c", "z")}}});
  ProviderPool pool(cfg, t0, {}, 11);
  std::vector<int> counts(3), without_x(3);
  Deployment* x = nullptr;
  for (int i = 0; i < 10'000; ++i) {
    Lease lease = pool.acquire("m", demand(1), t0);
    ASSERT_TRUE(lease);
    ++counts[lease.deployment().model[0] - 'x'];
    if (lease.deployment().model == "x") x = &lease.deployment();
    lease.succeeded({}, {}, {}, t0);
  }
  EXPECT_LT(chi_square(counts, {5, 3, 2}), 13.82) << counts[0] << " " << counts[1] << " " << counts[2];
  ASSERT_NE(x, nullptr);
  const std::vector<Deployment*> avoid{x};
  for (int i = 0; i < 10'000; ++i) {
    Lease lease = pool.acquire("m", demand(1), t0, avoid);
    ++without_x[lease.deployment().model[0] - 'x'];
    lease.succeeded({}, {}, {}, t0);
  }
  EXPECT_EQ(without_x[0], 0);
  EXPECT_LT(chi_square({without_x[1], without_x[2]}, {3, 2}), 10.83) << without_x[1] << " " << without_x[2];
}

TEST(WeightedChoice, DeploymentWeightOverridesTheProviders) {
  const GatewayConfig cfg = config({provider("a", 0, 0, 1), provider("b", 0, 0, 1)},
                                   {ModelConfig{"m", {deployment("a", "x", 3), deployment("b", "y")}}});
  ProviderPool pool(cfg, t0, {}, 7);
  int first_a = 0;
  for (int i = 0; i < 10'000; ++i) first_a += pool.candidates("m", demand(1), t0)[0]->model == "x";
  EXPECT_LT(chi_square({first_a, 10'000 - first_a}, {3, 1}), 10.83);  // 1 degree of freedom, p = 0.001
}

TEST(WeightedChoice, CandidateListHoldsEveryEligibleDeploymentOnceInWeightedOrder) {
  Pair p(3, 1);
  std::map<std::vector<std::string>, int> orders;
  for (int i = 0; i < 4'000; ++i) ++orders[names(p.pool.candidates("m", demand(1), t0))];
  ASSERT_EQ(orders.size(), 2u);  // a,b or b,a: each deployment exactly once
  const int a_first = orders[{"a/m", "b/m"}];
  EXPECT_LT(chi_square({a_first, 4'000 - a_first}, {3, 1}), 10.83);
}

TEST(WeightedChoice, LowerPriorityGoesFirstAndWeightsChooseWithinAPriority) {
  std::vector<DeploymentConfig> deployments = {deployment("a", "fallback"), deployment("b", "x", 1),
                                               deployment("c", "y", 1), deployment("a", "last")};
  deployments[0].priority = 1;
  deployments[3].priority = 2;
  const GatewayConfig cfg = config({provider("a"), provider("b"), provider("c")}, {ModelConfig{"m", deployments}});
  ProviderPool pool(cfg, t0, {}, 3);
  int b_first = 0;
  for (int i = 0; i < 2'000; ++i) {
    const auto order = names(pool.candidates("m", demand(1), t0));
    ASSERT_EQ(order.size(), 4u);
    EXPECT_EQ(order[2], "a/fallback");
    EXPECT_EQ(order[3], "a/last");
    b_first += order[0] == "b/x";
  }
  EXPECT_LT(chi_square({b_first, 2'000 - b_first}, {1, 1}), 10.83);
}

TEST(WeightedChoice, UnknownGroupHasNoCandidates) {
  Pair p;
  EXPECT_TRUE(p.pool.candidates("nope", demand(1), t0).empty());
  EXPECT_FALSE(p.pool.acquire("nope", demand(1), t0));
  EXPECT_FALSE(p.pool.has_group("nope"));
  EXPECT_TRUE(p.pool.has_group("m"));
}

// --- Buckets: reserve and settle ------------------------------------------------

TEST(Reservation, RpmLimitAdmitsExactlyItsBurstThenRefills) {
  const GatewayConfig cfg = config({provider("a", 60)}, {ModelConfig{"m", {deployment("a", "m")}}});
  ProviderPool pool(cfg, t0, {}, 1);
  for (int i = 0; i < 60; ++i) {
    Lease lease = pool.acquire("m", demand(1), t0);
    ASSERT_TRUE(lease) << i;
    lease.succeeded({1, 1, true}, {}, {}, t0);
  }
  EXPECT_FALSE(pool.acquire("m", demand(1), t0));
  EXPECT_EQ(pool.wait_hint("m", demand(1), t0), 1s);
  EXPECT_FALSE(pool.acquire("m", demand(1), t0 + 999ms));
  EXPECT_TRUE(pool.acquire("m", demand(1), t0 + 1s));
}

TEST(Reservation, TokensAreReservedBeforeAndSettledAfter) {
  const GatewayConfig cfg = config({provider("a", 0, 1000)}, {ModelConfig{"m", {deployment("a", "m")}}});
  ProviderPool pool(cfg, t0, {}, 1);
  Lease first = pool.acquire("m", demand(300, 100), t0);   // 400 reserved
  Lease second = pool.acquire("m", demand(300, 100), t0);  // 800
  ASSERT_TRUE(first);
  ASSERT_TRUE(second);
  // Concurrent requests cannot overshoot: the third does not fit while the
  // first two are in flight, whatever they will really use.
  EXPECT_FALSE(pool.acquire("m", demand(300, 100), t0));
  EXPECT_EQ(pool.limits("m", t0).remaining_tokens, 200);
  first.succeeded({250, 50, true}, {}, {}, t0);  // used 300 of 400: 100 back
  EXPECT_EQ(pool.limits("m", t0).remaining_tokens, 300);
  second.succeeded({300, 400, true}, {}, {}, t0);  // used 700 of 400: 300 more
  EXPECT_EQ(pool.limits("m", t0).remaining_tokens, 0);
  EXPECT_FALSE(pool.acquire("m", demand(1, 1), t0));
  // Unknown usage keeps the estimate charged.
  Lease third = pool.acquire("m", demand(300, 100), t0 + 60s);
  ASSERT_TRUE(third);
  third.succeeded({}, {}, {}, t0 + 60s);
  EXPECT_EQ(pool.limits("m", t0 + 60s).remaining_tokens, 600);
}

TEST(Reservation, FailuresAndRateLimitsGiveTheTokensBack) {
  const GatewayConfig cfg = config({provider("a", 10, 1000)}, {ModelConfig{"m", {deployment("a", "m")}}});
  ProviderPool pool(cfg, t0, {}, 1);
  pool.acquire("m", demand(300, 100), t0).failed(t0);
  pool.acquire("m", demand(300, 100), t0).rejected(t0);
  EXPECT_EQ(pool.limits("m", t0).remaining_tokens, 1000);
  EXPECT_EQ(pool.limits("m", t0).remaining_requests, 8);  // the requests were made
}

TEST(Reservation, AnUnsentRequestGivesTheRequestAndTheTokensBack) {
  // Both the deployment's and the provider's account buckets, through a move.
  const GatewayConfig cfg = config({provider("a", 10, 1000)}, {ModelConfig{"m", {deployment("a", "m", 0, 5, 800)}}});
  ProviderPool pool(cfg, t0, {}, 1);
  Lease lease = pool.acquire("m", demand(300, 100), t0);
  ASSERT_TRUE(lease);
  EXPECT_EQ(pool.limits("m", t0).remaining_requests, 4);
  Lease moved = std::move(lease);
  moved.unsent(t0);
  EXPECT_FALSE(moved);
  EXPECT_EQ(pool.limits("m", t0).remaining_requests, 5);
  EXPECT_EQ(pool.limits("m", t0).remaining_tokens, 800);
  const GatewayConfig plain = config({provider("a", 10, 1000)}, {ModelConfig{"m", {deployment("a", "m")}}});
  ProviderPool account_only(plain, t0, {}, 1);
  account_only.acquire("m", demand(300, 100), t0).unsent(t0);
  EXPECT_EQ(account_only.limits("m", t0).remaining_requests, 10);
  EXPECT_EQ(account_only.limits("m", t0).remaining_tokens, 1000);
}

TEST(Reservation, ADroppedLeaseKeepsItsEstimate) {
  const GatewayConfig cfg = config({provider("a", 0, 1000)}, {ModelConfig{"m", {deployment("a", "m")}}});
  ProviderPool pool(cfg, t0, {}, 1);
  { Lease lease = pool.acquire("m", demand(300, 100), t0); }
  EXPECT_EQ(pool.limits("m", t0).remaining_tokens, 600);
  Lease moved_from = pool.acquire("m", demand(300, 100), t0);
  Lease moved = std::move(moved_from);
  EXPECT_FALSE(moved_from);  // NOLINT(bugprone-use-after-move): the point of the test
  moved.succeeded({50, 50, true}, {}, {}, t0);
  EXPECT_EQ(pool.limits("m", t0).remaining_tokens, 500);
}

TEST(Reservation, ARequestLargerThanTheBucketWaitsForAFullBucketThenGoesIntoDebt) {
  const GatewayConfig cfg = config({provider("a", 0, 1000)}, {ModelConfig{"m", {deployment("a", "m")}}});
  ProviderPool pool(cfg, t0, {}, 1);
  Lease big = pool.acquire("m", demand(1500, 500), t0);
  ASSERT_TRUE(big) << "a request above the limit must not be refused forever";
  EXPECT_EQ(pool.limits("m", t0).remaining_tokens, 0);
  big.succeeded({1500, 500, true}, {}, {}, t0);
  EXPECT_EQ(pool.wait_hint("m", demand(1, 1), t0), 60s + 120ms);  // 1000 of debt, then 2 tokens
}

TEST(Reservation, ProviderLimitIsSharedByItsDeployments) {
  const GatewayConfig cfg = config({provider("a", 3)},
                                   {ModelConfig{"m", {deployment("a", "x")}}, ModelConfig{"n", {deployment("a", "y")}}});
  ProviderPool pool(cfg, t0, {}, 1);
  EXPECT_TRUE(pool.acquire("m", demand(1), t0));
  EXPECT_TRUE(pool.acquire("n", demand(1), t0));
  EXPECT_TRUE(pool.acquire("m", demand(1), t0));
  EXPECT_FALSE(pool.acquire("n", demand(1), t0));
  EXPECT_FALSE(pool.acquire("m", demand(1), t0));
}

TEST(Reservation, ADeploymentListedInTwoGroupsIsOneDeploymentWithTheTightestLimits) {
  const GatewayConfig cfg = config({provider("a")}, {ModelConfig{"m", {deployment("a", "x", 0, 5)}},
                                                     ModelConfig{"n", {deployment("a", "x", 0, 2)}}});
  ProviderPool pool(cfg, t0, {}, 1);
  EXPECT_TRUE(pool.acquire("m", demand(1), t0));
  EXPECT_TRUE(pool.acquire("n", demand(1), t0));
  EXPECT_FALSE(pool.acquire("m", demand(1), t0));
  EXPECT_EQ(pool.candidates("m", demand(1), t0 + 30s).at(0), pool.candidates("n", demand(1), t0 + 30s).at(0));
}

TEST(Reservation, FullDeploymentsAreSkippedForOthers) {
  const GatewayConfig cfg = config({provider("a"), provider("b")},
                                   {ModelConfig{"m", {deployment("a", "m", 1000, 1), deployment("b", "m", 1)}}});
  ProviderPool pool(cfg, t0, {}, 1);
  EXPECT_EQ(pool.acquire("m", demand(1), t0).deployment().provider_name(), "a");  // weight 1000:1
  for (int i = 0; i < 20; ++i) EXPECT_EQ(pool.acquire("m", demand(1), t0).deployment().provider_name(), "b");
}

TEST(Reservation, ProviderHeadersLowerTheBucketsButNeverRaiseThem) {
  const GatewayConfig cfg = config({provider("a", 100, 10'000)}, {ModelConfig{"m", {deployment("a", "m")}}});
  ProviderPool pool(cfg, t0, {}, 1);
  pool.acquire("m", demand(50, 50), t0).succeeded({50, 50, true}, 10.0, 500.0, t0);
  EXPECT_EQ(pool.limits("m", t0).remaining_requests, 10);
  EXPECT_EQ(pool.limits("m", t0).remaining_tokens, 500);
  pool.acquire("m", demand(50, 50), t0).succeeded({50, 50, true}, 99.0, 9'999.0, t0);
  EXPECT_EQ(pool.limits("m", t0).remaining_requests, 9);
  EXPECT_EQ(pool.limits("m", t0).remaining_tokens, 400);
}

TEST(Reservation, DeploymentLimitsAreRecalibratedBeforeTheProviders) {
  const GatewayConfig cfg = config({provider("a", 100)}, {ModelConfig{"m", {deployment("a", "m", 0, 50)}}});
  ProviderPool pool(cfg, t0, {}, 1);
  pool.acquire("m", demand(1), t0).succeeded({}, 5.0, {}, t0);
  EXPECT_EQ(pool.limits("m", t0).remaining_requests, 5);
  EXPECT_EQ(pool.limits("m", t0).limit_requests, 50);
}

// --- Cooldown and ejection ------------------------------------------------------

TEST(Cooldown, RateLimitedDeploymentSitsOutItsRetryAfter) {
  Pair p;
  Lease lease = p.pool.acquire("m", demand(1), t0);
  const std::string limited = lease.deployment().provider_name();
  lease.rate_limited(2s, t0);
  for (Clock::duration at : {Clock::duration(0ms), Clock::duration(1s), Clock::duration(1999ms)}) {
    const auto order = names(p.pool.candidates("m", demand(1), t0 + at));
    ASSERT_EQ(order.size(), 1u);
    EXPECT_NE(order[0], limited + "/m");
  }
  EXPECT_EQ(p.pool.candidates("m", demand(1), t0 + 2s).size(), 2u);
}

TEST(Cooldown, WithoutRetryAfterTheProvidersCooldownApplies) {
  GatewayConfig cfg = config({provider("a")}, {ModelConfig{"m", {deployment("a", "m")}}});
  cfg.providers[0].cooldown = Millis{3'000};
  ProviderPool pool(cfg, t0, {}, 1);
  pool.acquire("m", demand(1), t0).rate_limited(Clock::duration(-1), t0);
  EXPECT_FALSE(pool.acquire("m", demand(1), t0 + 2999ms));
  EXPECT_EQ(pool.wait_hint("m", demand(1), t0 + 1s), 2s);
  EXPECT_TRUE(pool.acquire("m", demand(1), t0 + 3s));
}

TEST(Cooldown, AHugeRetryAfterIsCapped) {
  PoolPolicy policy;
  policy.max_cooldown = 30s;
  const GatewayConfig cfg = config({provider("a")}, {ModelConfig{"m", {deployment("a", "m")}}});
  ProviderPool pool(cfg, t0, policy, 1);
  pool.acquire("m", demand(1), t0).rate_limited(24h, t0);
  EXPECT_FALSE(pool.acquire("m", demand(1), t0 + 29s));
  EXPECT_TRUE(pool.acquire("m", demand(1), t0 + 30s));
}

TEST(Ejection, ConsecutiveFailuresEjectForAGrowingTime) {
  const GatewayConfig cfg = config({provider("a"), provider("b")},
                                   {ModelConfig{"m", {deployment("a", "m"), deployment("b", "m")}}});
  ProviderPool pool(cfg, t0, {}, 1);  // eject after 3, first for 5 s
  Deployment* a = nullptr;
  for (Deployment* d : pool.candidates("m", demand(1), t0))
    if (d->provider_name() == "a") a = d;
  ASSERT_NE(a, nullptr);
  std::vector<Deployment*> only_b;
  auto fail_a = [&](Clock::time_point at) {
    for (;;) {  // acquire until "a" is chosen
      Lease lease = pool.acquire("m", demand(1), at);
      ASSERT_TRUE(lease);
      if (&lease.deployment() == a) return lease.failed(at);
      lease.succeeded({}, {}, {}, at);
    }
  };
  fail_a(t0);
  fail_a(t0);
  EXPECT_FALSE(a->ejected(t0)) << "two failures are not enough";
  fail_a(t0);
  EXPECT_TRUE(a->ejected(t0));
  EXPECT_EQ(names(pool.candidates("m", demand(1), t0 + 4999ms)), std::vector<std::string>{"b/m"});
  EXPECT_EQ(pool.candidates("m", demand(1), t0 + 5s).size(), 2u);
  // Back on probation: one more failure ejects it again, for twice as long.
  fail_a(t0 + 5s);
  EXPECT_TRUE(a->ejected(t0 + 5s + 9999ms));
  EXPECT_FALSE(a->ejected(t0 + 15s));
  fail_a(t0 + 15s);
  EXPECT_TRUE(a->ejected(t0 + 15s + 19999ms));
  EXPECT_FALSE(a->ejected(t0 + 35s));
  // A success forgives everything: three failures are needed again.
  for (;;) {
    Lease lease = pool.acquire("m", demand(1), t0 + 35s);
    if (&lease.deployment() == a) {
      lease.succeeded({}, {}, {}, t0 + 35s);
      break;
    }
    lease.succeeded({}, {}, {}, t0 + 35s);
  }
  fail_a(t0 + 35s);
  fail_a(t0 + 35s);
  EXPECT_FALSE(a->ejected(t0 + 35s));
  fail_a(t0 + 35s);
  EXPECT_TRUE(a->ejected(t0 + 35s + 4999ms));
  EXPECT_FALSE(a->ejected(t0 + 40s));
}

TEST(Ejection, EjectionTimeIsCapped) {
  PoolPolicy policy;
  policy.eject_after_failures = 1;
  policy.first_ejection = 1s;
  policy.max_ejection = 4s;
  const GatewayConfig cfg = config({provider("a")}, {ModelConfig{"m", {deployment("a", "m")}}});
  ProviderPool pool(cfg, t0, policy, 1);
  Clock::time_point at = t0;
  Clock::duration last{};
  for (int i = 0; i < 6; ++i) {
    Lease lease = pool.acquire("m", demand(1), at);
    Deployment& d = lease.deployment();
    lease.failed(at);
    last = d.ejected_until - at;
    at = d.ejected_until;
  }
  EXPECT_EQ(last, 4s);
}

TEST(Ejection, AGroupIsNeverEjectedWhole) {
  PoolPolicy policy;
  policy.eject_after_failures = 1;
  Pair p(1, 1, policy);
  p.pool.acquire("m", demand(1), t0).failed(t0);
  EXPECT_EQ(p.pool.candidates("m", demand(1), t0).size(), 1u);
  p.pool.acquire("m", demand(1), t0).failed(t0);
  // Both ejected: ejection is ignored rather than refusing every request.
  EXPECT_EQ(p.pool.candidates("m", demand(1), t0).size(), 2u);
  EXPECT_EQ(p.pool.wait_hint("m", demand(1), t0), Clock::duration::zero());
}

TEST(Ejection, RefusedCredentialsEjectAtOnceForTheirOwnPeriod) {
  PoolPolicy policy;
  policy.credentials_ejection = 10min;
  const GatewayConfig cfg = config({provider("a", 0, 1000), provider("b")},
                                   {ModelConfig{"m", {deployment("a", "m"), deployment("b", "m")}}});
  ProviderPool pool(cfg, t0, policy, 1);
  Deployment* a = nullptr;
  for (;;) {  // acquire until "a" is chosen
    Lease lease = pool.acquire("m", demand(300, 100), t0);
    ASSERT_TRUE(lease);
    if (lease.deployment().provider_name() != "a") {
      lease.succeeded({}, {}, {}, t0);
      continue;
    }
    a = &lease.deployment();
    lease.credentials_refused(t0);
    break;
  }
  EXPECT_TRUE(a->ejected(t0)) << "one refusal is enough: every request would meet it";
  EXPECT_EQ(a->provider->tpm.available(t0), 1000) << "the refused request used no tokens";
  EXPECT_EQ(names(pool.candidates("m", demand(1), t0 + 10min - 1ms)), std::vector<std::string>{"b/m"});
  EXPECT_EQ(pool.candidates("m", demand(1), t0 + 10min).size(), 2u);
}

TEST(Ejection, RefusedCredentialsDoNotTakeAWholeGroupOut) {
  // A group with no other deployment still reaches its upstream, once per
  // request: refusing without asking would hide a key that was fixed meanwhile.
  const GatewayConfig cfg = config({provider("a")}, {ModelConfig{"m", {deployment("a", "m")}}});
  ProviderPool pool(cfg, t0, {}, 1);
  Lease lease = pool.acquire("m", demand(1), t0);
  Deployment& a = lease.deployment();
  lease.credentials_refused(t0);
  EXPECT_TRUE(a.ejected(t0 + 5min - 1ms));
  EXPECT_FALSE(a.ejected(t0 + 5min)) << "the default period";
  EXPECT_TRUE(pool.acquire("m", demand(1), t0 + 1s));
}

// --- acquire(): failover order ------------------------------------------------------

TEST(Acquire, AvoidsDeploymentsTriedInThisRequestUnlessTheyMayBeRetried) {
  Pair p;
  Lease first = p.pool.acquire("m", demand(1), t0);
  Deployment* tried = &first.deployment();
  first.failed(t0);
  const std::vector<Deployment*> avoid{tried};
  Lease second = p.pool.acquire("m", demand(1), t0, avoid);
  ASSERT_TRUE(second);
  EXPECT_NE(&second.deployment(), tried);
  const std::vector<Deployment*> both{tried, &second.deployment()};
  second.failed(t0);
  EXPECT_FALSE(p.pool.acquire("m", demand(1), t0, both)) << "nothing untried is left";
  Lease again = p.pool.acquire("m", demand(1), t0, both, avoid);
  ASSERT_TRUE(again);
  EXPECT_EQ(&again.deployment(), tried);
}

// --- Waiting and limits ---------------------------------------------------------

TEST(WaitHint, EarliestOfCooldownsAndRefills) {
  const GatewayConfig cfg = config({provider("a", 60), provider("b", 6)},
                                   {ModelConfig{"m", {deployment("a", "m", 1), deployment("b", "m", 1)}}});
  ProviderPool pool(cfg, t0, {}, 1);
  EXPECT_EQ(pool.wait_hint("m", demand(1), t0), Clock::duration::zero());
  Deployment* a = nullptr;
  for (Deployment* d : pool.candidates("m", demand(1), t0)) if (d->provider_name() == "a") a = d;
  ASSERT_NE(a, nullptr);
  // Empty both: a refills a request every second, b every ten.
  while (Lease l = pool.acquire("m", demand(1), t0)) l.succeeded({}, {}, {}, t0);
  EXPECT_EQ(pool.wait_hint("m", demand(1), t0), 1s);
  // a cooling for 30 s: b's refill comes first.
  a->cooldown_until = t0 + 30s;
  EXPECT_EQ(pool.wait_hint("m", demand(1), t0), 10s);
}

TEST(GroupLimits, SumOfDeploymentsBoundedByTheirAccounts) {
  const GatewayConfig cfg = config({provider("a", 100, 1000), provider("b", 10, 500)},
                                   {ModelConfig{"m", {deployment("a", "x", 0, 60), deployment("a", "y", 0, 60),
                                                      deployment("b", "z")}}});
  ProviderPool pool(cfg, t0, {}, 1);
  const GroupLimits l = pool.limits("m", t0);
  EXPECT_EQ(l.limit_requests, 100 + 10);   // a: 60 + 60 capped at its account's 100
  EXPECT_EQ(l.remaining_requests, 110);
  EXPECT_EQ(l.limit_tokens, 1000 + 500);
  pool.acquire("m", demand(10, 10), t0).succeeded({10, 10, true}, {}, {}, t0);
  EXPECT_EQ(pool.limits("m", t0).remaining_requests, 109);
  EXPECT_EQ(pool.limits("m", t0).remaining_tokens, 1480);
}

TEST(GroupLimits, UnsetWhenAnyDeploymentIsUnlimited) {
  const GatewayConfig cfg = config({provider("a", 100), provider("b")},
                                   {ModelConfig{"m", {deployment("a", "x"), deployment("b", "z")}}});
  ProviderPool pool(cfg, t0, {}, 1);
  const GroupLimits l = pool.limits("m", t0);
  EXPECT_FALSE(l.limit_requests);
  EXPECT_FALSE(l.remaining_requests);
  EXPECT_FALSE(l.limit_tokens);
}

// --- A configuration reload: carry_over -------------------------------------------
// What the next configuration's pool keeps of this one's state (bucket
// levels, cooldowns, ejections, reservations in flight), by provider name
// and (provider, upstream model).

const Demand kOne{0, 1, true};  // one token: only the RPM buckets matter

Deployment* deployment_of(ProviderPool& pool, std::string_view provider, std::string_view model) {
  for (const auto& d : pool.deployments())
    if (d->provider_name() == provider && d->model == model) return d.get();
  return nullptr;
}

TEST(PoolReload, AnRpmLimitReachedBeforeTheReloadIsStillReachedAfter) {
  const GatewayConfig before = config({provider("a")}, {ModelConfig{"m", {deployment("a", "m", 0, 2)}}});
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
  const GatewayConfig ten = config({provider("a")}, {ModelConfig{"m", {deployment("a", "m", 0, 10)}}});
  ProviderPool old(ten, t0, {}, 1);
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(old.acquire("m", kOne, t0));  // 8 left

  const GatewayConfig five = config({provider("a")}, {ModelConfig{"m", {deployment("a", "m", 0, 5)}}});
  ProviderPool lowered(five, t0, {}, 1);
  lowered.carry_over(old, t0);
  EXPECT_DOUBLE_EQ(deployment_of(lowered, "a", "m")->rpm.available(t0), 5.0);
  EXPECT_DOUBLE_EQ(deployment_of(lowered, "a", "m")->rpm.capacity(), 5.0);

  const GatewayConfig twenty = config({provider("a")}, {ModelConfig{"m", {deployment("a", "m", 0, 20)}}});
  ProviderPool raised(twenty, t0, {}, 1);
  raised.carry_over(lowered, t0);
  EXPECT_DOUBLE_EQ(deployment_of(raised, "a", "m")->rpm.available(t0), 5.0);
  EXPECT_DOUBLE_EQ(deployment_of(raised, "a", "m")->rpm.capacity(), 20.0);
}

TEST(PoolReload, CooldownsAndEjectionsCarryOver) {
  const GatewayConfig cfg = config({provider("a"), provider("b")},
                                   {ModelConfig{"m", {deployment("a", "m"), deployment("b", "m")}}});
  PoolPolicy policy;
  policy.eject_after_failures = 1;
  ProviderPool old(cfg, t0, policy, 1);
  old.acquire("m", kOne, t0, std::vector<Deployment*>{deployment_of(old, "b", "m")}).rate_limited(30s, t0);
  old.acquire("m", kOne, t0, std::vector<Deployment*>{deployment_of(old, "a", "m")}).failed(t0);
  ASSERT_TRUE(deployment_of(old, "a", "m")->cooling(t0));
  ASSERT_TRUE(deployment_of(old, "b", "m")->ejected(t0));

  ProviderPool fresh(cfg, t0, policy, 1);
  fresh.carry_over(old, t0);
  EXPECT_TRUE(deployment_of(fresh, "a", "m")->cooling(t0 + 1s));
  EXPECT_TRUE(deployment_of(fresh, "b", "m")->ejected(t0 + 1s));
  EXPECT_TRUE(fresh.candidates("m", kOne, t0 + 1s).empty()) << "a fresh pool would offer both";
  const auto after_ejection = fresh.candidates("m", kOne, t0 + 6s);  // the first ejection lasts 5 s
  ASSERT_EQ(after_ejection.size(), 1u);
  EXPECT_EQ(after_ejection[0]->provider_name(), "b");
  EXPECT_EQ(fresh.candidates("m", kOne, t0 + 31s).size(), 2u) << "the cooldown ends when it would have";
}

TEST(PoolReload, AReservationInFlightSettlesOnTheBucketsTheNewPoolUses) {
  const GatewayConfig cfg = config({provider("a", 0, 1000)}, {ModelConfig{"m", {deployment("a", "m", 0, 0, 1000)}}});
  ProviderPool old(cfg, t0, {}, 1);
  Lease lease = old.acquire("m", Demand{400, 100, true}, t0);  // 500 reserved
  ASSERT_TRUE(lease);

  ProviderPool fresh(cfg, t0, {}, 1);
  fresh.carry_over(old, t0);
  Deployment* d = deployment_of(fresh, "a", "m");
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
  EXPECT_EQ(deployment_of(fresh, "a", "m-2")->provider.get(), deployment_of(old, "a", "m")->provider.get());
}

TEST(PoolReload, NewDeploymentsStartFreshAndRemovedOnesStayWithTheOldPool) {
  const GatewayConfig before = config({provider("a"), provider("b")},
                                      {ModelConfig{"m", {deployment("a", "m", 0, 1)}}, ModelConfig{"gone", {deployment("b", "g", 0, 1)}}});
  ProviderPool old(before, t0, {}, 1);
  ASSERT_TRUE(old.acquire("m", kOne, t0));
  Lease held = old.acquire("gone", kOne, t0);
  ASSERT_TRUE(held);
  const GatewayConfig after = config({provider("a"), provider("c")},
                                     {ModelConfig{"m", {deployment("a", "m", 0, 1)}}, ModelConfig{"new", {deployment("c", "n", 0, 1)}}});
  ProviderPool fresh(after, t0, {}, 1);
  EXPECT_EQ(fresh.carry_over(old, t0), 1u);
  EXPECT_FALSE(fresh.has_group("gone"));
  EXPECT_EQ(deployment_of(fresh, "b", "g"), nullptr);
  EXPECT_TRUE(fresh.acquire("new", kOne, t0)) << "a new deployment starts with a full bucket";
  EXPECT_FALSE(fresh.acquire("m", kOne, t0));
  ASSERT_NE(deployment_of(old, "b", "g"), nullptr) << "the old pool keeps what its requests in flight use";
  held.rejected(t0);
}

}  // namespace
}  // namespace sluice::pool
