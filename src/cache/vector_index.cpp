// VectorIndex (vector_index.hpp): the flat form, and the HNSW graph it turns
// into. The only file that includes hnswlib.
#include "vector_index.hpp"

#include <algorithm>
#include <unordered_map>

#include <hnswlib/hnswlib.h>

namespace sluice::cache {

namespace {

constexpr std::size_t kM = 16;                 // graph degree (32 links on the base layer)
constexpr std::size_t kEfConstruction = 64;   // insert cost is proportional: stores run on the event loop
constexpr std::size_t kMinEf = 64;             // search breadth (recall of near duplicates); at least 4k
constexpr std::size_t kFixedGraphBytes = 65'536 * sizeof(std::mutex) + 4096;

// Eight partial sums: the compiler vectorises them without -ffast-math
// (one running sum would pin the order of the additions).
float dot(const float* a, const float* b, std::size_t n) noexcept {
  float s[8] = {};
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (std::size_t j = 0; j < 8; ++j) s[j] += a[i + j] * b[i + j];
  float sum = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

}  // namespace

// hnswlib labels are slots, reused after a removal (addPoint on a deleted
// label revives and relinks it), so a partition under churn does not grow.
struct VectorIndex::Graph {
  hnswlib::InnerProductSpace space;
  hnswlib::HierarchicalNSW<float> hnsw;
  std::size_t capacity;
  std::unordered_map<std::uint64_t, hnswlib::labeltype> slot_of;
  std::vector<std::uint64_t> id_of;  // by slot
  std::vector<hnswlib::labeltype> free;

  Graph(std::size_t dimensions, std::size_t initial)
      : space(dimensions), hnsw(&space, initial, kM, kEfConstruction), capacity(initial) {}

  void add(std::uint64_t id, const float* vector) {
    hnswlib::labeltype slot;
    const bool revived = !free.empty();
    if (revived) {
      slot = free.back();
      free.pop_back();
    } else {
      slot = id_of.size();
      if (slot >= capacity) {
        hnsw.resizeIndex(capacity * 2);
        capacity *= 2;
      }
      id_of.push_back(0);
    }
    // Out of memory half way through: the exception leaves the slot unused
    // (its label maps to no live id, so a search that meets it skips it).
    if (revived) {
      // A deleted slot, revived and relinked for its new vector alone; its
      // old neighbours keep their links to it (to the new vector now).
      // addPoint on a deleted label would relink every neighbour too
      // (updatePoint with probability 1): milliseconds a store.
      hnsw.unmarkDelete(slot);
      hnsw.updatePoint(vector, hnsw.label_lookup_.at(slot), 0.0f);
    } else {
      hnsw.addPoint(vector, slot);
    }
    id_of[slot] = id;
    slot_of.emplace(id, slot);
  }
};

VectorIndex::VectorIndex(std::string embedder, std::size_t dimensions)
    : embedder_(std::move(embedder)), dimensions_(dimensions) {}

VectorIndex::~VectorIndex() = default;

void VectorIndex::add(std::uint64_t id, const float* vector) {
  if (graph_) return graph_->add(id, vector);
  if (flat_ids_.size() < kGraphFrom) {
    flat_.insert(flat_.end(), vector, vector + dimensions_);
    flat_ids_.push_back(id);
    return;
  }
  auto graph = std::make_unique<Graph>(dimensions_, kGraphFrom * 2);
  for (std::size_t i = 0; i < flat_ids_.size(); ++i) graph->add(flat_ids_[i], flat_.data() + i * dimensions_);
  graph->add(id, vector);
  graph_ = std::move(graph);
  std::vector<float>().swap(flat_);
  std::vector<std::uint64_t>().swap(flat_ids_);
}

void VectorIndex::remove(std::uint64_t id) noexcept {
  if (graph_) {
    const auto it = graph_->slot_of.find(id);
    if (it == graph_->slot_of.end()) return;
    try {
      graph_->hnsw.markDelete(it->second);
      graph_->free.push_back(it->second);
    } catch (...) {  // not found in the graph: nothing to free
    }
    graph_->slot_of.erase(it);
    return;
  }
  const auto it = std::find(flat_ids_.begin(), flat_ids_.end(), id);
  if (it == flat_ids_.end()) return;
  const std::size_t i = static_cast<std::size_t>(it - flat_ids_.begin()), last = flat_ids_.size() - 1;
  if (i != last) {
    flat_ids_[i] = flat_ids_[last];
    std::copy_n(flat_.begin() + static_cast<std::ptrdiff_t>(last * dimensions_), dimensions_,
                flat_.begin() + static_cast<std::ptrdiff_t>(i * dimensions_));
  }
  flat_ids_.pop_back();
  flat_.resize(flat_.size() - dimensions_);
}

std::vector<std::pair<float, std::uint64_t>> VectorIndex::search(const float* query, std::size_t k) const {
  std::vector<std::pair<float, std::uint64_t>> out;
  if (k == 0) return out;
  if (graph_) {
    if (graph_->slot_of.empty()) return out;
    graph_->hnsw.setEf(std::max(kMinEf, 4 * k));
    auto found = graph_->hnsw.searchKnn(query, k);
    while (!found.empty()) {
      const auto [distance, slot] = found.top();
      found.pop();
      out.emplace_back(1.0f - distance, graph_->id_of[slot]);
    }
    std::reverse(out.begin(), out.end());  // the queue pops the farthest first
    return out;
  }
  out.reserve(flat_ids_.size());
  for (std::size_t i = 0; i < flat_ids_.size(); ++i)
    out.emplace_back(dot(query, flat_.data() + i * dimensions_, dimensions_), flat_ids_[i]);
  const std::size_t n = std::min(k, out.size());
  std::partial_sort(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n), out.end(),
                    [](const auto& a, const auto& b) { return a.first > b.first; });
  out.resize(n);
  return out;
}

std::size_t VectorIndex::size() const noexcept { return graph_ ? graph_->slot_of.size() : flat_ids_.size(); }

std::size_t VectorIndex::bytes() const noexcept {
  std::size_t total = sizeof(*this) + embedder_.capacity();
  if (!graph_) return total + flat_.capacity() * sizeof(float) + flat_ids_.capacity() * sizeof(std::uint64_t);
  // Per slot: the base layer (vector, links, label), a mutex, a level, the
  // visited-list mark, and our two maps; upper layers are ~1/M of that.
  const std::size_t base = dimensions_ * sizeof(float) + (2 * kM + 1) * sizeof(std::uint32_t) + sizeof(hnswlib::labeltype);
  const std::size_t per_slot = base + base / kM + sizeof(std::mutex) + sizeof(int) + sizeof(unsigned short) +
                               sizeof(std::uint64_t) + 48 /* label and id maps */;
  return total + kFixedGraphBytes + graph_->capacity * per_slot;
}

}  // namespace sluice::cache
