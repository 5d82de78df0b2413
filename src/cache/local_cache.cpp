// The in-process cache (make_cache): the exact tier (a hash map), the
// semantic tier (one VectorIndex per partition, made on the partition's first
// vector and dropped with its last), one LRU order across both, and the
// budgets (max_entries, max_bytes, max_entry_bytes, ttl).
//
// Thread model: everything here runs on the caller's event loop; only the
// embedding is elsewhere (Embedding, on its worker pool), so no lock is
// needed. State may change while a lookup awaits its embedding: the search
// starts after it.
#include <cstdio>
#include <list>
#include <unordered_map>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "shared.hpp"
#include "sluice/core/log.hpp"
#include "store.hpp"
#include "vector_index.hpp"

namespace sluice::cache {

namespace asio = boost::asio;

std::string hex_id(std::uint64_t hash) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash));
  return text;
}

namespace {

// Bookkeeping per entry besides its strings: the node, the map slots, the
// LRU link, the shared_ptr control block.
constexpr std::size_t kNodeOverhead = 160;

struct Node {
  Record record;
  std::uint64_t id = 0;  // its label in the partition's index (when indexed)
  bool indexed = false;
  std::size_t bytes = 0;
  std::list<std::uint64_t>::iterator lru;  // in lru_, by exact hash
};

std::size_t entry_bytes(const Record& r) {
  const Entry& e = *r.entry;
  return kNodeOverhead + sizeof(Entry) + e.body.capacity() + e.prompt.capacity() + e.id.capacity() +
         e.embedder.capacity() + r.tenant.capacity();
}

class LocalCache final : public Cache {
 public:
  LocalCache(const CacheConfig& config, CacheParts parts) : config_(config), parts_(std::move(parts)) {
    if (!parts_.redis) return;
    if (!parts_.redis_config || !parts_.executor) {
      log::warn("cache_redis_not_shared", {{"reason", "no feed connection configured"}});
      return;
    }
    sharing_ = std::make_unique<Sharing>(*parts_.redis, *parts_.redis_config, parts_.executor, config_,
                                         [this](Record record) { adopt(std::move(record), false); },
                                         [this](std::uint64_t exact, std::int64_t stored_ms) {
                                           const auto it = nodes_.find(exact);
                                           return it != nodes_.end() &&
                                                  it->second.record.entry->stored_at >=
                                                      std::chrono::system_clock::time_point(
                                                          std::chrono::milliseconds(stored_ms));
                                         });
  }

  ~LocalCache() override { sharing_.reset(); }

  asio::awaitable<Found> lookup(const Key& key, std::optional<float> min_similarity) override {
    Found found;
    try {
      if (const auto hit = find_exact(key)) {
        found.outcome = Outcome::hit_exact;
        found.entry = hit->record.entry;
        co_return found;
      }
      if (!key.semantic || !parts_.embedding) co_return found;
      auto vector = co_await embed(key.prompt);
      if (!vector) co_return found;
      search(key, *vector, min_similarity, found);
      found.vector = std::move(*vector);
    } catch (const std::exception& e) {
      log::warn("cache_lookup_failed", {{"error", e.what()}});
      found = Found{};
    }
    co_return found;
  }

  asio::awaitable<void> store(const Key& key, Entry entry, std::vector<float> vector) override {
    try {
      const bool semantic = key.semantic && parts_.embedding;
      entry.prompt = semantic ? key.prompt : std::string();
      if (entry.body.size() + entry.prompt.size() > config_.max_entry_bytes) co_return;
      const auto now = parts_.clock->wall();
      entry.id = hex_id(key.exact);
      entry.stored_at = now;
      entry.expires_at = now + std::chrono::duration_cast<std::chrono::system_clock::duration>(config_.ttl);
      entry.embedder.clear();
      if (semantic) {
        if (vector.size() != parts_.embedding->dimensions()) {
          auto embedded = co_await embed(key.prompt);
          vector = embedded ? std::move(*embedded) : std::vector<float>{};
        }
        if (!vector.empty()) entry.embedder = std::string(parts_.embedding->name());
      } else {
        vector.clear();
      }
      Record record{key.exact, key.partition, key.tenant, key.endpoint,
                    std::make_shared<const Entry>(std::move(entry)), std::move(vector)};
      if (sharing_) sharing_->publish(record);
      adopt(std::move(record), true);
    } catch (const std::exception& e) {
      log::warn("cache_store_failed", {{"error", e.what()}});
    }
  }

