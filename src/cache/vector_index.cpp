// VectorIndex (vector_index.hpp): int8 vectors, their distance (AVX2 or
// portable, chosen at run time), the flat form and the HNSW graph it turns
// into, which walks sign codes and ranks what it finds by the int8 codes.
// The only file that includes hnswlib.
#include "vector_index.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <queue>
#include <unordered_map>

#include <hnswlib/hnswlib.h>

namespace sluice::cache {

namespace {

// Graph parameters, measured on bench/cache_bench.cpp's worst case (100k
// prompts of made-up words in one partition: no cluster structure for the
// graph to follow, so recall there is the graph's alone). At M 16 /
// ef_construction 64 a search at ef 64 found 72% of the planted near
// duplicates (256-d), at ef 256 90% for four times the distances; M 32 /
// ef_construction 128 finds 96% at ef 64, and 98-99% with 128-d vectors;
// with the graph on sign codes and the ef found ranked by int8, 99.7%
// (docs/benchmarks.md).
constexpr std::size_t kM = 32;                 // graph degree (64 links on the base layer)
constexpr std::size_t kEfConstruction = 128;  // insert cost is proportional
constexpr std::size_t kEf = 64;                // search breadth (recall of near duplicates); at least 4k
constexpr std::size_t kFixedGraphBytes = 65'536 * sizeof(std::mutex) + 4096;
constexpr std::size_t kCodeAlign = 32;  // codes padded to whole AVX2 loads (zeros add nothing)

// An encoded vector: `padded` int8 codes, then the float scale s with
// vector ~= s * codes.
float scale_of(const void* v, std::size_t padded) noexcept {
  float s;
  std::memcpy(&s, static_cast<const char*>(v) + padded, sizeof s);
  return s;
}

// |code| <= 127 and at most 8,192 dimensions: the sum fits an int32.
std::int32_t dot_portable(const std::int8_t* a, const std::int8_t* b, std::size_t n) noexcept {
  std::int32_t sum = 0;
  for (std::size_t i = 0; i < n; ++i) sum += static_cast<std::int32_t>(a[i]) * b[i];
  return sum;
}

float distance_portable(const void* a, const void* b, const void* param) {
  const std::size_t n = *static_cast<const std::size_t*>(param);
  const auto dot = dot_portable(static_cast<const std::int8_t*>(a), static_cast<const std::int8_t*>(b), n);
  return 1.0f - scale_of(a, n) * scale_of(b, n) * static_cast<float>(dot);
}

#if defined(__x86_64__) && defined(__GNUC__)
#define SLUICE_INDEX_AVX2 1
#include <immintrin.h>
// Sign-extended to 16 bits, multiplied and summed in pairs (vpmaddwd): 32
// codes a step. Only intrinsics in here (no code shared with portable
// callers: see src/embed/avx2_gemm.hpp).
__attribute__((target("avx2"))) float distance_avx2(const void* a, const void* b, const void* param) {
  const std::size_t n = *static_cast<const std::size_t*>(param);
  const auto* x = static_cast<const std::int8_t*>(a);
  const auto* y = static_cast<const std::int8_t*>(b);
  __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
  for (std::size_t i = 0; i < n; i += 32) {
    const __m256i x0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i)));
    const __m256i y0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(y + i)));
    const __m256i x1 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i + 16)));
    const __m256i y1 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(y + i + 16)));
    s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(x0, y0));
    s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(x1, y1));
  }
  const __m256i s = _mm256_add_epi32(s0, s1);
  __m128i h = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
  h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
  h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xb1));
  float sa, sb;
  std::memcpy(&sa, x + n, sizeof sa);
  std::memcpy(&sb, y + n, sizeof sb);
  return 1.0f - sa * sb * static_cast<float>(_mm_cvtsi128_si32(h));
}
#endif

