// The Gatekeeper on its own: postures, keys given as themselves or as their
// SHA-256, key ids, the loopback test on peer addresses, and the key's own
// buckets (the pipeline's tests cover them in context).
#include "sluice/auth/gatekeeper.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "support/manual_clock.hpp"

namespace sluice::auth {
namespace {

namespace ip = boost::asio::ip;

// printf 'sk-test-0123456789abcdef' | sha256sum
constexpr std::string_view kKey = "sk-test-0123456789abcdef";
constexpr std::string_view kKeyDigest = "c871f067542d565c57ebb8b54f99afe326644dceeb5c05fc2209a8161a52875e";

const ip::address kLoopback = ip::make_address("127.0.0.1");
const ip::address kRemote = ip::make_address("203.0.113.9");

GatewayKeyConfig key_config(std::string_view key, std::string tenant) {
  GatewayKeyConfig c;
  c.key = std::string(key);
  c.tenant = std::move(tenant);
  return c;
}

class GatekeeperTest : public ::testing::Test {
 protected:
  Gatekeeper& gate() {
    if (!gate_) gate_ = std::make_unique<Gatekeeper>(config_, clock_);
    return *gate_;
  }
  AuthConfig config_;
  std::shared_ptr<test::ManualClock> clock_ = std::make_shared<test::ManualClock>();
  std::unique_ptr<Gatekeeper> gate_;
};

TEST(IsLoopback, TheWholeLoopbackNetAndItsMappedForm) {
  for (const char* a : {"127.0.0.1", "127.0.0.2", "127.255.255.254", "::1", "::ffff:127.0.0.1", "::ffff:127.9.9.9"})
    EXPECT_TRUE(is_loopback(ip::make_address(a))) << a;
  for (const char* a : {"0.0.0.0", "10.0.0.1", "128.0.0.1", "::", "::2", "::ffff:10.0.0.1", "fe80::1", "2001:db8::1"})
    EXPECT_FALSE(is_loopback(ip::make_address(a))) << a;
}

TEST_F(GatekeeperTest, WithoutKeysLoopbackOnly) {
  EXPECT_EQ(gate().posture(), "loopback_only");
  auto local = gate().authenticate("", kLoopback);
  ASSERT_TRUE(local);
  EXPECT_EQ(local->tenant(), "anonymous");
  EXPECT_EQ(local->key_id(), "");
  EXPECT_TRUE(local->may_use("anything"));
  EXPECT_TRUE(gate().authenticate("sk-whatever-was-sent", kLoopback)) << "a key nobody configured is not checked";
  EXPECT_EQ(gate().authenticate("", kRemote).error().code, errc::peer_not_allowed);
}

TEST_F(GatekeeperTest, AllowUnauthenticatedAdmitsAnyPeer) {
  config_.allow_unauthenticated = true;
  EXPECT_EQ(gate().posture(), "unauthenticated");
  EXPECT_TRUE(gate().authenticate("", kRemote));
}

TEST_F(GatekeeperTest, WithKeysEveryPeerNeedsOneLoopbackToo) {
  config_.keys.push_back(key_config(kKey, "team-a"));
  EXPECT_EQ(gate().posture(), "keys");
  EXPECT_EQ(gate().key_count(), 1u);
  EXPECT_EQ(gate().authenticate("", kLoopback).error().code, errc::unauthorized);
  EXPECT_EQ(gate().authenticate("sk-test-0123456789abcdeg", kLoopback).error().code, errc::unauthorized);
  EXPECT_EQ(gate().authenticate(kKey.substr(0, 10), kLoopback).error().code, errc::unauthorized);
  auto caller = gate().authenticate(kKey, kRemote);
  ASSERT_TRUE(caller);
  EXPECT_EQ(caller->tenant(), "team-a");
}

TEST_F(GatekeeperTest, AKeyMayBeGivenAsItsDigestAndItsIdIsTheDigestsPrefix) {
  GatewayKeyConfig c;
  c.sha256 = std::string(kKeyDigest);
  c.tenant = "team-b";
  config_.keys.push_back(c);
  auto caller = gate().authenticate(kKey, kLoopback);
  ASSERT_TRUE(caller) << caller.error().message;
  EXPECT_EQ(caller->tenant(), "team-b");
  EXPECT_EQ(caller->key_id(), "sha256:" + std::string(kKeyDigest.substr(0, 12)));
}

TEST_F(GatekeeperTest, AKeyGivenItselfHasTheSameIdAsItsDigestWould) {
  config_.keys.push_back(key_config(kKey, "team-a"));
  EXPECT_EQ(gate().authenticate(kKey, kLoopback)->key_id(), "sha256:" + std::string(kKeyDigest.substr(0, 12)));
}

TEST_F(GatekeeperTest, AConfiguredIdNamesTheKey) {
  config_.keys.push_back(key_config(kKey, "team-a"));
  config_.keys[0].id = "ci-runner";
  EXPECT_EQ(gate().authenticate(kKey, kLoopback)->key_id(), "ci-runner");
}

TEST_F(GatekeeperTest, ManyKeysEachFindTheirOwnTenant) {
  for (int i = 0; i < 100; ++i) config_.keys.push_back(key_config("sk-key-number-" + std::to_string(i), "t" + std::to_string(i)));
  for (int i = 0; i < 100; ++i) EXPECT_EQ(gate().authenticate("sk-key-number-" + std::to_string(i), kRemote)->tenant(),
                                          "t" + std::to_string(i));
}

TEST_F(GatekeeperTest, TheKeysTpmReservationIsHeldUntilSettled) {
  config_.keys.push_back(key_config(kKey, "team-a"));
  config_.keys[0].tpm = 100;
  auto caller = gate().authenticate(kKey, kLoopback);
  auto lease = gate().admit(*caller, "m", 80);
  ASSERT_TRUE(lease);
  EXPECT_EQ(gate().admit(*caller, "m", 80).error().code, errc::rate_limited);
  lease->settle({10, 10, true}, 0);
  EXPECT_TRUE(gate().admit(*caller, "m", 80)) << "the 60 unused tokens came back";
}

TEST_F(GatekeeperTest, ADemandAboveTheWholeBucketTakesAFullBucketNotForever) {
  config_.keys.push_back(key_config(kKey, "team-a"));
  config_.keys[0].tpm = 100;
  auto caller = gate().authenticate(kKey, kLoopback);
  EXPECT_TRUE(gate().admit(*caller, "m", 5'000));
}

TEST_F(GatekeeperTest, WithoutUsageTheEstimateStands) {
  config_.keys.push_back(key_config(kKey, "team-a"));
  config_.keys[0].tpm = 100;
  auto caller = gate().authenticate(kKey, kLoopback);
  gate().admit(*caller, "m", 80)->settle({}, 0);
  EXPECT_FALSE(gate().admit(*caller, "m", 80));
}

}  // namespace
}  // namespace sluice::auth

namespace sluice::auth {
namespace {

// A queued job's caller, found again on the replica that runs it.
TEST(GatekeeperCallerFor, TheKeyByIdAndTenantOrUnauthorized) {
  AuthConfig config;
  GatewayKeyConfig a;
  a.key = "sk-test-0123456789abcdef";
  a.tenant = "a";
  config.keys.push_back(a);
  auto clock = std::make_shared<test::ManualClock>();
  Gatekeeper gate(config, clock);
  auto presented = gate.authenticate(a.key, boost::asio::ip::make_address("127.0.0.1"));
  ASSERT_TRUE(presented);
  auto again = gate.caller_for(presented->key_id(), "a");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->key_id(), presented->key_id());
  EXPECT_EQ(again->tenant(), "a");
  EXPECT_EQ(gate.caller_for(presented->key_id(), "b").error().code, errc::unauthorized) << "another tenant";
  EXPECT_EQ(gate.caller_for("sha256:000000000000", "a").error().code, errc::unauthorized) << "a key removed since";
  EXPECT_EQ(gate.caller_for("", "anonymous").error().code, errc::unauthorized) << "keys are required now";

