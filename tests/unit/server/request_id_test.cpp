// x-request-id: which client ids are echoed, and the ids the gateway makes.
#include "../../../src/server/request_id.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace sluice::server {
namespace {

class ValidId : public ::testing::TestWithParam<std::string> {};

TEST_P(ValidId, IsAccepted) { EXPECT_TRUE(is_valid_request_id(GetParam())) << GetParam(); }

INSTANTIATE_TEST_SUITE_P(Ids, ValidId,
                         ::testing::Values("a", "Z", "0", "req_123", "0f8fad5b-d9cb-469f-a165-70867728950e",
                                           "abc.def:ghi/jkl+mno=pqr-stu_vwx", "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
                                           "dGVzdA==", std::string(128, 'x'), std::string(127, '-') + "9"));

class InvalidId : public ::testing::TestWithParam<std::string> {};

TEST_P(InvalidId, IsRejected) { EXPECT_FALSE(is_valid_request_id(GetParam())) << GetParam(); }

INSTANTIATE_TEST_SUITE_P(
    Ids, InvalidId,
    ::testing::Values("", std::string(129, 'x'), "has space", " lead", "trail ",
                      "cr\r", "lf\n", "crlf\r\nx-injected: 1", "tab\t", "quote\"", "single'", "back\\slash",
                      "semi;colon", "comma,", "angle<>", "brace{}", "percent%20", "hash#", "question?",
                      "amp&", "star*", "at@", "caf\xc3\xa9", "\xff", std::string("nul\0x", 5), "\x7f"));

TEST(NewRequestId, Is32LowercaseHex) {
  for (int i = 0; i < 100; ++i) {
    const std::string id = new_request_id();
    ASSERT_EQ(id.size(), 32u) << id;
    for (char c : id) EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << id;
    EXPECT_TRUE(is_valid_request_id(id)) << id;
  }
}

TEST(NewRequestId, DiffersBetweenCalls) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) seen.insert(new_request_id());
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(NewRequestId, UsesBothHalves) {
  // Each half comes from its own 64-bit draw: across many ids, every
  // position takes more than one value (no half stuck at zeros).
  std::set<char> first_half_last, second_half_last;
  for (int i = 0; i < 200; ++i) {
    const std::string id = new_request_id();
    first_half_last.insert(id[15]);
    second_half_last.insert(id[31]);
  }
  EXPECT_GT(first_half_last.size(), 1u);
  EXPECT_GT(second_half_last.size(), 1u);
}

}  // namespace
}  // namespace sluice::server
