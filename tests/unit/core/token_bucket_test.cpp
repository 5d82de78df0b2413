#include "sluice/core/token_bucket.hpp"

#include <gtest/gtest.h>

namespace sluice {
namespace {

using namespace std::chrono_literals;
using Clock = TokenBucket::Clock;

const Clock::time_point t0{};

TEST(TokenBucket, StartsFullAndAllowsABurstUpToCapacity) {
  TokenBucket rpm(60, 60s, t0);
  for (int i = 0; i < 60; ++i) EXPECT_TRUE(rpm.try_take(1, t0)) << i;
  EXPECT_FALSE(rpm.try_take(1, t0));
}

TEST(TokenBucket, RefillsContinuouslyAtCapacityPerPeriod) {
  TokenBucket rpm(60, 60s, t0);
  ASSERT_TRUE(rpm.try_take(60, t0));
  EXPECT_FALSE(rpm.try_take(1, t0 + 999ms));
  EXPECT_TRUE(rpm.try_take(1, t0 + 1s));
  EXPECT_FALSE(rpm.try_take(1, t0 + 1s));
  EXPECT_NEAR(rpm.available(t0 + 31s), 30.0, 1e-6);
}

TEST(TokenBucket, NeverRefillsAboveCapacity) {
  TokenBucket tpm(1000, 60s, t0);
  EXPECT_DOUBLE_EQ(tpm.available(t0 + 1h), 1000.0);
  tpm.give_back(500, t0 + 1h);
  EXPECT_DOUBLE_EQ(tpm.available(t0 + 1h), 1000.0);
}

TEST(TokenBucket, TakeIsAllOrNothing) {
  TokenBucket tpm(100, 60s, t0);
  EXPECT_FALSE(tpm.try_take(101, t0));
  EXPECT_DOUBLE_EQ(tpm.available(t0), 100.0);
  EXPECT_TRUE(tpm.try_take(70, t0));
  EXPECT_FALSE(tpm.try_take(31, t0));
  EXPECT_DOUBLE_EQ(tpm.available(t0), 30.0);
}

TEST(TokenBucket, ReserveThenSettleGivesBackTheUnusedPart) {
  TokenBucket tpm(1000, 60s, t0);
  ASSERT_TRUE(tpm.try_take(600, t0));  // estimate
  tpm.give_back(600 - 250, t0);        // real usage 250
  EXPECT_DOUBLE_EQ(tpm.available(t0), 750.0);
}

TEST(TokenBucket, UsageAboveTheEstimateIsChargedAsDebt) {
  TokenBucket tpm(1000, 60s, t0);
  ASSERT_TRUE(tpm.try_take(1000, t0));
  tpm.charge(200, t0);
  EXPECT_DOUBLE_EQ(tpm.available(t0), -200.0);
  EXPECT_FALSE(tpm.try_take(1, t0 + 12s));  // 200 refilled: back to zero
  EXPECT_TRUE(tpm.try_take(1, t0 + 12100ms));
}

TEST(TokenBucket, TimeUntilSaysWhenTokensReturn) {
  TokenBucket rpm(60, 60s, t0);
  ASSERT_TRUE(rpm.try_take(60, t0));
  EXPECT_EQ(rpm.time_until(1, t0), 1s);
  EXPECT_EQ(rpm.time_until(10, t0), 10s);
  EXPECT_EQ(rpm.time_until(1000, t0), 60s);  // more than capacity: until full
  EXPECT_EQ(rpm.time_until(1, t0 + 5s), 0s);
}

TEST(TokenBucket, ZeroCapacityIsUnlimited) {
  TokenBucket none(0, 60s, t0);
  EXPECT_TRUE(none.unlimited());
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(none.try_take(1e9, t0));
  EXPECT_EQ(none.time_until(1e12, t0), 0s);
}

TEST(TokenBucket, ProviderHeadersRecalibrateTheLevel) {
  TokenBucket rpm(500, 60s, t0);
  rpm.set_available(3, t0);  // another client of the account used the rest
  EXPECT_TRUE(rpm.try_take(3, t0));
  EXPECT_FALSE(rpm.try_take(1, t0));
  rpm.set_available(1e9, t0);
  EXPECT_DOUBLE_EQ(rpm.available(t0), 500.0);
}

TEST(TokenBucket, TimeGoingBackwardsChangesNothing) {
  TokenBucket rpm(60, 60s, t0 + 10s);
  ASSERT_TRUE(rpm.try_take(60, t0 + 10s));
  EXPECT_FALSE(rpm.try_take(1, t0));
  EXPECT_TRUE(rpm.try_take(1, t0 + 11s));
}

// --- set_capacity (a configuration reload) ------------------------------------

TEST(TokenBucket, ALoweredCapacityClampsTheLevelAndRefillsAtTheNewRate) {
  TokenBucket rpm(60, 60s, t0);
  ASSERT_TRUE(rpm.try_take(20, t0));  // 40 left
  rpm.set_capacity(10, 60s, t0);
  EXPECT_DOUBLE_EQ(rpm.capacity(), 10.0);
  EXPECT_DOUBLE_EQ(rpm.available(t0), 10.0);
  ASSERT_TRUE(rpm.try_take(10, t0));
  EXPECT_NEAR(rpm.available(t0 + 6s), 1.0, 1e-9) << "10 per minute now";
}

TEST(TokenBucket, ARaisedCapacityKeepsTheLevelItHad) {
  TokenBucket rpm(10, 60s, t0);
  ASSERT_TRUE(rpm.try_take(10, t0));
  rpm.set_capacity(60, 60s, t0);
  EXPECT_NEAR(rpm.available(t0), 0.0, 1e-9) << "a reload does not hand out the difference";
  EXPECT_NEAR(rpm.available(t0 + 1s), 1.0, 1e-9);
}

TEST(TokenBucket, ABucketInDebtStaysInDebtUnderANewCapacity) {
  TokenBucket tpm(100, 60s, t0);
  tpm.charge(150, t0);  // -50
  tpm.set_capacity(200, 60s, t0);
  EXPECT_NEAR(tpm.available(t0), -50.0, 1e-9);
}

TEST(TokenBucket, UnlimitedToLimitedStartsFullAndBackIsUnlimited) {
  TokenBucket rpm(0, 60s, t0);
  rpm.set_capacity(5, 60s, t0 + 1s);
  EXPECT_DOUBLE_EQ(rpm.available(t0 + 1s), 5.0);
  rpm.set_capacity(0, 60s, t0 + 2s);
  EXPECT_TRUE(rpm.unlimited());
  EXPECT_TRUE(rpm.try_take(1e9, t0 + 2s));
}

}  // namespace
}  // namespace sluice
