// VectorIndex: the int8 similarities against the float ones, the incremental
// conversion from flat to graph (searches answer exactly throughout), the
// graph's recall of planted near duplicates, our graph walk against
// hnswlib's, and the hashed embedder's
// size in its name (vectors of another size are another embedder's).
#include "vector_index.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "sluice/core/embedder.hpp"

namespace sluice::cache {
namespace {

std::vector<float> unit(std::mt19937& rng, std::size_t dimensions) {
  std::normal_distribution<float> g;
  std::vector<float> v(dimensions);
  float norm = 0;
  for (float& x : v) {
    x = g(rng);
    norm += x * x;
  }
  for (float& x : v) x /= std::sqrt(norm);
  return v;
}

float dot(const std::vector<float>& a, const std::vector<float>& b) {
  float s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// A unit vector at cosine about 0.9 from `v`.
std::vector<float> near(const std::vector<float>& v, std::mt19937& rng) {
  std::vector<float> out = unit(rng, v.size());
  float norm = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    out[i] = v[i] + 0.45f * out[i];
    norm += out[i] * out[i];
  }
  for (float& x : out) x /= std::sqrt(norm);
  return out;
}

TEST(VectorIndex, SimilaritiesAreTheCosinesWithinQuantisation) {
  std::mt19937 rng(1);
  for (const std::size_t dimensions : {5u, 256u, 512u}) {  // 5: codes padded to a whole AVX2 load
    SCOPED_TRACE(dimensions);
    VectorIndex index("e", dimensions);
    std::vector<std::vector<float>> stored;
    for (std::uint64_t id = 0; id < 20; ++id) {
      stored.push_back(unit(rng, dimensions));
      index.add(id, stored.back().data());
    }
    const auto query = unit(rng, dimensions);
    const auto found = index.search(query.data(), 20);
    ASSERT_EQ(found.size(), 20u);
    for (std::size_t i = 0; i < found.size(); ++i) {
      EXPECT_NEAR(found[i].first, dot(query, stored[found[i].second]), 0.01);
      if (i > 0) {
        EXPECT_GE(found[i - 1].first, found[i].first);
      }
    }
    const auto self = index.search(stored[7].data(), 1);
    ASSERT_EQ(self.size(), 1u);
    EXPECT_EQ(self[0].second, 7u);
    EXPECT_NEAR(self[0].first, 1.0f, 0.005);
  }
}

// The nearest live id by brute force, for comparison.
std::uint64_t nearest(const std::vector<std::vector<float>>& vectors, const std::set<std::uint64_t>& live,
                      const std::vector<float>& query) {
  std::uint64_t best = 0;
  float top = -2;
  for (const auto id : live)
    if (const float s = dot(query, vectors[id]); s > top) top = s, best = id;
  return best;
}

TEST(VectorIndex, ConvertsToAGraphAFewVectorsAnAddAndAnswersThroughout) {
  constexpr std::size_t kDimensions = 128;  // as the smallest embedder (the graph walks sign codes)
  std::mt19937 rng(2);
  VectorIndex index("e", kDimensions);
  std::vector<std::vector<float>> vectors;
  std::set<std::uint64_t> live;
  const auto add = [&] {
    vectors.push_back(unit(rng, kDimensions));
    index.add(vectors.size() - 1, vectors.back().data());
    live.insert(vectors.size() - 1);
  };
  for (std::size_t i = 0; i < VectorIndex::kGraphFrom; ++i) add();
  EXPECT_FALSE(index.converting());
  add();  // past kGraphFrom: a graph, holding only a few of the vectors so far
  EXPECT_TRUE(index.converting());
  std::size_t adds_to_convert = 1;
  while (index.converting()) {
    // Every live vector is still found, as the nearest to itself and to a
    // query near it (brute force agrees), wherever it is now.
    for (std::uint64_t id = 0; id < vectors.size(); id += 7) {
      if (!live.count(id)) continue;
      const auto found = index.search(vectors[id].data(), 1);
      ASSERT_EQ(found.size(), 1u);
      ASSERT_EQ(found[0].second, id) << "after " << adds_to_convert << " adds";
    }
    // A query near a live vector (cosine about 0.9: the neighbourhood a
    // cache hit comes from): the brute-force nearest comes first.
    const std::uint64_t target = *std::next(live.begin(), static_cast<std::ptrdiff_t>(rng() % live.size()));
    const auto query = near(vectors[target], rng);
    const auto found = index.search(query.data(), 3);
    ASSERT_EQ(found.size(), 3u);
    EXPECT_EQ(found[0].second, nearest(vectors, live, query));
    // Removal during the conversion, from the flat part and from the graph.
    const std::uint64_t gone = *std::next(live.begin(), static_cast<std::ptrdiff_t>(adds_to_convert % live.size()));
    index.remove(gone);
    live.erase(gone);
    ASSERT_EQ(index.size(), live.size());
    for (const auto& [similarity, id] : index.search(vectors[gone].data(), 5)) EXPECT_NE(id, gone);
    add();
    ++adds_to_convert;
  }
  // kGraphFrom vectors moved kMigrateStep an add (each add also inserts its own).
  EXPECT_LE(adds_to_convert, VectorIndex::kGraphFrom / VectorIndex::kMigrateStep + 1);
  EXPECT_GT(adds_to_convert, VectorIndex::kGraphFrom / (VectorIndex::kMigrateStep + 1) - 1);
  EXPECT_EQ(index.size(), live.size());
  for (std::uint64_t id = 0; id < vectors.size(); id += 3) {
    if (!live.count(id)) continue;
    const auto found = index.search(vectors[id].data(), 1);
    ASSERT_EQ(found.size(), 1u);
    EXPECT_EQ(found[0].second, id);
  }
}

// bench/cache_bench.cpp's worst case, small: prompts of made-up words (no
// structure for the graph to follow), each looked up again with its last
// words changed. The graph must find (nearly) all of them.
TEST(VectorIndex, FindsPlantedNearDuplicates) {
  constexpr std::size_t kEntries = 4'000, kQueries = 400;
  const auto embedder = make_hashed_embedder(kCacheHashedDimensions);
  std::mt19937 rng(3);
  const char* syllables[] = {"ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "zen", "dra", "pel", "qua", "bri", "tor"};
  std::uniform_int_distribution<int> syllable(0, 13), length(2, 4);
  std::vector<std::string> words;
  while (words.size() < 3'000) {
    std::string w;
    for (int i = length(rng); i > 0; --i) w += syllables[syllable(rng)];
    words.push_back(w);
  }
  std::uniform_int_distribution<std::size_t> any(0, words.size() - 1);
  std::vector<std::string> prompts;
  VectorIndex index(std::string(embedder->name()), embedder->dimensions());
  for (std::size_t i = 0; i < kEntries; ++i) {
    std::string p = "Please explain";
    while (p.size() < 400) p += " " + words[any(rng)];
    prompts.push_back(p);
    index.add(i, embedder->embed(p).data());
  }
  EXPECT_FALSE(index.converting());
  // With the least similarity given, the walk ends once it has explored
  // around a vector that similar: it must find what the whole walk finds.
  std::size_t found = 0, found_early = 0, disagree = 0;
  std::uniform_int_distribution<std::size_t> pick(0, kEntries - 1);
  std::vector<std::size_t> targets;
  for (std::size_t q = 0; q < kQueries; ++q) {
    const std::size_t target = pick(rng);
    targets.push_back(target);
    std::string near = prompts[target];
    near.replace(near.size() - 12, 12, "so on. thank");
    const auto query = embedder->embed(near);
    const auto hits = index.search(query.data(), 4);
    const auto early = index.search(query.data(), 4, 0.85f);
    found += !hits.empty() && hits[0].second == target && hits[0].first >= 0.85f;
    found_early += !early.empty() && early[0].second == target && early[0].first >= 0.85f;
    disagree += hits.empty() != early.empty() || (!hits.empty() && hits[0] != early[0]);
  }
  EXPECT_GE(found, kQueries * 97 / 100) << "of " << kQueries;
  EXPECT_GE(found_early, found) << "of " << kQueries;
  EXPECT_LE(disagree, kQueries / 100) << "of " << kQueries;
  // Removed entries are never answered, however the walk ends.
  for (std::size_t q = 0; q < kQueries; q += 2) index.remove(targets[q]);
  for (std::size_t q = 0; q < kQueries; q += 2) {
    std::string near = prompts[targets[q]];
    near.replace(near.size() - 12, 12, "so on. thank");
    for (const auto& [similarity, id] : index.search(embedder->embed(near).data(), 4, 0.85f))
      EXPECT_NE(id, targets[q]) << "query " << q;
  }
}

// Our base-layer walk (prefetching each hop's neighbours together) is
// hnswlib's searchKnn with another order of memory reads: the same ids and
// similarities for every query, with slots deleted and revived as a full
// cache's are.
TEST(VectorIndex, TheGraphWalkAnswersAsHnswlibsDoes) {
  constexpr std::size_t kEntries = 3'000, kDimensions = 128;
  std::mt19937 rng(11);
  VectorIndex index("test", kDimensions);
  std::vector<std::vector<float>> vectors;
  for (std::size_t i = 0; i < kEntries; ++i) {
    vectors.push_back(unit(rng, kDimensions));
    index.add(i, vectors.back().data());
  }
  for (std::size_t i = 0; i < kEntries; i += 7) index.remove(i);  // deleted slots, some revived below
  for (std::size_t i = kEntries; i < kEntries + 200; ++i) {
    vectors.push_back(unit(rng, kDimensions));
    index.add(i, vectors.back().data());
  }
  ASSERT_FALSE(index.converting());
  std::uniform_int_distribution<std::size_t> pick(0, vectors.size() - 1);
  for (int q = 0; q < 300; ++q) {
    const std::vector<float> query = q % 2 ? unit(rng, kDimensions) : vectors[pick(rng)];
    for (const std::size_t k : {1u, 4u}) {
      const auto ours = index.search(query.data(), k);
      ASSERT_EQ(ours.size(), k);
      EXPECT_EQ(ours, index.search_by_hnswlib(query.data(), k)) << "query " << q << ", k " << k;
    }
  }
}

TEST(HashedEmbedder, ItsSizeIsPartOfItsName) {
  EXPECT_EQ(make_hashed_embedder(512)->name(), "hashed-ngram-v1");  // what stored entries carry
  EXPECT_EQ(make_hashed_embedder(256)->name(), "hashed-ngram-v1-256d");
  EXPECT_EQ(make_hashed_embedder(kCacheHashedDimensions)->dimensions(), kCacheHashedDimensions);
  // Another size is another embedder: its vectors are never compared.
  EXPECT_NE(make_hashed_embedder(256)->name(), make_hashed_embedder(512)->name());
}

}  // namespace
}  // namespace sluice::cache
