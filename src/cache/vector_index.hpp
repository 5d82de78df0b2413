// VectorIndex: one partition's vectors, searched by inner product (cosine on
// unit vectors). A small partition is a flat array searched exhaustively
// (exact, and about as cheap as a graph search at that size); past
// kGraphFrom vectors it becomes an hnswlib HNSW graph. The conversion
// inserts the kGraphFrom vectors at once, on the event loop: a pause of
// about kGraphFrom inserts (a fraction of a millisecond each), once in the
// life of a partition that grows that large. Private to the cache;
// hnswlib is included from vector_index.cpp only (its header defines
// non-inline functions).
//
// Why not a graph from the first vector: hnswlib 0.6.2 gives every index
// 65,536 update mutexes (about 2.6 MB) up front, and most partitions (one per
// conversation prefix) hold a handful of entries.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace sluice::cache {

class VectorIndex {
 public:
  static constexpr std::size_t kGraphFrom = 512;

  VectorIndex(std::string embedder, std::size_t dimensions);
  ~VectorIndex();
  VectorIndex(const VectorIndex&) = delete;
  VectorIndex& operator=(const VectorIndex&) = delete;

  const std::string& embedder() const noexcept { return embedder_; }
  std::size_t dimensions() const noexcept { return dimensions_; }

  // Adds `vector` (dimensions() floats) under `id`, unique among the live
  // ones. Throws std::bad_alloc / std::runtime_error when memory runs out.
  void add(std::uint64_t id, const float* vector);
  // Removes `id`; nothing when absent. A graph's slot is reused by the next add.
  void remove(std::uint64_t id) noexcept;
  // Up to `k` live ids, most similar first, with their inner products.
  std::vector<std::pair<float, std::uint64_t>> search(const float* query, std::size_t k) const;

  std::size_t size() const noexcept;
  // Memory held, estimated from the layout (for the cache's byte budget).
  std::size_t bytes() const noexcept;

 private:
  struct Graph;
  std::string embedder_;
  std::size_t dimensions_;
  // Flat form: vectors back to back, their ids, and each id's position.
  std::vector<float> flat_;
  std::vector<std::uint64_t> flat_ids_;
  std::unique_ptr<Graph> graph_;
};

}  // namespace sluice::cache
