// Reply: each type, checked access (a wrong type throws, naming both types),
// and the redis-cli-like rendering.
#include "sluice/redis/reply.hpp"

#include <gtest/gtest.h>

#include "print_reply.hpp"

#include <stdexcept>

namespace sluice::redis {

namespace {

TEST(Reply, DefaultIsNil) {
  const Reply r;
  EXPECT_TRUE(r.is_nil());
  EXPECT_EQ(r.type(), Reply::Type::nil);
  EXPECT_EQ(r.size(), 0u);
  EXPECT_EQ(r.to_string(), "(nil)");
}

TEST(Reply, EachTypeHoldsItsValue) {
  EXPECT_EQ(Reply::integer(-42).as_integer(), -42);
  EXPECT_TRUE(Reply::integer(1).is_integer());
  EXPECT_EQ(Reply::string(std::string("a\0b", 3)).as_string(), std::string("a\0b", 3));
  EXPECT_TRUE(Reply::string("x").is_string());
  EXPECT_EQ(Reply::status("OK").as_string(), "OK");
  EXPECT_TRUE(Reply::status("OK").is_status());
  EXPECT_EQ(Reply::error("ERR no").as_string(), "ERR no");
  EXPECT_TRUE(Reply::error("ERR no").is_error());
  const Reply array = Reply::array({Reply::integer(1), Reply::array({Reply::string("x"), Reply()})});
  ASSERT_TRUE(array.is_array());
  EXPECT_EQ(array.size(), 2u);
  EXPECT_EQ(array[0].as_integer(), 1);
  EXPECT_EQ(array[1][0].as_string(), "x");
  EXPECT_TRUE(array[1][1].is_nil());
  EXPECT_EQ(array.elements().size(), 2u);
}

TEST(Reply, AWrongTypeThrowsAndSaysWhichTypes) {
  try {
    (void)Reply::string("7").as_integer();
    FAIL() << "no exception";
  } catch (const std::logic_error& e) {
    EXPECT_STREQ(e.what(), "Redis reply is a bulk string, not an integer");
  }
  EXPECT_THROW((void)Reply().as_string(), std::logic_error);
  EXPECT_THROW((void)Reply::integer(1).elements(), std::logic_error);
  EXPECT_THROW((void)Reply::array({})[0], std::out_of_range);
}

TEST(Reply, TakeStringMovesTheText) {
  Reply r = Reply::string(std::string(1000, 'x'));
  EXPECT_EQ(r.take_string().size(), 1000u);
  EXPECT_THROW((void)Reply::integer(1).take_string(), std::logic_error);
}

TEST(Reply, RendersAsRedisCliShowsIt) {
  const Reply r = Reply::array({Reply::integer(3), Reply::string("v"), Reply::status("OK"), Reply::error("ERR x"),
                                Reply(), Reply::array({})});
  EXPECT_EQ(r.to_string(), "[(integer) 3, \"v\", OK, (error) ERR x, (nil), []]");
}

TEST(Reply, ComparesByValue) {
  EXPECT_EQ(Reply::array({Reply::integer(1)}), Reply::array({Reply::integer(1)}));
  EXPECT_NE(Reply::status("OK"), Reply::string("OK"));
  EXPECT_NE(Reply::integer(1), Reply::integer(2));
}

}  // namespace
}  // namespace sluice::redis
