// The weightless hashed n-gram embedder (embedder.hpp): feature hashing of
// lower-cased words, adjacent word pairs and character trigrams within
// words, each into a bucket with a sign from the hash, then L2-normalised.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <string>

#include "sluice/core/embedder.hpp"

namespace sluice {

namespace {

constexpr std::uint64_t kFnvOffset = 1469598103934665603ull;
constexpr std::uint64_t kFnvPrime = 1099511628211ull;

std::uint64_t mix(std::uint64_t h) {  // splitmix64's finaliser: spreads FNV's low bits
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }
bool word_byte(unsigned char c) { return std::isalnum(c) || c >= 0x80; }

class HashedEmbedder final : public Embedder {
 public:
  // Vectors of another size are other vectors: the size is in the name
  // (512, the first size, kept the bare name its stored entries carry).
  explicit HashedEmbedder(std::size_t dimensions)
      : dimensions_(dimensions ? dimensions : 1),
        name_(dimensions_ == 512 ? "hashed-ngram-v1" : "hashed-ngram-v1-" + std::to_string(dimensions_) + "d") {}

  std::string_view name() const override { return name_; }
  std::size_t dimensions() const override { return dimensions_; }
  bool cheap() const override { return true; }  // about 8 us for 1 KB

  std::vector<float> embed(std::string_view text) const override {
    std::vector<float> v(dimensions_, 0.0f);
    std::uint64_t previous = 0;
    std::size_t i = 0;
    while (i < text.size()) {
      if (!word_byte(static_cast<unsigned char>(text[i]))) {
        ++i;
        continue;
      }
      const std::size_t start = i;
      std::uint64_t word = kFnvOffset;
      while (i < text.size() && word_byte(static_cast<unsigned char>(text[i]))) {
        word = (word ^ static_cast<unsigned char>(lower(text[i]))) * kFnvPrime;
        ++i;
      }
      add(v, word, 1.0f);
      if (previous) add(v, previous * 31 + word, 0.7f);
      previous = word;
      // Trigrams of " word " tie inflections together (prove / proving).
      for (std::size_t j = start; j + 3 <= i; ++j) {
        std::uint64_t tri = kFnvOffset ^ 0x9e3779b97f4a7c15ull;
        for (std::size_t k = j; k < j + 3; ++k) tri = (tri ^ static_cast<unsigned char>(lower(text[k]))) * kFnvPrime;
        add(v, tri, 0.3f);
      }
    }
    double norm = 0;
    for (float x : v) norm += static_cast<double>(x) * x;
    if (norm > 0) {
      const auto scale = static_cast<float>(1.0 / std::sqrt(norm));
      for (float& x : v) x *= scale;
    }
    return v;
  }

 private:
  void add(std::vector<float>& v, std::uint64_t feature, float weight) const {
    const std::uint64_t h = mix(feature);
    v[h % dimensions_] += (h >> 63) ? -weight : weight;
  }

  std::size_t dimensions_;
  std::string name_;
};

}  // namespace

std::unique_ptr<Embedder> make_hashed_embedder(std::size_t dimensions) {
  return std::make_unique<HashedEmbedder>(dimensions);
}

float cosine(const std::vector<float>& a, const std::vector<float>& b) noexcept {
  const std::size_t n = std::min(a.size(), b.size());
  float dot = 0;
  for (std::size_t i = 0; i < n; ++i) dot += a[i] * b[i];
  return dot;
}

}  // namespace sluice
