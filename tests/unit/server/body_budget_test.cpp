// BodyBudget: holds grow within the limit, a refused growth changes nothing,
// and every byte comes back on release, destruction or move-assignment.
#include "body_budget.hpp"

#include <gtest/gtest.h>

namespace sluice::server {
namespace {

TEST(BodyBudget, HoldsGrowWithinTheLimitAndComeBackWhenReleased) {
  BodyBudget budget(100);
  BodyBudget::Hold a = budget.hold();
  EXPECT_TRUE(a.grow_to(60));
  EXPECT_EQ(budget.in_use(), 60u);
  {
    BodyBudget::Hold b = budget.hold();
    EXPECT_FALSE(b.grow_to(41)) << "41 more would pass 100";
    EXPECT_EQ(budget.in_use(), 60u) << "a refused growth takes nothing";
    EXPECT_EQ(b.held(), 0u);
    EXPECT_TRUE(b.grow_to(40));
    EXPECT_EQ(budget.in_use(), 100u);
  }
  EXPECT_EQ(budget.in_use(), 60u) << "a destroyed hold gives its bytes back";
  a.release();
  EXPECT_EQ(budget.in_use(), 0u);
  a.release();
  EXPECT_EQ(budget.in_use(), 0u) << "releasing twice gives nothing back twice";
}

TEST(BodyBudget, GrowingCountsOnlyTheDifference) {
  BodyBudget budget(100);
  BodyBudget::Hold a = budget.hold();
  EXPECT_TRUE(a.grow_to(30));
  EXPECT_TRUE(a.grow_to(90));
  EXPECT_EQ(budget.in_use(), 90u);
  EXPECT_TRUE(a.grow_to(10)) << "a hold never shrinks by growing";
  EXPECT_EQ(a.held(), 90u);
  EXPECT_FALSE(a.grow_to(101));
  EXPECT_EQ(a.held(), 90u);
  EXPECT_TRUE(a.grow_to(100));
  EXPECT_EQ(budget.in_use(), 100u);
}

TEST(BodyBudget, MovingAHoldMovesItsBytes) {
  BodyBudget budget(100);
  BodyBudget::Hold a = budget.hold();
  ASSERT_TRUE(a.grow_to(50));
  BodyBudget::Hold b = std::move(a);
  EXPECT_EQ(budget.in_use(), 50u);
  BodyBudget::Hold c = budget.hold();
  ASSERT_TRUE(c.grow_to(20));
  c = std::move(b);  // c's own 20 go back; it now holds b's 50
  EXPECT_EQ(budget.in_use(), 50u);
  EXPECT_EQ(c.held(), 50u);
}

}  // namespace
}  // namespace sluice::server
