// parse_duration: accepted spellings, and everything it must refuse.
#include <gtest/gtest.h>

#include <limits>
#include <string>

#include "sluice/core/config.hpp"

namespace sluice {
namespace {

struct Accepted {
  std::string text;
  long long millis;
};

class DurationAccepted : public ::testing::TestWithParam<Accepted> {};

TEST_P(DurationAccepted, ParsesToMilliseconds) {
  const auto parsed = parse_duration(GetParam().text);
  ASSERT_TRUE(parsed.has_value()) << GetParam().text;
  EXPECT_EQ(parsed->count(), GetParam().millis) << GetParam().text;
}

INSTANTIATE_TEST_SUITE_P(Spellings, DurationAccepted,
                         ::testing::Values(Accepted{"250ms", 250}, Accepted{"0ms", 0},
                                           Accepted{"10s", 10'000}, Accepted{"5m", 300'000},
                                           Accepted{"1h", 3'600'000}, Accepted{"0", 0},
                                           Accepted{"30", 30'000},  // bare number: seconds
                                           Accepted{"007s", 7'000},
                                           Accepted{"2562047788015h", 2562047788015LL * 3'600'000}));

class DurationRejected : public ::testing::TestWithParam<std::string> {};

TEST_P(DurationRejected, ReturnsNullopt) {
  EXPECT_FALSE(parse_duration(GetParam()).has_value()) << GetParam();
}

INSTANTIATE_TEST_SUITE_P(
    Garbage, DurationRejected,
    ::testing::Values("", "-5s", "+5s", "s", "ms", "5 s", " 5s", "5s ", "1.5s", "1h30m", "5sec", "5S",
                      "5d", "10us", "abc", "0x10", "5ms5",
                      // overflow: more digits than int64, and a product past int64
                      "99999999999999999999", "9223372036854775807s", "9223372036854775808ms",
                      "2562047788016h"));

TEST(Duration, LargestRepresentableValue) {
  const auto max = std::numeric_limits<Millis::rep>::max();
  const auto parsed = parse_duration(std::to_string(max) + "ms");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->count(), max);
}

}  // namespace
}  // namespace sluice
