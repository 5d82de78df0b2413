// Cache: answers already paid for, served again to the same question (the
// exact tier) or to one that means the same (the semantic tier: candidates
// retrieved by embedding, then checked by the Verifier before one is
// served). Data only, like every stage: the pipeline asks lookup() before
// routing and store() after a complete 2xx answer, and turns an Entry into an
// Answer (replayed as a stream when the request streams).
//
// Precision first: a wrong cached answer is worse than a miss. A semantic
// neighbour must share the key's partition (tenant, endpoint, model, system
// prompt, earlier turns, tools and every answer-changing parameter): the
// partition selects the index searched, it is never a filter applied after.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <functional>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "sluice/cache/verifier.hpp"
#include "sluice/core/clock.hpp"
#include "sluice/core/embedder.hpp"
#include "sluice/core/error.hpp"

#include "sluice/core/config.hpp"
#include "sluice/core/request.hpp"

namespace sluice::redis {
class Client;
}

namespace sluice::cache {

// What a request is cached under, computed once per request (make_key).
struct Key {
  std::string tenant;
  Endpoint endpoint = Endpoint::chat_completions;
  // xxh64 of the canonical request: tenant, endpoint, model and the body less
  // what never changes an answer (stream, stream_options, user, metadata...),
  // objects with sorted keys, so equal requests hash equal however written.
  std::uint64_t exact = 0;
  // The same with the last user turn left out: what a semantic neighbour
  // must share exactly.
  std::uint64_t partition = 0;
  // The last user turn's text (text parts joined by "\n"): what the
  // semantic tier embeds and verifies. Empty unless `semantic`.
  std::string prompt;
  // The semantic tier may answer and learn this request: it is enabled, the
  // request's last turn is the user's and all text, at most
  // semantic.max_prompt_chars code points (a longer one is never truncated:
  // it is exact-only), and its temperature (1, the providers' default, when
  // the request sets none) is at most semantic.max_temperature.
  bool semantic = false;
};

// The key of `req` for `tenant`; nullopt when the request is never cached
// (n other than 1, count_tokens, a body that cannot be parsed or is nested
// deeper than 64). Linear in the body (each object's keys are sorted).
// `config.enabled` is not checked here: the caller asks only when it is.
std::optional<Key> make_key(const LlmRequest& req, std::string_view tenant, const CacheConfig& config);

// A stored answer: complete and 2xx, in `format`'s shape. A stream is stored
// as the complete answer its events add up to; a hit replays it as a stream
// when the request streams.
struct Entry {
  Endpoint format = Endpoint::chat_completions;
  std::string body;
  Usage usage;            // what the answer cost when it was made: what a hit saves
  // Set by store(), whatever the caller put there:
  std::string prompt;     // the key's prompt, for the verifier
  std::string id;         // names the entry in x-sluice-cache-key: the exact hash, 16 hex digits
  std::string embedder;   // the embedder that made its vector ("" in the exact tier only)
  std::chrono::system_clock::time_point stored_at, expires_at;  // the clock's wall time, + ttl
};

enum class Outcome { hit_exact, hit_semantic, miss, bypass };
// "hit-exact", "hit-semantic", "miss", "bypass": the x-sluice-cache values.
std::string_view to_string(Outcome outcome) noexcept;

struct Found {
  Outcome outcome = Outcome::miss;
  std::shared_ptr<const Entry> entry;  // set on a hit
  float similarity = 0;                // hit_semantic: the served candidate's cosine
  std::string rejected_by;             // a miss after candidates: the verifier rule that refused the nearest
  // The key's prompt embedded during the lookup (semantic keys): handed back
  // to store() so a miss is not embedded twice. Empty when not embedded.
  std::vector<float> vector;
};

class Cache {
 public:
  virtual ~Cache() = default;

  // The exact tier, then (key.semantic) the nearest entries of the key's
  // partition above max(semantic.threshold, min_similarity), verified
  // nearest first; the first the verifier accepts is served. A request may
  // raise the threshold, never lower it. Never fails: trouble (an embedder
  // error or timeout, Redis) is a miss, logged and counted. Embedding runs
  // off the event loop.
  virtual boost::asio::awaitable<Found> lookup(const Key& key, std::optional<float> min_similarity) = 0;

  // Stores a complete 2xx answer under `key` (both tiers; the semantic one
  // when key.semantic), reusing `vector` from the lookup when it is set.
  // Over max_entry_bytes: not stored. Evicts what the budgets require.
  virtual boost::asio::awaitable<void> store(const Key& key, Entry entry, std::vector<float> vector) = 0;

  // What the cache holds, for metrics and tests. bytes is the estimate the
  // max_bytes budget is enforced on: answers, prompts, vectors and indexes.
  struct Stats {
    std::size_t entries = 0;
    std::size_t bytes = 0;
    std::size_t partitions = 0;  // semantic indexes alive
    std::uint64_t evictions = 0; // entries dropped by the budgets (not by ttl)
  };
  virtual Stats stats() const = 0;
};

// Embeds a prompt for the semantic tier without blocking the event loop: an
// in-process embedder on a worker pool, or a remote /v1/embeddings
// deployment (the pipeline's, since only it reaches providers).
class Embedding {
 public:
  virtual ~Embedding() = default;
  // Names the embedder and its version; stored in every entry, and an entry
  // of another embedder is never served.
  virtual std::string_view name() const = 0;
  virtual std::size_t dimensions() const = 0;
  // A unit vector of dimensions() floats, resumed on the caller's executor.
  // Errors: timeouts and upstream failures, which the cache takes as a miss.
  // The cache abandons it at semantic.embed_timeout through per-operation
  // cancellation (the losing side of `||`): it must then complete promptly
  // (on_workers completes at once and drops the worker's late vector).
  virtual boost::asio::awaitable<Result<std::vector<float>>> embed(std::string text) = 0;
  // The vector computed on the caller's thread, when that costs less than
  // waiting for embed(): a cheap embedder and a short text. nullopt: use
  // embed().
  virtual std::optional<std::vector<float>> embed_at_once(std::string_view text) const {
    (void)text;
    return std::nullopt;
  }
};

// `embedder` on `threads` worker threads (owned by the returned object,
// joined when it is destroyed).
std::unique_ptr<Embedding> on_workers(std::shared_ptr<const Embedder> embedder, int threads);

// The verifier as the cache calls it (cache::Verifier::check in production).
using Verify = std::function<Verdict(std::string_view stored, std::string_view incoming)>;

struct CacheParts {
  std::shared_ptr<const Clock> clock;
  std::shared_ptr<Embedding> embedding;  // null: the exact tier only
  Verify verify;                         // required when embedding is set
  // Sharing between replicas (all three set, or none): every stored entry is
  // written through `redis`, and the feed of the others' entries is followed
  // (XREAD BLOCK) on a connection of its own made from `redis_config`, by a
  // coroutine on `executor` (the event loop the cache is used on).
  redis::Client* redis = nullptr;
  std::optional<RedisConfig> redis_config;
  boost::asio::any_io_executor executor;
};

// The in-process cache (both tiers, hnswlib per partition), shared through
// Redis when parts.redis is set. A null clock is the system's; an embedding
// without a verify function is dropped (the exact tier only: a neighbour is
// never served unverified). Single-threaded: call it, and destroy it, on the
// executor's thread, before the Redis client it was given.
std::unique_ptr<Cache> make_cache(const CacheConfig& config, CacheParts parts);

}  // namespace sluice::cache