// The distance this CPU runs, chosen once.
hnswlib::DISTFUNC<float> distance_function() {
  static const hnswlib::DISTFUNC<float> chosen = [] {
#ifdef SLUICE_INDEX_AVX2
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2")) return distance_avx2;
#endif
    return distance_portable;
  }();
  return chosen;
}

std::size_t padded(std::size_t dimensions) { return (dimensions + kCodeAlign - 1) / kCodeAlign * kCodeAlign; }

// 64-bit words of sign bits a vector of `dimensions` takes.
constexpr std::size_t sign_words(std::size_t dimensions) { return (dimensions + 63) / 64; }

// The graph's own view of a vector: its signs, one bit a dimension, in
// 64-bit words; the distance is the number of differing bits. A near
// duplicate (cosine 0.9) differs in about a seventh of them, an unrelated
// vector in half. Codes sit unaligned in hnswlib's elements: memcpy loads.
inline __attribute__((always_inline)) std::uint32_t hamming_words(const void* a, const void* b,
                                                                   std::size_t words) noexcept {
  std::uint32_t bits = 0;
  for (std::size_t i = 0; i < words; ++i) {
    std::uint64_t x, y;
    std::memcpy(&x, static_cast<const char*>(a) + 8 * i, 8);
    std::memcpy(&y, static_cast<const char*>(b) + 8 * i, 8);
    bits += static_cast<std::uint32_t>(__builtin_popcountll(x ^ y));
  }
  return bits;
}

float hamming_portable(const void* a, const void* b, const void* param) {
  return static_cast<float>(hamming_words(a, b, *static_cast<const std::size_t*>(param)));
}

#if defined(__x86_64__) && defined(__GNUC__)
// The same with the POPCNT instruction (x86-64 baseline builds lack it).
__attribute__((target("popcnt"))) float hamming_popcnt(const void* a, const void* b, const void* param) {
  return static_cast<float>(hamming_words(a, b, *static_cast<const std::size_t*>(param)));
}
#endif

hnswlib::DISTFUNC<float> hamming_function() {
  static const hnswlib::DISTFUNC<float> chosen = [] {
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("popcnt")) return hamming_popcnt;
#endif
    return hamming_portable;
  }();
  return chosen;
}

// hnswlib's view of the graph's codes: their bytes and their distance.
class SignSpace final : public hnswlib::SpaceInterface<float> {
 public:
  explicit SignSpace(std::size_t dimensions) : words_(sign_words(dimensions)), distance_(hamming_function()) {}
  std::size_t get_data_size() override { return words_ * 8; }
  hnswlib::DISTFUNC<float> get_dist_func() override { return distance_; }
  void* get_dist_func_param() override { return &words_; }

 private:
  std::size_t words_;
  hnswlib::DISTFUNC<float> distance_;
};

// The sign bits of an int8 code (a zero code counts as negative).
std::vector<std::uint64_t> signs_of(const char* code, std::size_t dimensions) {
  std::vector<std::uint64_t> words(sign_words(dimensions), 0);
  for (std::size_t i = 0; i < dimensions; ++i)
    if (static_cast<std::int8_t>(code[i]) > 0) words[i / 64] |= std::uint64_t{1} << (i % 64);
  return words;
}

}  // namespace

// The graph holds each vector's sign bits (16 bytes for 128 dimensions, one
// cache line, a popcount distance) and the int8 codes sit beside it by slot:
// a search walks the signs to the ef nearest and ranks those by int8. At 100k
// vectors the walk was a chain of memory misses on 400-byte elements (links,
// 132-byte code, label: 40 MB, past the L3); with 284-byte elements and one
// line a distance it is 1.8x faster at p50 and finds more of the planted near
// duplicates (1,993 of 2,000 against 1,954: a near duplicate differs from the
// query in ~18 bits of 128, anything else in ~64, docs/benchmarks.md).
// hnswlib labels are slots, reused after a removal (addPoint on a deleted
// label revives and relinks it), so a partition under churn does not grow.
struct VectorIndex::Graph {
  std::size_t dimensions;
  std::size_t code_bytes;  // an int8 code and its scale
  SignSpace space;
  hnswlib::HierarchicalNSW<float> hnsw;
  std::size_t capacity;
  std::vector<char> codes;  // by slot: the int8 codes the candidates are ranked by
  // By hnswlib's internal id: each vector's sign words again, packed (1.6 MB
  // at 100k 128-d vectors, where the elements take 28 MB): what the walk
  // reads, so most of its distances hit the cache instead of memory.
  std::vector<std::uint64_t> signs_by_id;
  std::unordered_map<std::uint64_t, hnswlib::labeltype> slot_of;
  std::vector<std::uint64_t> id_of;  // by slot
  std::vector<hnswlib::labeltype> free;

