// VectorIndex: one partition's vectors, searched by inner product (cosine on
// unit vectors). A small partition is a flat array searched exhaustively
// (exact, and about as cheap as a graph search at that size); past
// kGraphFrom vectors it becomes an hnswlib HNSW graph. Private to the cache;
// hnswlib is included from vector_index.cpp only (its header defines
// non-inline functions).
//
// Vectors are kept as int8 with one scale per vector (a quarter of the
// memory of floats); similarities are those of the quantised vectors,
// within about 0.002 of the float ones. The distance runs on AVX2 when the
// CPU has it, whatever the build's instruction set. The graph itself holds
// each vector's sign bits (memory traffic is what a search at 100k entries
// is bound by) and ranks the candidates its walk finds by the int8 codes.
//
// The conversion to a graph is incremental: the partition's next add()s
// each move kMigrateStep flat vectors into the graph besides inserting
// their own, so no single call pays for kGraphFrom inserts; until the flat
// part is empty a search looks in both (the graph, and the rest
// exhaustively), so it answers as before throughout.
//
// Why not a graph from the first vector: hnswlib 0.6.2 gives every index
// 65,536 update mutexes (about 2.6 MB) up front, and most partitions (one per
// conversation prefix) hold a handful of entries.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sluice::cache {

class VectorIndex {
 public:
  static constexpr std::size_t kGraphFrom = 512;
  static constexpr std::size_t kMigrateStep = 8;

  VectorIndex(std::string embedder, std::size_t dimensions);
  ~VectorIndex();
  VectorIndex(const VectorIndex&) = delete;
  VectorIndex& operator=(const VectorIndex&) = delete;

  const std::string& embedder() const noexcept { return embedder_; }
  std::size_t dimensions() const noexcept { return dimensions_; }

  // Adds `vector` (dimensions() floats, a unit vector) under `id`, unique
  // among the live ones. Throws std::bad_alloc / std::runtime_error when
  // memory runs out (the index stays usable, without that vector).
  void add(std::uint64_t id, const float* vector);
  // Removes `id`; nothing when absent. A graph's slot is reused by the next add.
  void remove(std::uint64_t id) noexcept;
  // Up to `k` live ids, most similar first, with their inner products.
  // With `min_similarity` the caller will use none below it, and a graph's
  // walk ends once it has explored around a vector that similar (a hit
  // costs a few hops instead of the whole search breadth); without, the
  // walk is hnswlib's.
  std::vector<std::pair<float, std::uint64_t>> search(const float* query, std::size_t k,
                                                      std::optional<float> min_similarity = std::nullopt) const;
  // The same through hnswlib's own searchKnn (the graph part only): what
  // the test of our graph walk compares it with.
  std::vector<std::pair<float, std::uint64_t>> search_by_hnswlib(const float* query, std::size_t k) const;

  std::size_t size() const noexcept;
  // Memory held, estimated from the layout (for the cache's byte budget).
  std::size_t bytes() const noexcept;
  // True while vectors remain to be moved from the flat form into the graph.
  bool converting() const noexcept;

 private:
  struct Graph;
  std::vector<char> encode(const float* vector) const;
  void migrate(std::size_t count);

  std::string embedder_;
  std::size_t dimensions_;
  std::size_t code_bytes_;  // one encoded vector: padded int8 codes and a float scale
  // Flat form (and, while converting, what is not in the graph yet):
  // encoded vectors back to back, and their ids.
  std::vector<char> flat_;
  std::vector<std::uint64_t> flat_ids_;
  std::unique_ptr<Graph> graph_;
};

}  // namespace sluice::cache