  Stats stats() const override { return {nodes_.size(), bytes_, indexes_.size(), evictions_}; }

 private:
  // A live entry stored under the key's exact hash, for the key's tenant and
  // endpoint (compared too: a 64-bit hash is not a proof).
  Node* find_exact(const Key& key) {
    const auto it = nodes_.find(key.exact);
    if (it == nodes_.end()) return nullptr;
    Node& node = it->second;
    if (node.record.tenant != key.tenant || node.record.endpoint != key.endpoint ||
        node.record.partition != key.partition)
      return nullptr;
    if (expired(node)) {
      remove(it);
      return nullptr;
    }
    touch(node);
    return &node;
  }

  bool expired(const Node& node) const { return parts_.clock->wall() >= node.record.entry->expires_at; }

  void touch(Node& node) { lru_.splice(lru_.begin(), lru_, node.lru); }

  // The key's prompt embedded within semantic.embed_timeout; nullopt on a
  // timeout, an error, or a vector of the wrong size.
  asio::awaitable<std::optional<std::vector<float>>> embed(const std::string& prompt) {
    using namespace asio::experimental::awaitable_operators;
    if (auto vector = parts_.embedding->embed_at_once(prompt)) co_return sized(std::move(*vector));
    asio::steady_timer timer(co_await asio::this_coro::executor, config_.semantic.embed_timeout);
    auto raced = co_await (embed_now(prompt) || timer.async_wait(asio::use_awaitable));
    if (raced.index() != 0) {
      log::warn("cache_embed_timeout", {{"timeout_ms", config_.semantic.embed_timeout.count()}});
      co_return std::nullopt;
    }
    co_return std::move(std::get<0>(raced));
  }

  asio::awaitable<std::optional<std::vector<float>>> embed_now(std::string prompt) {
    auto result = co_await parts_.embedding->embed(std::move(prompt));
    if (!result) {
      log::warn("cache_embed_failed", {{"error", result.error().message}});
      co_return std::nullopt;
    }
    co_return sized(std::move(*result));
  }

  // A vector of the embedder's size, or none (never compared, never stored).
  std::optional<std::vector<float>> sized(std::vector<float> vector) const {
    if (vector.size() != parts_.embedding->dimensions()) return std::nullopt;
    return vector;
  }

  void search(const Key& key, const std::vector<float>& vector, std::optional<float> min_similarity, Found& found) {
    const auto index_it = indexes_.find(key.partition);
    if (index_it == indexes_.end()) return;
    const VectorIndex& index = *index_it->second;
    const auto name = parts_.embedding->name();
    if (index.embedder() != name || index.dimensions() != vector.size()) return;
    float threshold = static_cast<float>(config_.semantic.threshold);
    if (min_similarity && *min_similarity > threshold) threshold = *min_similarity;
    const auto near = index.search(vector.data(), static_cast<std::size_t>(config_.semantic.candidates), threshold);
    for (const auto& [similarity, id] : near) {
      if (similarity < threshold) break;
      const auto by_id = by_id_.find(id);
      if (by_id == by_id_.end()) continue;
      const auto it = nodes_.find(by_id->second);
      if (it == nodes_.end()) continue;
      Node& node = it->second;
      const Record& r = node.record;
      // The index is the partition's, so these hold; checked anyway, since
      // serving another tenant's answer is the one unforgivable mistake.
      if (r.partition != key.partition || r.tenant != key.tenant || r.endpoint != key.endpoint ||
          r.entry->embedder != name)
        continue;
      if (expired(node)) {
        remove(it);
        continue;
      }
      const Verdict verdict = parts_.verify(r.entry->prompt, key.prompt);
      if (!verdict.same) {
        if (found.rejected_by.empty()) found.rejected_by = std::string(verdict.rule);
        log::debug("cache_candidate_rejected", {{"rule", std::string(verdict.rule)}, {"similarity", similarity}});
        continue;
      }
      touch(node);
      found.outcome = Outcome::hit_semantic;
      found.entry = r.entry;
      found.similarity = similarity;
      found.rejected_by.clear();
      return;
    }
  }