  Graph(std::size_t dimensions, std::size_t code_bytes, std::size_t initial)
      : dimensions(dimensions),
        code_bytes(code_bytes),
        space(dimensions),
        hnsw(&space, initial, kM, kEfConstruction),
        capacity(initial),
        codes(initial * code_bytes),
        signs_by_id(initial * sign_words(dimensions)) {}

  void add(std::uint64_t id, const char* int8_code) {
    const std::vector<std::uint64_t> signs = signs_of(int8_code, dimensions);
    const char* code = reinterpret_cast<const char*>(signs.data());
    hnswlib::labeltype slot;
    const bool revived = !free.empty();
    if (revived) {
      slot = free.back();
      free.pop_back();
    } else {
      slot = id_of.size();
      if (slot >= capacity) {
        hnsw.resizeIndex(capacity * 2);
        codes.resize(capacity * 2 * code_bytes);
        signs_by_id.resize(capacity * 2 * sign_words(dimensions));
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
      hnsw.updatePoint(code, hnsw.label_lookup_.at(slot), 0.0f);
    } else {
      hnsw.addPoint(code, slot);
    }
    std::memcpy(codes.data() + slot * code_bytes, int8_code, code_bytes);
    std::copy(signs.begin(), signs.end(), signs_by_id.begin() + static_cast<std::ptrdiff_t>(
                                                                    hnsw.label_lookup_.at(slot) * signs.size()));
    id_of[slot] = id;
    slot_of.emplace(id, slot);
  }

  // The k of `slots` nearest the query by their int8 codes (distance, slot).
  std::vector<std::pair<float, hnswlib::labeltype>> rank(const char* query, std::vector<hnswlib::labeltype> slots,
                                                         std::size_t k) const {
    for (const auto slot : slots) {
      __builtin_prefetch(codes.data() + slot * code_bytes);
      __builtin_prefetch(codes.data() + slot * code_bytes + code_bytes - 1);
    }
    const auto distance = distance_function();
    std::size_t n = padded(dimensions);
    std::vector<std::pair<float, hnswlib::labeltype>> out;
    out.reserve(slots.size());
    for (const auto slot : slots) out.emplace_back(distance(query, codes.data() + slot * code_bytes, &n), slot);
    const std::size_t kept = std::min(k, out.size());
    std::partial_sort(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(kept), out.end());
    out.resize(kept);
    return out;
  }

  // `within`: the largest int8 distance an answer may have (1 - the
  // least similarity), when the caller has one: the walk may then end early.
  std::vector<std::pair<float, hnswlib::labeltype>> search(const char* query, std::size_t ef, std::size_t k,
                                                           std::optional<float> within) const {
    const std::vector<std::uint64_t> signs = signs_of(query, dimensions);
    std::optional<Near> near;
    if (within) near = Near{query, *within};
    return rank(query, walk(reinterpret_cast<const char*>(signs.data()), ef, near ? &*near : nullptr), k);
  }

  // What lets a walk end early: the query's int8 code and the largest
  // distance an answer may have. Once the walk has met a vector that close
  // (its nearest yet, checked by int8) at `anchor` bits, it explores the
  // ball of `anchor` + an eighth of the bits around the query and stops;
  // the beam's remaining ef would be spent confirming that nothing else is
  // near. A near duplicate differs from the query in ~18 of 128 bits, other
  // prompts of a workload in 40-64 (they share its common words): with a
  // quarter of the bits the walk went on for 30 hops, with an eighth it
  // ends after 4 (bench/cache_bench.cpp at 10k; a full walk takes 75). A
  // miss, which meets nothing that close, walks the whole beam.
  struct Near {
    const char* query;
    float within;
    float anchor = -1;  // hamming bits of the nearest vector found within reach; -1: none yet
  };

  // The slots of the ef nearest by sign codes, as hnswlib's searchKnn finds
  // them (the same walk and answers: a test compares them), but each hop on
  // the base layer first marks its unvisited neighbours and prefetches all
  // their codes (from signs_by_id), then computes the distances; hnswlib
  // prefetches one neighbour ahead, so its misses come one after another.
  // With `near`, the walk may end early (see Near).
  std::vector<hnswlib::labeltype> walk(const char* query, std::size_t ef, Near* near = nullptr) const {
    using hnswlib::tableint;
    std::vector<hnswlib::labeltype> out;
    if (hnsw.cur_element_count == 0) return out;
    const std::size_t words = sign_words(dimensions);
    const std::uint64_t* signs = signs_by_id.data();
    const auto distance = [&](tableint id) {
      return hnsw.fstdistfunc_(query, signs + id * words, hnsw.dist_func_param_);
    };
    // Down the upper layers greedily, as hnswlib does.
    tableint current = hnsw.enterpoint_node_;
    float current_distance = distance(current);
    for (int level = hnsw.maxlevel_; level > 0; --level) {
      for (bool moved = true; moved;) {
        moved = false;
        hnswlib::linklistsizeint* links = hnsw.get_linklist(current, level);
        const tableint* next = reinterpret_cast<const tableint*>(links + 1);
        for (int i = 0, n = hnsw.getListCount(links); i < n; ++i) {
          if (const float d = distance(next[i]); d < current_distance) {
            current_distance = d;
            current = next[i];
            moved = true;
          }
        }
      }
    }
    // The base layer: a beam of `ef`, in hnswlib's queues and order (ties
    // included): `open` holds negated distances, so its top is the nearest.
    const bool deletions = hnsw.num_deleted_ > 0;
    hnswlib::VisitedList* visited_list = hnsw.visited_list_pool_->getFreeVisitedList();
    hnswlib::vl_type* visited = visited_list->mass;
    const hnswlib::vl_type tag = visited_list->curV;
    using Scored = std::pair<float, tableint>;
    using Queue = std::priority_queue<Scored, std::vector<Scored>, hnswlib::HierarchicalNSW<float>::CompareByFirst>;
    Queue best;  // the farthest on top, at most ef
    Queue open;
    float bound = std::numeric_limits<float>::max();
    if (!deletions || !hnsw.isMarkedDeleted(current)) {
      bound = current_distance;
      best.emplace(current_distance, current);
    }
    open.emplace(-bound, current);
    visited[current] = tag;
    tableint fresh[2 * kM];
    const float ball = static_cast<float>(words * 64) / 8;
    std::size_t padded_dimensions = padded(dimensions);
    const auto within_reach = [&](tableint id) {
      if (deletions && hnsw.isMarkedDeleted(id)) return false;
      const char* code = codes.data() + hnsw.getExternalLabel(id) * code_bytes;
      return distance_function()(near->query, code, &padded_dimensions) <= near->within;
    };
    float nearest = current_distance;
    if (near && within_reach(current)) near->anchor = current_distance;
    while (!open.empty()) {
      const auto [negated, id] = open.top();
      if (-negated > bound && (best.size() == ef || !deletions)) break;
      if (near && near->anchor >= 0 && -negated > near->anchor + ball) break;
      open.pop();
      hnswlib::linklistsizeint* links = hnsw.get_linklist0(id);
      const tableint* neighbours = reinterpret_cast<const tableint*>(links + 1);
      std::size_t count = 0;
      for (std::size_t i = 0, n = std::min<std::size_t>(hnsw.getListCount(links), 2 * kM); i < n; ++i) {
        const tableint next = neighbours[i];
        if (visited[next] == tag) continue;
        visited[next] = tag;
        fresh[count++] = next;
        __builtin_prefetch(signs + next * words);
        __builtin_prefetch(signs + next * words + words - 1);
      }
      for (std::size_t i = 0; i < count; ++i) {
        const float d = distance(fresh[i]);
        if (near && d < nearest) {
          nearest = d;
          if (within_reach(fresh[i])) near->anchor = d;
        }
        if (best.size() < ef || d < bound) {
          open.emplace(-d, fresh[i]);
          // Its links, in case it is the next hop: the first touch of a
          // node's links is otherwise a miss the walk waits for.
          __builtin_prefetch(hnsw.get_linklist0(fresh[i]));
          if (!deletions || !hnsw.isMarkedDeleted(fresh[i])) best.emplace(d, fresh[i]);
          if (best.size() > ef) best.pop();
          if (!best.empty()) bound = best.top().first;
        }
      }
    }
    hnsw.visited_list_pool_->releaseVisitedList(visited_list);
    for (; !best.empty(); best.pop()) out.push_back(hnsw.getExternalLabel(best.top().second));
    return out;
  }
};

VectorIndex::VectorIndex(std::string embedder, std::size_t dimensions)
    : embedder_(std::move(embedder)), dimensions_(dimensions), code_bytes_(padded(dimensions) + sizeof(float)) {}

VectorIndex::~VectorIndex() = default;

std::vector<char> VectorIndex::encode(const float* vector) const {
  std::vector<char> code(code_bytes_, 0);
  float top = 0;
  for (std::size_t i = 0; i < dimensions_; ++i)
    if (std::isfinite(vector[i])) top = std::max(top, std::fabs(vector[i]));
  const float to_code = top > 0 ? 127.0f / top : 0.0f;
  auto* codes = reinterpret_cast<std::int8_t*>(code.data());
  for (std::size_t i = 0; i < dimensions_; ++i)
    codes[i] = std::isfinite(vector[i]) ? static_cast<std::int8_t>(std::lrint(vector[i] * to_code)) : 0;
  const float scale = top / 127.0f;
  std::memcpy(code.data() + padded(dimensions_), &scale, sizeof scale);
  return code;
}

void VectorIndex::add(std::uint64_t id, const float* vector) {
  const auto code = encode(vector);
  if (!graph_ && flat_ids_.size() < kGraphFrom) {
    flat_.insert(flat_.end(), code.begin(), code.end());
    flat_ids_.push_back(id);
    return;
  }
  if (!graph_) graph_ = std::make_unique<Graph>(dimensions_, code_bytes_, kGraphFrom * 2);
  graph_->add(id, code.data());
  migrate(kMigrateStep);
}

// Moves up to `count` vectors from the back of the flat form into the graph.
void VectorIndex::migrate(std::size_t count) {
  for (; count > 0 && !flat_ids_.empty(); --count) {
    graph_->add(flat_ids_.back(), flat_.data() + flat_.size() - code_bytes_);  // throws: stays flat
    flat_ids_.pop_back();
    flat_.resize(flat_.size() - code_bytes_);
  }
  if (flat_ids_.empty()) {
    std::vector<char>().swap(flat_);
    std::vector<std::uint64_t>().swap(flat_ids_);
  }
}

void VectorIndex::remove(std::uint64_t id) noexcept {
  if (graph_) {
    if (const auto it = graph_->slot_of.find(id); it != graph_->slot_of.end()) {
      try {
        graph_->hnsw.markDelete(it->second);
        graph_->free.push_back(it->second);
      } catch (...) {  // not found in the graph: nothing to free
      }
      graph_->slot_of.erase(it);
      return;
    }
  }
  const auto it = std::find(flat_ids_.begin(), flat_ids_.end(), id);
  if (it == flat_ids_.end()) return;
  const std::size_t i = static_cast<std::size_t>(it - flat_ids_.begin()), last = flat_ids_.size() - 1;
  if (i != last) {
    flat_ids_[i] = flat_ids_[last];
    std::memcpy(flat_.data() + i * code_bytes_, flat_.data() + last * code_bytes_, code_bytes_);
  }
  flat_ids_.pop_back();
  flat_.resize(flat_.size() - code_bytes_);
}

std::vector<std::pair<float, std::uint64_t>> VectorIndex::search(const float* query, std::size_t k,
                                                                  std::optional<float> min_similarity) const {
  std::vector<std::pair<float, std::uint64_t>> out;
  if (k == 0 || size() == 0) return out;
  const auto code = encode(query);
  if (graph_ && !graph_->slot_of.empty()) {
    const std::optional<float> within = min_similarity ? std::optional<float>(1.0f - *min_similarity) : std::nullopt;
    for (const auto& [distance, slot] : graph_->search(code.data(), std::max(kEf, 4 * k), k, within))
      out.emplace_back(1.0f - distance, graph_->id_of[slot]);
  }
  if (!flat_ids_.empty()) {
    const auto distance = distance_function();
    const std::size_t n = padded(dimensions_);
    for (std::size_t i = 0; i < flat_ids_.size(); ++i)
      out.emplace_back(1.0f - distance(code.data(), flat_.data() + i * code_bytes_, &n), flat_ids_[i]);
  }
  const std::size_t n = std::min(k, out.size());
  std::partial_sort(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n), out.end(),
                    [](const auto& a, const auto& b) { return a.first > b.first; });
  out.resize(n);
  return out;
}

