// The unigram tokenizer's rules on a small vocabulary of our own (the real
// one is checked against the reference in use_lite_test.cpp).
#include "unigram_tokenizer.hpp"

#include <gtest/gtest.h>

namespace sluice::embed {
namespace {

// Six reserved entries as in vocab.json (id 0 is the unknown piece), then
// ours (ids from 6), then single characters with a low score: an unknown
// character scores 0, the best log-probability there is, so a vocabulary
// without them would turn every unlisted letter into the unknown piece.
UnigramTokenizer tokenizer(const std::string& pieces, bool with_letters = true) {
  std::string letters;
  for (std::string c : {"▁", "a", "b", "c", "e", "f", "i", "A"})
    if (pieces.find("[\"" + c + "\",") == std::string::npos) letters += R"(,[")" + c + R"(",-5])";
  auto t = UnigramTokenizer::parse(R"([["\ufffd",0],["<s>",0],["</s>",0],["x1",0],["x2",0],["x3",0],)" + pieces +
                                   (with_letters ? letters : "") + "]");
  EXPECT_TRUE(t) << t.error().message;
  return std::move(t).value();
}

std::vector<std::string> pieces(const UnigramTokenizer& t, std::string_view text) {
  std::vector<std::string> out;
  for (auto id : t.encode(text)) out.push_back(t.piece(id));
  return out;
}

using Pieces = std::vector<std::string>;

TEST(UnigramTokenizer, MarksTheStartAndEverySpace) {
  const auto t = tokenizer(R"(["▁a",-1],["▁b",-1])");
  EXPECT_EQ(pieces(t, "a b"), (Pieces{"▁a", "▁b"}));
  EXPECT_EQ(pieces(t, "a  b"), (Pieces{"▁a", "▁", "▁b"}));
  EXPECT_TRUE(t.encode("").empty());
}

TEST(UnigramTokenizer, PrefersTheMostProbableSegmentation) {
  const auto t = tokenizer(R"(["▁a",-1],["b",-1],["▁ab",-1.5],["▁abc",-9],["c",-1])");
  EXPECT_EQ(pieces(t, "ab"), (Pieces{"▁ab"}));
  EXPECT_EQ(pieces(t, "abc"), (Pieces{"▁ab", "c"}));  // -2.5 beats -9
}

TEST(UnigramTokenizer, TiesGoToTheLaterCandidateAsInTheReference) {
  // "▁ab" alone or "▁a" + "b" both score -2: the candidate visited last (the
  // later start) wins.
  const auto t = tokenizer(R"(["▁a",-1],["b",-1],["▁ab",-2])");
  EXPECT_EQ(pieces(t, "ab"), (Pieces{"▁a", "b"}));
}

TEST(UnigramTokenizer, MergesRunsOfUnknownCharacters) {
  const auto t = tokenizer(R"(["▁a",-1],["b",-1])");
  EXPECT_EQ(t.encode("a\t\t\tb"), (std::vector<std::int32_t>{6, 0, 7}));
  EXPECT_EQ(t.encode("a\tb\tb"), (std::vector<std::int32_t>{6, 0, 7, 0, 7}));
  // Invalid UTF-8 is U+FFFD, which the reserved entry does not match: unknown.
  EXPECT_EQ(t.encode("a\xff\xfe"), (std::vector<std::int32_t>{6, 0}));
}

TEST(UnigramTokenizer, AnUnknownCharacterScoresZeroAsInTheReference) {
  // No "a" piece: after "▁", "a" is unknown at score 0, which beats "▁a"'s
  // -1, so the reference (and this port) gives the unknown piece, then "b".
  const auto t = tokenizer(R"(["▁a",-1],["b",-1],["▁ab",-1.5])", /*with_letters=*/false);
  EXPECT_EQ(t.encode("ab"), (std::vector<std::int32_t>{0, 7}));
}

TEST(UnigramTokenizer, NormalisesWithNfkcWithoutLowerCasing) {
  const auto t = tokenizer(R"(["▁A",-1],["▁a",-1],["é",-1],["fi",-1])");
  EXPECT_EQ(pieces(t, "\xef\xbc\xa1"), (Pieces{"▁A"}));             // fullwidth A
  EXPECT_EQ(pieces(t, "a"), (Pieces{"▁a"}));
  EXPECT_EQ(pieces(t, "A"), (Pieces{"▁A"}));
  EXPECT_EQ(pieces(t, "ae\xcc\x81"), (Pieces{"▁a", "é"}));          // e + combining acute -> é
  EXPECT_EQ(pieces(t, "\xef\xac\x81"), (Pieces{"▁", "fi"}));        // the ligature fi -> f i
  EXPECT_EQ(pieces(t, "a\xc2\xa0" "a"), (Pieces{"▁a", "▁a"}));      // no-break space -> space -> ▁
}

TEST(UnigramTokenizer, ANullScoreCountsAsZero) {
  // vocab.json has null scores (":" among them); the reference adds them as 0.
  const auto t = tokenizer(R"(["▁a",-1],[":",null],["▁a:",-1.5])");
  EXPECT_EQ(pieces(t, "a:"), (Pieces{"▁a", ":"}));  // -1 + 0 beats -1.5
}

TEST(UnigramTokenizer, RejectsAMalformedVocabulary) {
  EXPECT_FALSE(UnigramTokenizer::parse("{}"));
  EXPECT_FALSE(UnigramTokenizer::parse("[[\"a\",0]]"));  // nothing past the reserved ids
  auto bad = UnigramTokenizer::parse(R"([["a",0],["b",0],["c",0],["d",0],["e",0],["f",0],["g","x"]])");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "entry 6 is not [piece, score]");
  auto missing = UnigramTokenizer::load("/nonexistent/vocab.json");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message, "/nonexistent/vocab.json: cannot be read");
}

}  // namespace
}  // namespace sluice::embed
