// The overflow queue's line: priority classes first, round-robin across
// tenants within a class, first come first served within a tenant; leaving
// from anywhere; the bound.
#include "wait_line.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

namespace sluice::pipeline {
namespace {

class WaitLineTest : public ::testing::Test {
 protected:
  WaitLine::TicketPtr join(const std::string& tenant, Priority priority = Priority::normal,
                           const std::string& group = "g") {
    auto t = std::make_shared<Ticket>(io_.get_executor(), group, tenant, priority, pool::Demand{});
    EXPECT_TRUE(line_.join(t));
    names_[t.get()] = tenant + std::to_string(++count_[tenant]);
    return t;
  }
  // Takes every ticket of `group` in serving order, by name.
  std::vector<std::string> drain(const std::string& group = "g") {
    std::vector<std::string> order;
    while (Ticket* next = line_.next(group)) order.push_back(names_[line_.take(*next).get()]);
    return order;
  }

  boost::asio::io_context io_;
  WaitLine line_{100};
  std::map<Ticket*, std::string> names_;
  std::map<std::string, int> count_;
};

TEST_F(WaitLineTest, FirstComeFirstServedWithinATenant) {
  join("a");
  join("a");
  join("a");
  EXPECT_EQ(drain(), (std::vector<std::string>{"a1", "a2", "a3"}));
  EXPECT_EQ(line_.size(), 0u);
}

TEST_F(WaitLineTest, OneTenantsBurstCannotStarveAnothersSingleRequest) {
  for (int i = 0; i < 5; ++i) join("a");
  join("b");
  join("c");
  join("c");
  EXPECT_EQ(drain(), (std::vector<std::string>{"a1", "b1", "c1", "a2", "c2", "a3", "a4", "a5"}));
}

TEST_F(WaitLineTest, AHigherClassGoesFirstAndFairnessHoldsWithinIt) {
  join("a", Priority::low);
  join("a", Priority::normal);
  join("b", Priority::high);
  join("a", Priority::high);
  join("b", Priority::high);
  EXPECT_EQ(drain(), (std::vector<std::string>{"b1", "a3", "b2", "a2", "a1"}));
}

TEST_F(WaitLineTest, LeavingFromAnywhereKeepsTheOrderOfTheRest) {
  join("a");
  auto a2 = join("a");
  join("b");
  auto c1 = join("c");
  line_.leave(*a2);
  line_.leave(*c1);
  EXPECT_FALSE(a2->in_line);
  EXPECT_EQ(line_.size(), 2u);
  line_.leave(*a2);  // twice is harmless
  EXPECT_EQ(drain(), (std::vector<std::string>{"a1", "b1"}));
}

TEST_F(WaitLineTest, GroupsAreSeparateLines) {
  join("a", Priority::normal, "g1");
  join("b", Priority::normal, "g2");
  EXPECT_EQ(line_.size("g1"), 1u);
  EXPECT_EQ(line_.size("g2"), 1u);
  EXPECT_EQ(drain("g2"), (std::vector<std::string>{"b1"}));
  EXPECT_EQ(line_.next("g2"), nullptr);
  EXPECT_EQ(drain("g1"), (std::vector<std::string>{"a1"}));
}

TEST_F(WaitLineTest, TheLineIsBounded) {
  WaitLine small(2);
  auto make = [&] { return std::make_shared<Ticket>(io_.get_executor(), "g", "t", Priority::normal, pool::Demand{}); };
  auto t1 = make(), t2 = make(), t3 = make();
  EXPECT_TRUE(small.join(t1));
  EXPECT_TRUE(small.join(t2));
  EXPECT_FALSE(small.join(t3));
  small.leave(*t1);
  EXPECT_TRUE(small.join(t3));
  EXPECT_EQ(small.all().size(), 2u);
}

}  // namespace
}  // namespace sluice::pipeline