std::vector<std::pair<float, std::uint64_t>> VectorIndex::search_by_hnswlib(const float* query, std::size_t k) const {
  std::vector<std::pair<float, std::uint64_t>> out;
  if (!graph_ || k == 0) return out;
  const std::size_t ef = std::max(kEf, 4 * k);
  graph_->hnsw.setEf(ef);
  const auto code = encode(query);
  const auto signs = signs_of(code.data(), dimensions_);
  auto found = graph_->hnsw.searchKnn(signs.data(), ef);
  std::vector<hnswlib::labeltype> slots;
  for (; !found.empty(); found.pop()) slots.push_back(found.top().second);
  for (const auto& [distance, slot] : graph_->rank(code.data(), std::move(slots), k))
    out.emplace_back(1.0f - distance, graph_->id_of[slot]);
  return out;
}

std::size_t VectorIndex::size() const noexcept {
  return (graph_ ? graph_->slot_of.size() : 0) + flat_ids_.size();
}

bool VectorIndex::converting() const noexcept { return graph_ && !flat_ids_.empty(); }

std::size_t VectorIndex::bytes() const noexcept {
  std::size_t total = sizeof(*this) + embedder_.capacity() + flat_.capacity() +
                      flat_ids_.capacity() * sizeof(std::uint64_t);
  if (!graph_) return total;
  // Per slot: the base layer (vector, links, label), a mutex, a level, the
  // visited-list mark, the walk's packed signs and our two maps; upper
  // layers are ~1/M of that.
  const std::size_t base = sign_words(dimensions_) * 8 + (2 * kM + 1) * sizeof(std::uint32_t) + sizeof(hnswlib::labeltype);
  const std::size_t per_slot = base + base / kM + code_bytes_ + sign_words(dimensions_) * 8 + sizeof(std::mutex) +
                               sizeof(int) + sizeof(unsigned short) + sizeof(std::uint64_t) + 48 /* label and id maps */;
  return total + kFixedGraphBytes + graph_->capacity * per_slot;
}

}  // namespace sluice::cache
