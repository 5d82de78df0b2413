// Sharing: the cache's entries shared between replicas through Redis.
//
// Each stored entry is a hash, sluice:cache:e:<exact hex>, holding the answer,
// where it belongs (tenant, endpoint, partition), its expiry, the embedder
// and its vector (float32, little-endian), with PEXPIREAT at the entry's
// expiry; its id is then appended to a capped stream, sluice:cache:feed.
// Each replica loads the live entries at start (SCAN) and follows the feed
// (XREAD BLOCK on a connection of its own), handing each entry to `adopt`.
//
// Redis trouble never reaches a request: lookups never wait on Redis, writes
// are fire-and-forget, and the cache goes on local-only. One warning when
// sharing stops working, one info line when it works again (and then every
// live entry is loaded again, to catch up).
#pragma once

#include <functional>
#include <memory>

#include <boost/asio/any_io_executor.hpp>

#include "store.hpp"

namespace sluice::cache {

class Sharing {
 public:
  using Adopt = std::function<void(Record)>;
  // Whether the entry with this exact hash, stored at this time (ms since
  // the epoch) or later, is here already: a feed item it names (one's own
  // entries come back through the feed) is then not fetched.
  using Known = std::function<bool(std::uint64_t exact, std::int64_t stored_ms)>;

  Sharing(redis::Client& redis, const RedisConfig& feed_config, boost::asio::any_io_executor executor,
          const CacheConfig& config, Adopt adopt, Known known);
  // Stops following (on the executor's thread); writes under way finish or fail alone.
  ~Sharing();
  Sharing(const Sharing&) = delete;
  Sharing& operator=(const Sharing&) = delete;

  // Writes `record` to Redis in the background; encoded before it returns.
  void publish(const Record& record);

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace sluice::cache
