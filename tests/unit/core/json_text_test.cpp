// append_json_string / json_string: the hand-written JSON escaping the hot
// path (error bodies, log lines, mock answers, model rewrites) relies on.
#include "sluice/core/json_text.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

namespace sluice {
namespace {

using json = nlohmann::json;

TEST(JsonText, PlainTextIsQuoted) {
  EXPECT_EQ(json_string("hello"), "\"hello\"");
  EXPECT_EQ(json_string(""), "\"\"");
}

TEST(JsonText, EscapesQuoteAndBackslash) {
  EXPECT_EQ(json_string("a\"b"), R"("a\"b")");
  EXPECT_EQ(json_string("a\\b"), R"("a\\b")");
  EXPECT_EQ(json_string("\\\""), R"("\\\"")");
}

TEST(JsonText, EscapesNamedControlCharacters) {
  EXPECT_EQ(json_string("\n"), R"("\n")");
  EXPECT_EQ(json_string("\r"), R"("\r")");
  EXPECT_EQ(json_string("\t"), R"("\t")");
}

TEST(JsonText, EscapesOtherControlCharactersAsUnicode) {
  EXPECT_EQ(json_string(std::string(1, '\0')), R"("\u0000")");
  EXPECT_EQ(json_string("\x01"), R"("\u0001")");
  EXPECT_EQ(json_string("\b"), R"("\u0008")");
  EXPECT_EQ(json_string("\f"), R"("\u000c")");
  EXPECT_EQ(json_string("\x1f"), R"("\u001f")");
}

TEST(JsonText, LeavesPrintableAsciiDelAndUtf8Alone) {
  EXPECT_EQ(json_string(" /<>&'=~"), "\" /<>&'=~\"");
  EXPECT_EQ(json_string("\x7f"), "\"\x7f\"");
  EXPECT_EQ(json_string("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80"), "\"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80\"");
}

TEST(JsonText, AppendsToExistingText) {
  std::string out = "{\"k\":";
  append_json_string(out, "v\"");
  out += '}';
  EXPECT_EQ(out, R"({"k":"v\""})");
}

TEST(JsonText, EveryByteBelow0x80RoundTripsThroughAJsonParser) {
  std::string all;
  for (int c = 0; c < 0x80; ++c) all.push_back(static_cast<char>(c));
  const std::string text = json_string(all);
  for (char c : text) EXPECT_GE(static_cast<unsigned char>(c), 0x20u) << "raw control character in output";
  EXPECT_EQ(json::parse(text).get<std::string>(), all);
}

}  // namespace
}  // namespace sluice
