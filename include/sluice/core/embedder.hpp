// Embedder: text -> a unit vector, in-process. What the router's knn mode
// (and, later, the semantic cache) compares texts with. Synchronous on
// purpose: an embedder used on the hot path never does I/O; an embedding
// deployment reached over the network needs an interface of its own.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

class Embedder {
 public:
  virtual ~Embedder() = default;

  // Names the embedder and its version: vectors of different embedders are
  // never compared.
  virtual std::string_view name() const = 0;
  virtual std::size_t dimensions() const = 0;
  // dimensions() floats with an L2 norm of 1 (all zero for a text with
  // nothing to embed). Never throws; cost linear in the text.
  virtual std::vector<float> embed(std::string_view text) const = 0;
  // A few microseconds a kilobyte and no model: cheaper on the calling
  // thread than handed to another one and back (the cache's worker pool
  // then embeds short texts at once).
  virtual bool cheap() const { return false; }
};

// The weightless built-in: words, word pairs and character trigrams hashed
// into `dimensions` signed buckets. It sees shared vocabulary, not meaning;
// a sentence encoder with real weights is the semantic cache's to bring.
// Its name carries the size unless 512 ("hashed-ngram-v1-256d"): vectors of
// different sizes are never compared.
std::unique_ptr<Embedder> make_hashed_embedder(std::size_t dimensions = 512);

// The size the semantic cache's hashed-ngram embedder uses: a quarter of
// the bytes a search reads at 512, and a graph the search finds its way in
// more often (fewer dimensions), with the same precision and recall on
// tests/data/cache as 256 and 512 (docs/benchmarks.md).
inline constexpr std::size_t kCacheHashedDimensions = 128;

// Cosine similarity of two unit vectors of the same length.
float cosine(const std::vector<float>& a, const std::vector<float>& b) noexcept;

}  // namespace sluice