  // Takes `record` into both tiers and evicts what the budgets require.
  // `own`: stored here (else learnt from another replica).
  void adopt(Record record, bool own) {
    if (parts_.clock->wall() >= record.entry->expires_at) return;
    if (record.entry->body.size() + record.entry->prompt.size() > config_.max_entry_bytes) return;
    if (const auto old = nodes_.find(record.exact); old != nodes_.end()) {
      // Our own entries come back through the feed; an older copy never replaces a newer one.
      if (!own && old->second.record.entry->stored_at >= record.entry->stored_at) return;
      remove(old);
    }
    const std::uint64_t exact = record.exact;
    Node& node = nodes_[exact];
    node.record = std::move(record);
    node.bytes = entry_bytes(node.record);
    lru_.push_front(exact);
    node.lru = lru_.begin();
    bytes_ += node.bytes;
    index(node);
    evict();
  }

  void index(Node& node) {
    Record& r = node.record;
    // A vector of another embedder (another replica's) is never compared
    // with ours: its entry serves the exact tier only.
    if (r.vector.empty() || r.entry->embedder.empty() || !parts_.embedding ||
        r.entry->embedder != parts_.embedding->name() || r.vector.size() != parts_.embedding->dimensions()) {
      std::vector<float>().swap(r.vector);
      return;
    }
    auto& slot = indexes_[r.partition];
    if (!slot) {
      slot = std::make_unique<VectorIndex>(r.entry->embedder, r.vector.size());
      bytes_ += slot->bytes();
    }
    VectorIndex& index = *slot;
    if (index.embedder() != r.entry->embedder || index.dimensions() != r.vector.size()) {
      r.vector.clear();
      return;  // another embedder's vector: this entry serves the exact tier only
    }
    const std::size_t before = index.bytes();
    try {
      node.id = ++next_id_;
      index.add(node.id, r.vector.data());
      node.indexed = true;
      by_id_.emplace(node.id, r.exact);
    } catch (const std::exception& e) {
      log::warn("cache_index_failed", {{"error", e.what()}});
    }
    bytes_ += index.bytes() - before;
    if (index.size() == 0 && !node.indexed) drop_index(r.partition);
    std::vector<float>().swap(r.vector);  // the index holds it now
  }

  void drop_index(std::uint64_t partition) {
    const auto it = indexes_.find(partition);
    if (it == indexes_.end()) return;
    bytes_ -= it->second->bytes();
    indexes_.erase(it);
  }

  void remove(std::unordered_map<std::uint64_t, Node>::iterator it) {
    Node& node = it->second;
    if (node.indexed) {
      by_id_.erase(node.id);
      if (const auto index_it = indexes_.find(node.record.partition); index_it != indexes_.end()) {
        VectorIndex& index = *index_it->second;
        const std::size_t before = index.bytes();
        index.remove(node.id);
        bytes_ = bytes_ + index.bytes() - before;
        if (index.size() == 0) drop_index(node.record.partition);
      }
    }
    bytes_ -= node.bytes;
    lru_.erase(node.lru);
    nodes_.erase(it);
  }

  void evict() {
    while (!lru_.empty() && (nodes_.size() > config_.max_entries || bytes_ > config_.max_bytes)) {
      remove(nodes_.find(lru_.back()));
      ++evictions_;
    }
  }

  CacheConfig config_;
  CacheParts parts_;
  std::unordered_map<std::uint64_t, Node> nodes_;       // by exact hash
  std::unordered_map<std::uint64_t, std::uint64_t> by_id_;  // index label -> exact hash
  std::unordered_map<std::uint64_t, std::unique_ptr<VectorIndex>> indexes_;  // by partition
  std::list<std::uint64_t> lru_;  // exact hashes, most recently used first
  std::size_t bytes_ = 0;
  std::uint64_t next_id_ = 0;
  std::uint64_t evictions_ = 0;
  std::unique_ptr<Sharing> sharing_;  // last: stopped before the rest goes
};

}  // namespace

std::unique_ptr<Cache> make_cache(const CacheConfig& config, CacheParts parts) {
  if (!parts.clock) parts.clock = std::make_shared<SteadyClock>();
  if (parts.embedding && !parts.verify) parts.embedding.reset();  // never serve an unverified neighbour
  return std::make_unique<LocalCache>(config, std::move(parts));
}

}  // namespace sluice::cache
