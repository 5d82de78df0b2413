// base64 (RFC 4648 with padding) and the float32 embedding wire form.
#include "sluice/core/base64.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <ostream>
#include <string>
#include <vector>

namespace sluice {
namespace {

struct Vector {
  std::string plain;
  std::string encoded;
};

// RFC 4648 section 10.
const Vector kRfcVectors[] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

void PrintTo(const Vector& v, std::ostream* os) { *os << ::testing::PrintToString(v.encoded); }

class Base64Rfc : public ::testing::TestWithParam<Vector> {};

TEST_P(Base64Rfc, Encodes) { EXPECT_EQ(base64_encode(GetParam().plain), GetParam().encoded); }

TEST_P(Base64Rfc, Decodes) {
  const auto decoded = base64_decode(GetParam().encoded);
  ASSERT_TRUE(decoded.has_value()) << GetParam().encoded;
  EXPECT_EQ(*decoded, GetParam().plain);
}

INSTANTIATE_TEST_SUITE_P(Rfc4648, Base64Rfc, ::testing::ValuesIn(kRfcVectors));

TEST(Base64, UsesPlusAndSlashAlphabet) {
  EXPECT_EQ(base64_encode("\xfb\xff\xbf"), "+/+/");
  EXPECT_EQ(base64_encode(std::string("\x00\x00\x00", 3)), "AAAA");
  EXPECT_EQ(base64_encode("\xff\xff\xff"), "////");
  EXPECT_EQ(base64_decode("+/+/"), std::string("\xfb\xff\xbf"));
}

TEST(Base64, EveryByteValueRoundTrips) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (std::size_t len = 0; len <= all.size(); len += 1) {
    const std::string part = all.substr(0, len);
    const std::string enc = base64_encode(part);
    EXPECT_EQ(enc.size(), (len + 2) / 3 * 4);
    const auto dec = base64_decode(enc);
    ASSERT_TRUE(dec.has_value()) << len;
    EXPECT_EQ(*dec, part) << len;
  }
}

class Base64Invalid : public ::testing::TestWithParam<std::string> {};

TEST_P(Base64Invalid, IsRejected) { EXPECT_FALSE(base64_decode(GetParam()).has_value()) << GetParam(); }

INSTANTIATE_TEST_SUITE_P(
    Garbage, Base64Invalid,
    ::testing::Values("Z",          // length not a multiple of 4
                      "Zg=",        // truncated padding
                      "Zm9vY",      //
                      "Zg",         // unpadded
                      "Zg==Zg==",   // padding in the middle
                      "Z===",       // three padding characters
                      "====",       // padding only
                      "Zg=a",       // data after padding
                      "Zm9v!A==",   // outside the alphabet
                      "Zm 9v",      // space
                      "Zm9v\n",     // newline
                      "Zm-_",       // base64url alphabet
                      "Zm9\xc3\xa9"));  // non-ASCII

TEST(Base64Floats, RoundTripsExactly) {
  const std::vector<float> values = {0.0f, -0.0f, 1.0f, -1.5f, 0.1f, 3.4028235e38f,
                                     std::numeric_limits<float>::denorm_min(),
                                     std::numeric_limits<float>::infinity()};
  const std::string text = floats_to_base64(values);
  EXPECT_EQ(text.size(), (values.size() * 4 + 2) / 3 * 4);
  const auto back = base64_to_floats(text);
  ASSERT_TRUE(back.has_value());
  ASSERT_EQ(back->size(), values.size());
  for (std::size_t i = 0; i < values.size(); ++i)
    EXPECT_EQ(std::bit_cast<uint32_t>((*back)[i]), std::bit_cast<uint32_t>(values[i])) << i;
}

TEST(Base64Floats, IsLittleEndianFloat32) {
  // 1.0f = 0x3f800000 -> bytes 00 00 80 3f.
  EXPECT_EQ(floats_to_base64({1.0f}), base64_encode(std::string("\x00\x00\x80\x3f", 4)));
  EXPECT_EQ(floats_to_base64({1.0f}), "AACAPw==");
  const auto v = base64_to_floats("AACAPw==");
  ASSERT_TRUE(v.has_value());
  ASSERT_EQ(v->size(), 1u);
  EXPECT_EQ((*v)[0], 1.0f);
}

TEST(Base64Floats, EmptyIsEmpty) {
  EXPECT_EQ(floats_to_base64({}), "");
  const auto v = base64_to_floats("");
  ASSERT_TRUE(v.has_value());
  EXPECT_TRUE(v->empty());
}

TEST(Base64Floats, RejectsByteCountNotAMultipleOfFour) {
  EXPECT_FALSE(base64_to_floats(base64_encode("abc")).has_value());
  EXPECT_FALSE(base64_to_floats(base64_encode("abcde")).has_value());
}

TEST(Base64Floats, RejectsInvalidBase64) { EXPECT_FALSE(base64_to_floats("AACAPw=").has_value()); }

}  // namespace
}  // namespace sluice