  Gatekeeper open(AuthConfig{}, clock);
  auto anonymous = open.caller_for("", "anonymous");
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->tenant(), "anonymous");
}

TEST_F(GatekeeperTest, PermitChecksTheAllowListAndBudgetAndTakesNothing) {
  GatewayKeyConfig c = key_config(kKey, "acme");
  c.models = {"small"};
  c.rpm = 1;
  c.monthly_budget_usd = 0.01;
  config_.keys.push_back(c);
  auto caller = gate().authenticate(kKey, kLoopback);
  ASSERT_TRUE(caller);
  EXPECT_EQ(gate().permit(*caller, "large").error().code, errc::model_not_allowed);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(gate().permit(*caller, "small")) << "no bucket is touched";
  auto lease = gate().admit(*caller, "small", 0);
  ASSERT_TRUE(lease);
  lease->settle(Usage{1, 1, true}, 0.02);
  EXPECT_EQ(gate().permit(*caller, "small").error().code, errc::budget_exceeded);
}

// The pipeline checks permit() before the cache and take()s only on a miss:
// take() is admit() without the checks, so the buckets move exactly as admit's.
TEST_F(GatekeeperTest, TakeIsAdmitsBucketHalf) {
  GatewayKeyConfig c = key_config(kKey, "acme");
  c.rpm = 2;
  c.tpm = 100;
  config_.keys.push_back(c);
  auto caller = gate().authenticate(kKey, kLoopback);
  ASSERT_TRUE(caller);
  ASSERT_TRUE(gate().take(*caller, 80));
  Result<KeyLease> over = gate().take(*caller, 80);
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().code, errc::rate_limited);
  EXPECT_NE(over.error().message.find("tokens per minute"), std::string::npos) << over.error().message;
  ASSERT_TRUE(gate().take(*caller, 0)) << "the refused take gave its request back";
  Result<KeyLease> third = gate().take(*caller, 0);
  ASSERT_FALSE(third);
  EXPECT_NE(third.error().message.find("2 requests per minute"), std::string::npos) << third.error().message;
  EXPECT_GE(third.error().retry_after_ms, 1);
}

// --- carry_over (a configuration reload) --------------------------------------

GatewayKeyConfig limited(std::string_view key, std::string id, int rpm) {
  GatewayKeyConfig c = key_config(key, "team-a");
  c.id = std::move(id);
  c.rpm = rpm;
  return c;
}

TEST_F(GatekeeperTest, AKeyAtItsRpmLimitIsStillLimitedAfterAReload) {
  config_.keys.push_back(limited(kKey, "k1", 2));
  auto caller = gate().authenticate(kKey, kRemote);
  ASSERT_TRUE(gate().admit(*caller, "m", 1));
  ASSERT_TRUE(gate().admit(*caller, "m", 1));
  ASSERT_FALSE(gate().admit(*caller, "m", 1));

  AuthConfig next = config_;
  next.keys.push_back(key_config("sk-another-key-0000", "team-b"));
  Gatekeeper fresh(next, clock_);
  EXPECT_EQ(fresh.carry_over(gate()), 1u);
  auto again = fresh.authenticate(kKey, kRemote);
  ASSERT_TRUE(again);
  EXPECT_EQ(fresh.admit(*again, "m", 1).error().code, errc::rate_limited);
  clock_->advance(std::chrono::seconds(30));
  EXPECT_TRUE(fresh.admit(*again, "m", 1)) << "and it refills as before";
}

TEST_F(GatekeeperTest, ALoweredKeyLimitClampsAndAPolicyChangeAppliesToCallersInFlight) {
  config_.keys.push_back(limited(kKey, "k1", 10));
  auto caller = gate().authenticate(kKey, kRemote);
  ASSERT_TRUE(gate().admit(*caller, "m", 1));  // 9 left
  AuthConfig next = config_;
  next.keys[0].rpm = 1;
  next.keys[0].models = {"only-this"};
  Gatekeeper fresh(next, clock_);
  fresh.carry_over(gate());
  auto again = fresh.authenticate(kKey, kRemote);
  EXPECT_EQ(fresh.admit(*again, "m", 1).error().code, errc::model_not_allowed);
  EXPECT_TRUE(fresh.admit(*again, "only-this", 1));
  EXPECT_EQ(fresh.admit(*again, "only-this", 1).error().code, errc::rate_limited) << "one per minute now, not 9 left";
  EXPECT_FALSE(caller->may_use("m")) << "the old generation's caller sees the key's new policy";
}

TEST_F(GatekeeperTest, TheMonthsSpendFollowsTheKeyIdThroughANewSecret) {
  config_.keys.push_back(limited(kKey, "k1", 0));
  config_.keys[0].monthly_budget_usd = 1.0;
  auto caller = gate().authenticate(kKey, kRemote);
  gate().admit(*caller, "m", 1)->settle({1, 1, true}, 1.5);
  AuthConfig next = config_;
  next.keys[0].key = "sk-rotated-secret-1234";
  Gatekeeper fresh(next, clock_);
  EXPECT_EQ(fresh.carry_over(gate()), 1u);
  EXPECT_FALSE(fresh.authenticate(kKey, kRemote)) << "the old secret is gone";
  auto rotated = fresh.authenticate("sk-rotated-secret-1234", kRemote);
  ASSERT_TRUE(rotated);
  EXPECT_EQ(fresh.admit(*rotated, "m", 1).error().code, errc::budget_exceeded);
}

TEST_F(GatekeeperTest, ARemovedKeyIsRefusedAndANewIdStartsFresh) {
  config_.keys.push_back(limited(kKey, "k1", 1));
  auto caller = gate().authenticate(kKey, kRemote);
  auto lease = gate().admit(*caller, "m", 1);
  ASSERT_TRUE(lease);
  AuthConfig next;
  next.keys.push_back(limited(kKey, "k2", 1));  // the same secret under a new id
  Gatekeeper fresh(next, clock_);
  EXPECT_EQ(fresh.carry_over(gate()), 0u);
  auto again = fresh.authenticate(kKey, kRemote);
  EXPECT_TRUE(fresh.admit(*again, "m", 1)) << "a new id is a new key";
  lease->settle({1, 1, true}, 0);  // the old lease settles on the old state
}

}  // namespace
}  // namespace sluice::auth
